//! Every problem type in the catalogue is produced by a real request, and each
//! answer carries the catalogue's status and title. Runs on PostgreSQL, whose
//! outage (through a proxy that cuts the line) produces `service-unavailable`.

use std::collections::BTreeSet;

use jsonwebtoken::{Algorithm, Header};
use pso_api::problem::ProblemType;
use pso_registry_tests::Backend;
use pso_registry_tests::TestApp;
use pso_registry_tests::cb::{TestCb, certificate};
use pso_registry_tests::chaos::ChaosProxy;
use pso_registry_tests::jwks_server::JwksServer;
use pso_registry_tests::test_support::{TestDatabase, address_of, execute_sql, with_address};
use reqwest::{Method, Response};
use serde_json::{Value, json};

struct Seen {
    slugs: BTreeSet<String>,
}

impl Seen {
    async fn check(&mut self, response: Response, slug: &str) {
        let kind = ProblemType::ALL
            .into_iter()
            .find(|k| k.slug() == slug)
            .expect("a catalogue slug");
        let body = pso_registry_tests::expect_problem(response, kind.status().as_u16(), slug).await;
        assert_eq!(body["title"], kind.title());
        self.slugs.insert(slug.to_owned());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_problem_type_in_the_catalogue_is_produced() {
    let Some(db) = tokio::task::spawn_blocking(TestDatabase::postgres)
        .await
        .expect("join")
    else {
        return;
    };
    let direct_url = db.url.clone();
    let proxy = ChaosProxy::start(address_of(&db.url).expect("address")).await;
    let url = with_address(&db.url, proxy.address());
    let app = TestApp::spawn_on(db, Backend::Postgres, &url).await;
    let mut seen = Seen {
        slugs: BTreeSet::new(),
    };

    let kiwa = TestCb::ed25519("kiwa");
    let normec = TestCb::es256("normec");
    app.accredit(&kiwa).await;
    app.accredit(&normec).await;
    let issue = |cb: &TestCb, reference: &str, kvk: &str| {
        cb.request(
            &app,
            "issue",
            None,
            certificate(reference, kvk, "trede_2", "2026-01-15"),
        )
    };
    let number = app
        .issue(
            &kiwa,
            certificate("K-1", "12345678", "trede_2", "2026-01-15"),
        )
        .await;
    let claims = kiwa.claims(
        &app,
        "issue",
        None,
        certificate("K-2", "22345678", "trede_2", "2026-01-15"),
    );
    let now = chrono::Utc::now().timestamp();
    let with = |changes: Value| {
        let mut c = claims.clone();
        if let (Value::Object(c), Value::Object(changes)) = (&mut c, changes) {
            c.extend(changes);
        }
        c
    };

    seen.check(app.get("/nowhere").await, "not-found").await;
    seen.check(
        app.client
            .delete(app.url("/v1/events"))
            .send()
            .await
            .expect("request"),
        "method-not-allowed",
    )
    .await;
    seen.check(app.get("/v1/events?after=-1").await, "invalid-parameter")
        .await;
    seen.check(
        app.client
            .post(app.url("/v1/status/batch"))
            .header("content-type", "application/json")
            .body("{\"kvkNumbers\": [")
            .send()
            .await
            .expect("request"),
        "malformed-body",
    )
    .await;
    let mut bad = certificate("K-3", "123", "trede_2", "2026-01-15");
    bad["certificate"]["level"] = json!("gold");
    seen.check(
        app.post_jws("/v1/certificates", &kiwa.request(&app, "issue", None, bad))
            .await,
        "validation-failed",
    )
    .await;
    seen.check(
        app.post_jws("/v1/certificates", &"x".repeat(65 * 1024 + 1))
            .await,
        "payload-too-large",
    )
    .await;
    seen.check(
        app.client
            .post(app.url("/v1/certificates"))
            .body("x")
            .send()
            .await
            .expect("request"),
        "unsupported-media-type",
    )
    .await;
    seen.check(
        app.client
            .post(app.url("/v1/admin/certification-bodies"))
            .json(&json!({}))
            .send()
            .await
            .expect("request"),
        "unauthorized",
    )
    .await;
    seen.check(
        app.post_jws("/v1/certificates", "a.b").await,
        "invalid-token",
    )
    .await;
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kiwa.kid.clone());
    let hs = jsonwebtoken::encode(
        &hs,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"secret").expect("key"),
    )
    .expect("hs256");
    seen.check(
        app.post_jws("/v1/certificates", &hs).await,
        "unsupported-algorithm",
    )
    .await;
    let mut mismatch = Header::new(Algorithm::ES256);
    mismatch.kid = Some(kiwa.kid.clone());
    seen.check(
        app.post_jws("/v1/certificates", &normec.sign_with(mismatch, &claims))
            .await,
        "key-algorithm-mismatch",
    )
    .await;
    seen.check(
        app.post_jws(
            "/v1/certificates",
            &kiwa.sign(&with(json!({"iss": "nobody"}))),
        )
        .await,
        "unknown-issuer",
    )
    .await;
    let mut unknown = Header::new(Algorithm::EdDSA);
    unknown.kid = Some("nope".into());
    seen.check(
        app.post_jws("/v1/certificates", &kiwa.sign_with(unknown, &claims))
            .await,
        "unknown-key",
    )
    .await;
    let mut forged = Header::new(Algorithm::EdDSA);
    forged.kid = Some(kiwa.kid.clone());
    let impostor = TestCb::ed25519("kiwa");
    seen.check(
        app.post_jws("/v1/certificates", &impostor.sign_with(forged, &claims))
            .await,
        "invalid-signature",
    )
    .await;
    seen.check(
        app.post_jws(
            "/v1/certificates",
            &kiwa.sign(&with(json!({"aud": "other"}))),
        )
        .await,
        "wrong-audience",
    )
    .await;
    seen.check(
        app.post_jws(
            "/v1/certificates",
            &kiwa.sign(&with(json!({"iat": now - 1000, "exp": now - 500}))),
        )
        .await,
        "token-expired",
    )
    .await;
    seen.check(
        app.post_jws(
            "/v1/certificates",
            &kiwa.sign(&with(json!({"iat": now + 500, "exp": now + 700}))),
        )
        .await,
        "token-not-yet-valid",
    )
    .await;
    seen.check(
        app.post_jws(
            "/v1/certificates",
            &kiwa.sign(&with(json!({"exp": now + 7200}))),
        )
        .await,
        "token-lifetime-too-long",
    )
    .await;
    let once = issue(&kiwa, "K-4", "32345678");
    assert_eq!(app.post_jws("/v1/certificates", &once).await.status(), 201);
    seen.check(app.post_jws("/v1/certificates", &once).await, "replay")
        .await;
    seen.check(
        app.post_jws(
            "/v1/certificates",
            &kiwa.sign(&with(json!({"act": "renew"}))),
        )
        .await,
        "act-mismatch",
    )
    .await;
    let suspension = format!("/v1/certificates/{number}/suspension");
    let wrong_sub = kiwa.request(
        &app,
        "suspend",
        Some("PSO-2000-000001"),
        json!({"reason": "x"}),
    );
    seen.check(app.post_jws(&suspension, &wrong_sub).await, "sub-mismatch")
        .await;
    let theirs = normec.request(&app, "suspend", Some(&number), json!({"reason": "x"}));
    seen.check(
        app.post_jws(&suspension, &theirs).await,
        "not-your-certificate",
    )
    .await;
    let conflicting = kiwa.request(
        &app,
        "issue",
        None,
        certificate("K-1", "12345678", "trede_3", "2026-01-15"),
    );
    seen.check(
        app.post_jws("/v1/certificates", &conflicting).await,
        "conflict",
    )
    .await;
    seen.check(
        app.post_jws("/v1/certificates", &issue(&normec, "N-1", "12345678"))
            .await,
        "certificate-in-force",
    )
    .await;
    let reinstate = kiwa.request(&app, "reinstate", Some(&number), json!({}));
    seen.check(
        app.post_jws(
            &format!("/v1/certificates/{number}/reinstatement"),
            &reinstate,
        )
        .await,
        "invalid-transition",
    )
    .await;
    let mut replacing = certificate("N-2", "12345678", "trede_3", "2027-01-15");
    replacing["certificate"]["replaces"] = json!(number);
    app.issue(&normec, replacing).await;
    let superseded = kiwa.request(&app, "suspend", Some(&number), json!({"reason": "x"}));
    seen.check(
        app.post_jws(&suspension, &superseded).await,
        "certificate-superseded",
    )
    .await;
    let other = app
        .issue(
            &kiwa,
            certificate("K-5", "42345678", "trede_2", "2026-01-15"),
        )
        .await;
    let path = format!("/v1/admin/certificates/{other}/revocation");
    assert_eq!(
        app.admin(Method::POST, &path, &json!({"reason": "fraud"}))
            .await
            .status(),
        200
    );
    seen.check(
        app.admin(Method::POST, &path, &json!({"reason": "again"}))
            .await,
        "certificate-revoked",
    )
    .await;
    let duplicate = json!({"id": "kiwa", "name": "Kiwa", "jwks": kiwa.jwks()});
    seen.check(
        app.admin(Method::POST, "/v1/admin/certification-bodies", &duplicate)
            .await,
        "certification-body-exists",
    )
    .await;
    let suspend_normec = json!({"accreditation": "suspended"});
    assert_eq!(
        app.admin(
            Method::PATCH,
            "/v1/admin/certification-bodies/normec",
            &suspend_normec
        )
        .await
        .status(),
        200
    );
    seen.check(
        app.post_jws("/v1/certificates", &issue(&normec, "N-3", "52345678"))
            .await,
        "cb-not-accredited",
    )
    .await;

