use crate::helpers::*;

#[tokio::test]
async fn errors_before_client_validation_render_a_page_and_never_redirect() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let p = pkce();
    let cases: Vec<Vec<(&str, &str)>> = vec![
        app.authorize_params("", &p.challenge, &[("client_id", "")]),
        app.authorize_params("no-such-client", &p.challenge, &[]),
        app.authorize_params(
            &client.client_id,
            &p.challenge,
            &[("redirect_uri", "https://evil.example/cb")],
        ),
        app.authorize_params(
            &client.client_id,
            &p.challenge,
            &[("redirect_uri", "http://127.0.0.1:7777/callback#x")],
        ),
        app.authorize_params(
            &client.client_id,
            &p.challenge,
            &[(
                "redirect_uri",
                "http://127.0.0.1.evil.example:7777/callback",
            )],
        ),
        app.authorize_params(
            &client.client_id,
            &p.challenge,
            &[("redirect_uri", "javascript:alert(1)")],
        ),
    ];
    for params in cases {
        let resp = app.authorize(&params).await;
        assert_eq!(resp.status(), 400, "{params:?}");
        assert!(
            resp.headers().get("location").is_none(),
            "{params:?} must not redirect"
        );
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
    }
    // A repeated redirect_uri is also refused without redirecting.
    let mut params = app.authorize_params(&client.client_id, &p.challenge, &[]);
    params.push(("redirect_uri", "https://evil.example/cb"));
    let resp = app.authorize(&params).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
}

#[tokio::test]
async fn errors_after_client_validation_redirect_with_state_and_iss() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let p = pkce();
    let cases = [
        (vec![("code_challenge", "")], "invalid_request", true),
        // No state sent (allowed: PKCE is required): none echoed.
        (
            vec![("state", ""), ("response_type", "token")],
            "unsupported_response_type",
            false,
        ),
        (
            vec![("code_challenge_method", "plain")],
            "invalid_request",
            true,
        ),
        (vec![("code_challenge_method", "")], "invalid_request", true),
        (
            vec![("code_challenge", "too-short")],
            "invalid_request",
            true,
        ),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
            true,
        ),
        (
            vec![("resource", "https://other.example/mcp")],
            "invalid_target",
            true,
        ),
        (vec![("scope", "notes:read admin")], "invalid_scope", true),
    ];
    for (overrides, expected, has_state) in cases {
        let resp = app
            .authorize(&app.authorize_params(&client.client_id, &p.challenge, &overrides))
            .await;
        assert_eq!(resp.status(), 302, "{overrides:?}");
        let loc = location(&resp);
        assert!(loc.as_str().starts_with(REDIRECT), "{loc}");
        let q = query(&loc);
        assert_eq!(q["error"], expected, "{overrides:?}");
        assert_eq!(q["iss"], ISSUER);
        assert_eq!(
            q.get("state").map(String::as_str),
            has_state.then_some("client-state-1")
        );
    }
}

#[tokio::test]
async fn consent_page_is_safe_and_binds_the_browser() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let p = pkce();
    let resp = app
        .authorize(&app.authorize_params(&client.client_id, &p.challenge, &[]))
        .await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    let cookie = h["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("mcp-auth-flow="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("Test Client"));
    assert!(html.contains("127.0.0.1"));
    assert!(html.contains("Create, change and delete your notes"));
    assert!(
        html.contains("class=\"warn\""),
        "loopback redirect warning expected"
    );
}

#[tokio::test]
async fn consent_page_offers_the_new_app_scopes_and_says_which_reach_other_people() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let p = pkce();
    let scope = "tasks:write sharing:write deck:read talk:write";
    let resp = app
        .authorize(&app.authorize_params(&client.client_id, &p.challenge, &[("scope", scope)]))
        .await;
    assert_eq!(resp.status(), 200, "{:?}", resp.headers().get("location"));
    let html = resp.text().await.unwrap();
    for s in scope.split(' ') {
        assert!(
            html.contains(&format!("name=\"grant.{s}\" value=\"on\" checked")),
            "{s} can be unticked"
        );
    }
    assert!(html.contains("Create, change, complete and delete your tasks"));
    assert!(html.contains("See your Deck boards, cards and comments"));
    assert!(html.contains("Send Talk messages to other people in your name"));
    assert!(html.contains("Share your files and folders with other people or by public links"));
}

