//! mcp-server entry point: load and validate configuration, set up logging, run.

use std::process::ExitCode;

use mcp_server::config::{Config, Mode};
use mcp_server::startup::Application;
use mcp_server::telemetry;

const USAGE: &str = "mcp-server: MCP resource server for Nextcloud

Usage: mcp-server [--check-config | --list-tools | --help | --version]

Configuration comes from MCP_SERVER_* environment variables (docs/configuration.md).
  --check-config   validate the configuration and exit: 0 if valid, 2 if not
  --list-tools     print the tool reference (Markdown table: tool, scope, description)";

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        Some("--help" | "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("--version" | "-V") => {
            println!("mcp-server {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some("--list-tools") => {
            print!("{}", mcp_server::tools::markdown_table());
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
        let mode = match &config.mode {
            Mode::OAuth(o) => format!("oauth, authorization server {}", o.authorization_server),
            Mode::SingleUser { user, .. } => format!("single-user ({user})"),
        };
        println!("configuration OK (resource {}, {mode})", config.resource);
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
        tracing::info!(port = app.port(), metrics_port = ?app.metrics_port(), "mcp-server listening");
        println!("mcp-server listening on port {}", app.port());
        app.run_until_stopped().await?;
        anyhow::Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-server failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
