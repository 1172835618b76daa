//! One contract, two stores: every test in `contract!` runs against the in-memory store (time
//! moved with a fake clock) and against real redis-servers (one Redis, a Cluster, Sentinel;
//! short TTLs, expiry observed by polling the server with a deadline, never by sleeping a fixed
//! time). Redis-only tests at the end cover what only a shared server has: replicas, key layout,
//! outages.
//!
//! Refresh rotation semantics pinned here (the `Store` docs): a used token may be presented
//! again while *less than* `grace` has passed since its first use; with a zero grace any second
//! presentation is reuse, even in the same millisecond or from a replica whose clock lags.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use auth_proxy::clients::{ApplicationType, GrantType, ResponseType};
use auth_proxy::clock::{Clock, FakeClock};
use auth_proxy::crypto::random_token;
use auth_proxy::ids::{ClientId, ClientState, GrantId, Jti, RedirectUri, TokenHash};
use auth_proxy::store::keys::Keys;
use auth_proxy::store::{
    ClientPut, ClientRecord, CodeRecord, CodeTake, ConnectionsSession, GrantRecord, JtiKind,
    LinkFinished, LinkOutcome, MemoryStore, NextcloudLink, PendingAuthorization, RedisStore,
    RefreshOutcome, RefreshRecord, RefreshRotation, SessionFlow, Store, StoreError,
    TokenEndpointAuthMethod, UpstreamFlow, UserGrant,
};
use mcp_shared::ScopeSet;
use redis::aio::MultiplexedConnection;

use crate::redis_server::{self, RedisServer};

/// Short enough to wait for on Redis, long enough that the steps before expiry finish first.
const TTL: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(600);
/// Tasks racing for one single-use thing.
const RACERS: usize = 16;

pub struct Ctx {
    store: Arc<dyn Store>,
    backend: Backend,
}

enum Backend {
    Memory(FakeClock),
    Redis { keys: Keys, raw: Raw },
}

/// A connection of the test's own to the server(s) behind a Redis store.
#[derive(Clone)]
enum Raw {
    Single(MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Raw {
    async fn pttl(&self, key: &str) -> i64 {
        match self {
            Raw::Single(c) => pttl(&mut c.clone(), key).await,
            Raw::Cluster(c) => pttl(&mut c.clone(), key).await,
        }
    }
}

impl Ctx {
    /// Lets the entry at `key` (written `ttl` ago or less) expire. Memory: the fake clock moves
    /// past `ttl`. Redis: polls until the server has dropped the key, within a deadline, which
    /// also proves the key carried a TTL.
    async fn expire(&self, ttl: Duration, key: impl FnOnce(&Keys) -> String) {
        match &self.backend {
            Backend::Memory(clock) => clock.advance_millis(millis(ttl) + 1),
            Backend::Redis { keys, raw } => {
                let key = key(keys);
                let deadline = mcp_shared::ops::clock::monotonic() + ttl + Duration::from_secs(5);
                loop {
                    let pttl = raw.pttl(&key).await;
                    if pttl == -2 {
                        return;
                    }
                    assert_ne!(pttl, -1, "{key} has no TTL");
                    assert!(
                        mcp_shared::ops::clock::monotonic() < deadline,
                        "{key} still there ({pttl} ms left) well after its TTL"
                    );
                    let nap = u64::try_from(pttl.clamp(5, 50)).unwrap_or(50);
                    tokio::time::sleep(Duration::from_millis(nap)).await;
                }
            }
        }
    }

    /// Asserts that the entry at `key` lives longer than `d` from now. Memory: the fake clock
    /// moves past `d` (the caller then checks the entry is still there). Redis: its PTTL.
    async fn assert_outlives(&self, d: Duration, key: impl FnOnce(&Keys) -> String) {
        match &self.backend {
            Backend::Memory(clock) => clock.advance_millis(millis(d) + 1),
            Backend::Redis { keys, raw } => {
                let key = key(keys);
                let left = raw.pttl(&key).await;
                assert!(left > millis(d), "{key} has only {left} ms left");
            }
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap()
}

async fn pttl(raw: &mut impl redis::aio::ConnectionLike, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query_async(raw).await.unwrap()
}

fn memory() -> Ctx {
    let clock = FakeClock::at_secs(1_700_000_000);
    let dyn_clock: Arc<dyn Clock> = Arc::new(clock.clone());
    Ctx {
        store: Arc::new(MemoryStore::new(dyn_clock)),
        backend: Backend::Memory(clock),
    }
}

/// Tests share one server; each gets its own key space.
fn unique_prefix() -> String {
    format!("contract-{}", random_token(9))
}

async fn raw_connection(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn redis() -> Ctx {
    let url = redis_server::url();
    let store = RedisStore::connect(url, &unique_prefix()).await.unwrap();
    let keys = store.keys().clone();
    Ctx {
        store: Arc::new(store),
        backend: Backend::Redis {
            keys,
            raw: Raw::Single(raw_connection(url).await),
        },
    }
}

/// The store on a 3-master Redis Cluster (with replicas), shared by the tests like the one
/// Redis of [`redis`].
async fn cluster() -> Ctx {
    let url = redis_server::cluster_url();
    let store = RedisStore::connect(url, &unique_prefix()).await.unwrap();
    let keys = store.keys().clone();
    let nodes = auth_proxy::store::redis::Target::parse(url)
        .unwrap()
        .topology;
    let auth_proxy::store::redis::Topology::Cluster(nodes) = nodes else {
        panic!("not a cluster URL");
    };
    let raw = redis::cluster::ClusterClient::new(nodes)
        .unwrap()
        .get_async_connection()
        .await
        .unwrap();
    Ctx {
        store: Arc::new(store),
        backend: Backend::Redis {
            keys,
            raw: Raw::Cluster(raw),
        },
    }
}

/// The store on Redis Sentinel (one master, one replica), shared by the tests like the one
/// Redis of [`redis`]; the test's own connection goes to the master the sentinels name.
async fn sentinel() -> Ctx {
    let url = redis_server::sentinel_url();
    let store = RedisStore::connect(url, &unique_prefix()).await.unwrap();
    let keys = store.keys().clone();
    let target = auth_proxy::store::redis::Target::parse(url)
        .unwrap()
        .topology;
    let auth_proxy::store::redis::Topology::Sentinel(target) = target else {
        panic!("not a sentinel URL");
    };
    let mut asked = raw_connection(&target.sentinels[0]).await;
    let (host, port): (String, u16) = redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg(&target.master_name)
        .query_async(&mut asked)
        .await
        .unwrap();
    Ctx {
        store: Arc::new(store),
        backend: Backend::Redis {
            keys,
            raw: Raw::Single(raw_connection(&format!("redis://{host}:{port}")).await),
        },
    }
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() { super::$name(super::memory()).await; }
            )*
        }
        mod redis_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() { super::$name(super::redis().await).await; }
            )*
        }
        mod redis_cluster_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() { super::$name(super::cluster().await).await; }
            )*
        }
        mod redis_sentinel_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() { super::$name(super::sentinel().await).await; }
            )*
        }
    };
}

contract!(
    clients_round_trip,
    clients_expire_unless_touched,
    deduplicated_registration_returns_the_first_client,
    fingerprint_lives_and_dies_with_its_client,
    concurrent_deduplicated_registration_has_one_winner,
    flows_are_taken_exactly_once_under_concurrency,
    flows_expire,
    grants_update_keep_and_revoke,
    codes_redeem_once_then_replay_then_expire,
    a_grant_and_its_code_are_stored_together,
    code_take_has_one_winner_under_concurrency,
    a_code_for_another_resource_is_left_in_place,
    refresh_rotates_with_grace_and_detects_reuse,
    zero_grace_makes_any_second_presentation_reuse,
    concurrent_rotation_with_zero_grace_has_one_winner,
    concurrent_rotation_within_grace_all_succeed,
    refresh_of_another_client_changes_nothing,
    refresh_tokens_keep_their_grant_alive_and_expire,
    revoked_grant_stops_codes_and_refresh,
    deny_list_expires,
    rate_limit_counts_and_resets,
    nextcloud_links_replace_and_expire,
    upstream_refresh_lock_has_one_holder_and_expires,
    nextcloud_credentials_are_taken_once_and_live_while_used,
    assertion_ids_are_claimed_once_per_scope_and_expire,
    concurrent_assertion_claims_have_one_winner,
    user_grant_index_puts_touches_lists_removes_and_expires,
    session_flows_are_taken_once_and_expire,
    sessions_read_delete_and_expire,
);

fn gid(id: &str) -> GrantId {
    GrantId::parse(id).unwrap()
}

