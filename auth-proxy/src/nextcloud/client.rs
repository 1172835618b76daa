//! The auth-proxy's few calls to Nextcloud for the app-password strategy, each following what
//! nextcloud/server answers today:
//!
//! - `POST /index.php/login/v2` starts a Login Flow v2 (core/Controller/
//!   ClientFlowLoginV2Controller.php `init`): `{poll: {token, endpoint}, login}`; the
//!   `User-Agent` becomes the app password's name in "Devices & sessions".
//! - `POST /index.php/login/v2/poll` with `token` (`poll`): 404 until someone granted access,
//!   then `{server, loginName, appPassword}` exactly once.
//! - `GET /ocs/v2.php/cloud/user` (apps/provisioning_api UsersController `getCurrentUser`)
//!   with the app password: the user it belongs to (`ocs.data.id`); 401 when Nextcloud no
//!   longer accepts it.
//! - `DELETE /ocs/v2.php/core/apppassword` (core/Controller/AppPasswordController.php
//!   `deleteAppPassword`): deletes the app password the request authenticates with.
//!
//! The poll endpoint Nextcloud names is not followed: every call goes to the configured URL,
//! so a tampered answer cannot send the poll token elsewhere. Redirects are never followed.
//! Secrets (poll token, app password) never appear in errors or logs.

use std::time::Duration;

use mcp_shared::Secret;
use reqwest::StatusCode;
use serde::Deserialize;
use url::Url;

/// Per-request deadline: Nextcloud answers these in milliseconds when it is healthy.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Nextcloud's answers here are small; anything bigger is not Nextcloud.
const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, thiserror::Error)]
pub enum NextcloudError {
    /// Not reachable, timed out, 5xx, or an answer that is not Nextcloud's.
    #[error("Nextcloud is unavailable: {0}")]
    Unavailable(String),
}

/// A Login Flow v2 that was started: the poll token (secret: whoever has it receives the app
/// password) and the path of the page where a person grants access.
#[derive(Debug, Clone)]
pub struct StartedFlow {
    pub poll_token: Secret,
    /// Path (and query) of the grant page on Nextcloud, to be put on the public URL.
    pub login_path: String,
}

/// Login name and app password, as Login Flow v2 hands them out.
#[derive(Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct AppPassword {
    pub login_name: String,
    #[serde(with = "mcp_shared::secret::exposed")]
    pub app_password: Secret,
}

impl std::fmt::Debug for AppPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppPassword")
            .field("login_name", &self.login_name)
            .field("app_password", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// Nobody has granted access yet (or the flow is gone: Nextcloud does not tell).
    Pending,
    Granted(AppPassword),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Nextcloud accepts the app password; this is the user id it belongs to.
    User(String),
    /// Nextcloud refuses the app password (revoked, or never valid).
    Refused,
}

#[derive(Debug, Clone)]
pub struct NextcloudClient {
    http: reqwest::Client,
    base: String,
}

#[derive(Deserialize)]
struct InitAnswer {
    poll: InitPoll,
    login: String,
}

#[derive(Deserialize)]
struct InitPoll {
    token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PollAnswer {
    login_name: String,
    app_password: String,
}

#[derive(Deserialize)]
struct OcsEnvelope {
    ocs: OcsBody,
}

#[derive(Deserialize)]
struct OcsBody {
    data: OcsUser,
}

#[derive(Deserialize)]
struct OcsUser {
    id: String,
}

fn unavailable(what: &str, e: &reqwest::Error) -> NextcloudError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    NextcloudError::Unavailable(format!("{what}: {kind}"))
}

fn unexpected(what: &str, status: StatusCode) -> NextcloudError {
    NextcloudError::Unavailable(format!("{what}: unexpected status {}", status.as_u16()))
}

