//! API tests of mcp-server: real HTTP against a spawned server, a fake authorization server
//! (metadata + JWKS, counting fetches) on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bearer;
mod compat;
mod governance;
mod helpers;
mod keepalive;
mod listing;
