//! The status answer (API.md, "The status answer"): one KvK number, or a batch
//! of up to 1,000, on a date or over an interval, optionally at a minimum level.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use registry_core::time::{end_of_day, start_of_day};
use registry_core::{FieldError, IntervalEnd, KvkNumber, Level, StatusAnswer, StatusQuery};
use serde::{Deserialize, Serialize};

use crate::extract::{Json, Query};
use crate::http_cache;
use crate::paging::StatusList;
use crate::problem::Problem;
use crate::schema::{
    CsvListSchema, CsvTableSchema, DateOrInstantSchema, InstantSchema, KvkNumberSchema,
    LevelSchema, SignedAnswerSchema,
};
use crate::signed_answer;
use crate::state::AppState;
use crate::views::{StandingView, instant};

/// `on`: a date (the start of that day in Europe/Amsterdam) or an RFC 3339 instant.
fn parse_on(raw: &str) -> Option<DateTime<Utc>> {
    registry_core::time::parse_date(raw)
        .map(start_of_day)
        .or_else(|| parse_instant(raw))
}

/// `until`: a date (up to the end of that day in Europe/Amsterdam) or an RFC
/// 3339 instant; the interval ends just before it.
fn parse_until(raw: &str) -> Option<DateTime<Utc>> {
    registry_core::time::parse_date(raw)
        .map(end_of_day)
        .or_else(|| parse_instant(raw))
}

/// An RFC 3339 instant within the days the register knows.
fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| registry_core::time::truncate(t.with_timezone(&Utc)))
        .filter(|t| registry_core::time::within_range(*t))
}

/// The question, from `on`, `until` and `levelMin` (each already in its
/// contract's form); `until` must come after `on`.
pub fn question(
    on: Option<&str>,
    until: Option<&str>,
    level_min: Option<Level>,
) -> Result<StatusQuery, Vec<FieldError>> {
    let mut faults = Vec::new();
    let on = match on {
        None => Some(registry_core::time::now()),
        Some(raw) => parse_on(raw).or_else(|| {
            faults.push(FieldError::new(
                "on",
                "must be a date (YYYY-MM-DD) or an RFC 3339 instant, up to 9999-12-31",
            ));
            None
        }),
    };
    let until = until.and_then(|raw| {
        parse_until(raw).or_else(|| {
            faults.push(FieldError::new(
                "until",
                "must be a date (YYYY-MM-DD) or an RFC 3339 instant, up to 9999-12-31",
            ));
            None
        })
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    #[schema(value_type = KvkNumberSchema)]
    pub kvk_number: KvkNumber,
    /// The first instant asked about.
    #[schema(value_type = InstantSchema)]
    pub on: String,
    /// The end of the interval asked about (the interval ends just before it), or
    /// `null` for a single instant.
    #[schema(value_type = Option<InstantSchema>)]
    pub until: Option<String>,
    #[schema(value_type = Option<LevelSchema>)]
    pub level_min: Option<Level>,
    /// The answer: certified or not, and the standing on `on`.
    #[serde(flatten)]
    pub standing: StandingView,
    /// When the register answered.
    #[schema(value_type = InstantSchema)]
    pub checked_at: String,
}

/// A status answer as it goes out: [`StatusView`]'s fields at one level,
/// borrowed (`flatten` costs a status answer a third of its time). A test
/// holds the two to the same JSON.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusWire<'a> {
    kvk_number: &'a KvkNumber,
    on: &'a str,
    until: Option<&'a str>,
    level_min: Option<Level>,
    certified: bool,
    status: registry_core::CompanyStatus,
    level: Option<Level>,
    pso30plus: bool,
    certificate_number: Option<&'a registry_core::CertificateNumber>,
    certification_body: Option<&'a registry_core::CbId>,
    valid_until: Option<chrono::NaiveDate>,
    checked_at: &'a str,
}

/// [`StatusList`] as it goes out.
#[derive(Debug, Serialize)]
struct WireList<'a> {
    items: Vec<StatusWire<'a>>,
}

