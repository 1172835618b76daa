//! Logging set-up and the per-request middleware. The request span records the route
//! *pattern*, never the raw path with its query string (on `/authorize` and `/callback` that
//! carries codes and state); headers (cookies, Authorization) and bodies are never logged.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use super::env::LogFormat;
use super::metrics::HttpMetrics;

/// `RUST_LOG` filter (default `info`), text or flattened JSON lines, event targets shown (audit
/// events and the access log have their own).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    // `try_init`: tests and embedders may have installed a subscriber already.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// A value someone outside controls (a query parameter, a fetched document), made fit for a
/// log field: at most `max_chars` characters, with control characters, Unicode line and
/// paragraph separators, bidirectional controls and zero-width characters written as
/// `\u{..}` escapes (and `\` as `\\`, so an escape in the value cannot pass for one of
/// ours). In the text log format a raw line break would start what reads as a log line of its
/// own; JSON logs escape them anyway.
pub fn untrusted(value: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(value.len().min(max_chars * 2));
    for c in value.chars().take(max_chars) {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || is_invisible_or_bidi(c) => {
                out.extend(c.escape_unicode());
            }
            c => out.push(c),
        }
    }
    out
}

fn is_invisible_or_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
    )
}

/// 72 random bits, URL-safe: enough to tell requests apart in the logs. Not a secret, so not
/// worth a system call per request: each thread runs a SplitMix64 sequence seeded once from
/// the system RNG.
fn request_id() -> String {
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new({
            let mut seed = [0u8; 8];
            // The system RNG does not fail on supported platforms; a fixed seed would only
            // make ids repeat across threads.
            let _ = SystemRandom::new().fill(&mut seed);
            u64::from_le_bytes(seed)
        });
    }
    let next = || {
        STATE.with(|state| {
            let s = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
            state.set(s);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
    };
    let mut bytes = [0u8; 9];
    bytes[..8].copy_from_slice(&next().to_le_bytes());
    bytes[8] = next() as u8;
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Wraps every request: a span with method, route pattern and request id; the HTTP metrics
/// (from the app's `web::Data<HttpMetrics>`, when registered) on the way out; one access-log
/// line on target `access`.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = super::clock::monotonic();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "<unmatched>".to_owned());
    let method = req.method().as_str().to_owned();
    let metrics = req.app_data::<web::Data<HttpMetrics>>().cloned();
    let span = tracing::info_span!("request", %method, %route, request_id = tracing::field::Empty);
    // Only a span that is logged needs an id (at RUST_LOG=warn, none is).
    if !span.is_disabled() {
        span.record("request_id", tracing::field::display(request_id()));
    }
    let result = next.call(req).instrument(span.clone()).await;
    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    let elapsed = started.elapsed();
    if let Some(m) = metrics {
        m.observe(&route, &method, status, elapsed);
    }
    span.in_scope(|| {
        tracing::info!(
            target: "access",
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    });
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_short_url_safe_and_do_not_repeat() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            assert_eq!(id.len(), 12, "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{id}"
            );
        }
        let other_thread = std::thread::spawn(request_id).join().unwrap();
        assert!(
            !ids.contains(&other_thread),
            "threads start from their own seeds"
        );
    }

    #[test]
    fn untrusted_values_cannot_break_a_log_line() {
        assert_eq!(
            untrusted(
                "access_denied\n2030-01-01T00:00:00Z  INFO audit: consent approved",
                200
            ),
            "access_denied\\u{a}2030-01-01T00:00:00Z  INFO audit: consent approved"
        );
        assert_eq!(untrusted("a\r\nb", 10), "a\\u{d}\\u{a}b");
        assert_eq!(
            untrusted("a\u{1b}[31mb", 10),
            "a\\u{1b}[31mb",
            "no terminal escapes"
        );
        assert_eq!(untrusted("a\u{2028}b\u{85}c", 10), "a\\u{2028}b\\u{85}c");
        assert_eq!(untrusted("evil\u{202E}gnp", 10), "evil\\u{202e}gnp");
        assert_eq!(untrusted("x\u{200B}y", 10), "x\\u{200b}y");
        assert_eq!(
            untrusted("a\\u{a}b", 10),
            "a\\\\u{a}b",
            "a written escape stays visible"
        );
        assert_eq!(
            untrusted("Café 日本", 64),
            "Café 日本",
            "printable text is kept"
        );
        assert_eq!(
            untrusted(&"é".repeat(100), 64).chars().count(),
            64,
            "cut by characters"
        );
    }
}
