//! In-memory store for single-process use and tests. Same semantics as the Redis store (the
//! contract suite runs against both); expiry is measured on the injected clock, so tests move
//! time instead of sleeping. One mutex, never held across an await.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use crate::ids::{ClientId, GrantId, Jti, TokenHash};

use super::keys::{JtiKind, Keys};
use super::{
    ClientPut, ClientRecord, CodeRecord, CodeTake, ConnectionsSession, GrantRecord, NextcloudLink,
    PendingAuthorization, RateDecision, RefreshOutcome, RefreshRecord, RefreshRotation,
    SessionFlow, Store, StoreError, UpstreamFlow, UserGrant,
};
use crate::clock::Clock;
use mcp_shared::Secret;

/// Expired entries are dropped lazily on access and by a sweep every this many writes.
const SWEEP_EVERY: u64 = 1024;

#[derive(Debug)]
struct Entry<T> {
    value: T,
    /// Unix milliseconds; `None` never expires.
    expires_at: Option<i64>,
}

/// A registered client and the metadata fingerprint it holds, if any.
#[derive(Debug)]
struct StoredClient {
    record: ClientRecord,
    fingerprint: Option<String>,
}

#[derive(Debug, Default)]
struct Tables {
    clients: HashMap<ClientId, Entry<StoredClient>>,
    /// metadata fingerprint → client id
    fingerprints: HashMap<String, Entry<ClientId>>,
    pending: HashMap<String, Entry<PendingAuthorization>>,
    upstream: HashMap<String, Entry<UpstreamFlow>>,
    grants: HashMap<String, Entry<GrantRecord>>,
    codes: HashMap<(String, String), Entry<CodeRecord>>,
    used_codes: HashMap<(String, String), Entry<()>>,
    refresh: HashMap<(String, String), Entry<RefreshRecord>>,
    /// First-use time (Unix milliseconds) of rotated refresh tokens.
    refresh_used: HashMap<(String, String), Entry<i64>>,
    denied: HashMap<String, Entry<()>>,
    /// `Keys::jti` key → used assertion id (hashed: bounded size whatever the presenter sent)
    jtis: HashMap<String, Entry<()>>,
    nextcloud_links: HashMap<String, Entry<NextcloudLink>>,
    /// grant id → holder of its upstream-refresh lock
    refresh_locks: HashMap<String, Entry<String>>,
    /// owner hash → sealed app password
    nextcloud_credentials: HashMap<String, Entry<String>>,
    /// bucket → (count, window end in ms)
    rate: HashMap<String, Entry<u32>>,
    /// `Keys::user_grants` key → grant id → index entry (one TTL for the whole index, as a
    /// Redis hash has)
    user_grants: HashMap<String, Entry<std::collections::BTreeMap<String, UserGrant>>>,
    /// `Keys::session_flow` key → connections sign-in
    session_flows: HashMap<String, Entry<SessionFlow>>,
    /// `Keys::session` key → connections session
    sessions: HashMap<String, Entry<ConnectionsSession>>,
    writes: u64,
}

fn live<T>(entry: &Entry<T>, now: i64) -> bool {
    entry.expires_at.is_none_or(|at| at > now)
}

fn get_live<'a, K: std::hash::Hash + Eq, T>(
    map: &'a mut HashMap<K, Entry<T>>,
    key: &K,
    now: i64,
) -> Option<&'a mut Entry<T>> {
    if map.get(key).is_some_and(|e| !live(e, now)) {
        map.remove(key);
    }
    map.get_mut(key)
}

fn take_live<K: std::hash::Hash + Eq, T>(
    map: &mut HashMap<K, Entry<T>>,
    key: &K,
    now: i64,
) -> Option<T> {
    map.remove(key).filter(|e| live(e, now)).map(|e| e.value)
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

pub struct MemoryStore {
    tables: Mutex<Tables>,
    clock: Arc<dyn Clock>,
    keys: Keys,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore")
    }
}

