//! One contract, two stores: every test below runs against the in-memory store (with a fake
//! clock) and against a real redis-server (with real time and short TTLs).

use std::sync::Arc;
use std::time::Duration;

use auth_proxy::clock::{Clock, FakeClock};
use auth_proxy::store::{
    ClientRecord, CodeRecord, CodeTake, GrantRecord, MemoryStore, PendingAuthorization, RedisStore,
    RefreshOutcome, RefreshRecord, Store, TokenEndpointAuthMethod, UpstreamFlow,
};
use mcp_shared::ScopeSet;

use crate::redis_server;

pub struct Ctx {
    store: Arc<dyn Store>,
    clock: Option<FakeClock>,
}

impl Ctx {
    /// Lets `d` pass: the fake clock moves for memory; real time passes for Redis, whose TTLs
    /// are enforced by the server.
    async fn pass(&self, d: Duration) {
        match &self.clock {
            Some(clock) => clock.advance_millis(d.as_millis() as i64 + 1),
            None => tokio::time::sleep(d + Duration::from_millis(60)).await,
        }
    }
}

fn memory() -> Ctx {
    let clock = FakeClock::at_secs(1_700_000_000);
    let dyn_clock: Arc<dyn Clock> = Arc::new(clock.clone());
    Ctx {
        store: Arc::new(MemoryStore::new(dyn_clock)),
        clock: Some(clock),
    }
}

fn unique_prefix() -> String {
    format!("contract-{}", auth_proxy::crypto::random_token(6))
}

async fn redis() -> Ctx {
    let store = RedisStore::connect(redis_server::url(), &unique_prefix())
        .await
        .unwrap();
    Ctx {
        store: Arc::new(store),
        clock: None,
    }
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $( #[tokio::test] async fn $name() { super::$name(super::memory()).await; } )*
        }
        mod redis_store {
            $( #[tokio::test] async fn $name() { super::$name(super::redis().await).await; } )*
        }
    };
}

contract!(
    clients_round_trip,
    flows_are_taken_exactly_once_under_concurrency,
    flows_expire,
    grants_update_keep_and_revoke,
    codes_redeem_once_then_replay_then_expire,
    code_take_has_one_winner_under_concurrency,
    refresh_rotates_with_grace_and_detects_reuse,
    zero_grace_makes_any_second_presentation_reuse,
    refresh_of_another_client_changes_nothing,
    revoked_grant_stops_codes_and_refresh,
    deny_list_expires,
    rate_limit_counts_and_resets,
);

const TTL: Duration = Duration::from_millis(400);
const LONG: Duration = Duration::from_secs(60);

fn client(id: &str) -> ClientRecord {
    ClientRecord {
        client_id: id.into(),
        client_name: Some("C".into()),
        redirect_uris: vec!["http://127.0.0.1/cb".into()],
        token_endpoint_auth_method: TokenEndpointAuthMethod::None,
        client_secret_hash: None,
        grant_types: vec!["authorization_code".into()],
        response_types: vec!["code".into()],
        scope: None,
        client_uri: None,
        logo_uri: None,
        software_id: None,
        software_version: None,
        created_at: 1,
    }
}

fn pending() -> PendingAuthorization {
    PendingAuthorization {
        client_id: "c".into(),
        redirect_uri: "http://127.0.0.1/cb".into(),
        redirect_uri_given: true,
        state: "s".into(),
        scope: ScopeSet::parse("notes:read").unwrap(),
        resource: "http://127.0.0.1:8000/mcp".into(),
        code_challenge: "x".repeat(43),
        csrf_hash: "h".into(),
        browser_hash: "b".into(),
        created_at: 1,
    }
}

fn grant(id: &str) -> GrantRecord {
    GrantRecord {
        grant_id: id.into(),
        subject: "alice".into(),
        client_id: "c".into(),
        scope: ScopeSet::parse("notes:read").unwrap(),
        resource: "http://127.0.0.1:8000/mcp".into(),
        upstream_sealed: "sealed-1".into(),
        created_at: 1,
    }
}

fn code() -> CodeRecord {
    CodeRecord {
        client_id: "c".into(),
        redirect_uri: "http://127.0.0.1/cb".into(),
        redirect_uri_given: true,
        code_challenge: "x".repeat(43),
        scope: ScopeSet::parse("notes:read").unwrap(),
        resource: "http://127.0.0.1:8000/mcp".into(),
        created_at: 1,
    }
}

fn refresh_record(client: &str) -> RefreshRecord {
    RefreshRecord {
        client_id: client.into(),
        issued_at: 1,
    }
}

