//! `whoami`: the authenticated user, the MCP client, and the scopes granted to it.

use mcp_shared::Scope;
use rmcp::handler::server::common::schema_for_type;
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{ToolContext, ToolResult, ToolSpec};

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoamiArgs {}

pub const TOOLS: &[ToolSpec] = &[ToolSpec {
    name: "whoami",
    title: "Who am I",
    description: "Returns the signed-in Nextcloud user (id, display name, email), the MCP \
                  client acting for them, and the permissions (scopes) it was granted. Call it \
                  to check which Nextcloud apps the other tools may reach.",
    scopes: &[] as &[Scope],
    read_only: true,
    destructive: false,
    idempotent: true,
    schema: schema_for_type::<WhoamiArgs>,
    handler: |args, ctx| Box::pin(whoami(args, ctx)),
}];

async fn whoami(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let _: WhoamiArgs = super::parse_args(args)?;
    // Asked for each time: this is how a user checks that the connection still works.
    let user = ctx.fresh_user().await?;
    Ok(json!({
        "user": user,
        "subject": ctx.principal.subject,
        "client_id": ctx.principal.client_id,
        "scopes": ctx.principal.scopes.expanded().iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    }))
}
