//! The Nextcloud user behind a credential, remembered so that every DAV call does not first ask
//! OCS who the user is. Answers are kept per credential (a SHA-256 of it, never the credential
//! itself) for a bounded time; failures are kept briefly, so that a Nextcloud that is down or
//! refuses the credential is not asked again by every concurrent tool call. Concurrent lookups
//! for one credential share one request.

use std::time::{Duration, Instant};

use moka::future::Cache;
use ring::digest::{digest, SHA256};

use super::{NcAuth, NcError, NcUser, Nextcloud};

/// How long a user document is used before it is asked for again.
pub const USER_TTL: Duration = Duration::from_secs(600);
/// How long a failed lookup is answered from memory.
pub const FAILURE_TTL: Duration = Duration::from_secs(5);
/// Most credentials remembered at once.
const MAX_ENTRIES: u64 = 10_000;

type Lookup = Result<NcUser, NcError>;

struct Lifetimes;

impl moka::Expiry<[u8; 32], Lookup> for Lifetimes {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        value: &Lookup,
        _at: Instant,
    ) -> Option<Duration> {
        Some(match value {
            Ok(_) => USER_TTL,
            Err(_) => FAILURE_TTL,
        })
    }
}

/// Nextcloud user documents by credential.
#[derive(Clone)]
pub struct UserCache {
    entries: Cache<[u8; 32], Lookup>,
}

impl Default for UserCache {
    fn default() -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .expire_after(Lifetimes)
                .build(),
        }
    }
}

pub(super) fn credential_key(auth: &NcAuth) -> [u8; 32] {
    let material = match auth {
        NcAuth::Bearer(token) => format!("bearer\n{}", token.expose()),
        NcAuth::Basic { user, password } => format!("basic\n{user}\n{}", password.expose()),
    };
    let mut key = [0u8; 32];
    key.copy_from_slice(digest(&SHA256, material.as_bytes()).as_ref());
    key
}

impl UserCache {
    /// The user document for `auth`: remembered, or asked for (once for concurrent callers).
    pub async fn get(&self, nextcloud: &Nextcloud, auth: &NcAuth) -> Lookup {
        self.entries
            .get_with(credential_key(auth), nextcloud.current_user(auth))
            .await
    }

    /// The user document for `auth`, asked for again (once for concurrent callers): for a
    /// call whose only contact with Nextcloud is this lookup, so that a revoked credential is
    /// noticed at once rather than when the remembered answer expires.
    pub async fn refresh(&self, nextcloud: &Nextcloud, auth: &NcAuth) -> Lookup {
        self.entries.invalidate(&credential_key(auth)).await;
        self.get(nextcloud, auth).await
    }

    /// Forgets the answer for `auth` (after Nextcloud refused the credential elsewhere).
    pub async fn forget(&self, auth: &NcAuth) {
        self.entries.invalidate(&credential_key(auth)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const DOC: &str = r#"{"ocs":{"meta":{"status":"ok"},"data":{"id":"alice","displayname":"Alice","display-name":"Alice","email":null}}}"#;

    /// A one-route HTTP server answering every request with `status` (and the user document on
    /// 200), counting requests.
    async fn fake_nextcloud(status: Arc<AtomicU16>, hits: Arc<AtomicUsize>) -> url::Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (status, hits) = (status.clone(), hits.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    hits.fetch_add(1, Ordering::SeqCst);
                    // Concurrent callers must all be waiting on this one answer.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let code = status.load(Ordering::SeqCst);
                    let body = if code == 200 { DOC } else { "" };
                    let response = format!(
                        "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        url::Url::parse(&format!("http://{addr}/")).unwrap()
    }

    #[tokio::test]
    async fn answers_and_failures_are_remembered_and_shared() {
        let status = Arc::new(AtomicU16::new(503));
        let hits = Arc::new(AtomicUsize::new(0));
        let base = fake_nextcloud(status.clone(), hits.clone()).await;
        let nc = Nextcloud::new(
            reqwest::Client::new(),
            base,
            crate::metrics::Metrics::new().unwrap(),
        );
        let cache = UserCache::default();
        let auth = NcAuth::Bearer("token-1".into());

        // Five concurrent calls while Nextcloud is down: one request, five failures.
        let calls = (0..5).map(|_| cache.get(&nc, &auth));
        for result in futures_util::future::join_all(calls).await {
            assert!(matches!(result, Err(NcError::Unavailable(_))), "{result:?}");
        }
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        // The failure is remembered briefly: no new request yet.
        status.store(200, Ordering::SeqCst);
        assert!(cache.get(&nc, &auth).await.is_err());
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        // Forgetting it (or FAILURE_TTL passing) asks again; the answer is then remembered.
        cache.forget(&auth).await;
        assert_eq!(cache.get(&nc, &auth).await.unwrap().id, "alice");
        assert_eq!(cache.get(&nc, &auth).await.unwrap().id, "alice");
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        // Another credential is looked up on its own.
        let other = NcAuth::Basic {
            user: "alice".into(),
            password: "app-password".into(),
        };
        assert_eq!(cache.get(&nc, &other).await.unwrap().id, "alice");
        assert_eq!(hits.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn keys_differ_per_credential_and_kind() {
        let a = credential_key(&NcAuth::Bearer("t1".into()));
        let b = credential_key(&NcAuth::Bearer("t2".into()));
        let c = credential_key(&NcAuth::Basic {
            user: "t1".into(),
            password: "".into(),
        });
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, credential_key(&NcAuth::Bearer("t1".into())));
    }
}
