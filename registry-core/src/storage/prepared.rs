//! The hot writes on PostgreSQL as statements the server prepares once per
//! connection. Diesel plans `sql_query` text anew at every call; these are the
//! same statements as query types with a fixed text, which diesel keeps
//! prepared (its statement cache is keyed by the type). One type per
//! statement, its binds in order.

use diesel::pg::{Pg, PgConnection};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Binary, Bool, Integer, Nullable, Text, Timestamp};
use diesel::{QueryResult, RunQueryDsl};

use super::LeafWrite;
use super::rows::NewEventRow;

/// Names a statement type for diesel's statement cache: the same type, the same
/// text, prepared once per connection.
macro_rules! prepared {
    ($($name:ident),* $(,)?) => {$(
        impl QueryId for $name<'_> {
            type QueryId = $name<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }
    )*};
}

prepared!(
    AppendEvent,
    LockCompany,
    IndexCompany,
    PostWords,
    WriteSbiCodes,
    WriteCoverage,
    StoreLeaf
);

/// Takes the log head's row lock, then appends an event (taking the
/// event-log lock shared) and announces it on the `pso_events` channel as
/// `instance:seq` (see [`super::instance`]); answers the head as it was and
/// the event's `seq` (see [`super::AnyConnection::append_event`]).
#[derive(Debug)]
pub(crate) struct AppendEvent<'a> {
    pub row: &'a NewEventRow<'a>,
}

impl QueryFragment<Pg> for AppendEvent<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let r = self.row;
        // The insert reads the locked head, and the shared event-log lock is
        // taken from it (LATERAL): the head's lock comes first, then the
        // shared one, then the seq — the order every writer keeps.
        out.push_sql(
            "WITH h AS (SELECT size, frontier FROM log_head WHERE id = 1 FOR UPDATE), \
             e AS (INSERT INTO events (certificate_id, cb_id, kind, effective_at, recorded_at, detail, evidence) SELECT ",
        );
        out.push_bind_param::<Nullable<BigInt>, _>(&r.certificate_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&r.cb_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(r.kind)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&r.effective_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&r.recorded_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(r.detail)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&r.evidence)?;
        out.push_sql(
            " FROM h, LATERAL (SELECT pg_advisory_xact_lock_shared(2, (h.size * 0)::integer)) l \
             RETURNING seq) SELECT h.size, h.frontier, e.seq FROM h, e, LATERAL (SELECT pg_notify('pso_events', ",
        );
        out.push_bind_param::<Text, _>(super::instance())?;
        out.push_sql(" || ':' || e.seq::text)) n");
        Ok(())
    }
}

impl Query for AppendEvent<'_> {
    type SqlType = (BigInt, Binary, BigInt);
}

impl RunQueryDsl<PgConnection> for AppendEvent<'_> {}

/// Serialises the writers of one company for the rest of the transaction.
#[derive(Debug)]
pub(crate) struct LockCompany<'a> {
    pub kvk: &'a str,
}

impl QueryFragment<Pg> for LockCompany<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT 1 FROM pg_advisory_xact_lock(1, hashtext(");
        out.push_bind_param::<Text, _>(self.kvk)?;
        out.push_sql("))");
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for LockCompany<'_> {}

/// A company's search words: the new ones into the vocabulary, and its
/// postings made those words' (see `text_search::index_company`); answers how
/// many of its words the statement saw.
#[derive(Debug)]
pub(crate) struct IndexCompany<'a> {
    pub words: &'a [&'a str],
    pub kvk: &'a str,
}

impl QueryFragment<Pg> for IndexCompany<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH added AS (INSERT INTO search_words (word) SELECT unnest(");
        out.push_bind_param::<Array<Text>, _>(self.words)?;
        out.push_sql(
            "::text[]) ON CONFLICT (word) DO NOTHING RETURNING id), \
             ids AS (SELECT id FROM added UNION SELECT id FROM search_words WHERE word = ANY(",
        );
        out.push_bind_param::<Array<Text>, _>(self.words)?;
        out.push_sql(")), gone AS (DELETE FROM search_company_words WHERE kvk_number = ");
        out.push_bind_param::<Text, _>(self.kvk)?;
        out.push_sql(
            " AND word_id NOT IN (SELECT id FROM ids)), \
             put AS (INSERT INTO search_company_words (word_id, kvk_number) SELECT id, ",
        );
        out.push_bind_param::<Text, _>(self.kvk)?;
        out.push_sql(" FROM ids ON CONFLICT DO NOTHING) SELECT count(*) FROM ids");
        Ok(())
    }
}

