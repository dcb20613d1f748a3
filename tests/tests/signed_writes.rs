//! Certification bodies write with signed requests: the whole lifecycle over HTTP,
//! the evidence anyone can verify, and every attack refused with nothing written.

use jsonwebtoken::{Algorithm, Header};
use pso_registry_tests::cb::{TestCb, certificate};
use pso_registry_tests::jwks_server::JwksServer;
use pso_registry_tests::{TestApp, expect_problem, json, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    the_lifecycle_end_to_end_with_verifiable_evidence,
    es256_signatures_are_accepted_too,
    reissuing_is_idempotent_and_other_content_conflicts,
    attacks_are_refused_and_write_nothing,
    payload_errors_name_each_field_and_write_nothing,
    a_cb_acts_only_on_its_own_certificates_and_only_while_accredited,
    one_certificate_in_force_and_replaces,
    the_scheme_owner_api_needs_its_token,
    rotating_inline_keys_retires_the_old_one,
    a_published_key_set_rotates_without_an_admin_call,
    fifty_parallel_identical_issuances_yield_one_certificate,
    parallel_suspend_and_revoke_races_leave_a_consistent_history,
);

const KVK: &str = "12345678";

async fn setup(app: &TestApp) -> TestCb {
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    kiwa
}

async fn the_lifecycle_end_to_end_with_verifiable_evidence(app: &TestApp) {
    let kiwa = setup(app).await;
    let jws = kiwa.request(
        app,
        "issue",
        None,
        certificate("KIWA-1", KVK, "trede_1", "2026-01-15"),
    );
    let response = app.post_jws("/v1/certificates", &jws).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let issued = json(response).await;
    let number = issued["number"].as_str().expect("number").to_owned();
    assert_eq!(location, format!("/v1/certificates/{number}"));
    assert_eq!(
        (issued["level"].clone(), issued["validUntil"].clone()),
        (json!("trede_1"), json!("2028-01-15"))
    );
    assert_eq!(issued["holder"]["kvkNumber"], KVK);
    assert_eq!(issued["certificationBody"], "kiwa");

    let sub = Some(number.as_str());
    let period = json!({"period": {"level": "trede_2", "validFrom": "2028-01-15", "auditDate": "2027-12-01",
                                   "referenceYear": 2027, "handbookVersion": "2.1"}});
    let renewed = app
        .post_jws(
            &format!("/v1/certificates/{number}/renewals"),
            &kiwa.request(app, "renew", sub, period),
        )
        .await;
    assert_eq!(renewed.status(), 200);
    assert_eq!(
        json(renewed).await["periods"].as_array().map(Vec::len),
        Some(2)
    );

    let steps = [
        (
            "suspension",
            "suspend",
            json!({"reason": "audit finding", "effectiveAt": "2026-06-01T10:00:00Z"}),
            "suspended",
        ),
        (
            "reinstatement",
            "reinstate",
            json!({"effectiveAt": "2026-07-01T10:00:00Z"}),
            "reinstated",
        ),
        (
            "revocation",
            "revoke",
            json!({"reason": "fraud"}),
            "revoked",
        ),
    ];
    for (path, act, payload, _) in &steps {
        let response = app
            .post_jws(
                &format!("/v1/certificates/{number}/{path}"),
                &kiwa.request(app, act, sub, payload.clone()),
            )
            .await;
        assert_eq!(
            response.status(),
            200,
            "{act}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    let now = json(app.get(&format!("/v1/certificates/{number}")).await).await;
    assert_eq!(now["status"], "revoked");
    let after_revocation = kiwa.request(app, "suspend", sub, json!({"reason": "again"}));
    expect_problem(
        app.post_jws(
            &format!("/v1/certificates/{number}/suspension"),
            &after_revocation,
        )
        .await,
        409,
        "certificate-revoked",
    )
    .await;

    let events = json(app.get(&format!("/v1/certificates/{number}/events")).await).await;
    let items = events["items"].as_array().expect("items");
    let kinds: Vec<&str> = items
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        ["issued", "renewed", "suspended", "reinstated", "revoked"]
    );
    assert_eq!(
        items[0]["evidence"], jws,
        "the signed request is kept verbatim"
    );
    assert!(
        items
            .windows(2)
            .all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64())
    );

    // Anyone can verify the evidence with the CB's published keys and a standard library.
    let body = json(app.get("/v1/certification-bodies/kiwa").await).await;
    assert_eq!(body["accreditation"], "active");
    let published: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(body["jwks"].clone()).expect("a JWK set");
    for event in items {
        let evidence = event["evidence"].as_str().expect("evidence");
        let header = jsonwebtoken::decode_header(evidence).expect("header");
        let jwk = published
            .find(header.kid.as_deref().expect("kid"))
            .expect("published key");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("key");
        let (message, signature) = evidence.rsplit_once('.').expect("compact");
        assert!(
            jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, header.alg)
                .expect("verify")
        );
    }
    let feed = json(app.get("/v1/events?after=0&limit=500").await).await;
    let seqs: Vec<i64> = feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]) && seqs.len() == 6,
        "{seqs:?}"
    );
    let page = app
        .get(&format!("/v1/events?after={}&limit=2", seqs[1]))
        .await;
    assert!(page.headers().contains_key("link"));
    let page = json(page).await;
    assert_eq!(page["nextAfter"], seqs[3]);
}

