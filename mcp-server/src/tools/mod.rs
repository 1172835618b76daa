//! The tool table: every tool with its required scopes (from the `shared` crate), its input
//! schema (schemars) and its handler. `tools/list` shows the tools a token's scopes allow;
//! the HTTP guard refuses a `tools/call` for any other with 403 `insufficient_scope`.

pub mod calendar;
pub mod contacts;
pub mod files;
pub mod notes;
pub mod whoami;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use mcp_shared::Scope;
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::Principal;
use crate::nextcloud::users::UserCache;
use crate::nextcloud::{NcAuth, NcError, NcUser, Nextcloud, Session};

pub struct ToolSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// Every scope the tool needs (write scopes imply their read scope).
    pub scopes: &'static [Scope],
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub schema: fn() -> Arc<JsonObject>,
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
            Self::SignInAgain(_) => "sign_in_again",
        }
    }
}

pub type ToolResult = Result<Value, ToolError>;

const TABLES: &[&[ToolSpec]] = &[
    whoami::TOOLS,
    notes::TOOLS,
    files::TOOLS,
    calendar::TOOLS,
    contacts::TOOLS,
];

pub fn all() -> impl Iterator<Item = &'static ToolSpec> {
    TABLES.iter().flat_map(|t| t.iter())
}

pub fn spec(name: &str) -> Option<&'static ToolSpec> {
    all().find(|s| s.name == name)
}

impl ToolSpec {
    pub fn to_tool(&self) -> Tool {
        let mut tool = Tool::new(self.name, self.description, (self.schema)());
        tool.title = Some(self.title.to_owned());
        tool.annotations = Some(
            ToolAnnotations::with_title(self.title)
                .read_only(self.read_only)
                .destructive(self.destructive)
                .idempotent(self.idempotent)
                .open_world(false),
        );
        tool
    }
}

/// The tool families an administrator can disable as a whole (`notes_*`): each is the prefix
/// of every tool of one table.
pub const FAMILIES: &[&str] = &["notes", "files", "calendar", "contacts"];

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
    let mut out =
        String::from("| tool | needs scope | changes data | what it does |\n|---|---|---|---|\n");
    for spec in governance.served() {
        let scopes = if spec.scopes.is_empty() {
            "— (any valid token)".to_owned()
        } else {
            spec.scopes
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let description = spec
            .description
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            spec.name,
            scopes,
            if spec.read_only { "no" } else { "yes" },
            description.replace('|', "\\|")
        ));
    }
    out
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
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn docs_list_every_tool_with_its_scopes() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/tools.md"))
            .expect("docs/tools.md exists");
        assert!(
            doc.contains(&markdown_table(&Governance::default())),
            "docs/tools.md is out of date: paste the output of `mcp-server --list-tools`"
        );
    }

    #[test]
    fn names_are_unique_valid_and_scoped() {
        let mut seen = HashSet::new();
        for spec in all() {
            assert!(seen.insert(spec.name), "duplicate tool {}", spec.name);
            assert!(spec
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()));
            assert!(!spec.description.is_empty());
            let schema = (spec.schema)();
            assert_eq!(
                schema.get("type").and_then(Value::as_str),
                Some("object"),
                "{}",
                spec.name
            );
            if spec.name != "whoami" {
                assert!(!spec.scopes.is_empty(), "{} needs a scope", spec.name);
            }
            if !spec.read_only {
                assert!(
                    spec.scopes.iter().any(|s| s.implied().is_some()),
                    "{} changes data but needs no write scope",
                    spec.name
                );
            }
        }
    }

    fn names(governance: &Governance) -> Vec<&'static str> {
        governance.served().map(|s| s.name).collect()
    }

    fn entries(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn families_are_the_prefixes_of_whole_tables() {
        for (family, table) in FAMILIES.iter().zip(&TABLES[1..]) {
            for spec in *table {
                assert!(
                    spec.name.starts_with(&format!("{family}_")),
                    "{}",
                    spec.name
                );
            }
        }
        assert_eq!(FAMILIES.len(), TABLES.len() - 1);
    }

    #[test]
    fn tools_and_families_can_be_disabled() {
        let all_tools = names(&Governance::default());
        assert_eq!(all_tools.len(), all().count());
        let g = Governance::new(&entries(&["files_*", "notes_delete"]), false).unwrap();
        let served = names(&g);
        assert!(
            served.iter().all(|n| !n.starts_with("files_")),
            "{served:?}"
        );
        assert!(!served.contains(&"notes_delete") && served.contains(&"notes_get"));
        assert!(served.contains(&"calendar_list_events") && served.contains(&"whoami"));
        assert!(matches!(g.lookup("files_read"), Lookup::Disabled(s) if s.name == "files_read"));
        assert!(matches!(g.lookup("notes_get"), Lookup::Served(_)));
        assert!(matches!(g.lookup("nope"), Lookup::Unknown));
        assert!(!markdown_table(&g).contains("`files_list`"));
    }

    #[test]
    fn read_only_disables_every_tool_that_changes_data() {
        let g = Governance::new(&[], true).unwrap();
        for spec in all() {
            let served = matches!(g.lookup(spec.name), Lookup::Served(_));
            assert_eq!(served, spec.read_only, "{}", spec.name);
        }
        assert!(g.disabled().contains(&"files_write"));
    }

    #[test]
    fn unknown_tools_and_families_are_refused_by_name() {
        for bad in [
            "file_read",
            "files",
            "mail_*",
            "*",
            "notes_get_*",
            "files_*x",
        ] {
            let e = Governance::new(&entries(&[bad]), false).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }
}
