//! Pre-registered clients from configuration (`AUTH_PROXY_CLIENTS_FILE`). Filled in by the
//! pre-registered-clients work; until then there are none.

use std::collections::HashMap;

use crate::config::Config;
use crate::store::ClientRecord;

/// The configured clients by id.
pub fn load(_config: &Config, _now: i64) -> anyhow::Result<HashMap<String, ClientRecord>> {
    Ok(HashMap::new())
}
