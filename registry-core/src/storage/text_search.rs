//! Name search, one arm per backend where they differ (ARCHITECTURE.md,
//! "Storage"). Both keep a vocabulary of the words in names (`search_words`)
//! and, for each word, the companies whose names hold it (`search_company_words`,
//! a posting list ordered by KvK number). A query token is matched against the
//! vocabulary — by prefix, and by trigram similarity for typos (pg_trgm's GIN
//! on PostgreSQL, a trigram table on SQLite) — and a company's score is the mean
//! over the tokens of its best word's score (0–1000).
//!
//! Results come best first, then by KvK number, and a page reads only what it
//! needs however common the words are: the scores a query can reach are known
//! from the words found (its *tiers*), and one token — the one whose words are
//! rarest — drives. A tier whose postings are few is read whole and sorted; a
//! large one is walked along its posting lists in KvK order and left as soon as
//! the page is full, so "drukkerij" costs the same at a million companies as at
//! ten thousand.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};

use super::AnyConnection;
use super::schema::{
    companies, company_sbi, search_company_words, search_word_trigrams, search_words,
};
use crate::text::{self, MATCH_THRESHOLD};

/// The backend of [`AnyConnection`], for boxed queries.
type Db = <AnyConnection as diesel::Connection>::Backend;

/// Words a query token may mean, at most this many (the best ones).
const WORDS_PER_TOKEN: usize = 50;
/// Query tokens considered, at most.
const MAX_TOKENS: usize = 6;
/// Tiers whose postings together number at most this are read whole and
/// sorted; a larger one is walked.
pub(crate) const BAND: i64 = 512;
/// Postings counted per word when planning, at most (or one more than the
/// band): enough to tell which token is rarest.
const COUNT_CAP: i64 = 2048;
/// Postings read per word in one step of a walk, at most.
const MAX_CHUNK: i64 = 4096;
/// Score combinations enumerated at most; a query with more (many tokens, each
/// with many near-misses) is ranked in one band over all its candidates.
const MAX_COMBINATIONS: usize = 4096;

/// Records the words of a company's names for search: new words in the
/// vocabulary (with their trigrams on SQLite), and the company's postings.
pub(crate) fn index_company(
    conn: &mut AnyConnection,
    kvk: &str,
    search_text: &str,
) -> QueryResult<()> {
    let words: Vec<&str> = search_text.split(' ').filter(|w| !w.is_empty()).collect();
    if let AnyConnection::Postgresql(pg) = conn {
        // One round trip: new words, then the company's postings. A word that
        // a concurrent transaction added first is not in this statement's
        // snapshot; then the postings are written again by statements of their
        // own, each with a new snapshot.
        let found = super::prepared::IndexCompany { words: &words, kvk }.get_result::<i64>(pg)?;
        if found < words.len() as i64 {
            super::prepared::PostWords { words: &words, kvk }.execute(pg)?;
        }
        return Ok(());
    }
    diesel::delete(search_company_words::table.filter(search_company_words::kvk_number.eq(kvk)))
        .execute(conn)?;
    for word in words {
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
/// SQLite only: PostgreSQL adds words in one statement and indexes them itself.
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

/// Where a ranked walk starts: after (or at) this score and KvK number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Start {
    pub score: u32,
    pub kvk: String,
    /// Whether the company at the start itself comes first (a list of its
    /// certificates may continue there).
    pub inclusive: bool,
}

impl Start {
    fn admits(&self, score: u32, kvk: &str) -> bool {
        let at = (std::cmp::Reverse(self.score), self.kvk.as_str());
        let here = (std::cmp::Reverse(score), kvk);
        if self.inclusive {
            here >= at
        } else {
            here > at
        }
    }
}

/// What a search asks of the company row (city, province, sector), applied
/// while posting lists are read so that a walk skips what the page would
/// drop anyway; the search applies its filters again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RowFilter {
    /// The folded city.
    pub city_key: Option<String>,
    pub province: Option<String>,
    /// SBI codes from the first (inclusive) to the second (exclusive).
    pub sbi_range: Option<(String, String)>,
}

