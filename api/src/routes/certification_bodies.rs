//! `GET /v1/certification-bodies[/{id}]`: accreditation and public keys.

use actix_web::{HttpResponse, web};
use registry_core::CbId;

use super::read;
use crate::extract::Query;
use crate::openapi::NoParams;
use crate::paging::CertificationBodyList;
use crate::problem::Problem;
use crate::schema::CbIdSchema;
use crate::state::AppState;
use crate::views::CertificationBodyView;

/// A certification body's id in the path.
pub fn cb_id(raw: &str) -> Result<CbId, Problem> {
    CbId::parse(raw).map_err(|e| Problem::parameter("id", e.0))
}

#[utoipa::path(
    get,
    path = "/certification-bodies",
    tag = "certification-bodies",
    operation_id = "listCertificationBodies",
    responses(
        (status = 200, description = "Every certification body, by id.", body = CertificationBodyList),
        crate::openapi::ReadProblems,
    )
)]
pub async fn list(_: Query<NoParams>, state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let registry = state.registry.clone();
    let bodies = read(&state, move || registry.certification_bodies()).await?;
    let items: Vec<CertificationBodyView> = bodies
        .into_iter()
        .map(CertificationBodyView::from)
        .collect();
    Ok(HttpResponse::Ok().json(CertificationBodyList { items }))
}

#[utoipa::path(
    get,
    path = "/certification-bodies/{id}",
    tag = "certification-bodies",
    operation_id = "getCertificationBody",
    params(("id" = CbIdSchema, Path, description = "The CB's id.")),
    responses(
        (status = 200, description = "Accreditation, and every key (current and retired) as a JWK set.", body = CertificationBodyView),
        crate::openapi::ResourceProblems,
    )
)]
pub async fn get(
    path: web::Path<String>,
    _: Query<NoParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = cb_id(&path)?;
    let registry = state.registry.clone();
    let body = read(&state, move || registry.certification_body(&id)).await?;
    Ok(HttpResponse::Ok().json(CertificationBodyView::from(body)))
}
