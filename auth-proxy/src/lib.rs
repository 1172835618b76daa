//! auth-proxy: the OAuth 2.1 authorization server that MCP clients talk to, itself an OpenID
//! Connect client of the user's identity provider. See `docs/architecture.md`.

pub mod audit;
pub mod client_ip;
pub mod clients;
pub mod clock;
pub mod config;
pub mod connections;
pub mod cors;
pub mod crypto;
pub mod error;
pub mod grants;
pub mod idjag;
pub mod ids;
pub mod jose;
pub mod keys;
pub mod metrics;
pub mod nextcloud;
pub mod oauth;
pub mod pages;
pub mod pkce;
pub mod policy;
pub mod redirect;
pub mod resource;
pub mod routes;
pub mod startup;
pub mod state;
pub mod store;
pub mod upstream;