#[tokio::test]
async fn https_issuer_uses_a_host_prefixed_secure_cookie() {
    let app = spawn_app_with(&[("AUTH_PROXY_ISSUER", "https://auth.example.com")]).await;
    let client = app.register_public().await;
    let p = pkce();
    let resp = app
        .authorize(&app.authorize_params(&client.client_id, &p.challenge, &[]))
        .await;
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-mcp-auth-flow="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"),
        "{cookie}"
    );
}

#[tokio::test]
async fn deny_sends_access_denied_to_the_client() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let (flow, csrf) = app.consent_page(&client.client_id, &pkce().challenge).await;
    let resp = app.decide(&flow, &csrf, "deny").await;
    assert_eq!(resp.status(), 303);
    let q = query(&location(&resp));
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "client-state-1");
    assert_eq!(q["iss"], ISSUER);
    assert_eq!(
        app.app_state
            .metrics
            .consent
            .with_label_values(&["denied"])
            .get(),
        1
    );
}

#[tokio::test]
async fn approve_goes_upstream_with_the_proxys_own_pkce() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let p = pkce();
    let (flow, csrf) = app.consent_page(&client.client_id, &p.challenge).await;
    let resp = app.decide(&flow, &csrf, "approve").await;
    assert_eq!(resp.status(), 303);
    let loc = location(&resp);
    assert!(loc.as_str().starts_with(FAKE_IDP));
    let q = query(&loc);
    // The client's challenge is never forwarded upstream.
    assert_ne!(q["code_challenge"], p.challenge);
    assert_ne!(q["state"], "client-state-1");
}

