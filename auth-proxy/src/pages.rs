//! Server-rendered HTML: the consent page and the error page. Plain, readable, no script, every
//! interpolated value escaped, never framed.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use mcp_shared::{Scope, ScopeSet};

mod connections;
pub use self::connections::{connections, format_time, signed_out, ConnectionRow, ConnectionsView};

/// No script at all; inline style only; nothing may frame these pages (clickjacking on an
/// approve button is the attack this stops).
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'";

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Security headers every page carries.
pub fn html_response(status: StatusCode) -> HttpResponseBuilder {
    let mut b = HttpResponse::build(status);
    b.content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on the
        // consent form post, defeating the Origin check; the referrer never leaves our origin.
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    b
}

const STYLE: &str = r#"
:root { color-scheme: light dark; --fg:#1d1d1f; --muted:#5f6368; --bg:#f6f7f9; --card:#fff; --line:#dcdfe4; --accent:#0b57d0; --warn:#8a4b00; --warnbg:#fff4e5; }
@media (prefers-color-scheme: dark) { :root { --fg:#e8eaed; --muted:#9aa0a6; --bg:#202124; --card:#2b2c30; --line:#3c4043; --accent:#8ab4f8; --warn:#fdd663; --warnbg:#3c3222; } }
* { box-sizing: border-box; }
body { margin:0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
main { max-width: 34rem; margin: 3rem auto; padding: 2rem; background: var(--card); border:1px solid var(--line); border-radius: 12px; }
h1 { font-size: 1.35rem; margin: 0 0 1rem; }
p { margin: .5rem 0; }
.muted { color: var(--muted); font-size: .9rem; }
.host { font-weight: 600; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; overflow-wrap: anywhere; }
ul { padding-left: 1.2rem; margin: .5rem 0 1rem; }
li { margin: .25rem 0; }
code { font-size: .85rem; color: var(--muted); }
.warn { background: var(--warnbg); color: var(--warn); padding: .6rem .8rem; border-radius: 8px; font-size: .9rem; }
.actions { display:flex; gap: .75rem; margin-top: 1.5rem; }
button { flex:1; font: inherit; padding: .65rem 1rem; border-radius: 8px; border: 1px solid var(--line); background: transparent; color: var(--fg); cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; font-weight: 600; }
a.button { flex:1; display:block; text-align:center; text-decoration:none; font: inherit; padding: .65rem 1rem; border-radius: 8px; border: 1px solid var(--line); color: var(--fg); }
a.button.primary { background: var(--accent); border-color: var(--accent); color: #fff; font-weight: 600; }
ol { padding-left: 1.2rem; }
/* Approve takes no click for its first second (no script here, so CSS does it): a double-click
   aimed at where the previous page had a button, or a page swapped in under the pointer, must
   not approve. On a device with a pointer the second starts again whenever the pointer comes
   back onto the card. Deny, first in the form, stays the default for the Enter key. */
@keyframes arm { from { pointer-events: none; opacity: .45; } }
@keyframes rearm { from { pointer-events: none; opacity: .45; } }
button.arming { animation: arm 1s step-end both; }
@media (hover: hover) { main:hover button.arming { animation-name: rearm; } }
@media (prefers-color-scheme: dark) { button.primary { color: #202124; } }
"#;

fn page(title: &str, body: &str) -> String {
    page_refreshing(title, body, None)
}

/// A page that reloads itself every `refresh_secs` (`<meta http-equiv="refresh">`: no script
/// needed, so the CSP stays script-free).
fn page_refreshing(title: &str, body: &str, refresh_secs: Option<u32>) -> String {
    let refresh = refresh_secs
        .map(|s| format!("<meta http-equiv=\"refresh\" content=\"{s}\">"))
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"same-origin\">{refresh}\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

/// What the Nextcloud connect page (`/nextcloud/connect`) shows while it waits.
pub struct ConnectView<'a> {
    pub client_name: &'a str,
    /// Nextcloud's grant page (public URL).
    pub login_url: &'a str,
    /// Nextcloud's host, as the person will see it in the address bar.
    pub nextcloud_host: &'a str,
    /// Nextcloud did not answer the last check.
    pub unavailable: bool,
    /// Minutes left to grant access.
    pub minutes_left: i64,
}

/// Seconds between two automatic checks of the connect page.
pub const CONNECT_REFRESH_SECS: u32 = 3;

/// The step between signing in and returning to the client, for the app-password strategy:
/// what is about to happen, the link to Nextcloud's grant page (a new tab), and a page that
/// checks by itself every few seconds and moves on once access is granted.
pub fn connect_waiting(view: &ConnectView<'_>) -> HttpResponse {
    let note = if view.unavailable {
        "<p class=\"warn\" id=\"nextcloud-unavailable\">Nextcloud is not answering at the \
         moment. This page keeps checking; nothing needs to be done again.</p>"
    } else {
        ""
    };
    let body = format!(
        "<h1>Connect {client} to your Nextcloud</h1>\
         <p>{client} needs its own access to your files, notes, calendars and contacts on \
         <span class=\"host\">{host}</span>. Nextcloud will ask you to grant access and create \
         an app password for this connection only. You can revoke it any time in Nextcloud under \
         Settings → Security → Devices &amp; sessions.</p>\
         <ol><li>Open Nextcloud (a new tab), sign in if asked, and choose <b>Grant access</b>.</li>\
         <li>Come back to this tab: it continues by itself.</li></ol>\
         {note}\
         <div class=\"actions\"><a class=\"button primary\" id=\"open-nextcloud\" \
         href=\"{url}\" target=\"_blank\" rel=\"noopener noreferrer\">Open Nextcloud</a></div>\
         <p class=\"muted\" id=\"waiting\">Waiting for Nextcloud… (checked every \
         {every} seconds; {minutes} min left). Only grant access if you started this sign-in \
         yourself.</p>",
        client = escape(view.client_name),
        host = escape(view.nextcloud_host),
        url = escape(view.login_url),
        every = CONNECT_REFRESH_SECS,
        minutes = view.minutes_left.max(1),
    );
    html_response(StatusCode::OK).body(page_refreshing(
        "Connect to Nextcloud",
        &body,
        Some(CONNECT_REFRESH_SECS),
    ))
}

/// Nextcloud could not start the Login Flow: 503, and the page tries again by itself.
pub fn connect_unavailable() -> HttpResponse {
    let body = "<h1>Nextcloud cannot be reached</h1>\
         <p id=\"nextcloud-unavailable\">Your sign-in worked, but Nextcloud did not answer. \
         This page tries again by itself every few seconds.</p>";
    let mut resp = html_response(StatusCode::SERVICE_UNAVAILABLE).body(page_refreshing(
        "Nextcloud cannot be reached",
        body,
        Some(5),
    ));
    resp.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    resp
}

/// Another Nextcloud account granted access (or Nextcloud refused its own new app password):
/// nothing was kept; the link returns the error to the application.
pub fn connect_refused(client_name: &str, return_url: &str) -> HttpResponse {
    let body = format!(
        "<h1>Access was not connected</h1>\
         <p class=\"warn\" id=\"refused\">Access was granted from a different Nextcloud \
         account than the one you signed in with. For your safety it was not used and the new \
         app password was deleted.</p>\
         <p>If you did not open Nextcloud yourself, someone may have tried to get access to an \
         account through you: tell your administrator.</p>\
         <div class=\"actions\"><a class=\"button\" id=\"return\" href=\"{url}\">Return to \
         {client}</a></div>",
        client = escape(client_name),
        url = escape(return_url),
    );
    html_response(StatusCode::FORBIDDEN).body(page("Access was not connected", &body))
}

/// Nobody granted access in time.
pub fn connect_expired(client_name: &str, return_url: &str) -> HttpResponse {
    let body = format!(
        "<h1>The time to grant access ran out</h1>\
         <p id=\"expired\">Nextcloud access was not granted in time, so the sign-in was not \
         completed. Start again from {client}.</p>\
         <div class=\"actions\"><a class=\"button\" id=\"return\" href=\"{url}\">Return to \
         {client}</a></div>",
        client = escape(client_name),
        url = escape(return_url),
    );
    html_response(StatusCode::OK).body(page("The time to grant access ran out", &body))
}

/// Where the result of the sign-in goes, as the consent page names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectTarget<'a> {
    /// An https address: its host.
    Web { host: &'a str },
    /// An http address on this computer (127.0.0.1, [::1], localhost).
    Loopback { host: &'a str },
    /// A private-use URI scheme of a native app (RFC 8252 §7.1): whichever app on this device
    /// claims the scheme. The host, if any, is chosen by that app and proves nothing.
    App {
        scheme: &'a str,
        host: Option<&'a str>,
    },
}

impl<'a> RedirectTarget<'a> {
    /// Classifies a (validated) redirect URI.
    pub fn of(uri: &'a url::Url) -> Self {
        let host = uri.host_str().filter(|h| !h.is_empty());
        match (uri.scheme(), host) {
            ("http", Some(host)) if crate::redirect::is_loopback_host(uri) => {
                Self::Loopback { host }
            }
            ("http" | "https", Some(host)) => Self::Web { host },
            (scheme, host) => Self::App { scheme, host },
        }
    }
}

pub struct ConsentView<'a> {
    pub client_name: Option<&'a str>,
    pub client_id: &'a str,
    /// For a client described by a Client ID Metadata Document: the document's host.
    pub document_host: Option<&'a str>,
    pub redirect: RedirectTarget<'a>,
    /// The client may use the refresh grant: it stays connected while the person is away
    /// (ADR 0015).
    pub stays_connected: bool,
    pub resource: &'a str,
    pub scopes: &'a ScopeSet,
    pub flow_id: &'a str,
    pub csrf_token: &'a str,
}

pub fn consent(view: &ConsentView<'_>) -> String {
    let name = match view.client_name {
        Some(n) if !n.trim().is_empty() => escape(n.trim()),
        _ => "An unnamed application".to_owned(),
    };
    let mut scope_items = String::new();
    let data_scopes: Vec<Scope> = view.scopes.iter().filter(|s| !s.is_identity()).collect();
    // Data scopes can be unticked: the person may grant less than the application asks for.
    for scope in view.scopes.iter() {
        if scope.is_identity() {
            scope_items.push_str(&format!(
                "<li>{} <code>{}</code></li>",
                escape(scope.description()),
                escape(scope.as_str())
            ));
        } else {
            scope_items.push_str(&format!(
                "<li><label><input type=\"checkbox\" name=\"grant.{value}\" value=\"on\" checked> \
                 {} <code>{value}</code></label></li>",
                escape(scope.description()),
                value = escape(scope.as_str())
            ));
        }
    }
    if view.scopes.is_empty() {
        scope_items.push_str("<li>Confirm who you are (no access to your data)</li>");
    }
    let destination = match view.redirect {
        RedirectTarget::Web { host } | RedirectTarget::Loopback { host } => format!(
            "<p>After you approve and sign in, you will be sent back to \
             <span class=\"host\">{}</span>.</p>",
            escape(host)
        ),
        RedirectTarget::App { scheme, .. } => format!(
            "<p>After you approve and sign in, the result goes to the app on this device \
             that opens <span class=\"host\">{}:</span> links.</p>",
            escape(scheme)
        ),
    };
    let redirect_note = match view.redirect {
        RedirectTarget::Web { .. } => String::new(),
        RedirectTarget::Loopback { .. } => "<p class=\"warn\">This application receives the \
             result on this computer (a local address). Approve only if you just started it \
             yourself.</p>"
            .to_owned(),
        RedirectTarget::App { scheme, host } => {
            let host_note = host
                .map(|h| {
                    format!(
                        " The <span class=\"host\">{}</span> in its address is chosen by the app \
                         and proves nothing about who made it.",
                        escape(h)
                    )
                })
                .unwrap_or_default();
            format!(
                "<p class=\"warn\" id=\"app-redirect-warning\">An app installed on this device \
                 will receive this access: whichever app claims <span class=\"host\">{scheme}:\
                 </span> links, and any app can claim them.{host_note} Approve only if you just \
                 started this sign-in from that app yourself.</p>",
                scheme = escape(scheme),
            )
        }
    };
    let document_note = match view.document_host {
        Some(host) => format!(
            "<p>This application describes itself with a document published at \
             <span class=\"host\">{}</span>. Its name is what that document says.</p>",
            escape(host)
        ),
        None => String::new(),
    };
    let data_note = if data_scopes.is_empty() {
        ""
    } else {
        "<p class=\"muted\">Untick what you do not want to allow. It will act as you, within the \
         permissions you leave ticked.</p>"
    };
    let duration = if view.stays_connected {
        "<p class=\"muted\" id=\"stays-connected\">It stays connected, also while you are \
         not using it, until it signs out or its access is revoked.</p>"
    } else {
        "<p class=\"muted\" id=\"one-session\">It cannot renew its access: when that runs \
         out, it has to ask you again.</p>"
    };
    let body = format!(
        "<h1>Allow {name} to access your Nextcloud?</h1>\
         {destination}{redirect_note}{document_note}\
         <form method=\"post\" action=\"{action}\">\
         <p>It is asking to:</p><ul>{scope_items}</ul>{data_note}{duration}\
         <p class=\"muted\">Client id <code>{client_id}</code><br>For <code>{resource}</code></p>\
         <input type=\"hidden\" name=\"flow\" value=\"{flow}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"scope_choice\" value=\"1\">\
         <div class=\"actions\">\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
         <button type=\"submit\" name=\"decision\" value=\"approve\" class=\"primary arming\">Approve</button>\
         </div></form>",
        client_id = escape(view.client_id),
        resource = escape(view.resource),
        action = mcp_shared::paths::CONSENT,
        flow = escape(view.flow_id),
        csrf = escape(view.csrf_token),
    );
    page(
        &format!(
            "Allow {} access?",
            view.client_name.unwrap_or("application")
        ),
        &body,
    )
}

/// Why a browser-facing endpoint (`/authorize`, `/consent`, `/callback`) shows an error page
/// instead of redirecting: the one error type of the browser pages, as `OAuthError` is for the
/// JSON endpoints, with one mapping to status, title and text ([`PageError::parts`]). Side
/// effects (metrics, logs) stay with the caller, which knows the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    /// `/authorize` before the client and redirect URI are verified.
    InvalidRequest(String),
    /// A consent form that is missing fields or carries an unknown decision.
    InvalidForm,
    /// The consent flow was already used or timed out.
    FlowExpired,
    /// The callback names no state.
    CallbackWithoutState,
    /// The callback's flow was already completed or timed out.
    CallbackExpired,
    /// The consent came from another browser (cookie, CSRF token or Origin).
    ConsentFromOtherBrowser,
    /// The sign-in finished in another browser than it started in.
    CallbackInOtherBrowser,
    /// Too many requests from this address; `retry_after` in seconds.
    RateLimited {
        status: StatusCode,
        retry_after: Option<u64>,
    },
    /// The store failed (the status says how: 503 unavailable, 500 corrupt).
    Unavailable(StatusCode),
    /// The upstream IdP cannot be reached.
    UpstreamUnavailable,
    /// A stored redirect URI does not parse (validated at registration: unreachable).
    InvalidRedirectAddress,
    /// The Nextcloud connect page's sign-in is unknown, finished long ago or timed out.
    ConnectExpired,
    /// A connections-page form without a live session (signed out, or it expired).
    ConnectionsSignedOut,
    /// A connections-page form whose CSRF token or Origin is not this page's.
    ConnectionsForbidden,
    /// The connections page is switched off (`AUTH_PROXY_CONNECTIONS_ENABLED`).
    ConnectionsDisabled,
    /// The IdP ended a connections-page sign-in with an error or an unverifiable answer.
    ConnectionsSignInFailed,
}

impl PageError {
    /// Status, title and text of the page.
    pub fn parts(&self) -> (StatusCode, &'static str, std::borrow::Cow<'static, str>) {
        let bad = StatusCode::BAD_REQUEST;
        match self {
            Self::InvalidRequest(detail) => (
                bad,
                "This sign-in request is not valid",
                detail.clone().into(),
            ),
            Self::InvalidForm => (
                bad,
                "This form is not valid",
                "Start again from the application.".into(),
            ),
            Self::FlowExpired => (
                bad,
                "This sign-in request has expired",
                "It was already used or took too long. Start again from the application.".into(),
            ),
            Self::CallbackWithoutState => (
                bad,
                "This sign-in response is not valid",
                "It carries no state.".into(),
            ),
            Self::CallbackExpired => (
                bad,
                "This sign-in has expired",
                "It was already completed or took too long. Start again from the application."
                    .into(),
            ),
            Self::ConsentFromOtherBrowser => (
                StatusCode::FORBIDDEN,
                "This browser could not be verified",
                "The approval did not come from the browser that started the sign-in.".into(),
            ),
            Self::CallbackInOtherBrowser => (
                StatusCode::FORBIDDEN,
                "This browser could not be verified",
                "The sign-in finished in a different browser than it started in.".into(),
            ),
            Self::RateLimited { status, .. } => (
                *status,
                "Too many sign-in attempts",
                "Please wait a moment and try again.".into(),
            ),
            Self::Unavailable(status) => (
                *status,
                "Temporarily unavailable",
                "Please try again in a moment.".into(),
            ),
            Self::UpstreamUnavailable => (
                StatusCode::BAD_GATEWAY,
                "The sign-in service cannot be reached",
                "The identity provider did not answer. Please try again in a few minutes.".into(),
            ),
            Self::InvalidRedirectAddress => (
                bad,
                "Invalid redirect address",
                "The application's redirect address is not valid.".into(),
            ),
            Self::ConnectionsSignedOut => (
                StatusCode::FORBIDDEN,
                "You are signed out",
                "Your session on this page has ended. Open the connections page again to sign in."
                    .into(),
            ),
            Self::ConnectionsForbidden => (
                StatusCode::FORBIDDEN,
                "This request could not be verified",
                "It did not come from the connections page in this browser. Nothing was changed."
                    .into(),
            ),
            Self::ConnectionsDisabled => (
                StatusCode::NOT_FOUND,
                "Not available",
                "The connections page is not enabled here.".into(),
            ),
            Self::ConnectionsSignInFailed => (
                StatusCode::FORBIDDEN,
                "The sign-in did not complete",
                "The identity provider did not confirm who you are. Open the connections page \
                 again to retry."
                    .into(),
            ),
            Self::ConnectExpired => (
                bad,
                "This sign-in has expired",
                "Connecting to Nextcloud took too long or was already completed. Start again \
                 from the application."
                    .into(),
            ),
        }
    }

    pub fn response(&self) -> HttpResponse {
        let (status, title, detail) = self.parts();
        let mut resp = error(status, title, &detail);
        if let Self::RateLimited {
            retry_after: Some(secs),
            ..
        } = self
        {
            if let Ok(v) = header::HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (status, title, _) = self.parts();
        write!(f, "{} {title}", status.as_u16())
    }
}

impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        self.response()
    }
}

/// An error shown to the person in the browser (used when we cannot or must not redirect).
pub fn error(status: StatusCode, title: &str, detail: &str) -> HttpResponse {
    let body = format!(
        "<h1>{}</h1><p>{}</p><p class=\"muted\">Return to the application and start again. \
         If this keeps happening, contact the administrator.</p>",
        escape(title),
        escape(detail)
    );
    html_response(status).body(page(title, &body))
}

#[cfg(test)]
mod tests;
