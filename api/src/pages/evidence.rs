//! Printable evidence: the register's signed status answer (the API's, with
//! `Accept: application/jose`) on one A4 page — the question, the answer, the
//! moment, the reference (*kenmerk*), the JWS itself, and a QR code that leads
//! to this page's permalink, where anyone can see it verified again: the
//! signature by the register's published keys, and that the log it names has
//! only grown since (a consistency proof to today's tree). The answer is kept
//! under its reference when made (`POST`), and served as given.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use maud::html;
use registry_core::time::{end_of_day, start_of_day};
use registry_core::{CompanyStatus, IntervalEnd, KvkNumber, Level, StatusQuery};
use serde_json::Value;

use super::{Lang, PageError, badge, form_date, layout, level_name, link, or_page, respond};
use crate::state::AppState;

/// The longest form a `POST` for evidence may send.
const MAX_FORM_BYTES: usize = 1024;

/// `POST /leverancier/{kvk}/bewijs`: signs the answer to the form's question
/// (a term with `trede`, `van`, `tot`; without them, the standing now),
/// keeps it, and sends the reader to its permalink.
pub async fn make(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let lang = Lang::of(&req);
    let answer = made(lang, &path, &body, &state).await.map(|reference| {
        HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                link(lang, &format!("/bewijs/{reference}")),
            ))
            .finish()
    });
    or_page(&req, lang, answer)
}

async fn made(
    lang: Lang,
    raw: &str,
    body: &[u8],
    state: &web::Data<AppState>,
) -> Result<String, PageError> {
    let bad = |nl: &'static str, en: &'static str| PageError::Bad(lang.t(nl, en).to_owned());
    let kvk = KvkNumber::parse(raw).map_err(|_| {
        bad(
            "Een KvK-nummer heeft 8 cijfers.",
            "A KvK number has 8 digits.",
        )
    })?;
    if body.len() > MAX_FORM_BYTES {
        return Err(bad("Het formulier is te groot.", "The form is too large."));
    }
    let (mut level, mut from, mut to) = (None, None, None);
    for (k, v) in url::form_urlencoded::parse(body) {
        let v = v.trim();
        match k.as_ref() {
            "trede" if !v.is_empty() => {
                level =
                    Some(Level::parse(v).map_err(|_| bad("Kies een trede.", "Choose a level."))?)
            }
            "van" if !v.is_empty() => {
                from = Some(form_date(v).ok_or_else(|| {
                    bad(
                        "Vul een geldige begindatum in.",
                        "Enter a valid start date.",
                    )
                })?)
            }
            "tot" if !v.is_empty() => {
                to = Some(form_date(v).ok_or_else(|| {
                    bad("Vul een geldige einddatum in.", "Enter a valid end date.")
                })?)
            }
            _ => {}
        }
    }
    let query = match (from, to) {
        (Some(from), Some(to)) if to >= from => StatusQuery {
            on: start_of_day(from),
            until: Some(IntervalEnd::Exclusive(end_of_day(to))),
            level_min: level,
        },
        (None, None) => StatusQuery {
            on: registry_core::time::now(),
            until: None,
            level_min: level,
        },
        _ => {
            return Err(bad(
                "Vul een begin- en een einddatum in, de einddatum niet voor de begindatum.",
                "Enter a start and an end date, the end not before the start.",
            ));
        }
    };
    let signed = crate::routes::status::signed_status(state, &kvk, &query)?;
    let registry = state.registry.clone();
    let reference = signed.reference.clone();
    crate::routes::blocking(move || {
        registry.keep_evidence(&reference, &kvk, &signed.jws, registry_core::time::now())
    })
    .await?;
    Ok(signed.reference)
}

/// The permalink of a reference, absolute (for the QR code and the print).
fn permalink(req: &HttpRequest, reference: &str) -> String {
    let info = req.connection_info();
    format!("{}://{}/bewijs/{reference}", info.scheme(), info.host())
}

async fn kept(
    state: &web::Data<AppState>,
    reference: &str,
) -> Result<registry_core::registry::evidence::KeptEvidence, PageError> {
    let registry = state.registry.clone();
    let wanted = reference.to_owned();
    crate::routes::read(state, move || registry.evidence(&wanted))
        .await?
        .ok_or(PageError::NotFound)
}

