use super::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    let mut m: HashMap<String, String> = [
        ("AUTH_PROXY_UPSTREAM_ISSUER", "https://idp.example"),
        ("AUTH_PROXY_UPSTREAM_CLIENT_ID", "proxy"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in pairs {
        m.insert((*k).to_owned(), (*v).to_owned());
    }
    m
}

fn error_var(pairs: &[(&str, &str)]) -> String {
    Config::from_vars(&vars(pairs)).unwrap_err().variable
}

#[test]
fn defaults_are_a_working_loopback_setup() {
    let c = Config::from_vars(&vars(&[])).unwrap();
    assert_eq!(c.issuer, "http://127.0.0.1:8080");
    assert_eq!(c.cookie_mode, CookieMode::LoopbackDevelopment);
    assert_eq!(c.resources, vec!["http://127.0.0.1:8000/mcp"]);
    assert_eq!(
        c.upstream.scopes,
        vec!["openid", "profile", "email", "offline_access"]
    );
    assert_eq!(
        c.rate_limits.authorize,
        Some(RateLimit {
            limit: 60,
            window: Duration::from_secs(60)
        })
    );
    assert!(c.redis_url.is_none());
}

#[test]
fn https_issuer_gets_host_prefixed_cookie() {
    let c =
        Config::from_vars(&vars(&[("AUTH_PROXY_ISSUER", "https://auth.example.com/")])).unwrap();
    assert_eq!(c.issuer, "https://auth.example.com");
    assert_eq!(c.cookie_mode, CookieMode::HostPrefixed);
    assert_eq!(c.callback_url(), "https://auth.example.com/callback");
}

#[test]
fn errors_name_the_variable() {
    assert_eq!(
        error_var(&[("AUTH_PROXY_ISSUER", "http://auth.example.com")]),
        "AUTH_PROXY_ISSUER"
    );
    assert_eq!(
        error_var(&[("AUTH_PROXY_ISSUER", "https://a.example/sub")]),
        "AUTH_PROXY_ISSUER"
    );
    assert_eq!(
        error_var(&[("AUTH_PROXY_RESOURCES", "http://mcp.example/mcp")]),
        "AUTH_PROXY_RESOURCES"
    );
    assert_eq!(
        error_var(&[("AUTH_PROXY_RATE_LIMIT_TOKEN", "ten")]),
        "AUTH_PROXY_RATE_LIMIT_TOKEN"
    );
    assert_eq!(
        error_var(&[("AUTH_PROXY_ACCESS_TOKEN_TTL_SECS", "5")]),
        "AUTH_PROXY_ACCESS_TOKEN_TTL_SECS"
    );
    assert_eq!(
        error_var(&[("AUTH_PROXY_TRUSTED_PROXIES", "10.0.0.0/33")]),
        "AUTH_PROXY_TRUSTED_PROXIES"
    );
    assert_eq!(
        error_var(&[("AUTH_PROXY_BIND", "localhost")]),
        "AUTH_PROXY_BIND"
    );
    assert_eq!(
        error_var(&[("AUTH_PROXY_ENCRYPTION_KEYS", "c2hvcnQ=")]),
        "AUTH_PROXY_ENCRYPTION_KEYS"
    );
    assert_eq!(
        error_var(&[("AUTH_PROXY_SIGNING_KEYS", "garbage")]),
        "AUTH_PROXY_SIGNING_KEYS"
    );
    assert_eq!(
        error_var(&[("AUTH_PROXY_UPSTREAM_OFFLINE_ACCESS", "maybe")]),
        "AUTH_PROXY_UPSTREAM_OFFLINE_ACCESS"
    );
    assert_eq!(
        error_var(&[("AUTH_PROXY_ISUER", "https://typo")]),
        "AUTH_PROXY_ISUER"
    );
    let mut missing = vars(&[]);
    missing.remove("AUTH_PROXY_UPSTREAM_ISSUER");
    assert_eq!(
        Config::from_vars(&missing).unwrap_err().variable,
        "AUTH_PROXY_UPSTREAM_ISSUER"
    );
}

#[test]
fn redis_requires_shared_keys() {
    assert_eq!(
        error_var(&[("AUTH_PROXY_REDIS_URL", "redis://127.0.0.1:6379")]),
        "AUTH_PROXY_SIGNING_KEYS"
    );
    assert_eq!(
        error_var(&[("AUTH_PROXY_REDIS_URL", "http://127.0.0.1")]),
        "AUTH_PROXY_REDIS_URL"
    );
}

#[test]
fn secret_from_file_or_env_but_not_both() {
    let dir = std::env::temp_dir().join(format!("auth-proxy-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("secret");
    std::fs::write(&path, "s3cr3t\n").unwrap();
    let p = path.to_str().unwrap();
    let c = Config::from_vars(&vars(&[("AUTH_PROXY_UPSTREAM_CLIENT_SECRET_FILE", p)])).unwrap();
    assert_eq!(
        c.upstream.client_secret.as_ref().unwrap().expose(),
        "s3cr3t"
    );
    assert!(!format!("{c:?}").contains("s3cr3t"));
    assert_eq!(
        error_var(&[
            ("AUTH_PROXY_UPSTREAM_CLIENT_SECRET_FILE", p),
            ("AUTH_PROXY_UPSTREAM_CLIENT_SECRET", "x")
        ]),
        "AUTH_PROXY_UPSTREAM_CLIENT_SECRET"
    );
    assert_eq!(
        error_var(&[(
            "AUTH_PROXY_UPSTREAM_CLIENT_SECRET_FILE",
            "/nonexistent/secret"
        )]),
        "AUTH_PROXY_UPSTREAM_CLIENT_SECRET_FILE"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn registration_lifetime_quota_and_clients_file() {
    let c = Config::from_vars(&vars(&[])).unwrap();
    assert_eq!(c.client_idle_ttl, Duration::from_secs(30 * 86_400));
    assert_eq!(c.client_unused_ttl, Duration::from_secs(86_400));
    assert_eq!(c.clients_file, None);
    let c = Config::from_vars(&vars(&[
        ("AUTH_PROXY_CLIENT_IDLE_TTL_SECS", "3600"),
        ("AUTH_PROXY_CLIENT_UNUSED_TTL_SECS", "7200"),
        ("AUTH_PROXY_RATE_LIMIT_REGISTER_GLOBAL", "OFF"),
        ("AUTH_PROXY_CLIENTS_FILE", " /etc/auth-proxy/clients.json "),
    ]))
    .unwrap();
    assert_eq!(c.client_idle_ttl, Duration::from_secs(3600));
    assert_eq!(c.client_unused_ttl, Duration::from_secs(7200));
    assert_eq!(c.rate_limits.register_global, None);
    assert_eq!(
        c.clients_file.as_deref(),
        Some(std::path::Path::new("/etc/auth-proxy/clients.json"))
    );
    for (var, value) in [
        ("AUTH_PROXY_CLIENT_IDLE_TTL_SECS", "3599"),
        ("AUTH_PROXY_CLIENT_IDLE_TTL_SECS", "forever"),
        ("AUTH_PROXY_CLIENT_UNUSED_TTL_SECS", "3599"),
        ("AUTH_PROXY_CLIENT_UNUSED_TTL_SECS", "86401"),
        ("AUTH_PROXY_RATE_LIMIT_REGISTER_GLOBAL", "1000"),
        ("AUTH_PROXY_CLIENTS_FILE", ""),
    ] {
        assert_eq!(error_var(&[(var, value)]), var, "{var}={value}");
    }
}

#[test]
fn rate_limits_parse_or_turn_off() {
    let c = Config::from_vars(&vars(&[
        ("AUTH_PROXY_RATE_LIMIT_REGISTER", "off"),
        ("AUTH_PROXY_RATE_LIMIT_TOKEN", "5/10"),
    ]))
    .unwrap();
    assert_eq!(c.rate_limits.register, None);
    assert_eq!(
        c.rate_limits.register_global,
        Some(RateLimit {
            limit: 1000,
            window: Duration::from_secs(3600)
        }),
        "the global registration quota has its own default"
    );
    assert_eq!(
        c.rate_limits.token,
        Some(RateLimit {
            limit: 5,
            window: Duration::from_secs(10)
        })
    );
    assert!("0/10".parse::<RateLimit>().is_err());
    assert!("5/0".parse::<RateLimit>().is_err());
}

#[test]
fn the_nextcloud_strategy_defaults_to_app_passwords_and_needs_nextcloud() {
    const SECRET: (&str, &str) = ("AUTH_PROXY_EXCHANGE_CLIENT_SECRET", "0123456789abcdef0123");
    // Without token exchange there is nothing to hand out: no strategy.
    assert_eq!(Config::from_vars(&vars(&[])).unwrap().nextcloud, None);
    // With it, app passwords are the default, and they need Nextcloud's URL.
    assert_eq!(error_var(&[SECRET]), "AUTH_PROXY_NEXTCLOUD_URL");
    let c = Config::from_vars(&vars(&[
        SECRET,
        ("AUTH_PROXY_NEXTCLOUD_URL", "https://cloud.example/nc/"),
    ]))
    .unwrap();
    let Some(NextcloudCredentials::AppPassword(s)) = c.nextcloud else {
        panic!("app-password expected");
    };
    assert_eq!(s.url.as_str(), "https://cloud.example/nc");
    assert_eq!(s.public_url, s.url);
    assert_eq!(s.user_claim, "sub");
    assert_eq!(s.user_id, UserIdMapping::Plain);
    assert_eq!(s.login_flow_timeout, Duration::from_secs(1200));

    let c = Config::from_vars(&vars(&[
        SECRET,
        ("AUTH_PROXY_NEXTCLOUD_URL", "http://nextcloud.internal:8080"),
        ("AUTH_PROXY_NEXTCLOUD_PUBLIC_URL", "https://cloud.example"),
        ("AUTH_PROXY_NEXTCLOUD_USER_CLAIM", "preferred_username"),
        ("AUTH_PROXY_NEXTCLOUD_USER_ID_MAPPING", "unique-uid:3"),
        ("AUTH_PROXY_NEXTCLOUD_LOGIN_FLOW_TIMEOUT_SECS", "300"),
    ]));
    // Plain http is for loopback only, also towards Nextcloud.
    assert_eq!(c.unwrap_err().variable, "AUTH_PROXY_NEXTCLOUD_URL");
    let c = Config::from_vars(&vars(&[
        SECRET,
        (
            "AUTH_PROXY_NEXTCLOUD_URL",
            "https://nextcloud.internal:8443",
        ),
        ("AUTH_PROXY_NEXTCLOUD_PUBLIC_URL", "https://cloud.example"),
        ("AUTH_PROXY_NEXTCLOUD_USER_CLAIM", "preferred_username"),
        ("AUTH_PROXY_NEXTCLOUD_USER_ID_MAPPING", "unique-uid:3"),
        ("AUTH_PROXY_NEXTCLOUD_LOGIN_FLOW_TIMEOUT_SECS", "300"),
    ]))
    .unwrap();
    let Some(NextcloudCredentials::AppPassword(s)) = c.nextcloud else {
        panic!("app-password expected");
    };
    assert_eq!(s.public_url.as_str(), "https://cloud.example/");
    assert_eq!(s.user_claim, "preferred_username");
    assert_eq!(s.user_id, UserIdMapping::UniqueUid { provider_id: 3 });
    assert_eq!(s.login_flow_timeout, Duration::from_secs(300));

    let bearer = Config::from_vars(&vars(&[
        SECRET,
        ("AUTH_PROXY_NEXTCLOUD_CREDENTIALS", "bearer"),
    ]))
    .unwrap();
    assert_eq!(bearer.nextcloud, Some(NextcloudCredentials::Bearer));
    for (var, bad) in [
        ("AUTH_PROXY_NEXTCLOUD_CREDENTIALS", "password"),
        ("AUTH_PROXY_NEXTCLOUD_USER_ID_MAPPING", "unique-uid:x"),
        ("AUTH_PROXY_NEXTCLOUD_USER_ID_MAPPING", "provider-based:"),
        ("AUTH_PROXY_NEXTCLOUD_LOGIN_FLOW_TIMEOUT_SECS", "1201"),
        (
            "AUTH_PROXY_NEXTCLOUD_PUBLIC_URL",
            "https://cloud.example/?x=1",
        ),
    ] {
        assert_eq!(
            error_var(&[
                SECRET,
                ("AUTH_PROXY_NEXTCLOUD_URL", "https://cloud.example"),
                (var, bad)
            ]),
            var,
            "{var}={bad}"
        );
    }
}

#[test]
fn nextcloud_settings_are_checked_even_without_exchange_and_http_needs_consent() {
    // A typo is reported now, not when token exchange is switched on later.
    assert_eq!(
        error_var(&[("AUTH_PROXY_NEXTCLOUD_CREDENTIALS", "app_password")]),
        "AUTH_PROXY_NEXTCLOUD_CREDENTIALS"
    );
    let c = Config::from_vars(&vars(&[(
        "AUTH_PROXY_NEXTCLOUD_URL",
        "https://cloud.example",
    )]))
    .unwrap();
    assert_eq!(c.nextcloud, None, "no exchange, nothing handed out");

    const SECRET: (&str, &str) = ("AUTH_PROXY_EXCHANGE_CLIENT_SECRET", "0123456789abcdef0123");
    let internal = (
        "AUTH_PROXY_NEXTCLOUD_URL",
        "http://nextcloud.nextcloud.svc:8080",
    );
    assert_eq!(error_var(&[SECRET, internal]), "AUTH_PROXY_NEXTCLOUD_URL");
    assert_eq!(
        error_var(&[
            SECRET,
            internal,
            ("AUTH_PROXY_NEXTCLOUD_ALLOW_INSECURE_HTTP", "true")
        ]),
        "AUTH_PROXY_NEXTCLOUD_PUBLIC_URL",
        "browsers need an https URL"
    );
    let c = Config::from_vars(&vars(&[
        SECRET,
        internal,
        ("AUTH_PROXY_NEXTCLOUD_ALLOW_INSECURE_HTTP", "true"),
        ("AUTH_PROXY_NEXTCLOUD_PUBLIC_URL", "https://cloud.example"),
    ]))
    .unwrap();
    let Some(NextcloudCredentials::AppPassword(s)) = c.nextcloud else {
        panic!("app-password expected");
    };
    assert_eq!(s.url.as_str(), "http://nextcloud.nextcloud.svc:8080/");
    // Browsers never get plain http, whatever the switch says.
    assert_eq!(
        error_var(&[
            SECRET,
            internal,
            ("AUTH_PROXY_NEXTCLOUD_ALLOW_INSECURE_HTTP", "true"),
            ("AUTH_PROXY_NEXTCLOUD_PUBLIC_URL", "http://cloud.example"),
        ]),
        "AUTH_PROXY_NEXTCLOUD_PUBLIC_URL"
    );
}

#[test]
fn the_example_placeholder_is_not_an_exchange_secret() {
    // k8s/overlays/example/secrets/exchange-client-secret.txt as shipped (M6): whoever read it
    // could turn any access token into the user's Nextcloud credential.
    let placeholder = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../k8s/overlays/example/secrets/exchange-client-secret.txt"
    ))
    .unwrap();
    let e = Config::from_vars(&vars(&[
        ("AUTH_PROXY_EXCHANGE_CLIENT_SECRET", placeholder.trim()),
        ("AUTH_PROXY_NEXTCLOUD_URL", "https://cloud.example"),
    ]))
    .unwrap_err();
    assert_eq!(e.variable, "AUTH_PROXY_EXCHANGE_CLIENT_SECRET");
    assert!(e.message.contains("placeholder"), "{}", e.message);
}

#[test]
fn redis_url_takes_cluster_and_sentinel_forms_and_never_echoes_a_password() {
    // Valid forms get past REDIS_URL (to the next requirement, the shared keys).
    for url in [
        "redis://:pw@127.0.0.1:6379/1",
        "redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000",
        "redis+cluster://r1:7000?wait_replicas=1",
        "redis+sentinel://:pw@s1:26379,s2:26379,s3:26379/mymaster?wait_replicas=1&wait_timeout_ms=100",
        "redis+sentinel://s1:26379/mymaster/2?sentinel_password=spw",
    ] {
        assert_eq!(
            error_var(&[("AUTH_PROXY_REDIS_URL", url)]),
            "AUTH_PROXY_SIGNING_KEYS",
            "{url}"
        );
    }
    for url in [
        "redis+sentinel://:secret-pw@s1:26379",
        "redis+cluster://:secret-pw@h1:7000/0",
        "redis://:secret-pw@h?wait_replicas=x",
        "redis+cluster://:secret-pw@h1:7000?wait_timeout_ms=9000&wait_replicas=1",
        "rediss://:secret-pw@h:6380",
    ] {
        let e = Config::from_vars(&vars(&[("AUTH_PROXY_REDIS_URL", url)])).unwrap_err();
        assert_eq!(e.variable, "AUTH_PROXY_REDIS_URL", "{url}");
        assert!(!format!("{e} {e:?}").contains("secret-pw"), "{e}");
    }
}

#[test]
fn client_assertions_take_asymmetric_algorithms_and_a_bounded_lifetime() {
    use jsonwebtoken::Algorithm;
    let c = Config::from_vars(&vars(&[])).unwrap();
    assert_eq!(c.client_assertion, ClientAssertionSettings::default());
    assert_eq!(c.client_assertion.max_lifetime, Duration::from_secs(300));
    assert!(c.cimd.private_key_jwt);
    let c = Config::from_vars(&vars(&[
        ("AUTH_PROXY_CLIENT_ASSERTION_ALGS", "RS256, ES256 RS256"),
        ("AUTH_PROXY_CLIENT_ASSERTION_MAX_LIFETIME_SECS", "60"),
        ("AUTH_PROXY_CIMD_PRIVATE_KEY_JWT", "false"),
    ]))
    .unwrap();
    assert_eq!(
        c.client_assertion.algs,
        [Algorithm::RS256, Algorithm::ES256]
    );
    assert_eq!(c.client_assertion.max_lifetime, Duration::from_secs(60));
    assert!(!c.cimd.private_key_jwt);
    for bad in ["none", "HS256", "ES256 HS512", "RSA-OAEP", "es256", ""] {
        assert_eq!(
            error_var(&[("AUTH_PROXY_CLIENT_ASSERTION_ALGS", bad)]),
            "AUTH_PROXY_CLIENT_ASSERTION_ALGS",
            "{bad:?}"
        );
    }
    for bad in ["29", "3601", "x"] {
        assert_eq!(
            error_var(&[("AUTH_PROXY_CLIENT_ASSERTION_MAX_LIFETIME_SECS", bad)]),
            "AUTH_PROXY_CLIENT_ASSERTION_MAX_LIFETIME_SECS"
        );
    }
    assert_eq!(
        error_var(&[("AUTH_PROXY_CIMD_PRIVATE_KEY_JWT", "maybe")]),
        "AUTH_PROXY_CIMD_PRIVATE_KEY_JWT"
    );
}

#[test]
fn the_connections_page_is_on_by_default_with_a_bounded_session() {
    let c = Config::from_vars(&vars(&[])).unwrap();
    assert!(c.connections.enabled);
    assert_eq!(c.connections.session_ttl, Duration::from_secs(900));
    let c = Config::from_vars(&vars(&[
        ("AUTH_PROXY_CONNECTIONS_ENABLED", "false"),
        ("AUTH_PROXY_CONNECTIONS_SESSION_TTL_SECS", "60"),
    ]))
    .unwrap();
    assert!(!c.connections.enabled);
    assert_eq!(c.connections.session_ttl, Duration::from_secs(60));
    for bad in ["59", "86401", "x"] {
        assert_eq!(
            error_var(&[("AUTH_PROXY_CONNECTIONS_SESSION_TTL_SECS", bad)]),
            "AUTH_PROXY_CONNECTIONS_SESSION_TTL_SECS"
        );
    }
    assert_eq!(
        error_var(&[("AUTH_PROXY_CONNECTIONS_ENABLED", "sometimes")]),
        "AUTH_PROXY_CONNECTIONS_ENABLED"
    );
}
