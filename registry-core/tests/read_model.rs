//! The read model is derived data: random lifecycle histories are written
//! through the registry's commands, and every answer of the model — status on
//! random instants, intervals and levels; batches; companies and certificates;
//! search pages and their cursors — must equal the database-backed answer, on
//! both backends, for the model kept current by the writes themselves and for
//! one built afresh from the database.

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use registry_core::test_support::TestDatabase;
use registry_core::time::start_of_day;
use registry_core::*;

on_both_backends!(
    the_model_answers_as_the_database_does,
    a_fresh_model_equals_the_one_kept_by_writes,
    pages_cut_short_by_the_budget_still_see_every_row_once,
    the_log_holds_every_event_and_the_model_its_edge,
    a_rewritten_event_is_named_at_start_up
);

const WORDS: [&str; 16] = [
    "Bouw",
    "Bouwbedrijf",
    "Drukkerij",
    "Drukker",
    "Jansen",
    "Janssen",
    "de",
    "Vries",
    "van",
    "den",
    "Berg",
    "Bakkerij",
    "Groen",
    "Schoon",
    "Transport",
    "Café",
];
const CITIES: [(&str, Province); 5] = [
    ("Utrecht", Province::Utrecht),
    ("Zwolle", Province::Overijssel),
    ("Den Haag", Province::ZuidHolland),
    ("'s-Hertogenbosch", Province::NoordBrabant),
    ("Ede", Province::Gelderland),
];
const SBI: [&str; 4] = ["4120", "1812", "41201", "8121"];
const CBS: [&str; 2] = ["kiwa", "normec"];

fn kvk(i: u32) -> KvkNumber {
    KvkNumber::parse(&format!("{:08}", 10_000_000 + i * 7919 % 1000)).expect("kvk")
}

/// Holders are drawn from the first twelve numbers, subsidiaries from six
/// more, some shared, so that names change and companies are covered twice.
fn holder_pool() -> Vec<KvkNumber> {
    (0..12).map(kvk).collect()
}

fn subsidiary_pool() -> Vec<KvkNumber> {
    (8..18).map(kvk).collect()
}

fn day(rng: &mut StdRng) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 1).expect("date") + Duration::days(rng.random_range(0..1500))
}

fn instant(rng: &mut StdRng) -> DateTime<Utc> {
    start_of_day(day(rng)) + Duration::hours(rng.random_range(0..30))
}

fn name(rng: &mut StdRng) -> Name {
    let n = rng.random_range(1..=3);
    let words: Vec<&str> = (0..n).map(|_| *WORDS.choose(rng).expect("word")).collect();
    let legal = *["B.V.", "V.O.F.", "", "& Zn."].choose(rng).expect("legal");
    Name::parse(&format!("{} {legal}", words.join(" "))).expect("name")
}

fn draft(rng: &mut StdRng, from: NaiveDate) -> PeriodDraft {
    let level = Level::ALL[rng.random_range(0..5)];
    PeriodDraft {
        level,
        pso30plus: level == Level::Trede3 && rng.random_bool(0.5),
        valid_from: from,
        valid_until: rng
            .random_bool(0.3)
            .then(|| from + Duration::days(rng.random_range(30..700))),
        audit_date: from,
        reference_year: 2023,
        handbook_version: HandbookVersion::parse(["2.1", "2.0"].choose(rng).expect("v"))
            .expect("version"),
        score: Score {
            percent: rng
                .random_bool(0.3)
                .then(|| rng.random_range(0..1000) as f64 / 10.0),
            total_fte: None,
        },
    }
}

fn by(cb: &str) -> Provenance {
    Provenance::certification_body(CbId::parse(cb).expect("cb"), None)
}

fn open(db: &TestDatabase) -> Registry {
    Registry::open(
        &DatabaseUrl::parse(&db.url).expect("url"),
        &PoolOptions::default(),
        SchemeRules::pso(),
    )
    .expect("open")
}

