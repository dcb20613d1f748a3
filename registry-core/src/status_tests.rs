//! The status rule as a specification: one row per boundary of API.md's "The
//! status answer" and "Lifecycle", then properties that must hold for all inputs.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::*;
use crate::certificate::StandingChange;
use crate::company::KvkNumber;
use crate::period::Period;
use crate::time::end_of_day;

use crate::test_support::{at, date};

fn period(level: Level, from: &str, until: &str) -> Period {
    crate::test_support::period(level, date(from), date(until))
}

/// A certificate built up in the test's own words.
struct Cert(CertificateHistory);

fn cert(serial: i64, cb: &str) -> Cert {
    Cert(CertificateHistory {
        number: CertificateNumber::assign("PSO", 2026, serial),
        certification_body: CbId::parse(cb).expect("cb id"),
        main_applicant: KvkNumber::parse("12345678").expect("kvk"),
        periods: vec![],
        standing_changes: vec![],
    })
}

impl Cert {
    fn period(mut self, level: Level, from: &str, until: &str) -> Self {
        self.0.periods.push(period(level, from, until));
        self
    }
    fn change(mut self, standing: Standing, when: &str) -> Self {
        self.0.standing_changes.push(StandingChange {
            standing,
            effective_at: at(when),
        });
        self
    }
    fn suspend(self, when: &str) -> Self {
        self.change(Standing::Suspended, when)
    }
    fn reinstate(self, when: &str) -> Self {
        self.change(Standing::Reinstated, when)
    }
    fn revoke(self, when: &str) -> Self {
        self.change(Standing::Revoked, when)
    }
    fn supersede(self, when: &str) -> Self {
        self.change(Standing::Superseded, when)
    }
}

/// One row of the table: certificates, the question, and the expected answer.
struct Case {
    name: &'static str,
    certificates: Vec<Cert>,
    on: &'static str,
    /// A bare date means the end of that day; an RFC 3339 instant is included.
    until: Option<&'static str>,
    level_min: Option<Level>,
    certified: bool,
    status: CompanyStatus,
    level: Option<Level>,
    /// The serial of the certificate that speaks on `on`.
    speaker: Option<i64>,
}

use CompanyStatus::*;
use Level::*;

fn trede2() -> Cert {
    cert(1, "kiwa").period(Trede2, "2026-01-15", "2028-01-15")
}

fn renewed() -> Cert {
    cert(2, "kiwa")
        .period(Trede1, "2024-01-01", "2026-01-01")
        .period(Trede2, "2026-01-01", "2028-01-01")
}

fn with_gap() -> Cert {
    cert(3, "kiwa")
        .period(Trede1, "2024-01-01", "2025-01-01")
        .period(Trede1, "2025-03-01", "2027-03-01")
}

