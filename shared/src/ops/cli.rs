//! `main` scaffolding shared by both binaries: the command line (`--help`, `--version`,
//! `--check-config`, service-specific extras), configuration errors with exit code 2,
//! logging set-up, the runtime, and serving until SIGTERM/SIGINT with a graceful drain.

use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

use actix_web::dev::Server;

use super::env::LogFormat;
use super::telemetry;

/// What the command line asked for, once `--help`, `--version` and extras are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Run,
    CheckConfig,
}

/// A binary's name, version and usage text.
pub struct Program {
    pub name: &'static str,
    pub version: &'static str,
    pub usage: &'static str,
}

/// A flag that prints something and exits (e.g. `--list-tools`).
pub type Extra<'a> = (&'a str, &'a dyn Fn() -> ExitCode);

impl Program {
    /// Reads the first argument. `Err` carries the exit code when the program is done
    /// (help, version, an extra, or an unknown argument: 2).
    pub fn command(&self, extras: &[Extra<'_>]) -> Result<Command, ExitCode> {
        let arg = std::env::args().nth(1);
        match arg.as_deref() {
            None => Ok(Command::Run),
            Some("--check-config") => Ok(Command::CheckConfig),
            Some("--help" | "-h") => {
                println!("{}", self.usage);
                Err(ExitCode::SUCCESS)
            }
            Some("--version" | "-V") => {
                println!("{} {}", self.name, self.version);
                Err(ExitCode::SUCCESS)
            }
            Some(flag) => match extras.iter().find(|(name, _)| *name == flag) {
                Some((_, run)) => Err(run()),
                None => {
                    eprintln!("unknown argument `{flag}`\n\n{}", self.usage);
                    Err(ExitCode::from(2))
                }
            },
        }
    }

    /// The command and the loaded configuration. `Err` carries the exit code when the program
    /// is done: after help, version or an extra, or with 2 after printing why the configuration
    /// cannot be used.
    pub fn start<C, E: Display>(
        &self,
        extras: &[Extra<'_>],
        load: impl FnOnce() -> Result<C, E>,
    ) -> Result<(Command, C), ExitCode> {
        let command = self.command(extras)?;
        let config = load().map_err(|e| {
            eprintln!("configuration error: {e}");
            ExitCode::from(2)
        })?;
        Ok((command, config))
    }

    /// Sets up logging, starts the multi-threaded runtime and runs `service` to its end; a
    /// failure is logged and printed with its cause chain.
    pub fn run<F>(&self, log_format: LogFormat, service: F) -> ExitCode
    where
        F: Future<Output = anyhow::Result<()>>,
    {
        telemetry::init(log_format);
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("cannot start the async runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        match runtime.block_on(service) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "{} failed", self.name);
                eprintln!("{} failed: {e:#}", self.name);
                ExitCode::FAILURE
            }
        }
    }
}

/// Serves until SIGTERM/SIGINT: actix stops accepting and drains in-flight requests up to the
/// server's shutdown timeout; then the metrics listener (an actix server runs only while
/// polled, so it gets its own task) is stopped too.
pub async fn serve_until_stopped(server: Server, metrics: Option<Server>) -> std::io::Result<()> {
    let Some(metrics) = metrics else {
        return server.await;
    };
    let handle = metrics.handle();
    let metrics = tokio::spawn(metrics);
    let result = server.await;
    handle.stop(true).await;
    let _ = metrics.await;
    result
}
