use mcp_shared::AccessTokenClaims;
use serde_json::Value;

use crate::helpers::*;

async fn tokens(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn code_redeems_once_for_a_verifiable_audience_bound_jwt() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let auth = app.authorize_code(&client.client_id).await;
    let body = tokens(app.redeem(&client.client_id, &auth).await).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "notes:read notes:write");
    let claims: AccessTokenClaims = app
        .app_state
        .keys
        .verify_access_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.aud, RESOURCE);
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.client_id, client.client_id);
    assert_eq!(claims.exp - claims.iat, 600);
    claims
        .validate(ISSUER, RESOURCE, app.clock_now(), 0)
        .unwrap();
    // The upstream token never reaches the client.
    assert!(!body.to_string().contains("UPSTREAM"));
}

#[tokio::test]
async fn replayed_code_fails_and_revokes_what_it_issued() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let auth = app.authorize_code(&client.client_id).await;
    let first = tokens(app.redeem(&client.client_id, &auth).await).await;
    let resp = app.redeem(&client.client_id, &auth).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "invalid_grant");
    let resp = app
        .refresh(&client.client_id, first["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(
        error_code(resp).await,
        "invalid_grant",
        "the refresh token issued from a replayed code must be dead"
    );
    assert_eq!(app.app_state.metrics.code_replay_detected.get(), 1);
}

#[tokio::test]
async fn each_mismatch_gets_its_rfc_error() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let other = app.register_public_named("Other Client").await;
    let wrong_verifier = pkce().verifier;
    type Case<'a> = (
        &'a str,
        Box<dyn Fn(&Authorized) -> Vec<(String, String)>>,
        &'a str,
    );
    let base = |a: &Authorized, client_id: &str| -> Vec<(String, String)> {
        vec![
            ("grant_type".into(), "authorization_code".into()),
            ("code".into(), a.code.clone()),
            ("redirect_uri".into(), REDIRECT.into()),
            ("client_id".into(), client_id.into()),
            ("code_verifier".into(), a.pkce.verifier.clone()),
        ]
    };
    let set = |mut form: Vec<(String, String)>, k: &str, v: &str| {
        form.retain(|(fk, _)| fk != k);
        form.push((k.into(), v.into()));
        form
    };
    let cid = client.client_id.clone();
    let oid = other.client_id.clone();
    let cases: Vec<Case> = vec![
        (
            "wrong verifier",
            Box::new({
                let cid = cid.clone();
                let wv = wrong_verifier.clone();
                move |a| set(base(a, &cid), "code_verifier", &wv)
            }),
            "invalid_grant",
        ),
        (
            "malformed verifier",
            Box::new({
                let cid = cid.clone();
                move |a| set(base(a, &cid), "code_verifier", "short")
            }),
            "invalid_grant",
        ),
        (
            "wrong redirect",
            Box::new({
                let cid = cid.clone();
                move |a| set(base(a, &cid), "redirect_uri", "http://127.0.0.1:7777/other")
            }),
            "invalid_grant",
        ),
        (
            "wrong client",
            Box::new({
                let oid = oid.clone();
                move |a| base(a, &oid)
            }),
            "invalid_grant",
        ),
        (
            "wrong resource",
            Box::new({
                let cid = cid.clone();
                move |a| set(base(a, &cid), "resource", "https://other.example/mcp")
            }),
            "invalid_target",
        ),
        (
            "missing verifier",
            Box::new({
                let cid = cid.clone();
                move |a| {
                    base(a, &cid)
                        .into_iter()
                        .filter(|(k, _)| k != "code_verifier")
                        .collect()
                }
            }),
            "invalid_request",
        ),
        (
            "redirect_uri left out though the authorization request had it",
            Box::new({
                let cid = cid.clone();
                move |a| {
                    base(a, &cid)
                        .into_iter()
                        .filter(|(k, _)| k != "redirect_uri")
                        .collect()
                }
            }),
            "invalid_grant",
        ),
        (
            "garbage code",
            Box::new({
                let cid = cid.clone();
                move |a| set(base(a, &cid), "code", "nonsense")
            }),
            "invalid_grant",
        ),
    ];
    for (name, form, expected) in cases {
        let auth = app.authorize_code(&client.client_id).await;
        let form = form(&auth);
        let resp = app
            .http
            .post(app.url("/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{name}");
        assert_eq!(resp.headers()["cache-control"], "no-store", "{name}");
        assert_eq!(error_code(resp).await, expected, "{name}");
    }
}

