//! Building the model from the database: every table it derives from, read
//! in one snapshot a page at a time (so that a million companies never sit in
//! memory twice), and the `seq` of the last event that snapshot holds.
//! Also reading back what an event changed, for events that do not carry it.

use diesel::prelude::*;
use smallvec::SmallVec;
use std::collections::HashMap;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::order::{NameKey, NameOrder};
use super::store::{CbRef, CertRec, CompanyFacts, ModelPeriod, PeriodParts, Store};
use crate::certificate::{CertificateHistory, Standing, StandingChange};
use crate::certification_body::CbId;
use crate::company::{KvkNumber, Name, Province};
use crate::error::CoreError;
use crate::event::EventKind;
use crate::level::Level;
use crate::log::Frontier;
use crate::period::{HandbookVersion, Score};
use crate::registry::event_log::LoggedEvent;
use crate::scheme::{Scheme, SchemeRules};
use crate::storage::AnyConnection;
use crate::storage::rows::Company;
use crate::storage::rows::{
    CertificateRow, CompanyFactsRow, CompanyRow, CoverageRow, corrupt, from_db, number,
};
use crate::storage::schema::{
    certificates, companies, coverage, events, log_hashes, log_head, log_leaves, search_words,
};
use crate::text;
use crate::time;

/// Rows read per query while loading.
const PAGE: i64 = 20_000;

/// What the reader of a snapshot hands the builder, in this order.
#[derive(Debug)]
enum Rows {
    Words(Vec<String>),
    Companies(Vec<CompanyFactsRow>),
    /// KvK numbers in name order.
    Names(Vec<String>),
    /// Certificates, and their subsidiaries (coverage rows, by certificate).
    Certificates(Vec<CertificateRow>, Vec<CoverageRow>),
}

impl Store {
    /// The register as of the last event the database holds: the model, and
    /// that event's `seq`. One thread reads the snapshot (the database's work
    /// and the rows' decoding) while another builds the model from what it
    /// read.
    pub(crate) fn load(
        conn: &mut AnyConnection,
        rules: SchemeRules,
        block: usize,
    ) -> Result<(Store, i64), CoreError> {
        conn.in_snapshot(|conn, seq| {
            std::thread::scope(|scope| {
                let (rows, arriving) = std::sync::mpsc::sync_channel::<Rows>(4);
                let builder = scope.spawn(move || {
                    let started = std::time::Instant::now();
                    let mut store = Store::new(rules);
                    store.order = NameOrder::from_sorted(Vec::new(), block);
                    let mut building = Building::default();
                    for batch in arriving {
                        store.take(batch, &mut building)?;
                    }
                    store.finish(building, block)?;
                    tracing::debug!(
                        seconds = started.elapsed().as_secs_f64(),
                        "read model built"
                    );
                    Ok::<Store, CoreError>(store)
                });
                // A builder that failed has stopped listening: reading stops
                // too, and its error is the one told.
                let read = read_snapshot(conn, &rows);
                drop(rows);
                let edge = read.and_then(|()| log_edge(conn));
                let built = builder
                    .join()
                    .map_err(|_| CoreError::Storage("building the read model panicked".into()))?;
                let mut store = built?;
                store.log = edge?;
                store.log_root = store.log.root();
                Ok((store, seq))
            })
        })
    }