async fn es256_signatures_are_accepted_too(app: &TestApp) {
    let normec = TestCb::es256("normec");
    app.accredit(&normec).await;
    let number = app
        .issue(&normec, certificate("N-1", KVK, "trede_3", "2026-01-15"))
        .await;
    let body = json(app.get(&format!("/v1/certificates/{number}")).await).await;
    assert_eq!(body["certificationBody"], "normec");
}

async fn reissuing_is_idempotent_and_other_content_conflicts(app: &TestApp) {
    let kiwa = setup(app).await;
    let number = app
        .issue(&kiwa, certificate("KIWA-1", KVK, "trede_2", "2026-01-15"))
        .await;
    let seq = app.last_seq().await;
    let again = app
        .post_jws(
            "/v1/certificates",
            &kiwa.request(
                app,
                "issue",
                None,
                certificate("KIWA-1", KVK, "trede_2", "2026-01-15"),
            ),
        )
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(json(again).await["number"], number);
    let other = kiwa.request(
        app,
        "issue",
        None,
        certificate("KIWA-1", KVK, "trede_3", "2026-01-15"),
    );
    expect_problem(
        app.post_jws("/v1/certificates", &other).await,
        409,
        "conflict",
    )
    .await;
    assert_eq!(app.last_seq().await, seq, "nothing written");
}

