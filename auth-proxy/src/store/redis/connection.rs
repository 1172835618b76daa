//! One connection type for the three topologies ([`super::target::Topology`]), so the store's
//! commands and scripts do not care where they go.
//!
//! - One Redis: the crate's `ConnectionManager` (one multiplexed connection, reconnecting).
//! - Redis Cluster: the crate's cluster connection (follows slot moves and failovers by
//!   itself). Every script's keys share one hash tag (`keys.rs`), so each lands in one slot.
//! - Sentinel: a `ConnectionManager` to the master the sentinels name. When a command fails in
//!   a way a failover explains (connection lost or refused, `READONLY` from a demoted master),
//!   the sentinels are asked again (one lookup at a time, at most every
//!   [`REDISCOVER_INTERVAL`]); a new master gets a new connection, and the failed command is
//!   sent there once if it certainly did not run (refused, `READONLY`). Anything else is
//!   answered as an error (a 503), as for one Redis.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{
    Cmd, ConnectionAddr, ErrorKind, Pipeline, RedisConnectionInfo, RedisError, RedisFuture,
    RedisResult, ServerErrorKind, Value,
};

use super::target::{SentinelTarget, Topology};

/// How the store's connections behave, whatever the topology.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    pub connect: Duration,
    pub response: Duration,
    pub retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Timeouts {
    fn manager_config(&self) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect))
            .set_response_timeout(Some(self.response))
            .set_number_of_retries(self.retries)
            .set_min_delay(self.min_delay)
            .set_max_delay(self.max_delay)
    }
}

/// The sentinels are asked again at most this often while the master keeps failing.
const REDISCOVER_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Clone)]
pub(super) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(Arc<SentinelMaster>),
}

impl Connection {
    /// Opens a connection; fails when the topology cannot be reached now.
    pub(super) async fn open(topology: &Topology, timeouts: Timeouts) -> RedisResult<Self> {
        match topology {
            Topology::Single(url) => {
                let client = redis::Client::open(url.as_str())?;
                let manager =
                    ConnectionManager::new_with_config(client, timeouts.manager_config()).await?;
                Ok(Self::Single(manager))
            }
            Topology::Cluster(nodes) => {
                let retries = u32::try_from(timeouts.retries.max(1)).unwrap_or(1);
                let client = ClusterClientBuilder::new(nodes.iter().map(String::as_str))
                    .connection_timeout(timeouts.connect)
                    .response_timeout(timeouts.response)
                    .retries(retries)
                    .min_retry_wait(u64::try_from(timeouts.min_delay.as_millis()).unwrap_or(50))
                    .max_retry_wait(u64::try_from(timeouts.max_delay.as_millis()).unwrap_or(250))
                    .build()?;
                Ok(Self::Cluster(client.get_async_connection().await?))
            }
            Topology::Sentinel(target) => Ok(Self::Sentinel(Arc::new(
                SentinelMaster::open(target, timeouts).await?,
            ))),
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
            Self::Sentinel(s) => Box::pin(s.run(Request::Command(cmd))).into_single(),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Sentinel(s) => Box::pin(s.run(Request::Pipeline {
                pipeline,
                offset,
                count,
            }))
            .into_many(),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
            Self::Sentinel(s) => s.db,
        }
    }
}

enum Request<'a> {
    Command(&'a Cmd),
    Pipeline {
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    },
}

enum Reply {
    One(Value),
    Many(Vec<Value>),
}

trait IntoReply<'a> {
    fn into_single(self) -> RedisFuture<'a, Value>;
    fn into_many(self) -> RedisFuture<'a, Vec<Value>>;
}

impl<'a, F> IntoReply<'a> for std::pin::Pin<Box<F>>
where
    F: std::future::Future<Output = RedisResult<Reply>> + Send + 'a,
{
    fn into_single(self) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            match self.await? {
                Reply::One(v) => Ok(v),
                Reply::Many(_) => Err(RedisError::from((
                    ErrorKind::UnexpectedReturnType,
                    "pipeline reply to a command",
                ))),
            }
        })
    }

    fn into_many(self) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            match self.await? {
                Reply::Many(v) => Ok(v),
                Reply::One(_) => Err(RedisError::from((
                    ErrorKind::UnexpectedReturnType,
                    "command reply to a pipeline",
                ))),
            }
        })
    }
}

