//! The tool table: every tool with its required scopes (from the `shared` crate), its input
//! schema (schemars), its annotations, its output schema where the result is data, the
//! Nextcloud app it needs, and its handler. `tools/list` shows the tools a token's scopes allow
//! (and whose app the user has); the HTTP guard refuses a `tools/call` for any other scope with
//! 403 `insufficient_scope`.

pub mod calendar;
pub mod contacts;
pub mod deck;
pub mod files;
pub mod files_extra;
pub mod notes;
pub mod paging;
pub mod search;
pub mod sharing;
pub mod talk;
pub mod tasks;
pub mod whoami;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use mcp_shared::{Scope, ScopeSet};
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::Principal;
use crate::nextcloud::capabilities::App;
use crate::nextcloud::users::UserCache;
use crate::nextcloud::{NcAuth, NcError, NcUser, Nextcloud, Session};

pub struct ToolSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// Every scope the tool needs (write scopes imply their read scope).
    pub scopes: &'static [Scope],
    /// At least one of these scopes, besides every one of `scopes`; empty: no such rule. For
    /// tools over several families' data (`search`, `fetch`), which keep to the families the
    /// token covers.
    pub any_of: &'static [Scope],
    /// MCP annotations (hints to clients, which may ask before calling a tool that is not
    /// read-only, or destructive). `destructive`: may delete or replace what is there;
    /// `idempotent`: calling again with the same arguments changes nothing more.
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    /// The tool reaches other people (sends a message or invitation, shares, assigns): its
    /// description must say so. Everything else stays inside the user's own Nextcloud data.
    pub open_world: bool,
    pub schema: fn() -> Arc<JsonObject>,
    /// The JSON Schema of the result (`schema_for_output::<T>` of the type the handler
    /// serializes), for tools whose result is data: sent as `outputSchema`, and the result
    /// then also goes out as `structuredContent`.
    pub output: Option<fn() -> Arc<JsonObject>>,
    /// The Nextcloud app the tool needs; hidden from users who do not have it.
    pub requires: Option<App>,
    /// Runs the tool; the caller has checked the scopes.
    pub handler: Handler,
}

impl std::fmt::Debug for ToolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSpec")
            .field("name", &self.name)
            .finish()
    }
}

/// A tool's implementation: arguments and context in, the answer (JSON) out.
pub type Handler = for<'a> fn(Option<JsonObject>, &'a ToolContext<'a>) -> BoxFuture<'a, ToolResult>;

/// Everything a handler may use for one call.
pub struct ToolContext<'a> {
    pub nextcloud: &'a Nextcloud,
    pub auth: NcAuth,
    pub principal: &'a Principal,
    pub users: &'a UserCache,
}

impl ToolContext<'_> {
    /// The Nextcloud user id of the caller (remembered per credential, see [`UserCache`]).
    pub async fn user_id(&self) -> Result<String, NcError> {
        Ok(self.user().await?.id)
    }

    /// The call's way into the user's DAV data (the user id resolved once).
    pub async fn session(&self) -> Result<Session<'_>, NcError> {
        let user = self.user_id().await?;
        Ok(Session::new(self.nextcloud, self.auth.clone(), user))
    }

    /// The caller's Nextcloud user document.
    pub async fn user(&self) -> Result<NcUser, NcError> {
        self.users.get(self.nextcloud, &self.auth).await
    }

    /// The caller's Nextcloud user document, asked for now (see [`UserCache::refresh`]).
    pub async fn fresh_user(&self) -> Result<NcUser, NcError> {
        self.users.refresh(self.nextcloud, &self.auth).await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    #[error(transparent)]
    Nextcloud(#[from] NcError),
    #[error("{0}")]
    Unavailable(String),
    /// The user's Nextcloud lacks the app the tool needs (from its capabilities).
    #[error(
        "this tool needs the {} on Nextcloud, which is not installed or not enabled for this \
         user: do not retry; ask the Nextcloud administrator, or use another tool",
        .0.label()
    )]
    MissingApp(App),
    /// This connection's way into Nextcloud no longer works (the grant or its Nextcloud
    /// credential was revoked); only signing in again (reconnecting the MCP client) helps.
    #[error("{0}")]
    SignInAgain(&'static str),
}

