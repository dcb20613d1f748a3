//! The certificate lifecycle: issue, renew, suspend, reinstate, revoke, and the
//! recording of expiry. Each command is one transaction that writes the change
//! and its event, or nothing (API.md, "Lifecycle").

use chrono::{DateTime, Datelike, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Text};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Registry;
use super::certification_bodies::ensure_active;
use super::event_log::{self, claim_request_id};
use super::queries::{Certificate, Covered, certificate_by_number};
use crate::certificate::{
    CbReference, CertificateHistory, CertificateNumber, CertificateStatus, Standing, StandingChange,
};
use crate::certification_body::CbId;
use crate::company::{Holder, KvkNumber, Name, Province, SbiCode, Subsidiary, check_coverage};
use crate::error::CoreError;
use crate::event::{Actor, EventKind, Provenance};
use crate::period::{Period, PeriodDraft};
use crate::status::certificate_state_at;
use crate::storage::rows::{
    CertificateRow, Company, CompanyRow, CoverageRow, NewCertificateRow, PeriodRow, from_db, to_db,
};
use crate::storage::schema::{certificates, companies, company_sbi, coverage, periods};
use crate::storage::text_search;
use crate::storage::{AnyConnection, CompanyUpdate};
use crate::text;
use crate::time::{self, date_at};
use crate::validation::{Faults, FieldError};

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
    pub const MAX_REASON_CHARS: usize = 2000;
    /// A reason that counts as given, as a regular expression (for the API's
    /// contract): at least one character that is not white space (Unicode
    /// White_Space, what trimming removes), spelt out by code point.
    pub const REASON_PATTERN: &'static str =
        "[^\\x09-\\x0d\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
}

/// The event detail of an issuance or renewal.
#[derive(Debug, Serialize)]
struct PeriodDetail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cb_reference: Option<&'a CbReference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    main_applicant: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replaces: Option<&'a CertificateNumber>,
    period: &'a Period,
}

#[derive(Debug, Serialize)]
struct StandingDetail<'a> {
    reason: Option<&'a str>,
}

fn acting_body(by: &Provenance) -> Result<&CbId, CoreError> {
    match &by.actor {
        Actor::CertificationBody(cb) => Ok(cb),
        Actor::SchemeOwner => Err(CoreError::InvalidTransition(
            "only a certification body issues, renews, suspends and reinstates certificates".into(),
        )),
    }
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

/// Refuses a change to a certificate that is closed for good.
fn ensure_open(certificate: &Certificate) -> Result<(), CoreError> {
    let n = certificate.number();
    for change in &certificate.history.standing_changes {
        match change.standing {
            Standing::Revoked => return Err(CoreError::CertificateRevoked(n.clone())),
            Standing::Superseded => return Err(CoreError::CertificateSuperseded(n.clone())),
            _ => {}
        }
    }
    Ok(())
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
        updated_at: now,
    })
}

/// What a new certificate's row gets once its id (and so its number) is known.
struct NewCertificate<'a> {
    id: i64,
    number: &'a CertificateNumber,
    history: String,
    top_level: i32,
    any_pso30plus: bool,
}

