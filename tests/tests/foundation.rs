//! The foundation over HTTP: health, readiness, metrics, the first companies
//! page, problems for what a client gets wrong, and a database that goes away.

use std::time::{Duration, Instant};

use pso_registry_tests::cb::{TestCb, certificate};
use pso_registry_tests::{Backend, TestApp, expect_problem, json, on_both_backends};

on_both_backends!(
    health_and_readiness_answer,
    companies_are_paged_by_name_with_cursor_and_link,
    bad_paging_parameters_are_named_problems,
    unknown_paths_and_undeclared_methods_are_problems,
    metrics_count_requests_by_route_and_status,
);

async fn health_and_readiness_answer(app: &TestApp) {
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert_eq!(json(health).await["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let expected = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(json(ready).await["database"], expected);
}

/// Sets up companies the way a CB does: signed issuances over HTTP.
async fn issue_companies(app: &TestApp, names: &[&str]) {
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    for (i, name) in names.iter().enumerate() {
        let kvk = format!("{:08}", 10_000_000 + i);
        let mut payload = certificate(&format!("K-{i}"), &kvk, "trede_1", "2026-01-15");
        payload["certificate"]["holder"] = serde_json::json!({"kvkNumber": kvk, "name": name, "city": "Zwolle", "province": "Overijssel"});
        app.issue(&kiwa, payload).await;
    }
}

async fn companies_are_paged_by_name_with_cursor_and_link(app: &TestApp) {
    let names = [
        "Zuiderzee Zorg B.V.",
        "Bouwbedrijf Jansen B.V.",
        "Aannemer Bakker",
        "Drukkerij De Vries",
        "Groen & Co",
        "Kwekerij Holland",
        "Metaal Oost",
    ];
    issue_companies(app, &names).await;
    let mut seen = Vec::new();
    let mut path = "/v1/companies?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200);
        let link = response
            .headers()
            .get("link")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let body = json(response).await;
        pages += 1;
        for item in body["items"].as_array().expect("items") {
            seen.push(item["name"].as_str().expect("name").to_owned());
            assert_eq!(item["province"], "Overijssel");
        }
        match body["nextCursor"].as_str() {
            Some(cursor) => {
                let link = link.expect("a Link header when there is a next page");
                assert!(link.ends_with("; rel=\"next\""), "{link}");
                assert!(link.contains(cursor), "{link}");
                let target = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .expect("link target");
                path = target.to_owned();
            }
            None => {
                assert!(link.is_none());
                break;
            }
        }
    }
    let mut expected: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);
}

async fn bad_paging_parameters_are_named_problems(app: &TestApp) {
    for bad in ["0", "501", "-5", "many"] {
        let body = expect_problem(
            app.get(&format!("/v1/companies?limit={bad}")).await,
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "limit");
    }
    let body = expect_problem(
        app.get("/v1/companies?cursor=not-a-cursor").await,
        400,
        "invalid-parameter",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "cursor");
}

async fn unknown_paths_and_undeclared_methods_are_problems(app: &TestApp) {
    expect_problem(app.get("/v2/companies").await, 404, "not-found").await;
    expect_problem(app.get("/nowhere").await, 404, "not-found").await;
    expect_problem(app.get("/v1").await, 404, "not-found").await;
    let delete = app
        .client
        .delete(app.url("/v1/companies"))
        .send()
        .await
        .expect("request");
    expect_problem(delete, 405, "method-not-allowed").await;
    let post = app
        .client
        .post(app.url("/readyz"))
        .send()
        .await
        .expect("request");
    expect_problem(post, 405, "method-not-allowed").await;
}

async fn metrics_count_requests_by_route_and_status(app: &TestApp) {
    app.get("/v1/companies").await;
    app.get("/v1/companies?limit=0").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain")
    );
    let text = response.text().await.expect("text");
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/v1/companies",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/v1/companies",status="400"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("db_pool_max_connections 8"), "{text}");
}

/// PostgreSQL goes away while the server runs: readiness and what needs the
/// database (the feed, writes) answer 503 problems promptly, reads from the
/// read model go on answering (saying which state they reflect), and the
/// server recovers by itself when the database returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_gives_503_and_the_server_recovers() {
    use pso_registry_tests::chaos::ChaosProxy;
    use pso_registry_tests::test_support::{TestDatabase, address_of, with_address};
    let Some(db) = tokio::task::spawn_blocking(TestDatabase::postgres)
        .await
        .expect("join")
    else {
        return;
    };
    let proxy = ChaosProxy::start(address_of(&db.url).expect("address")).await;
    let url = with_address(&db.url, proxy.address());
    let app = TestApp::spawn_on(db, Backend::Postgres, &url).await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    proxy.cut();
    let started = Instant::now();
    expect_problem(app.get("/readyz").await, 503, "service-unavailable").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "readyz took {:?}",
        started.elapsed()
    );
    let from_memory = app.get("/v1/companies?status=any").await;
    assert_eq!(from_memory.status(), 200, "reads go on from memory");
    assert!(from_memory.headers().contains_key("register-seq"));
    let response = app.get("/v1/events").await;
    assert!(response.headers().contains_key("retry-after"));
    let body = expect_problem(response, 503, "service-unavailable").await;
    let text = body.to_string();
    assert!(
        !text.contains("SELECT") && !text.contains("connection"),
        "no internals: {text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if app.get("/readyz").await.status() == 200 && app.get("/v1/events").await.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
}
