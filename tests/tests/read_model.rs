//! Reads from memory, seen from outside: every answer names the register state
//! it reflects (`Register-Seq`, part of the `ETag`); a client reads its own
//! write at once; a replica on the same PostgreSQL reads another's writes
//! within a second; a restarted server answers as before.

use std::time::{Duration, Instant};

use pso_registry_tests::cb::{TestCb, certificate};
use pso_registry_tests::{Backend, TestApp, json, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    every_read_names_the_state_it_reflects,
    a_restarted_server_answers_as_before
);

fn seq_of(response: &reqwest::Response) -> i64 {
    response
        .headers()
        .get("register-seq")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Register-Seq on {}", response.url()))
}

fn etag_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("ETag")
        .to_owned()
}

/// An issuance with a subsidiary and a name to search by.
fn with_subsidiary(reference: &str, kvk: &str, subsidiary: &str, name: &str) -> Value {
    let mut payload = certificate(reference, kvk, "trede_2", "2026-01-15");
    payload["certificate"]["holder"]["name"] = json!(name);
    payload["certificate"]["subsidiaries"] =
        json!([{"kvkNumber": subsidiary, "name": format!("{name} Vastgoed B.V.")}]);
    payload
}

async fn every_read_names_the_state_it_reflects(app: &TestApp) {
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    let number = app
        .issue(
            &kiwa,
            with_subsidiary("R-1", "12345678", "87654321", "Drukkerij Zeef"),
        )
        .await;
    let reads = [
        "/v1/companies/87654321/status".to_owned(),
        "/v1/companies?q=drukkerij".to_owned(),
        "/v1/companies/12345678".to_owned(),
        "/v1/certificates?status=any".to_owned(),
        format!("/v1/certificates/{number}"),
    ];
    let last = app.last_seq().await;
    for path in &reads {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(seq_of(&response), last, "{path} reflects the last event");
    }
    let batch = app
        .client
        .post(app.url("/v1/status/batch"))
        .json(&json!({"kvkNumbers": ["12345678", "87654321"]}))
        .send()
        .await
        .expect("batch");
    assert_eq!(seq_of(&batch), last);
    // The client reads its own write at once: certified, by name, as a subsidiary.
    let body = json(app.get("/v1/companies/87654321/status").await).await;
    assert_eq!(body["certified"], true, "{body}");
    let found = json(app.get("/v1/companies?q=zeef").await).await;
    assert_eq!(found["items"][0]["kvkNumber"], "12345678", "{found}");

    // A write elsewhere moves the state, and with it every tag: an unchanged
    // answer of an earlier state is not taken for current.
    let unrelated = "/v1/companies/99999999/status?on=2026-06-01";
    let before = app.get(unrelated).await;
    let (tag, body_before) = (etag_of(&before), json(before).await);
    assert_eq!(
        app.get_if_none_match(unrelated, &tag).await.status(),
        304,
        "the same state, the same answer"
    );
    app.issue(
        &kiwa,
        certificate("R-2", "22345678", "trede_1", "2026-02-01"),
    )
    .await;
    let after = app.get_if_none_match(unrelated, &tag).await;
    assert_eq!(after.status(), 200, "a later state: the answer again");
    assert!(seq_of(&after) > last);
    assert_ne!(etag_of(&after), tag);
    let body_after = json(after).await;
    assert_eq!(
        (
            body_after["status"].clone(),
            body_after["certified"].clone()
        ),
        (
            body_before["status"].clone(),
            body_before["certified"].clone()
        )
    );
    // Readiness says the state too.
    let ready = json(app.get("/readyz").await).await;
    assert_eq!(ready["seq"], app.last_seq().await, "{ready}");
}

/// What a client sees of the register (minus the moment of answering).
async fn snapshot(app: &TestApp, numbers: &[String]) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut paths: Vec<String> = [
        "/v1/companies?status=any&limit=500",
        "/v1/companies?q=drukkerij&status=any",
        "/v1/companies?q=drukerij%20zeef&status=any",
        "/v1/certificates?status=any&limit=500",
        "/v1/certificates?status=suspended",
        "/v1/companies/12345678",
        "/v1/companies/87654321",
        "/v1/companies/12345678/status?on=2026-06-01&until=2027-05-31&levelMin=trede_2",
        "/v1/companies/87654321/status?on=2027-06-01",
    ]
    .iter()
    .map(|p| (*p).to_owned())
    .collect();
    paths.extend(numbers.iter().map(|n| format!("/v1/certificates/{n}")));
    for path in paths {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        let mut body = json(response).await;
        if let Some(o) = body.as_object_mut() {
            o.remove("checkedAt");
        }
        seen.push(json!({"path": path, "body": body}));
    }
    seen
}

