//! The audit trail of the authorization server (ADR 0021): one line per grant issued, refusal
//! and revocation on the tracing target `audit` (JSON with `AUTH_PROXY_LOG_FORMAT=json`), with
//! the same field names as the mcp-server's tool-call lines: `event`, `outcome`, `reason`,
//! `subject`, `client_id`, `grant_id`, plus `detail` (a fixed phrase or a non-secret value
//! such as a scope or an issuer). Never codes, tokens, assertions, secrets or passwords.

/// One audit event; build it, then [`Event::info`] or [`Event::warn`].
#[derive(Debug, Clone, Copy)]
#[must_use = "an audit event is written by .info() or .warn()"]
pub struct Event<'a> {
    event: &'static str,
    outcome: &'static str,
    reason: Option<&'a str>,
    subject: Option<&'a str>,
    client_id: Option<&'a str>,
    grant_id: Option<&'a str>,
    detail: Option<&'a str>,
}

/// `event` names a fixed kind (`grant.issued`, `grant.refused`, `grant.revoked`,
/// `policy.denied`, `client.registered`, …); `outcome` is `ok`, `refused` or `revoked`.
pub fn event(event: &'static str, outcome: &'static str) -> Event<'static> {
    Event {
        event,
        outcome,
        reason: None,
        subject: None,
        client_id: None,
        grant_id: None,
        detail: None,
    }
}

impl<'a> Event<'a> {
    /// A fixed reason label (the denial label where there is one).
    pub fn reason(self, reason: &'a str) -> Self {
        Self {
            reason: Some(reason),
            ..self
        }
    }

    pub fn subject(self, subject: &'a str) -> Self {
        Self {
            subject: Some(subject),
            ..self
        }
    }

    pub fn client(self, client_id: &'a str) -> Self {
        Self {
            client_id: Some(client_id),
            ..self
        }
    }

    pub fn grant(self, grant_id: &'a str) -> Self {
        Self {
            grant_id: Some(grant_id),
            ..self
        }
    }

    /// Free text that is never secret (a scope, an issuer, an auth method).
    pub fn detail(self, detail: &'a str) -> Self {
        Self {
            detail: Some(detail),
            ..self
        }
    }

    pub fn info(self, message: &str) {
        tracing::info!(
            target: "audit",
            event = self.event,
            outcome = self.outcome,
            reason = self.reason,
            subject = self.subject,
            client_id = self.client_id,
            grant_id = self.grant_id,
            detail = self.detail,
            "{message}"
        );
    }

    pub fn warn(self, message: &str) {
        tracing::warn!(
            target: "audit",
            event = self.event,
            outcome = self.outcome,
            reason = self.reason,
            subject = self.subject,
            client_id = self.client_id,
            grant_id = self.grant_id,
            detail = self.detail,
            "{message}"
        );
    }
}
