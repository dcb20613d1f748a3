//! Reading the register: status answers, companies, certificates.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::Registry;
use crate::certificate::{
    CbReference, CertificateHistory, CertificateNumber, CertificateStatus, StandingChange,
};
use crate::certification_body::CbId;
use crate::company::{KvkNumber, Name};
use crate::error::CoreError;
use crate::event::EventKind;
use crate::period::Period;
use crate::scheme::Scheme;
use crate::status::{StatusAnswer, StatusQuery, certificate_state_at, company_status};
use crate::storage::AnyConnection;
use crate::storage::rows::{
    CertificateRow, Company, CompanyRow, CoverageRow, PeriodRow, corrupt, from_db, number,
};
use crate::storage::schema::{certificates, companies, coverage, events, periods};

/// A legal entity a certificate covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Covered {
    pub kvk_number: KvkNumber,
    pub name: Name,
    /// The main applicant (the holder), as opposed to a subsidiary.
    pub main_applicant: bool,
}

/// A certificate with everything the register publishes about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Certificate {
    pub scheme: Scheme,
    pub cb_reference: CbReference,
    /// The main applicant as the register knows it now.
    pub holder: Company,
    /// Every legal entity covered, the main applicant first.
    pub covered: Vec<Covered>,
    pub replaces: Option<CertificateNumber>,
    pub issued_at: DateTime<Utc>,
    /// Number, CB, periods and standing changes: what the status rule reads.
    pub history: CertificateHistory,
}

impl Certificate {
    pub fn number(&self) -> &CertificateNumber {
        &self.history.number
    }

    /// The certificate's own standing at `t`.
    pub fn status_at(&self, t: DateTime<Utc>) -> CertificateStatus {
        certificate_state_at(&self.history, t).status
    }

    /// The period in effect at `t` (the latest one started by then).
    pub fn period_at(&self, t: DateTime<Utc>) -> Option<&Period> {
        certificate_state_at(&self.history, t).period
    }
}

/// The histories of the given certificates: from the `history` each row keeps,
/// or, for a row without one, rebuilt from its periods and events (two queries
/// for all such rows together).
pub(crate) fn histories(
    conn: &mut AnyConnection,
    rows: &[CertificateRow],
) -> Result<HashMap<i64, CertificateHistory>, CoreError> {
    let mut out: HashMap<i64, CertificateHistory> = HashMap::with_capacity(rows.len());
    let mut missing: Vec<&CertificateRow> = Vec::new();
    for row in rows {
        if row.history.is_empty() {
            missing.push(row);
        } else {
            out.insert(row.id, serde_json::from_str(&row.history)?);
        }
    }
    if !missing.is_empty() {
        out.extend(rebuilt_histories(conn, &missing)?);
    }
    Ok(out)
}

/// Histories rebuilt from the periods and standing-change events.
fn rebuilt_histories(
    conn: &mut AnyConnection,
    rows: &[&CertificateRow],
) -> Result<HashMap<i64, CertificateHistory>, CoreError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut period_rows: Vec<PeriodRow> = periods::table
        .filter(periods::certificate_id.eq_any(&ids))
        .select(PeriodRow::as_select())
        .load(conn)?;
    period_rows.sort_by_key(|p| p.id);
    let standing_kinds: Vec<&str> = EventKind::ALL
        .into_iter()
        .filter(|k| k.standing().is_some())
        .map(EventKind::as_str)
        .collect();
    let changes: Vec<(Option<i64>, String, chrono::NaiveDateTime)> = events::table
        .filter(events::certificate_id.eq_any(&ids))
        .filter(events::kind.eq_any(&standing_kinds))
        .order(events::seq.asc())
        .select((events::certificate_id, events::kind, events::effective_at))
        .load(conn)?;

    let bad = corrupt("certificates");
    let mut out: HashMap<i64, CertificateHistory> = HashMap::with_capacity(rows.len());
    for row in rows {
        out.insert(
            row.id,
            CertificateHistory {
                number: number(&row.number)?,
                certification_body: CbId::parse(&row.cb_id).map_err(&bad)?,
                main_applicant: KvkNumber::parse(&row.main_kvk).map_err(&bad)?,
                periods: Vec::new(),
                standing_changes: Vec::new(),
            },
        );
    }
    for p in period_rows {
        let id = p.certificate_id;
        if let Some(h) = out.get_mut(&id) {
            h.periods.push(p.into_domain()?);
        }
    }
    for (id, kind, effective_at) in changes {
        let standing = EventKind::parse(&kind)
            .map_err(corrupt("events"))?
            .standing();
        if let (Some(h), Some(standing)) = (id.and_then(|id| out.get_mut(&id)), standing) {
            h.standing_changes.push(StandingChange {
                standing,
                effective_at: from_db(effective_at),
            });
        }
    }
    Ok(out)
}

