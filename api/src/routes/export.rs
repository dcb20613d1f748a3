//! The bulk export (`/v1/export/certificates`, `/v1/export/companies`): the
//! whole register as CSV or JSON Lines, read from one database snapshot (so
//! it is the register as of one `seq`, stated in `Register-Seq` and in the
//! `ETag`), streamed a page at a time in constant memory, under the open-data
//! licence CC0 1.0 (`Link: <…>; rel="license"`).

use std::time::{Duration, Instant};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use registry_core::CoreError;
use registry_core::registry::export::{Exported, ExportedCompany};
use serde::{Deserialize, Serialize};

use crate::csv::{BOM, line};
use crate::extract::Query;
use crate::problem::{Problem, ProblemType};
use crate::state::AppState;
use crate::views::{CertificateView, instant};

/// The licence the register's data is published under.
pub const LICENCE: &str = "https://creativecommons.org/publicdomain/zero/1.0/";
/// Exports at once per process (each holds a database connection throughout).
pub const EXPORTS_AT_ONCE: usize = 2;
/// The longest an export may take (a reader that slow holds a snapshot open).
const MAX_EXPORT: Duration = Duration::from_secs(30 * 60);
/// Pages written ahead of a slow reader.
const AHEAD: usize = 4;

/// CSV or JSON Lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

/// The export's form.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `jsonl` (JSON Lines, one object a line; the default) or `csv` (for a
    /// spreadsheet: UTF-8 with a byte order mark, `;`, Dutch column names).
    #[param(value_type = Option<crate::schema::ExportFormatSchema>)]
    format: Option<ExportFormat>,
}

crate::contract::query_contract!(ExportParams);

/// A company in the export.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportedCompanyView {
    #[serde(flatten)]
    company: crate::views::CompanyView,
    /// The certificates that cover it (as holder or subsidiary), oldest first.
    #[schema(value_type = Vec<crate::schema::CertificateNumberSchema>, max_items = 10000)]
    certificates: Vec<String>,
}

const CERTIFICATE_COLUMNS: [&str; 13] = [
    "certificaatnummer",
    "status",
    "trede",
    "pso30plus",
    "kvk_nummer",
    "naam",
    "gedekte_kvk_nummers",
    "certificerende_instelling",
    "cb_referentie",
    "geldig_vanaf",
    "geldig_tot_en_met",
    "uitgegeven_op",
    "vervangt",
];

const COMPANY_COLUMNS: [&str; 7] = [
    "kvk_nummer",
    "naam",
    "handelsnamen",
    "plaats",
    "provincie",
    "sbi_codes",
    "certificaatnummers",
];

fn certificate_cells(v: &CertificateView) -> Vec<String> {
    vec![
        v.number.as_str().to_owned(),
        v.status.as_str().to_owned(),
        v.level.as_str().to_owned(),
        if v.pso30plus { "ja" } else { "nee" }.to_owned(),
        v.holder.kvk_number.as_str().to_owned(),
        v.holder.name.as_str().to_owned(),
        v.covered
            .iter()
            .map(|c| c.kvk_number.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        v.certification_body.as_str().to_owned(),
        v.cb_reference.as_str().to_owned(),
        v.valid_from.to_string(),
        crate::pages::last_day(v.valid_until).to_string(),
        v.issued_at.clone(),
        v.replaces
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
    ]
}

fn company_cells(c: &ExportedCompany) -> Vec<String> {
    let co = &c.company;
    vec![
        co.kvk_number.as_str().to_owned(),
        co.name.as_str().to_owned(),
        co.trade_names
            .iter()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        co.city
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
        co.province.map(|p| p.name().to_owned()).unwrap_or_default(),
        co.sbi_codes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        c.certificates.join(" "),
    ]
}

/// Why an export stopped early.
fn gone() -> CoreError {
    CoreError::Storage("the reader went away".into())
}

type Chunk = Result<web::Bytes, std::io::Error>;

/// Writes `page` out as lines and hands them to the reader (waiting while it
/// is behind: the export goes at the reader's pace).
fn hand_over(
    tx: &tokio::sync::mpsc::Sender<Chunk>,
    out: String,
    started: Instant,
) -> Result<(), CoreError> {
    if started.elapsed() > MAX_EXPORT {
        return Err(CoreError::Storage("the export took too long".into()));
    }
    tx.blocking_send(Ok(web::Bytes::from(out)))
        .map_err(|_| gone())
}

fn json_line(out: &mut String, value: &impl Serialize) -> Result<(), CoreError> {
    out.push_str(&serde_json::to_string(value)?);
    out.push('\n');
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    Certificates,
    Companies,
}

impl What {
    fn name(self) -> &'static str {
        match self {
            What::Certificates => "certificates",
            What::Companies => "companies",
        }
    }
}

