//! The decisions of `GET /authorize`, in the order they are made: which client
//! ([`client_id`]), which redirect URI ([`resolve_redirect_uri`]) — until both hold, every
//! refusal is a page and never a redirect — then the rest of the request ([`validate`]), whose
//! refusals go back to the client.

use mcp_shared::{OAuthErrorCode, ScopeSet};

use super::{param, reject_repeats};
use crate::clients::ClientRecord;
use crate::ids::{ClientState, RedirectUri};
use crate::pkce::{CodeChallenge, CodeChallengeMethod};
use crate::redirect::{matches_registered, RedirectPattern};

/// What was wrong with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Shown to the person; nothing is sent to the (unverified) redirect URI.
    Page(String),
    /// Sent back to the verified redirect URI.
    Redirect(OAuthErrorCode, String),
}

/// A request that passed every check: what the pending flow is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// The client's `state`, if it sent one.
    pub state: Option<ClientState>,
    pub scope: ScopeSet,
    pub resource: String,
    pub code_challenge: CodeChallenge,
}

/// The `client_id` the request names, once, or the page saying why not.
pub fn client_id(pairs: &[(String, String)]) -> Result<&str, Rejection> {
    for name in ["client_id", "redirect_uri"] {
        if pairs.iter().filter(|(k, _)| k == name).count() > 1 {
            return Err(Rejection::Page(format!(
                "The parameter {name} is repeated."
            )));
        }
    }
    param(pairs, "client_id").ok_or_else(|| {
        Rejection::Page("The request does not name an application (client_id is missing).".into())
    })
}

/// The redirect URI to answer on: the requested one if it matches the client's URIs or
/// patterns, or the only registered URI when none was requested (RFC 6749 §3.1.2.3; a pattern
/// is never a candidate).
pub fn resolve_redirect_uri(
    client: &ClientRecord,
    patterns: &[RedirectPattern],
    requested: Option<&str>,
) -> Result<RedirectUri, Rejection> {
    // Every URI that matches is an absolute URL (registered ones were validated, the loopback
    // and pattern matches parse the request), so the parse cannot refuse a matched one.
    let resolved = |uri: &str| {
        RedirectUri::parse(uri).ok_or_else(|| {
            Rejection::Page(
                "The redirect address does not match any address registered for this \
                 application."
                    .into(),
            )
        })
    };
    match requested {
        Some(uri) if matches_registered(uri, &client.redirect_uris, patterns) => resolved(uri),
        Some(_) => Err(Rejection::Page(
            "The redirect address does not match any address registered for this application."
                .into(),
        )),
        None => match client.redirect_uris.as_slice() {
            [only] if patterns.is_empty() => resolved(only),
            _ => Err(Rejection::Page(
                "The request must name its redirect address (redirect_uri).".into(),
            )),
        },
    }
}

