//! Redis store, shared by every replica. Values are JSON; every transient key has a TTL;
//! single-use takes are atomic (a Lua GET+DEL: GETDEL would need Redis 6.2); the multi-key
//! updates (code redemption, refresh rotation, first refresh token, rate limiting) are single
//! Lua scripts over keys that share a hash tag (`redis/scripts.rs`). Key layout and data model:
//! `keys.rs`.
//!
//! Every operation is bounded by [`OPERATION_DEADLINE`], reconnection included, so a dead or
//! hung Redis turns into a quick `StoreError::Unavailable` (a 503) instead of a hung request.
//!
//! One Redis, Redis Cluster or Sentinel, chosen by the URL (`redis/target.rs`, connections in
//! `redis/connection.rs`). With `wait_replicas` set, the writes whose loss in a failover would
//! hurt (clients, grants, codes, refresh tokens, upstream tokens, revocations) go over a
//! connection of their own and are followed by `WAIT` before they are answered: a replica
//! promoted afterwards has them. `WAIT` blocks its connection, hence a second one, so that
//! every other command does not queue behind it. A replica that does not acknowledge in time
//! is logged, and the write is answered anyway: availability over a guarantee Redis replication
//! cannot give anyway (see docs/deployment.md).

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use redis::{AsyncCommands, ErrorKind, RedisResult};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use self::connection::{Connection, Timeouts};
use self::scripts::Scripts;
pub use self::target::{Target, TargetError, Topology, WaitPolicy};
use super::keys::{JtiKind, Keys};
use super::{
    ClientPut, ClientRecord, CodeRecord, CodeTake, ConnectionsSession, GrantRecord, NextcloudLink,
    PendingAuthorization, RateDecision, RefreshOutcome, RefreshRecord, RefreshRotation,
    SessionFlow, Store, StoreError, UpstreamFlow, UserGrant,
};
use crate::ids::{ClientId, GrantId, Jti, TokenHash};
use mcp_shared::Secret;

mod connection;
mod scripts;
mod target;

/// Per connection attempt and per reply. Redis answers in well under a millisecond on a
/// healthy network; a second of silence means it is gone.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
/// One reconnection retry rides out a Redis restart or failover without failing the request.
const RECONNECT_RETRIES: usize = 1;
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(50);
const RECONNECT_MAX_DELAY: Duration = Duration::from_millis(250);
/// Upper bound on one store call, whatever the connection manager is doing underneath.
pub const OPERATION_DEADLINE: Duration = Duration::from_secs(2);

/// How many times a registration tries to take over a fingerprint left behind by a client
/// that expired first (client and fingerprint are two keys, written and renewed one after the
/// other). Past that, the client is kept without deduplication rather than failing.
const CLAIM_ATTEMPTS: usize = 3;

/// A client record as stored: the record's own members plus, for a deduplicated public
/// client, the fingerprint it holds (so that using the client renews the fingerprint too).
/// Records written before fingerprints existed read back with `fingerprint: None`.
#[derive(Serialize, Deserialize)]
struct StoredClient {
    #[serde(flatten)]
    record: ClientRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
}

pub struct RedisStore {
    /// The connections opened at start, shared by every thread: used where a thread cannot
    /// open its own (see [`PerThread`]).
    conn: Connection,
    /// Where durable writes go, followed by `WAIT`: a connection of its own when waiting.
    durable: Connection,
    per_thread: PerThread,
    wait: Option<WaitPolicy>,
    keys: Keys,
    scripts: Scripts,
}

/// Each thread's own connections (the ones above, opened again on that thread's runtime).
///
/// A connection's I/O runs in a task on the runtime that opened it. Shared from the start-up
/// runtime, every command from an actix worker crossed threads twice (the command to the
/// connection's task, the reply back), which cost more than Redis itself: 0.1-0.4 ms a command
/// on a busy 2-CPU machine against 0.05 ms for the round trip, most of a sign-in's time. Each
/// thread therefore opens its own on first use and keeps it. A connection whose runtime has
/// shut down (a thread id reused by a new thread) is noticed through `alive` and opened again.
/// When opening fails (Redis down), the thread uses the shared connections and does not try
/// again for [`REOPEN_AFTER`], so an outage costs no extra connect per command.
struct PerThread {
    topology: Topology,
    timeouts: Timeouts,
    separate_durable: bool,
    slots: thread_local::ThreadLocal<std::cell::RefCell<Slot>>,
}

/// After a failed open, how long a thread uses the shared connections before trying again.
const REOPEN_AFTER: Duration = Duration::from_secs(1);

