//! API test binary: one link for all API-level tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod authorize;
mod cimd;
mod cimd_limits;
mod client_assertion;
mod compat;
mod connections;
mod denials;
mod exchange;
mod helpers;
mod idjag;
mod keepalive;
mod limits;
mod metadata;
mod policy;
mod preregistered;
mod redis_server;
mod register;
mod store_contract;
mod token;
