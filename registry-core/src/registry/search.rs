//! Search: companies and certificates by name (typo-tolerant, by prefix), KvK
//! number, place, sector, level, PSO 30+, status and certification body, on a
//! date, paged with a keyset cursor (a walk sees each row once while rows are
//! added).
//!
//! SQL narrows with indexes — the name index of each backend, place and sector,
//! and for `active` a superset by dates — and the status rule decides: whether
//! a row matches on status, level and PSO 30+ is always the pure function's
//! answer, never SQL's.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::Registry;
use super::queries::{Certificate, certificates_of, histories, histories_covering};
use crate::certificate::CertificateStatus;
use crate::certification_body::CbId;
use crate::company::{KvkNumber, Province};
use crate::error::CoreError;
use crate::level::Level;
use crate::status::{
    CertificateState, CompanyStatus, PeriodFacts, StatusAnswer, StatusQuery, Verdict,
    certificate_state_at, company_status, verdict,
};
use crate::storage::AnyConnection;
use crate::storage::rows::{CertificateRow, Company, CompanyRow, to_db};
use crate::storage::schema::{certificates, companies, company_sbi, coverage};
use crate::storage::text_search::{Ranked, RowFilter, Start};
use crate::text;
use crate::validation::InvalidValue;

/// The backend of [`AnyConnection`], for boxed queries.
type Db = <AnyConnection as diesel::Connection>::Backend;

/// Rows examined per round while filling a page: a first round about twice the
/// page (most rows match), then four times more each round, up to a bound.
#[derive(Debug)]
struct Rounds(i64);

impl Rounds {
    const MAX: i64 = 1000;

    fn new(limit: i64) -> Self {
        Self(((limit + 1) * 2).clamp(10, Self::MAX))
    }

    fn next(&mut self) -> i64 {
        let size = self.0;
        self.0 = (self.0 * 4).min(Self::MAX);
        size
    }
}

/// Which standing a search asks for, on `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchStatus {
    Any,
    Active,
    Suspended,
    Revoked,
    Expired,
    NotYetValid,
    /// Certificates only: replaced by another.
    Superseded,
}

impl SearchStatus {
    pub const ALL: [SearchStatus; 7] = [
        SearchStatus::Active,
        SearchStatus::Suspended,
        SearchStatus::Revoked,
        SearchStatus::Expired,
        SearchStatus::NotYetValid,
        SearchStatus::Superseded,
        SearchStatus::Any,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SearchStatus::Any => "any",
            SearchStatus::Active => "active",
            SearchStatus::Suspended => "suspended",
            SearchStatus::Revoked => "revoked",
            SearchStatus::Expired => "expired",
            SearchStatus::NotYetValid => "not_yet_valid",
            SearchStatus::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        SearchStatus::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                InvalidValue::new(
                    "must be one of active, suspended, revoked, expired, not_yet_valid, superseded, any",
                )
            })
    }

    fn admits_company(self, status: CompanyStatus) -> bool {
        match self {
            SearchStatus::Any => true,
            SearchStatus::Active => status == CompanyStatus::Active,
            SearchStatus::Suspended => status == CompanyStatus::Suspended,
            SearchStatus::Revoked => status == CompanyStatus::Revoked,
            SearchStatus::Expired => status == CompanyStatus::Expired,
            SearchStatus::NotYetValid => status == CompanyStatus::NotYetValid,
            SearchStatus::Superseded => false,
        }
    }

    fn admits_certificate(self, status: CertificateStatus) -> bool {
        match self {
            SearchStatus::Any => true,
            SearchStatus::Active => status == CertificateStatus::Active,
            SearchStatus::Suspended => status == CertificateStatus::Suspended,
            SearchStatus::Revoked => status == CertificateStatus::Revoked,
            SearchStatus::Expired => status == CertificateStatus::Expired,
            SearchStatus::NotYetValid => status == CertificateStatus::NotYetValid,
            SearchStatus::Superseded => status == CertificateStatus::Superseded,
        }
    }
}

/// What a search asks for. Every field narrows; `None` does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchFilter {
    /// Name or trade name, typo-tolerant and by prefix; ranks by relevance.
    pub q: Option<String>,
    /// Covered KvK number (main applicant or subsidiary).
    pub kvk: Option<KvkNumber>,
    /// City, ignoring case and diacritics.
    pub city: Option<String>,
    pub province: Option<Province>,
    /// An SBI code or its first digits (2 to 5 digits).
    pub sbi: Option<String>,
    /// Certified at this level or higher on `at`.
    pub level_min: Option<Level>,
    pub pso30plus: Option<bool>,
    pub status: SearchStatus,
    pub certification_body: Option<CbId>,
    /// The instant the standing is judged at (`valid_on`, or now).
    pub at: DateTime<Utc>,
}

