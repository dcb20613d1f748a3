//! Tender platforms, seen from outside: API clients' keys, subscriptions with
//! a watchlist, deliveries verified by the Standard Webhooks reference library
//! in a Python receiver (not by the register's code), delivered at least once
//! and in order through a crash of the register, by one replica of several,
//! and the rate limits.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use pso_registry_tests::cb::{TestCb, certificate};
use pso_registry_tests::receiver::{Received, Receiver};
use pso_registry_tests::{Backend, TestApp, json, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    a_receiver_gets_its_watchlists_events_and_none_other,
    subscriptions_are_their_clients_own_and_checked,
    a_failing_receiver_is_retried_with_the_same_message_id,
);

/// A new API client's key.
async fn client_key(app: &TestApp, name: &str) -> String {
    let response = app
        .admin(
            reqwest::Method::POST,
            "/v1/admin/clients",
            &json!({"name": name}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body = json(response).await;
    let key = body["key"].as_str().expect("key").to_owned();
    assert!(key.starts_with("pso_cl_"), "{key}");
    key
}

async fn subscribe(app: &TestApp, key: &str, body: &Value) -> Value {
    let response = app
        .client
        .post(app.url("/v1/subscriptions"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let body = json(response).await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn suspend(app: &TestApp, cb: &TestCb, number: &str) {
    let jws = cb.request(
        app,
        "suspend",
        Some(number),
        json!({"reason": "audit finding"}),
    );
    let response = app
        .post_jws(&format!("/v1/certificates/{number}/suspension"), &jws)
        .await;
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().await.unwrap_or_default()
    );
}

fn verified(got: &[Received]) -> Vec<&Received> {
    got.iter().filter(|r| r.verified).collect()
}

async fn a_receiver_gets_its_watchlists_events_and_none_other(app: &TestApp) {
    let Some(receiver) = Receiver::start(204) else {
        return;
    };
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    // Before the subscription: not delivered (it follows from now on).
    app.issue(
        &kiwa,
        certificate("R-0", "11111111", "trede_1", "2026-01-15"),
    )
    .await;
    let key = client_key(app, "TenderNed").await;
    let sub = subscribe(
        app,
        &key,
        &json!({"url": receiver.url(), "kvkNumbers": ["12345678", "23456789"]}),
    )
    .await;
    let secret = sub["secret"].as_str().expect("secret shown once");
    assert!(secret.starts_with("whsec_"));
    receiver.trust(&[secret]);
    assert_eq!(sub["watched"], 2);
    assert_eq!(sub["state"], "active");

    let watched_a = app
        .issue(
            &kiwa,
            certificate("R-1", "12345678", "trede_2", "2026-01-15"),
        )
        .await;
    app.issue(
        &kiwa,
        certificate("R-2", "34567890", "trede_1", "2026-01-15"),
    )
    .await;
    let mut other = certificate("R-3", "45678901", "trede_3", "2026-01-15");
    // Watched as a subsidiary of another's certificate.
    other["certificate"]["subsidiaries"] =
        json!([{"kvkNumber": "23456789", "name": "Dochter B.V."}]);
    let watched_b = app.issue(&kiwa, other).await;
    suspend(app, &kiwa, &watched_a).await;
    app.issue(
        &kiwa,
        certificate("R-4", "56789012", "trede_1", "2026-01-15"),
    )
    .await;

    receiver.wait_for(30, |g| verified(g).len() >= 3).await;
    // A moment more: nothing else may come.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = receiver.received();
    assert!(
        got.iter().all(|r| r.verified),
        "every message verifies: {got:?}"
    );
    let summary: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            (
                r.r#type.clone().unwrap_or_default(),
                r.certificate_number.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("certificate.issued".to_owned(), watched_a.clone()),
            ("certificate.issued".to_owned(), watched_b.clone()),
            ("certificate.suspended".to_owned(), watched_a.clone()),
        ],
        "the watchlist's events, in seq order, none other"
    );
    let seqs: Vec<i64> = got.iter().filter_map(|r| r.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(
        got[1].kvk_numbers.as_deref(),
        Some(&["45678901".to_owned(), "23456789".to_owned()][..])
    );

    // The deliveries, as the client sees them.
    let id = sub["id"].as_str().expect("id");
    let deliveries = json(
        app.client
            .get(app.url(&format!("/v1/subscriptions/{id}/deliveries")))
            .bearer_auth(&key)
            .send()
            .await
            .expect("request"),
    )
    .await;
    let items = deliveries["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    for d in items {
        assert_eq!(d["attempts"], 1, "{d}");
        assert_eq!(d["lastStatus"], 204, "{d}");
        assert!(d["deliveredAt"].is_string(), "{d}");
    }
    let ids: BTreeSet<&str> = items.iter().filter_map(|d| d["id"].as_str()).collect();
    let sent: BTreeSet<&str> = got.iter().filter_map(|r| r.id.as_deref()).collect();
    assert_eq!(
        ids, sent,
        "the ids the receiver saw are the deliveries' ids"
    );

    // Taken off the watchlist: no more of its events.
    let patched = app
        .client
        .patch(app.url(&format!("/v1/subscriptions/{id}")))
        .bearer_auth(&key)
        .json(&json!({"remove": ["12345678"], "add": ["67890123"]}))
        .send()
        .await
        .expect("request");
    assert_eq!(patched.status(), 200);
    let jws = kiwa.request(app, "reinstate", Some(&watched_a), json!({}));
    let response = app
        .post_jws(&format!("/v1/certificates/{watched_a}/reinstatement"), &jws)
        .await;
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let added = app
        .issue(
            &kiwa,
            certificate("R-5", "67890123", "trede_2", "2026-03-01"),
        )
        .await;
    let got = receiver.wait_for(30, |g| g.len() >= 4).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let got_now = receiver.received();
    assert_eq!(got_now.len(), 4, "{got:?}");
    assert_eq!(
        got_now[3].certificate_number.as_deref(),
        Some(added.as_str())
    );
}

async fn subscriptions_are_their_clients_own_and_checked(app: &TestApp) {
    let a = client_key(app, "Platform A").await;
    let b = client_key(app, "Platform B").await;
    // No key: refused.
    let none = app
        .client
        .post(app.url("/v1/subscriptions"))
        .json(&json!({"url": "https://hooks.example/pso", "everything": true}))
        .send()
        .await
        .expect("request");
    assert_eq!(none.status(), 401);
    // A wrong key is refused, on a public read too.
    let wrong = format!("{}0", &a[..a.len() - 1]);
    let read = app
        .client
        .get(app.url("/v1/companies/12345678/status"))
        .bearer_auth(&wrong)
        .send()
        .await
        .expect("request");
    assert_eq!(read.status(), 401);
    // A read without a key stays open.
    assert_eq!(app.get("/v1/companies/12345678/status").await.status(), 200);

    for (url, why) in [
        ("http://hooks.example/pso", "plain http off loopback"),
        ("https://10.1.2.3/pso", "a private address"),
        ("https://169.254.169.254/latest/meta-data", "cloud metadata"),
        ("https://[fd00:ec2::254]/", "a unique local address"),
        ("https://user:pw@hooks.example/pso", "credentials"),
        ("ftp://hooks.example/pso", "another scheme"),
    ] {
        let response = app
            .client
            .post(app.url("/v1/subscriptions"))
            .bearer_auth(&a)
            .json(&json!({"url": url, "everything": true}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 422, "{why}");
        let body = json(response).await;
        assert_eq!(body["errors"][0]["field"], "url", "{why}: {body}");
    }
    let bad_kvk = app
        .client
        .post(app.url("/v1/subscriptions"))
        .bearer_auth(&a)
        .json(&json!({"url": "https://hooks.example/pso", "kvkNumbers": ["1234"]}))
        .send()
        .await
        .expect("request");
    assert_eq!(bad_kvk.status(), 422);
    let unknown = app
        .client
        .post(app.url("/v1/subscriptions"))
        .bearer_auth(&a)
        .json(&json!({"url": "https://hooks.example/pso", "everythin": true}))
        .send()
        .await
        .expect("request");
    assert!(unknown.status().is_client_error());

    let sub = subscribe(
        app,
        &a,
        &json!({"url": "https://hooks.example/pso", "everything": true}),
    )
    .await;
    let id = sub["id"].as_str().expect("id");
    // Another client's subscription does not exist for B.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let response = app
            .client
            .request(method, app.url(&format!("/v1/subscriptions/{id}")))
            .bearer_auth(&b)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 404);
    }
    let listed = json(
        app.client
            .get(app.url("/v1/subscriptions"))
            .bearer_auth(&b)
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(listed["items"], json!([]));
    let mine = json(
        app.client
            .get(app.url(&format!("/v1/subscriptions/{id}")))
            .bearer_auth(&a)
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert!(
        mine.get("secret").is_none(),
        "the secret is shown once: {mine}"
    );
    // Rotation shows the new secret once.
    let rotated = json(
        app.client
            .patch(app.url(&format!("/v1/subscriptions/{id}")))
            .bearer_auth(&a)
            .json(&json!({"rotateSecret": true}))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert!(
        rotated["secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("whsec_") && s != sub["secret"])
    );

    // A revoked key is refused (at once on the replica that revoked it).
    let clients = json(
        app.admin(reqwest::Method::GET, "/v1/admin/clients", &json!({}))
            .await,
    )
    .await;
    let a_id = clients["items"][0]["id"].as_str().expect("id").to_owned();
    assert!(clients["items"][0].get("key").is_none());
    let revoked = app
        .admin(
            reqwest::Method::DELETE,
            &format!("/v1/admin/clients/{a_id}"),
            &json!({}),
        )
        .await;
    assert_eq!(revoked.status(), 200);
    let after = app
        .client
        .get(app.url("/v1/subscriptions"))
        .bearer_auth(&a)
        .send()
        .await
        .expect("request");
    assert_eq!(after.status(), 401);
}

async fn a_failing_receiver_is_retried_with_the_same_message_id(app: &TestApp) {
    // Answers 503 to everything it verifies.
    let Some(mut receiver) = Receiver::start(503) else {
        return;
    };
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    let key = client_key(app, "TenderNed").await;
    let sub = subscribe(
        app,
        &key,
        &json!({"url": receiver.url(), "everything": true, "events": ["issued"]}),
    )
    .await;
    receiver.trust(&[sub["secret"].as_str().expect("secret")]);
    let first = app
        .issue(
            &kiwa,
            certificate("R-1", "12345678", "trede_2", "2026-01-15"),
        )
        .await;
    app.issue(
        &kiwa,
        certificate("R-2", "23456789", "trede_2", "2026-01-15"),
    )
    .await;
    let got = receiver.wait_for(30, |g| g.len() >= 3).await;
    // Only the first is tried (in order: the second waits behind it), under one id.
    let ids: BTreeSet<_> = got.iter().filter_map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 1, "{got:?}");
    let bodies: BTreeSet<_> = got.iter().filter_map(|r| r.sha.clone()).collect();
    assert_eq!(
        bodies.len(),
        1,
        "every attempt sends the same bytes: {got:?}"
    );
    assert!(
        got.iter()
            .all(|r| r.certificate_number.as_deref() == Some(first.as_str()))
    );
    let id = sub["id"].as_str().expect("id");
    let state = json(
        app.client
            .get(app.url(&format!("/v1/subscriptions/{id}")))
            .bearer_auth(&key)
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert!(state["failingSince"].is_string(), "{state}");
    // Back: both arrive, in order, the first under the id it had.
    receiver.stop();
    let mut ok = Receiver::start(204).expect("receiver");
    std::mem::swap(&mut receiver, &mut ok);
    drop(ok);
    receiver.trust(&[sub["secret"].as_str().expect("secret")]);
    let patched = app
        .client
        .patch(app.url(&format!("/v1/subscriptions/{id}")))
        .bearer_auth(&key)
        .json(&json!({"url": receiver.url()}))
        .send()
        .await
        .expect("request");
    assert_eq!(patched.status(), 200);
    let got2 = receiver.wait_for(30, |g| g.len() >= 2).await;
    assert_eq!(got2.len(), 2, "{got2:?}");
    assert_eq!(got2[0].id.as_ref(), ids.iter().next());
    assert!(got2[0].seq < got2[1].seq);
}

/// A register in a process of its own, to be killed.
struct Process {
    child: std::process::Child,
    base: String,
}

fn binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    dir.join("pso-registry")
}

fn start_process(url: &str, admin: &str) -> Process {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let child = std::process::Command::new(binary())
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("REGISTRY_ADMIN_TOKEN", admin)
        .env("REGISTRY_AUDIENCE", pso_registry_tests::AUDIENCE)
        .env(
            "REGISTRY_SIGNING_KEY_FILE",
            pso_registry_tests::signing_key_file(),
        )
        .env("REGISTRY_ALLOW_LOOPBACK_TARGETS", "1")
        .env("REGISTRY_WEBHOOK_FIRST_RETRY_MS", "100")
        .env("REGISTRY_WEBHOOK_MAX_RETRY_SECS", "1")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the register starts");
    Process {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

async fn ready(client: &reqwest::Client, base: &str) {
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the register at {base} did not become ready");
}

/// SIGKILL while deliveries are pending and the receiver is down: after a
/// restart every event arrives, at least once.
async fn killed_with_deliveries_pending_loses_none(backend: Backend) {
    let Some(db) = pso_registry_tests::fresh_database(backend).await else {
        return;
    };
    if pso_registry_tests::receiver::python().is_none() {
        return;
    }
    let admin = "sigkill-admin-token-0123456789abcdef-0123456789";
    let url = db.url.clone();
    let http = reqwest::Client::new();
    let mut register = start_process(&url, admin);
    ready(&http, &register.base).await;
    // Through a TestApp-shaped view of the process: the same helpers.
    let app = pso_registry_tests::TestApp::attach(&register.base, admin, backend, &url);
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    let key = client_key(&app, "TenderNed").await;
    let mut receiver = Receiver::down();
    let sub = subscribe(
        &app,
        &key,
        &json!({"url": receiver.url(), "everything": true, "events": ["issued"]}),
    )
    .await;
    receiver.trust(&[sub["secret"].as_str().expect("secret")]);
    let mut issued = Vec::new();
    for i in 0..20 {
        let kvk = format!("{:08}", 30_000_000 + i);
        issued.push(
            app.issue(
                &kiwa,
                certificate(&format!("K-{i}"), &kvk, "trede_1", "2026-01-15"),
            )
            .await,
        );
    }
    // Attempts have failed (the receiver is down): deliveries are pending.
    let id = sub["id"].as_str().expect("id").to_owned();
    for _ in 0..100 {
        let s = json(
            http.get(format!("{}/v1/subscriptions/{id}", register.base))
                .bearer_auth(&key)
                .send()
                .await
                .expect("request"),
        )
        .await;
        if s["failingSince"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    register.child.kill().expect("SIGKILL");
    let _ = register.child.wait();
    receiver.up();
    let mut register = start_process(&url, admin);
    ready(&http, &register.base).await;
    let got = receiver
        .wait_for(60, |g| {
            let numbers: BTreeSet<_> = g
                .iter()
                .filter_map(|r| r.certificate_number.clone())
                .collect();
            issued.iter().all(|n| numbers.contains(n))
        })
        .await;
    let _ = register.child.kill();
    let _ = register.child.wait();
    let numbers: BTreeSet<_> = got
        .iter()
        .filter_map(|r| r.certificate_number.clone())
        .collect();
    for n in &issued {
        assert!(numbers.contains(n), "{n} was not delivered: {got:?}");
    }
    assert!(got.iter().all(|r| r.verified));
    let seqs: Vec<i64> = got.iter().filter_map(|r| r.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] <= w[1]),
        "in seq order: {seqs:?}"
    );
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    for r in &got {
        *per_id.entry(r.id.clone().unwrap_or_default()).or_default() += 1;
    }
    println!(
        "sigkill ({backend:?}): {} events, {} messages received, {} received more than once",
        issued.len(),
        got.len(),
        per_id.values().filter(|n| **n > 1).count()
    );
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_with_deliveries_pending_loses_none() {
    killed_with_deliveries_pending_loses_none(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_with_deliveries_pending_loses_none() {
    killed_with_deliveries_pending_loses_none(Backend::Postgres).await;
}

/// Two replicas on one PostgreSQL: each message is delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deliver_each_event_once() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let Some(receiver) = Receiver::start(204) else {
        return;
    };
    let replica = app.replica().await;
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    let key = client_key(&app, "TenderNed").await;
    let mut secrets = Vec::new();
    let mut subs = Vec::new();
    for _ in 0..5 {
        let sub = subscribe(
            &app,
            &key,
            &json!({"url": receiver.url(), "everything": true, "events": ["issued"]}),
        )
        .await;
        secrets.push(sub["secret"].as_str().expect("secret").to_owned());
        subs.push(sub);
    }
    receiver.trust(&secrets.iter().map(String::as_str).collect::<Vec<_>>());
    let events = 40;
    for i in 0..events {
        let on = if i % 2 == 0 { &app } else { &replica };
        let kvk = format!("{:08}", 40_000_000 + i);
        on.issue(
            &kiwa,
            certificate(&format!("T-{i}"), &kvk, "trede_1", "2026-01-15"),
        )
        .await;
    }
    let expected = events * subs.len();
    receiver.wait_for(60, |g| g.len() >= expected).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = receiver.received();
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    for r in &got {
        *per_id.entry(r.id.clone().unwrap_or_default()).or_default() += 1;
    }
    let duplicates = per_id.values().filter(|n| **n > 1).count();
    println!(
        "two replicas: {} messages expected, {} received, {} distinct, {duplicates} duplicated",
        expected,
        got.len(),
        per_id.len()
    );
    assert_eq!(per_id.len(), expected, "every message arrives");
    assert_eq!(duplicates, 0, "no message is delivered twice");
    replica.stop().await;
    app.stop().await;
}

/// A request of an API client's.
fn as_client(
    app: &TestApp,
    key: &str,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    app.client.request(method, app.url(path)).bearer_auth(key)
}

async fn subscription_state(app: &TestApp, key: &str, id: &str) -> Value {
    json(
        as_client(
            app,
            key,
            reqwest::Method::GET,
            &format!("/v1/subscriptions/{id}"),
        )
        .send()
        .await
        .expect("request"),
    )
    .await
}

async fn wait_for_state(app: &TestApp, key: &str, id: &str, state: &str) -> Value {
    for _ in 0..100 {
        let s = subscription_state(app, key, id).await;
        if s["state"] == state {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("subscription {id} never became {state}");
}

/// Notices before a certificate ends, `410`, giving up on a receiver that
/// keeps failing, enabling again, and a replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriptions_life() {
    let Some(app) = TestApp::spawn_with_env(
        Backend::Sqlite,
        &[
            ("REGISTRY_EXPIRY_INTERVAL_SECS", "1"),
            ("REGISTRY_WEBHOOK_DISABLE_AFTER_SECS", "2"),
        ],
    )
    .await
    else {
        return;
    };
    let Some(receiver) = Receiver::start(204) else {
        return;
    };
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    // Ends within 60 days (24 months from its start), and one that does not.
    let mut ending = certificate("L-1", "12345678", "trede_2", "2025-01-10");
    ending["certificate"]["auditDate"] = json!("2024-12-10");
    ending["certificate"]["referenceYear"] = json!(2024);
    let ending = app.issue(&kiwa, ending).await;
    app.issue(
        &kiwa,
        certificate("L-2", "23456789", "trede_2", "2026-01-15"),
    )
    .await;
    let key = client_key(&app, "TenderNed").await;
    let sub = subscribe(
        &app,
        &key,
        &json!({"url": receiver.url(), "kvkNumbers": ["12345678", "23456789"], "expiringWithinDays": 60}),
    )
    .await;
    let secret = sub["secret"].as_str().expect("secret").to_owned();
    receiver.trust(&[&secret]);
    let id = sub["id"].as_str().expect("id").to_owned();
    let got = receiver.wait_for(20, |g| !g.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let got_now = receiver.received();
    assert_eq!(got_now.len(), 1, "one notice, made once: {got:?}");
    assert_eq!(got_now[0].r#type.as_deref(), Some("certificate.expiring"));
    assert_eq!(
        got_now[0].certificate_number.as_deref(),
        Some(ending.as_str())
    );
    assert!(got_now[0].verified);

    // Replay from the start of the feed: the two issuances, under stable ids.
    let replayed = as_client(
        &app,
        &key,
        reqwest::Method::POST,
        &format!("/v1/subscriptions/{id}/replay"),
    )
    .json(&json!({"afterSeq": 0}))
    .send()
    .await
    .expect("request");
    assert_eq!(replayed.status(), 200);
    let got = receiver.wait_for(20, |g| g.len() >= 3).await;
    let issued: Vec<&Received> = got
        .iter()
        .filter(|r| r.r#type.as_deref() == Some("certificate.issued"))
        .collect();
    assert_eq!(issued.len(), 2, "{got:?}");
    let again = as_client(
        &app,
        &key,
        reqwest::Method::POST,
        &format!("/v1/subscriptions/{id}/replay"),
    )
    .json(&json!({"afterSeq": 0}))
    .send()
    .await
    .expect("request");
    assert_eq!(again.status(), 200);
    let got = receiver.wait_for(20, |g| g.len() >= 5).await;
    let ids: Vec<&str> = got
        .iter()
        .filter(|r| r.r#type.as_deref() == Some("certificate.issued"))
        .filter_map(|r| r.id.as_deref())
        .collect();
    assert_eq!(ids.len(), 4, "{got:?}");
    assert_eq!(
        ids[0..2],
        ids[2..4],
        "a replay sends the same messages under the same ids"
    );
    let beyond = as_client(
        &app,
        &key,
        reqwest::Method::POST,
        &format!("/v1/subscriptions/{id}/replay"),
    )
    .json(&json!({"afterSeq": 1_000_000}))
    .send()
    .await
    .expect("request");
    assert_eq!(beyond.status(), 422);

    // A receiver that keeps failing is given up, its owner told why.
    let mut gone = Receiver::down();
    gone.trust(&[&secret]);
    let moved = as_client(
        &app,
        &key,
        reqwest::Method::PATCH,
        &format!("/v1/subscriptions/{id}"),
    )
    .json(&json!({"url": gone.url()}))
    .send()
    .await
    .expect("request");
    assert_eq!(moved.status(), 200);
    suspend(&app, &kiwa, &ending).await;
    let disabled = wait_for_state(&app, &key, &id, "disabled").await;
    assert!(
        disabled["disabledReason"]
            .as_str()
            .is_some_and(|r| r.contains("failing since")),
        "{disabled}"
    );
    assert_eq!(disabled["pending"], 1);
    // Enabled again with the receiver back: the message arrives, under its id.
    gone.up();
    let enabled = as_client(
        &app,
        &key,
        reqwest::Method::PATCH,
        &format!("/v1/subscriptions/{id}"),
    )
    .json(&json!({"enable": true}))
    .send()
    .await
    .expect("request");
    assert_eq!(json(enabled).await["state"], "active");
    let got = gone.wait_for(20, |g| g.iter().any(|r| r.verified)).await;
    assert!(
        got.iter()
            .any(|r| r.r#type.as_deref() == Some("certificate.suspended")
                && r.certificate_number.as_deref() == Some(ending.as_str())),
        "{got:?}"
    );
    let deliveries = json(
        as_client(
            &app,
            &key,
            reqwest::Method::GET,
            &format!("/v1/subscriptions/{id}/deliveries?limit=1"),
        )
        .send()
        .await
        .expect("request"),
    )
    .await;
    let last = &deliveries["items"][0];
    assert!(last["attempts"].as_i64().is_some_and(|n| n >= 2), "{last}");
    assert!(last["deliveredAt"].is_string(), "{last}");

    // 410 Gone unsubscribes.
    let Some(unsubscribing) = Receiver::start(410) else {
        return;
    };
    unsubscribing.trust(&[&secret]);
    let moved = as_client(
        &app,
        &key,
        reqwest::Method::PATCH,
        &format!("/v1/subscriptions/{id}"),
    )
    .json(&json!({"url": unsubscribing.url()}))
    .send()
    .await
    .expect("request");
    assert_eq!(moved.status(), 200);
    let jws = kiwa.request(&app, "reinstate", Some(&ending), json!({}));
    let reinstated = app
        .post_jws(&format!("/v1/certificates/{ending}/reinstatement"), &jws)
        .await;
    assert_eq!(reinstated.status(), 200);
    let disabled = wait_for_state(&app, &key, &id, "disabled").await;
    assert!(
        disabled["disabledReason"]
            .as_str()
            .is_some_and(|r| r.contains("410")),
        "{disabled}"
    );
    app.stop().await;
}
