//! A `Store` decorator that times every operation: `auth_proxy_store_operation_duration_seconds`
//! by operation and outcome (`ok`/`error`), for Redis latency and errors per operation. The
//! operation names are the trait's method names, a fixed set.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use prometheus::HistogramVec;

use crate::ids::{ClientId, GrantId, Jti, TokenHash};

use super::{
    ClientPut, ClientRecord, CodeRecord, CodeTake, ConnectionsSession, GrantRecord, JtiKind,
    NextcloudLink, PendingAuthorization, RateDecision, RefreshOutcome, RefreshRecord,
    RefreshRotation, SessionFlow, Store, StoreError, UpstreamFlow, UserGrant,
};
use mcp_shared::Secret;

#[derive(Debug, Clone)]
pub struct InstrumentedStore {
    inner: Arc<dyn Store>,
    duration: HistogramVec,
}

impl InstrumentedStore {
    pub fn new(inner: Arc<dyn Store>, duration: HistogramVec) -> Self {
        Self { inner, duration }
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = mcp_shared::ops::clock::monotonic();
        let result = call.await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.duration
            .with_label_values(&[operation, outcome])
            .observe(started.elapsed().as_secs_f64());
        result
    }
}

#[async_trait]
impl Store for InstrumentedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.timed("ping", self.inner.ping()).await
    }

    async fn put_client(
        &self,
        client: &ClientRecord,
        idle_ttl: Duration,
    ) -> Result<(), StoreError> {
        self.timed("put_client", self.inner.put_client(client, idle_ttl))
            .await
    }

    async fn get_client(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        self.timed("get_client", self.inner.get_client(client_id))
            .await
    }

    async fn put_client_deduplicated(
        &self,
        fingerprint: &str,
        client: &ClientRecord,
        idle_ttl: Duration,
    ) -> Result<ClientPut, StoreError> {
        self.timed(
            "put_client_deduplicated",
            self.inner
                .put_client_deduplicated(fingerprint, client, idle_ttl),
        )
        .await
    }

    async fn find_client_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        self.timed(
            "find_client_by_fingerprint",
            self.inner.find_client_by_fingerprint(fingerprint),
        )
        .await
    }

    async fn touch_client(
        &self,
        client_id: &ClientId,
        idle_ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.timed("touch_client", self.inner.touch_client(client_id, idle_ttl))
            .await
    }

    async fn put_pending_authorization(
        &self,
        flow_id: &str,
        flow: &PendingAuthorization,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.timed(
            "put_pending_authorization",
            self.inner.put_pending_authorization(flow_id, flow, ttl),
        )
        .await
    }

    async fn take_pending_authorization(
        &self,
        flow_id: &str,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        self.timed(
            "take_pending_authorization",
            self.inner.take_pending_authorization(flow_id),
        )
        .await
    }

    async fn put_nextcloud_link(
        &self,
        link_hash: &str,
        link: &NextcloudLink,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.timed(
            "put_nextcloud_link",
            self.inner.put_nextcloud_link(link_hash, link, ttl),
        )
        .await
    }

    async fn get_nextcloud_link(
        &self,
        link_hash: &str,
    ) -> Result<Option<NextcloudLink>, StoreError> {
        self.timed(
            "get_nextcloud_link",
            self.inner.get_nextcloud_link(link_hash),
        )
        .await
    }

    async fn put_nextcloud_credential(
        &self,
        owner: &str,
        sealed: &str,
        idle_ttl: Duration,
    ) -> Result<(), StoreError> {
        self.timed(
            "put_nextcloud_credential",
            self.inner.put_nextcloud_credential(owner, sealed, idle_ttl),
        )
        .await
    }

    async fn touch_nextcloud_credential(
        &self,
        owner: &str,
        idle_ttl: Duration,
    ) -> Result<(), StoreError> {
        self.timed(
            "touch_nextcloud_credential",
            self.inner.touch_nextcloud_credential(owner, idle_ttl),
        )
        .await
    }

    async fn get_nextcloud_credential(&self, owner: &str) -> Result<Option<Secret>, StoreError> {
        self.timed(
            "get_nextcloud_credential",
            self.inner.get_nextcloud_credential(owner),
        )
        .await
    }

    async fn take_nextcloud_credential(&self, owner: &str) -> Result<Option<Secret>, StoreError> {
        self.timed(
            "take_nextcloud_credential",
            self.inner.take_nextcloud_credential(owner),
        )
        .await
    }

    async fn put_upstream_flow(
        &self,
        upstream_state: &str,
        flow: &UpstreamFlow,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.timed(
            "put_upstream_flow",
            self.inner.put_upstream_flow(upstream_state, flow, ttl),
        )
        .await
    }

    async fn take_upstream_flow(
        &self,
        upstream_state: &str,
    ) -> Result<Option<UpstreamFlow>, StoreError> {
        self.timed(
            "take_upstream_flow",
            self.inner.take_upstream_flow(upstream_state),
        )
        .await
    }

    async fn lock_upstream_refresh(
        &self,
        grant_id: &GrantId,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.timed(
            "lock_upstream_refresh",
            self.inner.lock_upstream_refresh(grant_id, holder, ttl),
        )
        .await
    }

    async fn unlock_upstream_refresh(
        &self,
        grant_id: &GrantId,
        holder: &str,
    ) -> Result<(), StoreError> {
        self.timed(
            "unlock_upstream_refresh",
            self.inner.unlock_upstream_refresh(grant_id, holder),
        )
        .await
    }

    async fn put_grant(&self, grant: &GrantRecord, ttl: Duration) -> Result<(), StoreError> {
        self.timed("put_grant", self.inner.put_grant(grant, ttl))
            .await
    }

    async fn get_grant(&self, grant_id: &GrantId) -> Result<Option<GrantRecord>, StoreError> {
        self.timed("get_grant", self.inner.get_grant(grant_id))
            .await
    }

    async fn update_grant_upstream(
        &self,
        grant_id: &GrantId,
        upstream_sealed: &str,
    ) -> Result<bool, StoreError> {
        self.timed(
            "update_grant_upstream",
            self.inner.update_grant_upstream(grant_id, upstream_sealed),
        )
        .await
    }

    async fn revoke_grant(&self, grant_id: &GrantId) -> Result<(), StoreError> {
        self.timed("revoke_grant", self.inner.revoke_grant(grant_id))
            .await
    }

    async fn put_code(
        &self,
        grant_id: &GrantId,
        code_hash: &TokenHash,
        code: &CodeRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.timed(
            "put_code",
            self.inner.put_code(grant_id, code_hash, code, ttl),
        )
        .await
    }

    async fn put_grant_and_code(
        &self,
        grant: &GrantRecord,
        grant_ttl: Duration,
        code_hash: &TokenHash,
        code: &CodeRecord,
        code_ttl: Duration,
    ) -> Result<(), StoreError> {
        self.timed(
            "put_grant_and_code",
            self.inner
                .put_grant_and_code(grant, grant_ttl, code_hash, code, code_ttl),
        )
        .await
    }

    async fn take_code(
        &self,
        grant_id: &GrantId,
        code_hash: &TokenHash,
        replay_window: Duration,
        expected_resource: Option<&str>,
    ) -> Result<CodeTake, StoreError> {
        self.timed(
            "take_code",
            self.inner
                .take_code(grant_id, code_hash, replay_window, expected_resource),
        )
        .await
    }

    async fn put_refresh_token(
        &self,
        grant_id: &GrantId,
        token_hash: &TokenHash,
        record: &RefreshRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.timed(
            "put_refresh_token",
            self.inner
                .put_refresh_token(grant_id, token_hash, record, ttl),
        )
        .await
    }

    async fn rotate_refresh_token(
        &self,
        rotation: &RefreshRotation<'_>,
    ) -> Result<RefreshOutcome, StoreError> {
        self.timed(
            "rotate_refresh_token",
            self.inner.rotate_refresh_token(rotation),
        )
        .await
    }

    async fn get_refresh_token(
        &self,
        grant_id: &GrantId,
        token_hash: &TokenHash,
    ) -> Result<Option<RefreshRecord>, StoreError> {
        self.timed(
            "get_refresh_token",
            self.inner.get_refresh_token(grant_id, token_hash),
        )
        .await
    }

    async fn deny_access_token(&self, jti: &Jti, ttl: Duration) -> Result<(), StoreError> {
        self.timed("deny_access_token", self.inner.deny_access_token(jti, ttl))
            .await
    }

    async fn is_access_token_denied(&self, jti: &Jti) -> Result<bool, StoreError> {
        self.timed(
            "is_access_token_denied",
            self.inner.is_access_token_denied(jti),
        )
        .await
    }

    async fn claim_jti(
        &self,
        kind: JtiKind,
        scope: &str,
        jti: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.timed("claim_jti", self.inner.claim_jti(kind, scope, jti, ttl))
            .await
    }

    async fn hit_rate_limit(
        &self,
        bucket: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, StoreError> {
        self.timed(
            "hit_rate_limit",
            self.inner.hit_rate_limit(bucket, limit, window),
        )
        .await
    }

    async fn extend_client(&self, client_id: &ClientId, ttl: Duration) -> Result<bool, StoreError> {
        self.timed("extend_client", self.inner.extend_client(client_id, ttl))
            .await
    }
    async fn put_user_grant(
        &self,
        subject: &str,
        grant_id: &GrantId,
        entry: &UserGrant,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.timed(
            "put_user_grant",
            self.inner.put_user_grant(subject, grant_id, entry, ttl),
        )
        .await
    }

    async fn touch_user_grant(
        &self,
        subject: &str,
        grant_id: &GrantId,
        now: i64,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.timed(
            "touch_user_grant",
            self.inner.touch_user_grant(subject, grant_id, now, ttl),
        )
        .await
    }

    async fn list_user_grants(
        &self,
        subject: &str,
    ) -> Result<Vec<(GrantId, UserGrant)>, StoreError> {
        self.timed("list_user_grants", self.inner.list_user_grants(subject))
            .await
    }

    async fn remove_user_grants(
        &self,
        subject: &str,
        grant_ids: &[GrantId],
    ) -> Result<(), StoreError> {
        self.timed(
            "remove_user_grants",
            self.inner.remove_user_grants(subject, grant_ids),
        )
        .await
    }

    async fn put_session_flow(
        &self,
        upstream_state: &str,
        flow: &SessionFlow,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.timed(
            "put_session_flow",
            self.inner.put_session_flow(upstream_state, flow, ttl),
        )
        .await
    }

    async fn take_session_flow(
        &self,
        upstream_state: &str,
    ) -> Result<Option<SessionFlow>, StoreError> {
        self.timed(
            "take_session_flow",
            self.inner.take_session_flow(upstream_state),
        )
        .await
    }

    async fn put_session(
        &self,
        session_id: &str,
        session: &ConnectionsSession,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.timed(
            "put_session",
            self.inner.put_session(session_id, session, ttl),
        )
        .await
    }

    async fn get_session(
        &self,
        session_id: &str,
    ) -> Result<Option<ConnectionsSession>, StoreError> {
        self.timed("get_session", self.inner.get_session(session_id))
            .await
    }

    async fn delete_session(&self, session_id: &str) -> Result<(), StoreError> {
        self.timed("delete_session", self.inner.delete_session(session_id))
            .await
    }
}
