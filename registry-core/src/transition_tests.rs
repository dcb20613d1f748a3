//! The write rules as a specification: one row per rule of API.md's
//! "Lifecycle" and per finding of the hostile-client issue, then a property
//! over random command sequences: at no instant do two certificates of one main
//! applicant stand in force.

// The tables spell their rows' types out once, as their column headings.
#![allow(clippy::type_complexity)]

use chrono::{DateTime, Duration, NaiveDate, Utc};
use proptest::prelude::*;

use super::*;
use crate::certificate::StandingChange;
use crate::level::Level;
use crate::time::start_of_day;

use crate::test_support::{at, date};

fn period_of(level: Level, from: NaiveDate, until: NaiveDate) -> Period {
    crate::test_support::period(level, from, until)
}

fn period(from: &str, until: &str) -> Period {
    period_of(Level::Trede2, date(from), date(until))
}

fn kvk(s: &str) -> KvkNumber {
    KvkNumber::parse(s).expect("kvk")
}

fn cb(s: &str) -> CbId {
    CbId::parse(s).expect("cb")
}

fn number(serial: i64) -> CertificateNumber {
    CertificateNumber::assign("PSO", 2026, serial)
}

/// A certificate of main applicant 12345678, built up in the test's words.
fn cert(serial: i64, body: &str, from: &str, until: &str) -> CertificateHistory {
    CertificateHistory {
        number: number(serial),
        certification_body: cb(body),
        main_applicant: kvk("12345678"),
        periods: vec![period(from, until)],
        standing_changes: vec![],
    }
}

fn with(mut h: CertificateHistory, standing: Standing, when: &str) -> CertificateHistory {
    h.standing_changes.push(StandingChange {
        standing,
        effective_at: at(when),
    });
    h
}

/// What a refusal is, in the words of the table.
fn kind(e: &CoreError) -> String {
    match e {
        CoreError::Validation(f) => format!("field {}", f[0].field),
        CoreError::CertificateInForce { existing } => format!("in force {existing}"),
        CoreError::CertificateRevoked(_) => "revoked".into(),
        CoreError::CertificateSuperseded(_) => "superseded".into(),
        CoreError::NotYourCertificate(_) => "not yours".into(),
        CoreError::NotPermitted(_) => "not permitted".into(),
        CoreError::InvalidTransition(m) => format!("transition: {m}"),
        other => format!("{other:?}"),
    }
}

