//! The contract: the OpenAPI document is generated from the code, checked in at
//! `openapi/openapi.json` (this test fails when that file is stale), a valid
//! OpenAPI 3.1 document in the contract's names, with what the NLGov API Design
//! Rules ask of it; the server serves it, and answers as it says on the wire:
//! `API-Version`, security headers, `Allow`, `HEAD`, CORS, no trailing slashes.

use std::collections::BTreeSet;

use pso_registry_tests::{Backend, TestApp, declared};
use reqwest::Method;
use serde_json::Value;

const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");

fn document() -> &'static Value {
    pso_api::openapi::document_value()
}

/// Every operation: (path, method, operation).
fn operations() -> Vec<(&'static str, &'static str, &'static Value)> {
    let mut out = Vec::new();
    for (path, item) in document()["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            if method != "servers" {
                out.push((path.as_str(), method.as_str(), op));
            }
        }
    }
    out
}

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
fn the_document_is_valid_openapi_3_1_with_what_adr_asks() {
    let spec = oas3::from_json(pso_api::openapi::document()).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    let value = document();
    assert_eq!(value["info"]["version"], pso_api::openapi::CONTRACT_VERSION);
    for field in ["name", "url", "email"] {
        assert!(
            value["info"]["contact"][field].is_string(),
            "info.contact.{field}"
        );
    }
    assert_eq!(value["servers"][0]["url"], "/v1");
    assert_eq!(operations().len(), 38);
    for (path, method, op) in operations() {
        let label = format!("{method} {path}");
        assert!(op["operationId"].is_string(), "{label}: operationId");
        let responses = op["responses"].as_object().expect("responses");
        for (status, response) in responses {
            assert!(
                !response["description"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty(),
                "{label} {status}: description"
            );
            assert!(
                response["headers"]["API-Version"].is_object(),
                "{label} {status}: API-Version"
            );
            if status.starts_with('4') || status.starts_with('5') {
                let types = response["x-problem-types"].as_array();
                assert!(
                    types.is_some_and(|t| !t.is_empty()),
                    "{label} {status}: the problem types it carries"
                );
                for slug in types.into_iter().flatten() {
                    let kind = pso_api::problem::ProblemType::ALL
                        .into_iter()
                        .find(|k| k.slug() == slug)
                        .unwrap_or_else(|| panic!("{label}: {slug} is in the catalogue"));
                    assert_eq!(
                        kind.status().as_u16().to_string(),
                        *status,
                        "{label}: {slug}"
                    );
                }
            }
        }
        let takes_input = op["parameters"].as_array().is_some_and(|p| !p.is_empty())
            || op.get("requestBody").is_some();
        if takes_input {
            assert!(responses.contains_key("400"), "{label}: can answer 400");
        }
        if method == "get" {
            assert!(responses.contains_key("304"), "{label}: 304");
        }
    }
    // Every problem type is declared by an operation, or is one of the path-level
    // answers (an unknown path, a method a path does not take).
    let declared_types: BTreeSet<String> = operations()
        .iter()
        .flat_map(|(_, _, op)| op["responses"].as_object().into_iter().flatten())
        .flat_map(|(_, r)| r["x-problem-types"].as_array().into_iter().flatten())
        .filter_map(|t| t.as_str().map(str::to_owned))
        .chain(["not-found".to_owned(), "method-not-allowed".to_owned()])
        .collect();
    let description = value["info"]["description"].as_str().expect("description");
    for kind in pso_api::problem::ProblemType::ALL {
        assert!(
            declared_types.contains(kind.slug()),
            "{} is declared",
            kind.slug()
        );
        assert!(
            description.contains(&format!("`{}`", kind.uri())),
            "{} is in the catalogue",
            kind.slug()
        );
    }
    assert!(value["components"]["securitySchemes"]["schemeOwner"].is_object());
}

/// Every name of the contract in camelCase (serde's `rename_all`), every value
/// bounded: strings have a `maxLength` (or a format or enum that bounds them),
/// arrays a `maxItems`, integers both bounds.
#[test]
fn every_name_is_camel_case_and_every_value_bounded() {
    fn camel(name: &str) -> bool {
        name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_alphanumeric())
    }
    fn walk(value: &Value, at: &str, faults: &mut Vec<String>) {
        match value {
            Value::Object(o) => {
                if let Some(Value::Object(properties)) = o.get("properties") {
                    for name in properties.keys() {
                        if !camel(name) {
                            faults.push(format!("{at}: property {name}"));
                        }
                    }
                }
                let types: Vec<&str> = match o.get("type") {
                    Some(Value::String(t)) => vec![t.as_str()],
                    Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                if types.contains(&"string")
                    && !o.contains_key("maxLength")
                    && !o.contains_key("enum")
                {
                    faults.push(format!("{at}: a string without maxLength"));
                }
                if types.contains(&"array") && !o.contains_key("maxItems") {
                    faults.push(format!("{at}: an array without maxItems"));
                }
                if types.contains(&"integer")
                    && !(o.contains_key("minimum") && o.contains_key("maximum"))
                {
                    faults.push(format!("{at}: an integer without bounds"));
                }
                for (k, v) in o {
                    walk(v, &format!("{at}/{k}"), faults);
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(v, &format!("{at}/{i}"), faults);
                }
            }
            _ => {}
        }
    }
    let mut faults = Vec::new();
    walk(document(), "", &mut faults);
    for (path, method, op) in operations() {
        for parameter in op["parameters"].as_array().into_iter().flatten() {
            let name = parameter["name"].as_str().unwrap_or_default();
            if parameter["in"] == "query" && !camel(name) {
                faults.push(format!("{method} {path}: query key {name}"));
            }
        }
    }
    assert!(faults.is_empty(), "{faults:#?}");
}

#[test]
fn the_declared_problem_types_are_what_a_path_can_answer() {
    assert!(declared("/v1/companies/12345678", 404, "not-found"));
    assert!(declared("/v1/certificates", 401, "replay"));
    assert!(declared("/v1/companies?q=x", 400, "invalid-parameter"));
    assert!(declared("/nowhere", 404, "not-found"));
    assert!(declared("/healthz", 405, "method-not-allowed"));
    // A search and a status answer are never 404; reads are never 401.
    assert!(!declared("/v1/companies", 404, "not-found"));
    assert!(!declared("/v1/companies/12345678/status", 404, "not-found"));
    assert!(!declared("/v1/companies/12345678", 401, "replay"));
    assert!(!declared("/v1/status/batch", 400, "invalid-parameter"));
    assert!(!declared("/nowhere", 400, "invalid-parameter"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_the_document_and_offline_docs() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    for path in ["/v1/openapi.json", "/openapi.json"] {
        let served = app.get(path).await;
        assert_eq!(served.status(), 200, "{path}");
        assert!(served.headers().contains_key("etag"));
        assert_eq!(
            served.text().await.expect("text"),
            pso_api::openapi::document()
        );
    }
    let docs = app.get("/docs/").await;
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
            .contains("/v1/openapi.json")
    );
    assert_eq!(app.get("/docs/swagger-ui-bundle.js").await.status(), 200);

    // Every documented GET path answers (not 404) for a sample value.
    for (path, method, _) in operations() {
        // Those that need credentials are walked by their own tests.
        if method != "get" || path.starts_with("/admin/") || path.starts_with("/subscriptions") {
            continue;
        }
        let full = match path {
            // An empty log proves nothing yet: the parameters are refused.
            "/log/proof/inclusion" => format!("{}?index=0&treeSize=1", sample_path(path)),
            "/log/proof/consistency" => format!("{}?from=1&to=1", sample_path(path)),
            _ => sample_path(path),
        };
        let status = app.get(&full).await.status().as_u16();
        let empty_log = full.contains("/log/entries/") || full.contains("/log/proof/");
        let known_missing = full.contains("PSO-2026-000001")
            || full.ends_with("/kiwa")
            || full == "/v1/companies/12345678";
        if empty_log {
            assert!(matches!(status, 400 | 404), "{full}: {status}");
            continue;
        }
        assert!(
            status == 200 || (known_missing && status == 404),
            "{full}: {status}"
        );
    }
    app.stop().await;
}

/// The path a client calls for a path of the document, with sample values:
/// under `/v1`, but for the operational paths.
fn sample_path(template: &str) -> String {
    let concrete = template
        .replace("{kvk}", "12345678")
        .replace("{number}", "PSO-2026-000001")
        .replace("{id}", "kiwa")
        .replace("{index}", "0");
    if pso_api::openapi::OPERATIONAL_PATHS.contains(&template) {
        concrete
    } else {
        format!("{}{concrete}", pso_api::openapi::BASE_PATH)
    }
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The methods the document declares for `path` (a template of the document).
fn documented_methods(path: &str) -> BTreeSet<String> {
    document()["paths"][path]
        .as_object()
        .expect("path")
        .keys()
        .filter(|m| *m != "servers")
        .map(|m| m.to_uppercase())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_version_and_the_security_headers() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let ok = app.get("/v1/companies").await;
    let etag = header(&ok, "etag").expect("etag").to_owned();
    let not_modified = app
        .client
        .get(app.url("/v1/companies"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(not_modified.status(), 304);
    let problem = app.get("/v1/companies?colour=red").await;
    let missing = app.get("/nowhere").await;
    let wrong_method = app
        .client
        .delete(app.url("/v1/companies"))
        .send()
        .await
        .expect("request");
    let health = app.get("/healthz").await;
    for response in [
        &ok,
        &not_modified,
        &problem,
        &missing,
        &wrong_method,
        &health,
    ] {
        let at = format!("{} {}", response.url().path(), response.status());
        assert_eq!(
            header(response, "api-version"),
            Some(pso_api::openapi::CONTRACT_VERSION),
            "{at}"
        );
        assert_eq!(
            header(response, "x-content-type-options"),
            Some("nosniff"),
            "{at}"
        );
        assert_eq!(
            header(response, "content-security-policy"),
            Some("frame-ancestors 'none'"),
            "{at}"
        );
        assert_eq!(header(response, "x-frame-options"), Some("DENY"), "{at}");
        assert_eq!(
            header(response, "referrer-policy"),
            Some("no-referrer"),
            "{at}"
        );
        assert_eq!(
            header(response, "strict-transport-security"),
            None,
            "{at}: no HSTS unless configured"
        );
    }
    assert_eq!(header(&ok, "cache-control"), Some("public, no-cache"));
    assert_eq!(header(&problem, "cache-control"), Some("no-store"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_are_answered_as_the_document_declares() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let paths: Vec<&str> = document()["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    for template in paths {
        let full = sample_path(template);
        let mut expected = documented_methods(template);
        if expected.contains("GET") {
            expected.insert("HEAD".into());
        }
        expected.insert("OPTIONS".into());
        let options = app
            .client
            .request(Method::OPTIONS, app.url(&full))
            .send()
            .await
            .expect("options");
        assert_eq!(options.status(), 204, "OPTIONS {full}");
        let allow: BTreeSet<String> = header(&options, "allow")
            .unwrap_or_default()
            .split(", ")
            .map(str::to_owned)
            .collect();
        assert_eq!(allow, expected, "Allow of {full}");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE"] {
            if expected.contains(method) {
                continue;
            }
            let response = app
                .client
                .request(
                    Method::from_bytes(method.as_bytes()).expect("method"),
                    app.url(&full),
                )
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), 405, "{method} {full}");
            let allowed: BTreeSet<String> = header(&response, "allow")
                .unwrap_or_default()
                .split(", ")
                .map(str::to_owned)
                .collect();
            assert_eq!(allowed, expected, "Allow of {method} {full}");
        }
        // A trailing slash names no resource: 404, never a redirect.
        let slashed = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .get(app.url(&format!("{full}/")))
            .send()
            .await
            .expect("slash");
        assert_eq!(slashed.status(), 404, "{full}/");
    }
    // HEAD is the GET without its body.
    let get = app.get("/v1/companies/12345678/status?on=2026-06-01").await;
    let head = app
        .client
        .head(app.url("/v1/companies/12345678/status?on=2026-06-01"))
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "etag"), header(&get, "etag"));
    assert_eq!(head.bytes().await.expect("body").len(), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_may_read_the_public_api_and_nothing_else() {
    // Every public read of the document (and the batch) answers CORS, and
    // nothing else does: a new read cannot be left out of the list.
    for (path, method, op) in operations() {
        let public = (method == "get"
            && !path.starts_with("/admin/")
            && !path.starts_with("/subscriptions")
            && !pso_api::openapi::OPERATIONAL_PATHS.contains(&path))
            || path == "/status/batch";
        let declared = op["responses"]["200"]["headers"]
            .get("Access-Control-Allow-Origin")
            .is_some();
        assert_eq!(declared, public, "{method} {path}: CORS");
    }
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let origin = "https://aanbesteding.example";
    let read = app
        .client
        .get(app.url("/v1/companies/12345678/status"))
        .header("origin", origin)
        .send()
        .await
        .expect("read");
    assert_eq!(header(&read, "access-control-allow-origin"), Some("*"));
    assert!(
        header(&read, "access-control-expose-headers")
            .is_some_and(|h| h.contains("API-Version") && h.contains("ETag") && h.contains("Link")),
        "exposed headers"
    );
    let preflight = |path: &str, method: &str| {
        app.client
            .request(Method::OPTIONS, app.url(path))
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let batch = preflight("/v1/status/batch", "POST")
        .await
        .expect("preflight");
    assert_eq!(batch.status(), 204);
    assert_eq!(header(&batch, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&batch, "access-control-allow-methods"), Some("POST"));
    assert!(
        header(&batch, "access-control-allow-headers")
            .is_some_and(|h| h.to_ascii_lowercase().contains("content-type"))
    );
    let search = preflight("/v1/companies", "GET").await.expect("preflight");
    assert_eq!(
        header(&search, "access-control-allow-methods"),
        Some("GET, HEAD")
    );
    let batch_answer = app
        .client
        .post(app.url("/v1/status/batch"))
        .header("origin", origin)
        .json(&serde_json::json!({"kvkNumbers": ["12345678"]}))
        .send()
        .await
        .expect("batch");
    assert_eq!(batch_answer.status(), 200);
    assert_eq!(
        header(&batch_answer, "access-control-allow-origin"),
        Some("*")
    );
    // Never for the scheme owner's paths or a certification body's signed writes.
    for (path, method) in [
        ("/v1/admin/certification-bodies", "POST"),
        ("/v1/admin/certification-bodies/kiwa", "PATCH"),
        ("/v1/certificates/PSO-2026-000001/revocation", "POST"),
    ] {
        let refused = preflight(path, method).await.expect("preflight");
        assert_eq!(
            header(&refused, "access-control-allow-origin"),
            None,
            "{path}"
        );
        assert_eq!(
            header(&refused, "access-control-allow-methods"),
            None,
            "{path}"
        );
    }
    let admin = app
        .client
        .post(app.url("/v1/admin/certification-bodies"))
        .header("origin", origin)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("admin");
    assert_eq!(header(&admin, "access-control-allow-origin"), None);
    let issue = app
        .client
        .post(app.url("/v1/certificates"))
        .header("origin", origin)
        .header("content-type", "application/jose")
        .body("a.b.c")
        .send()
        .await
        .expect("issue");
    assert_eq!(header(&issue, "access-control-allow-origin"), None);
    app.stop().await;
}
