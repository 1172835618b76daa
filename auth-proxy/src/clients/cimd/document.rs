//! The metadata document itself: its members, checked by the one client metadata validator
//! under the [`CIMD`] policy, and how long it may be cached.

use std::time::Duration;

use serde::Deserialize;

use super::CimdError;
use crate::clients::metadata::{ClientMetadata, CIMD};
use crate::clients::record::ClientRecord;
use crate::ids::ClientId;

#[derive(Deserialize)]
struct Document {
    client_id: String,
    redirect_uris: Vec<String>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    client_uri: Option<String>,
    #[serde(default)]
    logo_uri: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    response_types: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    software_id: Option<String>,
    #[serde(default)]
    software_version: Option<String>,
    #[serde(default)]
    client_secret: Option<serde_json::Value>,
    #[serde(default)]
    client_secret_expires_at: Option<serde_json::Value>,
}

/// Longest reason kept: a reason may quote the document, and it is shown, logged and cached.
const MAX_REASON: usize = 200;

/// A refusal whose reason is safe to show and to log: control characters (which would forge
/// log lines) escaped, and cut short.
fn invalid(msg: impl Into<String>) -> CimdError {
    let msg = msg.into();
    let mut reason: String = msg
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .take(MAX_REASON)
        .collect();
    if reason.len() < msg.len() && reason.chars().count() == MAX_REASON {
        reason.push('…');
    }
    CimdError::InvalidDocument(reason)
}

impl Document {
    /// Every string the document gives us, named by its member.
    fn strings(&self) -> Vec<(&'static str, &str)> {
        let mut all = vec![("client_id", self.client_id.as_str())];
        all.extend(
            self.redirect_uris
                .iter()
                .map(|s| ("redirect_uris", s.as_str())),
        );
        for (name, value) in [
            ("client_name", &self.client_name),
            ("client_uri", &self.client_uri),
            ("logo_uri", &self.logo_uri),
            (
                "token_endpoint_auth_method",
                &self.token_endpoint_auth_method,
            ),
            ("scope", &self.scope),
            ("software_id", &self.software_id),
            ("software_version", &self.software_version),
        ] {
            all.extend(value.as_deref().map(|s| (name, s)));
        }
        for (name, values) in [
            ("grant_types", &self.grant_types),
            ("response_types", &self.response_types),
        ] {
            all.extend(values.iter().flatten().map(|s| (name, s.as_str())));
        }
        all
    }
}

/// Validates a fetched document for `client_id` and turns it into a client record. The
/// document's own checks (JSON object, `client_id` equal to the URL, no secret) come first;
/// then the members go through the one metadata validator.
pub fn parse_document(body: &[u8], client_id: &str, now: i64) -> Result<ClientRecord, CimdError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| invalid("it is not JSON"))?;
    if !value.is_object() {
        return Err(invalid("it is not a JSON object"));
    }
    let doc: Document = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    if doc.client_id != client_id {
        return Err(CimdError::ClientIdMismatch);
    }
    // A line break (or any control character) in a member would reach the logs and the
    // consent page; the URL parser would even drop it silently from a redirect URI. No
    // legitimate client needs one.
    if let Some((member, _)) = doc
        .strings()
        .into_iter()
        .find(|(_, s)| s.chars().any(char::is_control))
    {
        return Err(invalid(format!("{member} contains a control character")));
    }
    if doc.client_secret.is_some() || doc.client_secret_expires_at.is_some() {
        return Err(invalid(
            "a metadata document must not carry a client secret",
        ));
    }
    let metadata = ClientMetadata {
        redirect_uris: Some(doc.redirect_uris),
        application_type: None,
        token_endpoint_auth_method: doc.token_endpoint_auth_method,
        grant_types: doc.grant_types,
        response_types: doc.response_types,
        client_name: doc.client_name,
        client_uri: doc.client_uri,
        logo_uri: doc.logo_uri,
        scope: doc.scope,
        software_id: doc.software_id,
        software_version: doc.software_version,
    }
    .validate(&CIMD)
    .map_err(|e| invalid(e.message))?;
    // Equal to the document's own non-empty URL (checked above), so never empty.
    let client_id = ClientId::parse(client_id).ok_or(CimdError::ClientIdMismatch)?;
    Ok(metadata.into_record(client_id, None, now))
}