impl MemoryStore {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            tables: Mutex::new(Tables::default()),
            clock,
            keys: Keys::new("memory"),
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Tables>, StoreError> {
        // A panic while holding the lock poisons it; the tables themselves are still
        // consistent (updates are plain map inserts and removes, nothing that can panic
        // halfway through), so keep serving.
        Ok(self
            .tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    fn expiry(&self, ttl: Duration) -> Option<i64> {
        Some(self.now().saturating_add(ttl_ms(ttl)))
    }

    /// Counts a write and every `SWEEP_EVERY` writes drops everything expired.
    fn wrote(&self, t: &mut Tables) {
        t.writes += 1;
        if !t.writes.is_multiple_of(SWEEP_EVERY) {
            return;
        }
        let now = self.now();
        t.clients.retain(|_, e| live(e, now));
        t.fingerprints.retain(|_, e| live(e, now));
        t.pending.retain(|_, e| live(e, now));
        t.upstream.retain(|_, e| live(e, now));
        t.grants.retain(|_, e| live(e, now));
        t.codes.retain(|_, e| live(e, now));
        t.used_codes.retain(|_, e| live(e, now));
        t.refresh.retain(|_, e| live(e, now));
        t.refresh_used.retain(|_, e| live(e, now));
        t.denied.retain(|_, e| live(e, now));
        t.jtis.retain(|_, e| live(e, now));
        t.nextcloud_links.retain(|_, e| live(e, now));
        t.refresh_locks.retain(|_, e| live(e, now));
        t.nextcloud_credentials.retain(|_, e| live(e, now));
        t.rate.retain(|_, e| live(e, now));
        t.user_grants.retain(|_, e| live(e, now));
        t.session_flows.retain(|_, e| live(e, now));
        t.sessions.retain(|_, e| live(e, now));
    }
}

/// Deletes the grant, which alone revokes the family: every code and refresh token of it is
/// checked against the grant. (The same as Redis, so both report `Revoked` afterwards; the
/// orphaned entries go with their own TTLs.)
fn revoke(t: &mut Tables, grant_id: &str) {
    t.grants.remove(grant_id);
}

/// The live client holding `fingerprint`, if any.
fn holder(t: &mut Tables, fingerprint: &str, now: i64) -> Option<ClientRecord> {
    let id = get_live(&mut t.fingerprints, &fingerprint.to_owned(), now)?
        .value
        .clone();
    get_live(&mut t.clients, &id, now).map(|e| e.value.record.clone())
}

fn key(grant_id: &str, hash: &TokenHash) -> (String, String) {
    (grant_id.to_owned(), hash.as_str().to_owned())
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.lock().map(|_| ())
    }

    async fn put_client(
        &self,
        client: &ClientRecord,
        idle_ttl: Duration,
    ) -> Result<(), StoreError> {
        let expires_at = self.expiry(idle_ttl);
        let mut t = self.lock()?;
        t.clients.insert(
            client.client_id.clone(),
            Entry {
                value: StoredClient {
                    record: client.clone(),
                    fingerprint: None,
                },
                expires_at,
            },
        );
        self.wrote(&mut t);
        Ok(())
    }

    async fn get_client(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        let now = self.now();
        let mut t = self.lock()?;
        Ok(get_live(&mut t.clients, client_id, now).map(|e| e.value.record.clone()))
    }

    async fn put_client_deduplicated(
        &self,
        fingerprint: &str,
        client: &ClientRecord,
        idle_ttl: Duration,
    ) -> Result<ClientPut, StoreError> {
        let now = self.now();
        let expires_at = self.expiry(idle_ttl);
        let mut t = self.lock()?;
        if let Some(existing) = holder(&mut t, fingerprint, now) {
            return Ok(ClientPut::Existing(Box::new(existing)));
        }
        t.clients.insert(
            client.client_id.clone(),
            Entry {
                value: StoredClient {
                    record: client.clone(),
                    fingerprint: Some(fingerprint.to_owned()),
                },
                expires_at,
            },
        );
        t.fingerprints.insert(
            fingerprint.to_owned(),
            Entry {
                value: client.client_id.clone(),
                expires_at,
            },
        );
        self.wrote(&mut t);
        Ok(ClientPut::Created)
    }

    async fn find_client_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        let now = self.now();
        Ok(holder(&mut *self.lock()?, fingerprint, now))
    }