/// A score the query can give, and the driving token's words that can lead
/// to it. `total: None` stands for every score at once (see
/// [`MAX_COMBINATIONS`]).
#[derive(Debug)]
struct Tier {
    total: Option<u32>,
    words: Vec<i64>,
    /// Postings of `words`, each word counted up to [`COUNT_CAP`] (or one
    /// more than the band, when that is larger).
    reach: i64,
}

/// The companies whose names match a query, best first then by KvK number,
/// read a chunk at a time (see the module's documentation).
#[derive(Debug)]
pub(crate) struct Ranked {
    /// Per token: the vocabulary words it may mean, and how well.
    tokens: Vec<HashMap<String, f64>>,
    tiers: Vec<Tier>,
    next_tier: usize,
    /// In a tier being walked: the last KvK number read.
    walked_to: Option<String>,
    start: Option<Start>,
    ready: VecDeque<(String, u32)>,
    /// See [`BAND`].
    band: i64,
    filter: RowFilter,
    /// The words of each token but the driving one: a company must hold one
    /// of each, which the database checks as it reads.
    others: Vec<Vec<i64>>,
}

impl Ranked {
    /// Plans the walk for `query` from `start`: finds each token's words, the
    /// tiers, and the driving token. No match at all when a token means no word.
    pub(crate) fn new(
        conn: &mut AnyConnection,
        query: &str,
        start: Option<Start>,
        filter: RowFilter,
        band: i64,
    ) -> QueryResult<Self> {
        let mut ranked = Ranked {
            tokens: Vec::new(),
            tiers: Vec::new(),
            next_tier: 0,
            walked_to: None,
            start,
            ready: VecDeque::new(),
            band,
            filter,
            others: Vec::new(),
        };
        let tokens: Vec<String> = text::search_words(query)
            .into_iter()
            .take(MAX_TOKENS)
            .collect();
        let mut matches: Vec<Vec<WordMatch>> = Vec::with_capacity(tokens.len());
        for token in &tokens {
            let words = words_for(conn, token)?;
            if words.is_empty() {
                return Ok(ranked);
            }
            matches.push(words);
        }
        if matches.is_empty() {
            return Ok(ranked);
        }
        let ids: BTreeSet<i64> = matches.iter().flatten().map(|m| m.id).collect();
        let reach = reach(
            conn,
            &ids.into_iter().collect::<Vec<_>>(),
            (band + 1).max(COUNT_CAP),
        )?;
        let reach_of = |words: &mut dyn Iterator<Item = i64>| -> i64 {
            words.map(|id| reach.get(&id).copied().unwrap_or(0)).sum()
        };
        let driving = (0..matches.len())
            .min_by_key(|&i| reach_of(&mut matches[i].iter().map(|m| m.id)))
            .unwrap_or(0);
        ranked.tiers = tiers(&matches, driving)
            .into_iter()
            .map(|(total, words)| Tier {
                total,
                reach: reach_of(&mut words.iter().copied()),
                words,
            })
            .filter(|tier| {
                ranked
                    .start
                    .as_ref()
                    .is_none_or(|s| tier.total.is_none_or(|t| t <= s.score))
            })
            .collect();
        ranked.others = matches
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != driving)
            .map(|(_, words)| words.iter().map(|m| m.id).collect())
            .collect();
        ranked.tokens = matches
            .into_iter()
            .map(|words| words.into_iter().map(|m| (m.word, m.score)).collect())
            .collect();
        Ok(ranked)
    }

    /// The next at most `n` companies, with their scores; empty at the end.
    pub(crate) fn next(
        &mut self,
        conn: &mut AnyConnection,
        n: usize,
    ) -> QueryResult<Vec<(String, u32)>> {
        // A walk that finds few companies of its score reads more each step.
        let mut chunk = (n as i64).clamp(1, MAX_CHUNK);
        while self.ready.len() < n && self.next_tier < self.tiers.len() {
            let tier = &self.tiers[self.next_tier];
            if tier.total.is_some() && tier.reach > self.band {
                self.walk(conn, chunk)?;
                chunk = (chunk * 2).min(MAX_CHUNK);
            } else {
                self.read_band(conn)?;
            }
        }
        let n = n.min(self.ready.len());
        Ok(self.ready.drain(..n).collect())
    }

    /// Reads the next tiers whose postings together are few, whole, and ranks
    /// their companies.
    fn read_band(&mut self, conn: &mut AnyConnection) -> QueryResult<()> {
        let first = self.next_tier;
        let mut end = first + 1;
        let mut reach = self.tiers[first].reach;
        if self.tiers[first].total.is_some() {
            while let Some(tier) = self.tiers.get(end) {
                if tier.total.is_none() || reach + tier.reach > self.band {
                    break;
                }
                reach += tier.reach;
                end += 1;
            }
        }
        let band = &self.tiers[first..end];
        let words: BTreeSet<i64> = band.iter().flat_map(|t| t.words.iter().copied()).collect();
        let totals: Option<HashSet<u32>> = band.iter().map(|t| t.total).collect();
        let lists = postings(
            conn,
            &words.into_iter().collect::<Vec<_>>(),
            None,
            None,
            &self.filter,
            &self.others,
        )?;
        let companies: BTreeMap<String, String> = lists.into_values().flatten().collect();
        let mut found: Vec<(String, u32)> = companies
            .into_iter()
            .filter_map(|(kvk, search_text)| {
                let score = company_score(search_text.split(' '), &self.tokens)?;
                (totals.as_ref().is_none_or(|t| t.contains(&score))
                    && self.start.as_ref().is_none_or(|s| s.admits(score, &kvk)))
                .then_some((kvk, score))
            })
            .collect();
        found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        self.ready.extend(found);
        self.next_tier = end;
        Ok(())
    }

    /// Walks the current (large) tier's posting lists in KvK order, `chunk`
    /// postings a word at most.
    fn walk(&mut self, conn: &mut AnyConnection, chunk: i64) -> QueryResult<()> {
        let tier = &self.tiers[self.next_tier];
        let total = tier.total.unwrap_or(0);
        let from = match (&self.walked_to, &self.start) {
            (Some(kvk), _) => Some((kvk.clone(), false)),
            (None, Some(s)) if s.score == total => Some((s.kvk.clone(), s.inclusive)),
            _ => None,
        };
        let lists = postings(
            conn,
            &tier.words,
            from.as_ref(),
            Some(chunk),
            &self.filter,
            &self.others,
        )?;
        // Every list is complete up to the least last number of those cut at
        // `chunk`; past it, a shorter list may still have numbers to come.
        let boundary: Option<String> = lists
            .values()
            .filter(|list| list.len() as i64 == chunk)
            .filter_map(|list| list.last().map(|(kvk, _)| kvk.clone()))
            .min();
        let companies: BTreeMap<String, String> = lists
            .into_values()
            .flatten()
            .filter(|(kvk, _)| boundary.as_ref().is_none_or(|b| kvk <= b))
            .collect();
        for (kvk, search_text) in companies {
            if let Some(score) = company_score(search_text.split(' '), &self.tokens)
                && score == total
                && self.start.as_ref().is_none_or(|s| s.admits(score, &kvk))
            {
                self.ready.push_back((kvk, score));
            }
        }
        match boundary {
            Some(b) => self.walked_to = Some(b),
            None => {
                self.walked_to = None;
                self.next_tier += 1;
            }
        }
        Ok(())
    }
}