    /// Builds from one batch of rows.
    fn take(&mut self, batch: Rows, building: &mut Building) -> Result<(), CoreError> {
        match batch {
            Rows::Words(words) => {
                for w in &words {
                    self.vocabulary.word(w);
                }
            }
            Rows::Companies(rows) => {
                for row in rows {
                    self.take_company(row, &mut building.postings)?;
                }
            }
            Rows::Names(kvks) => {
                for kvk in kvks {
                    let kvk = KvkNumber::parse(&kvk).map_err(corrupt("companies"))?;
                    let id = self
                        .company_id(&kvk)
                        .ok_or_else(|| CoreError::Storage(format!("the name index names {kvk}")))?;
                    // The order is the database's, checked, not trusted.
                    let key = (text::sort_key(self.name(id)), kvk.value());
                    if building.previous.as_ref().is_some_and(|p| *p >= key) {
                        building.sorted = false;
                    }
                    building.previous = Some(key);
                    building.in_order.push(id);
                }
            }
            Rows::Certificates(rows, covered) => {
                if !building.postings.is_empty() {
                    self.vocabulary
                        .set_lists(std::mem::take(&mut building.postings));
                }
                let mut subsidiaries: HashMap<i64, Vec<u32>> = HashMap::new();
                for c in covered {
                    let kvk = KvkNumber::parse(&c.kvk_number).map_err(corrupt("coverage"))?;
                    let company = self.company_id(&kvk).ok_or_else(|| {
                        CoreError::Storage(format!("coverage names unknown company {kvk}"))
                    })?;
                    subsidiaries
                        .entry(c.certificate_id)
                        .or_default()
                        .push(company);
                }
                for row in rows {
                    let covered = subsidiaries.remove(&row.id).unwrap_or_default();
                    self.put_row(row, covered)?;
                }
            }
        }
        Ok(())
    }

    /// One company as its row holds it, with its words.
    fn take_company(
        &mut self,
        row: CompanyFactsRow,
        postings: &mut Vec<Vec<u32>>,
    ) -> Result<(), CoreError> {
        let company = accepted(&row)?;
        let kvk = company.kvk_number.value();
        let id = self.set_facts(
            kvk,
            &CompanyFacts {
                name: &company.name,
                trade_names: &company.trade_names,
                city: company.city.as_ref(),
                province: company.province,
                sbi_codes: &company.sbi_codes,
            },
        );
        let words: SmallVec<[u32; 8]> = row
            .search_text
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(|w| self.vocabulary.word(w))
            .collect();
        for word in &words {
            if postings.len() <= *word as usize {
                postings.resize_with(*word as usize + 1, Vec::new);
            }
            postings[*word as usize].push(kvk);
        }
        self.companies[id as usize].words = self.word_ids.push(&words);
        Ok(())
    }

    /// What is left once every row is in: the posting lists (when no
    /// certificate came to set them), the name order and its summaries.
    fn finish(&mut self, mut building: Building, block: usize) -> Result<(), CoreError> {
        if !building.postings.is_empty() {
            self.vocabulary
                .set_lists(std::mem::take(&mut building.postings));
        }
        let mut in_order = building.in_order;
        if !building.sorted || in_order.len() != self.companies.len() {
            in_order = (0..self.companies.len() as u32).collect();
            in_order.sort_by_cached_key(|c| self.sort_key(*c));
        }
        let firsts: Vec<NameKey> = in_order
            .iter()
            .step_by(block.max(1))
            .map(|c| self.sort_key(*c))
            .collect();
        self.order = NameOrder::from_order(in_order, firsts, block);
        self.word_ids.shrink_to_fit();
        for list in &mut self.city_companies {
            list.shrink_to_fit();
        }
        for list in self.sbi_companies.values_mut() {
            list.shrink_to_fit();
        }
        self.summarise_all();
        Ok(())
    }

