//! Name search, one arm per backend where they differ (ARCHITECTURE.md,
//! "Storage"). Both keep a vocabulary of the words in names (`search_words`): a
//! query token is matched against it — by prefix, and by trigram similarity for
//! typos — and the companies holding the words found are its matches. Where the
//! backends differ: the trigram index over the vocabulary (pg_trgm's GIN on
//! PostgreSQL; a trigram table on SQLite) and the index from words to companies
//! (a full-text GIN index over `companies.search_text` on PostgreSQL, kept by
//! the database itself; a word-to-company table on SQLite). Both answer which
//! companies' names match every word of a query, and how well, from 0 to 1000.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};

use super::AnyConnection;
use super::schema::{search_company_words, search_word_trigrams, search_words};
use crate::text::{self, MATCH_THRESHOLD};

/// Words a query token may mean, at most this many (the best ones).
const WORDS_PER_TOKEN: usize = 50;
/// Query tokens considered, at most.
const MAX_TOKENS: usize = 6;

/// Records the words of a company's names for search: in the vocabulary (one
/// statement on PostgreSQL, whose full-text index maps words to companies), and
/// on SQLite also in the word-to-company table.
pub(crate) fn index_company(
    conn: &mut AnyConnection,
    kvk: &str,
    search_text: &str,
) -> QueryResult<()> {
    if let AnyConnection::Postgresql(pg) = conn {
        let words: Vec<&str> = search_text.split(' ').filter(|w| !w.is_empty()).collect();
        if !words.is_empty() {
            diesel::sql_query(
                "INSERT INTO search_words (word) SELECT unnest($1::text[]) ON CONFLICT (word) DO NOTHING",
            )
            .bind::<Array<Text>, _>(&words)
            .execute(pg)?;
        }
        return Ok(());
    }
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
    let mut words_per_token = Vec::with_capacity(tokens.len());
    for token in &tokens {
        let words = words_for(conn, token)?;
        if words.is_empty() {
            return Ok(Vec::new());
        }
        words_per_token.push(words);
    }
    let mut scored: Vec<(String, u32)> = match conn {
        AnyConnection::Postgresql(_) => postgres_companies(conn, &words_per_token)?,
        AnyConnection::Sqlite(_) => sqlite_companies(conn, &words_per_token)?,
    };
    scored.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(scored)
}

/// The score of a company whose name has `words`: the mean over the query's
/// tokens of the best score among its words; `None` when a token is not met.
fn company_score<'a>(
    words: impl Iterator<Item = &'a str> + Clone,
    words_per_token: &[HashMap<String, f64>],
) -> Option<u32> {
    let mut total = 0.0;
    for candidates in words_per_token {
        let best = words
            .clone()
            .filter_map(|w| candidates.get(w))
            .copied()
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))))?;
        total += best;
    }
    Some((total / words_per_token.len() as f64 * 1000.0).round() as u32)
}

/// PostgreSQL: the companies whose names hold a word of every token, by the
/// full-text index (`(w1 | w2) & (w3 | …)`), scored from their words.
fn postgres_companies(
    conn: &mut AnyConnection,
    words_per_token: &[HashMap<String, f64>],
) -> QueryResult<Vec<(String, u32)>> {
    let AnyConnection::Postgresql(pg) = conn else {
        return Ok(Vec::new());
    };
    // Vocabulary words are letters and digits only: nothing to escape.
    let tsquery = words_per_token
        .iter()
        .map(|words| {
            format!(
                "({})",
                words.keys().cloned().collect::<Vec<_>>().join(" | ")
            )
        })
        .collect::<Vec<_>>()
        .join(" & ");
    let rows: Vec<Named> = diesel::sql_query(
        "SELECT kvk_number, search_text FROM companies \
         WHERE to_tsvector('simple', search_text) @@ to_tsquery('simple', $1)",
    )
    .bind::<Text, _>(&tsquery)
    .load(pg)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            company_score(r.search_text.split(' '), words_per_token).map(|s| (r.kvk_number, s))
        })
        .collect())
}

#[derive(QueryableByName)]
struct Named {
    #[diesel(sql_type = Text)]
    kvk_number: String,
    #[diesel(sql_type = Text)]
    search_text: String,
}

#[derive(QueryableByName)]
struct Word {
    #[diesel(sql_type = Text)]
    word: String,
}

