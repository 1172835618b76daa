//! One OAuth error type and one mapping from it to an HTTP response: status, RFC 6749 JSON body,
//! `WWW-Authenticate` for `invalid_client`, `Retry-After` for rate limits, and
//! `Cache-Control: no-store` on everything the token-family endpoints return.

use std::borrow::Cow;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use mcp_shared::OAuthErrorCode;
use serde::Serialize;

use crate::store::StoreError;
use crate::upstream::UpstreamError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: Option<Cow<'static, str>>,
    /// Set for rate-limit refusals: the response is 429 with `Retry-After`.
    pub retry_after: Option<u64>,
    /// Whether the client authenticated with HTTP Basic (RFC 6749 §5.2: answer 401 with a
    /// matching challenge).
    pub basic_challenge: bool,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.description {
            Some(d) => write!(f, "{}: {d}", self.code),
            None => write!(f, "{}", self.code),
        }
    }
}

impl OAuthError {
    pub fn new(code: OAuthErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: Some(description.into()),
            retry_after: None,
            basic_challenge: false,
        }
    }

    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidClient, d)
    }
    pub fn invalid_grant(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, d)
    }
    pub fn unauthorized_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::UnauthorizedClient, d)
    }
    pub fn invalid_scope(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidScope, d)
    }
    pub fn invalid_target(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidTarget, d)
    }
    pub fn unsupported_grant_type(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::UnsupportedGrantType, d)
    }
    pub fn access_denied(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::AccessDenied, d)
    }
    pub fn temporarily_unavailable(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::TemporarilyUnavailable, d)
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(
                OAuthErrorCode::TemporarilyUnavailable,
                "too many requests; retry later",
            )
        }
    }

    /// An internal failure: the cause is logged in full here, the client gets an opaque
    /// `server_error`.
    pub fn server_error(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %ErrorChain(cause), "internal error");
        Self {
            code: OAuthErrorCode::ServerError,
            description: None,
            retry_after: None,
            basic_challenge: false,
        }
    }

    pub fn with_basic_challenge(mut self, basic: bool) -> Self {
        self.basic_challenge = basic;
        self
    }

    pub fn status(&self) -> StatusCode {
        if self.retry_after.is_some() {
            return StatusCode::TOO_MANY_REQUESTS;
        }
        match self.code {
            OAuthErrorCode::InvalidClient | OAuthErrorCode::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            OAuthErrorCode::InsufficientScope | OAuthErrorCode::AccessDenied => {
                StatusCode::FORBIDDEN
            }
            OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// Formats an error with its whole `source()` chain for logs.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'a str>,
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status());
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if self.code == OAuthErrorCode::InvalidClient {
            let challenge = if self.basic_challenge {
                "Basic realm=\"auth-proxy\", charset=\"UTF-8\""
            } else {
                "Bearer realm=\"auth-proxy\""
            };
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.insert_header((header::RETRY_AFTER, v));
            }
        }
        response.json(ErrorBody {
            error: self.code.as_str(),
            error_description: self.description.as_deref(),
        })
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            // A store outage is not the client's fault and not an internal bug either: tell
            // it to come back (503), log the cause.
            StoreError::Unavailable(_) => {
                tracing::error!(error = %e, "store unavailable");
                Self::temporarily_unavailable("the service is temporarily unavailable")
            }
            StoreError::Corrupt(_) => Self::server_error(&e),
        }
    }
}

impl From<UpstreamError> for OAuthError {
    fn from(e: UpstreamError) -> Self {
        tracing::warn!(error = %e, "upstream identity provider call failed");
        match e {
            UpstreamError::Unavailable(_) => {
                Self::temporarily_unavailable("the identity provider is unavailable")
            }
            UpstreamError::Rejected(_) | UpstreamError::Invalid(_) => {
                Self::invalid_grant("the identity provider refused the grant")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn render(
        e: OAuthError,
    ) -> (
        StatusCode,
        actix_web::http::header::HeaderMap,
        serde_json::Value,
    ) {
        let resp = e.error_response();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = to_bytes(resp.into_body()).await.unwrap();
        (status, headers, serde_json::from_slice(&body).unwrap())
    }

    #[actix_web::test]
    async fn each_code_maps_to_its_status_and_body() {
        let cases = [
            (OAuthError::invalid_request("x"), 400, "invalid_request"),
            (OAuthError::invalid_grant("x"), 400, "invalid_grant"),
            (
                OAuthError::unauthorized_client("x"),
                400,
                "unauthorized_client",
            ),
            (OAuthError::invalid_scope("x"), 400, "invalid_scope"),
            (OAuthError::invalid_target("x"), 400, "invalid_target"),
            (
                OAuthError::unsupported_grant_type("x"),
                400,
                "unsupported_grant_type",
            ),
            (OAuthError::invalid_client("x"), 401, "invalid_client"),
            (
                OAuthError::temporarily_unavailable("x"),
                503,
                "temporarily_unavailable",
            ),
            (OAuthError::rate_limited(7), 429, "temporarily_unavailable"),
        ];
        for (err, status, code) in cases {
            let (s, headers, body) = render(err).await;
            assert_eq!(s.as_u16(), status, "{code}");
            assert_eq!(body["error"], code);
            assert_eq!(headers.get("cache-control").unwrap(), "no-store");
        }
    }

    #[actix_web::test]
    async fn invalid_client_carries_a_challenge_matching_the_auth_scheme() {
        let (_, headers, _) =
            render(OAuthError::invalid_client("x").with_basic_challenge(true)).await;
        assert!(headers
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Basic "));
        let (_, headers, _) = render(OAuthError::invalid_client("x")).await;
        assert!(headers.get("www-authenticate").is_some());
        let (_, headers, _) = render(OAuthError::invalid_grant("x")).await;
        assert!(headers.get("www-authenticate").is_none());
    }

    #[actix_web::test]
    async fn rate_limit_sets_retry_after() {
        let (status, headers, _) = render(OAuthError::rate_limited(0)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers.get("retry-after").unwrap(), "1");
    }

    #[actix_web::test]
    async fn server_error_hides_the_cause() {
        let cause = std::io::Error::other("redis password is hunter2");
        let (status, _, body) = render(OAuthError::server_error(&cause)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body, serde_json::json!({"error": "server_error"}));
    }

    #[actix_web::test]
    async fn store_outage_is_503_not_500() {
        let (status, _, body) =
            render(StoreError::Unavailable("connection refused".into()).into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!body.to_string().contains("connection refused"));
    }
}
