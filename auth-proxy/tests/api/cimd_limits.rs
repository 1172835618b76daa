//! Client ID Metadata Documents under abuse: a flood of client ids that are refused before any
//! fetch (internal or unknown names, bad URLs) neither spends the fetch budget every client
//! shares nor pushes good documents out of the cache.

use std::sync::atomic::Ordering;

use crate::cimd::{page_text, spawn_test_switch, start_doc_server};
use crate::helpers::*;

#[tokio::test]
async fn a_flood_of_refused_ids_leaves_good_clients_alone() {
    let docs = start_doc_server().await;
    let app = spawn_test_switch(&[
        ("AUTH_PROXY_RATE_LIMIT_CIMD_GLOBAL", "3/60"),
        ("AUTH_PROXY_RATE_LIMIT_AUTHORIZE", "off"),
        ("AUTH_PROXY_CIMD_FAILURE_CACHE_SECS", "30"),
    ])
    .await;
    app.dns
        .answers
        .lock()
        .unwrap()
        .insert("internal.test".into(), vec!["10.0.0.5".parse().unwrap()]);
    let p = pkce();

    let good = format!("{}/client.json", docs.base);
    let resp = app
        .authorize(&app.authorize_params(&good, &p.challenge, &[]))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(docs.fetches.load(Ordering::SeqCst), 1);

    // The attacker's ids: each distinct, each refused before a connection would be made.
    let long = "a".repeat(1800);
    let ids: Vec<String> = (0..600)
        .flat_map(|i| {
            [
                format!("https://internal.test/{long}/{i}.json"),
                format!("https://unknown.test/{i}.json"),
                format!("https://internal.test/{i}.json?q"),
            ]
        })
        .collect();
    // (They may exhaust the budgets of the hosts they name; those are nobody else's.)
    let app = &app;
    for batch in ids.chunks(50) {
        let pages = futures_util::future::join_all(batch.iter().map(|id| {
            let params = app.authorize_params(id, &p.challenge, &[]);
            async move { app.authorize(&params).await.status() }
        }))
        .await;
        assert!(pages.iter().all(|s| *s == 400));
    }

    // The good document is still cached, and a new client still gets its document fetched.
    let resp = app
        .authorize(&app.authorize_params(&good, &p.challenge, &[]))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(docs.fetches.load(Ordering::SeqCst), 1);
    let newcomer = format!("{}/good/newcomer.json", docs.base);
    let resp = app
        .authorize(&app.authorize_params(&newcomer, &p.challenge, &[]))
        .await;
    assert_eq!(resp.status(), 200, "{}", page_text(resp).await);
    assert_eq!(docs.fetches.load(Ordering::SeqCst), 2);
}
