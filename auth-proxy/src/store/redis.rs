//! Redis store, shared by every replica. Values are JSON; every transient key has a TTL;
//! single-use takes are GETDEL-atomic (a Lua GET+DEL, which also serves Redis < 6.2); the
//! multi-key updates (code redemption, refresh rotation, rate limiting) are single Lua scripts
//! over keys that share a hash tag. Key layout: `keys.rs`.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::keys::Keys;
use super::{
    ClientRecord, CodeRecord, CodeTake, GrantRecord, PendingAuthorization, RateDecision,
    RefreshOutcome, RefreshRecord, Store, StoreError, UpstreamFlow,
};

/// A request to Redis that takes longer than this fails, so a dead Redis turns into a quick
/// 503 rather than a hung request.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

const TAKE: &str = r"
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v
";

/// KEYS: code, code-used. ARGV: replay window ms.
/// Returns {1, record} redeemed, {2} replayed, {0} unknown.
const TAKE_CODE: &str = r"
local v = redis.call('GET', KEYS[1])
if v then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
  return {1, v}
end
if redis.call('EXISTS', KEYS[2]) == 1 then return {2} end
return {0}
";

/// KEYS: refresh record, grant. ARGV: record JSON, ttl ms.
const PUT_REFRESH: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return 1
";

/// KEYS: presented record, presented used-marker, grant, new record.
/// ARGV: client id, now ms, grace ms, ttl ms, new record JSON.
/// Returns {1, grant} rotated, {0} unknown, {2} wrong client, {3} revoked, {4} reuse detected.
const ROTATE: &str = r"
local rec = redis.call('GET', KEYS[1])
if not rec then return {0} end
local ok, decoded = pcall(cjson.decode, rec)
if not ok or decoded['client_id'] ~= ARGV[1] then return {2} end
local grant = redis.call('GET', KEYS[3])
if not grant then return {3} end
local now = tonumber(ARGV[2])
local used = redis.call('GET', KEYS[2])
if used then
  if now - tonumber(used) >= tonumber(ARGV[3]) then
    redis.call('DEL', KEYS[3])
    return {4}
  end
else
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
end
redis.call('SET', KEYS[4], ARGV[5], 'PX', ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return {1, grant}
";

/// KEYS: grant. ARGV: new grant JSON. Keeps the TTL.
const REPLACE_KEEP_TTL: &str = r"
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return 0 end
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
";

/// KEYS: counter. ARGV: window ms. Returns {count, pttl}.
const RATE: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
";

struct Scripts {
    take: Script,
    take_code: Script,
    put_refresh: Script,
    rotate: Script,
    replace_keep_ttl: Script,
    rate: Script,
}

pub struct RedisStore {
    conn: ConnectionManager,
    keys: Keys,
    scripts: Scripts,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.keys.base())
            .finish()
    }
}

