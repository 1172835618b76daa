//! The audit trail of tool calls: one line per `tools/call` on the tracing target `audit`
//! (JSON with `MCP_SERVER_LOG_FORMAT=json`), with the auth-proxy's field names: `subject` (who),
//! `client_id` (which client), `grant_id`, `tool`, `outcome`, `reason` and `duration_ms`. Never
//! arguments, results, file paths, note ids or tokens: a failed call is described by its
//! error kind only.

use std::time::Duration;

use crate::auth::{Credential, Principal};

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The tool ran and failed; the kind (`ToolError::kind`) says how, without details.
    Error(&'static str),
    /// The call was refused before the tool ran.
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The token's scopes do not cover the tool (403 `insufficient_scope`).
    Scope,
    /// The administrator disabled the tool (`MCP_SERVER_DISABLED_TOOLS`, `MCP_SERVER_READ_ONLY`).
    Disabled,
    /// The authorization server no longer exchanges the token: it or its grant was revoked.
    Revoked,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scope => "scope",
            Self::Disabled => "disabled",
            Self::Revoked => "revoked",
        }
    }
}

/// Writes the audit line of one tool call. `tool` is `None` for a name that is not in the
/// tool table (the caller's text is not repeated); `duration` is `None` for a refusal.
pub fn tool_call(
    principal: &Principal,
    tool: Option<&'static str>,
    outcome: Outcome,
    duration: Option<Duration>,
) {
    let (outcome, reason) = match outcome {
        Outcome::Ok => ("ok", None),
        Outcome::Error(kind) => ("error", Some(kind)),
        Outcome::Refused(why) => ("refused", Some(why.as_str())),
    };
    let grant_id = match &principal.credential {
        Credential::AccessToken { grant_id, .. } => Some(grant_id.as_str()),
        Credential::SingleUser => None,
    };
    tracing::info!(
        target: "audit",
        event = "tool.call",
        outcome,
        reason,
        subject = principal.subject.as_str(),
        client_id = principal.client_id.as_deref(),
        grant_id,
        tool,
        duration_ms = duration.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        "tool call"
    );
}
