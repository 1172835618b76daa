//! Every Redis key, built in one place so the data model can be read here.
//!
//! All keys live under `<prefix>:v1:` (the version lets a future layout coexist with this one
//! during a rolling upgrade). Keys that one Lua script touches together share a Redis Cluster
//! hash tag, `{g:<grant id>}`, so they land in one slot. Values are JSON unless noted.
//!
//! | key | value | TTL |
//! |---|---|---|
//! | `<p>:v1:client:<client id>` | dynamically registered client record (secret as SHA-256), plus the fingerprint it holds, if any | the client idle TTL, renewed whenever tokens are issued to it |
//! | `<p>:v1:client-fp:<sha256>` | id of the public client registered with that normalized metadata (plain string) | the same as that client's |
//! | `<p>:v1:flow:<flow id>` | pending authorization awaiting consent | 10 min |
//! | `<p>:v1:ustate:<upstream state>` | consented flow on its way through the IdP | 10 min |
//! | `<p>:v1:{g:<gid>}:grant` | grant: subject, client, scope, resource, sealed upstream tokens | 5 min until the code is redeemed, then the refresh lifetime, renewed on every rotation |
//! | `<p>:v1:{g:<gid>}:code:<sha256>` | authorization code record | 60 s |
//! | `<p>:v1:{g:<gid>}:code-used:<sha256>` | `1`: the code was redeemed (replay detection) | the replay window (10 min) |
//! | `<p>:v1:{g:<gid>}:rt:<sha256>` | refresh token record (client id, issue time) | refresh lifetime |
//! | `<p>:v1:{g:<gid>}:rt-used:<sha256>` | first use of that refresh token, Unix ms (plain integer) | refresh lifetime |
//! | `<p>:v1:nclink:<sha256>` | sign-in waiting for the person to grant access in Nextcloud (Login Flow v2): the consented authorization, sealed upstream tokens, sealed poll token | the Login Flow timeout (20 min), 2 min once finished |
//! | `<p>:v1:ncpw:<sha256>` | sealed Nextcloud login name and app password of one (user, client) pair (plain string) | twice the refresh lifetime, renewed at every sign-in and token exchange that uses it |
//! | `<p>:v1:{g:<gid>}:refresh-lock` | random holder id of the one request refreshing the grant's upstream tokens (plain string) | the upstream timeout plus 5 s, or until released |
//! | `<p>:v1:deny:<jti>` | `1`: revoked access token | until the token's `exp` |
//! | `<p>:v1:jti:<kind>:<sha256>` | `1`: a signed assertion's `jti` was used (`kind` `ca`: client assertion, `jag`: ID-JAG; the hash is of the issuer or client id and the `jti`, each length-prefixed) | the assertion's remaining lifetime plus the clock-skew leeway |
//! | `<p>:v1:user:{u:<sha256>}:grants` | HASH: grant id → JSON {client_id, client_name, scope, resource, created_at, last_used} of one user's grants (the hash is of the subject), for the connections page | the refresh lifetime, renewed at every write |
//! | `<p>:v1:sstate:<sha256>` | connections-page sign-in on its way through the IdP (PKCE verifier, nonce, browser hash), keyed by the hash of its `c.` upstream state | 10 min, taken once |
//! | `<p>:v1:session:<sha256>` | connections-page session (subject, e-mail, CSRF hash), keyed by the hash of its cookie value | `AUTH_PROXY_CONNECTIONS_SESSION_TTL_SECS` |
//! | `<p>:v1:rl:<bucket>` | request counter (plain integer) of a fixed window that opens at its first hit | the window |
//! | `<p>:v1:rl:authorize-client:<h>`, `rl:token-client:<h>`, `rl:user:signin:<h>`, `rl:user:jwt-bearer:<h>` | the same, per client or per user; `<h>` is the hex SHA-256 of the client id or subject | the window |
//!
//! A user's grant index has a hash tag of its own (`{u:<sha256(subject)>}`), so on a Cluster it
//! lives in another slot than the grants it lists: no script touches both, and the index is
//! allowed to lag (an entry whose grant is gone is dropped when the page reads it).
//!
//! Codes and refresh tokens are `<gid>.<secret>`; only the SHA-256 of the whole token is ever
//! stored, never the token. Ids reach these builders already checked to be URL-safe
//! (`oauth::revoke::split_grant_token`, `crypto::random_token`), so they cannot break out of a hash tag.
//!
//! Life of a grant: the callback stores the grant and one code; redeeming the code (script:
//! code → code-used) stores the first refresh token and extends the grant (script); each
//! rotation (script) marks the presented token used, stores its successor and extends the grant
//! again. Revoking deletes the grant key alone: every code and refresh token of the family is
//! checked against it inside the same script, so the whole family dies at once without scanning
//! the keyspace, and the orphans expire with their own TTLs.

