//! The access policy (ADR 0021): allowed users, groups and verified e-mail domains, checked
//! after the upstream sign-in. A refused person's client gets `access_denied` with `state` and
//! `iss`, no code; the refusal is counted under its reason.

use auth_proxy::upstream::UpstreamIdentity;

use crate::helpers::*;

fn person(
    sub: &str,
    email: Option<&str>,
    verified: Option<bool>,
    groups: &[&str],
) -> UpstreamIdentity {
    UpstreamIdentity {
        subject: sub.into(),
        email: email.map(Into::into),
        email_verified: verified,
        name: None,
        preferred_username: None,
        claims: Default::default(),
        lists: [(
            "roles".to_owned(),
            groups.iter().map(|g| (*g).to_owned()).collect(),
        )]
        .into(),
    }
}

/// authorize → approve → callback as `who`; the query the client's redirect carries.
async fn sign_in(
    app: &TestApp,
    who: UpstreamIdentity,
) -> std::collections::HashMap<String, String> {
    *app.upstream.identity.lock().unwrap() = Some(who);
    let client = app.register_public().await;
    let pkce = pkce();
    let (flow, csrf) = app.consent_page(&client.client_id, &pkce.challenge).await;
    let resp = app.decide(&flow, &csrf, "approve").await;
    assert_eq!(resp.status(), 303);
    let upstream = query(&location(&resp));
    let resp = app
        .callback(&[("state", &upstream["state"]), ("code", "good")])
        .await;
    assert_eq!(resp.status(), 302);
    let back = location(&resp);
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    query(&back)
}

fn denials(app: &TestApp, reason: &str) -> u64 {
    app.app_state
        .metrics
        .denials
        .with_label_values(&[reason])
        .get()
}

#[tokio::test]
async fn without_lists_everyone_signs_in() {
    let app = spawn_app().await;
    let q = sign_in(&app, person("mallory", None, None, &[])).await;
    assert!(q.contains_key("code"), "{q:?}");
}

#[tokio::test]
async fn users_groups_and_verified_domains_are_let_in_and_others_refused() {
    let app = spawn_app_with(&[
        ("AUTH_PROXY_POLICY_ALLOWED_USERS", "alice"),
        ("AUTH_PROXY_POLICY_ALLOWED_GROUPS", "mcp-users, staff"),
        ("AUTH_PROXY_POLICY_GROUPS_CLAIM", "roles"),
        ("AUTH_PROXY_POLICY_ALLOWED_EMAIL_DOMAINS", "Example.org"),
        ("AUTH_PROXY_RATE_LIMIT_AUTHORIZE", "off"),
        ("AUTH_PROXY_RATE_LIMIT_REGISTER", "off"),
    ])
    .await;
    for who in [
        person("alice", None, None, &[]),
        person("bob", None, None, &["other", "staff"]),
        person("carol", Some("carol@EXAMPLE.ORG"), Some(true), &[]),
    ] {
        let sub = who.subject.clone();
        let q = sign_in(&app, who).await;
        assert!(q.contains_key("code"), "{sub}: {q:?}");
    }
    for (who, reason) in [
        (
            person("dave", Some("dave@evil.example"), Some(true), &["Staff"]),
            "policy_email_domain",
        ),
        (
            person("erin", Some("erin@example.org"), Some(false), &[]),
            "policy_email_unverified",
        ),
        (
            person("frank", Some("frank@example.org"), None, &[]),
            "policy_email_unverified",
        ),
    ] {
        let q = sign_in(&app, who).await;
        assert_eq!(q["error"], "access_denied", "{q:?}");
        assert_eq!(q["state"], "client-state-1");
        assert_eq!(q["iss"], ISSUER);
        assert!(!q.contains_key("code"));
        assert!(denials(&app, reason) >= 1, "{reason}");
    }
    assert_eq!(denials(&app, "policy_email_unverified"), 2);
}

#[tokio::test]
async fn the_refusal_names_the_list_configured() {
    let app = spawn_app_with(&[("AUTH_PROXY_POLICY_ALLOWED_GROUPS", "staff")]).await;
    let q = sign_in(&app, person("bob", Some("b@example.org"), Some(true), &[])).await;
    assert_eq!(q["error"], "access_denied");
    assert_eq!(denials(&app, "policy_group"), 1);
    let app = spawn_app_with(&[("AUTH_PROXY_POLICY_ALLOWED_USERS", "alice")]).await;
    let q = sign_in(&app, person("bob", None, None, &[])).await;
    assert_eq!(q["error"], "access_denied");
    assert_eq!(denials(&app, "policy_user"), 1);
    // The default groups claim is `groups`.
    let app = spawn_app_with(&[("AUTH_PROXY_POLICY_ALLOWED_GROUPS", "staff")]).await;
    let mut who = person("bob", None, None, &[]);
    who.lists.insert("groups".into(), vec!["staff".into()]);
    assert!(sign_in(&app, who).await.contains_key("code"));
}

#[tokio::test]
async fn bad_policy_values_stop_the_start() {
    let base = [
        ("AUTH_PROXY_ISSUER", ISSUER),
        ("AUTH_PROXY_RESOURCES", RESOURCE),
        ("AUTH_PROXY_UPSTREAM_ISSUER", "http://127.0.0.1:9"),
        ("AUTH_PROXY_UPSTREAM_CLIENT_ID", "proxy"),
    ];
    for (name, value) in [
        ("AUTH_PROXY_POLICY_ALLOWED_EMAIL_DOMAINS", "*.example.org"),
        ("AUTH_PROXY_POLICY_GROUPS_CLAIM", " "),
    ] {
        let vars = base
            .iter()
            .chain([&(name, value)])
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let e = auth_proxy::config::Config::from_vars(&vars).unwrap_err();
        assert!(e.to_string().starts_with(name), "{e}");
    }
}
