//! The lifecycle and the status rule through a real database, on SQLite and on
//! PostgreSQL: every command writes its change and its event, or nothing.

use chrono::{Duration, Utc};
mod common;

use registry_core::test_support::{TestDatabase, at, date};
use registry_core::time::start_of_day;
use registry_core::*;

on_both_backends!(
    issuing_writes_the_certificate_its_coverage_and_one_event,
    reissuing_the_same_reference_is_idempotent_and_other_content_conflicts,
    a_replayed_request_id_is_refused_and_writes_nothing,
    a_second_certificate_in_force_must_name_what_it_replaces,
    replacing_supersedes_the_old_certificate_from_the_new_start,
    renewal_appends_a_period_and_the_level_may_change,
    suspension_reinstatement_and_revocation_follow_the_rules,
    subsidiaries_are_covered_like_the_main_applicant,
    a_cb_acts_only_on_its_own_certificates_and_only_while_active,
    the_scheme_owner_may_revoke_any_certificate,
    expiry_is_recorded_once_by_the_job_but_status_never_waits_for_it,
    invalid_input_names_each_field_and_writes_nothing,
    event_sequence_numbers_strictly_increase,
    companies_page_by_name_with_a_keyset_cursor,
    concurrent_identical_issuances_yield_one_certificate,
    batch_status_answers_in_request_order,
    a_feed_reader_following_concurrent_writers_misses_nothing,
);

struct Fixture {
    registry: Registry,
    _db: TestDatabase,
}

impl Fixture {
    fn new(db: TestDatabase) -> Self {
        let url = DatabaseUrl::parse(&db.url).expect("test url");
        let registry = Registry::open(&url, &PoolOptions::default(), SchemeRules::pso())
            .expect("open test database");
        let f = Fixture { registry, _db: db };
        for cb in ["kiwa", "normec"] {
            f.registry
                .accredit(Accredit {
                    id: cb_id(cb),
                    name: cb.to_uppercase(),
                    keys: KeySource::Inline(vec![]),
                })
                .expect("accredit");
        }
        f
    }

    fn counts(&self) -> Vec<(&'static str, i64)> {
        self.registry.row_counts().expect("counts")
    }

    fn issue(&self, cb: &str, command: IssueCertificate) -> Result<Issued, CoreError> {
        self.registry.issue(command, &by(cb))
    }

    fn issued(&self, cb: &str, command: IssueCertificate) -> Certificate {
        match self.issue(cb, command) {
            Ok(Issued::Created(c)) => *c,
            other => panic!("expected a new certificate, got {other:?}"),
        }
    }

    fn standing(
        &self,
        cb: &str,
        n: &CertificateNumber,
        standing: Standing,
        when: &str,
    ) -> Result<Certificate, CoreError> {
        self.registry.change_standing(
            ChangeStanding {
                number: n.clone(),
                standing,
                reason: Some("audit finding".into()),
                effective_at: Some(at(when)),
            },
            &by(cb),
        )
    }

    fn status(
        &self,
        kvk: &str,
        on: &str,
        until: Option<&str>,
        level_min: Option<Level>,
    ) -> StatusAnswer {
        let query = StatusQuery {
            on: at(on),
            until: until.map(|u| IntervalEnd::Exclusive(start_of_day(date(u) + Duration::days(1)))),
            level_min,
        };
        self.registry
            .company_status(&KvkNumber::parse(kvk).expect("kvk"), &query)
            .expect("status")
    }
}

fn cb_id(s: &str) -> CbId {
    CbId::parse(s).expect("cb id")
}

