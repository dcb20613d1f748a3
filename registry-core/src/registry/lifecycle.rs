//! The certificate lifecycle: issue, renew, suspend, reinstate, revoke, and the
//! recording of expiry. Each command is one transaction that writes the change
//! and its event, or nothing (API.md, "Lifecycle").

use chrono::{DateTime, Datelike, Utc};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Registry;
use super::certification_bodies::ensure_active;
use super::details::{
    ExpiredDetail, HolderRecord, IssuedDetail, RenewedDetail, StandingDetail, SubsidiaryRecord,
    SupersededDetail,
};
use super::event_log::{self, claim_request_id};
use super::queries::{Certificate, Covered, certificate_by_number, histories};
use crate::certificate::{CbReference, CertificateHistory, CertificateNumber, Standing};
use crate::certification_body::CbId;
use crate::company::{Holder, KvkNumber, Name, Province, SbiCode, Subsidiary, check_coverage};
use crate::error::CoreError;
use crate::event::{Actor, EventKind, Provenance};
use crate::period::{Period, PeriodDraft};
use crate::storage::rows::{
    CertificateRow, Company, CompanyRow, CoverageRow, NewCertificateRow, PeriodRow, from_db, to_db,
};
use crate::storage::schema::{certificates, companies, company_sbi, coverage, periods};
use crate::storage::text_search;
use crate::storage::{AnyConnection, CompanyUpdate};
use crate::text;
use crate::time::{self, date_at};
use crate::transition::{self, Renewal};
use crate::validation::Faults;

/// Issue a certificate (act `issue`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IssueCertificate {
    pub cb_reference: CbReference,
    pub holder: Holder,
    pub subsidiaries: Vec<Subsidiary>,
    pub period: PeriodDraft,
    /// The certificate in force for the same main applicant that this one
    /// replaces; it becomes `superseded` from this one's start.
    pub replaces: Option<CertificateNumber>,
}

/// What an issuance did.
#[derive(Debug, Clone, PartialEq)]
pub enum Issued {
    Created(Box<Certificate>),
    /// The same `cb_reference` with the same content was issued before: nothing
    /// was written and this is that certificate.
    Existing(Box<Certificate>),
}

/// Append a validity period to a certificate (act `renew`); the level may change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenewCertificate {
    pub number: CertificateNumber,
    pub period: PeriodDraft,
}

/// Suspend, reinstate or revoke a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeStanding {
    pub number: CertificateNumber,
    /// `Suspended`, `Reinstated` or `Revoked` (supersession comes with an issuance).
    pub standing: Standing,
    /// Why; required to suspend or revoke.
    pub reason: Option<String>,
    /// When it takes effect. Never before the certificate's first period starts,
    /// nor before its last standing change; left out, now, or the first of those
    /// instants when it is later.
    pub effective_at: Option<DateTime<Utc>>,
}

impl ChangeStanding {
    /// Longest reason accepted.
    pub const MAX_REASON_CHARS: usize = transition::MAX_REASON_CHARS;
    /// A reason that counts as given, as a regular expression (for the API's
    /// contract): at least one character that is not white space (Unicode
    /// White_Space, what trimming removes), spelt out by code point.
    pub const REASON_PATTERN: &'static str =
        "[^\\x09-\\x0d\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
}

/// Checks the CB's accreditation and claims the request's id (a second use of
/// the same id is a replay); the first steps of every CB write, inside its
/// transaction.
///
/// With a request id both take one statement: the id is claimed only while the
/// CB is accredited; when nothing was claimed, the accreditation says why.
fn admit(conn: &mut AnyConnection, by: &Provenance) -> Result<(), CoreError> {
    if let Actor::CertificationBody(cb) = &by.actor {
        match &by.request {
            Some(request) => {
                if !claim_request_id(conn, cb, request, true)? {
                    ensure_active(conn, cb)?;
                    // Accredited since the claim was tried.
                    claim_request_id(conn, cb, request, false)?;
                }
            }
            None => ensure_active(conn, cb)?,
        }
    }
    Ok(())
}

