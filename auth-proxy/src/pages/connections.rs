//! The connections page (`/connections`): the clients connected to the signed-in person's
//! account, one row per client, each with a Revoke button. Same rules as the consent page:
//! no script, every interpolated value escaped, never framed, never cached.

use actix_web::cookie::time::OffsetDateTime;
use mcp_shared::ScopeSet;

use super::{escape, page};

/// One client connected to the account (its grants taken together: the Nextcloud app
/// password is per person and client, so revocation is too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRow {
    pub client_id: String,
    pub client_name: Option<String>,
    /// For a client described by a Client ID Metadata Document: the document's host.
    pub document_host: Option<String>,
    pub scopes: ScopeSet,
    pub resources: Vec<String>,
    /// The oldest grant's creation (Unix seconds).
    pub granted_at: i64,
    /// The latest recorded use of any of its grants.
    pub last_used: Option<i64>,
}

pub struct ConnectionsView<'a> {
    /// Who is signed in, as the IdP named them (e-mail, else subject).
    pub signed_in_as: &'a str,
    pub rows: &'a [ConnectionRow],
    pub csrf_token: &'a str,
}

/// `2026-12-05 17:51 UTC`; minutes are all a person needs here.
pub fn format_time(unix: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => "unknown".to_owned(),
    }
}

fn row(r: &ConnectionRow, csrf: &str) -> String {
    let name = match r.client_name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => escape(n),
        _ => "An unnamed application".to_owned(),
    };
    let host = r
        .document_host
        .as_deref()
        .map(|h| {
            format!(
                "<p class=\"muted\">Described by a document at <span class=\"host\">{}</span>; \
                 its name is what that document says.</p>",
                escape(h)
            )
        })
        .unwrap_or_default();
    let scopes = if r.scopes.is_empty() {
        "<li>Only who you are (no access to your data)</li>".to_owned()
    } else {
        r.scopes
            .iter()
            .map(|s| {
                format!(
                    "<li>{} <code>{}</code></li>",
                    escape(s.description()),
                    escape(s.as_str())
                )
            })
            .collect()
    };
    let resources = r
        .resources
        .iter()
        .map(|res| format!("<code>{}</code>", escape(res)))
        .collect::<Vec<_>>()
        .join(", ");
    let last_used = r
        .last_used
        .map_or_else(|| "not since it was granted".to_owned(), format_time);
    format!(
        "<section class=\"connection\" data-client-id=\"{client_id}\">\
         <h2>{name}</h2>{host}\
         <ul>{scopes}</ul>\
         <p class=\"muted\">Granted {granted}<br>Last used {last_used}<br>\
         Client id <code>{client_id}</code><br>For {resources}</p>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"client_id\" value=\"{client_id}\">\
         <div class=\"actions\"><button type=\"submit\">Revoke</button></div></form>\
         </section>",
        client_id = escape(&r.client_id),
        granted = format_time(r.granted_at),
        action = mcp_shared::paths::CONNECTIONS_REVOKE,
        csrf = escape(csrf),
    )
}

pub fn connections(view: &ConnectionsView<'_>) -> String {
    let rows: String = view.rows.iter().map(|r| row(r, view.csrf_token)).collect();
    let list = if view.rows.is_empty() {
        "<p id=\"no-connections\">No application is connected to your account.</p>".to_owned()
    } else {
        format!(
            "<p class=\"muted\">Revoking an application signs it out at once: it can no longer \
             renew its access, and what it already holds stops working within minutes.</p>{rows}"
        )
    };
    let body = format!(
        "<h1>Connected applications</h1>\
         <p class=\"muted\">Signed in as <span class=\"host\">{who}</span></p>{list}\
         <form method=\"post\" action=\"{sign_out}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <div class=\"actions\"><button type=\"submit\" id=\"sign-out\">Sign out</button></div>\
         </form>",
        who = escape(view.signed_in_as),
        sign_out = mcp_shared::paths::CONNECTIONS_SIGN_OUT,
        csrf = escape(view.csrf_token),
    );
    page("Connected applications", &body)
}

pub fn signed_out() -> String {
    let body = format!(
        "<h1>You are signed out</h1>\
         <p><a class=\"button\" href=\"{}\">Sign in again</a></p>",
        mcp_shared::paths::CONNECTIONS
    );
    page("Signed out", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row_of(name: &str) -> ConnectionRow {
        ConnectionRow {
            client_id: "c\"1".into(),
            client_name: Some(name.into()),
            document_host: Some("<evil>.example".into()),
            scopes: ScopeSet::parse("notes:read").unwrap(),
            resources: vec!["http://127.0.0.1:8000/mcp".into()],
            granted_at: 1_700_000_000,
            last_used: None,
        }
    }

    #[test]
    fn everything_is_escaped_and_each_row_posts_its_client_with_the_token() {
        let rows = [row_of("<script>alert(1)</script>")];
        let html = connections(&ConnectionsView {
            signed_in_as: "a<b>@example.com",
            rows: &rows,
            csrf_token: "tok\"en",
        });
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<evil>"));
        assert!(!html.contains("a<b>"));
        assert!(html.contains("name=\"client_id\" value=\"c&quot;1\""));
        assert!(html.contains("name=\"csrf\" value=\"tok&quot;en\""));
        assert!(html.contains("action=\"/connections/revoke\""));
        assert!(html.contains("2023-11-14 22:13 UTC"));
        assert!(html.contains("not since it was granted"));
    }

    #[test]
    fn no_rows_says_so() {
        let html = connections(&ConnectionsView {
            signed_in_as: "alice",
            rows: &[],
            csrf_token: "t",
        });
        assert!(html.contains("no-connections"));
        assert!(!html.contains("Revoke"));
    }
}
