//! The status rule: whether a company is certified, at which level, at an instant
//! or over an interval. One pure function over certificates' periods and standing
//! changes; storage feeds it and HTTP renders it (API.md, "The status answer" and
//! "Lifecycle").
//!
//! The rule, in words:
//! - A period is valid from the start of its `valid_from` day (inclusive) to the
//!   start of its `valid_until` day (exclusive), both in Europe/Amsterdam. A later
//!   period of the same certificate takes over from its own `valid_from`.
//! - Suspension, reinstatement, revocation and supersession take effect at their
//!   `effective_at` instant. Revocation and supersession are terminal.
//! - A company is certified at an instant when a certificate that covers its KvK
//!   number, as main applicant or subsidiary, is `active` then. Over an interval it
//!   is certified only when certified at every instant of it, and the level reported
//!   is the lowest held.
//! - Expiry happens by date: nothing has to run for a period to end.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::certificate::{
    CertificateHistory, CertificateNumber, CertificateStatus, Standing, StandingChange,
};
use crate::certification_body::CbId;
use crate::level::Level;
use crate::period::Period;

/// What the status rule reads of a validity period. The register's stored
/// [`Period`] and the read model's compact periods both provide it, so that
/// one rule decides for both.
pub trait PeriodFacts {
    fn level(&self) -> Level;
    fn pso30plus(&self) -> bool;
    /// The end of the period (exclusive), as a date.
    fn valid_until(&self) -> NaiveDate;
    /// The first instant the period is valid.
    fn starts_at(&self) -> DateTime<Utc>;
    /// The first instant the period is no longer valid.
    fn ends_at(&self) -> DateTime<Utc>;
}

impl PeriodFacts for Period {
    fn level(&self) -> Level {
        Period::level(self)
    }
    fn pso30plus(&self) -> bool {
        Period::pso30plus(self)
    }
    fn valid_until(&self) -> NaiveDate {
        Period::valid_until(self)
    }
    fn starts_at(&self) -> DateTime<Utc> {
        Period::starts_at(self)
    }
    fn ends_at(&self) -> DateTime<Utc> {
        Period::ends_at(self)
    }
}

/// What the status rule reads of a certificate: its periods, in the order they
/// were appended, and its standing changes, in the order they take effect.
pub trait HistoryFacts {
    type Period: PeriodFacts;
    fn periods(&self) -> &[Self::Period];
    fn standing_changes(&self) -> &[StandingChange];
    /// The certificate's number (asked only of the one that speaks).
    fn number(&self) -> CertificateNumber;
    /// The certificate's CB (asked only of the one that speaks).
    fn certification_body(&self) -> CbId;
}

impl HistoryFacts for CertificateHistory {
    type Period = Period;
    fn periods(&self) -> &[Period] {
        &self.periods
    }
    fn standing_changes(&self) -> &[StandingChange] {
        &self.standing_changes
    }
    fn number(&self) -> CertificateNumber {
        self.number.clone()
    }
    fn certification_body(&self) -> CbId {
        self.certification_body.clone()
    }
}

impl<T: HistoryFacts + ?Sized> HistoryFacts for &T {
    type Period = T::Period;
    fn periods(&self) -> &[T::Period] {
        (**self).periods()
    }
    fn standing_changes(&self) -> &[StandingChange] {
        (**self).standing_changes()
    }
    fn number(&self) -> CertificateNumber {
        (**self).number()
    }
    fn certification_body(&self) -> CbId {
        (**self).certification_body()
    }
}

/// A certificate's standing at one instant, and the period in effect then.
#[derive(Debug, PartialEq)]
pub struct CertificateState<'a, P = Period> {
    pub status: CertificateStatus,
    /// The period that governs the instant: the latest one started by then.
    pub period: Option<&'a P>,
}

impl<P> Clone for CertificateState<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for CertificateState<'_, P> {}

/// A certificate's standing at instant `t`.
pub fn certificate_state_at<H: HistoryFacts>(
    history: &H,
    t: DateTime<Utc>,
) -> CertificateState<'_, H::Period> {
    let period = history.periods().iter().rev().find(|p| p.starts_at() <= t);
    let mut suspended = false;
    for change in history
        .standing_changes()
        .iter()
        .filter(|c| c.effective_at <= t)
    {
        match change.standing {
            Standing::Revoked => {
                return CertificateState {
                    status: CertificateStatus::Revoked,
                    period,
                };
            }
            Standing::Superseded => {
                return CertificateState {
                    status: CertificateStatus::Superseded,
                    period,
                };
            }
            Standing::Suspended => suspended = true,
            Standing::Reinstated => suspended = false,
        }
    }
    let status = match period {
        None => CertificateStatus::NotYetValid,
        Some(p) if t >= p.ends_at() => CertificateStatus::Expired,
        Some(_) if suspended => CertificateStatus::Suspended,
        Some(_) => CertificateStatus::Active,
    };
    CertificateState { status, period }
}