/// The score of a company whose name has `words`: the mean over the query's
/// tokens of the best score among its words; `None` when a token is not met.
fn company_score<'a>(
    words: impl Iterator<Item = &'a str> + Clone,
    words_per_token: &[HashMap<String, f64>],
) -> Option<u32> {
    let mut best = Vec::with_capacity(words_per_token.len());
    for candidates in words_per_token {
        best.push(
            words
                .clone()
                .filter_map(|w| candidates.get(w))
                .copied()
                .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))))?,
        );
    }
    Some(total(&best))
}

/// The score of a company from its tokens' best word scores, 0–1000.
fn total(best: &[f64]) -> u32 {
    let sum: f64 = best.iter().sum();
    (sum / best.len() as f64 * 1000.0).round() as u32
}

/// The scores a query can give, best first, each with the words of the
/// `driving` token that a company of that score may hold (its best word for
/// that token scores one of the levels leading to the total).
fn tiers(matches: &[Vec<WordMatch>], driving: usize) -> Vec<(Option<u32>, Vec<i64>)> {
    // Each token's distinct word scores.
    let levels: Vec<Vec<f64>> = matches
        .iter()
        .map(|words| {
            let mut l: Vec<f64> = words.iter().map(|m| m.score).collect();
            l.sort_by(|a, b| b.total_cmp(a));
            l.dedup_by(|a, b| a.to_bits() == b.to_bits());
            l
        })
        .collect();
    let combinations = levels
        .iter()
        .try_fold(1usize, |acc, l| acc.checked_mul(l.len()))
        .unwrap_or(usize::MAX);
    if combinations > MAX_COMBINATIONS {
        return vec![(None, matches[driving].iter().map(|m| m.id).collect())];
    }
    // Total → levels of the driving token that reach it.
    let mut by_total: BTreeMap<u32, BTreeSet<usize>> = BTreeMap::new();
    let mut at = vec![0usize; levels.len()];
    loop {
        let best: Vec<f64> = at.iter().zip(&levels).map(|(&i, l)| l[i]).collect();
        by_total
            .entry(total(&best))
            .or_default()
            .insert(at[driving]);
        // The next combination, odometer-wise.
        let mut k = 0;
        loop {
            if k == at.len() {
                return by_total
                    .into_iter()
                    .rev()
                    .map(|(total, driving_levels)| {
                        let words = matches[driving]
                            .iter()
                            .filter(|m| {
                                driving_levels
                                    .iter()
                                    .any(|&i| levels[driving][i].to_bits() == m.score.to_bits())
                            })
                            .map(|m| m.id)
                            .collect();
                        (Some(total), words)
                    })
                    .collect();
            }
            at[k] += 1;
            if at[k] < levels[k].len() {
                break;
            }
            at[k] = 0;
            k += 1;
        }
    }
}

