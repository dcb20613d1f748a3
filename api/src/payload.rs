//! The claims of signed requests (API.md, "Payloads"): one type per act, in the
//! contract's names, each the envelope (`iss`, `aud`, `iat`, `exp`, `jti`, `act`
//! and, but for an issuance, `sub`) and the act's payload. The claims are
//! checked against their type's schema once the signature holds (every fault at
//! once, by path: `certificate.holder.kvkNumber`), then read into the core's
//! commands; the core's own rules (PSO 30+ only at `trede_3`, a validity no
//! longer than the level allows, …) come on top, their faults named the same way.

use chrono::{DateTime, NaiveDate, Utc};
use registry_core::{
    CbReference, CertificateNumber, HandbookVersion, Holder, IssueCertificate, KvkNumber, Level,
    Name, PeriodDraft, Province, RenewCertificate, SbiCode, Score, Subsidiary,
};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::schema::{
    ActSchema, AudienceSchema, CbIdSchema, CbReferenceSchema, CertificateNumberSchema, DateSchema,
    HandbookVersionSchema, InstantSchema, KvkNumberSchema, LevelSchema, NameSchema, NoteSchema,
    ProvinceSchema, ReasonSchema, RequestIdSchema, SbiCodeSchema,
};

/// Declares the claims of one act: the envelope every signed request carries,
/// then the act's own members.
macro_rules! signed_claims {
    ($(#[$doc:meta])* $name:ident { $($members:tt)* }) => {
        $(#[$doc])*
        #[derive(Debug, Deserialize, ToSchema)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            /// The certification body's id, as registered.
            #[schema(value_type = CbIdSchema)]
            pub iss: String,
            /// The register's audience (`REGISTRY_AUDIENCE`).
            #[schema(value_type = AudienceSchema)]
            pub aud: serde_json::Value,
            /// Issued at: seconds since the epoch.
            #[schema(minimum = 0, maximum = 253402300799_i64)]
            pub iat: i64,
            /// Expires at: after now, at most 600 s after `iat` (60 s clock skew allowed).
            #[schema(minimum = 0, maximum = 253402300799_i64)]
            pub exp: i64,
            /// Unique per request: a second request with the same `jti` is a replay.
            #[schema(value_type = RequestIdSchema)]
            pub jti: String,
            /// What the request asks for: must match the path.
            #[schema(value_type = ActSchema)]
            pub act: String,
            $($members)*
        }
    };
}

/// Declares a payload that holds a validity period's members beside its own.
macro_rules! with_period {
    ($(#[$doc:meta])* $name:ident { $($members:tt)* }) => {
        $(#[$doc])*
        #[derive(Debug, Deserialize, ToSchema)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            $($members)*
            #[schema(value_type = LevelSchema)]
            pub level: Level,
            /// PSO 30+: only at `trede_3`; left out, `false`.
            pub pso30plus: Option<bool>,
            /// The first day (from its start, Europe/Amsterdam).
            #[schema(value_type = DateSchema)]
            pub valid_from: NaiveDate,
            /// Exclusive: the period ends at the start of this day. Left out, the
            /// level's validity (24 months) applies; never longer than that.
            #[schema(value_type = Option<DateSchema>)]
            pub valid_until: Option<NaiveDate>,
            #[schema(value_type = DateSchema)]
            pub audit_date: NaiveDate,
            /// The year the score was measured over (*peiljaar*), not after the
            /// year the period starts.
            #[schema(minimum = 1900, maximum = 9999)]
            pub reference_year: i32,
            #[schema(value_type = HandbookVersionSchema)]
            pub handbook_version: HandbookVersion,
            /// Weighted target-group FTE over total FTE, in percent.
            #[schema(minimum = 0, maximum = 100)]
            pub score_percent: Option<f64>,
            /// Total FTE of the organisation in the reference year.
            #[schema(exclusive_minimum = 0, exclusive_maximum = 10000000)]
            pub total_fte: Option<f64>,
        }

        impl $name {
            /// The period as the core drafts it.
            fn draft(&self) -> PeriodDraft {
                PeriodDraft {
                    level: self.level,
                    pso30plus: self.pso30plus.unwrap_or(false),
                    valid_from: self.valid_from,
                    valid_until: self.valid_until,
                    audit_date: self.audit_date,
                    reference_year: self.reference_year,
                    handbook_version: self.handbook_version.clone(),
                    score: Score {
                        percent: self.score_percent,
                        total_fte: self.total_fte,
                    },
                }
            }
        }
    };
}

with_period! {
    /// The `certificate` claim of an issuance.
    CertificatePayload {
        /// The CB's own reference: issuing it again with the same content returns
        /// the existing certificate (`200`); with other content it is `409`.
        #[schema(value_type = CbReferenceSchema)]
        pub cb_reference: CbReference,
        pub holder: HolderPayload,
        /// Legal entities covered besides the holder.
        #[schema(value_type = Option<Vec<SubsidiaryPayload>>, max_items = 50)]
        pub subsidiaries: Option<Vec<SubsidiaryPayload>>,
        /// The certificate in force for the same main applicant that this one
        /// replaces (it becomes `superseded` from this one's start).
        #[schema(value_type = Option<CertificateNumberSchema>)]
        pub replaces: Option<CertificateNumber>,
    }
}

with_period! {
    /// The `period` claim of a renewal: it must start after the last one.
    PeriodPayload {}
}

/// The main applicant of an issuance.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HolderPayload {
    #[schema(value_type = KvkNumberSchema)]
    pub kvk_number: KvkNumber,
    #[schema(value_type = NameSchema)]
    pub name: Name,
    #[schema(value_type = Option<Vec<NameSchema>>, max_items = 50)]
    pub trade_names: Option<Vec<Name>>,
    #[schema(value_type = Option<NameSchema>)]
    pub city: Option<Name>,
    #[schema(value_type = Option<ProvinceSchema>)]
    pub province: Option<Province>,
    #[schema(value_type = Option<Vec<SbiCodeSchema>>, max_items = 50)]
    pub sbi_codes: Option<Vec<SbiCode>>,
}

/// A legal entity covered besides the main applicant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubsidiaryPayload {
    #[schema(value_type = KvkNumberSchema)]
    pub kvk_number: KvkNumber,
    #[schema(value_type = NameSchema)]
    pub name: Name,
}

