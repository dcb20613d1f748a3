//! Name search, one arm per backend (ARCHITECTURE.md, "Storage"): PostgreSQL
//! uses pg_trgm's word similarity over `companies.search_text` with a GIN index;
//! SQLite keeps a vocabulary of the words in names, a trigram index over it, and
//! the words of each company. Both answer the same question — which companies'
//! names match every word of a query, typo-tolerant and by prefix, and how well
//! — with a score from 0 to 1000.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text};

use super::AnyConnection;
use super::schema::{search_company_words, search_word_trigrams, search_words};
use crate::text::{self, MATCH_THRESHOLD};

/// Words a query token may mean, at most this many (the best ones).
const WORDS_PER_TOKEN: usize = 50;
/// Query tokens considered, at most.
const MAX_TOKENS: usize = 6;

/// Records the words of a company's names for search (SQLite); PostgreSQL
/// indexes `companies.search_text` itself.
pub(crate) fn index_company(
    conn: &mut AnyConnection,
    kvk: &str,
    search_text: &str,
) -> QueryResult<()> {
    let AnyConnection::Sqlite(_) = conn else {
        return Ok(());
    };
    diesel::delete(search_company_words::table.filter(search_company_words::kvk_number.eq(kvk)))
        .execute(conn)?;
    for word in search_text.split(' ').filter(|w| !w.is_empty()) {
        let id = word_id(conn, word)?;
        diesel::insert_into(search_company_words::table)
            .values((
                search_company_words::word_id.eq(id),
                search_company_words::kvk_number.eq(kvk),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The id of `word` in the vocabulary, adding it (and its trigrams) when new.
fn word_id(conn: &mut AnyConnection, word: &str) -> QueryResult<i64> {
    let known: Option<i64> = search_words::table
        .filter(search_words::word.eq(word))
        .select(search_words::id)
        .first(conn)
        .optional()?;
    if let Some(id) = known {
        return Ok(id);
    }
    let id: i64 = diesel::insert_into(search_words::table)
        .values(search_words::word.eq(word))
        .returning(search_words::id)
        .get_result(conn)?;
    for trigram in text::trigrams(word) {
        diesel::insert_into(search_word_trigrams::table)
            .values((
                search_word_trigrams::trigram.eq(trigram),
                search_word_trigrams::word_id.eq(id),
            ))
            .execute(conn)?;
    }
    Ok(id)
}

#[derive(QueryableByName)]
struct Scored {
    #[diesel(sql_type = Text)]
    kvk_number: String,
    #[diesel(sql_type = Double)]
    score: f64,
}

#[derive(QueryableByName)]
struct WordHit {
    #[diesel(sql_type = BigInt)]
    word_id: i64,
}

/// The companies whose names match `query`, each with its score (0–1000),
/// best first, then by KvK number. Empty when the query has no searchable word.
pub(crate) fn matches(conn: &mut AnyConnection, query: &str) -> QueryResult<Vec<(String, u32)>> {
    let tokens: Vec<String> = text::search_words(query)
        .into_iter()
        .take(MAX_TOKENS)
        .collect();
    if tokens.is_empty() {
        return Ok(Vec::new());
    }
    let mut scored: Vec<(String, u32)> = match conn {
        AnyConnection::Postgresql(pg) => {
            let q = tokens.join(" ");
            diesel::sql_query(
                "SELECT kvk_number, word_similarity($1, search_text)::float8 AS score \
                 FROM companies WHERE $1 <% search_text",
            )
            .bind::<Text, _>(&q)
            .load::<Scored>(pg)?
            .into_iter()
            .map(|s| (s.kvk_number, (s.score * 1000.0).round() as u32))
            .collect()
        }
        AnyConnection::Sqlite(_) => sqlite_matches(conn, &tokens)?,
    };
    scored.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(scored)
}

/// SQLite: for each token, the vocabulary words it may mean; a company matches
/// when each token matches one of its words; its score is the mean of the best.
fn sqlite_matches(conn: &mut AnyConnection, tokens: &[String]) -> QueryResult<Vec<(String, u32)>> {
    let mut per_company: HashMap<String, Vec<f64>> = HashMap::new();
    for (i, token) in tokens.iter().enumerate() {
        let words = sqlite_words_for(conn, token)?;
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = words.keys().copied().collect();
        let links: Vec<(i64, String)> = search_company_words::table
            .filter(search_company_words::word_id.eq_any(&ids))
            .select((
                search_company_words::word_id,
                search_company_words::kvk_number,
            ))
            .load(conn)?;
        let mut best: HashMap<String, f64> = HashMap::new();
        for (word_id, kvk) in links {
            let score = words.get(&word_id).copied().unwrap_or(0.0);
            let entry = best.entry(kvk).or_insert(0.0);
            *entry = entry.max(score);
        }
        if i == 0 {
            per_company = best.into_iter().map(|(k, s)| (k, vec![s])).collect();
        } else {
            per_company.retain(|kvk, scores| match best.get(kvk) {
                Some(s) => {
                    scores.push(*s);
                    true
                }
                None => false,
            });
        }
        if per_company.is_empty() {
            break;
        }
    }
    Ok(per_company
        .into_iter()
        .map(|(kvk, scores)| {
            let mean = scores.iter().sum::<f64>() / scores.len() as f64;
            (kvk, (mean * 1000.0).round() as u32)
        })
        .collect())
}

/// The vocabulary words `token` may mean, with how well: words it starts (a
/// prefix), and words sharing enough trigrams with it (a typo).
fn sqlite_words_for(conn: &mut AnyConnection, token: &str) -> QueryResult<BTreeMap<i64, f64>> {
    let mut found: Vec<(i64, String)> = Vec::new();
    // Prefix: a range over the unique index on word.
    let upper = format!("{token}\u{10FFFF}");
    found.extend(
        search_words::table
            .filter(search_words::word.ge(token))
            .filter(search_words::word.lt(&upper))
            .order(search_words::word.asc())
            .limit(WORDS_PER_TOKEN as i64 * 4)
            .select((search_words::id, search_words::word))
            .load::<(i64, String)>(conn)?,
    );
    // Typos: words that share at least a third of the token's trigrams.
    let trigrams: Vec<String> = text::trigrams(token).into_iter().collect();
    let needed = (trigrams.len() as f64 * MATCH_THRESHOLD * 0.8)
        .ceil()
        .max(1.0) as i64;
    let hits: Vec<WordHit> = {
        let placeholders = vec!["?"; trigrams.len()].join(", ");
        let sql = format!(
            "SELECT word_id FROM search_word_trigrams WHERE trigram IN ({placeholders}) \
             GROUP BY word_id HAVING COUNT(*) >= ? ORDER BY COUNT(*) DESC LIMIT 400"
        );
        let AnyConnection::Sqlite(sqlite) = conn else {
            return Ok(BTreeMap::new());
        };
        let mut query = diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>();
        for t in &trigrams {
            query = query.bind::<Text, _>(t.clone());
        }
        query.bind::<BigInt, _>(needed).load(sqlite)?
    };
    let ids: BTreeSet<i64> = hits.iter().map(|h| h.word_id).collect();
    if !ids.is_empty() {
        found.extend(
            search_words::table
                .filter(search_words::id.eq_any(ids.into_iter().collect::<Vec<_>>()))
                .select((search_words::id, search_words::word))
                .load::<(i64, String)>(conn)?,
        );
    }
    let mut scored: Vec<(i64, f64)> = found
        .into_iter()
        .filter_map(|(id, word)| text::token_score(token, &word).map(|s| (id, s)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.dedup_by_key(|(id, _)| *id);
    Ok(scored.into_iter().take(WORDS_PER_TOKEN).collect())
}
