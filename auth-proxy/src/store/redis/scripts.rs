//! The Lua scripts of the Redis store, one per atomic multi-key step. Each runs over keys
//! that share one hash tag (see `keys.rs`), so it works on Redis Cluster too.

use redis::Script;

/// KEYS: the key to take. Returns its value (or nil) and deletes it.
const TAKE: &str = r"
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v
";

/// KEYS: code, code-used marker, grant. ARGV: replay window ms, expected resource ('' for any).
/// Returns {1, record, grant} redeemed, {2} replayed, {3} live but for another resource (left in
/// place), {0} unknown. A code whose grant is gone (revoked) is consumed and reported unknown.
const TAKE_CODE: &str = r"
local v = redis.call('GET', KEYS[1])
if v then
  if ARGV[2] ~= '' then
    local ok, code = pcall(cjson.decode, v)
    if ok and type(code) == 'table' and code['resource'] ~= ARGV[2] then return {3} end
  end
  redis.call('DEL', KEYS[1])
  local g = redis.call('GET', KEYS[3])
  if not g then return {0} end
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
  return {1, v, g}
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
/// Returns {1, grant} rotated, {0} unknown, {2} wrong client, {3} revoked, {4} reuse detected,
/// {5} corrupt record.
///
/// Elapsed time since first use is clamped at zero: a replica whose clock lags the one that
/// marked the token must not see a negative age and so a wider (or, for a zero grace, any)
/// window.
const ROTATE: &str = r"
local rec = redis.call('GET', KEYS[1])
if not rec then return {0} end
local ok, decoded = pcall(cjson.decode, rec)
if not ok or type(decoded) ~= 'table' then return {5} end
if decoded['client_id'] ~= ARGV[1] then return {2} end
local grant = redis.call('GET', KEYS[3])
if not grant then return {3} end
local now = tonumber(ARGV[2])
local used = redis.call('GET', KEYS[2])
if used then
  local used_at = tonumber(used)
  if not used_at then return {5} end
  if math.max(now - used_at, 0) >= tonumber(ARGV[3]) then
    redis.call('DEL', KEYS[3])
    return {4, grant}
  end
else
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
end
redis.call('SET', KEYS[4], ARGV[5], 'PX', ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return {1, grant}
";

/// KEYS: counter. ARGV: window ms. Returns {count, pttl}. A counter that somehow lost its TTL
/// gets one back, so a bucket can never lock a client out for good.
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

/// KEYS: fingerprint. ARGV: client id, ttl ms, stale holder ('' for none).
/// Claims the fingerprint for the client if it is free (or held by the stale holder, a client
/// that no longer exists): {1}. Otherwise {0, current holder}.
const CLAIM_FINGERPRINT: &str = r"
local cur = redis.call('GET', KEYS[1])
if (not cur) or (ARGV[3] ~= '' and cur == ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1}
end
return {0, cur}
";

/// KEYS: client. ARGV: ttl ms. Extends the client and returns its record, or nil.
const TOUCH_CLIENT: &str = r"
local v = redis.call('GET', KEYS[1])
if v then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return v
";

/// KEYS: fingerprint. ARGV: client id, ttl ms. Extends the fingerprint if that client holds it.
const TOUCH_FINGERPRINT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// KEYS: lock. ARGV: holder. Deletes the lock only if `holder` still holds it.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Script objects hash their source once; invocations use EVALSHA and load the script on
/// `NOSCRIPT` (after a Redis restart or failover), which the `redis` crate does for us.
pub(super) struct Scripts {
    pub(super) take: Script,
    pub(super) take_code: Script,
    pub(super) put_refresh: Script,
    pub(super) rotate: Script,
    pub(super) rate: Script,
    pub(super) claim_fingerprint: Script,
    pub(super) touch_client: Script,
    pub(super) touch_fingerprint: Script,
    pub(super) unlock: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            take: Script::new(TAKE),
            take_code: Script::new(TAKE_CODE),
            put_refresh: Script::new(PUT_REFRESH),
            rotate: Script::new(ROTATE),
            rate: Script::new(RATE),
            claim_fingerprint: Script::new(CLAIM_FINGERPRINT),
            touch_client: Script::new(TOUCH_CLIENT),
            touch_fingerprint: Script::new(TOUCH_FINGERPRINT),
            unlock: Script::new(UNLOCK),
        }
    }
}
