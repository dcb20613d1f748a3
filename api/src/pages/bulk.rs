//! `/bulkcontrole`: a list of KvK numbers, pasted or uploaded as a CSV file,
//! checked at once (the API's batch: one rule, one read model), shown as a
//! table and downloadable as CSV for a spreadsheet (UTF-8 with a BOM, `;`, Dutch
//! column names, as Dutch Excel opens it).

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use futures_util::StreamExt;
use maud::{Markup, html};
use registry_core::time::start_of_day;
use registry_core::{Company, KvkNumber, Level, StatusAnswer, StatusQuery};

use super::{
    Lang, PageError, badge, form_date, last_day, layout, level_name, link, or_page, respond,
};
use crate::state::AppState;

/// The most numbers one check takes (as the API's batch).
pub const MAX_NUMBERS: usize = 1000;
/// The most bytes a list may take, pasted and uploaded together.
const MAX_BYTES: usize = 64 * 1024;
/// The most parts a form may send (it has four).
const MAX_FIELDS: usize = 16;

/// The question of a bulk check.
#[derive(Debug, Default)]
struct Asked {
    /// The list as sent: numbers and what could not be one.
    entries: Vec<Entry>,
    on: Option<NaiveDate>,
    level: Option<Level>,
}

#[derive(Debug, Clone)]
enum Entry {
    Kvk(KvkNumber),
    Invalid(String),
}

impl Entry {
    /// The entry as it was sent.
    fn as_str(&self) -> &str {
        match self {
            Entry::Kvk(k) => k.as_str(),
            Entry::Invalid(s) => s,
        }
    }
}

impl Asked {
    /// Reads a list: numbers separated by new lines, commas, semicolons, tabs
    /// or spaces, quotes around them allowed; words without a digit (a
    /// header, a name column) are passed over.
    fn add_list(&mut self, text: &str) {
        for token in text.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
            let token = token.trim_matches(|c| c == '"' || c == '\'' || c == '\u{feff}');
            if token.is_empty() || !token.bytes().any(|b| b.is_ascii_digit()) {
                continue;
            }
            self.entries.push(match KvkNumber::parse(token) {
                Ok(kvk) => Entry::Kvk(kvk),
                Err(_) => Entry::Invalid(token.chars().take(40).collect()),
            });
        }
    }

    fn field(&mut self, lang: Lang, name: &str, value: &str) -> Result<(), PageError> {
        let bad = |nl: &'static str, en: &'static str| PageError::Bad(lang.t(nl, en).to_owned());
        let value = value.trim();
        match name {
            "kvk" | "bestand" => self.add_list(value),
            "op" if !value.is_empty() => {
                self.on = Some(form_date(value).ok_or_else(|| {
                    bad(
                        "Vul een geldige datum in (jjjj-mm-dd).",
                        "Enter a valid date (yyyy-mm-dd).",
                    )
                })?)
            }
            "trede" if !value.is_empty() => {
                self.level = Some(
                    Level::parse(value).map_err(|_| bad("Kies een trede.", "Choose a level."))?,
                )
            }
            _ => {}
        }
        Ok(())
    }

    fn check(&self, lang: Lang) -> Result<(), PageError> {
        if self.entries.is_empty() {
            return Err(PageError::Bad(
                lang.t(
                    "Er staat geen KvK-nummer in de lijst.",
                    "The list holds no KvK number.",
                )
                .to_owned(),
            ));
        }
        if self.entries.len() > MAX_NUMBERS {
            return Err(PageError::Bad(
                lang.t(
                    "Ten hoogste 1.000 nummers per keer.",
                    "At most 1,000 numbers at a time.",
                )
                .to_owned(),
            ));
        }
        Ok(())
    }

    fn query(&self) -> StatusQuery {
        StatusQuery {
            on: self.on.map_or_else(registry_core::time::now, start_of_day),
            until: None,
            level_min: self.level,
        }
    }
}

/// One row of the answer.
#[derive(Debug)]
struct Answered {
    entry: Entry,
    company: Option<Company>,
    answer: Option<StatusAnswer>,
}

fn answer(state: &AppState, asked: &Asked) -> Result<Vec<Answered>, PageError> {
    let model = state.registry.model();
    let kvks: Vec<KvkNumber> = asked
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Kvk(k) => Some(k.clone()),
            Entry::Invalid(_) => None,
        })
        .collect();
    let mut answers = model
        .company_statuses(&kvks, &asked.query())?
        .value
        .into_iter();
    asked
        .entries
        .iter()
        .map(|entry| {
            Ok(match entry {
                Entry::Kvk(kvk) => Answered {
                    entry: entry.clone(),
                    company: model.company(kvk)?.value,
                    answer: answers.next(),
                },
                Entry::Invalid(_) => Answered {
                    entry: entry.clone(),
                    company: None,
                    answer: None,
                },
            })
        })
        .collect()
}