signed_claims! {
    /// The claims of an issuance (act `issue`; it carries no `sub`).
    IssueClaims {
        pub certificate: CertificatePayload,
    }
}

signed_claims! {
    /// The claims of a renewal (act `renew`).
    RenewClaims {
        /// The certificate number: must match the path.
        #[schema(value_type = CertificateNumberSchema)]
        pub sub: String,
        pub period: PeriodPayload,
    }
}

signed_claims! {
    /// The claims of a suspension or a revocation (acts `suspend`, `revoke`).
    StandingClaims {
        /// The certificate number: must match the path.
        #[schema(value_type = CertificateNumberSchema)]
        pub sub: String,
        #[schema(value_type = ReasonSchema)]
        pub reason: String,
        /// When it takes effect (RFC 3339). Never before the certificate's first
        /// day, nor before its last standing change; left out, now, or the
        /// first of those when it is later.
        #[schema(value_type = Option<InstantSchema>)]
        pub effective_at: Option<DateTime<Utc>>,
    }
}

signed_claims! {
    /// The claims of a reinstatement (act `reinstate`).
    ReinstateClaims {
        /// The certificate number: must match the path.
        #[schema(value_type = CertificateNumberSchema)]
        pub sub: String,
        /// Why, if the CB says.
        #[schema(value_type = Option<NoteSchema>)]
        pub reason: Option<String>,
        /// When it takes effect (RFC 3339). Never before the suspension it ends;
        /// left out, now, or that suspension's start when it is later.
        #[schema(value_type = Option<InstantSchema>)]
        pub effective_at: Option<DateTime<Utc>>,
    }
}

/// The scheme owner's revocation of any certificate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevocationRequest {
    #[schema(value_type = ReasonSchema)]
    pub reason: String,
    /// When it takes effect (RFC 3339). Never before the certificate's first
    /// day, nor before its last standing change; left out, now, or the first of
    /// those when it is later.
    #[schema(value_type = Option<InstantSchema>)]
    pub effective_at: Option<DateTime<Utc>>,
}

crate::contract::body_contract!(
    IssueClaims,
    RenewClaims,
    StandingClaims,
    ReinstateClaims,
    RevocationRequest
);

impl IssueClaims {
    pub fn command(self) -> IssueCertificate {
        let c = self.certificate;
        let period = c.draft();
        IssueCertificate {
            cb_reference: c.cb_reference,
            holder: Holder {
                kvk_number: c.holder.kvk_number,
                name: c.holder.name,
                trade_names: c.holder.trade_names.unwrap_or_default(),
                city: c.holder.city,
                province: c.holder.province,
                sbi_codes: c.holder.sbi_codes.unwrap_or_default(),
            },
            subsidiaries: c
                .subsidiaries
                .unwrap_or_default()
                .into_iter()
                .map(|s| Subsidiary {
                    kvk_number: s.kvk_number,
                    name: s.name,
                })
                .collect(),
            period,
            replaces: c.replaces,
        }
    }
}

impl RenewClaims {
    pub fn command(self, number: CertificateNumber) -> RenewCertificate {
        RenewCertificate {
            number,
            period: self.period.draft(),
        }
    }
}

