//! The decisions of `POST /token`: parsing the request into one variant per grant type, the
//! checks a redeemed code and a refresh request must pass, and the claims of the access token
//! issued. The grants service (`crate::grants`) does the store and signing I/O around them.

use mcp_shared::{AccessTokenClaims, ScopeSet};

use super::param;
use crate::clients::GrantType;
use crate::error::OAuthError;
use crate::pkce::CodeVerifier;
use crate::store::{CodeRecord, GrantRecord};

/// RFC 8693 grant type.
pub const TOKEN_EXCHANGE_GRANT: &str = GrantType::TokenExchange.as_str();
/// RFC 7523 grant type (with the ID-JAG profile, ADR 0020).
pub const JWT_BEARER_GRANT: &str = GrantType::JwtBearer.as_str();
/// RFC 8693 token type of access tokens.
pub const ACCESS_TOKEN_TYPE: &str = mcp_shared::token_exchange::ACCESS_TOKEN_TYPE;

/// One variant per grant type, each with its own fields (parse, don't validate).
pub enum TokenRequest<'a> {
    AuthorizationCode {
        code: &'a str,
        redirect_uri: Option<&'a str>,
        code_verifier: &'a str,
        resource: Option<&'a str>,
    },
    RefreshToken {
        refresh_token: &'a str,
        scope: Option<&'a str>,
        resource: Option<&'a str>,
    },
    TokenExchange {
        subject_token: &'a str,
        /// Checked against the configured Nextcloud credential strategy by the handler.
        requested_token_type: Option<&'a str>,
    },
    /// An identity assertion (ID-JAG) traded for an access token; checked by `crate::idjag`.
    JwtBearer {
        assertion: &'a str,
        scope: Option<&'a str>,
        resource: Option<&'a str>,
    },
}

impl<'a> TokenRequest<'a> {
    pub fn parse(form: &'a [(String, String)]) -> Result<Self, OAuthError> {
        let required = |name: &'static str| {
            param(form, name)
                .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
        };
        match param(form, "grant_type") {
            Some("authorization_code") => Ok(Self::AuthorizationCode {
                code: required("code")?,
                redirect_uri: param(form, "redirect_uri"),
                code_verifier: required("code_verifier")?,
                resource: param(form, "resource"),
            }),
            Some("refresh_token") => Ok(Self::RefreshToken {
                refresh_token: required("refresh_token")?,
                scope: param(form, "scope"),
                resource: param(form, "resource"),
            }),
            Some(TOKEN_EXCHANGE_GRANT) => {
                let subject_token = required("subject_token")?;
                if required("subject_token_type")? != ACCESS_TOKEN_TYPE {
                    return Err(OAuthError::invalid_request(
                        "subject_token_type must be urn:ietf:params:oauth:token-type:access_token",
                    ));
                }
                if param(form, "actor_token").is_some() || param(form, "actor_token_type").is_some()
                {
                    return Err(OAuthError::invalid_request(
                        "delegation (actor_token) is not supported",
                    ));
                }
                if param(form, "resource").is_some() || param(form, "audience").is_some() {
                    return Err(OAuthError::invalid_target(
                        "the exchanged token is always the user's token for Nextcloud: leave \
                         resource and audience out",
                    ));
                }
                if param(form, "scope").is_some() {
                    return Err(OAuthError::invalid_scope(
                        "scope cannot be chosen in a token exchange",
                    ));
                }
                Ok(Self::TokenExchange {
                    subject_token,
                    requested_token_type: param(form, "requested_token_type"),
                })
            }
            Some(JWT_BEARER_GRANT) => {
                let assertion = required("assertion")?;
                if assertion.len() > crate::jose::MAX_JWT_BYTES {
                    return Err(OAuthError::invalid_request("assertion is too large"));
                }
                Ok(Self::JwtBearer {
                    assertion,
                    scope: param(form, "scope"),
                    resource: param(form, "resource"),
                })
            }
            Some(_) => Err(OAuthError::unsupported_grant_type(
                "supported grant types: authorization_code, refresh_token, and token exchange \
                 for the MCP server's own client",
            )),
            None => Err(OAuthError::invalid_request("grant_type is required")),
        }
    }

    pub fn grant_type(&self) -> GrantType {
        match self {
            Self::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            Self::RefreshToken { .. } => GrantType::RefreshToken,
            Self::TokenExchange { .. } => GrantType::TokenExchange,
            Self::JwtBearer { .. } => GrantType::JwtBearer,
        }
    }
}

