//! The database: one diesel code path over SQLite (the embedded default) and
//! PostgreSQL, picked from the URL's scheme. Where the two differ (transactions,
//! locks), the difference sits in this module, each arm small.

pub(crate) mod prepared;
pub(crate) mod rows;
pub(crate) mod schema;
pub(crate) mod text_search;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Nullable};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

// Referenced so that their `bundled` features apply: the binary then needs neither
// libpq nor libsqlite3 on the machine (STACK-NOTES.md).
use libsqlite3_sys as _;
use pq_sys as _;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// Runs one statement that reads the same on both backends but that diesel's
/// common backend cannot express (an upsert): `$c` is the backend's own
/// connection.
macro_rules! same_sql {
    ($conn:expr, |$c:ident| $statement:expr) => {
        match $conn {
            $crate::storage::AnyConnection::Postgresql($c) => $statement,
            $crate::storage::AnyConnection::Sqlite($c) => $statement,
        }
    };
}
pub(crate) use same_sql;

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl fmt::Debug for AnyConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AnyConnection::Postgresql(_) => "AnyConnection::Postgresql",
            AnyConnection::Sqlite(_) => "AnyConnection::Sqlite",
        })
    }
}

/// Which database to use, from `DATABASE_URL`: `sqlite://PATH` (or `sqlite:PATH`)
/// or `postgres://…` (or `postgresql://…`).
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

/// Why the database could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "DATABASE_URL must start with sqlite:// (a file path follows) or postgres:// \
         (a PostgreSQL connection URL), got {0:?}"
    )]
    BadUrl(String),
    #[error("cannot create the directory {path} for the SQLite database: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        source: ConnectionError,
    },
    #[error("cannot migrate the database at {url}: {message}")]
    Migrate { url: String, message: String },
    #[error("cannot build the connection pool: {0}")]
    Pool(#[from] r2d2::PoolError),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, StorageError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .filter(|p| !p.is_empty() && !p.starts_with(':'))
            .ok_or_else(|| StorageError::BadUrl(url.to_owned()))?;
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    /// The URL with any password replaced, fit for logs and error messages.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => redact_password(url),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

/// This process, as the announcements of its appends name it: a follower
/// leaves its own process's alone (its writes hand their events over
/// directly) and reads the log for the others'.
pub(crate) fn instance() -> &'static str {
    static INSTANCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    INSTANCE.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{:x}-{nanos:x}", std::process::id())
    })
}

/// The backends the register runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// How long to wait for a new connection before calling the database unreachable.
const CONNECT_TIMEOUT_SECS: u64 = 3;

/// Opens connections for the pool, picking the backend from the URL (the derived
/// `establish` would try each backend in turn and hide the real error).
#[derive(Debug, Clone)]
pub struct Connector {
    url: DatabaseUrl,
    /// SQLite's page cache per connection, in KiB (`None`: SQLite's default).
    sqlite_cache_kib: Option<u32>,
}

impl Connector {
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            sqlite_cache_kib: None,
        }
    }

    pub(crate) fn open(&self) -> Result<AnyConnection, ConnectionError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                PgConnection::establish(&with_connect_timeout(url)).map(AnyConnection::Postgresql)
            }
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                // WAL lets readers go on while one writer writes; writers wait for
                // each other (busy_timeout) instead of failing at once.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                if let Some(kib) = self.sqlite_cache_kib {
                    conn.batch_execute(&format!("PRAGMA cache_size = -{kib};"))
                        .map_err(ConnectionError::CouldntSetupConfiguration)?;
                }
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        url.to_owned()
    } else {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}connect_timeout={CONNECT_TIMEOUT_SECS}")
    }
}

impl ManageConnection for Connector {
    type Connection = AnyConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<AnyConnection, ConnectionError> {
        self.open()
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), ConnectionError> {
        conn.ping()
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// A pool of connections to the register's database.
pub type Pool = r2d2::Pool<Connector>;
/// One connection, borrowed from the pool.
pub type PooledConnection = r2d2::PooledConnection<Connector>;

/// How the pool behaves; the defaults suit a small server.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    /// How long a caller waits for a connection before the database counts as
    /// unavailable.
    pub checkout_timeout: Duration,
    /// SQLite's page cache per connection, in KiB: more for a bulk load (the
    /// default, about 2 MB, keeps a server's memory small).
    pub sqlite_cache_kib: Option<u32>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 16,
            checkout_timeout: Duration::from_secs(CONNECT_TIMEOUT_SECS),
            sqlite_cache_kib: None,
        }
    }
}