impl NextcloudClient {
    /// `base` is Nextcloud's URL as this service reaches it.
    pub fn new(base: &Url) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(TIMEOUT)
            .timeout(TIMEOUT)
            .build()?;
        Ok(Self {
            http,
            base: base.as_str().trim_end_matches('/').to_owned(),
        })
    }

    async fn body(what: &str, response: reqwest::Response) -> Result<Vec<u8>, NextcloudError> {
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY as u64)
        {
            return Err(NextcloudError::Unavailable(format!(
                "{what}: answer too large"
            )));
        }
        let bytes = response.bytes().await.map_err(|e| unavailable(what, &e))?;
        if bytes.len() > MAX_BODY {
            return Err(NextcloudError::Unavailable(format!(
                "{what}: answer too large"
            )));
        }
        Ok(bytes.to_vec())
    }

    /// Starts a Login Flow v2; `client_name` becomes the app password's name in Nextcloud.
    pub async fn start_login_flow(&self, client_name: &str) -> Result<StartedFlow, NextcloudError> {
        const WHAT: &str = "starting Login Flow v2";
        let response = self
            .http
            .post(format!("{}/index.php/login/v2", self.base))
            .header(reqwest::header::USER_AGENT, client_name)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unavailable(WHAT, &e))?;
        let status = response.status();
        if status != StatusCode::OK {
            return Err(unexpected(WHAT, status));
        }
        let answer: InitAnswer = serde_json::from_slice(&Self::body(WHAT, response).await?)
            .map_err(|_| NextcloudError::Unavailable(format!("{WHAT}: unreadable answer")))?;
        let login_path = login_path(&answer.login).ok_or_else(|| {
            NextcloudError::Unavailable(format!("{WHAT}: the grant page URL is not Nextcloud's"))
        })?;
        if answer.poll.token.is_empty() {
            return Err(NextcloudError::Unavailable(format!(
                "{WHAT}: no poll token"
            )));
        }
        Ok(StartedFlow {
            poll_token: Secret::new(answer.poll.token),
            login_path,
        })
    }

    /// Asks once whether the flow was granted.
    pub async fn poll(&self, poll_token: &Secret) -> Result<Poll, NextcloudError> {
        const WHAT: &str = "polling Login Flow v2";
        let response = self
            .http
            .post(format!("{}/index.php/login/v2/poll", self.base))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("token", poll_token.expose())])
            .send()
            .await
            .map_err(|e| unavailable(WHAT, &e))?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(Poll::Pending),
            StatusCode::OK => {
                let answer: PollAnswer = serde_json::from_slice(&Self::body(WHAT, response).await?)
                    .map_err(|_| {
                        NextcloudError::Unavailable(format!("{WHAT}: unreadable answer"))
                    })?;
                if answer.login_name.is_empty() || answer.app_password.is_empty() {
                    return Err(NextcloudError::Unavailable(format!(
                        "{WHAT}: empty credentials"
                    )));
                }
                Ok(Poll::Granted(AppPassword {
                    login_name: answer.login_name,
                    app_password: Secret::new(answer.app_password),
                }))
            }
            other => Err(unexpected(WHAT, other)),
        }
    }

    /// The Nextcloud user `credentials` belong to, or `Refused`.
    pub async fn owner(&self, credentials: &AppPassword) -> Result<Owner, NextcloudError> {
        self.owner_within(credentials, TIMEOUT).await
    }

    /// [`Self::owner`] with its own deadline (a check whose failure changes nothing should
    /// not make its caller wait long).
    pub async fn owner_within(
        &self,
        credentials: &AppPassword,
        deadline: Duration,
    ) -> Result<Owner, NextcloudError> {
        const WHAT: &str = "reading the app password's user";
        let response = self
            .http
            .get(format!("{}/ocs/v2.php/cloud/user?format=json", self.base))
            .timeout(deadline)
            .basic_auth(
                &credentials.login_name,
                Some(credentials.app_password.expose()),
            )
            .header("OCS-APIRequest", "true")
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unavailable(WHAT, &e))?;
        match response.status() {
            StatusCode::OK => {
                let envelope: OcsEnvelope =
                    serde_json::from_slice(&Self::body(WHAT, response).await?).map_err(|_| {
                        NextcloudError::Unavailable(format!("{WHAT}: unreadable answer"))
                    })?;
                Ok(Owner::User(envelope.ocs.data.id))
            }
            StatusCode::UNAUTHORIZED => Ok(Owner::Refused),
            other => Err(unexpected(WHAT, other)),
        }
    }

    /// Deletes the app password in Nextcloud. One Nextcloud no longer accepts counts as deleted.
    pub async fn delete(&self, credentials: &AppPassword) -> Result<(), NextcloudError> {
        const WHAT: &str = "deleting the app password";
        let response = self
            .http
            .delete(format!(
                "{}/ocs/v2.php/core/apppassword?format=json",
                self.base
            ))
            .basic_auth(
                &credentials.login_name,
                Some(credentials.app_password.expose()),
            )
            .header("OCS-APIRequest", "true")
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unavailable(WHAT, &e))?;
        match response.status() {
            StatusCode::OK | StatusCode::UNAUTHORIZED => Ok(()),
            other => Err(unexpected(WHAT, other)),
        }
    }
}

/// The path and query of Nextcloud's grant page URL (`…/login/v2/flow/<token>`), which the
/// browser opens on Nextcloud's public URL. `None` for anything else.
pub fn login_path(login: &str) -> Option<String> {
    let url = Url::parse(login).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.fragment().is_some() {
        return None;
    }
    let path = url.path();
    let token = path.rsplit_once("/login/v2/flow/")?.1;
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some(match url.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grant_page_is_taken_by_path_only() {
        assert_eq!(
            login_path("http://internal:8080/index.php/login/v2/flow/AbC123").as_deref(),
            Some("/index.php/login/v2/flow/AbC123")
        );
        assert_eq!(
            login_path("https://cloud.example/nc/login/v2/flow/x9").as_deref(),
            Some("/nc/login/v2/flow/x9")
        );
        assert_eq!(login_path("https://evil.example/phish"), None);
        assert_eq!(login_path("javascript:alert(1)//login/v2/flow/a"), None);
        assert_eq!(
            login_path("https://c.example/login/v2/flow/a%2F..%2F"),
            None
        );
        assert_eq!(login_path("https://c.example/login/v2/flow/"), None);
    }

    #[test]
    fn app_passwords_are_redacted_in_debug() {
        let p = AppPassword {
            login_name: "alice".into(),
            app_password: Secret::new("s3cr3t-app-password"),
        };
        assert!(!format!("{p:?}").contains("s3cr3t"));
    }
}
