//! The write rules through a real database, on SQLite and PostgreSQL, as
//! properties over random command sequences: a refused command changes nothing
//! (no row, no event, no history), and at no instant do two certificates of one
//! main applicant stand in force.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

mod common;

use registry_core::test_support::TestDatabase;
use registry_core::time::start_of_day;
use registry_core::*;

on_both_backends!(refused_commands_change_nothing_and_one_certificate_stands_at_a_time);

#[derive(Debug, Clone)]
enum Command {
    Issue {
        cb: usize,
        from: u16,
        days: u16,
        replaces: Option<usize>,
    },
    Renew {
        which: usize,
        from: u16,
    },
    Change {
        which: usize,
        by: usize,
        standing: usize,
        at: Option<u16>,
    },
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (
            0..2usize,
            0..1500u16,
            30..900u16,
            proptest::option::of(0..4usize)
        )
            .prop_map(|(cb, from, days, replaces)| Command::Issue {
                cb,
                from,
                days,
                replaces
            }),
        (0..4usize, 0..2000u16).prop_map(|(which, from)| Command::Renew { which, from }),
        (
            0..4usize,
            0..2usize,
            0..3usize,
            proptest::option::of(0..2500u16)
        )
            .prop_map(|(which, by, standing, at)| Command::Change {
                which,
                by,
                standing,
                at
            }),
    ]
}

fn day(n: u16) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default() + Duration::days(i64::from(n))
}

fn name(s: &str) -> Name {
    Name::parse(s).expect("name")
}

fn by(cb: &str, n: u64) -> Provenance {
    Provenance::certification_body(
        CbId::parse(cb).expect("cb"),
        Some(SignedRequest {
            id: RequestId::parse(&format!("jti-{cb}-{n}")).expect("jti"),
            replayable_until: Utc::now() + Duration::minutes(15),
            compact_jws: format!("header.payload-{n}.signature"),
        }),
    )
}

fn period(level: Level, from: NaiveDate, until: Option<NaiveDate>) -> PeriodDraft {
    PeriodDraft {
        level,
        pso30plus: false,
        valid_from: from,
        valid_until: until,
        audit_date: from,
        reference_year: 2023,
        handbook_version: HandbookVersion::parse("2.1").expect("version"),
        score: Score {
            percent: None,
            total_fte: None,
        },
    }
}

/// Everything a command could write: row counts and every history.
fn snapshot(
    registry: &Registry,
    numbers: &[CertificateNumber],
) -> (Vec<(&'static str, i64)>, Vec<CertificateHistory>) {
    let histories = numbers
        .iter()
        .map(|n| registry.certificate(n).expect("certificate").history)
        .collect();
    (registry.row_counts().expect("counts"), histories)
}

fn stands(h: &CertificateHistory, t: DateTime<Utc>) -> bool {
    matches!(
        registry_core::status::certificate_state_at(h, t).status,
        CertificateStatus::Active | CertificateStatus::Suspended
    )
}

fn refused_commands_change_nothing_and_one_certificate_stands_at_a_time(db: TestDatabase) {
    let url = DatabaseUrl::parse(&db.url).expect("url");
    let registry = Registry::open(&url, &PoolOptions::default(), SchemeRules::pso()).expect("open");
    let bodies = ["kiwa", "normec"];
    for cb in bodies {
        registry
            .accredit(Accredit {
                id: CbId::parse(cb).expect("cb"),
                name: cb.to_uppercase(),
                keys: KeySource::Inline(vec![]),
            })
            .expect("accredit");
    }
    let cases = if registry.backend() == Backend::Postgres {
        64
    } else {
        256
    };
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let serial = std::cell::Cell::new(0u64);
    let next = || {
        serial.set(serial.get() + 1);
        serial.get()
    };
    let result = runner.run(&proptest::collection::vec(command(), 1..16), |commands| {
        // A main applicant of its own per case.
        let case = next();
        let kvk = format!("{:08}", 10_000_000 + case);
        let mut numbers: Vec<CertificateNumber> = Vec::new();
        for c in commands {
            let before = snapshot(&registry, &numbers);
            let outcome = match &c {
                Command::Issue {
                    cb,
                    from,
                    days,
                    replaces,
                } => {
                    let until = day(*from) + Duration::days(i64::from(*days));
                    let command = IssueCertificate {
                        cb_reference: CbReference::parse(&format!("R-{}", next()))
                            .expect("reference"),
                        holder: Holder {
                            kvk_number: KvkNumber::parse(&kvk).expect("kvk"),
                            name: name("Bedrijf B.V."),
                            trade_names: vec![],
                            city: None,
                            province: None,
                            sbi_codes: vec![],
                        },
                        subsidiaries: vec![],
                        period: period(Level::Trede1, day(*from), Some(until)),
                        replaces: replaces.and_then(|i| numbers.get(i)).cloned(),
                    };
                    registry
                        .issue(command, &by(bodies[*cb], next()))
                        .map(|issued| match issued {
                            Issued::Created(c) | Issued::Existing(c) => {
                                numbers.push(c.number().clone())
                            }
                        })
                }
                Command::Renew { which, from } => match numbers.get(*which) {
                    None => continue,
                    Some(n) => {
                        let cb = registry.certificate(n).expect("certificate").history;
                        registry
                            .renew(
                                RenewCertificate {
                                    number: n.clone(),
                                    period: period(Level::Trede2, day(*from), None),
                                },
                                &by(cb.certification_body.as_str(), next()),
                            )
                            .map(|_| ())
                    }
                },
                Command::Change {
                    which,
                    by: body,
                    standing,
                    at,
                } => match numbers.get(*which) {
                    None => continue,
                    Some(n) => registry
                        .change_standing(
                            ChangeStanding {
                                number: n.clone(),
                                standing: [
                                    Standing::Suspended,
                                    Standing::Reinstated,
                                    Standing::Revoked,
                                ][*standing],
                                reason: Some("audit".into()),
                                effective_at: at.map(|d| start_of_day(day(d))),
                            },
                            &by(bodies[*body], next()),
                        )
                        .map(|_| ()),
                },
            };
            if let Err(e) = outcome {
                prop_assert!(
                    !matches!(
                        e,
                        CoreError::Storage(_)
                            | CoreError::Contention(_)
                            | CoreError::Unavailable(_)
                    ),
                    "a fault, not a refusal: {e:?} for {c:?}"
                );
                prop_assert_eq!(
                    snapshot(&registry, &numbers),
                    before,
                    "refused ({:?}) yet written: {:?}",
                    e,
                    c
                );
            }
        }
        let histories = snapshot(&registry, &numbers).1;
        let instants = histories.iter().flat_map(|h| {
            h.periods
                .iter()
                .flat_map(|p| [p.starts_at(), p.ends_at()])
                .chain(h.standing_changes.iter().map(|c| c.effective_at))
                .collect::<Vec<_>>()
        });
        for t in instants {
            let standing = histories.iter().filter(|h| stands(h, t)).count();
            prop_assert!(
                standing <= 1,
                "{} stand at {}: {:#?}",
                standing,
                t,
                histories
            );
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
