//! What a hostile client tried, finding by finding (issue "What a hostile client
//! found"): each test failed on the main it was written against and holds the fix.
//! The attack classes that held already are in `signed_writes.rs`.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pso_registry_tests::cb::{TestCb, certificate};
use pso_registry_tests::jwks_server::JwksServer;
use pso_registry_tests::{TestApp, b64, expect_problem, json, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    keys_that_are_not_curve_points_are_refused_inline_and_from_a_uri,
    claim_times_that_overflow_are_refused_not_wrapped,
    a_revocation_dated_ahead_still_holds_one_certificate_in_force,
    a_renewal_cannot_reach_into_another_certificate_in_force,
    refused_admin_writes_write_nothing,
    unknown_kids_cause_one_fetch_per_interval_under_concurrency,
    a_start_in_year_9999_is_refused_by_field_not_a_500,
    the_status_now_answers_304_while_nothing_changed,
    names_are_normalised_and_invisible_characters_refused,
    refusals_and_lists_are_bounded,
    duplicate_members_in_a_signed_request_are_refused,
    key_set_errors_do_not_tell_a_closed_port_from_an_open_one,
    the_attack_classes_that_held_still_hold,
);

const KVK: &str = "12345678";

async fn setup(app: &TestApp) -> TestCb {
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    kiwa
}

async fn accredit_with(app: &TestApp, id: &str, keys: Value) -> reqwest::Response {
    let mut body = json!({"id": id, "name": "Hostile CB"});
    // `keys` may bring a name of its own.
    if let (Value::Object(b), Value::Object(k)) = (&mut body, keys) {
        b.extend(k);
    }
    app.admin(Method::POST, "/v1/admin/certification-bodies", &body)
        .await
}

/// Sends an issuance by `cb` that must be refused as invalid; the problem.
async fn refused_issuance(app: &TestApp, cb: &TestCb, payload: Value) -> Value {
    let jws = cb.request(app, "issue", None, payload);
    expect_problem(
        app.post_jws("/v1/certificates", &jws).await,
        422,
        "validation-failed",
    )
    .await
}

/// Accredits `id` with `keys`, which must be refused as invalid, and checks that
/// nothing of it was kept; the problem.
async fn refused_accreditation(app: &TestApp, id: &str, keys: Value) -> Value {
    let seq = app.last_seq().await;
    let body = expect_problem(accredit_with(app, id, keys).await, 422, "validation-failed").await;
    assert_eq!(app.last_seq().await, seq, "no accreditation event");
    expect_problem(
        app.get(&format!("/v1/certification-bodies/{id}")).await,
        404,
        "not-found",
    )
    .await;
    body
}

/// A compact JWS over exactly these header and claims texts, signed by `cb`.
fn raw_jws(cb: &TestCb, header: &str, claims: &str) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let key = EncodingKey::from_ed_pem(cb.pem.as_bytes()).expect("ed25519 key");
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::EdDSA).expect("sign");
    format!("{message}.{signature}")
}

async fn keys_that_are_not_curve_points_are_refused_inline_and_from_a_uri(app: &TestApp) {
    // The identity point (y = 1) decompresses, but it is of small order: every
    // signature "verifies" against it for some messages.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let bad_keys = [
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[1, 2, 3]), "kid": "short"}),
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[7; 33]), "kid": "long"}),
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&identity), "kid": "weak"}),
        json!({"kty": "EC", "crv": "P-256", "x": b64(&[1; 32]), "y": b64(&[1; 32]), "kid": "off-curve"}),
        json!({"kty": "EC", "crv": "P-256", "x": b64(&[1; 31]), "y": b64(&[1; 32]), "kid": "short-x"}),
    ];
    for key in &bad_keys {
        let body = refused_accreditation(app, "bad", json!({"jwks": {"keys": [key]}})).await;
        assert!(
            body["errors"][0]["field"]
                .as_str()
                .is_some_and(|f| f.starts_with("jwks.keys[0]")),
            "{key}: {body}"
        );
        let server = JwksServer::start(json!({"keys": [key]})).await;
        let body = refused_accreditation(app, "bad", json!({"jwksUri": server.uri})).await;
        assert_eq!(body["errors"][0]["field"], "jwksUri", "{key}: {body}");
    }

    // A CB whose published set later holds such a key: the key is not taken, a
    // request naming it is refused (before: the handler panicked, no answer).
    let good = TestCb::ed25519("remote");
    let server = JwksServer::start(good.jwks()).await;
    let created = accredit_with(app, "remote", json!({"jwksUri": server.uri})).await;
    assert_eq!(created.status(), 201);
    let mut published = good.jwks();
    published["keys"]
        .as_array_mut()
        .expect("keys")
        .push(bad_keys[0].clone());
    server.publish(published);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("short".into());
    let jws = good.sign_with(
        header,
        &good.claims(
            app,
            "issue",
            None,
            certificate("R-1", KVK, "trede_1", "2026-01-15"),
        ),
    );
    expect_problem(
        app.post_jws("/v1/certificates", &jws).await,
        401,
        "unknown-key",
    )
    .await;
    // The good key still works.
    app.issue(&good, certificate("R-2", KVK, "trede_1", "2026-01-15"))
        .await;
}

