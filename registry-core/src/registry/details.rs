//! What an event's `detail` holds, as stored: explicit records, written by the
//! lifecycle and read back by the read model when it follows the log. Stored
//! keys are snake_case (the feed shows them in camelCase); a field is never
//! renamed, only added (older events lack the newer fields, so those are
//! optional when read).
//!
//! An `issued` event carries everything the issuance wrote: the holder's public
//! facts and the subsidiaries' names as well as the period, so that a replica
//! can apply it from the log alone, and a feed reader learns who was certified.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::certificate::{CbReference, CertificateNumber};
use crate::company::{Holder, KvkNumber, Name, Province, SbiCode, Subsidiary};
use crate::period::Period;

/// The holder of a certificate as an issuance records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HolderRecord {
    pub kvk_number: KvkNumber,
    pub name: Name,
    pub trade_names: Vec<Name>,
    pub city: Option<Name>,
    pub province: Option<Province>,
    pub sbi_codes: Vec<SbiCode>,
}

impl From<&Holder> for HolderRecord {
    fn from(h: &Holder) -> Self {
        Self {
            kvk_number: h.kvk_number.clone(),
            name: h.name.clone(),
            trade_names: h.trade_names.clone(),
            city: h.city.clone(),
            province: h.province,
            sbi_codes: h.sbi_codes.clone(),
        }
    }
}

/// A subsidiary as an issuance records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SubsidiaryRecord {
    pub kvk_number: KvkNumber,
    pub name: Name,
}

impl From<&Subsidiary> for SubsidiaryRecord {
    fn from(s: &Subsidiary) -> Self {
        Self {
            kvk_number: s.kvk_number.clone(),
            name: s.name.clone(),
        }
    }
}

/// The detail of an `issued` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct IssuedDetail {
    pub cb_reference: CbReference,
    pub main_applicant: KvkNumber,
    /// The certificate this one superseded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<CertificateNumber>,
    pub period: Period,
    /// The holder's public facts as issued (events before the read model lack it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<HolderRecord>,
    /// The subsidiaries covered (events before the read model lack them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subsidiaries: Option<Vec<SubsidiaryRecord>>,
}

/// The detail of a `renewed` event: the period appended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RenewedDetail {
    pub period: Period,
}

/// The detail of a `suspended`, `reinstated` or `revoked` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StandingDetail {
    pub reason: Option<String>,
}

/// The detail of a `superseded` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SupersededDetail {
    pub superseded_by: CertificateNumber,
}

/// The detail of an `expired` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExpiredDetail {
    pub valid_until: NaiveDate,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What events written before the read model hold still reads.
    #[test]
    fn an_issued_detail_of_before_the_read_model_reads() {
        let stored = r#"{"cb_reference":"REF-1","main_applicant":"12345678","period":{"level":"trede_2","pso30plus":false,"valid_from":"2026-01-15","valid_until":"2028-01-15","audit_date":"2025-12-10","reference_year":2025,"handbook_version":"2.1","score":{"percent":null,"total_fte":null}}}"#;
        let detail: IssuedDetail = serde_json::from_str(stored).expect("reads");
        assert_eq!(detail.main_applicant.as_str(), "12345678");
        assert!(detail.holder.is_none() && detail.subsidiaries.is_none());
        let again = serde_json::to_string(&detail).expect("writes");
        assert_eq!(again, stored, "the same bytes, no new keys");
    }
}
