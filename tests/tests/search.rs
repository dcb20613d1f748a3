//! Search over HTTP on both backends: names with typos and prefixes, each filter,
//! ordering, strict parameters, company detail, and a cursor walk while
//! certificates are being issued.

use std::collections::BTreeSet;

use pso_registry_tests::cb::{TestCb, certificate};
use pso_registry_tests::{TestApp, expect_problem, json, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    typos_prefixes_and_filters,
    company_detail_lists_its_certificates,
    unknown_or_malformed_parameters_are_named,
    a_cursor_walk_sees_every_row_once_while_rows_are_added,
);

struct Fixture {
    kvk: &'static str,
    name: &'static str,
    city: &'static str,
    province: &'static str,
    sbi: &'static str,
    level: &'static str,
}

const FIXTURES: [Fixture; 5] = [
    Fixture {
        kvk: "30000001",
        name: "Drukkerij Jansen B.V.",
        city: "Utrecht",
        province: "Utrecht",
        sbi: "1812",
        level: "trede_2",
    },
    Fixture {
        kvk: "30000002",
        name: "Bouwbedrijf Jansen",
        city: "Zwolle",
        province: "Overijssel",
        sbi: "4120",
        level: "trede_3",
    },
    Fixture {
        kvk: "30000003",
        name: "Bakkerij De Vries",
        city: "Utrecht",
        province: "Utrecht",
        sbi: "1071",
        level: "trede_1",
    },
    Fixture {
        kvk: "30000004",
        name: "Metaalwerken Oost",
        city: "Enschede",
        province: "Overijssel",
        sbi: "2562",
        level: "basistrede",
    },
    Fixture {
        kvk: "30000005",
        name: "Groen & Schoon Zuid",
        city: "Eindhoven",
        province: "Noord-Brabant",
        sbi: "8130",
        level: "aspirant",
    },
];

async fn setup(app: &TestApp) -> TestCb {
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    for f in &FIXTURES {
        let mut payload = certificate(&format!("K-{}", f.kvk), f.kvk, f.level, "2026-01-15");
        payload["certificate"]["holder"] = json!({"kvkNumber": f.kvk, "name": f.name, "city": f.city,
                                                  "province": f.province, "sbiCodes": [f.sbi]});
        payload["certificate"]["pso30plus"] = json!(f.level == "trede_3");
        app.issue(&kiwa, payload).await;
    }
    kiwa
}