/// `GET /bewijs/{reference}/antwoord.jws`: the signed answer, to keep.
pub async fn download(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let lang = Lang::of(&req);
    let answer = kept(&state, &path).await.map(|evidence| {
        HttpResponse::Ok()
            .content_type(crate::signed_answer::JOSE)
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.jws\"", evidence.reference),
            ))
            .body(evidence.signed_answer)
    });
    or_page(&req, lang, answer)
}

/// `GET /bewijs/{reference}/qr.svg`: the QR code of the permalink.
pub async fn qr(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let lang = Lang::of(&req);
    let answer = kept(&state, &path).await.and_then(|evidence| {
        let target = permalink(&req, &evidence.reference);
        let code =
            qrcode::QrCode::with_error_correction_level(target.as_bytes(), qrcode::EcLevel::M)
                .map_err(|e| {
                    tracing::error!(error = %e, "cannot make a QR code");
                    PageError::Internal
                })?;
        Ok(HttpResponse::Ok()
            .content_type("image/svg+xml")
            .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
            .body(
                code.render::<qrcode::render::svg::Color<'_>>()
                    .min_dimensions(200, 200)
                    .quiet_zone(true)
                    .build(),
            ))
    });
    or_page(&req, lang, answer)
}

/// What the page found when it verified the kept answer again.
#[derive(Debug)]
struct Checked {
    claims: serde_json::Map<String, Value>,
    kid: String,
    /// The log's size in the answer's checkpoint, and today's size when the
    /// log has only grown since (a consistency proof verified), else `None`.
    grown: (u64, Option<u64>),
}

async fn check(state: &web::Data<AppState>, jws: &str) -> Result<Checked, PageError> {
    let verified = crate::verify::answer(
        jws,
        state.signing.jwks(),
        Some(&state.signing.key().verifier_key()),
    )
    .map_err(|e| {
        tracing::error!(error = %e.0, "kept evidence does not verify");
        PageError::Internal
    })?;
    let Some(checkpoint) = verified.checkpoint else {
        return Err(PageError::Internal);
    };
    let (now_size, now_root) = state.registry.model().log_tree()?.value;
    let registry = state.registry.clone();
    let from = checkpoint.size;
    let proof = if from == 0 || from > now_size {
        None
    } else {
        crate::routes::read(state, move || registry.consistency_proof(from, now_size)).await?
    };
    let grown = proof.and_then(|p| {
        registry_core::log::tree::verify_consistency(
            from,
            now_size,
            &p,
            &checkpoint.root,
            &now_root,
        )
        .ok()
        .map(|()| now_size)
    });
    Ok(Checked {
        claims: verified.claims,
        kid: verified.kid,
        grown: (from, grown),
    })
}

/// An instant of the answer, Dutch time, as a date and a time.
fn moment(lang: Lang, t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&chrono_tz::Europe::Amsterdam);
    format!(
        "{} {} {}",
        lang.date(local.date_naive()),
        lang.t("om", "at"),
        local.format("%H:%M:%S")
    )
}

fn claim_instant(claims: &serde_json::Map<String, Value>, name: &str) -> Option<DateTime<Utc>> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// `GET /bewijs/{reference}`: the evidence, verified again, printable.
pub async fn page(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let lang = Lang::of(&req);
    or_page(&req, lang, shown(&req, lang, &path, &state).await)
}

