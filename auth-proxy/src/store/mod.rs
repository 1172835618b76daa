//! Shared state, spoken in intent rather than key-value. Two implementations: Redis (shared by
//! every replica) and memory (single process, unit tests). One contract test suite
//! (`tests/api/store_contract.rs`) runs against both.
//!
//! Codes and refresh tokens have the form `<grant id>.<secret>`: the store receives the grant
//! id and the SHA-256 of the whole token, so every key that must change together for one grant
//! shares a Redis Cluster hash tag (`{g:<grant id>}`) and one script can update them atomically.

pub mod instrumented;
pub mod keys;
pub mod memory;
pub mod redis;

use std::time::Duration;

use async_trait::async_trait;
use mcp_shared::{ScopeSet, Secret};

use crate::ids::{ClientId, ClientState, GrantId, Jti, RedirectUri, TokenHash};
use serde::{Deserialize, Serialize};

pub use self::keys::JtiKind;
pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;
// The record is the clients module's; named here too because the store keeps it.
pub use crate::clients::record::{ClientRecord, TokenEndpointAuthMethod};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
}

/// An authorization request that passed validation and waits for the user's consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    pub client_id: ClientId,
    pub redirect_uri: RedirectUri,
    /// Whether the request named `redirect_uri` (it may be left out when the client registered
    /// exactly one); if it did, the token request must repeat it (RFC 6749 §4.1.3).
    #[serde(default)]
    pub redirect_uri_given: bool,
    /// The client's `state`; `None` when it sent none (stored as `""`).
    #[serde(with = "crate::ids::optional_state")]
    pub state: Option<ClientState>,
    pub scope: ScopeSet,
    pub resource: String,
    /// PKCE S256 challenge from the MCP client.
    pub code_challenge: String,
    /// SHA-256 hex of the consent form's CSRF token.
    pub csrf_hash: String,
    /// SHA-256 hex of the browser-binding cookie value.
    pub browser_hash: String,
    pub created_at: i64,
}

/// A consented authorization on its way through the upstream IdP, keyed by upstream `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamFlow {
    pub authorization: PendingAuthorization,
    /// The proxy's own PKCE verifier for the upstream code exchange.
    #[serde(with = "mcp_shared::secret::exposed")]
    pub pkce_verifier: Secret,
    #[serde(with = "mcp_shared::secret::exposed")]
    pub nonce: Secret,
    pub created_at: i64,
}

/// The user's authorization: who, for which client, resource and scopes, with the upstream
/// token set sealed (AES-256-GCM, grant id as associated data). The sealed set is kept out of
/// logs too: with the encryption key it is the user's upstream tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    pub grant_id: GrantId,
    pub subject: String,
    pub client_id: ClientId,
    pub scope: ScopeSet,
    pub resource: String,
    /// Empty for an enterprise-managed grant: no upstream sign-in happened.
    #[serde(with = "mcp_shared::secret::exposed")]
    pub upstream_sealed: Secret,
    pub created_at: i64,
    /// How the grant was made; absent in the stored form of the common case.
    #[serde(default, skip_serializing_if = "GrantOrigin::is_authorization")]
    pub origin: GrantOrigin,
}

/// How a grant was made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum GrantOrigin {
    /// The person signed in and consented (authorization code).
    #[default]
    Authorization,
    /// An ID-JAG from a trusted enterprise IdP (jwt-bearer grant, ADR 0020): no upstream
    /// tokens, no refresh token.
    Enterprise { issuer: String },
}

impl GrantOrigin {
    pub fn is_authorization(&self) -> bool {
        matches!(self, Self::Authorization)
    }
}

