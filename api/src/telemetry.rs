//! Structured logs with `tracing`.

use tracing_subscriber::EnvFilter;

/// Installs the log subscriber once; later calls (tests start many servers) are
/// no-ops. An unparsable filter falls back to `info` and says so.
pub fn init(filter: &str, json: bool) {
    let (filter, bad) = match EnvFilter::try_new(filter) {
        Ok(f) => (f, None),
        Err(e) => (EnvFilter::new("info"), Some(e.to_string())),
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi);
    let installed = if json {
        builder.json().flatten_event(true).try_init().is_ok()
    } else {
        builder.try_init().is_ok()
    };
    if let (true, Some(error)) = (installed, bad) {
        tracing::warn!(%error, "RUST_LOG is not a valid filter; logging at info");
    }
}