/// The certificates covering each of `kvks`, as histories: one indexed query
/// however many numbers are asked (API.md's batch asks up to 1,000).
pub(crate) fn histories_covering(
    conn: &mut AnyConnection,
    kvks: &[&str],
) -> Result<BTreeMap<String, Vec<CertificateHistory>>, CoreError> {
    let covering: Vec<(String, CertificateRow)> = coverage::table
        .inner_join(certificates::table)
        .filter(coverage::kvk_number.eq_any(kvks))
        .select((coverage::kvk_number, CertificateRow::as_select()))
        .load(conn)?;
    let rows: Vec<CertificateRow> = covering.iter().map(|(_, r)| r.clone()).collect();
    let histories = histories(conn, &rows)?;
    let mut out: BTreeMap<String, Vec<CertificateHistory>> = BTreeMap::new();
    for (kvk, row) in covering {
        if let Some(h) = histories.get(&row.id) {
            out.entry(kvk).or_default().push(h.clone());
        }
    }
    Ok(out)
}

/// The certificates covering one KvK number, as histories: one query that the
/// connection prepares once (a list of numbers makes a new statement each time).
pub(crate) fn histories_of(
    conn: &mut AnyConnection,
    kvk: &str,
) -> Result<Vec<CertificateHistory>, CoreError> {
    let rows: Vec<CertificateRow> = coverage::table
        .inner_join(certificates::table)
        .filter(coverage::kvk_number.eq(kvk))
        .select(CertificateRow::as_select())
        .load(conn)?;
    let mut by_id = histories(conn, &rows)?;
    Ok(rows.iter().filter_map(|r| by_id.remove(&r.id)).collect())
}

/// Loads full certificates for the given rows.
pub(crate) fn certificates_of(
    conn: &mut AnyConnection,
    rows: Vec<CertificateRow>,
) -> Result<Vec<Certificate>, CoreError> {
    let mut histories = histories(conn, &rows)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let covered_rows: Vec<(CoverageRow, String)> = coverage::table
        .inner_join(companies::table.on(companies::kvk_number.eq(coverage::kvk_number)))
        .filter(coverage::certificate_id.eq_any(&ids))
        .select((CoverageRow::as_select(), companies::name))
        .load(conn)?;
    let holders: Vec<CompanyRow> = companies::table
        .filter(
            companies::kvk_number
                .eq_any(rows.iter().map(|r| r.main_kvk.as_str()).collect::<Vec<_>>()),
        )
        .select(CompanyRow::as_select())
        .load(conn)?;
    let holders: HashMap<String, Company> = holders
        .into_iter()
        .map(|r| Ok((r.kvk_number.clone(), r.into_domain()?)))
        .collect::<Result<_, CoreError>>()?;
    let replaced_ids: Vec<i64> = rows.iter().filter_map(|r| r.replaces_id).collect();
    let replaced: HashMap<i64, String> = certificates::table
        .filter(certificates::id.eq_any(&replaced_ids))
        .select((certificates::id, certificates::number))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();

    let bad = corrupt("certificates");
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut covered: Vec<Covered> = covered_rows
            .iter()
            .filter(|(c, _)| c.certificate_id == row.id)
            .map(|(c, name)| {
                Ok(Covered {
                    kvk_number: KvkNumber::parse(&c.kvk_number).map_err(&bad)?,
                    name: Name::parse(name).map_err(&bad)?,
                    main_applicant: c.is_main,
                })
            })
            .collect::<Result<_, CoreError>>()?;
        covered.sort_by(|a, b| {
            b.main_applicant
                .cmp(&a.main_applicant)
                .then(a.kvk_number.cmp(&b.kvk_number))
        });
        // Several certificates may share a holder.
        let holder = holders.get(&row.main_kvk).cloned().ok_or_else(|| {
            CoreError::Storage(format!("certificate {} has no holder", row.number))
        })?;
        let history = histories.remove(&row.id).ok_or_else(|| {
            CoreError::Storage(format!("certificate {} has no history", row.number))
        })?;
        out.push(Certificate {
            scheme: Scheme::parse(&row.scheme).map_err(&bad)?,
            cb_reference: CbReference::parse(&row.cb_reference).map_err(&bad)?,
            holder,
            covered,
            replaces: row
                .replaces_id
                .and_then(|id| replaced.get(&id))
                .map(|n| number(n))
                .transpose()?,
            issued_at: from_db(row.issued_at),
            history,
        });
    }
    Ok(out)
}

