//! A validity period: one audited level held from a start date to an end date.

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::level::Level;
use crate::scheme::SchemeRules;
use crate::time::start_of_day;
use crate::validation::{FieldError, InvalidValue};

/// The handbook version a CB audited against, e.g. `2.1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct HandbookVersion(String);

impl HandbookVersion {
    /// What `parse` accepts, as a regular expression (for the API's contract).
    pub const PATTERN: &'static str = "^[A-Za-z0-9.-]{1,16}$";

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok = !s.is_empty()
            && s.len() <= 16
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "must be a version of at most 16 characters (letters, digits, '.', '-'), e.g. 2.1",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for HandbookVersion {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for HandbookVersion {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<HandbookVersion> for String {
    fn from(v: HandbookVersion) -> Self {
        v.0
    }
}

/// The score behind a level, as the CB measured it; recorded, never recomputed
/// (DOMAIN.md, "The score").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Weighted target-group FTE over total FTE, in percent (0–100).
    pub percent: Option<f64>,
    /// Total FTE of the organisation in the reference year (> 0).
    pub total_fte: Option<f64>,
}

/// What a CB states about one period, before the scheme's rules are applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodDraft {
    pub level: Level,
    pub pso30plus: bool,
    pub valid_from: NaiveDate,
    /// `None`: the scheme's validity for the level applies.
    pub valid_until: Option<NaiveDate>,
    pub audit_date: NaiveDate,
    pub reference_year: i32,
    pub handbook_version: HandbookVersion,
    pub score: Score,
}

/// A validity period that keeps the scheme's rules: `pso30plus` only at
/// `trede_3`, `valid_until` after `valid_from` and within the level's validity.
/// `valid_from` is inclusive and `valid_until` exclusive, both at the start of that
/// day in Europe/Amsterdam (API.md, "The status answer").
/// Deserialising reads a period back as it was stored (the rules were applied
/// when it was written), like [`Period::from_storage`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    level: Level,
    pso30plus: bool,
    valid_from: NaiveDate,
    valid_until: NaiveDate,
    audit_date: NaiveDate,
    reference_year: i32,
    handbook_version: HandbookVersion,
    score: Score,
}

impl Period {
    /// Applies `rules` to `draft`; every rule broken is reported with its field.
    pub fn new(draft: PeriodDraft, rules: &SchemeRules) -> Result<Self, Vec<FieldError>> {
        let mut faults = Vec::new();
        if draft.pso30plus && !draft.level.allows_pso30plus() {
            faults.push(FieldError::new(
                "pso30plus",
                "can only be true at level trede_3",
            ));
        }
        let months = rules.validity_of(draft.level);
        let longest = draft
            .valid_from
            .checked_add_months(Months::new(months))
            .filter(|d| *d <= crate::time::LAST_DAY);
        let valid_until = match (draft.valid_until, longest) {
            (Some(until), _) if until <= draft.valid_from => {
                faults.push(FieldError::new(
                    "valid_until",
                    "must be after the first day of the period",
                ));
                until
            }
            (Some(until), _) if until > crate::time::LAST_DAY => {
                faults.push(FieldError::new(
                    "valid_until",
                    format!("must be no later than {}", crate::time::LAST_DAY),
                ));
                until
            }
            (Some(until), Some(longest)) if until > longest => {
                faults.push(FieldError::new(
                    "valid_until",
                    format!(
                        "must be at most {months} months after the first day of the period for level {} (at most {longest})",
                        draft.level
                    ),
                ));
                until
            }
            (Some(until), _) => until,
            (None, Some(longest)) => longest,
            (None, None) => {
                faults.push(FieldError::new(
                    "valid_from",
                    format!(
                        "is too late for the default validity ({months} months): the period would end after {}, the last day the register knows; give valid_until",
                        crate::time::LAST_DAY
                    ),
                ));
                draft.valid_from
            }
        };
        if !(1900..=9999).contains(&draft.reference_year) {
            faults.push(FieldError::new(
                "reference_year",
                "must be a year between 1900 and 9999",
            ));
        } else if chrono::Datelike::year(&draft.valid_from) < draft.reference_year {
            faults.push(FieldError::new(
                "reference_year",
                "must not be after the year the period starts",
            ));
        }
        if let Some(p) = draft.score.percent
            && !(0.0..=100.0).contains(&p)
        {
            faults.push(FieldError::new(
                "score_percent",
                "must be between 0 and 100",
            ));
        }
        if let Some(f) = draft.score.total_fte
            && !(f.is_finite() && f > 0.0 && f < 10_000_000.0)
        {
            faults.push(FieldError::new("total_fte", "must be a positive number"));
        }
        if !faults.is_empty() {
            return Err(faults);
        }
        Ok(Self {
            level: draft.level,
            pso30plus: draft.pso30plus,
            valid_from: draft.valid_from,
            valid_until,
            audit_date: draft.audit_date,
            reference_year: draft.reference_year,
            handbook_version: draft.handbook_version,
            score: draft.score,
        })
    }