impl SearchFilter {
    /// The name query a search ranks by: `q` without surrounding white space,
    /// when anything is left.
    pub fn ranked_query(&self) -> Option<&str> {
        self.q.as_deref().map(str::trim).filter(|q| !q.is_empty())
    }

    /// The question a company's standing is judged by.
    pub(crate) fn question(&self) -> StatusQuery {
        StatusQuery {
            on: self.at,
            until: None,
            level_min: self.level_min,
        }
    }

    /// Whether a company judged `v` on [`SearchFilter::question`], whose
    /// speaking certificate is of `cb`, matches on status, level, PSO 30+ and
    /// CB: the status rule decides, never storage.
    pub(crate) fn admits_company<H>(&self, v: &Verdict<'_, H>, cb: Option<&CbId>) -> bool {
        let level_ok = self.level_min.is_none() || v.certified;
        let pso_ok = self.pso30plus.is_none_or(|p| v.pso30plus == p);
        let cb_ok = self
            .certification_body
            .as_ref()
            .is_none_or(|wanted| cb == Some(wanted));
        self.status.admits_company(v.status) && level_ok && pso_ok && cb_ok
    }

    /// Whether a certificate in `state` on `at` matches on its own status,
    /// level and PSO 30+.
    pub(crate) fn admits_certificate<P: PeriodFacts>(
        &self,
        state: &CertificateState<'_, P>,
    ) -> bool {
        let active_period = state
            .period
            .filter(|_| state.status == CertificateStatus::Active);
        let level_ok = self
            .level_min
            .is_none_or(|min| active_period.is_some_and(|p| p.level() >= min));
        let pso_ok = self
            .pso30plus
            .is_none_or(|want| active_period.is_some_and(|p| p.pso30plus()) == want);
        self.status.admits_certificate(state.status) && level_ok && pso_ok
    }
}

/// Where a page continues: after (`score`, `key`, `id`) in the order of the list
/// — by relevance then id with a query, else by folded name then id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchCursor {
    pub score: Option<u32>,
    pub key: String,
    pub id: String,
}

/// A page of results, and where the next one starts (`None` at the end).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage<T> {
    pub items: Vec<T>,
    pub next: Option<SearchCursor>,
}

/// A company found, with its standing on the day asked about.
#[derive(Debug, Clone, PartialEq)]
pub struct CompanyHit {
    pub company: Company,
    pub standing: StatusAnswer,
}

/// The upper bound of a prefix range over digits (`41` → `41:`, just after
/// every code that starts with `41`, bytewise).
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}:")
}

/// The filters that live on the company row, for a name search to apply as it
/// reads.
fn row_filter(filter: &SearchFilter) -> RowFilter {
    RowFilter {
        city_key: filter.city.as_ref().map(|c| text::fold(c.trim())),
        province: filter.province.map(|p| p.name().to_owned()),
        sbi_range: filter.sbi.as_ref().map(|s| (s.clone(), prefix_end(s))),
    }
}

/// Applies the filters that live on the company row.
macro_rules! company_filters {
    ($query:expr, $filter:expr) => {{
        let mut q = $query;
        if let Some(city) = &$filter.city {
            q = q.filter(companies::city_key.eq(text::fold(city.trim())));
        }
        if let Some(province) = $filter.province {
            q = q.filter(companies::province.eq(province.name()));
        }
        if let Some(sbi) = &$filter.sbi {
            q = q.filter(diesel::dsl::exists(
                company_sbi::table
                    .filter(company_sbi::kvk_number.eq(companies::kvk_number))
                    .filter(company_sbi::sbi_code.ge(sbi.clone()))
                    .filter(company_sbi::sbi_code.lt(prefix_end(sbi))),
            ));
        }
        q
    }};
}

