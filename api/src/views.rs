//! What the API shows: JSON views of the core's types. Rows, domain types and
//! views are three things; conversions happen here, explicitly.

use registry_core::Company;
use serde::{Deserialize, Serialize};

/// A company as the register knows it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CompanyView {
    /// The KvK number: exactly 8 digits.
    #[schema(example = "12345678", pattern = "^[0-9]{8}$")]
    pub kvk_number: String,
    #[schema(example = "Bouwbedrijf De Vries B.V.")]
    pub name: String,
    #[schema(example = json!(["De Vries Bouw"]))]
    pub trade_names: Vec<String>,
    #[schema(example = "Utrecht")]
    pub city: Option<String>,
    /// One of the 12 provinces, by its official name.
    #[schema(example = "Utrecht")]
    pub province: Option<String>,
    /// SBI sector codes (4 or 5 digits).
    #[schema(example = json!(["4120"]))]
    pub sbi_codes: Vec<String>,
}

impl From<Company> for CompanyView {
    fn from(c: Company) -> Self {
        Self {
            kvk_number: c.kvk_number.into(),
            name: c.name.into(),
            trade_names: c.trade_names.into_iter().map(String::from).collect(),
            city: c.city.map(String::from),
            province: c.province.map(|p| p.name().to_owned()),
            sbi_codes: c.sbi_codes.into_iter().map(String::from).collect(),
        }
    }
}

/// An instant as the API writes it: RFC 3339 in UTC.
pub fn instant(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A validity period.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeriodView {
    /// `aspirant`, `basistrede`, `trede_1`, `trede_2` or `trede_3`.
    #[schema(example = "trede_2")]
    pub level: String,
    pub pso30plus: bool,
    pub valid_from: chrono::NaiveDate,
    /// Exclusive: the period ends at the start of this day (Europe/Amsterdam).
    pub valid_until: chrono::NaiveDate,
    pub audit_date: chrono::NaiveDate,
    pub reference_year: i32,
    pub handbook_version: String,
    pub score_percent: Option<f64>,
    pub total_fte: Option<f64>,
}

impl From<&registry_core::Period> for PeriodView {
    fn from(p: &registry_core::Period) -> Self {
        Self {
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
}

/// A legal entity a certificate covers.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CoveredView {
    pub kvk_number: String,
    pub name: String,
    pub main_applicant: bool,
}

/// A suspension, reinstatement, revocation or supersession.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StandingChangeView {
    pub standing: String,
    pub effective_at: String,
}

/// A certificate, with its current status and every period.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CertificateView {
    #[schema(example = "PSO-2026-000042")]
    pub number: String,
    pub scheme: String,
    /// The certificate's own status now: `active`, `suspended`, `revoked`,
    /// `expired`, `not_yet_valid` or `superseded`.
    #[schema(example = "active")]
    pub status: String,
    pub certification_body: String,
    pub cb_reference: String,
    /// Level, PSO 30+ and dates of the period in effect now (or the last one).
    pub level: String,
    pub pso30plus: bool,
    pub valid_from: chrono::NaiveDate,
    pub valid_until: chrono::NaiveDate,
    pub holder: CompanyView,
    pub covered: Vec<CoveredView>,
    pub replaces: Option<String>,
    pub issued_at: String,
    pub periods: Vec<PeriodView>,
    pub standing_changes: Vec<StandingChangeView>,
}

impl CertificateView {
    pub fn new(c: registry_core::Certificate, now: chrono::DateTime<chrono::Utc>) -> Self {
        let current = c
            .period_at(now)
            .or(c.history.periods.last())
            .map(PeriodView::from);
        let (level, pso30plus, valid_from, valid_until) = match &current {
            Some(p) => (p.level.clone(), p.pso30plus, p.valid_from, p.valid_until),
            None => (
                String::new(),
                false,
                chrono::NaiveDate::MIN,
                chrono::NaiveDate::MIN,
            ),
        };
        Self {
            number: c.number().as_str().to_owned(),
            scheme: c.scheme.as_str().to_owned(),
            status: c.status_at(now).as_str().to_owned(),
            certification_body: c.history.certification_body.as_str().to_owned(),
            cb_reference: c.cb_reference.as_str().to_owned(),
            level,
            pso30plus,
            valid_from,
            valid_until,
            covered: c
                .covered
                .iter()
                .map(|cv| CoveredView {
                    kvk_number: cv.kvk_number.as_str().to_owned(),
                    name: cv.name.as_str().to_owned(),
                    main_applicant: cv.main_applicant,
                })
                .collect(),
            replaces: c.replaces.as_ref().map(|n| n.as_str().to_owned()),
            issued_at: instant(c.issued_at),
            periods: c.history.periods.iter().map(PeriodView::from).collect(),
            standing_changes: c
                .history
                .standing_changes
                .iter()
                .map(|s| StandingChangeView {
                    standing: serde_json::to_value(s.standing)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    effective_at: instant(s.effective_at),
                })
                .collect(),
            holder: CompanyView::from(c.holder),
        }
    }
}

