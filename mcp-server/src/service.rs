//! The MCP handler (rmcp): a fresh instance per request (stateless), sharing one [`Backend`].
//! `tools/list` shows the tools the caller's scopes allow; `tools/call` runs one, reaching
//! Nextcloud with the user's upstream token (token exchange) or the single-user app password.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use rmcp_actix_web::transport::on_request_extensions;

use crate::auth::{Credential, Principal};
use crate::config::Secret;
use crate::exchange::{ExchangeClient, ExchangeError};
use crate::metrics::Metrics;
use crate::nextcloud::users::UserCache;
use crate::nextcloud::{NcAuth, NcError, Nextcloud};
use crate::tools::{self, ToolContext, ToolError};

const INSTRUCTIONS: &str = "Tools for the user's Nextcloud: notes, files, calendars and \
contacts. Only the tools the user granted access to are listed. Updates that take an ETag refuse \
to overwrite changes made in the meantime: read the item again and retry.";

pub struct Backend {
    pub nextcloud: Nextcloud,
    pub exchange: Option<ExchangeClient>,
    /// Single-user mode: Nextcloud login and app password.
    pub single_user: Option<(String, Secret)>,
    pub users: UserCache,
    pub metrics: Metrics,
}

fn now() -> i64 {
    crate::clock::now()
}

impl Backend {
    async fn nextcloud_auth(&self, principal: &Principal) -> Result<NcAuth, ToolError> {
        match &principal.credential {
            Credential::SingleUser => {
                let (user, password) = self.single_user.as_ref().ok_or_else(|| {
                    ToolError::Unavailable("single-user credentials are not configured".into())
                })?;
                Ok(NcAuth::Basic {
                    user: user.clone(),
                    password: password.clone(),
                })
            }
            Credential::AccessToken {
                token,
                grant_id,
                expires_at,
            } => {
                let exchange = self.exchange.as_ref().ok_or_else(|| {
                    ToolError::Unavailable("token exchange is not configured".into())
                })?;
                let upstream = exchange
                    .upstream_token(grant_id, token, *expires_at, now())
                    .await
                    .map_err(|e| match e {
                        ExchangeError::Refused(_) => ToolError::Nextcloud(NcError::Unauthorized),
                        ExchangeError::Unavailable => ToolError::Unavailable(
                            "the authorization server is unavailable; try again shortly".into(),
                        ),
                        ExchangeError::Misconfigured(m) => {
                            tracing::error!(problem = %m, "token exchange misconfigured");
                            ToolError::Unavailable(
                                "this MCP server cannot reach Nextcloud (configuration problem; \
                                 the administrator has been told in the logs)"
                                    .into(),
                            )
                        }
                    })?;
                Ok(NcAuth::Bearer(upstream.access_token.clone()))
            }
        }
    }

    async fn forget_exchanged(&self, principal: &Principal) {
        if let (Some(exchange), Credential::AccessToken { grant_id, .. }) =
            (&self.exchange, &principal.credential)
        {
            exchange.forget(grant_id).await;
        }
    }

    /// Runs a tool; if Nextcloud refuses a cached exchanged token, exchanges afresh once.
    pub async fn run_tool(
        &self,
        name: &str,
        args: Option<rmcp::model::JsonObject>,
        principal: &Principal,
    ) -> Result<serde_json::Value, ToolError> {
        let mut retried = false;
        loop {
            let auth = self.nextcloud_auth(principal).await?;
            let ctx = ToolContext {
                nextcloud: &self.nextcloud,
                auth,
                principal,
                users: &self.users,
            };
            match tools::call(name, args.clone(), &ctx).await {
                Err(ToolError::Nextcloud(NcError::Unauthorized))
                    if !retried
                        && matches!(principal.credential, Credential::AccessToken { .. }) =>
                {
                    self.forget_exchanged(principal).await;
                    self.users.forget(&ctx.auth).await;
                    retried = true;
                }
                Err(ToolError::Nextcloud(NcError::Unauthorized))
                    if matches!(principal.credential, Credential::SingleUser) =>
                {
                    return Err(ToolError::Unavailable(
                        "Nextcloud refused the configured app password: the administrator must \
                         check MCP_SERVER_NEXTCLOUD_USER and MCP_SERVER_NEXTCLOUD_APP_PASSWORD"
                            .into(),
                    ));
                }
                other => return other,
            }
        }
    }
}

#[derive(Clone)]
pub struct McpService {
    backend: Arc<Backend>,
}

impl McpService {
    pub fn new(backend: Arc<Backend>) -> Self {
        Self { backend }
    }
}

fn principal(context: &RequestContext<RoleServer>) -> Result<Principal, McpError> {
    on_request_extensions(&context.extensions)
        .and_then(|e| e.get::<Principal>())
        .cloned()
        .ok_or_else(|| McpError::internal_error("request is not authenticated", None))
}

fn tool_error(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

impl ServerHandler for McpService {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "nextcloud-mcp-server",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let principal = principal(&context)?;
        let tools = tools::all()
            .filter(|spec| principal.has(spec.scopes))
            .map(|spec| spec.to_tool())
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let principal = principal(&context)?;
        let Some(spec) = tools::spec(&request.name) else {
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool: {}",
                    request.name.chars().take(64).collect::<String>()
                ),
                None,
            ));
        };
        let metrics = &self.backend.metrics;
        // The HTTP guard already refused this with 403; this is defence in depth.
        if !principal.has(spec.scopes) {
            metrics
                .tool_calls
                .with_label_values(&[spec.name, "denied"])
                .inc();
            return Ok(tool_error(format!(
                "not permitted: this tool needs the scope(s) {}",
                spec.scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            ))
            .into());
        }
        let started = mcp_shared::ops::clock::monotonic();
        let result = self
            .backend
            .run_tool(spec.name, request.arguments, &principal)
            .await;
        metrics
            .tool_duration
            .with_label_values(&[spec.name])
            .observe(started.elapsed().as_secs_f64());
        let response = match result {
            Ok(value) => {
                metrics
                    .tool_calls
                    .with_label_values(&[spec.name, "ok"])
                    .inc();
                let text = serde_json::to_string_pretty(&value).unwrap_or_default();
                CallToolResult::success(vec![ContentBlock::text(text)])
            }
            Err(e) => {
                metrics
                    .tool_calls
                    .with_label_values(&[spec.name, "tool_error"])
                    .inc();
                tracing::info!(tool = spec.name, error = %e, "tool call failed");
                tool_error(e.to_string())
            }
        };
        Ok(response.into())
    }
}