/// What a status question asks: an instant, or an interval from `on` to `until`,
/// optionally with a minimum level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusQuery {
    pub on: DateTime<Utc>,
    pub until: Option<IntervalEnd>,
    pub level_min: Option<Level>,
}

/// Where an interval ends. A date for `until` means the end of that day, which is
/// the first instant of the next (exclusive); an explicit instant is included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalEnd {
    Inclusive(DateTime<Utc>),
    Exclusive(DateTime<Utc>),
}

impl IntervalEnd {
    /// Whether instant `t`, after the interval's start, still lies inside it.
    fn contains(self, t: DateTime<Utc>) -> bool {
        match self {
            IntervalEnd::Inclusive(end) => t <= end,
            IntervalEnd::Exclusive(end) => t < end,
        }
    }
}

/// A company's status as the API answers it, as it stood on `on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompanyStatus {
    Active,
    Suspended,
    Revoked,
    Expired,
    NotYetValid,
    NotCertified,
}

impl CompanyStatus {
    pub const ALL: [CompanyStatus; 6] = [
        CompanyStatus::Active,
        CompanyStatus::Suspended,
        CompanyStatus::Revoked,
        CompanyStatus::Expired,
        CompanyStatus::NotYetValid,
        CompanyStatus::NotCertified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CompanyStatus::Active => "active",
            CompanyStatus::Suspended => "suspended",
            CompanyStatus::Revoked => "revoked",
            CompanyStatus::Expired => "expired",
            CompanyStatus::NotYetValid => "not_yet_valid",
            CompanyStatus::NotCertified => "not_certified",
        }
    }
}

/// The answer to a status question (the API adds the KvK number, the question and
/// the time of answering).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusAnswer {
    /// Valid (at `level_min` or higher) at every instant asked about.
    pub certified: bool,
    /// The standing on `on`.
    pub status: CompanyStatus,
    /// The lowest level held over the interval when certified; otherwise the level
    /// on `on` if a certificate was active then.
    pub level: Option<Level>,
    /// PSO 30+ throughout (when certified) or on `on` (otherwise).
    pub pso30plus: bool,
    /// The certificate that decided the standing on `on`.
    pub certificate_number: Option<CertificateNumber>,
    pub certification_body: Option<CbId>,
    /// The end (exclusive) of that certificate's period in effect on `on`.
    pub valid_until: Option<NaiveDate>,
}

/// Which certificate speaks for a company at an instant: an active one (highest
/// level, then PSO 30+, then the longest validity); else the most recently started
/// one; else the one that starts first.
fn standing_at<H: HistoryFacts>(
    certificates: &[H],
    t: DateTime<Utc>,
) -> Option<(&H, CertificateState<'_, H::Period>)> {
    let mut active: Option<(&H, CertificateState<'_, H::Period>)> = None;
    let mut started: Option<(&H, DateTime<Utc>)> = None;
    let mut first: Option<(&H, DateTime<Utc>)> = None;
    let mut any: Option<&H> = None;
    for c in certificates {
        let state = certificate_state_at(c, t);
        any = any.or(Some(c));
        if state.status == CertificateStatus::Active {
            let key = |s: &CertificateState<'_, H::Period>| {
                s.period
                    .map(|p| (p.level(), p.pso30plus(), p.valid_until()))
            };
            // The last of equals wins, as `max_by_key` has it.
            if active
                .as_ref()
                .is_none_or(|(_, best)| key(&state) >= key(best))
            {
                active = Some((c, state));
            }
            continue;
        }
        let Some(start) = c.periods().first().map(PeriodFacts::starts_at) else {
            continue;
        };
        if start <= t {
            if started.as_ref().is_none_or(|(_, s)| start >= *s) {
                started = Some((c, start));
            }
        } else if first.as_ref().is_none_or(|(_, s)| start < *s) {
            first = Some((c, start));
        }
    }
    if active.is_some() {
        return active;
    }
    // Else the most recently started; else, none started, the one that starts
    // first (one without periods sorts first, as `min_by_key` over `Option` has it).
    let without_periods = || certificates.iter().find(|c| c.periods().is_empty());
    started
        .map(|(c, _)| c)
        .or_else(without_periods)
        .or(first.map(|(c, _)| c))
        .or(any)
        .map(|c| (c, certificate_state_at(c, t)))
}

