//! The officer's pages: server-rendered HTML at `/` (the API stays under
//! `/v1`), Dutch first, English on request. Templates are compiled into the
//! binary (maud, which escapes every value it writes), the stylesheet is
//! embedded, and no page asks for anything from elsewhere: the
//! Content-Security-Policy allows the register's own stylesheet and images,
//! no script and no inline style. Pages read through the same core queries
//! as the API; a page never answers with a problem document, and the register
//! being unavailable reads as exactly that, never as "not certified".

mod bulk;
mod evidence;
pub mod lang;
mod search;
mod supplier;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{DOCTYPE, Markup, html};
use registry_core::{CompanyStatus, CoreError, Level};

pub use lang::Lang;

/// What a page may load: its own stylesheet and images, nothing else; forms
/// post only to the register.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                       form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The stylesheet, embedded.
const STYLE: &str = include_str!("style.css");

/// The pages' routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use crate::routes::resource;
    const READ: &str = "GET, HEAD, OPTIONS";
    cfg.service(resource("/", READ).route(web::get().to(landing)))
        .service(resource("/zoeken", READ).route(web::get().to(search::page)))
        .service(resource("/leverancier/{kvk}", READ).route(web::get().to(supplier::page)))
        .service(
            resource("/leverancier/{kvk}/bewijs", "POST, OPTIONS")
                .route(web::post().to(evidence::make)),
        )
        .service(resource("/bewijs/{reference}", READ).route(web::get().to(evidence::page)))
        .service(resource("/bewijs/{reference}/qr.svg", READ).route(web::get().to(evidence::qr)))
        .service(
            resource("/bewijs/{reference}/antwoord.jws", READ)
                .route(web::get().to(evidence::download)),
        )
        .service(
            resource("/bulkcontrole", "GET, HEAD, POST, OPTIONS")
                .route(web::get().to(bulk::page))
                .route(web::post().to(bulk::check)),
        )
        .service(resource("/bulkcontrole.csv", "POST, OPTIONS").route(web::post().to(bulk::csv)))
        .service(resource("/toegankelijkheid", READ).route(web::get().to(accessibility)))
        .service(resource("/assets/style.css", READ).route(web::get().to(style)))
        .service(resource("/assets/icon.svg", READ).route(web::get().to(icon)))
        .service(resource("/favicon.ico", READ).route(web::get().to(icon)));
}

/// Why a page could not answer.
#[derive(Debug)]
pub enum PageError {
    /// The register cannot answer now (loading, database away).
    Unavailable,
    /// The request asks for something that cannot be (the words say what).
    Bad(String),
    /// Nothing is kept under what was asked for.
    NotFound,
    /// A fault of the register's own.
    Internal,
}

impl From<CoreError> for PageError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Loading | CoreError::Unavailable(_) | CoreError::Contention(_) => {
                PageError::Unavailable
            }
            CoreError::Validation(faults) => PageError::Bad(
                faults
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            e => {
                tracing::error!(error = %e, "a page could not be made");
                PageError::Internal
            }
        }
    }
}

impl From<crate::problem::Problem> for PageError {
    fn from(p: crate::problem::Problem) -> Self {
        match p.kind.status() {
            s if s == StatusCode::SERVICE_UNAVAILABLE => PageError::Unavailable,
            s if s.is_client_error() => PageError::Bad(p.detail),
            _ => PageError::Internal,
        }
    }
}

impl PageError {
    /// The page that says so, in the reader's language.
    pub fn page(self, req: &HttpRequest, lang: Lang) -> HttpResponse {
        let (status, title, words): (StatusCode, &str, String) = match self {
            PageError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                lang.t("Het register is nu niet beschikbaar", "The register is unavailable right now"),
                lang.t(
                    "Het register kan deze vraag op dit moment niet beantwoorden. Dit zegt niets over de certificering van een leverancier. Probeer het over een minuut opnieuw.",
                    "The register cannot answer this question at the moment. This says nothing about any supplier's certification. Please try again in a minute.",
                )
                .to_owned(),
            ),
            PageError::Bad(why) => (
                StatusCode::BAD_REQUEST,
                lang.t("Deze vraag kan het register niet lezen", "The register cannot read this question"),
                why,
            ),
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                lang.t("Niet gevonden", "Not found"),
                lang.t(
                    "Onder dit adres bewaart het register niets. Controleer het kenmerk of het adres.",
                    "The register keeps nothing at this address. Check the reference or the address.",
                )
                .to_owned(),
            ),
            PageError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                lang.t("Er ging iets mis in het register", "Something went wrong in the register"),
                lang.t(
                    "Dit is een fout van het register, niet van u. Dit zegt niets over de certificering van een leverancier.",
                    "This is the register's fault, not yours. It says nothing about any supplier's certification.",
                )
                .to_owned(),
            ),
        };
        let body = html! {
            h1 { (title) }
            p { (words) }
            p { a href=(link(lang, "/")) { (lang.t("Naar de zoekpagina", "To the search page")) } }
        };
        let mut response = respond(status, layout(req, lang, title, body));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        }
        response
    }
}