async fn shown(
    req: &HttpRequest,
    lang: Lang,
    reference: &str,
    state: &web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let evidence = kept(state, reference).await?;
    let checked = check(state, &evidence.signed_answer).await?;
    let c = &checked.claims;
    let status = c
        .get("status")
        .and_then(Value::as_str)
        .and_then(|v| CompanyStatus::ALL.into_iter().find(|s| s.as_str() == v))
        .unwrap_or(CompanyStatus::NotCertified);
    let certified = c.get("certified").and_then(Value::as_bool).unwrap_or(false);
    let level = c
        .get("level")
        .and_then(|v| serde_json::from_value::<Level>(v.clone()).ok());
    let level_min = c
        .get("levelMin")
        .and_then(|v| serde_json::from_value::<Level>(v.clone()).ok());
    let on = claim_instant(c, "on");
    let until = claim_instant(c, "until");
    let iat = c
        .get("iat")
        .and_then(Value::as_i64)
        .and_then(|s| DateTime::from_timestamp(s, 0));
    let kvk = c
        .get("kvkNumber")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let question = match (on, until) {
        (Some(on), Some(until)) => format!(
            "{} {} {} {} {}",
            lang.t("Gecertificeerd van", "Certified from"),
            lang.date(registry_core::time::date_at(on)),
            lang.t("t/m", "through"),
            lang.date(registry_core::time::date_at(
                until - chrono::Duration::nanoseconds(1)
            )),
            level_min.map_or(String::new(), |l| format!(
                "{} {} {}",
                lang.t("op", "at"),
                level_name(l),
                lang.t("of hoger", "or higher")
            )),
        ),
        (Some(on), None) => format!(
            "{} {}",
            lang.t("Gecertificeerd op", "Certified on"),
            moment(lang, on)
        ),
        _ => String::new(),
    };
    let link_to_self = permalink(req, &evidence.reference);
    let title = lang.t("Bewijs van een PSO-toets", "Evidence of a PSO check");
    let body = html! {
        article class="evidence" {
            h1 { (title) }
            p class="reference" { (lang.t("Kenmerk", "Reference")) ": " strong { (evidence.reference) } }
            dl {
                dt { (lang.t("Leverancier", "Supplier")) }
                dd { "KvK " (kvk) }
                dt { (lang.t("Vraag", "Question")) }
                dd { (question.trim()) }
                dt { (lang.t("Antwoord", "Answer")) }
                dd class="answer" {
                    strong { @if certified { (lang.t("Ja", "Yes")) } @else { (lang.t("Nee", "No")) } }
                    " " (badge(lang, status))
                    @if let Some(level) = level { " " span class="level" { (level_name(level)) } }
                }
                dt { (lang.t("Moment van de toets", "Moment of the check")) }
                dd { @if let Some(t) = iat { (moment(lang, t)) " " (lang.t("(Nederlandse tijd)", "(Dutch time)")) } }
                dt { (lang.t("Ondertekend door", "Signed by")) }
                dd { (c.get("iss").and_then(Value::as_str).unwrap_or_default()) " (" (lang.t("sleutel", "key")) " " code { (checked.kid) } ")" }
                dt { (lang.t("Handtekening", "Signature")) }
                dd { (lang.t("Klopt, met de gepubliceerde sleutel van het register.", "Valid, with the register's published key.")) }
                dt { (lang.t("Logboek", "Log")) }
                dd {
                    @match checked.grown {
                        (from, Some(now)) => {
                            (lang.t("Het antwoord geeft de stand na ", "The answer reflects the state after "))
                            (from)
                            (lang.t(" gebeurtenissen. Het logboek is sindsdien alleen aangevuld (nu ", " events. The log has only grown since (now "))
                            (now)
                            (lang.t("; het consistentiebewijs klopt).", "; the consistency proof verifies)."))
                        },
                        (from, None) => {
                            (lang.t("Het antwoord geeft de stand na ", "The answer reflects the state after "))
                            (from)
                            (lang.t(" gebeurtenissen; dat het logboek sindsdien alleen is aangevuld, kon nu niet worden aangetoond.", " events; that the log has only grown since could not be shown now."))
                        },
                    }
                }
            }
            div class="qr" {
                img src=(format!("/bewijs/{}/qr.svg", evidence.reference)) width="160" height="160"
                    alt=(format!("{} {link_to_self}", lang.t("QR-code naar", "QR code to")));
                p {
                    (lang.t("Iedereen kan dit bewijs nagaan op", "Anyone can verify this evidence at"))
                    br;
                    a href=(link_to_self) { (link_to_self) }
                }
            }
            h2 { (lang.t("Het ondertekende antwoord", "The signed answer")) }
            p class="meta" {
                (lang.t(
                    "Een JWS (RFC 7515, EdDSA). Nagaan zonder het register: pso-registry verify answer, met de sleutelset van /.well-known/jwks.json.",
                    "A JWS (RFC 7515, EdDSA). To verify without the register: pso-registry verify answer, with the key set of /.well-known/jwks.json.",
                ))
            }
            pre class="jws" { (evidence.signed_answer) }
            p class="no-print" {
                a href=(link(lang, &format!("/bewijs/{}/antwoord.jws", evidence.reference))) download {
                    (lang.t("Download het ondertekende antwoord (.jws)", "Download the signed answer (.jws)"))
                }
            }
        }
    };
    Ok(respond(StatusCode::OK, layout(req, lang, title, body)))
}