    async fn touch_client(
        &self,
        client_id: &ClientId,
        idle_ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let expires_at = self.expiry(idle_ttl);
        let mut t = self.lock()?;
        let Some(entry) = get_live(&mut t.clients, client_id, now) else {
            return Ok(false);
        };
        entry.expires_at = expires_at;
        if let Some(fingerprint) = entry.value.fingerprint.clone() {
            if let Some(fp) = get_live(&mut t.fingerprints, &fingerprint, now) {
                if fp.value == *client_id {
                    fp.expires_at = expires_at;
                }
            }
        }
        Ok(true)
    }

    async fn put_pending_authorization(
        &self,
        flow_id: &str,
        flow: &PendingAuthorization,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let expires_at = self.expiry(ttl);
        let mut t = self.lock()?;
        t.pending.insert(
            flow_id.to_owned(),
            Entry {
                value: flow.clone(),
                expires_at,
            },
        );
        self.wrote(&mut t);
        Ok(())
    }

    async fn take_pending_authorization(
        &self,
        flow_id: &str,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let now = self.now();
        Ok(take_live(
            &mut self.lock()?.pending,
            &flow_id.to_owned(),
            now,
        ))
    }

    async fn put_upstream_flow(
        &self,
        upstream_state: &str,
        flow: &UpstreamFlow,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let expires_at = self.expiry(ttl);
        let mut t = self.lock()?;
        t.upstream.insert(
            upstream_state.to_owned(),
            Entry {
                value: flow.clone(),
                expires_at,
            },
        );
        self.wrote(&mut t);
        Ok(())
    }

    async fn take_upstream_flow(
        &self,
        upstream_state: &str,
    ) -> Result<Option<UpstreamFlow>, StoreError> {
        let now = self.now();
        Ok(take_live(
            &mut self.lock()?.upstream,
            &upstream_state.to_owned(),
            now,
        ))
    }

    async fn put_nextcloud_link(
        &self,
        link_hash: &str,
        link: &NextcloudLink,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let expires_at = self.expiry(ttl);
        let mut t = self.lock()?;
        t.nextcloud_links.insert(
            link_hash.to_owned(),
            Entry {
                value: link.clone(),
                expires_at,
            },
        );
        self.wrote(&mut t);
        Ok(())
    }

    async fn get_nextcloud_link(
        &self,
        link_hash: &str,
    ) -> Result<Option<NextcloudLink>, StoreError> {
        let now = self.now();
        Ok(get_live(
            &mut self.lock()?.nextcloud_links,
            &link_hash.to_owned(),
            now,
        )
        .map(|e| e.value.clone()))
    }

    async fn put_nextcloud_credential(
        &self,
        owner: &str,
        sealed: &str,
        idle_ttl: Duration,
    ) -> Result<(), StoreError> {
        let expires_at = self.expiry(idle_ttl);
        let mut t = self.lock()?;
        t.nextcloud_credentials.insert(
            owner.to_owned(),
            Entry {
                value: sealed.to_owned(),
                expires_at,
            },
        );
        self.wrote(&mut t);
        Ok(())
    }

    async fn touch_nextcloud_credential(
        &self,
        owner: &str,
        idle_ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let expires_at = self.expiry(idle_ttl);
        if let Some(entry) = get_live(
            &mut self.lock()?.nextcloud_credentials,
            &owner.to_owned(),
            now,
        ) {
            entry.expires_at = expires_at;
        }
        Ok(())
    }

    async fn get_nextcloud_credential(&self, owner: &str) -> Result<Option<Secret>, StoreError> {
        let now = self.now();
        Ok(get_live(
            &mut self.lock()?.nextcloud_credentials,
            &owner.to_owned(),
            now,
        )
        .map(|e| Secret::new(e.value.as_str())))
    }

