//! Fresh, throwaway databases for tests: a new SQLite file, or a new database on
//! a PostgreSQL server, removed again when dropped.
//!
//! PostgreSQL comes from `TEST_DATABASE_URL` (any database on the server; a new
//! one is created beside it) or the local server at 127.0.0.1:5432, user
//! `postgres`. When none is reachable, `postgres()` returns `None` and the test
//! is skipped — unless `PSO_REQUIRE_POSTGRES=1` (as in CI), then it fails.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use diesel::prelude::*;
use rand::Rng;

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PREFIX: &str = "pso_test_";

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    /// The `DATABASE_URL` to give the registry.
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Directory(PathBuf),
    Database { server: String, name: String },
}

fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_SERVER.to_owned())
}

/// `url` with its host and port replaced by `address` (`host:port`), e.g. to put a
/// proxy between a server and its database.
pub fn with_address(url: &str, address: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let userinfo = authority
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    format!("{scheme}://{userinfo}{address}{tail}")
}

/// The `host:port` of a PostgreSQL URL (port 5432 when left out).
pub fn address_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    Some(if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    })
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{base}/{name}{query}")
}

fn unique_suffix() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "{secs}_{}_{:08x}",
        std::process::id(),
        rand::rng().random::<u32>()
    )
}

/// Whether PostgreSQL tests must run (CI) rather than be skipped.
pub fn postgres_required() -> bool {
    std::env::var("PSO_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// Connects to the test server; `None` when it is unreachable (decided once per
/// process, and said once, loudly).
fn admin_connection() -> Option<PgConnection> {
    static REACHABLE: OnceLock<bool> = OnceLock::new();
    let url = format!(
        "{}{}connect_timeout=3",
        server_url(),
        if server_url().contains('?') { "&" } else { "?" }
    );
    let reachable = *REACHABLE.get_or_init(|| {
        let reachable = PgConnection::establish(&url).is_ok();
        if reachable {
            drop_stale_databases(&url);
        } else if !postgres_required() {
            // Written past the test harness's capture, so that it is seen.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!(
                    "\n!!! PostgreSQL SKIPPED: no server answers at {} (set TEST_DATABASE_URL); \
                     only SQLite was tested in this binary !!!\n\n",
                    server_url()
                )
                .as_bytes(),
            );
        }
        reachable
    });
    if !reachable {
        assert!(
            !postgres_required(),
            "PSO_REQUIRE_POSTGRES=1 but no PostgreSQL server answers at {}",
            server_url()
        );
        return None;
    }
    match PgConnection::establish(&url) {
        Ok(conn) => Some(conn),
        Err(e) => panic!("the PostgreSQL test server stopped answering: {e}"),
    }
}

/// Drops test databases left behind by runs that ended more than an hour ago
/// (a test that panicked mid-way, a killed run).
fn drop_stale_databases(url: &str) {
    #[derive(QueryableByName)]
    struct Db {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let Ok(mut conn) = PgConnection::establish(url) else {
        return;
    };
    let Ok(dbs) = diesel::sql_query(format!(
        "SELECT datname FROM pg_database WHERE datname LIKE '{PREFIX}%'"
    ))
    .load::<Db>(&mut conn) else {
        return;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for db in dbs {
        let created: Option<u64> = db.datname[PREFIX.len()..]
            .split('_')
            .next()
            .and_then(|s| s.parse().ok());
        if created.is_some_and(|c| c + 3600 < now) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                db.datname
            ))
            .execute(&mut conn);
        }
    }
}

/// Runs `sql` on the database at `url` (SQLite or PostgreSQL), outside the
/// register: for tests that must put the database in a state the register never
/// writes (a corrupt row).
pub fn execute_sql(url: &str, sql: &str) -> QueryResult<usize> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        diesel::sql_query(sql).execute(
            &mut SqliteConnection::establish(path)
                .map_err(|e| diesel::result::Error::QueryBuilderError(Box::new(e)))?,
        )
    } else {
        diesel::sql_query(sql).execute(
            &mut PgConnection::establish(url)
                .map_err(|e| diesel::result::Error::QueryBuilderError(Box::new(e)))?,
        )
    }
}

impl TestDatabase {
    /// A new SQLite file in a new temporary directory.
    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("{PREFIX}{}", unique_suffix()));
        let path = dir.join("registry.db");
        TestDatabase {
            url: format!("sqlite://{}", path.display()),
            cleanup: Cleanup::Directory(dir),
        }
    }

    /// A new, empty database on the test PostgreSQL server, or `None` (skip) when
    /// none is reachable and PostgreSQL is not required.
    pub fn postgres() -> Option<Self> {
        let mut admin = admin_connection()?;
        let name = format!("{PREFIX}{}", unique_suffix());
        if let Err(e) = diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut admin)
        {
            panic!("cannot create test database {name}: {e}");
        }
        Some(TestDatabase {
            url: with_database(&server_url(), &name),
            cleanup: Cleanup::Database {
                server: server_url(),
                name,
            },
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Database { server, name } => {
                if let Ok(mut conn) = PgConnection::establish(server) {
                    let _ = diesel::sql_query(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    ))
                    .execute(&mut conn);
                }
            }
        }
    }
}

/// A date in a test's words, `YYYY-MM-DD`.
pub fn date(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
}

/// An instant in a test's words: a bare date is the start of that day in
/// Amsterdam, anything else an RFC 3339 instant.
pub fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    if s.len() == 10 {
        crate::time::start_of_day(date(s))
    } else {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("test instant")
            .with_timezone(&chrono::Utc)
    }
}

/// A period at `level` from `from` to `until` (exclusive), under the PSO's
/// rules but with any length allowed: the periods a rule's test table needs.
pub fn period(
    level: crate::level::Level,
    from: chrono::NaiveDate,
    until: chrono::NaiveDate,
) -> crate::period::Period {
    let mut rules = crate::scheme::SchemeRules::pso();
    rules.validity_months.insert(level, 1200);
    crate::period::Period::new(
        crate::period::PeriodDraft {
            level,
            pso30plus: level == crate::level::Level::Trede3,
            valid_from: from,
            valid_until: Some(until),
            audit_date: from,
            reference_year: 1900,
            handbook_version: crate::period::HandbookVersion::parse("2.1").expect("version"),
            score: crate::period::Score {
                percent: None,
                total_fte: None,
            },
        },
        &rules,
    )
    .expect("valid test period")
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn address_is_replaced_and_read() {
        use super::{address_of, with_address};
        assert_eq!(
            with_address("postgres://u@127.0.0.1:5432/db?x=1", "127.0.0.1:7000"),
            "postgres://u@127.0.0.1:7000/db?x=1"
        );
        assert_eq!(
            address_of("postgres://u@localhost/db"),
            Some("localhost:5432".into())
        );
        assert_eq!(
            address_of("postgres://u:p@h:6543/db"),
            Some("h:6543".into())
        );
    }

    #[test]
    fn database_name_is_replaced_and_query_kept() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u@h/x?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "t1"), "postgres://u@h/t1");
    }
}