#[rustfmt::skip]
#[test]
fn issuance_keeps_one_certificate_in_force() {
    let a = || cert(1, "kiwa", "2026-01-15", "2028-01-15");
    let n1 = number(1);
    let other_holder = CertificateHistory { main_applicant: kvk("87654321"), ..a() };
    // name, others, replaces (number, history), new period, expected
    let cases: Vec<(&str, Vec<CertificateHistory>, Option<(CertificateNumber, Option<CertificateHistory>)>, Period, Result<Option<&str>, String>)> = vec![
        ("nothing else: issued",                    vec![],                                               None, period("2026-06-01", "2028-06-01"), Ok(None)),
        ("another in force: refused",               vec![a()],                                            None, period("2026-06-01", "2028-06-01"), Err(format!("in force {n1}"))),
        ("another ended before the start",          vec![a()],                                            None, period("2028-01-15", "2030-01-15"), Ok(None)),
        ("another starts after the end",            vec![a()],                                            None, period("2024-01-01", "2026-01-15"), Ok(None)),
        ("another revoked before the start",        vec![with(a(), Standing::Revoked, "2026-03-01")],      None, period("2026-06-01", "2028-06-01"), Ok(None)),
        ("another revoked after the start (ahead)", vec![with(a(), Standing::Revoked, "2027-03-01")],      None, period("2026-06-01", "2028-06-01"), Err(format!("in force {n1}"))),
        ("another superseded at the start",         vec![with(a(), Standing::Superseded, "2026-06-01")],   None, period("2026-06-01", "2028-06-01"), Ok(None)),
        ("another suspended still counts",          vec![with(a(), Standing::Suspended, "2026-03-01")],    None, period("2026-06-01", "2028-06-01"), Err(format!("in force {n1}"))),
        ("replaces nothing known",                  vec![],                                               Some((number(9), None)), period("2026-06-01", "2028-06-01"), Err("field replaces".into())),
        ("replaces another holder's",               vec![],                                               Some((n1.clone(), Some(other_holder))), period("2026-06-01", "2028-06-01"), Err("field replaces".into())),
        ("replaces a revoked one (even ahead)",     vec![],                                               Some((n1.clone(), Some(with(a(), Standing::Revoked, "2027-03-01")))), period("2026-06-01", "2028-06-01"), Err("revoked".into())),
        ("replaces a superseded one",               vec![],                                               Some((n1.clone(), Some(with(a(), Standing::Superseded, "2026-03-01")))), period("2026-06-01", "2028-06-01"), Err("superseded".into())),
        ("replaces one, but a third is in force",   vec![a(), cert(2, "normec", "2026-02-01", "2026-08-01")], Some((n1.clone(), Some(a()))), period("2026-06-01", "2028-06-01"), Err(format!("in force {}", number(2)))),
        ("starts before the replaced one starts",   vec![a()],                                            Some((n1.clone(), Some(a()))), period("2026-01-01", "2028-01-01"), Err("field valid_from".into())),
        ("starts before its last standing change",  vec![],                                               Some((n1.clone(), Some(with(a(), Standing::Suspended, "2026-07-01")))), period("2026-06-01", "2028-06-01"), Err("field valid_from".into())),
        ("the replaced one has ended by then",      vec![],                                               Some((n1.clone(), Some(a()))), period("2028-02-01", "2030-02-01"), Err("field replaces".into())),
        ("replaces the one in force",               vec![a()],                                            Some((n1.clone(), Some(a()))), period("2026-06-01", "2028-06-01"), Ok(Some("2026-06-01"))),
    ];
    for (name, others, replaces, new_period, expected) in cases {
        let main = kvk("12345678");
        let (wanted, replaced) = match &replaces {
            Some((n, h)) => (Some(n), h.as_ref()),
            None => (None, None),
        };
        let got = issue(
            &Issuance { main_applicant: &main, period: &new_period, replaces: wanted },
            replaced,
            &others,
        );
        let got = got.map(|s| s.map(|c| c.effective_at)).map_err(|e| kind(&e));
        let expected = expected.map(|s| s.map(at));
        assert_eq!(got, expected, "{name}");
    }
}

/// A certificate renewed yearly up to the most periods it may hold.
fn full_of_periods() -> CertificateHistory {
    let mut h = cert(1, "kiwa", "2027-01-01", "2028-01-01");
    for year in 1..MAX_PERIODS {
        let from = date("2027-01-01") + Duration::days(365 * year as i64);
        h.periods
            .push(period_of(Level::Trede2, from, from + Duration::days(365)));
    }
    h
}

/// A certificate suspended and reinstated up to the most changes it may have.
fn full_of_changes() -> CertificateHistory {
    let mut h = cert(1, "kiwa", "2026-01-15", "2028-01-15");
    for i in 0..MAX_STANDING_CHANGES {
        h.standing_changes.push(StandingChange {
            standing: if i % 2 == 0 {
                Standing::Suspended
            } else {
                Standing::Reinstated
            },
            effective_at: at("2026-02-01") + Duration::hours(i as i64),
        });
    }
    h
}