impl StatusView {
    fn wire(&self) -> StatusWire<'_> {
        let s = &self.standing;
        StatusWire {
            kvk_number: &self.kvk_number,
            on: &self.on,
            until: self.until.as_deref(),
            level_min: self.level_min,
            certified: s.certified,
            status: s.status,
            level: s.level,
            pso30plus: s.pso30plus,
            certificate_number: s.certificate_number.as_ref(),
            certification_body: s.certification_body.as_ref(),
            valid_until: s.valid_until,
            checked_at: &self.checked_at,
        }
    }
}

/// The question's instants as the answer writes them, once for a batch.
#[derive(Debug, Clone)]
struct Asked {
    on: String,
    until: Option<String>,
}

impl Asked {
    fn of(query: &StatusQuery) -> Self {
        Self {
            on: instant(query.on),
            until: match query.until {
                Some(IntervalEnd::Exclusive(t) | IntervalEnd::Inclusive(t)) => Some(instant(t)),
                None => None,
            },
        }
    }
}

impl StatusView {
    fn new(
        kvk: &KvkNumber,
        asked: &Asked,
        query: &StatusQuery,
        answer: StatusAnswer,
        checked_at: &str,
    ) -> Self {
        Self {
            kvk_number: kvk.clone(),
            on: asked.on.clone(),
            until: asked.until.clone(),
            level_min: query.level_min,
            standing: StandingView::from(answer),
            checked_at: checked_at.to_owned(),
        }
    }

    /// The tag of this answer: the question (`on` only when asked: left to
    /// its default it means "now", so that the tag holds until the answer
    /// changes) and what the answer says, not the moment of answering.
    fn tag(&self, on_asked: bool) -> http_cache::Tag {
        let mut tag = http_cache::Tag::new("status");
        tag.add(self.kvk_number.as_str().as_bytes());
        tag.add(if on_asked { self.on.as_bytes() } else { b"" });
        tag.add(self.until.as_deref().unwrap_or_default().as_bytes());
        tag.add(self.level_min.map_or("", Level::as_str).as_bytes());
        self.standing.tag(&mut tag);
        tag
    }
}

/// The question of a status check.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct StatusParams {
    /// A date (the start of that day, Europe/Amsterdam) or an RFC 3339 instant;
    /// default now.
    #[param(value_type = Option<DateOrInstantSchema>)]
    on: Option<String>,
    /// The level must hold for the whole interval up to here: a date (to the end
    /// of that day) or an instant (the interval ends just before it). After `on`.
    #[param(value_type = Option<DateOrInstantSchema>)]
    until: Option<String>,
    /// Certified at this level or higher, throughout.
    #[param(value_type = Option<LevelSchema>)]
    level_min: Option<Level>,
}

crate::contract::query_contract!(StatusParams);

/// A KvK number in the path.
pub fn kvk_number(raw: &str) -> Result<KvkNumber, Problem> {
    KvkNumber::parse(raw).map_err(|e| Problem::parameter("kvk", e.0))
}