async fn claim_times_that_overflow_are_refused_not_wrapped(app: &TestApp) {
    let kiwa = setup(app).await;
    let seq = app.last_seq().await;
    let now = chrono::Utc::now().timestamp();
    let cases = [
        // The lifetime check wrapped: exp - iat overflowed to a small number.
        (
            json!(i64::MIN + 60),
            json!(now + 10 * 365 * 86_400),
            "token-lifetime-too-long",
        ),
        // exp + leeway overflowed into the past, or into a panic converting it.
        (
            json!(now),
            json!(9_000_000_000_000_000_i64),
            "token-lifetime-too-long",
        ),
        (json!(now), json!(i64::MAX), "token-lifetime-too-long"),
        (json!(i64::MAX), json!(i64::MAX), "token-not-yet-valid"),
        (json!(i64::MIN), json!(i64::MIN), "token-expired"),
        (json!(now), json!(1e300), "invalid-token"),
        (json!(now), json!(u64::MAX), "invalid-token"),
        (json!(now as f64 + 0.5), json!(now + 60), "invalid-token"),
    ];
    for (i, (iat, exp, slug)) in cases.into_iter().enumerate() {
        let mut claims = kiwa.claims(
            app,
            "issue",
            None,
            certificate(&format!("K-{i}"), KVK, "trede_1", "2026-01-15"),
        );
        claims["iat"] = iat;
        claims["exp"] = exp;
        let response = app.post_jws("/v1/certificates", &kiwa.sign(&claims)).await;
        expect_problem(response, 401, slug).await;
    }
    assert_eq!(app.last_seq().await, seq);
}

async fn a_revocation_dated_ahead_still_holds_one_certificate_in_force(app: &TestApp) {
    let kiwa = setup(app).await;
    let normec = TestCb::ed25519("normec");
    app.accredit(&normec).await;
    let number = app
        .issue(&kiwa, certificate("K-1", KVK, "trede_2", "2026-01-15"))
        .await;
    let ahead = chrono::Utc::now() + chrono::Duration::days(90);
    let revoke = kiwa.request(
        app,
        "revoke",
        Some(&number),
        json!({"reason": "stops at the end of the quarter", "effectiveAt": ahead.to_rfc3339()}),
    );
    let response = app
        .post_jws(&format!("/v1/certificates/{number}/revocation"), &revoke)
        .await;
    assert_eq!(response.status(), 200);

    // Another CB's certificate starting before the revocation takes effect: two
    // would stand in force at once.
    let today = chrono::Utc::now().date_naive().to_string();
    let seq = app.last_seq().await;
    let jws = normec.request(
        app,
        "issue",
        None,
        certificate("N-1", KVK, "trede_3", &today),
    );
    let body = expect_problem(
        app.post_jws("/v1/certificates", &jws).await,
        409,
        "certificate-in-force",
    )
    .await;
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains(&number)),
        "{body}"
    );
    assert_eq!(app.last_seq().await, seq);
    let status = json(app.get(&format!("/v1/companies/{KVK}/status")).await).await;
    assert_eq!(status["certificateNumber"], number.as_str());

    // Starting once the revocation has taken effect is fine.
    let after = (ahead + chrono::Duration::days(2)).date_naive().to_string();
    app.issue(&normec, certificate("N-2", KVK, "trede_3", &after))
        .await;
}

