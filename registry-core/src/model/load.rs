//! Building the model from the database: every table it derives from, read
//! in one snapshot a page at a time (so that a million companies never sit in
//! memory twice), and the `seq` of the last event that snapshot holds.
//! Also reading back what an event changed, for events that do not carry it.

use std::collections::HashMap;

use diesel::prelude::*;
use smallvec::SmallVec;

use super::order::{NameKey, NameOrder};
use super::store::{CertRec, CompanyFacts, Store};
use crate::certificate::CertificateHistory;
use crate::error::CoreError;
use crate::event::EventKind;
use crate::registry::event_log::LoggedEvent;
use crate::scheme::{Scheme, SchemeRules};
use crate::storage::AnyConnection;
use crate::storage::rows::{CertificateRow, CompanyRow, CoverageRow, corrupt, from_db, number};
use crate::storage::schema::{certificates, companies, coverage, events, search_words};
use crate::text;

/// Rows read per query while loading.
const PAGE: i64 = 20_000;

impl Store {
    /// The register as of the last event the database holds: the model, and
    /// that event's `seq`.
    pub(crate) fn load(
        conn: &mut AnyConnection,
        rules: SchemeRules,
        block: usize,
    ) -> Result<(Store, i64), CoreError> {
        conn.in_snapshot(|conn, seq| {
            let mut store = Store::new(rules);
            store.order = NameOrder::from_sorted(Vec::new(), block);
            let words: Vec<String> = search_words::table
                .order(search_words::id.asc())
                .select(search_words::word)
                .load(conn)?;
            for w in &words {
                store.vocabulary.word(w);
            }
            store.load_companies(conn, block)?;
            store.load_certificates(conn)?;
            store.summarise_all();
            Ok((store, seq))
        })
    }

    /// Every company, in name order (as the database's index has them).
    fn load_companies(&mut self, conn: &mut AnyConnection, block: usize) -> Result<(), CoreError> {
        let mut after: Option<(String, String)> = None;
        let mut in_order: Vec<u32> = Vec::new();
        let mut sorted = true;
        let mut previous: Option<NameKey> = None;
        let mut postings: Vec<Vec<u32>> = Vec::new();
        loop {
            let mut query = companies::table
                .select(CompanyRow::as_select())
                .order((companies::sort_name.asc(), companies::kvk_number.asc()))
                .limit(PAGE)
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
            let rows: Vec<CompanyRow> = query.load(conn)?;
            let Some(last) = rows.last() else { break };
            after = Some((last.sort_name.clone(), last.kvk_number.clone()));
            let full = rows.len() as i64 == PAGE;
            for row in rows {
                let search_text = row.search_text.clone();
                let company = row.into_domain()?;
                let kvk = company.kvk_number.value();
                let id = self.set_facts(
                    kvk,
                    &CompanyFacts {
                        name: &company.name,
                        trade_names: &company.trade_names,
                        city: company.city.as_ref(),
                        province: company.province,
                        sbi_codes: &company.sbi_codes,
                        updated_at: company.updated_at,
                    },
                );
                let start = self.word_ids.len() as u32;
                for w in search_text.split(' ').filter(|w| !w.is_empty()) {
                    let word = self.vocabulary.word(w);
                    self.word_ids.push(word);
                    if postings.len() <= word as usize {
                        postings.resize_with(word as usize + 1, Vec::new);
                    }
                    postings[word as usize].push(kvk);
                }
                let len = (self.word_ids.len() as u32 - start) as u16;
                self.companies[id as usize].words = (start, len);
                // The order is the database's; checked, not trusted.
                let key = (text::sort_key(company.name.as_str()), kvk);
                if previous.as_ref().is_some_and(|p| *p >= key) {
                    sorted = false;
                }
                previous = Some(key);
                in_order.push(id);
            }
            if !full {
                break;
            }
        }
        self.vocabulary.set_lists(postings);
        if !sorted {
            in_order.sort_by_cached_key(|c| self.sort_key(*c));
        }
        let keyed: Vec<(NameKey, u32)> = in_order
            .iter()
            .enumerate()
            .map(|(i, c)| {
                // Only a block's first key is kept.
                let key = if i % block == 0 {
                    self.sort_key(*c)
                } else {
                    (String::new(), 0)
                };
                (key, *c)
            })
            .collect();
        self.order = NameOrder::from_sorted(keyed, block);
        self.word_ids.shrink_to_fit();
        for list in &mut self.city_companies {
            list.shrink_to_fit();
        }
        for list in self.sbi_companies.values_mut() {
            list.shrink_to_fit();
        }
        Ok(())
    }

