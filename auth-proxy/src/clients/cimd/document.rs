//! The metadata document itself: its members, checked by the one client metadata validator
//! under the [`CIMD`] policy, and how long it may be cached.
//!
//! A document authenticates with `none`, or with `private_key_jwt` (RFC 7523) and keys of its
//! own: an inline `jwks` or a `jwks_uri` on the document's own host, never both. Shared
//! secrets are refused wherever the document names them (the CIMD draft: a document "MUST NOT
//! include `client_secret_post`, `client_secret_basic`, `client_secret_jwt`"). A document may
//! offer a choice (OpenID RP Metadata Choices, `token_endpoint_auth_methods_supported`, as one
//! ChatGPT variant does); `none` among the choices lets it come without an assertion (ADR 0018).

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;

use super::address::check_url;
use super::CimdError;
use crate::clients::metadata::{ClientMetadata, CIMD};
use crate::clients::record::{ClientRecord, TokenEndpointAuthMethod};
use crate::config::CimdSettings;
use crate::ids::ClientId;
use crate::jose::{parse_asymmetric_alg, Jwks};

/// Where the keys of a `private_key_jwt` document are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKeys {
    /// The document's own `jwks`, checked.
    Inline(Arc<Jwks>),
    /// A `jwks_uri` on the document's host, checked by the document URL rules; fetched
    /// (and cached) when an assertion needs it.
    Uri(String),
}

/// How a metadata-document client proves itself at the token and revocation endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionAuth {
    pub keys: ClientKeys,
    /// `token_endpoint_auth_signing_alg`: when the document names one, the only one accepted.
    pub signing_alg: Option<Algorithm>,
    /// The document also offers `none` among its choices: a request without an assertion is
    /// a public client's (PKCE still binds the code).
    pub accepts_none: bool,
}

/// A document's client: its record and, for `private_key_jwt`, how it authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentClient {
    pub record: ClientRecord,
    pub assertion: Option<Arc<AssertionAuth>>,
}

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
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_signing_alg: Option<String>,
    #[serde(default)]
    jwks: Option<serde_json::Value>,
    #[serde(default)]
    jwks_uri: Option<String>,
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
            (
                "token_endpoint_auth_signing_alg",
                &self.token_endpoint_auth_signing_alg,
            ),
            ("jwks_uri", &self.jwks_uri),
        ] {
            all.extend(value.as_deref().map(|s| (name, s)));
        }
        for (name, values) in [
            ("grant_types", &self.grant_types),
            ("response_types", &self.response_types),
            (
                "token_endpoint_auth_methods_supported",
                &self.token_endpoint_auth_methods_supported,
            ),
        ] {
            all.extend(values.iter().flatten().map(|s| (name, s.as_str())));
        }
        all
    }
}

/// [`parse_client_document`] with the default settings, for the record alone.
pub fn parse_document(body: &[u8], client_id: &str, now: i64) -> Result<ClientRecord, CimdError> {
    parse_client_document(body, client_id, now, &CimdSettings::default()).map(|c| c.record)
}

