//! Public reads over HTTP on both backends: the status answer walked through
//! API.md's table, batches, and HTTP caching.

use pso_registry_tests::cb::{TestCb, certificate};
use pso_registry_tests::{TestApp, expect_problem, json, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    the_status_timeline_over_http,
    malformed_status_questions_name_the_parameter,
    batch_answers_in_request_order,
    etags_change_exactly_when_the_representation_does,
);

const MAIN: &str = "12345678";
const SUBSIDIARY: &str = "87654321";

/// A trede_1 certificate from 2026-01-15 (two years), covering a subsidiary,
/// renewed at trede_2 from 2028-01-15, suspended for June 2026.
async fn timeline(app: &TestApp) -> (TestCb, String) {
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    let mut payload = certificate("KIWA-1", MAIN, "trede_1", "2026-01-15");
    payload["certificate"]["subsidiaries"] =
        json!([{"kvkNumber": SUBSIDIARY, "name": "Dochter B.V."}]);
    let number = app.issue(&kiwa, payload).await;
    let sub = Some(number.as_str());
    let period = json!({"period": {"level": "trede_2", "validFrom": "2028-01-15", "auditDate": "2027-12-01",
                                   "referenceYear": 2027, "handbookVersion": "2.1"}});
    let steps = [
        ("renewals", "renew", period),
        (
            "suspension",
            "suspend",
            json!({"reason": "audit", "effectiveAt": "2026-06-01T08:00:00Z"}),
        ),
        (
            "reinstatement",
            "reinstate",
            json!({"effectiveAt": "2026-07-01T08:00:00Z"}),
        ),
    ];
    for (path, act, payload) in steps {
        let response = app
            .post_jws(
                &format!("/v1/certificates/{number}/{path}"),
                &kiwa.request(app, act, sub, payload),
            )
            .await;
        assert_eq!(response.status(), 200, "{act}");
    }
    (kiwa, number)
}

async fn status(app: &TestApp, kvk: &str, query: &str) -> Value {
    let response = app
        .get(&format!("/v1/companies/{kvk}/status?{query}"))
        .await;
    assert_eq!(response.status(), 200, "{query}");
    json(response).await
}

async fn the_status_timeline_over_http(app: &TestApp) {
    let (_, number) = timeline(app).await;
    // query, certified, status, level
    let table: [(&str, bool, &str, Option<&str>); 16] = [
        ("on=2026-01-14", false, "not_yet_valid", None),
        ("on=2026-01-15", true, "active", Some("trede_1")),
        ("on=2026-01-14T23:00:00Z", true, "active", Some("trede_1")),
        ("on=2026-05-31", true, "active", Some("trede_1")),
        ("on=2026-06-15", false, "suspended", None),
        ("on=2026-07-01T08:00:00Z", true, "active", Some("trede_1")),
        ("on=2028-01-14", true, "active", Some("trede_1")),
        ("on=2028-01-15", true, "active", Some("trede_2")),
        ("on=2030-01-14", true, "active", Some("trede_2")),
        ("on=2030-01-15", false, "expired", None),
        (
            "on=2026-02-01&until=2026-05-31",
            true,
            "active",
            Some("trede_1"),
        ),
        (
            "on=2026-02-01&until=2026-06-01",
            false,
            "active",
            Some("trede_1"),
        ),
        (
            "on=2027-06-01&until=2028-06-01",
            true,
            "active",
            Some("trede_1"),
        ),
        (
            "on=2027-06-01&until=2028-06-01&levelMin=trede_2",
            false,
            "active",
            Some("trede_1"),
        ),
        (
            "on=2028-01-15&until=2030-01-14&levelMin=trede_2",
            true,
            "active",
            Some("trede_2"),
        ),
        (
            "on=2028-01-15&until=2030-01-15",
            false,
            "active",
            Some("trede_2"),
        ),
    ];
    for (query, certified, status_then, level) in table {
        for kvk in [MAIN, SUBSIDIARY] {
            let answer = status(app, kvk, query).await;
            assert_eq!(
                (
                    answer["certified"].as_bool(),
                    answer["status"].as_str(),
                    answer["level"].as_str()
                ),
                (Some(certified), Some(status_then), level),
                "{kvk} {query}: {answer}"
            );
            assert_eq!(answer["kvkNumber"], kvk);
            assert_eq!(answer["certificateNumber"], number.as_str());
            assert_eq!(answer["certificationBody"], "kiwa");
            assert!(
                answer["checkedAt"]
                    .as_str()
                    .is_some_and(|t| t.ends_with('Z'))
            );
        }
    }
    let answer = status(app, MAIN, "on=2026-06-01&until=2027-05-31").await;
    assert_eq!(
        answer["on"], "2026-05-31T22:00:00Z",
        "a date means the start of that day in Amsterdam"
    );
    assert_eq!(
        answer["until"], "2027-05-31T22:00:00Z",
        "a date for until runs to the end of that day"
    );
    assert_eq!(answer["validUntil"], "2028-01-15");
    let unknown = status(app, "99999999", "on=2026-06-01").await;
    assert_eq!(
        (unknown["certified"].as_bool(), unknown["status"].as_str()),
        (Some(false), Some("not_certified"))
    );
    assert_eq!(unknown["certificateNumber"], Value::Null);
    let now = status(app, MAIN, "").await;
    assert_eq!(
        now["status"], "active",
        "on defaults to now (2026-11-30 is inside the first period)"
    );
}

