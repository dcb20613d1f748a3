//! `/leverancier/{kvk}`: a supplier's standing today, its certificates with
//! every covered KvK number, their history with the certification body's
//! signed requests, and the contract-term check ("trede ≥ X van … t/m …"),
//! each answered by the same rule and read model as the API's status answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use maud::{Markup, html};
use registry_core::time::{end_of_day, start_of_day};
use registry_core::{
    CompanyStatus, Event, EventKind, IntervalEnd, KvkNumber, Level, StatusAnswer, StatusQuery,
};

use super::{
    Lang, PageError, badge, form_date, last_day, layout, level_name, link, or_page, respond,
};
use crate::state::AppState;
use crate::views::CertificateView;

/// The most certificates a page shows the history of, and events of each.
const MAX_HISTORIES: usize = 10;
const MAX_EVENTS: i64 = 100;

/// `GET /leverancier/{kvk}`.
pub async fn page(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let lang = Lang::of(&req);
    or_page(&req, lang, answer(&req, lang, &path, &state).await)
}

/// The term check as the form asks it.
#[derive(Debug, Clone, Copy)]
struct Term {
    level: Level,
    from: NaiveDate,
    to: NaiveDate,
}

/// The form's fields, as typed (to show them again), and the check they make
/// when all are there and valid.
#[derive(Debug, Default)]
struct TermForm {
    level: String,
    from: String,
    to: String,
}

impl TermForm {
    fn read(req: &HttpRequest) -> TermForm {
        let mut form = TermForm::default();
        for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
            let v: String = v.trim().chars().take(40).collect();
            match k.as_ref() {
                "trede" => form.level = v,
                "van" => form.from = v,
                "tot" => form.to = v,
                _ => {}
            }
        }
        form
    }

    fn asked(&self) -> bool {
        !(self.level.is_empty() && self.from.is_empty() && self.to.is_empty())
    }

    /// The check, or what is wrong with the form (in the reader's language).
    fn term(&self, lang: Lang) -> Result<Term, &'static str> {
        let level =
            Level::parse(&self.level).map_err(|_| lang.t("Kies een trede.", "Choose a level."))?;
        let from = form_date(&self.from).ok_or(lang.t(
            "Vul een begindatum in (jjjj-mm-dd).",
            "Enter a start date (yyyy-mm-dd).",
        ))?;
        let to = form_date(&self.to).ok_or(lang.t(
            "Vul een einddatum in (jjjj-mm-dd).",
            "Enter an end date (yyyy-mm-dd).",
        ))?;
        if to < from {
            return Err(lang.t(
                "De einddatum ligt voor de begindatum.",
                "The end date is before the start date.",
            ));
        }
        Ok(Term { level, from, to })
    }
}