/// `GET /v1/export/certificates`: every certificate, as the API shows one.
#[utoipa::path(
    get,
    path = "/export/certificates",
    tag = "export",
    operation_id = "exportCertificates",
    params(ExportParams),
    responses(
        (status = 200, description = "Every certificate, in the order issued, as of the `seq` in `Register-Seq` (and the `ETag`): JSON Lines, one `Certificate` a line, or CSV (kvk_nummer is the holder's; gedekte_kvk_nummers every covered one, space-separated; geldig_tot_en_met the last day, inclusive). Streamed; under CC0 1.0 (`Link: <https://creativecommons.org/publicdomain/zero/1.0/>; rel=\"license\"`).", content(
            (CertificateView = "application/jsonl"),
            (crate::schema::CsvTableSchema = "text/csv"),
        )),
        (status = 304, description = "The export as of this `seq` is the one the client has (`If-None-Match`)."),
        crate::openapi::ReadProblems,
    )
)]
pub async fn certificates(
    req: HttpRequest,
    Query(params): Query<ExportParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    export(&req, &state, params.format, What::Certificates).await
}

/// `GET /v1/export/companies`: every company the register knows.
#[utoipa::path(
    get,
    path = "/export/companies",
    tag = "export",
    operation_id = "exportCompanies",
    params(ExportParams),
    responses(
        (status = 200, description = "Every company the register knows, by KvK number, with the certificates that cover it, as of the `seq` in `Register-Seq` (and the `ETag`): JSON Lines or CSV. Streamed; under CC0 1.0.", content(
            (ExportedCompanyView = "application/jsonl"),
            (crate::schema::CsvTableSchema = "text/csv"),
        )),
        (status = 304, description = "The export as of this `seq` is the one the client has (`If-None-Match`)."),
        crate::openapi::ReadProblems,
    )
)]
pub async fn companies(
    req: HttpRequest,
    Query(params): Query<ExportParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    export(&req, &state, params.format, What::Companies).await
}

async fn export(
    req: &HttpRequest,
    state: &AppState,
    format: Option<ExportFormat>,
    what: What,
) -> Result<HttpResponse, Problem> {
    let format = format.unwrap_or(ExportFormat::Jsonl);
    let Ok(permit) = state.export_permits.clone().try_acquire_owned() else {
        return Err(Problem::new(
            ProblemType::ServiceUnavailable,
            "as many exports as the register runs at once are running; try again in a minute",
        ));
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(AHEAD);
    let (seq_tx, seq_rx) = tokio::sync::oneshot::channel::<i64>();
    let registry = state.registry.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let started = Instant::now();
        let now = registry_core::time::now();
        let mut seq_tx = Some(seq_tx);
        let mut start = |seq: i64| -> Result<(), CoreError> {
            if let Some(t) = seq_tx.take() {
                t.send(seq).map_err(|_| gone())?;
            }
            if format == ExportFormat::Csv {
                let mut out = String::from(BOM);
                out.push_str(&match what {
                    What::Certificates => line(&CERTIFICATE_COLUMNS),
                    What::Companies => line(&COMPANY_COLUMNS),
                });
                hand_over(&tx, out, started)?;
            }
            Ok(())
        };
        let result = match what {
            What::Certificates => registry.export_certificates(|chunk| match chunk {
                Exported::AsOf(seq) => start(seq),
                Exported::Page(page) => {
                    let mut out = String::new();
                    for c in page {
                        let view = CertificateView::new(c, now);
                        match format {
                            ExportFormat::Csv => out.push_str(&line(&certificate_cells(&view))),
                            ExportFormat::Jsonl => json_line(&mut out, &view)?,
                        }
                    }
                    hand_over(&tx, out, started)
                }
            }),
            What::Companies => registry.export_companies(|chunk| match chunk {
                Exported::AsOf(seq) => start(seq),
                Exported::Page(page) => {
                    let mut out = String::new();
                    for c in page {
                        match format {
                            ExportFormat::Csv => out.push_str(&line(&company_cells(&c))),
                            ExportFormat::Jsonl => json_line(
                                &mut out,
                                &ExportedCompanyView {
                                    company: c.company.into(),
                                    certificates: c.certificates,
                                },
                            )?,
                        }
                    }
                    hand_over(&tx, out, started)
                }
            }),
        };
        if let Err(e) = result
            && !e.to_string().contains("went away")
        {
            tracing::error!(error = %e, export = what.name(), "an export failed midway");
            // The reader sees the stream break rather than a short file.
            let _ = tx.blocking_send(Err(std::io::Error::other("the export failed")));
        }
    });
    let seq = seq_rx.await.map_err(|_| Problem::unavailable())?;
    let kind = match format {
        ExportFormat::Csv => "csv",
        ExportFormat::Jsonl => "jsonl",
    };
    let etag = format!("\"export-{}-{kind}-{seq}\"", what.name());
    let mut response = HttpResponse::Ok();
    response
        .insert_header((crate::http_cache::REGISTER_SEQ, seq.to_string()))
        .insert_header((header::ETAG, etag.clone()))
        .insert_header((header::CACHE_CONTROL, "public, no-cache"))
        .insert_header((header::LINK, format!("<{LICENCE}>; rel=\"license\"")));
    if crate::http_cache::matches(req, &etag) {
        return Ok(response
            .status(actix_web::http::StatusCode::NOT_MODIFIED)
            .finish());
    }
    let day = instant(registry_core::time::now());
    let filename = format!("pso-{}-{}-seq{seq}.{kind}", what.name(), &day[..10]);
    let content_type = match format {
        ExportFormat::Csv => HeaderValue::from_static(crate::csv::MEDIA_TYPE),
        ExportFormat::Jsonl => HeaderValue::from_static("application/jsonl; charset=utf-8"),
    };
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok(response
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .streaming(stream))
}