use crate::crypto::sha256_hex;
use crate::ids::TokenHash;

/// Whose `jti` a [`Keys::jti`] key records: each kind has its own namespace, so a client
/// assertion can never burn (or replay past) an ID-JAG's `jti`, nor the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JtiKind {
    /// RFC 7523 client authentication (`private_key_jwt`); scoped by `client_id`.
    ClientAssertion,
    /// Identity Assertion JWT Authorization Grant; scoped by its issuer.
    IdJag,
}

impl JtiKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JtiKind::ClientAssertion => "ca",
            JtiKind::IdJag => "jag",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Keys {
    base: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            base: format!("{prefix}:v1:"),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn client(&self, client_id: &str) -> String {
        format!("{}client:{client_id}", self.base)
    }

    /// `fingerprint` is a SHA-256 hex of normalized client metadata.
    pub fn client_fingerprint(&self, fingerprint: &str) -> String {
        format!("{}client-fp:{fingerprint}", self.base)
    }

    pub fn pending(&self, flow_id: &str) -> String {
        format!("{}flow:{flow_id}", self.base)
    }

    pub fn upstream_flow(&self, state: &str) -> String {
        format!("{}ustate:{state}", self.base)
    }

    /// `link_hash`: SHA-256 hex of the connect page's link id.
    pub fn nextcloud_link(&self, link_hash: &str) -> String {
        format!("{}nclink:{link_hash}", self.base)
    }

    /// `owner`: SHA-256 hex of the (user, client) pair.
    pub fn nextcloud_credential(&self, owner: &str) -> String {
        format!("{}ncpw:{owner}", self.base)
    }

    fn tagged(&self, grant_id: &str, rest: &str) -> String {
        format!("{}{{g:{grant_id}}}:{rest}", self.base)
    }

    pub fn refresh_lock(&self, grant_id: &str) -> String {
        self.tagged(grant_id, "refresh-lock")
    }

    pub fn grant(&self, grant_id: &str) -> String {
        self.tagged(grant_id, "grant")
    }

    pub fn code(&self, grant_id: &str, hash: &TokenHash) -> String {
        self.tagged(grant_id, &format!("code:{}", hash.as_str()))
    }

    pub fn code_used(&self, grant_id: &str, hash: &TokenHash) -> String {
        self.tagged(grant_id, &format!("code-used:{}", hash.as_str()))
    }

    pub fn refresh(&self, grant_id: &str, hash: &TokenHash) -> String {
        self.tagged(grant_id, &format!("rt:{}", hash.as_str()))
    }

    pub fn refresh_used(&self, grant_id: &str, hash: &TokenHash) -> String {
        self.tagged(grant_id, &format!("rt-used:{}", hash.as_str()))
    }

    pub fn denied(&self, jti: &str) -> String {
        format!("{}deny:{jti}", self.base)
    }

    /// The grant index of `subject` (hashed: subjects are the IdP's, of any length and form).
    pub fn user_grants(&self, subject: &str) -> String {
        format!("{}user:{{u:{}}}:grants", self.base, sha256_hex(subject))
    }

    /// `upstream_state`: the raw `c.` state; only its hash reaches the key.
    pub fn session_flow(&self, upstream_state: &str) -> String {
        format!("{}sstate:{}", self.base, sha256_hex(upstream_state))
    }

    /// `session_id`: the raw cookie value; only its hash reaches the key.
    pub fn session(&self, session_id: &str) -> String {
        format!("{}session:{}", self.base, sha256_hex(session_id))
    }

    pub fn rate(&self, bucket: &str) -> String {
        format!("{}rl:{bucket}", self.base)
    }

    /// `scope` (client id or issuer) and `jti` come from the presenter: hashed, so neither
    /// their length nor their characters reach the key, and length-prefixed, so no
    /// (scope, jti) pair can be spelled as another.
    pub fn jti(&self, kind: JtiKind, scope: &str, jti: &str) -> String {
        let scoped = format!("{}:{scope}{}:{jti}", scope.len(), jti.len());
        format!("{}jti:{}:{}", self.base, kind.as_str(), sha256_hex(&scoped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_keys_share_one_hash_tag() {
        let k = Keys::new("mcp");
        let h = TokenHash::of("G1.s");
        for key in [
            k.grant("G1"),
            k.code("G1", &h),
            k.code_used("G1", &h),
            k.refresh("G1", &h),
            k.refresh_used("G1", &h),
        ] {
            assert!(key.starts_with("mcp:v1:{g:G1}:"), "{key}");
        }
        assert_eq!(k.client("c"), "mcp:v1:client:c");
        assert_eq!(k.client_fingerprint("ab12"), "mcp:v1:client-fp:ab12");
        assert_eq!(k.pending("f"), "mcp:v1:flow:f");
        assert_eq!(k.upstream_flow("s"), "mcp:v1:ustate:s");
        assert_eq!(k.denied("j"), "mcp:v1:deny:j");
        assert_eq!(k.rate("token:1.2.3.4"), "mcp:v1:rl:token:1.2.3.4");
        assert_eq!(k.base(), "mcp:v1:");
        let ca = k.jti(JtiKind::ClientAssertion, "https://c.example/doc", "j1");
        assert!(ca.starts_with("mcp:v1:jti:ca:"), "{ca}");
        assert_eq!(ca.len(), "mcp:v1:jti:ca:".len() + 64);
        assert!(k
            .jti(JtiKind::IdJag, "https://idp.example", "j1")
            .starts_with("mcp:v1:jti:jag:"));
    }

    #[test]
    fn connection_keys_hash_what_they_are_given() {
        let k = Keys::new("p");
        let user = k.user_grants("alice");
        assert_eq!(
            user,
            format!("p:v1:user:{{u:{}}}:grants", sha256_hex("alice"))
        );
        assert!(!user.contains("alice"));
        assert!(!k.session_flow("c.state").contains("c.state"));
        assert!(k.session_flow("c.s").starts_with("p:v1:sstate:"));
        assert!(!k.session("cookie").contains("cookie"));
        assert!(k.session("cookie").starts_with("p:v1:session:"));
    }

    #[test]
    fn jti_keys_separate_kinds_scopes_and_boundaries() {
        let k = Keys::new("p");
        let a = k.jti(JtiKind::ClientAssertion, "ab", "c");
        assert_ne!(a, k.jti(JtiKind::ClientAssertion, "a", "bc"));
        assert_ne!(a, k.jti(JtiKind::IdJag, "ab", "c"));
        assert_ne!(a, k.jti(JtiKind::ClientAssertion, "ab", "d"));
        assert_eq!(a, k.jti(JtiKind::ClientAssertion, "ab", "c"));
    }

    #[test]
    fn markers_never_collide_with_what_they_mark() {
        let k = Keys::new("p");
        let h = TokenHash::of("g.s");
        assert_ne!(k.code("g", &h), k.code_used("g", &h));
        assert_ne!(k.refresh("g", &h), k.refresh_used("g", &h));
        assert_ne!(k.code("g", &h), k.refresh("g", &h));
    }
}
