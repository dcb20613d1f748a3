//! What every answer carries on the wire, whatever route made it (NLGov API
//! Design Rules `/core/version-header` and `/core/transport/security-headers`),
//! and who may ask from a browser on another origin (CORS):
//!
//! - `API-Version`: the contract's full version, on every answer.
//! - Security headers for an API: `X-Content-Type-Options: nosniff`,
//!   `Content-Security-Policy: frame-ancestors 'none'`, `X-Frame-Options: DENY`,
//!   `Referrer-Policy: no-referrer`; `Strict-Transport-Security` when the
//!   register is configured to be served over TLS (`REGISTRY_HSTS_SECS`).
//! - CORS for the public reads and the batch only (`Access-Control-Allow-Origin:
//!   *`, no credentials), never for the scheme owner's paths or the signed
//!   writes: a preflight is answered for what a browser may do, and
//!   `API-Version`, `ETag`, `Link`, `Location`, `Register-Seq`,
//!   `Retry-After`, `RateLimit` and `RateLimit-Policy` are exposed.
//! - `HEAD` is answered as the `GET` it mirrors, without the body.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::openapi::CONTRACT_VERSION;
use crate::state::AppState;

/// The methods a browser on another origin may use on a resource (by the
/// route pattern it matched), if any: the reads of the public API, and the
/// batch. The signed writes and the scheme owner's paths have none.
fn cross_origin_methods(pattern: &str) -> Option<&'static str> {
    match pattern {
        "/v1/status/batch" => Some("POST"),
        "/v1/companies"
        | "/v1/companies/{kvk}"
        | "/v1/companies/{kvk}/status"
        | "/v1/certificates"
        | "/v1/certificates/{number}"
        | "/v1/certificates/{number}/events"
        | "/v1/certification-bodies"
        | "/v1/certification-bodies/{id}"
        | "/v1/events"
        | "/v1/export/certificates"
        | "/v1/export/companies"
        | "/v1/log/checkpoint"
        | "/v1/log/verifier-key"
        | "/v1/log/entries/{index}"
        | "/v1/log/proof/inclusion"
        | "/v1/log/proof/consistency"
        | "/v1/log/tile/{path:.*}"
        | "/.well-known/jwks.json"
        | "/v1/openapi.json" => Some("GET, HEAD"),
        _ => None,
    }
}

/// Whether a browser on another origin may read the answer to `method` (the
/// method asked for, for a preflight) on the resource of `pattern`.
pub fn cross_origin_allowed(pattern: &str, method: &str) -> bool {
    cross_origin_methods(pattern).is_some_and(|methods| methods.split(", ").any(|m| m == method))
}

const EXPOSED: &str =
    "API-Version, ETag, Link, Location, Register-Seq, Retry-After, RateLimit, RateLimit-Policy";

fn insert(headers: &mut header::HeaderMap, name: HeaderName, value: &'static str) {
    headers.insert(name, HeaderValue::from_static(value));
}

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // HEAD is GET without the body: actix-http leaves the body out of the
    // answer to a HEAD request on its own.
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    // The method a preflight asks about, or the request's own.
    let asked = match req.headers().get(header::ACCESS_CONTROL_REQUEST_METHOD) {
        Some(m) if req.method() == Method::OPTIONS => m.to_str().ok().map(str::to_owned),
        _ => Some(req.method().as_str().to_owned()),
    };
    let preflight = req.method() == Method::OPTIONS;
    let hsts = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.config.hsts_header.clone());
    let mut response = next.call(req).await?;
    let pattern = response.request().match_pattern().unwrap_or_default();
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("api-version"),
        HeaderValue::from_static(CONTRACT_VERSION),
    );
    insert(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    // The pages set their own, stricter one.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        insert(
            headers,
            header::CONTENT_SECURITY_POLICY,
            "frame-ancestors 'none'",
        );
    }
    insert(headers, header::X_FRAME_OPTIONS, "DENY");
    insert(headers, header::REFERRER_POLICY, "no-referrer");
    if let Some(value) = hsts.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, value);
    }
    if let Some(asked) = asked
        && cross_origin_allowed(&pattern, &asked)
    {
        insert(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
        insert(headers, header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED);
        if preflight && let Some(methods) = cross_origin_methods(&pattern) {
            insert(headers, header::ACCESS_CONTROL_ALLOW_METHODS, methods);
            insert(
                headers,
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Content-Type, If-None-Match",
            );
            insert(headers, header::ACCESS_CONTROL_MAX_AGE, "600");
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_reads_and_the_batch_cross_origins() {
        assert!(cross_origin_allowed("/v1/companies", "GET"));
        assert!(cross_origin_allowed("/v1/companies/{kvk}/status", "HEAD"));
        assert!(cross_origin_allowed("/v1/status/batch", "POST"));
        assert!(!cross_origin_allowed("/v1/status/batch", "GET"));
        assert!(!cross_origin_allowed("/v1/certificates", "POST"));
        assert!(!cross_origin_allowed(
            "/v1/certificates/{number}/revocation",
            "POST"
        ));
        assert!(!cross_origin_allowed(
            "/v1/admin/certification-bodies",
            "POST"
        ));
        assert!(!cross_origin_allowed("/metrics", "GET"));
    }
}