/// A register with a random history of `steps` commands (those the rules
/// refuse are simply refused).
fn random_history(db: &TestDatabase, seed: u64, steps: usize) -> Registry {
    let registry = open(db);
    // Small blocks of the name order (every other history) so that walks
    // skip, seek and split across many of them.
    registry
        .model()
        .set_order_block(if seed.is_multiple_of(2) { 2 } else { 512 });
    registry.load_model().expect("load the empty model");
    for cb in CBS {
        registry
            .accredit(Accredit {
                id: CbId::parse(cb).expect("cb"),
                name: cb.into(),
                keys: KeySource::Inline(vec![]),
            })
            .expect("accredit");
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut issued: Vec<(CertificateNumber, String, KvkNumber)> = Vec::new();
    for step in 0..steps {
        let roll = rng.random_range(0..100);
        if issued.is_empty() || roll < 40 {
            let holder = holder_pool().choose(&mut rng).expect("kvk").clone();
            let (city, province) = *CITIES.choose(&mut rng).expect("city");
            let mut subsidiaries: Vec<Subsidiary> = Vec::new();
            for k in subsidiary_pool() {
                if k != holder && rng.random_bool(0.12) {
                    subsidiaries.push(Subsidiary {
                        kvk_number: k,
                        name: name(&mut rng),
                    });
                }
            }
            let replaces = issued
                .iter()
                .filter(|(_, _, h)| *h == holder)
                .map(|(n, _, _)| n.clone())
                .collect::<Vec<_>>()
                .choose(&mut rng)
                .cloned()
                .filter(|_| rng.random_bool(0.6));
            let cb = *CBS.choose(&mut rng).expect("cb");
            let from = day(&mut rng);
            let command = IssueCertificate {
                cb_reference: CbReference::parse(&format!("REF-{seed}-{step}")).expect("ref"),
                holder: Holder {
                    kvk_number: holder.clone(),
                    name: name(&mut rng),
                    trade_names: if rng.random_bool(0.3) {
                        vec![name(&mut rng)]
                    } else {
                        vec![]
                    },
                    city: rng
                        .random_bool(0.9)
                        .then(|| Name::parse(city).expect("city")),
                    province: rng.random_bool(0.9).then_some(province),
                    sbi_codes: SBI
                        .iter()
                        .filter(|_| rng.random_bool(0.3))
                        .map(|c| SbiCode::parse(c).expect("sbi"))
                        .collect(),
                },
                subsidiaries,
                period: draft(&mut rng, from),
                replaces,
            };
            if let Ok(Issued::Created(c)) = registry.issue(command, &by(cb)) {
                issued.push((c.number().clone(), cb.to_owned(), holder));
            }
            continue;
        }
        let (number, cb, _) = issued.choose(&mut rng).expect("issued").clone();
        let cb = if rng.random_bool(0.9) {
            cb
        } else {
            CBS[0].to_owned()
        };
        if roll < 55 {
            let from = day(&mut rng);
            let _ = registry.renew(
                RenewCertificate {
                    number,
                    period: draft(&mut rng, from),
                },
                &by(&cb),
            );
            continue;
        }
        let standing = *[
            Standing::Suspended,
            Standing::Suspended,
            Standing::Reinstated,
            Standing::Reinstated,
            Standing::Revoked,
        ]
        .choose(&mut rng)
        .expect("standing");
        let command = ChangeStanding {
            number,
            standing,
            reason: Some("audit".into()),
            effective_at: rng.random_bool(0.8).then(|| instant(&mut rng)),
        };
        let who = if standing == Standing::Revoked && rng.random_bool(0.3) {
            Provenance::scheme_owner()
        } else {
            by(&cb)
        };
        let _ = registry.change_standing(command, &who);
    }
    registry
}

/// Every search filter worth trying on this data.
fn random_filter(rng: &mut StdRng) -> SearchFilter {
    let q = rng.random_bool(0.6).then(|| {
        let n = rng.random_range(1..=2);
        let mut words: Vec<String> = (0..n)
            .map(|_| WORDS.choose(rng).expect("word").to_lowercase())
            .collect();
        // A typo or a prefix now and then.
        if rng.random_bool(0.4)
            && let Some(w) = words.first_mut()
            && w.chars().count() > 4
        {
            let cut: String = w.chars().take(w.chars().count() - 1).collect();
            *w = cut;
        }
        words.join(" ")
    });
    let statuses = [
        SearchStatus::Active,
        SearchStatus::Any,
        SearchStatus::Suspended,
        SearchStatus::Revoked,
        SearchStatus::Expired,
        SearchStatus::NotYetValid,
        SearchStatus::Superseded,
    ];
    SearchFilter {
        q,
        kvk: rng
            .random_bool(0.1)
            .then(|| holder_pool().choose(rng).expect("kvk").clone()),
        city: rng
            .random_bool(0.2)
            .then(|| CITIES.choose(rng).expect("city").0.to_uppercase()),
        province: rng
            .random_bool(0.15)
            .then(|| CITIES.choose(rng).expect("city").1),
        sbi: rng
            .random_bool(0.15)
            .then(|| SBI.choose(rng).expect("sbi")[..rng.random_range(2..=4)].to_owned()),
        level_min: rng
            .random_bool(0.25)
            .then(|| Level::ALL[rng.random_range(0..5)]),
        pso30plus: rng.random_bool(0.15).then(|| rng.random_bool(0.5)),
        status: *statuses.choose(rng).expect("status"),
        certification_body: rng
            .random_bool(0.15)
            .then(|| CbId::parse(CBS.choose(rng).expect("cb")).expect("cb")),
        at: instant(rng),
    }
}

/// What the comparisons saw, so that a test that compared only empty answers
/// fails.
#[derive(Debug, Default)]
struct Seen {
    companies_found: usize,
    certificates_found: usize,
    ranked_found: usize,
    pages: usize,
    certified: usize,
    statuses: BTreeSet<String>,
}

/// Walks every page of both searches on the model and on the database and
/// requires the same pages, cursors included.
fn same_search(
    model: &ReadModel,
    registry: &Registry,
    filter: &SearchFilter,
    limit: i64,
    seen: &mut Seen,
) {
    let mut after: Option<SearchCursor> = None;
    for _ in 0..200 {
        let want = registry
            .search_companies(filter, after.as_ref(), limit)
            .expect("database search");
        let got = model
            .search_companies(filter, after.as_ref(), limit)
            .expect("model search")
            .value;
        assert_eq!(
            got, want,
            "companies, {filter:?}, limit {limit}, after {after:?}"
        );
        seen.pages += 1;
        seen.companies_found += want.items.len();
        if filter.q.is_some() {
            seen.ranked_found += want.items.len();
        }
        match want.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let mut after: Option<SearchCursor> = None;
    for _ in 0..200 {
        let want = registry
            .search_certificates(filter, after.as_ref(), limit)
            .expect("database search");
        let got = model
            .search_certificates(filter, after.as_ref(), limit)
            .expect("model search")
            .value;
        assert_eq!(
            got, want,
            "certificates, {filter:?}, limit {limit}, after {after:?}"
        );
        seen.pages += 1;
        seen.certificates_found += want.items.len();
        match want.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
}

/// Every question asked of the model and of the database, answered alike.
fn same_answers(model: &ReadModel, registry: &Registry, seed: u64, seen: &mut Seen) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut kvks: Vec<KvkNumber> = holder_pool();
    kvks.extend(subsidiary_pool());
    kvks.push(KvkNumber::parse("99999999").expect("unknown"));
    for k in &kvks {
        for _ in 0..12 {
            let on = instant(&mut rng);
            let query = StatusQuery {
                on,
                until: rng
                    .random_bool(0.5)
                    .then(|| IntervalEnd::Exclusive(on + Duration::days(rng.random_range(1..900)))),
                level_min: rng
                    .random_bool(0.4)
                    .then(|| Level::ALL[rng.random_range(0..5)]),
            };
            let want = registry.company_status(k, &query).expect("database");
            assert_eq!(
                model.company_status(k, &query).expect("model").value,
                want,
                "status of {k} for {query:?}"
            );
            seen.certified += usize::from(want.certified);
            seen.statuses.insert(want.status.as_str().to_owned());
        }
        let at = instant(&mut rng);
        assert_eq!(
            model.company_detail(k, at).expect("model").value,
            registry.company_detail(k, at).expect("database"),
            "company {k}"
        );
        assert_eq!(
            model.company(k).expect("model").value,
            registry.company(k).expect("database")
        );
    }
    let query = StatusQuery {
        on: instant(&mut rng),
        until: None,
        level_min: Some(Level::Trede1),
    };
    assert_eq!(
        model.company_statuses(&kvks, &query).expect("model").value,
        registry.company_statuses(&kvks, &query).expect("database")
    );
    let everything = SearchFilter {
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
    let numbers: BTreeSet<CertificateNumber> = registry
        .search_certificates(&everything, None, 500)
        .expect("all")
        .items
        .iter()
        .map(|c| c.number().clone())
        .collect();
    for n in &numbers {
        assert_eq!(
            model.certificate(n).expect("model").value,
            registry.certificate(n).expect("database"),
            "certificate {n}"
        );
    }
    assert!(matches!(
        model.certificate(&CertificateNumber::parse("PSO-2026-999999").expect("n")),
        Err(CoreError::CertificateNotFound(_))
    ));
    same_search(model, registry, &everything, 3, seen);
    for word in WORDS {
        let filter = SearchFilter {
            q: Some(word.to_lowercase()),
            ..everything.clone()
        };
        same_search(model, registry, &filter, 2, seen);
    }
    for _ in 0..40 {
        let filter = random_filter(&mut rng);
        let limit = *[1, 2, 3, 50].choose(&mut rng).expect("limit");
        same_search(model, registry, &filter, limit, seen);
    }
}

fn cases(db: &TestDatabase) -> u64 {
    if db.url.starts_with("postgres") {
        6
    } else {
        12
    }
}

/// The comparisons covered what they are meant to.
fn covered(seen: &Seen) {
    assert!(seen.pages > 100, "{seen:?}");
    assert!(
        seen.companies_found > 50 && seen.certificates_found > 50,
        "{seen:?}"
    );
    assert!(seen.ranked_found > 20, "{seen:?}");
    assert!(seen.certified > 20, "{seen:?}");
    for status in [
        "active",
        "suspended",
        "revoked",
        "expired",
        "not_yet_valid",
        "not_certified",
    ] {
        assert!(
            seen.statuses.contains(status),
            "no {status} answer: {seen:?}"
        );
    }
}

fn the_model_answers_as_the_database_does(db: TestDatabase) {
    let mut seen = Seen::default();
    for case in 0..cases(&db) {
        let case_db = if case == 0 {
            None
        } else if db.url.starts_with("postgres") {
            TestDatabase::postgres()
        } else {
            Some(TestDatabase::sqlite())
        };
        let db = case_db.as_ref().unwrap_or(&db);
        let seed = 1000 + case;
        let registry = random_history(db, seed, 60);
        assert!(registry.model().seq() > 0, "the writes moved the model");
        same_answers(registry.model(), &registry, seed, &mut seen);
    }
    covered(&seen);
}

fn a_fresh_model_equals_the_one_kept_by_writes(db: TestDatabase) {
    let seed = 77;
    let registry = random_history(&db, seed, 80);
    let fresh = open(&db);
    fresh.model().set_order_block(3);
    fresh.load_model().expect("load");
    assert_eq!(fresh.model().seq(), registry.model().seq());
    let mut seen = Seen::default();
    same_answers(fresh.model(), &registry, seed, &mut seen);
    same_answers(registry.model(), &fresh, seed + 1, &mut seen);
    covered(&seen);
}

/// Every page of a search, followed to the end: what it lists, and how many
/// pages were cut short (fewer items than asked, with more to come).
fn walk<T>(
    limit: i64,
    mut page: impl FnMut(Option<&SearchCursor>) -> SearchPage<T>,
    mut id: impl FnMut(&T) -> String,
) -> (Vec<String>, usize) {
    let mut after: Option<SearchCursor> = None;
    let mut seen = Vec::new();
    let mut short = 0;
    for _ in 0..10_000 {
        let p = page(after.as_ref());
        if (p.items.len() as i64) < limit && p.next.is_some() {
            short += 1;
        }
        seen.extend(p.items.iter().map(&mut id));
        match p.next {
            Some(next) => after = Some(next),
            None => return (seen, short),
        }
    }
    panic!("the walk did not end");
}

/// A request examines a bounded number of candidates: a page may end early,
/// with a cursor to go on from, and a walk through such pages lists exactly
/// what an unbounded one does, each row once.
fn pages_cut_short_by_the_budget_still_see_every_row_once(db: TestDatabase) {
    let seed = 4242;
    let registry = random_history(&db, seed, 90);
    let bounded = open(&db);
    bounded.model().set_order_block(2);
    bounded.load_model().expect("load");
    bounded.model().set_search_budget(3);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut short_pages = 0;
    let mut listed = 0;
    for round in 0..60 {
        let mut filter = random_filter(&mut rng);
        if round % 3 == 0 {
            filter.status = SearchStatus::Any;
        }
        let limit = *[1, 2, 5].choose(&mut rng).expect("limit");
        let company = |h: &CompanyHit| h.company.kvk_number.as_str().to_owned();
        let (all, _) = walk(
            limit,
            |after| {
                registry
                    .model()
                    .search_companies(&filter, after, limit)
                    .expect("search")
                    .value
            },
            company,
        );
        let (cut, short) = walk(
            limit,
            |after| {
                bounded
                    .model()
                    .search_companies(&filter, after, limit)
                    .expect("search")
                    .value
            },
            company,
        );
        assert_eq!(cut, all, "companies, {filter:?}, limit {limit}");
        short_pages += short;
        listed += all.len();
        let certificate = |c: &Certificate| c.number().as_str().to_owned();
        let (all, _) = walk(
            limit,
            |after| {
                registry
                    .model()
                    .search_certificates(&filter, after, limit)
                    .expect("search")
                    .value
            },
            certificate,
        );
        let (cut, short) = walk(
            limit,
            |after| {
                bounded
                    .model()
                    .search_certificates(&filter, after, limit)
                    .expect("search")
                    .value
            },
            certificate,
        );
        assert_eq!(cut, all, "certificates, {filter:?}, limit {limit}");
        short_pages += short;
        listed += all.len();
    }
    assert!(
        short_pages > 20 && listed > 100,
        "{short_pages} short pages, {listed} rows"
    );
}

/// Every event is an entry of the log, in `seq` order; the entries rebuild
/// the tree whose root the model keeps (kept by writes, and loaded afresh);
/// the register's proofs verify against it.
fn the_log_holds_every_event_and_the_model_its_edge(db: TestDatabase) {
    use registry_core::log::tree::{self, MemoryTree, leaf_hash};
    let registry = random_history(&db, 4242, 100);
    let check = registry
        .check_log(&[])
        .expect("checked")
        .expect("the log verifies");
    let size = registry.log_size().expect("size");
    assert_eq!(check.entries, size);
    assert!(size > 30, "{size} entries");
    let mut memory = MemoryTree::default();
    let mut last_seq = 0;
    for i in 0..size {
        let leaf = registry.log_entry(i).expect("read").expect("entry");
        let fields: serde_json::Value = serde_json::from_slice(&leaf).expect("JSON");
        let seq = fields["seq"].as_i64().expect("seq");
        assert!(seq > last_seq, "entries in seq order");
        last_seq = seq;
        memory.push(leaf_hash(&leaf));
    }
    assert_eq!(registry.log_entry(size).expect("read"), None);
    let kept = registry.model().log_tree().expect("loaded").value;
    assert_eq!(kept, (size, memory.frontier().root()));
    let fresh = open(&db);
    fresh.load_model().expect("load");
    assert_eq!(fresh.model().log_tree().expect("loaded").value, kept);
    assert_eq!(registry.log_root(size).expect("root"), kept.1);
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..40 {
        let n = rng.random_range(1..=size);
        let i = rng.random_range(0..n);
        let root = tree::root_at(n, &mut memory).expect("root");
        let path = registry
            .inclusion_proof(i, n)
            .expect("proof")
            .expect("reached");
        let leaf = registry.log_entry(i).expect("read").expect("entry");
        tree::verify_inclusion(&leaf_hash(&leaf), i, n, &path, &root).expect("included");
        let m = rng.random_range(1..=n);
        let proof = registry
            .consistency_proof(m, n)
            .expect("proof")
            .expect("reached");
        let old = tree::root_at(m, &mut memory).expect("root");
        tree::verify_consistency(m, n, &proof, &old, &root).expect("consistent");
    }
    assert!(matches!(registry.inclusion_proof(0, size + 1), Ok(None)));
    assert!(matches!(
        registry.inclusion_proof(size, size),
        Err(CoreError::Validation(_))
    ));
    assert!(matches!(
        registry.consistency_proof(0, size),
        Err(CoreError::Validation(_))
    ));
}

/// An event rewritten behind the register's back (its triggers dropped) is
/// named by its log index; so is a signed checkpoint the log no longer
/// matches.
fn a_rewritten_event_is_named_at_start_up(db: TestDatabase) {
    use registry_core::log::RegisterKey;
    let registry = random_history(&db, 99, 40);
    let size = registry.log_size().expect("size");
    let key = RegisterKey::new(
        "test.example/log",
        ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]),
    )
    .expect("key");
    let keys = [(key.name().to_owned(), key.public())];
    let root = registry.log_root(size).expect("root");
    registry
        .record_checkpoint(size, &key.sign_checkpoint(size, &root), chrono::Utc::now())
        .expect("kept");
    let check = registry
        .check_log(&keys)
        .expect("checked")
        .expect("verifies");
    assert_eq!(check.checkpoint, Some(size));
    // A checkpoint by another key: refused.
    assert!(matches!(
        registry.check_log(&[]).expect("checked"),
        Err(Tampering::Checkpoint { .. })
    ));
    let victim = size / 2;
    let leaf = registry.log_entry(victim).expect("read").expect("entry");
    let seq = serde_json::from_slice::<serde_json::Value>(&leaf).expect("JSON")["seq"]
        .as_i64()
        .expect("seq");
    let drop_triggers = if db.url.starts_with("postgres") {
        "DROP TRIGGER events_no_update_or_delete ON events"
    } else {
        "DROP TRIGGER events_no_update"
    };
    registry_core::test_support::execute_sql(&db.url, drop_triggers).expect("dropped");
    registry_core::test_support::execute_sql(
        &db.url,
        &format!("UPDATE events SET detail = detail || ' ' WHERE seq = {seq}"),
    )
    .expect("rewritten");
    match registry.check_log(&keys).expect("checked") {
        Err(Tampering::Entry { index, .. }) => assert_eq!(index, victim),
        other => panic!("the rewrite went unnoticed: {other:?}"),
    }
}
