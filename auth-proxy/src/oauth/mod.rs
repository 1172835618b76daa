//! The protocol layer: OAuth decisions as plain functions over parsed input, the client record
//! and configuration values. No HTTP types, no store, no clock reads; the handlers in
//! `routes/` extract the request, call these, do the I/O and map the outcome to a response
//! (as kanidm's `https/oauth2.rs` sits over its `idm/oauth2.rs`); the store sequences of codes,
//! refresh tokens and revocation are the grants service's (`crate::grants`).
//!
//! One module per flow: [`authorize`], [`consent`], [`callback`] (the upstream IdP's answer),
//! [`token`] (parsing, code redemption and refresh checks, access-token claims), [`exchange`]
//! (RFC 8693) and [`revoke`] (RFC 7009).

pub mod authorize;
pub mod callback;
pub mod consent;
pub mod exchange;
pub mod idjag;
pub mod revoke;
pub mod token;

use crate::error::OAuthError;

/// The value of a parameter; an empty value counts as absent (RFC 6749 §3.1).
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Refuses repeated parameters (RFC 6749 §3.1/§3.2: parameters must not be included more than
/// once).
pub fn reject_repeats(pairs: &[(String, String)]) -> Result<(), OAuthError> {
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(other, _)| other == k) {
            return Err(OAuthError::invalid_request(format!(
                "parameter `{k}` is repeated"
            )));
        }
    }
    Ok(())
}