fn fingerprint(command: &IssueCertificate, period: &Period) -> Result<String, CoreError> {
    let content = serde_json::to_vec(&(command, period))?;
    Ok(Sha256::digest(&content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn certificate_row(
    conn: &mut AnyConnection,
    n: &CertificateNumber,
) -> Result<CertificateRow, CoreError> {
    certificates::table
        .filter(certificates::number.eq(n.as_str()))
        .select(CertificateRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| CoreError::CertificateNotFound(n.clone()))
}

/// A company row as written, with what search and ordering need.
fn company_row(
    kvk: &KvkNumber,
    name: &Name,
    trade_names: &[Name],
    city: Option<&Name>,
    province: Option<Province>,
    sbi_codes: &[SbiCode],
    now: DateTime<Utc>,
) -> Result<CompanyRow, CoreError> {
    let names = std::iter::once(name.as_str()).chain(trade_names.iter().map(Name::as_str));
    Ok(CompanyRow {
        kvk_number: kvk.as_str().to_owned(),
        name: name.as_str().to_owned(),
        trade_names: serde_json::to_string(trade_names)?,
        city: city.map(|c| c.as_str().to_owned()),
        province: province.map(|p| p.name().to_owned()),
        sbi_codes: serde_json::to_string(sbi_codes)?,
        updated_at: to_db(now),
        sort_name: text::sort_key(name.as_str()),
        city_key: city.map(|c| text::fold(c.as_str())),
        search_text: text::search_text(names),
    })
}

/// Writes the holder's public facts (with its search words and SBI codes) and
/// the subsidiaries' names (the latest issuance knows them best); returns the
/// holder as the register now shows it.
fn upsert_companies(
    conn: &mut AnyConnection,
    command: &IssueCertificate,
    now: DateTime<Utc>,
) -> Result<Company, CoreError> {
    let h = &command.holder;
    let holder = company_row(
        &h.kvk_number,
        &h.name,
        &h.trade_names,
        h.city.as_ref(),
        h.province,
        &h.sbi_codes,
        now,
    )?;
    conn.upsert_company(&holder, CompanyUpdate::All)?;
    text_search::index_company(conn, &holder.kvk_number, &holder.search_text)?;
    write_sbi_codes(conn, h.kvk_number.as_str(), &holder.sort_name, &h.sbi_codes)?;
    for s in &command.subsidiaries {
        // The new name, searchable with the trade names the company already has.
        let trade_names: Vec<Name> = companies::table
            .find(s.kvk_number.as_str())
            .select(companies::trade_names)
            .first::<String>(conn)
            .optional()?
            .map(|json| serde_json::from_str(&json))
            .transpose()?
            .unwrap_or_default();
        let row = company_row(&s.kvk_number, &s.name, &trade_names, None, None, &[], now)?;
        conn.upsert_company(&row, CompanyUpdate::Name)?;
        text_search::index_company(conn, &row.kvk_number, &row.search_text)?;
        // A subsidiary keeps its SBI codes; they follow its (new) name.
        diesel::update(company_sbi::table.filter(company_sbi::kvk_number.eq(&row.kvk_number)))
            .set(company_sbi::sort_name.eq(&row.sort_name))
            .execute(conn)?;
    }
    Ok(Company {
        kvk_number: h.kvk_number.clone(),
        name: h.name.clone(),
        trade_names: h.trade_names.clone(),
        city: h.city.clone(),
        province: h.province,
        sbi_codes: h.sbi_codes.clone(),
    })
}

/// Writes `history` and the columns derived from it ([`transition::derived`]):
/// the one place a certificate's history is written.
fn write_history(
    conn: &mut AnyConnection,
    id: i64,
    history: &CertificateHistory,
) -> Result<(), CoreError> {
    let d = transition::derived(history)
        .ok_or_else(|| CoreError::Storage(format!("{} has no period", history.number)))?;
    diesel::update(certificates::table.find(id))
        .set((
            certificates::number.eq(history.number.as_str()),
            certificates::history.eq(serde_json::to_string(history)?),
            certificates::starts_at.eq(to_db(d.starts_at)),
            certificates::ends_at.eq(to_db(d.ends_at)),
            certificates::closed_at.eq(d.closed_at.map(to_db)),
            certificates::top_level.eq(d.top_level),
            certificates::any_pso30plus.eq(d.any_pso30plus),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records whom a new certificate covers (one statement on PostgreSQL).
fn write_coverage(conn: &mut AnyConnection, id: i64, covered: &[Covered]) -> Result<(), CoreError> {
    if let AnyConnection::Postgresql(pg) = conn {
        let kvks: Vec<&str> = covered.iter().map(|c| c.kvk_number.as_str()).collect();
        let mains: Vec<bool> = covered.iter().map(|c| c.main_applicant).collect();
        crate::storage::prepared::WriteCoverage {
            certificate: id,
            kvks: &kvks,
            mains: &mains,
        }
        .execute(pg)?;
        return Ok(());
    }
    for covered in covered {
        diesel::insert_into(coverage::table)
            .values(CoverageRow {
                certificate_id: id,
                kvk_number: covered.kvk_number.as_str().to_owned(),
                is_main: covered.main_applicant,
            })
            .execute(conn)?;
    }
    Ok(())
}

/// The main applicant's certificates whose window may share an instant with
/// `[from, until)` (open, or closed after `from`), with their histories; the
/// company is locked.
fn main_applicants_certificates(
    conn: &mut AnyConnection,
    kvk: &str,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<CertificateHistory>, CoreError> {
    let rows: Vec<CertificateRow> = certificates::table
        .filter(certificates::main_kvk.eq(kvk))
        .filter(certificates::ends_at.gt(to_db(from)))
        .filter(certificates::starts_at.lt(to_db(until)))
        .filter(
            certificates::closed_at
                .is_null()
                .or(certificates::closed_at.gt(to_db(from))),
        )
        .select(CertificateRow::as_select())
        .load(conn)?;
    let mut by_id = histories(conn, &rows)?;
    Ok(rows.iter().filter_map(|r| by_id.remove(&r.id)).collect())
}

/// Makes `codes` the company's SBI codes, each with the company's name order
/// (one statement on PostgreSQL).
fn write_sbi_codes(
    conn: &mut AnyConnection,
    kvk: &str,
    sort_name: &str,
    codes: &[SbiCode],
) -> Result<(), CoreError> {
    let codes: Vec<&str> = codes.iter().map(SbiCode::as_str).collect();
    if let AnyConnection::Postgresql(pg) = conn {
        crate::storage::prepared::WriteSbiCodes {
            codes: &codes,
            kvk,
            sort_name,
        }
        .execute(pg)?;
        return Ok(());
    }
    diesel::delete(company_sbi::table.filter(company_sbi::kvk_number.eq(kvk))).execute(conn)?;
    for code in codes {
        diesel::insert_into(company_sbi::table)
            .values((
                company_sbi::sbi_code.eq(code),
                company_sbi::kvk_number.eq(kvk),
                company_sbi::sort_name.eq(sort_name),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Several lifecycle commands in one transaction, for bulk loading: all of them
/// are written, or none. Each keeps every rule of the command on its own.
#[derive(Debug)]
pub struct Batch<'a> {
    registry: &'a Registry,
    conn: &'a mut AnyConnection,
}

impl Batch<'_> {
    pub fn issue(
        &mut self,
        command: &IssueCertificate,
        by: &Provenance,
    ) -> Result<Issued, CoreError> {
        self.registry.issue_in(self.conn, command, by)
    }

    pub fn renew(
        &mut self,
        command: &RenewCertificate,
        by: &Provenance,
    ) -> Result<Certificate, CoreError> {
        self.registry.renew_in(self.conn, command, by)
    }

    pub fn change_standing(
        &mut self,
        command: &ChangeStanding,
        by: &Provenance,
    ) -> Result<Certificate, CoreError> {
        self.registry.change_standing_in(self.conn, command, by)
    }
}

impl Registry {
    /// Runs `commands` in one transaction (see [`Batch`]).
    pub fn batch<T>(
        &self,
        mut commands: impl FnMut(&mut Batch<'_>) -> Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        self.write(|conn| {
            commands(&mut Batch {
                registry: self,
                conn,
            })
        })
    }

    /// Issues a certificate. Idempotent on (CB, `cb_reference`): the same content
    /// again gives the existing certificate, other content a conflict.
    pub fn issue(&self, command: IssueCertificate, by: &Provenance) -> Result<Issued, CoreError> {
        self.write(|conn| self.issue_in(conn, &command, by))
    }

    /// [`Registry::issue`] inside a transaction the caller holds.
    pub(crate) fn issue_in(
        &self,
        conn: &mut AnyConnection,
        command: &IssueCertificate,
        by: &Provenance,
    ) -> Result<Issued, CoreError> {
        let cb = transition::acting_body(&by.actor)?.clone();
        let mut faults = Faults::new();
        faults.extend(check_coverage(&command.holder, &command.subsidiaries));
        let period = Period::new(command.period.clone(), &self.rules);
        if let Err(errors) = &period {
            faults.extend(errors.iter().cloned());
        }
        let period = match (faults.is_empty(), period) {
            (true, Ok(p)) => p,
            _ => return Err(CoreError::Validation(faults.into_vec())),
        };
        let fingerprint = fingerprint(command, &period)?;
        let now = time::now();
        let starts = period.starts_at();
        let kvk = command.holder.kvk_number.as_str();

        admit(conn, by)?;
        conn.lock_company(kvk)?;
        // Idempotency first: this CB's certificate with this reference.
        let same_reference: Option<(String, String)> = certificates::table
            .filter(certificates::cb_id.eq(cb.as_str()))
            .filter(certificates::cb_reference.eq(command.cb_reference.as_str()))
            .select((certificates::number, certificates::fingerprint))
            .first(conn)
            .optional()?;
        if let Some((number, existing_fingerprint)) = same_reference {
            let n = crate::storage::rows::number(&number)?;
            if existing_fingerprint != fingerprint {
                return Err(CoreError::IdempotencyConflict {
                    reference: command.cb_reference.as_str().to_owned(),
                    existing: n,
                });
            }
            return Ok(Issued::Existing(Box::new(certificate_by_number(conn, &n)?)));
        }
        let others = main_applicants_certificates(conn, kvk, starts, period.ends_at())?;
        let replaced = match &command.replaces {
            None => None,
            Some(wanted) => match certificate_by_number(conn, wanted) {
                Err(CoreError::CertificateNotFound(_)) => None,
                other => Some(other?),
            },
        };
        let supersession = transition::issue(
            &transition::Issuance {
                main_applicant: &command.holder.kvk_number,
                period: &period,
                replaces: command.replaces.as_ref(),
            },
            replaced.as_ref().map(|c| &c.history),
            &others,
        )?;
        let replaced_id = match (&replaced, &supersession) {
            (Some(old), Some(_)) => Some(certificate_row(conn, old.number())?.id),
            _ => None,
        };
        let holder = upsert_companies(conn, command, now)?;

        let placeholder = format!("~{}/{}", cb.as_str(), command.cb_reference.as_str());
        let id: i64 = diesel::insert_into(certificates::table)
            .values(NewCertificateRow {
                number: &placeholder,
                scheme: self.rules.scheme.as_str(),
                cb_id: cb.as_str(),
                cb_reference: command.cb_reference.as_str(),
                fingerprint: &fingerprint,
                main_kvk: kvk,
                replaces_id: replaced_id,
                issued_at: to_db(now),
                ends_at: to_db(period.ends_at()),
                starts_at: to_db(starts),
            })
            .returning(certificates::id)
            .get_result(conn)?;
        let n = CertificateNumber::assign(&self.rules.number_prefix, date_at(now).year(), id);
        let history = CertificateHistory {
            number: n.clone(),
            certification_body: cb.clone(),
            main_applicant: command.holder.kvk_number.clone(),
            periods: vec![period.clone()],
            standing_changes: Vec::new(),
        };
        diesel::insert_into(periods::table)
            .values(PeriodRow::new(id, &period))
            .execute(conn)?;
        let mut covered = vec![Covered {
            kvk_number: command.holder.kvk_number.clone(),
            name: command.holder.name.clone(),
            main_applicant: true,
        }];
        covered.extend(command.subsidiaries.iter().map(|s| Covered {
            kvk_number: s.kvk_number.clone(),
            name: s.name.clone(),
            main_applicant: false,
        }));
        write_history(conn, id, &history)?;
        write_coverage(conn, id, &covered)?;
        covered.sort_by(|a, b| {
            b.main_applicant
                .cmp(&a.main_applicant)
                .then(a.kvk_number.cmp(&b.kvk_number))
        });

        if let (Some(old), Some(change), Some(old_id)) = (&replaced, supersession, replaced_id) {
            let mut old_history = old.history.clone();
            old_history.standing_changes.push(change);
            write_history(conn, old_id, &old_history)?;
            event_log::append(
                conn,
                event_log::NewEvent {
                    kind: EventKind::Superseded,
                    certificate: Some((old_id, old.number())),
                    cb: Some(&old.history.certification_body),
                    effective_at: change.effective_at,
                    recorded_at: now,
                    detail: &SupersededDetail {
                        superseded_by: n.clone(),
                    },
                    provenance: Some(by),
                },
            )?;
        }
        let detail = IssuedDetail {
            cb_reference: command.cb_reference.clone(),
            main_applicant: command.holder.kvk_number.clone(),
            replaces: command.replaces.clone(),
            period: period.clone(),
            holder: Some(HolderRecord::from(&command.holder)),
            subsidiaries: Some(
                command
                    .subsidiaries
                    .iter()
                    .map(SubsidiaryRecord::from)
                    .collect(),
            ),
        };
        event_log::append(
            conn,
            event_log::NewEvent {
                kind: EventKind::Issued,
                certificate: Some((id, &n)),
                cb: Some(&cb),
                effective_at: starts,
                recorded_at: now,
                detail: &detail,
                provenance: Some(by),
            },
        )?;
        // What was just written, without reading it back.
        Ok(Issued::Created(Box::new(Certificate {
            scheme: self.rules.scheme,
            cb_reference: command.cb_reference.clone(),
            holder,
            covered,
            replaces: command.replaces.clone(),
            issued_at: now,
            history,
        })))
    }

    /// Appends a validity period to one of the CB's certificates. Re-sending the
    /// same renewal changes nothing and returns the certificate.
    pub fn renew(
        &self,
        command: RenewCertificate,
        by: &Provenance,
    ) -> Result<Certificate, CoreError> {
        self.write(|conn| self.renew_in(conn, &command, by))
    }

    /// [`Registry::renew`] inside a transaction the caller holds.
    pub(crate) fn renew_in(
        &self,
        conn: &mut AnyConnection,
        command: &RenewCertificate,
        by: &Provenance,
    ) -> Result<Certificate, CoreError> {
        let cb = transition::acting_body(&by.actor)?.clone();
        let period =
            Period::new(command.period.clone(), &self.rules).map_err(CoreError::Validation)?;
        let now = time::now();
        admit(conn, by)?;
        let row = certificate_row(conn, &command.number)?;
        conn.lock_company(&row.main_kvk)?;
        let mut certificate = certificate_by_number(conn, &command.number)?;
        let others = main_applicants_certificates(
            conn,
            &row.main_kvk,
            period.starts_at(),
            period.ends_at(),
        )?;
        match transition::renew(&certificate.history, &cb, &period, &others)? {
            Renewal::Unchanged => return Ok(certificate),
            Renewal::Append => {}
        }
        diesel::insert_into(periods::table)
            .values(PeriodRow::new(row.id, &period))
            .execute(conn)?;
        certificate.history.periods.push(period.clone());
        write_history(conn, row.id, &certificate.history)?;
        let detail = RenewedDetail {
            period: period.clone(),
        };
        event_log::append(
            conn,
            event_log::NewEvent {
                kind: EventKind::Renewed,
                certificate: Some((row.id, &command.number)),
                cb: Some(&cb),
                effective_at: period.starts_at(),
                recorded_at: now,
                detail: &detail,
                provenance: Some(by),
            },
        )?;
        Ok(certificate)
    }

    /// Suspends, reinstates or revokes a certificate. A CB acts on its own
    /// certificates; the scheme owner may revoke any.
    pub fn change_standing(
        &self,
        command: ChangeStanding,
        by: &Provenance,
    ) -> Result<Certificate, CoreError> {
        self.write(|conn| self.change_standing_in(conn, &command, by))
    }

    /// [`Registry::change_standing`] inside a transaction the caller holds.
    pub(crate) fn change_standing_in(
        &self,
        conn: &mut AnyConnection,
        command: &ChangeStanding,
        by: &Provenance,
    ) -> Result<Certificate, CoreError> {
        let asked = transition::StandingCommand {
            standing: command.standing,
            reason: command.reason.as_deref(),
            effective_at: command.effective_at,
        };
        transition::check_standing_command(&asked, &by.actor)?;
        let kind = match command.standing {
            Standing::Suspended => EventKind::Suspended,
            Standing::Reinstated => EventKind::Reinstated,
            Standing::Revoked | Standing::Superseded => EventKind::Revoked,
        };
        admit(conn, by)?;
        let row = certificate_row(conn, &command.number)?;
        conn.lock_company(&row.main_kvk)?;
        // Taken under the lock, so that concurrent changes that default to
        // "now" take effect in the order they are recorded.
        let now = time::now();
        let mut certificate = certificate_by_number(conn, &command.number)?;
        let change = transition::change_standing(&certificate.history, &asked, &by.actor, now)?;
        certificate.history.standing_changes.push(change);
        write_history(conn, row.id, &certificate.history)?;
        let cb = certificate.history.certification_body.clone();
        event_log::append(
            conn,
            event_log::NewEvent {
                kind,
                certificate: Some((row.id, &command.number)),
                cb: Some(&cb),
                effective_at: change.effective_at,
                recorded_at: now,
                detail: &StandingDetail {
                    reason: asked.reason().map(str::to_owned),
                },
                provenance: Some(by),
            },
        )?;
        Ok(certificate)
    }

    /// Records an `expired` event for every certificate whose last period has
    /// ended by `now` without a renewal (at most `batch` of them per call). The
    /// status rule does not depend on this; the feed does. Returns how many.
    pub fn record_expiries(&self, now: DateTime<Utc>, batch: i64) -> Result<usize, CoreError> {
        let due: Vec<(i64, String)> = self.read(|conn| {
            Ok(certificates::table
                .filter(certificates::ends_at.le(to_db(now)))
                .filter(
                    certificates::closed_at
                        .is_null()
                        .or(certificates::closed_at.gt(certificates::ends_at.nullable())),
                )
                .filter(
                    certificates::expiry_recorded_for
                        .is_null()
                        .or(certificates::expiry_recorded_for.lt(certificates::ends_at.nullable())),
                )
                .order(certificates::ends_at.asc())
                .limit(batch)
                .select((certificates::id, certificates::main_kvk))
                .load(conn)?)
        })?;
        let mut recorded = 0;
        for (id, kvk) in due {
            let done = self.write(|conn| {
                conn.lock_company(&kvk)?;
                let row: CertificateRow = certificates::table
                    .find(id)
                    .select(CertificateRow::as_select())
                    .first(conn)?;
                let ends_at = row.ends_at;
                let still_due = from_db(ends_at) <= now
                    && row.closed_at.is_none_or(|closed| closed > ends_at)
                    && row.expiry_recorded_for.is_none_or(|r| r < ends_at);
                if !still_due {
                    return Ok(false);
                }
                diesel::update(certificates::table.find(id))
                    .set(certificates::expiry_recorded_for.eq(Some(ends_at)))
                    .execute(conn)?;
                let cb = CbId::parse(&row.cb_id).map_err(|e| CoreError::Storage(e.to_string()))?;
                let number = crate::storage::rows::number(&row.number)?;
                let detail = ExpiredDetail {
                    valid_until: date_at(from_db(ends_at)),
                };
                event_log::append(
                    conn,
                    event_log::NewEvent {
                        kind: EventKind::Expired,
                        certificate: Some((id, &number)),
                        cb: Some(&cb),
                        effective_at: from_db(ends_at),
                        recorded_at: now,
                        detail: &detail,
                        provenance: None,
                    },
                )?;
                Ok(true)
            })?;
            recorded += usize::from(done);
        }
        Ok(recorded)
    }
}
