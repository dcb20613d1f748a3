//! The officer's pages over HTTP on both backends: Dutch first and English on
//! request, every value escaped, a strict Content-Security-Policy, an unknown
//! KvK number read as "niet gecertificeerd", the contract-term check with its
//! reason, and refusals as pages (never problem documents). The walk in a
//! real browser is a test of its own.

use pso_registry_tests::cb::{TestCb, certificate};
use pso_registry_tests::{TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(
    an_officer_finds_a_supplier_and_checks_a_term,
    pages_refuse_plainly_and_escape_everything,
    evidence_is_signed_kept_and_verified_again,
    a_list_is_checked_at_once_and_downloads_as_csv,
);

const MAIN: &str = "12345678";
const SUBSIDIARY: &str = "87654321";
/// A name a browser would run, were it not escaped.
const HOSTILE: &str = "<script>alert(1)</script> & Zonen B.V.";

async fn page(app: &TestApp, path: &str, accept_language: Option<&str>) -> (u16, String, String) {
    let mut request = app.client.get(app.url(path));
    if let Some(l) = accept_language {
        request = request.header("accept-language", l);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let url = response.url().path().to_owned();
    let headers = response.headers().clone();
    let body = response.text().await.expect("text");
    if status != 303 {
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        assert_eq!(
            headers
                .get("content-security-policy")
                .and_then(|v| v.to_str().ok()),
            Some(pso_api::pages::CSP),
            "{path}"
        );
        // Nothing from elsewhere, no script, no inline style (links to the
        // register itself, as an evidence page's permalink, are fine).
        let elsewhere = body.replace(&app.address, "");
        for banned in ["<script", "style=", "http://", "https://", "<iframe"] {
            assert!(!elsewhere.contains(banned), "{path} has {banned}");
        }
    }
    (status, url, body)
}

/// A trede_1 certificate from 2026-01-15 (two years) covering a subsidiary,
/// suspended for June 2026.
async fn supplier(app: &TestApp) -> (TestCb, String) {
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    let mut payload = certificate("KIWA-7", MAIN, "trede_1", "2026-01-15");
    payload["certificate"]["holder"]["name"] = json!(HOSTILE);
    payload["certificate"]["subsidiaries"] =
        json!([{"kvkNumber": SUBSIDIARY, "name": "Dochter B.V."}]);
    let number = app.issue(&kiwa, payload).await;
    for (path, act, body) in [
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
    ] {
        let response = app
            .post_jws(
                &format!("/v1/certificates/{number}/{path}"),
                &kiwa.request(app, act, Some(&number), body),
            )
            .await;
        assert_eq!(response.status(), 200, "{act}");
    }
    (kiwa, number)
}

async fn an_officer_finds_a_supplier_and_checks_a_term(app: &TestApp) {
    let (_, number) = supplier(app).await;

    // The landing page, Dutch by default, English when the browser prefers it.
    let (status, _, home) = page(app, "/", None).await;
    assert_eq!(status, 200);
    assert!(home.contains(r#"<html lang="nl">"#));
    assert!(home.contains("Zoeken"));
    assert!(home.contains(r#"href="/?lang=en""#), "the switch");
    let (_, _, english) = page(app, "/", Some("en-GB,en;q=0.9,nl;q=0.5")).await;
    assert!(english.contains(r#"<html lang="en">"#));
    assert!(english.contains("Search"));
    let (_, _, switched) = page(app, "/?lang=en", Some("nl")).await;
    assert!(switched.contains(r#"<html lang="en">"#));

    // A search by name finds it, its name as text.
    let (status, _, results) = page(app, "/zoeken?q=Zonen", None).await;
    assert_eq!(status, 200);
    assert!(
        results.contains(&format!(r#"href="/leverancier/{MAIN}""#)),
        "{results}"
    );
    assert!(results.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Zonen B.V."));
    assert!(results.contains("Gecertificeerd"));
    // A KvK number goes straight to the supplier; the subsidiary's too.
    let (_, url, _) = page(app, &format!("/zoeken?q={SUBSIDIARY}"), None).await;
    assert_eq!(url, format!("/leverancier/{SUBSIDIARY}"));

    // The supplier's page: standing, level, validity, CB, covered numbers,
    // the history with the CB's signed requests.
    let (status, _, supplier) = page(app, &format!("/leverancier/{MAIN}"), None).await;
    assert_eq!(status, 200);
    for expected in [
        "Gecertificeerd",
        "Trede 1",
        "15 januari 2026",
        "14 januari 2028",
        "kiwa",
        SUBSIDIARY,
        "Dochter B.V.",
        "hoofdaanvrager",
        "Uitgegeven",
        "Geschorst",
        "Schorsing opgeheven",
        number.as_str(),
        "eyJ", // a compact JWS, verbatim
    ] {
        assert!(
            supplier.contains(expected),
            "the supplier page lacks {expected}"
        );
    }

    // The term check: yes over spring, no over summer (the suspension, named),
    // no at a level it never held.
    let term = |level: &str, from: &str, to: &str| {
        format!("/leverancier/{MAIN}?trede={level}&van={from}&tot={to}")
    };
    let (_, _, yes) = page(app, &term("trede_1", "2026-02-01", "2026-05-31"), None).await;
    assert!(yes.contains(r#"class="verdict yes""#), "{yes}");
    assert!(yes.contains("Trede 1 of hoger van 1 februari 2026 t/m 31 mei 2026"));
    let (_, _, no) = page(app, &term("trede_1", "2026-02-01", "2026-12-31"), None).await;
    assert!(no.contains(r#"class="verdict no""#));
    assert!(no.contains("Geschorst op 1 juni 2026."), "{no}");
    let (_, _, higher) = page(app, &term("trede_2", "2026-02-01", "2026-03-01"), None).await;
    assert!(higher.contains(r#"class="verdict no""#));
    assert!(higher.contains("Op 1 februari 2026 geldt Trede 1, lager dan gevraagd."));
    let (_, _, after) = page(app, &term("trede_1", "2027-06-01", "2028-06-01"), None).await;
    assert!(after.contains("Verlopen op 15 januari 2028."), "{after}");
    let (_, _, english) = page(
        app,
        &format!("{}&lang=en", term("trede_1", "2026-02-01", "2026-12-31")),
        None,
    )
    .await;
    assert!(english.contains("Suspended on 1 June 2026."));

    // An unknown number is plainly not certified, and so is every term.
    let (status, _, unknown) = page(app, "/leverancier/99999999", None).await;
    assert_eq!(status, 200);
    assert!(unknown.contains("Niet gecertificeerd"));
    let (_, _, unknown_term) = page(
        app,
        "/leverancier/99999999?trede=aspirant&van=2026-01-01&tot=2026-01-02",
        None,
    )
    .await;
    assert!(unknown_term.contains(r#"class="verdict no""#));

    // The statement and the stylesheet.
    let (status, _, statement) = page(app, "/toegankelijkheid", None).await;
    assert_eq!(status, 200);
    assert!(statement.contains("WCAG 2.1"));
    let css = app.get("/assets/style.css").await;
    assert_eq!(css.status(), 200);
    assert_eq!(
        css.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/css; charset=utf-8")
    );
}

async fn pages_refuse_plainly_and_escape_everything(app: &TestApp) {
    // Refusals are pages in the reader's language, not problem documents.
    let (status, _, bad) = page(app, "/leverancier/1234", None).await;
    assert_eq!(status, 400);
    assert!(bad.contains("Een KvK-nummer heeft 8 cijfers."));
    let (status, _, bad) = page(app, "/zoeken?q=x&trede=trede_9", None).await;
    assert_eq!(status, 400);
    assert!(bad.contains("Kies een trede uit de lijst."));
    // A sector as the API's `sbi`: 2 to 5 digits.
    let (status, _, bad) = page(app, "/zoeken?q=abc&sector=4", None).await;
    assert_eq!(status, 400);
    assert!(bad.contains("2 tot 5 cijfers"));
    let (status, _, bad) = page(app, "/zoeken?q=abc&cursor=not-a-cursor", None).await;
    assert_eq!(status, 400, "{bad}");
    // A term the form cannot make is said on the page, the rest still shown.
    let (status, _, wrong) = page(
        app,
        "/leverancier/99999999?trede=trede_1&van=2026-05-01&tot=2026-04-01",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(wrong.contains("De einddatum ligt voor de begindatum."));
    // What was typed comes back as text.
    let (status, _, echoed) = page(app, "/zoeken?q=%3Cimg%20src%3Dx%3E", None).await;
    assert_eq!(status, 200);
    assert!(echoed.contains(r#"value="&lt;img src=x&gt;""#), "{echoed}");
    // A one-letter search asks for more, not an error.
    let (status, _, short) = page(app, "/zoeken?q=a", None).await;
    assert_eq!(status, 200);
    assert!(short.contains("Typ minstens twee letters"));
}

/// A form sent as a browser sends it.
async fn post_form(app: &TestApp, path: &str, body: impl Into<String>) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.into())
        .send()
        .await
        .expect("request")
}

async fn evidence_is_signed_kept_and_verified_again(app: &TestApp) {
    let (kiwa, _) = supplier(app).await;
    // The officer asks for evidence of a term check: a signed answer, kept,
    // and its permalink.
    let made = post_form(
        app,
        &format!("/leverancier/{MAIN}/bewijs"),
        "trede=trede_1&van=2026-02-01&tot=2026-05-31",
    )
    .await;
    assert_eq!(made.status(), 200);
    let path = made.url().path().to_owned();
    let reference = path
        .strip_prefix("/bewijs/")
        .expect("the permalink")
        .to_owned();
    assert!(
        reference.starts_with("PSO-") && reference.len() == 23,
        "{reference}"
    );
    let (status, _, evidence) = page(app, &path, None).await;
    assert_eq!(status, 200);
    for expected in [
        reference.as_str(),
        "KvK 12345678",
        "Gecertificeerd van 1 februari 2026 t/m 31 mei 2026 op Trede 1 of hoger",
        "<strong>Ja</strong>",
        "Klopt, met de gepubliceerde sleutel van het register.",
        "alleen aangevuld",
        &format!("{}/bewijs/{reference}", app.address),
        &format!(r#"src="/bewijs/{reference}/qr.svg""#),
    ] {
        assert!(evidence.contains(expected), "the evidence lacks {expected}");
    }

    // The signed answer, downloaded, verifies with another JOSE library and
    // the published key set; it is what the page shows.
    let download = app.get(&format!("/bewijs/{reference}/antwoord.jws")).await;
    assert_eq!(download.status(), 200);
    assert_eq!(
        download
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/jose")
    );
    let jws = download.text().await.expect("text");
    assert!(evidence.contains(&jws), "the page shows the answer kept");
    let key_set: serde_json::Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .expect("JSON");
    let key = jwt_simple::prelude::Ed25519PublicKey::from_jwk(&key_set["keys"][0].to_string())
        .expect("key");
    let claims = jwt_simple::prelude::EdDSAPublicKeyLike::verify_token::<serde_json::Value>(
        &key, &jws, None,
    )
    .expect("the evidence verifies");
    assert_eq!(claims.jwt_id.as_deref(), Some(reference.as_str()));
    assert_eq!(claims.custom["certified"], true);
    assert_eq!(claims.custom["kvkNumber"], MAIN);
    assert_eq!(claims.custom["levelMin"], "trede_1");

    // The QR code leads to the permalink.
    let qr = app.get(&format!("/bewijs/{reference}/qr.svg")).await;
    assert_eq!(qr.status(), 200);
    assert_eq!(
        qr.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/svg+xml")
    );
    assert!(qr.text().await.expect("text").contains("<svg"));

    // The register goes on; the evidence still verifies, the log only grew.
    let later = certificate("KIWA-8", "23456789", "trede_2", "2026-03-01");
    app.issue(&kiwa, later).await;
    let (_, _, again) = page(app, &path, None).await;
    assert!(again.contains("alleen aangevuld"), "{again}");
    assert!(again.contains(&jws));

    // Today's standing as evidence, and in English.
    let today = post_form(
        app,
        &format!("/leverancier/{SUBSIDIARY}/bewijs?lang=en"),
        "",
    )
    .await;
    assert_eq!(today.status(), 200);
    assert!(today.url().query().unwrap_or_default().contains("lang=en"));
    let english = today.text().await.expect("text");
    assert!(english.contains("Evidence of a PSO check"));
    assert!(english.contains("Certified on"));

    // Nothing kept under an unknown or malformed reference; a bad form is a page.
    let (status, _, missing) = page(app, "/bewijs/PSO-0000-0000-0000-0000", None).await;
    assert_eq!(status, 404);
    assert!(missing.contains("Niet gevonden"));
    let (status, _, _) = page(app, "/bewijs/not-a-reference", None).await;
    assert_eq!(status, 404);
    let refused = post_form(
        app,
        &format!("/leverancier/{MAIN}/bewijs"),
        "trede=trede_1&van=2026-05-01&tot=2026-04-01",
    )
    .await;
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.expect("text").contains("einddatum"));
}

async fn a_list_is_checked_at_once_and_downloads_as_csv(app: &TestApp) {
    supplier(app).await;
    let (status, _, form) = page(app, "/bulkcontrole", None).await;
    assert_eq!(status, 200);
    assert!(form.contains(r#"enctype="multipart/form-data""#));

    // Pasted and uploaded together, as a browser sends the form.
    let boundary = "pso-boundary-7";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"kvk\"\r\n\r\n{MAIN}\n{SUBSIDIARY}\n99999999\n1234\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"bestand\"; filename=\"inschrijvers.csv\"\r\nContent-Type: text/csv\r\n\r\n\u{feff}kvk_nummer;naam\r\n{MAIN};\"Bedrijf\"\r\n\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"op\"\r\n\r\n2026-03-01\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"trede\"\r\n\r\n\r\n\
         --{boundary}--\r\n"
    );
    let response = app
        .client
        .post(app.url("/bulkcontrole"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let table = response.text().await.expect("text");
    assert!(
        table.contains("3 van de 5 gecertificeerd op 1 maart 2026."),
        "{table}"
    );
    assert!(table.contains("Geen geldig KvK-nummer (8 cijfers)"));
    assert!(table.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Zonen B.V."));

    // A form of endless parts is cut off, not read to its end.
    let parts: String = (0..20)
        .map(|i| {
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"x{i}\"\r\n\r\n\r\n")
        })
        .collect();
    let flood = app
        .client
        .post(app.url("/bulkcontrole"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(format!("{parts}--{boundary}--\r\n"))
        .send()
        .await
        .expect("request");
    assert_eq!(flood.status(), 400);

    // The CSV: a BOM, Dutch column names, one row per number in order.
    let csv = post_form(
        app,
        "/bulkcontrole.csv",
        "kvk=12345678%0A99999999%0Aabc1&op=2026-03-01&trede=trede_1",
    )
    .await;
    assert_eq!(csv.status(), 200);
    assert_eq!(
        csv.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    let text = csv.text().await.expect("text");
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    assert!(lines[0].starts_with("\u{feff}kvk_nummer;naam;gecertificeerd;status;trede"));
    assert_eq!(lines.len(), 4, "{text}");
    let first: Vec<&str> = lines[1].split(';').collect();
    assert_eq!(
        &first[..5],
        [
            MAIN,
            "<script>alert(1)</script> & Zonen B.V.",
            "ja",
            "active",
            "trede_1"
        ]
    );
    assert!(lines[2].starts_with("99999999;;nee;not_certified;"));
    assert!(lines[3].starts_with("abc1;;nee;ongeldig_kvk_nummer;"));

    // A thousand numbers round trip; a thousand and one are refused.
    let numbers: Vec<String> = (0..1000)
        .map(|i| format!("{:08}", 10_000_000 + i))
        .collect();
    let list = numbers.join("%0A");
    let big = post_form(app, "/bulkcontrole.csv", format!("kvk={list}")).await;
    assert_eq!(big.status(), 200);
    let text = big.text().await.expect("text");
    let rows: Vec<&str> = text.trim_end().split("\r\n").skip(1).collect();
    assert_eq!(rows.len(), 1000);
    for (row, number) in rows.iter().zip(&numbers) {
        assert!(row.starts_with(&format!("{number};")), "{row}");
    }
    let too_many = post_form(app, "/bulkcontrole.csv", format!("kvk={list}%0A12345678")).await;
    assert_eq!(too_many.status(), 400);
    assert!(
        too_many
            .text()
            .await
            .expect("text")
            .contains("Ten hoogste 1.000 nummers")
    );
}