/// The store's name for the code or refresh token `token` (the tests name tokens by short
/// labels).
fn th(token: &str) -> TokenHash {
    TokenHash::of(token)
}

fn cid(id: &str) -> ClientId {
    ClientId::parse(id).unwrap()
}

fn jti(id: &str) -> Jti {
    Jti::parse(id).unwrap()
}

fn client(id: &str) -> ClientRecord {
    ClientRecord {
        client_id: cid(id),
        client_name: Some("C".into()),
        redirect_uris: vec!["http://127.0.0.1/cb".into()],
        token_endpoint_auth_method: TokenEndpointAuthMethod::None,
        client_secret_hash: None,
        grant_types: vec![GrantType::AuthorizationCode],
        response_types: vec![ResponseType::Code],
        scope: None,
        client_uri: None,
        logo_uri: None,
        software_id: None,
        software_version: None,
        created_at: 1,
        application_type: Some(ApplicationType::Native),
    }
}

fn pending() -> PendingAuthorization {
    PendingAuthorization {
        client_id: cid("c"),
        redirect_uri: RedirectUri::parse("http://127.0.0.1/cb").unwrap(),
        redirect_uri_given: true,
        state: ClientState::parse("s").unwrap(),
        scope: ScopeSet::parse("notes:read").unwrap(),
        resource: "http://127.0.0.1:8000/mcp".into(),
        code_challenge: "x".repeat(43),
        csrf_hash: "h".into(),
        browser_hash: "b".into(),
        created_at: 1,
    }
}

fn upstream_flow() -> UpstreamFlow {
    UpstreamFlow {
        authorization: pending(),
        pkce_verifier: "v".into(),
        nonce: "n".into(),
        created_at: 1,
    }
}

fn grant(id: &str) -> GrantRecord {
    GrantRecord {
        grant_id: gid(id),
        subject: "alice".into(),
        client_id: cid("c"),
        scope: ScopeSet::parse("notes:read").unwrap(),
        resource: "http://127.0.0.1:8000/mcp".into(),
        upstream_sealed: "sealed-1".into(),
        created_at: 1,
        origin: Default::default(),
    }
}

fn code() -> CodeRecord {
    CodeRecord {
        client_id: cid("c"),
        redirect_uri: RedirectUri::parse("http://127.0.0.1/cb").unwrap(),
        redirect_uri_given: true,
        code_challenge: "x".repeat(43),
        scope: ScopeSet::parse("notes:read").unwrap(),
        resource: "http://127.0.0.1:8000/mcp".into(),
        created_at: 1,
    }
}

fn refresh_record(client: &str) -> RefreshRecord {
    RefreshRecord {
        client_id: cid(client),
        issued_at: 1,
    }
}

/// Unix ms handed to rotations (the callers' clock; independent of the store's TTL clock).
const NOW: i64 = 1_700_000_000_000;
const GRACE: Duration = Duration::from_secs(10);

async fn clients_round_trip(ctx: Ctx) {
    let s = &ctx.store;
    s.ping().await.unwrap();
    assert_eq!(s.get_client(&cid("a")).await.unwrap(), None);
    s.put_client(&client("a"), LONG).await.unwrap();
    assert_eq!(s.get_client(&cid("a")).await.unwrap(), Some(client("a")));
    let mut renamed = client("a");
    renamed.client_name = Some("Renamed".into());
    s.put_client(&renamed, LONG).await.unwrap();
    assert_eq!(s.get_client(&cid("a")).await.unwrap(), Some(renamed));
    assert_eq!(s.get_client(&cid("b")).await.unwrap(), None);
}

async fn clients_expire_unless_touched(ctx: Ctx) {
    let s = &ctx.store;
    s.put_client(&client("idle"), TTL).await.unwrap();
    s.put_client(&client("used"), TTL).await.unwrap();
    assert!(s.touch_client(&cid("used"), LONG).await.unwrap());
    assert!(!s.touch_client(&cid("never-stored"), LONG).await.unwrap());
    assert_eq!(
        s.get_client(&cid("never-stored")).await.unwrap(),
        None,
        "touch creates nothing"
    );
    ctx.expire(TTL, |k| k.client("idle")).await;
    assert_eq!(s.get_client(&cid("idle")).await.unwrap(), None);
    assert!(
        !s.touch_client(&cid("idle"), LONG).await.unwrap(),
        "an expired client cannot be revived"
    );
    ctx.assert_outlives(TTL, |k| k.client("used")).await;
    assert_eq!(
        s.get_client(&cid("used")).await.unwrap(),
        Some(client("used"))
    );
}

async fn deduplicated_registration_returns_the_first_client(ctx: Ctx) {
    let s = &ctx.store;
    assert_eq!(s.find_client_by_fingerprint("fp").await.unwrap(), None);
    assert_eq!(
        s.put_client_deduplicated("fp", &client("first"), LONG)
            .await
            .unwrap(),
        ClientPut::Created
    );
    assert_eq!(
        s.get_client(&cid("first")).await.unwrap(),
        Some(client("first"))
    );
    assert_eq!(
        s.find_client_by_fingerprint("fp").await.unwrap(),
        Some(client("first"))
    );
    assert_eq!(
        s.put_client_deduplicated("fp", &client("second"), LONG)
            .await
            .unwrap(),
        ClientPut::Existing(Box::new(client("first")))
    );
    assert_eq!(
        s.get_client(&cid("second")).await.unwrap(),
        None,
        "a repeated registration stores no second record"
    );
    assert_eq!(
        s.put_client_deduplicated("other-fp", &client("third"), LONG)
            .await
            .unwrap(),
        ClientPut::Created,
        "other metadata, other client"
    );
    assert_eq!(
        s.get_client(&cid("third")).await.unwrap(),
        Some(client("third"))
    );
    assert_eq!(
        s.find_client_by_fingerprint("fp").await.unwrap(),
        Some(client("first"))
    );
}

async fn fingerprint_lives_and_dies_with_its_client(ctx: Ctx) {
    let s = &ctx.store;
    // Used: touching the client renews its fingerprint as well.
    s.put_client_deduplicated("used-fp", &client("used"), TTL)
        .await
        .unwrap();
    // Unused: both go at the idle TTL.
    s.put_client_deduplicated("idle-fp", &client("idle"), TTL)
        .await
        .unwrap();
    assert!(s.touch_client(&cid("used"), LONG).await.unwrap());
    ctx.expire(TTL, |k| k.client("idle")).await;
    ctx.expire(TTL, |k| k.client_fingerprint("idle-fp")).await;
    assert_eq!(s.get_client(&cid("idle")).await.unwrap(), None);
    assert_eq!(s.find_client_by_fingerprint("idle-fp").await.unwrap(), None);
    ctx.assert_outlives(TTL, |k| k.client("used")).await;
    ctx.assert_outlives(TTL, |k| k.client_fingerprint("used-fp"))
        .await;
    assert_eq!(
        s.find_client_by_fingerprint("used-fp").await.unwrap(),
        Some(client("used"))
    );
    // After expiry the same metadata registers afresh, under a new id.
    assert_eq!(
        s.put_client_deduplicated("idle-fp", &client("idle-again"), LONG)
            .await
            .unwrap(),
        ClientPut::Created
    );
    assert_eq!(
        s.find_client_by_fingerprint("idle-fp").await.unwrap(),
        Some(client("idle-again"))
    );
}

async fn concurrent_deduplicated_registration_has_one_winner(ctx: Ctx) {
    let s = ctx.store.clone();
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let mine = client(&format!("racer-{i}"));
                (
                    mine.clone(),
                    s.put_client_deduplicated("race-fp", &mine, LONG)
                        .await
                        .unwrap(),
                )
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut answers = BTreeSet::new();
    for t in tasks {
        let (mine, put) = t.await.unwrap();
        match put {
            ClientPut::Created => {
                answers.insert(mine.client_id.clone());
                winners.push(mine);
            }
            ClientPut::Existing(existing) => {
                answers.insert(existing.client_id);
            }
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one registration created a client"
    );
    let winner = &winners[0];
    assert_eq!(
        answers,
        BTreeSet::from([winner.client_id.clone()]),
        "every racer answers with the winner"
    );
    for i in 0..RACERS {
        let id = format!("racer-{i}");
        let stored = s.get_client(&cid(&id)).await.unwrap();
        if winner.client_id == id.as_str() {
            assert_eq!(stored.as_ref(), Some(winner));
        } else {
            assert_eq!(stored, None, "loser {id} left no record behind");
        }
    }
    assert_eq!(
        s.find_client_by_fingerprint("race-fp")
            .await
            .unwrap()
            .as_ref(),
        Some(winner)
    );
}

async fn flows_are_taken_exactly_once_under_concurrency(ctx: Ctx) {
    let s = ctx.store.clone();
    s.put_pending_authorization("f1", &pending(), LONG)
        .await
        .unwrap();
    s.put_upstream_flow("u1", &upstream_flow(), LONG)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                (
                    s.take_pending_authorization("f1").await.unwrap(),
                    s.take_upstream_flow("u1").await.unwrap(),
                )
            })
        })
        .collect();
    let (mut pending_wins, mut upstream_wins) = (Vec::new(), Vec::new());
    for t in tasks {
        let (p, u) = t.await.unwrap();
        pending_wins.extend(p);
        upstream_wins.extend(u);
    }
    assert_eq!(pending_wins, vec![pending()]);
    assert_eq!(upstream_wins, vec![upstream_flow()]);
    assert_eq!(s.take_pending_authorization("f1").await.unwrap(), None);
    assert_eq!(s.take_upstream_flow("u1").await.unwrap(), None);
}

