//! auth-proxy: the OAuth 2.1 authorization server that MCP clients talk to, itself an OpenID
//! Connect client of the user's identity provider. See `docs/architecture.md`.

pub mod clock;
pub mod crypto;
pub mod store;
pub mod upstream;
pub mod config;
pub mod error;
pub mod keys;
pub mod pkce;
pub mod redirect;
pub mod client_ip;
pub mod metrics;
pub mod pages;
pub mod routes;
// pub mod startup; (re-enabled once store and upstream land)
pub mod state;
pub mod telemetry;
