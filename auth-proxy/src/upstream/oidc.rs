//! placeholder: being written
#[derive(Debug)]
pub struct OidcUpstream;
#[derive(Debug, Clone)]
pub struct OidcUpstreamConfig {
    pub issuer: url::Url,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_uri: url::Url,
    pub scopes: Vec<String>,
    pub timeout: std::time::Duration,
    pub discovery_ttl: std::time::Duration,
}
impl OidcUpstream {
    pub fn new(
        _c: OidcUpstreamConfig,
        _clock: std::sync::Arc<dyn crate::clock::Clock>,
    ) -> Result<Self, super::UpstreamError> {
        Err(super::UpstreamError::Unavailable("not built yet".into()))
    }
}
#[async_trait::async_trait]
impl super::UpstreamIdp for OidcUpstream {
    async fn is_ready(&self) -> bool {
        false
    }
    async fn discover(&self) -> Result<(), super::UpstreamError> {
        Err(super::UpstreamError::Unavailable("placeholder".into()))
    }
    async fn authorization_url(
        &self,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<url::Url, super::UpstreamError> {
        Err(super::UpstreamError::Unavailable("placeholder".into()))
    }
    async fn exchange_code(
        &self,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<(super::UpstreamTokens, super::UpstreamIdentity), super::UpstreamError> {
        Err(super::UpstreamError::Unavailable("placeholder".into()))
    }
    async fn refresh(&self, _: &str) -> Result<super::UpstreamTokens, super::UpstreamError> {
        Err(super::UpstreamError::Unavailable("placeholder".into()))
    }
}
