use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

fn answer(capabilities: Value) -> Vec<u8> {
    json!({"ocs": {"meta": {"status": "ok", "statuscode": 200}, "data": {
        "version": {"major": 32}, "capabilities": capabilities,
    }}})
    .to_string()
    .into_bytes()
}

/// What Nextcloud 32 with every app answers (keys as the apps' `lib/Capabilities.php` set them).
fn everything() -> Value {
    json!({
        "core": {"pollinterval": 60},
        "files": {"undelete": true, "versioning": true, "version_labeling": true},
        "files_sharing": {"api_enabled": true, "public": {"enabled": true}},
        "notes": {"api_version": ["1.3"]},
        "deck": {"version": "1.16.7", "apiVersions": ["1.0", "1.1"]},
        "spreed": {"features": ["chat-v2"]},
    })
}

#[test]
fn every_app_is_read_from_its_own_key() {
    let all = Capabilities::parse(&answer(everything())).unwrap();
    for app in App::ALL {
        assert!(all.has(app), "{app:?}");
    }
    let bare = Capabilities::parse(&answer(json!({"core": {}, "dav": {}}))).unwrap();
    for app in App::ALL {
        assert!(!bare.has(app), "{app:?}");
    }
    let mut some = everything();
    some["files"] = json!({"undelete": false, "bigfilechunking": true});
    some.as_object_mut().unwrap().remove("spreed");
    some["files_sharing"]["api_enabled"] = json!(false);
    let some = Capabilities::parse(&answer(some)).unwrap();
    assert!(some.has(App::Deck) && some.has(App::Notes));
    for app in [App::Talk, App::Trash, App::Versions, App::Sharing] {
        assert!(!some.has(app), "{app:?}");
    }
}

#[test]
fn an_unreadable_answer_is_an_error_and_unknown_means_every_app() {
    assert!(Capabilities::parse(b"<html>").is_err());
    assert!(Capabilities::parse(br#"{"ocs":{"data":[]}}"#).is_err());
    for app in App::ALL {
        assert!(Capabilities::Unknown.has(app));
    }
}

/// An HTTP server answering every request with `status` (the capabilities of `body` on 200),
/// counting requests.
async fn fake_nextcloud(status: Arc<AtomicU16>, body: Vec<u8>, hits: Arc<AtomicUsize>) -> url::Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (status, hits, body) = (status.clone(), hits.clone(), body.clone());
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                assert!(String::from_utf8_lossy(&request)
                    .starts_with("GET /ocs/v2.php/cloud/capabilities "));
                hits.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                let code = status.load(Ordering::SeqCst);
                let body: &[u8] = if code == 200 { &body } else { b"" };
                let head = format!(
                    "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body).await;
            });
        }
    });
    url::Url::parse(&format!("http://{addr}/")).unwrap()
}

#[tokio::test]
async fn answers_are_remembered_per_credential_and_failures_fail_open() {
    let status = Arc::new(AtomicU16::new(503));
    let hits = Arc::new(AtomicUsize::new(0));
    let notes_only = answer(json!({"notes": {"api_version": ["1.3"]}}));
    let base = fake_nextcloud(status.clone(), notes_only, hits.clone()).await;
    let nc = Nextcloud::new(
        reqwest::Client::new(),
        base,
        crate::metrics::Metrics::new().unwrap(),
    );
    let cache = CapabilityCache::default();
    let auth = NcAuth::Bearer("token-1".into());

    // Nextcloud is down: concurrent callers share one request, and every app counts as there.
    let calls = (0..4).map(|_| cache.get(&nc, &auth));
    for caps in futures_util::future::join_all(calls).await {
        assert_eq!(caps, Capabilities::Unknown);
        assert!(caps.has(App::Deck));
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    status.store(200, Ordering::SeqCst);
    cache.forget(&auth).await;
    let caps = cache.get(&nc, &auth).await;
    assert!(caps.has(App::Notes) && !caps.has(App::Deck));
    assert_eq!(cache.get(&nc, &auth).await, caps);
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // Another credential (another user, perhaps in other groups) is asked for on its own.
    let other = NcAuth::Basic {
        user: "bob".into(),
        password: "app-password".into(),
    };
    assert!(cache.get(&nc, &other).await.has(App::Notes));
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}
