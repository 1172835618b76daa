//! The MCP handler (rmcp): a fresh instance per request (stateless), sharing one [`Backend`].
//! `tools/list` shows the tools the caller's scopes allow; `tools/call` runs one, reaching
//! Nextcloud with the user's exchanged credential (app password or upstream access token) or
//! the single-user app password.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use rmcp_actix_web::transport::on_request_extensions;

use crate::audit::{self, Outcome, Refusal};
use crate::auth::{Credential, Principal};
use crate::config::Secret;
use crate::exchange::{ExchangeClient, ExchangeError, ExchangedCredential};
use crate::listing::{ListingSlot, Listings};
use crate::metrics::Metrics;
use crate::nextcloud::capabilities::{Capabilities, CapabilityCache};
use crate::nextcloud::users::UserCache;
use crate::nextcloud::{NcAuth, NcError, Nextcloud};
use crate::tools::{self, Governance, Lookup, ToolContext, ToolError};

const INSTRUCTIONS: &str = "Tools for the user's Nextcloud: notes, files, calendars and \
contacts. Only the tools the user granted access to are listed. Updates that take an ETag refuse \
to overwrite changes made in the meantime: read the item again and retry.";

pub struct Backend {
    pub nextcloud: Nextcloud,
    pub exchange: Option<Arc<ExchangeClient>>,
    /// Single-user mode: Nextcloud login and app password.
    pub single_user: Option<(String, Secret)>,
    pub users: UserCache,
    /// Which Nextcloud apps each user has: tools of a missing app are hidden.
    pub capabilities: CapabilityCache,
    pub metrics: Metrics,
    /// The tools this instance serves.
    pub tools: Governance,
    /// `tools/list` answers, serialised once per set of tools (ADR 0022).
    pub listings: Listings,
}

fn now() -> i64 {
    crate::clock::now()
}

/// The credential one tool call uses, and the exchange it came from (none in single-user
/// mode).
struct CallAuth {
    auth: NcAuth,
    exchanged: Option<ExchangedCredential>,
}