/// Opens the database, creating the SQLite file's directory where needed, runs the
/// embedded migrations of its backend, and builds the pool. Fails fast with the
/// reason when the database cannot be reached or migrated.
pub fn open(url: &DatabaseUrl, options: &PoolOptions) -> Result<Pool, StorageError> {
    if let DatabaseUrl::Sqlite(path) = url {
        ensure_parent_dir(path)?;
    }
    let connector = Connector {
        sqlite_cache_kib: options.sqlite_cache_kib,
        ..Connector::new(url.clone())
    };
    let mut conn = connector.open().map_err(|source| StorageError::Connect {
        url: url.redacted(),
        source,
    })?;
    migrate(&mut conn).map_err(|message| StorageError::Migrate {
        url: url.redacted(),
        message,
    })?;
    drop(conn);
    let pool = r2d2::Pool::builder()
        // Not tested on each checkout (a round trip per request): a connection
        // that fails for want of its database is marked broken and dropped
        // (see `Registry`).
        .test_on_check_out(false)
        .max_size(options.max_size)
        .min_idle(Some(1))
        .connection_timeout(options.checkout_timeout)
        .build(connector)?;
    Ok(pool)
}

fn ensure_parent_dir(path: &Path) -> Result<(), StorageError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => std::fs::create_dir_all(dir)
            .map_err(|source| StorageError::CreateDir {
                path: dir.to_owned(),
                source,
            }),
        _ => Ok(()),
    }
}

fn migrate(conn: &mut AnyConnection) -> Result<(), String> {
    let applied = match conn {
        AnyConnection::Postgresql(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.len()),
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    }
    .map_err(|e| e.to_string())?;
    if applied > 0 {
        tracing::info!(applied, "database migrated");
    }
    Ok(())
}

