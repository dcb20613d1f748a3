//! Certificates: the five signed acts of certification bodies, and the public
//! reads of one certificate and its events.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use registry_core::{CertificateNumber, ChangeStanding, Issued, Standing};

use super::companies::{SearchParams, Written};
use super::events::{EventPage, FeedParams};
use super::{blocking, read};
use crate::extract::{Query, value_as};
use crate::openapi::NoParams;
use crate::paging::CertificatePage;
use crate::payload::{
    IssueClaims, ReinstateClaims, RenewClaims, StandingClaims, prefix_core_error,
};
use crate::problem::Problem;
use crate::schema::{CertificateNumberSchema, CompactJwsSchema};
use crate::signed_request::{self, Act};
use crate::state::AppState;
use crate::views::CertificateView;

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
    path = "/certificates",
    tag = "certificates",
    operation_id = "issueCertificate",
    request_body(content = CompactJwsSchema, content_type = "application/jose", description = "A compact JWS signed by the CB; its claims are `IssueClaims`."),
    responses(
        (status = 201, description = "Issued; `Location` names it.", body = CertificateView),
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
    let command = value_as::<IssueClaims>(verified.claims.into())?.command();
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
    path = "/certificates/{number}/renewals",
    tag = "certificates",
    operation_id = "renewCertificate",
    params(("number" = CertificateNumberSchema, Path, description = "The certificate number; the JWS's `sub`.")),
    request_body(content = CompactJwsSchema, content_type = "application/jose", description = "A compact JWS signed by the CB; its claims are `RenewClaims`."),
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
    let command = value_as::<RenewClaims>(verified.claims.into())?.command(n);
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
    let (reason, effective_at) = if standing == Standing::Reinstated {
        let claims = value_as::<ReinstateClaims>(verified.claims.into())?;
        (claims.reason, claims.effective_at)
    } else {
        let claims = value_as::<StandingClaims>(verified.claims.into())?;
        (Some(claims.reason), claims.effective_at)
    };
    let command = ChangeStanding {
        number: n,
        standing,
        reason,
        effective_at,
    };
    let registry = state.registry.clone();
    let certificate =
        blocking(move || registry.change_standing(command, &verified.provenance)).await?;
    Ok(HttpResponse::Ok().json(render(certificate)))
}

/// `POST /v1/certificates/{number}/suspension` (act `suspend`).
#[utoipa::path(
    post,
    path = "/certificates/{number}/suspension",
    tag = "certificates",
    operation_id = "suspendCertificate",
    params(("number" = CertificateNumberSchema, Path, description = "The certificate number; the JWS's `sub`.")),
    request_body(content = CompactJwsSchema, content_type = "application/jose", description = "A compact JWS signed by the CB; its claims are `StandingClaims`."),
    responses(
        (status = 200, description = "Suspended from `effectiveAt`.", body = CertificateView),
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
    path = "/certificates/{number}/reinstatement",
    tag = "certificates",
    operation_id = "reinstateCertificate",
    params(("number" = CertificateNumberSchema, Path, description = "The certificate number; the JWS's `sub`.")),
    request_body(content = CompactJwsSchema, content_type = "application/jose", description = "A compact JWS signed by the CB; its claims are `ReinstateClaims`."),
    responses(
        (status = 200, description = "Reinstated from `effectiveAt`.", body = CertificateView),
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
    path = "/certificates/{number}/revocation",
    tag = "certificates",
    operation_id = "revokeCertificate",
    params(("number" = CertificateNumberSchema, Path, description = "The certificate number; the JWS's `sub`.")),
    request_body(content = CompactJwsSchema, content_type = "application/jose", description = "A compact JWS signed by the CB; its claims are `StandingClaims`."),
    responses(
        (status = 200, description = "Revoked from `effectiveAt`.", body = CertificateView),
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
    path = "/certificates",
    tag = "search",
    operation_id = "searchCertificates",
    params(SearchParams),
    responses(
        (status = 200, description = "A page of certificates; `status` filters on each certificate's own standing.", body = CertificatePage),
        crate::openapi::ReadProblems,
    )
)]
pub async fn list(
    req: HttpRequest,
    Query(params): Query<SearchParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (filter, limit, after) = params.search()?;
    let registry = state.registry.clone();
    let written = super::work(&state, move || {
        let page = registry
            .model()
            .search_certificates(&filter, after.as_ref(), limit)
            .map_err(super::companies::search_refused)?;
        let items: Vec<CertificateView> = page.value.items.into_iter().map(render).collect();
        Written::page(page.value.next, page.seq, |next_cursor| CertificatePage {
            items,
            next_cursor,
        })
    })
    .await?;
    Ok(written.response(&req, limit))
}

/// `GET /v1/certificates/{number}`.
#[utoipa::path(
    get,
    path = "/certificates/{number}",
    tag = "certificates",
    operation_id = "getCertificate",
    params(("number" = CertificateNumberSchema, Path, description = "A certificate number.")),
    responses(
        (status = 200, description = "The certificate: holder, covered KvK numbers, periods, status now.", body = CertificateView),
        crate::openapi::ResourceProblems,
    )
)]
pub async fn get(
    path: web::Path<String>,
    _: Query<NoParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let n = number(&path)?;
    let certificate = state.registry.model().certificate(&n)?;
    Ok(crate::http_cache::as_of(
        HttpResponse::Ok().json(render(certificate.value)),
        certificate.seq,
    ))
}

/// `GET /v1/certificates/{number}/events`: oldest first, each with its
/// evidence, paged like the change feed (`after`, `limit`, `nextAfter`).
#[utoipa::path(
    get,
    path = "/certificates/{number}/events",
    tag = "certificates",
    operation_id = "certificateEvents",
    params(
        ("number" = CertificateNumberSchema, Path, description = "A certificate number."),
        FeedParams,
    ),
    responses(
        (status = 200, description = "Its events after `after`, oldest first, each with the CB's signed request as evidence; a `Link` to the next page while pages are full.", body = EventPage),
        crate::openapi::ResourceProblems,
    )
)]
pub async fn events(
    req: HttpRequest,
    path: web::Path<String>,
    Query(params): Query<FeedParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let n = number(&path)?;
    let (after, limit) = params.position();
    let registry = state.registry.clone();
    let events = read(&state, move || {
        registry.certificate_events(&n, after, limit)
    })
    .await?;
    Ok(super::events::page(&req, events, after, limit))
}