    let remote = TestCb::ed25519("remote");
    let server = JwksServer::start(json!({"keys": []})).await;
    let body = json!({"id": "remote", "name": "Remote", "jwksUri": server.uri});
    assert_eq!(
        app.admin(Method::POST, "/v1/admin/certification-bodies", &body)
            .await
            .status(),
        201
    );
    drop(server);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    seen.check(
        app.post_jws("/v1/certificates", &issue(&remote, "R-1", "62345678"))
            .await,
        "key-set-unavailable",
    )
    .await;

    // A row the register never writes: a storage fault, shown as nothing but
    // `internal`, to the next write that reads it (reads come from the read
    // model, which holds what was written).
    let corrupt = format!(
        "UPDATE certificates SET history = '{{\"trede_9\": true}}' WHERE number = '{other}'"
    );
    tokio::task::spawn_blocking(move || execute_sql(&direct_url, &corrupt))
        .await
        .expect("join")
        .expect("corrupt a row");
    let response = app
        .admin(Method::POST, &path, &json!({"reason": "once more"}))
        .await;
    let text = response.text().await.expect("text");
    assert!(
        !text.contains("trede_9") && !text.contains("periods"),
        "no internals: {text}"
    );
    seen.check(
        app.admin(Method::POST, &path, &json!({"reason": "once more"}))
            .await,
        "internal",
    )
    .await;

    // Past a (low) rate limit, on a server of its own.
    let limited = TestApp::spawn_with_env(Backend::Sqlite, &[("REGISTRY_RATE_ANON_SEARCH", "1")])
        .await
        .expect("sqlite");
    assert_eq!(limited.get("/v1/companies?q=bakker").await.status(), 200);
    seen.check(
        limited.get("/v1/companies?q=bakker").await,
        "too-many-requests",
    )
    .await;
    limited.stop().await;

    proxy.cut();
    seen.check(app.get("/readyz").await, "service-unavailable")
        .await;
    proxy.restore();

    let catalogue: BTreeSet<String> = ProblemType::ALL
        .iter()
        .map(|k| k.slug().to_owned())
        .collect();
    let missing: Vec<_> = catalogue.difference(&seen.slugs).collect();
    assert!(missing.is_empty(), "never produced: {missing:?}");
    app.stop().await;
}