impl AnyConnection {
    pub fn backend(&self) -> Backend {
        match self {
            AnyConnection::Postgresql(_) => Backend::Postgres,
            AnyConnection::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// A round trip to the database.
    pub fn ping(&mut self) -> QueryResult<()> {
        diesel::sql_query("SELECT 1").execute(self).map(|_| ())
    }

    /// Runs `f` in a write transaction, committing on `Ok` and rolling back on
    /// `Err`. On SQLite the transaction takes the write lock at its start
    /// (`BEGIN IMMEDIATE`), so two writers queue instead of failing midway.
    pub fn write_transaction<T, E>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<DieselError>,
    {
        match self {
            AnyConnection::Postgresql(_) => self.transaction(f),
            AnyConnection::Sqlite(c) => {
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
                let result = f(self);
                let AnyConnection::Sqlite(c) = self else {
                    unreachable!("the variant does not change inside a transaction");
                };
                match result {
                    Ok(value) => match AnsiTransactionManager::commit_transaction(c) {
                        Ok(()) => Ok(value),
                        Err(e) => {
                            let _ = AnsiTransactionManager::rollback_transaction(c);
                            Err(e.into())
                        }
                    },
                    Err(e) => {
                        AnsiTransactionManager::rollback_transaction(c)?;
                        Err(e)
                    }
                }
            }
        }
    }

    /// Runs `read` in one read-only snapshot of the database that holds every
    /// event up to the `seq` it is given and no part of any later one.
    ///
    /// On PostgreSQL the event-log lock is taken exclusively (as
    /// [`AnyConnection::committed_seq`] takes it) while the snapshot is taken,
    /// so that every writer that appended has committed and none can append
    /// until the snapshot holds: for the moment of one statement. On SQLite a
    /// read transaction's snapshot is one commit of the one writer.
    pub(crate) fn in_snapshot<T, E>(
        &mut self,
        read: impl FnOnce(&mut Self, i64) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<DieselError>,
    {
        #[derive(QueryableByName)]
        struct Last {
            #[diesel(sql_type = BigInt)]
            seq: i64,
        }
        let last_seq = "SELECT COALESCE(MAX(seq), 0) AS seq FROM events";
        let seq = match self {
            AnyConnection::Postgresql(pg) => {
                diesel::sql_query("SELECT pg_advisory_lock(2, 0)").execute(pg)?;
                let taken = AnsiTransactionManager::begin_transaction_sql(
                    pg,
                    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                )
                .and_then(|()| diesel::sql_query(last_seq).get_result::<Last>(pg));
                let unlocked = diesel::sql_query("SELECT pg_advisory_unlock(2, 0)").execute(pg);
                match (taken, unlocked) {
                    (Ok(last), Ok(_)) => last.seq,
                    (Err(e), _) | (Ok(_), Err(e)) => {
                        // A lock or transaction left behind goes with the connection.
                        self.mark_broken();
                        return Err(e.into());
                    }
                }
            }
            AnyConnection::Sqlite(c) => {
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN")?;
                match diesel::sql_query(last_seq).get_result::<Last>(c) {
                    Ok(last) => last.seq,
                    Err(e) => {
                        let _ = AnsiTransactionManager::rollback_transaction(c);
                        return Err(e.into());
                    }
                }
            }
        };
        let result = read(self, seq);
        let ended = match self {
            AnyConnection::Postgresql(pg) => AnsiTransactionManager::rollback_transaction(pg),
            AnyConnection::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
        };
        if ended.is_err() {
            self.mark_broken();
        }
        result
    }

    /// Marks the connection broken, so that the pool drops it when it comes
    /// back (after its database went away).
    pub(crate) fn mark_broken(&mut self) {
        match self {
            AnyConnection::Postgresql(c) => {
                AnsiTransactionManager::transaction_manager_status_mut(c).set_in_error();
            }
            AnyConnection::Sqlite(c) => {
                AnsiTransactionManager::transaction_manager_status_mut(c).set_in_error();
            }
        }
    }

    /// Serialises writers that touch the same company inside this transaction
    /// (PostgreSQL advisory lock; SQLite already holds its one write lock).
    pub(crate) fn lock_company(&mut self, kvk: &str) -> QueryResult<()> {
        match self {
            AnyConnection::Postgresql(c) => prepared::LockCompany { kvk }.execute(c).map(|_| ()),
            AnyConnection::Sqlite(_) => Ok(()),
        }
    }

    /// The highest `seq` below which every event is committed (or rolled
    /// back) for good: a feed reader that reads no further never sees a lower
    /// `seq` appear later. On PostgreSQL the event-log lock, taken exclusively
    /// for this one statement, waits for the writers holding it shared, and the
    /// sequence is read once they are done (writers arriving meanwhile wait
    /// behind it). SQLite has one writer, whose events appear all at once.
    pub(crate) fn committed_seq(&mut self) -> QueryResult<Option<i64>> {
        match self {
            AnyConnection::Postgresql(pg) => {
                #[derive(QueryableByName)]
                struct Mark {
                    #[diesel(sql_type = Nullable<BigInt>)]
                    seq: Option<i64>,
                }
                diesel::sql_query(
                    "SELECT pg_sequence_last_value(pg_get_serial_sequence('events', 'seq')) AS seq \
                     FROM pg_advisory_xact_lock(2, 0)",
                )
                .get_result::<Mark>(pg)
                .map(|m| Some(m.seq.unwrap_or(0)))
            }
            AnyConnection::Sqlite(_) => Ok(None),
        }
    }

    /// Appends an event and returns the log's head as it was (locked for the
    /// rest of the transaction) and the event's `seq`; on PostgreSQL in one
    /// statement, which also announces the event on the channel `pso_events`
    /// (see `model::follow`). The head's row lock is taken before the `seq` is
    /// made and held to commit: leaves are dense and in `seq` order. The
    /// event-log lock is taken *shared* as well, so that a feed reader (see
    /// [`AnyConnection::committed_seq`]) reads only below a point every writer
    /// before it has committed. SQLite already holds its one write lock.
    pub(crate) fn append_event(
        &mut self,
        row: &rows::NewEventRow<'_>,
    ) -> QueryResult<(LogHeadRow, i64)> {
        match self {
            AnyConnection::Postgresql(pg) => {
                let (size, frontier, seq) =
                    prepared::AppendEvent { row }.get_result::<(i64, Vec<u8>, i64)>(pg)?;
                Ok((LogHeadRow { size, frontier }, seq))
            }
            AnyConnection::Sqlite(_) => {
                let head = self.lock_log_head()?;
                let seq = diesel::insert_into(schema::events::table)
                    .values(row)
                    .returning(schema::events::seq)
                    .get_result(self)?;
                Ok((head, seq))
            }
        }
    }
}

impl AnyConnection {
    /// Leases up to `limit` subscriptions to `owner` until `until`: active
    /// ones, due at `now`, not leased (or their lease ran out), owed
    /// something (an event after their cursor up to `head`, or a message not
    /// yet accepted); returns their ids. On PostgreSQL the rows are locked with
    /// `FOR UPDATE SKIP LOCKED`, so replicas claiming at once take different
    /// ones; SQLite has one writer.
    pub(crate) fn claim_subscriptions(
        &mut self,
        owner: &str,
        until: chrono::NaiveDateTime,
        now: chrono::NaiveDateTime,
        head: i64,
        limit: i64,
    ) -> QueryResult<Vec<String>> {
        use diesel::sql_types::{Text, Timestamp};
        #[derive(QueryableByName)]
        struct Claimed {
            #[diesel(sql_type = Text)]
            id: String,
        }
        let sql = |placeholders: [&str; 5], lock: &str| {
            let [p_owner, p_until, p_now, p_head, p_limit] = placeholders;
            format!(
                "UPDATE subscriptions SET lease_owner = {p_owner}, lease_until = {p_until} \
                 WHERE id IN (SELECT s.id FROM subscriptions s \
                 WHERE s.state = 'active' AND s.next_attempt_at <= {p_now} \
                 AND (s.lease_until IS NULL OR s.lease_until < {p_now}) \
                 AND (s.cursor_seq < {p_head} OR EXISTS (SELECT 1 FROM deliveries d \
                 WHERE d.subscription_id = s.id AND d.delivered_at IS NULL)) \
                 ORDER BY s.next_attempt_at LIMIT {p_limit}{lock}) \
                 RETURNING id"
            )
        };
        let query = match self {
            AnyConnection::Postgresql(_) => {
                sql(["$1", "$2", "$3", "$4", "$5"], " FOR UPDATE SKIP LOCKED")
            }
            AnyConnection::Sqlite(_) => sql(["?1", "?2", "?3", "?4", "?5"], ""),
        };
        let claimed: Vec<Claimed> = diesel::sql_query(query)
            .bind::<Text, _>(owner)
            .bind::<Timestamp, _>(until)
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(head)
            .bind::<BigInt, _>(limit)
            .load(self)?;
        Ok(claimed.into_iter().map(|c| c.id).collect())
    }
}

/// The log's head as a writer finds it: its size and right edge.
#[derive(Debug, Clone, Queryable)]
pub(crate) struct LogHeadRow {
    pub size: i64,
    pub frontier: Vec<u8>,
}

/// A leaf to store with the hashes it completes and the head after it.
#[derive(Debug)]
pub(crate) struct LeafWrite {
    pub log_index: i64,
    pub seq: i64,
    /// Each completed node: (level, index, hash).
    pub levels: Vec<i32>,
    pub indexes: Vec<i64>,
    pub hashes: Vec<Vec<u8>>,
    pub frontier: Vec<u8>,
}

impl AnyConnection {
    /// The log's head, locked for the rest of the transaction: on PostgreSQL
    /// its row lock orders the appends (taken before an event gets its `seq`,
    /// held to commit, so that leaves are in `seq` order and dense); SQLite
    /// already holds its one write lock.
    pub(crate) fn lock_log_head(&mut self) -> QueryResult<LogHeadRow> {
        use schema::log_head::dsl as h;
        match self {
            AnyConnection::Postgresql(pg) => h::log_head
                .find(1)
                .select((h::size, h::frontier))
                .for_update()
                .get_result(pg),
            AnyConnection::Sqlite(lite) => h::log_head
                .find(1)
                .select((h::size, h::frontier))
                .get_result(lite),
        }
    }

    /// Stores a leaf, the hashes it completes, and the new head.
    pub(crate) fn store_leaf(&mut self, w: &LeafWrite) -> QueryResult<()> {
        match self {
            AnyConnection::Postgresql(pg) => prepared::StoreLeaf { w }.execute(pg).map(|_| ()),
            AnyConnection::Sqlite(lite) => {
                use schema::{log_hashes, log_head, log_leaves};
                diesel::insert_into(log_leaves::table)
                    .values((
                        log_leaves::log_index.eq(w.log_index),
                        log_leaves::seq.eq(w.seq),
                    ))
                    .execute(lite)?;
                let rows: Vec<_> = w
                    .levels
                    .iter()
                    .zip(&w.indexes)
                    .zip(&w.hashes)
                    .map(|((l, i), h)| {
                        (
                            log_hashes::level.eq(*l),
                            log_hashes::idx.eq(*i),
                            log_hashes::hash.eq(h.as_slice()),
                        )
                    })
                    .collect();
                diesel::insert_into(log_hashes::table)
                    .values(rows)
                    .execute(lite)?;
                diesel::update(log_head::table.find(1))
                    .set((
                        log_head::size.eq(w.log_index + 1),
                        log_head::frontier.eq(&w.frontier),
                    ))
                    .execute(lite)
                    .map(|_| ())
            }
        }
    }
}

/// How much of a known company an upsert overwrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompanyUpdate {
    /// Every public fact: the company is a certificate's main applicant.
    All,
    /// Only its name (and the name order and search words that follow from
    /// it): the company is listed as a subsidiary.
    Name,
}

/// Inserts or updates a company in one statement (`ON CONFLICT`), which diesel
/// builds per backend: the multi-backend connection has no upsert.
macro_rules! upsert_company_on {
    ($conn:expr, $row:expr, $update:expr) => {{
        use schema::companies::dsl as c;
        let insert = diesel::insert_into(c::companies)
            .values($row)
            .on_conflict(c::kvk_number)
            .do_update();
        match $update {
            CompanyUpdate::All => insert.set($row).execute($conn),
            CompanyUpdate::Name => insert
                .set((
                    c::name.eq(&$row.name),
                    c::sort_name.eq(&$row.sort_name),
                    c::search_text.eq(&$row.search_text),
                    c::updated_at.eq($row.updated_at),
                ))
                .execute($conn),
        }
    }};
}

impl AnyConnection {
    pub(crate) fn upsert_company(
        &mut self,
        row: &rows::CompanyRow,
        update: CompanyUpdate,
    ) -> QueryResult<()> {
        match self {
            AnyConnection::Postgresql(conn) => upsert_company_on!(conn, row, update),
            AnyConnection::Sqlite(conn) => upsert_company_on!(conn, row, update),
        }
        .map(|_| ())
    }
}

/// Whether a database error means the database is gone rather than the query wrong.
pub fn is_unavailable(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        ) | DieselError::BrokenTransactionManager
    )
}