async fn flows_expire(ctx: Ctx) {
    let s = &ctx.store;
    s.put_pending_authorization("f", &pending(), TTL)
        .await
        .unwrap();
    s.put_upstream_flow("u", &upstream_flow(), TTL)
        .await
        .unwrap();
    ctx.expire(TTL, |k| k.pending("f")).await;
    ctx.expire(TTL, |k| k.upstream_flow("u")).await;
    assert_eq!(s.take_pending_authorization("f").await.unwrap(), None);
    assert_eq!(s.take_upstream_flow("u").await.unwrap(), None);
}

async fn grants_update_keep_and_revoke(ctx: Ctx) {
    let s = &ctx.store;
    assert_eq!(s.get_grant(&gid("g")).await.unwrap(), None);
    s.put_grant(&grant("g"), LONG).await.unwrap();
    assert_eq!(s.get_grant(&gid("g")).await.unwrap(), Some(grant("g")));
    assert!(s
        .update_grant_upstream(&gid("g"), "sealed-2")
        .await
        .unwrap());
    let mut updated = grant("g");
    updated.upstream_sealed = "sealed-2".into();
    assert_eq!(s.get_grant(&gid("g")).await.unwrap(), Some(updated));
    assert!(!s.update_grant_upstream(&gid("missing"), "x").await.unwrap());
    assert_eq!(
        s.get_grant(&gid("missing")).await.unwrap(),
        None,
        "no upsert"
    );
    s.revoke_grant(&gid("g")).await.unwrap();
    s.revoke_grant(&gid("g")).await.unwrap(); // idempotent
    assert_eq!(s.get_grant(&gid("g")).await.unwrap(), None);
    assert!(!s
        .update_grant_upstream(&gid("g"), "sealed-3")
        .await
        .unwrap());
    assert_eq!(
        s.get_grant(&gid("g")).await.unwrap(),
        None,
        "revoked stays revoked"
    );

    // An update keeps the remaining lifetime: it neither drops nor renews the TTL.
    s.put_grant(&grant("short"), TTL).await.unwrap();
    assert!(s
        .update_grant_upstream(&gid("short"), "sealed-3")
        .await
        .unwrap());
    assert_eq!(
        s.get_grant(&gid("short"))
            .await
            .unwrap()
            .unwrap()
            .upstream_sealed
            .expose(),
        "sealed-3"
    );
    ctx.expire(TTL, |k| k.grant("short")).await;
    assert_eq!(s.get_grant(&gid("short")).await.unwrap(), None);
    assert!(!s
        .update_grant_upstream(&gid("short"), "sealed-4")
        .await
        .unwrap());
}

async fn a_grant_and_its_code_are_stored_together(ctx: Ctx) {
    let s = &ctx.store;
    s.put_grant_and_code(&grant("short"), TTL, &th("c1"), &code(), LONG)
        .await
        .unwrap();
    s.put_grant_and_code(&grant("long"), LONG, &th("c2"), &code(), LONG)
        .await
        .unwrap();
    assert_eq!(
        s.get_grant(&gid("short")).await.unwrap(),
        Some(grant("short"))
    );
    assert_eq!(
        s.take_code(&gid("long"), &th("c2"), LONG, None)
            .await
            .unwrap(),
        CodeTake::Redeemed {
            code: code(),
            grant: Box::new(grant("long"))
        }
    );
    // Each with its own lifetime: the grant's end leaves its code unredeemable.
    ctx.expire(TTL, |k| k.grant("short")).await;
    assert_eq!(
        s.take_code(&gid("short"), &th("c1"), LONG, None)
            .await
            .unwrap(),
        CodeTake::Unknown
    );
}

async fn codes_redeem_once_then_replay_then_expire(ctx: Ctx) {
    let s = &ctx.store;
    s.put_grant(&grant("g"), LONG).await.unwrap();
    s.put_code(&gid("g"), &th("h1"), &code(), LONG)
        .await
        .unwrap();
    // The grant comes back with the code, read in the same atomic step.
    assert_eq!(
        s.take_code(&gid("g"), &th("h1"), LONG, None).await.unwrap(),
        CodeTake::Redeemed {
            code: code(),
            grant: Box::new(grant("g"))
        }
    );
    for _ in 0..2 {
        assert_eq!(
            s.take_code(&gid("g"), &th("h1"), LONG, None).await.unwrap(),
            CodeTake::Replayed
        );
    }
    assert_eq!(
        s.take_code(&gid("g"), &th("other"), LONG, None)
            .await
            .unwrap(),
        CodeTake::Unknown
    );
    assert_eq!(
        s.take_code(&gid("other-grant"), &th("h1"), LONG, None)
            .await
            .unwrap(),
        CodeTake::Unknown,
        "codes are per grant"
    );

    // An unredeemed code expires.
    s.put_code(&gid("g"), &th("h2"), &code(), TTL)
        .await
        .unwrap();
    ctx.expire(TTL, |k| k.code("g", &th("h2"))).await;
    assert_eq!(
        s.take_code(&gid("g"), &th("h2"), LONG, None).await.unwrap(),
        CodeTake::Unknown
    );

    // The replay marker expires after its window.
    s.put_code(&gid("g"), &th("h3"), &code(), LONG)
        .await
        .unwrap();
    assert!(matches!(
        s.take_code(&gid("g"), &th("h3"), TTL, None).await.unwrap(),
        CodeTake::Redeemed { .. }
    ));
    assert_eq!(
        s.take_code(&gid("g"), &th("h3"), TTL, None).await.unwrap(),
        CodeTake::Replayed
    );
    ctx.expire(TTL, |k| k.code_used("g", &th("h3"))).await;
    assert_eq!(
        s.take_code(&gid("g"), &th("h3"), TTL, None).await.unwrap(),
        CodeTake::Unknown
    );
}

async fn a_code_for_another_resource_is_left_in_place(ctx: Ctx) {
    let s = &ctx.store;
    s.put_grant(&grant("g"), LONG).await.unwrap();
    s.put_code(&gid("g"), &th("h"), &code(), LONG)
        .await
        .unwrap();
    for _ in 0..2 {
        assert_eq!(
            s.take_code(&gid("g"), &th("h"), LONG, Some("https://other.example/mcp"))
                .await
                .unwrap(),
            CodeTake::ResourceMismatch
        );
    }
    // Still live: the right resource (or none) redeems it, once.
    assert_eq!(
        s.take_code(&gid("g"), &th("h"), LONG, Some("http://127.0.0.1:8000/mcp"))
            .await
            .unwrap(),
        CodeTake::Redeemed {
            code: code(),
            grant: Box::new(grant("g"))
        }
    );
    assert_eq!(
        s.take_code(&gid("g"), &th("h"), LONG, Some("https://other.example/mcp"))
            .await
            .unwrap(),
        CodeTake::Replayed,
        "a spent code is a replay whatever the resource"
    );
    assert_eq!(
        s.take_code(
            &gid("g"),
            &th("none"),
            LONG,
            Some("https://other.example/mcp")
        )
        .await
        .unwrap(),
        CodeTake::Unknown
    );
}

async fn code_take_has_one_winner_under_concurrency(ctx: Ctx) {
    let s = ctx.store.clone();
    s.put_grant(&grant("g"), LONG).await.unwrap();
    s.put_code(&gid("g"), &th("race"), &code(), LONG)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                s.take_code(&gid("g"), &th("race"), LONG, None)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let (mut redeemed, mut replayed) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            CodeTake::Redeemed { code: c, grant: g } => {
                assert_eq!(c, code());
                assert_eq!(g.grant_id, gid("g"));
                redeemed += 1;
            }
            CodeTake::Replayed => replayed += 1,
            other => panic!("a concurrent take saw neither the code nor its marker: {other:?}"),
        }
    }
    assert_eq!((redeemed, replayed), (1, RACERS - 1));
}

