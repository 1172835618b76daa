use serde_json::json;

use super::*;

const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://as.example";
const RESOURCE: &str = "https://mcp.example/mcp";

fn resources() -> Vec<String> {
    vec![RESOURCE.to_owned(), "https://mcp.example/other".to_owned()]
}

fn claims() -> Map<String, Value> {
    match json!({
        "iss": "https://idp.example",
        "sub": "alice",
        "aud": ISSUER,
        "client_id": "c",
        "jti": "j-1",
        "iat": NOW,
        "exp": NOW + 300,
        "resource": RESOURCE,
        "scope": "notes:read files:read offline_access",
    }) {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn check_with(
    claims: &Map<String, Value>,
    requested_scope: Option<&ScopeSet>,
    requested_resource: Option<&str>,
    client_scope: Option<&ScopeSet>,
) -> Result<Accepted, Refusal> {
    let resources = resources();
    check_claims(
        claims,
        &ClaimRules {
            issuer: ISSUER,
            client_id: "c",
            resources: &resources,
            requested_resource,
            requested_scope,
            client_scope,
            now: NOW,
            max_lifetime_secs: 300,
        },
    )
}

fn check(claims: &Map<String, Value>) -> Result<Accepted, Refusal> {
    check_with(claims, None, None, None)
}

fn with(name: &str, value: Value) -> Map<String, Value> {
    let mut c = claims();
    c.insert(name.to_owned(), value);
    c
}

fn without(name: &str) -> Map<String, Value> {
    let mut c = claims();
    c.remove(name);
    c
}

#[test]
fn a_valid_assertion_is_accepted_without_offline_access() {
    let a = check(&claims()).unwrap();
    assert_eq!(a.subject, "alice");
    assert_eq!(a.resource, RESOURCE);
    assert_eq!(a.scope.to_string(), "notes:read files:read");
    assert_eq!(a.jti, "j-1");
    assert_eq!(a.jti_ttl_secs, 330);
}

#[test]
fn audience_is_our_issuer_as_a_string_or_a_one_element_array() {
    for ok in [json!(ISSUER), json!([ISSUER]), json!(format!("{ISSUER}/"))] {
        assert!(check(&with("aud", ok.clone())).is_ok(), "{ok}");
    }
    for bad in [
        json!("https://other.example"),
        json!([ISSUER, "https://other.example"]),
        json!([]),
        json!(1),
        json!(format!("{ISSUER}//")),
    ] {
        assert_eq!(
            check(&with("aud", bad.clone())),
            Err(Refusal::Audience),
            "{bad}"
        );
    }
    assert_eq!(check(&without("aud")), Err(Refusal::Audience));
}

#[test]
fn client_subject_and_jti_are_required() {
    assert_eq!(
        check(&with("client_id", json!("d"))),
        Err(Refusal::ClientId)
    );
    assert_eq!(check(&without("client_id")), Err(Refusal::ClientId));
    assert_eq!(check(&without("sub")), Err(Refusal::Subject));
    assert_eq!(check(&with("sub", json!(""))), Err(Refusal::Subject));
    assert_eq!(check(&without("jti")), Err(Refusal::MissingJti));
    assert_eq!(check(&with("jti", json!(7))), Err(Refusal::MissingJti));
    assert_eq!(
        check(&with("jti", json!("x".repeat(257)))),
        Err(Refusal::MissingJti)
    );
    assert_eq!(check(&without("iat")), Err(Refusal::MissingIat));
}

#[test]
fn times_have_thirty_seconds_of_leeway_and_a_maximum_lifetime() {
    assert!(check(&with("exp", json!(NOW - 29))).is_ok());
    assert_eq!(check(&with("exp", json!(NOW - 30))), Err(Refusal::Expired));
    assert_eq!(check(&without("exp")), Err(Refusal::Expired));
    assert!(check(&with("iat", json!(NOW + 30))).is_ok());
    assert_eq!(
        check(&with("iat", json!(NOW + 31))),
        Err(Refusal::NotYetValid)
    );
    assert_eq!(
        check(&with("nbf", json!(NOW + 31))),
        Err(Refusal::NotYetValid)
    );
    let mut long = with("exp", json!(NOW + 301));
    assert_eq!(check(&long), Err(Refusal::TooLong));
    // exp − iat counts, not exp − now.
    long.insert("iat".into(), json!(NOW - 100));
    long.insert("exp".into(), json!(NOW + 250));
    assert_eq!(check(&long), Err(Refusal::TooLong));
    assert_eq!(check(&with("iat", json!("soon"))), Err(Refusal::BadTime));
}

#[test]
fn resource_must_name_one_of_ours_and_the_request_may_choose() {
    assert_eq!(
        check(&with("resource", json!(format!("{RESOURCE}/"))))
            .unwrap()
            .resource,
        RESOURCE
    );
    assert_eq!(
        check(&with(
            "resource",
            json!(["https://x.example/mcp", RESOURCE])
        ))
        .unwrap()
        .resource,
        RESOURCE
    );
    assert_eq!(check(&without("resource")), Err(Refusal::Resource));
    for bad in [
        json!("https://x.example/mcp"),
        json!([]),
        json!([1]),
        json!(3),
    ] {
        assert_eq!(
            check(&with("resource", bad.clone())),
            Err(Refusal::Resource),
            "{bad}"
        );
    }
    let both = with("resource", json!([RESOURCE, "https://mcp.example/other"]));
    assert_eq!(check(&both), Err(Refusal::ResourceMismatch));
    assert_eq!(
        check_with(&both, None, Some("https://mcp.example/other"), None)
            .unwrap()
            .resource,
        "https://mcp.example/other"
    );
    assert_eq!(
        check_with(&claims(), None, Some("https://mcp.example/other"), None),
        Err(Refusal::ResourceMismatch)
    );
}

#[test]
fn scope_is_the_intersection_and_never_empty_or_unknown() {
    let requested = ScopeSet::parse("files:read calendar:read").unwrap();
    assert_eq!(
        check_with(&claims(), Some(&requested), None, None)
            .unwrap()
            .scope
            .to_string(),
        "files:read"
    );
    let ceiling = ScopeSet::parse("notes:read").unwrap();
    assert_eq!(
        check_with(&claims(), None, None, Some(&ceiling))
            .unwrap()
            .scope
            .to_string(),
        "notes:read"
    );
    assert_eq!(
        check_with(&claims(), Some(&requested), None, Some(&ceiling)),
        Err(Refusal::NoScope)
    );
    assert_eq!(check(&without("scope")), Err(Refusal::NoScope));
    assert_eq!(
        check(&with("scope", json!("offline_access"))),
        Err(Refusal::NoScope)
    );
    assert_eq!(
        check(&with("scope", json!("notes:read admin"))),
        Err(Refusal::UnknownScope)
    );
    assert_eq!(
        check(&with("scope", json!(["notes:read"]))),
        Err(Refusal::UnknownScope)
    );
}

#[test]
fn every_refusal_is_invalid_grant_with_its_own_label() {
    let all = [
        Refusal::Jose(JoseError::WrongType),
        Refusal::Jose(JoseError::BadSignature),
        Refusal::UntrustedIssuer,
        Refusal::KeysUnavailable,
        Refusal::Audience,
        Refusal::ClientId,
        Refusal::Subject,
        Refusal::MissingJti,
        Refusal::MissingIat,
        Refusal::Expired,
        Refusal::NotYetValid,
        Refusal::TooLong,
        Refusal::BadTime,
        Refusal::Resource,
        Refusal::ResourceMismatch,
        Refusal::UnknownScope,
        Refusal::NoScope,
        Refusal::Replayed,
    ];
    let mut labels: Vec<&str> = all.iter().map(Refusal::label).collect();
    for r in &all {
        assert_eq!(
            OAuthError::from(r).code,
            mcp_shared::OAuthErrorCode::InvalidGrant
        );
    }
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), all.len());
}