async fn a_renewal_cannot_reach_into_another_certificate_in_force(app: &TestApp) {
    let kiwa = setup(app).await;
    let normec = TestCb::ed25519("normec");
    app.accredit(&normec).await;
    let mut first = certificate("K-1", KVK, "trede_2", "2027-01-01");
    first["certificate"]["validUntil"] = json!("2027-07-01");
    let number = app.issue(&kiwa, first).await;
    // The next certificate starts where the first ends: no overlap.
    app.issue(&normec, certificate("N-1", KVK, "trede_2", "2027-07-01"))
        .await;
    let seq = app.last_seq().await;
    let renewal = kiwa.request(
        app,
        "renew",
        Some(&number),
        json!({"period": {"level": "trede_2", "validFrom": "2027-06-01", "auditDate": "2027-05-01",
                          "referenceYear": 2026, "handbookVersion": "2.1"}}),
    );
    expect_problem(
        app.post_jws(&format!("/v1/certificates/{number}/renewals"), &renewal)
            .await,
        409,
        "certificate-in-force",
    )
    .await;
    assert_eq!(app.last_seq().await, seq);
}

/// A key set with two keys under one `kid`.
fn duplicate_kid_set() -> Value {
    let (a, b) = (TestCb::ed25519("x"), TestCb::ed25519("x"));
    let mut second = b.jwk.clone();
    second["kid"] = a.jwk["kid"].clone();
    json!({"keys": [a.jwk, second]})
}

async fn refused_admin_writes_write_nothing(app: &TestApp) {
    let server = JwksServer::start(duplicate_kid_set()).await;
    let body = refused_accreditation(app, "dup", json!({"jwksUri": server.uri})).await;
    assert_eq!(body["errors"][0]["field"], "jwksUri", "{body}");
    // Once the set is mended, the same request succeeds (before: 409, it existed).
    let good = TestCb::ed25519("dup");
    server.publish(good.jwks());
    let created = accredit_with(app, "dup", json!({"jwksUri": server.uri})).await;
    assert_eq!(created.status(), 201);

    // A change to such an address is refused whole: no new address, no event.
    let broken = JwksServer::start(duplicate_kid_set()).await;
    let seq = app.last_seq().await;
    let before = json(app.get("/v1/certification-bodies/dup").await).await;
    expect_problem(
        app.admin(
            Method::PATCH,
            "/v1/admin/certification-bodies/dup",
            &json!({"name": "Renamed", "jwksUri": broken.uri}),
        )
        .await,
        422,
        "validation-failed",
    )
    .await;
    assert_eq!(app.last_seq().await, seq);
    assert_eq!(
        json(app.get("/v1/certification-bodies/dup").await).await,
        before
    );
    // The same with an inline set that repeats a kid.
    expect_problem(
        app.admin(
            Method::PATCH,
            "/v1/admin/certification-bodies/dup",
            &json!({"name": "Renamed", "jwks": duplicate_kid_set()}),
        )
        .await,
        422,
        "validation-failed",
    )
    .await;
    assert_eq!(app.last_seq().await, seq);
}

async fn unknown_kids_cause_one_fetch_per_interval_under_concurrency(app: &TestApp) {
    let remote = TestCb::ed25519("remote");
    let server = JwksServer::start(remote.jwks()).await;
    let created = accredit_with(app, "remote", json!({"jwksUri": server.uri})).await;
    assert_eq!(created.status(), 201);
    // Past the refetch interval (2 s in tests), twenty requests with random kids
    // at once.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let before = server.hits();
    let requests = (0..20).map(|i| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(format!("random-{i}-{}", rand::random::<u32>()));
        let jws = remote.sign_with(
            header,
            &remote.claims(
                app,
                "issue",
                None,
                certificate(&format!("R-{i}"), KVK, "trede_1", "2026-01-15"),
            ),
        );
        async move { app.post_jws("/v1/certificates", &jws).await }
    });
    for response in futures_util::future::join_all(requests).await {
        expect_problem(response, 401, "unknown-key").await;
    }
    assert!(
        server.hits() - before <= 1,
        "{} fetches for 20 unknown kids",
        server.hits() - before
    );
}