/// How many companies hold each word, counted up to `cap`.
fn reach(conn: &mut AnyConnection, ids: &[i64], cap: i64) -> QueryResult<HashMap<i64, i64>> {
    match conn {
        AnyConnection::Postgresql(pg) => Ok(diesel::sql_query(
            "SELECT w.id AS word_id, (SELECT count(*) FROM \
               (SELECT 1 FROM search_company_words p WHERE p.word_id = w.id LIMIT $2) x) AS n \
             FROM unnest($1::bigint[]) AS w(id)",
        )
        .bind::<Array<BigInt>, _>(ids)
        .bind::<BigInt, _>(cap)
        .load::<WordCount>(pg)?
        .into_iter()
        .map(|c| (c.word_id, c.n))
        .collect()),
        AnyConnection::Sqlite(sqlite) => {
            let mut counts = HashMap::with_capacity(ids.len());
            for &id in ids {
                let n = diesel::sql_query(
                    "SELECT ? AS word_id, (SELECT count(*) FROM \
                       (SELECT 1 FROM search_company_words WHERE word_id = ? LIMIT ?)) AS n",
                )
                .bind::<BigInt, _>(id)
                .bind::<BigInt, _>(id)
                .bind::<BigInt, _>(cap)
                .get_result::<WordCount>(sqlite)?;
                counts.insert(id, n.n);
            }
            Ok(counts)
        }
    }
}

