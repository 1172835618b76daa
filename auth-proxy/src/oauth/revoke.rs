//! The decisions of `POST /revoke` (RFC 7009): what kind of token was presented, and whether it
//! is this client's to revoke. Unknown tokens and other clients' tokens are not an error: the
//! endpoint answers the same either way and so reveals nothing.

use std::time::Duration;

use mcp_shared::AccessTokenClaims;

use crate::ids::{is_token_part, GrantId, TokenHash};

/// Splits a code or refresh token `<grant id>.<secret>` into the grant id and the hash the
/// store keys on. Anything else is not ours.
pub fn split_grant_token(token: &str) -> Option<(GrantId, TokenHash)> {
    let (grant_id, secret) = token.split_once('.')?;
    let grant_id = GrantId::parse(grant_id)?;
    is_token_part(secret).then(|| (grant_id, TokenHash::of(token)))
}

/// How long an access token (signature already verified) stays on the deny-list when
/// `client_id` revokes it: until it would expire; `None` when it is another client's or has
/// expired already (nothing to do).
pub fn access_token_denial(
    claims: &AccessTokenClaims,
    client_id: &str,
    now: i64,
) -> Option<Duration> {
    let remaining = claims.exp - now;
    (claims.client_id == client_id && remaining > 0)
        .then(|| Duration::from_secs(u64::try_from(remaining).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_shared::ScopeSet;

    #[test]
    fn grant_tokens_split_only_when_well_formed() {
        let (gid, hash) = split_grant_token("abc_DEF-1.s3cret").unwrap();
        assert_eq!(gid.as_str(), "abc_DEF-1");
        assert_eq!(hash, TokenHash::of("abc_DEF-1.s3cret"));
        for bad in ["", "nodot", ".x", "x.", "a.b.c", "a b.c", "eyJ.eyJ.sig"] {
            assert!(split_grant_token(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn only_the_clients_own_live_access_tokens_are_denied() {
        let claims = AccessTokenClaims {
            iss: "i".into(),
            sub: "s".into(),
            aud: "a".into(),
            client_id: "c".into(),
            scope: ScopeSet::new(),
            iat: 0,
            nbf: 0,
            exp: 1000,
            jti: "j".into(),
            gid: "g".into(),
        };
        assert_eq!(
            access_token_denial(&claims, "c", 400),
            Some(Duration::from_secs(600))
        );
        assert_eq!(access_token_denial(&claims, "other", 400), None);
        assert_eq!(access_token_denial(&claims, "c", 1000), None);
    }
}