/// Everything after the client and redirect URI: response type, PKCE, `resource` (one of
/// `resources` after canonicalisation, the first by default) and `scope` (within the client's own ceiling, all
/// scopes by default).
pub fn validate(
    client: &ClientRecord,
    pairs: &[(String, String)],
    resources: &[String],
) -> Result<AuthorizationRequest, Rejection> {
    let get = |name: &str| param(pairs, name);
    let invalid = |d: &str| Rejection::Redirect(OAuthErrorCode::InvalidRequest, d.to_owned());
    if let Err(e) = reject_repeats(pairs) {
        return Err(Rejection::Redirect(
            e.code,
            e.description.map(|d| d.into_owned()).unwrap_or_default(),
        ));
    }
    match get("response_type") {
        Some("code") => {}
        None => return Err(invalid("response_type is required")),
        Some(_) => {
            return Err(Rejection::Redirect(
                OAuthErrorCode::UnsupportedResponseType,
                "only response_type=code is supported".into(),
            ))
        }
    }
    // `state` is optional: PKCE, which is required here, already binds the response to the
    // request (OAuth 2.1 §7.6), and the official MCP SDKs send none by default (ADR 0007).
    // Without it, the redirect carries no `state` either.
    let client_state =
        ClientState::parse(get("state").unwrap_or("")).map_err(|e| invalid(&e.to_string()))?;
    let challenge =
        get("code_challenge").ok_or_else(|| invalid("code_challenge is required (PKCE)"))?;
    match get("code_challenge_method") {
        None => return Err(invalid("code_challenge_method=S256 is required")),
        Some(m) => m
            .parse::<CodeChallengeMethod>()
            .map_err(|e| invalid(&e.to_string()))?,
    };
    let code_challenge = CodeChallenge::parse(challenge).map_err(|e| invalid(&e.to_string()))?;

    // Compared after canonicalisation (a trailing slash, an upper-case host, a default port);
    // the grant keeps the configured spelling, which becomes the token's `aud`.
    let resource = match get("resource") {
        None => resources.first().cloned().unwrap_or_default(),
        Some(r) => match crate::resource::find(resources, r) {
            Some(known) => known.to_owned(),
            None => {
                return Err(Rejection::Redirect(
                    OAuthErrorCode::InvalidTarget,
                    "the requested resource is not served by this authorization server".into(),
                ))
            }
        },
    };

    // The client's own ceiling. A stored scope that no longer parses never reaches here: the
    // record reads as corrupt (fail closed), not as "no ceiling".
    let registered = client.scope.as_ref();
    let scope = match get("scope") {
        Some(raw) => ScopeSet::parse(raw)
            .map_err(|e| Rejection::Redirect(OAuthErrorCode::InvalidScope, e.to_string()))?,
        None => registered.cloned().unwrap_or_else(ScopeSet::all),
    };
    if let Some(registered) = registered {
        if !scope.is_subset(registered) {
            return Err(Rejection::Redirect(
                OAuthErrorCode::InvalidScope,
                "the requested scope exceeds what the client registered".into(),
            ));
        }
    }
    Ok(AuthorizationRequest {
        state: client_state,
        scope,
        resource,
        code_challenge,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::{GrantType, ResponseType, TokenEndpointAuthMethod};

    const RESOURCE: &str = "https://mcp.example/mcp";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client(scope: Option<&str>) -> ClientRecord {
        ClientRecord {
            client_id: crate::ids::ClientId::parse("c").unwrap(),
            client_name: None,
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            token_endpoint_auth_method: TokenEndpointAuthMethod::None,
            client_secret_hash: None,
            grant_types: vec![GrantType::AuthorizationCode],
            response_types: vec![ResponseType::Code],
            scope: scope.map(|s| ScopeSet::parse(s).unwrap()),
            client_uri: None,
            logo_uri: None,
            software_id: None,
            software_version: None,
            created_at: 0,
            application_type: None,
        }
    }

    fn pairs(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = [
            ("response_type", "code"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            p.retain(|(key, _)| key != k);
            p.push((k.to_string(), v.to_string()));
        }
        p
    }

    fn run(
        client: &ClientRecord,
        extra: &[(&str, &str)],
    ) -> Result<AuthorizationRequest, Rejection> {
        validate(client, &pairs(extra), &[RESOURCE.to_owned()])
    }

    fn code(r: Result<AuthorizationRequest, Rejection>) -> OAuthErrorCode {
        match r {
            Err(Rejection::Redirect(code, _)) => code,
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    #[test]
    fn defaults_fill_in_resource_scope_and_state() {
        let r = run(&client(None), &[]).unwrap();
        assert_eq!(r.resource, RESOURCE);
        assert_eq!(r.scope, ScopeSet::all());
        assert_eq!(r.state, None);
        let r = run(&client(Some("notes:read")), &[("state", "s")]).unwrap();
        assert_eq!(r.scope.to_string(), "notes:read");
        assert_eq!(r.state.as_ref().map(ClientState::as_str), Some("s"));
    }

    #[test]
    fn the_resource_is_matched_canonically_and_kept_as_configured() {
        for spelling in [
            "https://mcp.example/mcp/",
            "https://MCP.example/mcp",
            "https://mcp.example:443/mcp",
        ] {
            let r = run(&client(None), &[("resource", spelling)]).unwrap();
            assert_eq!(r.resource, RESOURCE, "{spelling}");
        }
        assert_eq!(
            code(run(
                &client(None),
                &[("resource", "https://mcp.example/mcp?x")]
            )),
            OAuthErrorCode::InvalidTarget
        );
    }

    #[test]
    fn the_clients_scope_is_a_ceiling() {
        let c = client(Some("notes:read"));
        assert_eq!(
            code(run(&c, &[("scope", "notes:write")])),
            OAuthErrorCode::InvalidScope
        );
        assert_eq!(
            code(run(&c, &[("scope", "bogus")])),
            OAuthErrorCode::InvalidScope
        );
        assert!(run(&c, &[("scope", "notes:read")]).is_ok());
        assert!(run(&client(None), &[("scope", "notes:write")]).is_ok());
    }

    #[test]
    fn each_missing_or_wrong_parameter_has_its_code() {
        let c = client(None);
        for (extra, expected) in [
            (
                vec![("response_type", "token")],
                OAuthErrorCode::UnsupportedResponseType,
            ),
            (vec![("response_type", "")], OAuthErrorCode::InvalidRequest),
            (vec![("code_challenge", "")], OAuthErrorCode::InvalidRequest),
            (
                vec![("code_challenge_method", "plain")],
                OAuthErrorCode::InvalidRequest,
            ),
            (
                vec![("code_challenge_method", "")],
                OAuthErrorCode::InvalidRequest,
            ),
            (
                vec![("resource", "https://other.example/mcp")],
                OAuthErrorCode::InvalidTarget,
            ),
        ] {
            assert_eq!(code(run(&c, &extra)), expected, "{extra:?}");
        }
        let long_state = "s".repeat(2049);
        assert_eq!(
            code(run(&c, &[("state", long_state.as_str())])),
            OAuthErrorCode::InvalidRequest
        );
        let mut repeated = pairs(&[]);
        repeated.push(("response_type".into(), "code".into()));
        assert_eq!(
            code(validate(&c, &repeated, &[RESOURCE.to_owned()])),
            OAuthErrorCode::InvalidRequest
        );
    }

    #[test]
    fn client_and_redirect_uri_refusals_are_pages() {
        let twice = vec![
            ("client_id".to_string(), "a".to_string()),
            ("client_id".to_string(), "b".to_string()),
        ];
        assert!(matches!(client_id(&twice), Err(Rejection::Page(_))));
        assert!(matches!(client_id(&[]), Err(Rejection::Page(_))));
        let one = vec![("client_id".to_string(), "a".to_string())];
        assert_eq!(client_id(&one), Ok("a"));

        let c = client(None);
        assert_eq!(
            resolve_redirect_uri(&c, &[], None),
            Ok(RedirectUri::parse("http://127.0.0.1/cb").unwrap())
        );
        assert_eq!(
            resolve_redirect_uri(&c, &[], Some("http://127.0.0.1:4567/cb")),
            Ok(RedirectUri::parse("http://127.0.0.1:4567/cb").unwrap()),
            "loopback: any port"
        );
        assert!(matches!(
            resolve_redirect_uri(&c, &[], Some("https://evil.example/cb")),
            Err(Rejection::Page(_))
        ));
        let pattern = RedirectPattern::parse("https://chatgpt.com/cb/*").unwrap();
        assert!(matches!(
            resolve_redirect_uri(&c, &[pattern], None),
            Err(Rejection::Page(_))
        ));
    }
}
