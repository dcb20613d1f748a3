//! The OpenAPI document: generated from the code, checked in at
//! `openapi/openapi.json` (this test fails when that file is stale), a valid
//! OpenAPI 3.1 document, served at `/openapi.json`, and shown offline at `/docs`.

use pso_registry_tests::{Backend, TestApp, json};

const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");

#[test]
fn the_checked_in_document_is_what_the_code_produces() {
    let generated = pso_api::openapi::document();
    let checked_in = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
    assert!(
        checked_in == generated,
        "openapi/openapi.json is stale: run `make openapi` and commit the result"
    );
}

#[test]
fn the_document_is_valid_openapi_3_1_and_documents_every_response() {
    let text = pso_api::openapi::document();
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    let mut operations = 0;
    for (path, item) in value["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            operations += 1;
            assert!(
                op["operationId"].is_string(),
                "{method} {path}: operationId"
            );
            let responses = op["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{method} {path}: responses");
            for (status, response) in responses {
                let description = response["description"].as_str().unwrap_or_default();
                assert!(
                    !description.is_empty(),
                    "{method} {path} {status}: description"
                );
            }
            if path.starts_with("/v1/") {
                assert!(
                    responses.contains_key("405") && responses.contains_key("503"),
                    "{method} {path}: problems documented"
                );
            }
        }
    }
    assert_eq!(operations, 21);
    let description = value["info"]["description"].as_str().expect("description");
    for kind in pso_api::problem::ProblemType::ALL {
        assert!(
            description.contains(&format!("`{}`", kind.uri())),
            "{} is in the catalogue",
            kind.slug()
        );
    }
    assert!(value["components"]["securitySchemes"]["scheme_owner"].is_object());
    for schema in [
        "Problem",
        "StatusView",
        "CertificateView",
        "SignedRequestClaims",
        "CertificatePayload",
    ] {
        assert!(
            value["components"]["schemas"][schema].is_object(),
            "{schema}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_the_document_and_offline_docs() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let served = app.get("/openapi.json").await;
    assert_eq!(served.status(), 200);
    assert!(served.headers().contains_key("etag"));
    assert_eq!(
        served.text().await.expect("text"),
        pso_api::openapi::document()
    );

    let docs = app
        .client
        .get(app.url("/docs/"))
        .send()
        .await
        .expect("docs");
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "Swagger UI");
    assert!(
        !html.contains("https://") && !html.contains("http://"),
        "no CDN: everything comes from the binary"
    );
    let initializer = app.get("/docs/swagger-initializer.js").await;
    assert_eq!(initializer.status(), 200);
    assert!(
        initializer
            .text()
            .await
            .expect("js")
            .contains("/openapi.json")
    );
    assert_eq!(app.get("/docs/swagger-ui-bundle.js").await.status(), 200);
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(app.url("/docs"))
        .send()
        .await
        .expect("redirect");
    assert!(redirect.status().is_redirection());

    // Every documented GET path answers (not 404) for a sample value.
    let spec = json(app.get("/openapi.json").await).await;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        if item.get("get").is_none() {
            continue;
        }
        let concrete = path
            .replace("{kvk}", "12345678")
            .replace("{number}", "PSO-2026-000001")
            .replace("{id}", "kiwa");
        let status = app.get(&concrete).await.status().as_u16();
        let known_missing = concrete.contains("PSO-2026-000001")
            || concrete.ends_with("/kiwa")
            || concrete == "/v1/companies/12345678";
        assert!(
            status == 200 || (known_missing && status == 404),
            "{path}: {status}"
        );
    }
    app.stop().await;
}
