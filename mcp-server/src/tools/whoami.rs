//! `whoami`: the authenticated user, the MCP client, and the scopes granted to it.

use mcp_shared::{Scope, ScopeSet};
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ToolContext, ToolResult, ToolSpec};
use crate::nextcloud::NcUser;

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoamiArgs {}

/// The answer (its schema is the tool's `outputSchema`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Whoami {
    /// The Nextcloud user, as far as the granted scopes show it.
    pub user: VisibleUser,
    /// The signed-in person at the identity provider (the Nextcloud user in single-user mode).
    pub subject: String,
    /// The MCP client acting for them (null in single-user mode).
    pub client_id: Option<String>,
    /// The granted scopes, with those that write scopes imply.
    pub scopes: Vec<&'static str>,
}

/// The user: the id always, the display name with `profile`, the email with `email` (each
/// null when Nextcloud has none).
#[derive(Debug, PartialEq, Serialize, JsonSchema)]
pub struct VisibleUser {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub displayname: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Option<String>>,
}

pub const TOOLS: &[ToolSpec] = &[ToolSpec {
    name: "whoami",
    title: "Who am I",
    // The display name needs the `profile` scope and the email `email` (see `visible_user`);
    // this text is mirrored in docs/tools.md.
    description: "Returns the signed-in Nextcloud user (id; display name with the profile \
                  scope, email with the email scope), the MCP client acting for them, and the permissions (scopes) it was granted. Call it \
                  to check which Nextcloud apps the other tools may reach.",
    scopes: &[] as &[Scope],
    any_of: &[],
    read_only: true,
    destructive: false,
    idempotent: true,
    open_world: false,
    output: Some(schema_for_output::<Whoami>),
    requires: None,
    schema: schema_for_type::<WhoamiArgs>,
    handler: |args, ctx| Box::pin(whoami(args, ctx)),
}];

async fn whoami(args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    let _: WhoamiArgs = super::parse_args(args)?;
    // Asked for each time: this is how a user checks that the connection still works.
    let user = ctx.fresh_user().await?;
    let scopes = &ctx.principal.scopes;
    super::answer(&Whoami {
        user: visible_user(&user, scopes),
        subject: ctx.principal.subject.clone(),
        client_id: ctx.principal.client_id.clone(),
        scopes: scopes.expanded().iter().map(|s| s.as_str()).collect(),
    })
}

/// What the token's scopes let the client see of the user (OpenID Connect's standard scopes):
/// the id always, the display name with `profile`, the email with `email`.
fn visible_user(user: &NcUser, scopes: &ScopeSet) -> VisibleUser {
    VisibleUser {
        id: user.id.clone(),
        displayname: scopes
            .contains(Scope::Profile)
            .then(|| user.displayname.clone()),
        email: scopes.contains(Scope::Email).then(|| user.email.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alice() -> NcUser {
        NcUser {
            id: "alice".into(),
            displayname: Some("Alice Liddell".into()),
            email: Some("alice@example.com".into()),
        }
    }

    #[test]
    fn the_user_shows_only_what_the_scopes_allow() {
        let cases = [
            ("openid", json!({"id": "alice"})),
            (
                "openid profile",
                json!({"id": "alice", "displayname": "Alice Liddell"}),
            ),
            (
                "openid email",
                json!({"id": "alice", "email": "alice@example.com"}),
            ),
            (
                "openid profile email notes:read",
                json!({"id": "alice", "displayname": "Alice Liddell", "email": "alice@example.com"}),
            ),
            ("notes:write", json!({"id": "alice"})),
        ];
        for (scope, expected) in cases {
            let scopes = ScopeSet::parse(scope).unwrap();
            let visible = serde_json::to_value(visible_user(&alice(), &scopes)).unwrap();
            assert_eq!(visible, expected, "{scope}");
        }
    }
}
