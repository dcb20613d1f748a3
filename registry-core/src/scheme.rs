//! The scheme a certificate belongs to and the rules that come with it, as
//! configuration rather than literals in the lifecycle code.
//!
//! A sibling scheme (the CO2-Prestatieladder, three years' validity) would be a
//! new `Scheme` variant and a new `SchemeRules` value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::level::Level;
use crate::validation::InvalidValue;

/// A certification scheme the register keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// Prestatieladder Socialer Ondernemen.
    Pso,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Pso => "pso",
        }
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s {
            "pso" => Ok(Scheme::Pso),
            _ => Err(InvalidValue::new("must be pso")),
        }
    }
}

/// The rules of one scheme that the lifecycle applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeRules {
    pub scheme: Scheme,
    /// What certificate numbers start with: `PSO` gives `PSO-2026-000042`.
    pub number_prefix: String,
    /// How long a period at each level may last, in calendar months from its
    /// `valid_from`; also the length applied when a CB leaves `valid_until` out.
    pub validity_months: BTreeMap<Level, u32>,
}

impl SchemeRules {
    /// The PSO's rules: certificates are valid two years from their start date and
    /// not renewed automatically; aspirant status lasts at most two years
    /// (DOMAIN.md, "Certificates", from the scheme's public pages).
    pub fn pso() -> Self {
        Self {
            scheme: Scheme::Pso,
            number_prefix: "PSO".to_owned(),
            validity_months: Level::ALL.into_iter().map(|l| (l, 24)).collect(),
        }
    }

    /// The validity allowed for `level`, in months.
    pub fn validity_of(&self, level: Level) -> u32 {
        self.validity_months.get(&level).copied().unwrap_or(0)
    }
}

impl Default for SchemeRules {
    fn default() -> Self {
        Self::pso()
    }
}
