//! What the API shows: JSON views of the core's types, in the contract's
//! camelCase names, every value typed by its schema in `crate::schema` (enums
//! for every list, patterns and bounds for every text). Rows, domain types and
//! views are three things; conversions happen here, explicitly.

use chrono::{DateTime, NaiveDate, Utc};
use registry_core::{
    Accreditation, CbId, CbReference, CertificateNumber, CertificateStatus, Company, CompanyStatus,
    EventKind, KvkNumber, Level, Name, Province, SbiCode, Standing,
};
use serde::Serialize;

use crate::keys::{Jwk, PublishedJwkSet};
use crate::schema::{
    AccreditationSchema, CbIdSchema, CbReferenceSchema, CertificateNumberSchema,
    CertificateStatusSchema, CompactJwsSchema, CompanyStatusSchema, DateSchema, EventKindSchema,
    HandbookVersionSchema, InstantSchema, JwksUriSchema, KidSchema, KvkNumberSchema, LevelSchema,
    NameSchema, ProvinceSchema, SbiCodeSchema, StandingSchema,
};

/// An instant as the API writes it: RFC 3339 in UTC.
pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A company as the register knows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompanyView {
    #[schema(value_type = KvkNumberSchema)]
    pub kvk_number: KvkNumber,
    #[schema(value_type = NameSchema)]
    pub name: Name,
    #[schema(value_type = Vec<NameSchema>, max_items = 50)]
    pub trade_names: Vec<Name>,
    #[schema(value_type = Option<NameSchema>)]
    pub city: Option<Name>,
    #[schema(value_type = Option<ProvinceSchema>)]
    pub province: Option<Province>,
    #[schema(value_type = Vec<SbiCodeSchema>, max_items = 50)]
    pub sbi_codes: Vec<SbiCode>,
}

impl From<Company> for CompanyView {
    fn from(c: Company) -> Self {
        Self {
            kvk_number: c.kvk_number,
            name: c.name,
            trade_names: c.trade_names,
            city: c.city,
            province: c.province,
            sbi_codes: c.sbi_codes,
        }
    }
}

/// A validity period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeriodView {
    #[schema(value_type = LevelSchema)]
    pub level: Level,
    pub pso30plus: bool,
    /// The first day (from its start, Europe/Amsterdam).
    #[schema(value_type = DateSchema)]
    pub valid_from: NaiveDate,
    /// Exclusive: the period ends at the start of this day (Europe/Amsterdam).
    #[schema(value_type = DateSchema)]
    pub valid_until: NaiveDate,
    #[schema(value_type = DateSchema)]
    pub audit_date: NaiveDate,
    #[schema(minimum = 1900, maximum = 9999)]
    pub reference_year: i32,
    #[schema(value_type = HandbookVersionSchema)]
    pub handbook_version: String,
    /// Weighted target-group FTE over total FTE, in percent.
    #[schema(minimum = 0, maximum = 100)]
    pub score_percent: Option<f64>,
    /// Total FTE of the organisation in the reference year.
    #[schema(exclusive_minimum = 0, exclusive_maximum = 10000000)]
    pub total_fte: Option<f64>,
}

impl From<&registry_core::Period> for PeriodView {
    fn from(p: &registry_core::Period) -> Self {
        Self {
            level: p.level(),
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
}

/// A legal entity a certificate covers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoveredView {
    #[schema(value_type = KvkNumberSchema)]
    pub kvk_number: KvkNumber,
    #[schema(value_type = NameSchema)]
    pub name: Name,
    /// The holder, as opposed to a subsidiary.
    pub main_applicant: bool,
}

/// A suspension, reinstatement, revocation or supersession.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StandingChangeView {
    #[schema(value_type = StandingSchema)]
    pub standing: Standing,
    #[schema(value_type = InstantSchema)]
    pub effective_at: String,
}

/// A certificate, with its current status and every period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateView {
    #[schema(value_type = CertificateNumberSchema)]
    pub number: CertificateNumber,
    /// The scheme: `pso`.
    #[schema(example = "pso", max_length = 16, pattern = "^[a-z0-9]+$")]
    pub scheme: &'static str,
    /// The certificate's own status now.
    #[schema(value_type = CertificateStatusSchema)]
    pub status: CertificateStatus,
    #[schema(value_type = CbIdSchema)]
    pub certification_body: CbId,
    #[schema(value_type = CbReferenceSchema)]
    pub cb_reference: CbReference,
    /// Level of the period in effect now (or the last one).
    #[schema(value_type = LevelSchema)]
    pub level: Level,
    pub pso30plus: bool,
    #[schema(value_type = DateSchema)]
    pub valid_from: NaiveDate,
    /// Exclusive.
    #[schema(value_type = DateSchema)]
    pub valid_until: NaiveDate,
    pub holder: CompanyView,
    /// Every legal entity covered, the holder first.
    #[schema(max_items = 51)]
    pub covered: Vec<CoveredView>,
    /// The certificate this one replaced (it was superseded from this one's start).
    #[schema(value_type = Option<CertificateNumberSchema>)]
    pub replaces: Option<CertificateNumber>,
    #[schema(value_type = InstantSchema)]
    pub issued_at: String,
    /// Oldest first.
    #[schema(max_items = 10000)]
    pub periods: Vec<PeriodView>,
    /// Oldest first.
    #[schema(max_items = 10000)]
    pub standing_changes: Vec<StandingChangeView>,
}

