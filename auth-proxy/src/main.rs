//! auth-proxy entry point: load and validate configuration, set up logging, run.

use std::process::ExitCode;

use auth_proxy::config::Config;
use auth_proxy::startup::Application;
use auth_proxy::telemetry;

const USAGE: &str = "auth-proxy: OAuth 2.1 authorization server for MCP clients

Usage: auth-proxy [--check-config | --help | --version]

Configuration comes from AUTH_PROXY_* environment variables (docs/configuration.md).
  --check-config   validate the configuration (including keys) and exit: 0 if valid, 2 if not";

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        Some("--help" | "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("--version" | "-V") => {
            println!("auth-proxy {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some("--check-config") | None => {}
        Some(other) => {
            eprintln!("unknown argument `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if arg.is_some() {
        let clients = match auth_proxy::clients::load(&config, 0) {
            Ok(clients) => clients,
            Err(e) => {
                eprintln!("configuration error: AUTH_PROXY_CLIENTS_FILE: {e}");
                return ExitCode::from(2);
            }
        };
        println!(
            "configuration OK (issuer {}, {} store, {} pre-registered clients)",
            config.issuer,
            if config.redis_url.is_some() {
                "redis"
            } else {
                "in-memory"
            },
            clients.len()
        );
        return ExitCode::SUCCESS;
    }
    telemetry::init(config.log_format);
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
    let result = runtime.block_on(async move {
        let app = Application::build(config).await?;
        tracing::info!(
            port = app.port(),
            metrics_port = app.metrics_port(),
            "auth-proxy listening"
        );
        app.run_until_stopped().await?;
        anyhow::Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "auth-proxy failed");
            eprintln!("auth-proxy: {e:#}");
            ExitCode::FAILURE
        }
    }
}
