//! auth-proxy: the OAuth 2.1 authorization server that MCP clients talk to, itself an OpenID
//! Connect client of the user's identity provider. See `docs/architecture.md`.

pub mod clock;
pub mod crypto;
pub mod store;
pub mod upstream;
