//! Operations code both services run, written once: the environment config reader
//! ([`env`]), logging set-up and the per-request middleware ([`telemetry`]), Prometheus
//! helpers and the metrics listener ([`metrics`]), and the `main` scaffolding with graceful
//! shutdown ([`cli`]), the monotonic clock ([`clock`]), and draining unread request bodies so refusals keep
//! the connection ([`drain`]). Behind the `ops` feature so the protocol part of this crate stays free
//! of HTTP and I/O.

pub mod cli;
pub mod clock;
pub mod drain;
pub mod env;
pub mod metrics;
pub mod net;
pub mod telemetry;