async fn rotate(
    s: &Arc<dyn Store>,
    presented: &str,
    new: &str,
    now: i64,
    grace: Duration,
) -> RefreshOutcome {
    s.rotate_refresh_token(&RefreshRotation {
        grant_id: &gid("g"),
        presented_hash: &th(presented),
        client_id: &cid("c"),
        new_hash: &th(new),
        now_ms: now,
        grace,
        ttl: LONG,
    })
    .await
    .unwrap()
}

/// A grant `g` of client `c` with a first refresh token `rt1`.
async fn family(s: &Arc<dyn Store>) {
    s.put_grant(&grant("g"), LONG).await.unwrap();
    s.put_refresh_token(&gid("g"), &th("rt1"), &refresh_record("c"), LONG)
        .await
        .unwrap();
}

async fn refresh_rotates_with_grace_and_detects_reuse(ctx: Ctx) {
    let s = &ctx.store;
    family(s).await;
    assert_eq!(
        s.get_refresh_token(&gid("g"), &th("rt1")).await.unwrap(),
        Some(refresh_record("c"))
    );

    assert_eq!(
        rotate(s, "rt1", "rt2", NOW, GRACE).await,
        RefreshOutcome::Rotated(grant("g"))
    );
    assert_eq!(
        s.get_refresh_token(&gid("g"), &th("rt2")).await.unwrap(),
        Some(RefreshRecord {
            client_id: cid("c"),
            issued_at: NOW / 1000,
        })
    );
    // rt1 again within the grace window (a client retrying): a sibling token, still fine.
    assert!(matches!(
        rotate(s, "rt1", "rt2b", NOW + 9_999, GRACE).await,
        RefreshOutcome::Rotated(_)
    ));
    assert!(s
        .get_refresh_token(&gid("g"), &th("rt2b"))
        .await
        .unwrap()
        .is_some());
    // The chain continues from rt2, then rt3.
    assert!(matches!(
        rotate(s, "rt2", "rt3", NOW + 9_999, GRACE).await,
        RefreshOutcome::Rotated(_)
    ));
    assert!(matches!(
        rotate(s, "rt3", "rt4", NOW + 9_999, GRACE).await,
        RefreshOutcome::Rotated(_)
    ));
    // The grace window counts from the first use, not from the latest presentation.
    assert!(matches!(
        rotate(s, "rt1", "rt5", NOW + 10_000, GRACE).await,
        RefreshOutcome::ReuseDetected(grant) if grant.grant_id == gid("g")
    ));
    // The family is revoked: every member, old or new, used or not, sees it.
    assert_eq!(s.get_grant(&gid("g")).await.unwrap(), None);
    for member in ["rt1", "rt2", "rt2b", "rt3", "rt4"] {
        assert_eq!(
            rotate(s, member, "x", NOW + 10_001, GRACE).await,
            RefreshOutcome::Revoked,
            "{member}"
        );
    }
    assert_eq!(
        s.get_refresh_token(&gid("g"), &th("rt5")).await.unwrap(),
        None
    );
    assert_eq!(
        s.get_refresh_token(&gid("g"), &th("x")).await.unwrap(),
        None
    );
    assert_eq!(
        rotate(s, "never-issued", "y", NOW, GRACE).await,
        RefreshOutcome::Unknown
    );
}

async fn zero_grace_makes_any_second_presentation_reuse(ctx: Ctx) {
    let s = &ctx.store;
    family(s).await;
    assert!(matches!(
        rotate(s, "rt1", "rt2", NOW, Duration::ZERO).await,
        RefreshOutcome::Rotated(_)
    ));
    // The same millisecond, and even a replica whose clock lags 5 s: reuse.
    assert!(matches!(
        rotate(s, "rt1", "rt3", NOW - 5_000, Duration::ZERO).await,
        RefreshOutcome::ReuseDetected(grant) if grant.grant_id == gid("g")
    ));
    assert_eq!(
        rotate(s, "rt2", "rt4", NOW, Duration::ZERO).await,
        RefreshOutcome::Revoked
    );

    // A lagging clock does not widen a non-zero grace either: the age is clamped at zero.
    s.put_grant(&grant("g"), LONG).await.unwrap();
    s.put_refresh_token(&gid("g"), &th("r1"), &refresh_record("c"), LONG)
        .await
        .unwrap();
    assert!(matches!(
        rotate(s, "r1", "r2", NOW, GRACE).await,
        RefreshOutcome::Rotated(_)
    ));
    assert!(matches!(
        rotate(s, "r1", "r2b", NOW - 60_000, GRACE).await,
        RefreshOutcome::Rotated(_)
    ));
    assert!(matches!(
        rotate(s, "r1", "r2c", NOW + 10_000, GRACE).await,
        RefreshOutcome::ReuseDetected(grant) if grant.grant_id == gid("g")
    ));
}

/// The same token presented by `RACERS` tasks at the same instant.
async fn race_rotation(s: &Arc<dyn Store>, grace: Duration) -> Vec<RefreshOutcome> {
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.rotate_refresh_token(&RefreshRotation {
                    grant_id: &gid("g"),
                    presented_hash: &th("rt1"),
                    client_id: &cid("c"),
                    new_hash: &th(&format!("new{i}")),
                    now_ms: NOW,
                    grace,
                    ttl: LONG,
                })
                .await
                .unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    outcomes
}