#[rustfmt::skip]
#[test]
fn renewal_appends_within_the_rules() {
    let a = || cert(1, "kiwa", "2027-01-01", "2027-07-01");
    let b = || cert(2, "normec", "2027-07-01", "2029-07-01");
    let cases: Vec<(&str, CertificateHistory, &str, Vec<CertificateHistory>, Period, Result<Renewal, String>)> = vec![
        ("appends a later period",               a(), "kiwa",   vec![],    period("2027-06-01", "2029-06-01"), Ok(Renewal::Append)),
        ("the same period again: unchanged",     a(), "kiwa",   vec![],    period("2027-01-01", "2027-07-01"), Ok(Renewal::Unchanged)),
        ("another CB's certificate",             a(), "normec", vec![],    period("2027-06-01", "2029-06-01"), Err("not yours".into())),
        ("a revoked certificate",                with(a(), Standing::Revoked, "2027-03-01"), "kiwa", vec![], period("2027-06-01", "2029-06-01"), Err("revoked".into())),
        ("not after the last start",             a(), "kiwa",   vec![],    period("2027-01-01", "2028-01-01"), Err("field valid_from".into())),
        ("reaching into another's window",       a(), "kiwa",   vec![b()], period("2027-06-01", "2029-06-01"), Err(format!("in force {}", number(2)))),
        ("up to where another starts",           a(), "kiwa",   vec![b()], period("2027-06-01", "2027-07-01"), Ok(Renewal::Append)),
        ("itself among the others",              a(), "kiwa",   vec![a()], period("2027-06-01", "2029-06-01"), Ok(Renewal::Append)),
        ("at most MAX_PERIODS periods",          full_of_periods(), "kiwa", vec![], period("2200-01-01", "2201-01-01"), Err(format!("transition: a certificate holds at most {MAX_PERIODS} periods; issue a new one"))),
    ];
    for (name, history, body, others, new_period, expected) in cases {
        let got = renew(&history, &cb(body), &new_period, &others).map_err(|e| kind(&e));
        assert_eq!(got, expected, "{name}");
    }
}

