//! The rules an identity assertion authorization grant (ID-JAG) must pass at `/token`
//! (draft-ietf-oauth-identity-assertion-authz-grant, the MCP Enterprise-Managed Authorization
//! profile; ADR 0020). Pure: the signature was checked against the issuer's keys by
//! [`crate::idjag`], and the `jti` is claimed in the store by the handler after everything
//! here passed, so a refused request never spends it.
//!
//! Every [`Refusal`] is answered `invalid_grant` (RFC 7521 §5.2, the draft, MCP §7.6.2) and
//! counted under its own fixed reason label; descriptions never quote the assertion.

use mcp_shared::{Scope, ScopeSet};
use serde_json::{Map, Value};

use crate::error::OAuthError;
use crate::jose::{check_times, JoseError, TimeError, TimeRules};

/// The JWT `typ` of an ID-JAG (the `application/` form is accepted too, RFC 7515 §4.1.9).
pub const TYP: &str = "oauth-id-jag+jwt";
/// The grant profile advertised in `authorization_grant_profiles_supported`.
pub const PROFILE: &str = "urn:ietf:params:oauth:grant-profile:id-jag";
/// Clock skew forgiven on `exp`, `iat` and `nbf`.
pub const LEEWAY_SECS: i64 = 30;
/// Longest `jti` and `sub` accepted (both end up in store keys or records).
const MAX_ID_LEN: usize = 256;

/// Why an ID-JAG was refused. [`Refusal::label`] is the metric and audit label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The JWS itself: size, shape, header rules, key choice, signature.
    Jose(JoseError),
    /// `iss` missing or not a configured trusted issuer (nothing is fetched for it).
    UntrustedIssuer,
    /// The issuer's keys could not be had (and none were cached).
    KeysUnavailable,
    Audience,
    ClientId,
    Subject,
    MissingJti,
    MissingIat,
    Expired,
    NotYetValid,
    TooLong,
    BadTime,
    /// `resource` missing, malformed, or naming none of ours.
    Resource,
    /// The request's `resource` is one of ours but not one the ID-JAG names.
    ResourceMismatch,
    /// The ID-JAG's `scope` holds a scope this server does not know (MCP §7.6.2).
    UnknownScope,
    /// ID-JAG ∩ requested ∩ the client's ceiling is empty.
    NoScope,
    /// The `jti` was used before (here or at another replica).
    Replayed,
}

impl Refusal {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Jose(e) => match e {
                JoseError::TooLarge => "too_large",
                JoseError::Encrypted => "encrypted",
                JoseError::Malformed(_) => "malformed",
                JoseError::AlgorithmNotAllowed => "alg_not_allowed",
                JoseError::Critical => "crit",
                JoseError::EmbeddedKey => "embedded_key",
                JoseError::WrongType => "typ",
                JoseError::UnknownKey => "unknown_kid",
                JoseError::AmbiguousKey => "ambiguous_key",
                JoseError::KeyAlgorithmMismatch => "key_alg_mismatch",
                JoseError::BadSignature => "bad_signature",
            },
            Self::UntrustedIssuer => "untrusted_issuer",
            Self::KeysUnavailable => "keys_unavailable",
            Self::Audience => "aud",
            Self::ClientId => "client_id",
            Self::Subject => "sub",
            Self::MissingJti => "jti_missing",
            Self::MissingIat => "iat_missing",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::TooLong => "too_long",
            Self::BadTime => "bad_time",
            Self::Resource => "resource",
            Self::ResourceMismatch => "resource_mismatch",
            Self::UnknownScope => "unknown_scope",
            Self::NoScope => "no_scope",
            Self::Replayed => "replayed",
        }
    }

    fn description(&self) -> String {
        let what = match self {
            Self::Jose(e) => return format!("the assertion was refused: {e}"),
            Self::UntrustedIssuer => "its issuer is not trusted here",
            Self::KeysUnavailable => "its issuer's keys could not be fetched",
            Self::Audience => "aud must be this authorization server's issuer",
            Self::ClientId => "client_id must be the authenticated client",
            Self::Subject => "sub is missing or malformed",
            Self::MissingJti => "jti is missing or malformed",
            Self::MissingIat => "iat is missing",
            Self::Expired => "it has expired",
            Self::NotYetValid => "it is not valid yet",
            Self::TooLong => "it lives longer than allowed",
            Self::BadTime => "a time claim is not a number",
            Self::Resource => "resource must name a resource this server serves",
            Self::ResourceMismatch => "the requested resource is not one the assertion names",
            Self::UnknownScope => "scope holds a scope this server does not know",
            Self::NoScope => "no scope remains: the assertion, the request and the client's registration have none in common",
            Self::Replayed => "it was already used (jti): fetch a new one from the identity provider",
        };
        format!("the assertion was refused: {what}")
    }
}

impl From<JoseError> for Refusal {
    fn from(e: JoseError) -> Self {
        Self::Jose(e)
    }
}

impl From<&Refusal> for OAuthError {
    fn from(r: &Refusal) -> Self {
        OAuthError::invalid_grant(r.description())
    }
}

/// What a token request adds to the assertion, and the server's side.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRules<'a> {
    /// This authorization server's issuer.
    pub issuer: &'a str,
    /// The client that authenticated (or identified itself) on this request.
    pub client_id: &'a str,
    /// `AUTH_PROXY_RESOURCES`.
    pub resources: &'a [String],
    /// The configured resource the request's `resource` named (already found), if any.
    pub requested_resource: Option<&'a str>,
    /// The request's `scope`, if any (already parsed).
    pub requested_scope: Option<&'a ScopeSet>,
    /// The client's registered ceiling, if it has one.
    pub client_scope: Option<&'a ScopeSet>,
    /// Unix seconds.
    pub now: i64,
    /// `AUTH_PROXY_IDJAG_MAX_LIFETIME_SECS` (`exp − iat`).
    pub max_lifetime_secs: i64,
}

