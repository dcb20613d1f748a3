//! The status answer (API.md, "The status answer"): one KvK number, or a batch
//! of up to 1,000, on a date or over an interval, optionally at a minimum level.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use registry_core::time::{end_of_day, start_of_day};
use registry_core::{FieldError, IntervalEnd, KvkNumber, Level, StatusAnswer, StatusQuery};
use serde::{Deserialize, Serialize};

use super::read;
use crate::http_cache;
use crate::problem::Problem;
use crate::query::Params;
use crate::state::AppState;
use crate::views::instant;

/// The most KvK numbers one batch may ask about.
pub const MAX_BATCH: usize = 1000;

/// `on`: a date (the start of that day in Europe/Amsterdam) or an RFC 3339 instant.
fn parse_on(raw: &str) -> Option<DateTime<Utc>> {
    parse_date(raw)
        .map(start_of_day)
        .or_else(|| parse_instant(raw))
}

/// `until`: a date (up to the end of that day in Europe/Amsterdam) or an RFC
/// 3339 instant; the interval ends just before it.
fn parse_until(raw: &str) -> Option<DateTime<Utc>> {
    parse_date(raw)
        .map(end_of_day)
        .or_else(|| parse_instant(raw))
}

fn parse_date(raw: &str) -> Option<NaiveDate> {
    (raw.len() == 10)
        .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
        .flatten()
}

fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| registry_core::time::truncate(t.with_timezone(&Utc)))
}

/// The question, read from `on`, `until` and `level_min`; each fault names its
/// parameter (as `field`, or as a member of a batch body).
pub fn question(
    on: Option<&str>,
    until: Option<&str>,
    level_min: Option<&str>,
) -> Result<StatusQuery, Vec<FieldError>> {
    let mut faults = Vec::new();
    let on = match on {
        None => Some(registry_core::time::now()),
        Some(raw) => parse_on(raw).or_else(|| {
            faults.push(FieldError::new(
                "on",
                "must be a date (YYYY-MM-DD) or an RFC 3339 instant",
            ));
            None
        }),
    };
    let until = until.and_then(|raw| {
        parse_until(raw).or_else(|| {
            faults.push(FieldError::new(
                "until",
                "must be a date (YYYY-MM-DD) or an RFC 3339 instant",
            ));
            None
        })
    });
    let level_min = level_min.and_then(|raw| {
        Level::parse(raw)
            .map_err(|e| faults.push(e.at("level_min")))
            .ok()
    });
    if let (Some(on), Some(until)) = (on, until)
        && until <= on
    {
        faults.push(FieldError::new(
            "until",
            "must be after on (a date for until includes that whole day)",
        ));
    }
    match on {
        Some(on) if faults.is_empty() => Ok(StatusQuery {
            on,
            until: until.map(IntervalEnd::Exclusive),
            level_min,
        }),
        _ => Err(faults),
    }
}

/// One status answer (API.md, "The status answer").
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusView {
    pub kvk_number: String,
    /// The first instant asked about.
    pub on: String,
    /// The end of the interval asked about (the interval ends just before it), or
    /// `null` for a single instant.
    pub until: Option<String>,
    pub level_min: Option<String>,
    /// Valid (at `level_min` or higher) at every instant asked about.
    pub certified: bool,
    /// `active`, `suspended`, `revoked`, `expired`, `not_yet_valid` or `not_certified`, on `on`.
    pub status: String,
    /// The lowest level held over the interval when certified, else the level on `on`.
    pub level: Option<String>,
    pub pso30plus: bool,
    pub certificate_number: Option<String>,
    pub certification_body: Option<String>,
    /// The end (exclusive) of the certificate's period in effect on `on`.
    pub valid_until: Option<NaiveDate>,
    /// When the register answered.
    pub checked_at: String,
}

impl StatusView {
    fn new(kvk: &KvkNumber, query: &StatusQuery, answer: StatusAnswer, checked_at: &str) -> Self {
        let until = match query.until {
            Some(IntervalEnd::Exclusive(t) | IntervalEnd::Inclusive(t)) => Some(instant(t)),
            None => None,
        };
        Self {
            kvk_number: kvk.as_str().to_owned(),
            on: instant(query.on),
            until,
            level_min: query.level_min.map(|l| l.as_str().to_owned()),
            certified: answer.certified,
            status: answer.status.as_str().to_owned(),
            level: answer.level.map(|l| l.as_str().to_owned()),
            pso30plus: answer.pso30plus,
            certificate_number: answer.certificate_number.map(String::from),
            certification_body: answer.certification_body.map(String::from),
            valid_until: answer.valid_until,
            checked_at: checked_at.to_owned(),
        }
    }
}

fn parameters(faults: Vec<FieldError>) -> Problem {
    let mut problem = Problem::parameter(&faults[0].field, faults[0].message.clone());
    problem.errors = faults;
    problem
}