    async fn take_nextcloud_credential(&self, owner: &str) -> Result<Option<Secret>, StoreError> {
        let now = self.now();
        Ok(take_live(
            &mut self.lock()?.nextcloud_credentials,
            &owner.to_owned(),
            now,
        )
        .map(Secret::new))
    }

    async fn lock_upstream_refresh(
        &self,
        grant_id: &GrantId,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let expires_at = self.expiry(ttl);
        let mut t = self.lock()?;
        let key = grant_id.as_str().to_owned();
        if get_live(&mut t.refresh_locks, &key, now).is_some() {
            return Ok(false);
        }
        t.refresh_locks.insert(
            key,
            Entry {
                value: holder.to_owned(),
                expires_at,
            },
        );
        self.wrote(&mut t);
        Ok(true)
    }

    async fn unlock_upstream_refresh(
        &self,
        grant_id: &GrantId,
        holder: &str,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        if t.refresh_locks
            .get(grant_id.as_str())
            .is_some_and(|e| e.value == holder)
        {
            t.refresh_locks.remove(grant_id.as_str());
        }
        Ok(())
    }

    async fn put_grant(&self, grant: &GrantRecord, ttl: Duration) -> Result<(), StoreError> {
        let expires_at = self.expiry(ttl);
        let mut t = self.lock()?;
        t.grants.insert(
            grant.grant_id.as_str().to_owned(),
            Entry {
                value: grant.clone(),
                expires_at,
            },
        );
        self.wrote(&mut t);
        Ok(())
    }

    async fn get_grant(&self, grant_id: &GrantId) -> Result<Option<GrantRecord>, StoreError> {
        let grant_id = grant_id.as_str();
        let now = self.now();
        let mut t = self.lock()?;
        Ok(get_live(&mut t.grants, &grant_id.to_owned(), now).map(|e| e.value.clone()))
    }

    async fn update_grant_upstream(
        &self,
        grant_id: &GrantId,
        upstream_sealed: &str,
    ) -> Result<bool, StoreError> {
        let grant_id = grant_id.as_str();
        let now = self.now();
        let mut t = self.lock()?;
        Ok(match get_live(&mut t.grants, &grant_id.to_owned(), now) {
            Some(entry) => {
                entry.value.upstream_sealed = upstream_sealed.into();
                true
            }
            None => false,
        })
    }

    async fn revoke_grant(&self, grant_id: &GrantId) -> Result<(), StoreError> {
        let grant_id = grant_id.as_str();
        revoke(&mut *self.lock()?, grant_id);
        Ok(())
    }

    async fn put_code(
        &self,
        grant_id: &GrantId,
        code_hash: &TokenHash,
        code: &CodeRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let grant_id = grant_id.as_str();
        let expires_at = self.expiry(ttl);
        let mut t = self.lock()?;
        t.codes.insert(
            key(grant_id, code_hash),
            Entry {
                value: code.clone(),
                expires_at,
            },
        );
        self.wrote(&mut t);
        Ok(())
    }

    async fn take_code(
        &self,
        grant_id: &GrantId,
        code_hash: &TokenHash,
        replay_window: Duration,
        expected_resource: Option<&str>,
    ) -> Result<CodeTake, StoreError> {
        let grant_id = grant_id.as_str();
        let now = self.now();
        let expires_at = self.expiry(replay_window);
        let k = key(grant_id, code_hash);
        let mut t = self.lock()?;
        if let Some(code) = get_live(&mut t.codes, &k, now) {
            if expected_resource.is_some_and(|r| r != code.value.resource) {
                return Ok(CodeTake::ResourceMismatch);
            }
        }
        if let Some(code) = take_live(&mut t.codes, &k, now) {
            // A code of a revoked grant is consumed and unknown, as in the Redis script.
            let Some(grant) =
                get_live(&mut t.grants, &grant_id.to_owned(), now).map(|g| g.value.clone())
            else {
                return Ok(CodeTake::Unknown);
            };
            t.used_codes.insert(
                k,
                Entry {
                    value: (),
                    expires_at,
                },
            );
            self.wrote(&mut t);
            return Ok(CodeTake::Redeemed {
                code,
                grant: Box::new(grant),
            });
        }
        Ok(if get_live(&mut t.used_codes, &k, now).is_some() {
            CodeTake::Replayed
        } else {
            CodeTake::Unknown
        })
    }

