//! Certificates: the five signed acts of certification bodies, and the public
//! reads of one certificate and its events.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use registry_core::{CertificateNumber, Issued, Standing};

use super::companies::{SEARCH_PARAMETERS, page_response, search_filter, search_page};
use super::{blocking, read};
use crate::paging::Page;
use crate::payload::{self, prefix_core_error};
use crate::problem::Problem;
use crate::query::Params;
use crate::signed_request::{self, Act};
use crate::state::AppState;
use crate::views::{CertificateView, EventView};

/// The certificate number in the path.
pub fn number(raw: &str) -> Result<CertificateNumber, Problem> {
    CertificateNumber::parse(raw).map_err(|e| Problem::parameter("number", e.0))
}

fn render(certificate: registry_core::Certificate) -> CertificateView {
    CertificateView::new(certificate, registry_core::time::now())
}

/// `POST /v1/certificates` (act `issue`): `201` with `Location`, or `200` with
/// the existing certificate when the same issuance was sent before.
#[utoipa::path(
    post,
    path = "/v1/certificates",
    tag = "certificates",
    operation_id = "issue_certificate",
    request_body(content = String, content_type = "application/jose", description = "A compact JWS signed by the CB, act `issue`; claims: `SignedRequestClaims` with `certificate` (`CertificatePayload`)."),
    responses(
        (status = 201, description = "Issued; `Location` names it.", body = CertificateView, headers(("Location" = String, description = "/v1/certificates/{number}"))),
        (status = 200, description = "The same issuance was sent before: the existing certificate.", body = CertificateView),
        crate::openapi::SignedWriteProblems,
    )
)]
pub async fn issue(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let jws = signed_request::read_body(&req, body).await?;
    let verified = signed_request::verify(&state, jws, Act::Issue, None).await?;
    let command = payload::issuance(&verified.claims).map_err(Problem::validation)?;
    let registry = state.registry.clone();
    let outcome = blocking(move || {
        registry
            .issue(command, &verified.provenance)
            .map_err(|e| prefix_core_error("certificate", e))
    })
    .await?;
    Ok(match outcome {
        Issued::Created(c) => {
            let location = format!("/v1/certificates/{}", c.number());
            HttpResponse::Created()
                .insert_header((header::LOCATION, location))
                .json(render(*c))
        }
        Issued::Existing(c) => HttpResponse::Ok().json(render(*c)),
    })
}

/// `POST /v1/certificates/{number}/renewals` (act `renew`).
#[utoipa::path(
    post,
    path = "/v1/certificates/{number}/renewals",
    tag = "certificates",
    operation_id = "renew_certificate",
    params(("number" = String, Path, description = "The certificate number; the JWS's `sub`.")),
    request_body(content = String, content_type = "application/jose", description = "A compact JWS, act `renew`, with `period` (`PeriodPayload`)."),
    responses(
        (status = 200, description = "The certificate with its new period.", body = CertificateView),
        crate::openapi::SignedWriteProblems,
    )
)]
pub async fn renew(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let n = number(&path)?;
    let jws = signed_request::read_body(&req, body).await?;
    let verified = signed_request::verify(&state, jws, Act::Renew, Some(&n)).await?;
    let command = payload::renewal(&verified.claims, n).map_err(Problem::validation)?;
    let registry = state.registry.clone();
    let certificate = blocking(move || {
        registry
            .renew(command, &verified.provenance)
            .map_err(|e| prefix_core_error("period", e))
    })
    .await?;
    Ok(HttpResponse::Ok().json(render(certificate)))
}

async fn change_standing(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
    state: web::Data<AppState>,
    act: Act,
    standing: Standing,
) -> Result<HttpResponse, Problem> {
    let n = number(&path)?;
    let jws = signed_request::read_body(&req, body).await?;
    let verified = signed_request::verify(&state, jws, act, Some(&n)).await?;
    let command =
        payload::standing(&verified.claims, true, n, standing).map_err(Problem::validation)?;
    let registry = state.registry.clone();
    let certificate =
        blocking(move || registry.change_standing(command, &verified.provenance)).await?;
    Ok(HttpResponse::Ok().json(render(certificate)))
}

