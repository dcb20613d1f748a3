//! Search through a real database, on both backends: typo-tolerant and prefix
//! names, each filter, ordering, and a cursor walk.

mod common;

use chrono::{DateTime, NaiveDate, Utc};
use registry_core::test_support::TestDatabase;
use registry_core::time::start_of_day;
use registry_core::*;

on_both_backends!(
    names_found_with_typos_and_by_prefix,
    each_filter_narrows_and_status_comes_from_the_rule,
    without_a_query_lists_are_ordered_by_name,
    a_cursor_walk_sees_each_row_once,
    certificates_are_searched_by_their_own_standing,
    long_posting_lists_are_walked_in_the_order_short_ones_are_ranked,
    a_new_word_written_by_concurrent_issuances_finds_every_company,
);

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn at(s: &str) -> DateTime<Utc> {
    start_of_day(date(s))
}

struct Company {
    kvk: &'static str,
    name: &'static str,
    city: &'static str,
    province: Province,
    sbi: &'static str,
    level: Level,
    from: &'static str,
    cb: &'static str,
}

const COMPANIES: [Company; 6] = [
    Company {
        kvk: "10000001",
        name: "Drukkerij Jansen B.V.",
        city: "Utrecht",
        province: Province::Utrecht,
        sbi: "1812",
        level: Level::Trede2,
        from: "2026-01-15",
        cb: "kiwa",
    },
    Company {
        kvk: "10000002",
        name: "Bouwbedrijf Jansen",
        city: "Zwolle",
        province: Province::Overijssel,
        sbi: "4120",
        level: Level::Trede3,
        from: "2026-02-01",
        cb: "normec",
    },
    Company {
        kvk: "10000003",
        name: "Bakkerij de Vries",
        city: "Utrecht",
        province: Province::Utrecht,
        sbi: "1071",
        level: Level::Trede1,
        from: "2026-01-01",
        cb: "kiwa",
    },
    Company {
        kvk: "10000004",
        name: "Metaalbewerking Oost",
        city: "Enschede",
        province: Province::Overijssel,
        sbi: "2562",
        level: Level::Aspirant,
        from: "2027-03-01",
        cb: "kiwa",
    },
    Company {
        kvk: "10000005",
        name: "Groenvoorziening Zuid",
        city: "Eindhoven",
        province: Province::NoordBrabant,
        sbi: "8130",
        level: Level::Basistrede,
        from: "2022-01-01",
        cb: "normec",
    },
    Company {
        kvk: "10000006",
        name: "Schoonmaakbedrijf Schoon",
        city: "'s-Hertogenbosch",
        province: Province::NoordBrabant,
        sbi: "8121",
        level: Level::Trede1,
        from: "2025-06-01",
        cb: "kiwa",
    },
];

fn registry(db: &TestDatabase) -> Registry {
    let r = Registry::open(
        &DatabaseUrl::parse(&db.url).expect("url"),
        &PoolOptions::default(),
        SchemeRules::pso(),
    )
    .expect("open");
    for cb in ["kiwa", "normec"] {
        r.accredit(Accredit {
            id: CbId::parse(cb).expect("cb"),
            name: cb.into(),
            keys: KeySource::Inline(vec![]),
        })
        .expect("accredit");
    }
    for c in &COMPANIES {
        let by = Provenance::certification_body(CbId::parse(c.cb).expect("cb"), None);
        let command = IssueCertificate {
            cb_reference: CbReference::parse(&format!("REF-{}", c.kvk)).expect("ref"),
            holder: Holder {
                kvk_number: KvkNumber::parse(c.kvk).expect("kvk"),
                name: Name::parse(c.name).expect("name"),
                trade_names: vec![],
                city: Some(Name::parse(c.city).expect("city")),
                province: Some(c.province),
                sbi_codes: vec![SbiCode::parse(c.sbi).expect("sbi")],
            },
            subsidiaries: vec![],
            period: PeriodDraft {
                level: c.level,
                pso30plus: c.level == Level::Trede3,
                valid_from: date(c.from),
                valid_until: None,
                audit_date: date(c.from),
                reference_year: 2021,
                handbook_version: HandbookVersion::parse("2.1").expect("version"),
                score: Score {
                    percent: None,
                    total_fte: None,
                },
            },
            replaces: None,
        };
        let Issued::Created(cert) = r.issue(command, &by).expect("issue") else {
            panic!("new")
        };
        let change = |standing, reason: &str| ChangeStanding {
            number: cert.number().clone(),
            standing,
            reason: Some(reason.into()),
            effective_at: Some(at("2026-06-01")),
        };
        match c.kvk {
            "10000003" => drop(
                r.change_standing(change(Standing::Suspended, "audit"), &by)
                    .expect("suspend"),
            ),
            "10000006" => drop(
                r.change_standing(change(Standing::Revoked, "fraud"), &by)
                    .expect("revoke"),
            ),
            _ => {}
        }
    }
    r
}