#[derive(Default)]
enum Slot {
    #[default]
    Empty,
    Open(Local),
    FailedAt(std::time::Instant),
}

#[derive(Clone)]
struct Local {
    conn: Connection,
    durable: Connection,
    /// Held by a task on the runtime that opened the connections: gone with that runtime.
    alive: std::sync::Weak<()>,
}

impl PerThread {
    fn new(topology: Topology, timeouts: Timeouts, separate_durable: bool) -> Self {
        Self {
            topology,
            timeouts,
            separate_durable,
            slots: thread_local::ThreadLocal::new(),
        }
    }

    /// This thread's connections, opened now if it has none (or its runtime is gone); `None`
    /// outside a runtime, or when Redis could not be reached lately (the shared connections
    /// then answer, reconnecting as they do).
    async fn get(&self) -> Option<Local> {
        match &*self.slots.get_or(Default::default).borrow() {
            Slot::Open(local) if local.alive.strong_count() > 0 => return Some(local.clone()),
            Slot::FailedAt(at) if at.elapsed() < REOPEN_AFTER => return None,
            _ => {}
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let opened = self.open().await;
        // Kept for the thread this task runs on now (a multi-thread runtime may have moved it).
        let slot = self.slots.get_or(Default::default);
        let Some((conn, durable)) = opened else {
            *slot.borrow_mut() = Slot::FailedAt(mcp_shared::ops::clock::monotonic());
            return None;
        };
        let alive = std::sync::Arc::new(());
        let local = Local {
            conn,
            durable,
            alive: std::sync::Arc::downgrade(&alive),
        };
        runtime.spawn(async move {
            let _alive = alive;
            std::future::pending::<()>().await
        });
        *slot.borrow_mut() = Slot::Open(local.clone());
        Some(local)
    }

    async fn open(&self) -> Option<(Connection, Connection)> {
        let conn = bounded(Connection::open(&self.topology, self.timeouts))
            .await
            .ok()?;
        let durable = if self.separate_durable {
            bounded(Connection::open(&self.topology, self.timeouts))
                .await
                .ok()?
        } else {
            conn.clone()
        };
        Some((conn, durable))
    }
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.keys.base())
            .finish()
    }
}

/// Error kinds only: Redis error texts can echo arguments, which may be sensitive.
fn store_error(e: &redis::RedisError) -> StoreError {
    if e.kind() == ErrorKind::UnexpectedReturnType {
        return StoreError::Corrupt("redis: unexpected reply type".into());
    }
    let kind = if e.is_timeout() {
        "timeout".to_owned()
    } else if e.is_connection_refusal() || e.is_io_error() || e.is_connection_dropped() {
        "connection failed".to_owned()
    } else {
        format!("{:?}", e.kind())
    };
    StoreError::Unavailable(format!("redis: {kind}"))
}

fn timed_out() -> StoreError {
    StoreError::Unavailable("redis: timeout".into())
}

