//! RFC 8693 token exchange, for the mcp-server's confidential client only: the subject token is
//! one of our access tokens for a configured MCP resource; the answer is the user's *upstream*
//! access token from the grant behind it, refreshed at the IdP first when it is about to
//! expire. This is how the mcp-server reaches Nextcloud without passing the client's token
//! through. The decisions are in [`crate::oauth::exchange`]; the subject token and its grant
//! are checked by [`crate::grants::Grants::exchange_subject`]; this handler does the cipher
//! and the upstream refresh (which rewrites or revokes the grant) around them.

use crate::audit;
use crate::clients::ClientRecord;
use crate::error::OAuthError;
use crate::grants::SubjectError;
use std::time::Duration;

use crate::crypto::random_token;
use crate::nextcloud::{AppPassword, Credentials, Owner, VaultError};
use crate::oauth::exchange::{
    check_client, check_requested_type, grant_revoked, invalid_subject, merge_refreshed,
    needs_refresh, without_refresh_token, ExchangeResponse,
};
use crate::state::AppState;
use crate::store::GrantRecord;
use crate::upstream::{UpstreamError, UpstreamTokens};

fn open(state: &AppState, grant: &GrantRecord) -> Result<UpstreamTokens, OAuthError> {
    let plain = state
        .cipher
        .open(grant.grant_id.as_str(), grant.upstream_sealed.expose())
        .map_err(|e| {
            tracing::error!(grant_id = %grant.grant_id, error = %e, "sealed upstream tokens cannot be opened (encryption key removed?)");
            OAuthError::invalid_grant("the grant's upstream tokens are no longer readable")
        })?;
    serde_json::from_slice(&plain).map_err(|e| OAuthError::server_error(&e))
}

/// How long a token exchange waits for Nextcloud's answer about the stored app password.
const EXCHANGE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// How long mcp-server may reuse exchanged app-password credentials before asking again.
const APP_PASSWORD_REUSE_SECS: i64 = 300;

/// The grant's app password, if Nextcloud still accepts it. One that is missing, unreadable
/// or revoked in Nextcloud ("Devices & sessions") ends the grant: this connection can no
/// longer reach Nextcloud, and the client's next sign-in runs Login Flow v2 again.
async fn app_password(
    state: &AppState,
    nextcloud: &Credentials,
    grant: &GrantRecord,
) -> Result<AppPassword, OAuthError> {
    let password = match nextcloud.get(&grant.subject, &grant.client_id).await {
        Ok(Some(password)) => Some(password),
        Ok(None) => None,
        Err(VaultError::Unreadable) => {
            tracing::error!(grant_id = %grant.grant_id, "stored app password cannot be opened (encryption key removed?)");
            None
        }
        Err(VaultError::Store(e)) => return Err(state.store_error(e)),
    };
    let why = match &password {
        None => "no Nextcloud app password",
        // Nextcloud down must not hold up the exchange: the stored one is handed out then.
        Some(password) => match nextcloud
            .client
            .owner_within(password, EXCHANGE_CHECK_TIMEOUT)
            .await
        {
            Ok(Owner::Refused) => "app password revoked in Nextcloud",
            // Accepted; or Nextcloud is down, and tool calls will say so themselves.
            Ok(Owner::User(_)) | Err(_) => {
                if let Err(e) = nextcloud.touch(&grant.subject, &grant.client_id).await {
                    tracing::warn!(error = %e, "the app password's lifetime could not be renewed");
                }
                return Ok(password.clone());
            }
        },
    };
    audit::event("grant.revoked", "revoked")
        .reason(why)
        .subject(&grant.subject)
        .client(grant.client_id.as_str())
        .grant(grant.grant_id.as_str())
        .warn("grant revoked: it can no longer reach Nextcloud");
    state
        .grants()
        .revoke_grant(&grant.grant_id, Some(grant), why)
        .await
        .map_err(|e| state.store_error(e))?;
    Err(no_app_password())
}

fn no_app_password() -> OAuthError {
    OAuthError::invalid_grant(
        "this sign-in no longer has Nextcloud access (its app password was revoked): the user \
         must sign in again",
    )
}

