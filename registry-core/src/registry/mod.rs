//! The registry: the core's one entry point. Commands change the register, each
//! in one database transaction that writes the change and its event, or nothing;
//! queries read it. Blocking calls: the api runs them off its async workers.

mod certification_bodies;
pub(crate) mod details;
pub(crate) mod event_log;
pub mod evidence;
pub mod export;
mod lifecycle;
mod queries;
mod search;
pub mod subscriptions;
mod transparency;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::CoreError;
use crate::model::{Follow, ReadModel};
use crate::scheme::SchemeRules;
use crate::storage::{
    self, AnyConnection, Backend, DatabaseUrl, Pool, PoolOptions, PooledConnection, StorageError,
};

pub use certification_bodies::{Accredit, CertificationBodyChange, KeyChanges};
pub use lifecycle::{Batch, ChangeStanding, IssueCertificate, Issued, RenewCertificate};
pub use queries::{Certificate, Covered};
pub use search::{CompanyHit, SearchCursor, SearchFilter, SearchPage, SearchStatus};
pub use transparency::{LogCheck, Tampering};

/// The register over one database.
#[derive(Debug, Clone)]
pub struct Registry {
    pool: Pool,
    rules: SchemeRules,
    backend: Backend,
    /// SQLite has one writer at a time: writers of this process queue here, in
    /// order, rather than poll the file lock with growing sleeps.
    sqlite_writer: Arc<Mutex<()>>,
    /// How many postings a name search reads whole (see `text_search::BAND`).
    search_band: i64,
    /// The register in memory, kept current with every write (see
    /// [`crate::model`]).
    model: Arc<ReadModel>,
    url: DatabaseUrl,
}

/// Connections are not tested when taken from the pool (a round trip per
/// request): one whose database went away fails its query instead and is
/// marked broken, so that the pool drops it rather than hand it out again
/// (diesel marks a PostgreSQL connection whose server is gone itself; this
/// covers whatever else the register counts as unavailable).
fn discard_if_lost<T>(
    conn: &mut AnyConnection,
    result: Result<T, CoreError>,
) -> Result<T, CoreError> {
    if let Err(CoreError::Unavailable(_)) = &result {
        conn.mark_broken();
    }
    result
}

/// How many times a command that lost a race to a concurrent write is tried.
const WRITE_ATTEMPTS: u32 = 5;

/// The pool's state, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    pub connections: u32,
    pub idle: u32,
    pub max_size: u32,
}

impl Registry {
    /// The same register with name searches reading at most `band` postings
    /// whole, so that tests walk long posting lists with little data.
    #[cfg(feature = "test-support")]
    pub fn with_search_band(mut self, band: i64) -> Self {
        self.search_band = band.max(1);
        self
    }

    /// Opens (and migrates) the database at `url`.
    pub fn open(
        url: &DatabaseUrl,
        options: &PoolOptions,
        rules: SchemeRules,
    ) -> Result<Self, StorageError> {
        let pool = storage::open(url, options)?;
        Ok(Self {
            pool,
            model: Arc::new(ReadModel::new(rules.clone())),
            rules,
            backend: url.backend(),
            sqlite_writer: Arc::new(Mutex::new(())),
            search_band: crate::storage::text_search::BAND,
            url: url.clone(),
        })
    }

    /// The register in memory: what reads are answered from.
    pub fn model(&self) -> &ReadModel {
        &self.model
    }

    /// Builds the read model from the database (see [`crate::model`]).
    pub fn load_model(&self) -> Result<(), CoreError> {
        let mut conn = self.conn()?;
        let result = self.model.load(&mut conn);
        discard_if_lost(&mut conn, result)
    }