/// Runs one Redis round trip (or script) under the operation deadline.
async fn bounded<T>(op: impl Future<Output = RedisResult<T>>) -> Result<T, StoreError> {
    match tokio::time::timeout(OPERATION_DEADLINE, op).await {
        Ok(result) => result.map_err(|e| store_error(&e)),
        Err(_) => Err(timed_out()),
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: DeserializeOwned>(raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw)
        .map_err(|e| StoreError::Corrupt(format!("undecodable value ({:?})", e.classify())))
}

/// Milliseconds for `PX`/`PEXPIRE`, which reject 0.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStore {
    /// Connects to `url` (any form of [`Target`]); the connections keep reconnecting in the
    /// background (and, for Sentinel, follow the master) and every clone shares them.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let target = Target::parse(url)
            .map_err(|e| StoreError::Unavailable(format!("redis: invalid URL: {e}")))?;
        let timeouts = Timeouts {
            connect: CONNECT_TIMEOUT,
            response: RESPONSE_TIMEOUT,
            retries: RECONNECT_RETRIES,
            min_delay: RECONNECT_MIN_DELAY,
            max_delay: RECONNECT_MAX_DELAY,
        };
        let conn = bounded(Connection::open(&target.topology, timeouts)).await?;
        let durable = match target.wait {
            Some(_) => bounded(Connection::open(&target.topology, timeouts)).await?,
            None => conn.clone(),
        };
        Ok(Self {
            conn,
            durable,
            per_thread: PerThread::new(target.topology.clone(), timeouts, target.wait.is_some()),
            wait: target.wait,
            keys: Keys::new(prefix),
            scripts: Scripts::new(),
        })
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    async fn conn(&self) -> Connection {
        match self.per_thread.get().await {
            Some(local) => local.conn,
            None => self.conn.clone(),
        }
    }

    /// The connection for a write that must survive a failover; [`Self::replicated`] after it.
    async fn durable(&self) -> Connection {
        match self.per_thread.get().await {
            Some(local) => local.durable,
            None => self.durable.clone(),
        }
    }

    /// Waits until the configured number of replicas have every write sent so far on `c` (a
    /// [`Self::durable`] connection), at most the configured time. `key` is one the write
    /// touched: on Redis Cluster, `WAIT` must reach that key's master.
    async fn replicated(&self, c: &mut Connection, key: &str) -> Result<(), StoreError> {
        let Some(wait) = self.wait else {
            return Ok(());
        };
        // A pipeline goes to one node: the key's master on a cluster (the harmless `PTTL`
        // routes it), the one Redis otherwise.
        let mut pipe = redis::pipe();
        pipe.cmd("PTTL")
            .arg(key)
            .ignore()
            .cmd("WAIT")
            .arg(wait.replicas)
            .arg(ms(wait.timeout));
        let (acked,): (u32,) = bounded(pipe.query_async(c)).await?;
        if acked < wait.replicas {
            tracing::warn!(
                acked,
                wanted = wait.replicas,
                timeout_ms = ms(wait.timeout),
                "redis: a durable write reached fewer replicas than wanted in time; a failover now could lose it"
            );
        }
        Ok(())
    }

    async fn set_json<T: Serialize>(
        &self,
        key: String,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let json = to_json(value)?;
        let mut c = self.conn().await;
        match ttl {
            Some(ttl) => bounded(c.pset_ex::<_, _, ()>(key, json, ms(ttl))).await,
            None => bounded(c.set::<_, _, ()>(key, json)).await,
        }
    }

    /// [`Self::set_json`] for what must survive a failover.
    async fn set_json_durable<T: Serialize>(
        &self,
        key: String,
        value: &T,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let json = to_json(value)?;
        let mut c = self.durable().await;
        bounded(c.pset_ex::<_, _, ()>(&key, json, ms(ttl))).await?;
        self.replicated(&mut c, &key).await
    }

    async fn get_json<T: DeserializeOwned>(&self, key: String) -> Result<Option<T>, StoreError> {
        let mut c = self.conn().await;
        let raw: Option<String> = bounded(c.get(key)).await?;
        raw.as_deref().map(from_json).transpose()
    }

    async fn put_stored_client(
        &self,
        client: &ClientRecord,
        fingerprint: Option<&str>,
        idle_ttl: Duration,
    ) -> Result<(), StoreError> {
        let stored = StoredClient {
            record: client.clone(),
            fingerprint: fingerprint.map(str::to_owned),
        };
        self.set_json_durable(
            self.keys.client(client.client_id.as_str()),
            &stored,
            idle_ttl,
        )
        .await
    }

    async fn take_json<T: DeserializeOwned>(&self, key: String) -> Result<Option<T>, StoreError> {
        let mut c = self.conn().await;
        let take = self.scripts.take.key(key);
        let raw: Option<String> = bounded(take.invoke_async(&mut c)).await?;
        raw.as_deref().map(from_json).transpose()
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.conn().await;
        bounded(redis::cmd("PING").query_async::<String>(&mut c))
            .await
            .map(|_| ())
    }

    async fn put_client(
        &self,
        client: &ClientRecord,
        idle_ttl: Duration,
    ) -> Result<(), StoreError> {
        self.put_stored_client(client, None, idle_ttl).await
    }

    async fn get_client(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        Ok(self
            .get_json::<StoredClient>(self.keys.client(client_id.as_str()))
            .await?
            .map(|s| s.record))
    }

    async fn put_client_deduplicated(
        &self,
        fingerprint: &str,
        client: &ClientRecord,
        idle_ttl: Duration,
    ) -> Result<ClientPut, StoreError> {
        // The record goes first, so whoever sees the fingerprint claimed can read the client
        // behind it. Client and fingerprint are two keys (two cluster slots); the claim itself
        // is one atomic script, so of racing registrations exactly one wins and the others
        // delete their own record and answer with the winner.
        self.put_stored_client(client, Some(fingerprint), idle_ttl)
            .await?;
        let key = self.keys.client_fingerprint(fingerprint);
        let mut stale = String::new();
        for _ in 0..CLAIM_ATTEMPTS {
            let mut c = self.conn().await;
            let mut claim = self.scripts.claim_fingerprint.key(&key);
            claim
                .arg(client.client_id.as_str())
                .arg(ms(idle_ttl))
                .arg(&stale);
            let reply = bounded(claim.invoke_async::<redis::Value>(&mut c)).await?;
            let holder = match status_and_payload(reply)? {
                (1, None) => return Ok(ClientPut::Created),
                (0, Some(holder)) => holder,
                _ => return Err(unexpected_reply()),
            };
            let existing = match ClientId::parse(&holder) {
                Some(id) => self.get_client(&id).await?,
                None => None,
            };
            if let Some(existing) = existing {
                bounded(c.del::<_, ()>(self.keys.client(client.client_id.as_str()))).await?;
                return Ok(ClientPut::Existing(Box::new(existing)));
            }
            // The holder expired before its fingerprint did: take the fingerprint over.
            stale = holder;
        }
        Ok(ClientPut::Created)
    }

    async fn find_client_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        let mut c = self.conn().await;
        let holder: Option<String> =
            bounded(c.get(self.keys.client_fingerprint(fingerprint))).await?;
        match holder.as_deref().and_then(ClientId::parse) {
            Some(id) => self.get_client(&id).await,
            None => Ok(None),
        }
    }

    async fn touch_client(
        &self,
        client_id: &ClientId,
        idle_ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn().await;
        let mut touch = self
            .scripts
            .touch_client
            .key(self.keys.client(client_id.as_str()));
        touch.arg(ms(idle_ttl));
        let raw: Option<String> = bounded(touch.invoke_async(&mut c)).await?;
        let Some(raw) = raw else {
            return Ok(false);
        };
        if let Some(fingerprint) = from_json::<StoredClient>(&raw)?.fingerprint {
            let mut touch = self
                .scripts
                .touch_fingerprint
                .key(self.keys.client_fingerprint(&fingerprint));
            touch.arg(client_id.as_str()).arg(ms(idle_ttl));
            bounded(touch.invoke_async::<i64>(&mut c)).await?;
        }
        Ok(true)
    }

    async fn put_pending_authorization(
        &self,
        flow_id: &str,
        flow: &PendingAuthorization,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.set_json(self.keys.pending(flow_id), flow, Some(ttl))
            .await
    }

    async fn take_pending_authorization(
        &self,
        flow_id: &str,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        self.take_json(self.keys.pending(flow_id)).await
    }

    async fn put_nextcloud_link(
        &self,
        link_hash: &str,
        link: &NextcloudLink,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.set_json(self.keys.nextcloud_link(link_hash), link, Some(ttl))
            .await
    }

    async fn get_nextcloud_link(
        &self,
        link_hash: &str,
    ) -> Result<Option<NextcloudLink>, StoreError> {
        self.get_json(self.keys.nextcloud_link(link_hash)).await
    }

    async fn put_nextcloud_credential(
        &self,
        owner: &str,
        sealed: &str,
        idle_ttl: Duration,
    ) -> Result<(), StoreError> {
        let key = self.keys.nextcloud_credential(owner);
        let mut c = self.durable().await;
        bounded(c.pset_ex::<_, _, ()>(&key, sealed, ms(idle_ttl))).await?;
        self.replicated(&mut c, &key).await
    }

    async fn touch_nextcloud_credential(
        &self,
        owner: &str,
        idle_ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut c = self.conn().await;
        let key = self.keys.nextcloud_credential(owner);
        bounded(c.pexpire::<_, ()>(key, i64::try_from(ms(idle_ttl)).unwrap_or(i64::MAX))).await
    }

    async fn get_nextcloud_credential(&self, owner: &str) -> Result<Option<Secret>, StoreError> {
        let mut c = self.conn().await;
        let raw: Option<String> = bounded(c.get(self.keys.nextcloud_credential(owner))).await?;
        Ok(raw.map(Secret::new))
    }

    async fn take_nextcloud_credential(&self, owner: &str) -> Result<Option<Secret>, StoreError> {
        let mut c = self.conn().await;
        let take = self.scripts.take.key(self.keys.nextcloud_credential(owner));
        let raw: Option<String> = bounded(take.invoke_async(&mut c)).await?;
        Ok(raw.map(Secret::new))
    }

    async fn put_upstream_flow(
        &self,
        upstream_state: &str,
        flow: &UpstreamFlow,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.set_json(self.keys.upstream_flow(upstream_state), flow, Some(ttl))
            .await
    }

    async fn take_upstream_flow(
        &self,
        upstream_state: &str,
    ) -> Result<Option<UpstreamFlow>, StoreError> {
        self.take_json(self.keys.upstream_flow(upstream_state))
            .await
    }

    async fn put_grant(&self, grant: &GrantRecord, ttl: Duration) -> Result<(), StoreError> {
        self.set_json_durable(self.keys.grant(grant.grant_id.as_str()), grant, ttl)
            .await
    }

    async fn get_grant(&self, grant_id: &GrantId) -> Result<Option<GrantRecord>, StoreError> {
        self.get_json(self.keys.grant(grant_id.as_str())).await
    }

    async fn update_grant_upstream(
        &self,
        grant_id: &GrantId,
        upstream_sealed: &str,
    ) -> Result<bool, StoreError> {
        let Some(mut grant) = self.get_grant(grant_id).await? else {
            return Ok(false);
        };
        let grant_id = grant_id.as_str();
        grant.upstream_sealed = upstream_sealed.into();
        // XX: a grant revoked since the read stays revoked. KEEPTTL (Redis 6.0): the update
        // must not extend the grant's life.
        let key = self.keys.grant(grant_id);
        let mut c = self.durable().await;
        let replaced: Option<String> = bounded(
            redis::cmd("SET")
                .arg(&key)
                .arg(to_json(&grant)?)
                .arg("XX")
                .arg("KEEPTTL")
                .query_async(&mut c),
        )
        .await?;
        self.replicated(&mut c, &key).await?;
        Ok(replaced.is_some())
    }

    async fn lock_upstream_refresh(
        &self,
        grant_id: &GrantId,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn().await;
        let set: Option<String> = bounded(
            redis::cmd("SET")
                .arg(self.keys.refresh_lock(grant_id.as_str()))
                .arg(holder)
                .arg("NX")
                .arg("PX")
                .arg(ms(ttl))
                .query_async(&mut c),
        )
        .await?;
        Ok(set.is_some())
    }

    async fn unlock_upstream_refresh(
        &self,
        grant_id: &GrantId,
        holder: &str,
    ) -> Result<(), StoreError> {
        let mut c = self.conn().await;
        let mut unlock = self
            .scripts
            .unlock
            .key(self.keys.refresh_lock(grant_id.as_str()));
        unlock.arg(holder);
        bounded(unlock.invoke_async::<i64>(&mut c))
            .await
            .map(|_| ())
    }

    async fn revoke_grant(&self, grant_id: &GrantId) -> Result<(), StoreError> {
        // One key: every code and refresh token of the family is checked against it inside its
        // own script, so deleting it is the atomic revocation of the whole family.
        let key = self.keys.grant(grant_id.as_str());
        let mut c = self.durable().await;
        bounded(c.del::<_, ()>(&key)).await?;
        self.replicated(&mut c, &key).await
    }

    async fn put_code(
        &self,
        grant_id: &GrantId,
        code_hash: &TokenHash,
        code: &CodeRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let grant_id = grant_id.as_str();
        self.set_json_durable(self.keys.code(grant_id, code_hash), code, ttl)
            .await
    }

    async fn take_code(
        &self,
        grant_id: &GrantId,
        code_hash: &TokenHash,
        replay_window: Duration,
        expected_resource: Option<&str>,
    ) -> Result<CodeTake, StoreError> {
        let grant_id = grant_id.as_str();
        let mut c = self.durable().await;
        let mut take = self
            .scripts
            .take_code
            .key(self.keys.code(grant_id, code_hash));
        take.key(self.keys.code_used(grant_id, code_hash))
            .key(self.keys.grant(grant_id))
            .arg(ms(replay_window))
            .arg(expected_resource.unwrap_or(""));
        let reply = bounded(take.invoke_async::<redis::Value>(&mut c)).await?;
        self.replicated(&mut c, &self.keys.grant(grant_id)).await?;
        let (status, payloads) = status_and_payloads(reply)?;
        match (status, payloads.as_slice()) {
            (1, [code, grant]) => Ok(CodeTake::Redeemed {
                code: from_json(code)?,
                grant: Box::new(from_json(grant)?),
            }),
            (2, []) => Ok(CodeTake::Replayed),
            (3, []) => Ok(CodeTake::ResourceMismatch),
            (0, []) => Ok(CodeTake::Unknown),
            _ => Err(unexpected_reply()),
        }
    }

    async fn put_grant_and_code(
        &self,
        grant: &GrantRecord,
        grant_ttl: Duration,
        code_hash: &TokenHash,
        code: &CodeRecord,
        code_ttl: Duration,
    ) -> Result<(), StoreError> {
        // Both keys carry the grant's hash tag: one pipeline, one node, one round trip.
        let grant_id = grant.grant_id.as_str();
        let grant_key = self.keys.grant(grant_id);
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(&grant_key)
            .arg(to_json(grant)?)
            .arg("PX")
            .arg(ms(grant_ttl))
            .ignore()
            .cmd("SET")
            .arg(self.keys.code(grant_id, code_hash))
            .arg(to_json(code)?)
            .arg("PX")
            .arg(ms(code_ttl))
            .ignore();
        let mut c = self.durable().await;
        bounded(pipe.query_async::<()>(&mut c)).await?;
        self.replicated(&mut c, &grant_key).await
    }

    async fn put_refresh_token(
        &self,
        grant_id: &GrantId,
        token_hash: &TokenHash,
        record: &RefreshRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let grant_id = grant_id.as_str();
        let mut c = self.durable().await;
        let mut put = self
            .scripts
            .put_refresh
            .key(self.keys.refresh(grant_id, token_hash));
        put.key(self.keys.grant(grant_id))
            .arg(to_json(record)?)
            .arg(ms(ttl));
        bounded(put.invoke_async::<i64>(&mut c)).await?;
        self.replicated(&mut c, &self.keys.grant(grant_id)).await
    }

    async fn rotate_refresh_token(
        &self,
        rotation: &RefreshRotation<'_>,
    ) -> Result<RefreshOutcome, StoreError> {
        let RefreshRotation {
            grant_id,
            presented_hash,
            client_id,
            new_hash,
            now_ms,
            grace,
            ttl,
        } = *rotation;
        let grant_id = grant_id.as_str();
        let new_record = RefreshRecord {
            client_id: client_id.clone(),
            issued_at: now_ms.div_euclid(1000),
        };
        let mut c = self.durable().await;
        let mut rotate = self
            .scripts
            .rotate
            .key(self.keys.refresh(grant_id, presented_hash));
        rotate
            .key(self.keys.refresh_used(grant_id, presented_hash))
            .key(self.keys.grant(grant_id))
            .key(self.keys.refresh(grant_id, new_hash))
            .arg(client_id.as_str())
            .arg(now_ms)
            .arg(u64::try_from(grace.as_millis()).unwrap_or(u64::MAX))
            .arg(ms(ttl))
            .arg(to_json(&new_record)?);
        let reply = bounded(rotate.invoke_async::<redis::Value>(&mut c)).await?;
        self.replicated(&mut c, &self.keys.grant(grant_id)).await?;
        match status_and_payload(reply)? {
            (1, Some(grant)) => Ok(RefreshOutcome::Rotated(from_json(&grant)?)),
            (0, None) => Ok(RefreshOutcome::Unknown),
            (2, None) => Ok(RefreshOutcome::WrongClient),
            (3, None) => Ok(RefreshOutcome::Revoked),
            (4, Some(grant)) => Ok(RefreshOutcome::ReuseDetected(Box::new(from_json(&grant)?))),
            (5, None) => Err(StoreError::Corrupt(
                "undecodable refresh token record or use marker".into(),
            )),
            _ => Err(unexpected_reply()),
        }
    }

    async fn get_refresh_token(
        &self,
        grant_id: &GrantId,
        token_hash: &TokenHash,
    ) -> Result<Option<RefreshRecord>, StoreError> {
        self.get_json(self.keys.refresh(grant_id.as_str(), token_hash))
            .await
    }

    async fn deny_access_token(&self, jti: &Jti, ttl: Duration) -> Result<(), StoreError> {
        let key = self.keys.denied(jti.as_str());
        let mut c = self.durable().await;
        bounded(c.pset_ex::<_, _, ()>(&key, "1", ms(ttl))).await?;
        self.replicated(&mut c, &key).await
    }

    async fn is_access_token_denied(&self, jti: &Jti) -> Result<bool, StoreError> {
        let mut c = self.conn().await;
        bounded(c.exists(self.keys.denied(jti.as_str()))).await
    }

    async fn claim_jti(
        &self,
        kind: JtiKind,
        scope: &str,
        jti: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = self.keys.jti(kind, scope, jti);
        // Durable: a claim lost in a failover would let the same assertion in again.
        let mut c = self.durable().await;
        let set: Option<String> = bounded(
            redis::cmd("SET")
                .arg(&key)
                .arg("1")
                .arg("NX")
                .arg("PX")
                .arg(ms(ttl))
                .query_async(&mut c),
        )
        .await?;
        if set.is_none() {
            return Ok(false);
        }
        self.replicated(&mut c, &key).await?;
        Ok(true)
    }

    async fn hit_rate_limit(
        &self,
        bucket: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, StoreError> {
        let mut c = self.conn().await;
        let mut hit = self.scripts.rate.key(self.keys.rate(bucket));
        hit.arg(ms(window));
        let (count, pttl): (u64, i64) = bounded(hit.invoke_async(&mut c)).await?;
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        Ok(RateDecision {
            allowed: count <= limit,
            remaining: limit.saturating_sub(count),
            retry_after_secs: retry_after_secs(pttl),
        })
    }

    async fn put_user_grant(
        &self,
        subject: &str,
        grant_id: &GrantId,
        entry: &UserGrant,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        // One key: a MULTI pipeline, one node, one round trip.
        let key = self.keys.user_grants(subject);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(&key, grant_id.as_str(), to_json(entry)?)
            .ignore()
            .pexpire(&key, i64::try_from(ms(ttl)).unwrap_or(i64::MAX))
            .ignore();
        let mut c = self.conn().await;
        bounded(pipe.query_async::<()>(&mut c)).await
    }

    async fn touch_user_grant(
        &self,
        subject: &str,
        grant_id: &GrantId,
        now: i64,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn().await;
        let mut touch = user_index_scripts::TOUCH.key(self.keys.user_grants(subject));
        touch.arg(grant_id.as_str()).arg(now).arg(ms(ttl));
        let touched: i64 = bounded(touch.invoke_async(&mut c)).await?;
        Ok(touched == 1)
    }

    async fn list_user_grants(
        &self,
        subject: &str,
    ) -> Result<Vec<(GrantId, UserGrant)>, StoreError> {
        let mut c = self.conn().await;
        let raw: Vec<(String, String)> = bounded(c.hgetall(self.keys.user_grants(subject))).await?;
        let mut grants = Vec::with_capacity(raw.len());
        for (gid, json) in raw {
            // A listing: an entry that does not decode is left out, not a failed page.
            match (GrantId::parse(&gid), from_json::<UserGrant>(&json)) {
                (Some(gid), Ok(entry)) => grants.push((gid, entry)),
                _ => tracing::warn!("undecodable entry in a user's grant index skipped"),
            }
        }
        Ok(grants)
    }

    async fn remove_user_grants(
        &self,
        subject: &str,
        grant_ids: &[GrantId],
    ) -> Result<(), StoreError> {
        if grant_ids.is_empty() {
            return Ok(());
        }
        let fields: Vec<&str> = grant_ids.iter().map(GrantId::as_str).collect();
        let mut c = self.conn().await;
        bounded(c.hdel::<_, _, ()>(self.keys.user_grants(subject), fields)).await
    }

    async fn put_session_flow(
        &self,
        upstream_state: &str,
        flow: &SessionFlow,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.set_json(self.keys.session_flow(upstream_state), flow, Some(ttl))
            .await
    }

    async fn take_session_flow(
        &self,
        upstream_state: &str,
    ) -> Result<Option<SessionFlow>, StoreError> {
        self.take_json(self.keys.session_flow(upstream_state)).await
    }

    async fn put_session(
        &self,
        session_id: &str,
        session: &ConnectionsSession,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.set_json(self.keys.session(session_id), session, Some(ttl))
            .await
    }

    async fn get_session(
        &self,
        session_id: &str,
    ) -> Result<Option<ConnectionsSession>, StoreError> {
        self.get_json(self.keys.session(session_id)).await
    }

    async fn delete_session(&self, session_id: &str) -> Result<(), StoreError> {
        let mut c = self.conn().await;
        bounded(c.del::<_, ()>(self.keys.session(session_id))).await
    }

    async fn extend_client(&self, client_id: &ClientId, ttl: Duration) -> Result<bool, StoreError> {
        let mut c = self.conn().await;
        let mut extend = extend_scripts::CLIENT.key(self.keys.client(client_id.as_str()));
        extend.arg(ms(ttl));
        let raw: Option<String> = bounded(extend.invoke_async(&mut c)).await?;
        let Some(raw) = raw else {
            return Ok(false);
        };
        if let Some(fingerprint) = from_json::<StoredClient>(&raw)?.fingerprint {
            let mut extend =
                extend_scripts::FINGERPRINT.key(self.keys.client_fingerprint(&fingerprint));
            extend.arg(client_id.as_str()).arg(ms(ttl));
            bounded(extend.invoke_async::<i64>(&mut c)).await?;
        }
        Ok(true)
    }
}