/// One event of the log, with the signed request behind it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventView {
    pub seq: i64,
    pub kind: String,
    pub certificate_number: Option<String>,
    pub certification_body: Option<String>,
    pub effective_at: String,
    pub recorded_at: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// The CB's compact JWS, verbatim: verify it with the CB's published keys.
    pub evidence: Option<String>,
}

impl From<registry_core::Event> for EventView {
    fn from(e: registry_core::Event) -> Self {
        Self {
            seq: e.seq,
            kind: e.kind.as_str().to_owned(),
            certificate_number: e.certificate_number.map(String::from),
            certification_body: e.certification_body.map(String::from),
            effective_at: instant(e.effective_at),
            recorded_at: instant(e.recorded_at),
            detail: e.detail,
            evidence: e.evidence,
        }
    }
}

/// A key of a certification body, current or retired.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyStatusView {
    pub kid: String,
    /// `current` (verifies new requests) or `retired` (only old evidence).
    pub status: String,
    pub first_seen: String,
    pub retired_at: Option<String>,
}

/// A certification body: accreditation, and its keys as a JWK set (current and
/// retired), so that anyone can verify the evidence it signed.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CertificationBodyView {
    pub id: String,
    pub name: String,
    pub accreditation: String,
    pub jwks_uri: Option<String>,
    /// Every key the CB ever had (current and retired), as a JWK set.
    #[schema(value_type = Object, example = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "kiwa-2026"}]}))]
    pub jwks: serde_json::Value,
    pub keys: Vec<KeyStatusView>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<registry_core::CertificationBody> for CertificationBodyView {
    fn from(b: registry_core::CertificationBody) -> Self {
        let jwks: Vec<serde_json::Value> = b
            .keys
            .iter()
            .filter_map(|k| serde_json::from_str(&k.jwk).ok())
            .collect();
        Self {
            id: b.id.as_str().to_owned(),
            name: b.name,
            accreditation: b.accreditation.as_str().to_owned(),
            jwks_uri: b.jwks_uri,
            jwks: serde_json::json!({ "keys": jwks }),
            keys: b
                .keys
                .iter()
                .map(|k| KeyStatusView {
                    kid: k.kid.clone(),
                    status: if k.is_current() { "current" } else { "retired" }.to_owned(),
                    first_seen: instant(k.first_seen),
                    retired_at: k.retired_at.map(instant),
                })
                .collect(),
            created_at: instant(b.created_at),
            updated_at: instant(b.updated_at),
        }
    }
}

/// A company's standing on the day asked about (now, or `valid_on`).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StandingView {
    /// `active`, `suspended`, `revoked`, `expired`, `not_yet_valid` or `not_certified`.
    pub status: String,
    pub certified: bool,
    pub level: Option<String>,
    pub pso30plus: bool,
    pub certificate_number: Option<String>,
    pub certification_body: Option<String>,
    /// The end (exclusive) of the period in effect.
    pub valid_until: Option<chrono::NaiveDate>,
}

impl From<registry_core::StatusAnswer> for StandingView {
    fn from(a: registry_core::StatusAnswer) -> Self {
        Self {
            status: a.status.as_str().to_owned(),
            certified: a.certified,
            level: a.level.map(|l| l.as_str().to_owned()),
            pso30plus: a.pso30plus,
            certificate_number: a.certificate_number.map(String::from),
            certification_body: a.certification_body.map(String::from),
            valid_until: a.valid_until,
        }
    }
}

/// A company found by a search, with its standing.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CompanyDetailView {
    #[serde(flatten)]
    pub company: CompanyView,
    pub standing: StandingView,
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