/// Cache lifetime from `Cache-Control` (`max-age`, `s-maxage`; `no-store`/`no-cache` mean the
/// minimum), clamped to the configured bounds.
pub fn cache_lifetime(cache_control: Option<&str>, min: Duration, max: Duration) -> Duration {
    let mut lifetime: Option<u64> = None;
    if let Some(value) = cache_control {
        for directive in value.split(',').map(|d| d.trim().to_ascii_lowercase()) {
            if directive == "no-store" || directive == "no-cache" {
                return min;
            }
            for name in ["s-maxage=", "max-age="] {
                if let Some(secs) = directive
                    .strip_prefix(name)
                    .and_then(|v| v.trim_matches('"').parse::<u64>().ok())
                {
                    if name == "s-maxage=" || lifetime.is_none() {
                        lifetime = Some(secs);
                    }
                }
            }
        }
    }
    Duration::from_secs(lifetime.unwrap_or(0)).clamp(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::record::{GrantType, TokenEndpointAuthMethod};

    const ID: &str = "https://app.example.com/client.json";

    fn doc(extra: serde_json::Value) -> Vec<u8> {
        let mut base = serde_json::json!({
            "client_id": ID,
            "client_name": "Example",
            "redirect_uris": ["http://127.0.0.1/callback", "https://app.example.com/cb"],
        });
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        serde_json::to_vec(&base).unwrap()
    }

    #[test]
    fn documents_are_validated() {
        let record = parse_document(&doc(serde_json::json!({})), ID, 7).unwrap();
        assert_eq!(record.client_id, ID);
        assert_eq!(
            record.token_endpoint_auth_method,
            TokenEndpointAuthMethod::None
        );
        assert!(record.client_secret_hash.is_none());
        assert_eq!(record.grant_types, vec![GrantType::AuthorizationCode]);

        let cases = [
            (
                serde_json::json!({"client_id": "https://app.example.com/other.json"}),
                "mismatch",
            ),
            (
                serde_json::json!({"client_id": "https://app.example.com/client.json/"}),
                "mismatch",
            ),
            (serde_json::json!({"client_secret": "s3cret"}), "secret"),
            (
                serde_json::json!({"token_endpoint_auth_method": "client_secret_basic"}),
                "auth",
            ),
            (
                serde_json::json!({"token_endpoint_auth_method": "private_key_jwt"}),
                "auth",
            ),
            (serde_json::json!({"redirect_uris": []}), "no redirects"),
            (
                serde_json::json!({"redirect_uris": ["javascript:alert(1)"]}),
                "scheme",
            ),
            (
                serde_json::json!({"redirect_uris": ["http://evil.example/cb"]}),
                "http",
            ),
            (
                serde_json::json!({"redirect_uris": "https://app.example.com/cb"}),
                "type",
            ),
            (
                serde_json::json!({"grant_types": ["client_credentials"]}),
                "grant",
            ),
            (serde_json::json!({"response_types": ["token"]}), "response"),
            (
                serde_json::json!({"client_uri": "javascript:x"}),
                "client_uri",
            ),
        ];
        for (extra, why) in cases {
            assert!(
                parse_document(&doc(extra.clone()), ID, 7).is_err(),
                "{why}: {extra}"
            );
        }
        assert_eq!(
            parse_document(
                &doc(serde_json::json!({"client_id": "https://x.example/c.json"})),
                ID,
                7
            )
            .err(),
            Some(CimdError::ClientIdMismatch)
        );
        for garbage in [&b"<html>"[..], b"[]", b"\"x\"", b"{\"client_id\": 1}", b""] {
            assert!(parse_document(garbage, ID, 7).is_err());
        }
    }

    #[test]
    fn documents_follow_the_shared_metadata_policy() {
        // Unknown scopes are dropped (the document is written for many servers) …
        let record = parse_document(
            &doc(serde_json::json!({"scope": "notes:read admin"})),
            ID,
            7,
        )
        .unwrap();
        assert_eq!(record.scope.unwrap().to_string(), "notes:read");
        // … and a name is refused when too long, never cut.
        let long = "x".repeat(201);
        let err = parse_document(&doc(serde_json::json!({ "client_name": long })), ID, 7)
            .unwrap_err()
            .to_string();
        assert!(err.contains("client_name must be at most 200"), "{err}");
        let name = "y".repeat(150);
        let record =
            parse_document(&doc(serde_json::json!({ "client_name": name })), ID, 7).unwrap();
        assert_eq!(record.client_name.unwrap().len(), 150);
    }

    #[test]
    fn control_characters_never_reach_a_client_or_a_log_line() {
        // A line break in any member would forge a line in the text log (the refusal is
        // logged with its reason, the client with its name): refused, and the reason itself
        // carries no control character.
        let forged = "x\n2030-01-01T00:00:00Z  INFO audit: token issued";
        let cases = [
            serde_json::json!({ "client_name": forged }),
            serde_json::json!({ "software_id": forged }),
            serde_json::json!({ "software_version": forged }),
            serde_json::json!({ "scope": format!("notes:read {forged}") }),
            serde_json::json!({ "grant_types": ["authorization_code", forged] }),
            serde_json::json!({ "response_types": [forged] }),
            serde_json::json!({ "token_endpoint_auth_method": forged }),
            serde_json::json!({ "client_uri": format!("https://app.example.com/{forged}") }),
            serde_json::json!({ "logo_uri": format!("https://app.example.com/{forged}") }),
            serde_json::json!({ "redirect_uris": [format!("https://app.example.com/cb{forged}")] }),
            serde_json::json!({ "redirect_uris": ["https://app.example.com/cb\r"] }),
            serde_json::json!({ "client_name": "tab\tname" }),
            serde_json::json!({ "client_name": "esc\u{1b}[31m" }),
        ];
        for extra in cases {
            let err = parse_document(&doc(extra.clone()), ID, 7)
                .err()
                .unwrap_or_else(|| panic!("accepted: {extra}"))
                .to_string();
            assert!(!err.chars().any(char::is_control), "{extra}: {err:?}");
        }
    }

    #[test]
    fn cache_lifetime_follows_headers_within_bounds() {
        let (min, max) = (Duration::from_secs(60), Duration::from_secs(3600));
        assert_eq!(cache_lifetime(None, min, max), min);
        assert_eq!(
            cache_lifetime(Some("max-age=600"), min, max),
            Duration::from_secs(600)
        );
        assert_eq!(cache_lifetime(Some("public, max-age=5"), min, max), min);
        assert_eq!(cache_lifetime(Some("max-age=999999"), min, max), max);
        assert_eq!(cache_lifetime(Some("no-store, max-age=600"), min, max), min);
        assert_eq!(
            cache_lifetime(Some("max-age=600, s-maxage=1200"), min, max),
            Duration::from_secs(1200)
        );
        assert_eq!(cache_lifetime(Some("max-age=junk"), min, max), min);
    }
}