fn by(cb: &str) -> Provenance {
    let id = format!("jti-{}", rand_suffix());
    Provenance::certification_body(
        cb_id(cb),
        Some(SignedRequest {
            id: RequestId::parse(&id).expect("jti"),
            replayable_until: Utc::now() + Duration::minutes(15),
            compact_jws: format!("header.payload-{id}.signature"),
        }),
    )
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn name(s: &str) -> Name {
    Name::parse(s).expect("name")
}

fn issuance(reference: &str, kvk: &str, level: Level, from: &str) -> IssueCertificate {
    IssueCertificate {
        cb_reference: CbReference::parse(reference).expect("reference"),
        holder: Holder {
            kvk_number: KvkNumber::parse(kvk).expect("kvk"),
            name: name(&format!("Bedrijf {kvk} B.V.")),
            trade_names: vec![name("Handelsnaam")],
            city: Some(name("Utrecht")),
            province: Some(Province::Utrecht),
            sbi_codes: vec![SbiCode::parse("4120").expect("sbi")],
        },
        subsidiaries: vec![],
        period: PeriodDraft {
            level,
            pso30plus: false,
            valid_from: date(from),
            valid_until: None,
            audit_date: date(from) - Duration::days(30),
            reference_year: 2025,
            handbook_version: HandbookVersion::parse("2.1").expect("version"),
            score: Score {
                percent: Some(9.4),
                total_fte: Some(42.5),
            },
        },
        replaces: None,
    }
}

fn count(counts: &[(&str, i64)], table: &str) -> i64 {
    counts
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, n)| *n)
        .unwrap_or(-1)
}

fn issuing_writes_the_certificate_its_coverage_and_one_event(db: TestDatabase) {
    let f = &Fixture::new(db);
    let before = f.counts();
    let c = f.issued(
        "kiwa",
        issuance("KIWA-1", "12345678", Level::Trede2, "2026-01-15"),
    );
    assert!(c.number().as_str().starts_with("PSO-20"), "{}", c.number());
    assert_eq!(c.history.periods.len(), 1);
    assert_eq!(
        c.history.periods[0].valid_until(),
        date("2028-01-15"),
        "two years by default"
    );
    assert_eq!(c.holder.name.as_str(), "Bedrijf 12345678 B.V.");
    let after = f.counts();
    assert_eq!(
        count(&after, "certificates"),
        count(&before, "certificates") + 1
    );
    assert_eq!(count(&after, "events"), count(&before, "events") + 1);
    assert_eq!(count(&after, "coverage"), 1);
    assert_eq!(count(&after, "replay_guard"), 1);
    let events = f
        .registry
        .certificate_events(c.number(), 0, i64::MAX)
        .expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Issued);
    assert!(
        events[0]
            .evidence
            .as_deref()
            .is_some_and(|e| e.starts_with("header.payload-"))
    );
    assert_eq!(f.registry.certificate(c.number()).expect("read back"), c);
}

fn reissuing_the_same_reference_is_idempotent_and_other_content_conflicts(db: TestDatabase) {
    let f = &Fixture::new(db);
    let c = f.issued(
        "kiwa",
        issuance("KIWA-1", "12345678", Level::Trede2, "2026-01-15"),
    );
    let before = f.counts();
    match f.issue(
        "kiwa",
        issuance("KIWA-1", "12345678", Level::Trede2, "2026-01-15"),
    ) {
        Ok(Issued::Existing(existing)) => assert_eq!(existing.number(), c.number()),
        other => panic!("expected the existing certificate, got {other:?}"),
    }
    let changed = issuance("KIWA-1", "12345678", Level::Trede3, "2026-01-15");
    assert!(matches!(
        f.issue("kiwa", changed),
        Err(CoreError::IdempotencyConflict { .. })
    ));
    let after = f.counts();
    assert_eq!(
        count(&after, "certificates"),
        count(&before, "certificates")
    );
    assert_eq!(count(&after, "events"), count(&before, "events"));
    // The same reference from another CB is another certificate (refused here only
    // because the company already holds one in force).
    assert!(matches!(
        f.issue(
            "normec",
            issuance("KIWA-1", "12345678", Level::Trede2, "2026-01-15")
        ),
        Err(CoreError::CertificateInForce { .. })
    ));
}