#[tokio::test]
async fn code_expires_after_sixty_seconds() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let auth = app.authorize_code(&client.client_id).await;
    app.clock.advance_secs(61);
    assert_eq!(
        error_code(app.redeem(&client.client_id, &auth).await).await,
        "invalid_grant"
    );
}

#[tokio::test]
async fn refresh_rotates_allows_a_grace_retry_and_punishes_later_reuse() {
    let app = spawn_app().await; // grace 5 s
    let client = app.register_public().await;
    let auth = app.authorize_code(&client.client_id).await;
    let first = tokens(app.redeem(&client.client_id, &auth).await).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();

    let second = tokens(app.refresh(&client.client_id, &rt1).await).await;
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    assert_eq!(
        app.app_state
            .metrics
            .tokens_issued
            .with_label_values(&["refresh_token"])
            .get(),
        1
    );

    // A racing retry with rt1 inside the grace window still works.
    app.clock.advance_secs(2);
    let retry = tokens(app.refresh(&client.client_id, &rt1).await).await;
    assert_ne!(retry["refresh_token"], second["refresh_token"]);

    // After the grace window, rt1 again is reuse: the whole family dies.
    app.clock.advance_secs(10);
    assert_eq!(
        error_code(app.refresh(&client.client_id, &rt1).await).await,
        "invalid_grant"
    );
    assert_eq!(
        error_code(app.refresh(&client.client_id, &rt2).await).await,
        "invalid_grant"
    );
    assert_eq!(app.app_state.metrics.refresh_reuse_detected.get(), 1);
}

