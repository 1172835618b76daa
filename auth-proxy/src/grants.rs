//! The grants service: the store sequences of a grant's life, behind one small service over
//! the store, the clock and the signing keys. Issuing the first code (callback), redeeming it,
//! rotating refresh tokens, revoking (RFC 7009) and checking a token-exchange subject against
//! its grant each take several store steps in an order that matters (a code is spent before it
//! is checked, except for its resource; a refresh request is checked before the token is
//! rotated). The rules themselves are the pure functions of [`crate::oauth`]; the handlers
//! extract the request, call a method here and map the outcome (metrics, audit log, OAuth
//! error).

use std::time::Duration;

use mcp_shared::ScopeSet;

use crate::clients::ClientRecord;
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::random_token;
use crate::error::OAuthError;
use crate::ids::{ClientId, GrantId, Jti, TokenHash};
use crate::keys::SigningKeys;
use crate::nextcloud::Credentials;
use crate::oauth::exchange::{check_subject, grant_matches, grant_revoked, invalid_subject};
use crate::oauth::idjag::Accepted;
use crate::oauth::revoke::{access_token_denial, split_grant_token};
use crate::oauth::token::{
    access_token_claims, check_redemption, check_refresh, requested_resource, requested_scope,
};
use crate::store::{
    CodeRecord, CodeTake, GrantOrigin, GrantRecord, RefreshOutcome, RefreshRecord, RefreshRotation,
    Store, StoreError, UserGrant,
};

/// Authorization codes live 60 s (DESIGN.md).
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// A grant whose code is never redeemed disappears shortly after the code.
const UNREDEEMED_GRANT_TTL: Duration = Duration::from_secs(300);
/// How long a redeemed code is remembered, so that a replay is recognised and punished.
const CODE_REPLAY_WINDOW: Duration = Duration::from_secs(600);

/// What a successful redemption or rotation issued.
pub struct Issued {
    pub grant_id: GrantId,
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: String,
    pub scope: ScopeSet,
}

/// What an accepted identity assertion (ID-JAG) issued: an access token, no refresh token.
pub struct IssuedFromAssertion {
    pub grant_id: GrantId,
    pub access_token: String,
    pub expires_in: u64,
    pub scope: ScopeSet,
    pub resource: String,
}

/// A grant made from an assertion outlives its one access token by this much, so a token
/// exchange at the token's last second still finds it.
const ASSERTION_GRANT_LEEWAY: Duration = Duration::from_secs(60);

/// Why a code or refresh token was not accepted. The variants that revoked the grant say so,
/// with the outcome of the revocation, so the handler counts and logs them before answering.
#[derive(Debug)]
pub enum GrantError {
    /// Unknown, expired or already used code (nothing changed).
    InvalidCode,
    /// A redeemed code was presented again: the grant was revoked (`Err` if that failed).
    CodeReplayed {
        grant_id: GrantId,
        revoked: Result<(), StoreError>,
    },
    /// The code belongs to another client: the grant was revoked (`Err` if that failed).
    CodeOfOtherClient {
        grant_id: GrantId,
        revoked: Result<(), StoreError>,
    },
    /// Unknown, expired or revoked refresh token, or another client's (nothing changed).
    InvalidRefreshToken,
    /// A refresh token used too long ago was presented again: the store revoked the family.
    RefreshReuse {
        grant_id: GrantId,
    },
    /// The request breaks a rule of the flow (redirect URI, PKCE, scope, resource).
    Refused(OAuthError),
    Store(StoreError),
    Signing(jsonwebtoken::errors::Error),
}

impl From<StoreError> for GrantError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// Why a token-exchange subject token was not accepted.
#[derive(Debug)]
pub enum SubjectError {
    /// Not ours, expired, revoked, or its grant is gone.
    Refused(OAuthError),
    /// A valid token naming a grant of another user or resource (audited).
    OtherGrant {
        gid: String,
    },
    Store(StoreError),
}

impl From<StoreError> for SubjectError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// What a revocation request revoked (RFC 7009 answers the same either way).
#[derive(Debug, PartialEq, Eq)]
pub enum Revoked {
    /// A refresh token of the client: its whole grant.
    Grant(GrantId),
    /// An access token of the client, deny-listed until it expires; `grant` is its `gid`.
    AccessToken { grant: String },
    /// Unknown, expired, or another client's token.
    Nothing,
}

