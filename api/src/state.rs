//! What every handler can reach.

use std::sync::Arc;

use registry_core::Registry;

use crate::config::Config;

/// The registry and the configuration, shared by all workers.
#[derive(Debug, Clone)]
pub struct AppState {
    pub registry: Registry,
    pub config: Arc<Config>,
}