/// Error kinds only: Redis error texts can echo arguments, which may be sensitive.
fn unavailable(e: redis::RedisError) -> StoreError {
    let kind = if e.is_timeout() {
        "timeout".to_owned()
    } else if e.is_connection_refusal() || e.is_io_error() || e.is_connection_dropped() {
        "connection failed".to_owned()
    } else {
        format!("{:?}", e.kind())
    };
    StoreError::Unavailable(format!("redis: {kind}"))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: DeserializeOwned>(raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw)
        .map_err(|e| StoreError::Corrupt(format!("undecodable value ({:?})", e.classify())))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStore {
    /// Connects (and keeps reconnecting in the background) to `url`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|_| StoreError::Unavailable("redis: invalid URL".into()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(unavailable)?;
        Ok(Self {
            conn,
            keys: Keys::new(prefix),
            scripts: Scripts {
                take: Script::new(TAKE),
                take_code: Script::new(TAKE_CODE),
                put_refresh: Script::new(PUT_REFRESH),
                rotate: Script::new(ROTATE),
                replace_keep_ttl: Script::new(REPLACE_KEEP_TTL),
                rate: Script::new(RATE),
            },
        })
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    async fn set_json<T: Serialize>(
        &self,
        key: String,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let json = to_json(value)?;
        let mut c = self.conn();
        match ttl {
            Some(ttl) => c.pset_ex::<_, _, ()>(key, json, ms(ttl)).await,
            None => c.set::<_, _, ()>(key, json).await,
        }
        .map_err(unavailable)
    }

    async fn get_json<T: DeserializeOwned>(&self, key: String) -> Result<Option<T>, StoreError> {
        let raw: Option<String> = self.conn().get(key).await.map_err(unavailable)?;
        raw.as_deref().map(from_json).transpose()
    }

    async fn take_json<T: DeserializeOwned>(&self, key: String) -> Result<Option<T>, StoreError> {
        let raw: Option<String> = self
            .scripts
            .take
            .key(key)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        raw.as_deref().map(from_json).transpose()
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn ping(&self) -> Result<(), StoreError> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.conn())
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn put_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        self.set_json(self.keys.client(&client.client_id), client, None)
            .await
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.get_json(self.keys.client(client_id)).await
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
        self.set_json(self.keys.grant(&grant.grant_id), grant, Some(ttl))
            .await
    }

    async fn get_grant(&self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError> {
        self.get_json(self.keys.grant(grant_id)).await
    }

    async fn update_grant_upstream(
        &self,
        grant_id: &str,
        upstream_sealed: &str,
    ) -> Result<bool, StoreError> {
        let Some(mut grant) = self.get_grant(grant_id).await? else {
            return Ok(false);
        };
        grant.upstream_sealed = upstream_sealed.to_owned();
        let replaced: i64 = self
            .scripts
            .replace_keep_ttl
            .key(self.keys.grant(grant_id))
            .arg(to_json(&grant)?)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(replaced == 1)
    }

    async fn revoke_grant(&self, grant_id: &str) -> Result<(), StoreError> {
        self.conn()
            .del::<_, ()>(self.keys.grant(grant_id))
            .await
            .map_err(unavailable)
    }

    async fn put_code(
        &self,
        grant_id: &str,
        code_hash: &str,
        code: &CodeRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.set_json(self.keys.code(grant_id, code_hash), code, Some(ttl))
            .await
    }

    async fn take_code(
        &self,
        grant_id: &str,
        code_hash: &str,
        replay_window: Duration,
    ) -> Result<CodeTake, StoreError> {
        let (status, raw): (i64, Option<String>) = self
            .scripts
            .take_code
            .key(self.keys.code(grant_id, code_hash))
            .key(self.keys.code_used(grant_id, code_hash))
            .arg(ms(replay_window))
            .invoke_async::<redis::Value>(&mut self.conn())
            .await
            .map_err(unavailable)
            .and_then(status_and_payload)?;
        match (status, raw) {
            (1, Some(raw)) => Ok(CodeTake::Redeemed(from_json(&raw)?)),
            (2, _) => Ok(CodeTake::Replayed),
            _ => Ok(CodeTake::Unknown),
        }
    }

    async fn put_refresh_token(
        &self,
        grant_id: &str,
        token_hash: &str,
        record: &RefreshRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.scripts
            .put_refresh
            .key(self.keys.refresh(grant_id, token_hash))
            .key(self.keys.grant(grant_id))
            .arg(to_json(record)?)
            .arg(ms(ttl))
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn rotate_refresh_token(
        &self,
        grant_id: &str,
        presented_hash: &str,
        client_id: &str,
        new_hash: &str,
        now_ms: i64,
        grace: Duration,
        ttl: Duration,
    ) -> Result<RefreshOutcome, StoreError> {
        let new_record = RefreshRecord {
            client_id: client_id.to_owned(),
            issued_at: now_ms.div_euclid(1000),
        };
        let (status, raw) = self
            .scripts
            .rotate
            .key(self.keys.refresh(grant_id, presented_hash))
            .key(self.keys.refresh_used(grant_id, presented_hash))
            .key(self.keys.grant(grant_id))
            .key(self.keys.refresh(grant_id, new_hash))
            .arg(client_id)
            .arg(now_ms)
            .arg(u64::try_from(grace.as_millis()).unwrap_or(u64::MAX))
            .arg(ms(ttl))
            .arg(to_json(&new_record)?)
            .invoke_async::<redis::Value>(&mut self.conn())
            .await
            .map_err(unavailable)
            .and_then(status_and_payload)?;
        Ok(match (status, raw) {
            (1, Some(grant)) => RefreshOutcome::Rotated(from_json(&grant)?),
            (2, _) => RefreshOutcome::WrongClient,
            (3, _) => RefreshOutcome::Revoked,
            (4, _) => RefreshOutcome::ReuseDetected,
            _ => RefreshOutcome::Unknown,
        })
    }

    async fn get_refresh_token(
        &self,
        grant_id: &str,
        token_hash: &str,
    ) -> Result<Option<RefreshRecord>, StoreError> {
        self.get_json(self.keys.refresh(grant_id, token_hash)).await
    }

    async fn deny_access_token(&self, jti: &str, ttl: Duration) -> Result<(), StoreError> {
        self.conn()
            .pset_ex::<_, _, ()>(self.keys.denied(jti), "1", ms(ttl))
            .await
            .map_err(unavailable)
    }

    async fn is_access_token_denied(&self, jti: &str) -> Result<bool, StoreError> {
        self.conn()
            .exists(self.keys.denied(jti))
            .await
            .map_err(unavailable)
    }

    async fn hit_rate_limit(
        &self,
        bucket: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, StoreError> {
        let (count, pttl): (u64, i64) = self
            .scripts
            .rate
            .key(self.keys.rate(bucket))
            .arg(ms(window))
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        Ok(RateDecision {
            allowed: count <= limit,
            remaining: limit.saturating_sub(count),
            retry_after_secs: (u64::try_from(pttl).unwrap_or(0) + 999)
                .div_euclid(1000)
                .max(1),
        })
    }
}

/// Decodes a script reply `{status}` or `{status, payload}`.
fn status_and_payload(value: redis::Value) -> Result<(i64, Option<String>), StoreError> {
    let corrupt = || StoreError::Corrupt("unexpected script reply".into());
    let redis::Value::Array(items) = value else {
        return Err(corrupt());
    };
    let mut items = items.into_iter();
    let status = match items.next() {
        Some(redis::Value::Int(n)) => n,
        _ => return Err(corrupt()),
    };
    let payload = match items.next() {
        None => None,
        Some(v) => Some(redis::from_redis_value::<String>(v).map_err(|_| corrupt())?),
    };
    Ok((status, payload))
}
