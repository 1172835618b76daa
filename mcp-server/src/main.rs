//! mcp-server entry point: load and validate configuration, set up logging, run.

use std::process::ExitCode;

use mcp_server::config::{Config, Mode};
use mcp_server::startup::Application;
use mcp_shared::ops::cli::{Command, Program};

const PROGRAM: Program = Program {
    name: "mcp-server",
    version: env!("CARGO_PKG_VERSION"),
    usage: "mcp-server: MCP resource server for Nextcloud

Usage: mcp-server [--check-config | --list-tools | --help | --version]

Configuration comes from MCP_SERVER_* environment variables (docs/configuration.md).
  --check-config   validate the configuration and exit: 0 if valid, 2 if not
  --list-tools     print the tools this configuration serves (Markdown table: tool, scope,
                   description)",
};

/// The tools this configuration serves (all of them unless MCP_SERVER_DISABLED_TOOLS or
/// MCP_SERVER_READ_ONLY switch some off).
fn list_tools() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", mcp_server::tools::markdown_table(&config.tools));
    let disabled = config.tools.disabled();
    if !disabled.is_empty() {
        eprintln!(
            "{} tool(s) disabled by the configuration: {}",
            disabled.len(),
            disabled.join(", ")
        );
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let (command, config) = match PROGRAM.start(&[("--list-tools", &list_tools)], Config::from_env)
    {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    if command == Command::CheckConfig {
        let mode = match &config.mode {
            Mode::OAuth(o) => format!("oauth, authorization server {}", o.authorization_server),
            Mode::SingleUser { user, .. } => format!("single-user ({user})"),
        };
        println!("configuration OK (resource {}, {mode})", config.resource);
        return ExitCode::SUCCESS;
    }
    PROGRAM.run(config.log_format, async move {
        if !config.tools.disabled().is_empty() {
            tracing::info!(tools = ?config.tools.disabled(), "tools disabled by the configuration");
        }
        let app = Application::build(config).await?;
        tracing::info!(port = app.port(), metrics_port = ?app.metrics_port(), "mcp-server listening");
        println!("mcp-server listening on port {}", app.port());
        app.run_until_stopped().await?;
        Ok(())
    })
}
