//! The audit trail (ADR 0021): grants issued, refusals and revocations on the `audit` target
//! with the fields event, outcome, reason, subject, client_id and grant_id; never a code, a
//! token or an upstream credential.

use serde_json::Value;

use crate::authorize::captured_text_logs;
use crate::helpers::*;

/// The audit lines of one client so far (the log is shared by every test of the binary).
fn audit_lines(client_id: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(&captured_text_logs().lock().unwrap()).into_owned();
    text.lines()
        .filter(|l| l.contains(" audit: ") && l.contains(client_id))
        .map(str::to_owned)
        .collect()
}

fn has(lines: &[String], parts: &[&str]) -> bool {
    lines.iter().any(|l| parts.iter().all(|p| l.contains(p)))
}

#[tokio::test]
async fn grants_refusals_and_revocations_are_audited_without_secrets() {
    captured_text_logs();
    let app = spawn_app().await;
    let client = app.register_public_named("audited").await;
    let id = client.client_id.as_str();
    let auth = app.authorize_code(id).await;
    let body: Value = app.redeem(id, &auth).await.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    let rt1 = body["refresh_token"].as_str().unwrap().to_owned();
    let body: Value = app.refresh(id, &rt1).await.json().await.unwrap();
    let rt2 = body["refresh_token"].as_str().unwrap().to_owned();
    let resp = app.redeem(id, &auth).await;
    assert_eq!(error_code(resp).await, "invalid_grant");
    // A fresh grant, revoked by its client.
    let auth2 = app.authorize_code(id).await;
    let body: Value = app.redeem(id, &auth2).await.json().await.unwrap();
    let rt3 = body["refresh_token"].as_str().unwrap().to_owned();
    let resp = app
        .http
        .post(app.url("/revoke"))
        .form(&[("token", rt3.as_str()), ("client_id", id)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let lines = audit_lines(id);
    let joined = lines.join("\n");
    for parts in [
        &["event=\"client.registered\"", "outcome=\"ok\""][..],
        &[
            "event=\"consent.approved\"",
            "detail=notes:read notes:write",
        ],
        &["event=\"grant.issued\"", "subject=\"alice\"", "grant_id="],
        &["event=\"token.issued\"", "detail=authorization_code"],
        &["event=\"token.issued\"", "detail=refresh_token"],
        &[
            "event=\"grant.revoked\"",
            "outcome=\"revoked\"",
            "reason=\"code_replayed\"",
        ],
        &[
            "event=\"grant.revoked\"",
            "reason=\"refresh_token_revoked\"",
        ],
    ] {
        assert!(has(&lines, parts), "{parts:?} in\n{joined}");
    }
    let all = String::from_utf8_lossy(&captured_text_logs().lock().unwrap()).into_owned();
    for secret in [&auth.code, &auth2.code, &access, &rt1, &rt2, &rt3] {
        let tail = secret.rsplit('.').next().unwrap();
        assert!(!all.contains(tail), "a secret reached the log");
    }
    assert!(!all.contains("UPSTREAM-ACCESS-TOKEN") && !all.contains("UPSTREAM-REFRESH-TOKEN"));
}

#[tokio::test]
async fn a_policy_refusal_is_audited_with_its_reason() {
    captured_text_logs();
    let app = spawn_app_with(&[("AUTH_PROXY_POLICY_ALLOWED_USERS", "alice")]).await;
    let client = app.register_public_named("audited-policy").await;
    let pkce = pkce();
    let (flow, csrf) = app.consent_page(&client.client_id, &pkce.challenge).await;
    let upstream = query(&location(&app.decide(&flow, &csrf, "approve").await));
    let resp = app
        .callback(&[("state", &upstream["state"]), ("code", "user:mallory")])
        .await;
    assert_eq!(query(&location(&resp))["error"], "access_denied");
    let lines = audit_lines(&client.client_id);
    assert!(
        has(
            &lines,
            &[
                "event=\"policy.denied\"",
                "outcome=\"refused\"",
                "reason=\"policy_user\"",
                "subject=\"mallory\""
            ]
        ),
        "{lines:?}"
    );
}