fn a_replayed_request_id_is_refused_and_writes_nothing(db: TestDatabase) {
    let f = &Fixture::new(db);
    let request = by("kiwa");
    f.registry
        .issue(
            issuance("KIWA-1", "12345678", Level::Trede2, "2026-01-15"),
            &request,
        )
        .expect("first use");
    let before = f.counts();
    let again = f.registry.issue(
        issuance("KIWA-2", "22345678", Level::Trede2, "2026-01-15"),
        &request,
    );
    assert!(matches!(again, Err(CoreError::Replay)), "{again:?}");
    assert_eq!(f.counts(), before);
    // Another CB may use the same id.
    let other = Provenance::certification_body(cb_id("normec"), request.request.clone());
    assert!(
        f.registry
            .issue(
                issuance("N-1", "32345678", Level::Trede1, "2026-01-15"),
                &other
            )
            .is_ok()
    );
}

fn a_second_certificate_in_force_must_name_what_it_replaces(db: TestDatabase) {
    let f = &Fixture::new(db);
    let c = f.issued(
        "kiwa",
        issuance("KIWA-1", "12345678", Level::Trede2, "2026-01-15"),
    );
    let before = f.counts();
    let result = f.issue(
        "normec",
        issuance("N-1", "12345678", Level::Trede3, "2027-01-15"),
    );
    match result {
        Err(CoreError::CertificateInForce { existing }) => assert_eq!(&existing, c.number()),
        other => panic!("expected in force, got {other:?}"),
    }
    assert_eq!(f.counts(), before);
    // After the first one ends, a new one needs no `replaces`.
    f.issued(
        "normec",
        issuance("N-2", "12345678", Level::Trede3, "2028-01-15"),
    );
}

fn replacing_supersedes_the_old_certificate_from_the_new_start(db: TestDatabase) {
    let f = &Fixture::new(db);
    let old = f.issued(
        "kiwa",
        issuance("KIWA-1", "12345678", Level::Trede1, "2026-01-15"),
    );
    let mut command = issuance("N-1", "12345678", Level::Trede3, "2027-01-15");
    command.replaces = Some(old.number().clone());
    let new = f.issued("normec", command);
    assert_eq!(new.replaces.as_ref(), Some(old.number()));
    let old = f.registry.certificate(old.number()).expect("old");
    assert_eq!(old.status_at(at("2027-01-14")), CertificateStatus::Active);
    assert_eq!(
        old.status_at(at("2027-01-15")),
        CertificateStatus::Superseded
    );
    let before = f.status("12345678", "2026-06-01", None, None);
    assert_eq!(
        (before.level, before.certificate_number.as_ref()),
        (Some(Level::Trede1), Some(old.number()))
    );
    let after = f.status("12345678", "2027-06-01", None, None);
    assert_eq!(
        (after.level, after.certificate_number.as_ref()),
        (Some(Level::Trede3), Some(new.number()))
    );
    let across = f.status("12345678", "2026-06-01", Some("2027-06-01"), None);
    assert!(across.certified);
    assert_eq!(
        across.level,
        Some(Level::Trede1),
        "lowest over the interval"
    );
    assert!(matches!(
        f.standing("kiwa", old.number(), Standing::Suspended, "2027-02-01"),
        Err(CoreError::CertificateSuperseded(_))
    ));
    assert!(f.registry.histories_are_consistent().expect("check"));
}

