//! The app-password strategy's browser step between the IdP callback and the client's code
//! (ADR 0012). After the IdP sign-in, a user without a working app password for this client is
//! sent to `GET /nextcloud/connect?flow=<id>`: the page starts Nextcloud Login Flow v2, links to
//! Nextcloud's grant page (new tab) and reloads itself every few seconds; each load polls the
//! flow once. When Nextcloud hands out the app password, the user behind it is read with it
//! and must be the user the IdP authenticated (grant ownership: a Login Flow URL is
//! transferable, GHSA-84qv-22q6-x82r); then it is stored sealed, the grant and the client's
//! code are issued, and the browser goes on to the client. Another user's app password is
//! deleted in Nextcloud and the sign-in refused. Everything lives in the store, so any replica
//! serves any load; the page is bound to the browser that signed in (binding cookie).

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use mcp_shared::{OAuthErrorCode, Secret};

use super::{
    binding_cookie, binding_cookie_value, client_error_location, hash_matches, redirect_to,
};
use crate::audit;
use crate::crypto::{random_token, sha256_hex};
use crate::ids::{ClientState, GrantId};
use crate::nextcloud::{
    app_password_name, expected_user_id, AppPassword, Credentials, Owner, Poll, VaultError,
};
use crate::oauth::callback::grant_and_code;
use crate::pages::{self, ConnectView, PageError};
use crate::state::AppState;
use crate::store::{LinkFinished, LinkOutcome, NextcloudLink, PendingAuthorization};
use crate::upstream::UpstreamIdentity;

/// A finished link is kept this long, so a reload (or a slow replica) shows the same outcome.
const FINISHED_TTL: Duration = Duration::from_secs(120);

fn count(state: &AppState, outcome: &str) {
    state
        .metrics
        .nextcloud_logins
        .with_label_values(&[outcome])
        .inc();
}

fn link_context(link_hash: &str) -> String {
    format!("nclink:{link_hash}")
}

/// The client's redirect with the authorization code: the grant is stored and its code issued.
pub async fn issue_code_location(
    state: &AppState,
    auth: &PendingAuthorization,
    grant_id: &GrantId,
    subject: &str,
    upstream_sealed: String,
) -> Result<String, PageError> {
    let (grant, record) =
        grant_and_code(auth, grant_id, subject, upstream_sealed, state.clock.now());
    // The grant goes into its user's connections index alongside (its own slot, best effort).
    let index = async {
        let client_name = match state.clients.lookup(auth.client_id.as_str()).await {
            Ok(Some(client)) => client.client_name,
            _ => None,
        };
        state.grant_index.grant_made(&grant, client_name).await;
    };
    let grants = state.grants();
    let (code, ()) = futures_util::join!(grants.issue_code(&grant, &record), index);
    let code = code.map_err(|e| super::store_unavailable(state, e))?;
    audit::event("grant.issued", "ok")
        .subject(subject)
        .client(auth.client_id.as_str())
        .grant(grant_id.as_str())
        .detail("authorization_code")
        .info("authorization code issued");
    let mut params = vec![("code", code.as_str())];
    if let Some(client_state) = &auth.state {
        params.push(("state", client_state.as_str()));
    }
    params.push(("iss", state.config.issuer.as_str()));
    super::client_location(&auth.redirect_uri, &params).ok_or(PageError::InvalidRedirectAddress)
}

fn error_location(state: &AppState, auth: &PendingAuthorization, description: &str) -> String {
    client_error_location(
        state,
        &auth.redirect_uri,
        OAuthErrorCode::AccessDenied,
        description,
        auth.state.as_ref().map(ClientState::as_str),
    )
    .unwrap_or_default()
}