pub struct Grants<'a> {
    store: &'a dyn Store,
    clock: &'a dyn Clock,
    keys: &'a SigningKeys,
    config: &'a Config,
    /// With the app-password strategy: revoking a grant discards its Nextcloud app password.
    nextcloud: Option<&'a Credentials>,
}

impl<'a> Grants<'a> {
    pub fn new(
        store: &'a dyn Store,
        clock: &'a dyn Clock,
        keys: &'a SigningKeys,
        config: &'a Config,
    ) -> Self {
        Self {
            store,
            clock,
            keys,
            config,
            nextcloud: None,
        }
    }

    /// Revocations also delete the grant's Nextcloud app password (app-password strategy).
    pub fn with_nextcloud(mut self, nextcloud: Option<&'a Credentials>) -> Self {
        self.nextcloud = nextcloud;
        self
    }

    /// Revokes the grant in the store and, with the app-password strategy, discards the
    /// Nextcloud app password of its (user, client) pair: deleted in Nextcloud, so every tool
    /// call with it stops at once, whatever mcp-server has cached. `grant` is the record read
    /// before revoking, when the caller has it.
    pub async fn revoke_grant(
        &self,
        grant_id: &GrantId,
        grant: Option<&GrantRecord>,
        why: &'static str,
    ) -> Result<(), StoreError> {
        let grant = match (grant, self.nextcloud) {
            (Some(g), _) => Some(g.clone()),
            (None, Some(_)) => self.store.get_grant(grant_id).await?,
            (None, None) => None,
        };
        self.store.revoke_grant(grant_id).await?;
        if let (Some(nextcloud), Some(grant)) = (self.nextcloud, grant) {
            nextcloud
                .discard(&grant.subject, &grant.client_id, why)
                .await?;
        }
        Ok(())
    }

    /// Stores a new grant (short-lived until its code is redeemed) and the one authorization
    /// code issued from it; returns the code (`<grant id>.<secret>`).
    pub async fn issue_code(
        &self,
        grant: &GrantRecord,
        record: &CodeRecord,
    ) -> Result<String, StoreError> {
        let code = format!("{}.{}", grant.grant_id, random_token(32));
        self.store
            .put_grant_and_code(
                grant,
                UNREDEEMED_GRANT_TTL,
                &TokenHash::of(&code),
                record,
                CODE_TTL,
            )
            .await?;
        Ok(code)
    }

    /// Redeems `code` for `client_id`: the code is taken first (single use), so any failure
    /// after that leaves it spent; a replay or another client's code revokes the grant. The
    /// one exception is `resource`: a resource we do not serve is refused before the store is
    /// asked, and one of ours that is not the code's is refused by the take itself, the code
    /// left in place (`invalid_target` is about the request, not a sign of a stolen code).
    pub async fn redeem_code(
        &self,
        client_id: &ClientId,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: &str,
        resource: Option<&str>,
    ) -> Result<Issued, GrantError> {
        let (grant_id, code_hash) = split_grant_token(code).ok_or(GrantError::InvalidCode)?;
        let resource =
            requested_resource(&self.config.resources, resource).map_err(GrantError::Refused)?;
        let (record, grant) = match self
            .store
            .take_code(&grant_id, &code_hash, CODE_REPLAY_WINDOW, resource)
            .await?
        {
            CodeTake::Redeemed { code, grant } => (code, grant),
            CodeTake::ResourceMismatch => {
                return Err(GrantError::Refused(OAuthError::invalid_target(
                    "resource does not match the authorization request",
                )))
            }
            CodeTake::Unknown => return Err(GrantError::InvalidCode),
            CodeTake::Replayed => {
                // RFC 6749 §4.1.2 / OAuth 2.1: revoke everything issued from a replayed code.
                let revoked = self.revoke_grant(&grant_id, None, "code replayed").await;
                return Err(GrantError::CodeReplayed { grant_id, revoked });
            }
        };
        if record.client_id != *client_id {
            let revoked = self
                .revoke_grant(&grant_id, None, "code of another client")
                .await;
            return Err(GrantError::CodeOfOtherClient { grant_id, revoked });
        }
        check_redemption(&record, redirect_uri, code_verifier, resource)
            .map_err(GrantError::Refused)?;

        let refresh_token = format!("{grant_id}.{}", random_token(32));
        let record = RefreshRecord {
            client_id: client_id.clone(),
            issued_at: self.clock.now(),
        };
        self.store
            .put_refresh_token(
                &grant_id,
                &TokenHash::of(&refresh_token),
                &record,
                self.config.refresh_token_ttl,
            )
            .await?;
        let scope = grant.scope.clone();
        self.issue(&grant, scope, refresh_token)
    }

