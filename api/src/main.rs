//! `pso-registry`: the PSO register's server and tools.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pso_api::config::Config;
use pso_api::startup::Application;
use pso_api::telemetry;

#[derive(Debug, Parser)]
#[command(
    name = "pso-registry",
    version,
    about = "The public register of the Prestatieladder Socialer Ondernemen"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the register over HTTP (the default). Configured by environment
    /// variables: DATABASE_URL, BIND, REGISTRY_AUDIENCE, REGISTRY_ADMIN_TOKEN, RUST_LOG.
    Serve,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
    }
}

/// Fails with one line and a non-zero exit on bad configuration, an unreachable
/// or unmigratable database, or a port in use.
fn serve() -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    telemetry::init(&config.log_filter, config.log_json);
    if config.admin_token.is_none() {
        tracing::warn!("REGISTRY_ADMIN_TOKEN is not set: the scheme owner's API is off");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let system = actix_web::rt::System::with_tokio_rt(|| runtime);
    let result = system.block_on(async {
        let app = Application::build(config)
            .await
            .map_err(|e| e.to_string())?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("pso-registry: {error}");
    ExitCode::FAILURE
}
