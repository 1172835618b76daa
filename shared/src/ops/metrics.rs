//! Prometheus plumbing both services share: a registry with helpers that register as they
//! create, the HTTP request metrics the middleware records, and the metrics listener. Each
//! service keeps its own metric names (`auth_proxy_*`, `mcp_server_*`) and its own registry.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

/// Request-latency buckets, from half a millisecond to ten seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One process's registry. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct MetricsRegistry {
    registry: Registry,
}

impl MetricsRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn counter(&self, name: &str, help: &str) -> Result<IntCounter, prometheus::Error> {
        let c = IntCounter::new(name, help)?;
        self.registry.register(Box::new(c.clone()))?;
        Ok(c)
    }

    pub fn counter_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<IntCounterVec, prometheus::Error> {
        let c = IntCounterVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(c.clone()))?;
        Ok(c)
    }

    /// A histogram with [`LATENCY_BUCKETS`].
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<HistogramVec, prometheus::Error> {
        self.histogram_with_buckets(name, help, labels, LATENCY_BUCKETS)
    }

    pub fn histogram_with_buckets(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> Result<HistogramVec, prometheus::Error> {
        let h = HistogramVec::new(
            HistogramOpts::new(name, help).buckets(buckets.to_vec()),
            labels,
        )?;
        self.registry.register(Box::new(h.clone()))?;
        Ok(h)
    }

    /// The Prometheus text exposition of everything registered.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// `<prefix>_http_requests_total` and `<prefix>_http_request_duration_seconds`, recorded by
/// [`super::telemetry::observe`] for every request of the main listener.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    pub requests: IntCounterVec,
    pub duration: HistogramVec,
}

impl HttpMetrics {
    pub fn register(registry: &MetricsRegistry, prefix: &str) -> Result<Self, prometheus::Error> {
        Ok(Self {
            requests: registry.counter_vec(
                &format!("{prefix}_http_requests_total"),
                "HTTP requests by route pattern, method and status code.",
                &["route", "method", "status"],
            )?,
            duration: registry.histogram(
                &format!("{prefix}_http_request_duration_seconds"),
                "HTTP request latency by route pattern and method.",
                &["route", "method"],
            )?,
        })
    }

    pub fn observe(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let code = actix_web::http::StatusCode::from_u16(status);
        let owned;
        let status = match &code {
            Ok(code) => code.as_str(),
            Err(_) => {
                owned = status.to_string();
                &owned
            }
        };
        self.requests
            .with_label_values(&[route, method, status])
            .inc();
        self.duration
            .with_label_values(&[route, method])
            .observe(elapsed.as_secs_f64());
    }
}

/// The metrics listener: `GET /metrics` only, one worker, on its own port so that it can stay
/// off the ingress. Runs only while polled (see [`super::cli::serve_until_stopped`]).
pub fn serve(
    listener: TcpListener,
    registry: MetricsRegistry,
    shutdown_timeout: Duration,
) -> std::io::Result<Server> {
    let data = web::Data::new(registry);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route(crate::paths::METRICS, web::get().to(render))
    })
    .workers(1)
    .on_connect(super::net::no_delay)
    .listen(listener)?
    .shutdown_timeout(shutdown_timeout.as_secs())
    .run())
}

async fn render(registry: web::Data<MetricsRegistry>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(registry.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_metrics_render_with_the_prefix() {
        let registry = MetricsRegistry::new();
        let http = HttpMetrics::register(&registry, "svc").unwrap();
        http.observe("/token", "POST", 200, Duration::from_millis(3));
        let text = registry.render();
        assert!(text.contains("# HELP svc_http_requests_total"));
        assert!(text.contains(
            "svc_http_requests_total{method=\"POST\",route=\"/token\",status=\"200\"} 1"
        ));
        assert!(text.contains(
            "svc_http_request_duration_seconds_count{method=\"POST\",route=\"/token\"} 1"
        ));
    }
}
