//! Nextcloud HTTP client: OCS (who am I), Notes API v1, WebDAV files, CalDAV and CardDAV.
//! Every failure is a typed [`NcError`] that the tool layer turns into a message a model can
//! act on (sign in again, re-read and retry, pick another name…).

pub mod caldav;
pub mod carddav;
pub mod dav;
pub mod files;
pub mod notes;

use std::time::Instant;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use url::Url;

use crate::metrics::Metrics;

/// How one request authenticates at Nextcloud.
#[derive(Clone)]
pub enum NcAuth {
    /// The user's upstream access token (Nextcloud `user_oidc` bearer validation).
    Bearer(String),
    /// Single-user mode: login name and app password.
    Basic { user: String, password: String },
}

impl std::fmt::Debug for NcAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NcAuth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            NcAuth::Basic { user, .. } => write!(f, "Basic({user}, <redacted>)"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NcError {
    #[error("Nextcloud refused the credentials: the user must sign in again")]
    Unauthorized,
    #[error("Nextcloud does not allow this: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("the user's Nextcloud storage is full")]
    InsufficientStorage,
    #[error("Nextcloud is rate limiting requests; try again later")]
    RateLimited,
    #[error("Nextcloud is unavailable ({0}); try again later")]
    Unavailable(String),
    #[error("Nextcloud answered in an unexpected way: {0}")]
    BadResponse(String),
}

#[derive(Clone)]
pub struct Nextcloud {
    http: reqwest::Client,
    base: Url,
    metrics: Metrics,
}

/// The OCS user document (`/ocs/v2.php/cloud/user`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct NcUser {
    pub id: String,
    #[serde(default, alias = "display-name")]
    pub displayname: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Deserialize)]
struct OcsEnvelope<T> {
    ocs: OcsBody<T>,
}

#[derive(Deserialize)]
struct OcsBody<T> {
    data: T,
}

impl Nextcloud {
    pub fn new(http: reqwest::Client, base: Url, metrics: Metrics) -> Self {
        let mut base = base;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Self {
            http,
            base,
            metrics,
        }
    }

    /// Absolute URL for a path below the Nextcloud base (`path` has no leading slash).
    pub fn url(&self, path: &str) -> Result<Url, NcError> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|_| NcError::InvalidInput("the path is not valid".into()))
    }

    pub fn request(&self, auth: &NcAuth, method: Method, url: Url) -> RequestBuilder {
        let builder = self.http.request(method, url);
        match auth {
            NcAuth::Bearer(token) => builder.bearer_auth(token),
            NcAuth::Basic { user, password } => builder.basic_auth(user, Some(password)),
        }
    }

    /// Sends, records metrics, and maps statuses every API shares (401, 403, 429, 5xx, 507).
    /// Other non-success statuses are returned for the caller to interpret.
    pub async fn send(
        &self,
        api: &'static str,
        request: RequestBuilder,
    ) -> Result<Response, NcError> {
        let started = Instant::now();
        let result = request.send().await;
        self.metrics
            .nextcloud_duration
            .with_label_values(&[api])
            .observe(started.elapsed().as_secs_f64());
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                self.metrics
                    .nextcloud_requests
                    .with_label_values(&[api, "error"])
                    .inc();
                let timeout = e.is_timeout();
                tracing::warn!(api, error = %e.without_url(), "Nextcloud request failed");
                return Err(if timeout {
                    NcError::Unavailable("timed out".into())
                } else {
                    NcError::Unavailable("connection failed".into())
                });
            }
        };
        let status = response.status();
        let class = match status.as_u16() {
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.metrics
            .nextcloud_requests
            .with_label_values(&[api, class])
            .inc();
        match status {
            StatusCode::UNAUTHORIZED => Err(NcError::Unauthorized),
            StatusCode::FORBIDDEN => Err(NcError::Forbidden(
                "the account lacks permission for this item".into(),
            )),
            StatusCode::TOO_MANY_REQUESTS => Err(NcError::RateLimited),
            StatusCode::INSUFFICIENT_STORAGE => Err(NcError::InsufficientStorage),
            s if s.is_server_error() => Err(NcError::Unavailable(format!("HTTP {}", s.as_u16()))),
            _ => Ok(response),
        }
    }

    /// The authenticated Nextcloud user (OCS).
    pub async fn current_user(&self, auth: &NcAuth) -> Result<NcUser, NcError> {
        let mut url = self.url("ocs/v2.php/cloud/user")?;
        url.set_query(Some("format=json"));
        let request = self
            .request(auth, Method::GET, url)
            .header("OCS-APIRequest", "true")
            .header(reqwest::header::ACCEPT, "application/json");
        let response = self.send("ocs", request).await?;
        if !response.status().is_success() {
            return Err(NcError::BadResponse(format!(
                "user endpoint answered HTTP {}",
                response.status().as_u16()
            )));
        }
        let envelope: OcsEnvelope<NcUser> = response
            .json()
            .await
            .map_err(|_| NcError::BadResponse("the user document is not OCS JSON".into()))?;
        Ok(envelope.ocs.data)
    }
}

/// Quoted ETag as sent in `If-Match` (Nextcloud's notes app and DAV both quote them).
pub fn quote_etag(etag: &str) -> String {
    let trimmed = etag.trim();
    if trimmed.starts_with('"') || trimmed.starts_with("W/") {
        trimmed.to_owned()
    } else {
        format!("\"{trimmed}\"")
    }
}

/// ETag without quotes, as shown to the model.
pub fn unquote_etag(etag: &str) -> String {
    etag.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_owned()
}