/// `GET /v1/companies/{kvk}/status`: an unknown, well-formed KvK number is `200`
/// and `not_certified`.
#[utoipa::path(
    get,
    path = "/companies/{kvk}/status",
    tag = "status",
    operation_id = "companyStatus",
    params(
        ("kvk" = KvkNumberSchema, Path, description = "A KvK number. An unknown one is `not_certified`, not a 404."),
        StatusParams,
    ),
    responses(
        (status = 200, description = "The status answer; with `Accept: application/jose`, signed: a compact JWS (`EdDSA`, `typ` `pso-status+jwt`, `kid` one of `/.well-known/jwks.json`) whose claims are the answer's fields and `iss` (the register), `iat`, `jti` (this check's reference, `PSO-XXXX-XXXX-XXXX-XXXX`) and `checkpoint` (the signed log checkpoint of the state answered from).", content(
            (StatusView = "application/json"),
            (SignedAnswerSchema = "application/jose"),
        )),
        crate::openapi::ReadProblems,
    )
)]
pub async fn one(
    req: HttpRequest,
    path: web::Path<String>,
    Query(params): Query<StatusParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let kvk = kvk_number(&path)?;
    let query = question(
        params.on.as_deref(),
        params.until.as_deref(),
        params.level_min,
    )
    .map_err(Problem::parameters)?;
    if signed_answer::wanted(&req) {
        let signed_status = signed_status(&state, &kvk, &query)?;
        return Ok(signed(signed_status.jws, signed_status.seq));
    }
    let answer = state.registry.model().company_status(&kvk, &query)?;
    let checked_at = instant(registry_core::time::now());
    let view = StatusView::new(&kvk, &Asked::of(&query), &query, answer.value, &checked_at);
    let tag = view.tag(params.on.is_some());
    http_cache::json(&req, &view.wire(), tag, answer.seq)
}

/// A signed status answer: the compact JWS, its reference (`jti`) and the
/// register state it reflects.
#[derive(Debug)]
pub struct SignedStatus {
    pub jws: String,
    pub reference: String,
    pub seq: i64,
}

/// The status answer to `query` about `kvk`, signed: what `Accept:
/// application/jose` gets, and what the officer's printed evidence carries.
pub fn signed_status(
    state: &AppState,
    kvk: &KvkNumber,
    query: &StatusQuery,
) -> Result<SignedStatus, Problem> {
    let answer = state.registry.model().company_status_logged(kvk, query)?;
    let (value, (size, root)) = answer.value;
    let checked_at = instant(registry_core::time::now());
    let view = StatusView::new(kvk, &Asked::of(query), query, value, &checked_at);
    let checkpoint = state.checkpoints.note(size, &root);
    let reference = signed_answer::reference();
    let jws = signed_answer::sign(&state.signing, &view.wire(), &checkpoint, &reference)?;
    Ok(SignedStatus {
        jws,
        reference,
        seq: answer.seq,
    })
}

/// A signed answer as it goes out: never stored by a cache (each is a check
/// of its own, with its own reference).
fn signed(jws: String, seq: i64) -> HttpResponse {
    http_cache::as_of(
        HttpResponse::Ok()
            .content_type(signed_answer::JOSE)
            .insert_header((
                actix_web::http::header::CACHE_CONTROL,
                actix_web::http::header::HeaderValue::from_static("no-store"),
            ))
            .body(jws),
        seq,
    )
}

/// The body of `POST /v1/status/batch`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchRequest {
    /// Up to 1,000 KvK numbers; duplicates are answered each time.
    #[schema(value_type = Vec<KvkNumberSchema>, max_items = 1000)]
    kvk_numbers: Vec<KvkNumber>,
    #[schema(value_type = Option<DateOrInstantSchema>)]
    on: Option<String>,
    #[schema(value_type = Option<DateOrInstantSchema>)]
    until: Option<String>,
    #[schema(value_type = Option<LevelSchema>)]
    level_min: Option<Level>,
}

crate::contract::body_contract!(BatchRequest);