/// Validates a fetched document for `client_id` and turns it into a client. The document's
/// own checks (JSON object, `client_id` equal to the URL, no secret) come first; then how it
/// authenticates; then the members go through the one metadata validator.
pub fn parse_client_document(
    body: &[u8],
    client_id: &str,
    now: i64,
    settings: &CimdSettings,
) -> Result<DocumentClient, CimdError> {
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
    let (method, assertion) = authentication(&doc, client_id, settings)?;
    let metadata = ClientMetadata {
        redirect_uris: Some(doc.redirect_uris),
        application_type: None,
        token_endpoint_auth_method: method,
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
    Ok(DocumentClient {
        record: metadata.into_record(client_id, None, now),
        assertion: assertion.map(Arc::new),
    })
}

const NONE: &str = TokenEndpointAuthMethod::None.as_str();
const PRIVATE_KEY_JWT: &str = TokenEndpointAuthMethod::PrivateKeyJwt.as_str();

/// The method the metadata validator sees and, for `private_key_jwt`, the keys.
fn authentication(
    doc: &Document,
    client_id: &str,
    settings: &CimdSettings,
) -> Result<(Option<String>, Option<AssertionAuth>), CimdError> {
    let singular = doc.token_endpoint_auth_method.as_deref();
    let choices = doc.token_endpoint_auth_methods_supported.as_deref();
    let named = || {
        singular
            .into_iter()
            .chain(choices.into_iter().flatten().map(String::as_str))
    };
    if let Some(secret) = named().find(|m| m.starts_with("client_secret")) {
        return Err(invalid(format!(
            "a metadata document cannot authenticate with a shared secret ({secret})"
        )));
    }
    let offers = |m: &str| named().any(|n| n == m);
    // Without a singular method, the choices decide (unknown ones ignored); with neither, none.
    let method = match (singular, choices) {
        (Some(m), _) => m,
        (None, None) => NONE,
        (None, Some(_)) if offers(PRIVATE_KEY_JWT) => PRIVATE_KEY_JWT,
        (None, Some(_)) if offers(NONE) => NONE,
        (None, Some(_)) => {
            return Err(invalid(
                "token_endpoint_auth_methods_supported offers neither none nor private_key_jwt",
            ))
        }
    };
    let accepts_none = method == NONE || offers(NONE);
    if !offers(PRIVATE_KEY_JWT) && method != PRIVATE_KEY_JWT {
        return Ok((Some(method.to_owned()), None));
    }
    if !settings.private_key_jwt {
        return if accepts_none {
            Ok((Some(NONE.to_owned()), None))
        } else {
            Err(invalid("private_key_jwt is not accepted by this server"))
        };
    }
    let keys = match (&doc.jwks, &doc.jwks_uri) {
        (Some(_), Some(_)) => return Err(invalid("give jwks or jwks_uri, not both")),
        (None, None) => return Err(invalid("private_key_jwt needs jwks or jwks_uri")),
        (Some(set), None) => ClientKeys::Inline(Arc::new(
            Jwks::parse(set).map_err(|e| invalid(e.to_string()))?,
        )),
        (None, Some(uri)) => ClientKeys::Uri(jwks_uri(uri, client_id, settings)?),
    };
    let signing_alg = match &doc.token_endpoint_auth_signing_alg {
        None => None,
        Some(name) => Some(parse_asymmetric_alg(name).ok_or_else(|| {
            invalid("token_endpoint_auth_signing_alg must be an asymmetric JWS algorithm")
        })?),
    };
    let assertion = AssertionAuth {
        keys,
        signing_alg,
        accepts_none,
    };
    Ok((Some(PRIVATE_KEY_JWT.to_owned()), Some(assertion)))
}

/// A `jwks_uri` follows the document URL rules and lives on the document's own host and
/// port: whoever controls the document's origin vouches for its keys, nobody else (ADR 0018).
fn jwks_uri(uri: &str, client_id: &str, settings: &CimdSettings) -> Result<String, CimdError> {
    let keys = check_url(uri, settings).map_err(|e| match e {
        CimdError::InvalidUrl(why) => invalid(format!("jwks_uri: {why}")),
        _ => invalid("jwks_uri is not acceptable"),
    })?;
    let document = check_url(client_id, settings)?;
    if keys.host != document.host || keys.port != document.port {
        return Err(invalid("jwks_uri must be on the document's own host"));
    }
    Ok(uri.to_owned())
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
                "private_key_jwt without keys",
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

    const RSA_JWK: &str = include_str!("../../../tests/fixtures/client-assertion-rs256.jwk.json");

    fn rsa_jwk() -> serde_json::Value {
        serde_json::from_str(RSA_JWK).unwrap()
    }

    fn client(extra: serde_json::Value) -> Result<DocumentClient, CimdError> {
        parse_client_document(&doc(extra), ID, 7, &CimdSettings::default())
    }

    fn refusal(extra: serde_json::Value) -> String {
        client(extra.clone())
            .err()
            .unwrap_or_else(|| panic!("accepted: {extra}"))
            .to_string()
    }

    #[test]
    fn a_chatgpt_shaped_document_authenticates_with_its_jwks_uri() {
        let c = client(serde_json::json!({
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "RS256",
            "jwks_uri": "https://app.example.com/oauth/jwks.json",
        }))
        .unwrap();
        assert_eq!(
            c.record.token_endpoint_auth_method,
            TokenEndpointAuthMethod::PrivateKeyJwt
        );
        let auth = c.assertion.unwrap();
        assert_eq!(
            auth.keys,
            ClientKeys::Uri("https://app.example.com/oauth/jwks.json".into())
        );
        assert_eq!(auth.signing_alg, Some(Algorithm::RS256));
        assert!(!auth.accepts_none);
    }

    #[test]
    fn choices_decide_and_none_among_them_is_accepted() {
        let keys = serde_json::json!({ "keys": [rsa_jwk()] });
        let c = client(serde_json::json!({
            "token_endpoint_auth_methods_supported": ["none", "private_key_jwt", "tls_client_auth"],
            "jwks": keys,
        }))
        .unwrap();
        assert_eq!(
            c.record.token_endpoint_auth_method,
            TokenEndpointAuthMethod::PrivateKeyJwt
        );
        let auth = c.assertion.unwrap();
        assert!(auth.accepts_none);
        assert!(matches!(&auth.keys, ClientKeys::Inline(set) if set.has_kid("rs-1")));
        // Only none among the choices: a public client.
        let c = client(serde_json::json!({ "token_endpoint_auth_methods_supported": ["none"] }))
            .unwrap();
        assert_eq!(
            c.record.token_endpoint_auth_method,
            TokenEndpointAuthMethod::None
        );
        assert!(c.assertion.is_none());
        // Switched off: a document offering none falls back to it, one that does not is refused.
        let off = CimdSettings {
            private_key_jwt: false,
            ..CimdSettings::default()
        };
        let both = serde_json::json!({
            "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            "jwks": keys,
        });
        let c = parse_client_document(&doc(both), ID, 7, &off).unwrap();
        assert_eq!(
            c.record.token_endpoint_auth_method,
            TokenEndpointAuthMethod::None
        );
        assert!(c.assertion.is_none());
        let only =
            serde_json::json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": keys });
        let err = parse_client_document(&doc(only), ID, 7, &off).unwrap_err();
        assert!(
            err.to_string().contains("not accepted by this server"),
            "{err}"
        );
    }

    #[test]
    fn private_key_jwt_documents_are_refused_for_bad_keys_or_secrets() {
        let pkj = |extra: serde_json::Value| {
            let mut d = serde_json::json!({ "token_endpoint_auth_method": "private_key_jwt" });
            d.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            refusal(d)
        };
        let keys = |k: serde_json::Value| serde_json::json!({ "jwks": { "keys": [k] } });
        let mut private = rsa_jwk();
        private["d"] = serde_json::json!("AAAA");
        let mut enc = rsa_jwk();
        enc["use"] = serde_json::json!("enc");
        let uri = "https://app.example.com/jwks.json";
        for (extra, expected) in [
            (serde_json::json!({}), "needs jwks or jwks_uri"),
            (
                serde_json::json!({ "jwks": { "keys": [rsa_jwk()] }, "jwks_uri": uri }),
                "not both",
            ),
            (
                keys(serde_json::json!({ "kty": "oct", "k": "c2VjcmV0" })),
                "private or symmetric",
            ),
            (keys(private), "private or symmetric"),
            (keys(enc), "use must be sig"),
            (
                serde_json::json!({ "jwks": [rsa_jwk()] }),
                "non-empty keys array",
            ),
            (
                serde_json::json!({ "jwks_uri": "https://other.example.com/jwks.json" }),
                "document's own host",
            ),
            (
                serde_json::json!({ "jwks_uri": "https://app.example.com:8443/jwks.json" }),
                "document's own host",
            ),
            (
                serde_json::json!({ "jwks_uri": "http://app.example.com/jwks.json" }),
                "jwks_uri: it must be https",
            ),
            (
                serde_json::json!({ "jwks_uri": "https://10.0.0.1/jwks.json" }),
                "document's own host",
            ),
            (
                serde_json::json!({ "jwks_uri": uri, "token_endpoint_auth_signing_alg": "HS256" }),
                "asymmetric",
            ),
            (
                serde_json::json!({ "jwks_uri": uri, "token_endpoint_auth_signing_alg": "none" }),
                "asymmetric",
            ),
        ] {
            let err = pkj(extra.clone());
            assert!(err.contains(expected), "{extra}: {err}");
        }
        for secret in [
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
        ] {
            let err = refusal(serde_json::json!({
                "token_endpoint_auth_methods_supported": ["private_key_jwt", secret],
                "jwks_uri": uri,
            }));
            assert!(err.contains("shared secret"), "{secret}: {err}");
            let err = refusal(serde_json::json!({ "token_endpoint_auth_method": secret }));
            assert!(err.contains("shared secret"), "{secret}: {err}");
        }
        let err = refusal(
            serde_json::json!({ "token_endpoint_auth_methods_supported": ["tls_client_auth"] }),
        );
        assert!(err.contains("neither none nor private_key_jwt"), "{err}");
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
