//! What tender platforms use besides webhooks, seen from outside: CSV in and
//! out of the batch check, and fair rate limits.

use pso_registry_tests::cb::{TestCb, certificate};
use pso_registry_tests::{Backend, TestApp, json, on_both_backends};
use serde_json::json;

on_both_backends!(a_csv_round_trip_of_ten_thousand_numbers);

async fn a_csv_round_trip_of_ten_thousand_numbers(app: &TestApp) {
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    let certified = ["00000042", "00004711", "00009999"];
    let mut numbers = Vec::new();
    for kvk in certified {
        numbers.push(
            app.issue(
                &kiwa,
                certificate(&format!("C-{kvk}"), kvk, "trede_2", "2026-01-15"),
            )
            .await,
        );
    }
    // As Excel saves "CSV UTF-8": a byte order mark, a header, `;`, a name column.
    let mut body = String::from("\u{feff}KvK-nummer;Naam inschrijver\r\n");
    for i in 0..10_000 {
        body.push_str(&format!("{i:08};\"Inschrijver {i}; B.V.\"\r\n"));
    }
    let response = app
        .client
        .post(app.url("/v1/status/batch?on=2026-06-01"))
        .header("content-type", "text/csv; charset=utf-8")
        .header("accept", "text/csv")
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("text/csv")),
    );
    let text = response.text().await.expect("body");
    let text = text
        .strip_prefix('\u{feff}')
        .expect("a byte order mark for Excel");
    let rows: Vec<&str> = text.split("\r\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(
        rows[0],
        "kvk_nummer;naam;gecertificeerd;status;trede;pso30plus;geldig_tot_en_met;certificaatnummer;certificerende_instelling"
    );
    assert_eq!(rows.len(), 10_001, "one row per number, in order");
    for (i, row) in rows[1..].iter().enumerate() {
        let cells: Vec<&str> = row.split(';').collect();
        let kvk = format!("{i:08}");
        assert_eq!(cells[0], kvk, "row {i}");
        if let Some(at) = certified.iter().position(|c| *c == kvk) {
            assert_eq!(cells[2], "ja", "{row}");
            assert_eq!(cells[3], "active", "{row}");
            assert_eq!(cells[4], "trede_2", "{row}");
            assert_eq!(cells[7], numbers[at], "{row}");
            assert_eq!(cells[8], "kiwa", "{row}");
            assert_eq!(cells[1], format!("Bedrijf {kvk} B.V."), "{row}");
        } else {
            assert_eq!(cells[2], "nee", "{row}");
            assert_eq!(cells[3], "not_certified", "{row}");
        }
    }
    // The same list answered as JSON (no `Accept: text/csv`).
    let json_answer = app
        .client
        .post(app.url("/v1/status/batch"))
        .header("content-type", "text/csv")
        .body("12345678\n00000042\n")
        .send()
        .await
        .expect("request");
    let items = json(json_answer).await["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(2));
    assert_eq!(items[1]["certified"], true);
    // A JSON question answered as CSV.
    let csv_answer = app
        .client
        .post(app.url("/v1/status/batch"))
        .header("accept", "text/csv")
        .json(&json!({"kvkNumbers": ["00000042"]}))
        .send()
        .await
        .expect("request");
    let csv_text = csv_answer.text().await.expect("body");
    assert!(csv_text.contains("\r\n00000042;"), "{csv_text}");
    // Refused, each saying why, nothing answered.
    let too_many: String = (0..10_001).map(|i| format!("{i:08}\n")).collect();
    for (body, status) in [(too_many, 422), ("kvk\n12345678\n1234\n".to_owned(), 422)] {
        let response = app
            .client
            .post(app.url("/v1/status/batch"))
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), status);
        let problem = json(response).await;
        assert_eq!(problem["status"], status, "{problem}");
        assert!(problem["errors"][0]["field"].is_string(), "{problem}");
    }
    let not_utf8 = app
        .client
        .post(app.url("/v1/status/batch"))
        .header("content-type", "text/csv")
        .body(vec![0x31u8, 0xff, 0xfe, 0x0a])
        .send()
        .await
        .expect("request");
    assert_eq!(not_utf8.status(), 400);
    // A JSON batch's question in the query string, or in the body, not both.
    let in_query = app
        .client
        .post(app.url("/v1/status/batch?on=2026-06-01&levelMin=trede_3"))
        .json(&json!({"kvkNumbers": ["00000042"]}))
        .send()
        .await
        .expect("request");
    assert_eq!(
        json(in_query).await["items"][0]["certified"],
        false,
        "trede_2 is below trede_3"
    );
    let twice = app
        .client
        .post(app.url("/v1/status/batch?on=2026-06-01"))
        .json(&json!({"kvkNumbers": ["00000042"], "on": "2026-07-01"}))
        .send()
        .await
        .expect("request");
    assert_eq!(twice.status(), 422);
    let unknown_param = app
        .client
        .post(app.url("/v1/status/batch?onn=2026-01-01"))
        .header("content-type", "text/csv")
        .body("12345678\n")
        .send()
        .await
        .expect("request");
    assert_eq!(unknown_param.status(), 400);
}