/// Whether the token request may redeem the code `record` describes (already taken from the
/// store, and issued to this client): the same redirect URI as the authorization request (and
/// present if that one named it), the PKCE verifier for its challenge, the same resource
/// (`resource` is the configured string [`requested_resource`] found; the store has already
/// refused a different one without spending the code, so this is a second line).
pub fn check_redemption(
    record: &CodeRecord,
    redirect_uri: Option<&str>,
    code_verifier: &str,
    resource: Option<&str>,
) -> Result<(), OAuthError> {
    match redirect_uri {
        Some(r) if r != record.redirect_uri.as_str() => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ))
        }
        None if record.redirect_uri_given => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri is required: the authorization request included it",
            ))
        }
        _ => {}
    }
    let verifier =
        CodeVerifier::parse(code_verifier).map_err(|e| OAuthError::invalid_grant(e.to_string()))?;
    if !verifier.matches(&record.code_challenge) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    if resource.is_some_and(|r| r != record.resource) {
        return Err(OAuthError::invalid_target(
            "resource does not match the authorization request",
        ));
    }
    Ok(())
}

/// The configured resource a token request's `resource` names (after canonicalisation), if it
/// names one: decided before anything is read or spent, so an unknown resource costs no store
/// call and leaves the code or refresh token as it was.
pub fn requested_resource<'a>(
    configured: &'a [String],
    resource: Option<&str>,
) -> Result<Option<&'a str>, OAuthError> {
    resource
        .map(|r| {
            crate::resource::find(configured, r).ok_or_else(|| {
                OAuthError::invalid_target(
                    "the requested resource is not served by this authorization server",
                )
            })
        })
        .transpose()
}

/// The scope a refresh request asks for, if it names one.
pub fn requested_scope(scope: Option<&str>) -> Result<Option<ScopeSet>, OAuthError> {
    scope
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| OAuthError::invalid_scope(e.to_string()))
}

/// Whether a refresh request fits the grant: a scope within the grant's, the same resource
/// (the configured string [`requested_resource`] found). Checked before rotating, so a bad
/// request does not spend the token.
pub fn check_refresh(
    grant: &GrantRecord,
    requested: Option<&ScopeSet>,
    resource: Option<&str>,
) -> Result<(), OAuthError> {
    if requested.is_some_and(|r| !r.is_subset(&grant.scope)) {
        return Err(OAuthError::invalid_scope(
            "the requested scope exceeds the original grant",
        ));
    }
    if resource.is_some_and(|r| r != grant.resource) {
        return Err(OAuthError::invalid_target(
            "resource does not match the original grant",
        ));
    }
    Ok(())
}