/// A sign-in waiting for the person to grant access in Nextcloud (Login Flow v2), between the
/// upstream callback and the client's code; keyed by the SHA-256 of the id in the connect
/// page's URL. Everything secret in it is sealed: the upstream tokens under the grant id (as
/// the grant will hold them), the poll token and the finished redirect under the link key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextcloudLink {
    pub authorization: PendingAuthorization,
    pub grant_id: GrantId,
    pub subject: String,
    #[serde(with = "mcp_shared::secret::exposed")]
    pub upstream_sealed: Secret,
    /// The Nextcloud user id the identity maps to: only an app password of this user is kept.
    pub nextcloud_user: String,
    /// How the client is named to the person and to Nextcloud ("Devices & sessions").
    pub client_name: String,
    /// Once Login Flow v2 was started: its sealed poll token and the grant page's path.
    #[serde(default, with = "mcp_shared::secret::exposed_option")]
    pub poll_sealed: Option<Secret>,
    #[serde(default)]
    pub login_path: Option<String>,
    /// An app password Nextcloud handed out whose owner could not be checked yet (Nextcloud
    /// failed right after the poll): sealed, checked again at the next page load.
    #[serde(default, with = "mcp_shared::secret::exposed_option")]
    pub granted_sealed: Option<Secret>,
    /// Once finished: how, and the sealed URL of the client's redirect (code or error).
    #[serde(default)]
    pub finished: Option<LinkFinished>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkFinished {
    pub outcome: LinkOutcome,
    #[serde(with = "mcp_shared::secret::exposed")]
    pub location_sealed: Secret,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkOutcome {
    /// The app password is the user's and stored; the location carries the client's code.
    Granted,
    /// Another Nextcloud user granted access (or Nextcloud refused the new app password).
    Refused,
    /// Nobody granted access in time.
    Expired,
}

/// One grant in its user's grant index, as the connections page lists it. Written when the
/// grant is created; `last_used` is bumped (throttled) on refresh and token exchange. Holds
/// nothing secret: the grant itself stays under its own key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserGrant {
    pub client_id: ClientId,
    /// The client's name when the grant was made (a registration may expire before the grant).
    #[serde(default)]
    pub client_name: Option<String>,
    pub scope: ScopeSet,
    pub resource: String,
    pub created_at: i64,
    #[serde(default)]
    pub last_used: Option<i64>,
}

/// A sign-in to the connections page on its way through the upstream IdP, keyed by the hash
/// of the upstream `state` (`c.`-prefixed). No authorization rides on it: only the person's
/// identity is wanted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionFlow {
    #[serde(with = "mcp_shared::secret::exposed")]
    pub pkce_verifier: Secret,
    #[serde(with = "mcp_shared::secret::exposed")]
    pub nonce: Secret,
    /// SHA-256 hex of the browser-binding cookie value.
    pub browser_hash: String,
    pub created_at: i64,
}

/// A signed-in session of the connections page, keyed by the hash of its cookie value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionsSession {
    pub subject: String,
    #[serde(default)]
    pub email: Option<String>,
    /// SHA-256 hex of the page's CSRF token.
    pub csrf_hash: String,
    pub created_at: i64,
}

/// What an authorization code was issued for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    pub client_id: ClientId,
    pub redirect_uri: RedirectUri,
    #[serde(default)]
    pub redirect_uri_given: bool,
    pub code_challenge: String,
    pub scope: ScopeSet,
    pub resource: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub client_id: ClientId,
    pub issued_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeTake {
    /// First use: the code is gone from the store now; the grant it came from, as read in
    /// the same atomic step.
    Redeemed {
        code: CodeRecord,
        grant: Box<GrantRecord>,
    },
    /// The code was redeemed before (within the replay window): the caller revokes the grant.
    Replayed,
    /// The code is live but for another resource than the one expected: it was left in place,
    /// so the request can be corrected (RFC 8707 `invalid_target`).
    ResourceMismatch,
    Unknown,
}

/// One refresh-token rotation: the presented token (by grant id and hash) is exchanged for
/// the new one if `client_id` holds it; a token used longer than `grace` ago is reuse.
#[derive(Debug, Clone, Copy)]
pub struct RefreshRotation<'a> {
    pub grant_id: &'a GrantId,
    pub presented_hash: &'a TokenHash,
    pub client_id: &'a ClientId,
    /// The token that replaces it.
    pub new_hash: &'a TokenHash,
    pub now_ms: i64,
    pub grace: Duration,
    /// Lifetime of the new token (and of the grant it keeps alive).
    pub ttl: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The new token is stored; the presented one is now "used" (valid for the grace window).
    Rotated(GrantRecord),
    Unknown,
    /// The token belongs to another client; nothing changed.
    WrongClient,
    /// The grant was revoked (or expired).
    Revoked,
    /// A token used longer ago than the grace window was presented again: the store has
    /// revoked the grant (as it was, given here) and with it every refresh token of the family.
    ReuseDetected(Box<GrantRecord>),
}