impl Registry {
    /// Companies matching `filter`, a page of at most `limit` after `after`.
    pub fn search_companies(
        &self,
        filter: &SearchFilter,
        after: Option<&SearchCursor>,
        limit: i64,
    ) -> Result<SearchPage<CompanyHit>, CoreError> {
        self.read(|conn| {
            let mut hits: Vec<(SearchCursor, CompanyHit)> = Vec::new();
            match filter.ranked_query() {
                Some(q) => {
                    let mut ranked = self.ranked(conn, q, filter, after, false)?;
                    let mut rounds = Rounds::new(limit);
                    loop {
                        let chunk = ranked.next(conn, rounds.next() as usize)?;
                        if chunk.is_empty() {
                            break;
                        }
                        let kvks: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
                        let rows =
                            company_rows(conn, filter, Some(&kvks), None, chunk.len() as i64)?;
                        let by_kvk: HashMap<String, CompanyRow> = rows
                            .into_iter()
                            .map(|r| (r.kvk_number.clone(), r))
                            .collect();
                        let ordered: Vec<(u32, CompanyRow)> = chunk
                            .iter()
                            .filter_map(|(kvk, score)| by_kvk.get(kvk).map(|r| (*score, r.clone())))
                            .collect();
                        judge_companies(conn, filter, ordered, &mut hits, limit)?;
                        if hits.len() as i64 > limit {
                            break;
                        }
                    }
                }
                None if filter.kvk.is_none()
                    && let Some(codes) = filter
                        .sbi
                        .as_deref()
                        .map(|sbi| sbi_codes_under(conn, sbi))
                        .transpose()?
                        .flatten() =>
                {
                    // A sector's companies by name, from its codes' name-ordered
                    // index, each round a stretch of names complete in itself.
                    let mut position = after.map(|c| (c.key.clone(), c.id.clone()));
                    let mut rounds = Rounds::new(limit);
                    loop {
                        let (stretch, next) =
                            sector_walk(conn, &codes, position.as_ref(), rounds.next())?;
                        let kvks: Vec<&str> = stretch.iter().map(String::as_str).collect();
                        let rows = company_rows(conn, filter, Some(&kvks), None, i64::MAX)?;
                        judge_companies(
                            conn,
                            filter,
                            rows.into_iter().map(|r| (0, r)).collect(),
                            &mut hits,
                            limit,
                        )?;
                        match next {
                            Some(n) if (hits.len() as i64) <= limit => position = Some(n),
                            _ => break,
                        }
                    }
                }
                None => {
                    let mut position = after.cloned();
                    let mut rounds = Rounds::new(limit);
                    loop {
                        let size = rounds.next();
                        let rows = company_rows(conn, filter, None, position.as_ref(), size)?;
                        let exhausted = (rows.len() as i64) < size;
                        position = rows.last().map(|r| SearchCursor {
                            score: None,
                            key: r.sort_name.clone(),
                            id: r.kvk_number.clone(),
                        });
                        judge_companies(
                            conn,
                            filter,
                            rows.into_iter().map(|r| (0, r)).collect(),
                            &mut hits,
                            limit,
                        )?;
                        if exhausted || hits.len() as i64 > limit {
                            break;
                        }
                    }
                }
            }
            Ok(page(hits, limit, filter.ranked_query().is_some()))
        })
    }

    /// Certificates matching `filter`, a page of at most `limit` after `after`.
    pub fn search_certificates(
        &self,
        filter: &SearchFilter,
        after: Option<&SearchCursor>,
        limit: i64,
    ) -> Result<SearchPage<Certificate>, CoreError> {
        self.read(|conn| {
            let mut hits: Vec<(SearchCursor, CertificateRow)> = Vec::new();
            match filter.ranked_query() {
                Some(q) => {
                    // Certificates of the holders found, by the holder's score,
                    // then number; the cursor's holder may have more to come.
                    let mut ranked = self.ranked(conn, q, filter, after, true)?;
                    let mut rounds = Rounds::new(limit);
                    loop {
                        let chunk = ranked.next(conn, rounds.next() as usize)?;
                        if chunk.is_empty() {
                            break;
                        }
                        let score_of: HashMap<&str, u32> =
                            chunk.iter().map(|(k, s)| (k.as_str(), *s)).collect();
                        let kvks: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
                        let mut rows: Vec<(u32, String, CertificateRow)> =
                            certificate_rows(conn, filter, Some(&kvks), None, i64::MAX)?
                                .into_iter()
                                .map(|(sort, row)| {
                                    (
                                        score_of.get(row.main_kvk.as_str()).copied().unwrap_or(0),
                                        sort,
                                        row,
                                    )
                                })
                                .collect();
                        rows.sort_by(|a, b| {
                            b.0.cmp(&a.0)
                                .then_with(|| a.2.main_kvk.cmp(&b.2.main_kvk))
                                .then_with(|| a.2.number.cmp(&b.2.number))
                        });
                        rows.retain(|(score, _, row)| {
                            after
                                .is_none_or(|c| ranked_after(*score, &row.main_kvk, &row.number, c))
                        });
                        judge_certificates(conn, filter, rows, &mut hits, limit)?;
                        if hits.len() as i64 > limit {
                            break;
                        }
                    }
                }
                None => {
                    let mut position = after.cloned();
                    let mut rounds = Rounds::new(limit);
                    loop {
                        let size = rounds.next();
                        let rows = certificate_rows(conn, filter, None, position.as_ref(), size)?;
                        let exhausted = (rows.len() as i64) < size;
                        position = rows.last().map(|(sort, r)| SearchCursor {
                            score: None,
                            key: sort.clone(),
                            id: r.number.clone(),
                        });
                        judge_certificates(
                            conn,
                            filter,
                            rows.into_iter().map(|(sort, r)| (0, sort, r)).collect(),
                            &mut hits,
                            limit,
                        )?;
                        if exhausted || hits.len() as i64 > limit {
                            break;
                        }
                    }
                }
            }
            let with_next = page(hits, limit, filter.ranked_query().is_some());
            let certificates = certificates_of(conn, with_next.items)?;
            Ok(SearchPage {
                items: certificates,
                next: with_next.next,
            })
        })
    }
}