async fn names(app: &TestApp, query: &str) -> Vec<String> {
    let response = app.get(&format!("/v1/companies?{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    let body = json(response).await;
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_owned())
        .collect()
}

async fn typos_prefixes_and_filters(app: &TestApp) {
    let kiwa = setup(app).await;
    assert_eq!(
        names(app, "q=Drukerij").await.first().map(String::as_str),
        Some("Drukkerij Jansen B.V."),
        "typo"
    );
    assert_eq!(
        names(app, "q=Bouwbed").await,
        ["Bouwbedrijf Jansen"],
        "prefix"
    );
    assert_eq!(names(app, "q=jansen").await.len(), 2);
    assert_eq!(
        names(app, "q=bouwbedrijf%20jansen")
            .await
            .first()
            .map(String::as_str),
        Some("Bouwbedrijf Jansen"),
        "relevance"
    );
    assert_eq!(
        names(app, "").await,
        [
            "Bakkerij De Vries",
            "Bouwbedrijf Jansen",
            "Drukkerij Jansen B.V.",
            "Groen & Schoon Zuid",
            "Metaalwerken Oost"
        ],
        "by name without q"
    );
    assert_eq!(
        names(app, "city=utrecht").await,
        ["Bakkerij De Vries", "Drukkerij Jansen B.V."]
    );
    assert_eq!(
        names(app, "province=Overijssel").await,
        ["Bouwbedrijf Jansen", "Metaalwerken Oost"]
    );
    assert_eq!(names(app, "sbi=41").await, ["Bouwbedrijf Jansen"]);
    assert_eq!(
        names(app, "levelMin=trede_2").await,
        ["Bouwbedrijf Jansen", "Drukkerij Jansen B.V."]
    );
    assert_eq!(names(app, "pso30plus=true").await, ["Bouwbedrijf Jansen"]);
    assert_eq!(names(app, "kvk=30000003").await, ["Bakkerij De Vries"]);
    assert_eq!(names(app, "certificationBody=kiwa").await.len(), 5);
    assert!(names(app, "certificationBody=normec").await.is_empty());
    assert!(
        names(app, "validOn=2025-12-01").await.is_empty(),
        "nothing was valid yet"
    );
    assert_eq!(
        names(app, "validOn=2025-12-01&status=not_yet_valid")
            .await
            .len(),
        5
    );
    assert_eq!(
        names(app, "q=jansen&province=Utrecht&levelMin=trede_1").await,
        ["Drukkerij Jansen B.V."],
        "combined"
    );

    // A suspension takes a company out of the default (active) list.
    let response = json(app.get("/v1/certificates?kvk=30000003").await).await;
    let number = response["items"][0]["number"]
        .as_str()
        .expect("number")
        .to_owned();
    let suspend = kiwa.request(app, "suspend", Some(&number), json!({"reason": "audit"}));
    assert_eq!(
        app.post_jws(&format!("/v1/certificates/{number}/suspension"), &suspend)
            .await
            .status(),
        200
    );
    assert!(
        !names(app, "")
            .await
            .contains(&"Bakkerij De Vries".to_owned())
    );
    assert_eq!(names(app, "status=suspended").await, ["Bakkerij De Vries"]);
    let hit = json(app.get("/v1/companies?status=suspended").await).await;
    assert_eq!(hit["items"][0]["standing"]["status"], "suspended");
    assert_eq!(
        hit["items"][0]["standing"]["certificateNumber"],
        number.as_str()
    );
    assert_eq!(names(app, "status=any").await.len(), 5);

    let certificates = json(app.get("/v1/certificates?q=metaalwerk&status=any").await).await;
    assert_eq!(
        certificates["items"][0]["holder"]["name"],
        "Metaalwerken Oost"
    );
    let suspended = json(app.get("/v1/certificates?status=suspended").await).await;
    assert_eq!(suspended["items"].as_array().map(Vec::len), Some(1));
}

async fn company_detail_lists_its_certificates(app: &TestApp) {
    let kiwa = setup(app).await;
    let normec = TestCb::ed25519("normec");
    app.accredit(&normec).await;
    let old = json(app.get("/v1/certificates?kvk=30000001").await).await["items"][0]["number"]
        .as_str()
        .expect("n")
        .to_owned();
    let mut replacing = certificate("N-1", "30000001", "trede_3", "2026-03-01");
    replacing["certificate"]["replaces"] = json!(old);
    let new = app.issue(&normec, replacing).await;
    let detail = json(app.get("/v1/companies/30000001").await).await;
    assert_eq!(detail["kvkNumber"], "30000001", "{detail}");
    assert_eq!(detail["standing"]["certificateNumber"], new.as_str());
    let numbers: Vec<&str> = detail["certificates"]
        .as_array()
        .expect("certs")
        .iter()
        .map(|c| c["number"].as_str().expect("n"))
        .collect();
    assert_eq!(numbers, [new.as_str(), old.as_str()], "current first");
    assert_eq!(detail["certificates"][1]["status"], "superseded");
    expect_problem(app.get("/v1/companies/99999999").await, 404, "not-found").await;
    expect_problem(app.get("/v1/companies/999").await, 400, "invalid-parameter").await;
    let _ = kiwa;
}

async fn unknown_or_malformed_parameters_are_named(app: &TestApp) {
    let many = format!("/v1/companies?{}", "q=ab&".repeat(40));
    let cases = [
        ("/v1/companies?provnce=Utrecht", "provnce"),
        ("/v1/companies?province=Vlaanderen", "province"),
        ("/v1/companies?q=a", "q"),
        ("/v1/companies?levelMin=top", "levelMin"),
        ("/v1/companies?pso30plus=yes", "pso30plus"),
        ("/v1/companies?status=sleeping", "status"),
        ("/v1/companies?sbi=4", "sbi"),
        ("/v1/companies?kvk=123", "kvk"),
        ("/v1/companies?validOn=2026-02-30", "validOn"),
        (
            "/v1/companies?certificationBody=Kiwa%20NL",
            "certificationBody",
        ),
        ("/v1/companies?limit=10&limit=20", "limit"),
        ("/v1/certificates?cursor=abc", "cursor"),
        ("/v1/certificates?colour=red", "colour"),
        ("/v1/events?after=x", "after"),
        ("/v1/events?since=1", "since"),
        ("/v1/companies/12345678/status?date=2026-01-01", "date"),
        ("/v1/certification-bodies?all=1", "all"),
        ("/v1/companies?city=", "city"),
        (many.as_str(), "query"),
        ("/v1/certificates/PSO-2026-000001?x=1", "x"),
    ];
    for (path, parameter) in cases {
        let problem = expect_problem(app.get(path).await, 400, "invalid-parameter").await;
        assert_eq!(problem["errors"][0]["field"], parameter, "{path}");
    }
    // The names of before the contract's revision are refused, and the new name
    // is suggested; so is the name a typo meant.
    for (path, old, new) in [
        ("/v1/companies?level_min=trede_2", "level_min", "levelMin"),
        ("/v1/companies?valid_on=2026-06-01", "valid_on", "validOn"),
        (
            "/v1/certificates?certification_body=kiwa",
            "certification_body",
            "certificationBody",
        ),
        (
            "/v1/companies/12345678/status?level_min=trede_2",
            "level_min",
            "levelMin",
        ),
        ("/v1/companies?provnce=Utrecht", "provnce", "province"),
    ] {
        let problem = expect_problem(app.get(path).await, 400, "invalid-parameter").await;
        assert_eq!(problem["errors"][0]["field"], old, "{path}");
        let hint = format!("did you mean {new}?");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.ends_with(&hint))
                && problem["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains(&hint)),
            "{path}: {problem}"
        );
    }
    // Every fault at once.
    let problem = expect_problem(
        app.get("/v1/companies?kvk=1&levelMin=gold&limit=0").await,
        400,
        "invalid-parameter",
    )
    .await;
    let mut fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["kvk", "levelMin", "limit"]);
}