async fn malformed_status_questions_name_the_parameter(app: &TestApp) {
    let cases = [
        ("/v1/companies/1234567/status", "kvk"),
        ("/v1/companies/1234567a/status", "kvk"),
        ("/v1/companies/12345678/status?on=2026-02-30", "on"),
        ("/v1/companies/12345678/status?on=tomorrow", "on"),
        ("/v1/companies/12345678/status?until=2026-1-1", "until"),
        (
            "/v1/companies/12345678/status?on=2026-06-01&until=2026-05-31",
            "until",
        ),
        ("/v1/companies/12345678/status?levelMin=trede_4", "levelMin"),
    ];
    for (path, parameter) in cases {
        let problem = expect_problem(app.get(path).await, 400, "invalid-parameter").await;
        assert_eq!(problem["errors"][0]["field"], parameter, "{path}");
    }
}

async fn batch_answers_in_request_order(app: &TestApp) {
    timeline(app).await;
    let body = json!({"kvkNumbers": ["99999999", MAIN, SUBSIDIARY, MAIN], "on": "2026-03-01", "levelMin": "trede_1"});
    let response = app
        .client
        .post(app.url("/v1/status/batch"))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let items = json(response).await["items"]
        .as_array()
        .expect("items")
        .clone();
    let got: Vec<(&str, bool)> = items
        .iter()
        .map(|a| {
            (
                a["kvkNumber"].as_str().expect("kvk"),
                a["certified"].as_bool().expect("bool"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("99999999", false),
            (MAIN, true),
            (SUBSIDIARY, true),
            (MAIN, true)
        ]
    );

    let thousand: Vec<String> = (0..1000)
        .map(|i| format!("{:08}", 20_000_000 + i))
        .collect();
    let response = app
        .client
        .post(app.url("/v1/status/batch"))
        .json(&json!({"kvkNumbers": thousand}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(
        json(response).await["items"].as_array().map(Vec::len),
        Some(1000)
    );

    let too_many: Vec<String> = (0..1001).map(|i| format!("{:08}", i)).collect();
    let response = app
        .client
        .post(app.url("/v1/status/batch"))
        .json(&json!({"kvkNumbers": too_many}))
        .send()
        .await
        .expect("request");
    let problem = expect_problem(response, 422, "validation-failed").await;
    assert_eq!(problem["errors"][0]["field"], "kvkNumbers");
    let bad = json!({"kvkNumbers": [MAIN, "123"], "until": "later"});
    let response = app
        .client
        .post(app.url("/v1/status/batch"))
        .json(&bad)
        .send()
        .await
        .expect("request");
    let problem = expect_problem(response, 422, "validation-failed").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    assert_eq!(fields, ["kvkNumbers[1]", "until"]);
}

async fn etags_change_exactly_when_the_representation_does(app: &TestApp) {
    let (kiwa, number) = timeline(app).await;
    let path = format!("/v1/certificates/{number}");
    let first = app.get(&path).await;
    let etag = first.headers()["etag"].to_str().expect("ascii").to_owned();
    assert!(
        first.headers()["cache-control"]
            .to_str()
            .expect("ascii")
            .contains("no-cache")
    );
    let second = app.get(&path).await;
    assert_eq!(
        second.headers()["etag"],
        etag.as_str(),
        "same representation, same tag"
    );
    let cached = app.get_if_none_match(&path, &etag).await;
    assert_eq!(cached.status(), 304);
    assert!(cached.text().await.expect("body").is_empty());

    let status_path = format!("/v1/companies/{MAIN}/status?on=2027-01-01");
    let a = app.get(&status_path).await;
    let status_tag = a.headers()["etag"].to_str().expect("ascii").to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let b = app.get(&status_path).await;
    assert_eq!(
        b.headers()["etag"],
        status_tag.as_str(),
        "checkedAt alone does not change the tag"
    );
    let revalidated = app.get_if_none_match(&status_path, &status_tag).await;
    assert_eq!(revalidated.status(), 304);

    let revoke = kiwa.request(
        app,
        "revoke",
        Some(&number),
        json!({"reason": "fraud", "effectiveAt": "2026-12-01T00:00:00Z"}),
    );
    assert_eq!(
        app.post_jws(&format!("/v1/certificates/{number}/revocation"), &revoke)
            .await
            .status(),
        200
    );
    let changed = app.get_if_none_match(&path, &etag).await;
    assert_eq!(
        changed.status(),
        200,
        "a write changes the representation and its tag"
    );
    assert_ne!(changed.headers()["etag"], etag.as_str());
    let status_changed = app.get_if_none_match(&status_path, &status_tag).await;
    assert_eq!(status_changed.status(), 200);
    assert_eq!(json(status_changed).await["status"], "revoked");
}