    /// Rotates the `presented` refresh token of `client_id`. A request that narrows the scope
    /// or names a resource is checked against the grant before rotating, so a bad request does
    /// not spend the token (a resource we do not serve before any store call); a plain refresh
    /// (the common case) is one store round trip. Without `resource` the grant's is kept.
    pub async fn refresh(
        &self,
        client_id: &ClientId,
        presented: &str,
        scope: Option<&str>,
        resource: Option<&str>,
    ) -> Result<Issued, GrantError> {
        let (grant_id, presented_hash) =
            split_grant_token(presented).ok_or(GrantError::InvalidRefreshToken)?;
        let requested = requested_scope(scope).map_err(GrantError::Refused)?;
        let resource =
            requested_resource(&self.config.resources, resource).map_err(GrantError::Refused)?;
        if requested.is_some() || resource.is_some() {
            let grant = self
                .store
                .get_grant(&grant_id)
                .await?
                .ok_or(GrantError::InvalidRefreshToken)?;
            check_refresh(&grant, requested.as_ref(), resource).map_err(GrantError::Refused)?;
        }

        let new_token = format!("{grant_id}.{}", random_token(32));
        let outcome = self
            .store
            .rotate_refresh_token(&RefreshRotation {
                grant_id: &grant_id,
                presented_hash: &presented_hash,
                client_id,
                new_hash: &TokenHash::of(&new_token),
                now_ms: self.clock.now_millis(),
                grace: self.config.refresh_grace,
                ttl: self.config.refresh_token_ttl,
            })
            .await?;
        let grant = match outcome {
            RefreshOutcome::Rotated(grant) => grant,
            RefreshOutcome::Unknown | RefreshOutcome::Revoked | RefreshOutcome::WrongClient => {
                return Err(GrantError::InvalidRefreshToken)
            }
            RefreshOutcome::ReuseDetected(grant) => {
                // The store revoked the family; the Nextcloud credential goes with it.
                if let Some(nextcloud) = self.nextcloud {
                    nextcloud
                        .discard(&grant.subject, &grant.client_id, "refresh token reused")
                        .await?;
                }
                return Err(GrantError::RefreshReuse { grant_id });
            }
        };
        let scope = requested.unwrap_or_else(|| grant.scope.clone());
        self.issue(&grant, scope, new_token)
    }

    /// Revokes `token` if it is one of `client_id`'s: a refresh token takes its grant with it,
    /// an access token goes on the deny-list until it would expire.
    pub async fn revoke(&self, client_id: &ClientId, token: &str) -> Result<Revoked, StoreError> {
        // Both forms are recognisable on their own, so the hint is not needed.
        if let Some((grant_id, hash)) = split_grant_token(token) {
            let record = self.store.get_refresh_token(&grant_id, &hash).await?;
            if record.is_some_and(|r| r.client_id == *client_id) {
                self.revoke_grant(&grant_id, None, "revoked by the client")
                    .await?;
                return Ok(Revoked::Grant(grant_id));
            }
        } else if let Ok(claims) = self.keys.verify_access_token(token) {
            let denial = access_token_denial(&claims, client_id.as_str(), self.clock.now());
            // Our tokens always carry a well-formed jti; any other names nothing to deny.
            if let (Some(ttl), Some(jti)) = (denial, Jti::parse(&claims.jti)) {
                self.store.deny_access_token(&jti, ttl).await?;
                return Ok(Revoked::AccessToken { grant: claims.gid });
            }
        }
        Ok(Revoked::Nothing)
    }

    /// The grant behind a token-exchange `subject_token` (RFC 8693): one of our access tokens
    /// (signature, issuer, one of our resources, current), not deny-listed, whose grant still
    /// exists for the same user and resource.
    pub async fn exchange_subject(&self, subject_token: &str) -> Result<GrantRecord, SubjectError> {
        let claims = self
            .keys
            .verify_access_token(subject_token)
            .map_err(|_| SubjectError::Refused(invalid_subject()))?;
        let now = self.clock.now();
        check_subject(&claims, &self.config.issuer, &self.config.resources, now)
            .map_err(SubjectError::Refused)?;
        // Our tokens always carry a well-formed jti: any other is not one of ours.
        let jti = Jti::parse(&claims.jti).ok_or(SubjectError::Refused(invalid_subject()))?;
        if self.store.is_access_token_denied(&jti).await? {
            return Err(SubjectError::Refused(OAuthError::invalid_grant(
                "subject_token was revoked",
            )));
        }
        // A signed token with a malformed grant id names no grant, as an unknown one does not.
        let grant_id =
            GrantId::parse(&claims.gid).ok_or_else(|| SubjectError::Refused(grant_revoked()))?;
        let grant = self
            .store
            .get_grant(&grant_id)
            .await?
            .ok_or_else(|| SubjectError::Refused(grant_revoked()))?;
        if !grant_matches(&grant, &claims) {
            return Err(SubjectError::OtherGrant { gid: claims.gid });
        }
        if let GrantOrigin::Enterprise { .. } = grant.origin {
            return Err(SubjectError::Refused(self.no_enterprise_credential()));
        }
        Ok(grant)
    }

