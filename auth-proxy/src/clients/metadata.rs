//! One validator for client metadata, whichever source it comes from: dynamic registration
//! (RFC 7591), a Client ID Metadata Document, or the operator's clients file. The rules every
//! source shares live in [`ClientMetadata::validate`]; where the sources deliberately differ,
//! the difference is a named field of [`Policy`], and the three policies ([`DCR`], [`CIMD`],
//! [`FILE`]) say why. A new client rule goes here: in `validate` if it holds for every source,
//! as a `Policy` field if it does not.
//!
//! What each source does around the validator (secrets, client ids, deduplication, fetching)
//! stays with the source.

use mcp_shared::{Scope, ScopeSet};
use serde::Deserialize;
use url::Url;

use super::record::{
    ApplicationType, ClientRecord, GrantType, ResponseType, TokenEndpointAuthMethod,
};
use crate::ids::ClientId;
use crate::redirect::{validate_for_registration, RedirectPattern};

/// Names, software ids and versions: at most this many characters, none of them control
/// characters. Longer values are refused, never cut: a cut name on the consent page could
/// hide the part that tells two applications apart.
pub const MAX_TEXT: usize = 200;
/// Redirect URIs, `client_uri`, `logo_uri`.
pub const MAX_URI: usize = 2000;

/// What to do with a requested `scope` value naming scopes this server does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownScopes {
    /// Keep the known ones (RFC 7591 §2 lets the server restrict the registered scope). For
    /// metadata written by clients that talk to many servers.
    Drop,
    /// Refuse the metadata: for configuration, where an unknown scope is a typo.
    Refuse,
}

/// Where a source's rules deliberately differ.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Named in error messages.
    pub source: &'static str,
    /// Registrations are stored per anonymous caller, so they get the smaller list; documents
    /// (cached, not stored) and the operator's file get the larger one.
    pub max_redirect_uris: usize,
    /// Whether a redirect URI containing `*` is a pattern ([`RedirectPattern`]). Only the
    /// operator may vouch for a family of callbacks.
    pub redirect_patterns: bool,
    /// Secrets need a channel to hand them over: registration answers with one, the file
    /// names one; a public document cannot hold one, but may publish public keys
    /// (`private_key_jwt`, whose keys the document parser checks). Registration and the file
    /// have no way to keep keys (yet), so they never allow `private_key_jwt`.
    pub auth_methods: &'static [TokenEndpointAuthMethod],
    /// `grant_types` when the metadata names none. RFC 7591 says `authorization_code`; the
    /// file's default has always included refresh tokens and operators rely on it.
    pub default_grant_types: &'static [GrantType],
    pub unknown_scopes: UnknownScopes,
}

const ALL_AUTH_METHODS: &[TokenEndpointAuthMethod] = &[
    TokenEndpointAuthMethod::None,
    TokenEndpointAuthMethod::ClientSecretPost,
    TokenEndpointAuthMethod::ClientSecretBasic,
];

/// Dynamic client registration at `/register`.
pub const DCR: Policy = Policy {
    source: "registration",
    max_redirect_uris: 10,
    redirect_patterns: false,
    auth_methods: ALL_AUTH_METHODS,
    default_grant_types: &[GrantType::AuthorizationCode],
    unknown_scopes: UnknownScopes::Drop,
};

/// Client ID Metadata Documents: public clients only.
pub const CIMD: Policy = Policy {
    source: "metadata document",
    max_redirect_uris: 20,
    redirect_patterns: false,
    auth_methods: &[
        TokenEndpointAuthMethod::None,
        TokenEndpointAuthMethod::PrivateKeyJwt,
    ],
    default_grant_types: &[GrantType::AuthorizationCode],
    unknown_scopes: UnknownScopes::Drop,
};

/// Pre-registered clients from `AUTH_PROXY_CLIENTS_FILE`.
pub const FILE: Policy = Policy {
    source: "clients file",
    max_redirect_uris: 20,
    redirect_patterns: true,
    auth_methods: ALL_AUTH_METHODS,
    default_grant_types: &[GrantType::AuthorizationCode, GrantType::RefreshToken],
    unknown_scopes: UnknownScopes::Refuse,
};

/// The members every source may carry, as written. A source fills in the ones it has; a
/// registration request deserialises straight into it (unknown members are ignored, RFC 7591
/// §2, but the ones read must have the right type).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ClientMetadata {
    pub redirect_uris: Option<Vec<String>>,
    pub application_type: Option<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub scope: Option<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
}