async fn clients_round_trip(ctx: Ctx) {
    let s = &ctx.store;
    s.ping().await.unwrap();
    assert_eq!(s.get_client("a").await.unwrap(), None);
    s.put_client(&client("a")).await.unwrap();
    assert_eq!(s.get_client("a").await.unwrap(), Some(client("a")));
}

async fn flows_are_taken_exactly_once_under_concurrency(ctx: Ctx) {
    let s = ctx.store.clone();
    s.put_pending_authorization("f1", &pending(), LONG)
        .await
        .unwrap();
    let flow = UpstreamFlow {
        authorization: pending(),
        pkce_verifier: "v".into(),
        nonce: "n".into(),
        created_at: 1,
    };
    s.put_upstream_flow("u1", &flow, LONG).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            (
                s.take_pending_authorization("f1").await.unwrap().is_some(),
                s.take_upstream_flow("u1").await.unwrap().is_some(),
            )
        }));
    }
    let mut pending_wins = 0;
    let mut upstream_wins = 0;
    for t in tasks {
        let (p, u) = t.await.unwrap();
        pending_wins += usize::from(p);
        upstream_wins += usize::from(u);
    }
    assert_eq!((pending_wins, upstream_wins), (1, 1));
}

async fn flows_expire(ctx: Ctx) {
    let s = &ctx.store;
    s.put_pending_authorization("f", &pending(), TTL)
        .await
        .unwrap();
    ctx.pass(TTL).await;
    assert_eq!(s.take_pending_authorization("f").await.unwrap(), None);
}

async fn grants_update_keep_and_revoke(ctx: Ctx) {
    let s = &ctx.store;
    s.put_grant(&grant("g"), LONG).await.unwrap();
    assert!(s.update_grant_upstream("g", "sealed-2").await.unwrap());
    assert_eq!(
        s.get_grant("g").await.unwrap().unwrap().upstream_sealed,
        "sealed-2"
    );
    assert!(!s.update_grant_upstream("missing", "x").await.unwrap());
    s.revoke_grant("g").await.unwrap();
    s.revoke_grant("g").await.unwrap(); // idempotent
    assert_eq!(s.get_grant("g").await.unwrap(), None);

    // An update keeps the remaining lifetime.
    s.put_grant(&grant("short"), TTL).await.unwrap();
    assert!(s.update_grant_upstream("short", "sealed-3").await.unwrap());
    ctx.pass(TTL).await;
    assert_eq!(s.get_grant("short").await.unwrap(), None);
}

async fn codes_redeem_once_then_replay_then_expire(ctx: Ctx) {
    let s = &ctx.store;
    s.put_code("g", "h1", &code(), LONG).await.unwrap();
    assert_eq!(
        s.take_code("g", "h1", LONG).await.unwrap(),
        CodeTake::Redeemed(code())
    );
    assert_eq!(
        s.take_code("g", "h1", LONG).await.unwrap(),
        CodeTake::Replayed
    );
    assert_eq!(
        s.take_code("g", "other", LONG).await.unwrap(),
        CodeTake::Unknown
    );
    assert_eq!(
        s.take_code("other-grant", "h1", LONG).await.unwrap(),
        CodeTake::Unknown
    );

    s.put_code("g", "h2", &code(), TTL).await.unwrap();
    ctx.pass(TTL).await;
    assert_eq!(
        s.take_code("g", "h2", LONG).await.unwrap(),
        CodeTake::Unknown
    );

    // The replay marker itself expires after its window.
    s.put_code("g", "h3", &code(), LONG).await.unwrap();
    assert!(matches!(
        s.take_code("g", "h3", TTL).await.unwrap(),
        CodeTake::Redeemed(_)
    ));
    ctx.pass(TTL).await;
    assert_eq!(
        s.take_code("g", "h3", TTL).await.unwrap(),
        CodeTake::Unknown
    );
}

async fn code_take_has_one_winner_under_concurrency(ctx: Ctx) {
    let s = ctx.store.clone();
    s.put_code("g", "race", &code(), LONG).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.take_code("g", "race", LONG).await.unwrap()
        }));
    }
    let mut redeemed = 0;
    let mut replayed = 0;
    for t in tasks {
        match t.await.unwrap() {
            CodeTake::Redeemed(_) => redeemed += 1,
            CodeTake::Replayed => replayed += 1,
            CodeTake::Unknown => panic!("a concurrent take saw neither the code nor its marker"),
        }
    }
    assert_eq!((redeemed, replayed), (1, 15));
}

