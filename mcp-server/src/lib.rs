//! mcp-server: a stateless MCP resource server for Nextcloud. It validates the auth-proxy's
//! access tokens offline (JWKS), serves scope-gated Nextcloud tools over streamable HTTP, and
//! reaches Nextcloud with the user's credential obtained by RFC 8693 token exchange (an app
//! password or an upstream access token, as the auth-proxy decides; or, in single-user mode,
//! with one configured app password).

pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod exchange;
pub mod listing;
pub mod metrics;
pub mod nextcloud;
pub mod service;
pub mod startup;
pub mod tools;
