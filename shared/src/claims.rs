//! Access-token claims (RFC 9068 profile) and their validation against a given clock reading,
//! so expiry is tested without sleeping.

use serde::{Deserialize, Serialize};

use crate::scope::ScopeSet;

/// JOSE header `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    /// The upstream IdP's subject for the user.
    pub sub: String,
    /// The MCP server's canonical resource URI (RFC 8707 `resource`).
    pub aud: String,
    pub client_id: String,
    pub scope: ScopeSet,
    pub iat: i64,
    /// Not before. RFC 9068 does not require it (ours always carry it): a token without one
    /// is read as valid from any time ([`NO_NOT_BEFORE`]) and written back without it.
    #[serde(default = "no_not_before", skip_serializing_if = "is_no_not_before")]
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// Grant id: lets the auth-proxy find the user's upstream tokens at exchange time.
    pub gid: String,
}

/// Clock skew allowed between the auth-proxy and the mcp-server when `exp`, `nbf` and `iat`
/// are checked: the mcp-server's default (`MCP_SERVER_LEEWAY_SECS`) and what the auth-proxy's
/// token exchange allows, so a token the mcp-server accepts is not refused at the exchange.
pub const CLOCK_SKEW_LEEWAY_SECS: i64 = 30;

/// The `nbf` of a token that has none: no lower bound.
pub const NO_NOT_BEFORE: i64 = i64::MIN;

fn no_not_before() -> i64 {
    NO_NOT_BEFORE
}

fn is_no_not_before(nbf: &i64) -> bool {
    *nbf == NO_NOT_BEFORE
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("token issuer does not match")]
    Issuer,
    #[error("token audience does not match")]
    Audience,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token lifetime is inconsistent")]
    Inconsistent,
}

impl AccessTokenClaims {
    /// Checks issuer, audience and the time window. `now` is Unix seconds; `leeway` absorbs
    /// clock skew between the auth-proxy and the resource server.
    pub fn validate(
        &self,
        expected_issuer: &str,
        expected_audience: &str,
        now: i64,
        leeway: i64,
    ) -> Result<(), ClaimError> {
        if self.iss != expected_issuer {
            return Err(ClaimError::Issuer);
        }
        if self.aud != expected_audience {
            return Err(ClaimError::Audience);
        }
        self.validate_time(now, leeway)
    }

    pub fn validate_time(&self, now: i64, leeway: i64) -> Result<(), ClaimError> {
        if self.exp <= self.nbf || self.iat > self.exp {
            return Err(ClaimError::Inconsistent);
        }
        if now >= self.exp.saturating_add(leeway) {
            return Err(ClaimError::Expired);
        }
        if now.saturating_add(leeway) < self.nbf {
            return Err(ClaimError::NotYetValid);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://auth.example".into(),
            sub: "alice".into(),
            aud: "https://mcp.example/mcp".into(),
            client_id: "c1".into(),
            scope: ScopeSet::parse("notes:read").unwrap(),
            iat: now,
            nbf: now,
            exp: now + 300,
            jti: "j".into(),
            gid: "g".into(),
        }
    }

    const ISS: &str = "https://auth.example";
    const AUD: &str = "https://mcp.example/mcp";

    #[test]
    fn fresh_token_is_valid() {
        assert_eq!(claims(1000).validate(ISS, AUD, 1000, 30), Ok(()));
        assert_eq!(claims(1000).validate(ISS, AUD, 1299, 0), Ok(()));
    }

    #[test]
    fn wrong_issuer_or_audience_is_refused() {
        let c = claims(1000);
        assert_eq!(
            c.validate("https://evil", AUD, 1000, 30),
            Err(ClaimError::Issuer)
        );
        assert_eq!(
            c.validate(ISS, "https://mcp.example/other", 1000, 30),
            Err(ClaimError::Audience)
        );
        // No prefix or trailing-slash leniency.
        assert_eq!(
            c.validate(ISS, "https://mcp.example/mcp/", 1000, 30),
            Err(ClaimError::Audience)
        );
    }

    #[test]
    fn expiry_honours_leeway_exactly() {
        let c = claims(1000);
        assert_eq!(c.validate(ISS, AUD, 1300, 0), Err(ClaimError::Expired));
        assert_eq!(c.validate(ISS, AUD, 1329, 30), Ok(()));
        assert_eq!(c.validate(ISS, AUD, 1330, 30), Err(ClaimError::Expired));
    }

    #[test]
    fn not_before_honours_leeway_exactly() {
        let c = claims(1000);
        assert_eq!(c.validate(ISS, AUD, 970, 30), Ok(()));
        assert_eq!(c.validate(ISS, AUD, 969, 30), Err(ClaimError::NotYetValid));
    }

    #[test]
    fn nbf_is_optional_as_rfc_9068_allows() {
        let mut json = serde_json::to_value(claims(1000)).unwrap();
        json.as_object_mut().unwrap().remove("nbf");
        let c: AccessTokenClaims = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(c.nbf, NO_NOT_BEFORE);
        assert_eq!(c.validate(ISS, AUD, 1000, 0), Ok(()));
        // Any time before expiry: there is no lower bound.
        assert_eq!(c.validate(ISS, AUD, i64::MIN, 0), Ok(()));
        assert_eq!(c.validate(ISS, AUD, 1300, 0), Err(ClaimError::Expired));
        // Written back as it came: without nbf.
        assert_eq!(serde_json::to_value(&c).unwrap(), json);
        // Present, it is written and checked as before.
        assert_eq!(serde_json::to_value(claims(1000)).unwrap()["nbf"], 1000);
    }

    #[test]
    fn inconsistent_lifetimes_are_refused() {
        let mut c = claims(1000);
        c.exp = c.nbf;
        assert_eq!(
            c.validate(ISS, AUD, 1000, 30),
            Err(ClaimError::Inconsistent)
        );
    }
}
