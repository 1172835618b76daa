//! RFC 8693 token exchange identifiers: the auth-proxy accepts them at `/token`, the
//! mcp-server sends them.

/// `grant_type` of a token exchange (RFC 8693 §2.1).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// Token type of an access token (RFC 8693 §3), for `subject_token_type`,
/// `requested_token_type` and `issued_token_type`.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