impl Registry {
    /// The companies whose names match `q`, best first, from the cursor's
    /// place in the ranking (its holder included or not).
    fn ranked(
        &self,
        conn: &mut AnyConnection,
        q: &str,
        filter: &SearchFilter,
        after: Option<&SearchCursor>,
        inclusive: bool,
    ) -> Result<Ranked, CoreError> {
        let start = after.map(|c| Start {
            score: c.score.unwrap_or(u32::MAX),
            kvk: c.key.clone(),
            inclusive,
        });
        Ok(Ranked::new(
            conn,
            q,
            start,
            row_filter(filter),
            self.search_band,
        )?)
    }
}

/// Whether a ranked result comes after the cursor in relevance order: score
/// descending, then key (the holder's KvK number), then id, ascending.
fn ranked_after(score: u32, key: &str, id: &str, cursor: &SearchCursor) -> bool {
    let c = cursor.score.unwrap_or(u32::MAX);
    (std::cmp::Reverse(score), key, id)
        > (
            std::cmp::Reverse(c),
            cursor.key.as_str(),
            cursor.id.as_str(),
        )
}

/// Cuts `hits` to a page; the cursor points at its last item when more follow.
fn page<T>(mut hits: Vec<(SearchCursor, T)>, limit: i64, ranked: bool) -> SearchPage<T> {
    let more = hits.len() as i64 > limit;
    hits.truncate(limit as usize);
    let next = if more {
        hits.last().map(|(c, _)| c.clone())
    } else {
        None
    };
    let next = next.map(|mut c| {
        if !ranked {
            c.score = None;
        }
        c
    });
    SearchPage {
        items: hits.into_iter().map(|(_, t)| t).collect(),
        next,
    }
}

/// Sector codes under a prefix, at most this many; a prefix with more is
/// walked along the name index instead.
const MAX_SECTOR_CODES: usize = 64;

/// The SBI codes in use that start with `prefix`, each found by one index
/// seek; `None` when there are more than [`MAX_SECTOR_CODES`].
fn sbi_codes_under(
    conn: &mut AnyConnection,
    prefix: &str,
) -> Result<Option<Vec<String>>, CoreError> {
    let end = prefix_end(prefix);
    let mut codes: Vec<String> = Vec::new();
    loop {
        let mut next = company_sbi::table
            .filter(company_sbi::sbi_code.lt(end.clone()))
            .select(diesel::dsl::min(company_sbi::sbi_code))
            .into_boxed::<Db>();
        next = match codes.last() {
            Some(last) => next.filter(company_sbi::sbi_code.gt(last.clone())),
            None => next.filter(company_sbi::sbi_code.ge(prefix.to_owned())),
        };
        match next.first::<Option<String>>(conn)? {
            Some(code) if codes.len() < MAX_SECTOR_CODES => codes.push(code),
            Some(_) => return Ok(None),
            None => return Ok(Some(codes)),
        }
    }
}

/// A place in name order: the folded name, then the KvK number.
type NamePosition = (String, String);