/// Each attack: a request, the problem it must get, and nothing written.
async fn attacks_are_refused_and_write_nothing(app: &TestApp) {
    let kiwa = setup(app).await;
    let normec = TestCb::ed25519("normec");
    app.accredit(&normec).await;
    let number = app
        .issue(&kiwa, certificate("KIWA-1", KVK, "trede_2", "2026-01-15"))
        .await;
    let suspend_path = format!("/v1/certificates/{number}/suspension");
    let suspend = |claims: &Value| kiwa.sign(claims);
    let base = kiwa.claims(
        app,
        "issue",
        None,
        certificate("KIWA-2", "22345678", "trede_1", "2026-01-15"),
    );
    let with = |changes: Value| {
        let mut c = base.clone();
        if let (Value::Object(c), Value::Object(changes)) = (&mut c, changes) {
            c.extend(changes);
        }
        c
    };
    let now = chrono::Utc::now().timestamp();

    let tampered = {
        let jws = kiwa.sign(&base);
        let parts: Vec<&str> = jws.split('.').collect();
        let forged = kiwa.claims(
            app,
            "issue",
            None,
            certificate("KIWA-2", "22345678", "trede_3", "2026-01-15"),
        );
        let forged = pso_registry_tests::b64(&serde_json::to_vec(&forged).expect("json"));
        format!("{}.{forged}.{}", parts[0], parts[2])
    };
    let alg_none = {
        let header = pso_registry_tests::b64(
            json!({"alg": "none", "kid": kiwa.kid})
                .to_string()
                .as_bytes(),
        );
        format!(
            "{header}.{}.",
            pso_registry_tests::b64(base.to_string().as_bytes())
        )
    };
    let hs256 = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kiwa.kid.clone());
        let key = jsonwebtoken::EncodingKey::from_secret(kiwa.jwk.to_string().as_bytes())
            .expect("hmac key");
        jsonwebtoken::encode(&header, &base, &key).expect("hs256")
    };
    let unknown_kid = {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("no-such-key".into());
        kiwa.sign_with(header, &base)
    };
    let others_key = {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kiwa.kid.clone());
        normec.sign_with(header, &base)
    };
    let replayed = kiwa.sign(&kiwa.claims(
        app,
        "suspend",
        Some(&number),
        json!({"reason": "x", "effectiveAt": "2026-06-01T00:00:00Z"}),
    ));
    let first = app.post_jws(&suspend_path, &replayed).await;
    assert_eq!(
        first.status(),
        200,
        "{}",
        first.text().await.unwrap_or_default()
    );
    let seq = app.last_seq().await;

    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        (
            "tampered payload",
            "/v1/certificates".into(),
            tampered,
            401,
            "invalid-signature",
        ),
        (
            "alg none",
            "/v1/certificates".into(),
            alg_none,
            401,
            "unsupported-algorithm",
        ),
        (
            "HS256 keyed with the public JWK",
            "/v1/certificates".into(),
            hs256,
            401,
            "unsupported-algorithm",
        ),
        (
            "wrong aud",
            "/v1/certificates".into(),
            kiwa.sign(&with(json!({"aud": "https://elsewhere"}))),
            401,
            "wrong-audience",
        ),
        (
            "expired",
            "/v1/certificates".into(),
            kiwa.sign(&with(json!({"iat": now - 900, "exp": now - 300}))),
            401,
            "token-expired",
        ),
        (
            "exp too far ahead",
            "/v1/certificates".into(),
            kiwa.sign(&with(json!({"exp": now + 3600}))),
            401,
            "token-lifetime-too-long",
        ),
        (
            "issued in the future",
            "/v1/certificates".into(),
            kiwa.sign(&with(json!({"iat": now + 600, "exp": now + 900}))),
            401,
            "token-not-yet-valid",
        ),
        (
            "unknown kid",
            "/v1/certificates".into(),
            unknown_kid,
            401,
            "unknown-key",
        ),
        (
            "signed with another CB's key",
            "/v1/certificates".into(),
            others_key,
            401,
            "invalid-signature",
        ),
        (
            "unknown issuer",
            "/v1/certificates".into(),
            kiwa.sign(&with(json!({"iss": "nobody"}))),
            401,
            "unknown-issuer",
        ),
        (
            "act not matching the path",
            "/v1/certificates".into(),
            kiwa.sign(&with(json!({"act": "revoke"}))),
            403,
            "act-mismatch",
        ),
        (
            "sub not matching the path",
            suspend_path.clone(),
            suspend(&kiwa.claims(
                app,
                "suspend",
                Some("PSO-2020-999999"),
                json!({"reason": "x"}),
            )),
            403,
            "sub-mismatch",
        ),
        (
            "replayed jti",
            suspend_path.clone(),
            replayed.clone(),
            401,
            "replay",
        ),
        (
            "a body that is not a JWS",
            "/v1/certificates".into(),
            "hello, registry".into(),
            401,
            "invalid-token",
        ),
        (
            "no jti",
            "/v1/certificates".into(),
            kiwa.sign(&with(json!({"jti": null}))),
            401,
            "invalid-token",
        ),
    ];
    for (name, path, body, status, slug) in cases {
        let response = app.post_jws(&path, &body).await;
        let problem = expect_problem(response, status, slug).await;
        assert!(
            !problem.to_string().contains("BEGIN"),
            "{name}: no key material in a problem"
        );
        assert_eq!(app.last_seq().await, seq, "{name}: nothing written");
    }

    let oversized = "a".repeat(70 * 1024);
    expect_problem(
        app.post_jws("/v1/certificates", &oversized).await,
        413,
        "payload-too-large",
    )
    .await;
    let as_json = app
        .client
        .post(app.url("/v1/certificates"))
        .json(&base)
        .send()
        .await
        .expect("request");
    expect_problem(as_json, 415, "unsupported-media-type").await;

    // A suspended CB cannot write, whatever it signs.
    let body = json!({"accreditation": "suspended"});
    assert_eq!(
        app.admin(Method::PATCH, "/v1/admin/certification-bodies/kiwa", &body)
            .await
            .status(),
        200
    );
    let seq = app.last_seq().await;
    expect_problem(
        app.post_jws("/v1/certificates", &kiwa.sign(&base)).await,
        403,
        "cb-not-accredited",
    )
    .await;
    assert_eq!(app.last_seq().await, seq, "a suspended CB wrote nothing");
}