/// Prefixes the core's field names (`valid_until`) with the claim they came in
/// (`certificate.valid_until`; the problem writes them in camelCase).
pub fn prefix_core_error(
    prefix: &str,
    error: registry_core::CoreError,
) -> registry_core::CoreError {
    match error {
        registry_core::CoreError::Validation(errors) => registry_core::CoreError::Validation(
            errors
                .into_iter()
                .map(|e| registry_core::FieldError::new(format!("{prefix}.{}", e.field), e.message))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::value_as;
    use serde_json::{Value, json};

    fn envelope(act: &str, payload: Value) -> Value {
        let mut claims =
            json!({"iss": "kiwa", "aud": "pso", "iat": 1, "exp": 2, "jti": "j", "act": act});
        if let (Value::Object(c), Value::Object(p)) = (&mut claims, payload) {
            c.extend(p);
        }
        claims
    }

    fn fields(claims: Value) -> Vec<String> {
        value_as::<IssueClaims>(claims)
            .err()
            .map(|p| p.errors.into_iter().map(|f| f.field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn the_api_md_example_issuance_reads() {
        let claims = envelope(
            "issue",
            json!({"certificate": {
            "cbReference": "KIWA-PSO-2026-0042", "handbookVersion": "2.1", "level": "trede_2", "pso30plus": false,
            "holder": {"kvkNumber": "12345678", "name": "Bouwbedrijf De Vries B.V.", "tradeNames": ["De Vries Bouw"],
                       "city": "Utrecht", "province": "Utrecht", "sbiCodes": ["4120"]},
            "subsidiaries": [{"kvkNumber": "87654321", "name": "De Vries Infra B.V."}],
            "validFrom": "2026-01-15", "validUntil": "2028-01-15", "auditDate": "2025-12-10",
            "referenceYear": 2025, "scorePercent": 9.4, "totalFte": 42.5, "replaces": null}}),
        );
        let issue = value_as::<IssueClaims>(claims).expect("valid").command();
        assert_eq!(issue.holder.kvk_number.as_str(), "12345678");
        assert_eq!(issue.subsidiaries.len(), 1);
        assert_eq!(issue.period.level, Level::Trede2);
    }

    #[test]
    fn every_field_at_fault_is_named_in_the_contract_s_names() {
        let claims = envelope(
            "issue",
            json!({"extra": 1, "certificate": {
            "cbReference": "", "level": "trede_4", "validFrom": "15-01-2026", "auditDate": "2025-12-10",
            "referenceYear": "2025", "handbookVersion": "2.1", "valid_until": "2028-01-15",
            "holder": {"kvkNumber": "1234567", "name": "X", "province": "Vlaanderen", "sbiCodes": ["41"]},
            "subsidiaries": [{"kvkNumber": "abc"}]}}),
        );
        let mut found = fields(claims);
        found.sort();
        assert_eq!(
            found,
            [
                "certificate.cbReference",
                "certificate.holder.kvkNumber",
                "certificate.holder.province",
                "certificate.holder.sbiCodes[0]",
                "certificate.level",
                "certificate.referenceYear",
                "certificate.subsidiaries[0].kvkNumber",
                "certificate.subsidiaries[0].name",
                "certificate.validFrom",
                "certificate.valid_until",
                "extra",
            ]
        );
        let missing =
            value_as::<IssueClaims>(envelope("issue", json!({}))).expect_err("no certificate");
        assert_eq!(missing.errors[0].field, "certificate");
        let old = value_as::<IssueClaims>(envelope(
            "issue",
            json!({"certificate": {"cb_reference": "x"}}),
        ))
        .expect_err("old name");
        assert!(
            old.errors
                .iter()
                .any(|f| f.field == "certificate.cb_reference"
                    && f.message.ends_with("did you mean cbReference?")),
            "{:?}",
            old.errors
        );
    }

    #[test]
    fn standing_changes_read_reason_and_instant() {
        let ok = value_as::<StandingClaims>(envelope(
            "suspend",
            json!({"sub": "PSO-2026-000001", "reason": "audit", "effectiveAt": "2026-05-01T10:00:00Z"}),
        ));
        assert!(ok.is_ok_and(|c| c.effective_at.is_some()));
        let bad = value_as::<StandingClaims>(envelope(
            "suspend",
            json!({"sub": "PSO-2026-000001", "reason": 5, "effectiveAt": "yesterday"}),
        ))
        .expect_err("refused");
        let mut fields: Vec<&str> = bad.errors.iter().map(|f| f.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["effectiveAt", "reason"]);
        let blank = value_as::<StandingClaims>(envelope(
            "revoke",
            json!({"sub": "PSO-2026-000001", "reason": " \u{3000}\n"}),
        ))
        .expect_err("blank reason");
        assert_eq!(blank.errors[0].field, "reason");
    }
}
