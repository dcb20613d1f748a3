//! Health, readiness and metrics.

use std::time::Duration;

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};

use super::blocking;
use crate::metrics::Metrics;
use crate::problem::Problem;
use crate::state::AppState;

/// How long readiness waits for a database connection before answering 503.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// `GET /healthz`: the process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    responses((status = 200, description = "The process is up.", body = Health))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The process is up.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`.
    #[schema(example = "ok", max_length = 8, pattern = "^ok$")]
    status: &'static str,
}

/// The read model is loaded and the database answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready`.
    #[schema(example = "ready", max_length = 8, pattern = "^ready$")]
    status: &'static str,
    /// `sqlite` or `postgres`.
    #[schema(example = "sqlite", max_length = 16, pattern = "^(sqlite|postgres)$")]
    database: &'static str,
    /// The `seq` of the last event the read model applied: the register state
    /// reads are answered from.
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    seq: i64,
}

/// `GET /readyz`: the read model is loaded and the database answers; 503
/// problem otherwise (within a second, never a hang).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    responses(
        (status = 200, description = "The database answers.", body = Readiness),
        crate::openapi::ReadinessProblems,
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    if !state.registry.model().is_loaded() {
        return Err(Problem::loading());
    }
    let registry = state.registry.clone();
    blocking(move || registry.ping(READY_TIMEOUT)).await?;
    Ok(HttpResponse::Ok().json(Readiness {
        status: "ready",
        database: state.registry.backend().as_str(),
        seq: state.registry.model().seq(),
    }))
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    responses((status = 200, description = "Prometheus text: requests by route and status, latency, pool state.", body = crate::schema::MetricsTextSchema, content_type = "text/plain"))
)]
pub async fn metrics(state: web::Data<AppState>, metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header(ContentType(
            "text/plain; version=0.0.4; charset=utf-8"
                .parse()
                .unwrap_or(mime_text()),
        ))
        .body(metrics.render(state.registry.pool_state()))
}

fn mime_text() -> actix_web::mime::Mime {
    actix_web::mime::TEXT_PLAIN_UTF_8
}
