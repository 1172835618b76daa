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