/// The claims of an access token for `grant` with `scope`, issued at `now` for `ttl_secs`.
pub fn access_token_claims(
    issuer: &str,
    grant: &GrantRecord,
    scope: &ScopeSet,
    now: i64,
    ttl_secs: u64,
    jti: String,
) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: issuer.to_owned(),
        sub: grant.subject.clone(),
        aud: grant.resource.clone(),
        client_id: grant.client_id.to_string(),
        scope: scope.clone(),
        iat: now,
        nbf: now,
        exp: now.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX)),
        jti,
        gid: grant.grant_id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::sha256_b64url;
    use mcp_shared::OAuthErrorCode;

    fn code_of(r: Result<(), OAuthError>) -> OAuthErrorCode {
        r.expect_err("the request must be refused").code
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn each_grant_type_parses_into_its_own_variant() {
        let f = form(&[
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("code_verifier", "v"),
        ]);
        let r = TokenRequest::parse(&f).unwrap();
        assert_eq!(r.grant_type(), GrantType::AuthorizationCode);
        let f = form(&[("grant_type", "refresh_token"), ("refresh_token", "r")]);
        assert_eq!(
            TokenRequest::parse(&f).unwrap().grant_type(),
            GrantType::RefreshToken
        );
        let f = form(&[
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("subject_token", "t"),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
        ]);
        assert_eq!(
            TokenRequest::parse(&f).unwrap().grant_type(),
            GrantType::TokenExchange
        );
        let cases = [
            (form(&[]), OAuthErrorCode::InvalidRequest),
            (
                form(&[("grant_type", "password")]),
                OAuthErrorCode::UnsupportedGrantType,
            ),
            (
                form(&[("grant_type", "authorization_code"), ("code", "c")]),
                OAuthErrorCode::InvalidRequest,
            ),
            (
                form(&[
                    ("grant_type", TOKEN_EXCHANGE_GRANT),
                    ("subject_token", "t"),
                    ("subject_token_type", ACCESS_TOKEN_TYPE),
                    ("audience", "x"),
                ]),
                OAuthErrorCode::InvalidTarget,
            ),
            (
                form(&[
                    ("grant_type", TOKEN_EXCHANGE_GRANT),
                    ("subject_token", "t"),
                    ("subject_token_type", ACCESS_TOKEN_TYPE),
                    ("scope", "notes:read"),
                ]),
                OAuthErrorCode::InvalidScope,
            ),
        ];
        for (f, expected) in cases {
            let err = TokenRequest::parse(&f).err().map(|e| e.code);
            assert_eq!(err, Some(expected), "{f:?}");
        }
    }

    fn code_record(redirect_uri_given: bool, verifier: &str) -> CodeRecord {
        CodeRecord {
            client_id: crate::ids::ClientId::parse("c").unwrap(),
            redirect_uri: crate::ids::RedirectUri::parse("http://127.0.0.1/cb").unwrap(),
            redirect_uri_given,
            code_challenge: sha256_b64url(verifier.as_bytes()),
            scope: ScopeSet::parse("notes:read").unwrap(),
            resource: "https://mcp.example/mcp".into(),
            created_at: 0,
        }
    }

    #[test]
    fn a_redemption_repeats_redirect_uri_pkce_and_resource() {
        let verifier = "v".repeat(43);
        let record = code_record(true, &verifier);
        let uri = Some("http://127.0.0.1/cb");
        assert!(check_redemption(&record, uri, &verifier, None).is_ok());
        assert!(check_redemption(&record, uri, &verifier, Some("https://mcp.example/mcp")).is_ok());
        assert_eq!(
            code_of(check_redemption(&record, None, &verifier, None)),
            OAuthErrorCode::InvalidGrant
        );
        assert!(check_redemption(&code_record(false, &verifier), None, &verifier, None).is_ok());
        assert_eq!(
            code_of(check_redemption(
                &record,
                Some("http://127.0.0.1/other"),
                &verifier,
                None
            )),
            OAuthErrorCode::InvalidGrant
        );
        assert_eq!(
            code_of(check_redemption(&record, uri, &"w".repeat(43), None)),
            OAuthErrorCode::InvalidGrant
        );
        assert_eq!(
            code_of(check_redemption(
                &record,
                uri,
                &verifier,
                Some("https://other.example/mcp")
            )),
            OAuthErrorCode::InvalidTarget
        );
    }

    #[test]
    fn a_requested_resource_is_the_configured_string_or_invalid_target() {
        let configured = ["https://mcp.example/mcp".to_owned()];
        assert_eq!(requested_resource(&configured, None).unwrap(), None);
        for spelling in ["https://mcp.example/mcp/", "https://MCP.EXAMPLE:443/mcp"] {
            assert_eq!(
                requested_resource(&configured, Some(spelling)).unwrap(),
                Some("https://mcp.example/mcp")
            );
        }
        assert_eq!(
            requested_resource(&configured, Some("https://mcp.example/other"))
                .err()
                .map(|e| e.code),
            Some(OAuthErrorCode::InvalidTarget)
        );
    }

    fn grant() -> GrantRecord {
        GrantRecord {
            grant_id: crate::ids::GrantId::parse("g").unwrap(),
            subject: "alice".into(),
            client_id: crate::ids::ClientId::parse("c").unwrap(),
            scope: ScopeSet::parse("notes:write files:read").unwrap(),
            resource: "https://mcp.example/mcp".into(),
            upstream_sealed: "".into(),
            created_at: 0,
            origin: Default::default(),
        }
    }

    #[test]
    fn a_refresh_stays_within_the_grant() {
        let g = grant();
        let narrower = requested_scope(Some("files:read")).unwrap();
        assert!(check_refresh(&g, narrower.as_ref(), None).is_ok());
        let wider = requested_scope(Some("calendar:read")).unwrap();
        assert_eq!(
            code_of(check_refresh(&g, wider.as_ref(), None)),
            OAuthErrorCode::InvalidScope
        );
        assert_eq!(
            requested_scope(Some("bogus")).err().map(|e| e.code),
            Some(OAuthErrorCode::InvalidScope)
        );
        assert_eq!(
            code_of(check_refresh(&g, None, Some("https://other.example/mcp"))),
            OAuthErrorCode::InvalidTarget
        );
    }

    #[test]
    fn claims_carry_the_grant_and_the_clock() {
        let scope = ScopeSet::parse("files:read").unwrap();
        let c = access_token_claims(
            "https://as.example",
            &grant(),
            &scope,
            1000,
            300,
            "j".into(),
        );
        assert_eq!((c.iat, c.nbf, c.exp), (1000, 1000, 1300));
        assert_eq!(c.sub, "alice");
        assert_eq!(c.aud, "https://mcp.example/mcp");
        assert_eq!(c.gid, "g");
        assert_eq!(c.scope, scope);
        assert_eq!(c.iss, "https://as.example");
    }
}