impl Query for IndexCompany<'_> {
    type SqlType = BigInt;
}

impl RunQueryDsl<PgConnection> for IndexCompany<'_> {}

/// A company's postings for words a concurrent transaction added first (the
/// second step of `text_search::index_company`, when needed).
#[derive(Debug)]
pub(crate) struct PostWords<'a> {
    pub words: &'a [&'a str],
    pub kvk: &'a str,
}

impl QueryFragment<Pg> for PostWords<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH ids AS (SELECT id FROM search_words WHERE word = ANY(");
        out.push_bind_param::<Array<Text>, _>(self.words)?;
        out.push_sql(")) INSERT INTO search_company_words (word_id, kvk_number) SELECT id, ");
        out.push_bind_param::<Text, _>(self.kvk)?;
        out.push_sql(" FROM ids ON CONFLICT DO NOTHING");
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for PostWords<'_> {}

/// Makes `codes` a company's SBI codes, each with its name order.
#[derive(Debug)]
pub(crate) struct WriteSbiCodes<'a> {
    pub codes: &'a [&'a str],
    pub kvk: &'a str,
    pub sort_name: &'a str,
}

impl QueryFragment<Pg> for WriteSbiCodes<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH gone AS (DELETE FROM company_sbi WHERE kvk_number = ");
        out.push_bind_param::<Text, _>(self.kvk)?;
        out.push_sql(" AND sbi_code <> ALL(");
        out.push_bind_param::<Array<Text>, _>(self.codes)?;
        out.push_sql(
            "::text[])) INSERT INTO company_sbi (sbi_code, kvk_number, sort_name) SELECT unnest(",
        );
        out.push_bind_param::<Array<Text>, _>(self.codes)?;
        out.push_sql("::text[]), ");
        out.push_bind_param::<Text, _>(self.kvk)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.sort_name)?;
        out.push_sql(
            " ON CONFLICT (sbi_code, kvk_number) DO UPDATE SET sort_name = EXCLUDED.sort_name \
             WHERE company_sbi.sort_name <> EXCLUDED.sort_name",
        );
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for WriteSbiCodes<'_> {}

/// Whom a new certificate covers.
#[derive(Debug)]
pub(crate) struct WriteCoverage<'a> {
    pub certificate: i64,
    pub kvks: &'a [&'a str],
    pub mains: &'a [bool],
}

impl QueryFragment<Pg> for WriteCoverage<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("INSERT INTO coverage (certificate_id, kvk_number, is_main) SELECT ");
        out.push_bind_param::<BigInt, _>(&self.certificate)?;
        out.push_sql(", kvk, main FROM unnest(");
        out.push_bind_param::<Array<Text>, _>(self.kvks)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Bool>, _>(self.mains)?;
        out.push_sql("::boolean[]) AS c(kvk, main)");
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for WriteCoverage<'_> {}

/// A log leaf, the hashes it completes, and the head after it, in one statement.
#[derive(Debug)]
pub(crate) struct StoreLeaf<'a> {
    pub w: &'a LeafWrite,
}

impl QueryFragment<Pg> for StoreLeaf<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let w = self.w;
        out.push_sql("WITH l AS (INSERT INTO log_leaves (log_index, seq) VALUES (");
        out.push_bind_param::<BigInt, _>(&w.log_index)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&w.seq)?;
        out.push_sql(
            "::bigint)), h AS (INSERT INTO log_hashes (level, idx, hash) SELECT * FROM unnest(",
        );
        out.push_bind_param::<Array<Integer>, _>(&w.levels)?;
        out.push_sql("::integer[], ");
        out.push_bind_param::<Array<BigInt>, _>(&w.indexes)?;
        out.push_sql("::bigint[], ");
        out.push_bind_param::<Array<Binary>, _>(&w.hashes)?;
        out.push_sql("::bytea[])) UPDATE log_head SET size = ");
        out.push_bind_param::<BigInt, _>(&w.log_index)?;
        out.push_sql(" + 1, frontier = ");
        out.push_bind_param::<Binary, _>(&w.frontier)?;
        out.push_sql(" WHERE id = 1");
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for StoreLeaf<'_> {}
