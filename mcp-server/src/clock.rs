//! The wall clock, read in one place (`clippy.toml` bans the direct reads elsewhere). Token
//! expiry and exchanged-token lifetimes are Unix seconds from [`now`]; iCalendar/vCard stamps
//! (`DTSTAMP`, `LAST-MODIFIED`, `REV`) take [`now_utc`]. Durations use
//! `mcp_shared::ops::clock::monotonic`.

use chrono::{DateTime, Utc};

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    now_utc().timestamp()
}

/// The current UTC time.
// The one sanctioned wall-clock read of mcp-server (see `clippy.toml`).
#[allow(clippy::disallowed_methods)]
pub fn now_utc() -> DateTime<Utc> {
    Utc::now()
}