async fn concurrent_rotation_with_zero_grace_has_one_winner(ctx: Ctx) {
    let s = &ctx.store;
    family(s).await;
    let outcomes = race_rotation(s, Duration::ZERO).await;
    let count = |f: fn(&RefreshOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    // Serialised by the store: the first wins, the second is reuse and revokes the family,
    // everyone after that finds the grant gone.
    assert_eq!(
        (
            count(|o| matches!(o, RefreshOutcome::Rotated(_))),
            count(|o| matches!(o, RefreshOutcome::ReuseDetected(_))),
            count(|o| *o == RefreshOutcome::Revoked),
        ),
        (1, 1, RACERS - 2),
        "{outcomes:?}"
    );
    assert_eq!(s.get_grant(&gid("g")).await.unwrap(), None);
}

async fn concurrent_rotation_within_grace_all_succeed(ctx: Ctx) {
    let s = &ctx.store;
    family(s).await;
    let outcomes = race_rotation(s, GRACE).await;
    assert!(
        outcomes
            .iter()
            .all(|o| *o == RefreshOutcome::Rotated(grant("g"))),
        "{outcomes:?}"
    );
    for i in 0..RACERS {
        assert!(
            s.get_refresh_token(&gid("g"), &th(&format!("new{i}")))
                .await
                .unwrap()
                .is_some(),
            "new{i}"
        );
    }
    // Every sibling continues the family.
    assert!(matches!(
        rotate(s, "new7", "next", NOW + 1, GRACE).await,
        RefreshOutcome::Rotated(_)
    ));
}

async fn refresh_of_another_client_changes_nothing(ctx: Ctx) {
    let s = &ctx.store;
    family(s).await;
    // Presented by another client many times, long apart: never consumed, never "reused".
    for i in 0..3 {
        assert_eq!(
            s.rotate_refresh_token(&RefreshRotation {
                grant_id: &gid("g"),
                presented_hash: &th("rt1"),
                client_id: &cid("intruder"),
                new_hash: &th("x"),
                now_ms: NOW + i * 100_000,
                grace: Duration::ZERO,
                ttl: LONG,
            })
            .await
            .unwrap(),
            RefreshOutcome::WrongClient
        );
    }
    assert_eq!(
        s.get_refresh_token(&gid("g"), &th("x")).await.unwrap(),
        None
    );
    assert_eq!(s.get_grant(&gid("g")).await.unwrap(), Some(grant("g")));
    // Still unused: with a zero grace, only a first use can succeed.
    assert!(matches!(
        rotate(s, "rt1", "rt2", NOW + 1_000_000, Duration::ZERO).await,
        RefreshOutcome::Rotated(_)
    ));
}

async fn refresh_tokens_keep_their_grant_alive_and_expire(ctx: Ctx) {
    let s = &ctx.store;
    // The first refresh token extends a short-lived (code-stage) grant to its own lifetime.
    s.put_grant(&grant("g"), TTL).await.unwrap();
    s.put_refresh_token(&gid("g"), &th("rt1"), &refresh_record("c"), LONG)
        .await
        .unwrap();
    ctx.assert_outlives(TTL, |k| k.grant("g")).await;
    assert_eq!(s.get_grant(&gid("g")).await.unwrap(), Some(grant("g")));

    // A rotation renews grant, new token and use marker to the refresh lifetime.
    s.put_grant(&grant("h"), TTL).await.unwrap();
    s.put_refresh_token(&gid("h"), &th("r1"), &refresh_record("c"), TTL)
        .await
        .unwrap();
    assert!(matches!(
        s.rotate_refresh_token(&RefreshRotation {
            grant_id: &gid("h"),
            presented_hash: &th("r1"),
            client_id: &cid("c"),
            new_hash: &th("r2"),
            now_ms: NOW,
            grace: GRACE,
            ttl: LONG,
        })
        .await
        .unwrap(),
        RefreshOutcome::Rotated(_)
    ));
    ctx.assert_outlives(TTL, |k| k.grant("h")).await;
    ctx.assert_outlives(TTL, |k| k.refresh("h", &th("r2")))
        .await;
    ctx.assert_outlives(TTL, |k| k.refresh_used("h", &th("r1")))
        .await;
    assert!(s.get_grant(&gid("h")).await.unwrap().is_some());
    assert!(s
        .get_refresh_token(&gid("h"), &th("r2"))
        .await
        .unwrap()
        .is_some());

    // A refresh token (and with it a grant it set to the same lifetime) expires.
    s.put_grant(&grant("e"), LONG).await.unwrap();
    s.put_refresh_token(&gid("e"), &th("r1"), &refresh_record("c"), TTL)
        .await
        .unwrap();
    ctx.expire(TTL, |k| k.refresh("e", &th("r1"))).await;
    ctx.expire(TTL, |k| k.grant("e")).await;
    assert_eq!(
        s.get_refresh_token(&gid("e"), &th("r1")).await.unwrap(),
        None
    );
    assert_eq!(
        s.rotate_refresh_token(&RefreshRotation {
            grant_id: &gid("e"),
            presented_hash: &th("r1"),
            client_id: &cid("c"),
            new_hash: &th("r2"),
            now_ms: NOW,
            grace: GRACE,
            ttl: LONG,
        })
        .await
        .unwrap(),
        RefreshOutcome::Unknown
    );
}

async fn revoked_grant_stops_codes_and_refresh(ctx: Ctx) {
    let s = &ctx.store;
    family(s).await;
    s.put_code(&gid("g"), &th("code"), &code(), LONG)
        .await
        .unwrap();
    s.revoke_grant(&gid("g")).await.unwrap();
    assert_eq!(
        rotate(s, "rt1", "rt2", NOW, Duration::ZERO).await,
        RefreshOutcome::Revoked
    );
    assert_eq!(
        s.get_refresh_token(&gid("g"), &th("rt2")).await.unwrap(),
        None,
        "no new token after revocation"
    );
    // An unredeemed code of a revoked grant is dead too (and consumed by the attempt).
    for _ in 0..2 {
        assert_eq!(
            s.take_code(&gid("g"), &th("code"), LONG, None)
                .await
                .unwrap(),
            CodeTake::Unknown
        );
    }
}

async fn deny_list_expires(ctx: Ctx) {
    let s = &ctx.store;
    assert!(!s.is_access_token_denied(&jti("j")).await.unwrap());
    s.deny_access_token(&jti("j"), TTL).await.unwrap();
    s.deny_access_token(&jti("k"), LONG).await.unwrap();
    assert!(s.is_access_token_denied(&jti("j")).await.unwrap());
    ctx.expire(TTL, |k| k.denied("j")).await;
    assert!(!s.is_access_token_denied(&jti("j")).await.unwrap());
    assert!(s.is_access_token_denied(&jti("k")).await.unwrap());
}

async fn upstream_refresh_lock_has_one_holder_and_expires(ctx: Ctx) {
    let s = &ctx.store;
    let g = gid("g-lock");
    // Of many concurrent takers (replicas), exactly one holds the lock.
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let s = s.clone();
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            s.lock_upstream_refresh(&g, &format!("holder-{i}"), LONG)
                .await
                .unwrap()
                .then_some(i)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        winners.extend(t.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let winner = format!("holder-{}", winners[0]);
    // Only its holder releases it; another grant's lock is independent.
    s.unlock_upstream_refresh(&g, "someone-else").await.unwrap();
    assert!(!s.lock_upstream_refresh(&g, "late", LONG).await.unwrap());
    assert!(s
        .lock_upstream_refresh(&gid("g-other"), "x", LONG)
        .await
        .unwrap());
    s.unlock_upstream_refresh(&g, &winner).await.unwrap();
    assert!(s.lock_upstream_refresh(&g, "next", TTL).await.unwrap());
    // A holder that never releases (crashed) loses it when the TTL ends.
    ctx.expire(TTL, |k| k.refresh_lock(g.as_str())).await;
    assert!(s
        .lock_upstream_refresh(&g, "after-crash", LONG)
        .await
        .unwrap());
}

async fn assertion_ids_are_claimed_once_per_scope_and_expire(ctx: Ctx) {
    let s = &ctx.store;
    let ca = JtiKind::ClientAssertion;
    assert!(s
        .claim_jti(ca, "https://a.example/c", "j1", TTL)
        .await
        .unwrap());
    assert!(!s
        .claim_jti(ca, "https://a.example/c", "j1", LONG)
        .await
        .unwrap());
    // The same jti of another client, or of another kind, is another claim.
    assert!(s
        .claim_jti(ca, "https://b.example/c", "j1", LONG)
        .await
        .unwrap());
    assert!(s
        .claim_jti(JtiKind::IdJag, "https://a.example/c", "j1", LONG)
        .await
        .unwrap());
    // A refused second claim did not extend the first one's lifetime.
    ctx.expire(TTL, |k| k.jti(ca, "https://a.example/c", "j1"))
        .await;
    assert!(s
        .claim_jti(ca, "https://a.example/c", "j1", LONG)
        .await
        .unwrap());
    assert!(!s
        .claim_jti(ca, "https://b.example/c", "j1", LONG)
        .await
        .unwrap());
}

async fn concurrent_assertion_claims_have_one_winner(ctx: Ctx) {
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let s = ctx.store.clone();
        tasks.push(tokio::spawn(async move {
            s.claim_jti(JtiKind::ClientAssertion, "c", "race", LONG)
                .await
                .unwrap()
                .then_some(i)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        winners.extend(t.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
}

fn nextcloud_link() -> NextcloudLink {
    NextcloudLink {
        authorization: pending(),
        grant_id: gid("g-link"),
        subject: "alice".into(),
        upstream_sealed: "sealed-upstream".into(),
        nextcloud_user: "alice".into(),
        client_name: "Client".into(),
        poll_sealed: None,
        login_path: None,
        granted_sealed: None,
        finished: None,
        created_at: 1,
    }
}

fn user_grant(client: &str, created_at: i64) -> UserGrant {
    UserGrant {
        client_id: cid(client),
        client_name: Some(format!("Client «{client}» \"quoted\"")),
        scope: ScopeSet::parse("notes:read files:read").unwrap(),
        resource: "http://127.0.0.1:8000/mcp".into(),
        created_at,
        last_used: None,
    }
}

async fn user_grant_index_puts_touches_lists_removes_and_expires(ctx: Ctx) {
    let s = &ctx.store;
    let sorted = |mut v: Vec<(GrantId, UserGrant)>| {
        v.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        v
    };
    assert!(s.list_user_grants("alice").await.unwrap().is_empty());
    s.put_user_grant("alice", &gid("g1"), &user_grant("c", 10), LONG)
        .await
        .unwrap();
    s.put_user_grant("alice", &gid("g2"), &user_grant("d", 20), LONG)
        .await
        .unwrap();
    s.put_user_grant("bob", &gid("g3"), &user_grant("c", 30), LONG)
        .await
        .unwrap();
    assert_eq!(
        sorted(s.list_user_grants("alice").await.unwrap()),
        vec![
            (gid("g1"), user_grant("c", 10)),
            (gid("g2"), user_grant("d", 20))
        ]
    );
    // A touch sets last_used of that grant only, and never re-adds a grant not indexed.
    assert!(s
        .touch_user_grant("alice", &gid("g1"), 1_700_000_123, LONG)
        .await
        .unwrap());
    assert!(!s
        .touch_user_grant("alice", &gid("g3"), 1, LONG)
        .await
        .unwrap());
    let listed = sorted(s.list_user_grants("alice").await.unwrap());
    assert_eq!(listed[0].1.last_used, Some(1_700_000_123));
    assert_eq!(listed[0].1.client_name, user_grant("c", 10).client_name);
    assert_eq!(listed[1].1.last_used, None);
    s.remove_user_grants("alice", &[gid("g1"), gid("g-unknown")])
        .await
        .unwrap();
    s.remove_user_grants("alice", &[]).await.unwrap();
    assert_eq!(
        s.list_user_grants("alice").await.unwrap(),
        vec![(gid("g2"), user_grant("d", 20))]
    );
    assert!(!s
        .touch_user_grant("alice", &gid("g1"), 2, LONG)
        .await
        .unwrap());
    assert_eq!(s.list_user_grants("bob").await.unwrap().len(), 1);
    // A write renews the whole index to the TTL given; unused, it expires.
    s.put_user_grant("carol", &gid("g4"), &user_grant("c", 1), LONG)
        .await
        .unwrap();
    assert!(s
        .touch_user_grant("carol", &gid("g4"), 5, TTL)
        .await
        .unwrap());
    ctx.expire(TTL, |k| k.user_grants("carol")).await;
    assert!(s.list_user_grants("carol").await.unwrap().is_empty());
}

fn session_flow() -> SessionFlow {
    SessionFlow {
        pkce_verifier: "verifier".into(),
        nonce: "nonce".into(),
        browser_hash: "b".into(),
        created_at: 1,
    }
}

async fn session_flows_are_taken_once_and_expire(ctx: Ctx) {
    let s = &ctx.store;
    s.put_session_flow("c.one", &session_flow(), LONG)
        .await
        .unwrap();
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.take_session_flow("c.one").await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for r in racers {
        if let Some(flow) = r.await.unwrap() {
            assert_eq!(flow, session_flow());
            won += 1;
        }
    }
    assert_eq!(won, 1);
    // Not the consent flow's namespace.
    assert_eq!(s.take_upstream_flow("c.one").await.unwrap(), None);
    s.put_session_flow("c.two", &session_flow(), TTL)
        .await
        .unwrap();
    ctx.expire(TTL, |k| k.session_flow("c.two")).await;
    assert_eq!(s.take_session_flow("c.two").await.unwrap(), None);
}

async fn sessions_read_delete_and_expire(ctx: Ctx) {
    let s = &ctx.store;
    let session = ConnectionsSession {
        subject: "alice".into(),
        email: Some("alice@example.com".into()),
        csrf_hash: "h".into(),
        created_at: 1,
    };
    assert_eq!(s.get_session("one").await.unwrap(), None);
    s.put_session("one", &session, LONG).await.unwrap();
    s.put_session("two", &session, TTL).await.unwrap();
    // Reading does not take: every page load reads it.
    assert_eq!(s.get_session("one").await.unwrap(), Some(session.clone()));
    assert_eq!(s.get_session("one").await.unwrap(), Some(session.clone()));
    s.delete_session("one").await.unwrap();
    assert_eq!(s.get_session("one").await.unwrap(), None);
    ctx.expire(TTL, |k| k.session("two")).await;
    assert_eq!(s.get_session("two").await.unwrap(), None);
}

async fn nextcloud_links_replace_and_expire(ctx: Ctx) {
    let s = &ctx.store;
    assert_eq!(s.get_nextcloud_link("l").await.unwrap(), None);
    let mut link = nextcloud_link();
    s.put_nextcloud_link("l", &link, LONG).await.unwrap();
    assert_eq!(s.get_nextcloud_link("l").await.unwrap(), Some(link.clone()));
    // Reading does not take: any replica may load the page again.
    assert_eq!(s.get_nextcloud_link("l").await.unwrap(), Some(link.clone()));
    link.poll_sealed = Some("sealed-poll".into());
    link.login_path = Some("/index.php/login/v2/flow/abc".into());
    link.finished = Some(LinkFinished {
        outcome: LinkOutcome::Refused,
        location_sealed: "sealed-location".into(),
    });
    s.put_nextcloud_link("l", &link, TTL).await.unwrap();
    assert_eq!(s.get_nextcloud_link("l").await.unwrap(), Some(link));
    ctx.expire(TTL, |k| k.nextcloud_link("l")).await;
    assert_eq!(s.get_nextcloud_link("l").await.unwrap(), None);
}

async fn nextcloud_credentials_are_taken_once_and_live_while_used(ctx: Ctx) {
    let s = &ctx.store;
    assert!(s.get_nextcloud_credential("o").await.unwrap().is_none());
    s.put_nextcloud_credential("o", "sealed-1", TTL)
        .await
        .unwrap();
    s.put_nextcloud_credential("p", "sealed-p", LONG)
        .await
        .unwrap();
    assert_eq!(
        s.get_nextcloud_credential("o")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "sealed-1"
    );
    // Used: it lives on.
    s.touch_nextcloud_credential("o", LONG).await.unwrap();
    ctx.assert_outlives(TTL, |k| k.nextcloud_credential("o"))
        .await;
    assert!(s.get_nextcloud_credential("o").await.unwrap().is_some());
    // Exactly one of many concurrent takers gets it (and so deletes it in Nextcloud).
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.take_nextcloud_credential("o").await.unwrap()
        }));
    }
    let mut won = Vec::new();
    for t in tasks {
        if let Some(v) = t.await.unwrap() {
            won.push(v.expose().to_owned());
        }
    }
    assert_eq!(won, vec!["sealed-1".to_owned()]);
    assert!(s.get_nextcloud_credential("o").await.unwrap().is_none());
    // Touching what is gone creates nothing; an unused one expires.
    s.touch_nextcloud_credential("o", LONG).await.unwrap();
    assert!(s.get_nextcloud_credential("o").await.unwrap().is_none());
    s.put_nextcloud_credential("q", "sealed-q", TTL)
        .await
        .unwrap();
    ctx.expire(TTL, |k| k.nextcloud_credential("q")).await;
    assert!(s.get_nextcloud_credential("q").await.unwrap().is_none());
    assert!(s.get_nextcloud_credential("p").await.unwrap().is_some());
}

async fn rate_limit_counts_and_resets(ctx: Ctx) {
    let s = &ctx.store;
    let minute = Duration::from_secs(60);
    for expected_remaining in [2, 1, 0] {
        let d = s.hit_rate_limit("token:1.2.3.4", 3, minute).await.unwrap();
        assert!(d.allowed);
        assert_eq!(d.remaining, expected_remaining);
    }
    for _ in 0..2 {
        let refused = s.hit_rate_limit("token:1.2.3.4", 3, minute).await.unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert!((59..=60).contains(&refused.retry_after_secs), "{refused:?}");
    }
    assert!(
        s.hit_rate_limit("token:5.6.7.8", 3, minute)
            .await
            .unwrap()
            .allowed,
        "buckets are separate"
    );

    // A short window: Retry-After rounds up to at least 1 s, and the window resets.
    assert!(s.hit_rate_limit("short", 1, TTL).await.unwrap().allowed);
    let refused = s.hit_rate_limit("short", 1, TTL).await.unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.retry_after_secs, 1, "{refused:?}");
    ctx.expire(TTL, |k| k.rate("short")).await;
    let fresh = s.hit_rate_limit("short", 1, TTL).await.unwrap();
    assert!(fresh.allowed, "the window resets");
    assert_eq!(fresh.remaining, 0);
}

// ---- Redis only ----

/// Two replicas (two store instances on one server) share limits, single use and families.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_replicas_share_limits_and_single_use() {
    let prefix = unique_prefix();
    let url = redis_server::url();
    let a: Arc<dyn Store> = Arc::new(RedisStore::connect(url, &prefix).await.unwrap());
    let b: Arc<dyn Store> = Arc::new(RedisStore::connect(url, &prefix).await.unwrap());

    // 20 requests through both replicas against a limit of 10: exactly 10 get through.
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { s.hit_rate_limit("r", 10, LONG).await.unwrap() })
        })
        .collect();
    let mut allowed = 0;
    for t in tasks {
        let d = t.await.unwrap();
        if d.allowed {
            allowed += 1;
        } else {
            assert_eq!(d.remaining, 0);
            assert!(d.retry_after_secs >= 1, "{d:?}");
            assert!(d.retry_after_secs <= LONG.as_secs(), "{d:?}");
        }
    }
    assert_eq!(allowed, 10);

    a.put_pending_authorization("f", &pending(), LONG)
        .await
        .unwrap();
    assert_eq!(
        b.take_pending_authorization("f").await.unwrap(),
        Some(pending())
    );
    assert_eq!(a.take_pending_authorization("f").await.unwrap(), None);

    a.put_grant(&grant("g"), LONG).await.unwrap();
    a.put_code(&gid("g"), &th("h"), &code(), LONG)
        .await
        .unwrap();
    assert!(matches!(
        b.take_code(&gid("g"), &th("h"), LONG, None).await.unwrap(),
        CodeTake::Redeemed { .. }
    ));
    assert_eq!(
        a.take_code(&gid("g"), &th("h"), LONG, None).await.unwrap(),
        CodeTake::Replayed
    );

    a.put_refresh_token(&gid("g"), &th("rt1"), &refresh_record("c"), LONG)
        .await
        .unwrap();
    assert!(matches!(
        rotate(&b, "rt1", "rt2", NOW, Duration::ZERO).await,
        RefreshOutcome::Rotated(_)
    ));
    assert!(matches!(
        rotate(&a, "rt1", "rt3", NOW, Duration::ZERO).await,
        RefreshOutcome::ReuseDetected(grant) if grant.grant_id == gid("g")
    ));
    assert_eq!(
        rotate(&b, "rt2", "rt4", NOW, Duration::ZERO).await,
        RefreshOutcome::Revoked
    );

    // An assertion used at one replica is a replay at the other.
    let ca = JtiKind::ClientAssertion;
    assert!(a.claim_jti(ca, "c", "j", LONG).await.unwrap());
    assert!(!b.claim_jti(ca, "c", "j", LONG).await.unwrap());
    assert!(!a.claim_jti(ca, "c", "j", LONG).await.unwrap());
}

