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

    /// Free text that is never secret (a scope, an issuer, an auth method), written as it is:
    /// text from outside is passed through `mcp_shared::ops::telemetry::untrusted` first.
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
            detail = self.detail.map(tracing::field::display),
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
            detail = self.detail.map(tracing::field::display),
            "{message}"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn events_are_json_lines_on_the_audit_target_with_fixed_field_names() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            super::event("grant.revoked", "revoked")
                .reason("refresh_reuse")
                .subject("alice")
                .client("c1")
                .grant("g1")
                .warn("refresh token reuse detected: family revoked");
            super::event("client.registered", "ok").info("client registered");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["target"], "audit");
        assert_eq!(lines[0]["level"], "WARN");
        let fields = &lines[0]["fields"];
        for (name, value) in [
            ("event", "grant.revoked"),
            ("outcome", "revoked"),
            ("reason", "refresh_reuse"),
            ("subject", "alice"),
            ("client_id", "c1"),
            ("grant_id", "g1"),
        ] {
            assert_eq!(fields[name], value, "{name}: {text}");
        }
        // Fields not given are left out, not written empty.
        let fields = lines[1]["fields"].as_object().unwrap();
        assert!(
            !fields.contains_key("reason") && !fields.contains_key("grant_id"),
            "{text}"
        );
        assert_eq!(fields["event"], "client.registered");
    }
}