fn replaced_pair() -> Vec<Cert> {
    vec![
        cert(4, "kiwa")
            .period(Trede1, "2025-01-01", "2027-01-01")
            .supersede("2026-01-01"),
        cert(5, "normec").period(Trede3, "2026-01-01", "2028-01-01"),
    ]
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    let c = |name, certificates, on, until, level_min, certified, status, level, speaker| Case {
        name, certificates, on, until, level_min, certified, status, level, speaker,
    };
    vec![
        // name                                   certificates          on                      until                  level_min     certified status        level          speaker
        c("first day is valid",                   vec![trede2()],       "2026-01-15",           None,                  None,         true,  Active,       Some(Trede2),  Some(1)),
        c("day before first day",                 vec![trede2()],       "2026-01-14",           None,                  None,         false, NotYetValid,  None,          Some(1)),
        c("last instant before the first day",    vec![trede2()],       "2026-01-14T22:59:59Z", None,                  None,         false, NotYetValid,  None,          Some(1)),
        c("first instant (Amsterdam midnight)",   vec![trede2()],       "2026-01-14T23:00:00Z", None,                  None,         true,  Active,       Some(Trede2),  Some(1)),
        c("last day is valid",                    vec![trede2()],       "2028-01-14",           None,                  None,         true,  Active,       Some(Trede2),  Some(1)),
        c("last instant of the last day",         vec![trede2()],       "2028-01-14T22:59:59Z", None,                  None,         true,  Active,       Some(Trede2),  Some(1)),
        c("end day is excluded",                  vec![trede2()],       "2028-01-15",           None,                  None,         false, Expired,      None,          Some(1)),
        c("interval up to the last day",          vec![trede2()],       "2027-06-01",           Some("2028-01-14"),    None,         true,  Active,       Some(Trede2),  Some(1)),
        c("interval including the end day",       vec![trede2()],       "2027-06-01",           Some("2028-01-15"),    None,         false, Active,       Some(Trede2),  Some(1)),
        c("interval starting before first day",   vec![trede2()],       "2026-01-01",           Some("2026-12-31"),    None,         false, NotYetValid,  None,          Some(1)),
        c("instant until is included",            vec![trede2()],       "2027-06-01",           Some("2028-01-14T23:00:00Z"), None,  false, Active,       Some(Trede2),  Some(1)),
        c("instant until just before the end",    vec![trede2()],       "2027-06-01",           Some("2028-01-14T22:59:59Z"), None,  true,  Active,       Some(Trede2),  Some(1)),
        c("level_min met",                        vec![trede2()],       "2026-06-01",           None,                  Some(Trede2), true,  Active,       Some(Trede2),  Some(1)),
        c("level_min above the level",            vec![trede2()],       "2026-06-01",           None,                  Some(Trede3), false, Active,       Some(Trede2),  Some(1)),
        c("suspended before on",                  vec![trede2().suspend("2026-06-01T10:00:00Z")],
                                                                        "2026-06-02",           None,                  None,         false, Suspended,    None,          Some(1)),
        c("suspension takes effect at its instant", vec![trede2().suspend("2026-06-01T10:00:00Z")],
                                                                        "2026-06-01T09:59:59Z", None,                  None,         true,  Active,       Some(Trede2),  Some(1)),
        c("suspension inside an interval",        vec![trede2().suspend("2026-06-01T10:00:00Z").reinstate("2026-07-01T10:00:00Z")],
                                                                        "2026-02-01",           Some("2026-12-31"),    None,         false, Active,       Some(Trede2),  Some(1)),
        c("reinstated after a suspension",        vec![trede2().suspend("2026-06-01T10:00:00Z").reinstate("2026-07-01T10:00:00Z")],
                                                                        "2026-07-02",           Some("2026-12-31"),    None,         true,  Active,       Some(Trede2),  Some(1)),
        c("revoked before on",                    vec![trede2().revoke("2026-09-01T00:00:00Z")],
                                                                        "2026-10-01",           None,                  None,         false, Revoked,      None,          Some(1)),
        c("revoked after on",                     vec![trede2().revoke("2026-09-01T00:00:00Z")],
                                                                        "2026-08-01",           None,                  None,         true,  Active,       Some(Trede2),  Some(1)),
        c("revoked inside the interval",          vec![trede2().revoke("2026-09-01T00:00:00Z")],
                                                                        "2026-08-01",           Some("2026-12-31"),    None,         false, Active,       Some(Trede2),  Some(1)),
        c("revocation ends a suspension too",     vec![trede2().suspend("2026-06-01").revoke("2026-07-01").reinstate("2026-08-01")],
                                                                        "2026-09-01",           None,                  None,         false, Revoked,      None,          Some(1)),
        c("renewal: level of the first period",   vec![renewed()],      "2025-06-01",           None,                  None,         true,  Active,       Some(Trede1),  Some(2)),
        c("renewal: level of the second period",  vec![renewed()],      "2026-06-01",           None,                  None,         true,  Active,       Some(Trede2),  Some(2)),
        c("interval across a renewal: lowest",    vec![renewed()],      "2025-06-01",           Some("2026-06-01"),    None,         true,  Active,       Some(Trede1),  Some(2)),
        c("level_min over a renewal interval",    vec![renewed()],      "2025-06-01",           Some("2026-06-01"),    Some(Trede2), false, Active,       Some(Trede1),  Some(2)),
        c("level_min met after the renewal",      vec![renewed()],      "2026-01-01",           Some("2027-12-31"),    Some(Trede2), true,  Active,       Some(Trede2),  Some(2)),
        c("gap between periods",                  vec![with_gap()],     "2025-02-01",           None,                  None,         false, Expired,      None,          Some(3)),
        c("interval over a gap",                  vec![with_gap()],     "2024-06-01",           Some("2025-06-01"),    None,         false, Active,       Some(Trede1),  Some(3)),
        c("after the gap",                        vec![with_gap()],     "2025-03-01",           None,                  None,         true,  Active,       Some(Trede1),  Some(3)),
        c("superseded: the old one before",       replaced_pair(),      "2025-06-01",           None,                  None,         true,  Active,       Some(Trede1),  Some(4)),
        c("superseded: the new one after",        replaced_pair(),      "2026-02-01",           None,                  None,         true,  Active,       Some(Trede3),  Some(5)),
        c("interval across a replacement",        replaced_pair(),      "2025-06-01",           Some("2026-06-01"),    None,         true,  Active,       Some(Trede1),  Some(4)),
        c("unknown KvK number",                   vec![],               "2026-06-01",           None,                  None,         false, NotCertified, None,          None),
        c("unknown KvK number over an interval",  vec![],               "2026-06-01",           Some("2027-06-01"),    None,         false, NotCertified, None,          None),
        c("an old expired certificate stays visible", vec![cert(6, "kiwa").period(Aspirant, "2020-01-01", "2022-01-01")],
                                                                        "2026-06-01",           None,                  None,         false, Expired,      None,          Some(6)),
        c("the newest certificate speaks",        vec![cert(7, "kiwa").period(Trede1, "2020-01-01", "2022-01-01").revoke("2021-01-01"),
                                                       cert(8, "kiwa").period(Trede1, "2022-01-01", "2024-01-01")],
                                                                        "2025-01-01",           None,                  None,         false, Expired,      None,          Some(8)),
    ]
}

