//! HTTP caching for reads: every `GET` answer carries an `ETag` (a digest of the
//! representation) and `Cache-Control`; `If-None-Match` with a current tag
//! answers `304 Not Modified` without a body.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::problem::Problem;

/// Readers may keep a copy, but must ask again (with `If-None-Match`) before
/// using it: a status answer is only as good as the moment it was given.
const CACHE_CONTROL: &str = "public, no-cache";

/// A strong tag for `basis`: the representation, or the part of it that is not
/// the time of answering.
pub fn etag_of(basis: &[u8]) -> String {
    let digest = Sha256::digest(basis);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn matches(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// A `200` JSON answer with `ETag` and `Cache-Control`, or `304` when the client
/// has it already. The tag is computed over `basis` when given (to leave out
/// `checked_at`), else over the body.
pub fn json(req: &HttpRequest, body: &impl Serialize, basis: Option<&[u8]>) -> Result<HttpResponse, Problem> {
    json_with(req, HttpResponse::Ok(), body, basis)
}

/// As [`json`], with a response builder that already carries headers (`Link`).
pub fn json_with(
    req: &HttpRequest,
    mut response: actix_web::HttpResponseBuilder,
    body: &impl Serialize,
    basis: Option<&[u8]>,
) -> Result<HttpResponse, Problem> {
    let bytes = serde_json::to_vec(body).map_err(|e| {
        tracing::error!(error = %e, "cannot serialise a response");
        Problem::internal()
    })?;
    let etag = etag_of(basis.unwrap_or(&bytes));
    response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL)));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.insert_header((header::ETAG, value));
    }
    if matches(req, &etag) {
        return Ok(response.status(actix_web::http::StatusCode::NOT_MODIFIED).finish());
    }
    Ok(response.content_type("application/json").body(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn if_none_match_lists_and_weak_tags_are_understood() {
        let tag = etag_of(b"x");
        for header in [tag.clone(), format!("\"other\", {tag}"), format!("W/{tag}"), "*".into()] {
            let req = TestRequest::default().insert_header((header::IF_NONE_MATCH, header.clone())).to_http_request();
            assert!(matches(&req, &tag), "{header}");
        }
        let req = TestRequest::default().insert_header((header::IF_NONE_MATCH, "\"nope\"")).to_http_request();
        assert!(!matches(&req, &tag));
        assert_ne!(etag_of(b"x"), etag_of(b"y"));
    }
}