async fn answer(
    req: &HttpRequest,
    lang: Lang,
    raw: &str,
    state: &web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let kvk = KvkNumber::parse(raw).map_err(|_| {
        PageError::Bad(
            lang.t(
                "Een KvK-nummer heeft 8 cijfers.",
                "A KvK number has 8 digits.",
            )
            .to_owned(),
        )
    })?;
    let now = registry_core::time::now();
    let model = state.registry.model();
    let detail = model.company_detail(&kvk, now)?;
    let form = TermForm::read(req);
    // Every instant a standing can change at: period boundaries and
    // suspensions, reinstatements, revocations.
    let changes: Vec<DateTime<Utc>> = detail
        .value
        .iter()
        .flat_map(|(_, _, certificates)| certificates)
        .flat_map(|c| {
            let periods = c
                .history
                .periods
                .iter()
                .flat_map(|p| [start_of_day(p.valid_from()), start_of_day(p.valid_until())]);
            let standings = c.history.standing_changes.iter().map(|s| s.effective_at);
            periods.chain(standings).collect::<Vec<_>>()
        })
        .collect();
    let check = if form.asked() {
        Some(match form.term(lang) {
            Ok(term) => Ok(term_check(state, &kvk, &term, changes)?),
            Err(why) => Err(why),
        })
    } else {
        None
    };
    let Some((company, standing, certificates)) = detail.value else {
        let title = lang.t("Niet gecertificeerd", "Not certified");
        let body = html! {
            h1 { "KvK " (kvk.as_str()) }
            p class="answer" { (badge(lang, CompanyStatus::NotCertified)) }
            p {
                (lang.t(
                    "Het register kent geen PSO-certificaat voor dit KvK-nummer, als hoofdaanvrager of als gedekte dochter. Deze leverancier is dus niet gecertificeerd.",
                    "The register knows no PSO certificate for this KvK number, as main applicant or as a covered subsidiary. This supplier is therefore not certified.",
                ))
            }
            (term_section(lang, &kvk, &form, check.as_ref()))
        };
        return Ok(respond(StatusCode::OK, layout(req, lang, title, body)));
    };
    // The history of each certificate, with the CB's signed requests, from
    // the event log (bounded).
    let numbers: Vec<_> = certificates
        .iter()
        .take(MAX_HISTORIES)
        .map(|c| c.number().clone())
        .collect();
    let registry = state.registry.clone();
    let histories: Vec<Vec<Event>> = crate::routes::read(state, move || {
        numbers
            .iter()
            .map(|n| registry.certificate_events(n, 0, MAX_EVENTS))
            .collect()
    })
    .await?;
    let views: Vec<CertificateView> = certificates
        .into_iter()
        .map(|c| CertificateView::new(c, now))
        .collect();
    let title = company.name.as_str().to_owned();
    let speaking = views
        .iter()
        .find(|c| Some(&c.number) == standing.certificate_number.as_ref());
    let body = html! {
        h1 { (company.name.as_str()) }
        p class="meta" {
            "KvK " (kvk.as_str())
            @if let Some(city) = &company.city { " · " (city.as_str()) }
            @if let Some(p) = company.province { " · " (p.name()) }
        }
        section class="standing" aria-labelledby="vandaag" {
            h2 id="vandaag" { (lang.t("Vandaag", "Today")) }
            p class="answer" {
                (badge(lang, standing.status))
                @if let Some(level) = standing.level { " " span class="level" { (level_name(level)) } }
                @if standing.pso30plus { " " span class="level" { "PSO 30+" } }
            }
            form method="post" action=(link(lang, &format!("/leverancier/{kvk}/bewijs"))) class="evidence-form" {
                button type="submit" { (lang.t("Ondertekend bewijs van deze stand", "Signed evidence of this standing")) }
            }
            @if let Some(c) = speaking {
                dl {
                    dt { (lang.t("Geldig", "Valid")) }
                    dd { (lang.date(c.valid_from)) " " (lang.t("t/m", "to")) " " (lang.date(last_day(c.valid_until))) }
                    dt { (lang.t("Certificaat", "Certificate")) }
                    dd { (c.number.as_str()) }
                    dt { (lang.t("Certificerende instelling", "Certification body")) }
                    dd { (c.certification_body.as_str()) }
                }
            }
        }
        (term_section(lang, &kvk, &form, check.as_ref()))
        section aria-labelledby="certificaten" {
            h2 id="certificaten" { (lang.t("Certificaten", "Certificates")) }
            @for (i, c) in views.iter().enumerate() {
                (certificate(lang, c, histories.get(i).map(Vec::as_slice)))
            }
        }
    };
    Ok(respond(StatusCode::OK, layout(req, lang, &title, body)))
}

/// The answer to a term check, with the reason.
#[derive(Debug)]
struct Checked {
    term: Term,
    answer: StatusAnswer,
    /// When the answer is no: the first day the standing falls short, and
    /// that day's standing.
    first_failure: Option<(NaiveDate, StatusAnswer)>,
}

