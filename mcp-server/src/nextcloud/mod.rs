//! Nextcloud HTTP client: OCS (who am I), Notes API v1, WebDAV files, CalDAV and CardDAV.
//! Every failure is a typed [`NcError`] that the tool layer turns into a message a model can
//! act on (sign in again, re-read and retry, pick another name…).

pub mod caldav;
pub mod capabilities;
pub mod carddav;
pub mod cards;
pub mod collection;
pub mod dav;
pub mod deck;
pub mod events;
pub mod extract;
pub mod files;
pub mod ical;
pub mod notes;
pub mod ocs;
pub mod paths;
#[cfg(test)]
mod props;
pub mod search;
pub mod shares;
pub mod tags;
pub mod talk;
pub mod tasks;
pub mod text;
pub mod timezone;
pub mod trash;
pub mod users;
pub mod versions;
pub mod vobject;
pub mod xml;

use mcp_shared::Secret;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use url::Url;

use crate::metrics::Metrics;

/// How one request authenticates at Nextcloud. The token and the app password are
/// [`Secret`]s: `Debug` shows the login name only.
#[derive(Debug, Clone)]
pub enum NcAuth {
    /// The user's upstream access token, from the token exchange (Nextcloud `user_oidc`
    /// bearer validation).
    Bearer(Secret),
    /// Login name and app password: single-user mode's configured ones, or ones the token
    /// exchange handed out (the auth-proxy's `app-password` strategy, Login Flow v2).
    Basic { user: String, password: Secret },
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

/// One tool call's way into the user's DAV data: the client, the call's credentials and the
/// Nextcloud user id they belong to, resolved once per call (DAV paths carry the user id).
pub struct Session<'a> {
    nc: &'a Nextcloud,
    auth: NcAuth,
    user: String,
}

impl<'a> Session<'a> {
    pub fn new(nc: &'a Nextcloud, auth: NcAuth, user: String) -> Self {
        Self { nc, auth, user }
    }

    /// The Nextcloud user id.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The user id as a URL path segment. An id of `.` or `..` (or empty) cannot be one: the
    /// URL parser would resolve it (also percent-encoded) and the URL would leave the user's
    /// DAV home.
    fn user_segment(&self) -> Result<String, NcError> {
        if matches!(self.user.as_str(), "" | "." | "..") {
            return Err(NcError::BadResponse(
                "Nextcloud named a user id that cannot be part of a URL".into(),
            ));
        }
        Ok(paths::encode_segment(&self.user))
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.nc.request(&self.auth, method, url)
    }

    fn url(&self, path: &str) -> Result<Url, NcError> {
        self.nc.url(path)
    }

    async fn send(&self, api: &'static str, request: RequestBuilder) -> Result<Response, NcError> {
        self.nc.send(api, request).await
    }

    async fn send_allowing(
        &self,
        api: &'static str,
        request: RequestBuilder,
        keep: &[StatusCode],
    ) -> Result<Response, NcError> {
        self.nc.send_allowing(api, request, keep).await
    }
}

/// The OCS user document (`/ocs/v2.php/cloud/user`): the fields the tools use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(from = "OcsUserDocument")]
pub struct NcUser {
    pub id: String,
    pub displayname: Option<String>,
    pub email: Option<String>,
}

/// The user document as Nextcloud sends it. Since Nextcloud 27 it carries the display name
/// twice, as `displayname` and as `display-name` (`IAccountManager::PROPERTY_DISPLAYNAME_LEGACY`,
/// set in apps/provisioning_api/lib/Controller/AUserData.php); earlier versions sent only
/// `display-name` on this endpoint. Both are read as separate fields: declaring one an alias of
/// the other makes serde refuse the document as having a duplicate field.
#[derive(Deserialize)]
struct OcsUserDocument {
    id: String,
    #[serde(default)]
    displayname: Option<String>,
    #[serde(default, rename = "display-name")]
    display_name_legacy: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

impl From<OcsUserDocument> for NcUser {
    fn from(doc: OcsUserDocument) -> Self {
        let non_blank = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        NcUser {
            id: doc.id,
            displayname: non_blank(doc.displayname).or(non_blank(doc.display_name_legacy)),
            email: non_blank(doc.email),
        }
    }
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
            NcAuth::Bearer(token) => builder.bearer_auth(token.expose()),
            NcAuth::Basic { user, password } => builder.basic_auth(user, Some(password.expose())),
        }
    }

    /// Sends, records metrics, and maps statuses every API shares (401, 403, 429, 5xx, 507).
    /// Other non-success statuses are returned for the caller to interpret.
    pub async fn send(
        &self,
        api: &'static str,
        request: RequestBuilder,
    ) -> Result<Response, NcError> {
        self.send_allowing(api, request, &[]).await
    }

    /// [`Self::send`], but the statuses in `keep` are returned for the caller to read (e.g. a
    /// 403 whose body names the precondition that failed).
    pub async fn send_allowing(
        &self,
        api: &'static str,
        request: RequestBuilder,
        keep: &[StatusCode],
    ) -> Result<Response, NcError> {
        let started = mcp_shared::ops::clock::monotonic();
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
        if keep.contains(&status) {
            return Ok(response);
        }
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
        let body = response.bytes().await.map_err(|e| {
            tracing::warn!(error = %e.without_url(), "reading the user document failed");
            NcError::Unavailable("the response was cut off".into())
        })?;
        parse_user_document(&body)
    }
}

