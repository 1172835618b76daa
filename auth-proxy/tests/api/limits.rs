use crate::helpers::*;

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_and_ignores_spoofed_forwarding() {
    let app = spawn_app_with(&[("AUTH_PROXY_RATE_LIMIT_TOKEN", "3/60")]).await;
    for i in 0..3 {
        // A client varying X-Forwarded-For does not get new buckets: the peer is not trusted.
        let resp = app
            .http
            .post(app.url("/token"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .form(&[("grant_type", "x")])
            .send()
            .await
            .unwrap();
        assert_ne!(resp.status(), 429);
    }
    let resp = app
        .http
        .post(app.url("/token"))
        .header("x-forwarded-for", "198.51.100.99")
        .form(&[("grant_type", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(
        app.app_state
            .metrics
            .rate_limited
            .with_label_values(&["token"])
            .get(),
        1
    );
}

#[tokio::test]
async fn trusted_proxy_forwarding_separates_clients() {
    let app = spawn_app_with(&[
        ("AUTH_PROXY_RATE_LIMIT_REGISTER", "1/60"),
        ("AUTH_PROXY_TRUSTED_PROXIES", "127.0.0.0/8"),
    ])
    .await;
    let body = serde_json::json!({"redirect_uris": [REDIRECT]});
    let send = |ip: &'static str| {
        app.http
            .post(app.url("/register"))
            .header("x-forwarded-for", ip)
            .json(&body)
            .send()
    };
    assert_eq!(send("198.51.100.1").await.unwrap().status(), 201);
    assert_eq!(send("198.51.100.1").await.unwrap().status(), 429);
    assert_eq!(send("198.51.100.2").await.unwrap().status(), 201);
}

#[tokio::test]
async fn authorize_rate_limit_is_a_page() {
    let app = spawn_app_with(&[("AUTH_PROXY_RATE_LIMIT_AUTHORIZE", "1/60")]).await;
    app.authorize(&[("client_id", "x")]).await;
    let resp = app.authorize(&[("client_id", "x")]).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}

/// Registers through a trusted proxy (loopback) with the given `X-Forwarded-For` lines, in
/// order, and returns the status.
async fn register_forwarded(app: &TestApp, lines: &[&str]) -> u16 {
    let mut req = app
        .http
        .post(app.url("/register"))
        .json(&serde_json::json!({"redirect_uris": [REDIRECT]}));
    for line in lines {
        req = req.header("x-forwarded-for", *line);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn forwarded_for_lines_are_one_list_in_order() {
    let app = spawn_app_with(&[
        ("AUTH_PROXY_RATE_LIMIT_REGISTER", "1/60"),
        ("AUTH_PROXY_TRUSTED_PROXIES", "127.0.0.0/8"),
    ])
    .await;
    // The client's own line first, the proxy's appended as a second line (RFC 7230 §3.2.2
    // makes them one comma-separated list): the client is the proxy's entry, whatever the
    // client wrote in its own.
    assert_eq!(
        register_forwarded(&app, &["6.6.6.1", "198.51.100.7"]).await,
        201
    );
    assert_eq!(
        register_forwarded(&app, &["6.6.6.2", "198.51.100.7"]).await,
        429
    );
    assert_eq!(
        register_forwarded(&app, &["6.6.6.3, 6.6.6.4", "198.51.100.7"]).await,
        429
    );
    assert_eq!(
        register_forwarded(&app, &["198.51.100.7", "198.51.100.8"]).await,
        201
    );
}

#[tokio::test]
async fn ipv6_clients_are_limited_per_64() {
    let app = spawn_app_with(&[
        ("AUTH_PROXY_RATE_LIMIT_REGISTER", "1/60"),
        ("AUTH_PROXY_TRUSTED_PROXIES", "127.0.0.0/8"),
    ])
    .await;
    assert_eq!(register_forwarded(&app, &["2001:db8:1:2::1"]).await, 201);
    // Another address of the same /64: one host can have all of them.
    assert_eq!(
        register_forwarded(&app, &["2001:db8:1:2:ffff::9"]).await,
        429
    );
    // Another /64: another client.
    assert_eq!(register_forwarded(&app, &["2001:db8:1:3::1"]).await, 201);
    // IPv4 stays per address, and an IPv4-mapped IPv6 address is that IPv4 address.
    assert_eq!(register_forwarded(&app, &["192.0.2.1"]).await, 201);
    assert_eq!(register_forwarded(&app, &["192.0.2.2"]).await, 201);
    assert_eq!(register_forwarded(&app, &["::ffff:192.0.2.1"]).await, 429);
}

fn denials(app: &TestApp, reason: &str) -> u64 {
    app.app_state
        .metrics
        .denials
        .with_label_values(&[reason])
        .get()
}

/// Store calls of one operation so far, from the store latency histogram.
async fn store_ops(app: &TestApp, op: &str) -> u64 {
    let text = reqwest::get(format!("{}/metrics", app.metrics_address))
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

#[tokio::test]
async fn the_per_client_authorize_bucket_is_shared_across_addresses() {
    let app = spawn_app_with(&[
        ("AUTH_PROXY_RATE_LIMIT_AUTHORIZE_PER_CLIENT", "2/60"),
        ("AUTH_PROXY_TRUSTED_PROXIES", "127.0.0.0/8"),
    ])
    .await;
    let busy = app.register_public_named("busy").await;
    let other = app.register_public_named("other").await;
    let pkce = pkce();
    let get = |client_id: String, ip: &'static str| {
        let params: Vec<(String, String)> = app
            .authorize_params("", &pkce.challenge, &[])
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_owned(),
                    if k == "client_id" {
                        client_id.clone()
                    } else {
                        v.to_owned()
                    },
                )
            })
            .collect();
        app.http
            .get(app.url("/authorize"))
            .header("x-forwarded-for", ip)
            .query(&params)
            .send()
    };
    assert_eq!(
        get(busy.client_id.clone(), "198.51.100.1")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        get(busy.client_id.clone(), "198.51.100.2")
            .await
            .unwrap()
            .status(),
        200
    );
    let resp = get(busy.client_id.clone(), "198.51.100.3").await.unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(
        get(other.client_id.clone(), "198.51.100.3")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(denials(&app, "rate_limited_client"), 1);
    assert_eq!(denials(&app, "rate_limited_ip"), 0);
}

#[tokio::test]
async fn the_per_client_token_bucket_counts_code_redemptions_not_refreshes() {
    let app = spawn_app_with(&[("AUTH_PROXY_RATE_LIMIT_TOKEN_PER_CLIENT", "1/60")]).await;
    let client = app.register_public().await;
    let first = app.authorize_code(&client.client_id).await;
    let second = app.authorize_code(&client.client_id).await;
    let resp = app.redeem(&client.client_id, &first).await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let resp = app.redeem(&client.client_id, &second).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(denials(&app, "rate_limited_client"), 1);
    // A refresh is not counted, and costs the per-IP limit and the rotation only.
    let mut refresh = body["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let hits = store_ops(&app, "hit_rate_limit").await;
        let resp = app.refresh(&client.client_id, &refresh).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(store_ops(&app, "hit_rate_limit").await, hits + 1);
        let body: serde_json::Value = resp.json().await.unwrap();
        refresh = body["refresh_token"].as_str().unwrap().to_owned();
    }
}

#[tokio::test]
async fn the_per_user_bucket_limits_sign_ins_through_any_client() {
    let app = spawn_app_with(&[("AUTH_PROXY_RATE_LIMIT_PER_USER", "1/60")]).await;
    let one = app.register_public_named("one").await;
    let two = app.register_public_named("two").await;
    app.authorize_code(&one.client_id).await;
    let pkce = pkce();
    let (flow, csrf) = app.consent_page(&two.client_id, &pkce.challenge).await;
    let resp = app.decide(&flow, &csrf, "approve").await;
    let upstream = query(&location(&resp));
    let resp = app
        .callback(&[("state", &upstream["state"]), ("code", "good")])
        .await;
    assert_eq!(resp.status(), 302);
    let back = query(&location(&resp));
    assert_eq!(back["error"], "temporarily_unavailable");
    assert_eq!(back["state"], "client-state-1");
    assert!(!back.contains_key("code"));
    assert_eq!(denials(&app, "rate_limited_user"), 1);
    // Someone else is not affected.
    let other = crate::helpers::pkce();
    let (flow, csrf) = app.consent_page(&two.client_id, &other.challenge).await;
    let resp = app.decide(&flow, &csrf, "approve").await;
    let upstream = query(&location(&resp));
    let resp = app
        .callback(&[("state", &upstream["state"]), ("code", "user:bob")])
        .await;
    assert!(query(&location(&resp)).contains_key("code"));
}

#[test]
fn per_client_and_per_user_limits_parse_or_are_off() {
    let vars = |extra: &[(&str, &str)]| -> std::collections::HashMap<String, String> {
        [
            ("AUTH_PROXY_ISSUER", ISSUER),
            ("AUTH_PROXY_RESOURCES", RESOURCE),
            ("AUTH_PROXY_UPSTREAM_ISSUER", "http://127.0.0.1:9"),
            ("AUTH_PROXY_UPSTREAM_CLIENT_ID", "proxy"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    };
    let config = auth_proxy::config::Config::from_vars(&vars(&[])).unwrap();
    let l = &config.rate_limits;
    let pair = |r: Option<auth_proxy::config::RateLimit>| r.map(|r| (r.limit, r.window.as_secs()));
    assert_eq!(pair(l.authorize_per_client), Some((300, 60)));
    assert_eq!(pair(l.token_per_client), Some((1200, 60)));
    assert_eq!(pair(l.per_user), Some((120, 60)));
    let config =
        auth_proxy::config::Config::from_vars(&vars(&[("AUTH_PROXY_RATE_LIMIT_PER_USER", "OFF")]))
            .unwrap();
    assert!(config.rate_limits.per_user.is_none());
    let e = auth_proxy::config::Config::from_vars(&vars(&[(
        "AUTH_PROXY_RATE_LIMIT_TOKEN_PER_CLIENT",
        "10",
    )]))
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("AUTH_PROXY_RATE_LIMIT_TOKEN_PER_CLIENT"),
        "{e}"
    );
}