/// "Trede ≥ X from `from` through `to`": the API's status question over
/// the interval; when the answer is no, the standing at the start and at
/// every instant within the term where it can change (`changes`), in order,
/// up to the first that falls short.
fn term_check(
    state: &web::Data<AppState>,
    kvk: &KvkNumber,
    term: &Term,
    mut changes: Vec<DateTime<Utc>>,
) -> Result<Checked, PageError> {
    let model = state.registry.model();
    let on = start_of_day(term.from);
    let until = end_of_day(term.to);
    let ask = |on: DateTime<Utc>, until: Option<DateTime<Utc>>| {
        model.company_status(
            kvk,
            &StatusQuery {
                on,
                until: until.map(IntervalEnd::Exclusive),
                level_min: Some(term.level),
            },
        )
    };
    let answer = ask(on, Some(until))?.value;
    let mut first_failure = None;
    if !answer.certified {
        changes.retain(|t| *t > on && *t < until);
        changes.sort_unstable();
        changes.dedup();
        for at in std::iter::once(on).chain(changes).take(1_000) {
            let here = ask(at, None)?.value;
            if !here.certified {
                first_failure = Some((registry_core::time::date_at(at), here));
                break;
            }
        }
    }
    Ok(Checked {
        term: *term,
        answer,
        first_failure,
    })
}

fn term_section(
    lang: Lang,
    kvk: &KvkNumber,
    form: &TermForm,
    check: Option<&Result<Checked, &'static str>>,
) -> Markup {
    html! {
        section class="term" aria-labelledby="looptijd" {
            h2 id="looptijd" { (lang.t("Toets over de looptijd van een contract", "Check over a contract term")) }
            form method="get" action=(format!("/leverancier/{kvk}")) {
                @if lang == Lang::En { input type="hidden" name="lang" value="en"; }
                div class="field" {
                    label for="trede" { (lang.t("Ten minste trede", "At least level")) }
                    select id="trede" name="trede" {
                        @for l in Level::ALL {
                            option value=(l.as_str()) selected[form.level == l.as_str() || (form.level.is_empty() && l == Level::Trede2)] { (level_name(l)) }
                        }
                    }
                }
                div class="field" {
                    label for="van" { (lang.t("Van (eerste dag)", "From (first day)")) }
                    input id="van" name="van" type="date" value=(form.from) required;
                }
                div class="field" {
                    label for="tot" { (lang.t("Tot en met (laatste dag)", "Through (last day)")) }
                    input id="tot" name="tot" type="date" value=(form.to) required;
                }
                button type="submit" { (lang.t("Toetsen", "Check")) }
            }
            @match check {
                None => {},
                Some(Err(why)) => p class="note error" role="alert" { (*why) },
                Some(Ok(c)) => {
                    (verdict(lang, c))
                    form method="post" action=(link(lang, &format!("/leverancier/{kvk}/bewijs"))) class="evidence-form" {
                        input type="hidden" name="trede" value=(c.term.level.as_str());
                        input type="hidden" name="van" value=(c.term.from.to_string());
                        input type="hidden" name="tot" value=(c.term.to.to_string());
                        button type="submit" { (lang.t("Ondertekend bewijs van deze toets", "Signed evidence of this check")) }
                    }
                },
            }
        }
    }
}

fn verdict(lang: Lang, c: &Checked) -> Markup {
    let question = format!(
        "{} {} {} {} {}",
        level_name(c.term.level),
        lang.t("of hoger van", "or higher from"),
        lang.date(c.term.from),
        lang.t("t/m", "through"),
        lang.date(c.term.to),
    );
    html! {
        div class={ "verdict " (if c.answer.certified { "yes" } else { "no" }) } role="status" {
            p class="question" { (question) }
            @if c.answer.certified {
                p class="big" { (lang.t("Ja", "Yes")) }
                p {
                    (lang.t("De leverancier heeft de hele periode een geldig certificaat op deze trede of hoger", "The supplier holds a valid certificate at this level or higher for the whole term"))
                    @if let Some(level) = c.answer.level { " (" (lang.t("laagste trede in de periode: ", "lowest level in the term: ")) (level_name(level)) ")" }
                    "."
                }
            } @else {
                p class="big" { (lang.t("Nee", "No")) }
                p { (reason(lang, c)) }
            }
        }
    }
}