    /// Starts following the log: the read model applies what other processes
    /// write, until the returned handle is dropped.
    pub fn follow(&self) -> std::io::Result<Follow> {
        self.model.follow(self.url.clone())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn rules(&self) -> &SchemeRules {
        &self.rules
    }

    /// A round trip to the database, waiting at most `timeout` for a connection.
    pub fn ping(&self, timeout: Duration) -> Result<(), CoreError> {
        let mut conn = self.pool.get_timeout(timeout)?;
        let result = conn.ping().map_err(CoreError::from);
        discard_if_lost(&mut conn, result)
    }

    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            connections: state.connections,
            idle: state.idle_connections,
            max_size: self.pool.max_size(),
        }
    }

    fn conn(&self) -> Result<PooledConnection, CoreError> {
        Ok(self.pool.get()?)
    }

    /// Runs `command` in a write transaction; when it loses a race to a
    /// concurrent write (a unique key taken meanwhile, a busy database), the
    /// transaction is rolled back and the command tried again from the start.
    fn write<T>(
        &self,
        mut command: impl FnMut(&mut AnyConnection) -> Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        // Queue before taking a connection, so waiting writers hold none.
        let _turn = match self.backend {
            Backend::Sqlite => Some(
                self.sqlite_writer
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            ),
            Backend::Postgres => None,
        };
        let mut conn = self.conn()?;
        let mut attempt = 1;
        loop {
            // What this transaction appends goes to the read model: announced
            // before the commit, handed over after it (see `crate::model`).
            event_log::take_appended();
            let result = conn.write_transaction(|conn| {
                let value = command(conn)?;
                self.model.expect(event_log::appended_seqs());
                Ok(value)
            });
            let appended = event_log::take_appended();
            match result {
                Ok(value) => {
                    self.model.submit(appended);
                    return Ok(value);
                }
                Err(e) => {
                    // Rolled back, or (a connection lost in the commit) maybe
                    // not: the log will tell.
                    self.model.abandon(appended.iter().map(|e| e.seq));
                    match e {
                        CoreError::Contention(reason) if attempt < WRITE_ATTEMPTS => {
                            tracing::debug!(attempt, %reason, "write lost a race; trying again");
                            attempt += 1;
                            std::thread::sleep(Duration::from_millis(u64::from(attempt) * 3));
                        }
                        e => return discard_if_lost(&mut conn, Err(e)),
                    }
                }
            }
        }
    }

    /// Reads in one connection (not a transaction: each query sees committed data).
    fn read<T>(
        &self,
        query: impl FnOnce(&mut AnyConnection) -> Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        let mut conn = self.conn()?;
        let result = query(&mut conn);
        discard_if_lost(&mut conn, result)
    }

    /// Refreshes the planner's statistics (after a bulk load, so that plans
    /// cached while the tables were empty are made again with indexes).
    /// On SQLite the per-value histograms (`sqlite_stat4`) are dropped again:
    /// with them SQLite prepares a statement anew for every bound value, which
    /// costs a status check a third of its time; the per-index counts
    /// (`sqlite_stat1`) are what its plans need.
    pub fn analyze(&self) -> Result<(), CoreError> {
        self.read(|conn| {
            diesel::RunQueryDsl::execute(diesel::sql_query("ANALYZE"), conn)?;
            if conn.backend() == Backend::Sqlite {
                diesel::RunQueryDsl::execute(
                    diesel::sql_query(
                        "DELETE FROM sqlite_stat4 WHERE EXISTS \
                         (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat4')",
                    ),
                    conn,
                )
                .or_else(|e| match &e {
                    // Built without STAT4: no such table, nothing to drop.
                    diesel::result::Error::DatabaseError(_, info)
                        if info.message().contains("no such table") =>
                    {
                        Ok(0)
                    }
                    _ => Err(e),
                })?;
            }
            Ok(())
        })
    }

    /// Counts the rows of each table (for tests that check a refused write wrote
    /// nothing, and for diagnostics).
    pub fn row_counts(&self) -> Result<Vec<(&'static str, i64)>, CoreError> {
        self.read(|conn| {
            let tables = [
                "certification_bodies",
                "companies",
                "certificates",
                "periods",
                "coverage",
                "events",
                "replay_guard",
            ];
            tables
                .into_iter()
                .map(|t| Ok((t, storage::count_rows(conn, t)?)))
                .collect()
        })
    }
}
