//! What a stretch of the name order may hold, and when: for each standing a
//! certificate can have (active at each level, active with PSO 30+,
//! suspended, revoked, expired, not yet valid, superseded), the span of
//! instants in which some certificate of the stretch has it. A walk skips a
//! stretch whose spans leave out the instant asked about, so that a search no
//! company matches costs a glance at each stretch, not a look at each company.
//!
//! Spans only ever widen (a change adds to them; nothing narrows them until
//! the next start): they may promise more than a stretch holds, never less.
//! A company's standing comes from the certificates covering it (the one that
//! speaks has the company's status), so the spans of those certificates
//! cover every instant the company has a standing; see [`needed`].

use chrono::{DateTime, Utc};

use crate::certificate::CertificateStatus;
use crate::level::Level;
use crate::registry::{SearchFilter, SearchStatus};
use crate::status::{HistoryFacts, PeriodFacts, certificate_state_at};

/// A certificate's standing, as far as searches tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Active at a level (`Level::rank`, 0 to 4).
    Active(u8),
    ActivePso,
    Suspended,
    Revoked,
    Expired,
    NotYetValid,
    Superseded,
}

const CLASSES: usize = 11;

impl Class {
    fn index(self) -> usize {
        match self {
            Class::Active(level) => usize::from(level.min(4)),
            Class::ActivePso => 5,
            Class::Suspended => 6,
            Class::Revoked => 7,
            Class::Expired => 8,
            Class::NotYetValid => 9,
            Class::Superseded => 10,
        }
    }
}

/// A set of classes, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Classes(u16);

impl Classes {
    const ALL: Classes = Classes((1 << CLASSES) - 1);

    fn of(classes: &[Class]) -> Self {
        Classes(classes.iter().fold(0, |bits, c| bits | (1 << c.index())))
    }

    fn and(self, other: Classes) -> Self {
        Classes(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Every class: nothing to skip by.
    pub fn is_all(self) -> bool {
        self == Classes::ALL
    }
}

fn active_from(min: Option<Level>) -> Vec<Class> {
    let from = min.map_or(0, |l| l.rank() as u8);
    (from..5).map(Class::Active).collect()
}

/// The classes a certificate of a company (`companies`) or a certificate
/// itself must have at the instant asked about to match `filter`: empty when
/// nothing can match.
pub(crate) fn needed(filter: &SearchFilter, companies: bool) -> Classes {
    // Active with PSO 30+ is active too.
    let mut active = active_from(None);
    active.push(Class::ActivePso);
    let active = Classes::of(&active);
    let by_status = match filter.status {
        SearchStatus::Any => Classes::ALL,
        SearchStatus::Active => active,
        SearchStatus::Suspended => Classes::of(&[Class::Suspended]),
        SearchStatus::Revoked => Classes::of(&[Class::Revoked]),
        // A company whose certificate was superseded (and not followed) lapsed.
        SearchStatus::Expired if companies => Classes::of(&[Class::Expired, Class::Superseded]),
        SearchStatus::Expired => Classes::of(&[Class::Expired]),
        SearchStatus::NotYetValid => Classes::of(&[Class::NotYetValid]),
        SearchStatus::Superseded if companies => Classes(0),
        SearchStatus::Superseded => Classes::of(&[Class::Superseded]),
    };
    let by_level = match (filter.level_min, filter.pso30plus) {
        (_, Some(true)) => Classes::of(&[Class::ActivePso]),
        (Some(min), _) => Classes::of(&active_from(Some(min))),
        (None, _) => Classes::ALL,
    };
    by_status.and(by_level)
}

/// Instants as microseconds since the epoch.
fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// `[from, until)`; empty when `from >= until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    from: i64,
    until: i64,
}

impl Span {
    const EMPTY: Span = Span {
        from: i64::MAX,
        until: i64::MIN,
    };

    fn widen(&mut self, from: i64, until: i64) {
        self.from = self.from.min(from);
        self.until = self.until.max(until);
    }

