//! Everything about OAuth clients: what a client is ([`record`]), the one validator of client
//! metadata with a named policy per source ([`metadata`]), the sources themselves (the
//! operator's clients file in [`preregistered`], with the well-known clients' callbacks by
//! name in [`hosted`], Client ID Metadata Documents in [`cimd`];
//! dynamic registration is the `/register` handler over the same validator and the store), the
//! [`ClientRegistry`] that finds a client by id in a fixed order, and client authentication at
//! the token and revocation endpoints ([`auth`]).
//!
//! Where a change goes: a rule every client must meet → `metadata::ClientMetadata::validate`;
//! a rule for one source only → a field of `metadata::Policy`; a new place clients come from →
//! `registry`.
//!
//! Nothing here depends on the HTTP layer or the application state.

pub mod auth;
pub mod cimd;
pub mod hosted;
pub mod metadata;
pub mod preregistered;
pub mod record;
pub mod registry;

pub use self::auth::PresentedCredentials;
pub use self::preregistered::{load, PreregisteredClient};
pub use self::record::{
    ApplicationType, ClientRecord, GrantType, ResponseType, TokenEndpointAuthMethod,
};
pub use self::registry::{ClientLookupError, ClientRegistry};