/// Parses the OCS user document; the error names what was wrong (never the body itself).
pub fn parse_user_document(body: &[u8]) -> Result<NcUser, NcError> {
    serde_json::from_slice::<OcsEnvelope<NcUser>>(body)
        .map(|envelope| envelope.ocs.data)
        .map_err(|e| {
            tracing::warn!(error = %e, "the Nextcloud user document could not be read");
            NcError::BadResponse(format!("the user document is not as expected ({e})"))
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_shows_the_login_name_only() {
        let bearer = format!("{:?}", NcAuth::Bearer("up-s3cr3t".into()));
        let basic = format!(
            "{:?}",
            NcAuth::Basic {
                user: "alice".into(),
                password: "app-s3cr3t".into(),
            }
        );
        for text in [&bearer, &basic] {
            assert!(!text.contains("s3cr3t"), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
        assert!(basic.contains("alice"), "{basic}");
    }

    /// `GET /ocs/v2.php/cloud/user?format=json` as Nextcloud 27–32 answer it: both display-name
    /// keys (apps/provisioning_api/lib/Controller/AUserData.php, getUserData).
    const NC32_USER: &str = r#"{"ocs":{"meta":{"status":"ok","statuscode":200,"message":"OK"},
      "data":{"enabled":true,"storageLocation":"/var/www/html/data/alice","id":"alice",
      "lastLogin":1764930000000,"backend":"Database","subadmin":[],
      "quota":{"free":1073741824,"used":4096,"total":1073745920,"relative":0,"quota":-3},
      "manager":"","avatarScope":"v2-federated","email":"alice@example.com",
      "emailScope":"v2-federated","additional_mail":[],"additional_mailScope":[],
      "displayname":"Alice Liddell","display-name":"Alice Liddell",
      "displaynameScope":"v2-federated","phone":"","phoneScope":"v2-local","address":"",
      "addressScope":"v2-local","website":"","websiteScope":"v2-local","twitter":"",
      "twitterScope":"v2-local","fediverse":"","fediverseScope":"v2-local","organisation":"",
      "organisationScope":"v2-local","role":"","roleScope":"v2-local","headline":"",
      "headlineScope":"v2-local","biography":"","biographyScope":"v2-local",
      "profile_enabled":"1","profile_enabledScope":"v2-local","pronouns":"",
      "pronounsScope":"v2-federated","groups":["admin"],"language":"en","locale":"",
      "notify_email":null,"backendCapabilities":{"setDisplayName":true,"setPassword":true}}}}"#;

    #[test]
    fn user_document_of_nextcloud_27_to_32_with_both_display_name_keys() {
        let user = parse_user_document(NC32_USER.as_bytes()).unwrap();
        assert_eq!(
            user,
            NcUser {
                id: "alice".into(),
                displayname: Some("Alice Liddell".into()),
                email: Some("alice@example.com".into()),
            }
        );
    }

    #[test]
    fn user_document_before_nextcloud_27_and_sparse_ones() {
        // Nextcloud ≤ 26 renamed `displayname` to `display-name` on this endpoint.
        let old = r#"{"ocs":{"meta":{"status":"ok"},"data":{"id":"bob","display-name":"Bob","email":null}}}"#;
        let user = parse_user_document(old.as_bytes()).unwrap();
        assert_eq!(user.displayname.as_deref(), Some("Bob"));
        assert_eq!(user.email, None);
        let blank =
            r#"{"ocs":{"data":{"id":"carol","displayname":"","display-name":"Carol","email":""}}}"#;
        let user = parse_user_document(blank.as_bytes()).unwrap();
        assert_eq!(user.displayname.as_deref(), Some("Carol"));
        assert_eq!(user.email, None);
        let minimal = r#"{"ocs":{"data":{"id":"dave"}}}"#;
        assert_eq!(parse_user_document(minimal.as_bytes()).unwrap().id, "dave");
    }

    #[test]
    fn user_document_errors_are_bad_responses() {
        for body in [
            "",
            "<html>",
            r#"{"ocs":{"data":[]}}"#,
            r#"{"ocs":{"data":{"displayname":"x"}}}"#,
        ] {
            assert!(
                matches!(
                    parse_user_document(body.as_bytes()),
                    Err(NcError::BadResponse(_))
                ),
                "{body}"
            );
        }
    }
}