/// A trede 1 period from `valid_from`, audited at the start of 2026.
fn trede_1_from(valid_from: &str) -> PeriodDraft {
    PeriodDraft {
        level: Level::Trede1,
        pso30plus: false,
        valid_from: date(valid_from),
        valid_until: None,
        audit_date: date("2026-01-01"),
        reference_year: 2025,
        handbook_version: HandbookVersion::parse("2.1").expect("version"),
        score: Score {
            percent: None,
            total_fte: None,
        },
    }
}

fn filter(on: &str) -> SearchFilter {
    SearchFilter {
        q: None,
        kvk: None,
        city: None,
        province: None,
        sbi: None,
        level_min: None,
        pso30plus: None,
        status: SearchStatus::Active,
        certification_body: None,
        at: at(on),
    }
}

fn names(r: &Registry, f: &SearchFilter) -> Vec<String> {
    r.search_companies(f, None, 50)
        .expect("search")
        .items
        .into_iter()
        .map(|h| h.company.name.as_str().to_owned())
        .collect()
}

fn names_found_with_typos_and_by_prefix(db: TestDatabase) {
    let r = registry(&db);
    let q = |q: &str| {
        names(
            &r,
            &SearchFilter {
                q: Some(q.into()),
                status: SearchStatus::Any,
                ..filter("2026-09-01")
            },
        )
    };
    assert_eq!(
        q("Drukerij").first().map(String::as_str),
        Some("Drukkerij Jansen B.V."),
        "a missing letter"
    );
    assert_eq!(
        q("drukkerij").first().map(String::as_str),
        Some("Drukkerij Jansen B.V.")
    );
    assert_eq!(q("Bouwbed"), ["Bouwbedrijf Jansen"], "a prefix");
    let jansen = q("jansen");
    assert_eq!(jansen.len(), 2, "{jansen:?}");
    assert!(
        q("bouwbedrijf jansen")
            .first()
            .is_some_and(|n| n == "Bouwbedrijf Jansen"),
        "both words, the better match first"
    );
    assert!(
        q("Janssen").len() == 2,
        "a doubled letter still finds Jansen"
    );
    assert!(q("xylofoon").is_empty());
    assert!(q("B.V.").is_empty(), "a legal form alone finds nothing");
}

fn each_filter_narrows_and_status_comes_from_the_rule(db: TestDatabase) {
    let r = registry(&db);
    let on = "2026-09-01";
    assert_eq!(
        names(&r, &filter(on)),
        ["Bouwbedrijf Jansen", "Drukkerij Jansen B.V."],
        "active by default"
    );
    let any = || SearchFilter {
        status: SearchStatus::Any,
        ..filter(on)
    };
    assert_eq!(names(&r, &any()).len(), 6);
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                status: SearchStatus::Suspended,
                ..filter(on)
            }
        ),
        ["Bakkerij de Vries"]
    );
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                status: SearchStatus::Revoked,
                ..filter(on)
            }
        ),
        ["Schoonmaakbedrijf Schoon"]
    );
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                status: SearchStatus::Expired,
                ..filter(on)
            }
        ),
        ["Groenvoorziening Zuid"]
    );
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                status: SearchStatus::NotYetValid,
                ..filter(on)
            }
        ),
        ["Metaalbewerking Oost"]
    );
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                status: SearchStatus::Active,
                ..filter("2027-06-01")
            }
        )
        .len(),
        3,
        "valid_on moves the day"
    );
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                province: Some(Province::Overijssel),
                ..any()
            }
        ),
        ["Bouwbedrijf Jansen", "Metaalbewerking Oost"]
    );
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                city: Some("UTRECHT".into()),
                ..any()
            }
        ),
        ["Bakkerij de Vries", "Drukkerij Jansen B.V."]
    );
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                city: Some("'s-hertogenbosch".into()),
                ..any()
            }
        ),
        ["Schoonmaakbedrijf Schoon"]
    );
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                sbi: Some("41".into()),
                ..any()
            }
        ),
        ["Bouwbedrijf Jansen"]
    );
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                sbi: Some("4120".into()),
                ..any()
            }
        ),
        ["Bouwbedrijf Jansen"]
    );
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                sbi: Some("81".into()),
                ..any()
            }
        ),
        ["Groenvoorziening Zuid", "Schoonmaakbedrijf Schoon"]
    );
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                level_min: Some(Level::Trede2),
                ..filter(on)
            }
        ),
        ["Bouwbedrijf Jansen", "Drukkerij Jansen B.V."]
    );
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                level_min: Some(Level::Trede3),
                ..any()
            }
        ),
        ["Bouwbedrijf Jansen"]
    );
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                pso30plus: Some(true),
                ..any()
            }
        ),
        ["Bouwbedrijf Jansen"]
    );
    let normec = Some(CbId::parse("normec").expect("cb"));
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                certification_body: normec.clone(),
                ..any()
            }
        ),
        ["Bouwbedrijf Jansen", "Groenvoorziening Zuid"]
    );
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                certification_body: normec,
                ..filter(on)
            }
        ),
        ["Bouwbedrijf Jansen"]
    );
    assert_eq!(
        names(
            &r,
            &SearchFilter {
                kvk: Some(KvkNumber::parse("10000003").expect("kvk")),
                ..any()
            }
        ),
        ["Bakkerij de Vries"]
    );
    let combined = SearchFilter {
        q: Some("jansen".into()),
        province: Some(Province::Utrecht),
        level_min: Some(Level::Trede1),
        ..filter(on)
    };
    assert_eq!(names(&r, &combined), ["Drukkerij Jansen B.V."]);
    let hit = r.search_companies(&filter(on), None, 1).expect("search");
    assert_eq!(hit.items[0].standing.level, Some(Level::Trede3));
    assert!(hit.next.is_some());
}