/// The next companies by name (after `after`: sort name and KvK number) that
/// hold one of `codes`, about `size` of them: a stretch complete up to its
/// last name, and where the next one starts (`None` at the end).
fn sector_walk(
    conn: &mut AnyConnection,
    codes: &[String],
    after: Option<&NamePosition>,
    size: i64,
) -> Result<(Vec<String>, Option<NamePosition>), CoreError> {
    let mut lists: Vec<Vec<NamePosition>> = Vec::with_capacity(codes.len());
    for code in codes {
        let mut query = company_sbi::table
            .filter(company_sbi::sbi_code.eq(code.clone()))
            .select((company_sbi::sort_name, company_sbi::kvk_number))
            .order((company_sbi::sort_name.asc(), company_sbi::kvk_number.asc()))
            .limit(size)
            .into_boxed::<Db>();
        if let Some((name, kvk)) = after {
            query = query.filter(
                company_sbi::sort_name
                    .gt(name.clone())
                    .or(company_sbi::sort_name
                        .eq(name.clone())
                        .and(company_sbi::kvk_number.gt(kvk.clone()))),
            );
        }
        lists.push(query.load(conn)?);
    }
    // Every list is complete up to the least last entry of those cut at `size`.
    let boundary: Option<NamePosition> = lists
        .iter()
        .filter(|l| l.len() as i64 == size)
        .filter_map(|l| l.last().cloned())
        .min();
    let stretch: BTreeSet<NamePosition> = lists
        .into_iter()
        .flatten()
        .filter(|entry| boundary.as_ref().is_none_or(|b| entry <= b))
        .collect();
    Ok((stretch.into_iter().map(|(_, kvk)| kvk).collect(), boundary))
}

/// Company rows passing the row filters (and, for `active`, the date superset),
/// either those in `kvks` or the next `limit` after `after` by folded name.
fn company_rows(
    conn: &mut AnyConnection,
    filter: &SearchFilter,
    kvks: Option<&[&str]>,
    after: Option<&SearchCursor>,
    limit: i64,
) -> Result<Vec<CompanyRow>, CoreError> {
    let at = to_db(filter.at);
    let mut query = company_filters!(
        companies::table
            .select(CompanyRow::as_select())
            .into_boxed(),
        filter
    );
    if let Some(kvk) = &filter.kvk {
        query = query.filter(companies::kvk_number.eq(kvk.as_str().to_owned()));
    }
    if let Some(kvks) = kvks {
        query = query.filter(
            companies::kvk_number.eq_any(kvks.iter().map(|k| k.to_string()).collect::<Vec<_>>()),
        );
    }
    if let Some(c) = after {
        query = query.filter(
            companies::sort_name
                .gt(c.key.clone())
                .or(companies::sort_name
                    .eq(c.key.clone())
                    .and(companies::kvk_number.gt(c.id.clone()))),
        );
    }
    // Supersets by dates and CB, decided by the status rule afterwards.
    if filter.status == SearchStatus::Active {
        query = query.filter(diesel::dsl::exists(
            coverage::table
                .inner_join(certificates::table)
                .filter(coverage::kvk_number.eq(companies::kvk_number))
                .filter(certificates::starts_at.le(at))
                .filter(certificates::ends_at.gt(at))
                .filter(
                    certificates::closed_at
                        .is_null()
                        .or(certificates::closed_at.gt(at)),
                ),
        ));
    }
    if let Some(cb) = &filter.certification_body {
        query = query.filter(diesel::dsl::exists(
            coverage::table
                .inner_join(certificates::table)
                .filter(coverage::kvk_number.eq(companies::kvk_number))
                .filter(certificates::cb_id.eq(cb.as_str().to_owned())),
        ));
    }
    // Companies that never held the level, or PSO 30+, cannot hold it now.
    if let Some(min) = filter.level_min {
        query = query.filter(diesel::dsl::exists(
            coverage::table
                .inner_join(certificates::table)
                .filter(coverage::kvk_number.eq(companies::kvk_number))
                .filter(certificates::top_level.ge(min.rank())),
        ));
    }
    if filter.pso30plus == Some(true) {
        query = query.filter(diesel::dsl::exists(
            coverage::table
                .inner_join(certificates::table)
                .filter(coverage::kvk_number.eq(companies::kvk_number))
                .filter(certificates::any_pso30plus.eq(true)),
        ));
    }
    Ok(query
        .order((companies::sort_name.asc(), companies::kvk_number.asc()))
        .limit(limit)
        .load(conn)?)
}

