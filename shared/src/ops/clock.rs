//! The monotonic clock, read in one place. Latency measurements and "last fetched" marks use
//! [`monotonic`]; wall-clock time (expiry, `iat`/`exp`) comes from each service's clock
//! module. `clippy.toml` bans the direct reads everywhere else.

use std::time::Instant;

/// Now, on the monotonic clock (for durations only, never for expiry checks against
/// timestamps).
// The one sanctioned monotonic read (see `clippy.toml`).
#[allow(clippy::disallowed_methods)]
pub fn monotonic() -> Instant {
    Instant::now()
}