/// All SCAN results for `pattern` (SCAN is fine in tests; the store itself never scans).
async fn scan(raw: &mut MultiplexedConnection, pattern: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(raw)
            .await
            .unwrap();
        found.extend(batch);
        if next == 0 {
            return found;
        }
        cursor = next;
    }
}

/// The whole data model after one life cycle: exactly the keys the helpers name, all under the
/// versioned prefix, every one but client registrations with a TTL, no raw secret anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_keys_are_the_documented_ones_expire_and_hold_no_raw_secrets() {
    let prefix = unique_prefix();
    let url = redis_server::url();
    let store = RedisStore::connect(url, &prefix).await.unwrap();
    let k = store.keys().clone();
    let mut raw = raw_connection(url).await;

    let secrets = [
        "g1.RAW-CODE-SECRET-ONE",
        "g1.RAW-CODE-SECRET-TWO",
        "g1.RAW-REFRESH-SECRET-ONE",
        "g1.RAW-REFRESH-SECRET-TWO",
    ];
    let [code_a, code_b, rt_a, rt_b] = secrets.map(TokenHash::of);
    store.put_client(&client("c"), LONG).await.unwrap();
    store
        .put_client_deduplicated("fp1", &client("d"), LONG)
        .await
        .unwrap();
    store
        .put_grant(&grant("g1"), Duration::from_secs(300))
        .await
        .unwrap();
    store
        .put_code(&gid("g1"), &code_a, &code(), LONG)
        .await
        .unwrap();
    store
        .put_code(&gid("g1"), &code_b, &code(), LONG)
        .await
        .unwrap();
    assert!(matches!(
        store
            .take_code(&gid("g1"), &code_b, LONG, None)
            .await
            .unwrap(),
        CodeTake::Redeemed { .. }
    ));
    let refresh_ttl = Duration::from_secs(30 * 86_400);
    store
        .put_refresh_token(&gid("g1"), &rt_a, &refresh_record("c"), refresh_ttl)
        .await
        .unwrap();
    assert!(matches!(
        store
            .rotate_refresh_token(&RefreshRotation {
                grant_id: &gid("g1"),
                presented_hash: &rt_a,
                client_id: &cid("c"),
                new_hash: &rt_b,
                now_ms: NOW,
                grace: GRACE,
                ttl: refresh_ttl,
            })
            .await
            .unwrap(),
        RefreshOutcome::Rotated(_)
    ));
    store
        .put_pending_authorization("f", &pending(), LONG)
        .await
        .unwrap();
    store
        .put_upstream_flow("u", &upstream_flow(), LONG)
        .await
        .unwrap();
    store.deny_access_token(&jti("j"), LONG).await.unwrap();
    store.hit_rate_limit("b", 5, LONG).await.unwrap();
    let assertion_id = "RAW-ASSERTION-JTI";
    assert!(store
        .claim_jti(JtiKind::ClientAssertion, "c", assertion_id, LONG)
        .await
        .unwrap());

    let expected: BTreeSet<String> = [
        k.client("c"),
        k.client("d"),
        k.client_fingerprint("fp1"),
        k.grant("g1"),
        k.code("g1", &code_a),
        k.code_used("g1", &code_b),
        k.refresh("g1", &rt_a),
        k.refresh_used("g1", &rt_a),
        k.refresh("g1", &rt_b),
        k.pending("f"),
        k.upstream_flow("u"),
        k.denied("j"),
        k.rate("b"),
        k.jti(JtiKind::ClientAssertion, "c", assertion_id),
    ]
    .into_iter()
    .collect();
    let found = scan(&mut raw, &format!("{prefix}:*")).await;
    assert_eq!(found, expected);

    for key in &found {
        assert!(key.starts_with(&format!("{prefix}:v1:")), "{key}");
        let ttl = pttl(&mut raw, key).await;
        assert!(ttl > 0, "key without TTL: {key}");
        let value: String = redis::cmd("GET")
            .arg(key)
            .query_async(&mut raw)
            .await
            .unwrap();
        for secret in secrets {
            let (_, secret_part) = secret.split_once('.').unwrap();
            assert!(!value.contains(secret_part), "{key} holds a raw secret");
            assert!(!key.contains(secret_part), "{key} names a raw secret");
        }
        assert!(!key.contains(assertion_id), "{key} names a raw jti");
    }
    // The refresh lifetime carried the grant past its code-stage TTL.
    assert!(pttl(&mut raw, &k.grant("g1")).await > 300_000);
    // Every per-grant key is in one cluster slot.
    for key in found.iter().filter(|key| key.contains("{g:")) {
        assert!(key.contains("{g:g1}:"), "{key}");
    }
}