/// Keeps the companies whose standing on `filter.at` matches, in order.
fn judge_companies(
    conn: &mut AnyConnection,
    filter: &SearchFilter,
    rows: Vec<(u32, CompanyRow)>,
    hits: &mut Vec<(SearchCursor, CompanyHit)>,
    limit: i64,
) -> Result<(), CoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let kvks: Vec<&str> = rows.iter().map(|(_, r)| r.kvk_number.as_str()).collect();
    let by_kvk = histories_covering(conn, &kvks)?;
    let query = filter.question();
    for (score, row) in rows {
        let certificates = by_kvk
            .get(&row.kvk_number)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let v = verdict(certificates, &query);
        if filter.admits_company(&v, v.speaker.map(|h| &h.certification_body)) {
            let standing = company_status(certificates, &query);
            let key = if filter.ranked_query().is_some() {
                row.kvk_number.clone()
            } else {
                row.sort_name.clone()
            };
            let cursor = SearchCursor {
                score: Some(score),
                key,
                id: row.kvk_number.clone(),
            };
            hits.push((
                cursor,
                CompanyHit {
                    company: row.into_domain()?,
                    standing,
                },
            ));
            if hits.len() as i64 > limit {
                break;
            }
        }
    }
    Ok(())
}

/// Certificate rows (with the holder's folded name) passing the row filters,
/// either those of the holders in `kvks` or the next `limit` after `after`.
fn certificate_rows(
    conn: &mut AnyConnection,
    filter: &SearchFilter,
    kvks: Option<&[&str]>,
    after: Option<&SearchCursor>,
    limit: i64,
) -> Result<Vec<(String, CertificateRow)>, CoreError> {
    let at = to_db(filter.at);
    let mut query = company_filters!(
        certificates::table
            .inner_join(companies::table.on(companies::kvk_number.eq(certificates::main_kvk)))
            .select((companies::sort_name, CertificateRow::as_select()))
            .into_boxed::<Db>(),
        filter
    );
    if let Some(kvk) = &filter.kvk {
        query = query.filter(diesel::dsl::exists(
            coverage::table
                .filter(coverage::certificate_id.eq(certificates::id))
                .filter(coverage::kvk_number.eq(kvk.as_str().to_owned())),
        ));
    }
    if let Some(kvks) = kvks {
        query = query.filter(
            certificates::main_kvk.eq_any(kvks.iter().map(|k| k.to_string()).collect::<Vec<_>>()),
        );
    }
    if let Some(cb) = &filter.certification_body {
        query = query.filter(certificates::cb_id.eq(cb.as_str().to_owned()));
    }
    if let Some(min) = filter.level_min {
        query = query.filter(certificates::top_level.ge(min.rank()));
    }
    if filter.pso30plus == Some(true) {
        query = query.filter(certificates::any_pso30plus.eq(true));
    }
    if filter.status == SearchStatus::Active {
        query = query
            .filter(certificates::starts_at.le(at))
            .filter(certificates::ends_at.gt(at))
            .filter(
                certificates::closed_at
                    .is_null()
                    .or(certificates::closed_at.gt(at)),
            );
    }
    if let Some(c) = after {
        query = query.filter(
            companies::sort_name
                .gt(c.key.clone())
                .or(companies::sort_name
                    .eq(c.key.clone())
                    .and(certificates::number.gt(c.id.clone()))),
        );
    }
    let query = query.order((companies::sort_name.asc(), certificates::number.asc()));
    Ok(if limit == i64::MAX {
        query.load(conn)?
    } else {
        query.limit(limit).load(conn)?
    })
}

/// Keeps the certificates whose own standing on `filter.at` matches, in order.
fn judge_certificates(
    conn: &mut AnyConnection,
    filter: &SearchFilter,
    rows: Vec<(u32, String, CertificateRow)>,
    hits: &mut Vec<(SearchCursor, CertificateRow)>,
    limit: i64,
) -> Result<(), CoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let plain: Vec<CertificateRow> = rows.iter().map(|(_, _, r)| r.clone()).collect();
    let by_id = histories(conn, &plain)?;
    for (score, sort, row) in rows {
        let Some(history) = by_id.get(&row.id) else {
            continue;
        };
        let state = certificate_state_at(history, filter.at);
        if filter.admits_certificate(&state) {
            let key = if filter.ranked_query().is_some() {
                row.main_kvk.clone()
            } else {
                sort
            };
            hits.push((
                SearchCursor {
                    score: Some(score),
                    key,
                    id: row.number.clone(),
                },
                row,
            ));
            if hits.len() as i64 > limit {
                break;
            }
        }
    }
    Ok(())
}