    async fn put_refresh_token(
        &self,
        grant_id: &GrantId,
        token_hash: &TokenHash,
        record: &RefreshRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let grant_id = grant_id.as_str();
        let now = self.now();
        let expires_at = self.expiry(ttl);
        let mut t = self.lock()?;
        if let Some(grant) = get_live(&mut t.grants, &grant_id.to_owned(), now) {
            grant.expires_at = expires_at;
        }
        t.refresh.insert(
            key(grant_id, token_hash),
            Entry {
                value: record.clone(),
                expires_at,
            },
        );
        self.wrote(&mut t);
        Ok(())
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
        let now = self.now();
        let expires_at = self.expiry(ttl);
        let presented = key(grant_id, presented_hash);
        let mut t = self.lock()?;
        let Some(record) = get_live(&mut t.refresh, &presented, now).map(|e| e.value.clone())
        else {
            return Ok(RefreshOutcome::Unknown);
        };
        if record.client_id != *client_id {
            return Ok(RefreshOutcome::WrongClient);
        }
        let gid = grant_id.to_owned();
        let Some(grant) = get_live(&mut t.grants, &gid, now).map(|e| e.value.clone()) else {
            return Ok(RefreshOutcome::Revoked);
        };
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        match get_live(&mut t.refresh_used, &presented, now).map(|e| e.value) {
            None => {
                t.refresh_used.insert(
                    presented,
                    Entry {
                        value: now_ms,
                        expires_at,
                    },
                );
            }
            // Age clamped at zero: a caller whose clock lags the one that marked the token
            // must not get a wider (for zero grace: any) window. Same as the Redis script.
            Some(used_at) if now_ms.saturating_sub(used_at).max(0) < grace_ms => {}
            Some(_) => {
                revoke(&mut t, grant_id);
                return Ok(RefreshOutcome::ReuseDetected(Box::new(grant)));
            }
        }
        let new_record = RefreshRecord {
            client_id: client_id.clone(),
            issued_at: now_ms.div_euclid(1000),
        };
        t.refresh.insert(
            key(grant_id, new_hash),
            Entry {
                value: new_record,
                expires_at,
            },
        );
        let grant = t
            .grants
            .get_mut(&gid)
            .ok_or_else(|| StoreError::Corrupt("grant vanished under the lock".into()))?;
        grant.expires_at = expires_at;
        let grant = grant.value.clone();
        self.wrote(&mut t);
        Ok(RefreshOutcome::Rotated(grant))
    }

    async fn get_refresh_token(
        &self,
        grant_id: &GrantId,
        token_hash: &TokenHash,
    ) -> Result<Option<RefreshRecord>, StoreError> {
        let grant_id = grant_id.as_str();
        let now = self.now();
        let mut t = self.lock()?;
        Ok(get_live(&mut t.refresh, &key(grant_id, token_hash), now).map(|e| e.value.clone()))
    }

    async fn deny_access_token(&self, jti: &Jti, ttl: Duration) -> Result<(), StoreError> {
        let expires_at = self.expiry(ttl);
        let mut t = self.lock()?;
        t.denied.insert(
            jti.as_str().to_owned(),
            Entry {
                value: (),
                expires_at,
            },
        );
        self.wrote(&mut t);
        Ok(())
    }

    async fn is_access_token_denied(&self, jti: &Jti) -> Result<bool, StoreError> {
        let now = self.now();
        let mut t = self.lock()?;
        Ok(get_live(&mut t.denied, &jti.as_str().to_owned(), now).is_some())
    }

    async fn claim_jti(
        &self,
        kind: JtiKind,
        scope: &str,
        jti: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = self.keys.jti(kind, scope, jti);
        let now = self.now();
        let expires_at = self.expiry(ttl);
        let mut t = self.lock()?;
        if get_live(&mut t.jtis, &key, now).is_some() {
            return Ok(false);
        }
        t.jtis.insert(
            key,
            Entry {
                value: (),
                expires_at,
            },
        );
        self.wrote(&mut t);
        Ok(true)
    }