async fn payload_errors_name_each_field_and_write_nothing(app: &TestApp) {
    let kiwa = setup(app).await;
    let seq = app.last_seq().await;
    let mut bad = certificate("KIWA-1", "1234567", "trede_4", "2026-01-15");
    bad["certificate"]["holder"]["province"] = json!("Vlaanderen");
    bad["certificate"]["valid_untill"] = json!("2028-01-15");
    let response = app
        .post_jws("/v1/certificates", &kiwa.request(app, "issue", None, bad))
        .await;
    let problem = expect_problem(response, 422, "validation-failed").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    assert_eq!(
        fields,
        [
            "certificate.valid_untill",
            "certificate.holder.kvkNumber",
            "certificate.holder.province",
            "certificate.level"
        ]
    );

    let cases = [
        (json!({"pso30plus": true}), "certificate.pso30plus"),
        (
            json!({"validUntil": "2026-01-15"}),
            "certificate.validUntil",
        ),
        (
            json!({"validUntil": "2028-06-01"}),
            "certificate.validUntil",
        ),
        (
            json!({"level": "aspirant", "validUntil": "2028-01-16"}),
            "certificate.validUntil",
        ),
    ];
    for (change, field) in cases {
        let mut payload = certificate("KIWA-2", KVK, "trede_2", "2026-01-15");
        if let (Value::Object(c), Value::Object(change)) = (&mut payload["certificate"], change) {
            c.extend(change);
        }
        let problem = expect_problem(
            app.post_jws(
                "/v1/certificates",
                &kiwa.request(app, "issue", None, payload),
            )
            .await,
            422,
            "validation-failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let number = app
        .issue(&kiwa, certificate("KIWA-3", KVK, "trede_2", "2026-01-15"))
        .await;
    let seq_after_issue = app.last_seq().await;
    assert!(seq_after_issue > seq);
    let path = format!("/v1/certificates/{number}/suspension");
    let no_reason = kiwa.request(app, "suspend", Some(&number), json!({}));
    let problem = expect_problem(
        app.post_jws(&path, &no_reason).await,
        422,
        "validation-failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "reason");
    let too_early = kiwa.request(
        app,
        "suspend",
        Some(&number),
        json!({"reason": "x", "effectiveAt": "2025-01-01T00:00:00Z"}),
    );
    let problem = expect_problem(
        app.post_jws(&path, &too_early).await,
        422,
        "validation-failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "effectiveAt");
    assert_eq!(
        app.last_seq().await,
        seq_after_issue,
        "refusals wrote nothing"
    );
}

async fn a_cb_acts_only_on_its_own_certificates_and_only_while_accredited(app: &TestApp) {
    let kiwa = setup(app).await;
    let normec = TestCb::ed25519("normec");
    app.accredit(&normec).await;
    let number = app
        .issue(&kiwa, certificate("KIWA-1", KVK, "trede_2", "2026-01-15"))
        .await;
    let seq = app.last_seq().await;
    let theirs = normec.request(app, "suspend", Some(&number), json!({"reason": "not mine"}));
    expect_problem(
        app.post_jws(&format!("/v1/certificates/{number}/suspension"), &theirs)
            .await,
        403,
        "not-your-certificate",
    )
    .await;
    let missing = kiwa.request(
        app,
        "suspend",
        Some("PSO-2020-999999"),
        json!({"reason": "x"}),
    );
    expect_problem(
        app.post_jws("/v1/certificates/PSO-2020-999999/suspension", &missing)
            .await,
        404,
        "not-found",
    )
    .await;
    assert_eq!(app.last_seq().await, seq);
    let body = json!({"accreditation": "withdrawn"});
    assert_eq!(
        app.admin(
            Method::PATCH,
            "/v1/admin/certification-bodies/normec",
            &body
        )
        .await
        .status(),
        200
    );
    let withdrawn = normec.request(
        app,
        "issue",
        None,
        certificate("N-1", "22345678", "trede_1", "2026-01-15"),
    );
    expect_problem(
        app.post_jws("/v1/certificates", &withdrawn).await,
        403,
        "cb-not-accredited",
    )
    .await;
}

async fn one_certificate_in_force_and_replaces(app: &TestApp) {
    let kiwa = setup(app).await;
    let normec = TestCb::ed25519("normec");
    app.accredit(&normec).await;
    let old = app
        .issue(&kiwa, certificate("KIWA-1", KVK, "trede_1", "2026-01-15"))
        .await;
    let seq = app.last_seq().await;
    let second = normec.request(
        app,
        "issue",
        None,
        certificate("N-1", KVK, "trede_3", "2027-01-15"),
    );
    let problem = expect_problem(
        app.post_jws("/v1/certificates", &second).await,
        409,
        "certificate-in-force",
    )
    .await;
    assert!(problem["detail"].as_str().expect("detail").contains(&old));
    assert_eq!(app.last_seq().await, seq);
    let mut replacing = certificate("N-1", KVK, "trede_3", "2027-01-15");
    replacing["certificate"]["replaces"] = json!(old);
    let new = app.issue(&normec, replacing).await;
    let old_now = json(app.get(&format!("/v1/certificates/{old}")).await).await;
    let changes = old_now["standingChanges"].as_array().expect("changes");
    assert_eq!(changes[0]["standing"], "superseded");
    assert_eq!(
        changes[0]["effectiveAt"], "2027-01-14T23:00:00Z",
        "from the new start, Amsterdam midnight"
    );
    let new_now = json(app.get(&format!("/v1/certificates/{new}")).await).await;
    assert_eq!(new_now["replaces"], old);
}

async fn the_scheme_owner_api_needs_its_token(app: &TestApp) {
    let kiwa = TestCb::ed25519("kiwa");
    let body = json!({"id": "kiwa", "name": "Kiwa", "jwks": kiwa.jwks()});
    let anonymous = app
        .client
        .post(app.url("/v1/admin/certification-bodies"))
        .json(&body)
        .send()
        .await
        .expect("request");
    let problem = expect_problem(anonymous, 401, "unauthorized").await;
    assert!(!problem.to_string().contains(&app.admin_token));
    let wrong = app
        .client
        .post(app.url("/v1/admin/certification-bodies"))
        .bearer_auth(format!("{}x", app.admin_token))
        .json(&body)
        .send()
        .await
        .expect("request");
    expect_problem(wrong, 401, "unauthorized").await;
    assert_eq!(app.last_seq().await, 0, "nothing accredited");
    app.accredit(&kiwa).await;
    expect_problem(
        app.admin(Method::POST, "/v1/admin/certification-bodies", &body)
            .await,
        409,
        "certification-body-exists",
    )
    .await;
    let bad = json!({"id": "Kiwa NL", "name": "", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}, "colour": "red"});
    let problem = expect_problem(
        app.admin(Method::POST, "/v1/admin/certification-bodies", &bad)
            .await,
        422,
        "validation-failed",
    )
    .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    let (keys, others): (Vec<&str>, Vec<&str>) =
        fields.iter().partition(|f| f.starts_with("jwks.keys[0]."));
    assert_eq!(others, ["colour", "id", "name"]);
    assert!(!keys.is_empty(), "{fields:?}");
    let private = json!({"id": "leaky", "name": "Leaky", "jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": kiwa.jwk["x"], "d": kiwa.jwk["x"], "kid": "p"}]}});
    expect_problem(
        app.admin(Method::POST, "/v1/admin/certification-bodies", &private)
            .await,
        422,
        "validation-failed",
    )
    .await;
    let plain_http =
        json!({"id": "remote", "name": "Remote", "jwksUri": "http://cb.example/jwks.json"});
    let problem = expect_problem(
        app.admin(Method::POST, "/v1/admin/certification-bodies", &plain_http)
            .await,
        422,
        "validation-failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "jwksUri");

    let number = app
        .issue(&kiwa, certificate("KIWA-1", KVK, "trede_2", "2026-01-15"))
        .await;
    let path = format!("/v1/admin/certificates/{number}/revocation");
    let problem = expect_problem(
        app.admin(Method::POST, &path, &json!({})).await,
        422,
        "validation-failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "reason");
    let revoked = app
        .admin(
            Method::POST,
            &path,
            &json!({"reason": "fraud established by the scheme owner"}),
        )
        .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(json(revoked).await["status"], "revoked");
    let events = json(app.get(&format!("/v1/certificates/{number}/events")).await).await;
    assert_eq!(events["items"][1]["kind"], "revoked");
    assert_eq!(
        events["items"][1]["evidence"],
        Value::Null,
        "the scheme owner's act has no CB signature"
    );
}

async fn rotating_inline_keys_retires_the_old_one(app: &TestApp) {
    let old = setup(app).await;
    let new = TestCb::ed25519("kiwa");
    let body = json!({"jwks": new.jwks()});
    let changed = json(
        app.admin(Method::PATCH, "/v1/admin/certification-bodies/kiwa", &body)
            .await,
    )
    .await;
    let statuses: Vec<(&str, &str)> = changed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().expect("kid"),
                k["status"].as_str().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [(old.kid.as_str(), "retired"), (new.kid.as_str(), "current")]
    );
    assert_eq!(
        changed["jwks"]["keys"].as_array().map(Vec::len),
        Some(2),
        "retired keys stay published"
    );
    let seq = app.last_seq().await;
    let with_old = old.request(
        app,
        "issue",
        None,
        certificate("KIWA-1", KVK, "trede_2", "2026-01-15"),
    );
    expect_problem(
        app.post_jws("/v1/certificates", &with_old).await,
        401,
        "unknown-key",
    )
    .await;
    assert_eq!(app.last_seq().await, seq);
    app.issue(&new, certificate("KIWA-1", KVK, "trede_2", "2026-01-15"))
        .await;
    let feed = json(app.get("/v1/events").await).await;
    let kinds: Vec<&str> = feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        [
            "certification_body_accredited",
            "certification_body_changed",
            "issued"
        ]
    );
}