fn renewal_appends_a_period_and_the_level_may_change(db: TestDatabase) {
    let f = &Fixture::new(db);
    let c = f.issued(
        "kiwa",
        issuance("KIWA-1", "12345678", Level::Trede1, "2026-01-15"),
    );
    let period = PeriodDraft {
        level: Level::Trede2,
        valid_from: date("2028-01-15"),
        ..issuance("x", "12345678", Level::Trede2, "2028-01-15").period
    };
    let renew = || RenewCertificate {
        number: c.number().clone(),
        period: period.clone(),
    };
    let renewed = f.registry.renew(renew(), &by("kiwa")).expect("renew");
    assert_eq!(renewed.history.periods.len(), 2);
    let events = f.count_events(c.number());
    // Sending it again changes nothing.
    let again = f
        .registry
        .renew(renew(), &by("kiwa"))
        .expect("idempotent renewal");
    assert_eq!(again, renewed);
    assert_eq!(f.count_events(c.number()), events);
    assert_eq!(
        f.status("12345678", "2027-06-01", None, None).level,
        Some(Level::Trede1)
    );
    assert_eq!(
        f.status("12345678", "2028-06-01", None, None).level,
        Some(Level::Trede2)
    );
    let term = f.status(
        "12345678",
        "2027-06-01",
        Some("2028-06-01"),
        Some(Level::Trede2),
    );
    assert!(!term.certified, "trede_2 is not held throughout");
    assert!(
        f.status(
            "12345678",
            "2027-06-01",
            Some("2028-06-01"),
            Some(Level::Trede1)
        )
        .certified
    );
    // A period must start after the last one did.
    let early = RenewCertificate {
        number: c.number().clone(),
        period: PeriodDraft {
            valid_from: date("2026-01-15"),
            ..period
        },
    };
    assert!(
        matches!(f.registry.renew(early, &by("kiwa")), Err(CoreError::Validation(e)) if e[0].field == "valid_from")
    );
    assert!(f.registry.histories_are_consistent().expect("check"));
}

impl Fixture {
    fn count_events(&self, n: &CertificateNumber) -> usize {
        self.registry
            .certificate_events(n, 0, i64::MAX)
            .expect("events")
            .len()
    }
}

fn suspension_reinstatement_and_revocation_follow_the_rules(db: TestDatabase) {
    let f = &Fixture::new(db);
    let c = f.issued(
        "kiwa",
        issuance("KIWA-1", "12345678", Level::Trede2, "2026-01-15"),
    );
    let n = c.number();
    assert!(matches!(
        f.standing("kiwa", n, Standing::Reinstated, "2026-03-01"),
        Err(CoreError::InvalidTransition(_))
    ));
    f.standing("kiwa", n, Standing::Suspended, "2026-03-01T10:00:00Z")
        .expect("suspend");
    assert!(matches!(
        f.standing("kiwa", n, Standing::Suspended, "2026-03-02"),
        Err(CoreError::InvalidTransition(_))
    ));
    assert!(matches!(
        f.standing("kiwa", n, Standing::Reinstated, "2026-02-01"),
        Err(CoreError::Validation(e)) if e[0].field == "effective_at"
    ));
    f.standing("kiwa", n, Standing::Reinstated, "2026-04-01T10:00:00Z")
        .expect("reinstate");
    assert_eq!(
        f.status("12345678", "2026-03-15", None, None).status,
        CompanyStatus::Suspended
    );
    assert!(f.status("12345678", "2026-04-02", None, None).certified);
    assert!(
        !f.status("12345678", "2026-02-01", Some("2026-12-31"), None)
            .certified
    );
    f.standing("kiwa", n, Standing::Revoked, "2026-09-01T00:00:00Z")
        .expect("revoke");
    assert_eq!(
        f.status("12345678", "2026-09-02", None, None).status,
        CompanyStatus::Revoked
    );
    assert!(
        f.status("12345678", "2026-08-31", None, None).certified,
        "revocation is not retroactive"
    );
    let before = f.counts();
    assert!(matches!(
        f.standing("kiwa", n, Standing::Revoked, "2026-10-01"),
        Err(CoreError::CertificateRevoked(_))
    ));
    assert!(matches!(
        f.standing("kiwa", n, Standing::Suspended, "2026-10-01"),
        Err(CoreError::CertificateRevoked(_))
    ));
    let renew = RenewCertificate {
        number: n.clone(),
        period: issuance("x", "12345678", Level::Trede2, "2028-01-15").period,
    };
    assert!(matches!(
        f.registry.renew(renew, &by("kiwa")),
        Err(CoreError::CertificateRevoked(_))
    ));
    assert_eq!(f.counts(), before);
    assert!(f.registry.histories_are_consistent().expect("check"));
    let kinds: Vec<_> = f
        .registry
        .certificate_events(n, 0, i64::MAX)
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::Issued,
            EventKind::Suspended,
            EventKind::Reinstated,
            EventKind::Revoked
        ]
    );
}