fn form(lang: Lang) -> Markup {
    html! {
        form method="post" action=(link(lang, "/bulkcontrole")) enctype="multipart/form-data" {
            div class="field" {
                label for="kvk" { (lang.t("KvK-nummers, één per regel (of gescheiden door komma's of puntkomma's)", "KvK numbers, one per line (or separated by commas or semicolons)")) }
                textarea id="kvk" name="kvk" rows="8" cols="30" {}
            }
            div class="field" {
                label for="bestand" { (lang.t("Of een CSV-bestand met KvK-nummers (ten hoogste 1.000)", "Or a CSV file of KvK numbers (at most 1,000)")) }
                input id="bestand" name="bestand" type="file" accept=".csv,.txt,text/csv,text/plain";
            }
            div class="field" {
                label for="op" { (lang.t("Op datum (leeg: vandaag)", "On date (empty: today)")) }
                input id="op" name="op" type="date";
            }
            div class="field" {
                label for="trede" { (lang.t("Ten minste trede (leeg: elke trede)", "At least level (empty: any level)")) }
                select id="trede" name="trede" {
                    option value="" { (lang.t("Elke trede", "Any level")) }
                    @for l in Level::ALL { option value=(l.as_str()) { (level_name(l)) } }
                }
            }
            button type="submit" { (lang.t("Controleren", "Check")) }
        }
    }
}

/// `GET /bulkcontrole`: the form.
pub async fn page(req: HttpRequest) -> HttpResponse {
    let lang = Lang::of(&req);
    let title = lang.t("Bulkcontrole", "Bulk check");
    let body = html! {
        h1 { (title) }
        p { (lang.t(
            "Controleer de certificering van een hele lijst leveranciers, bijvoorbeeld alle inschrijvers op een aanbesteding. U krijgt een tabel en een CSV-bestand voor uw spreadsheet.",
            "Check the certification of a whole list of suppliers, for instance every bidder in a tender. You get a table and a CSV file for your spreadsheet.",
        )) }
        (form(lang))
    };
    respond(StatusCode::OK, layout(&req, lang, title, body))
}

/// `POST /bulkcontrole` (multipart: `kvk`, `bestand`, `op`, `trede`): the table.
pub async fn check(
    req: HttpRequest,
    payload: Multipart,
    state: web::Data<AppState>,
) -> HttpResponse {
    let lang = Lang::of(&req);
    or_page(&req, lang, checked(&req, lang, payload, &state).await)
}

async fn read_form(lang: Lang, mut payload: Multipart) -> Result<Asked, PageError> {
    let too_big = || {
        PageError::Bad(
            lang.t(
                "De lijst is te groot (ten hoogste 64 kB).",
                "The list is too large (at most 64 kB).",
            )
            .to_owned(),
        )
    };
    let unreadable = || {
        PageError::Bad(
            lang.t(
                "Het formulier kon niet worden gelezen.",
                "The form could not be read.",
            )
            .to_owned(),
        )
    };
    let mut asked = Asked::default();
    let mut total = 0usize;
    let mut fields = 0usize;
    while let Some(field) = payload.next().await {
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(unreadable());
        }
        let mut field = field.map_err(|_| unreadable())?;
        let name = field.name().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| unreadable())?;
            total += chunk.len();
            if total > MAX_BYTES {
                return Err(too_big());
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&bytes);
        asked.field(lang, &name, &text)?;
    }
    asked.check(lang)?;
    Ok(asked)
}

