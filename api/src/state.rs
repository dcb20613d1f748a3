//! What every handler can reach.

use std::sync::Arc;

use registry_core::Registry;

use crate::checkpoints::Checkpoints;
use crate::config::Config;
use crate::keys::KeyStore;
use crate::signing::Signing;

/// The registry, the configuration and the CBs' key sets, shared by all workers.
#[derive(Debug, Clone)]
pub struct AppState {
    pub registry: Registry,
    pub config: Arc<Config>,
    pub keys: Arc<KeyStore>,
    /// Reads on PostgreSQL in flight at once: they queue here, first come first
    /// served, rather than oversubscribe the machine (a long tail under load).
    pub read_permits: Arc<tokio::sync::Semaphore>,
    /// Work on the read model that takes more than microseconds (searches,
    /// batches): fewer at once than there are cores (see `routes::work`).
    pub work_permits: Arc<tokio::sync::Semaphore>,
    /// The register's own keys.
    pub signing: Arc<Signing>,
    /// The checkpoint last signed.
    pub checkpoints: Arc<Checkpoints>,
    /// API clients' keys, as looked up.
    pub clients: Arc<crate::clients::Clients>,
    /// Bulk exports running at once (see `crate::routes::export`).
    pub export_permits: Arc<tokio::sync::Semaphore>,
    /// Fair use (see `crate::rate_limit`).
    pub limiter: Arc<crate::rate_limit::RateLimiter>,
}
