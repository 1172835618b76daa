//! Every Redis key, built in one place so the data model can be read here.
//!
//! All keys live under `<prefix>:v1:`. Keys that one Lua script touches together share a Redis
//! Cluster hash tag, `{g:<grant id>}`, so they land in one slot:
//!
//! | key | value | TTL |
//! |---|---|---|
//! | `<p>:v1:client:<client id>` | client record (JSON, secret as SHA-256) | none |
//! | `<p>:v1:flow:<flow id>` | pending authorization awaiting consent (JSON) | 10 min |
//! | `<p>:v1:ustate:<upstream state>` | consented flow on its way through the IdP (JSON) | 10 min |
//! | `<p>:v1:{g:<gid>}:grant` | grant: subject, client, scope, resource, sealed upstream tokens | 5 min until the code is redeemed, then the refresh lifetime, renewed on rotation |
//! | `<p>:v1:{g:<gid>}:code:<sha256>` | authorization code record (JSON) | 60 s |
//! | `<p>:v1:{g:<gid>}:code-used:<sha256>` | marker of a redeemed code (replay detection) | 10 min |
//! | `<p>:v1:{g:<gid>}:rt:<sha256>` | refresh token record (JSON) | refresh lifetime |
//! | `<p>:v1:{g:<gid>}:rt-used:<sha256>` | first-use time of a rotated refresh token (Unix s) | refresh lifetime |
//! | `<p>:v1:deny:<jti>` | revoked access token marker | until the token's `exp` |
//! | `<p>:v1:rl:<bucket>` | fixed-window request counter | the window |
//!
//! Codes and refresh tokens are `<gid>.<secret>`; only their SHA-256 is ever stored. Revoking a
//! grant deletes the grant key: every code and refresh token of its family is checked against
//! it, so the whole family dies at once without scanning the keyspace.

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

    pub fn pending(&self, flow_id: &str) -> String {
        format!("{}flow:{flow_id}", self.base)
    }

    pub fn upstream_flow(&self, state: &str) -> String {
        format!("{}ustate:{state}", self.base)
    }

    fn tagged(&self, grant_id: &str, rest: &str) -> String {
        format!("{}{{g:{grant_id}}}:{rest}", self.base)
    }

    pub fn grant(&self, grant_id: &str) -> String {
        self.tagged(grant_id, "grant")
    }

    pub fn code(&self, grant_id: &str, hash: &str) -> String {
        self.tagged(grant_id, &format!("code:{hash}"))
    }

    pub fn code_used(&self, grant_id: &str, hash: &str) -> String {
        self.tagged(grant_id, &format!("code-used:{hash}"))
    }

    pub fn refresh(&self, grant_id: &str, hash: &str) -> String {
        self.tagged(grant_id, &format!("rt:{hash}"))
    }

    pub fn refresh_used(&self, grant_id: &str, hash: &str) -> String {
        self.tagged(grant_id, &format!("rt-used:{hash}"))
    }

    pub fn denied(&self, jti: &str) -> String {
        format!("{}deny:{jti}", self.base)
    }

    pub fn rate(&self, bucket: &str) -> String {
        format!("{}rl:{bucket}", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_keys_share_one_hash_tag() {
        let k = Keys::new("mcp");
        for key in [
            k.grant("G1"),
            k.code("G1", "h"),
            k.code_used("G1", "h"),
            k.refresh("G1", "h"),
            k.refresh_used("G1", "h"),
        ] {
            assert!(key.starts_with("mcp:v1:{g:G1}:"), "{key}");
        }
        assert_eq!(k.client("c"), "mcp:v1:client:c");
    }
}
