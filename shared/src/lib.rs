//! What auth-proxy and mcp-server must agree on, in one place: the scope list, the
//! access-token claims and their validation, OAuth error codes, token-exchange identifiers,
//! the well-known paths and the one `Secret` type.
//!
//! This part has no HTTP framework and does no I/O, so both services (and their tests)
//! derive their behaviour and their published metadata from the same definitions. The
//! operations code both services run (env config reader, request middleware, metrics
//! listener, `main` scaffolding) lives in [`ops`], behind the `ops` feature.

pub mod claims;
pub mod error_code;
pub mod net;
#[cfg(feature = "ops")]
pub mod ops;
pub mod paths;
pub mod scope;
pub mod secret;
pub mod token_exchange;

pub use claims::{AccessTokenClaims, ClaimError, ACCESS_TOKEN_TYP};
pub use error_code::OAuthErrorCode;
pub use scope::{Scope, ScopeError, ScopeSet};
pub use secret::Secret;