async fn checked(
    req: &HttpRequest,
    lang: Lang,
    payload: Multipart,
    state: &web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let asked = read_form(lang, payload).await?;
    let rows = answer(state, &asked)?;
    let certified = rows
        .iter()
        .filter(|r| r.answer.as_ref().is_some_and(|a| a.certified))
        .count();
    let numbers: String = asked
        .entries
        .iter()
        .map(Entry::as_str)
        .collect::<Vec<_>>()
        .join("\n");
    let day = asked
        .on
        .unwrap_or_else(|| registry_core::time::date_at(registry_core::time::now()));
    let title = lang.t("Bulkcontrole: resultaat", "Bulk check: result");
    let body = html! {
        h1 { (title) }
        p class="lead" role="status" {
            (certified) " " (lang.t("van de", "of")) " " (rows.len()) " "
            (lang.t("gecertificeerd op", "certified on")) " " (lang.date(day))
            @if let Some(l) = asked.level { ", " (level_name(l)) " " (lang.t("of hoger", "or higher")) }
            "."
        }
        form method="post" action=(link(lang, "/bulkcontrole.csv")) {
            input type="hidden" name="kvk" value=(numbers);
            @if let Some(on) = asked.on { input type="hidden" name="op" value=(on.to_string()); }
            @if let Some(l) = asked.level { input type="hidden" name="trede" value=(l.as_str()); }
            button type="submit" { (lang.t("Download als CSV", "Download as CSV")) }
        }
        table class="bulk" {
            caption class="visually-hidden" { (title) }
            thead { tr {
                th scope="col" { (lang.t("KvK-nummer", "KvK number")) }
                th scope="col" { (lang.t("Naam", "Name")) }
                th scope="col" { (lang.t("Gecertificeerd", "Certified")) }
                th scope="col" { (lang.t("Status", "Standing")) }
                th scope="col" { (lang.t("Trede", "Level")) }
                th scope="col" { (lang.t("Geldig t/m", "Valid through")) }
            } }
            tbody {
                @for r in &rows {
                    tr {
                        @match (&r.entry, &r.answer) {
                            (Entry::Kvk(kvk), Some(a)) => {
                                td { a href=(link(lang, &format!("/leverancier/{kvk}"))) { (kvk.as_str()) } }
                                td { @if let Some(c) = &r.company { (c.name.as_str()) } }
                                td { @if a.certified { (lang.t("Ja", "Yes")) } @else { (lang.t("Nee", "No")) } }
                                td { (badge(lang, a.status)) }
                                td { @if let Some(l) = a.level { (level_name(l)) } }
                                td { @if let Some(u) = a.valid_until { (lang.date(last_day(u))) } }
                            },
                            (entry, _) => {
                                td { (entry.as_str()) }
                                td colspan="5" { (lang.t("Geen geldig KvK-nummer (8 cijfers)", "Not a valid KvK number (8 digits)")) }
                            },
                        }
                    }
                }
            }
        }
        p { a href=(link(lang, "/bulkcontrole")) { (lang.t("Nog een lijst controleren", "Check another list")) } }
    };
    Ok(respond(StatusCode::OK, layout(req, lang, title, body)))
}

/// `POST /bulkcontrole.csv` (form: `kvk`, `op`, `trede`): the same check as CSV.
pub async fn csv(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let lang = Lang::of(&req);
    or_page(&req, lang, csv_answer(lang, &body, &state))
}

fn csv_answer(lang: Lang, body: &[u8], state: &AppState) -> Result<HttpResponse, PageError> {
    if body.len() > MAX_BYTES {
        return Err(PageError::Bad(
            lang.t("De lijst is te groot.", "The list is too large.")
                .to_owned(),
        ));
    }
    let mut asked = Asked::default();
    for (k, v) in url::form_urlencoded::parse(body) {
        asked.field(lang, &k, &v)?;
    }
    asked.check(lang)?;
    let rows = answer(state, &asked)?;
    let day = asked
        .on
        .unwrap_or_else(|| registry_core::time::date_at(registry_core::time::now()));
    let level = asked
        .level
        .map(|l| l.as_str().to_owned())
        .unwrap_or_default();
    let mut out = String::from(crate::csv::BOM);
    let mut header: Vec<&str> = crate::csv::STATUS_COLUMNS.to_vec();
    header.extend(["peildatum", "ten_minste_trede"]);
    out.push_str(&crate::csv::line(&header));
    for r in &rows {
        let mut cells: Vec<String> = match (&r.entry, &r.answer) {
            (Entry::Kvk(kvk), Some(a)) => {
                crate::csv::status_cells(kvk, r.company.as_ref().map(|c| c.name.as_str()), a)
            }
            (entry, _) => {
                let mut cells = vec![String::new(); crate::csv::STATUS_COLUMNS.len()];
                cells[0] = entry.as_str().to_owned();
                cells[2] = "nee".to_owned();
                cells[3] = "ongeldig_kvk_nummer".to_owned();
                cells
            }
        };
        cells.extend([day.to_string(), level.clone()]);
        out.push_str(&crate::csv::line(&cells));
    }
    Ok(HttpResponse::Ok()
        .content_type(crate::csv::MEDIA_TYPE)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"pso-bulkcontrole-{day}.csv\""),
        ))
        .body(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_read_as_spreadsheets_write_them() {
        let mut asked = Asked::default();
        asked.add_list(
            "\u{feff}kvk_nummer;naam\r\n\"12345678\";\"Bakker B.V.\"\n87654321, 1234\tabc 00000001",
        );
        let read: Vec<String> = asked
            .entries
            .iter()
            .map(|e| match e {
                Entry::Kvk(k) => k.as_str().to_owned(),
                Entry::Invalid(s) => format!("!{s}"),
            })
            .collect();
        assert_eq!(read, ["12345678", "87654321", "!1234", "00000001"]);
    }
}