/// Registrations racing on two replicas end with one client; a fingerprint whose client is
/// gone is taken over; client records written before fingerprints existed still load and
/// slide.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_replicas_deduplicate_and_recover_stale_fingerprints() {
    let prefix = unique_prefix();
    let url = redis_server::url();
    let a: Arc<dyn Store> = Arc::new(RedisStore::connect(url, &prefix).await.unwrap());
    let concrete = RedisStore::connect(url, &prefix).await.unwrap();
    let k = concrete.keys().clone();
    let b: Arc<dyn Store> = Arc::new(concrete);
    let mut raw = raw_connection(url).await;

    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                let mine = client(&format!("r{i}"));
                match s.put_client_deduplicated("fp", &mine, LONG).await.unwrap() {
                    ClientPut::Created => (true, mine.client_id),
                    ClientPut::Existing(existing) => (false, existing.client_id),
                }
            })
        })
        .collect();
    let mut created = 0;
    let mut ids = BTreeSet::new();
    for t in tasks {
        let (was_created, id) = t.await.unwrap();
        created += usize::from(was_created);
        ids.insert(id);
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1, "{ids:?}");
    let winner = ids.into_iter().next().unwrap();
    let holder: String = redis::cmd("GET")
        .arg(k.client_fingerprint("fp"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(holder, winner.as_str());
    let stored: serde_json::Value = serde_json::from_str(
        &redis::cmd("GET")
            .arg(k.client(winner.as_str()))
            .query_async::<String>(&mut raw)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(stored["fingerprint"], "fp");
    assert_eq!(stored["client_id"], winner.as_str());

    // The holder vanished (it expired a moment before its fingerprint): the next registration
    // takes the fingerprint over instead of answering with a client that does not exist.
    let _: () = redis::cmd("DEL")
        .arg(k.client(winner.as_str()))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(a.find_client_by_fingerprint("fp").await.unwrap(), None);
    assert_eq!(
        b.put_client_deduplicated("fp", &client("successor"), LONG)
            .await
            .unwrap(),
        ClientPut::Created
    );
    assert_eq!(
        a.find_client_by_fingerprint("fp").await.unwrap(),
        Some(client("successor"))
    );

    // A record from before idle expiry: plain JSON, no TTL, no fingerprint.
    let _: () = redis::cmd("SET")
        .arg(k.client("legacy"))
        .arg(serde_json::to_string(&client("legacy")).unwrap())
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        a.get_client(&cid("legacy")).await.unwrap(),
        Some(client("legacy"))
    );
    assert!(a.touch_client(&cid("legacy"), LONG).await.unwrap());
    assert!(
        pttl(&mut raw, &k.client("legacy")).await > 0,
        "touched legacy records get a TTL"
    );
}

/// A value that is not what the store wrote is `Corrupt`, not a panic or `Unavailable`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_undecodable_values_are_corrupt() {
    let prefix = unique_prefix();
    let url = redis_server::url();
    let store = RedisStore::connect(url, &prefix).await.unwrap();
    let k = store.keys().clone();
    let mut raw = raw_connection(url).await;
    for key in [k.client("c"), k.grant("g"), k.refresh("g", &th("rt"))] {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg("not json")
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    assert!(matches!(
        store.get_client(&cid("c")).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store.get_grant(&gid("g")).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store
            .rotate_refresh_token(&RefreshRotation {
                grant_id: &gid("g"),
                presented_hash: &th("rt"),
                client_id: &cid("c"),
                new_hash: &th("new"),
                now_ms: NOW,
                grace: GRACE,
                ttl: LONG,
            })
            .await,
        Err(StoreError::Corrupt(_))
    ));
}

/// Comfortably above the store's own bound, far below "hangs".
fn quick() -> Duration {
    auth_proxy::store::redis::OPERATION_DEADLINE + Duration::from_millis(1500)
}

/// Nobody listening, or a listener that never answers: `connect` fails fast.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_unreachable_at_startup_fails_fast() {
    let started = mcp_shared::ops::clock::monotonic();
    let refused = RedisStore::connect(
        &format!("redis://127.0.0.1:{}", redis_server::free_port()),
        "x",
    )
    .await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "{refused:?}"
    );
    assert!(started.elapsed() < quick(), "{:?}", started.elapsed());

    // Accepts TCP (the kernel does, into the backlog) but never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let started = mcp_shared::ops::clock::monotonic();
    let hung = RedisStore::connect(&format!("redis://{}", silent.local_addr().unwrap()), "x").await;
    assert!(matches!(hung, Err(StoreError::Unavailable(_))), "{hung:?}");
    assert!(started.elapsed() < quick(), "{:?}", started.elapsed());
}

