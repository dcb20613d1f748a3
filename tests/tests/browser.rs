//! The officer's pages in a real browser (Debian's Chromium, headless, over
//! the DevTools protocol), on both backends: a walk from the landing page —
//! type a name with the keyboard alone, open the result, run a term check,
//! open its signed evidence and print it on one A4 page — with axe-core's WCAG 2.1 A/AA rules on every page type, no
//! request to anything but the register, no console error, and a screenshot
//! of each page kept under `target/browser-artefacts/`.
//!
//! Without Chromium the walk is skipped with a loud line, unless
//! `PSO_REQUIRE_BROWSER=1` (as in CI, which installs it).

use std::path::PathBuf;

use pso_registry_tests::browser::{
    Browser, axe_source, axe_violations, chromium_path, hosts, pdf_pages,
};
use pso_registry_tests::cb::{TestCb, certificate};
use pso_registry_tests::{Backend, TestApp};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officers_walk_in_a_browser_on_sqlite() {
    if let Some(app) = TestApp::spawn(Backend::Sqlite).await {
        walk(&app, "sqlite").await;
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officers_walk_in_a_browser_on_postgres() {
    if let Some(app) = TestApp::spawn(Backend::Postgres).await {
        walk(&app, "postgres").await;
        app.stop().await;
    }
}

fn artefacts(backend: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/browser-artefacts")
        .join(backend);
    std::fs::create_dir_all(&dir).expect("artefact dir");
    dir
}

/// Holds the page shown to the rules: 0 WCAG 2.1 A/AA violations, and keeps
/// a screenshot.
async fn check_page(browser: &mut Browser, axe: &str, dir: &std::path::Path, name: &str) {
    browser.screenshot(&dir.join(format!("{name}.png"))).await;
    let violations = axe_violations(browser, axe).await;
    assert!(
        violations.is_empty(),
        "{name}: axe-core finds WCAG 2.1 A/AA violations: {}",
        serde_json::to_string_pretty(&violations).unwrap_or_default()
    );
}

async fn walk(app: &TestApp, backend: &str) {
    let Some(chromium) = chromium_path() else {
        assert!(
            std::env::var("PSO_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "Chromium is required (PSO_REQUIRE_BROWSER=1) and not found: apt-get install chromium"
        );
        eprintln!("!!! browser walk SKIPPED: no Chromium (apt-get install chromium)");
        return;
    };
    let axe = axe_source();
    let dir = artefacts(backend);

    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    let mut payload = certificate("KIWA-9", "12345678", "trede_2", "2026-01-15");
    payload["certificate"]["holder"]["name"] =
        json!("<script>alert(1)</script> Drukkerij Noord B.V.");
    payload["certificate"]["subsidiaries"] =
        json!([{"kvkNumber": "87654321", "name": "Drukkerij Zuid B.V."}]);
    app.issue(&kiwa, payload).await;

    let mut browser = Browser::launch(&chromium).await;

    // The landing page; the search reached and used with the keyboard alone.
    browser.goto(&app.url("/")).await;
    check_page(&mut browser, &axe, &dir, "01-landing").await;
    let mut reached = false;
    for _ in 0..10 {
        browser.press("Tab").await;
        if browser
            .eval("document.activeElement && document.activeElement.id")
            .await
            == "q"
        {
            reached = true;
            break;
        }
    }
    assert!(reached, "the search box is reachable with Tab");
    browser.type_text("drukkerij noord").await;
    browser.press("Enter").await;
    browser.and_wait_for_load().await;
    let path = browser.eval("location.pathname + location.search").await;
    assert_eq!(path, "/zoeken?q=drukkerij+noord");
    check_page(&mut browser, &axe, &dir, "02-results").await;
    // The hostile name is text on the page, and no script ran.
    let first = browser
        .eval("document.querySelector('ol.results a').textContent")
        .await;
    assert_eq!(first, "<script>alert(1)</script> Drukkerij Noord B.V.");

    // The result, opened.
    browser
        .eval("document.querySelector('ol.results a').click()")
        .await;
    browser.and_wait_for_load().await;
    assert_eq!(
        browser.eval("location.pathname").await,
        "/leverancier/12345678"
    );
    let badge = browser
        .eval("document.querySelector('.standing .badge').textContent")
        .await;
    assert_eq!(badge, "Gecertificeerd");
    check_page(&mut browser, &axe, &dir, "03-supplier").await;

    // The term check, filled in and sent as a person would.
    browser
        .eval(
            "document.getElementById('trede').value = 'trede_2';\
             document.getElementById('van').value = '2026-03-01';\
             document.getElementById('tot').value = '2027-02-28';\
             document.querySelector('section.term form button').click()",
        )
        .await;
    browser.and_wait_for_load().await;
    let verdict = browser
        .eval("document.querySelector('.verdict .big').textContent")
        .await;
    assert_eq!(verdict, "Ja");
    check_page(&mut browser, &axe, &dir, "04-term-yes").await;

    // The evidence of that check: signed, kept, on one A4 page.
    browser
        .eval("document.querySelector('section.term form.evidence-form button').click()")
        .await;
    browser.and_wait_for_load().await;
    let path = browser.eval("location.pathname").await;
    assert!(
        path.as_str().is_some_and(|p| p.starts_with("/bewijs/PSO-")),
        "{path}"
    );
    let qr_loaded = browser
        .eval("document.querySelector('.qr img').complete && document.querySelector('.qr img').naturalWidth > 0")
        .await;
    assert_eq!(qr_loaded, true, "the QR code shows");
    check_page(&mut browser, &axe, &dir, "05-evidence").await;
    let pdf = browser.print_pdf().await;
    std::fs::write(dir.join("05-evidence.pdf"), &pdf).expect("write pdf");
    assert_eq!(pdf_pages(&pdf), 1, "the evidence prints on one A4 page");

    // A term it does not meet: no, with the reason.
    browser
        .goto(&app.url("/leverancier/12345678?trede=trede_3&van=2026-03-01&tot=2027-02-28"))
        .await;
    let verdict = browser
        .eval("document.querySelector('.verdict .big').textContent")
        .await;
    assert_eq!(verdict, "Nee");
    check_page(&mut browser, &axe, &dir, "06-term-no").await;

    // The other page types: English, unknown supplier, nothing found, a
    // refusal, the accessibility statement.
    // The bulk check: a pasted list, its table.
    browser.goto(&app.url("/bulkcontrole")).await;
    check_page(&mut browser, &axe, &dir, "07-bulk").await;
    browser
        .eval(
            "document.getElementById('kvk').value = '12345678\\n87654321\\n99999999\\n1234';\
             document.querySelector('main form button').click()",
        )
        .await;
    browser.and_wait_for_load().await;
    let rows = browser
        .eval("document.querySelectorAll('table.bulk tbody tr').length")
        .await;
    assert_eq!(rows, 4);
    check_page(&mut browser, &axe, &dir, "08-bulk-result").await;

    let mut observed = browser.take_observed();
    for (name, path) in [
        ("09-supplier-en", "/leverancier/12345678?lang=en"),
        ("10-unknown", "/leverancier/99999999"),
        ("11-nothing-found", "/zoeken?q=onbekendbedrijf"),
        ("12-statement", "/toegankelijkheid"),
        ("13-refused", "/leverancier/123"),
    ] {
        browser.goto(&app.url(path)).await;
        check_page(&mut browser, &axe, &dir, name).await;
        let mut seen = browser.take_observed();
        if name == "13-refused" {
            // The browser notes the 400 of the page itself; nothing else.
            seen.errors
                .retain(|e| !e.contains("the server responded with a status of 400"));
        }
        observed.requests.extend(seen.requests);
        observed.errors.extend(seen.errors);
    }

    // Nothing but the register was asked for, and nothing complained. (A
    // `data:` URL leaves nothing: Chromium draws a date field's calendar
    // icon from one of its own.)
    observed.requests.retain(|r| !r.starts_with("data:"));
    let asked = hosts(&observed.requests);
    assert_eq!(
        asked.keys().collect::<Vec<_>>(),
        vec![&app.address],
        "requests went elsewhere: {:?}",
        observed.requests
    );
    assert!(observed.errors.is_empty(), "console: {:?}", observed.errors);
}