/// A page's answer, or the page that says why there is none.
pub fn or_page(
    req: &HttpRequest,
    lang: Lang,
    answer: Result<HttpResponse, PageError>,
) -> HttpResponse {
    answer.unwrap_or_else(|e| e.page(req, lang))
}

/// A date typed into a form (`YYYY-MM-DD`), within the days the register knows.
pub fn form_date(s: &str) -> Option<chrono::NaiveDate> {
    registry_core::time::parse_date(s).filter(|d| {
        registry_core::time::within_range(registry_core::time::start_of_day(*d))
            && registry_core::time::within_range(registry_core::time::end_of_day(*d))
    })
}

/// An HTML answer with the pages' headers.
pub fn respond(status: StatusCode, page: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::VARY, "Accept-Language"))
        .body(page.into_string())
}

/// `path` in `lang`: the switch's choice travels in the address, so that
/// every page has a permalink in either language.
pub fn link(lang: Lang, path: &str) -> String {
    match lang {
        Lang::Nl => path.to_owned(),
        Lang::En if path.contains('?') => format!("{path}&lang=en"),
        Lang::En => format!("{path}?lang=en"),
    }
}

/// The current address in the other language.
fn switched(req: &HttpRequest, lang: Lang) -> String {
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k != "lang")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &kept {
        query.append_pair(k, v);
    }
    query.append_pair("lang", lang.other().code());
    format!("{}?{}", req.path(), query.finish())
}

/// Every page's frame: language, title, the switch, navigation, and the
/// footer with the accessibility statement.
pub fn layout(req: &HttpRequest, lang: Lang, title: &str, body: Markup) -> Markup {
    let register = lang.t(
        "Register Prestatieladder Socialer Ondernemen",
        "Register of the Prestatieladder Socialer Ondernemen",
    );
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (register) }
                link rel="stylesheet" href="/assets/style.css";
                link rel="icon" type="image/svg+xml" href="/assets/icon.svg";
            }
            body {
                a class="skip" href="#inhoud" { (lang.t("Naar de inhoud", "Skip to content")) }
                header class="site" {
                    a class="home" href=(link(lang, "/")) { (register) }
                    nav aria-label=(lang.t("Taal", "Language")) {
                        a href=(switched(req, lang)) lang=(lang.other().code()) hreflang=(lang.other().code()) {
                            (lang.t("English", "Nederlands"))
                        }
                    }
                }
                main id="inhoud" { (body) }
                footer class="site" {
                    p {
                        (lang.t(
                            "Data: het openbare register van de PSO-certificaten, zoals de certificerende instellingen ze melden. Datums en tijden gelden in Nederland (Europe/Amsterdam): een datum betekent de hele dag.",
                            "Data: the public register of PSO certificates, as the certification bodies report them. Dates and times are Dutch (Europe/Amsterdam): a date means the whole day.",
                        ))
                    }
                    ul {
                        li { a href=(link(lang, "/toegankelijkheid")) { (lang.t("Toegankelijkheidsverklaring", "Accessibility statement")) } }
                        li { a href="/docs/" { (lang.t("API voor aanbestedingsplatforms", "API for tender platforms")) } }
                    }
                }
            }
        }
    }
}

/// The last day of a period that ends (exclusively) at the start of `until`.
pub fn last_day(until: chrono::NaiveDate) -> chrono::NaiveDate {
    until.pred_opt().unwrap_or(until)
}

/// A level the way the scheme names it.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Aspirant => "Aspirant",
        Level::Basistrede => "Basistrede",
        Level::Trede1 => "Trede 1",
        Level::Trede2 => "Trede 2",
        Level::Trede3 => "Trede 3",
    }
}

/// The badge of a standing: its words and its class.
pub fn badge(lang: Lang, status: CompanyStatus) -> Markup {
    let (words, class) = match status {
        CompanyStatus::Active => (lang.t("Gecertificeerd", "Certified"), "ok"),
        CompanyStatus::Suspended => (lang.t("Geschorst", "Suspended"), "warn"),
        CompanyStatus::Revoked => (lang.t("Ingetrokken", "Revoked"), "bad"),
        CompanyStatus::Expired => (lang.t("Verlopen", "Expired"), "bad"),
        CompanyStatus::NotYetValid => (lang.t("Nog niet geldig", "Not yet valid"), "warn"),
        CompanyStatus::NotCertified => (lang.t("Niet gecertificeerd", "Not certified"), "none"),
    };
    html! { span class={ "badge " (class) } { (words) } }
}