/// Why a term check says no, in words.
fn reason(lang: Lang, c: &Checked) -> String {
    let Some((day, here)) = &c.first_failure else {
        return lang
            .t(
                "Het certificaat is binnen de periode niet de hele tijd geldig op deze trede (bijvoorbeeld geschorst of ingetrokken); zie de geschiedenis hieronder.",
                "The certificate is not valid at this level for the whole term (for instance suspended or revoked within it); see the history below.",
            )
            .to_owned();
    };
    let on = lang.date(*day);
    match here.status {
        CompanyStatus::Active => match here.level {
            Some(level) => format!(
                "{} {on} {} {}{}",
                lang.t("Op", "On"),
                lang.t("geldt", "the level is"),
                level_name(level),
                lang.t(", lager dan gevraagd.", ", lower than asked."),
            ),
            None => format!("{} {on}.", lang.t("Niet geldig op", "Not valid on")),
        },
        CompanyStatus::Suspended => format!("{} {on}.", lang.t("Geschorst op", "Suspended on")),
        CompanyStatus::Revoked => format!("{} {on}.", lang.t("Ingetrokken op", "Revoked on")),
        CompanyStatus::Expired => format!("{} {on}.", lang.t("Verlopen op", "Expired on")),
        CompanyStatus::NotYetValid => {
            format!("{} {on}.", lang.t("Nog niet geldig op", "Not yet valid on"))
        }
        CompanyStatus::NotCertified => format!(
            "{} {on}.",
            lang.t("Niet gecertificeerd op", "Not certified on")
        ),
    }
}

fn kind_label(lang: Lang, kind: EventKind) -> &'static str {
    match kind {
        EventKind::Issued => lang.t("Uitgegeven", "Issued"),
        EventKind::Renewed => lang.t("Verlengd", "Renewed"),
        EventKind::Suspended => lang.t("Geschorst", "Suspended"),
        EventKind::Reinstated => lang.t("Schorsing opgeheven", "Reinstated"),
        EventKind::Revoked => lang.t("Ingetrokken", "Revoked"),
        EventKind::Superseded => lang.t("Vervangen", "Superseded"),
        EventKind::Expired => lang.t("Verlopen", "Expired"),
        _ => lang.t("Gewijzigd", "Changed"),
    }
}

fn certificate(lang: Lang, c: &CertificateView, events: Option<&[Event]>) -> Markup {
    html! {
        article class="certificate" {
            h3 { (lang.t("Certificaat", "Certificate")) " " (c.number.as_str()) }
            dl {
                dt { (lang.t("Trede", "Level")) }
                dd { (level_name(c.level)) @if c.pso30plus { ", PSO 30+" } }
                dt { (lang.t("Geldig", "Valid")) }
                dd { (lang.date(c.valid_from)) " " (lang.t("t/m", "to")) " " (lang.date(last_day(c.valid_until))) }
                dt { (lang.t("Certificerende instelling", "Certification body")) }
                dd { (c.certification_body.as_str()) " (" (lang.t("kenmerk", "reference")) " " (c.cb_reference.as_str()) ")" }
                dt { (lang.t("Gedekte KvK-nummers", "Covered KvK numbers")) }
                dd {
                    ul class="covered" {
                        @for cv in &c.covered {
                            li {
                                (cv.kvk_number.as_str()) " " (cv.name.as_str())
                                @if cv.main_applicant { " (" (lang.t("hoofdaanvrager", "main applicant")) ")" }
                            }
                        }
                    }
                }
            }
            @if let Some(events) = events {
                h4 { (lang.t("Geschiedenis", "History")) }
                ol class="timeline" {
                    @for e in events {
                        li {
                            strong { (kind_label(lang, e.kind)) }
                            " " (lang.t("per", "as of")) " "
                            (lang.date(registry_core::time::date_at(e.effective_at)))
                            span class="meta" {
                                " · " (lang.t("geregistreerd", "recorded")) " " (lang.date(registry_core::time::date_at(e.recorded_at)))
                                @if let Some(i) = e.log_index { " · " (lang.t("logboek", "log entry")) " " (i) }
                            }
                            @if let Some(jws) = &e.evidence {
                                details {
                                    summary { (lang.t("Ondertekend verzoek van de certificerende instelling", "The certification body's signed request")) }
                                    pre class="jws" { (jws) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