async fn a_cursor_walk_sees_every_row_once_while_rows_are_added(app: &TestApp) {
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    let mut before = BTreeSet::new();
    for i in 0..120 {
        let kvk = format!("{:08}", 40_000_000 + i * 7);
        let mut payload = certificate(&format!("W-{i}"), &kvk, "trede_1", "2026-01-15");
        payload["certificate"]["holder"]["name"] =
            json!(format!("Werkplaats {:03} B.V.", (i * 37) % 120));
        app.issue(&kiwa, payload).await;
        before.insert(kvk);
    }
    for query in ["limit=7", "limit=7&q=werkplaats"] {
        let mut seen = Vec::new();
        let mut path = format!("/v1/companies?{query}");
        let mut added = 0;
        loop {
            let response = app.get(&path).await;
            let link = response
                .headers()
                .get("link")
                .map(|v| v.to_str().expect("ascii").to_owned());
            let body: Value = json(response).await;
            seen.extend(
                body["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .map(|c| c["kvkNumber"].as_str().expect("kvk").to_owned()),
            );
            // Others keep issuing while the walk goes on.
            for _ in 0..2 {
                let kvk = format!(
                    "{:08}",
                    50_000_000 + added + if query.contains('q') { 500 } else { 0 }
                );
                let mut payload = certificate(&format!("NEW-{kvk}"), &kvk, "trede_1", "2026-01-15");
                payload["certificate"]["holder"]["name"] =
                    json!(format!("Werkplaats Nieuw {added}"));
                app.issue(&kiwa, payload).await;
                added += 1;
            }
            match link {
                Some(link) => {
                    path = link
                        .trim_start_matches('<')
                        .split('>')
                        .next()
                        .expect("target")
                        .to_owned()
                }
                None => break,
            }
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{query}: a row seen twice");
        assert!(
            before.iter().all(|k| unique.contains(k)),
            "{query}: a row present from the start was missed"
        );
    }
}