async fn a_start_in_year_9999_is_refused_by_field_not_a_500(app: &TestApp) {
    let kiwa = setup(app).await;
    let seq = app.last_seq().await;
    let body = refused_issuance(app, &kiwa, certificate("K-1", KVK, "trede_1", "9999-06-01")).await;
    assert_eq!(
        body["errors"][0]["field"], "certificate.validFrom",
        "{body}"
    );
    assert_eq!(app.last_seq().await, seq);
    // The last day the register knows is fine, as a start and as an end.
    let mut last = certificate("K-2", KVK, "trede_1", "9999-06-01");
    last["certificate"]["validUntil"] = json!("9999-12-31");
    last["certificate"]["referenceYear"] = json!(9999);
    let number = app.issue(&kiwa, last).await;
    let status = json(
        app.get(&format!("/v1/companies/{KVK}/status?on=9999-12-30"))
            .await,
    )
    .await;
    assert_eq!(status["certificateNumber"], number.as_str(), "{status}");
    // Instants beyond the last day are refused by name, in a question and in a
    // signed change.
    for on in ["9999-12-31T23:00:00-05:00", "9999-12-31T23:59:59-00:01"] {
        let response = app
            .client
            .get(app.url(&format!("/v1/companies/{KVK}/status")))
            .query(&[("on", on)])
            .send()
            .await
            .expect("request");
        let body = expect_problem(response, 400, "invalid-parameter").await;
        assert_eq!(body["errors"][0]["field"], "on", "{body}");
    }
    let suspend = kiwa.request(
        app,
        "suspend",
        Some(&number),
        json!({"reason": "x", "effectiveAt": "9999-12-31T23:30:00-02:00"}),
    );
    let body = expect_problem(
        app.post_jws(&format!("/v1/certificates/{number}/suspension"), &suspend)
            .await,
        422,
        "validation-failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "effectiveAt", "{body}");
}

async fn the_status_now_answers_304_while_nothing_changed(app: &TestApp) {
    let kiwa = setup(app).await;
    let path = format!("/v1/companies/{KVK}/status");
    let first = app.get(&path).await;
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().expect("ascii").to_owned();
    for _ in 0..2 {
        let again = app.get_if_none_match(&path, &etag).await;
        assert_eq!(again.status(), 304, "the same answer, a moment later");
    }
    // A change to the answer is a new tag.
    app.issue(&kiwa, certificate("K-1", KVK, "trede_1", "2026-01-15"))
        .await;
    let changed = app.get_if_none_match(&path, &etag).await;
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().expect("ascii"), etag);
    // Another question is another tag.
    let other = app.get(&format!("{path}?levelMin=trede_2")).await;
    assert_ne!(other.headers()["etag"].to_str().expect("ascii"), etag);
}

async fn names_are_normalised_and_invisible_characters_refused(app: &TestApp) {
    let kiwa = setup(app).await;
    let seq = app.last_seq().await;
    let refused = [
        "\u{200b}\u{200b}\u{200b}",
        "\u{202e}Bedrijf B.V.",
        "\u{feff}Bedrijf B.V.",
        "Bedrijf\u{2028}B.V.",
        "Bedrijf\u{00ad} B.V.",
        "Bedrijf \u{2066}B.V.\u{2069}",
        "\u{3164}",
        "---",
        // A Cyrillic А in a Latin word.
        "Bouwbedrijf \u{0410}lpha B.V.",
    ];
    for (i, name) in refused.iter().enumerate() {
        let mut payload = certificate(&format!("K-{i}"), KVK, "trede_1", "2026-01-15");
        payload["certificate"]["holder"]["name"] = json!(name);
        let body = refused_issuance(app, &kiwa, payload).await;
        assert_eq!(
            body["errors"][0]["field"], "certificate.holder.name",
            "{name:?}: {body}"
        );
    }
    assert_eq!(app.last_seq().await, seq);
    // A CB's name by the same rule, named as the field at fault.
    let probe = TestCb::ed25519("probe");
    for name in ["Kiwa \u{0410}lpha", "\u{200b}", "***"] {
        let body =
            refused_accreditation(app, "probe", json!({"name": name, "jwks": probe.jwks()})).await;
        assert_eq!(body["errors"][0]["field"], "name", "{name:?}: {body}");
    }

    // Decomposed accents are composed (NFC): one spelling, found by either.
    let mut payload = certificate("K-ok", KVK, "trede_1", "2026-01-15");
    payload["certificate"]["holder"]["name"] = json!("Cafe\u{301} De\u{301}lice B.V.");
    payload["certificate"]["holder"]["city"] = json!("Zu\u{308}rich");
    payload["certificate"]["holder"]["tradeNames"] = json!(["Ἀθῆναι Ελλάς", "日本料理"]);
    app.issue(&kiwa, payload).await;
    let company = json(app.get(&format!("/v1/companies/{KVK}")).await).await;
    assert_eq!(company["name"], "Caf\u{e9} D\u{e9}lice B.V.", "{company}");
    assert_eq!(company["city"], "Z\u{fc}rich");
    for q in ["caf\u{e9}", "cafe\u{301}"] {
        let found = json(
            app.client
                .get(app.url("/v1/companies"))
                .query(&[("q", q)])
                .send()
                .await
                .expect("request"),
        )
        .await;
        assert_eq!(found["items"][0]["kvkNumber"], KVK, "{q:?}: {found}");
    }
}