pub(crate) fn certificate_by_number(
    conn: &mut AnyConnection,
    n: &CertificateNumber,
) -> Result<Certificate, CoreError> {
    let row: CertificateRow = certificates::table
        .filter(certificates::number.eq(n.as_str()))
        .select(CertificateRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| CoreError::CertificateNotFound(n.clone()))?;
    certificates_of(conn, vec![row])?
        .pop()
        .ok_or_else(|| CoreError::CertificateNotFound(n.clone()))
}

impl Registry {
    /// Whether every certificate's stored history equals the one rebuilt from
    /// its periods and events (the two are written in one transaction).
    #[cfg(feature = "test-support")]
    pub fn histories_are_consistent(&self) -> Result<bool, CoreError> {
        self.read(|conn| {
            let rows: Vec<CertificateRow> = certificates::table
                .select(CertificateRow::as_select())
                .load(conn)?;
            let stored = histories(conn, &rows)?;
            let rebuilt = rebuilt_histories(conn, &rows.iter().collect::<Vec<_>>())?;
            Ok(stored == rebuilt)
        })
    }

    /// The status answer for one KvK number (API.md, "The status answer"). An
    /// unknown number is simply not certified.
    pub fn company_status(
        &self,
        kvk: &KvkNumber,
        query: &StatusQuery,
    ) -> Result<StatusAnswer, CoreError> {
        let certificates = self.read(|conn| histories_of(conn, kvk.as_str()))?;
        Ok(company_status(&certificates, query))
    }

    /// Status answers for many KvK numbers at once, in the order asked (duplicates
    /// answered each time), reading the database in a bounded number of queries.
    pub fn company_statuses(
        &self,
        kvks: &[KvkNumber],
        query: &StatusQuery,
    ) -> Result<Vec<StatusAnswer>, CoreError> {
        let unique: BTreeSet<&str> = kvks.iter().map(KvkNumber::as_str).collect();
        let unique: Vec<&str> = unique.into_iter().collect();
        let by_kvk = self.read(|conn| histories_covering(conn, &unique))?;
        Ok(kvks
            .iter()
            .map(|k| {
                company_status(
                    by_kvk
                        .get(k.as_str())
                        .map(Vec::as_slice)
                        .unwrap_or_default(),
                    query,
                )
            })
            .collect())
    }

    /// One certificate, by number.
    pub fn certificate(&self, n: &CertificateNumber) -> Result<Certificate, CoreError> {
        self.read(|conn| certificate_by_number(conn, n))
    }

    /// One company, its standing at `at`, and every certificate that covers it:
    /// the one that speaks for it first, then the rest, newest first.
    pub fn company_detail(
        &self,
        kvk: &KvkNumber,
        at: DateTime<Utc>,
    ) -> Result<Option<(Company, StatusAnswer, Vec<Certificate>)>, CoreError> {
        self.read(|conn| {
            let row: Option<CompanyRow> = companies::table
                .find(kvk.as_str())
                .select(CompanyRow::as_select())
                .first(conn)
                .optional()?;
            let Some(row) = row else { return Ok(None) };
            let ids: Vec<i64> = coverage::table
                .filter(coverage::kvk_number.eq(kvk.as_str()))
                .select(coverage::certificate_id)
                .load(conn)?;
            let rows: Vec<CertificateRow> = certificates::table
                .filter(certificates::id.eq_any(&ids))
                .select(CertificateRow::as_select())
                .load(conn)?;
            let mut certificates = certificates_of(conn, rows)?;
            let histories: Vec<CertificateHistory> =
                certificates.iter().map(|c| c.history.clone()).collect();
            let standing = company_status(
                &histories,
                &StatusQuery {
                    on: at,
                    until: None,
                    level_min: None,
                },
            );
            let first_start = |c: &Certificate| c.history.periods.first().map(|p| p.valid_from());
            certificates.sort_by(|a, b| {
                let speaks =
                    |c: &Certificate| Some(c.number()) == standing.certificate_number.as_ref();
                speaks(b)
                    .cmp(&speaks(a))
                    .then_with(|| first_start(b).cmp(&first_start(a)))
            });
            Ok(Some((row.into_domain()?, standing, certificates)))
        })
    }

    /// One company, if the register knows it.
    pub fn company(&self, kvk: &KvkNumber) -> Result<Option<Company>, CoreError> {
        self.read(|conn| {
            let row: Option<CompanyRow> = companies::table
                .find(kvk.as_str())
                .select(CompanyRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(CompanyRow::into_domain).transpose()?)
        })
    }
}