impl ToolError {
    /// What kind of failure this is, without its details (which name files, notes, events):
    /// what logs at info level may say.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidArguments(_) => "invalid_arguments",
            Self::Nextcloud(e) => match e {
                NcError::Unauthorized => "nextcloud_unauthorized",
                NcError::Forbidden(_) => "nextcloud_forbidden",
                NcError::NotFound(_) => "not_found",
                NcError::Conflict(_) => "conflict",
                NcError::AlreadyExists(_) => "already_exists",
                NcError::InvalidInput(_) => "invalid_input",
                NcError::InsufficientStorage => "insufficient_storage",
                NcError::RateLimited => "nextcloud_rate_limited",
                NcError::Unavailable(_) => "nextcloud_unavailable",
                NcError::BadResponse(_) => "nextcloud_bad_response",
            },
            Self::Unavailable(_) => "unavailable",
            Self::MissingApp(_) => "missing_app",
            Self::SignInAgain(_) => "sign_in_again",
        }
    }
}

pub type ToolResult = Result<Value, ToolError>;

/// Every family's table, with the prefix its tools' names share (the family an administrator
/// can disable as `<prefix>_*`); `None` for tools named on their own (`whoami`, `search`,
/// `fetch`).
const TABLES: &[(Option<&str>, &[ToolSpec])] = &[
    (None, whoami::TOOLS),
    (Some("notes"), notes::TOOLS),
    (Some("files"), files::TOOLS),
    (Some("files"), files_extra::TOOLS),
    (Some("calendar"), calendar::TOOLS),
    (Some("contacts"), contacts::TOOLS),
    (Some("tasks"), tasks::TOOLS),
    (Some("sharing"), sharing::TOOLS),
    (Some("deck"), deck::TOOLS),
    (Some("talk"), talk::TOOLS),
    (None, search::TOOLS),
];

/// (name, read-only, destructive, idempotent, reaches other people, needs an app): a tool's
/// pinned hints, for the test that every tool has a row (here or in its family's `HINTS`): a
/// change there is a change of what clients are told, made on purpose.
#[cfg(test)]
pub(crate) type Hints = (&'static str, bool, bool, bool, bool, Option<App>);

pub fn all() -> impl Iterator<Item = &'static ToolSpec> {
    TABLES.iter().flat_map(|(_, t)| t.iter())
}

pub fn spec(name: &str) -> Option<&'static ToolSpec> {
    all().find(|s| s.name == name)
}

impl ToolSpec {
    /// Whether a token with the `granted` scopes (already expanded: write implies read) may
    /// see and call this tool.
    pub fn allowed(&self, granted: &ScopeSet) -> bool {
        self.scopes.iter().all(|s| granted.contains(*s))
            && (self.any_of.is_empty() || self.any_of.iter().any(|s| granted.contains(*s)))
    }

    /// The scopes to name when the tool is refused: all of `scopes`, and the `any_of` choices.
    pub fn named_scopes(&self) -> impl Iterator<Item = Scope> + '_ {
        self.scopes.iter().chain(self.any_of).copied()
    }

    pub fn to_tool(&self) -> Tool {
        let mut tool = Tool::new(self.name, self.description, (self.schema)());
        tool.title = Some(self.title.to_owned());
        tool.annotations = Some(
            ToolAnnotations::with_title(self.title)
                .read_only(self.read_only)
                .destructive(self.destructive)
                .idempotent(self.idempotent)
                .open_world(self.open_world),
        );
        tool.output_schema = self.output.map(|schema| schema());
        tool
    }
}

/// The tool families an administrator can disable as a whole (`notes_*`): each is the prefix
/// of every tool of its tables.
pub const FAMILIES: &[&str] = &[
    "notes", "files", "calendar", "contacts", "tasks", "sharing", "deck", "talk",
];

/// Which tools this instance serves: the administrator may disable single tools, whole
/// families, or (read-only mode) every tool that changes data. A disabled tool is not listed,
/// and calling it is refused before anything reaches the auth-proxy or Nextcloud.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Governance {
    /// Names from the tool table, in table order.
    disabled: Vec<&'static str>,
}

