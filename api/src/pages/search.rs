//! `/zoeken`: the search, with filters (place, province, sector, level,
//! standing) and paging, through the read model's search as the API's. A KvK
//! number typed into the box goes straight to that supplier's page.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use registry_core::{KvkNumber, Level, Province, SearchCursor, SearchFilter, SearchStatus};

use super::{Lang, PageError, badge, layout, level_name, link, or_page, respond, search_form};
use crate::state::AppState;

/// Results per page.
const PAGE: i64 = 20;

/// The search as the form asks it.
#[derive(Debug, Default)]
struct Asked {
    q: String,
    city: String,
    province: Option<Province>,
    sbi: String,
    level_min: Option<Level>,
    status: Option<SearchStatus>,
    cursor: Option<String>,
}

impl Asked {
    /// Reads the form's fields; an empty field is no filter, unknown fields
    /// are left alone (a browser or a link may add its own).
    fn read(req: &HttpRequest, lang: Lang) -> Result<Asked, PageError> {
        let mut asked = Asked::default();
        for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            let bad =
                |nl: &'static str, en: &'static str| PageError::Bad(lang.t(nl, en).to_owned());
            // Bounded like the API's parameters.
            if v.chars().count() > 2048 {
                return Err(bad("Een veld is te lang.", "A field is too long."));
            }
            match k.as_ref() {
                "q" => asked.q = v.chars().take(100).collect(),
                "plaats" => asked.city = v.chars().take(100).collect(),
                "provincie" => {
                    asked.province = Some(Province::parse(v).map_err(|_| {
                        bad(
                            "Kies een van de twaalf provincies.",
                            "Choose one of the twelve provinces.",
                        )
                    })?)
                }
                "sector" => {
                    // As the API's `sbi` (SBI_PREFIX): 2 to 5 digits.
                    if !(2..=5).contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(bad(
                            "Een sector is een SBI-code of het begin ervan: 2 tot 5 cijfers.",
                            "A sector is an SBI code or its first digits: 2 to 5 digits.",
                        ));
                    }
                    asked.sbi = v.to_owned();
                }
                "trede" => {
                    asked.level_min = Some(Level::parse(v).map_err(|_| {
                        bad(
                            "Kies een trede uit de lijst.",
                            "Choose a level from the list.",
                        )
                    })?)
                }
                "status" => {
                    asked.status = Some(SearchStatus::parse(v).map_err(|_| {
                        bad(
                            "Kies een status uit de lijst.",
                            "Choose a standing from the list.",
                        )
                    })?)
                }
                "cursor" => asked.cursor = Some(v.to_owned()),
                _ => {}
            }
        }
        Ok(asked)
    }

    /// This search's address with `cursor` (or none).
    fn href(&self, lang: Lang, cursor: Option<&str>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let pairs = [
            ("q", self.q.as_str()),
            ("plaats", self.city.as_str()),
            ("provincie", self.province.map_or("", Province::name)),
            ("sector", self.sbi.as_str()),
            ("trede", self.level_min.map_or("", Level::as_str)),
            ("status", self.status.map_or("", SearchStatus::as_str)),
            ("cursor", cursor.unwrap_or_default()),
        ];
        for (k, v) in pairs {
            if !v.is_empty() {
                query.append_pair(k, v);
            }
        }
        link(lang, &format!("/zoeken?{}", query.finish()))
    }
}

fn status_label(lang: Lang, s: SearchStatus) -> &'static str {
    match s {
        SearchStatus::Active => lang.t("Gecertificeerd", "Certified"),
        SearchStatus::Suspended => lang.t("Geschorst", "Suspended"),
        SearchStatus::Revoked => lang.t("Ingetrokken", "Revoked"),
        SearchStatus::Expired => lang.t("Verlopen", "Expired"),
        SearchStatus::NotYetValid => lang.t("Nog niet geldig", "Not yet valid"),
        SearchStatus::Superseded => lang.t("Vervangen", "Superseded"),
        SearchStatus::Any => lang.t("Elke status", "Any standing"),
    }
}

/// `GET /zoeken`.
pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let lang = Lang::of(&req);
    or_page(&req, lang, answer(&req, lang, &state).await)
}