/// The company's standing at `t` in the API's terms, with the period when active.
fn company_status_at<H: HistoryFacts>(
    certificates: &[H],
    t: DateTime<Utc>,
) -> (CompanyStatus, Option<&H::Period>) {
    match standing_at(certificates, t) {
        None => (CompanyStatus::NotCertified, None),
        Some((_, state)) => {
            let status = match state.status {
                CertificateStatus::Active => CompanyStatus::Active,
                CertificateStatus::Suspended => CompanyStatus::Suspended,
                CertificateStatus::Revoked => CompanyStatus::Revoked,
                CertificateStatus::NotYetValid => CompanyStatus::NotYetValid,
                // A superseded certificate speaks only when its successor has not
                // started, which the lifecycle does not allow; report it as lapsed.
                CertificateStatus::Expired | CertificateStatus::Superseded => {
                    CompanyStatus::Expired
                }
            };
            let period = if status == CompanyStatus::Active {
                state.period
            } else {
                None
            };
            (status, period)
        }
    }
}

/// Every instant after `on` and inside the interval at which some certificate's
/// standing may change; between two of them (and after the last) nothing changes.
pub fn change_points<H: HistoryFacts>(
    certificates: &[H],
    on: DateTime<Utc>,
    end: IntervalEnd,
) -> Vec<DateTime<Utc>> {
    let mut points: Vec<DateTime<Utc>> = certificates
        .iter()
        .flat_map(|c| {
            let periods = c
                .periods()
                .iter()
                .flat_map(|p| [p.starts_at(), p.ends_at()]);
            let changes = c.standing_changes().iter().map(|s| s.effective_at);
            periods.chain(changes).collect::<Vec<_>>()
        })
        .filter(|t| *t > on && end.contains(*t))
        .collect();
    points.sort();
    points.dedup();
    points
}

/// The status rule's answer before it is written out: as [`StatusAnswer`], with
/// the certificate that speaks by reference.
#[derive(Debug)]
pub struct Verdict<'a, H> {
    pub certified: bool,
    pub status: CompanyStatus,
    pub level: Option<Level>,
    pub pso30plus: bool,
    /// The certificate that decided the standing on `on`.
    pub speaker: Option<&'a H>,
    /// The end (exclusive) of that certificate's period in effect on `on`.
    pub valid_until: Option<NaiveDate>,
}

/// The status rule: the answer to `query` for a company covered by
/// `certificates` (every certificate that names its KvK number, as main
/// applicant or subsidiary).
pub fn verdict<'a, H: HistoryFacts>(certificates: &'a [H], query: &StatusQuery) -> Verdict<'a, H> {
    let (status, on_period) = company_status_at(certificates, query.on);
    let speaker = standing_at(certificates, query.on);
    let meets = |p: Option<&H::Period>| {
        p.is_some_and(|p| query.level_min.is_none_or(|min| p.level() >= min))
    };

    let mut certified = meets(on_period);
    let mut lowest = on_period;
    if let (true, Some(end)) = (certified, query.until) {
        for t in change_points(certificates, query.on, end) {
            let (_, period) = company_status_at(certificates, t);
            if !meets(period) {
                certified = false;
                break;
            }
            if let (Some(p), Some(low)) = (period, lowest)
                && (p.level(), p.pso30plus()) < (low.level(), low.pso30plus())
            {
                lowest = Some(p);
            }
        }
    }
    let (level, pso30plus) = match (certified, lowest, on_period) {
        (true, Some(low), _) => (Some(low.level()), low.pso30plus()),
        (_, _, Some(p)) => (Some(p.level()), p.pso30plus()),
        _ => (None, false),
    };
    Verdict {
        certified,
        status,
        level,
        pso30plus,
        speaker: speaker.map(|(c, _)| c),
        valid_until: speaker
            .and_then(|(_, s)| s.period)
            .map(PeriodFacts::valid_until),
    }
}

/// The status rule's answer, written out (see [`verdict`]).
pub fn company_status<H: HistoryFacts>(certificates: &[H], query: &StatusQuery) -> StatusAnswer {
    let v = verdict(certificates, query);
    StatusAnswer {
        certified: v.certified,
        status: v.status,
        level: v.level,
        pso30plus: v.pso30plus,
        certificate_number: v.speaker.map(HistoryFacts::number),
        certification_body: v.speaker.map(HistoryFacts::certification_body),
        valid_until: v.valid_until,
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
