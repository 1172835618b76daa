//! Property tests (proptest) for the parsers of the auth-proxy that see attacker input: redirect
//! URIs and patterns, form bodies, HTTP Basic client credentials, client metadata (registration,
//! metadata documents, the clients file), code and refresh-token ids, and `X-Forwarded-For`.
//!
//! Every property holds for every input: none of these functions may panic, and each keeps the
//! invariant written in its doc comment. Generators mix fully arbitrary text (to find panics)
//! with text shaped like the real thing (to reach the accepting paths). The default case count
//! (256) applies unless a property says otherwise; the whole file runs in a few seconds in a
//! debug build.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use auth_proxy::client_ip;
use auth_proxy::clients::cimd::{cache_lifetime, parse_document};
use auth_proxy::clients::metadata::{
    ClientMetadata, MetadataErrorKind, Policy, ValidMetadata, CIMD, DCR, FILE, MAX_TEXT, MAX_URI,
};
use auth_proxy::clients::{
    ApplicationType, ClientRecord, ClientRegistry, GrantType, PresentedCredentials, ResponseType,
    TokenEndpointAuthMethod,
};
use auth_proxy::clock::FakeClock;
use auth_proxy::crypto::sha256_hex;
use auth_proxy::ids::{is_token_part, ClientId, ClientState, GrantId, RedirectUri, TokenHash};
use auth_proxy::metrics::Metrics;
use auth_proxy::oauth::revoke::split_grant_token;
use auth_proxy::redirect::{
    is_loopback_host, matches_registered, validate_for_registration, RedirectPattern,
};
use auth_proxy::routes::parse_form;
use auth_proxy::store::memory::MemoryStore;
use auth_proxy::store::Store;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ipnet::IpNet;
use mcp_shared::{OAuthErrorCode, Secret};
use proptest::prelude::*;
use url::{Host, Url};

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// Text with the characters URL parsers treat specially, plus anything at all.
fn url_noise() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9:/?#@%._~!$&'()*+,;=\\[\\]\\\\ \t\n-]{0,40}",
    ]
}

/// A path segment of RFC 3986 unreserved characters.
fn plain_segment() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~-]{1,12}".prop_filter("not a dot segment", |s| s != "." && s != "..")
}

/// A lower-case DNS name as a pattern host must be (labels start with a letter: a name
/// whose last label is numeric is an IPv4 address to the URL parser).
fn dns_name() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z]([a-z0-9-]{0,8}[a-z0-9])?", 1..4).prop_map(|l| l.join("."))
}

/// Something a client might present as a redirect URI: an https, loopback http or private-use
/// URI, or a mutation of one with the tricks attackers use.
fn redirect_uri_like() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        Just("https"),
        Just("http"),
        Just("HTTP"),
        Just("cursor"),
        Just("javascript"),
        Just("data"),
        Just("com.example.app"),
    ];
    let host = prop_oneof![
        Just("localhost".to_owned()),
        Just("127.0.0.1".to_owned()),
        Just("[::1]".to_owned()),
        Just("127.1".to_owned()),
        Just("LOCALHOST".to_owned()),
        Just("[::ffff:127.0.0.1]".to_owned()),
        Just("user@127.0.0.1".to_owned()),
        Just("example.com".to_owned()),
        dns_name(),
    ];
    let port = prop_oneof![
        Just(String::new()),
        (0u32..70000).prop_map(|p| format!(":{p}")),
        Just(":".to_owned()),
        Just(":080".to_owned()),
    ];
    let path = prop::collection::vec(
        prop_oneof![
            plain_segment(),
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just("%2e%2e".to_owned()),
            Just(String::new()),
            Just("a\\b".to_owned()),
        ],
        0..4,
    )
    .prop_map(|s| s.join("/"));
    let tail = prop_oneof![
        Just(String::new()),
        Just("?x=1".to_owned()),
        Just("?".to_owned()),
        Just("#f".to_owned()),
        Just("#".to_owned()),
    ];
    (scheme, host, port, path, tail)
        .prop_map(|(s, h, p, path, t)| format!("{s}://{h}{p}/{path}{t}"))
}

/// A registered loopback redirect URI: one of the three loopback forms, a path of plain
/// segments, an optional port and query.
fn loopback_registration() -> impl Strategy<Value = (String, String, String)> {
    (
        prop_oneof![Just("localhost"), Just("127.0.0.1"), Just("[::1]")],
        prop::option::of(1u16..=65535),
        prop::collection::vec(plain_segment(), 0..3),
        prop::option::of("[a-z]{1,5}=[a-z0-9]{0,5}"),
    )
        .prop_map(|(host, port, segments, query)| {
            let path = format!("/{}", segments.join("/"));
            let query = query.map(|q| format!("?{q}")).unwrap_or_default();
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            (
                format!("http://{host}{port}{path}{query}"),
                host.to_owned(),
                format!("{path}{query}"),
            )
        })
}