async fn a_published_key_set_rotates_without_an_admin_call(app: &TestApp) {
    let first = TestCb::ed25519("remote");
    let server = JwksServer::start(first.jwks()).await;
    let body = json!({"id": "remote", "name": "Remote CB", "jwksUri": server.uri});
    let created = app
        .admin(Method::POST, "/v1/admin/certification-bodies", &body)
        .await;
    assert_eq!(
        created.status(),
        201,
        "{}",
        created.text().await.unwrap_or_default()
    );
    app.issue(&first, certificate("R-1", KVK, "trede_2", "2026-01-15"))
        .await;

    let second = TestCb::ed25519("remote");
    server.publish(second.jwks());
    // The register fetches again on an unknown kid, at most once per interval
    // (REGISTRY_JWKS_MIN_REFETCH_SECS, 2 s in tests): a CB rotates no faster.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    app.issue(
        &second,
        certificate("R-2", "22345678", "trede_2", "2026-01-15"),
    )
    .await;
    let hits = server.hits();

    // The first key is no longer published: retired, and it verifies nothing new.
    let stale = first.request(
        app,
        "issue",
        None,
        certificate("R-3", "32345678", "trede_2", "2026-01-15"),
    );
    expect_problem(
        app.post_jws("/v1/certificates", &stale).await,
        401,
        "unknown-key",
    )
    .await;
    // Random kids do not make the register hammer the CB.
    for i in 0..5 {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(format!("random-{i}"));
        let jws = second.sign_with(
            header,
            &second.claims(
                app,
                "issue",
                None,
                certificate("R-4", "42345678", "trede_2", "2026-01-15"),
            ),
        );
        expect_problem(
            app.post_jws("/v1/certificates", &jws).await,
            401,
            "unknown-key",
        )
        .await;
    }
    assert_eq!(server.hits(), hits, "no fetch within the refetch interval");
    let cb = json(app.get("/v1/certification-bodies/remote").await).await;
    let statuses: Vec<&str> = cb["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["retired", "current"]);
    let feed = json(app.get("/v1/events").await).await;
    assert!(
        feed["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|e| e["kind"] == "certification_body_keys_changed")
    );
}

async fn fifty_parallel_identical_issuances_yield_one_certificate(app: &TestApp) {
    let kiwa = setup(app).await;
    let requests: Vec<String> = (0..50)
        .map(|_| {
            kiwa.request(
                app,
                "issue",
                None,
                certificate("KIWA-RACE", KVK, "trede_2", "2026-01-15"),
            )
        })
        .collect();
    let responses = futures_join(
        requests
            .iter()
            .map(|jws| app.post_jws("/v1/certificates", jws)),
    )
    .await;
    let mut numbers = Vec::new();
    let mut created = 0;
    for response in responses {
        let status = response.status().as_u16();
        assert!(status == 201 || status == 200, "status {status}");
        created += usize::from(status == 201);
        numbers.push(
            json(response).await["number"]
                .as_str()
                .expect("number")
                .to_owned(),
        );
    }
    assert_eq!(created, 1, "exactly one 201");
    assert!(numbers.windows(2).all(|w| w[0] == w[1]));
    let feed = json(app.get("/v1/events?limit=500").await).await;
    let issued = feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["kind"] == "issued")
        .count();
    assert_eq!(issued, 1);
}