async fn refresh_rotates_with_grace_and_detects_reuse(ctx: Ctx) {
    let s = &ctx.store;
    let grace = Duration::from_secs(10);
    s.put_grant(&grant("g"), LONG).await.unwrap();
    s.put_refresh_token("g", "rt1", &refresh_record("c"), LONG)
        .await
        .unwrap();
    let now = 1_700_000_000_000; // ms

    assert!(
        matches!(s.rotate_refresh_token("g", "rt1", "c", "rt2", now, grace, LONG).await.unwrap(), RefreshOutcome::Rotated(g) if g.grant_id == "g")
    );
    assert_eq!(
        s.get_refresh_token("g", "rt2")
            .await
            .unwrap()
            .unwrap()
            .client_id,
        "c"
    );
    // rt1 again within the grace window: a sibling token, still fine.
    assert!(matches!(
        s.rotate_refresh_token("g", "rt1", "c", "rt2b", now + 9_999, grace, LONG)
            .await
            .unwrap(),
        RefreshOutcome::Rotated(_)
    ));
    // The chain continues from rt2.
    assert!(matches!(
        s.rotate_refresh_token("g", "rt2", "c", "rt3", now + 9_999, grace, LONG)
            .await
            .unwrap(),
        RefreshOutcome::Rotated(_)
    ));
    // rt1 once the grace window has passed: reuse. The family is revoked, every member sees it.
    assert_eq!(
        s.rotate_refresh_token("g", "rt1", "c", "rt4", now + 10_000, grace, LONG)
            .await
            .unwrap(),
        RefreshOutcome::ReuseDetected
    );
    assert_eq!(s.get_grant("g").await.unwrap(), None);
    for member in ["rt3", "rt2b", "rt1"] {
        assert_eq!(
            s.rotate_refresh_token("g", member, "c", "x", now + 30_000, grace, LONG)
                .await
                .unwrap(),
            RefreshOutcome::Revoked,
            "{member}"
        );
    }
    assert_eq!(
        s.rotate_refresh_token("g", "never-issued", "c", "x", now, grace, LONG)
            .await
            .unwrap(),
        RefreshOutcome::Unknown
    );
}

async fn zero_grace_makes_any_second_presentation_reuse(ctx: Ctx) {
    let s = &ctx.store;
    s.put_grant(&grant("g"), LONG).await.unwrap();
    s.put_refresh_token("g", "rt1", &refresh_record("c"), LONG)
        .await
        .unwrap();
    let now = 1_700_000_000_000;
    assert!(matches!(
        s.rotate_refresh_token("g", "rt1", "c", "rt2", now, Duration::ZERO, LONG)
            .await
            .unwrap(),
        RefreshOutcome::Rotated(_)
    ));
    // Even in the same millisecond.
    assert_eq!(
        s.rotate_refresh_token("g", "rt1", "c", "rt3", now, Duration::ZERO, LONG)
            .await
            .unwrap(),
        RefreshOutcome::ReuseDetected
    );
    assert_eq!(
        s.rotate_refresh_token("g", "rt2", "c", "rt4", now, Duration::ZERO, LONG)
            .await
            .unwrap(),
        RefreshOutcome::Revoked
    );
}

async fn refresh_of_another_client_changes_nothing(ctx: Ctx) {
    let s = &ctx.store;
    s.put_grant(&grant("g"), LONG).await.unwrap();
    s.put_refresh_token("g", "rt", &refresh_record("c"), LONG)
        .await
        .unwrap();
    // Presented by another client many times, long apart: never consumed, never "reused".
    for i in 0..3 {
        assert_eq!(
            s.rotate_refresh_token(
                "g",
                "rt",
                "intruder",
                "x",
                1_000 + i * 100,
                Duration::ZERO,
                LONG
            )
            .await
            .unwrap(),
            RefreshOutcome::WrongClient
        );
    }
    assert!(matches!(
        s.rotate_refresh_token("g", "rt", "c", "rt2", 2_000, Duration::ZERO, LONG)
            .await
            .unwrap(),
        RefreshOutcome::Rotated(_)
    ));
}

async fn revoked_grant_stops_codes_and_refresh(ctx: Ctx) {
    let s = &ctx.store;
    s.put_grant(&grant("g"), LONG).await.unwrap();
    s.put_refresh_token("g", "rt", &refresh_record("c"), LONG)
        .await
        .unwrap();
    s.revoke_grant("g").await.unwrap();
    assert_eq!(
        s.rotate_refresh_token("g", "rt", "c", "rt2", 1, Duration::ZERO, LONG)
            .await
            .unwrap(),
        RefreshOutcome::Revoked
    );
    assert_eq!(
        s.get_refresh_token("g", "rt2").await.unwrap(),
        None,
        "no new token after revocation"
    );
}