fn until_of(s: &str) -> IntervalEnd {
    if s.len() == 10 {
        IntervalEnd::Exclusive(end_of_day(date(s)))
    } else {
        IntervalEnd::Inclusive(at(s))
    }
}

#[test]
fn the_status_table() {
    for case in cases() {
        let certificates: Vec<_> = case.certificates.into_iter().map(|c| c.0).collect();
        let query = StatusQuery {
            on: at(case.on),
            until: case.until.map(until_of),
            level_min: case.level_min,
        };
        let answer = company_status(&certificates, &query);
        assert_eq!(
            (answer.certified, answer.status, answer.level),
            (case.certified, case.status, case.level),
            "{}",
            case.name
        );
        let speaker = case
            .speaker
            .map(|s| CertificateNumber::assign("PSO", 2026, s));
        assert_eq!(answer.certificate_number, speaker, "{}: speaker", case.name);
    }
}

#[test]
fn a_certificates_own_status_shows_supersession_and_suspension() {
    let pair = replaced_pair();
    assert_eq!(
        certificate_state_at(&pair[0].0, at("2026-02-01")).status,
        CertificateStatus::Superseded
    );
    let suspended = trede2().suspend("2026-06-01").0;
    assert_eq!(
        certificate_state_at(&suspended, at("2026-07-01")).status,
        CertificateStatus::Suspended
    );
    // An expired certificate reads expired even while suspended.
    assert_eq!(
        certificate_state_at(&suspended, at("2028-02-01")).status,
        CertificateStatus::Expired
    );
}

#[test]
fn pso30plus_is_reported_only_where_held() {
    let c = cert(9, "kiwa").period(Trede3, "2026-01-01", "2028-01-01").0;
    let q = StatusQuery {
        on: at("2026-06-01"),
        until: None,
        level_min: Some(Trede3),
    };
    let answer = company_status(std::slice::from_ref(&c), &q);
    assert!(answer.certified && answer.pso30plus);
    assert_eq!(answer.valid_until, Some(date("2028-01-01")));
}

// ---------------------------------------------------------------------------
// Properties. Times sit on a whole-hour grid (Amsterdam midnights are whole UTC
// hours), so checking every hour of an interval checks every instant of it.

const BASE: &str = "2026-03-01";

fn hour(h: i64) -> DateTime<Utc> {
    at(BASE) + Duration::hours(h)
}

fn day(d: i64) -> String {
    (date(BASE) + Duration::days(d))
        .format("%Y-%m-%d")
        .to_string()
}

fn arb_certificate(serial: i64) -> impl Strategy<Value = CertificateHistory> {
    // Long, mostly adjacent periods and few terminal changes, so that about half of
    // the intervals asked about are certified throughout.
    let periods = prop::collection::vec((0usize..5, 0i64..12, 8i64..40), 1..4);
    let kind =
        prop_oneof![4 => Just(0usize), 4 => Just(1usize), 1 => Just(2usize), 1 => Just(3usize)];
    let changes = prop::collection::vec((kind, 0i64..(90 * 24)), 0..3);
    (periods, changes).prop_map(move |(periods, mut changes)| {
        let mut c = cert(serial, "kiwa");
        let mut from = 0;
        for (level, gap, length) in periods {
            from += gap;
            c = c.period(Level::ALL[level], &day(from), &day(from + length));
        }
        changes.sort_by_key(|(_, h)| *h);
        for (kind, h) in changes {
            let standing = [
                Standing::Suspended,
                Standing::Reinstated,
                Standing::Revoked,
                Standing::Superseded,
            ][kind];
            c.0.standing_changes.push(StandingChange {
                standing,
                effective_at: hour(h),
            });
        }
        c.0
    })
}

