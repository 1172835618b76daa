//! The `app-password` Nextcloud credential strategy (ADR 0012): per (user, client) app
//! passwords from Nextcloud Login Flow v2, checked to belong to the user the IdP
//! authenticated, kept sealed in the store, handed to mcp-server by token exchange, deleted in
//! Nextcloud when the grant is revoked.
//!
//! - [`client`]: the HTTP calls to Nextcloud.
//! - here: which Nextcloud user an identity must be ([`expected_user_id`]), and
//!   [`Credentials`], the vault of app passwords (seal, open, replace, discard).
//! - `routes/connect.rs`: the browser steps between the IdP callback and the client's code.

pub mod client;

use std::sync::Arc;
use std::time::Duration;

use mcp_shared::Secret;

pub use self::client::{AppPassword, NextcloudClient, NextcloudError, Owner, Poll, StartedFlow};
use crate::config::{AppPasswordSettings, UserIdMapping};
use crate::crypto::{sha256_hex, TokenCipher};
use crate::ids::ClientId;
use crate::store::{Store, StoreError};
use crate::upstream::UpstreamIdentity;

/// Pauses before each attempt to delete an app password in Nextcloud.
const DELETE_RETRIES: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_secs(2),
    Duration::from_secs(10),
];

/// The Nextcloud user id `identity` must have, as Nextcloud's user_oidc derives it from the
/// configured claim (lib/Service/LocalIdService.php `getId`); `None` when the identity lacks
/// the claim. Never a display name.
pub fn expected_user_id(
    settings: &AppPasswordSettings,
    identity: &UpstreamIdentity,
) -> Option<String> {
    let claim = identity.claim(&settings.user_claim)?;
    (!claim.is_empty()).then(|| map_user_id(&settings.user_id, claim))
}

/// user_oidc's mapping of a claim value to a Nextcloud user id.
pub fn map_user_id(mapping: &UserIdMapping, claim: &str) -> String {
    let id = match mapping {
        UserIdMapping::Plain => claim.to_owned(),
        // strval($providerId) . '_' . '0_' (not id4me) . $id, then hash('sha256', …).
        UserIdMapping::UniqueUid { provider_id } => sha256_hex(&format!("{provider_id}_0_{claim}")),
        UserIdMapping::ProviderBased { identifier } => format!("{identifier}-{claim}"),
    };
    // lib/Db/UserMapper.php getOrCreate: a user id longer than 64 bytes (the column) is
    // replaced by its SHA-256.
    if id.len() > 64 {
        sha256_hex(&id)
    } else {
        id
    }
}

/// The key of one (user, client) pair: SHA-256 of both, length-prefixed so no two pairs
/// share it.
pub fn owner_key(subject: &str, client_id: &ClientId) -> String {
    sha256_hex(&format!(
        "{}:{subject}{}",
        subject.len(),
        client_id.as_str()
    ))
}

/// The name Nextcloud gives the app password (from the Login Flow's User-Agent), as the person
/// sees it in Settings → Security → Devices & sessions: printable ASCII, bounded.
pub fn app_password_name(client_name: &str) -> String {
    let clean: String = client_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(64)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "MCP client".to_owned()
    } else {
        format!("MCP: {clean}")
    }
}

/// The sealed app passwords, one per (user, client), and their deletion in Nextcloud.
#[derive(Debug)]
pub struct Credentials {
    store: Arc<dyn Store>,
    cipher: Arc<TokenCipher>,
    pub client: NextcloudClient,
    pub settings: AppPasswordSettings,
    /// How long a stored app password outlives its last use (sign-in or token exchange).
    idle_ttl: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealed with a key that is no longer configured, or corrupt: treated as absent.
    #[error("the stored app password cannot be opened")]
    Unreadable,
}

fn context(owner: &str) -> String {
    format!("ncpw:{owner}")
}