async fn deny_list_expires(ctx: Ctx) {
    let s = &ctx.store;
    assert!(!s.is_access_token_denied("j").await.unwrap());
    s.deny_access_token("j", TTL).await.unwrap();
    assert!(s.is_access_token_denied("j").await.unwrap());
    ctx.pass(TTL).await;
    assert!(!s.is_access_token_denied("j").await.unwrap());
}

async fn rate_limit_counts_and_resets(ctx: Ctx) {
    let s = &ctx.store;
    for expected_remaining in [2, 1, 0] {
        let d = s.hit_rate_limit("token:1.2.3.4", 3, TTL).await.unwrap();
        assert!(d.allowed);
        assert_eq!(d.remaining, expected_remaining);
    }
    let refused = s.hit_rate_limit("token:1.2.3.4", 3, TTL).await.unwrap();
    assert!(!refused.allowed);
    assert!(refused.retry_after_secs >= 1);
    assert!(
        s.hit_rate_limit("token:5.6.7.8", 3, TTL)
            .await
            .unwrap()
            .allowed,
        "buckets are separate"
    );
    ctx.pass(TTL).await;
    assert!(
        s.hit_rate_limit("token:1.2.3.4", 3, TTL)
            .await
            .unwrap()
            .allowed,
        "the window resets"
    );
}

/// Redis-only: two replicas (two store instances) share one limit and one code.
#[tokio::test]
async fn redis_replicas_share_limits_and_single_use() {
    let prefix = unique_prefix();
    let a = RedisStore::connect(redis_server::url(), &prefix)
        .await
        .unwrap();
    let b = RedisStore::connect(redis_server::url(), &prefix)
        .await
        .unwrap();
    assert!(a.hit_rate_limit("r", 2, LONG).await.unwrap().allowed);
    assert!(b.hit_rate_limit("r", 2, LONG).await.unwrap().allowed);
    assert!(!a.hit_rate_limit("r", 2, LONG).await.unwrap().allowed);
    a.put_code("g", "h", &code(), LONG).await.unwrap();
    assert!(matches!(
        b.take_code("g", "h", LONG).await.unwrap(),
        CodeTake::Redeemed(_)
    ));
    assert_eq!(
        a.take_code("g", "h", LONG).await.unwrap(),
        CodeTake::Replayed
    );
}

/// Redis-only: every key has a TTL except client registrations, keys are namespaced and
/// versioned, and no stored value contains a raw secret.
#[tokio::test]
async fn redis_keys_are_namespaced_expire_and_hold_no_raw_secrets() {
    let prefix = unique_prefix();
    let store = RedisStore::connect(redis_server::url(), &prefix)
        .await
        .unwrap();
    let raw_code = "g1.RAW-CODE-SECRET-VALUE";
    let raw_refresh = "g1.RAW-REFRESH-SECRET-VALUE";
    let code_hash = auth_proxy::crypto::sha256_hex(raw_code);
    let rt_hash = auth_proxy::crypto::sha256_hex(raw_refresh);
    store.put_client(&client("c")).await.unwrap();
    store.put_grant(&grant("g1"), LONG).await.unwrap();
    store
        .put_code("g1", &code_hash, &code(), LONG)
        .await
        .unwrap();
    store
        .put_refresh_token("g1", &rt_hash, &refresh_record("c"), LONG)
        .await
        .unwrap();
    store
        .rotate_refresh_token("g1", &rt_hash, "c", "next", 1, Duration::ZERO, LONG)
        .await
        .unwrap();
    store
        .put_pending_authorization("f", &pending(), LONG)
        .await
        .unwrap();
    store.deny_access_token("j", LONG).await.unwrap();
    store.hit_rate_limit("b", 5, LONG).await.unwrap();

    let client = redis::Client::open(redis_server::url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.len() >= 8, "{keys:?}");
    for key in keys {
        assert!(key.starts_with(&format!("{prefix}:v1:")), "{key}");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        if key.contains(":client:") {
            assert_eq!(ttl, -1, "client registrations do not expire yet: {key}");
        } else {
            assert!(ttl > 0, "transient key without TTL: {key}");
        }
        let value: String = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(
            !value.contains("RAW-CODE-SECRET") && !value.contains("RAW-REFRESH-SECRET"),
            "{key}"
        );
        assert!(!key.contains("RAW-"), "{key}");
    }
}

/// Redis-only: a dead Redis is a quick `Unavailable`, not a hang.
#[tokio::test]
async fn redis_outage_is_reported_quickly() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = std::time::Instant::now();
    let result = RedisStore::connect(&format!("redis://127.0.0.1:{port}"), "x").await;
    assert!(matches!(
        result,
        Err(auth_proxy::store::StoreError::Unavailable(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(10));
}
