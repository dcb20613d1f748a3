//! Certificates: their registry-assigned numbers, the CB's own reference, the
//! events that change their standing, and their history as the status rule reads it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::certification_body::CbId;
use crate::company::KvkNumber;
use crate::period::Period;
use crate::validation::InvalidValue;

/// A certificate number, assigned by the registry: the scheme's prefix, the year of
/// issuance and a serial of at least six digits, e.g. `PSO-2026-000042`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct CertificateNumber(String);

impl CertificateNumber {
    /// What `parse` accepts, as a regular expression (for the API's contract).
    pub const PATTERN: &'static str = "^[A-Z0-9]{2,10}-[0-9]{4}-[0-9]{6,18}$";

    /// The number for the `serial`-th certificate of `prefix`, issued in `year`.
    pub fn assign(prefix: &str, year: i32, serial: i64) -> Self {
        Self(format!("{prefix}-{year:04}-{serial:06}"))
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let mut parts = s.splitn(3, '-');
        let (Some(prefix), Some(year), Some(serial)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Self::invalid());
        };
        let prefix_ok = (2..=10).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        let year_ok = year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit());
        let serial_ok =
            (6..=18).contains(&serial.len()) && serial.bytes().all(|b| b.is_ascii_digit());
        if prefix_ok && year_ok && serial_ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Self::invalid())
        }
    }

    fn invalid() -> InvalidValue {
        InvalidValue::new("must be a certificate number like PSO-2026-000042")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CertificateNumber {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CertificateNumber> for String {
    fn from(n: CertificateNumber) -> Self {
        n.0
    }
}

impl FromStr for CertificateNumber {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for CertificateNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The CB's own reference for a certificate; unique per CB, and the key of
/// idempotent issuance (API.md, "Certification bodies write").
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct CbReference(String);

impl CbReference {
    /// What `parse` accepts, as a regular expression (for the API's contract).
    pub const PATTERN: &'static str = "^[!-~]{1,100}$";

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok = !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "must be 1 to 100 printable ASCII characters without spaces",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A reference the register accepted before (kept by the read model as text).
    pub(crate) fn accepted(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl TryFrom<String> for CbReference {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CbReference> for String {
    fn from(r: CbReference) -> Self {
        r.0
    }
}

/// A certificate's own standing at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateStatus {
    /// Issued, but its first period has not started.
    NotYetValid,
    Active,
    Suspended,
    /// Its last period has ended, or it is between two periods.
    Expired,
    /// Revoked, by its CB or the scheme owner; terminal.
    Revoked,
    /// Replaced by another CB's certificate for the same main applicant; terminal.
    Superseded,
}

impl CertificateStatus {
    pub const ALL: [CertificateStatus; 6] = [
        CertificateStatus::NotYetValid,
        CertificateStatus::Active,
        CertificateStatus::Suspended,
        CertificateStatus::Expired,
        CertificateStatus::Revoked,
        CertificateStatus::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CertificateStatus::NotYetValid => "not_yet_valid",
            CertificateStatus::Active => "active",
            CertificateStatus::Suspended => "suspended",
            CertificateStatus::Expired => "expired",
            CertificateStatus::Revoked => "revoked",
            CertificateStatus::Superseded => "superseded",
        }
    }
}

/// An event that changes a certificate's standing from its `effective_at` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Suspended,
    Reinstated,
    Revoked,
    Superseded,
}

impl Standing {
    pub const ALL: [Standing; 4] = [
        Standing::Suspended,
        Standing::Reinstated,
        Standing::Revoked,
        Standing::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Suspended => "suspended",
            Standing::Reinstated => "reinstated",
            Standing::Revoked => "revoked",
            Standing::Superseded => "superseded",
        }
    }
}

/// A standing change and the instant it takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandingChange {
    pub standing: Standing,
    pub effective_at: DateTime<Utc>,
}

/// Everything the status rule needs to know about one certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateHistory {
    pub number: CertificateNumber,
    pub certification_body: CbId,
    pub main_applicant: KvkNumber,
    /// In the order they were appended; each starts after the one before, and
    /// takes over from its `valid_from`.
    pub periods: Vec<Period>,
    /// In the order they were recorded, which is also the order they take effect.
    pub standing_changes: Vec<StandingChange>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_numbers_round_trip_and_reject_garbage() {
        let n = CertificateNumber::assign("PSO", 2026, 42);
        assert_eq!(n.as_str(), "PSO-2026-000042");
        assert_eq!(CertificateNumber::parse("PSO-2026-000042"), Ok(n));
        assert!(CertificateNumber::parse("PSO-2026-1234567").is_ok());
        for bad in [
            "PSO-26-000042",
            "pso-2026-000042",
            "PSO-2026-42",
            "PSO2026000042",
            "PSO-2026-00004a",
        ] {
            assert!(CertificateNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cb_references_are_printable_and_bounded() {
        assert!(CbReference::parse("KIWA-PSO-2026-0042").is_ok());
        assert!(CbReference::parse("").is_err());
        assert!(CbReference::parse("a b").is_err());
        assert!(CbReference::parse(&"x".repeat(101)).is_err());
    }
}