/// The search form, on the landing page and above results.
pub fn search_form(lang: Lang, q: &str) -> Markup {
    html! {
        form class="search" method="get" action="/zoeken" role="search" {
            label for="q" { (lang.t("Naam of KvK-nummer van de leverancier", "Supplier's name or KvK number")) }
            div class="row" {
                input id="q" name="q" type="search" value=(q) maxlength="100" autocomplete="off" required;
                @if lang == Lang::En { input type="hidden" name="lang" value="en"; }
                button type="submit" { (lang.t("Zoeken", "Search")) }
            }
        }
    }
}

async fn landing(req: HttpRequest) -> HttpResponse {
    let lang = Lang::of(&req);
    let title = lang.t(
        "Is deze leverancier PSO-gecertificeerd?",
        "Is this supplier PSO certified?",
    );
    let body = html! {
        h1 { (title) }
        p class="lead" {
            (lang.t(
                "Zoek een leverancier op naam of KvK-nummer en zie of die een geldig certificaat van de Prestatieladder Socialer Ondernemen heeft, op welke trede, en of dat zo is over de hele looptijd van uw contract. Het antwoord kunt u ondertekend bewaren in uw aanbestedingsdossier.",
                "Look a supplier up by name or KvK number and see whether it holds a valid certificate of the Prestatieladder Socialer Ondernemen, at which level, and whether it does over the whole term of your contract. You can keep the answer, signed, in your tender file.",
            ))
        }
        (search_form(lang, ""))
        p {
            a href=(link(lang, "/bulkcontrole")) { (lang.t("Een hele lijst leveranciers tegelijk controleren", "Check a whole list of suppliers at once")) }
        }
    };
    respond(StatusCode::OK, layout(&req, lang, title, body))
}

async fn accessibility(req: HttpRequest) -> HttpResponse {
    let lang = Lang::of(&req);
    let title = lang.t("Toegankelijkheidsverklaring", "Accessibility statement");
    let body = html! {
        h1 { (title) }
        @match lang {
            Lang::Nl => {
                p { "Het register wil dat iedereen het kan gebruiken, ook met een schermlezer, alleen met het toetsenbord of met vergrote tekst. Deze pagina's zijn gemaakt volgens de Web Content Accessibility Guidelines (WCAG) 2.1, niveau A en AA, de norm voor Nederlandse overheidswebsites (EN 301 549)." }
                h2 { "Hoe we dat nagaan" }
                ul {
                    li { "Elke paginasoort wordt bij elke wijziging automatisch getoetst met axe-core in een echte browser (Chromium), op de regels van WCAG 2.1 A en AA." }
                    li { "Het zoeken werkt met alleen het toetsenbord; dat wordt bij elke wijziging getest." }
                    li { "De pagina's werken zonder JavaScript en laden niets van andere websites." }
                }
                h2 { "Wat nog niet is nagegaan" }
                p { "Er is nog geen handmatige toets door een onafhankelijke deskundige gedaan. Tot die er is, is de status van deze verklaring: " strong { "voldoet gedeeltelijk" } " (automatisch getoetst)." }
                h2 { "Iets gevonden dat niet werkt?" }
                p { "Meld het bij de beheerder van het register (de schema-eigenaar van de Prestatieladder Socialer Ondernemen). We reageren binnen vijf werkdagen." }
            }
            Lang::En => {
                p { "The register wants everyone to be able to use it, including with a screen reader, the keyboard alone, or enlarged text. These pages are built to the Web Content Accessibility Guidelines (WCAG) 2.1, levels A and AA, the standard for Dutch government websites (EN 301 549)." }
                h2 { "How we check" }
                ul {
                    li { "Every kind of page is checked automatically with axe-core in a real browser (Chromium) against the WCAG 2.1 A and AA rules on every change." }
                    li { "Searching works with the keyboard alone; this is tested on every change." }
                    li { "The pages work without JavaScript and load nothing from other websites." }
                }
                h2 { "What has not been checked yet" }
                p { "No manual audit by an independent expert has been done yet. Until one has, this statement's status is: " strong { "partially compliant" } " (checked automatically)." }
                h2 { "Found something that does not work?" }
                p { "Tell the register's operator (the scheme owner of the Prestatieladder Socialer Ondernemen). We answer within five working days." }
            }
        }
    };
    respond(StatusCode::OK, layout(&req, lang, title, body))
}

/// The register's icon: a ladder of three rungs (the Prestatieladder).
const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\"><rect width=\"32\" height=\"32\" rx=\"4\" fill=\"#154273\"/><path d=\"M9 4v24M23 4v24M9 10h14M9 16h14M9 22h14\" stroke=\"#fff\" stroke-width=\"3\"/></svg>";

async fn icon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(ICON)
}

async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLE)
}