/// The vocabulary words `token` may mean, with how well (see
/// [`text::token_score`]): words it starts (a prefix), and words sharing enough
/// trigrams with it (a typo). At most [`WORDS_PER_TOKEN`], the best.
fn words_for(conn: &mut AnyConnection, token: &str) -> QueryResult<HashMap<String, f64>> {
    let found: Vec<String> = match conn {
        AnyConnection::Postgresql(pg) => diesel::sql_query(
            "SELECT word FROM search_words WHERE word % $1 OR word LIKE $2 LIMIT 400",
        )
        .bind::<Text, _>(token)
        .bind::<Text, _>(format!("{token}%"))
        .load::<Word>(pg)?
        .into_iter()
        .map(|w| w.word)
        .collect(),
        AnyConnection::Sqlite(_) => sqlite_words_for(conn, token)?,
    };
    let mut scored: Vec<(String, f64)> = found
        .into_iter()
        .filter_map(|word| text::token_score(token, &word).map(|s| (word, s)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    scored.dedup_by(|a, b| a.0 == b.0);
    Ok(scored.into_iter().take(WORDS_PER_TOKEN).collect())
}

/// SQLite: the companies holding a word of every token, the rarest token
/// first, each further token looked up only among the companies left.
fn sqlite_companies(
    conn: &mut AnyConnection,
    words_per_token: &[HashMap<String, f64>],
) -> QueryResult<Vec<(String, u32)>> {
    // Word ids, and how many companies each token reaches.
    let mut tokens: Vec<(i64, HashMap<i64, f64>)> = Vec::new();
    for words in words_per_token {
        let names: Vec<&str> = words.keys().map(String::as_str).collect();
        let ids: Vec<(i64, String)> = search_words::table
            .filter(search_words::word.eq_any(&names))
            .select((search_words::id, search_words::word))
            .load(conn)?;
        let by_id: HashMap<i64, f64> = ids
            .into_iter()
            .map(|(id, w)| (id, words.get(&w).copied().unwrap_or(0.0)))
            .collect();
        let reach: i64 = search_company_words::table
            .filter(search_company_words::word_id.eq_any(by_id.keys().copied().collect::<Vec<_>>()))
            .count()
            .get_result(conn)?;
        tokens.push((reach, by_id));
    }
    tokens.sort_by_key(|(reach, _)| *reach);
    let mut scores: HashMap<String, Vec<f64>> = HashMap::new();
    for (i, (_, by_id)) in tokens.iter().enumerate() {
        let ids: Vec<i64> = by_id.keys().copied().collect();
        let links: Vec<(i64, String)> = if i == 0 {
            search_company_words::table
                .filter(search_company_words::word_id.eq_any(&ids))
                .select((
                    search_company_words::word_id,
                    search_company_words::kvk_number,
                ))
                .load(conn)?
        } else {
            let left: Vec<String> = scores.keys().cloned().collect();
            let mut links = Vec::new();
            for chunk in left.chunks(500) {
                links.extend(
                    search_company_words::table
                        .filter(search_company_words::word_id.eq_any(&ids))
                        .filter(search_company_words::kvk_number.eq_any(chunk))
                        .select((
                            search_company_words::word_id,
                            search_company_words::kvk_number,
                        ))
                        .load::<(i64, String)>(conn)?,
                );
            }
            links
        };
        let mut best: HashMap<String, f64> = HashMap::new();
        for (word_id, kvk) in links {
            let score = by_id.get(&word_id).copied().unwrap_or(0.0);
            let entry = best.entry(kvk).or_insert(0.0);
            *entry = entry.max(score);
        }
        if i == 0 {
            scores = best.into_iter().map(|(k, s)| (k, vec![s])).collect();
        } else {
            scores.retain(|kvk, s| match best.get(kvk) {
                Some(b) => {
                    s.push(*b);
                    true
                }
                None => false,
            });
        }
        if scores.is_empty() {
            break;
        }
    }
    Ok(scores
        .into_iter()
        .map(|(kvk, s)| {
            (
                kvk,
                (s.iter().sum::<f64>() / s.len() as f64 * 1000.0).round() as u32,
            )
        })
        .collect())
}

/// SQLite: vocabulary words that start with `token` (a range over the unique
/// index) or share at least a third of its trigrams (the trigram table).
fn sqlite_words_for(conn: &mut AnyConnection, token: &str) -> QueryResult<Vec<String>> {
    let upper = format!("{token}\u{10FFFF}");
    let mut found: Vec<String> = search_words::table
        .filter(search_words::word.ge(token))
        .filter(search_words::word.lt(&upper))
        .order(search_words::word.asc())
        .limit(WORDS_PER_TOKEN as i64 * 4)
        .select(search_words::word)
        .load(conn)?;
    let trigrams: Vec<String> = text::trigrams(token).into_iter().collect();
    let needed = (trigrams.len() as f64 * MATCH_THRESHOLD * 0.8)
        .ceil()
        .max(1.0) as i64;
    let placeholders = vec!["?"; trigrams.len()].join(", ");
    let sql = format!(
        "SELECT word_id FROM search_word_trigrams WHERE trigram IN ({placeholders}) \
         GROUP BY word_id HAVING COUNT(*) >= ? ORDER BY COUNT(*) DESC LIMIT 400"
    );
    let AnyConnection::Sqlite(sqlite) = conn else {
        return Ok(found);
    };
    let mut query = diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>();
    for t in &trigrams {
        query = query.bind::<Text, _>(t.clone());
    }
    let hits: Vec<WordHit> = query.bind::<BigInt, _>(needed).load(sqlite)?;
    let ids: Vec<i64> = hits
        .iter()
        .map(|h| h.word_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !ids.is_empty() {
        found.extend(
            search_words::table
                .filter(search_words::id.eq_any(ids))
                .select(search_words::word)
                .load::<String>(conn)?,
        );
    }
    Ok(found)
}