impl Backend {
    async fn nextcloud_auth(&self, principal: &Principal) -> Result<CallAuth, ToolError> {
        match &principal.credential {
            Credential::SingleUser => {
                let (user, password) = self.single_user.as_ref().ok_or_else(|| {
                    ToolError::Unavailable("single-user credentials are not configured".into())
                })?;
                Ok(CallAuth {
                    auth: NcAuth::Basic {
                        user: user.clone(),
                        password: password.clone(),
                    },
                    exchanged: None,
                })
            }
            Credential::AccessToken {
                token, expires_at, ..
            } => {
                let exchange = self.exchange.as_ref().ok_or_else(|| {
                    ToolError::Unavailable("token exchange is not configured".into())
                })?;
                let exchanged = exchange
                    .credential(token, *expires_at, now())
                    .await
                    .map_err(|e| match e {
                        ExchangeError::Refused => ToolError::SignInAgain(GRANT_REFUSED),
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
                Ok(CallAuth {
                    auth: exchanged.credential.clone(),
                    exchanged: Some(exchanged),
                })
            }
        }
    }

    /// The apps the caller's Nextcloud offers; [`Capabilities::Unknown`] (every app there)
    /// when no credential can be had now: a tool is never hidden by a failure.
    async fn capabilities(&self, principal: &Principal) -> Capabilities {
        match self.nextcloud_auth(principal).await {
            Ok(used) => self.capabilities.get(&self.nextcloud, &used.auth).await,
            Err(e) => {
                tracing::debug!(
                    kind = e.kind(),
                    "no Nextcloud credential to read capabilities with; listing every tool"
                );
                Capabilities::Unknown
            }
        }
    }

    /// The tools `principal` is shown: served, within its scopes, and (asking Nextcloud only
    /// when one of them needs an app) of apps the user has.
    pub async fn listed_tools(&self, principal: &Principal) -> Vec<&'static tools::ToolSpec> {
        let granted = principal.scopes.expanded();
        let visible: Vec<_> = self
            .tools
            .served()
            .filter(|spec| spec.allowed(&granted))
            .collect();
        let capabilities = if visible.iter().any(|spec| spec.requires.is_some()) {
            self.capabilities(principal).await
        } else {
            Capabilities::Unknown
        };
        visible
            .into_iter()
            .filter(|spec| spec.requires.is_none_or(|app| capabilities.has(app)))
            .collect()
    }

    async fn forget_exchanged(&self, principal: &Principal, used: &CallAuth) {
        if let (Some(exchange), Credential::AccessToken { token, .. }, Some(exchanged)) =
            (&self.exchange, &principal.credential, &used.exchanged)
        {
            exchange.forget(token, exchanged).await;
        }
    }

    /// Runs a tool. When Nextcloud refuses an exchanged credential, the cached exchange and
    /// user lookup for it are forgotten every time (so the next call exchanges afresh) and the
    /// call is retried once with a freshly exchanged credential: the auth-proxy may hold a
    /// newer one than the cache did.
    pub async fn run_tool(
        &self,
        name: &str,
        args: Option<rmcp::model::JsonObject>,
        principal: &Principal,
    ) -> Result<serde_json::Value, ToolError> {
        let mut retried = false;
        loop {
            let used = self.nextcloud_auth(principal).await?;
            if let Some(app) = tools::spec(name).and_then(|spec| spec.requires) {
                if !self
                    .capabilities
                    .get(&self.nextcloud, &used.auth)
                    .await
                    .has(app)
                {
                    return Err(ToolError::MissingApp(app));
                }
            }
            let ctx = ToolContext {
                nextcloud: &self.nextcloud,
                auth: used.auth.clone(),
                principal,
                users: &self.users,
            };
            match tools::call(name, args.clone(), &ctx).await {
                Err(ToolError::Nextcloud(NcError::Unauthorized))
                    if matches!(principal.credential, Credential::AccessToken { .. }) =>
                {
                    self.forget_exchanged(principal, &used).await;
                    self.users.forget(&ctx.auth).await;
                    self.capabilities.forget(&ctx.auth).await;
                    if retried {
                        return Err(ToolError::SignInAgain(match ctx.auth {
                            NcAuth::Basic { .. } => APP_PASSWORD_REFUSED,
                            NcAuth::Bearer(_) => ACCESS_TOKEN_REFUSED,
                        }));
                    }
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

/// The auth-proxy answered the exchange with `invalid_grant`.
const GRANT_REFUSED: &str = "This connection to Nextcloud is no longer valid: its sign-in \
or access token expired or was revoked, or the app password it used is gone. Sign in again (reconnect the MCP \
client) to continue.";

/// Nextcloud answered 401 to the app password the exchange handed out.
const APP_PASSWORD_REFUSED: &str = "Nextcloud no longer accepts this connection's app password: \
it was revoked (in Nextcloud under Settings → Security → Devices & sessions), or the connection \
itself was revoked. Sign in again (reconnect the MCP client) to create a new one.";

/// Nextcloud answered 401 to the access token the exchange handed out.
const ACCESS_TOKEN_REFUSED: &str = "Nextcloud no longer accepts this connection's access token: \
it expired or the sign-in was revoked. Sign in again (reconnect the MCP client) to get a new \
one.";

/// The details of a tool error name files, notes and events: only its kind is logged at info.
fn log_tool_error(tool: &str, error: &ToolError) {
    tracing::info!(tool, kind = error.kind(), "tool call failed");
    tracing::debug!(tool, %error, "tool call failed");
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
        let specs = self.backend.listed_tools(&principal).await;
        // The guard writes the serialised tools in place of an empty list (ADR 0022).
        let slot = on_request_extensions(&context.extensions).and_then(|e| e.get::<ListingSlot>());
        if let Some(slot) = slot {
            if let Some(serialized) = self.backend.listings.serialized(&specs).await {
                if slot.fill(serialized) {
                    return Ok(ListToolsResult::with_all_items(Vec::new()));
                }
            }
        }
        Ok(ListToolsResult::with_all_items(
            specs.into_iter().map(|spec| spec.to_tool()).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let principal = principal(&context)?;
        let result = self
            .backend
            .call(&request.name, request.arguments, &principal)
            .await;
        result.map(Into::into)
    }
}

impl Backend {
    /// One `tools/call`: refused when the tool is disabled or beyond the token's scopes (before
    /// any exchange or Nextcloud request), else run; counted, and written to the audit trail.
    pub async fn call(
        &self,
        name: &str,
        arguments: Option<rmcp::model::JsonObject>,
        principal: &Principal,
    ) -> Result<CallToolResult, McpError> {
        let metrics = &self.metrics;
        let spec = match self.tools.lookup(name) {
            Lookup::Served(spec) => spec,
            Lookup::Disabled(spec) => {
                metrics
                    .tool_calls
                    .with_label_values(&[spec.name, "disabled"])
                    .inc();
                metrics
                    .tool_denials
                    .with_label_values(&[Refusal::Disabled.as_str()])
                    .inc();
                audit::tool_call(
                    principal,
                    Some(spec.name),
                    Outcome::Refused(Refusal::Disabled),
                    None,
                );
                return Ok(tool_error(format!(
                    "the tool {} is disabled: the administrator of this server switched it off \
                     (do not retry; use another tool or ask the administrator)",
                    spec.name
                )));
            }
            Lookup::Unknown => {
                audit::tool_call(principal, None, Outcome::Error("unknown_tool"), None);
                return Err(McpError::invalid_params(
                    format!(
                        "unknown tool: {}",
                        name.chars().take(64).collect::<String>()
                    ),
                    None,
                ));
            }
        };
        // The HTTP guard already refused this with 403; this is defence in depth.
        if !spec.allowed(&principal.scopes.expanded()) {
            metrics
                .tool_calls
                .with_label_values(&[spec.name, "denied"])
                .inc();
            metrics
                .tool_denials
                .with_label_values(&[Refusal::Scope.as_str()])
                .inc();
            audit::tool_call(
                principal,
                Some(spec.name),
                Outcome::Refused(Refusal::Scope),
                None,
            );
            let one_of = if spec.any_of.is_empty() {
                ""
            } else {
                " (one of the choices)"
            };
            return Ok(tool_error(format!(
                "not permitted: this tool needs the scope(s) {}{one_of}",
                spec.named_scopes()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            )));
        }
        let started = mcp_shared::ops::clock::monotonic();
        let result = self.run_tool(spec.name, arguments, principal).await;
        let elapsed = started.elapsed();
        metrics
            .tool_duration
            .with_label_values(&[spec.name])
            .observe(elapsed.as_secs_f64());
        let (response, outcome) = match result {
            Ok(value) => {
                metrics
                    .tool_calls
                    .with_label_values(&[spec.name, "ok"])
                    .inc();
                // The JSON text block stays for clients that do not read structuredContent.
                let text = serde_json::to_string_pretty(&value).unwrap_or_default();
                let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
                if spec.output.is_some() {
                    result.structured_content = Some(value);
                }
                (result, Outcome::Ok)
            }
            Err(e) => {
                metrics
                    .tool_calls
                    .with_label_values(&[spec.name, "tool_error"])
                    .inc();
                log_tool_error(spec.name, &e);
                (tool_error(e.to_string()), Outcome::Error(e.kind()))
            }
        };
        audit::tool_call(principal, Some(spec.name), outcome, Some(elapsed));
        Ok(response)
    }
}

#[cfg(test)]
mod tests;