/// What a tool name refers to under a [`Governance`].
#[derive(Debug, Clone, Copy)]
pub enum Lookup {
    Served(&'static ToolSpec),
    Disabled(&'static ToolSpec),
    Unknown,
}

impl Governance {
    /// `entries`: tool names or `<family>_*`; an unknown one is an error naming it (a typo
    /// must not leave a tool on that the administrator meant to switch off).
    pub fn new(entries: &[String], read_only: bool) -> Result<Self, String> {
        let mut names: Vec<&str> = Vec::new();
        let mut families: Vec<&str> = Vec::new();
        for entry in entries {
            match entry.strip_suffix("_*") {
                Some(family) if FAMILIES.contains(&family) => families.push(family),
                _ if spec(entry).is_some() => names.push(entry),
                _ => {
                    return Err(format!(
                        "unknown tool or family `{}`: expected tool names (mcp-server \
                         --list-tools) or {}",
                        mcp_shared::ops::telemetry::untrusted(entry, 64),
                        FAMILIES
                            .iter()
                            .map(|f| format!("{f}_*"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
        }
        let disabled = all()
            .filter(|spec| {
                names.contains(&spec.name)
                    || families.iter().any(|f| {
                        spec.name
                            .strip_prefix(f)
                            .is_some_and(|r| r.starts_with('_'))
                    })
                    || (read_only && !spec.read_only)
            })
            .map(|spec| spec.name)
            .collect();
        Ok(Self { disabled })
    }

    pub fn lookup(&self, name: &str) -> Lookup {
        match spec(name) {
            Some(spec) if self.disabled.contains(&spec.name) => Lookup::Disabled(spec),
            Some(spec) => Lookup::Served(spec),
            None => Lookup::Unknown,
        }
    }

    /// The tools this instance serves, in table order.
    pub fn served(&self) -> impl Iterator<Item = &'static ToolSpec> + '_ {
        all().filter(|spec| !self.disabled.contains(&spec.name))
    }

    /// The disabled tools, in table order.
    pub fn disabled(&self) -> &[&'static str] {
        &self.disabled
    }
}

/// The tool reference table of docs/tools.md, generated from this table (a test keeps the
/// document in step with the full table; `mcp-server --list-tools` prints the tools the
/// configuration serves).
pub fn markdown_table(governance: &Governance) -> String {
    let mut out = String::from(
        "| tool | needs scope | changes data | hints | what it does |\n|---|---|---|---|---|\n",
    );
    for spec in governance.served() {
        let listed = |scopes: &[Scope]| scopes.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>();
        let scopes = match (spec.scopes.is_empty(), spec.any_of.is_empty()) {
            (true, true) => "— (any valid token)".to_owned(),
            (false, true) => listed(spec.scopes).join(" "),
            (all, false) => {
                let one_of = format!("one of {}", listed(spec.any_of).join(", "));
                if all {
                    one_of
                } else {
                    format!("{} and {one_of}", listed(spec.scopes).join(" "))
                }
            }
        };
        let description = spec
            .description
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            spec.name,
            scopes,
            if spec.read_only { "no" } else { "yes" },
            hints(spec),
            description.replace('|', "\\|")
        ));
    }
    out
}

/// A tool's answer as JSON, from the type whose schema is its `outputSchema`.
pub fn answer<T: serde::Serialize>(value: &T) -> ToolResult {
    serde_json::to_value(value)
        .map_err(|e| ToolError::Unavailable(format!("the answer could not be written ({e})")))
}

/// The hints column of the reference table: the annotations a client acts on, the app the tool
/// needs, and whether its result comes with a schema.
fn hints(spec: &ToolSpec) -> String {
    let mut hints: Vec<String> = Vec::new();
    if spec.destructive {
        hints.push("destructive".into());
    }
    if !spec.read_only && spec.idempotent {
        hints.push("idempotent".into());
    }
    if spec.open_world {
        hints.push("reaches other people".into());
    }
    if let Some(app) = spec.requires {
        hints.push(format!("needs the {}", app.label()));
    }
    if spec.output.is_some() {
        hints.push("structured result".into());
    }
    if hints.is_empty() {
        "—".into()
    } else {
        hints.join(", ")
    }
}

/// Parses tool arguments; a missing `arguments` object counts as `{}`.
pub fn parse_args<T: DeserializeOwned>(args: Option<JsonObject>) -> Result<T, ToolError> {
    serde_json::from_value(Value::Object(args.unwrap_or_default()))
        .map_err(|e| ToolError::InvalidArguments(e.to_string()))
}

/// Runs tool `name`. The caller has checked that the scopes allow it.
pub async fn call(name: &str, args: Option<JsonObject>, ctx: &ToolContext<'_>) -> ToolResult {
    match spec(name) {
        Some(spec) => (spec.handler)(args, ctx).await,
        None => Err(ToolError::InvalidArguments(format!("unknown tool {name}"))),
    }
}

#[cfg(test)]
mod tests;