    /// Adds a certificate as its row holds it.
    fn put_row(&mut self, row: CertificateRow, subsidiaries: Vec<u32>) -> Result<(), CoreError> {
        let bad = corrupt("certificates");
        if row.history.is_empty() {
            return Err(CoreError::Storage(format!(
                "certificate {} keeps no history",
                row.number
            )));
        }
        let history: StoredHistory<'_> = serde_json::from_str(&row.history)?;
        let id = u32::try_from(row.id)
            .map_err(|_| CoreError::Storage(format!("certificate id {} out of range", row.id)))?;
        let main_kvk = KvkNumber::parse(&history.main_applicant).map_err(&bad)?;
        let main = self.company_id(&main_kvk).ok_or_else(|| {
            CoreError::Storage(format!("certificate {} has no holder", row.number))
        })?;
        let periods = history
            .periods
            .iter()
            .map(|p| self.stored_period(p))
            .collect::<Result<SmallVec<[_; 1]>, CoreError>>()?;
        let changes = history
            .standing_changes
            .iter()
            .map(|c| {
                Ok(StandingChange {
                    standing: c.standing,
                    effective_at: DateTime::parse_from_rfc3339(&c.effective_at)
                        .map_err(|e| CoreError::Storage(format!("corrupt history: {e}")))?
                        .with_timezone(&Utc),
                })
            })
            .collect::<Result<Vec<_>, CoreError>>()?;
        let cb = match self.cbs.find_str(&history.certification_body) {
            Some(cb) => cb,
            None => self
                .cbs
                .id(&CbId::parse(&history.certification_body).map_err(&bad)?),
        };
        let cb_reference = self.texts.push(&row.cb_reference);
        let replaces = row
            .replaces_id
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(0);
        let n = number(&row.number)?;
        let subsidiaries = self.covered.push(&subsidiaries);
        let changes = self.changes.push(&changes);
        self.put_certificate(
            id,
            CertRec {
                main,
                subsidiaries,
                cb: CbRef::new(cb),
                scheme: Scheme::parse(&row.scheme).map_err(&bad)?,
                cb_reference,
                replaces,
                issued_at: from_db(row.issued_at).timestamp_micros(),
                periods,
                changes,
            },
            &n,
        );
        Ok(())
    }

    /// A period as a stored history holds it.
    fn stored_period(&mut self, p: &StoredPeriod<'_>) -> Result<ModelPeriod, CoreError> {
        let date = |s: &str| {
            time::parse_date(s)
                .ok_or_else(|| CoreError::Storage(format!("corrupt history: date {s:?}")))
        };
        let handbook = match self.handbooks.find_str(&p.handbook_version) {
            Some(id) => id,
            None => self
                .handbooks
                .id(&HandbookVersion::parse(&p.handbook_version)
                    .map_err(corrupt("certificates"))?),
        };
        Ok(self.period_of(&PeriodParts {
            level: p.level,
            pso30plus: p.pso30plus,
            valid_from: date(&p.valid_from)?,
            valid_until: date(&p.valid_until)?,
            audit_date: date(&p.audit_date)?,
            reference_year: p.reference_year,
            handbook,
            score: p.score,
        }))
    }

    /// Reads back from the tables what `event` changed (its certificate, and
    /// the companies that certificate covers), for an event that does not carry
    /// it: the tables may already hold later changes too, which the events
    /// still to come will set again.
    pub(crate) fn reload(
        &mut self,
        conn: &mut AnyConnection,
        event: &LoggedEvent,
    ) -> Result<(), CoreError> {
        let Some((id, _)) = &event.certificate else {
            return Ok(());
        };
        let row: Option<CertificateRow> = certificates::table
            .find(*id)
            .select(CertificateRow::as_select())
            .first(conn)
            .optional()?;
        let Some(row) = row else { return Ok(()) };
        let covered: Vec<CoverageRow> = coverage::table
            .filter(coverage::certificate_id.eq(*id))
            .order(coverage::kvk_number.asc())
            .select(CoverageRow::as_select())
            .load(conn)?;
        let kvks: Vec<String> = covered.iter().map(|c| c.kvk_number.clone()).collect();
        let rows: Vec<CompanyRow> = companies::table
            .filter(companies::kvk_number.eq_any(&kvks))
            .select(CompanyRow::as_select())
            .load(conn)?;
        for company in rows {
            let company = company.into_domain()?;
            self.put_company(
                company.kvk_number.value(),
                &CompanyFacts {
                    name: &company.name,
                    trade_names: &company.trade_names,
                    city: company.city.as_ref(),
                    province: company.province,
                    sbi_codes: &company.sbi_codes,
                },
            );
        }
        let subsidiaries: Vec<u32> = covered
            .iter()
            .filter(|c| !c.is_main)
            .filter_map(|c| {
                let kvk = KvkNumber::parse(&c.kvk_number).ok()?;
                self.company_id(&kvk)
            })
            .collect();
        let cert = u32::try_from(*id).unwrap_or(u32::MAX);
        if self.certificate(cert).is_some() {
            // Known: its history is what may have changed.
            let history: CertificateHistory = serde_json::from_str(&row.history)?;
            let periods: SmallVec<[_; 1]> = history
                .periods
                .iter()
                .map(|p| self.model_period(p))
                .collect();
            let changes = self.changes.push(&history.standing_changes);
            if let Some(c) = self.certificate_mut(cert) {
                c.periods = periods;
                c.changes = changes;
            }
            self.summarise(cert);
            return Ok(());
        }
        self.put_row(row, subsidiaries)?;
        self.summarise(cert);
        Ok(())
    }
}