fn subsidiaries_are_covered_like_the_main_applicant(db: TestDatabase) {
    let f = &Fixture::new(db);
    let mut command = issuance("KIWA-1", "12345678", Level::Trede2, "2026-01-15");
    command.subsidiaries = vec![Subsidiary {
        kvk_number: KvkNumber::parse("87654321").expect("kvk"),
        name: name("Dochter B.V."),
    }];
    let c = f.issued("kiwa", command);
    assert_eq!(c.covered.len(), 2);
    assert!(c.covered[0].main_applicant && !c.covered[1].main_applicant);
    let main = f.status("12345678", "2026-06-01", None, None);
    let subsidiary = f.status("87654321", "2026-06-01", None, None);
    assert!(subsidiary.certified);
    assert_eq!(main, subsidiary);
    let unknown = f.status("99999999", "2026-06-01", None, None);
    assert_eq!(
        (unknown.certified, unknown.status),
        (false, CompanyStatus::NotCertified)
    );
    assert!(
        f.registry
            .company(&KvkNumber::parse("87654321").expect("kvk"))
            .expect("company")
            .is_some()
    );
}

fn a_cb_acts_only_on_its_own_certificates_and_only_while_active(db: TestDatabase) {
    let f = &Fixture::new(db);
    let c = f.issued(
        "kiwa",
        issuance("KIWA-1", "12345678", Level::Trede2, "2026-01-15"),
    );
    let before = f.counts();
    assert!(matches!(
        f.standing("normec", c.number(), Standing::Suspended, "2026-03-01"),
        Err(CoreError::NotYourCertificate(_))
    ));
    assert_eq!(f.counts(), before);
    f.registry
        .change_certification_body(
            &cb_id("kiwa"),
            CertificationBodyChange {
                accreditation: Some(Accreditation::Suspended),
                ..Default::default()
            },
        )
        .expect("suspend accreditation");
    let before = f.counts();
    assert!(matches!(
        f.standing("kiwa", c.number(), Standing::Suspended, "2026-03-01"),
        Err(CoreError::NotAccredited { .. })
    ));
    assert!(matches!(
        f.issue(
            "kiwa",
            issuance("KIWA-2", "22345678", Level::Trede2, "2026-01-15")
        ),
        Err(CoreError::NotAccredited { .. })
    ));
    assert_eq!(f.counts(), before);
    assert!(matches!(
        f.issue(
            "unknown-cb",
            issuance("X-1", "22345678", Level::Trede2, "2026-01-15")
        ),
        Err(CoreError::CertificationBodyNotFound(_))
    ));
}

fn the_scheme_owner_may_revoke_any_certificate(db: TestDatabase) {
    let f = &Fixture::new(db);
    let c = f.issued(
        "kiwa",
        issuance("KIWA-1", "12345678", Level::Trede2, "2026-01-15"),
    );
    let command = ChangeStanding {
        number: c.number().clone(),
        standing: Standing::Revoked,
        reason: Some("fraud".into()),
        effective_at: None,
    };
    let revoked = f
        .registry
        .change_standing(command.clone(), &Provenance::scheme_owner())
        .expect("revoke");
    assert_eq!(revoked.status_at(Utc::now()), CertificateStatus::Revoked);
    let suspend = ChangeStanding {
        standing: Standing::Suspended,
        ..command
    };
    assert!(matches!(
        f.registry
            .change_standing(suspend, &Provenance::scheme_owner()),
        Err(CoreError::NotPermitted(_))
    ));

    // A certificate that has not started is revoked from its first day when no
    // date is given (a date before it is refused, naming the field).
    let ahead = (Utc::now() + chrono::Duration::days(400)).date_naive();
    let later = f.issued(
        "kiwa",
        issuance("KIWA-2", "22345678", Level::Trede2, &ahead.to_string()),
    );
    let early = ChangeStanding {
        number: later.number().clone(),
        standing: Standing::Revoked,
        reason: Some("issued in error".into()),
        effective_at: Some(Utc::now()),
    };
    assert!(matches!(
        f.registry.change_standing(early.clone(), &Provenance::scheme_owner()),
        Err(CoreError::Validation(faults)) if faults[0].field == "effective_at"
    ));
    let revoked = f
        .registry
        .change_standing(
            ChangeStanding {
                effective_at: None,
                ..early
            },
            &Provenance::scheme_owner(),
        )
        .expect("revoked from its first day");
    let starts = revoked.history.periods[0].starts_at();
    assert_eq!(revoked.history.standing_changes[0].effective_at, starts);
    assert_eq!(revoked.status_at(starts), CertificateStatus::Revoked);
}