async fn refusals_and_lists_are_bounded(app: &TestApp) {
    // A batch of 21,000 empty strings: a short problem, not 1.8 MB.
    let numbers: Vec<&str> = vec![""; 21_000];
    let response = app
        .client
        .post(app.url("/v1/status/batch"))
        .json(&json!({ "kvkNumbers": numbers }))
        .send()
        .await
        .expect("request");
    let body = expect_problem(response, 422, "validation-failed").await;
    assert!(body.to_string().len() < 4096, "{body}");
    // 1,000 empty strings are 1,000 faults: the first 100 listed, all counted.
    let numbers: Vec<&str> = vec![""; 1000];
    let response = app
        .client
        .post(app.url("/v1/status/batch"))
        .json(&json!({ "kvkNumbers": numbers }))
        .send()
        .await
        .expect("request");
    let body = expect_problem(response, 422, "validation-failed").await;
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(100));
    assert_eq!(body["errorCount"], 1000);
    assert!(
        body.to_string().len() < 16 * 1024,
        "{} bytes",
        body.to_string().len()
    );

    // A certificate's events are paged like every list.
    let kiwa = setup(app).await;
    let number = app
        .issue(&kiwa, certificate("K-1", KVK, "trede_1", "2026-01-15"))
        .await;
    for (i, act) in ["suspend", "reinstate", "suspend", "reinstate"]
        .iter()
        .enumerate()
    {
        let at = format!("2026-0{}-01T00:00:00Z", i + 2);
        let path = if *act == "suspend" {
            "suspension"
        } else {
            "reinstatement"
        };
        let jws = kiwa.request(
            app,
            act,
            Some(&number),
            json!({"reason": "audit", "effectiveAt": at}),
        );
        let response = app
            .post_jws(&format!("/v1/certificates/{number}/{path}"), &jws)
            .await;
        assert_eq!(
            response.status(),
            200,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }
    let path = format!("/v1/certificates/{number}/events");
    let first = app.get(&format!("{path}?limit=2")).await;
    assert!(first.headers().contains_key("link"));
    let first = json(first).await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2), "{first}");
    let next = first["nextAfter"].as_i64().expect("nextAfter");
    let rest = json(app.get(&format!("{path}?after={next}&limit=10")).await).await;
    let kinds: Vec<&str> = rest["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["reinstated", "suspended", "reinstated"]);
    expect_problem(
        app.get(&format!("{path}?limit=501")).await,
        400,
        "invalid-parameter",
    )
    .await;

    // A padded JWS header cannot make one event weigh what the body limit allows.
    let seq = app.last_seq().await;
    let claims = kiwa.claims(
        app,
        "suspend",
        Some(&number),
        json!({"reason": "audit", "effectiveAt": "2026-07-01T00:00:00Z"}),
    );
    let header = json!({"alg": "EdDSA", "kid": kiwa.kid, "pad": "x".repeat(8 * 1024)});
    let jws = raw_jws(&kiwa, &header.to_string(), &claims.to_string());
    expect_problem(
        app.post_jws(&format!("/v1/certificates/{number}/suspension"), &jws)
            .await,
        401,
        "invalid-token",
    )
    .await;
    assert_eq!(app.last_seq().await, seq);
}