/// An event row with its certificate's number: seq, kind, certificate id and
/// number, CB, effective and recorded instants, detail.
type LogRow = (
    (Option<i64>, Option<Vec<u8>>),
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
    String,
);

/// What the builder keeps while rows arrive.
#[derive(Debug)]
struct Building {
    /// Per word, the KvK numbers of the companies holding it.
    postings: Vec<Vec<u32>>,
    in_order: Vec<u32>,
    sorted: bool,
    previous: Option<NameKey>,
}

impl Default for Building {
    fn default() -> Self {
        Self {
            postings: Vec::new(),
            in_order: Vec::new(),
            sorted: true,
            previous: None,
        }
    }
}

/// Reads every table the model derives from, in the order the builder takes
/// them; stops when the builder does.
fn read_snapshot(
    conn: &mut AnyConnection,
    rows: &std::sync::mpsc::SyncSender<Rows>,
) -> Result<(), CoreError> {
    let stopped = || CoreError::Storage("the read model's builder stopped".into());
    let words: Vec<String> = search_words::table
        .order(search_words::id.asc())
        .select(search_words::word)
        .load(conn)?;
    rows.send(Rows::Words(words)).map_err(|_| stopped())?;
    let mut page: Vec<CompanyFactsRow> = Vec::with_capacity(BATCH);
    each_company(conn, &mut |row| {
        page.push(row);
        if page.len() == BATCH {
            rows.send(Rows::Companies(std::mem::take(&mut page)))
                .map_err(|_| stopped())?;
        }
        Ok(())
    })?;
    rows.send(Rows::Companies(page)).map_err(|_| stopped())?;
    each_in_name_order(conn, &mut |kvks| {
        rows.send(Rows::Names(kvks)).map_err(|_| stopped())
    })?;
    let mut after = 0i64;
    loop {
        let certificates: Vec<CertificateRow> = certificates::table
            .filter(certificates::id.gt(after))
            .order(certificates::id.asc())
            .limit(BATCH as i64)
            .select(CertificateRow::as_select())
            .load(conn)?;
        let (Some(first), Some(last)) = (certificates.first(), certificates.last()) else {
            return Ok(());
        };
        let (from, to) = (first.id, last.id);
        after = to;
        let full = certificates.len() == BATCH;
        let covered: Vec<CoverageRow> = coverage::table
            .filter(coverage::certificate_id.between(from, to))
            .filter(coverage::is_main.eq(false))
            .order((coverage::certificate_id.asc(), coverage::kvk_number.asc()))
            .select(CoverageRow::as_select())
            .load(conn)?;
        rows.send(Rows::Certificates(certificates, covered))
            .map_err(|_| stopped())?;
        if !full {
            return Ok(());
        }
    }
}

/// Rows handed from reader to builder at a time.
const BATCH: usize = 5_000;

/// Calls `each` with every company row, in no particular order: SQLite
/// streams its table in one pass; PostgreSQL reads it a page at a time.
fn each_company(
    conn: &mut AnyConnection,
    each: &mut dyn FnMut(CompanyFactsRow) -> Result<(), CoreError>,
) -> Result<(), CoreError> {
    if let AnyConnection::Sqlite(_) = conn {
        for row in companies::table
            .select(CompanyFactsRow::as_select())
            .load_iter::<CompanyFactsRow, diesel::connection::DefaultLoadingMode>(conn)?
        {
            each(row?)?;
        }
        return Ok(());
    }
    let mut after: Option<String> = None;
    loop {
        let mut query = companies::table
            .select(CompanyFactsRow::as_select())
            .order(companies::kvk_number.asc())
            .limit(PAGE)
            .into_boxed();
        if let Some(kvk) = &after {
            query = query.filter(companies::kvk_number.gt(kvk.clone()));
        }
        let rows: Vec<CompanyFactsRow> = query.load(conn)?;
        let full = rows.len() as i64 == PAGE;
        after = rows.last().map(|r| r.kvk_number.clone());
        for row in rows {
            each(row)?;
        }
        if !full {
            return Ok(());
        }
    }
}