fn expiry_is_recorded_once_by_the_job_but_status_never_waits_for_it(db: TestDatabase) {
    let f = &Fixture::new(db);
    let mut command = issuance("KIWA-1", "12345678", Level::Trede2, "2020-01-15");
    command.period.reference_year = 2019;
    let c = f.issued("kiwa", command);
    assert_eq!(
        f.status("12345678", "2023-01-01", None, None).status,
        CompanyStatus::Expired,
        "before any job ran"
    );
    assert_eq!(f.registry.record_expiries(Utc::now(), 100).expect("job"), 1);
    assert_eq!(
        f.registry
            .record_expiries(Utc::now(), 100)
            .expect("job again"),
        0
    );
    let events = f
        .registry
        .certificate_events(c.number(), 0, i64::MAX)
        .expect("events");
    assert_eq!(
        events.last().map(|e| (e.kind, e.effective_at)),
        Some((EventKind::Expired, at("2022-01-15")))
    );
}

fn invalid_input_names_each_field_and_writes_nothing(db: TestDatabase) {
    let f = &Fixture::new(db);
    let before = f.counts();
    let mut command = issuance("KIWA-1", "12345678", Level::Trede2, "2026-01-15");
    command.period.pso30plus = true;
    command.period.valid_until = Some(date("2026-01-01"));
    command.subsidiaries = vec![Subsidiary {
        kvk_number: KvkNumber::parse("12345678").expect("kvk"),
        name: name("Zelf"),
    }];
    match f.issue("kiwa", command) {
        Err(CoreError::Validation(errors)) => {
            let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(
                fields,
                ["subsidiaries[0].kvk_number", "pso30plus", "valid_until"]
            );
        }
        other => panic!("expected validation errors, got {other:?}"),
    }
    let c = f.issued(
        "kiwa",
        issuance("KIWA-2", "12345678", Level::Trede2, "2026-01-15"),
    );
    let before_standing = f.counts();
    let no_reason = ChangeStanding {
        number: c.number().clone(),
        standing: Standing::Suspended,
        reason: Some("  ".into()),
        effective_at: None,
    };
    assert!(
        matches!(f.registry.change_standing(no_reason, &by("kiwa")), Err(CoreError::Validation(e)) if e[0].field == "reason")
    );
    assert!(matches!(
        f.standing("kiwa", c.number(), Standing::Suspended, "2025-01-01"),
        Err(CoreError::Validation(e)) if e[0].field == "effective_at"
    ));
    assert_eq!(f.counts(), before_standing);
    assert_eq!(
        count(&before_standing, "certificates"),
        count(&before, "certificates") + 1
    );
}

fn event_sequence_numbers_strictly_increase(db: TestDatabase) {
    let f = &Fixture::new(db);
    let c = f.issued(
        "kiwa",
        issuance("KIWA-1", "12345678", Level::Trede2, "2026-01-15"),
    );
    f.standing("kiwa", c.number(), Standing::Suspended, "2026-03-01")
        .expect("suspend");
    f.issued(
        "normec",
        issuance("N-1", "22345678", Level::Trede1, "2026-01-15"),
    );
    let all = f.registry.events(0, 100).expect("feed");
    assert!(
        all.len() >= 5,
        "two accreditations, two issuances, a suspension"
    );
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let tail = f.registry.events(all[2].seq, 100).expect("feed after");
    assert_eq!(tail, all[3..].to_vec());
    assert_eq!(all[0].kind, EventKind::CertificationBodyAccredited);
}