fn arb_certificates() -> impl Strategy<Value = Vec<CertificateHistory>> {
    (0usize..3).prop_flat_map(|n| (0..n as i64).map(arb_certificate).collect::<Vec<_>>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Over an interval = at every instant inside it (checked hour by hour).
    #[test]
    fn over_an_interval_equals_at_every_instant(
        certificates in arb_certificates(),
        start in 0i64..(60 * 24),
        length in 0i64..(20 * 24),
        level_min in prop::option::weighted(0.3, 0usize..5),
    ) {
        let level_min = level_min.map(|l| Level::ALL[l]);
        let (on, end) = (hour(start), hour(start + length));
        let q = StatusQuery { on, until: Some(IntervalEnd::Inclusive(end)), level_min };
        let answer = company_status(&certificates, &q);
        let at_each = (start..=start + length).all(|h| {
            company_status(&certificates, &StatusQuery { on: hour(h), until: None, level_min }).certified
        });
        prop_assert_eq!(answer.certified, at_each);
        if answer.certified {
            let lowest = (start..=start + length)
                .filter_map(|h| company_status(&certificates, &StatusQuery { on: hour(h), until: None, level_min: None }).level)
                .min();
            prop_assert_eq!(answer.level, lowest);
        }
    }

    /// An interval of one instant answers as that instant does.
    #[test]
    fn a_one_instant_interval_is_the_instant(certificates in arb_certificates(), h in 0i64..(70 * 24)) {
        let instant = company_status(&certificates, &StatusQuery { on: hour(h), until: None, level_min: None });
        let interval = company_status(
            &certificates,
            &StatusQuery { on: hour(h), until: Some(IntervalEnd::Inclusive(hour(h))), level_min: None },
        );
        prop_assert_eq!(instant, interval);
    }

    /// The status on `on` never depends on what is asked about later instants.
    #[test]
    fn status_on_on_ignores_the_interval(certificates in arb_certificates(), h in 0i64..(70 * 24), len in 1i64..(30 * 24)) {
        let instant = company_status(&certificates, &StatusQuery { on: hour(h), until: None, level_min: None });
        let interval = company_status(
            &certificates,
            &StatusQuery { on: hour(h), until: Some(IntervalEnd::Exclusive(hour(h + len))), level_min: None },
        );
        prop_assert_eq!(instant.status, interval.status);
        prop_assert_eq!(instant.certificate_number, interval.certificate_number);
        prop_assert!(!interval.certified || instant.certified);
    }

    /// The speaker found in one pass is the one the rule's words name: an
    /// active certificate (highest level, then PSO 30+, then the longest
    /// validity; the last of equals), else the most recently started one (the
    /// last of equals), else the one that starts first (the first of equals).
    #[test]
    fn the_speaker_is_the_one_the_words_name(certificates in arb_certificates(), h in 0i64..(70 * 24)) {
        let t = hour(h);
        let states: Vec<_> = certificates.iter().map(|c| (c, certificate_state_at(c, t))).collect();
        let first_start = |c: &CertificateHistory| c.periods.first().map(crate::period::Period::starts_at);
        let by_words = states
            .iter()
            .filter(|(_, s)| s.status == CertificateStatus::Active)
            .max_by_key(|(_, s)| s.period.map(|p| (p.level(), p.pso30plus(), p.valid_until())))
            .or_else(|| {
                states
                    .iter()
                    .filter(|(c, _)| first_start(c).is_some_and(|s| s <= t))
                    .max_by_key(|(c, _)| first_start(c))
            })
            .or_else(|| states.iter().min_by_key(|(c, _)| first_start(c)))
            .map(|(c, _)| c.number.clone());
        let answer = company_status(&certificates, &StatusQuery { on: t, until: None, level_min: None });
        prop_assert_eq!(answer.certificate_number, by_words);
    }
}