async fn parallel_suspend_and_revoke_races_leave_a_consistent_history(app: &TestApp) {
    let kiwa = setup(app).await;
    let number = app
        .issue(&kiwa, certificate("KIWA-1", KVK, "trede_2", "2026-01-15"))
        .await;
    let requests: Vec<(String, String)> = (0..50)
        .map(|i| {
            let (path, act) = match i % 3 {
                0 => ("revocation", "revoke"),
                1 => ("suspension", "suspend"),
                _ => ("reinstatement", "reinstate"),
            };
            (
                format!("/v1/certificates/{number}/{path}"),
                kiwa.request(
                    app,
                    act,
                    Some(&number),
                    json!({"reason": format!("race {i}")}),
                ),
            )
        })
        .collect();
    let responses = futures_join(requests.iter().map(|(path, jws)| app.post_jws(path, jws))).await;
    for response in responses {
        let status = response.status().as_u16();
        assert!(
            status == 200 || status == 409,
            "status {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    let events = json(app.get(&format!("/v1/certificates/{number}/events")).await).await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "revoked").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.last(),
        Some(&"revoked"),
        "nothing after the revocation: {kinds:?}"
    );
    let mut suspended = false;
    for kind in &kinds[1..kinds.len() - 1] {
        match *kind {
            "suspended" => {
                assert!(!suspended, "two suspensions in a row: {kinds:?}");
                suspended = true;
            }
            "reinstated" => {
                assert!(suspended, "a reinstatement without a suspension: {kinds:?}");
                suspended = false;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        json(app.get(&format!("/v1/certificates/{number}")).await).await["status"],
        "revoked"
    );
}

/// Without `REGISTRY_ADMIN_TOKEN` the scheme owner's API does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_token_there_is_no_admin_api() {
    let app = TestApp::spawn_without_admin(pso_registry_tests::Backend::Sqlite)
        .await
        .expect("sqlite");
    let kiwa = TestCb::ed25519("kiwa");
    let body = json!({"id": "kiwa", "name": "Kiwa", "jwks": kiwa.jwks()});
    for token in ["", "anything-at-all-that-is-long-enough-0123456789"] {
        let response = app
            .client
            .post(app.url("/v1/admin/certification-bodies"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        expect_problem(response, 404, "not-found").await;
    }
    assert_eq!(app.last_seq().await, 0);
    app.stop().await;
}

/// Runs the futures concurrently and collects their outputs in order.
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.collect();
    let mut out = Vec::with_capacity(handles.len());
    let mut pinned: Vec<_> = handles.into_iter().map(Box::pin).collect();
    // Poll all together.
    let results = futures_util::future::join_all(pinned.drain(..)).await;
    out.extend(results);
    out
}
