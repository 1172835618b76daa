//! What auth-proxy and mcp-server must agree on, in one place: the scope list, the
//! access-token claims and their validation, OAuth error codes and the well-known paths.
//!
//! This crate has no HTTP framework and does no I/O, so both services (and their tests)
//! derive their behaviour and their published metadata from the same definitions.

pub mod claims;
pub mod error_code;
pub mod paths;
pub mod scope;

pub use claims::{AccessTokenClaims, ClaimError, ACCESS_TOKEN_TYP};
pub use error_code::OAuthErrorCode;
pub use scope::{Scope, ScopeError, ScopeSet};