    /// A period as it was stored; the rules were applied when it was written.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_storage(
        level: Level,
        pso30plus: bool,
        valid_from: NaiveDate,
        valid_until: NaiveDate,
        audit_date: NaiveDate,
        reference_year: i32,
        handbook_version: HandbookVersion,
        score: Score,
    ) -> Self {
        Self {
            level,
            pso30plus,
            valid_from,
            valid_until,
            audit_date,
            reference_year,
            handbook_version,
            score,
        }
    }

    pub fn level(&self) -> Level {
        self.level
    }
    pub fn pso30plus(&self) -> bool {
        self.pso30plus
    }
    pub fn valid_from(&self) -> NaiveDate {
        self.valid_from
    }
    pub fn valid_until(&self) -> NaiveDate {
        self.valid_until
    }
    pub fn audit_date(&self) -> NaiveDate {
        self.audit_date
    }
    pub fn reference_year(&self) -> i32 {
        self.reference_year
    }
    pub fn handbook_version(&self) -> &HandbookVersion {
        &self.handbook_version
    }
    pub fn score(&self) -> Score {
        self.score
    }

    /// The first instant the period is valid.
    pub fn starts_at(&self) -> DateTime<Utc> {
        start_of_day(self.valid_from)
    }

    /// The first instant the period is no longer valid.
    pub fn ends_at(&self) -> DateTime<Utc> {
        start_of_day(self.valid_until)
    }

    /// Whether the period is valid at instant `t`.
    pub fn covers(&self, t: DateTime<Utc>) -> bool {
        self.starts_at() <= t && t < self.ends_at()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
    }

    pub(crate) fn draft(level: Level, from: &str, until: Option<&str>) -> PeriodDraft {
        PeriodDraft {
            level,
            pso30plus: false,
            valid_from: date(from),
            valid_until: until.map(date),
            audit_date: date(from),
            reference_year: 2025,
            handbook_version: HandbookVersion::parse("2.1").expect("version"),
            score: Score {
                percent: Some(9.4),
                total_fte: Some(42.5),
            },
        }
    }

    fn fields(r: Result<Period, Vec<FieldError>>) -> Vec<String> {
        r.err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn period_rules_name_the_field_at_fault() {
        let rules = SchemeRules::pso();
        let cases: Vec<(&str, PeriodDraft, Vec<&str>)> = vec![
            (
                "valid",
                draft(Level::Trede2, "2026-01-15", Some("2028-01-15")),
                vec![],
            ),
            (
                "default validity",
                draft(Level::Trede2, "2026-01-15", None),
                vec![],
            ),
            (
                "pso30plus below trede_3",
                PeriodDraft {
                    pso30plus: true,
                    ..draft(Level::Trede2, "2026-01-15", None)
                },
                vec!["pso30plus"],
            ),
            (
                "pso30plus at trede_3",
                PeriodDraft {
                    pso30plus: true,
                    ..draft(Level::Trede3, "2026-01-15", None)
                },
                vec![],
            ),
            (
                "until equals from",
                draft(Level::Trede1, "2026-01-15", Some("2026-01-15")),
                vec!["valid_until"],
            ),
            (
                "until before from",
                draft(Level::Trede1, "2026-01-15", Some("2025-01-15")),
                vec!["valid_until"],
            ),
            (
                "longer than allowed",
                draft(Level::Aspirant, "2026-01-15", Some("2028-01-16")),
                vec!["valid_until"],
            ),
            (
                "score out of range",
                PeriodDraft {
                    score: Score {
                        percent: Some(101.0),
                        total_fte: Some(-1.0),
                    },
                    ..draft(Level::Trede1, "2026-01-15", None)
                },
                vec!["score_percent", "total_fte"],
            ),
            (
                "reference year after start",
                PeriodDraft {
                    reference_year: 2027,
                    ..draft(Level::Trede1, "2026-01-15", None)
                },
                vec!["reference_year"],
            ),
        ];
        for (name, d, expected) in cases {
            assert_eq!(fields(Period::new(d, &rules)), expected, "{name}");
        }
    }

    #[test]
    fn left_out_valid_until_takes_the_levels_validity() {
        let p = Period::new(
            draft(Level::Trede2, "2026-01-15", None),
            &SchemeRules::pso(),
        )
        .expect("valid");
        assert_eq!(p.valid_until(), date("2028-01-15"));
    }

    #[test]
    fn validity_comes_from_configuration() {
        let mut rules = SchemeRules::pso();
        rules.validity_months.insert(Level::Trede2, 36);
        let p = Period::new(
            draft(Level::Trede2, "2026-01-15", Some("2029-01-15")),
            &rules,
        );
        assert!(p.is_ok());
    }
}
