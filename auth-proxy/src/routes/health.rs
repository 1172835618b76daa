//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the store answers and
//! the upstream IdP's discovery document is loaded).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store_ok = state.store.ping().await.is_ok();
    let upstream_ok = state.upstream.is_ready().await;
    let body = json!({
        "store": if store_ok { "ok" } else { "unavailable" },
        "upstream": if upstream_ok { "ok" } else { "unavailable" },
    });
    let mut resp = if store_ok && upstream_ok {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    resp.insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}