/// Which member was wrong: redirect URIs have their own RFC 7591 error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataErrorKind {
    RedirectUri,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MetadataError {
    pub kind: MetadataErrorKind,
    pub message: String,
}

fn redirect_error(message: impl Into<String>) -> MetadataError {
    MetadataError {
        kind: MetadataErrorKind::RedirectUri,
        message: message.into(),
    }
}

fn other_error(message: impl Into<String>) -> MetadataError {
    MetadataError {
        kind: MetadataErrorKind::Other,
        message: message.into(),
    }
}

/// Client-supplied text echoed in an error, shortened.
fn shown(value: &str, max: usize) -> String {
    // Error texts end up in responses and the audit log: unprintable characters are escaped
    // there, so a value cannot break a log line or hide what it is.
    value
        .chars()
        .take(max)
        .flat_map(|c| {
            let escaped: Vec<char> = if is_unprintable(c) {
                c.escape_unicode().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// Metadata after validation: what a client record is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidMetadata {
    /// The exact redirect URIs, as given.
    pub redirect_uris: Vec<String>,
    /// Only under a policy with `redirect_patterns`.
    pub redirect_patterns: Vec<RedirectPattern>,
    pub application_type: ApplicationType,
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<ResponseType>,
    /// `None` when no known scope was named: the client has no ceiling of its own.
    pub scope: Option<ScopeSet>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
}

impl ClientMetadata {
    /// Checks every member under `policy`, in a fixed order (redirect URIs first).
    pub fn validate(self, policy: &Policy) -> Result<ValidMetadata, MetadataError> {
        let (redirect_uris, redirect_patterns, parsed) = redirect_uris(self.redirect_uris, policy)?;
        let application_type = application_type(self.application_type.as_deref(), &parsed)?;

        let method_name = self.token_endpoint_auth_method.as_deref().unwrap_or("none");
        let token_endpoint_auth_method = TokenEndpointAuthMethod::parse(method_name)
            .filter(|m| policy.auth_methods.contains(m))
            .ok_or_else(|| {
                let allowed: Vec<&str> = policy.auth_methods.iter().map(|m| m.as_str()).collect();
                other_error(format!(
                    "token_endpoint_auth_method `{}` is not supported for a {} ({})",
                    shown(method_name, 40),
                    policy.source,
                    allowed.join(", ")
                ))
            })?;

        let grant_types = match self.grant_types {
            None => policy.default_grant_types.to_vec(),
            Some(given) => given
                .iter()
                .map(|g| {
                    GrantType::parse(g)
                        .filter(|g| *g != GrantType::TokenExchange)
                        .ok_or_else(|| {
                            other_error(format!(
                                "grant type `{}` is not supported (authorization_code, refresh_token)",
                                shown(g, 60)
                            ))
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        if !grant_types.contains(&GrantType::AuthorizationCode) {
            return Err(other_error("grant_types must include authorization_code"));
        }

        let response_types = match self.response_types {
            None => vec![ResponseType::Code],
            Some(given) if !given.is_empty() && given.iter().all(|r| r == "code") => {
                vec![ResponseType::Code; given.len()]
            }
            Some(_) => return Err(other_error("response_types must be [\"code\"]")),
        };

        let scope = match self.scope {
            None => None,
            Some(raw) => {
                let set = match policy.unknown_scopes {
                    UnknownScopes::Drop => raw
                        .split(' ')
                        .filter_map(|t| t.parse::<Scope>().ok())
                        .collect(),
                    UnknownScopes::Refuse => {
                        ScopeSet::parse(&raw).map_err(|e| other_error(format!("scope: {e}")))?
                    }
                };
                (!set.is_empty()).then_some(set)
            }
        };

        Ok(ValidMetadata {
            redirect_uris,
            redirect_patterns,
            application_type,
            token_endpoint_auth_method,
            grant_types,
            response_types,
            scope,
            client_name: text("client_name", self.client_name)?,
            client_uri: https_uri("client_uri", self.client_uri)?,
            logo_uri: https_uri("logo_uri", self.logo_uri)?,
            software_id: text("software_id", self.software_id)?,
            software_version: text("software_version", self.software_version)?,
        })
    }
}

type RedirectLists = (Vec<String>, Vec<RedirectPattern>, Vec<Url>);

fn redirect_uris(
    given: Option<Vec<String>>,
    policy: &Policy,
) -> Result<RedirectLists, MetadataError> {
    let given = given.ok_or_else(|| redirect_error("redirect_uris is required"))?;
    let max = policy.max_redirect_uris;
    if given.is_empty() || given.len() > max {
        let what = if policy.redirect_patterns {
            "URIs or patterns"
        } else {
            "URIs"
        };
        return Err(redirect_error(format!(
            "redirect_uris must list 1 to {max} {what}"
        )));
    }
    let (mut exact, mut patterns, mut parsed) = (Vec::new(), Vec::new(), Vec::new());
    for (i, uri) in given.into_iter().enumerate() {
        if uri.len() > MAX_URI {
            return Err(redirect_error(format!(
                "redirect_uris[{i}] is longer than {MAX_URI} characters"
            )));
        }
        // URL parsing drops tabs and line breaks silently: the stored string would keep them.
        if uri.chars().any(is_unprintable) {
            return Err(redirect_error(format!(
                "redirect_uris[{i}] `{}` contains a control or invisible character",
                shown(&uri, 100)
            )));
        }
        let bad = |e: &dyn std::fmt::Display| {
            redirect_error(format!("redirect_uris[{i}] `{}`: {e}", shown(&uri, 100)))
        };
        // Under a policy with patterns, a `*` makes the entry a pattern.
        if policy.redirect_patterns && uri.contains('*') {
            patterns.push(RedirectPattern::parse(&uri).map_err(|e| bad(&e))?);
        } else {
            parsed.push(validate_for_registration(&uri).map_err(|e| bad(&e))?);
            exact.push(uri);
        }
    }
    Ok((exact, patterns, parsed))
}

/// Checks the redirect URIs against a given `application_type`. Absent (most MCP clients send
/// none), the registration rules alone apply and the effective type is `web` when every URI is
/// https, `native` otherwise.
fn application_type(
    given: Option<&str>,
    redirect_uris: &[Url],
) -> Result<ApplicationType, MetadataError> {
    let first_not_https = redirect_uris.iter().position(|u| u.scheme() != "https");
    match given {
        None if first_not_https.is_none() => Ok(ApplicationType::Web),
        None => Ok(ApplicationType::Native),
        Some("web") => match first_not_https {
            None => Ok(ApplicationType::Web),
            Some(i) => Err(redirect_error(format!(
                "redirect_uris[{i}]: application_type web allows https redirect URIs only \
                 (no loopback http, no custom schemes); register a desktop or CLI app as native"
            ))),
        },
        // `validate_for_registration` admits exactly what RFC 8252 allows native apps.
        Some("native") => Ok(ApplicationType::Native),
        Some(other) => Err(other_error(format!(
            "application_type `{}` is not supported (web, native)",
            shown(other, 40)
        ))),
    }
}

/// Characters that are not printable text: control characters (line breaks forge log lines),
/// bidirectional controls (an override reverses what the consent page shows) and invisible
/// format characters (zero-width spaces and joiners, soft hyphens, tags: two names that look
/// the same are not). Letters of every script stay allowed, and so do emoji variation
/// selectors (they follow an emoji, not hide between letters).
fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

fn text(name: &str, value: Option<String>) -> Result<Option<String>, MetadataError> {
    match value {
        Some(v) if v.chars().count() > MAX_TEXT || v.chars().any(is_unprintable) => {
            Err(other_error(format!(
                "{name} must be at most {MAX_TEXT} printable characters"
            )))
        }
        Some(v) if v.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

fn https_uri(name: &str, value: Option<String>) -> Result<Option<String>, MetadataError> {
    let Some(v) = value else { return Ok(None) };
    let ok = v.len() <= MAX_URI
        && Url::parse(&v).is_ok_and(|u| {
            u.scheme() == "https" && u.username().is_empty() && u.password().is_none()
        });
    if ok {
        Ok(Some(v))
    } else {
        Err(other_error(format!("{name} must be an https URL")))
    }
}

impl ValidMetadata {
    /// The client record for `client_id`; the redirect patterns stay with the caller.
    pub fn into_record(
        self,
        client_id: ClientId,
        client_secret_hash: Option<String>,
        created_at: i64,
    ) -> ClientRecord {
        ClientRecord {
            client_id,
            client_name: self.client_name,
            redirect_uris: self.redirect_uris,
            token_endpoint_auth_method: self.token_endpoint_auth_method,
            client_secret_hash,
            grant_types: self.grant_types,
            response_types: self.response_types,
            scope: self.scope,
            client_uri: self.client_uri,
            logo_uri: self.logo_uri,
            software_id: self.software_id,
            software_version: self.software_version,
            created_at,
            application_type: Some(self.application_type),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(uris: &[&str]) -> ClientMetadata {
        ClientMetadata {
            redirect_uris: Some(uris.iter().map(|u| u.to_string()).collect()),
            ..ClientMetadata::default()
        }
    }

    const ALL: [&Policy; 3] = [&DCR, &CIMD, &FILE];

    #[test]
    fn redirect_uris_with_line_breaks_are_refused_and_errors_stay_on_one_line() {
        for uri in [
            "http://127.0.0.1/cb\nX-Forged: 1",
            "http://127.0.0.1/c\tb",
            "https://app.example/\u{202E}cb",
        ] {
            for policy in ALL {
                let err = meta(&[uri]).validate(policy).unwrap_err();
                assert!(
                    err.message.contains("control or invisible"),
                    "{uri:?}: {}",
                    err.message
                );
                assert!(
                    !err.message.contains(['\n', '\t', '\u{202E}']),
                    "{:?}",
                    err.message
                );
            }
        }
        let mut m = meta(&["http://127.0.0.1/cb"]);
        m.grant_types = Some(vec!["implicit\nforged".into()]);
        let err = m.validate(&DCR).unwrap_err();
        assert!(!err.message.contains('\n'), "{:?}", err.message);
    }

    #[test]
    fn defaults_under_each_policy() {
        let dcr = meta(&["http://127.0.0.1/cb"]).validate(&DCR).unwrap();
        assert_eq!(dcr.grant_types, [GrantType::AuthorizationCode]);
        assert_eq!(dcr.response_types, [ResponseType::Code]);
        assert_eq!(
            dcr.token_endpoint_auth_method,
            TokenEndpointAuthMethod::None
        );
        assert_eq!(dcr.application_type, ApplicationType::Native);
        let file = meta(&["https://a.example/cb"]).validate(&FILE).unwrap();
        assert_eq!(
            file.grant_types,
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(file.application_type, ApplicationType::Web);
    }

    #[test]
    fn redirect_uri_limits_are_per_source() {
        let uris: Vec<String> = (0..11).map(|i| format!("https://a.example/{i}")).collect();
        let refs: Vec<&str> = uris.iter().map(String::as_str).collect();
        let err = meta(&refs).validate(&DCR).unwrap_err();
        assert_eq!(err.kind, MetadataErrorKind::RedirectUri);
        assert_eq!(err.message, "redirect_uris must list 1 to 10 URIs");
        assert!(meta(&refs).validate(&CIMD).is_ok());
        assert!(meta(&refs).validate(&FILE).is_ok());
        for policy in ALL {
            assert!(meta(&[]).validate(policy).is_err());
            let long = format!("https://a.example/{}", "x".repeat(MAX_URI));
            assert!(
                meta(&[&long]).validate(policy).is_err(),
                "{}",
                policy.source
            );
        }
    }

    #[test]
    fn only_the_file_has_patterns() {
        let uris = [
            "https://a.example/cb",
            "https://chatgpt.com/connector/oauth/*",
        ];
        let file = meta(&uris).validate(&FILE).unwrap();
        assert_eq!(file.redirect_uris, ["https://a.example/cb"]);
        assert_eq!(file.redirect_patterns.len(), 1);
        // Elsewhere a `*` is just a character of an exact URI.
        for policy in [&DCR, &CIMD] {
            let v = meta(&uris).validate(policy).unwrap();
            assert_eq!(v.redirect_uris, uris);
            assert!(v.redirect_patterns.is_empty());
        }
        let err = meta(&["https://a.example/cb", "javascript:alert(1)"])
            .validate(&DCR)
            .unwrap_err();
        assert!(
            err.message.starts_with("redirect_uris[1] `javascript:"),
            "{err}"
        );
    }

    #[test]
    fn documents_hold_no_secrets_and_only_documents_take_private_key_jwt() {
        let mut m = meta(&["https://a.example/cb"]);
        m.token_endpoint_auth_method = Some("client_secret_basic".into());
        assert!(m.clone().validate(&DCR).is_ok());
        assert!(m.clone().validate(&FILE).is_ok());
        let err = m.validate(&CIMD).unwrap_err();
        assert!(err.message.contains("(none, private_key_jwt)"), "{err}");
        let mut m = meta(&["https://a.example/cb"]);
        m.token_endpoint_auth_method = Some("private_key_jwt".into());
        assert_eq!(
            m.clone()
                .validate(&CIMD)
                .unwrap()
                .token_endpoint_auth_method,
            TokenEndpointAuthMethod::PrivateKeyJwt
        );
        for policy in [&DCR, &FILE] {
            assert!(m.clone().validate(policy).is_err());
        }
    }

    #[test]
    fn unknown_scopes_are_dropped_from_client_metadata_and_refused_in_the_file() {
        let mut m = meta(&["https://a.example/cb"]);
        m.scope = Some("notes:read  admin".into());
        for policy in [&DCR, &CIMD] {
            let v = m.clone().validate(policy).unwrap();
            assert_eq!(v.scope.unwrap().to_string(), "notes:read");
        }
        let err = m.clone().validate(&FILE).unwrap_err();
        assert_eq!(err.message, "scope: unknown scope `admin`");
        // Nothing known, or blank: no ceiling of its own, under every policy.
        for (scope, policies) in [("admin", &[&DCR, &CIMD][..]), ("  ", &ALL[..])] {
            m.scope = Some(scope.into());
            for policy in policies {
                assert_eq!(m.clone().validate(policy).unwrap().scope, None);
            }
        }
    }

    #[test]
    fn long_or_control_text_is_refused_never_cut() {
        for policy in ALL {
            for field in ["name", "software_id", "software_version"] {
                for bad in ["x".repeat(MAX_TEXT + 1), "a\u{7}b".to_owned()] {
                    let mut m = meta(&["https://a.example/cb"]);
                    match field {
                        "name" => m.client_name = Some(bad),
                        "software_id" => m.software_id = Some(bad),
                        _ => m.software_version = Some(bad),
                    }
                    let err = m.validate(policy).unwrap_err();
                    assert_eq!(err.kind, MetadataErrorKind::Other);
                    assert!(err.message.contains("printable characters"), "{err}");
                }
            }
            let mut m = meta(&["https://a.example/cb"]);
            m.client_name = Some("x".repeat(MAX_TEXT));
            assert_eq!(
                m.validate(policy).unwrap().client_name.unwrap().len(),
                MAX_TEXT,
                "kept whole"
            );
        }
    }

    #[test]
    fn invisible_and_bidi_characters_are_refused_in_text() {
        // A right-to-left override makes "Evil\u{202E}ppa.ecnaliF" read as "EvilFinance.app" on
        // the consent page; zero-width characters make two names look the same.
        for policy in ALL {
            for bad in [
                "Evil\u{202E}ppa.ecnaliF",
                "Doc\u{2066}s\u{2069}",
                "Claude\u{200B}",
                "\u{FEFF}Claude",
                "Cl\u{200D}aude",
                "Cla\u{00AD}ude",
                "Claude\u{E0041}",
                "line\nbreak",
                "carriage\rreturn",
            ] {
                let mut m = meta(&["https://a.example/cb"]);
                m.client_name = Some(bad.to_owned());
                let err = m.validate(policy).unwrap_err();
                assert!(
                    err.message.contains("printable characters"),
                    "{bad:?}: {err}"
                );
            }
            let mut m = meta(&["https://a.example/cb"]);
            m.client_name = Some("Café Éditeur 日本語 العربية".to_owned());
            assert!(m.validate(policy).is_ok(), "ordinary letters of any script");
        }
    }

    #[test]
    fn grant_and_response_types_are_checked_everywhere() {
        for policy in ALL {
            for (grants, ok) in [
                (vec!["authorization_code", "refresh_token"], true),
                (vec!["refresh_token"], false),
                (vec!["client_credentials", "authorization_code"], false),
                (
                    vec!["authorization_code", GrantType::TokenExchange.as_str()],
                    false,
                ),
            ] {
                let mut m = meta(&["https://a.example/cb"]);
                m.grant_types = Some(grants.iter().map(|g| g.to_string()).collect());
                assert_eq!(m.validate(policy).is_ok(), ok, "{grants:?}");
            }
            for (responses, ok) in [
                (vec!["code"], true),
                (vec![], false),
                (vec!["token"], false),
            ] {
                let mut m = meta(&["https://a.example/cb"]);
                m.response_types = Some(responses.iter().map(|r| r.to_string()).collect());
                assert_eq!(m.validate(policy).is_ok(), ok, "{responses:?}");
            }
            let mut m = meta(&["https://a.example/cb"]);
            m.logo_uri = Some("https://user@a.example/l.png".into());
            assert!(m.validate(policy).is_err());
        }
    }
}