/// Called by the callback once the IdP sign-in is verified: a working app password of this
/// user for this client means the code goes out now; otherwise the browser goes to the
/// connect page.
pub async fn after_sign_in(
    state: &AppState,
    nextcloud: &Credentials,
    auth: &PendingAuthorization,
    grant_id: GrantId,
    identity: &UpstreamIdentity,
    upstream_sealed: String,
) -> HttpResponse {
    let Some(nextcloud_user) = expected_user_id(&nextcloud.settings, identity) else {
        tracing::error!(client_id = %auth.client_id, claim = %nextcloud.settings.user_claim, "the sign-in carries no value for the claim that names the Nextcloud user (AUTH_PROXY_NEXTCLOUD_USER_CLAIM)");
        return super::redirect_error(
            state,
            &auth.redirect_uri,
            OAuthErrorCode::AccessDenied,
            "the sign-in does not name a Nextcloud user",
            auth.state.as_ref().map(ClientState::as_str),
            false,
        );
    };
    let subject = identity.subject.as_str();
    match nextcloud.get(subject, &auth.client_id).await {
        Ok(Some(password)) => match nextcloud.client.owner(&password).await {
            Ok(Owner::User(id)) if id == nextcloud_user => {
                if let Err(e) = nextcloud.touch(subject, &auth.client_id).await {
                    return super::store_unavailable(state, e).response();
                }
                count(state, "reused");
                return finish_now(state, auth, &grant_id, subject, upstream_sealed).await;
            }
            Ok(Owner::User(_)) | Ok(Owner::Refused) => {
                // Revoked in Nextcloud, or no longer this user's: a new one is needed.
                if let Err(e) = nextcloud
                    .discard(subject, &auth.client_id, "no longer accepted for this user")
                    .await
                {
                    return super::store_unavailable(state, e).response();
                }
            }
            Err(e) => {
                // It was checked when it was stored; Nextcloud being down now is no reason to
                // send the person through Login Flow again.
                tracing::warn!(client_id = %auth.client_id, error = %e, "stored app password not checked: Nextcloud unavailable");
                count(state, "reused");
                return finish_now(state, auth, &grant_id, subject, upstream_sealed).await;
            }
        },
        Ok(None) => {}
        Err(VaultError::Unreadable) => {
            tracing::warn!(client_id = %auth.client_id, "stored app password cannot be opened (encryption key removed?): a new one is requested");
        }
        Err(VaultError::Store(e)) => return super::store_unavailable(state, e).response(),
    }

    let client_name = match state.clients.lookup(auth.client_id.as_str()).await {
        Ok(Some(client)) => client
            .client_name
            .unwrap_or_else(|| auth.client_id.to_string()),
        _ => auth.client_id.to_string(),
    };
    let link_id = random_token(32);
    let link_hash = sha256_hex(&link_id);
    let link = NextcloudLink {
        authorization: auth.clone(),
        grant_id,
        subject: subject.to_owned(),
        upstream_sealed: upstream_sealed.into(),
        nextcloud_user,
        client_name,
        poll_sealed: None,
        login_path: None,
        granted_sealed: None,
        finished: None,
        created_at: state.clock.now(),
    };
    let ttl = nextcloud.settings.login_flow_timeout + FINISHED_TTL;
    if let Err(e) = state.store.put_nextcloud_link(&link_hash, &link, ttl).await {
        return super::store_unavailable(state, e).response();
    }
    audit::event("nextcloud.credential.requested", "ok")
        .subject(subject)
        .client(auth.client_id.as_str())
        .info("Nextcloud access needed: the person is sent to grant it (Login Flow v2)");
    count(state, "started");
    redirect_to(
        &format!(
            "{}{}?flow={link_id}",
            state.config.issuer,
            mcp_shared::paths::NEXTCLOUD_CONNECT
        ),
        true,
    )
}

async fn finish_now(
    state: &AppState,
    auth: &PendingAuthorization,
    grant_id: &GrantId,
    subject: &str,
    upstream_sealed: String,
) -> HttpResponse {
    match issue_code_location(state, auth, grant_id, subject, upstream_sealed).await {
        Ok(location) => redirect_to(&location, false),
        Err(page) => page.response(),
    }
}