/// [`Store::extend_client`]'s scripts: like `touch_client`'s, but a key is only ever given
/// more time (`PEXPIRE … GT` would need Redis 7).
mod extend_scripts {
    use std::sync::LazyLock;

    use redis::Script;

    /// KEYS: client. ARGV: ttl ms. Extends the client to at least ttl; returns its record.
    pub(super) static CLIENT: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
local v = redis.call('GET', KEYS[1])
if v then
  local left = redis.call('PTTL', KEYS[1])
  if left >= 0 and left < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
end
return v
",
        )
    });

    /// KEYS: fingerprint. ARGV: client id, ttl ms. Extends the fingerprint to at least ttl if
    /// that client holds it.
    pub(super) static FINGERPRINT: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local left = redis.call('PTTL', KEYS[1])
if left >= 0 and left < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
",
        )
    });
}

/// [`Store::touch_user_grant`]'s script, over the one index key (its own slot).
mod user_index_scripts {
    use std::sync::LazyLock;

    use redis::Script;

    /// KEYS: user index. ARGV: grant id, now (Unix s), ttl ms. Sets `last_used` of an indexed
    /// grant and renews the index; 0 when the grant is not indexed (never re-adds a removed one).
    pub(super) static TOUCH: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local ok, e = pcall(cjson.decode, v)
if not ok or type(e) ~= 'table' then return 0 end
e['last_used'] = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
",
        )
    });
}