/// `GET /v1/companies/{kvk}/status`: an unknown, well-formed KvK number is `200`
/// and `not_certified`.
#[utoipa::path(
    get,
    path = "/v1/companies/{kvk}/status",
    tag = "status",
    operation_id = "company_status",
    params(
        ("kvk" = String, Path, description = "A KvK number: 8 digits. An unknown one is `not_certified`, not a 404.", pattern = "^[0-9]{8}$"),
        crate::openapi::StatusParams,
    ),
    responses(
        (status = 200, description = "The status answer.", body = StatusView),
        crate::openapi::ReadProblems,
    )
)]
pub async fn one(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let kvk = KvkNumber::parse(&path).map_err(|e| Problem::parameter("kvk", e.0))?;
    let params = Params::parse(&req, &["on", "until", "level_min"])?;
    let query = question(
        params.get("on"),
        params.get("until"),
        params.get("level_min"),
    )
    .map_err(parameters)?;
    let registry = state.registry.clone();
    let target = kvk.clone();
    let answer = read(&state, move || registry.company_status(&target, &query)).await?;
    let mut view = StatusView::new(&kvk, &query, answer, "");
    let basis = serde_json::to_vec(&view).unwrap_or_default();
    view.checked_at = instant(registry_core::time::now());
    http_cache::json(&req, &view, &basis)
}

/// The body of `POST /v1/status/batch`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    kvk_numbers: Vec<String>,
    on: Option<String>,
    until: Option<String>,
    level_min: Option<String>,
}

/// `POST /v1/status/batch`: up to 1,000 KvK numbers, one answer each, in the
/// order asked (duplicates answered each time), read in a bounded number of
/// database queries.
#[utoipa::path(
    post,
    path = "/v1/status/batch",
    tag = "status",
    operation_id = "status_batch",
    request_body(content = BatchRequest, description = "Up to 1,000 KvK numbers (duplicates allowed) and one question for all."),
    responses(
        (status = 200, description = "One answer per number, in the order asked.", body = crate::openapi::StatusList),
        crate::openapi::BatchProblems,
    )
)]
pub async fn batch(
    body: web::Json<BatchRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let body = body.into_inner();
    let mut faults = Vec::new();
    if body.kvk_numbers.len() > MAX_BATCH {
        faults.push(FieldError::new(
            "kvk_numbers",
            format!("must list at most {MAX_BATCH} KvK numbers"),
        ));
    }
    let kvks: Vec<KvkNumber> = body
        .kvk_numbers
        .iter()
        .enumerate()
        .filter_map(|(i, k)| {
            KvkNumber::parse(k)
                .map_err(|e| faults.push(e.at(format!("kvk_numbers[{i}]"))))
                .ok()
        })
        .collect();
    let query = question(
        body.on.as_deref(),
        body.until.as_deref(),
        body.level_min.as_deref(),
    );
    let query = match query {
        Ok(q) if faults.is_empty() => q,
        Ok(_) => return Err(Problem::validation(faults)),
        Err(more) => {
            faults.extend(more);
            return Err(Problem::validation(faults));
        }
    };
    let registry = state.registry.clone();
    let asked = kvks.clone();
    let answers = read(&state, move || registry.company_statuses(&asked, &query)).await?;
    let checked_at = instant(registry_core::time::now());
    let items: Vec<StatusView> = kvks
        .iter()
        .zip(answers)
        .map(|(kvk, answer)| StatusView::new(kvk, &query, answer, &checked_at))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_instants_are_read_as_the_api_says() {
        let q = question(Some("2026-06-01"), Some("2027-05-31"), Some("trede_2")).expect("valid");
        assert_eq!(instant(q.on), "2026-05-31T22:00:00Z");
        assert_eq!(
            q.until,
            Some(IntervalEnd::Exclusive(start_of_day(
                NaiveDate::from_ymd_opt(2027, 6, 1).expect("date")
            )))
        );
        let q = question(Some("2026-06-01T12:00:00+02:00"), None, None).expect("instant");
        assert_eq!(instant(q.on), "2026-06-01T10:00:00Z");
        let fields = |r: Result<StatusQuery, Vec<FieldError>>| {
            r.err()
                .unwrap_or_default()
                .into_iter()
                .map(|f| f.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(fields(question(Some("2026-13-01"), None, None)), ["on"]);
        assert_eq!(
            fields(question(Some("2026-06-01"), Some("2026-05-01"), None)),
            ["until"]
        );
        assert_eq!(
            fields(question(None, Some("soon"), Some("gold"))),
            ["until", "level_min"]
        );
        // The same day for on and until asks about that whole day.
        assert!(question(Some("2026-06-01"), Some("2026-06-01"), None).is_ok());
    }
}