async fn a_restarted_server_answers_as_before(app: &TestApp) {
    // The harness owns `app`; a copy of its database is restarted on here.
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    let first = app
        .issue(
            &kiwa,
            with_subsidiary("S-1", "12345678", "87654321", "Drukkerij Zeef"),
        )
        .await;
    let second = app
        .issue(
            &kiwa,
            with_subsidiary("S-2", "32345678", "87654321", "Drukkerij Zeefdruk"),
        )
        .await;
    let renewal = json!({"period": {"level": "trede_3", "pso30plus": true, "validFrom": "2027-06-01",
        "auditDate": "2027-05-01", "referenceYear": 2026, "handbookVersion": "2.1"}});
    let response = app
        .post_jws(
            &format!("/v1/certificates/{first}/renewals"),
            &kiwa.request(app, "renew", Some(&first), renewal),
        )
        .await;
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let suspension = json!({"reason": "audit overdue", "effectiveAt": "2026-09-01T00:00:00Z"});
    let response = app
        .post_jws(
            &format!("/v1/certificates/{second}/suspension"),
            &kiwa.request(app, "suspend", Some(&second), suspension),
        )
        .await;
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().await.unwrap_or_default()
    );

    let numbers = [first, second];
    let before = snapshot(app, &numbers).await;
    let seq = app.last_seq().await;
    // A second server on the same database, started after the writes: it
    // builds its model from the tables, the first kept its own by the writes.
    let restarted = app.replica().await;
    assert_eq!(
        json(restarted.get("/readyz").await).await["seq"],
        seq,
        "loaded up to the last event"
    );
    let after = snapshot(&restarted, &numbers).await;
    assert_eq!(after, before);
    restarted.stop().await;
}

/// Two servers on one PostgreSQL, as replicas behind a load balancer: what one
/// writes, the other answers within a second; each reads its own writes at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_one_postgres_read_each_others_writes_within_a_second() {
    let Some(a) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let b = a.replica().await;
    let kiwa = TestCb::ed25519("kiwa");
    a.accredit(&kiwa).await;
    let mut lags = Vec::new();
    for (i, (writer, reader)) in [(&a, &b), (&b, &a), (&a, &b), (&b, &a)]
        .into_iter()
        .enumerate()
    {
        let kvk = format!("{}2345678", i + 1);
        let sub = format!("8765432{i}");
        let number = writer
            .issue(
                &kiwa,
                with_subsidiary(&format!("P-{i}"), &kvk, &sub, &format!("Replica Zeef {i}")),
            )
            .await;
        let written = Instant::now();
        // Its own write, at once.
        let own = json(writer.get(&format!("/v1/companies/{sub}/status")).await).await;
        assert_eq!(own["certified"], true, "{own}");
        loop {
            let other = reader.get(&format!("/v1/companies/{sub}/status")).await;
            let body = json(other).await;
            if body["certified"] == true {
                break;
            }
            assert!(
                written.elapsed() < Duration::from_secs(1),
                "the other replica did not answer {number} within a second: {body}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        lags.push(written.elapsed());
        let searched = json(
            reader
                .get(&format!("/v1/companies?q=replica%20zeef%20{i}"))
                .await,
        )
        .await;
        assert!(
            searched["items"]
                .as_array()
                .is_some_and(|items| items.iter().any(|c| c["kvkNumber"] == kvk.as_str())),
            "{searched}"
        );
        let path = format!("/v1/certificates/{number}");
        assert_eq!(
            json(reader.get(&path).await).await,
            json(writer.get(&path).await).await
        );
    }
    // A standing change travels too.
    let number = json(a.get("/v1/companies/12345678").await).await["certificates"][0]["number"]
        .as_str()
        .expect("number")
        .to_owned();
    let response = b
        .post_jws(
            &format!("/v1/certificates/{number}/suspension"),
            &kiwa.request(&b, "suspend", Some(&number), json!({"reason": "audit"})),
        )
        .await;
    assert_eq!(response.status(), 200);
    let written = Instant::now();
    loop {
        let body = json(a.get("/v1/companies/12345678/status").await).await;
        if body["status"] == "suspended" {
            break;
        }
        assert!(written.elapsed() < Duration::from_secs(1), "{body}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("replica lags: {lags:?}");
    let seq_a = json(a.get("/readyz").await).await["seq"].clone();
    let seq_b = json(b.get("/readyz").await).await["seq"].clone();
    assert_eq!(seq_a, seq_b, "both at the same state once quiet");
    b.stop().await;
    a.stop().await;
}

/// A restart of the one server: stopped, and started again on its database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_on_its_database_answers_as_before() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = TestApp::spawn(backend).await else {
            continue;
        };
        let kiwa = TestCb::ed25519("kiwa");
        app.accredit(&kiwa).await;
        let number = app
            .issue(
                &kiwa,
                with_subsidiary("Q-1", "12345678", "87654321", "Drukkerij Zeef"),
            )
            .await;
        let before = snapshot(&app, std::slice::from_ref(&number)).await;
        let app = app.restart().await;
        let after = snapshot(&app, &[number]).await;
        assert_eq!(after, before, "{backend:?}");
        app.stop().await;
    }
}
