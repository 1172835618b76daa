//! The resolver's limits, with fake DNS and no sockets: how
//! long a request may wait, what a refusal costs, and how much memory the cache may hold.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::clock::FakeClock;
use crate::config::RateLimit;
use crate::store::memory::MemoryStore;

/// Answers from a table; names in `hang` never answer (a DNS server that drops the query).
#[derive(Debug, Default)]
struct ScriptedDns {
    answers: Mutex<HashMap<String, Vec<IpAddr>>>,
    hang: Vec<String>,
    lookups: AtomicUsize,
}

#[async_trait]
impl DnsResolver for ScriptedDns {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        if self.hang.iter().any(|h| h == host) {
            std::future::pending::<()>().await;
        }
        match self.answers.lock().unwrap().get(host) {
            Some(ips) => Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect()),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such host",
            )),
        }
    }
}

fn resolver(settings: CimdSettings, dns: Arc<ScriptedDns>) -> CimdResolver {
    let clock = Arc::new(FakeClock::at_secs(1_700_000_000));
    let store = Arc::new(MemoryStore::new(clock.clone()));
    CimdResolver::new(settings, dns, store, clock, Metrics::new().unwrap())
}

fn no_limits() -> CimdSettings {
    CimdSettings {
        rate_limit_per_host: None,
        rate_limit_global: None,
        ..CimdSettings::default()
    }
}

#[tokio::test]
async fn a_waiter_never_waits_longer_than_the_fetch_timeout() {
    // The first requester for a document that never answers gives up (its connection is
    // closed) shortly before the deadline; a second requester, already waiting for the same
    // document, must not start its own full wait from there. (tokio's paused clock is not
    // available here, so the deadline is short and the margins wide.)
    let dns = Arc::new(ScriptedDns {
        hang: vec!["hangs.example".into()],
        ..ScriptedDns::default()
    });
    let timeout = Duration::from_millis(1000);
    let settings = CimdSettings {
        fetch_timeout: timeout,
        ..no_limits()
    };
    let resolver = Arc::new(resolver(settings, dns.clone()));
    let id = "https://hangs.example/client.json";

    let first = tokio::spawn({
        let r = resolver.clone();
        async move { r.resolve(id).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = tokio::time::Instant::now();
    let second = tokio::spawn({
        let r = resolver.clone();
        async move { r.resolve(id).await }
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    first.abort();
    let answer = second.await.unwrap();
    assert_eq!(answer.err(), Some(CimdError::Timeout));
    // Its deadline, plus scheduling slack far below a second full wait.
    assert!(
        started.elapsed() < timeout + Duration::from_millis(300),
        "the second request waited {:?}",
        started.elapsed()
    );
    // One lookup for both requests: the fetch outlived the request that started it.
    assert_eq!(dns.lookups.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn refusals_before_any_fetch_do_not_spend_the_global_budget() {
    let dns = Arc::new(ScriptedDns::default());
    dns.answers
        .lock()
        .unwrap()
        .insert("internal.example".into(), vec!["10.0.0.5".parse().unwrap()]);
    let settings = CimdSettings {
        rate_limit_global: Some(RateLimit {
            limit: 5,
            window: Duration::from_secs(60),
        }),
        rate_limit_per_host: None,
        ..CimdSettings::default()
    };
    let resolver = resolver(settings, dns);
    for i in 0..50 {
        for id in [
            format!("https://internal.example/{i}.json"),
            format!("https://unknown.example/{i}.json"),
            format!("https://bad.example/{i}.json?query"),
            format!("https://[::1]/{i}.json"),
            format!("https://10.1.2.3/{i}.json"),
        ] {
            let refused = resolver.resolve(&id).await.unwrap_err();
            assert_ne!(refused, CimdError::RateLimited, "{id}");
        }
    }
}

#[tokio::test]
async fn refused_ids_cannot_grow_the_cache_without_bound() {
    let dns = Arc::new(ScriptedDns::default());
    dns.answers
        .lock()
        .unwrap()
        .insert("internal.example".into(), vec!["10.0.0.5".parse().unwrap()]);
    let resolver = resolver(no_limits(), dns);
    // Ids of the longest acceptable length that resolve to an internal address, and ids far
    // too long to be a document URL at all.
    let path = "p".repeat(2000);
    for i in 0..3000 {
        let id = format!("https://internal.example/{path}{i}");
        assert_eq!(
            resolver.resolve(&id).await.err(),
            Some(CimdError::ForbiddenAddress)
        );
    }
    let huge = "x".repeat(60_000);
    for i in 0..1000 {
        let id = format!("https://internal.example/{huge}{i}");
        assert!(resolver.resolve(&id).await.is_err());
    }
    resolver.run_pending_cache_tasks().await;
    let held = resolver.cached_bytes();
    assert!(held < 1024 * 1024, "the cache holds {held} bytes");
}

#[tokio::test]
async fn key_sets_are_fetched_once_for_many_waiters_and_only_from_public_addresses() {
    let dns = Arc::new(ScriptedDns {
        hang: vec!["hangs.example".into()],
        ..ScriptedDns::default()
    });
    dns.answers
        .lock()
        .unwrap()
        .insert("internal.example".into(), vec!["10.0.0.7".parse().unwrap()]);
    let settings = CimdSettings {
        fetch_timeout: Duration::from_millis(500),
        ..no_limits()
    };
    let resolver = Arc::new(resolver(settings, dns.clone()));

    // Eight requests for one key set that never answers: one lookup, everyone times out.
    let uri = "https://hangs.example/jwks.json";
    let waiters: Vec<_> = (0..8)
        .map(|_| {
            let r = resolver.clone();
            tokio::spawn(async move { r.key_set(uri, false).await })
        })
        .collect();
    for w in waiters {
        assert_eq!(w.await.unwrap().unwrap_err(), CimdError::Timeout);
    }
    assert_eq!(dns.lookups.load(Ordering::SeqCst), 1);

    // A key set host that now resolves to an internal address is refused like a document.
    let err = resolver
        .key_set("https://internal.example/jwks.json", false)
        .await
        .unwrap_err();
    assert_eq!(err, CimdError::ForbiddenAddress);
    // A refetch request marks the cooldown; a second one within it is reported as such.
    let err = resolver
        .key_set("https://internal.example/jwks.json", true)
        .await
        .unwrap_err();
    assert_eq!(err, CimdError::ForbiddenAddress);
    assert!(
        resolver
            .inner
            .key_sets_cooling_down("https://internal.example/jwks.json")
            .await
    );
}
