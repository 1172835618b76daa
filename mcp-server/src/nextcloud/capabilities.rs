//! Which Nextcloud apps a user has, from OCS capabilities (`GET /ocs/v2.php/cloud/capabilities`).
//! Apps can be enabled for some groups only, so the answer is per user: it is remembered per
//! credential (a SHA-256 of it, like [`super::users::UserCache`]) for a few minutes, in a bounded
//! cache. Tools of an app the user does not have are hidden from `tools/list`.
//!
//! Fail open: when the capabilities cannot be fetched or read, no app counts as missing. Hiding
//! tools because Nextcloud hiccuped would be worse than a tool that answers "not found".

use std::time::{Duration, Instant};

use moka::future::Cache;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::ocs::read_envelope;
use super::users::credential_key;
use super::{NcAuth, NcError, Nextcloud};

/// How long a user's capabilities are used before they are asked for again.
pub const CAPABILITIES_TTL: Duration = Duration::from_secs(300);
/// How long a failed fetch is remembered (answered as "unknown"), so that a Nextcloud that is
/// down is not asked again by every `tools/list`.
pub const FAILURE_TTL: Duration = Duration::from_secs(10);
/// Most credentials remembered at once.
const MAX_ENTRIES: u64 = 10_000;

/// A Nextcloud app (or app feature) some tools need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum App {
    Notes,
    Deck,
    /// Talk (app id `spreed`).
    Talk,
    /// The share API (`files_sharing`).
    Sharing,
    /// The trash bin (`files_trashbin`, capability `files.undelete`).
    Trash,
    /// File versions (`files_versions`, capability `files.versioning`).
    Versions,
}

impl App {
    /// What a person calls it, for messages.
    pub const fn label(self) -> &'static str {
        match self {
            App::Notes => "Notes app",
            App::Deck => "Deck app",
            App::Talk => "Talk app",
            App::Sharing => "file sharing app (files_sharing)",
            App::Trash => "trash bin (files_trashbin app)",
            App::Versions => "file versions (files_versions app)",
        }
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// Whether the `capabilities` object of the OCS answer shows this app: the app's key
    /// (deck `lib/Capabilities.php`, spreed `lib/Capabilities.php`, files_sharing, notes), or
    /// for the trash bin and versions a flag under `files` (files_trashbin and files_versions
    /// `lib/Capabilities.php`).
    fn present_in(self, capabilities: &serde_json::Map<String, Value>) -> bool {
        let files_flag = |flag: &str| {
            capabilities
                .get("files")
                .and_then(|f| f.get(flag))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        match self {
            App::Notes => capabilities.contains_key("notes"),
            App::Deck => capabilities.contains_key("deck"),
            App::Talk => capabilities.contains_key("spreed"),
            App::Sharing => capabilities
                .get("files_sharing")
                .is_some_and(|s| s.get("api_enabled").and_then(Value::as_bool) != Some(false)),
            App::Trash => files_flag("undelete"),
            App::Versions => files_flag("versioning"),
        }
    }

    pub const ALL: [App; 6] = [
        App::Notes,
        App::Deck,
        App::Talk,
        App::Sharing,
        App::Trash,
        App::Versions,
    ];
}

/// What one user's Nextcloud offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capabilities {
    /// Read from Nextcloud: the apps present.
    Known(u8),
    /// Could not be fetched or read: every app counts as present (fail open).
    Unknown,
}

impl Capabilities {
    pub fn has(&self, app: App) -> bool {
        match self {
            Capabilities::Known(bits) => bits & app.bit() != 0,
            Capabilities::Unknown => true,
        }
    }

    /// Reads an OCS capabilities answer (JSON, v1 or v2 envelope).
    pub fn parse(body: &[u8]) -> Result<Self, NcError> {
        Self::from_data(&read_envelope(StatusCode::OK, body)?)
    }

    /// Reads the `data` of an OCS capabilities answer.
    fn from_data(data: &Value) -> Result<Self, NcError> {
        let capabilities = data
            .get("capabilities")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                NcError::BadResponse("capabilities answer without ocs.data.capabilities".into())
            })?;
        Ok(Capabilities::Known(
            App::ALL
                .into_iter()
                .filter(|app| app.present_in(capabilities))
                .fold(0, |bits, app| bits | app.bit()),
        ))
    }
}

impl Nextcloud {
    /// The user's capabilities, asked for now.
    pub async fn capabilities(&self, auth: &NcAuth) -> Result<Capabilities, NcError> {
        let request = self.ocs_request(auth, Method::GET, "cloud/capabilities")?;
        Capabilities::from_data(&self.ocs::<Value>("ocs", request).await?)
    }
}

struct Lifetimes;

impl moka::Expiry<[u8; 32], Capabilities> for Lifetimes {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        value: &Capabilities,
        _at: Instant,
    ) -> Option<Duration> {
        Some(match value {
            Capabilities::Known(_) => CAPABILITIES_TTL,
            Capabilities::Unknown => FAILURE_TTL,
        })
    }
}

/// Capabilities by credential; concurrent lookups for one credential share one request.
#[derive(Clone)]
pub struct CapabilityCache {
    entries: Cache<[u8; 32], Capabilities>,
}

impl Default for CapabilityCache {
    fn default() -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .expire_after(Lifetimes)
                .build(),
        }
    }
}

impl CapabilityCache {
    /// The capabilities for `auth`: remembered, or asked for. A failure is logged and answered
    /// [`Capabilities::Unknown`] (every app present).
    pub async fn get(&self, nextcloud: &Nextcloud, auth: &NcAuth) -> Capabilities {
        self.entries
            .get_with(credential_key(auth), async {
                match nextcloud.capabilities(auth).await {
                    Ok(capabilities) => capabilities,
                    Err(e) => {
                        tracing::warn!(error = %e, "Nextcloud capabilities unavailable; showing every tool");
                        Capabilities::Unknown
                    }
                }
            })
            .await
    }

    /// Forgets the answer for `auth` (an app answered "not there" although the capabilities
    /// said it was, or the credential was refused).
    pub async fn forget(&self, auth: &NcAuth) {
        self.entries.invalidate(&credential_key(auth)).await;
    }
}

#[cfg(test)]
mod tests;