fn without_a_query_lists_are_ordered_by_name(db: TestDatabase) {
    let r = registry(&db);
    let all = names(
        &r,
        &SearchFilter {
            status: SearchStatus::Any,
            ..filter("2026-09-01")
        },
    );
    let mut sorted = all.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(all, sorted);
}

fn a_cursor_walk_sees_each_row_once(db: TestDatabase) {
    let r = registry(&db);
    for q in [None, Some("bedrijf")] {
        let f = SearchFilter {
            q: q.map(str::to_owned),
            status: SearchStatus::Any,
            ..filter("2026-09-01")
        };
        let everything = names(&r, &f);
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = r.search_companies(&f, cursor.as_ref(), 2).expect("page");
            seen.extend(
                page.items
                    .into_iter()
                    .map(|h| h.company.name.as_str().to_owned()),
            );
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, everything, "{q:?}");
    }
}

fn certificates_are_searched_by_their_own_standing(db: TestDatabase) {
    let r = registry(&db);
    let f = |status| SearchFilter {
        status,
        ..filter("2026-09-01")
    };
    let holders = |f: &SearchFilter| -> Vec<String> {
        r.search_certificates(f, None, 50)
            .expect("search")
            .items
            .into_iter()
            .map(|c| c.holder.name.as_str().to_owned())
            .collect()
    };
    assert_eq!(
        holders(&f(SearchStatus::Active)),
        ["Bouwbedrijf Jansen", "Drukkerij Jansen B.V."]
    );
    assert_eq!(holders(&f(SearchStatus::Any)).len(), 6);
    assert_eq!(
        holders(&SearchFilter {
            q: Some("drukerij".into()),
            ..f(SearchStatus::Any)
        }),
        ["Drukkerij Jansen B.V."]
    );
    assert_eq!(
        holders(&SearchFilter {
            level_min: Some(Level::Trede3),
            ..f(SearchStatus::Active)
        }),
        ["Bouwbedrijf Jansen"]
    );
    let page = r
        .search_certificates(&f(SearchStatus::Any), None, 4)
        .expect("page");
    let rest = r
        .search_certificates(&f(SearchStatus::Any), page.next.as_ref(), 4)
        .expect("rest");
    assert_eq!(page.items.len() + rest.items.len(), 6);
    assert!(rest.next.is_none());
}

