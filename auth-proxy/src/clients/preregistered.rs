//! Pre-registered clients from configuration (`AUTH_PROXY_CLIENTS_FILE`): a JSON array of
//! clients the operator vouches for, such as a hosted connector whose callback varies per
//! connector (redirect patterns) or a confidential client with a secret from a file. They are
//! read once at start-up, validated by the one metadata validator under the [`FILE`] policy,
//! never stored and never expire, and shadow a stored client of the same id. Every error
//! names the file and the entry.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::hosted;
use super::metadata::{ClientMetadata, FILE};
use super::record::{ClientRecord, TokenEndpointAuthMethod};
use crate::config::Config;
use crate::crypto::sha256_hex;
use crate::ids::ClientId;
use crate::redirect::RedirectPattern;

const MAX_CLIENT_ID: usize = 128;
/// As for the token-exchange client's secret.
const MIN_SECRET: usize = 16;

/// A pre-registered client: the record every endpoint sees, plus the redirect patterns only
/// `/authorize` needs.
#[derive(Debug, Clone)]
pub struct PreregisteredClient {
    /// `redirect_uris` holds the exact URIs only.
    pub record: ClientRecord,
    pub redirect_patterns: Vec<RedirectPattern>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientsFileError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("`{path}` must hold a JSON array of clients: {message}")]
    Syntax { path: String, message: String },
    #[error("`{path}`, entry [{index}] (client_id `{client_id}`): {message}")]
    Entry {
        path: String,
        index: usize,
        client_id: String,
        message: String,
    },
}

/// One entry of the file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryJson {
    client_id: String,
    client_name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    /// Names of [`hosted`] presets whose callbacks are added to `redirect_uris`.
    #[serde(default)]
    redirect_uri_presets: Vec<String>,
    token_endpoint_auth_method: Option<String>,
    client_secret_sha256: Option<String>,
    client_secret_file: Option<String>,
    grant_types: Option<Vec<String>>,
    scope: Option<String>,
}

/// The configured clients by id; none without `AUTH_PROXY_CLIENTS_FILE`.
pub fn load(
    config: &Config,
    now: i64,
) -> Result<HashMap<String, PreregisteredClient>, ClientsFileError> {
    let Some(path) = &config.clients_file else {
        return Ok(HashMap::new());
    };
    let shown = path.display().to_string();
    let json = std::fs::read_to_string(path).map_err(|source| ClientsFileError::Read {
        path: shown.clone(),
        source,
    })?;
    let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
    let exchange_id = config
        .exchange_client
        .as_ref()
        .map(|e| e.client_id.as_str());
    let clients = parse(&json, &shown, base_dir, exchange_id, now)?;
    tracing::info!(count = clients.len(), file = %shown, "pre-registered clients loaded");
    Ok(clients)
}