/// The unique keys that two concurrent writers can both try to take on
/// PostgreSQL (under different company locks): a second accreditation of one
/// CB, a key recorded by two fetches, a company or its SBI code named by two
/// certificates, one reference issued twice, a search word first seen twice.
/// A violation of any other key (a certificate number, a coverage row, an
/// event) is a fault, not a race, and is not tried again. SQLite has one writer
/// at a time: no unique violation there is a race.
const RACED_KEYS: [&str; 8] = [
    "certification_bodies_pkey",
    "cb_keys_pkey",
    "companies_pkey",
    "company_sbi_pkey",
    "certificates_cb_id_cb_reference_key",
    "search_words_word_key",
    "search_word_trigrams_pkey",
    "search_company_words_pkey",
];

/// Whether a write lost a race to a concurrent one and may simply be tried again:
/// a raced unique key taken meanwhile, a serialisation failure, a busy SQLite file.
pub fn is_retryable(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => info
            .constraint_name()
            .is_some_and(|name| RACED_KEYS.contains(&name)),
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(_, info) => info.message().contains("database is locked"),
        _ => false,
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Counts rows of `table` (used by tests and diagnostics; `table` is a constant).
pub fn count_rows(conn: &mut AnyConnection, table: &'static str) -> QueryResult<i64> {
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .get_result::<Count>(conn)
        .map(|c| c.n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend_and_hide_passwords() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/registry.db").ok(),
            Some(DatabaseUrl::Sqlite("data/registry.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:/tmp/x.db").ok(),
            Some(DatabaseUrl::Sqlite("/tmp/x.db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u@h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        for bad in ["mysql://x", "data.db", "sqlite://", "sqlite::memory:", ""] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad}");
        }
        let url =
            DatabaseUrl::parse("postgres://app:s3cret@db:5432/pso?sslmode=require").expect("url");
        assert_eq!(
            url.redacted(),
            "postgres://app:***@db:5432/pso?sslmode=require"
        );
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn connect_timeout_is_added_once() {
        assert_eq!(
            with_connect_timeout("postgres://h/db"),
            "postgres://h/db?connect_timeout=3"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/db?a=b"),
            "postgres://h/db?a=b&connect_timeout=3"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/db?connect_timeout=9"),
            "postgres://h/db?connect_timeout=9"
        );
    }
}