fn companies_page_by_name_with_a_keyset_cursor(db: TestDatabase) {
    let f = &Fixture::new(db);
    for i in 0..7 {
        f.issued(
            "kiwa",
            issuance(
                &format!("K-{i}"),
                &format!("1000000{i}"),
                Level::Trede1,
                "2026-01-15",
            ),
        );
    }
    let filter = SearchFilter {
        q: None,
        kvk: None,
        city: None,
        province: None,
        sbi: None,
        level_min: None,
        pso30plus: None,
        status: SearchStatus::Any,
        certification_body: None,
        at: Utc::now(),
    };
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = f
            .registry
            .search_companies(&filter, cursor.as_ref(), 3)
            .expect("page");
        seen.extend(
            page.items
                .iter()
                .map(|h| h.company.kvk_number.as_str().to_owned()),
        );
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("1000000{i}")).collect();
    assert_eq!(seen, expected);
}

fn concurrent_identical_issuances_yield_one_certificate(db: TestDatabase) {
    let f = &Fixture::new(db);
    let numbers: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12)
            .map(|_| {
                s.spawn(|| {
                    f.issue(
                        "kiwa",
                        issuance("KIWA-RACE", "12345678", Level::Trede2, "2026-01-15"),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join().expect("thread") {
                Ok(Issued::Created(c) | Issued::Existing(c)) => c.number().as_str().to_owned(),
                Err(e) => panic!("issuance failed: {e}"),
            })
            .collect()
    });
    assert!(numbers.windows(2).all(|w| w[0] == w[1]), "{numbers:?}");
    assert_eq!(count(&f.counts(), "certificates"), 1);
}

fn batch_status_answers_in_request_order(db: TestDatabase) {
    let f = &Fixture::new(db);
    f.issued(
        "kiwa",
        issuance("KIWA-1", "12345678", Level::Trede2, "2026-01-15"),
    );
    f.issued(
        "kiwa",
        issuance("KIWA-2", "22345678", Level::Trede3, "2026-01-15"),
    );
    let kvks: Vec<KvkNumber> = ["22345678", "99999999", "12345678", "22345678"]
        .iter()
        .map(|k| KvkNumber::parse(k).expect("kvk"))
        .collect();
    let q = StatusQuery {
        on: at("2026-06-01"),
        until: None,
        level_min: None,
    };
    let answers = f.registry.company_statuses(&kvks, &q).expect("batch");
    let levels: Vec<_> = answers.iter().map(|a| a.level).collect();
    assert_eq!(
        levels,
        [
            Some(Level::Trede3),
            None,
            Some(Level::Trede2),
            Some(Level::Trede3)
        ]
    );
}

/// A reader that follows the feed (`after` = the last seq it saw) while many
/// writers append sees every event: no event commits with a lower seq than
/// one the reader has already been shown.
fn a_feed_reader_following_concurrent_writers_misses_nothing(db: TestDatabase) {
    let f = &Fixture::new(db);
    let writers = 8;
    let each = 25;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let seen: Vec<i64> = std::thread::scope(|s| {
        for w in 0..writers {
            let done = &done;
            s.spawn(move || {
                for i in 0..each {
                    let kvk = format!("{}", 40_000_000 + w * 1000 + i);
                    f.issued(
                        "kiwa",
                        issuance(&format!("FEED-{w}-{i}"), &kvk, Level::Trede1, "2026-01-15"),
                    );
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        let reader = s.spawn(|| {
            let mut seen = Vec::new();
            let mut after = 0;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst) == writers;
                let page = f.registry.events(after, 50).expect("feed");
                if let Some(last) = page.last() {
                    after = last.seq;
                }
                let empty = page.is_empty();
                seen.extend(page.into_iter().map(|e| e.seq));
                if finished && empty {
                    return seen;
                }
            }
        });
        reader.join().expect("reader")
    });
    let all: Vec<i64> = f
        .registry
        .events(0, 10_000)
        .expect("whole feed")
        .into_iter()
        .map(|e| e.seq)
        .collect();
    assert!(all.len() >= writers * each, "{} events", all.len());
    assert_eq!(seen, all, "the follower missed events that committed late");
}