#[tokio::test]
async fn refresh_can_narrow_but_not_widen_scope_and_is_bound_to_its_client() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let other = app.register_public_named("Other Client").await;
    let auth = app.authorize_code(&client.client_id).await;
    let rt = tokens(app.redeem(&client.client_id, &auth).await).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let resp = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", &client.client_id),
            ("scope", "files:read"),
        ])
        .await;
    assert_eq!(error_code(resp).await, "invalid_scope");
    // Another client cannot use (or burn) it.
    assert_eq!(
        error_code(app.refresh(&other.client_id, &rt).await).await,
        "invalid_grant"
    );

    let narrowed = tokens(
        app.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", &client.client_id),
            ("scope", "notes:read"),
        ])
        .await,
    )
    .await;
    assert_eq!(narrowed["scope"], "notes:read");
    let claims = app
        .app_state
        .keys
        .verify_access_token(narrowed["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.scope.to_string(), "notes:read");
}

#[tokio::test]
async fn revoking_a_refresh_token_kills_the_family() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let auth = app.authorize_code(&client.client_id).await;
    let rt = tokens(app.redeem(&client.client_id, &auth).await).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = app
        .http
        .post(app.url("/revoke"))
        .form(&[
            ("token", rt.as_str()),
            ("token_type_hint", "refresh_token"),
            ("client_id", client.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        error_code(app.refresh(&client.client_id, &rt).await).await,
        "invalid_grant"
    );
    // Unknown tokens: still 200 (RFC 7009 §2.2).
    let resp = app
        .http
        .post(app.url("/revoke"))
        .form(&[
            ("token", "whatever"),
            ("client_id", client.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn revoking_an_access_token_puts_its_jti_on_the_deny_list() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let auth = app.authorize_code(&client.client_id).await;
    let at = tokens(app.redeem(&client.client_id, &auth).await).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let jti =
        auth_proxy::ids::Jti::parse(&app.app_state.keys.verify_access_token(&at).unwrap().jti)
            .unwrap();
    let other = app.register_public_named("Other Client").await;
    // Another client's revocation attempt does nothing.
    app.http
        .post(app.url("/revoke"))
        .form(&[
            ("token", at.as_str()),
            ("client_id", other.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(!app
        .app_state
        .store
        .is_access_token_denied(&jti)
        .await
        .unwrap());
    app.http
        .post(app.url("/revoke"))
        .form(&[
            ("token", at.as_str()),
            ("client_id", client.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(app
        .app_state
        .store
        .is_access_token_denied(&jti)
        .await
        .unwrap());
}

#[tokio::test]
async fn malformed_token_requests_are_clean_400s() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let resp = app
        .token(&[("grant_type", "password"), ("client_id", &client.client_id)])
        .await;
    assert_eq!(error_code(resp).await, "unsupported_grant_type");
    let resp = app.token(&[("client_id", &client.client_id)]).await;
    assert_eq!(error_code(resp).await, "invalid_request");
    let resp = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x.y"),
            ("client_id", "nobody"),
        ])
        .await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_client");
    let resp = app
        .http
        .post(app.url("/token"))
        .body("grant_type=refresh_token&grant_type=refresh_token")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await, "invalid_request");
    let resp = app
        .http
        .post(app.url("/token"))
        .json(&serde_json::json!({"grant_type": "refresh_token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "invalid_request");
    let resp = app
        .http
        .post(app.url("/token"))
        .body(vec![0xff, 0xfe, b'=', 0x80])
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

impl TestApp {
    fn clock_now(&self) -> i64 {
        use auth_proxy::clock::Clock;
        self.clock.now()
    }
}

#[tokio::test]
async fn redirect_uri_may_be_left_out_at_both_steps_for_a_single_registered_uri() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let p = pkce();
    let resp = app
        .authorize(&app.authorize_params(&client.client_id, &p.challenge, &[("redirect_uri", "")]))
        .await;
    assert_eq!(
        resp.status(),
        200,
        "one registered URI: authorize may omit it"
    );
    let html = resp.text().await.unwrap();
    let (flow, csrf) = (hidden_input(&html, "flow"), hidden_input(&html, "csrf"));
    let upstream = query(&location(&app.decide(&flow, &csrf, "approve").await));
    let back = query(&location(
        &app.callback(&[("state", &upstream["state"]), ("code", "good")])
            .await,
    ));
    let resp = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &back["code"]),
            ("client_id", &client.client_id),
            ("code_verifier", &p.verifier),
        ])
        .await;
    tokens(resp).await;
}

#[tokio::test]
async fn the_user_may_grant_fewer_scopes_than_requested() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let pkce = pkce();
    let (flow, csrf) = app.consent_page(&client.client_id, &pkce.challenge).await;
    // A browser submits the ticked boxes only: notes:write was unticked.
    let resp = app
        .http
        .post(app.url("/consent"))
        .form(&[
            ("flow", flow.as_str()),
            ("csrf", csrf.as_str()),
            ("scope_choice", "1"),
            ("grant.notes:read", "on"),
            ("grant.files:write", "on"), // not requested: must not be granted
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let upstream = query(&location(&resp));
    let resp = app
        .callback(&[("state", &upstream["state"]), ("code", "good")])
        .await;
    let back = query(&location(&resp));
    let auth = Authorized {
        code: back["code"].clone(),
        pkce,
    };
    let body = tokens(app.redeem(&client.client_id, &auth).await).await;
    assert_eq!(body["scope"], "notes:read");
    let claims = app
        .app_state
        .keys
        .verify_access_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.scope.to_string(), "notes:read");
}

#[tokio::test]
async fn unticking_every_permission_is_a_denial() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let pkce = pkce();
    let (flow, csrf) = app.consent_page(&client.client_id, &pkce.challenge).await;
    let resp = app
        .http
        .post(app.url("/consent"))
        .form(&[
            ("flow", flow.as_str()),
            ("csrf", csrf.as_str()),
            ("scope_choice", "1"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_redirection());
    let back = query(&location(&resp));
    assert_eq!(back["error"], "access_denied");
}

#[tokio::test]
async fn an_oversized_form_body_is_refused_and_never_cached() {
    let app = spawn_app().await;
    // Over the 64 KiB body limit.
    let body = format!(
        "grant_type=refresh_token&refresh_token={}",
        "a".repeat(70_000)
    );
    for path in ["/token", "/revoke", "/consent", "/register"] {
        let resp = app
            .http
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 413, "{path}");
        assert_eq!(
            resp.headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_client_not_registered_for_refresh_gets_no_refresh_token() {
    // ADR 0015: refresh tokens follow the client's registered grant types, not offline_access.
    let app = spawn_app().await;
    let resp = app
        .register(serde_json::json!({
            "client_name": "Code only",
            "redirect_uris": [REDIRECT],
        }))
        .await;
    assert_eq!(resp.status(), 201);
    let registered: Value = resp.json().await.unwrap();
    assert_eq!(
        registered["grant_types"],
        serde_json::json!(["authorization_code"])
    );
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let auth = app.authorize_code(&client_id).await;
    let resp = app.redeem(&client_id, &auth).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["access_token"].is_string());
    assert!(
        body.get("refresh_token").is_none(),
        "a token it may not use is not handed out: {body}"
    );

    // A client registered for the refresh grant gets one without asking for offline_access.
    let client = app.register_public().await;
    let auth = app.authorize_code(&client.client_id).await;
    let body: Value = app
        .redeem(&client.client_id, &auth)
        .await
        .json()
        .await
        .unwrap();
    assert!(!body["scope"].as_str().unwrap().contains("offline_access"));
    assert!(body["refresh_token"].is_string());
}

/// How many store operations `op` ran so far, from the store latency histogram.
async fn store_ops(app: &TestApp, op: &str) -> u64 {
    let text = app
        .http
        .get(format!("{}/metrics", app.metrics_address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let label = format!("operation=\"{op}\"");
    text.lines()
        .filter(|l| {
            l.starts_with("auth_proxy_store_operation_duration_seconds_count") && l.contains(&label)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

async fn touches(app: &TestApp) -> u64 {
    store_ops(app, "touch_client").await
}

/// Issue 13: a plain refresh (no scope, no resource) reads nothing before its one rotation
/// script; one that narrows the scope reads the grant first, so a bad request does not spend
/// the token.
#[tokio::test]
async fn a_plain_refresh_is_one_rotation_with_no_read_before_it() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let auth = app.authorize_code(&client.client_id).await;
    let body: Value = app
        .redeem(&client.client_id, &auth)
        .await
        .json()
        .await
        .unwrap();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let (reads, rotations) = (
        store_ops(&app, "get_grant").await,
        store_ops(&app, "rotate_refresh_token").await,
    );
    let resp = app.refresh(&client.client_id, &refresh).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(store_ops(&app, "get_grant").await, reads);
    assert_eq!(store_ops(&app, "rotate_refresh_token").await, rotations + 1);
}

/// Issue 13: a busy client does not cost a store round trip per token to keep its registration
/// alive; the first token extends it (from the unused to the idle lifetime), later ones within
/// the interval do not.
#[tokio::test]
async fn a_busy_client_is_kept_alive_once_per_interval_not_per_token() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let auth = app.authorize_code(&client.client_id).await;
    let body: Value = app
        .redeem(&client.client_id, &auth)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        touches(&app).await,
        1,
        "the first token extends the registration"
    );
    let mut refresh = body["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let resp = app.refresh(&client.client_id, &refresh).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        refresh = body["refresh_token"].as_str().unwrap().to_owned();
    }
    assert_eq!(
        touches(&app).await,
        1,
        "refreshes within the interval do not touch the store"
    );
}

/// Issue 13: a busy registered client is read from the store once per 30 s per replica, not
/// once per token request; after that it is read again (an expired or replaced registration is
/// noticed).
#[tokio::test]
async fn a_busy_client_is_read_from_the_store_once_per_interval() {
    let app = spawn_app().await;
    let client = app.register_public().await;
    let auth = app.authorize_code(&client.client_id).await;
    let body: Value = app
        .redeem(&client.client_id, &auth)
        .await
        .json()
        .await
        .unwrap();
    let mut refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let reads = store_ops(&app, "get_client").await;
    for _ in 0..3 {
        let resp = app.refresh(&client.client_id, &refresh).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        refresh = body["refresh_token"].as_str().unwrap().to_owned();
    }
    assert_eq!(store_ops(&app, "get_client").await, reads);
    app.clock.advance_secs(30);
    let resp = app.refresh(&client.client_id, &refresh).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(store_ops(&app, "get_client").await, reads + 1);
}
