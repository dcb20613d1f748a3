//! Which database errors are a race (tried again) and which a fault (never
//! retried, surfaced as one): only unique keys two writers can both take on
//! PostgreSQL are contention.

use registry_core::CoreError;
use registry_core::test_support::{TestDatabase, execute_sql};
use registry_core::{DatabaseUrl, PoolOptions, Registry, SchemeRules};

mod common;

on_both_backends!(only_raced_unique_keys_count_as_contention);

fn only_raced_unique_keys_count_as_contention(db: TestDatabase) {
    // Migrate through the register.
    let url = DatabaseUrl::parse(&db.url).expect("url");
    let registry = Registry::open(&url, &PoolOptions::default(), SchemeRules::pso()).expect("open");
    let postgres = db.url.starts_with("postgres");
    let twice = |sql: &str| {
        execute_sql(&db.url, sql).expect("first insert");
        let error = execute_sql(&db.url, sql).expect_err("second insert");
        CoreError::from(error)
    };
    // Two accreditations of one CB can race on PostgreSQL.
    let raced = twice(
        "INSERT INTO certification_bodies (id, name, accreditation, created_at, updated_at) \
         VALUES ('kiwa', 'Kiwa', 'active', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    );
    assert_eq!(
        matches!(raced, CoreError::Contention(_)),
        postgres,
        "{raced:?}"
    );
    // A request id taken twice is a replay, decided elsewhere; as a raw error it
    // is a fault, not a race.
    let fault = twice(
        "INSERT INTO replay_guard (cb_id, jti, expires_at) \
         VALUES ('kiwa', 'j-1', '2026-01-01 00:00:00')",
    );
    assert!(matches!(fault, CoreError::Storage(_)), "{fault:?}");
    drop(registry);
}