    fn holds(self, t: i64) -> bool {
        self.from <= t && t < self.until
    }
}

/// When some certificate of a stretch has each class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Summary([Span; CLASSES]);

impl Default for Summary {
    fn default() -> Self {
        Summary([Span::EMPTY; CLASSES])
    }
}

impl Summary {
    /// When `certificate` has each class: its standing between the instants
    /// at which it may change, as the status rule decides it.
    pub fn of<H: HistoryFacts>(certificate: &H) -> Self {
        let mut points: Vec<i64> = certificate
            .periods()
            .iter()
            .flat_map(|p| [micros(p.starts_at()), micros(p.ends_at())])
            .chain(
                certificate
                    .standing_changes()
                    .iter()
                    .map(|c| micros(c.effective_at)),
            )
            .collect();
        points.sort_unstable();
        points.dedup();
        let mut summary = Summary::default();
        let mut from = i64::MIN;
        for until in points.iter().copied().chain(std::iter::once(i64::MAX)) {
            // Nothing changes inside [from, until): its first instant speaks.
            let at = if from == i64::MIN {
                until.saturating_sub(1)
            } else {
                from
            };
            let Some(t) = DateTime::from_timestamp_micros(at) else {
                from = until;
                continue;
            };
            let state = certificate_state_at(certificate, t);
            let class = match state.status {
                CertificateStatus::Active => {
                    if state.period.is_some_and(PeriodFacts::pso30plus) {
                        summary.0[Class::ActivePso.index()].widen(from, until);
                    }
                    Class::Active(state.period.map_or(0, |p| p.level().rank() as u8))
                }
                CertificateStatus::Suspended => Class::Suspended,
                CertificateStatus::Revoked => Class::Revoked,
                CertificateStatus::Expired => Class::Expired,
                CertificateStatus::NotYetValid => Class::NotYetValid,
                CertificateStatus::Superseded => Class::Superseded,
            };
            summary.0[class.index()].widen(from, until);
            from = until;
        }
        summary
    }

    pub fn widen(&mut self, other: &Summary) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0.iter()) {
            mine.widen(theirs.from, theirs.until);
        }
    }

    /// Whether some certificate of the stretch may have one of `classes` at `t`.
    pub fn may(&self, classes: Classes, t: DateTime<Utc>) -> bool {
        let t = micros(t);
        (0..CLASSES).any(|i| classes.0 & (1 << i) != 0 && self.0[i].holds(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::{CertificateHistory, Standing, StandingChange};
    use crate::test_support::{at, date, period};

    fn history() -> CertificateHistory {
        let mut h = CertificateHistory {
            number: crate::certificate::CertificateNumber::assign("PSO", 2026, 1),
            certification_body: crate::certification_body::CbId::parse("kiwa").expect("cb"),
            main_applicant: crate::company::KvkNumber::parse("12345678").expect("kvk"),
            periods: vec![period(
                Level::Trede2,
                date("2026-01-01"),
                date("2028-01-01"),
            )],
            standing_changes: vec![],
        };
        h.standing_changes.push(StandingChange {
            standing: Standing::Suspended,
            effective_at: at("2026-06-01"),
        });
        h
    }

    fn filter(status: SearchStatus, level_min: Option<Level>) -> SearchFilter {
        SearchFilter {
            q: None,
            kvk: None,
            city: None,
            province: None,
            sbi: None,
            level_min,
            pso30plus: None,
            status,
            certification_body: None,
            at: at("2026-01-01"),
        }
    }

    #[test]
    fn spans_follow_the_status_rule() {
        let s = Summary::of(&history());
        let active = needed(&filter(SearchStatus::Active, None), false);
        let suspended = needed(&filter(SearchStatus::Suspended, None), false);
        let expired = needed(&filter(SearchStatus::Expired, None), false);
        let not_yet = needed(&filter(SearchStatus::NotYetValid, None), false);
        assert!(!s.may(active, at("2025-12-01")));
        assert!(s.may(active, at("2026-01-01")), "from its first instant");
        assert!(!s.may(not_yet, at("2026-01-01")));
        assert!(s.may(not_yet, at("2025-12-01")));
        assert!(s.may(active, at("2026-03-01")));
        assert!(!s.may(active, at("2026-07-01")));
        assert!(s.may(suspended, at("2026-07-01")));
        assert!(s.may(expired, at("2028-02-01")));
        let trede_3 = needed(&filter(SearchStatus::Active, Some(Level::Trede3)), false);
        assert!(!s.may(trede_3, at("2026-03-01")));
        let trede_2 = needed(&filter(SearchStatus::Any, Some(Level::Trede2)), false);
        assert!(s.may(trede_2, at("2026-03-01")));
    }

    #[test]
    fn contradictions_need_nothing() {
        assert!(needed(&filter(SearchStatus::Suspended, Some(Level::Trede1)), true).is_empty());
        assert!(needed(&filter(SearchStatus::Superseded, None), true).is_empty());
        assert!(!needed(&filter(SearchStatus::Superseded, None), false).is_empty());
        assert!(needed(&filter(SearchStatus::Any, None), true).is_all());
        let mut pso = filter(SearchStatus::Active, Some(Level::Trede3));
        pso.pso30plus = Some(true);
        assert!(
            !needed(&pso, true).is_empty(),
            "active with PSO 30+ is active"
        );
    }
}