/// `GET /nextcloud/connect?flow=<id>`.
pub async fn connect(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let Some(nextcloud) = state.nextcloud.clone() else {
        return PageError::ConnectExpired.response();
    };
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let Some(link_id) = super::param(&pairs, "flow").filter(|id| {
        id.len() == 43
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) else {
        return PageError::ConnectExpired.response();
    };
    let link_hash = sha256_hex(link_id);
    let link = match state.store.get_nextcloud_link(&link_hash).await {
        Ok(Some(link)) => link,
        Ok(None) => return PageError::ConnectExpired.response(),
        Err(e) => return super::store_unavailable(&state, e).response(),
    };
    let binding = binding_cookie_value(&req, state.config.cookie_mode);
    let Some(binding) = binding.filter(|b| hash_matches(b, &link.authorization.browser_hash))
    else {
        audit::event("grant.refused", "refused")
            .reason("browser_binding")
            .subject(&link.subject)
            .client(link.authorization.client_id.as_str())
            .warn("Nextcloud connect page rejected: browser binding mismatch");
        return PageError::CallbackInOtherBrowser.response();
    };
    let mut response = step(&state, &nextcloud, &link_hash, link).await;
    // Granting access may take longer than the binding cookie's lifetime: each load renews it.
    let _ = response.add_cookie(&binding_cookie(state.config.cookie_mode, binding));
    response
}

/// One load of the connect page: show the outcome, start the flow, or poll it once.
async fn step(
    state: &AppState,
    nextcloud: &Credentials,
    link_hash: &str,
    mut link: NextcloudLink,
) -> HttpResponse {
    let ctx = link_context(link_hash);
    if let Some(finished) = &link.finished {
        return show_finished(state, &link, finished, &ctx);
    }
    // An app password received earlier whose owner could not be read yet comes first.
    if let Some(sealed) = link.granted_sealed.clone() {
        return match open_password(state, &ctx, &sealed) {
            Some(password) => verify(state, nextcloud, link_hash, link, password).await,
            None => finish(state, link_hash, link, LinkOutcome::Refused, None).await,
        };
    }
    let now = state.clock.now();
    let timeout = i64::try_from(nextcloud.settings.login_flow_timeout.as_secs()).unwrap_or(1200);
    let deadline = link.created_at.saturating_add(timeout);
    if now >= deadline {
        audit::event("grant.refused", "refused")
            .reason("nextcloud_timeout")
            .subject(&link.subject)
            .client(link.authorization.client_id.as_str())
            .info("Nextcloud access was not granted in time");
        // Granted just now, after the deadline: that app password is not used; delete it
        // rather than leave it in the person's Devices & sessions.
        if let Some(token) = link
            .poll_sealed
            .as_ref()
            .and_then(|s| open_poll_token(state, &ctx, s))
        {
            if let Ok(Poll::Granted(late)) = nextcloud.client.poll(&token).await {
                nextcloud.delete_in_nextcloud(
                    late,
                    &link.authorization.client_id,
                    "granted after the timeout",
                );
            }
        }
        return finish(state, link_hash, link, LinkOutcome::Expired, None).await;
    }
    let minutes_left = (deadline - now + 59) / 60;

    let Some(poll_sealed) = link.poll_sealed.clone() else {
        let started = match nextcloud
            .client
            .start_login_flow(&app_password_name(&link.client_name))
            .await
        {
            Ok(started) => started,
            Err(e) => {
                tracing::warn!(client_id = %link.authorization.client_id, error = %e, "Login Flow v2 could not be started");
                return pages::connect_unavailable();
            }
        };
        link.poll_sealed = Some(
            state
                .cipher
                .seal(&ctx, started.poll_token.expose().as_bytes())
                .into(),
        );
        link.login_path = Some(started.login_path);
        let left = Duration::from_secs(u64::try_from(deadline - now).unwrap_or(0)) + FINISHED_TTL;
        if let Err(e) = state.store.put_nextcloud_link(link_hash, &link, left).await {
            return super::store_unavailable(state, e).response();
        }
        return waiting(nextcloud, &link, false, minutes_left);
    };
    let Some(poll_token) = open_poll_token(state, &ctx, &poll_sealed) else {
        return finish(state, link_hash, link, LinkOutcome::Refused, None).await;
    };
    match nextcloud.client.poll(&poll_token).await {
        Ok(Poll::Pending) => waiting(nextcloud, &link, false, minutes_left),
        Err(e) => {
            tracing::warn!(client_id = %link.authorization.client_id, error = %e, "Login Flow v2 poll failed");
            waiting(nextcloud, &link, true, minutes_left)
        }
        Ok(Poll::Granted(password)) => {
            // Nextcloud hands the app password out once: keep it (sealed) until it is checked.
            let plain = match serde_json::to_vec(&password) {
                Ok(p) => p,
                Err(_) => {
                    return PageError::Unavailable(
                        actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                    )
                    .response()
                }
            };
            link.granted_sealed = Some(state.cipher.seal(&ctx, &plain).into());
            let left =
                Duration::from_secs(u64::try_from(deadline - now).unwrap_or(0)) + FINISHED_TTL;
            if let Err(e) = state.store.put_nextcloud_link(link_hash, &link, left).await {
                nextcloud.delete_in_nextcloud(
                    password,
                    &link.authorization.client_id,
                    "could not be stored",
                );
                return super::store_unavailable(state, e).response();
            }
            verify(state, nextcloud, link_hash, link, password).await
        }
    }
}

fn open_poll_token(state: &AppState, ctx: &str, sealed: &Secret) -> Option<Secret> {
    let plain = state.cipher.open(ctx, sealed.expose()).ok()?;
    String::from_utf8(plain).ok().map(Secret::new)
}

fn open_password(state: &AppState, ctx: &str, sealed: &Secret) -> Option<AppPassword> {
    let plain = state.cipher.open(ctx, sealed.expose()).ok()?;
    serde_json::from_slice(&plain).ok()
}

/// Grant ownership: the app password must belong to the user the IdP authenticated.
async fn verify(
    state: &AppState,
    nextcloud: &Credentials,
    link_hash: &str,
    link: NextcloudLink,
    password: AppPassword,
) -> HttpResponse {
    let client_id = link.authorization.client_id.clone();
    match nextcloud.client.owner(&password).await {
        Err(e) => {
            tracing::warn!(client_id = %client_id, error = %e, "the new app password's user could not be read: Nextcloud unavailable");
            let minutes_left = minutes_left(state, nextcloud, &link);
            waiting(nextcloud, &link, true, minutes_left)
        }
        Ok(Owner::Refused) => {
            audit::event("grant.refused", "refused")
                .reason("nextcloud_refused")
                .subject(&link.subject)
                .client(client_id.as_str())
                .warn("Nextcloud refused the app password it had just handed out: sign-in refused");
            finish(state, link_hash, link, LinkOutcome::Refused, None).await
        }
        Ok(Owner::User(granted_by)) if granted_by != link.nextcloud_user => {
            // Someone else approved this person's flow (or this person approved as another
            // account): never keep it.
            let deleted = nextcloud.client.delete(&password).await;
            let detail = format!(
                "expected_user={} granted_by={granted_by} deleted_in_nextcloud={}",
                link.nextcloud_user,
                deleted.is_ok()
            );
            audit::event("grant.refused", "refused")
                .reason("nextcloud_other_user")
                .subject(&link.subject)
                .client(client_id.as_str())
                .detail(&detail)
                .warn("Login Flow v2 granted by another Nextcloud user: app password deleted, sign-in refused");
            if let Err(e) = deleted {
                let error = e.to_string();
                audit::event("nextcloud.credential.deleted", "failed").reason("other_user").subject(&link.subject).client(client_id.as_str()).detail(&error).warn("the refused app password could not be deleted in Nextcloud; the user it belongs to can revoke it under Devices & sessions");
            }
            finish(state, link_hash, link, LinkOutcome::Refused, None).await
        }
        Ok(Owner::User(_)) => {
            if let Err(e) = nextcloud.put(&link.subject, &client_id, &password).await {
                return super::store_unavailable(state, e).response();
            }
            audit::event("nextcloud.credential.stored", "ok")
                .subject(&link.subject)
                .client(client_id.as_str())
                .info("Nextcloud app password stored for this user and client");
            let location = match issue_code_location(
                state,
                &link.authorization,
                &link.grant_id,
                &link.subject,
                link.upstream_sealed.expose().to_owned(),
            )
            .await
            {
                Ok(location) => location,
                Err(page) => return page.response(),
            };
            finish(state, link_hash, link, LinkOutcome::Granted, Some(location)).await
        }
    }
}

/// Records the outcome (so reloads on any replica show it) and shows it.
async fn finish(
    state: &AppState,
    link_hash: &str,
    mut link: NextcloudLink,
    outcome: LinkOutcome,
    location: Option<String>,
) -> HttpResponse {
    let ctx = link_context(link_hash);
    count(
        state,
        match outcome {
            LinkOutcome::Granted => "granted",
            LinkOutcome::Refused => "refused",
            LinkOutcome::Expired => "expired",
        },
    );
    let location = location.unwrap_or_else(|| {
        let why = match outcome {
            LinkOutcome::Expired => "Nextcloud access was not granted in time",
            _ => "Nextcloud access was not granted by the signed-in user",
        };
        error_location(state, &link.authorization, why)
    });
    let finished = LinkFinished {
        outcome,
        location_sealed: state.cipher.seal(&ctx, location.as_bytes()).into(),
    };
    link.finished = Some(finished.clone());
    link.poll_sealed = None;
    link.granted_sealed = None;
    if let Err(e) = state
        .store
        .put_nextcloud_link(link_hash, &link, FINISHED_TTL)
        .await
    {
        // The outcome is shown anyway; a reload then says the sign-in expired.
        tracing::warn!(error = %e, "the connect page's outcome could not be stored");
    }
    show(&link, outcome, &location)
}

fn show_finished(
    state: &AppState,
    link: &NextcloudLink,
    finished: &LinkFinished,
    ctx: &str,
) -> HttpResponse {
    match state
        .cipher
        .open(ctx, finished.location_sealed.expose())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
    {
        Some(location) => show(link, finished.outcome, &location),
        None => PageError::ConnectExpired.response(),
    }
}

fn show(link: &NextcloudLink, outcome: LinkOutcome, location: &str) -> HttpResponse {
    match outcome {
        LinkOutcome::Granted => redirect_to(location, true),
        LinkOutcome::Refused => pages::connect_refused(&link.client_name, location),
        LinkOutcome::Expired => pages::connect_expired(&link.client_name, location),
    }
}

fn minutes_left(state: &AppState, nextcloud: &Credentials, link: &NextcloudLink) -> i64 {
    let timeout = i64::try_from(nextcloud.settings.login_flow_timeout.as_secs()).unwrap_or(1200);
    (link.created_at + timeout - state.clock.now() + 59) / 60
}

fn waiting(
    nextcloud: &Credentials,
    link: &NextcloudLink,
    unavailable: bool,
    minutes_left: i64,
) -> HttpResponse {
    let public = nextcloud.settings.public_url.as_str().trim_end_matches('/');
    let login_url = format!("{public}{}", link.login_path.as_deref().unwrap_or("/"));
    pages::connect_waiting(&ConnectView {
        client_name: &link.client_name,
        login_url: &login_url,
        nextcloud_host: nextcloud.settings.public_url.host_str().unwrap_or(public),
        unavailable,
        minutes_left,
    })
}