/// The master that the sentinels name, re-asked after failures a failover explains.
pub(super) struct SentinelMaster {
    /// Held while asking the sentinels: one lookup at a time.
    sentinels: tokio::sync::Mutex<Lookup>,
    current: RwLock<Master>,
    timeouts: Timeouts,
    db: i64,
}

struct Lookup {
    client: SentinelClient,
    last: Option<std::time::Instant>,
}

#[derive(Clone)]
struct Master {
    addr: ConnectionAddr,
    conn: ConnectionManager,
    /// Bumped on every switch, so a request knows whether someone already switched.
    generation: u64,
}

/// A failure that a failover explains: worth asking the sentinels again.
fn failover_symptom(e: &RedisError) -> bool {
    e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_io_error()
        || e.is_timeout()
        || e.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly)
}

/// A failure after which the command certainly did not run, so it may be sent again.
fn certainly_not_run(e: &RedisError) -> bool {
    e.is_connection_refusal() || e.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly)
}

impl SentinelMaster {
    async fn open(target: &SentinelTarget, timeouts: Timeouts) -> RedisResult<Self> {
        let mut info = RedisConnectionInfo::default().set_db(target.db);
        if let Some(user) = &target.username {
            info = info.set_username(user);
        }
        if let Some(pass) = &target.password {
            info = info.set_password(pass);
        }
        let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(info);
        let mut client = SentinelClient::build(
            target.sentinels.clone(),
            target.master_name.clone(),
            Some(node),
            SentinelServerType::Master,
        )?;
        let master = client.async_get_client().await?;
        let addr = master.get_connection_info().addr().clone();
        let conn = ConnectionManager::new_with_config(master, timeouts.manager_config()).await?;
        Ok(Self {
            sentinels: tokio::sync::Mutex::new(Lookup { client, last: None }),
            current: RwLock::new(Master {
                addr,
                conn,
                generation: 0,
            }),
            timeouts,
            db: target.db,
        })
    }

    fn current(&self) -> Master {
        match self.current.read() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    async fn run(&self, request: Request<'_>) -> RedisResult<Reply> {
        let master = self.current();
        let err = match send(master.conn.clone(), &request).await {
            Ok(reply) => return Ok(reply),
            Err(e) if failover_symptom(&e) => e,
            Err(e) => return Err(e),
        };
        match self.rediscover(master.generation).await {
            Some(moved) if certainly_not_run(&err) => send(moved.conn, &request).await,
            _ => Err(err),
        }
    }

    /// Asks the sentinels for the master unless someone switched since `seen` (then that
    /// master is the answer) or asked very recently. `Some` when the master is now another.
    async fn rediscover(&self, seen: u64) -> Option<Master> {
        let mut lookup = self.sentinels.lock().await;
        let current = self.current();
        if current.generation != seen {
            return Some(current);
        }
        let now = mcp_shared::ops::clock::monotonic();
        if lookup
            .last
            .is_some_and(|last| now.duration_since(last) < REDISCOVER_INTERVAL)
        {
            return None;
        }
        lookup.last = Some(now);
        let found = tokio::time::timeout(self.timeouts.connect, lookup.client.async_get_client())
            .await
            .ok()?
            .ok()?;
        let addr = found.get_connection_info().addr().clone();
        if addr == current.addr {
            return None;
        }
        let conn = ConnectionManager::new_with_config(found, self.timeouts.manager_config())
            .await
            .ok()?;
        let master = Master {
            addr,
            conn,
            generation: current.generation + 1,
        };
        tracing::warn!(
            generation = master.generation,
            "redis: the sentinels name a new master; switched to it"
        );
        match self.current.write() {
            Ok(mut m) => *m = master.clone(),
            Err(poisoned) => *poisoned.into_inner() = master.clone(),
        }
        Some(master)
    }
}

async fn send(mut conn: ConnectionManager, request: &Request<'_>) -> RedisResult<Reply> {
    match *request {
        Request::Command(cmd) => conn.req_packed_command(cmd).await.map(Reply::One),
        Request::Pipeline {
            pipeline,
            offset,
            count,
        } => conn
            .req_packed_commands(pipeline, offset, count)
            .await
            .map(Reply::Many),
    }
}
