//! placeholder: being written
#[derive(Debug)] pub struct OidcUpstream; #[derive(Debug)] pub struct OidcUpstreamConfig;