/// A burst past the anonymous limit meets 429 with the headers; the same
/// burst with a client's key does not; a 304 does not count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_past_the_anonymous_limit_is_told_to_wait() {
    let app = TestApp::spawn_with_env(
        Backend::Sqlite,
        &[
            ("REGISTRY_RATE_ANON_STATUS", "20"),
            ("REGISTRY_RATE_CLIENT_STATUS", "1000"),
            ("REGISTRY_RATE_WINDOW_SECS", "60"),
        ],
    )
    .await
    .expect("sqlite");
    let path = "/v1/companies/12345678/status?on=2026-06-01";
    let first = app.get(path).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["ratelimit-policy"], "\"read\";q=20;w=60");
    assert_eq!(
        first.headers()["ratelimit"]
            .to_str()
            .ok()
            .map(|v| v.starts_with("\"read\";r=19;t=")),
        Some(true)
    );
    let etag = first.headers()["etag"].to_str().expect("etag").to_owned();
    // Revalidations cost nothing.
    for _ in 0..40 {
        let r = app.get_if_none_match(path, &etag).await;
        assert_eq!(r.status(), 304);
    }
    let mut ok = 1;
    let mut limited = None;
    for _ in 0..40 {
        let r = app.get(path).await;
        match r.status().as_u16() {
            200 => ok += 1,
            429 => {
                limited = Some(r);
                break;
            }
            other => panic!("status {other}"),
        }
    }
    assert_eq!(
        ok, 20,
        "the quota, no more, no less (304s gave their tokens back)"
    );
    let limited = limited.expect("a 429");
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=3).contains(&retry), "{retry}");
    assert!(limited.headers().contains_key("ratelimit-policy"));
    assert!(
        limited.headers()["ratelimit"]
            .to_str()
            .is_ok_and(|v| v.contains("r=0"))
    );
    let problem = json(limited).await;
    assert_eq!(problem["type"], "/problems/too-many-requests", "{problem}");
    // Other classes have their own buckets: a search still answers.
    assert_eq!(app.get("/v1/companies?q=bakker").await.status(), 200);

    // The same burst with a client's key.
    let key = json(
        app.admin(
            reqwest::Method::POST,
            "/v1/admin/clients",
            &json!({"name": "Platform"}),
        )
        .await,
    )
    .await["key"]
        .as_str()
        .expect("key")
        .to_owned();
    for _ in 0..60 {
        let r = app
            .client
            .get(app.url(path))
            .bearer_auth(&key)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["ratelimit-policy"], "\"read\";q=1000;w=60");
    }
    app.stop().await;
}