    /// Makes the grant an accepted ID-JAG describes (origin: the enterprise `issuer`) and
    /// signs its one access token. No refresh token: the draft says a server SHOULD NOT issue
    /// one, the client asks its IdP for a new ID-JAG instead (ADR 0020), so the grant lives as
    /// long as the token. The user's grant index learns of it, so the connections page lists
    /// it (best effort, as for every grant: the page tolerates a lagging index).
    pub async fn issue_from_assertion(
        &self,
        client: &ClientRecord,
        issuer: &str,
        accepted: &Accepted,
    ) -> Result<IssuedFromAssertion, GrantError> {
        let grant = GrantRecord {
            grant_id: GrantId::generate(),
            subject: accepted.subject.clone(),
            client_id: client.client_id.clone(),
            scope: accepted.scope.clone(),
            resource: accepted.resource.clone(),
            upstream_sealed: "".into(),
            created_at: self.clock.now(),
            origin: GrantOrigin::Enterprise {
                issuer: issuer.to_owned(),
            },
        };
        self.store
            .put_grant(
                &grant,
                self.config.access_token_ttl + ASSERTION_GRANT_LEEWAY,
            )
            .await?;
        let entry = UserGrant {
            client_id: grant.client_id.clone(),
            client_name: client.client_name.clone(),
            scope: grant.scope.clone(),
            resource: grant.resource.clone(),
            created_at: grant.created_at,
            last_used: None,
        };
        if let Err(e) = self
            .store
            .put_user_grant(
                &grant.subject,
                &grant.grant_id,
                &entry,
                self.config.refresh_token_ttl,
            )
            .await
        {
            tracing::warn!(error = %e, grant_id = %grant.grant_id, "the grant could not be entered in its user's connections index");
        }
        let issued = self.issue(&grant, grant.scope.clone(), String::new())?;
        Ok(IssuedFromAssertion {
            grant_id: issued.grant_id,
            access_token: issued.access_token,
            expires_in: issued.expires_in,
            scope: issued.scope,
            resource: grant.resource,
        })
    }

    /// A grant made from an ID-JAG holds no upstream tokens, so there is nothing to exchange
    /// for a Nextcloud credential (ADR 0020). Said plainly instead of handing out something
    /// that would fail at Nextcloud: with app passwords the user can connect their account
    /// on the connections page; with upstream bearer tokens there is nothing to connect.
    fn no_enterprise_credential(&self) -> OAuthError {
        if self.nextcloud.is_some() {
            OAuthError::invalid_grant(format!(
                "this enterprise-managed grant has no Nextcloud credential yet: the user must \
                 sign in at {}/connections and connect their Nextcloud account",
                self.config.issuer
            ))
        } else {
            OAuthError::invalid_grant(
                "this enterprise-managed grant carries no upstream token, and Nextcloud \
                 credentials are upstream bearer tokens on this server: its tools cannot reach \
                 Nextcloud (app passwords are needed, see ADR 0020)",
            )
        }
    }

    /// Signs an access token for `grant` with `scope`, now.
    fn issue(
        &self,
        grant: &GrantRecord,
        scope: ScopeSet,
        refresh_token: String,
    ) -> Result<Issued, GrantError> {
        let ttl = self.config.access_token_ttl.as_secs();
        let claims = access_token_claims(
            &self.config.issuer,
            grant,
            &scope,
            self.clock.now(),
            ttl,
            random_token(16),
        );
        let access_token = self
            .keys
            .sign_access_token(&claims)
            .map_err(GrantError::Signing)?;
        Ok(Issued {
            grant_id: grant.grant_id.clone(),
            access_token,
            expires_in: ttl,
            refresh_token,
            scope,
        })
    }
}

#[cfg(test)]
mod tests;
