//! The connections page's bookkeeping outside its own routes (`routes/connections.rs`): every
//! grant made is entered in its user's grant index, and its use (refresh, token exchange)
//! marked there as `last_used`, at most once per [`LAST_USED_EVERY`] per grant on each
//! replica. Both are best effort: a failure is counted and logged, never the request's
//! failure, and the page tolerates a lagging index (ADR 0019).

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::config::Config;
use crate::ids::GrantId;
use crate::metrics::Metrics;
use crate::store::{GrantRecord, Store, UserGrant};

/// How often one replica records the use of one grant at most: "last used" on a page read by
/// people does not need more, and the common refresh keeps its one store round trip.
pub const LAST_USED_EVERY: Duration = Duration::from_secs(600);

/// Enters grants in the user index and records their use.
#[derive(Debug)]
pub struct GrantIndex {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    enabled: bool,
    /// The index lives as long as a grant can: renewed to the refresh lifetime per write.
    ttl: Duration,
    /// Grants whose use this replica recorded lately, with when (Unix seconds).
    recorded: moka::future::Cache<GrantId, i64>,
}

impl GrantIndex {
    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        metrics: Metrics,
    ) -> Self {
        Self {
            store,
            clock,
            metrics,
            enabled: config.connections.enabled,
            ttl: config.refresh_token_ttl,
            recorded: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(LAST_USED_EVERY)
                .build(),
        }
    }

    /// Enters a new grant in its user's index (with the client's name as shown today).
    pub async fn grant_made(&self, grant: &GrantRecord, client_name: Option<String>) {
        if !self.enabled {
            return;
        }
        let entry = UserGrant {
            client_id: grant.client_id.clone(),
            client_name,
            scope: grant.scope.clone(),
            resource: grant.resource.clone(),
            created_at: grant.created_at,
            last_used: None,
        };
        if let Err(e) = self
            .store
            .put_user_grant(&grant.subject, &grant.grant_id, &entry, self.ttl)
            .await
        {
            self.metrics.store_errors.inc();
            tracing::warn!(error = %e, grant_id = %grant.grant_id, "the grant could not be entered in its user's connections index");
        }
    }

    /// Whether the use of `grant_id` is to be recorded now (and if so, notes that it was).
    async fn due(&self, grant_id: &GrantId, now: i64) -> bool {
        if !self.enabled {
            return false;
        }
        let every = i64::try_from(LAST_USED_EVERY.as_secs()).unwrap_or(i64::MAX);
        let recent = self
            .recorded
            .get(grant_id)
            .await
            .is_some_and(|at| (0..every).contains(&now.saturating_sub(at)));
        if !recent {
            self.recorded.insert(grant_id.clone(), now).await;
        }
        !recent
    }

    /// Records that `grant_id` was just used. `subject` names its user; it is asked only when
    /// the record is due, so a refresh can read it from the access token it just signed
    /// instead of the store (the plain refresh stays one store round trip).
    pub async fn used(&self, grant_id: &GrantId, subject: impl FnOnce() -> Option<String>) {
        let now = self.clock.now();
        if !self.due(grant_id, now).await {
            return;
        }
        let Some(subject) = subject() else {
            return;
        };
        if let Err(e) = self
            .store
            .touch_user_grant(&subject, grant_id, now, self.ttl)
            .await
        {
            self.failed(&e, grant_id);
        }
    }

    fn failed(&self, e: &crate::store::StoreError, grant_id: &GrantId) {
        self.metrics.store_errors.inc();
        tracing::warn!(error = %e, %grant_id, "the grant's last use could not be recorded");
    }
}
