//! Database rows, and their conversion to and from domain types. Rows are what
//! the tables hold; the domain types are what the rest of the core works with.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{
    cb_keys, certificates, certification_bodies, companies, coverage, events, periods, replay_guard,
};
use crate::certificate::CertificateNumber;
use crate::certification_body::{Accreditation, CbId, CertificationBody, KeyRecord};
use crate::company::{KvkNumber, Name, Province, SbiCode};
use crate::level::Level;
use crate::period::{HandbookVersion, Period, Score};
use crate::validation::InvalidValue;

/// A row that does not parse back into the domain: the database holds something
/// the code never writes. Reported as a storage fault, never shown to clients.
#[derive(Debug, thiserror::Error)]
#[error("corrupt {table} row: {message}")]
pub struct CorruptRow {
    pub table: &'static str,
    pub message: String,
}

pub(crate) fn corrupt(table: &'static str) -> impl Fn(InvalidValue) -> CorruptRow {
    move |e| CorruptRow {
        table,
        message: e.to_string(),
    }
}

fn corrupt_json(table: &'static str) -> impl Fn(serde_json::Error) -> CorruptRow {
    move |e| CorruptRow {
        table,
        message: e.to_string(),
    }
}

/// UTC instants are stored as plain timestamps on both backends.
pub(crate) fn to_db(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

pub(crate) fn from_db(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = certification_bodies)]
pub(crate) struct CbRow {
    pub id: String,
    pub name: String,
    pub accreditation: String,
    pub jwks_uri: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = cb_keys)]
pub(crate) struct KeyRow {
    pub cb_id: String,
    pub kid: String,
    pub jwk: String,
    pub first_seen: NaiveDateTime,
    pub retired_at: Option<NaiveDateTime>,
}

impl CbRow {
    pub fn into_domain(self, keys: Vec<KeyRow>) -> Result<CertificationBody, CorruptRow> {
        let bad = corrupt("certification_bodies");
        Ok(CertificationBody {
            id: CbId::parse(&self.id).map_err(&bad)?,
            name: self.name,
            accreditation: Accreditation::parse(&self.accreditation).map_err(&bad)?,
            jwks_uri: self.jwks_uri,
            keys: keys
                .into_iter()
                .map(|k| KeyRecord {
                    kid: k.kid,
                    jwk: k.jwk,
                    first_seen: from_db(k.first_seen),
                    retired_at: k.retired_at.map(from_db),
                })
                .collect(),
            created_at: from_db(self.created_at),
            updated_at: from_db(self.updated_at),
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = companies)]
pub(crate) struct CompanyRow {
    pub kvk_number: String,
    pub name: String,
    pub trade_names: String,
    pub city: Option<String>,
    pub province: Option<String>,
    pub sbi_codes: String,
    pub updated_at: NaiveDateTime,
    pub sort_name: String,
    pub city_key: Option<String>,
    pub search_text: String,
}

/// A company's public facts as a row holds them (for loading the read model:
/// what a row says besides when it was written).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = companies)]
pub(crate) struct CompanyFactsRow {
    pub kvk_number: String,
    pub name: String,
    pub trade_names: String,
    pub city: Option<String>,
    pub province: Option<String>,
    pub sbi_codes: String,
    pub search_text: String,
}

/// A company as the register shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Company {
    pub kvk_number: KvkNumber,
    pub name: Name,
    pub trade_names: Vec<Name>,
    pub city: Option<Name>,
    pub province: Option<Province>,
    pub sbi_codes: Vec<SbiCode>,
}

impl CompanyRow {
    pub fn into_domain(self) -> Result<Company, CorruptRow> {
        let bad = corrupt("companies");
        Ok(Company {
            kvk_number: KvkNumber::parse(&self.kvk_number).map_err(&bad)?,
            name: Name::parse(&self.name).map_err(&bad)?,
            trade_names: serde_json::from_str(&self.trade_names)
                .map_err(corrupt_json("companies"))?,
            city: self
                .city
                .as_deref()
                .map(Name::parse)
                .transpose()
                .map_err(&bad)?,
            province: self
                .province
                .as_deref()
                .map(Province::parse)
                .transpose()
                .map_err(&bad)?,
            sbi_codes: serde_json::from_str(&self.sbi_codes).map_err(corrupt_json("companies"))?,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = certificates)]
pub(crate) struct CertificateRow {
    pub id: i64,
    pub number: String,
    pub scheme: String,
    pub cb_id: String,
    pub cb_reference: String,
    pub main_kvk: String,
    pub replaces_id: Option<i64>,
    pub issued_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub expiry_recorded_for: Option<NaiveDateTime>,
    /// The certificate's [`crate::certificate::CertificateHistory`] as JSON.
    pub history: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = certificates)]
pub(crate) struct NewCertificateRow<'a> {
    pub number: &'a str,
    pub scheme: &'a str,
    pub cb_id: &'a str,
    pub cb_reference: &'a str,
    pub fingerprint: &'a str,
    pub main_kvk: &'a str,
    pub replaces_id: Option<i64>,
    pub issued_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub starts_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = periods)]
pub(crate) struct PeriodRow {
    #[diesel(skip_insertion)]
    pub id: i64,
    pub certificate_id: i64,
    pub level: String,
    pub pso30plus: bool,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub audit_date: NaiveDate,
    pub reference_year: i32,
    pub handbook_version: String,
    pub score_percent: Option<f64>,
    pub total_fte: Option<f64>,
}

impl PeriodRow {
    pub fn new(certificate_id: i64, p: &Period) -> Self {
        Self {
            id: 0,
            certificate_id,
            level: p.level().as_str().to_owned(),
            pso30plus: p.pso30plus(),
            valid_from: p.valid_from(),
            valid_until: p.valid_until(),
            audit_date: p.audit_date(),
            reference_year: p.reference_year(),
            handbook_version: p.handbook_version().as_str().to_owned(),
            score_percent: p.score().percent,
            total_fte: p.score().total_fte,
        }
    }

    pub fn into_domain(self) -> Result<Period, CorruptRow> {
        let bad = corrupt("periods");
        Ok(Period::from_storage(
            Level::parse(&self.level).map_err(&bad)?,
            self.pso30plus,
            self.valid_from,
            self.valid_until,
            self.audit_date,
            self.reference_year,
            HandbookVersion::parse(&self.handbook_version).map_err(&bad)?,
            Score {
                percent: self.score_percent,
                total_fte: self.total_fte,
            },
        ))
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = coverage)]
pub(crate) struct CoverageRow {
    pub certificate_id: i64,
    pub kvk_number: String,
    pub is_main: bool,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub(crate) struct EventRow {
    pub seq: i64,
    pub cb_id: Option<String>,
    pub kind: String,
    pub effective_at: NaiveDateTime,
    pub recorded_at: NaiveDateTime,
    pub detail: String,
    pub evidence: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = events)]
pub(crate) struct NewEventRow<'a> {
    pub certificate_id: Option<i64>,
    pub cb_id: Option<&'a str>,
    pub kind: &'a str,
    pub effective_at: NaiveDateTime,
    pub recorded_at: NaiveDateTime,
    pub detail: &'a str,
    pub evidence: Option<&'a str>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = replay_guard)]
pub(crate) struct ReplayRow<'a> {
    pub cb_id: &'a str,
    pub jti: &'a str,
    pub expires_at: NaiveDateTime,
}

/// Parses a stored certificate number.
pub(crate) fn number(s: &str) -> Result<CertificateNumber, CorruptRow> {
    CertificateNumber::parse(s).map_err(corrupt("certificates"))
}