/// An ID-JAG that passed every rule: what the grant is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub subject: String,
    /// The configured resource string (the token's `aud`).
    pub resource: String,
    pub scope: ScopeSet,
    pub jti: String,
    /// How long the `jti` must be remembered: until `exp` plus the leeway.
    pub jti_ttl_secs: u64,
}

/// Checks the verified claims of an ID-JAG against `rules`, in the order of ADR 0020.
pub fn check_claims(claims: &Map<String, Value>, rules: &ClaimRules) -> Result<Accepted, Refusal> {
    check_audience(claims.get("aud"), rules.issuer)?;
    if claims.get("client_id").and_then(Value::as_str) != Some(rules.client_id) {
        return Err(Refusal::ClientId);
    }
    let subject = short_string(claims.get("sub")).ok_or(Refusal::Subject)?;
    if !claims.contains_key("iat") {
        return Err(Refusal::MissingIat);
    }
    // exp − now is bounded by exp − iat ≤ max once iat is not in the future.
    let time_rules = TimeRules {
        now: rules.now,
        leeway_secs: LEEWAY_SECS,
        max_lifetime_secs: rules.max_lifetime_secs.saturating_add(LEEWAY_SECS),
    };
    let remaining = check_times(claims, time_rules).map_err(|e| match e {
        TimeError::MissingExp | TimeError::Expired => Refusal::Expired,
        TimeError::TooLong => Refusal::TooLong,
        TimeError::NotYetValid => Refusal::NotYetValid,
        TimeError::NotANumber(_) => Refusal::BadTime,
    })?;
    let number = |name| claims.get(name).and_then(Value::as_f64).map(|f| f as i64);
    if let (Some(exp), Some(iat)) = (number("exp"), number("iat")) {
        if exp.saturating_sub(iat) > rules.max_lifetime_secs {
            return Err(Refusal::TooLong);
        }
    }
    let resource = choose_resource(claims.get("resource"), rules)?;
    let scope = granted_scope(claims.get("scope"), rules)?;
    let jti = short_string(claims.get("jti")).ok_or(Refusal::MissingJti)?;
    let jti_ttl_secs = u64::try_from(remaining.saturating_add(LEEWAY_SECS)).unwrap_or(0);
    Ok(Accepted {
        subject,
        resource,
        scope,
        jti,
        jti_ttl_secs,
    })
}

/// The draft: a string, or an array of exactly one, equal to our issuer. The draft's own
/// examples put a trailing `/` on issuers, so that spelling of ours is accepted too.
fn check_audience(aud: Option<&Value>, issuer: &str) -> Result<(), Refusal> {
    let single = match aud {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Array(items)) if items.len() == 1 => {
            items[0].as_str().ok_or(Refusal::Audience)?
        }
        _ => return Err(Refusal::Audience),
    };
    let ours = single == issuer || single.strip_suffix('/') == Some(issuer);
    ours.then_some(()).ok_or(Refusal::Audience)
}

fn short_string(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= MAX_ID_LEN && !s.chars().any(char::is_control))
        .map(str::to_owned)
}

/// `resource` (a string or an array of strings) must name one of ours: the token is
/// audience-restricted to it (MCP §5.1). With several of ours named, the request says which.
fn choose_resource(claim: Option<&Value>, rules: &ClaimRules) -> Result<String, Refusal> {
    let named: Vec<&str> = match claim {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= 16 => items
            .iter()
            .map(Value::as_str)
            .collect::<Option<Vec<_>>>()
            .ok_or(Refusal::Resource)?,
        _ => return Err(Refusal::Resource),
    };
    let mut ours: Vec<&str> = named
        .iter()
        .filter_map(|r| crate::resource::find(rules.resources, r))
        .collect();
    ours.dedup();
    match (rules.requested_resource, ours.as_slice()) {
        (_, []) => Err(Refusal::Resource),
        (Some(wanted), _) if ours.contains(&wanted) => Ok(wanted.to_owned()),
        (Some(_), _) => Err(Refusal::ResourceMismatch),
        (None, [only]) => Ok((*only).to_owned()),
        // Several of ours and no choice: the request must make one.
        (None, _) => Err(Refusal::ResourceMismatch),
    }
}

/// ID-JAG ∩ requested ∩ the client's ceiling (MCP §7.2.1), without `offline_access`: no
/// refresh token is issued on this grant.
fn granted_scope(claim: Option<&Value>, rules: &ClaimRules) -> Result<ScopeSet, Refusal> {
    let asserted = match claim {
        None => ScopeSet::new(),
        Some(Value::String(s)) => ScopeSet::parse(s).map_err(|_| Refusal::UnknownScope)?,
        Some(_) => return Err(Refusal::UnknownScope),
    };
    let mut granted = asserted;
    if let Some(requested) = rules.requested_scope {
        granted = granted.intersection(requested);
    }
    if let Some(ceiling) = rules.client_scope {
        granted = granted.intersection(ceiling);
    }
    let granted: ScopeSet = granted
        .iter()
        .filter(|s| *s != Scope::OfflineAccess)
        .collect();
    if granted.is_empty() {
        return Err(Refusal::NoScope);
    }
    Ok(granted)
}

#[cfg(test)]
mod tests;
