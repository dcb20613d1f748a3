//! What the core's database tests share: running a test on both backends.

/// Runs each named `fn(TestDatabase)` against a fresh SQLite file and a fresh
/// PostgreSQL database (skipped, loudly, when no server is reachable).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(registry_core::test_support::TestDatabase::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $name() {
                if let Some(db) = registry_core::test_support::TestDatabase::postgres() {
                    super::$name(db);
                }
            })*
        }
    };
}
