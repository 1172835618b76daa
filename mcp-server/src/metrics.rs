//! Prometheus metrics for mcp-server, served on the metrics listener. Label sets are bounded:
//! route patterns, methods, status codes, tool names from the fixed tool table and fixed outcome
//! names; never user or client ids.

use mcp_shared::ops::metrics::{HttpMetrics, MetricsRegistry};
use prometheus::{HistogramVec, IntCounter, IntCounterVec};

/// The `reason` labels of `mcp_server_tool_denials_total`: `disabled` (the administrator
/// switched the tool off), `scope` (the token's scopes do not cover it).
pub const DENIAL_REASONS: [&str; 2] = ["disabled", "scope"];

#[derive(Debug, Clone)]
pub struct Metrics {
    /// Served by the metrics listener.
    pub registry: MetricsRegistry,
    /// Recorded by the request middleware (`mcp_shared::ops::telemetry::observe`).
    pub http: HttpMetrics,
    pub auth_failures: IntCounterVec,
    pub scope_denials: IntCounter,
    pub token_cache: IntCounterVec,
    pub jwks_refreshes: IntCounterVec,
    pub tool_calls: IntCounterVec,
    /// Tool calls refused before they ran, by [`DENIAL_REASONS`].
    pub tool_denials: IntCounterVec,
    pub tool_duration: HistogramVec,
    pub token_exchanges: IntCounterVec,
    pub nextcloud_requests: IntCounterVec,
    pub nextcloud_duration: HistogramVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = MetricsRegistry::new();
        let counter_vec =
            |name: &str, help: &str, labels: &[&str]| registry.counter_vec(name, help, labels);
        let histogram =
            |name: &str, help: &str, labels: &[&str]| registry.histogram(name, help, labels);
        let scope_denials = registry.counter(
            "mcp_server_scope_denials_total",
            "Tool calls refused with 403 insufficient_scope.",
        )?;
        let tool_denials = counter_vec(
            "mcp_server_tool_denials_total",
            "Tool calls refused before they ran, by reason (disabled = switched off by the \
             administrator, scope = not covered by the token's scopes).",
            &["reason"],
        )?;
        // Every reason is exported from the start, so a rate over it never lacks a series.
        for reason in DENIAL_REASONS {
            tool_denials.with_label_values(&[reason]);
        }
        Ok(Self {
            http: HttpMetrics::register(&registry, "mcp_server")?,
            auth_failures: counter_vec(
                "mcp_server_auth_failures_total",
                "Requests refused with 401, by reason.",
                &["reason"],
            )?,
            scope_denials,
            token_cache: counter_vec(
                "mcp_server_token_cache_total",
                "Bearer token lookups in the verified-token cache by outcome (hit; refusal_hit \
                 = a remembered refusal answered again; miss and stale = entry expired or its \
                 key rotated: both fully verified).",
                &["outcome"],
            )?,
            jwks_refreshes: counter_vec(
                "mcp_server_jwks_refreshes_total",
                "JWKS fetches by outcome (ok, error, cooldown = refetch skipped).",
                &["outcome"],
            )?,
            tool_calls: counter_vec(
                "mcp_server_tool_calls_total",
                "Tool calls by tool and outcome (ok, tool_error, denied, disabled).",
                &["tool", "outcome"],
            )?,
            tool_denials,
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
}