impl CertificateView {
    pub fn new(c: registry_core::Certificate, now: DateTime<Utc>) -> Self {
        let status = c.status_at(now);
        // The period in effect now, else the last one. A certificate has at
        // least one period (issued with it, in one transaction).
        let current = c.period_at(now).or(c.history.periods.last());
        let (level, pso30plus, valid_from, valid_until) = current.map_or(
            (Level::Aspirant, false, NaiveDate::MIN, NaiveDate::MIN),
            |p| (p.level(), p.pso30plus(), p.valid_from(), p.valid_until()),
        );
        let history = c.history;
        Self {
            number: history.number,
            scheme: c.scheme.as_str(),
            status,
            certification_body: history.certification_body,
            cb_reference: c.cb_reference,
            level,
            pso30plus,
            valid_from,
            valid_until,
            covered: c
                .covered
                .into_iter()
                .map(|cv| CoveredView {
                    kvk_number: cv.kvk_number,
                    name: cv.name,
                    main_applicant: cv.main_applicant,
                })
                .collect(),
            replaces: c.replaces,
            issued_at: instant(c.issued_at),
            periods: history.periods.iter().map(PeriodView::from).collect(),
            standing_changes: history
                .standing_changes
                .iter()
                .map(|s| StandingChangeView {
                    standing: s.standing,
                    effective_at: instant(s.effective_at),
                })
                .collect(),
            holder: CompanyView::from(c.holder),
        }
    }
}

/// One event of the log, with the signed request behind it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// Strictly increasing, never reused, never reordered.
    #[schema(minimum = 1, maximum = 9007199254740991_i64)]
    pub seq: i64,
    #[schema(value_type = EventKindSchema)]
    pub kind: EventKind,
    #[schema(value_type = Option<CertificateNumberSchema>)]
    pub certificate_number: Option<CertificateNumber>,
    #[schema(value_type = Option<CbIdSchema>)]
    pub certification_body: Option<CbId>,
    /// When the change takes effect.
    #[schema(value_type = InstantSchema)]
    pub effective_at: String,
    /// When the register recorded it.
    #[schema(value_type = InstantSchema)]
    pub recorded_at: String,
    /// What changed (the new period, the reason, the keys added and retired, …),
    /// in the contract's names.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// The CB's compact JWS, verbatim: verify it with the CB's published keys.
    #[schema(value_type = Option<CompactJwsSchema>)]
    pub evidence: Option<String>,
    /// Its entry in the transparency log (`/log/entries/{logIndex}`): the
    /// whole event, provably included in every later checkpoint.
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    pub log_index: Option<u64>,
}

/// A stored event detail (snake_case, as the core records it) in the
/// contract's names: object keys in camelCase, at every depth.
fn camel_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(o) => serde_json::Value::Object(
            o.into_iter()
                .map(|(k, v)| (crate::contract::camel_case(&k), camel_keys(v)))
                .collect(),
        ),
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(camel_keys).collect())
        }
        other => other,
    }
}

impl From<registry_core::Event> for EventView {
    fn from(e: registry_core::Event) -> Self {
        Self {
            seq: e.seq,
            kind: e.kind,
            certificate_number: e.certificate_number,
            certification_body: e.certification_body,
            effective_at: instant(e.effective_at),
            recorded_at: instant(e.recorded_at),
            detail: camel_keys(e.detail),
            evidence: e.evidence,
            log_index: e.log_index,
        }
    }
}

/// Whether a key verifies new requests.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Verifies new requests.
    Current,
    /// Verifies only what was signed before it was retired.
    Retired,
}

/// A key of a certification body, current or retired.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyStatusView {
    #[schema(value_type = KidSchema)]
    pub kid: String,
    pub status: KeyStatus,
    #[schema(value_type = InstantSchema)]
    pub first_seen: String,
    #[schema(value_type = Option<InstantSchema>)]
    pub retired_at: Option<String>,
}