async fn duplicate_members_in_a_signed_request_are_refused(app: &TestApp) {
    let kiwa = setup(app).await;
    let seq = app.last_seq().await;
    let claims = kiwa.claims(
        app,
        "issue",
        None,
        certificate("K-1", KVK, "trede_1", "2026-01-15"),
    );
    let claims_text = claims.to_string();
    let kid = &kiwa.kid;
    // The same header read first-wins says alg none.
    let header = format!(r#"{{"alg":"none","kid":"{kid}","alg":"EdDSA"}}"#);
    let jws = raw_jws(&kiwa, &header, &claims_text);
    expect_problem(
        app.post_jws("/v1/certificates", &jws).await,
        401,
        "invalid-token",
    )
    .await;
    // iss twice in the claims, and a duplicate deep inside the payload.
    let header = format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#);
    let twice = claims_text.replacen('{', r#"{"iss":"normec","#, 1);
    let deep = claims_text.replacen(
        r#""level":"trede_1""#,
        r#""level":"trede_3","level":"trede_1""#,
        1,
    );
    assert_ne!(deep, claims_text);
    for text in [twice, deep] {
        let jws = raw_jws(&kiwa, &header, &text);
        expect_problem(
            app.post_jws("/v1/certificates", &jws).await,
            401,
            "invalid-token",
        )
        .await;
    }
    assert_eq!(app.last_seq().await, seq);
    // The same claims once each are accepted: the refusal is about duplicates.
    let jws = raw_jws(&kiwa, &header, &claims_text);
    assert_eq!(app.post_jws("/v1/certificates", &jws).await.status(), 201);
}

async fn key_set_errors_do_not_tell_a_closed_port_from_an_open_one(app: &TestApp) {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        drop(listener);
        format!("http://127.0.0.1:{port}/jwks.json")
    };
    // An open port that is not an HTTP server: it accepts and hangs up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let open = format!(
        "http://{}/jwks.json",
        listener.local_addr().expect("address")
    );
    let task = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    // An HTTP server that answers 404.
    let not_found = JwksServer::start(json!({})).await;
    let mut details = Vec::new();
    for uri in [&closed, &open] {
        let body = expect_problem(
            accredit_with(app, "probe", json!({"jwksUri": uri})).await,
            422,
            "validation-failed",
        )
        .await;
        details.push(body["errors"][0]["message"].clone());
    }
    let body = expect_problem(
        accredit_with(app, "probe", json!({"jwksUri": not_found.uri})).await,
        422,
        "validation-failed",
    )
    .await;
    details.push(body["errors"][0]["message"].clone());
    task.abort();
    assert_eq!(details[0], details[1], "{details:?}");
    assert!(details.iter().all(|d| d == &details[0]), "{details:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_token_no_body_reaches_the_admin_api() {
    let app = TestApp::spawn_without_admin(pso_registry_tests::Backend::Sqlite)
        .await
        .expect("sqlite");
    for (method, path) in [
        (Method::POST, "/v1/admin/certification-bodies"),
        (Method::PATCH, "/v1/admin/certification-bodies/kiwa"),
        (
            Method::POST,
            "/v1/admin/certificates/PSO-2026-000001/revocation",
        ),
        (Method::OPTIONS, "/v1/admin/certification-bodies"),
        (Method::DELETE, "/v1/admin/certification-bodies"),
    ] {
        for (content_type, body) in [
            ("text/plain", "hello"),
            ("application/json", "{"),
            ("application/json", "[]"),
            ("application/json", "{\"id\": 5}"),
        ] {
            let response = app
                .client
                .request(method.clone(), app.url(path))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .expect("request");
            expect_problem(response, 404, "not-found").await;
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_handler_is_a_500_problem_and_the_server_goes_on() {
    let app = TestApp::spawn_with_panicking_route(pso_registry_tests::Backend::Sqlite)
        .await
        .expect("sqlite");
    for _ in 0..3 {
        // The test's own route is not in the document: checked by hand.
        let response = app.get("/test/panic").await;
        assert_eq!(response.status(), 500);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body = json(response).await;
        assert_eq!(body["type"], "/problems/internal", "{body}");
        assert!(
            !body.to_string().contains("panic"),
            "no panic message reaches a client: {body}"
        );
    }
    assert_eq!(app.get("/healthz").await.status(), 200);
    app.stop().await;
}

/// What the hostile client tried that held before the fixes, kept: headers
/// that name other keys are ignored (nothing is fetched), `crit` and other
/// algorithms are refused, a nested JWS is not claims, key-set addresses are
/// https or loopback http and are not followed elsewhere, and a chunked body
/// is cut at the limit.
async fn the_attack_classes_that_held_still_hold(app: &TestApp) {
    let kiwa = setup(app).await;
    let seq = app.last_seq().await;
    let attacker = TestCb::ed25519("kiwa");
    let lure = JwksServer::start(attacker.jwks()).await;
    let claims = kiwa.claims(
        app,
        "issue",
        None,
        certificate("K-1", KVK, "trede_1", "2026-01-15"),
    );
    let text = claims.to_string();
    let signed_by_attacker = |header: Value| {
        let mut header = header;
        header["alg"] = json!("EdDSA");
        header["kid"] = json!(attacker.kid);
        raw_jws(&attacker, &header.to_string(), &text)
    };
    let cases = [
        (
            signed_by_attacker(json!({"jku": lure.uri})),
            401,
            "unknown-key",
        ),
        (
            signed_by_attacker(json!({"x5u": lure.uri})),
            401,
            "unknown-key",
        ),
        (
            signed_by_attacker(json!({"jwk": attacker.jwk})),
            401,
            "unknown-key",
        ),
        (
            raw_jws(
                &kiwa,
                &json!({"alg": "EdDSA", "kid": kiwa.kid, "crit": ["b64"], "b64": false})
                    .to_string(),
                &text,
            ),
            401,
            "invalid-token",
        ),
        (
            raw_jws(
                &kiwa,
                &json!({"alg": "RS256", "kid": kiwa.kid}).to_string(),
                &text,
            ),
            401,
            "unsupported-algorithm",
        ),
        (
            raw_jws(
                &kiwa,
                &json!({"alg": "ES384", "kid": kiwa.kid}).to_string(),
                &text,
            ),
            401,
            "unsupported-algorithm",
        ),
        (
            // A JWS whose payload is another JWS (a JSON string), not claims.
            raw_jws(
                &kiwa,
                &json!({"alg": "EdDSA", "kid": kiwa.kid}).to_string(),
                &json!(kiwa.sign(&claims)).to_string(),
            ),
            401,
            "invalid-token",
        ),
    ];
    for (jws, status, slug) in cases {
        expect_problem(app.post_jws("/v1/certificates", &jws).await, status, slug).await;
    }
    assert_eq!(lure.hits(), 0, "a header never makes the register fetch");

    // Key-set addresses: https, or http to loopback only; a redirect is not followed.
    let redirect = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let uri = format!(
            "http://{}/jwks.json",
            listener.local_addr().expect("address")
        );
        let target = lure.uri.clone();
        let task = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let answer = format!(
                    "HTTP/1.1 302 Found\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        (uri, task)
    };
    for uri in [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "data:application/json,{\"keys\":[]}",
        "http://cb.example/jwks.json",
        "ftp://127.0.0.1/jwks.json",
        redirect.0.as_str(),
    ] {
        let body = refused_accreditation(app, "probe", json!({"jwksUri": uri})).await;
        assert_eq!(body["errors"][0]["field"], "jwksUri", "{uri}: {body}");
    }
    redirect.1.abort();
    assert_eq!(lure.hits(), 0, "the redirect was not followed");

    // A chunked body past the limit is cut there (sent by hand: 80 chunks of 1 KiB).
    let answer = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut socket = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
            .await
            .expect("connect");
        let head = "POST /v1/certificates HTTP/1.1\r\nhost: register\r\ncontent-type: application/jose\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
        socket.write_all(head.as_bytes()).await.expect("head");
        let chunk = format!("400\r\n{}\r\n", "a".repeat(1024));
        for _ in 0..80 {
            // The register may answer and close before the last chunk.
            if socket.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
        let mut answer = Vec::new();
        let _ = socket.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    };
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("application/problem+json")
            && answer.contains("/problems/payload-too-large"),
        "{answer}"
    );
    assert_eq!(app.last_seq().await, seq);
}