/// Calls `each` with every KvK number in name order, from the name index
/// alone (it holds both columns).
fn each_in_name_order(
    conn: &mut AnyConnection,
    each: &mut dyn FnMut(Vec<String>) -> Result<(), CoreError>,
) -> Result<(), CoreError> {
    const NAMES: i64 = 100_000;
    let mut after: Option<(String, String)> = None;
    loop {
        let mut query = companies::table
            .select((companies::sort_name, companies::kvk_number))
            .order((companies::sort_name.asc(), companies::kvk_number.asc()))
            .limit(NAMES)
            .into_boxed();
        if let Some((name, kvk)) = &after {
            query = query.filter(
                companies::sort_name
                    .gt(name.clone())
                    .or(companies::sort_name
                        .eq(name.clone())
                        .and(companies::kvk_number.gt(kvk.clone()))),
            );
        }
        let rows: Vec<(String, String)> = query.load(conn)?;
        let full = rows.len() as i64 == NAMES;
        after = rows.last().cloned();
        each(rows.into_iter().map(|(_, kvk)| kvk).collect())?;
        if !full {
            return Ok(());
        }
    }
}

/// A certificate's history as its row stores it (the JSON of
/// [`CertificateHistory`]), read without building the domain values a
/// million times over at start-up.
#[derive(Debug, Deserialize)]
struct StoredHistory<'a> {
    #[serde(borrow)]
    certification_body: Cow<'a, str>,
    #[serde(borrow)]
    main_applicant: Cow<'a, str>,
    #[serde(borrow)]
    periods: Vec<StoredPeriod<'a>>,
    #[serde(borrow)]
    standing_changes: Vec<StoredChange<'a>>,
}

#[derive(Debug, Deserialize)]
struct StoredPeriod<'a> {
    level: Level,
    pso30plus: bool,
    #[serde(borrow)]
    valid_from: Cow<'a, str>,
    #[serde(borrow)]
    valid_until: Cow<'a, str>,
    #[serde(borrow)]
    audit_date: Cow<'a, str>,
    reference_year: i32,
    #[serde(borrow)]
    handbook_version: Cow<'a, str>,
    score: Score,
}

#[derive(Debug, Deserialize)]
struct StoredChange<'a> {
    standing: Standing,
    #[serde(borrow)]
    effective_at: Cow<'a, str>,
}

/// A company as its row holds it, its texts taken as the register wrote them
/// (they were checked then): at start-up a million names are not checked again.
fn accepted(row: &CompanyFactsRow) -> Result<Company, CoreError> {
    let bad = corrupt("companies");
    let names = |json: &str| -> Result<Vec<Name>, CoreError> {
        Ok(serde_json::from_str::<Vec<Cow<'_, str>>>(json)?
            .iter()
            .map(|n| Name::accepted(n))
            .collect())
    };
    Ok(Company {
        kvk_number: KvkNumber::parse(&row.kvk_number).map_err(&bad)?,
        name: Name::accepted(&row.name),
        trade_names: names(&row.trade_names)?,
        city: row.city.as_deref().map(Name::accepted),
        province: row
            .province
            .as_deref()
            .map(Province::parse)
            .transpose()
            .map_err(&bad)?,
        sbi_codes: serde_json::from_str(&row.sbi_codes)?,
    })
}