/// The bulk export: every certificate and company, as of one `seq`, CSV and
/// JSON Lines, tagged, licensed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_is_the_register_as_of_one_seq() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = TestApp::spawn(backend).await else {
            continue;
        };
        let kiwa = TestCb::ed25519("kiwa");
        app.accredit(&kiwa).await;
        let mut numbers = Vec::new();
        for kvk in ["00000042", "00004711", "00009999"] {
            let mut payload = certificate(&format!("E-{kvk}"), kvk, "trede_2", "2026-01-15");
            if kvk == "00004711" {
                payload["certificate"]["subsidiaries"] =
                    json!([{"kvkNumber": "11112222", "name": "Dochter; \"Zee\" B.V."}]);
            }
            numbers.push(app.issue(&kiwa, payload).await);
        }
        let seq = app.last_seq().await;
        let jsonl = app.get("/v1/export/certificates").await;
        assert_eq!(jsonl.status(), 200);
        let headers = jsonl.headers().clone();
        assert_eq!(headers["register-seq"], seq.to_string().as_str());
        assert!(
            headers["content-type"]
                .to_str()
                .is_ok_and(|c| c.starts_with("application/jsonl"))
        );
        assert_eq!(
            headers["link"],
            "<https://creativecommons.org/publicdomain/zero/1.0/>; rel=\"license\""
        );
        let etag = headers["etag"].to_str().expect("etag").to_owned();
        let text = jsonl.text().await.expect("body");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
            .collect();
        assert_eq!(lines.len(), 3);
        for (line, number) in lines.iter().zip(&numbers) {
            assert_eq!(line["number"], number.as_str());
            // As the API shows the certificate.
            let one = json(app.get(&format!("/v1/certificates/{number}")).await).await;
            assert_eq!(
                line, &one,
                "the export's line is the certificate's resource"
            );
        }
        assert_eq!(
            app.get_if_none_match("/v1/export/certificates", &etag)
                .await
                .status(),
            304
        );

        let csv = app.get("/v1/export/certificates?format=csv").await;
        assert!(
            csv.headers()["content-type"]
                .to_str()
                .is_ok_and(|c| c.starts_with("text/csv"))
        );
        let text = csv.text().await.expect("body");
        let rows: Vec<&str> = text
            .trim_start_matches('\u{feff}')
            .split("\r\n")
            .filter(|r| !r.is_empty())
            .collect();
        assert_eq!(rows.len(), 4);
        assert!(rows[0].starts_with("certificaatnummer;status;trede;"));
        assert!(rows[2].contains("00004711 11112222"), "{}", rows[2]);

        let companies = app.get("/v1/export/companies?format=csv").await;
        let text = companies.text().await.expect("body");
        let rows: Vec<&str> = text
            .trim_start_matches('\u{feff}')
            .split("\r\n")
            .filter(|r| !r.is_empty())
            .collect();
        assert_eq!(
            rows[0],
            "kvk_nummer;naam;handelsnamen;plaats;provincie;sbi_codes;certificaatnummers"
        );
        assert_eq!(rows.len(), 5, "four companies: {rows:?}");
        assert!(
            rows[4].starts_with("11112222;\"Dochter; \"\"Zee\"\" B.V.\""),
            "{}",
            rows[4]
        );
        assert!(rows[4].ends_with(&numbers[1]), "{}", rows[4]);
        let lines = app
            .get("/v1/export/companies")
            .await
            .text()
            .await
            .expect("body");
        assert_eq!(lines.lines().count(), 4);

        // A write moves the export on: a new seq, a new tag.
        app.issue(
            &kiwa,
            certificate("E-new", "00000007", "trede_1", "2026-01-15"),
        )
        .await;
        let again = app
            .get_if_none_match("/v1/export/certificates", &etag)
            .await;
        assert_eq!(again.status(), 200);
        assert_ne!(again.headers()["etag"], etag.as_str());
        assert_eq!(again.text().await.expect("body").lines().count(), 4);
        assert_eq!(
            app.get("/v1/export/certificates?format=xml").await.status(),
            400
        );
        app.stop().await;
    }
}
