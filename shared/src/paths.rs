//! Well-known and endpoint paths. The ingress routes on these, so they are fixed here rather
//! than configurable per service.

/// RFC 8414 authorization-server metadata.
pub const AUTHORIZATION_SERVER_METADATA: &str = "/.well-known/oauth-authorization-server";
/// OpenID Connect discovery alias of the same document (some clients only look here).
pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
/// RFC 9728 protected-resource metadata (served by mcp-server, also path-suffixed).
pub const PROTECTED_RESOURCE_METADATA: &str = "/.well-known/oauth-protected-resource";
pub const JWKS: &str = "/jwks.json";
pub const REGISTER: &str = "/register";
pub const AUTHORIZE: &str = "/authorize";
pub const CONSENT: &str = "/consent";
pub const CALLBACK: &str = "/callback";
/// The app-password strategy's page between the IdP sign-in and the client's code.
pub const NEXTCLOUD_CONNECT: &str = "/nextcloud/connect";
/// The person's own page of connected clients (sign in, list, revoke, sign out).
pub const CONNECTIONS: &str = "/connections";
pub const CONNECTIONS_REVOKE: &str = "/connections/revoke";
pub const CONNECTIONS_SIGN_OUT: &str = "/connections/sign-out";
pub const TOKEN: &str = "/token";
pub const REVOKE: &str = "/revoke";
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const METRICS: &str = "/metrics";
/// The MCP endpoint of mcp-server.
pub const MCP: &str = "/mcp";