/// A redirect pattern as an operator writes one: host, optional port, literal segments, then
/// `wildcards` trailing `*` segments, optional query.
#[derive(Debug, Clone)]
struct PatternSpec {
    host: String,
    port: Option<u16>,
    literals: Vec<String>,
    wildcards: usize,
    query: Option<String>,
}

impl PatternSpec {
    fn raw(&self) -> String {
        let mut segments = self.literals.clone();
        segments.extend(std::iter::repeat_n("*".to_owned(), self.wildcards));
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        let query = self
            .query
            .as_ref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        format!("https://{}{port}/{}{query}", self.host, segments.join("/"))
    }

    fn instance(&self, fill: &[String]) -> String {
        let mut segments = self.literals.clone();
        segments.extend(fill.iter().take(self.wildcards).cloned());
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        let query = self
            .query
            .as_ref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        format!("https://{}{port}/{}{query}", self.host, segments.join("/"))
    }
}

fn pattern_spec() -> impl Strategy<Value = PatternSpec> {
    (
        dns_name(),
        prop::option::of(1u16..=65535)
            .prop_filter("443 is spelled without a port", |p| *p != Some(443)),
        prop::collection::vec(plain_segment(), 0..3),
        0usize..3,
        prop::option::of("[a-z]{1,5}=[a-z0-9]{1,5}"),
    )
        .prop_filter("a pattern has at least one segment", |(_, _, l, w, _)| {
            l.len() + w > 0
        })
        .prop_map(|(host, port, literals, wildcards, query)| PatternSpec {
            host,
            port,
            literals,
            wildcards,
            query,
        })
}

/// Inserts, deletes or replaces one character of `s` at a position derived from `at`.
fn mutate(s: &str, at: usize, op: u8, c: char) -> String {
    let chars: Vec<char> = s.chars().collect();
    let i = if chars.is_empty() {
        0
    } else {
        at % (chars.len() + 1)
    };
    let mut out = chars.clone();
    match op % 3 {
        0 => out.insert(i, c),
        1 if i < out.len() => {
            out.remove(i);
        }
        _ if i < out.len() => out[i] = c,
        _ => out.push(c),
    }
    out.into_iter().collect()
}