/// `POST /v1/certificates/{number}/suspension` (act `suspend`).
#[utoipa::path(
    post,
    path = "/v1/certificates/{number}/suspension",
    tag = "certificates",
    operation_id = "suspend_certificate",
    params(("number" = String, Path, description = "The certificate number; the JWS's `sub`.")),
    request_body(content = String, content_type = "application/jose", description = "A compact JWS, act `suspend`, with `reason` and optionally `effective_at`."),
    responses(
        (status = 200, description = "Suspended from `effective_at`.", body = CertificateView),
        crate::openapi::SignedWriteProblems,
    )
)]
pub async fn suspend(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    change_standing(req, path, body, state, Act::Suspend, Standing::Suspended).await
}

/// `POST /v1/certificates/{number}/reinstatement` (act `reinstate`).
#[utoipa::path(
    post,
    path = "/v1/certificates/{number}/reinstatement",
    tag = "certificates",
    operation_id = "reinstate_certificate",
    params(("number" = String, Path, description = "The certificate number; the JWS's `sub`.")),
    request_body(content = String, content_type = "application/jose", description = "A compact JWS, act `reinstate`, optionally with `reason` and `effective_at`."),
    responses(
        (status = 200, description = "Reinstated from `effective_at`.", body = CertificateView),
        crate::openapi::SignedWriteProblems,
    )
)]
pub async fn reinstate(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    change_standing(req, path, body, state, Act::Reinstate, Standing::Reinstated).await
}

/// `POST /v1/certificates/{number}/revocation` (act `revoke`): terminal.
#[utoipa::path(
    post,
    path = "/v1/certificates/{number}/revocation",
    tag = "certificates",
    operation_id = "revoke_certificate",
    params(("number" = String, Path, description = "The certificate number; the JWS's `sub`.")),
    request_body(content = String, content_type = "application/jose", description = "A compact JWS, act `revoke`, with `reason` and optionally `effective_at`. Terminal."),
    responses(
        (status = 200, description = "Revoked from `effective_at`.", body = CertificateView),
        crate::openapi::SignedWriteProblems,
    )
)]
pub async fn revoke(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    change_standing(req, path, body, state, Act::Revoke, Standing::Revoked).await
}

/// `GET /v1/certificates`: search certificates with the companies' filters;
/// `status` is the certificate's own (it may also be `superseded`).
#[utoipa::path(
    get,
    path = "/v1/certificates",
    tag = "search",
    operation_id = "search_certificates",
    params(crate::openapi::SearchParams),
    responses(
        (status = 200, description = "A page of certificates; `status` filters on each certificate's own standing.", body = Page<CertificateView>),
        crate::openapi::ReadProblems,
    )
)]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let params = Params::parse(&req, &SEARCH_PARAMETERS)?;
    let filter = search_filter(&params)?;
    let (limit, after) = search_page(&params)?;
    let registry = state.registry.clone();
    let page = read(&state, move || {
        registry.search_certificates(&filter, after.as_ref(), limit)
    })
    .await?;
    let items: Vec<CertificateView> = page.items.into_iter().map(render).collect();
    Ok(page_response(&req, items, page.next, limit))
}

/// `GET /v1/certificates/{number}`.
#[utoipa::path(
    get,
    path = "/v1/certificates/{number}",
    tag = "certificates",
    operation_id = "get_certificate",
    params(("number" = String, Path, description = "A certificate number.", example = "PSO-2026-000042")),
    responses(
        (status = 200, description = "The certificate: holder, covered KvK numbers, periods, status now.", body = CertificateView),
        crate::openapi::ReadProblems,
    )
)]
pub async fn get(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    Params::parse(&req, &[])?;
    let n = number(&path)?;
    let registry = state.registry.clone();
    let certificate = read(&state, move || registry.certificate(&n)).await?;
    Ok(HttpResponse::Ok().json(render(certificate)))
}

/// `GET /v1/certificates/{number}/events`: oldest first, each with its evidence.
#[utoipa::path(
    get,
    path = "/v1/certificates/{number}/events",
    tag = "certificates",
    operation_id = "certificate_events",
    params(("number" = String, Path, description = "A certificate number.", example = "PSO-2026-000042")),
    responses(
        (status = 200, description = "Its events, oldest first, each with the CB's signed request as evidence.", body = crate::openapi::EventList),
        crate::openapi::ReadProblems,
    )
)]
pub async fn events(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    Params::parse(&req, &[])?;
    let n = number(&path)?;
    let registry = state.registry.clone();
    let events = read(&state, move || registry.certificate_events(&n)).await?;
    let items: Vec<EventView> = events.into_iter().map(EventView::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}