/// `POST /v1/status/batch`: up to 1,000 KvK numbers, one answer each, in the
/// order asked (duplicates answered each time), from the read model.
#[utoipa::path(
    post,
    path = "/status/batch",
    tag = "status",
    operation_id = "statusBatch",
    params(StatusParams),
    request_body(description = "Up to 1,000 KvK numbers (duplicates allowed) and one question for all; or, as `text/csv`, up to 10,000 KvK numbers, one a row in the first column (an optional header row, `;` or `,` between columns, other columns passed over), the question in the query string.", content(
        (BatchRequest = "application/json"),
        (CsvListSchema = "text/csv"),
    )),
    responses(
        (status = 200, description = "One answer per number, in the order asked; with `Accept: application/jose`, one compact JWS for all (claims `items` and, as for one answer, `iss`, `iat`, `jti`, `checkpoint`); with `Accept: text/csv`, CSV for a spreadsheet (UTF-8 with a byte order mark, `;`, Dutch column names: kvk_nummer, naam, gecertificeerd, status, trede, pso30plus, geldig_tot_en_met, certificaatnummer, certificerende_instelling).", content(
            (StatusList = "application/json"),
            (SignedAnswerSchema = "application/jose"),
            (CsvTableSchema = "text/csv"),
        )),
        crate::openapi::BatchProblems,
    )
)]
pub async fn batch(
    req: HttpRequest,
    Json(body): Json<BatchRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    // The question in the body, or in the query string (as a CSV batch asks
    // it), not both.
    let params: StatusParams = crate::extract::query(req.query_string())?;
    let mut twice = Vec::new();
    let mut one = |name: &str, body: Option<String>, query: Option<String>| {
        if body.is_some() && query.is_some() {
            twice.push(FieldError::new(
                name,
                "asked in the body and in the query string",
            ));
        }
        body.or(query)
    };
    let on = one("on", body.on, params.on);
    let until = one("until", body.until, params.until);
    if body.level_min.is_some() && params.level_min.is_some() {
        twice.push(FieldError::new(
            "levelMin",
            "asked in the body and in the query string",
        ));
    }
    if !twice.is_empty() {
        return Err(Problem::validation(twice));
    }
    let query = question(
        on.as_deref(),
        until.as_deref(),
        body.level_min.or(params.level_min),
    )
    .map_err(Problem::validation)?;
    answer_batch(&req, &state, body.kvk_numbers, query).await
}

/// The most KvK numbers a CSV batch holds.
pub const MAX_CSV_ROWS: usize = 10_000;
/// The largest CSV batch body (10,000 rows with a name column fit).
pub const MAX_CSV_BODY: usize = 1024 * 1024;

/// Whether a request's body is CSV (the batch's second form).
pub fn is_csv(ctx: &actix_web::guard::GuardContext<'_>) -> bool {
    ctx.head()
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv"))
}

/// `POST /v1/status/batch` with a CSV body (`text/csv`): a KvK number a row
/// in the first column, an optional header, `;` or `,`; up to 10,000 rows.
/// The question is in the query string. Answered as the JSON form is.
pub async fn batch_csv(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    // The question is a status check's, in the query string.
    let params: StatusParams = crate::extract::query(req.query_string())?;
    let bytes = crate::extract::read_body(&req, payload, "text/csv", MAX_CSV_BODY).await?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Problem::new(
            crate::problem::ProblemType::MalformedBody,
            "the CSV is not UTF-8 (save it as \"CSV UTF-8\")",
        )
    })?;
    let kvks = crate::csv::kvk_column(text, MAX_CSV_ROWS).map_err(Problem::validation)?;
    let query = question(
        params.on.as_deref(),
        params.until.as_deref(),
        params.level_min,
    )
    .map_err(Problem::validation)?;
    answer_batch(&req, &state, kvks, query).await
}

/// How a batch is answered: a signed answer (`Accept: application/jose`),
/// CSV (`Accept: text/csv`), or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchForm {
    Json,
    Jose,
    Csv,
}

