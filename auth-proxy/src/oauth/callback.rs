//! The decisions of `GET /callback`, where the upstream IdP sends the browser back: which
//! upstream answers end the flow with an error for the client, and what the grant and the
//! client's authorization code record are made of. The handler (`routes/callback.rs`) takes
//! the flow, checks the browser, exchanges the upstream code and stores the records.

use mcp_shared::OAuthErrorCode;

use crate::ids::GrantId;
use crate::store::{CodeRecord, GrantRecord, PendingAuthorization};

/// Upstream error codes passed on by name; anything else becomes `server_error`.
pub fn upstream_error_code(code: &str) -> OAuthErrorCode {
    match code {
        "access_denied"
        | "login_required"
        | "consent_required"
        | "interaction_required"
        | "account_selection_required" => OAuthErrorCode::AccessDenied,
        "temporarily_unavailable" => OAuthErrorCode::TemporarilyUnavailable,
        _ => OAuthErrorCode::ServerError,
    }
}

/// RFC 9207: when the IdP names itself, it must be the IdP the user was sent to (a trailing
/// slash aside).
pub fn issuer_acceptable(iss: Option<&str>, expected: &str) -> bool {
    iss.is_none_or(|iss| iss.trim_end_matches('/') == expected.trim_end_matches('/'))
}

/// The grant for the consented authorization `auth`, held by `subject`, with the upstream
/// tokens sealed, and the record of the authorization code issued from it.
pub fn grant_and_code(
    auth: &PendingAuthorization,
    grant_id: &GrantId,
    subject: &str,
    upstream_sealed: String,
    now: i64,
) -> (GrantRecord, CodeRecord) {
    let grant = GrantRecord {
        grant_id: grant_id.clone(),
        subject: subject.to_owned(),
        client_id: auth.client_id.clone(),
        scope: auth.scope.clone(),
        resource: auth.resource.clone(),
        upstream_sealed: upstream_sealed.into(),
        created_at: now,
        origin: Default::default(),
    };
    let code = CodeRecord {
        client_id: auth.client_id.clone(),
        redirect_uri: auth.redirect_uri.clone(),
        redirect_uri_given: auth.redirect_uri_given,
        code_challenge: auth.code_challenge.clone(),
        scope: auth.scope.clone(),
        resource: auth.resource.clone(),
        created_at: now,
    };
    (grant, code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_shared::ScopeSet;

    #[test]
    fn upstream_errors_are_passed_on_by_name_or_as_server_error() {
        assert_eq!(
            upstream_error_code("login_required"),
            OAuthErrorCode::AccessDenied
        );
        assert_eq!(
            upstream_error_code("temporarily_unavailable"),
            OAuthErrorCode::TemporarilyUnavailable
        );
        assert_eq!(upstream_error_code("<script>"), OAuthErrorCode::ServerError);
    }

    #[test]
    fn the_issuer_must_be_the_one_we_sent_the_user_to() {
        let idp = "https://idp.example/realms/x";
        assert!(issuer_acceptable(None, idp));
        assert!(issuer_acceptable(
            Some("https://idp.example/realms/x/"),
            idp
        ));
        assert!(!issuer_acceptable(Some("https://evil.example"), idp));
    }

    #[test]
    fn the_code_carries_what_was_consented() {
        let auth = PendingAuthorization {
            client_id: crate::ids::ClientId::parse("c").unwrap(),
            redirect_uri: crate::ids::RedirectUri::parse("http://127.0.0.1/cb").unwrap(),
            redirect_uri_given: true,
            state: None,
            scope: ScopeSet::parse("notes:read").unwrap(),
            resource: "https://mcp.example/mcp".into(),
            code_challenge: "x".repeat(43),
            csrf_hash: "h".into(),
            browser_hash: "b".into(),
            created_at: 1,
        };
        let gid = GrantId::generate();
        let (grant, code) = grant_and_code(&auth, &gid, "alice", "sealed".into(), 5);
        assert_eq!(grant.grant_id, gid);
        assert_eq!(grant.subject, "alice");
        assert_eq!(grant.scope, auth.scope);
        assert_eq!(grant.created_at, 5);
        assert_eq!(code.redirect_uri, auth.redirect_uri);
        assert!(code.redirect_uri_given);
        assert_eq!(code.code_challenge, auth.code_challenge);
        assert_eq!(
            (code.resource.as_str(), code.created_at),
            (grant.resource.as_str(), 5)
        );
    }
}