/// Whole seconds until a window with `pttl_ms` left resets, rounded up, at least 1.
fn retry_after_secs(pttl_ms: i64) -> u64 {
    u64::try_from(pttl_ms).unwrap_or(0).div_ceil(1000).max(1)
}

fn unexpected_reply() -> StoreError {
    StoreError::Corrupt("unexpected script reply".into())
}

/// Decodes a script reply `{status}` or `{status, payload}`.
/// A script's `{status, payload...}` reply (any number of string payloads).
fn status_and_payloads(value: redis::Value) -> Result<(i64, Vec<String>), StoreError> {
    let redis::Value::Array(items) = value else {
        return Err(unexpected_reply());
    };
    let mut items = items.into_iter();
    let status = match items.next() {
        Some(redis::Value::Int(n)) => n,
        _ => return Err(unexpected_reply()),
    };
    let payloads = items
        .map(|v| redis::from_redis_value::<String>(v).map_err(|_| unexpected_reply()))
        .collect::<Result<_, _>>()?;
    Ok((status, payloads))
}

fn status_and_payload(value: redis::Value) -> Result<(i64, Option<String>), StoreError> {
    let redis::Value::Array(items) = value else {
        return Err(unexpected_reply());
    };
    let mut items = items.into_iter();
    let status = match items.next() {
        Some(redis::Value::Int(n)) => n,
        _ => return Err(unexpected_reply()),
    };
    let payload = match items.next() {
        None => None,
        Some(v) => Some(redis::from_redis_value::<String>(v).map_err(|_| unexpected_reply())?),
    };
    if items.next().is_some() {
        return Err(unexpected_reply());
    }
    Ok((status, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_replies_decode_strictly() {
        let ok = redis::Value::Array(vec![
            redis::Value::Int(1),
            redis::Value::BulkString(b"{}".to_vec()),
        ]);
        assert_eq!(status_and_payload(ok).unwrap(), (1, Some("{}".into())));
        let bare = redis::Value::Array(vec![redis::Value::Int(4)]);
        assert_eq!(status_and_payload(bare).unwrap(), (4, None));
        for bad in [
            redis::Value::Nil,
            redis::Value::Int(1),
            redis::Value::Array(vec![]),
            redis::Value::Array(vec![redis::Value::Int(1), redis::Value::Nil]),
            redis::Value::Array(vec![
                redis::Value::Int(1),
                redis::Value::Int(2),
                redis::Value::Int(3),
            ]),
        ] {
            assert!(matches!(
                status_and_payload(bad),
                Err(StoreError::Corrupt(_))
            ));
        }
    }

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(retry_after_secs(1), 1);
        assert_eq!(retry_after_secs(1000), 1);
        assert_eq!(retry_after_secs(1001), 2);
        assert_eq!(retry_after_secs(59_999), 60);
        assert_eq!(retry_after_secs(0), 1);
        assert_eq!(retry_after_secs(-2), 1);
    }

    #[test]
    fn errors_name_the_kind_never_the_arguments() {
        let e = redis::RedisError::from((
            ErrorKind::Client,
            "failed",
            "SET secret-value-123".to_owned(),
        ));
        let StoreError::Unavailable(msg) = store_error(&e) else {
            panic!("a client error is unavailability");
        };
        assert!(!msg.contains("secret-value-123"), "{msg}");
        let io =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(
            matches!(store_error(&io), StoreError::Unavailable(m) if m == "redis: connection failed")
        );
    }

    #[test]
    fn ttls_are_never_zero_for_redis() {
        assert_eq!(ms(Duration::ZERO), 1);
        assert_eq!(ms(Duration::from_secs(2)), 2000);
        assert_eq!(ms(Duration::MAX), u64::MAX);
    }
}