#[tokio::test]
async fn consent_requires_the_csrf_token_and_the_same_browser_and_is_single_use() {
    let app = spawn_app().await;
    let client = app.register_public().await;

    let (flow, _) = app.consent_page(&client.client_id, &pkce().challenge).await;
    assert_eq!(app.decide(&flow, "forged", "approve").await.status(), 403);

    let (flow, csrf) = app.consent_page(&client.client_id, &pkce().challenge).await;
    let stranger = browser();
    let resp = stranger
        .post(app.url("/consent"))
        .form(&[
            ("flow", flow.as_str()),
            ("csrf", csrf.as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Used up by the failed attempt: replaying it is an expired flow.
    assert_eq!(app.decide(&flow, &csrf, "approve").await.status(), 400);

    let (flow, csrf) = app.consent_page(&client.client_id, &pkce().challenge).await;
    let resp = app
        .http
        .post(app.url("/consent"))
        .header("origin", "https://evil.example")
        .form(&[
            ("flow", flow.as_str()),
            ("csrf", csrf.as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn callback_issues_a_code_with_state_and_iss() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let (flow, csrf) = app.consent_page(&client.client_id, &pkce().challenge).await;
    let upstream = query(&location(&app.decide(&flow, &csrf, "approve").await));
    let resp = app
        .callback(&[
            ("state", &upstream["state"]),
            ("code", "good"),
            ("iss", "http://127.0.0.1:9"),
        ])
        .await;
    assert_eq!(resp.status(), 302);
    let q = query(&location(&resp));
    assert!(q["code"].contains('.'));
    assert_eq!(q["state"], "client-state-1");
    assert_eq!(q["iss"], ISSUER);
    // Single use: the same upstream state again is refused with a page.
    let resp = app
        .callback(&[("state", &upstream["state"]), ("code", "good")])
        .await;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
}

#[tokio::test]
async fn callback_in_another_browser_is_refused() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let (flow, csrf) = app.consent_page(&client.client_id, &pkce().challenge).await;
    let upstream = query(&location(&app.decide(&flow, &csrf, "approve").await));
    let resp = browser()
        .get(app.url("/callback"))
        .query(&[("state", upstream["state"].as_str()), ("code", "good")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("location").is_none());
}

#[tokio::test]
async fn upstream_failures_reach_the_client_as_oauth_errors() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    for (params, expected) in [
        (vec![("error", "access_denied")], "access_denied"),
        (vec![("error", "weird_upstream_thing")], "server_error"),
        (vec![("code", "unavailable")], "temporarily_unavailable"),
        (vec![("code", "rejected")], "access_denied"),
        (
            vec![("code", "good"), ("iss", "https://mix-up.example")],
            "access_denied",
        ),
    ] {
        let (flow, csrf) = app.consent_page(&client.client_id, &pkce().challenge).await;
        let upstream = query(&location(&app.decide(&flow, &csrf, "approve").await));
        let mut q = vec![("state", upstream["state"].as_str())];
        q.extend(params.iter().copied());
        let resp = app.callback(&q).await;
        assert_eq!(resp.status(), 302, "{params:?}");
        let back = query(&location(&resp));
        assert_eq!(back["error"], expected, "{params:?}");
        assert_eq!(back["state"], "client-state-1");
        assert!(!back.contains_key("code"));
    }
}

/// The text log format of this test binary, as `telemetry::init` sets it up, written to a
/// buffer the tests can read. Installed once for the whole binary; every test logs into it.
pub(crate) fn captured_text_logs() -> &'static std::sync::Mutex<Vec<u8>> {
    use std::sync::{Mutex, OnceLock};

    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        struct Writer(&'static Mutex<Vec<u8>>);
        impl std::io::Write for Writer {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_target(true)
            .with_writer(move || Writer(logs))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        logs
    })
}

#[tokio::test]
async fn the_callback_error_parameter_cannot_forge_log_lines() {
    let logs = captured_text_logs();
    let app = spawn_app().await;
    let client = app.register_public().await;
    let (flow, csrf) = app.consent_page(&client.client_id, &pkce().challenge).await;
    let upstream = query(&location(&app.decide(&flow, &csrf, "approve").await));
    let forged = "FORGED-LINE-1f3a audit: consent approved client_id=victim";
    let error = format!("x\r\n{forged}");
    let resp = app
        .callback(&[("state", upstream["state"].as_str()), ("error", &error)])
        .await;
    assert_eq!(resp.status(), 302);
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("upstream returned an error") && l.contains("1f3a"))
        .unwrap_or_else(|| panic!("the error is logged on one line: {text}"));
    assert!(line.contains("x\\u{d}\\u{a}FORGED"), "{line}");
    assert!(
        !text.lines().any(|l| l.starts_with("FORGED")),
        "no line of the log is the attacker's: {text}"
    );
}

#[tokio::test]
async fn a_private_use_scheme_redirect_is_named_with_its_scheme_and_a_warning() {
    let app = spawn_app().await;
    let consent_page = |redirect: &'static str, name: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .register(serde_json::json!({
                    "client_name": name,
                    "redirect_uris": [redirect],
                    "grant_types": ["authorization_code", "refresh_token"],
                }))
                .await;
            assert_eq!(resp.status(), 201, "{redirect}");
            let body: serde_json::Value = resp.json().await.unwrap();
            let client_id = body["client_id"].as_str().unwrap().to_owned();
            let p = pkce();
            let resp = app
                .authorize(&app.authorize_params(
                    &client_id,
                    &p.challenge,
                    &[("redirect_uri", redirect)],
                ))
                .await;
            assert_eq!(resp.status(), 200, "{redirect}");
            resp.text().await.unwrap()
        }
    };

    // The host part of `evil-app://claude.ai/…` is whatever the app wrote: the page must not
    // present it as where the access goes.
    let html = consent_page("evil-app://claude.ai/callback", "Claude").await;
    assert!(html.contains("evil-app:"), "the scheme is named");
    assert!(
        html.contains("id=\"app-redirect-warning\""),
        "an app on this device receives the access"
    );
    assert!(html.contains("proves nothing"));
    assert!(!html.contains("sent back to <span class=\"host\">claude.ai</span>"));

    // A scheme without a host (RFC 8252 reverse-domain form) gets the same treatment.
    let html = consent_page("com.example.app:/oauth", "Example").await;
    assert!(html.contains("com.example.app:"));
    assert!(html.contains("id=\"app-redirect-warning\""));

    // https and loopback redirects are as before.
    let html = consent_page("https://app.example/cb", "Web app").await;
    assert!(html.contains("sent back to <span class=\"host\">app.example</span>"));
    assert!(!html.contains("app-redirect-warning"));
    let html = consent_page("http://127.0.0.1:7777/callback", "Local app").await;
    assert!(html.contains("sent back to <span class=\"host\">127.0.0.1</span>"));
    assert!(html.contains("a local address"));
    assert!(!html.contains("app-redirect-warning"));
}