/// Answers `kvks` to `query`, in the order asked, from the read model.
async fn answer_batch(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    kvks: Vec<KvkNumber>,
    query: StatusQuery,
) -> Result<HttpResponse, Problem> {
    let registry = state.registry.clone();
    let form = if signed_answer::wanted(req) {
        BatchForm::Jose
    } else if signed_answer::accepts(req, "text/csv") {
        BatchForm::Csv
    } else {
        BatchForm::Json
    };
    let proof =
        (form == BatchForm::Jose).then(|| (state.signing.clone(), state.checkpoints.clone()));
    // Many answers, written out, off the workers.
    let (bytes, seq) = super::work(state, move || {
        let answers = registry.model().company_statuses_logged(&kvks, &query)?;
        let (values, (size, root)) = answers.value;
        if form == BatchForm::Csv {
            let model = registry.model();
            let mut out = String::from(crate::csv::BOM);
            out.push_str(&crate::csv::line(&crate::csv::STATUS_COLUMNS));
            for (kvk, answer) in kvks.iter().zip(&values) {
                let name = model.company(kvk)?.value.map(|c| c.name);
                out.push_str(&crate::csv::line(&crate::csv::status_cells(
                    kvk,
                    name.as_ref().map(|n| n.as_str()),
                    answer,
                )));
            }
            return Ok((out.into_bytes(), answers.seq));
        }
        let asked = Asked::of(&query);
        let checked_at = instant(registry_core::time::now());
        let items: Vec<StatusView> = kvks
            .iter()
            .zip(values)
            .map(|(kvk, answer)| StatusView::new(kvk, &asked, &query, answer, &checked_at))
            .collect();
        let wire: Vec<StatusWire<'_>> = items.iter().map(StatusView::wire).collect();
        let list = WireList { items: wire };
        if let Some((signing, checkpoints)) = proof {
            let checkpoint = checkpoints.note(size, &root);
            let jws =
                signed_answer::sign(&signing, &list, &checkpoint, &signed_answer::reference())?;
            return Ok((jws.into_bytes(), answers.seq));
        }
        let bytes = serde_json::to_vec(&list).map_err(|e| {
            tracing::error!(error = %e, "cannot serialise a batch");
            Problem::internal()
        })?;
        Ok((bytes, answers.seq))
    })
    .await?;
    match form {
        BatchForm::Jose => Ok(signed(
            String::from_utf8(bytes).map_err(|_| Problem::internal())?,
            seq,
        )),
        BatchForm::Csv => Ok(http_cache::as_of(
            HttpResponse::Ok()
                .content_type(crate::csv::MEDIA_TYPE)
                .insert_header((
                    actix_web::http::header::CONTENT_DISPOSITION,
                    "attachment; filename=\"pso-status.csv\"",
                ))
                .body(bytes),
            seq,
        )),
        BatchForm::Json => Ok(http_cache::as_of(
            HttpResponse::Ok()
                .content_type("application/json")
                .body(bytes),
            seq,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_written_as_the_standing_and_the_question_at_one_level() {
        let q = question(Some("2026-06-01"), None, Some(Level::Trede2)).expect("valid");
        let answer = StatusAnswer {
            certified: true,
            status: registry_core::CompanyStatus::Active,
            level: Some(Level::Trede2),
            pso30plus: false,
            certificate_number: None,
            certification_body: None,
            valid_until: chrono::NaiveDate::from_ymd_opt(2028, 1, 15),
        };
        let kvk = KvkNumber::parse("12345678").expect("kvk");
        let view = StatusView::new(&kvk, &Asked::of(&q), &q, answer, "then");
        assert_eq!(
            serde_json::to_value(view.wire()).expect("json"),
            serde_json::to_value(&view).expect("json"),
            "the wire form is the view"
        );
        let text = serde_json::to_string(&view.wire()).expect("json");
        assert!(
            text.starts_with("{\"kvkNumber\":\"12345678\",\"on\""),
            "{text}"
        );
    }

    #[test]
    fn dates_and_instants_are_read_as_the_api_says() {
        let q =
            question(Some("2026-06-01"), Some("2027-05-31"), Some(Level::Trede2)).expect("valid");
        assert_eq!(instant(q.on), "2026-05-31T22:00:00Z");
        assert_eq!(
            q.until,
            Some(IntervalEnd::Exclusive(start_of_day(
                chrono::NaiveDate::from_ymd_opt(2027, 6, 1).expect("date")
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
        assert_eq!(fields(question(None, Some("soon"), None)), ["until"]);
        // The same day for on and until asks about that whole day.
        assert!(question(Some("2026-06-01"), Some("2026-06-01"), None).is_ok());
    }
}
