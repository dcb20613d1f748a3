//! `GET /v1/certification-bodies[/{id}]`: accreditation and public keys.

use actix_web::{HttpRequest, HttpResponse, web};
use registry_core::CbId;

use super::read;
use crate::problem::Problem;
use crate::query::Params;
use crate::state::AppState;
use crate::views::CertificationBodyView;

#[utoipa::path(
    get,
    path = "/v1/certification-bodies",
    tag = "certification-bodies",
    operation_id = "list_certification_bodies",
    responses(
        (status = 200, description = "Every certification body, by id.", body = crate::openapi::CertificationBodyList),
        crate::openapi::ReadProblems,
    )
)]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    Params::parse(&req, &[])?;
    let registry = state.registry.clone();
    let bodies = read(&state, move || registry.certification_bodies()).await?;
    let items: Vec<CertificationBodyView> = bodies
        .into_iter()
        .map(CertificationBodyView::from)
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

#[utoipa::path(
    get,
    path = "/v1/certification-bodies/{id}",
    tag = "certification-bodies",
    operation_id = "get_certification_body",
    params(("id" = String, Path, description = "The CB's id.", example = "kiwa")),
    responses(
        (status = 200, description = "Accreditation, and every key (current and retired) as a JWK set.", body = CertificationBodyView),
        crate::openapi::ReadProblems,
    )
)]
pub async fn get(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    Params::parse(&req, &[])?;
    let id = CbId::parse(&path).map_err(|e| Problem::parameter("id", e.0))?;
    let registry = state.registry.clone();
    let body = read(&state, move || registry.certification_body(&id)).await?;
    Ok(HttpResponse::Ok().json(CertificationBodyView::from(body)))
}
