//! Prometheus metrics, one registry per process, served on the metrics listener. Label sets are
//! bounded: route patterns (not raw paths), methods, status codes and fixed outcome names; never
//! user or client ids.

use mcp_shared::ops::metrics::{HttpMetrics, MetricsRegistry};
use prometheus::{HistogramVec, IntCounter, IntCounterVec};

#[derive(Debug, Clone)]
pub struct Metrics {
    /// Served by the metrics listener.
    pub registry: MetricsRegistry,
    /// Recorded by the request middleware (`mcp_shared::ops::telemetry::observe`).
    pub http: HttpMetrics,
    pub tokens_issued: IntCounterVec,
    pub tokens_revoked: IntCounterVec,
    pub refresh_reuse_detected: IntCounter,
    pub code_replay_detected: IntCounter,
    pub consent: IntCounterVec,
    pub clients_registered: IntCounter,
    pub rate_limited: IntCounterVec,
    pub upstream_requests: IntCounterVec,
    pub upstream_duration: HistogramVec,
    pub store_errors: IntCounter,
    pub cimd_fetches: IntCounterVec,
    pub store_duration: HistogramVec,
    pub nextcloud_logins: IntCounterVec,
    pub idjag: IntCounterVec,
    pub denials: IntCounterVec,
}

/// Why a request was refused, for `auth_proxy_denials_total{reason}`: a closed set. Refusals
/// of client assertions and identity assertions are counted in detail elsewhere
/// (`invalid_client` here; `auth_proxy_idjag_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    InvalidClient,
    InvalidTarget,
    CodeInvalid,
    CodeReplayed,
    RefreshInvalid,
    RefreshReuse,
    Policy(crate::policy::Denial),
    RateLimitedIp,
    RateLimitedClient,
    RateLimitedUser,
}

impl Denied {
    pub const ALL: [Denied; 13] = [
        Self::InvalidClient,
        Self::InvalidTarget,
        Self::CodeInvalid,
        Self::CodeReplayed,
        Self::RefreshInvalid,
        Self::RefreshReuse,
        Self::Policy(crate::policy::Denial::User),
        Self::Policy(crate::policy::Denial::Group),
        Self::Policy(crate::policy::Denial::EmailDomain),
        Self::Policy(crate::policy::Denial::EmailUnverified),
        Self::RateLimitedIp,
        Self::RateLimitedClient,
        Self::RateLimitedUser,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::InvalidClient => "invalid_client",
            Self::InvalidTarget => "invalid_target",
            Self::CodeInvalid => "code_invalid",
            Self::CodeReplayed => "code_replayed",
            Self::RefreshInvalid => "refresh_invalid",
            Self::RefreshReuse => "refresh_reuse",
            Self::Policy(d) => d.label(),
            Self::RateLimitedIp => "rate_limited_ip",
            Self::RateLimitedClient => "rate_limited_client",
            Self::RateLimitedUser => "rate_limited_user",
        }
    }
}

impl Metrics {
    /// Counts one refusal under its reason.
    pub fn denied(&self, why: Denied) {
        self.denials.with_label_values(&[why.label()]).inc();
    }
}

/// Store calls are sub-millisecond when healthy; the 2 s operation deadline caps the top.
const STORE_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0,
];

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = MetricsRegistry::new();
        let counter_vec =
            |name: &str, help: &str, labels: &[&str]| registry.counter_vec(name, help, labels);
        let counter = |name: &str, help: &str| registry.counter(name, help);
        let histogram =
            |name: &str, help: &str, labels: &[&str]| registry.histogram(name, help, labels);
        Ok(Self {
            http: HttpMetrics::register(&registry, "auth_proxy")?,
            tokens_issued: counter_vec(
                "auth_proxy_tokens_issued_total",
                "Access tokens issued, by grant type (authorization_code, refresh_token).",
                &["grant_type"],
            )?,
            tokens_revoked: counter_vec(
                "auth_proxy_tokens_revoked_total",
                "Revocations, by what was revoked (refresh_token, access_token, grant).",
                &["kind"],
            )?,
            refresh_reuse_detected: counter(
                "auth_proxy_refresh_token_reuse_detected_total",
                "Refresh tokens presented again after their grace window (the family is revoked).",
            )?,
            code_replay_detected: counter(
                "auth_proxy_authorization_code_replay_detected_total",
                "Authorization codes presented a second time (what they issued is revoked).",
            )?,
            consent: counter_vec(
                "auth_proxy_consent_decisions_total",
                "Consent decisions on the proxy's own consent page (approved, denied).",
                &["decision"],
            )?,
            clients_registered: counter(
                "auth_proxy_clients_registered_total",
                "Clients created through dynamic client registration (identical repeats excluded).",
            )?,
            rate_limited: counter_vec(
                "auth_proxy_rate_limited_total",
                "Requests refused by the rate limiter, by endpoint.",
                &["endpoint"],
            )?,
            upstream_requests: counter_vec(
                "auth_proxy_upstream_requests_total",
                "Calls to the upstream identity provider by operation and outcome.",
                &["operation", "outcome"],
            )?,
            upstream_duration: histogram(
                "auth_proxy_upstream_request_duration_seconds",
                "Latency of calls to the upstream identity provider by operation.",
                &["operation"],
            )?,
            store_duration: registry.histogram_with_buckets(
                "auth_proxy_store_operation_duration_seconds",
                "Store (Redis or memory) latency by operation and outcome (ok, error).",
                &["operation", "outcome"],
                STORE_BUCKETS,
            )?,
            cimd_fetches: counter_vec(
                "auth_proxy_cimd_fetches_total",
                "Client ID Metadata Document fetches by outcome (ok, refused by policy, error).",
                &["outcome"],
            )?,
            idjag: counter_vec(
                "auth_proxy_idjag_total",
                "Identity assertions (ID-JAG, jwt-bearer grant) by outcome: ok, or the fixed \
                 reason of the refusal (typ, untrusted_issuer, bad_signature, aud, replayed, …).",
                &["outcome"],
            )?,
            denials: {
                let denials = counter_vec(
                    "auth_proxy_denials_total",
                    "Requests refused, by fixed reason (invalid_client, code_replayed, \
                     policy_group, rate_limited_client, …).",
                    &["reason"],
                )?;
                for why in Denied::ALL {
                    denials.with_label_values(&[why.label()]);
                }
                denials
            },
            nextcloud_logins: counter_vec(
                "auth_proxy_nextcloud_logins_total",
                "App-password strategy sign-ins by outcome: reused (a stored app password still \
                 works), started (Login Flow v2 begun), granted, refused (another Nextcloud user \
                 granted), expired.",
                &["outcome"],
            )?,
            store_errors: counter(
                "auth_proxy_store_errors_total",
                "Store (Redis) operations that failed.",
            )?,
            registry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_render_with_help_texts() {
        let m = Metrics::new().unwrap();
        m.tokens_issued
            .with_label_values(&["authorization_code"])
            .inc();
        m.http
            .requests
            .with_label_values(&["/token", "POST", "200"])
            .inc();
        let text = m.registry.render();
        assert!(text.contains("# HELP auth_proxy_tokens_issued_total"));
        assert!(
            text.contains("auth_proxy_tokens_issued_total{grant_type=\"authorization_code\"} 1")
        );
        assert!(text.contains(
            "auth_proxy_http_requests_total{method=\"POST\",route=\"/token\",status=\"200\"} 1"
        ));
    }
}