#[rustfmt::skip]
#[test]
fn standing_changes_follow_the_rules() {
    let a = || cert(1, "kiwa", "2026-01-15", "2028-01-15");
    let kiwa = Actor::CertificationBody(cb("kiwa"));
    let normec = Actor::CertificationBody(cb("normec"));
    let owner = Actor::SchemeOwner;
    let now = at("2026-06-01T12:00:00Z");
    let long = "x".repeat(MAX_REASON_CHARS + 1);
    use Standing::*;
    let cases: Vec<(&str, CertificateHistory, &Actor, Standing, Option<&str>, Option<&str>, Result<&str, String>)> = vec![
        ("suspend, now",                       a(), &kiwa,   Suspended,  Some("audit"), None,                          Ok("2026-06-01T12:00:00Z")),
        ("suspend before it starts: first day", cert(1, "kiwa", "2026-09-01", "2028-09-01"), &kiwa, Suspended, Some("audit"), None, Ok("2026-09-01")),
        ("after a change dated ahead: that",   with(a(), Suspended, "2026-08-01"), &kiwa, Reinstated, None, None,     Ok("2026-08-01")),
        ("supersession is not asked for",      a(), &kiwa,   Superseded, Some("x"), None,                              Err("transition: a certificate is superseded by issuing its replacement".into())),
        ("the scheme owner only revokes",      a(), &owner,  Suspended,  Some("x"), None,                              Err("not permitted".into())),
        ("the scheme owner revokes any",       a(), &owner,  Revoked,    Some("fraud"), Some("2026-07-01"),            Ok("2026-07-01")),
        ("a reason to suspend",                a(), &kiwa,   Suspended,  Some("  "), None,                             Err("field reason".into())),
        ("a reason not too long",              a(), &kiwa,   Revoked,    Some(long.as_str()), None,                    Err("field reason".into())),
        ("no reason needed to reinstate",      with(a(), Suspended, "2026-03-01"), &kiwa, Reinstated, None, Some("2026-04-01"), Ok("2026-04-01")),
        ("another CB's certificate",           a(), &normec, Suspended,  Some("x"), None,                              Err("not yours".into())),
        ("revoked: closed",                    with(a(), Revoked, "2026-03-01"), &kiwa, Suspended, Some("x"), None,   Err("revoked".into())),
        ("revoked ahead: closed already",      with(a(), Revoked, "2027-03-01"), &kiwa, Suspended, Some("x"), None,   Err("revoked".into())),
        ("before the first day",               a(), &kiwa,   Suspended,  Some("x"), Some("2026-01-01"),                Err("field effective_at".into())),
        ("before the last change",             with(a(), Suspended, "2026-03-01"), &kiwa, Reinstated, None, Some("2026-02-01"), Err("field effective_at".into())),
        ("after the last day known",           a(), &kiwa,   Revoked,    Some("x"), Some("9999-12-31T23:30:00-02:00"), Err("field effective_at".into())),
        ("suspend a suspended one",            with(a(), Suspended, "2026-03-01"), &kiwa, Suspended, Some("x"), None, Err("transition: the certificate is already suspended".into())),
        ("suspend once expired",               a(), &kiwa,   Suspended,  Some("x"), Some("2028-02-01"),                Err("transition: the certificate has expired at effective_at".into())),
        ("reinstate one not suspended",        a(), &kiwa,   Reinstated, None, None,                                   Err("transition: the certificate is not suspended".into())),
        ("revoke once expired is fine",        a(), &kiwa,   Revoked,    Some("x"), Some("2028-02-01"),                Ok("2028-02-01")),
        ("at most MAX_STANDING_CHANGES",       full_of_changes(), &kiwa, Reinstated, None, None,                      Err(format!("transition: a certificate has at most {MAX_STANDING_CHANGES} standing changes"))),
    ];
    for (name, history, actor, standing, reason, when, expected) in cases {
        let command = StandingCommand { standing, reason, effective_at: when.map(at) };
        let got = change_standing(&history, &command, actor, now)
            .map(|c| (c.standing, c.effective_at))
            .map_err(|e| kind(&e));
        let expected = expected.map(|w| (standing, at(w)));
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn only_a_certification_body_issues() {
    assert!(acting_body(&Actor::CertificationBody(cb("kiwa"))).is_ok());
    assert!(matches!(
        acting_body(&Actor::SchemeOwner),
        Err(CoreError::NotPermitted(_))
    ));
}

#[test]
fn derived_columns_follow_the_history() {
    let mut h = cert(1, "kiwa", "2026-01-15", "2028-01-15");
    h.periods.push(period_of(
        Level::Trede1,
        date("2027-06-01"),
        date("2029-06-01"),
    ));
    let d = derived(&h).expect("periods");
    assert_eq!(
        (d.starts_at, d.ends_at, d.closed_at, d.top_level),
        (
            at("2026-01-15"),
            at("2029-06-01"),
            None,
            Level::Trede2.rank()
        )
    );
    let revoked = with(h.clone(), Standing::Suspended, "2026-03-01");
    let revoked = with(revoked, Standing::Revoked, "2026-04-01");
    assert_eq!(
        derived(&revoked).map(|d| d.closed_at),
        Some(Some(at("2026-04-01")))
    );
    assert_eq!(
        in_force(&revoked),
        Some(Window {
            from: at("2026-01-15"),
            until: at("2026-04-01")
        })
    );
    let never = with(h.clone(), Standing::Revoked, "2026-01-15");
    assert_eq!(in_force(&never), None);
    h.periods.clear();
    assert_eq!(derived(&h), None);
}

/// A command of the property: which certificate, by index into those issued.
#[derive(Debug, Clone)]
enum Command {
    Issue {
        cb: u8,
        from: u16,
        days: u16,
        replaces: Option<usize>,
    },
    Renew {
        which: usize,
        from: u16,
        days: u16,
    },
    Change {
        which: usize,
        standing: u8,
        at: Option<u16>,
    },
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (
            0..2u8,
            0..2000u16,
            1..1500u16,
            proptest::option::of(0..6usize)
        )
            .prop_map(|(cb, from, days, replaces)| Command::Issue {
                cb,
                from,
                days,
                replaces
            }),
        (0..6usize, 0..2500u16, 1..1500u16).prop_map(|(which, from, days)| Command::Renew {
            which,
            from,
            days
        }),
        (0..6usize, 0..3u8, proptest::option::of(0..3000u16)).prop_map(|(which, standing, at)| {
            Command::Change {
                which,
                standing,
                at,
            }
        }),
    ]
}

fn day(n: u16) -> NaiveDate {
    date("2024-01-01") + Duration::days(i64::from(n))
}

/// Statuses in which a certificate stands for its holder.
fn stands(h: &CertificateHistory, t: DateTime<Utc>) -> bool {
    matches!(
        certificate_state_at(h, t).status,
        CertificateStatus::Active | CertificateStatus::Suspended
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever commands come, in whatever order, the rules never let two
    /// certificates of one main applicant stand in force at one instant, and a
    /// refused command leaves the histories as they were.
    #[test]
    fn at_no_instant_do_two_certificates_of_one_main_applicant_stand_in_force(
        commands in proptest::collection::vec(command(), 1..40)
    ) {
        let main = kvk("12345678");
        let bodies = [cb("kiwa"), cb("normec")];
        let now = at("2026-06-01T12:00:00Z");
        let mut register: Vec<CertificateHistory> = Vec::new();
        for c in commands {
            let before = register.clone();
            match c {
                Command::Issue { cb, from, days, replaces } => {
                    let p = period_of(Level::Trede1, day(from), day(from) + Duration::days(i64::from(days)));
                    let wanted = replaces.and_then(|i| register.get(i)).map(|h| h.number.clone());
                    let replaced = wanted.as_ref().and_then(|n| register.iter().find(|h| &h.number == n));
                    let decided = issue(&Issuance { main_applicant: &main, period: &p, replaces: wanted.as_ref() }, replaced, &register);
                    if let Ok(supersession) = decided {
                        if let (Some(n), Some(change)) = (&wanted, supersession)
                            && let Some(old) = register.iter_mut().find(|h| &h.number == n)
                        {
                            old.standing_changes.push(change);
                        }
                        register.push(CertificateHistory {
                            number: number(register.len() as i64 + 1),
                            certification_body: bodies[usize::from(cb)].clone(),
                            main_applicant: main.clone(),
                            periods: vec![p],
                            standing_changes: vec![],
                        });
                    }
                }
                Command::Renew { which, from, days } => {
                    let Some(h) = register.get(which).cloned() else { continue };
                    let p = period_of(Level::Trede2, day(from), day(from) + Duration::days(i64::from(days)));
                    if let Ok(Renewal::Append) = renew(&h, &h.certification_body, &p, &register) {
                        register[which].periods.push(p);
                    }
                }
                Command::Change { which, standing, at } => {
                    let Some(h) = register.get(which).cloned() else { continue };
                    let standing = [Standing::Suspended, Standing::Reinstated, Standing::Revoked][usize::from(standing)];
                    let command = StandingCommand {
                        standing,
                        reason: Some("audit"),
                        effective_at: at.map(|d| start_of_day(day(d))),
                    };
                    let actor = Actor::CertificationBody(h.certification_body.clone());
                    match change_standing(&h, &command, &actor, now) {
                        Ok(change) => register[which].standing_changes.push(change),
                        Err(_) => prop_assert_eq!(&register, &before),
                    }
                }
            }
            // Every instant at which any standing may change.
            let instants: Vec<DateTime<Utc>> = register
                .iter()
                .flat_map(|h| {
                    h.periods.iter().flat_map(|p| [p.starts_at(), p.ends_at()])
                        .chain(h.standing_changes.iter().map(|c| c.effective_at))
                        .collect::<Vec<_>>()
                })
                .collect();
            for t in instants {
                let standing = register.iter().filter(|h| stands(h, t)).count();
                prop_assert!(standing <= 1, "{} certificates stand at {}: {:#?}", standing, t, register);
            }
        }
    }
}