fn mutation() -> impl Strategy<Value = (usize, u8, char)> {
    (
        any::<usize>(),
        any::<u8>(),
        prop_oneof![
            any::<char>(),
            prop::sample::select(vec![
                '/', '.', '%', '@', ':', '?', '#', '\\', ' ', '\t', '\n', 'A', '*', '[', ']',
            ]),
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// Redirect URIs and patterns (auth-proxy/src/redirect.rs)
// ---------------------------------------------------------------------------------------------

/// What a registered redirect URI may be: an accepted URI never has a fragment or user
/// information, never uses a script-capable or otherwise forbidden scheme, is plain http only
/// on a loopback host, and is https only with a host.
fn assert_registrable(raw: &str, url: &Url) -> Result<(), TestCaseError> {
    prop_assert!(!raw.contains('#'), "fragment accepted: {raw:?}");
    prop_assert!(url.fragment().is_none());
    prop_assert!(url.username().is_empty() && url.password().is_none());
    prop_assert!(!raw.chars().any(|c| c.is_whitespace() || c.is_control()));
    let scheme = url.scheme();
    prop_assert!(
        ![
            "javascript",
            "data",
            "vbscript",
            "file",
            "about",
            "blob",
            "filesystem",
            "view-source",
            "ws",
            "wss",
            "ftp",
            "mailto",
            "tel",
            "chrome",
            "chrome-extension"
        ]
        .contains(&scheme),
        "forbidden scheme accepted: {raw:?}"
    );
    if scheme == "http" {
        prop_assert!(is_loopback_host(url), "non-loopback http accepted: {raw:?}");
    }
    if scheme == "https" {
        prop_assert!(url.host().is_some());
    }
    Ok(())
}

/// The only way a presented URI can match a registered one besides byte equality: both are
/// loopback http, the presented one is in canonical form (or lacks only the root `/`), has no
/// user information or fragment, and has the registered host, path and query. Only the port
/// may differ.
fn assert_match_is_exact_or_loopback_port(
    registered: &str,
    requested: &str,
) -> Result<(), TestCaseError> {
    if registered == requested {
        return Ok(());
    }
    let reg = Url::parse(registered).unwrap();
    let req = Url::parse(requested);
    prop_assert!(req.is_ok(), "unparsable URI matched: {requested:?}");
    let req = req.unwrap();
    prop_assert_eq!(reg.scheme(), "http");
    prop_assert_eq!(req.scheme(), "http");
    prop_assert!(is_loopback_host(&reg));
    let canonical = req.as_str();
    prop_assert!(
        canonical == requested || format!("{requested}/") == canonical,
        "non-canonical URI matched: {requested:?} (canonical {canonical:?})"
    );
    prop_assert!(req.username().is_empty() && req.password().is_none());
    prop_assert!(req.fragment().is_none());
    prop_assert_eq!(req.host(), reg.host());
    prop_assert_eq!(req.path(), reg.path());
    prop_assert_eq!(req.query(), reg.query());
    Ok(())
}

/// What a pattern match guarantees: the presented URI is canonical https on exactly the
/// pattern's host and port, without user information or fragment, with the pattern's query,
/// the same number of segments, every literal segment equal and every wildcard segment one
/// non-empty run of unreserved characters that is not a dot segment.
fn assert_pattern_match(spec: &PatternSpec, requested: &str) -> Result<(), TestCaseError> {
    let url = Url::parse(requested).unwrap();
    prop_assert_eq!(url.as_str(), requested);
    prop_assert_eq!(url.scheme(), "https");
    prop_assert_eq!(url.host(), Some(Host::Domain(spec.host.as_str())));
    prop_assert_eq!(url.port(), spec.port);
    prop_assert!(url.username().is_empty() && url.password().is_none());
    prop_assert!(url.fragment().is_none());
    prop_assert_eq!(url.query(), spec.query.as_deref());
    let segments: Vec<&str> = url.path_segments().unwrap().collect();
    prop_assert_eq!(segments.len(), spec.literals.len() + spec.wildcards);
    for (lit, seg) in spec.literals.iter().zip(&segments) {
        prop_assert_eq!(lit, seg);
    }
    for seg in &segments[spec.literals.len()..] {
        prop_assert!(
            !seg.is_empty()
                && *seg != "."
                && *seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)),
            "wildcard matched {seg:?} in {requested:?}"
        );
    }
    Ok(())
}

proptest! {
    /// `validate_for_registration` never panics, and whatever it accepts is registrable
    /// ([`assert_registrable`]).
    #[test]
    fn registration_accepts_only_safe_redirect_uris(
        raw in prop_oneof![redirect_uri_like(), url_noise()],
    ) {
        if let Ok(url) = validate_for_registration(&raw) {
            assert_registrable(&raw, &url)?;
        }
    }

    /// Matching never panics and a match is exact or the loopback port rule
    /// ([`assert_match_is_exact_or_loopback_port`]), whatever is presented: arbitrary text,
    /// URI-shaped text, or a one-character mutation of the registered URI.
    #[test]
    fn a_match_is_exact_or_only_the_loopback_port_differs(
        registered in redirect_uri_like(),
        presented in prop_oneof![redirect_uri_like(), url_noise()],
        (at, op, c) in mutation(),
    ) {
        prop_assume!(validate_for_registration(&registered).is_ok());
        let reg = vec![registered.clone()];
        for requested in [presented, mutate(&registered, at, op, c)] {
            if matches_registered(&requested, &reg, &[]) {
                assert_match_is_exact_or_loopback_port(&registered, &requested)?;
            }
        }
    }

    /// RFC 8252 §7.3: a registered loopback http URI matches itself on every port but the
    /// scheme's default, and on no port once anything but the port is changed. (Port 80 is
    /// refused: `http://127.0.0.1:80/cb` is not in canonical form, the URL parser drops the
    /// default port; a native app never gets port 80 from the OS as an ephemeral port.)
    #[test]
    fn loopback_registrations_match_any_port_and_nothing_else(
        (registered, host, path_and_query) in loopback_registration(),
        port in 1u16..=65535,
        (at, op, c) in mutation(),
    ) {
        prop_assume!(port != 80);
        let reg = vec![registered.clone()];
        let requested = format!("http://{host}:{port}{path_and_query}");
        prop_assert!(matches_registered(&requested, &reg, &[]), "{registered} vs {requested}");
        let mutated = mutate(&requested, at, op, c);
        if matches_registered(&mutated, &reg, &[]) {
            assert_match_is_exact_or_loopback_port(&registered, &mutated)?;
        }
    }

    /// `RedirectPattern::parse` never panics on any text, and a pattern accepted from arbitrary
    /// text is https on a DNS host (no wildcard, no IP address).
    #[test]
    fn pattern_parsing_never_panics(raw in prop_oneof![url_noise(), redirect_uri_like()]) {
        if let Ok(pattern) = RedirectPattern::parse(&raw) {
            let url = Url::parse(&raw).unwrap();
            prop_assert_eq!(url.scheme(), "https");
            prop_assert!(matches!(url.host(), Some(Host::Domain(d)) if !d.contains('*')));
            prop_assert_eq!(pattern.as_str(), raw.as_str());
        }
    }

    /// Every instance of a pattern (each `*` filled with a plain segment) matches it, and any
    /// URI that matches, including one-character mutations of an instance, keeps the pattern
    /// invariants ([`assert_pattern_match`]).
    #[test]
    fn pattern_matches_its_instances_and_only_them(
        spec in pattern_spec(),
        fill in prop::collection::vec(plain_segment(), 2),
        (at, op, c) in mutation(),
        other in prop_oneof![redirect_uri_like(), url_noise()],
    ) {
        let pattern = RedirectPattern::parse(&spec.raw()).unwrap();
        let instance = spec.instance(&fill);
        prop_assert!(pattern.matches(&instance), "{} vs {instance}", spec.raw());
        prop_assert!(matches_registered(&instance, &[], std::slice::from_ref(&pattern)));
        for requested in [mutate(&instance, at, op, c), other] {
            if pattern.matches(&requested) {
                assert_pattern_match(&spec, &requested)?;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Form bodies (routes::parse_form)
// ---------------------------------------------------------------------------------------------

proptest! {
    /// `parse_form` never panics on any bytes, and what it accepts names no parameter twice
    /// (RFC 6749 §3.1: parameters must not be included more than once).
    #[test]
    fn forms_never_repeat_a_parameter(body in prop_oneof![
        any::<Vec<u8>>(),
        "[a-c=&%+0-9A-F]{0,40}".prop_map(String::into_bytes),
    ]) {
        if let Ok(pairs) = parse_form(&body) {
            for (i, (k, _)) in pairs.iter().enumerate() {
                prop_assert!(!pairs[..i].iter().any(|(o, _)| o == k), "{k} repeated");
            }
        }
    }

    /// Round trip: distinct parameters with any names and values, form-encoded, parse back to
    /// exactly the same pairs in order; the same form with one parameter repeated (with any
    /// value) is refused with `invalid_request`.
    #[test]
    fn forms_round_trip_and_repeats_are_refused(
        pairs in prop::collection::vec((any::<String>(), any::<String>()), 1..6),
        repeat in any::<prop::sample::Index>(),
        repeated_value in any::<String>(),
    ) {
        let mut distinct: Vec<(String, String)> = Vec::new();
        for (k, v) in pairs {
            if !distinct.iter().any(|(o, _)| *o == k) {
                distinct.push((k, v));
            }
        }
        let body = serde_urlencoded::to_string(&distinct).unwrap();
        prop_assert_eq!(parse_form(body.as_bytes()).unwrap(), distinct.clone());
        let mut with_repeat = distinct.clone();
        let key = distinct[repeat.index(distinct.len())].0.clone();
        with_repeat.push((key, repeated_value));
        let body = serde_urlencoded::to_string(&with_repeat).unwrap();
        let err = parse_form(body.as_bytes()).unwrap_err();
        prop_assert_eq!(err.code, OAuthErrorCode::InvalidRequest);
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP Basic client credentials (clients/auth.rs, through ClientRegistry::authenticate)
// ---------------------------------------------------------------------------------------------

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn confidential_client(client_id: &str, secret: &str) -> ClientRecord {
    ClientRecord {
        client_id: ClientId::parse(client_id).unwrap(),
        client_name: None,
        redirect_uris: vec!["https://app.example/cb".into()],
        token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        client_secret_hash: Some(sha256_hex(secret)),
        grant_types: vec![GrantType::AuthorizationCode],
        response_types: vec![ResponseType::Code],
        scope: None,
        client_uri: None,
        logo_uri: None,
        software_id: None,
        software_version: None,
        created_at: 0,
        application_type: Some(ApplicationType::Web),
    }
}

/// A registry whose store holds one confidential client.
async fn registry_with(client: &ClientRecord) -> ClientRegistry {
    let store = Arc::new(MemoryStore::new(Arc::new(FakeClock::at_secs(1_000))));
    store
        .put_client(client, Duration::from_secs(3600))
        .await
        .unwrap();
    ClientRegistry::new(
        None,
        HashMap::new(),
        None,
        store,
        Metrics::new().unwrap(),
        Duration::from_secs(3600),
        1_000,
    )
}

/// RFC 6749 §2.3.1: client id and secret are each form-urlencoded, joined by `:`, Base64.
fn basic_header(id: &str, secret: &str) -> String {
    let enc = |s: &str| serde_urlencoded::to_string([("v", s)]).unwrap()[2..].to_owned();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

/// A client id that names a stored registration (not a metadata document URL).
fn stored_client_id() -> impl Strategy<Value = String> {
    any::<String>().prop_filter("stored client ids are non-empty, not URLs", |s| {
        !s.is_empty() && !s.starts_with("https://") && !s.starts_with("http://")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any client id and secret (colons, `%`, `+`, non-ASCII included), encoded as RFC 6749
    /// §2.3.1 says, authenticate the client; the same header with any other secret is
    /// `invalid_client` with a Basic challenge. A raw (unencoded) colon after the first one
    /// belongs to the secret.
    #[test]
    fn basic_credentials_decode_exactly(
        client_id in stored_client_id(),
        secret in any::<String>(),
        other in any::<String>(),
        raw_secret in "[A-Za-z0-9:._~-]{0,20}",
    ) {
        prop_assume!(other != secret);
        let rt = runtime();
        let client = confidential_client(&client_id, &secret);
        let registry = rt.block_on(registry_with(&client));
        let present = |header: String| PresentedCredentials {
            authorization: Some(Secret::new(header)),
            client_id: None,
            client_secret: None,
        };
        let ok = rt.block_on(registry.authenticate(present(basic_header(&client_id, &secret))));
        prop_assert_eq!(ok.map(|c| c.client_id), Ok(client.client_id.clone()));
        let wrong = rt
            .block_on(registry.authenticate(present(basic_header(&client_id, &other))))
            .unwrap_err();
        prop_assert_eq!(wrong.code, OAuthErrorCode::InvalidClient);
        prop_assert!(wrong.basic_challenge);

        let colon_client = confidential_client("colon-client", &raw_secret);
        let registry = rt.block_on(registry_with(&colon_client));
        let header = format!("Basic {}", STANDARD.encode(format!("colon-client:{raw_secret}")));
        let ok = rt.block_on(registry.authenticate(present(header)));
        prop_assert!(ok.is_ok(), "raw secret {raw_secret:?} refused");
    }

    /// Whatever the `Authorization` header says, authentication never panics and never admits
    /// a client that does not hold the secret: against a registry whose only client has a
    /// secret no generated header carries, every header is refused with `invalid_client` or
    /// `invalid_request`.
    #[test]
    fn arbitrary_authorization_headers_are_refused(
        header in prop_oneof![
            any::<String>(),
            any::<Vec<u8>>().prop_map(|b| format!("Basic {}", STANDARD.encode(b))),
            "[A-Za-z0-9%:+ ]{0,30}".prop_map(|s| format!("Basic {}", STANDARD.encode(s))),
            "(Basic|basic|BASIC) ?[A-Za-z0-9+/=!. ]{0,30}",
        ],
        form_id in prop::option::of("[a-z:]{1,8}"),
    ) {
        let rt = runtime();
        let client = confidential_client("c", "a secret no generator produces: \u{1F512}\u{1F511}");
        let registry = rt.block_on(registry_with(&client));
        let result = rt.block_on(registry.authenticate(PresentedCredentials {
            authorization: Some(Secret::new(header)),
            client_id: form_id.as_deref(),
            client_secret: None,
        }));
        let err = result.unwrap_err();
        prop_assert!(
            matches!(err.code, OAuthErrorCode::InvalidClient | OAuthErrorCode::InvalidRequest),
            "{:?}", err.code
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Client metadata (clients/metadata.rs) and metadata documents (clients/cimd)
// ---------------------------------------------------------------------------------------------

fn metadata_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        any::<String>(),
        "[a-zA-Z ]{0,20}",
        Just("x".repeat(MAX_TEXT)),
        Just("x".repeat(MAX_TEXT + 1)),
        Just("\u{202e}evil\u{200b}".to_owned()),
        Just("a\nb".to_owned()),
    ])
}

fn metadata_uri() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        redirect_uri_like(),
        Just("https://app.example/".to_owned()),
        Just(format!("https://app.example/{}", "a".repeat(MAX_URI))),
        Just("https://user@app.example/".to_owned()),
    ])
}

prop_compose! {
    fn client_metadata()(
        redirect_uris in prop::option::of(prop::collection::vec(
            prop_oneof![
                3 => redirect_uri_like(),
                1 => pattern_spec().prop_map(|s| s.raw()),
                1 => url_noise(),
                1 => Just(format!("https://app.example/{}", "a".repeat(MAX_URI))),
            ],
            0..24,
        )),
        application_type in prop::option::of(prop_oneof![
            Just("web".to_owned()), Just("native".to_owned()), any::<String>(),
        ]),
        token_endpoint_auth_method in prop::option::of(prop_oneof![
            Just("none".to_owned()),
            Just("client_secret_basic".to_owned()),
            Just("client_secret_post".to_owned()),
            Just("private_key_jwt".to_owned()),
            any::<String>(),
        ]),
        grant_types in prop::option::of(prop::collection::vec(prop_oneof![
            Just("authorization_code".to_owned()),
            Just("refresh_token".to_owned()),
            Just("urn:ietf:params:oauth:grant-type:token-exchange".to_owned()),
            Just("client_credentials".to_owned()),
            any::<String>(),
        ], 0..4)),
        response_types in prop::option::of(prop::collection::vec(prop_oneof![
            Just("code".to_owned()), Just("token".to_owned()), any::<String>(),
        ], 0..3)),
        client_name in metadata_text(),
        client_uri in metadata_uri(),
        logo_uri in metadata_uri(),
        scope in prop::option::of(prop_oneof![
            "(openid|profile|notes:read|notes:write|files:read|admin|offline_access| ){0,6}",
            any::<String>(),
        ]),
        software_id in metadata_text(),
        software_version in metadata_text(),
    ) -> ClientMetadata {
        ClientMetadata {
            redirect_uris,
            application_type,
            token_endpoint_auth_method,
            grant_types,
            response_types,
            client_name,
            client_uri,
            logo_uri,
            scope,
            software_id,
            software_version,
        }
    }
}

/// What validated metadata guarantees under `policy`: 1 to `max_redirect_uris` redirect
/// entries, each exact one registrable and at most `MAX_URI` long; patterns only where the
/// policy allows them; the auth method one the policy allows; `authorization_code` among the
/// grant types and never token exchange; response types only `code`; a `web` application only
/// with https redirect URIs; names and software ids at most `MAX_TEXT` characters without
/// control characters; `client_uri` and `logo_uri` https without user information.
fn assert_valid_metadata(valid: &ValidMetadata, policy: &Policy) -> Result<(), TestCaseError> {
    let count = valid.redirect_uris.len() + valid.redirect_patterns.len();
    prop_assert!(
        (1..=policy.max_redirect_uris).contains(&count),
        "{count} redirects"
    );
    for uri in &valid.redirect_uris {
        prop_assert!(uri.len() <= MAX_URI);
        let url = validate_for_registration(uri);
        prop_assert!(url.is_ok(), "{uri:?}");
        assert_registrable(uri, &url.unwrap())?;
        if valid.application_type == ApplicationType::Web {
            prop_assert!(uri.starts_with("https:"), "web client with {uri:?}");
        }
    }
    prop_assert!(policy.redirect_patterns || valid.redirect_patterns.is_empty());
    prop_assert!(policy
        .auth_methods
        .contains(&valid.token_endpoint_auth_method));
    prop_assert!(valid.grant_types.contains(&GrantType::AuthorizationCode));
    prop_assert!(!valid.grant_types.contains(&GrantType::TokenExchange));
    prop_assert!(!valid.response_types.is_empty());
    prop_assert!(valid
        .response_types
        .iter()
        .all(|r| *r == ResponseType::Code));
    for text in [
        &valid.client_name,
        &valid.software_id,
        &valid.software_version,
    ]
    .into_iter()
    .flatten()
    {
        prop_assert!(text.chars().count() <= MAX_TEXT);
        prop_assert!(!text.chars().any(char::is_control), "{text:?}");
        prop_assert!(!text.trim().is_empty());
    }
    for uri in [&valid.client_uri, &valid.logo_uri].into_iter().flatten() {
        let url = Url::parse(uri).unwrap();
        prop_assert_eq!(url.scheme(), "https");
        prop_assert!(url.username().is_empty() && url.password().is_none());
    }
    if let Some(scope) = &valid.scope {
        prop_assert!(!scope.is_empty());
    }
    Ok(())
}

proptest! {
    /// The one metadata validator never panics under any policy and what it accepts keeps the
    /// invariants of [`assert_valid_metadata`]; a refusal because of a redirect URI is reported
    /// as such (`invalid_redirect_uri`) only when redirect URIs were given.
    #[test]
    fn validated_metadata_keeps_every_rule(metadata in client_metadata()) {
        for policy in [&DCR, &CIMD, &FILE] {
            match metadata.clone().validate(policy) {
                Ok(valid) => assert_valid_metadata(&valid, policy)?,
                Err(e) => {
                    if metadata.redirect_uris.is_none() {
                        prop_assert_eq!(e.kind, MetadataErrorKind::RedirectUri);
                    }
                    prop_assert!(!e.message.is_empty());
                }
            }
        }
    }

    /// A Client ID Metadata Document: `parse_document` never panics on any bytes; an accepted
    /// document names exactly the URL it was fetched from, is a public client (auth method
    /// `none`, no secret hash) and keeps every metadata rule under the CIMD policy.
    #[test]
    fn metadata_documents_are_public_clients_of_their_own_url(
        metadata in client_metadata(),
        same_id in any::<bool>(),
        other_id in url_noise(),
        secret in prop::option::of(any::<String>()),
        garbage in any::<Vec<u8>>(),
    ) {
        const ID: &str = "https://app.example.com/client.json";
        if let Ok(record) = parse_document(&garbage, ID, 0) {
            prop_assert_eq!(record.client_id.as_str(), ID);
        }
        let mut doc = serde_json::json!({
            "client_id": if same_id { ID.to_owned() } else { other_id },
            "redirect_uris": metadata.redirect_uris,
            "grant_types": metadata.grant_types,
            "response_types": metadata.response_types,
            "token_endpoint_auth_method": metadata.token_endpoint_auth_method,
            "client_name": metadata.client_name,
            "client_uri": metadata.client_uri,
            "logo_uri": metadata.logo_uri,
            "scope": metadata.scope,
            "software_id": metadata.software_id,
            "software_version": metadata.software_version,
        });
        if let Some(secret) = secret {
            doc["client_secret"] = secret.into();
        }
        let body = serde_json::to_vec(&doc).unwrap();
        if let Ok(record) = parse_document(&body, ID, 7) {
            prop_assert_eq!(record.client_id.as_str(), ID);
            prop_assert_eq!(doc["client_id"].as_str(), Some(ID));
            prop_assert!(doc.get("client_secret").is_none());
            prop_assert_eq!(record.token_endpoint_auth_method, TokenEndpointAuthMethod::None);
            prop_assert!(record.client_secret_hash.is_none());
            prop_assert!((1..=CIMD.max_redirect_uris).contains(&record.redirect_uris.len()));
            for uri in &record.redirect_uris {
                assert_registrable(uri, &validate_for_registration(uri).unwrap())?;
            }
            prop_assert!(record.grant_types.contains(&GrantType::AuthorizationCode));
            if let Some(name) = &record.client_name {
                prop_assert!(name.chars().count() <= MAX_TEXT);
                prop_assert!(!name.chars().any(char::is_control));
            }
        }
    }

    /// `cache_lifetime` never panics and always lies within the configured bounds, whatever
    /// `Cache-Control` says.
    #[test]
    fn document_cache_lifetime_is_bounded(
        header in prop::option::of(prop_oneof![
            any::<String>(),
            "((max-age|s-maxage)=\"?[0-9]{0,25}\"?|no-store|no-cache|public|, ){0,5}",
        ]),
        min in 0u64..10_000,
        extra in 0u64..100_000,
    ) {
        let (min, max) = (Duration::from_secs(min), Duration::from_secs(min + extra));
        let lifetime = cache_lifetime(header.as_deref(), min, max);
        prop_assert!(min <= lifetime && lifetime <= max);
    }
}

// ---------------------------------------------------------------------------------------------
// Identifiers (ids.rs, oauth/revoke.rs)
// ---------------------------------------------------------------------------------------------

fn token_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_.-]{0,70}",
        ("[A-Za-z0-9_-]{0,66}", "[A-Za-z0-9_.-]{0,66}").prop_map(|(a, b)| format!("{a}.{b}")),
    ]
}

proptest! {
    /// `split_grant_token` accepts exactly `<part>.<part>` where both parts are 1 to 64
    /// characters of `A-Z a-z 0-9 - _` (so a token can never break out of a store key or hash
    /// tag); the grant id is the first part and the hash is the hash of the whole token.
    #[test]
    fn grant_tokens_split_only_when_well_formed(token in token_like()) {
        let expected = token
            .split_once('.')
            .filter(|(g, s)| is_token_part(g) && is_token_part(s));
        match (split_grant_token(&token), expected) {
            (Some((gid, hash)), Some((g, _))) => {
                prop_assert_eq!(gid.as_str(), g);
                prop_assert_eq!(hash, TokenHash::of(&token));
            }
            (None, None) => {}
            (got, want) => prop_assert!(false, "{token:?}: {got:?} vs {want:?}"),
        }
    }

    /// Token parts are 1 to 64 bytes of `A-Z a-z 0-9 - _`; `GrantId` parses exactly those and
    /// round-trips through its stored (JSON string) form; deserialising anything else fails.
    #[test]
    fn grant_ids_round_trip_and_refuse_everything_else(value in token_like()) {
        let well_formed = !value.is_empty()
            && value.len() <= 64
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        prop_assert_eq!(is_token_part(&value), well_formed);
        let json = serde_json::to_string(&value).unwrap();
        match GrantId::parse(&value) {
            Some(id) => {
                prop_assert!(well_formed);
                prop_assert_eq!(serde_json::to_string(&id).unwrap(), json.clone());
                prop_assert_eq!(serde_json::from_str::<GrantId>(&json).unwrap(), id);
            }
            None => {
                prop_assert!(!well_formed);
                prop_assert!(serde_json::from_str::<GrantId>(&json).is_err());
            }
        }
    }

    /// `ClientState`: empty is none, more than `MAX_LEN` bytes is refused, anything else is
    /// kept byte for byte. `ClientId`: never empty, kept as given. `RedirectUri`: exactly the
    /// absolute URLs, kept as written (never normalised).
    #[test]
    fn ids_keep_what_they_are_given(value in prop_oneof![
        any::<String>(),
        redirect_uri_like(),
        (0usize..3).prop_map(|n| "s".repeat(ClientState::MAX_LEN - 1 + n)),
    ]) {
        match ClientState::parse(&value) {
            Ok(None) => prop_assert!(value.is_empty()),
            Ok(Some(state)) => prop_assert_eq!(state.as_str(), value.as_str()),
            Err(_) => prop_assert!(value.len() > ClientState::MAX_LEN),
        }
        prop_assert_eq!(
            ClientState::parse(&value).is_err(),
            value.len() > ClientState::MAX_LEN
        );
        match ClientId::parse(&value) {
            Some(id) => prop_assert_eq!(id.as_str(), value.as_str()),
            None => prop_assert!(value.is_empty()),
        }
        match RedirectUri::parse(&value) {
            Some(uri) => prop_assert_eq!(uri.as_str(), value.as_str()),
            None => prop_assert!(Url::parse(&value).is_err()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// X-Forwarded-For (client_ip.rs)
// ---------------------------------------------------------------------------------------------

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        (0u8..4).prop_map(|l| IpAddr::from([10, 0, 0, l])),
        any::<[u16; 8]>().prop_map(IpAddr::from),
        any::<[u8; 4]>().prop_map(|o| IpAddr::V6(std::net::Ipv4Addr::from(o).to_ipv6_mapped())),
    ]
}

fn forwarded_for() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(
            prop_oneof![
                4 => ip().prop_map(|ip| ip.to_string()),
                1 => Just("unknown".to_owned()),
                1 => Just(String::new()),
                1 => Just("[::1]:443".to_owned()),
                1 => Just("1.2.3.4:80".to_owned()),
            ],
            0..6,
        )
        .prop_map(|hops| hops.join(", ")),
    ]
}

proptest! {
    /// `X-Forwarded-For` is believed only from a trusted peer and never panics, however the
    /// list is split into header lines: without a peer there is no client; an untrusted peer
    /// is the client whatever the headers say; otherwise the client is the peer or an address
    /// written in the headers, always in canonical form (an IPv4-mapped address is its IPv4
    /// address). A client cannot choose its address by sending its own entries: behind a
    /// trusted proxy that appends the real address (on the same line or a line of its own),
    /// the real address is the client. The rate-limit key of a client is its IPv4 address, or
    /// the /64 its IPv6 address is in, and every address of one /64 shares it.
    #[test]
    fn forwarded_for_is_believed_only_through_trusted_proxies(
        peer in prop::option::of(ip()),
        lines in prop::collection::vec(forwarded_for(), 0..3),
        spoofed in prop::collection::vec(ip(), 0..3),
        real in ip(),
        own_line in any::<bool>(),
        low_bits in any::<u64>(),
    ) {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
        let line_refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let resolved = client_ip::resolve(peer, &line_refs, &trusted);
        let Some(peer) = peer else {
            prop_assert_eq!(resolved, None);
            return Ok(());
        };
        let resolved = resolved.unwrap();
        prop_assert_eq!(resolved, resolved.to_canonical());
        let peer = peer.to_canonical();
        if !is_trusted(&peer) {
            prop_assert_eq!(resolved, peer);
        } else if resolved != peer {
            prop_assert!(
                lines.iter().flat_map(|l| l.split(',')).any(|hop| hop
                    .trim()
                    .parse::<IpAddr>()
                    .is_ok_and(|a| a.to_canonical() == resolved)),
                "{resolved} is not in {lines:?}"
            );
        }

        let real = real.to_canonical();
        prop_assume!(!is_trusted(&real));
        let spoofed: Vec<String> = spoofed.iter().map(ToString::to_string).collect();
        let appended: Vec<String> = if own_line {
            vec![spoofed.join(", "), real.to_string()]
        } else {
            let mut hops = spoofed.clone();
            hops.push(real.to_string());
            vec![hops.join(", ")]
        };
        let appended: Vec<&str> = appended.iter().map(String::as_str).collect();
        let resolved = client_ip::resolve(Some("10.0.0.1".parse().unwrap()), &appended, &trusted);
        prop_assert_eq!(resolved, Some(real), "{:?}", appended);

        let key = client_ip::rate_limit_key(real);
        match real {
            IpAddr::V4(v4) => prop_assert_eq!(key, v4.to_string()),
            IpAddr::V6(v6) => {
                let neighbour = std::net::Ipv6Addr::from(
                    (u128::from(v6) & !(u128::MAX >> 64)) | u128::from(low_bits),
                );
                prop_assert_eq!(key, client_ip::rate_limit_key(IpAddr::V6(neighbour)));
            }
        }
    }
}