/// Parses and validates the file's content. `base_dir` resolves relative
/// `client_secret_file` paths; `exchange_id` is reserved for the token-exchange client.
pub fn parse(
    json: &str,
    path: &str,
    base_dir: &Path,
    exchange_id: Option<&str>,
    now: i64,
) -> Result<HashMap<String, PreregisteredClient>, ClientsFileError> {
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(json).map_err(|e| ClientsFileError::Syntax {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    let mut clients = HashMap::new();
    for (index, value) in entries.into_iter().enumerate() {
        let client_id = value
            .get("client_id")
            .and_then(|v| v.as_str())
            .map(|id| id.chars().take(MAX_CLIENT_ID).collect())
            .unwrap_or_else(|| "?".to_owned());
        let entry_error = |message: String| ClientsFileError::Entry {
            path: path.to_owned(),
            index,
            client_id: client_id.clone(),
            message,
        };
        let entry: EntryJson =
            serde_json::from_value(value).map_err(|e| entry_error(e.to_string()))?;
        let client = validate(entry, base_dir, now).map_err(entry_error)?;
        let id = client.record.client_id.clone();
        if exchange_id == Some(id.as_str()) {
            return Err(entry_error(
                "this client_id is the token-exchange client's (AUTH_PROXY_EXCHANGE_CLIENT_ID)"
                    .into(),
            ));
        }
        if clients.insert(id.to_string(), client).is_some() {
            return Err(entry_error("client_id appears twice in the file".into()));
        }
    }
    Ok(clients)
}

/// `redirect_uris` followed by the URIs of each named preset, without repeats; the policy's
/// cap on the number of URIs applies to the result.
fn with_presets(mut uris: Vec<String>, presets: &[String]) -> Result<Vec<String>, String> {
    for name in presets {
        let preset = hosted::preset(name).ok_or_else(|| {
            format!(
                "redirect_uri_presets: unknown preset `{name}` (known: {})",
                hosted::names()
            )
        })?;
        for uri in preset {
            if !uris.iter().any(|u| u == uri) {
                uris.push((*uri).to_owned());
            }
        }
    }
    if uris.is_empty() {
        return Err("give redirect_uris, redirect_uri_presets or both".into());
    }
    Ok(uris)
}

fn validate(e: EntryJson, base_dir: &Path, now: i64) -> Result<PreregisteredClient, String> {
    let id_ok = (1..=MAX_CLIENT_ID).contains(&e.client_id.len())
        && e.client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'));
    let client_id = ClientId::parse(&e.client_id)
        .filter(|_| id_ok)
        .ok_or_else(|| {
            format!(
                "client_id must be 1 to {MAX_CLIENT_ID} characters of A-Z a-z 0-9 . _ ~ - \
                 (an id that looks like a URL would be taken for a client metadata document)"
            )
        })?;
    let redirect_uris = with_presets(e.redirect_uris, &e.redirect_uri_presets)?;
    let metadata = ClientMetadata {
        redirect_uris: Some(redirect_uris),
        token_endpoint_auth_method: e.token_endpoint_auth_method,
        grant_types: e.grant_types,
        client_name: e.client_name,
        scope: e.scope,
        ..ClientMetadata::default()
    }
    .validate(&FILE)
    .map_err(|err| err.message)?;

    let client_secret_hash = match (
        metadata.token_endpoint_auth_method,
        e.client_secret_sha256,
        e.client_secret_file,
    ) {
        (TokenEndpointAuthMethod::None, None, None) => None,
        (TokenEndpointAuthMethod::None, _, _) => {
            return Err(
                "a public client (token_endpoint_auth_method none) has no secret: drop \
                 client_secret_sha256/client_secret_file or choose client_secret_basic or \
                 client_secret_post"
                    .into(),
            )
        }
        (_, Some(_), Some(_)) => {
            return Err("give client_secret_sha256 or client_secret_file, not both".into())
        }
        (_, None, None) => {
            return Err(
                "a confidential client needs client_secret_sha256 or client_secret_file".into(),
            )
        }
        (_, Some(hash), None) => {
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(
                    "client_secret_sha256 must be the 64 hex digits of the secret's SHA-256 \
                     (e.g. `printf %s \"$SECRET\" | sha256sum`)"
                        .into(),
                );
            }
            Some(hash.to_ascii_lowercase())
        }
        (_, None, Some(file)) => {
            let path = base_dir.join(&file);
            let secret = std::fs::read_to_string(&path)
                .map_err(|err| format!("client_secret_file `{}`: {err}", path.display()))?;
            let secret = secret.trim();
            if secret.chars().count() < MIN_SECRET {
                return Err(format!(
                    "the secret in client_secret_file `{}` must be at least {MIN_SECRET} characters",
                    path.display()
                ));
            }
            Some(sha256_hex(secret))
        }
    };

    let redirect_patterns = metadata.redirect_patterns.clone();
    Ok(PreregisteredClient {
        record: metadata.into_record(client_id, client_secret_hash, now),
        redirect_patterns,
    })
}

#[cfg(test)]
mod tests {
    use super::super::record::{GrantType, ResponseType};
    use super::*;

    fn dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "auth-proxy-clients-{}-{}",
            std::process::id(),
            crate::crypto::random_token(6)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn parse_ok(json: serde_json::Value) -> HashMap<String, PreregisteredClient> {
        parse(
            &json.to_string(),
            "clients.json",
            Path::new("/nonexistent"),
            Some("mcp-server"),
            7,
        )
        .unwrap()
    }

    fn parse_err(json: serde_json::Value) -> String {
        parse(
            &json.to_string(),
            "clients.json",
            Path::new("/nonexistent"),
            Some("mcp-server"),
            7,
        )
        .unwrap_err()
        .to_string()
    }

    #[test]
    fn a_file_with_every_kind_of_client_parses() {
        let d = dir();
        std::fs::write(d.join("secret"), "a-long-enough-secret-value\n").unwrap();
        let json = serde_json::json!([
            {
                "client_id": "ops-dashboard",
                "client_name": "Ops dashboard",
                "redirect_uris": ["https://ops.example.com/oauth/callback"],
                "token_endpoint_auth_method": "client_secret_basic",
                "client_secret_file": "secret",
                "scope": "notes:read  files:read"
            },
            {
                "client_id": "chatgpt",
                "client_name": "ChatGPT",
                "redirect_uris": [
                    "https://chatgpt.com/connector_platform_oauth_redirect",
                    "https://chatgpt.com/connector/oauth/*"
                ],
                "token_endpoint_auth_method": "client_secret_post",
                "client_secret_sha256": "A".repeat(64)
            },
            {
                "client_id": "desktop-app",
                "redirect_uris": ["http://127.0.0.1/callback", "com.example.desktop:/oauth"],
                "grant_types": ["authorization_code"]
            }
        ]);
        let clients = parse(&json.to_string(), "c.json", &d, None, 7).unwrap();
        assert_eq!(clients.len(), 3);

        let ops = &clients["ops-dashboard"];
        assert_eq!(
            ops.record.client_secret_hash.as_deref(),
            Some(sha256_hex("a-long-enough-secret-value").as_str()),
            "the file's secret, trimmed, stored as SHA-256"
        );
        assert_eq!(
            ops.record
                .scope
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("notes:read files:read")
        );
        assert_eq!(
            ops.record.grant_types,
            [GrantType::AuthorizationCode, GrantType::RefreshToken],
            "default grant types"
        );
        assert!(ops.redirect_patterns.is_empty());

        let chatgpt = &clients["chatgpt"];
        assert_eq!(
            chatgpt.record.redirect_uris,
            ["https://chatgpt.com/connector_platform_oauth_redirect"]
        );
        assert_eq!(chatgpt.redirect_patterns.len(), 1);
        assert!(chatgpt.redirect_patterns[0].matches("https://chatgpt.com/connector/oauth/c1"));
        assert_eq!(
            chatgpt.record.client_secret_hash.as_deref(),
            Some("a".repeat(64).as_str()),
            "hex normalised to lower case"
        );
        assert_eq!(
            chatgpt.record.token_endpoint_auth_method,
            TokenEndpointAuthMethod::ClientSecretPost
        );

        let desktop = &clients["desktop-app"];
        assert_eq!(
            desktop.record.token_endpoint_auth_method,
            TokenEndpointAuthMethod::None
        );
        assert_eq!(desktop.record.client_secret_hash, None);
        assert_eq!(desktop.record.created_at, 7);
        assert_eq!(desktop.record.response_types, [ResponseType::Code]);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn presets_add_their_callbacks_to_the_clients_own_without_repeats() {
        let clients = parse_ok(serde_json::json!([
            {
                "client_id": "claude",
                "redirect_uri_presets": ["claude"]
            },
            {
                "client_id": "many",
                "redirect_uris": ["https://claude.ai/api/mcp/auth_callback", "https://a.example/cb"],
                "redirect_uri_presets": ["claude", "chatgpt", "claude"]
            }
        ]));
        assert_eq!(
            clients["claude"].record.redirect_uris,
            [
                "https://claude.ai/api/mcp/auth_callback",
                "https://claude.com/api/mcp/auth_callback"
            ]
        );
        let many = &clients["many"];
        assert_eq!(
            many.record.redirect_uris,
            [
                "https://claude.ai/api/mcp/auth_callback",
                "https://a.example/cb",
                "https://claude.com/api/mcp/auth_callback",
                "https://chatgpt.com/connector_platform_oauth_redirect"
            ]
        );
        assert_eq!(
            many.redirect_patterns.len(),
            1,
            "chatgpt's per-connector pattern"
        );
    }

    #[test]
    fn errors_name_the_file_the_entry_and_the_problem() {
        let ok =
            serde_json::json!({"client_id": "fine", "redirect_uris": ["https://a.example/cb"]});
        let cases: Vec<(serde_json::Value, &str)> = vec![
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"]}),
                "missing field `client_id`",
            ),
            (
                serde_json::json!({"client_id": "", "redirect_uris": ["https://a.example/cb"]}),
                "client_id must be",
            ),
            (
                serde_json::json!({"client_id": "https://app.example/client.json", "redirect_uris": ["https://a.example/cb"]}),
                "looks like a URL",
            ),
            (
                serde_json::json!({"client_id": "urn:x", "redirect_uris": ["https://a.example/cb"]}),
                "looks like a URL",
            ),
            (
                serde_json::json!({"client_id": "a b", "redirect_uris": ["https://a.example/cb"]}),
                "client_id must be",
            ),
            (
                serde_json::json!({"client_id": "x".repeat(129), "redirect_uris": ["https://a.example/cb"]}),
                "client_id must be",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": []}),
                "give redirect_uris, redirect_uri_presets or both",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uri_presets": ["claude", "gemini"]}),
                "unknown preset `gemini` (known: claude, chatgpt, cursor, vscode, claude-code, copilot-cli)",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uri_presets": ["cursor"], "redirect_uris": (0..18).map(|i| format!("https://a.example/{i}")).collect::<Vec<_>>()}),
                "redirect_uris must list 1 to 20",
            ),
            (
                serde_json::json!({"client_id": "c"}),
                "give redirect_uris, redirect_uri_presets or both",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["http://evil.example/cb"]}),
                "redirect_uris[0] `http://evil.example/cb`: plain http",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["https://a.example/cb", "javascript:alert(1)"]}),
                "redirect_uris[1]",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["https://*.chatgpt.com/cb"]}),
                "host of a redirect pattern",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["http://chatgpt.com/cb/*"]}),
                "must be https",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["https://chatgpt.com/*/cb"]}),
                "whole path segments at the end",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
                "not supported",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["https://a.example/cb"], "client_secret_sha256": "a".repeat(64)}),
                "public client",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}),
                "needs client_secret_sha256 or client_secret_file",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_basic", "client_secret_sha256": "a".repeat(64), "client_secret_file": "s"}),
                "not both",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_basic", "client_secret_sha256": "not-hex"}),
                "64 hex digits",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_basic", "client_secret_file": "missing"}),
                "client_secret_file `/nonexistent/missing`",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]}),
                "grant type `client_credentials`",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["https://a.example/cb"], "grant_types": ["refresh_token"]}),
                "must include authorization_code",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["https://a.example/cb"], "scope": "notes:read admin"}),
                "scope: unknown scope `admin`",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["https://a.example/cb"], "client_secret": "plain"}),
                "unknown field `client_secret`",
            ),
            (
                serde_json::json!({"client_id": "c", "redirect_uris": ["https://a.example/cb"], "client_name": "x".repeat(201)}),
                "client_name",
            ),
            (
                serde_json::json!({"client_id": "mcp-server", "redirect_uris": ["https://a.example/cb"]}),
                "token-exchange client",
            ),
            (ok.clone(), "appears twice"),
        ];
        for (entry, expected) in cases {
            let err = parse_err(serde_json::json!([ok.clone(), entry]));
            assert!(err.starts_with("`clients.json`, entry [1] ("), "{err}");
            assert!(err.contains(expected), "expected `{expected}` in: {err}");
        }
        let err = parse_err(serde_json::json!([ok, {"client_id": "named", "redirect_uris": []}]));
        assert!(err.contains("(client_id `named`)"), "{err}");
        let err = parse_err(serde_json::json!({"client_id": "c"}));
        assert!(
            err.starts_with("`clients.json` must hold a JSON array"),
            "{err}"
        );
    }

    #[test]
    fn a_short_secret_file_is_refused() {
        let d = dir();
        std::fs::write(d.join("short"), "tooshort\n").unwrap();
        let json = serde_json::json!([{"client_id": "c", "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_post", "client_secret_file": "short"}]);
        let err = parse(&json.to_string(), "c.json", &d, None, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 16 characters"), "{err}");
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn without_a_file_there_are_none_and_an_unreadable_file_is_named() {
        let vars: HashMap<String, String> = [
            ("AUTH_PROXY_UPSTREAM_ISSUER", "https://idp.example"),
            ("AUTH_PROXY_UPSTREAM_CLIENT_ID", "proxy"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mut config = Config::from_vars(&vars).unwrap();
        assert!(load(&config, 0).unwrap().is_empty());
        config.clients_file = Some("/nonexistent/clients.json".into());
        let err = load(&config, 0).unwrap_err().to_string();
        assert!(
            err.starts_with("cannot read `/nonexistent/clients.json`"),
            "{err}"
        );
        assert!(parse_ok(serde_json::json!([])).is_empty());
    }
}
