//! RFC 8693 token exchange identifiers: the auth-proxy accepts them at `/token`, the
//! mcp-server sends them.

/// `grant_type` of a token exchange (RFC 8693 §2.1).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// Token type of an access token (RFC 8693 §3), for `subject_token_type`,
/// `requested_token_type` and `issued_token_type`.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// Token type of HTTP Basic credentials for Nextcloud (the user's login name and an app
/// password from Login Flow v2): with the `app-password` strategy the auth-proxy answers a
/// token exchange with this `issued_token_type`, `token_type` `N_A` (RFC 8693 §2.2.1: not an
/// access token), and as `access_token` the base64 of `login:app-password`, ready for an
/// `Authorization: Basic` header. Not an IANA-registered type: a URN of this project.
pub const NEXTCLOUD_BASIC_TOKEN_TYPE: &str =
    "urn:x-nextcloud-mcp:params:oauth:token-type:nextcloud-basic";