/// What [`Store::put_client_deduplicated`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientPut {
    /// The given client is stored and now holds the fingerprint.
    Created,
    /// A live client already held the fingerprint: nothing new was stored, this is it.
    Existing(Box<ClientRecord>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub remaining: u32,
    /// Seconds until the window resets (for `Retry-After`), at least 1 when refused.
    pub retry_after_secs: u64,
}

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Cheap round trip for readiness.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores a dynamically registered client for `idle_ttl` (renewed by [`Self::touch_client`]).
    async fn put_client(&self, client: &ClientRecord, idle_ttl: Duration)
        -> Result<(), StoreError>;
    async fn get_client(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError>;
    /// Stores a public client under `fingerprint` (a hash of its normalized metadata), unless
    /// a live client already holds that fingerprint: then nothing is stored and that client is
    /// returned. Concurrent calls with one fingerprint, from any replica, all end with the same
    /// client. The fingerprint lives as long as the client and slides with it.
    async fn put_client_deduplicated(
        &self,
        fingerprint: &str,
        client: &ClientRecord,
        idle_ttl: Duration,
    ) -> Result<ClientPut, StoreError>;
    /// The live client holding `fingerprint`, if any.
    async fn find_client_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Option<ClientRecord>, StoreError>;
    /// Extends a stored client (and its fingerprint) to `idle_ttl` from now, because it was
    /// just used. `false` if no such client is stored (it expired, or lives elsewhere).
    async fn touch_client(
        &self,
        client_id: &ClientId,
        idle_ttl: Duration,
    ) -> Result<bool, StoreError>;

    async fn put_pending_authorization(
        &self,
        flow_id: &str,
        flow: &PendingAuthorization,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// Atomic: at most one caller gets the flow.
    async fn take_pending_authorization(
        &self,
        flow_id: &str,
    ) -> Result<Option<PendingAuthorization>, StoreError>;

    async fn put_upstream_flow(
        &self,
        upstream_state: &str,
        flow: &UpstreamFlow,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// Atomic: at most one caller gets the flow.
    async fn take_upstream_flow(
        &self,
        upstream_state: &str,
    ) -> Result<Option<UpstreamFlow>, StoreError>;

    async fn put_grant(&self, grant: &GrantRecord, ttl: Duration) -> Result<(), StoreError>;
    async fn get_grant(&self, grant_id: &GrantId) -> Result<Option<GrantRecord>, StoreError>;
    /// Replaces the sealed upstream token set, keeping the grant's TTL. `false` if the grant is
    /// gone (revoked or expired).
    async fn update_grant_upstream(
        &self,
        grant_id: &GrantId,
        upstream_sealed: &str,
    ) -> Result<bool, StoreError>;
    /// Takes the grant's upstream-refresh lock for `ttl` unless someone else holds it: only
    /// its holder refreshes the upstream tokens, so two replicas never present one upstream
    /// refresh token twice (an IdP with rotation would see reuse). `holder` is a random id; a
    /// crashed holder's lock expires with `ttl`.
    async fn lock_upstream_refresh(
        &self,
        grant_id: &GrantId,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError>;
    /// Releases the lock if `holder` still holds it.
    async fn unlock_upstream_refresh(
        &self,
        grant_id: &GrantId,
        holder: &str,
    ) -> Result<(), StoreError>;

    /// Revokes the grant: its refresh-token family, unredeemed codes and token exchange all
    /// stop working. Idempotent.
    async fn revoke_grant(&self, grant_id: &GrantId) -> Result<(), StoreError>;

    async fn put_code(
        &self,
        grant_id: &GrantId,
        code_hash: &TokenHash,
        code: &CodeRecord,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// A new grant and the code issued from it: [`Store::put_grant`] then [`Store::put_code`]
    /// (the Redis store sends both in one round trip).
    async fn put_grant_and_code(
        &self,
        grant: &GrantRecord,
        grant_ttl: Duration,
        code_hash: &TokenHash,
        code: &CodeRecord,
        code_ttl: Duration,
    ) -> Result<(), StoreError> {
        self.put_grant(grant, grant_ttl).await?;
        self.put_code(&grant.grant_id, code_hash, code, code_ttl)
            .await
    }
    /// Atomic take. A redeemed code leaves a marker for `replay_window` so that a second
    /// redemption is recognised as a replay rather than an unknown code. With
    /// `expected_resource`, a live code for another resource is not taken
    /// ([`CodeTake::ResourceMismatch`]), in the same step.
    async fn take_code(
        &self,
        grant_id: &GrantId,
        code_hash: &TokenHash,
        replay_window: Duration,
        expected_resource: Option<&str>,
    ) -> Result<CodeTake, StoreError>;

    /// Stores the first refresh token of a grant's family and extends the grant to `ttl`.
    async fn put_refresh_token(
        &self,
        grant_id: &GrantId,
        token_hash: &TokenHash,
        record: &RefreshRecord,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// Atomically rotates `presented_hash` to `new_hash` (see [`RefreshOutcome`]). `now_ms` is
    /// Unix milliseconds; a token may be presented again while less than `grace` has passed
    /// since its first use (clients retry and race), each time yielding a new token of the same
    /// family. With a zero grace any second presentation is reuse.
    async fn rotate_refresh_token(
        &self,
        rotation: &RefreshRotation<'_>,
    ) -> Result<RefreshOutcome, StoreError>;
    async fn get_refresh_token(
        &self,
        grant_id: &GrantId,
        token_hash: &TokenHash,
    ) -> Result<Option<RefreshRecord>, StoreError>;

    /// Puts an access token's `jti` on the deny-list until it would have expired anyway.
    async fn deny_access_token(&self, jti: &Jti, ttl: Duration) -> Result<(), StoreError>;
    async fn is_access_token_denied(&self, jti: &Jti) -> Result<bool, StoreError>;

    /// Records that the assertion `jti` of `scope` (client id or issuer) was used, for `ttl`
    /// (its remaining lifetime plus leeway). Atomic across replicas: `true` for exactly one
    /// caller, `false` for every later one while the record lives (a replay).
    async fn claim_jti(
        &self,
        kind: JtiKind,
        scope: &str,
        jti: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// Stores (or replaces) a sign-in waiting for Nextcloud, for `ttl`.
    async fn put_nextcloud_link(
        &self,
        link_hash: &str,
        link: &NextcloudLink,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    async fn get_nextcloud_link(
        &self,
        link_hash: &str,
    ) -> Result<Option<NextcloudLink>, StoreError>;

    /// Stores the sealed Nextcloud app password of one (user, client) pair, `owner` being a
    /// hash of both, for `idle_ttl` (renewed by [`Self::touch_nextcloud_credential`]).
    async fn put_nextcloud_credential(
        &self,
        owner: &str,
        sealed: &str,
        idle_ttl: Duration,
    ) -> Result<(), StoreError>;
    /// Extends a stored app password to `idle_ttl` from now (it was just used).
    async fn touch_nextcloud_credential(
        &self,
        owner: &str,
        idle_ttl: Duration,
    ) -> Result<(), StoreError>;
    async fn get_nextcloud_credential(&self, owner: &str) -> Result<Option<Secret>, StoreError>;
    /// Atomic: at most one caller gets (and so deletes in Nextcloud) the credential.
    async fn take_nextcloud_credential(&self, owner: &str) -> Result<Option<Secret>, StoreError>;

    /// One atomic fixed-window check-and-count for `bucket`, shared by all replicas.
    async fn hit_rate_limit(
        &self,
        bucket: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, StoreError>;

    /// Adds (or replaces) `grant_id` in the grant index of `subject` and renews the whole
    /// index to `ttl` (the refresh lifetime: no grant of it outlives that unused). The index
    /// is its own Cluster slot (`{u:…}`), never written in one script with a grant's keys.
    async fn put_user_grant(
        &self,
        subject: &str,
        grant_id: &GrantId,
        entry: &UserGrant,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// Sets `last_used` of an indexed grant to `now` and renews the index to `ttl`; `false`
    /// (and nothing written) when the grant is not in the index.
    async fn touch_user_grant(
        &self,
        subject: &str,
        grant_id: &GrantId,
        now: i64,
        ttl: Duration,
    ) -> Result<bool, StoreError>;
    /// Every grant in the index of `subject` (some may be gone already: revoked elsewhere or
    /// expired; the reader checks).
    async fn list_user_grants(
        &self,
        subject: &str,
    ) -> Result<Vec<(GrantId, UserGrant)>, StoreError>;
    async fn remove_user_grants(
        &self,
        subject: &str,
        grant_ids: &[GrantId],
    ) -> Result<(), StoreError>;

    /// Stores a connections-page sign-in under (the hash of) its upstream `state`.
    async fn put_session_flow(
        &self,
        upstream_state: &str,
        flow: &SessionFlow,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// Atomic: at most one caller gets the flow.
    async fn take_session_flow(
        &self,
        upstream_state: &str,
    ) -> Result<Option<SessionFlow>, StoreError>;
    /// Stores a connections-page session under (the hash of) its cookie value.
    async fn put_session(
        &self,
        session_id: &str,
        session: &ConnectionsSession,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    async fn get_session(&self, session_id: &str)
        -> Result<Option<ConnectionsSession>, StoreError>;
    async fn delete_session(&self, session_id: &str) -> Result<(), StoreError>;

    /// Extends a stored client (and its fingerprint) to live at least `ttl` from now, never
    /// shortening it: for a registration repeated before the client was ever used, which must
    /// not earn it the idle lifetime of a client in use. `false` if no such client is stored.
    async fn extend_client(&self, client_id: &ClientId, ttl: Duration) -> Result<bool, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_and_grant_secrets_are_redacted_in_debug_and_stored_as_strings() {
        let pending = PendingAuthorization {
            client_id: ClientId::parse("c").unwrap(),
            redirect_uri: RedirectUri::parse("http://127.0.0.1/cb").unwrap(),
            redirect_uri_given: true,
            state: None,
            scope: ScopeSet::parse("notes:read").unwrap(),
            resource: "http://127.0.0.1:8000/mcp".into(),
            code_challenge: "x".repeat(43),
            csrf_hash: "h".into(),
            browser_hash: "b".into(),
            created_at: 1,
        };
        let flow = UpstreamFlow {
            authorization: pending,
            pkce_verifier: "VERIFIER-s3cr3t".into(),
            nonce: "NONCE-s3cr3t".into(),
            created_at: 1,
        };
        let grant = GrantRecord {
            grant_id: GrantId::parse("g").unwrap(),
            subject: "alice".into(),
            client_id: ClientId::parse("c").unwrap(),
            scope: ScopeSet::parse("notes:read").unwrap(),
            resource: "http://127.0.0.1:8000/mcp".into(),
            upstream_sealed: "SEALED-s3cr3t".into(),
            created_at: 1,
            origin: GrantOrigin::default(),
        };
        for text in [format!("{flow:?}"), format!("{grant:?}")] {
            assert!(!text.contains("s3cr3t"), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
        let flow_json = serde_json::to_value(&flow).unwrap();
        assert_eq!(flow_json["pkce_verifier"], "VERIFIER-s3cr3t");
        assert_eq!(flow_json["nonce"], "NONCE-s3cr3t");
        assert_eq!(
            serde_json::from_value::<UpstreamFlow>(flow_json).unwrap(),
            flow
        );
        let grant_json = serde_json::to_value(&grant).unwrap();
        assert_eq!(grant_json["upstream_sealed"], "SEALED-s3cr3t");
        assert_eq!(
            serde_json::from_value::<GrantRecord>(grant_json).unwrap(),
            grant
        );
    }
}