pub async fn exchange(
    state: &AppState,
    client: &ClientRecord,
    subject_token: &str,
    requested_token_type: Option<&str>,
) -> Result<ExchangeResponse, OAuthError> {
    let settings = state.config.exchange_client.as_ref();
    check_client(
        settings.map(|s| s.client_id.as_str()),
        client.client_id.as_str(),
    )?;
    check_requested_type(requested_token_type, state.nextcloud.is_some())?;
    let grant = state
        .grants()
        .exchange_subject(subject_token)
        .await
        .map_err(|e| match e {
            SubjectError::Refused(e) => e,
            SubjectError::OtherGrant { gid } => {
                audit::event("exchange.refused", "refused")
                    .reason("subject_token_mismatch")
                    .grant(gid.as_str())
                    .warn("subject_token does not match its grant");
                invalid_subject()
            }
            SubjectError::Store(e) => state.store_error(e),
        })?;
    state
        .grant_index
        .used(&grant.grant_id, || Some(grant.subject.clone()))
        .await;
    let now = state.clock.now();

    if let Some(nextcloud) = &state.nextcloud {
        let password = app_password(state, nextcloud, &grant).await?;
        state
            .metrics
            .tokens_issued
            .with_label_values(&["token_exchange"])
            .inc();
        audit::event("exchange.issued", "ok")
            .subject(&grant.subject)
            .client(grant.client_id.as_str())
            .grant(grant.grant_id.as_str())
            .detail("nextcloud_app_password")
            .info("Nextcloud app password handed out by token exchange");
        return Ok(ExchangeResponse::basic(
            &password.login_name,
            &password.app_password,
            APP_PASSWORD_REUSE_SECS,
        ));
    }

    let mut tokens = open(state, &grant)?;
    let margin = settings
        .and_then(|s| i64::try_from(s.refresh_margin.as_secs()).ok())
        .unwrap_or(60);
    let stale = needs_refresh(&tokens, margin, now);
    if stale {
        tokens = refresh_once(state, &grant, tokens, margin, now).await?;
    }
    state
        .metrics
        .tokens_issued
        .with_label_values(&["token_exchange"])
        .inc();
    audit::event("exchange.issued", "ok")
        .subject(&grant.subject)
        .client(grant.client_id.as_str())
        .grant(grant.grant_id.as_str())
        .detail(if stale {
            "upstream_token_refreshed"
        } else {
            "upstream_token"
        })
        .info("upstream token handed out by token exchange");
    Ok(ExchangeResponse::new(tokens, now))
}

/// How often a request waiting for another's upstream refresh looks at the grant again.
const REFRESH_WAIT_POLL: Duration = Duration::from_millis(50);

/// One upstream refresh per grant across every replica (the store's refresh lock): the holder
/// refreshes and stores the new set; everyone else waits for that set to appear in the grant
/// (bounded by the upstream timeout) instead of presenting the same upstream refresh token a
/// second time, which an IdP with refresh rotation (Keycloak, oidc-provider) treats as reuse.
/// A crashed holder's lock expires after the upstream timeout plus 5 s.
async fn refresh_once(
    state: &AppState,
    grant: &GrantRecord,
    current: UpstreamTokens,
    margin: i64,
    now: i64,
) -> Result<UpstreamTokens, OAuthError> {
    let holder = random_token(16);
    let lock_ttl = state.config.upstream.timeout + Duration::from_secs(5);
    let deadline = mcp_shared::ops::clock::monotonic() + lock_ttl;
    let store_error = |e| state.store_error(e);
    loop {
        if state
            .store
            .lock_upstream_refresh(&grant.grant_id, &holder, lock_ttl)
            .await
            .map_err(store_error)?
        {
            // Someone may have finished a refresh between our read and the lock.
            let latest = state
                .store
                .get_grant(&grant.grant_id)
                .await
                .map_err(store_error)?;
            let result = match latest {
                None => Err(grant_revoked()),
                Some(latest) if latest.upstream_sealed != grant.upstream_sealed => {
                    let tokens = open(state, &latest)?;
                    if needs_refresh(&tokens, margin, now) {
                        refresh_upstream(state, &latest, tokens, now).await
                    } else {
                        Ok(tokens)
                    }
                }
                Some(_) => refresh_upstream(state, grant, current, now).await,
            };
            if let Err(e) = state
                .store
                .unlock_upstream_refresh(&grant.grant_id, &holder)
                .await
            {
                tracing::warn!(grant_id = %grant.grant_id, error = %e, "upstream refresh lock not released (it expires by itself)");
            }
            return result;
        }
        // Another request (here or on another replica) is refreshing: wait for its result.
        tokio::time::sleep(REFRESH_WAIT_POLL).await;
        let latest = state
            .store
            .get_grant(&grant.grant_id)
            .await
            .map_err(store_error)?
            .ok_or_else(grant_revoked)?;
        if latest.upstream_sealed != grant.upstream_sealed {
            let tokens = open(state, &latest)?;
            if !needs_refresh(&tokens, margin, now) {
                return Ok(tokens);
            }
        }
        if mcp_shared::ops::clock::monotonic() >= deadline {
            return Err(OAuthError::temporarily_unavailable(
                "the identity provider is slow to renew the sign-in; try again shortly",
            ));
        }
    }
}

