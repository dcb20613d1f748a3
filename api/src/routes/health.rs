//! Health, readiness and metrics.

use std::time::Duration;

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use serde_json::json;

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
    responses((status = 200, description = "The process is up.", body = Object, example = json!({"status": "ok"})))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers; 503 problem when it does not (within a
/// second, never a hang).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    responses(
        (status = 200, description = "The database answers.", body = Object, example = json!({"status": "ready", "database": "sqlite"})),
        (status = 503, description = "The database does not answer within a second (`service-unavailable`).", body = crate::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let registry = state.registry.clone();
    blocking(move || registry.ping(READY_TIMEOUT)).await?;
    Ok(HttpResponse::Ok()
        .json(json!({"status": "ready", "database": state.registry.backend().as_str()})))
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    responses((status = 200, description = "Prometheus text: requests by route and status, latency, pool state.", body = String, content_type = "text/plain"))
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