#[derive(QueryableByName)]
struct WordCount {
    #[diesel(sql_type = BigInt)]
    word_id: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

diesel::alias!(search_company_words as other_words: OtherWords);

/// Each word's companies (KvK number and searchable text) that pass `filter`
/// and hold one of the words of each of `others`: all of them, or in KvK order
/// after (or from) `from`, at most `limit` a word.
fn postings(
    conn: &mut AnyConnection,
    words: &[i64],
    from: Option<&(String, bool)>,
    limit: Option<i64>,
    filter: &RowFilter,
    others: &[Vec<i64>],
) -> QueryResult<BTreeMap<i64, Vec<(String, String)>>> {
    let query = || {
        let mut q = search_company_words::table
            .inner_join(
                companies::table.on(companies::kvk_number.eq(search_company_words::kvk_number)),
            )
            .select((
                search_company_words::word_id,
                search_company_words::kvk_number,
                companies::search_text,
            ))
            .into_boxed::<Db>();
        if let Some(city) = &filter.city_key {
            q = q.filter(companies::city_key.eq(city.clone()));
        }
        if let Some(province) = &filter.province {
            q = q.filter(companies::province.eq(province.clone()));
        }
        if let Some((low, high)) = &filter.sbi_range {
            q = q.filter(diesel::dsl::exists(
                company_sbi::table
                    .filter(company_sbi::kvk_number.eq(search_company_words::kvk_number))
                    .filter(company_sbi::sbi_code.ge(low.clone()))
                    .filter(company_sbi::sbi_code.lt(high.clone())),
            ));
        }
        for words in others {
            q = q.filter(diesel::dsl::exists(
                other_words
                    .filter(
                        other_words
                            .field(search_company_words::kvk_number)
                            .eq(search_company_words::kvk_number),
                    )
                    .filter(
                        other_words
                            .field(search_company_words::word_id)
                            .eq_any(words.clone()),
                    ),
            ));
        }
        match from {
            Some((kvk, true)) => q.filter(search_company_words::kvk_number.ge(kvk.clone())),
            Some((kvk, false)) => q.filter(search_company_words::kvk_number.gt(kvk.clone())),
            None => q,
        }
    };
    let rows: Vec<(i64, String, String)> = match limit {
        None => query()
            .filter(search_company_words::word_id.eq_any(words))
            .load(conn)?,
        Some(limit) => {
            let mut rows = Vec::new();
            for &id in words {
                rows.extend(
                    query()
                        .filter(search_company_words::word_id.eq(id))
                        .order(search_company_words::kvk_number.asc())
                        .limit(limit)
                        .load::<(i64, String, String)>(conn)?,
                );
            }
            rows
        }
    };
    let mut lists: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
    for (word, kvk, search_text) in rows {
        lists.entry(word).or_default().push((kvk, search_text));
    }
    Ok(lists)
}

/// A vocabulary word a query token may mean, and how well (see
/// [`text::token_score`]).
#[derive(Debug, Clone)]
struct WordMatch {
    id: i64,
    word: String,
    score: f64,
}

#[derive(QueryableByName)]
struct VocabularyWord {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    word: String,
}

/// The vocabulary words `token` may mean: words it starts (a prefix), and
/// words sharing enough trigrams with it (a typo). At most
/// [`WORDS_PER_TOKEN`], the best.
fn words_for(conn: &mut AnyConnection, token: &str) -> QueryResult<Vec<WordMatch>> {
    let found: Vec<(i64, String)> = match conn {
        AnyConnection::Postgresql(pg) => diesel::sql_query(
            "SELECT id, word FROM search_words WHERE word % $1 OR word LIKE $2 LIMIT 400",
        )
        .bind::<Text, _>(token)
        .bind::<Text, _>(format!("{token}%"))
        .load::<VocabularyWord>(pg)?
        .into_iter()
        .map(|w| (w.id, w.word))
        .collect(),
        AnyConnection::Sqlite(_) => sqlite_words_for(conn, token)?,
    };
    let mut scored: Vec<WordMatch> = found
        .into_iter()
        .filter_map(|(id, word)| {
            text::token_score(token, &word).map(|score| WordMatch { id, word, score })
        })
        .collect();
    scored.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.word.cmp(&b.word))
    });
    scored.dedup_by(|a, b| a.id == b.id);
    scored.truncate(WORDS_PER_TOKEN);
    Ok(scored)
}

#[derive(QueryableByName)]
struct WordHit {
    #[diesel(sql_type = BigInt)]
    word_id: i64,
}

/// SQLite: vocabulary words that start with `token` (a range over the unique
/// index) or share at least a third of its trigrams (the trigram table).
fn sqlite_words_for(conn: &mut AnyConnection, token: &str) -> QueryResult<Vec<(i64, String)>> {
    let upper = format!("{token}\u{10FFFF}");
    let mut found: Vec<(i64, String)> = search_words::table
        .filter(search_words::word.ge(token))
        .filter(search_words::word.lt(&upper))
        .order(search_words::word.asc())
        .limit(WORDS_PER_TOKEN as i64 * 4)
        .select((search_words::id, search_words::word))
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
                .select((search_words::id, search_words::word))
                .load::<(i64, String)>(conn)?,
        );
    }
    Ok(found)
}