impl Credentials {
    /// `idle_ttl`: a stored app password unused this long is forgotten (twice the refresh
    /// token lifetime: no grant of its pair can still be alive by then).
    pub fn new(
        store: Arc<dyn Store>,
        cipher: Arc<TokenCipher>,
        settings: AppPasswordSettings,
        idle_ttl: Duration,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            store,
            cipher,
            client: NextcloudClient::new(&settings.url)?,
            settings,
            idle_ttl,
        })
    }

    /// Marks the app password of (`subject`, `client_id`) as used: it lives `idle_ttl` more.
    pub async fn touch(&self, subject: &str, client_id: &ClientId) -> Result<(), StoreError> {
        self.store
            .touch_nextcloud_credential(&owner_key(subject, client_id), self.idle_ttl)
            .await
    }

    fn open(&self, owner: &str, sealed: &Secret) -> Result<AppPassword, VaultError> {
        let plain = self
            .cipher
            .open(&context(owner), sealed.expose())
            .map_err(|_| VaultError::Unreadable)?;
        serde_json::from_slice(&plain).map_err(|_| VaultError::Unreadable)
    }

    /// The app password of (`subject`, `client_id`), if one is stored and readable.
    pub async fn get(
        &self,
        subject: &str,
        client_id: &ClientId,
    ) -> Result<Option<AppPassword>, VaultError> {
        let owner = owner_key(subject, client_id);
        match self.store.get_nextcloud_credential(&owner).await? {
            None => Ok(None),
            Some(sealed) => self.open(&owner, &sealed).map(Some),
        }
    }

    /// Stores `password` for (`subject`, `client_id`); one it replaces is deleted in Nextcloud.
    pub async fn put(
        &self,
        subject: &str,
        client_id: &ClientId,
        password: &AppPassword,
    ) -> Result<(), StoreError> {
        let owner = owner_key(subject, client_id);
        let previous = self.store.take_nextcloud_credential(&owner).await?;
        let plain = serde_json::to_vec(password)
            .map_err(|e| StoreError::Corrupt(format!("app password record: {e}")))?;
        self.store
            .put_nextcloud_credential(
                &owner,
                &self.cipher.seal(&context(&owner), &plain),
                self.idle_ttl,
            )
            .await?;
        if let Some(previous) = previous {
            if let Ok(old) = self.open(&owner, &previous) {
                if old.app_password != password.app_password {
                    self.delete_in_nextcloud(old, client_id, "replaced by a new one");
                }
            }
        }
        Ok(())
    }

    /// Removes the app password of (`subject`, `client_id`) from the store and deletes it in
    /// Nextcloud (in the background: the store no longer hands it out either way). `why` goes
    /// into the audit log.
    pub async fn discard(
        &self,
        subject: &str,
        client_id: &ClientId,
        why: &'static str,
    ) -> Result<(), StoreError> {
        let owner = owner_key(subject, client_id);
        let Some(sealed) = self.store.take_nextcloud_credential(&owner).await? else {
            return Ok(());
        };
        match self.open(&owner, &sealed) {
            Ok(password) => self.delete_in_nextcloud(password, client_id, why),
            Err(e) => {
                let error = e.to_string();
                crate::audit::event("nextcloud.credential.deleted", "failed")
                    .reason(why)
                    .client(client_id.as_str())
                    .detail(&error)
                    .warn("stored app password dropped; it could not be deleted in Nextcloud");
            }
        }
        Ok(())
    }

    /// Deletes `password` in Nextcloud without making the caller wait: tried at once, then
    /// again after 2 and 10 s while Nextcloud fails; the outcome is logged.
    pub fn delete_in_nextcloud(
        &self,
        password: AppPassword,
        client_id: &ClientId,
        why: &'static str,
    ) {
        let client = self.client.clone();
        let client_id = client_id.clone();
        tokio::spawn(async move {
            let mut last = None;
            for pause in DELETE_RETRIES {
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                match client.delete(&password).await {
                    Ok(()) => {
                        crate::audit::event("nextcloud.credential.deleted", "ok")
                            .reason(why)
                            .client(client_id.as_str())
                            .info("app password deleted in Nextcloud");
                        return;
                    }
                    Err(e) => last = Some(e),
                }
            }
            if let Some(e) = last {
                let error = e.to_string();
                crate::audit::event("nextcloud.credential.deleted", "failed").reason(why).client(client_id.as_str()).detail(&error).warn("app password could not be deleted in Nextcloud; the user can revoke it under Settings → Security → Devices & sessions");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(sub: &str) -> UpstreamIdentity {
        UpstreamIdentity {
            subject: sub.into(),
            email: Some("alice@example.com".into()),
            email_verified: None,
            name: Some("Alice".into()),
            preferred_username: Some("alice".into()),
            claims: [
                ("preferred_username".to_owned(), "alice".to_owned()),
                ("name".to_owned(), "Alice".to_owned()),
            ]
            .into(),
            lists: Default::default(),
        }
    }

    fn settings(claim: &str, user_id: UserIdMapping) -> AppPasswordSettings {
        AppPasswordSettings {
            url: url::Url::parse("https://cloud.example").unwrap(),
            public_url: url::Url::parse("https://cloud.example").unwrap(),
            user_claim: claim.into(),
            user_id,
            login_flow_timeout: std::time::Duration::from_secs(1200),
        }
    }

    #[test]
    fn the_expected_user_follows_user_oidc_mappings() {
        let id = identity("b3a1-77");
        assert_eq!(
            expected_user_id(&settings("sub", UserIdMapping::Plain), &id).as_deref(),
            Some("b3a1-77")
        );
        assert_eq!(
            expected_user_id(&settings("preferred_username", UserIdMapping::Plain), &id).as_deref(),
            Some("alice")
        );
        // user_oidc's own test vectors (tests/unit/Db/UserMapperTest.php, dataCreate): unique
        // uid on, not id4me.
        assert_eq!(
            map_user_id(
                &UserIdMapping::UniqueUid { provider_id: 1 },
                "user1@example.com"
            ),
            "f322b84fc7b972957d0f3cadb70d5528a77fc2b076ab4d7de4e5a41c44f729b9"
        );
        assert_eq!(
            map_user_id(
                &UserIdMapping::UniqueUid { provider_id: 2 },
                "user@example.com"
            ),
            "4486f1cf00ba2d6d6c7c668a31b238c2b140d469f3bd86cc1a671e8136bac2c0"
        );
        assert_eq!(
            map_user_id(
                &UserIdMapping::ProviderBased {
                    identifier: "Keycloak".into()
                },
                "alice"
            ),
            "Keycloak-alice"
        );
        // user_oidc hashes ids longer than 64 bytes (UserMapper::getOrCreate).
        let long = "x".repeat(65);
        assert_eq!(map_user_id(&UserIdMapping::Plain, &long), sha256_hex(&long));
        assert_eq!(map_user_id(&UserIdMapping::Plain, &long[1..]), long[1..]);
        // A missing claim names nobody.
        assert_eq!(
            expected_user_id(&settings("nickname", UserIdMapping::Plain), &id),
            None
        );
    }

    #[test]
    fn pairs_have_distinct_keys() {
        let c = |s: &str| ClientId::parse(s).unwrap();
        assert_ne!(owner_key("ab", &c("c")), owner_key("a", &c("bc")));
        assert_eq!(owner_key("a", &c("b")), owner_key("a", &c("b")));
    }

    #[test]
    fn app_password_names_are_printable() {
        assert_eq!(app_password_name("Claude"), "MCP: Claude");
        assert_eq!(
            app_password_name("Evil\r\nX-Header: 1"),
            "MCP: Evil??X-Header: 1"
        );
        assert_eq!(app_password_name("  "), "MCP client");
        assert!(app_password_name(&"x".repeat(500)).len() <= 69);
    }
}