/// Refreshes the grant's upstream tokens and stores the new set (call with the grant's
/// refresh lock held). If the IdP refuses because
/// another replica refreshed (and rotated) concurrently, the grant is read again and the newer
/// set used; a refusal that still stands revokes the grant (the user must sign in again).
async fn refresh_upstream(
    state: &AppState,
    grant: &GrantRecord,
    current: UpstreamTokens,
    now: i64,
) -> Result<UpstreamTokens, OAuthError> {
    let Some(refresh_token) = current.refresh_token.clone() else {
        return without_refresh_token(current, now);
    };
    let started = mcp_shared::ops::clock::monotonic();
    let refreshed = state.upstream.refresh(refresh_token.expose()).await;
    state
        .metrics
        .upstream_duration
        .with_label_values(&["refresh"])
        .observe(started.elapsed().as_secs_f64());
    state
        .metrics
        .upstream_requests
        .with_label_values(&[
            "refresh",
            match &refreshed {
                Ok(_) => "ok",
                Err(UpstreamError::Unavailable(_)) => "unavailable",
                Err(UpstreamError::Rejected(_)) => "rejected",
                Err(UpstreamError::Invalid(_)) => "invalid",
            },
        ])
        .inc();
    match refreshed {
        Ok(fresh) => {
            let fresh = merge_refreshed(fresh, refresh_token, current.id_token);
            let plain = serde_json::to_vec(&fresh).map_err(|e| OAuthError::server_error(&e))?;
            let sealed = state.cipher.seal(grant.grant_id.as_str(), &plain);
            let kept = state
                .store
                .update_grant_upstream(&grant.grant_id, &sealed)
                .await
                .map_err(|e| state.store_error(e))?;
            if !kept {
                return Err(grant_revoked());
            }
            state
                .metrics
                .tokens_issued
                .with_label_values(&["upstream_refresh"])
                .inc();
            Ok(fresh)
        }
        Err(UpstreamError::Rejected(reason)) => {
            // A concurrent refresh elsewhere may have rotated the refresh token.
            if let Some(latest) = state
                .store
                .get_grant(&grant.grant_id)
                .await
                .map_err(|e| state.store_error(e))?
            {
                if latest.upstream_sealed != grant.upstream_sealed {
                    let tokens = open(state, &latest)?;
                    if tokens.expires_at.is_none_or(|exp| exp > now) {
                        return Ok(tokens);
                    }
                }
            }
            let detail = reason.to_string();
            audit::event("grant.revoked", "revoked")
                .reason("upstream_refused")
                .subject(&grant.subject)
                .client(grant.client_id.as_str())
                .grant(grant.grant_id.as_str())
                .detail(&detail)
                .warn("upstream refused the refresh: grant revoked");
            state
                .grants()
                .revoke_grant(&grant.grant_id, Some(grant), "upstream refused the refresh")
                .await
                .map_err(|e| state.store_error(e))?;
            Err(OAuthError::invalid_grant(
                "the identity provider no longer accepts this sign-in: the user must sign in again",
            ))
        }
        Err(e) => {
            tracing::warn!(grant_id = %grant.grant_id, error = %e, "upstream refresh failed");
            Err(OAuthError::temporarily_unavailable(
                "the identity provider is unavailable; try again shortly",
            ))
        }
    }
}