/// Events after `after` up to `upto`, at most `limit`, in `seq` order, as the
/// model applies them.
pub(crate) fn events_between(
    conn: &mut AnyConnection,
    after: i64,
    upto: i64,
    limit: i64,
) -> Result<Vec<LoggedEvent>, CoreError> {
    let rows: Vec<LogRow> = events::table
        .left_join(certificates::table.on(events::certificate_id.eq(certificates::id.nullable())))
        .left_join(log_leaves::table.on(log_leaves::seq.eq(events::seq)))
        .left_join(
            log_hashes::table.on(log_hashes::level.eq(0).and(
                log_hashes::idx
                    .nullable()
                    .eq(log_leaves::log_index.nullable()),
            )),
        )
        .filter(events::seq.gt(after))
        .filter(events::seq.le(upto))
        .order(events::seq.asc())
        .limit(limit)
        .select((
            (
                log_leaves::log_index.nullable(),
                log_hashes::hash.nullable(),
            ),
            events::seq,
            events::kind,
            events::certificate_id,
            certificates::number.nullable(),
            events::cb_id,
            events::effective_at,
            events::recorded_at,
            events::detail,
        ))
        .load(conn)?;
    let bad = corrupt("events");
    rows.into_iter()
        .map(
            |((index, hash), seq, kind, id, n, cb, effective_at, recorded_at, detail)| {
                Ok(LoggedEvent {
                    leaf: match (index, hash) {
                        (Some(i), Some(h)) => Some((
                            u64::try_from(i).map_err(|_| corrupt_log())?,
                            <[u8; 32]>::try_from(h.as_slice()).map_err(|_| corrupt_log())?,
                        )),
                        _ => None,
                    },
                    seq,
                    kind: EventKind::parse(&kind).map_err(&bad)?,
                    certificate: match (id, n) {
                        (Some(id), Some(n)) => Some((id, number(&n)?)),
                        _ => None,
                    },
                    certification_body: cb
                        .as_deref()
                        .map(crate::certification_body::CbId::parse)
                        .transpose()
                        .map_err(&bad)?,
                    effective_at: from_db(effective_at),
                    recorded_at: from_db(recorded_at),
                    detail,
                })
            },
        )
        .collect()
}

/// The highest `seq` the database holds (for a follower to see whether there
/// is anything new).
pub(crate) fn last_seq(conn: &mut AnyConnection) -> Result<i64, CoreError> {
    let last: Option<i64> = events::table
        .select(diesel::dsl::max(events::seq))
        .first(conn)?;
    Ok(last.unwrap_or(0))
}

fn corrupt_log() -> CoreError {
    CoreError::Storage("corrupt transparency log row".into())
}

/// The log's edge as the snapshot holds it.
fn log_edge(conn: &mut AnyConnection) -> Result<Frontier, CoreError> {
    let (size, bytes): (i64, Vec<u8>) = log_head::table
        .find(1)
        .select((log_head::size, log_head::frontier))
        .first(conn)?;
    let size = u64::try_from(size).map_err(|_| corrupt_log())?;
    Frontier::from_parts(size, &bytes).map_err(|_| corrupt_log())
}

/// The log's edge when the event `seq` was the last: the stored hashes of its
/// complete subtrees.
pub(crate) fn log_edge_at(conn: &mut AnyConnection, seq: i64) -> Result<Frontier, CoreError> {
    let last: Option<i64> = log_leaves::table
        .filter(log_leaves::seq.le(seq))
        .order(log_leaves::seq.desc())
        .select(log_leaves::log_index)
        .first(conn)
        .optional()?;
    let size = last.map_or(0, |i| i + 1);
    let size = u64::try_from(size).map_err(|_| corrupt_log())?;
    let nodes = Frontier::nodes(size);
    let mut bytes = Vec::with_capacity(nodes.len() * 32);
    for n in nodes {
        let hash: Vec<u8> = log_hashes::table
            .find((
                i32::from(n.level),
                i64::try_from(n.index).map_err(|_| corrupt_log())?,
            ))
            .select(log_hashes::hash)
            .first(conn)?;
        bytes.extend_from_slice(&hash);
    }
    Frontier::from_parts(size, &bytes).map_err(|_| corrupt_log())
}