    /// Every certificate, by id, with whom it covers.
    fn load_certificates(&mut self, conn: &mut AnyConnection) -> Result<(), CoreError> {
        let mut after = 0i64;
        loop {
            let rows: Vec<CertificateRow> = certificates::table
                .filter(certificates::id.gt(after))
                .order(certificates::id.asc())
                .limit(PAGE)
                .select(CertificateRow::as_select())
                .load(conn)?;
            let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                break;
            };
            let (from, to) = (first.id, last.id);
            after = to;
            let full = rows.len() as i64 == PAGE;
            let covered: Vec<CoverageRow> = coverage::table
                .filter(coverage::certificate_id.between(from, to))
                .filter(coverage::is_main.eq(false))
                .order((coverage::certificate_id.asc(), coverage::kvk_number.asc()))
                .select(CoverageRow::as_select())
                .load(conn)?;
            let mut subsidiaries: HashMap<i64, Vec<u32>> = HashMap::new();
            for c in covered {
                let kvk =
                    crate::company::KvkNumber::parse(&c.kvk_number).map_err(corrupt("coverage"))?;
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
            if !full {
                break;
            }
        }
        Ok(())
    }

    /// Adds a certificate as its row holds it.
    fn put_row(&mut self, row: CertificateRow, subsidiaries: Vec<u32>) -> Result<(), CoreError> {
        let bad = corrupt("certificates");
        let history: CertificateHistory = if row.history.is_empty() {
            return Err(CoreError::Storage(format!(
                "certificate {} keeps no history",
                row.number
            )));
        } else {
            serde_json::from_str(&row.history)?
        };
        let id = u32::try_from(row.id)
            .map_err(|_| CoreError::Storage(format!("certificate id {} out of range", row.id)))?;
        let main = self.company_id(&history.main_applicant).ok_or_else(|| {
            CoreError::Storage(format!("certificate {} has no holder", row.number))
        })?;
        let periods: SmallVec<[_; 1]> = history
            .periods
            .iter()
            .map(|p| self.model_period(p))
            .collect();
        let cb = self.cbs.id(&history.certification_body);
        let cb_reference = self.texts.push(&row.cb_reference);
        let replaces = row
            .replaces_id
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(0);
        let n = number(&row.number)?;
        self.put_certificate(
            id,
            CertRec {
                main,
                subsidiaries: subsidiaries.into_boxed_slice(),
                cb: u16::try_from(cb).unwrap_or(u16::MAX),
                scheme: Scheme::parse(&row.scheme).map_err(&bad)?,
                cb_reference,
                replaces,
                issued_at: from_db(row.issued_at).timestamp_micros(),
                periods,
                changes: history.standing_changes.into_boxed_slice(),
            },
            &n,
        );
        Ok(())
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
                    updated_at: company.updated_at,
                },
            );
        }
        let subsidiaries: Vec<u32> = covered
            .iter()
            .filter(|c| !c.is_main)
            .filter_map(|c| {
                let kvk = crate::company::KvkNumber::parse(&c.kvk_number).ok()?;
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
            if let Some(c) = self.certificate_mut(cert) {
                c.periods = periods;
                c.changes = history.standing_changes.into_boxed_slice();
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
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
    String,
);

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
        .filter(events::seq.gt(after))
        .filter(events::seq.le(upto))
        .order(events::seq.asc())
        .limit(limit)
        .select((
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
            |(seq, kind, id, n, cb, effective_at, recorded_at, detail)| {
                Ok(LoggedEvent {
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