/// Gives a new certificate its number and history and records whom it covers
/// (one statement on PostgreSQL).
fn complete_certificate(
    conn: &mut AnyConnection,
    c: &NewCertificate<'_>,
    covered: &[Covered],
) -> Result<(), CoreError> {
    if let AnyConnection::Postgresql(pg) = conn {
        let kvks: Vec<&str> = covered.iter().map(|c| c.kvk_number.as_str()).collect();
        let mains: Vec<bool> = covered.iter().map(|c| c.main_applicant).collect();
        diesel::sql_query(
            "WITH numbered AS (UPDATE certificates \
                               SET number = $1, history = $2, top_level = $3, any_pso30plus = $4 \
                               WHERE id = $5) \
             INSERT INTO coverage (certificate_id, kvk_number, is_main) \
             SELECT $5, kvk, main FROM unnest($6::text[], $7::boolean[]) AS c(kvk, main)",
        )
        .bind::<Text, _>(c.number.as_str())
        .bind::<Text, _>(&c.history)
        .bind::<Integer, _>(c.top_level)
        .bind::<Bool, _>(c.any_pso30plus)
        .bind::<BigInt, _>(c.id)
        .bind::<Array<Text>, _>(&kvks)
        .bind::<Array<Bool>, _>(&mains)
        .execute(pg)?;
        return Ok(());
    }
    diesel::update(certificates::table.find(c.id))
        .set((
            certificates::number.eq(c.number.as_str()),
            certificates::history.eq(&c.history),
            certificates::top_level.eq(c.top_level),
            certificates::any_pso30plus.eq(c.any_pso30plus),
        ))
        .execute(conn)?;
    for covered in covered {
        diesel::insert_into(coverage::table)
            .values(CoverageRow {
                certificate_id: c.id,
                kvk_number: covered.kvk_number.as_str().to_owned(),
                is_main: covered.main_applicant,
            })
            .execute(conn)?;
    }
    Ok(())
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
        diesel::sql_query(
            "WITH gone AS (DELETE FROM company_sbi \
                           WHERE kvk_number = $2 AND sbi_code <> ALL($1::text[])) \
             INSERT INTO company_sbi (sbi_code, kvk_number, sort_name) \
             SELECT unnest($1::text[]), $2, $3 \
             ON CONFLICT (sbi_code, kvk_number) DO UPDATE SET sort_name = EXCLUDED.sort_name \
             WHERE company_sbi.sort_name <> EXCLUDED.sort_name",
        )
        .bind::<Array<Text>, _>(&codes)
        .bind::<Text, _>(kvk)
        .bind::<Text, _>(sort_name)
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

/// Applies the one-in-force rule: at most one certificate per main applicant and
/// scheme in force at a time. `in_force` are the main applicant's certificates
/// not closed and not ended by `starts`. Returns the certificate to supersede.
fn certificate_to_replace(
    conn: &mut AnyConnection,
    command: &IssueCertificate,
    starts: DateTime<Utc>,
    in_force: &[&CertificateRow],
) -> Result<Option<(i64, Certificate)>, CoreError> {
    let Some(wanted) = &command.replaces else {
        return match in_force.first() {
            Some(row) => Err(CoreError::CertificateInForce {
                existing: crate::storage::rows::number(&row.number)?,
            }),
            None => Ok(None),
        };
    };
    let replaced = match certificate_by_number(conn, wanted) {
        Err(CoreError::CertificateNotFound(_)) => {
            return Err(CoreError::field(
                "replaces",
                "names no certificate in the register",
            ));
        }
        other => other?,
    };
    if replaced.history.main_applicant != command.holder.kvk_number {
        return Err(CoreError::field(
            "replaces",
            "must be a certificate of the same main applicant",
        ));
    }
    ensure_open(&replaced)?;
    if let Some(other) = in_force.iter().find(|r| r.number != wanted.as_str()) {
        return Err(CoreError::CertificateInForce {
            existing: crate::storage::rows::number(&other.number)?,
        });
    }
    let Some(row) = in_force.iter().find(|r| r.number == wanted.as_str()) else {
        return Err(CoreError::field(
            "replaces",
            "must be a certificate still in force when this one starts",
        ));
    };
    let first_start = replaced.history.periods.first().map(Period::starts_at);
    let last_change = replaced
        .history
        .standing_changes
        .last()
        .map(|c| c.effective_at);
    if first_start.is_some_and(|s| starts < s) || last_change.is_some_and(|c| starts < c) {
        return Err(CoreError::field(
            "valid_from",
            "must not be before the start or the last lifecycle event of the certificate it replaces",
        ));
    }
    Ok(Some((row.id, replaced)))
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
        let cb = acting_body(by)?.clone();
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
        // One query for both rules: this CB's certificate with this reference
        // (idempotency), and the main applicant's certificates in force at the
        // new start (one in force).
        let rows: Vec<CertificateRow> = certificates::table
            .filter(
                certificates::cb_id
                    .eq(cb.as_str())
                    .and(certificates::cb_reference.eq(command.cb_reference.as_str()))
                    .or(certificates::main_kvk
                        .eq(kvk)
                        .and(certificates::closed_at.is_null())
                        .and(certificates::ends_at.gt(to_db(starts)))),
            )
            .select(CertificateRow::as_select())
            .load(conn)?;
        let same_reference = |r: &CertificateRow| {
            r.cb_id == cb.as_str() && r.cb_reference == command.cb_reference.as_str()
        };
        if let Some(row) = rows.iter().find(|r| same_reference(r)) {
            let n = crate::storage::rows::number(&row.number)?;
            if row.fingerprint != fingerprint {
                return Err(CoreError::IdempotencyConflict {
                    reference: command.cb_reference.as_str().to_owned(),
                    existing: n,
                });
            }
            return Ok(Issued::Existing(Box::new(certificate_by_number(conn, &n)?)));
        }
        let in_force: Vec<&CertificateRow> = rows.iter().filter(|r| r.main_kvk == kvk).collect();
        let replaced = certificate_to_replace(conn, command, starts, &in_force)?;
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
                replaces_id: replaced.as_ref().map(|(old_id, _)| *old_id),
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
        let written = NewCertificate {
            id,
            number: &n,
            history: serde_json::to_string(&history)?,
            top_level: period.level().rank(),
            any_pso30plus: period.pso30plus(),
        };
        complete_certificate(conn, &written, &covered)?;
        covered.sort_by(|a, b| {
            b.main_applicant
                .cmp(&a.main_applicant)
                .then(a.kvk_number.cmp(&b.kvk_number))
        });

        if let Some((old_id, old)) = &replaced {
            let mut old_history = old.history.clone();
            old_history.standing_changes.push(StandingChange {
                standing: Standing::Superseded,
                effective_at: starts,
            });
            diesel::update(certificates::table.find(*old_id))
                .set((
                    certificates::closed_at.eq(Some(to_db(starts))),
                    certificates::history.eq(serde_json::to_string(&old_history)?),
                ))
                .execute(conn)?;
            event_log::append(
                conn,
                event_log::NewEvent {
                    kind: EventKind::Superseded,
                    certificate_id: Some(*old_id),
                    cb: Some(&old.history.certification_body),
                    effective_at: starts,
                    recorded_at: now,
                    detail: &serde_json::json!({ "superseded_by": n }),
                    provenance: Some(by),
                },
            )?;
        }
        let detail = PeriodDetail {
            cb_reference: Some(&command.cb_reference),
            main_applicant: Some(kvk),
            replaces: command.replaces.as_ref(),
            period: &period,
        };
        event_log::append(
            conn,
            event_log::NewEvent {
                kind: EventKind::Issued,
                certificate_id: Some(id),
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
        let cb = acting_body(by)?.clone();
        let period =
            Period::new(command.period.clone(), &self.rules).map_err(CoreError::Validation)?;
        let now = time::now();
        admit(conn, by)?;
        let row = certificate_row(conn, &command.number)?;
        conn.lock_company(&row.main_kvk)?;
        let mut certificate = certificate_by_number(conn, &command.number)?;
        if certificate.history.certification_body != cb {
            return Err(CoreError::NotYourCertificate(command.number.clone()));
        }
        ensure_open(&certificate)?;
        let last = certificate.history.periods.last();
        if last == Some(&period) {
            return Ok(certificate);
        }
        if let Some(last) = last
            && period.valid_from() <= last.valid_from()
        {
            return Err(CoreError::field(
                "valid_from",
                format!(
                    "must start after the last period starts ({})",
                    last.valid_from()
                ),
            ));
        }
        diesel::insert_into(periods::table)
            .values(PeriodRow::new(row.id, &period))
            .execute(conn)?;
        certificate.history.periods.push(period.clone());
        let periods = &certificate.history.periods;
        let top_level = periods.iter().map(|p| p.level().rank()).max().unwrap_or(0);
        let any_pso30plus = periods.iter().any(Period::pso30plus);
        diesel::update(certificates::table.find(row.id))
            .set((
                certificates::ends_at.eq(to_db(period.ends_at())),
                certificates::history.eq(serde_json::to_string(&certificate.history)?),
                certificates::top_level.eq(top_level),
                certificates::any_pso30plus.eq(any_pso30plus),
            ))
            .execute(conn)?;
        let detail = PeriodDetail {
            cb_reference: None,
            main_applicant: None,
            replaces: None,
            period: &period,
        };
        event_log::append(
            conn,
            event_log::NewEvent {
                kind: EventKind::Renewed,
                certificate_id: Some(row.id),
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
        let kind = match command.standing {
            Standing::Suspended => EventKind::Suspended,
            Standing::Reinstated => EventKind::Reinstated,
            Standing::Revoked => EventKind::Revoked,
            Standing::Superseded => {
                return Err(CoreError::InvalidTransition(
                    "a certificate is superseded by issuing its replacement".into(),
                ));
            }
        };
        if by.actor == Actor::SchemeOwner && command.standing != Standing::Revoked {
            return Err(CoreError::InvalidTransition(
                "the scheme owner can only revoke".into(),
            ));
        }
        let reason = command
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        let mut faults = Vec::new();
        match reason {
            None if command.standing != Standing::Reinstated => {
                faults.push(FieldError::new(
                    "reason",
                    "is required to suspend or revoke",
                ));
            }
            Some(r) if r.chars().count() > ChangeStanding::MAX_REASON_CHARS => {
                faults.push(FieldError::new(
                    "reason",
                    format!(
                        "must be at most {} characters",
                        ChangeStanding::MAX_REASON_CHARS
                    ),
                ));
            }
            _ => {}
        }
        if !faults.is_empty() {
            return Err(CoreError::Validation(faults));
        }
        admit(conn, by)?;
        let row = certificate_row(conn, &command.number)?;
        conn.lock_company(&row.main_kvk)?;
        // Taken under the lock, so that concurrent changes that default to
        // "now" take effect in the order they are recorded.
        let now = time::now();
        let mut certificate = certificate_by_number(conn, &command.number)?;
        let effective_at = command
            .effective_at
            .map(time::truncate)
            .unwrap_or_else(|| earliest_effective_at(&certificate, now));
        if let Actor::CertificationBody(cb) = &by.actor
            && &certificate.history.certification_body != cb
        {
            return Err(CoreError::NotYourCertificate(command.number.clone()));
        }
        ensure_open(&certificate)?;
        check_effective_at(&certificate, effective_at)?;
        let suspended = certificate
            .history
            .standing_changes
            .iter()
            .rev()
            .find(|c| matches!(c.standing, Standing::Suspended | Standing::Reinstated))
            .is_some_and(|c| c.standing == Standing::Suspended);
        match command.standing {
            Standing::Suspended if suspended => {
                return Err(CoreError::InvalidTransition(
                    "the certificate is already suspended".into(),
                ));
            }
            Standing::Suspended
                if certificate_state_at(&certificate.history, effective_at).status
                    == CertificateStatus::Expired =>
            {
                return Err(CoreError::InvalidTransition(
                    "the certificate has expired at effective_at".into(),
                ));
            }
            Standing::Reinstated if !suspended => {
                return Err(CoreError::InvalidTransition(
                    "the certificate is not suspended".into(),
                ));
            }
            _ => {}
        }
        certificate.history.standing_changes.push(StandingChange {
            standing: command.standing,
            effective_at,
        });
        let closed_at = match command.standing {
            Standing::Revoked => Some(to_db(effective_at)),
            _ => row.closed_at,
        };
        diesel::update(certificates::table.find(row.id))
            .set((
                certificates::closed_at.eq(closed_at),
                certificates::history.eq(serde_json::to_string(&certificate.history)?),
            ))
            .execute(conn)?;
        let cb = certificate.history.certification_body.clone();
        event_log::append(
            conn,
            event_log::NewEvent {
                kind,
                certificate_id: Some(row.id),
                cb: Some(&cb),
                effective_at,
                recorded_at: now,
                detail: &StandingDetail { reason },
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
                .filter(certificates::closed_at.is_null())
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
                    && row.closed_at.is_none()
                    && row.expiry_recorded_for.is_none_or(|r| r < ends_at);
                if !still_due {
                    return Ok(false);
                }
                diesel::update(certificates::table.find(id))
                    .set(certificates::expiry_recorded_for.eq(Some(ends_at)))
                    .execute(conn)?;
                let cb = CbId::parse(&row.cb_id).map_err(|e| CoreError::Storage(e.to_string()))?;
                let detail = serde_json::json!({ "valid_until": date_at(from_db(ends_at)) });
                event_log::append(
                    conn,
                    event_log::NewEvent {
                        kind: EventKind::Expired,
                        certificate_id: Some(id),
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

/// When a standing change without a date takes effect: now, or — for a
/// certificate that has not started, or whose last standing change is dated
/// ahead — the first instant `check_effective_at` admits.
fn earliest_effective_at(certificate: &Certificate, now: DateTime<Utc>) -> DateTime<Utc> {
    let first = certificate.history.periods.first().map(Period::starts_at);
    let last = certificate
        .history
        .standing_changes
        .last()
        .map(|c| c.effective_at);
    [Some(now), first, last]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(now)
}

/// A standing change takes effect no earlier than the certificate's first period
/// and its last standing change: history is appended to, never rewritten.
fn check_effective_at(
    certificate: &Certificate,
    effective_at: DateTime<Utc>,
) -> Result<(), CoreError> {
    if let Some(first) = certificate.history.periods.first()
        && effective_at < first.starts_at()
    {
        return Err(CoreError::field(
            "effective_at",
            format!(
                "must not be before the certificate's first day ({})",
                first.valid_from()
            ),
        ));
    }
    if let Some(last) = certificate.history.standing_changes.last()
        && effective_at < last.effective_at
    {
        return Err(CoreError::field(
            "effective_at",
            format!(
                "must not be before the certificate's last lifecycle event ({})",
                last.effective_at.to_rfc3339()
            ),
        ));
    }
    Ok(())
}