async fn answer(
    req: &HttpRequest,
    lang: Lang,
    state: &web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let asked = Asked::read(req, lang)?;
    // A KvK number is a supplier, known or not.
    let digits: String = asked.q.chars().filter(|c| !c.is_whitespace()).collect();
    if let Ok(kvk) = KvkNumber::parse(&digits) {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, link(lang, &format!("/leverancier/{kvk}"))))
            .finish());
    }
    let title = lang.t("Zoekresultaten", "Search results");
    let short = !asked.q.is_empty() && asked.q.chars().filter(|c| c.is_alphanumeric()).count() < 2;
    let after: Option<SearchCursor> = crate::paging::decode_cursor(asked.cursor.as_deref())?;
    let filter = SearchFilter {
        q: (!asked.q.is_empty() && !short).then(|| asked.q.clone()),
        kvk: None,
        city: (!asked.city.is_empty()).then(|| asked.city.clone()),
        province: asked.province,
        sbi: (!asked.sbi.is_empty()).then(|| asked.sbi.clone()),
        level_min: asked.level_min,
        pso30plus: None,
        status: asked.status.unwrap_or(SearchStatus::Active),
        certification_body: None,
        at: registry_core::time::now(),
    };
    let registry = state.registry.clone();
    let found = if short {
        Ok(None)
    } else {
        crate::routes::work(state, move || {
            Ok(registry
                .model()
                .search_companies(&filter, after.as_ref(), PAGE))
        })
        .await?
        .map(Some)
    };
    let (hits, next) = match found {
        Ok(Some(page)) => (Some(page.value.items), page.value.next),
        Ok(None) => (None, None),
        Err(registry_core::CoreError::Validation(_)) => (None, None),
        Err(e) => return Err(e.into()),
    };
    let next = next.map(|c| asked.href(lang, Some(&crate::paging::encode_cursor(&c))));
    let body = html! {
        h1 { (title) }
        (search_form(lang, &asked.q))
        (filters(lang, &asked))
        section aria-labelledby="gevonden" {
            h2 id="gevonden" class="visually-hidden" { (lang.t("Gevonden leveranciers", "Suppliers found")) }
            @match &hits {
                None => p class="note" role="status" {
                    (lang.t(
                        "Typ minstens twee letters van de naam, of een KvK-nummer van 8 cijfers. Te algemene woorden (zoals \"bv\") zoeken niet.",
                        "Type at least two letters of the name, or a KvK number of 8 digits. Words that are too common (such as \"bv\") do not search.",
                    ))
                },
                Some(hits) if hits.is_empty() => p class="note" role="status" {
                    (lang.t(
                        "Geen leverancier gevonden met deze zoekvraag. Een leverancier die hier niet staat, is niet gecertificeerd; zoek op KvK-nummer om dat zeker te weten.",
                        "No supplier found for this search. A supplier not listed here is not certified; search by KvK number to be sure.",
                    ))
                },
                Some(hits) => ol class="results" {
                    @for h in hits {
                        li {
                            a href=(link(lang, &format!("/leverancier/{}", h.company.kvk_number))) {
                                (h.company.name.as_str())
                            }
                            " "
                            (badge(lang, h.standing.status))
                            @if let Some(level) = h.standing.level {
                                " " span class="level" { (level_name(level)) }
                            }
                            div class="meta" {
                                "KvK " (h.company.kvk_number.as_str())
                                @if let Some(city) = &h.company.city { " · " (city.as_str()) }
                            }
                        }
                    }
                },
            }
            @if let Some(next) = next {
                p { a rel="next" href=(next) { (lang.t("Volgende resultaten", "More results")) } }
            }
        }
    };
    Ok(respond(StatusCode::OK, layout(req, lang, title, body)))
}

fn filters(lang: Lang, asked: &Asked) -> Markup {
    html! {
        details class="filters" open[asked.province.is_some() || !asked.city.is_empty() || !asked.sbi.is_empty() || asked.level_min.is_some() || asked.status.is_some()] {
            summary { (lang.t("Filters", "Filters")) }
            form method="get" action="/zoeken" {
                input type="hidden" name="q" value=(asked.q);
                @if lang == Lang::En { input type="hidden" name="lang" value="en"; }
                div class="field" {
                    label for="plaats" { (lang.t("Plaats", "Place")) }
                    input id="plaats" name="plaats" type="text" value=(asked.city) maxlength="100";
                }
                div class="field" {
                    label for="provincie" { (lang.t("Provincie", "Province")) }
                    select id="provincie" name="provincie" {
                        option value="" { (lang.t("Alle provincies", "All provinces")) }
                        @for p in Province::ALL {
                            option value=(p.name()) selected[asked.province == Some(p)] { (p.name()) }
                        }
                    }
                }
                div class="field" {
                    label for="sector" { (lang.t("Sector (SBI-code of het begin ervan)", "Sector (SBI code or its first digits)")) }
                    input id="sector" name="sector" type="text" inputmode="numeric" pattern="[0-9]{2,5}" value=(asked.sbi) maxlength="5";
                }
                div class="field" {
                    label for="trede" { (lang.t("Ten minste trede", "At least level")) }
                    select id="trede" name="trede" {
                        option value="" { (lang.t("Elke trede", "Any level")) }
                        @for l in Level::ALL {
                            option value=(l.as_str()) selected[asked.level_min == Some(l)] { (level_name(l)) }
                        }
                    }
                }
                div class="field" {
                    label for="status" { (lang.t("Status vandaag", "Standing today")) }
                    select id="status" name="status" {
                        @for s in SearchStatus::ALL {
                            option value=(s.as_str()) selected[asked.status.unwrap_or(SearchStatus::Active) == s] { (status_label(lang, s)) }
                        }
                    }
                }
                button type="submit" { (lang.t("Filter toepassen", "Apply filters")) }
            }
        }
    }
}