/// Ranked search reads a tier's posting lists whole when they are short and
/// walks them in KvK order when they are long; both must give one order —
/// score, then KvK number — and a cursor walk must see every match once.
fn long_posting_lists_are_walked_in_the_order_short_ones_are_ranked(db: TestDatabase) {
    let r = registry(&db);
    let firsts = ["Drukkerij", "Drukkerijen", "Drukker", "Bouwbedrijf", "Bouw"];
    let lasts = [
        "Jansen",
        "Janssen",
        "Jans",
        "de Vries",
        "Vries",
        "van den Berg",
    ];
    let by = Provenance::certification_body(CbId::parse("kiwa").expect("cb"), None);
    r.batch(|batch| {
        for i in 0..240u32 {
            // Numbers out of insertion order, each surname in a range of its
            // own: alike words ("jansen", "janssen") have lists far apart.
            let last = (i as usize / firsts.len()) % lasts.len();
            let kvk = format!("{}{:07}", 2 + last, (i * 7919) % 1_000_000);
            let name = format!("{} {}", firsts[(i as usize) % firsts.len()], lasts[last]);
            let command = IssueCertificate {
                cb_reference: CbReference::parse(&format!("BULK-{i}")).expect("ref"),
                holder: Holder {
                    kvk_number: KvkNumber::parse(&kvk).expect("kvk"),
                    name: Name::parse(&name).expect("name"),
                    trade_names: if i % 4 == 0 {
                        vec![Name::parse("Jansen Print").expect("trade name")]
                    } else {
                        vec![]
                    },
                    city: Some(Name::parse("Utrecht").expect("city")),
                    province: Some(Province::Utrecht),
                    sbi_codes: vec![
                        SbiCode::parse(if i % 2 == 0 { "1812" } else { "4120" }).expect("sbi"),
                    ],
                },
                subsidiaries: vec![],
                period: trede_1_from(if i % 3 == 0 {
                    "2027-01-01"
                } else {
                    "2026-01-01"
                }),
                replaces: None,
            };
            batch.issue(&command, &by)?;
        }
        Ok(())
    })
    .expect("bulk issue");
    let walked = r.clone().with_search_band(3);
    let whole = r.clone().with_search_band(1_000_000);
    let walk = |r: &Registry, f: &SearchFilter, page: i64| -> Vec<String> {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let p = r.search_companies(f, cursor.as_ref(), page).expect("page");
            seen.extend(
                p.items
                    .into_iter()
                    .map(|h| h.company.kvk_number.to_string()),
            );
            match p.next {
                Some(next) => cursor = Some(next),
                None => return seen,
            }
        }
    };
    let walk_certificates = |r: &Registry, f: &SearchFilter| -> Vec<String> {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let p = r.search_certificates(f, cursor.as_ref(), 6).expect("page");
            seen.extend(p.items.into_iter().map(|c| c.number().to_string()));
            match p.next {
                Some(next) => cursor = Some(next),
                None => return seen,
            }
        }
    };
    for q in [
        "drukkerij",
        "drukerij jansen",
        "jansen",
        "bouw vries",
        "jans",
        "drukker de vries",
        "print",
    ] {
        // A third are not yet valid: a page of those reads on past the first chunk.
        // Half are in construction (SBI 41): a filter the walk applies as it reads.
        for (status, sbi) in [
            (SearchStatus::Any, None),
            (SearchStatus::Active, None),
            (SearchStatus::NotYetValid, None),
            (SearchStatus::Any, Some("41")),
            (SearchStatus::NotYetValid, Some("41")),
        ] {
            let f = SearchFilter {
                q: Some(q.into()),
                status,
                sbi: sbi.map(str::to_owned),
                ..filter("2026-09-01")
            };
            let reference = walk(&whole, &f, 500);
            assert!(
                sbi.is_some() || reference.len() >= 3,
                "{q} {status:?} {sbi:?}: {} found",
                reference.len()
            );
            let unique: std::collections::BTreeSet<&String> = reference.iter().collect();
            assert_eq!(unique.len(), reference.len(), "{q}: a company twice");
            assert_eq!(
                walk(&walked, &f, 500),
                reference,
                "{q} {status:?} {sbi:?}, one page"
            );
            assert_eq!(
                walk(&walked, &f, 7),
                reference,
                "{q} {status:?} {sbi:?}, walked in pages"
            );
            assert_eq!(
                walk(&whole, &f, 7),
                reference,
                "{q} {status:?} {sbi:?}, whole in pages"
            );
            assert_eq!(
                walk_certificates(&walked, &f),
                walk_certificates(&whole, &f),
                "{q} {status:?} {sbi:?}, certificates"
            );
        }
    }
    // Without a query, a sector's companies come by name from its codes' own
    // index: the same list, page by page, as every company filtered here; also
    // after a subsidiary's new name moves it in the order.
    let sector = |r: &Registry, page: i64| -> Vec<String> {
        let f = SearchFilter {
            sbi: Some("41".into()),
            status: SearchStatus::Any,
            ..filter("2026-09-01")
        };
        walk(r, &f, page)
    };
    let everyone = SearchFilter {
        status: SearchStatus::Any,
        ..filter("2026-09-01")
    };
    let by_hand = |r: &Registry| -> Vec<String> {
        let mut kvks = Vec::new();
        let mut cursor = None;
        loop {
            let p = r
                .search_companies(&everyone, cursor.as_ref(), 500)
                .expect("page");
            kvks.extend(
                p.items
                    .iter()
                    .filter(|h| {
                        h.company
                            .sbi_codes
                            .iter()
                            .any(|c| c.as_str().starts_with("41"))
                    })
                    .map(|h| h.company.kvk_number.to_string()),
            );
            match p.next {
                Some(next) => cursor = Some(next),
                None => return kvks,
            }
        }
    };
    let reference = by_hand(&r);
    assert!(reference.len() > 100, "{} in the sector", reference.len());
    assert_eq!(sector(&r, 7), reference);
    assert_eq!(sector(&r, 500), reference);
    let renamed = Provenance::certification_body(CbId::parse("normec").expect("cb"), None);
    r.issue(
        IssueCertificate {
            cb_reference: CbReference::parse("GROUP-1").expect("ref"),
            holder: Holder {
                kvk_number: KvkNumber::parse("90000001").expect("kvk"),
                name: Name::parse("Holding Noord").expect("name"),
                trade_names: vec![],
                city: None,
                province: None,
                sbi_codes: vec![],
            },
            subsidiaries: vec![Subsidiary {
                kvk_number: KvkNumber::parse(&reference[reference.len() / 2]).expect("kvk"),
                name: Name::parse("Aaa Eerste Bouw").expect("name"),
            }],
            period: trede_1_from("2026-01-01"),
            replaces: None,
        },
        &renamed,
    )
    .expect("issue with a subsidiary");
    let moved = by_hand(&r);
    assert_eq!(moved[0], reference[reference.len() / 2], "renamed first");
    assert_eq!(sector(&r, 7), moved);

    // Within a score, KvK order: an exact word outranks a prefix and a typo.
    let f = SearchFilter {
        q: Some("drukkerij".into()),
        status: SearchStatus::Any,
        ..filter("2026-09-01")
    };
    let page = walked.search_companies(&f, None, 500).expect("search");
    let names: Vec<&str> = page.items.iter().map(|h| h.company.name.as_str()).collect();
    let exact = names
        .iter()
        .take_while(|n| n.starts_with("Drukkerij "))
        .count();
    assert!(exact >= 48, "{exact} exact matches first: {names:?}");
    let kvks: Vec<&str> = page.items[..exact]
        .iter()
        .map(|h| h.company.kvk_number.as_str())
        .collect();
    assert!(
        kvks.windows(2).all(|w| w[0] < w[1]),
        "KvK order within a score"
    );
}