    async fn hit_rate_limit(
        &self,
        bucket: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, StoreError> {
        let now = self.now();
        let mut t = self.lock()?;
        let entry = match get_live(&mut t.rate, &bucket.to_owned(), now) {
            Some(e) => e,
            None => {
                t.rate.insert(
                    bucket.to_owned(),
                    Entry {
                        value: 0,
                        expires_at: Some(now.saturating_add(ttl_ms(window))),
                    },
                );
                t.rate
                    .get_mut(bucket)
                    .ok_or_else(|| StoreError::Corrupt("rate bucket vanished".into()))?
            }
        };
        entry.value = entry.value.saturating_add(1);
        let count = entry.value;
        let remaining_ms = entry
            .expires_at
            .map_or(0, |at| at.saturating_sub(now))
            .max(0);
        self.wrote(&mut t);
        Ok(RateDecision {
            allowed: count <= limit,
            remaining: limit.saturating_sub(count),
            retry_after_secs: u64::try_from((remaining_ms + 999) / 1000)
                .unwrap_or(1)
                .max(1),
        })
    }

    async fn put_user_grant(
        &self,
        subject: &str,
        grant_id: &GrantId,
        entry: &UserGrant,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let key = self.keys.user_grants(subject);
        let now = self.now();
        let expires_at = self.expiry(ttl);
        let mut t = self.lock()?;
        if get_live(&mut t.user_grants, &key, now).is_none() {
            t.user_grants.insert(
                key.clone(),
                Entry {
                    value: Default::default(),
                    expires_at,
                },
            );
        }
        if let Some(index) = t.user_grants.get_mut(&key) {
            index
                .value
                .insert(grant_id.as_str().to_owned(), entry.clone());
            index.expires_at = expires_at;
        }
        self.wrote(&mut t);
        Ok(())
    }

    async fn touch_user_grant(
        &self,
        subject: &str,
        grant_id: &GrantId,
        now_secs: i64,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = self.keys.user_grants(subject);
        let now = self.now();
        let expires_at = self.expiry(ttl);
        let mut t = self.lock()?;
        let Some(index) = get_live(&mut t.user_grants, &key, now) else {
            return Ok(false);
        };
        let Some(entry) = index.value.get_mut(grant_id.as_str()) else {
            return Ok(false);
        };
        entry.last_used = Some(now_secs);
        index.expires_at = expires_at;
        Ok(true)
    }

    async fn list_user_grants(
        &self,
        subject: &str,
    ) -> Result<Vec<(GrantId, UserGrant)>, StoreError> {
        let key = self.keys.user_grants(subject);
        let now = self.now();
        let mut t = self.lock()?;
        Ok(get_live(&mut t.user_grants, &key, now)
            .map(|index| {
                index
                    .value
                    .iter()
                    .filter_map(|(gid, e)| GrantId::parse(gid).map(|g| (g, e.clone())))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn remove_user_grants(
        &self,
        subject: &str,
        grant_ids: &[GrantId],
    ) -> Result<(), StoreError> {
        let key = self.keys.user_grants(subject);
        let now = self.now();
        let mut t = self.lock()?;
        if let Some(index) = get_live(&mut t.user_grants, &key, now) {
            for gid in grant_ids {
                index.value.remove(gid.as_str());
            }
            if index.value.is_empty() {
                t.user_grants.remove(&key);
            }
        }
        Ok(())
    }

    async fn put_session_flow(
        &self,
        upstream_state: &str,
        flow: &SessionFlow,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let key = self.keys.session_flow(upstream_state);
        let expires_at = self.expiry(ttl);
        let mut t = self.lock()?;
        t.session_flows.insert(
            key,
            Entry {
                value: flow.clone(),
                expires_at,
            },
        );
        self.wrote(&mut t);
        Ok(())
    }

    async fn take_session_flow(
        &self,
        upstream_state: &str,
    ) -> Result<Option<SessionFlow>, StoreError> {
        let key = self.keys.session_flow(upstream_state);
        let now = self.now();
        Ok(take_live(&mut self.lock()?.session_flows, &key, now))
    }

    async fn put_session(
        &self,
        session_id: &str,
        session: &ConnectionsSession,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let key = self.keys.session(session_id);
        let expires_at = self.expiry(ttl);
        let mut t = self.lock()?;
        t.sessions.insert(
            key,
            Entry {
                value: session.clone(),
                expires_at,
            },
        );
        self.wrote(&mut t);
        Ok(())
    }

    async fn get_session(
        &self,
        session_id: &str,
    ) -> Result<Option<ConnectionsSession>, StoreError> {
        let key = self.keys.session(session_id);
        let now = self.now();
        Ok(get_live(&mut self.lock()?.sessions, &key, now).map(|e| e.value.clone()))
    }

    async fn delete_session(&self, session_id: &str) -> Result<(), StoreError> {
        let key = self.keys.session(session_id);
        self.lock()?.sessions.remove(&key);
        Ok(())
    }

    async fn extend_client(&self, client_id: &ClientId, ttl: Duration) -> Result<bool, StoreError> {
        let now = self.now();
        let at_least = self.expiry(ttl);
        let longer = |current: Option<i64>| current.zip(at_least).map(|(c, a)| c.max(a));
        let mut t = self.lock()?;
        let Some(entry) = get_live(&mut t.clients, client_id, now) else {
            return Ok(false);
        };
        entry.expires_at = longer(entry.expires_at);
        if let Some(fingerprint) = entry.value.fingerprint.clone() {
            if let Some(fp) = get_live(&mut t.fingerprints, &fingerprint, now) {
                if fp.value == *client_id {
                    fp.expires_at = longer(fp.expires_at);
                }
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;

    fn entries(store: &MemoryStore) -> usize {
        let t = store.lock().unwrap();
        t.clients.len()
            + t.fingerprints.len()
            + t.pending.len()
            + t.upstream.len()
            + t.grants.len()
            + t.codes.len()
            + t.used_codes.len()
            + t.refresh.len()
            + t.refresh_used.len()
            + t.denied.len()
            + t.jtis.len()
            + t.rate.len()
    }

    #[tokio::test]
    async fn expired_entries_are_swept_without_being_read() {
        let clock = FakeClock::at_secs(1_700_000_000);
        let store = MemoryStore::new(Arc::new(clock.clone()));
        let ttl = Duration::from_secs(1);
        for i in 0..SWEEP_EVERY {
            store
                .deny_access_token(&Jti::parse(&format!("j{i}")).unwrap(), ttl)
                .await
                .unwrap();
        }
        // The SWEEP_EVERY-th write swept, but nothing had expired yet.
        assert_eq!(entries(&store), usize::try_from(SWEEP_EVERY).unwrap());
        clock.advance_secs(2);
        for i in 0..SWEEP_EVERY {
            store
                .hit_rate_limit(&format!("b{i}"), 5, Duration::from_secs(3600))
                .await
                .unwrap();
        }
        // The next sweep dropped every expired deny-list entry, none of which was read again.
        assert_eq!(entries(&store), usize::try_from(SWEEP_EVERY).unwrap());
        let t = store.lock().unwrap();
        assert!(t.denied.is_empty());
    }

    #[tokio::test]
    async fn expired_entries_are_dropped_when_read() {
        let clock = FakeClock::at_secs(1_700_000_000);
        let store = MemoryStore::new(Arc::new(clock.clone()));
        store
            .deny_access_token(&Jti::parse("j").unwrap(), Duration::from_secs(1))
            .await
            .unwrap();
        clock.advance_millis(999);
        assert!(store
            .is_access_token_denied(&Jti::parse("j").unwrap())
            .await
            .unwrap());
        clock.advance_millis(1);
        assert!(!store
            .is_access_token_denied(&Jti::parse("j").unwrap())
            .await
            .unwrap());
        assert_eq!(entries(&store), 0);
    }
}