/// Connections a Redis server has open now (CLIENT LIST, less the asking one).
fn open_connections(url: &str) -> usize {
    let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    list.lines().count() - 1
}

/// Commands from a thread go over connections opened on that thread's runtime (no hop to the
/// start-up runtime's I/O task and back), and a thread whose runtime has ended, its
/// connections with it, opens new ones instead of failing.
#[test]
fn each_thread_uses_connections_of_its_own_runtime() {
    let server = RedisServer::start();
    let url = server.url().to_owned();
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    // The start-up runtime stays (not running: a current-thread runtime runs only in block_on).
    let start_up = runtime();
    let store = Arc::new(
        start_up
            .block_on(RedisStore::connect(&url, "per-thread"))
            .unwrap(),
    );
    let at_start = open_connections(&url);

    // Two threads, each with its runtime: each opens its own connection on first use, and
    // keeps it while its runtime lives.
    let used = Arc::new(std::sync::Barrier::new(3));
    let counted = Arc::new(std::sync::Barrier::new(3));
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let (store, used, counted) = (store.clone(), used.clone(), counted.clone());
            std::thread::spawn(move || {
                let rt = runtime();
                rt.block_on(async {
                    for _ in 0..3 {
                        store
                            .put_client(&client(&format!("thread-{i}")), LONG)
                            .await
                            .unwrap();
                        assert!(store
                            .get_client(&cid(&format!("thread-{i}")))
                            .await
                            .unwrap()
                            .is_some());
                    }
                });
                used.wait();
                counted.wait();
            })
        })
        .collect();
    used.wait();
    assert_eq!(
        open_connections(&url),
        at_start + 2,
        "one connection per thread, reused"
    );
    counted.wait();
    for t in threads {
        t.join().unwrap();
    }

    // On this thread: one runtime after another, the first one's connection dying with it.
    for round in 0..3 {
        let rt = runtime();
        rt.block_on(async {
            store
                .put_client(&client(&format!("round-{round}")), LONG)
                .await
                .unwrap();
            assert!(store
                .get_client(&cid(&format!("round-{round}")))
                .await
                .unwrap()
                .is_some());
        });
        drop(rt);
    }
}

/// Redis dies under a running store: calls fail fast with `Unavailable` (naming no value), and
/// the store recovers by itself once Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_outage_fails_fast_and_recovers() {
    let server = RedisServer::start();
    let port = server.port();
    let store = RedisStore::connect(server.url(), "outage").await.unwrap();
    store
        .put_client(&client("secret-client-id"), LONG)
        .await
        .unwrap();
    drop(server);

    for _ in 0..3 {
        let started = mcp_shared::ops::clock::monotonic();
        let result = store.get_client(&cid("secret-client-id")).await;
        let Err(StoreError::Unavailable(msg)) = result else {
            panic!("expected Unavailable, got {result:?}");
        };
        assert!(!msg.contains("secret-client-id"), "{msg}");
        assert!(started.elapsed() < quick(), "{:?}", started.elapsed());
    }

    let _server = tokio::task::spawn_blocking(move || RedisServer::start_on(port))
        .await
        .unwrap()
        .unwrap();
    let deadline = mcp_shared::ops::clock::monotonic() + Duration::from_secs(10);
    while store.ping().await.is_err() {
        assert!(
            mcp_shared::ops::clock::monotonic() < deadline,
            "no recovery after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The restarted server kept nothing (no persistence), and says so.
    assert_eq!(
        store.get_client(&cid("secret-client-id")).await.unwrap(),
        None
    );
}

async fn wait_calls(raw: &mut MultiplexedConnection) -> u64 {
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(raw)
        .await
        .unwrap();
    stats
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_wait:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

/// `wait_replicas` in the URL: every durable write (grant, code redemption, refresh rotation,
/// revocation) is followed by `WAIT` on the master before it is answered, so a replica promoted
/// by a failover has it; with no replica acknowledging in time, the write is still answered
/// after the wait timeout (availability first, a warning logged).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_wait_replicas_waits_for_a_replica_after_durable_writes() {
    // No 5 s pause before the first full sync (the default, waiting for more replicas).
    let master = RedisServer::start_with(&["--repl-diskless-sync-delay", "0"]);
    let master_port = master.port().to_string();
    let replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &master_port]);
    let mut raw_master = raw_connection(master.url()).await;
    let mut raw_replica = raw_connection(replica.url()).await;
    let deadline = mcp_shared::ops::clock::monotonic() + Duration::from_secs(10);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut raw_replica)
            .await
            .unwrap();
        if info.lines().any(|l| l.trim() == "master_link_status:up") {
            break;
        }
        assert!(
            mcp_shared::ops::clock::monotonic() < deadline,
            "replica never synced"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The replica's side of the link being up is not enough: until the master counts it as an
    // online replica acknowledging offsets, a WAIT times out (this made the test flaky).
    loop {
        let _: () = redis::cmd("SET")
            .arg("warm-up")
            .arg("1")
            .query_async(&mut raw_master)
            .await
            .unwrap();
        let acked: i64 = redis::cmd("WAIT")
            .arg(1)
            .arg(200)
            .query_async(&mut raw_master)
            .await
            .unwrap();
        if acked >= 1 {
            break;
        }
        assert!(
            mcp_shared::ops::clock::monotonic() < deadline,
            "the master never counted the replica"
        );
    }

    let url = format!("{}?wait_replicas=1&wait_timeout_ms=500", master.url());
    let store = RedisStore::connect(&url, "wait").await.unwrap();
    let k = store.keys().clone();
    let before = wait_calls(&mut raw_master).await;
    store.put_grant(&grant("g1"), LONG).await.unwrap();
    assert_eq!(
        wait_calls(&mut raw_master).await,
        before + 1,
        "no WAIT after a grant"
    );
    let on_replica: Option<String> = redis::cmd("GET")
        .arg(k.grant("g1"))
        .query_async(&mut raw_replica)
        .await
        .unwrap();
    assert!(
        on_replica.is_some(),
        "the replica lacks the acknowledged grant"
    );
    store
        .put_refresh_token(&gid("g1"), &th("g1.r1"), &refresh_record("c1"), LONG)
        .await
        .unwrap();
    store.revoke_grant(&gid("g1")).await.unwrap();
    assert_eq!(wait_calls(&mut raw_master).await, before + 3);
    // Reads and transient state wait for nobody.
    store.get_grant(&gid("g1")).await.unwrap();
    store
        .put_pending_authorization("f1", &pending(), LONG)
        .await
        .unwrap();
    assert_eq!(wait_calls(&mut raw_master).await, before + 3);

    // No replica: the write is answered once the wait times out, not failed.
    drop(replica);
    let started = mcp_shared::ops::clock::monotonic();
    store.put_grant(&grant("g2"), LONG).await.unwrap();
    assert!(started.elapsed() < quick(), "{:?}", started.elapsed());

    // Without the parameter, no WAIT at all.
    let plain = RedisStore::connect(master.url(), "wait").await.unwrap();
    let before = wait_calls(&mut raw_master).await;
    plain.put_grant(&grant("g3"), LONG).await.unwrap();
    assert_eq!(wait_calls(&mut raw_master).await, before);
}