/// Issuances that bring the same new word at once each find it in the
/// vocabulary (on PostgreSQL one of them adds it while the others wait), and
/// every company is found by it.
fn a_new_word_written_by_concurrent_issuances_finds_every_company(db: TestDatabase) {
    let r = registry(&db);
    let threads: Vec<_> = (0..16u32)
        .map(|i| {
            let r = r.clone();
            std::thread::spawn(move || {
                let by = Provenance::certification_body(CbId::parse("kiwa").expect("cb"), None);
                let command = IssueCertificate {
                    cb_reference: CbReference::parse(&format!("NEW-{i}")).expect("ref"),
                    holder: Holder {
                        kvk_number: KvkNumber::parse(&format!("{}", 30_000_000 + i)).expect("kvk"),
                        name: Name::parse(&format!("Zwyzzerij Nieuwwoord {i}")).expect("name"),
                        trade_names: vec![],
                        city: None,
                        province: None,
                        sbi_codes: vec![],
                    },
                    subsidiaries: vec![],
                    period: trede_1_from("2026-01-01"),
                    replaces: None,
                };
                r.issue(command, &by).expect("issue");
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    for q in ["zwyzzerij", "nieuwwoord", "zwyzerij nieuwoord"] {
        let found = r
            .search_companies(
                &SearchFilter {
                    q: Some(q.into()),
                    ..filter("2026-09-01")
                },
                None,
                50,
            )
            .expect("search")
            .items
            .len();
        assert_eq!(found, 16, "{q}");
    }
}
