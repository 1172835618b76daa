//! auth-proxy entry point: load and validate configuration, set up logging, run.

use std::process::ExitCode;

use auth_proxy::config::Config;
use auth_proxy::startup::Application;
use mcp_shared::ops::cli::{Command, Program};

const PROGRAM: Program = Program {
    name: "auth-proxy",
    version: env!("CARGO_PKG_VERSION"),
    usage: "auth-proxy: OAuth 2.1 authorization server for MCP clients

Usage: auth-proxy [--check-config | --help | --version]

Configuration comes from AUTH_PROXY_* environment variables (docs/configuration.md).
  --check-config   validate the configuration (including keys) and exit: 0 if valid, 2 if not",
};

fn main() -> ExitCode {
    let (command, config) = match PROGRAM.start(&[], Config::from_env) {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    if command == Command::CheckConfig {
        return check(&config);
    }
    PROGRAM.run(config.log_format, async move {
        let app = Application::build(config).await?;
        tracing::info!(
            port = app.port(),
            metrics_port = app.metrics_port(),
            "auth-proxy listening"
        );
        app.run_until_stopped().await?;
        Ok(())
    })
}

/// `--check-config`: also loads the pre-registered clients file and the ID-JAG issuers file.
fn check(config: &Config) -> ExitCode {
    let clients = match auth_proxy::clients::load(config, 0) {
        Ok(clients) => clients,
        Err(e) => {
            eprintln!("configuration error: AUTH_PROXY_CLIENTS_FILE: {e}");
            return ExitCode::from(2);
        }
    };
    let idjag_issuers = match auth_proxy::idjag::load(&config.idjag) {
        Ok(issuers) => issuers.len(),
        Err(e) => {
            eprintln!("configuration error: AUTH_PROXY_IDJAG_ISSUERS_FILE: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "configuration OK (issuer {}, {} store, {} pre-registered clients, {idjag_issuers} trusted ID-JAG issuers)",
        config.issuer,
        if config.redis_url.is_some() {
            "redis"
        } else {
            "in-memory"
        },
        clients.len()
    );
    ExitCode::SUCCESS
}