/// A certification body: accreditation, and its keys as a JWK set (current and
/// retired), so that anyone can verify the evidence it signed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificationBodyView {
    #[schema(value_type = CbIdSchema)]
    pub id: CbId,
    #[schema(value_type = NameSchema)]
    pub name: String,
    #[schema(value_type = AccreditationSchema)]
    pub accreditation: Accreditation,
    #[schema(value_type = Option<JwksUriSchema>)]
    pub jwks_uri: Option<String>,
    /// Every key the CB ever had (current and retired).
    pub jwks: PublishedJwkSet,
    #[schema(max_items = 1000)]
    pub keys: Vec<KeyStatusView>,
    #[schema(value_type = InstantSchema)]
    pub created_at: String,
    #[schema(value_type = InstantSchema)]
    pub updated_at: String,
}

impl From<registry_core::CertificationBody> for CertificationBodyView {
    fn from(b: registry_core::CertificationBody) -> Self {
        let keys: Vec<Jwk> = b
            .keys
            .iter()
            .filter_map(|k| Jwk::from_stored(&k.jwk))
            .collect();
        Self {
            id: b.id,
            name: b.name,
            accreditation: b.accreditation,
            jwks_uri: b.jwks_uri,
            jwks: PublishedJwkSet { keys },
            keys: b
                .keys
                .iter()
                .map(|k| KeyStatusView {
                    kid: k.kid.clone(),
                    status: if k.is_current() {
                        KeyStatus::Current
                    } else {
                        KeyStatus::Retired
                    },
                    first_seen: instant(k.first_seen),
                    retired_at: k.retired_at.map(instant),
                })
                .collect(),
            created_at: instant(b.created_at),
            updated_at: instant(b.updated_at),
        }
    }
}

/// A company's standing as the status rule decides it: for a search hit on
/// the day asked about (now, or `validOn`), for a status answer over the
/// instant or interval asked about.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StandingView {
    /// Valid (at `levelMin` or higher, when asked) at every instant asked about.
    pub certified: bool,
    /// The standing on the first instant asked about.
    #[schema(value_type = CompanyStatusSchema)]
    pub status: CompanyStatus,
    /// The lowest level held over the interval when certified, else the level
    /// on its first instant.
    #[schema(value_type = Option<LevelSchema>)]
    pub level: Option<Level>,
    pub pso30plus: bool,
    /// The certificate that speaks for the company.
    #[schema(value_type = Option<CertificateNumberSchema>)]
    pub certificate_number: Option<CertificateNumber>,
    #[schema(value_type = Option<CbIdSchema>)]
    pub certification_body: Option<CbId>,
    /// The end (exclusive) of that certificate's period in effect.
    #[schema(value_type = Option<DateSchema>)]
    pub valid_until: Option<NaiveDate>,
}

impl StandingView {
    /// Feeds what the answer says into `tag` (see `http_cache::Tag`).
    pub fn tag(&self, tag: &mut crate::http_cache::Tag) {
        tag.add(&[u8::from(self.certified)]);
        tag.add(self.status.as_str().as_bytes());
        tag.add(self.level.map_or("", Level::as_str).as_bytes());
        tag.add(&[u8::from(self.pso30plus)]);
        tag.add(
            self.certificate_number
                .as_ref()
                .map_or("", CertificateNumber::as_str)
                .as_bytes(),
        );
        tag.add(
            self.certification_body
                .as_ref()
                .map_or("", CbId::as_str)
                .as_bytes(),
        );
        tag.add(
            self.valid_until
                .map(|d| d.to_string())
                .unwrap_or_default()
                .as_bytes(),
        );
    }
}

impl From<registry_core::StatusAnswer> for StandingView {
    fn from(a: registry_core::StatusAnswer) -> Self {
        Self {
            status: a.status,
            certified: a.certified,
            level: a.level,
            pso30plus: a.pso30plus,
            certificate_number: a.certificate_number,
            certification_body: a.certification_body,
            valid_until: a.valid_until,
        }
    }
}

/// A company found by a search, with its standing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompanyHitView {
    #[serde(flatten)]
    pub company: CompanyView,
    pub standing: StandingView,
}

impl From<registry_core::CompanyHit> for CompanyHitView {
    fn from(h: registry_core::CompanyHit) -> Self {
        Self {
            company: CompanyView::from(h.company),
            standing: StandingView::from(h.standing),
        }
    }
}

/// One company, its standing now, and every certificate that covers it, the one
/// that speaks for it first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompanyDetailView {
    #[serde(flatten)]
    pub company: CompanyView,
    pub standing: StandingView,
    #[schema(max_items = 10000)]
    pub certificates: Vec<CertificateView>,
}

impl CompanyDetailView {
    pub fn new(
        company: Company,
        standing: registry_core::StatusAnswer,
        certificates: Vec<CertificateView>,
    ) -> Self {
        Self {
            company: CompanyView::from(company),
            standing: StandingView::from(standing),
            certificates,
        }
    }
}
