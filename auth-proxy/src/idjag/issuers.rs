//! The trusted ID-JAG issuers, from `AUTH_PROXY_IDJAG_ISSUERS_FILE`: a JSON array of
//! `{ "issuer", "jwks_uri" | "jwks_file", "algs"?, "clients"? }`. Read and validated once at
//! start-up (and by `--check-config`): a bad file stops the start naming the entry.
//!
//! - `issuer` is compared byte for byte with an ID-JAG's `iss` (RFC 8414 issuer identifiers);
//!   https, or loopback http with `AUTH_PROXY_IDJAG_TEST_ALLOW_LOOPBACK` (test rigs);
//! - `jwks_uri` follows the same scheme rule; `jwks_file` (relative to the issuers file's
//!   directory, as `CLIENTS_FILE`'s paths are) is read now and never again;
//! - `algs` narrows `AUTH_PROXY_IDJAG_ALGS` for this issuer (never widens it);
//! - `clients` are client ids the operator vouches for: they may use the grant even if their
//!   registration does not list it (a hosted client's metadata document may not).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jsonwebtoken::Algorithm;
use mcp_shared::net::is_loopback_host;
use serde::Deserialize;
use url::Url;

use crate::config::IdJagSettings;
use crate::jose::{parse_asymmetric_alg, Jwks};

/// More than enough for any organisation; bounds the start-up work.
const MAX_ISSUERS: usize = 64;
/// A key set on disk is as small as one served.
const MAX_JWKS_FILE_BYTES: u64 = 64 * 1024;

/// Where an issuer's keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `jwks_file`, read at start-up.
    Inline(Arc<Jwks>),
    /// `jwks_uri`, fetched on first use and cached (`super::IssuerKeys`).
    Remote(Url),
}

#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    pub issuer: String,
    pub keys: KeySource,
    /// The issuer's `algs` ∩ `AUTH_PROXY_IDJAG_ALGS`, never empty.
    pub algs: Vec<Algorithm>,
    /// Client ids allowed the grant by the operator, whatever their registration says.
    pub clients: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IssuersError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    issuer: String,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    jwks_file: Option<String>,
    #[serde(default)]
    algs: Option<Vec<String>>,
    #[serde(default)]
    clients: Vec<String>,
}

/// The trusted issuers; empty when the grant is off (no file configured).
pub fn load(settings: &IdJagSettings) -> Result<Vec<TrustedIssuer>, IssuersError> {
    let Some(path) = &settings.issuers_file else {
        return Ok(Vec::new());
    };
    let content = std::fs::read_to_string(path).map_err(|source| IssuersError::Read {
        path: path.clone(),
        source,
    })?;
    let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
    parse(&content, base_dir, settings).map_err(|message| IssuersError::Invalid {
        path: path.clone(),
        message,
    })
}

/// Parses and validates the file's content; `base_dir` resolves relative `jwks_file`s.
pub fn parse(
    content: &str,
    base_dir: &Path,
    settings: &IdJagSettings,
) -> Result<Vec<TrustedIssuer>, String> {
    let entries: Vec<Entry> =
        serde_json::from_str(content).map_err(|e| format!("not a JSON array of issuers: {e}"))?;
    if entries.is_empty() {
        return Err("names no issuer (leave the variable unset to turn the grant off)".into());
    }
    if entries.len() > MAX_ISSUERS {
        return Err(format!("names more than {MAX_ISSUERS} issuers"));
    }
    let mut issuers: Vec<TrustedIssuer> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let issuer = entry.issuer.clone();
        let trusted = parse_entry(entry, base_dir, settings)
            .map_err(|m| format!("issuer {index} (`{issuer}`): {m}"))?;
        if issuers.iter().any(|i| i.issuer == trusted.issuer) {
            return Err(format!("issuer {index}: `{issuer}` is listed twice"));
        }
        issuers.push(trusted);
    }
    Ok(issuers)
}

fn parse_entry(
    entry: Entry,
    base_dir: &Path,
    settings: &IdJagSettings,
) -> Result<TrustedIssuer, String> {
    let issuer_url = checked_url(&entry.issuer, settings).map_err(|m| format!("issuer {m}"))?;
    if issuer_url.query().is_some() || issuer_url.fragment().is_some() {
        return Err("issuer must have no query or fragment".into());
    }
    let keys = match (entry.jwks_uri, entry.jwks_file) {
        (Some(uri), None) => {
            KeySource::Remote(checked_url(&uri, settings).map_err(|m| format!("jwks_uri {m}"))?)
        }
        (None, Some(file)) => KeySource::Inline(Arc::new(read_jwks_file(&base_dir.join(file))?)),
        _ => return Err("exactly one of jwks_uri and jwks_file is required".into()),
    };
    let algs = match entry.algs {
        None => settings.algs.clone(),
        Some(names) => {
            let mut algs = Vec::new();
            for name in names {
                let alg = parse_asymmetric_alg(&name)
                    .filter(|a| settings.algs.contains(a))
                    .ok_or_else(|| format!("alg `{name}` is not one of AUTH_PROXY_IDJAG_ALGS"))?;
                if !algs.contains(&alg) {
                    algs.push(alg);
                }
            }
            if algs.is_empty() {
                return Err("algs must name at least one algorithm when present".into());
            }
            algs
        }
    };
    if entry.clients.iter().any(|c| c.trim().is_empty()) {
        return Err("clients must be non-empty client ids".into());
    }
    Ok(TrustedIssuer {
        issuer: entry.issuer,
        keys,
        algs,
        clients: entry.clients,
    })
}

/// https, or plain http on loopback for test rigs (the switch's only use).
fn checked_url(raw: &str, settings: &IdJagSettings) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|_| format!("`{raw}` is not an absolute URL"))?;
    let fits = url.scheme() == "https"
        || (url.scheme() == "http" && settings.test_allow_loopback && is_loopback_host(&url));
    if !fits || url.host().is_none() {
        return Err(format!(
            "`{raw}` must be https (loopback http only with AUTH_PROXY_IDJAG_TEST_ALLOW_LOOPBACK)"
        ));
    }
    Ok(url)
}

fn read_jwks_file(path: &Path) -> Result<Jwks, String> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| format!("jwks_file {shown}: {e}"))?
        .len();
    if size > MAX_JWKS_FILE_BYTES {
        return Err(format!("jwks_file {shown} is larger than 64 KiB"));
    }
    let content = std::fs::read(path).map_err(|e| format!("jwks_file {shown}: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_slice(&content).map_err(|_| format!("jwks_file {shown} is not JSON"))?;
    Jwks::parse(&value).map_err(|e| format!("jwks_file {shown}: {e}"))
}
