//! Prometheus metrics for mcp-server, served on the metrics listener. Label sets are bounded:
//! route patterns, methods, status codes, tool names from the fixed tool table and fixed outcome
//! names; never user or client ids.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub auth_failures: IntCounterVec,
    pub scope_denials: IntCounter,
    pub jwks_refreshes: IntCounterVec,
    pub tool_calls: IntCounterVec,
    pub tool_duration: HistogramVec,
    pub token_exchanges: IntCounterVec,
    pub nextcloud_requests: IntCounterVec,
    pub nextcloud_duration: HistogramVec,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let counter_vec =
            |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, prometheus::Error> {
                let c = IntCounterVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            };
        let histogram =
            |name: &str, help: &str, labels: &[&str]| -> Result<HistogramVec, prometheus::Error> {
                let h = HistogramVec::new(
                    HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
                    labels,
                )?;
                registry.register(Box::new(h.clone()))?;
                Ok(h)
            };
        let scope_denials = IntCounter::new(
            "mcp_server_scope_denials_total",
            "Tool calls refused with 403 insufficient_scope.",
        )?;
        registry.register(Box::new(scope_denials.clone()))?;
        Ok(Self {
            http_requests: counter_vec(
                "mcp_server_http_requests_total",
                "HTTP requests by route pattern, method and status code.",
                &["route", "method", "status"],
            )?,
            http_duration: histogram(
                "mcp_server_http_request_duration_seconds",
                "HTTP request latency by route pattern and method.",
                &["route", "method"],
            )?,
            auth_failures: counter_vec(
                "mcp_server_auth_failures_total",
                "Requests refused with 401, by reason.",
                &["reason"],
            )?,
            scope_denials,
            jwks_refreshes: counter_vec(
                "mcp_server_jwks_refreshes_total",
                "JWKS fetches by outcome (ok, error, cooldown = refetch skipped).",
                &["outcome"],
            )?,
            tool_calls: counter_vec(
                "mcp_server_tool_calls_total",
                "Tool calls by tool and outcome (ok, tool_error, denied).",
                &["tool", "outcome"],
            )?,
            tool_duration: histogram(
                "mcp_server_tool_call_duration_seconds",
                "Tool call latency by tool.",
                &["tool"],
            )?,
            token_exchanges: counter_vec(
                "mcp_server_token_exchanges_total",
                "RFC 8693 exchanges at the auth-proxy by outcome (ok, cached, error).",
                &["outcome"],
            )?,
            nextcloud_requests: counter_vec(
                "mcp_server_nextcloud_requests_total",
                "Requests to Nextcloud by API and status class.",
                &["api", "status"],
            )?,
            nextcloud_duration: histogram(
                "mcp_server_nextcloud_request_duration_seconds",
                "Nextcloud request latency by API.",
                &["api"],
            )?,
            registry,
        })
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
