//! HTTP caching for reads: every `GET` answer carries an `ETag` (a digest of the
//! representation) and `Cache-Control`; `If-None-Match` with a current tag
//! answers `304 Not Modified` without a body. The middleware does it for every
//! route; a handler whose answer holds the time of answering (`checked_at`)
//! tags the rest of the answer itself.
//!
//! An answer from the read model says which state of the register it reflects:
//! `Register-Seq`, the `seq` of the last event applied. That `seq` is part of
//! the tag, so that a copy is never taken for current once the register moved
//! on.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::problem::Problem;

/// Readers may keep a copy, but must ask again (with `If-None-Match`) before
/// using it: a status answer is only as good as the moment it was given.
const CACHE_CONTROL: &str = "public, no-cache";

/// The header that names the register state an answer reflects: the `seq` of
/// the last event the read model had applied.
pub const REGISTER_SEQ: &str = "register-seq";

/// A strong tag for `basis`: the representation, or the part of it that is not
/// the time of answering, and the register state it reflects (`seq`), if any.
pub fn etag_of(basis: &[u8], seq: Option<&[u8]>) -> String {
    let mut hasher = Sha256::new();
    if let Some(seq) = seq {
        hasher.update(b"seq ");
        hasher.update(seq);
        hasher.update(b"\n");
    }
    hasher.update(basis);
    let digest = hasher.finalize();
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for b in digest.iter().take(16) {
        tag.push(char::from(HEX[usize::from(b >> 4)]));
        tag.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    tag.push('"');
    tag
}

/// Whether `If-None-Match` names `etag` (or is `*`), compared weakly.
pub fn matches(req: &HttpRequest, etag: &str) -> bool {
    let etag = etag.trim_start_matches("W/");
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// A tag made of the parts of an answer that matter (see [`json`]), each
/// length-prefixed so that no two answers run together alike.
#[derive(Debug)]
pub struct Tag(Sha256);

impl Tag {
    pub fn new(kind: &str) -> Self {
        let mut tag = Tag(Sha256::new());
        tag.add(kind.as_bytes());
        tag
    }

    pub fn add(&mut self, part: &[u8]) {
        self.0.update((part.len() as u64).to_le_bytes());
        self.0.update(part);
    }

    /// The tag as of register state `seq`: weak (`W/`, RFC 9110, 8.8.1), the
    /// same answer, not the same bytes.
    fn finish(mut self, seq: &str) -> String {
        self.add(b"seq");
        self.add(seq.as_bytes());
        let digest = self.0.finalize();
        let mut out = String::with_capacity(36);
        out.push_str("W/\"");
        for b in digest.iter().take(16) {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        out.push('"');
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A `200` JSON answer tagged by `tag` (what the answer says, without the time
/// of answering) as of register state `seq`, or `304` when the client has it
/// already.
pub fn json(
    req: &HttpRequest,
    body: &impl Serialize,
    tag: Tag,
    seq: i64,
) -> Result<HttpResponse, Problem> {
    let mut response = HttpResponse::Ok();
    let seq = seq.to_string();
    let etag = tag.finish(&seq);
    response.insert_header((REGISTER_SEQ, seq));
    response.insert_header((
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    ));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.insert_header((header::ETAG, value));
    }
    if matches(req, &etag) {
        return Ok(response
            .status(actix_web::http::StatusCode::NOT_MODIFIED)
            .finish());
    }
    let bytes = serde_json::to_vec(body).map_err(|e| {
        tracing::error!(error = %e, "cannot serialise a response");
        Problem::internal()
    })?;
    Ok(response.content_type("application/json").body(bytes))
}

/// Tags every successful `GET` answer that has no tag yet and may be stored
/// (not `no-store`, as a signed answer is: each is a check of its own), and
/// answers `304` when `If-None-Match` names the tag.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let cacheable = req.method() == Method::GET;
    let response = next.call(req).await?.map_into_boxed_body();
    if !cacheable
        || response.status() != StatusCode::OK
        || response.headers().contains_key(header::ETAG)
        || response
            .headers()
            .get(header::CACHE_CONTROL)
            .is_some_and(|v| v.as_bytes().starts_with(b"no-store"))
    {
        return Ok(response);
    }
    let (request, response) = response.into_parts();
    let (mut head, body) = response.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return Ok(ServiceResponse::new(
                request,
                Problem::internal().error_response(),
            ));
        }
    };
    let seq = head.headers().get(REGISTER_SEQ).map(HeaderValue::as_bytes);
    let etag = etag_of(&bytes, seq);
    if let Ok(value) = HeaderValue::from_str(&etag) {
        head.headers_mut().insert(header::ETAG, value);
    }
    if !head.headers().contains_key(header::CACHE_CONTROL) {
        head.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        );
    }
    let response = if matches(&request, &etag) {
        let mut not_modified = head.set_body(BoxBody::new(()));
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        not_modified.headers_mut().remove(header::CONTENT_TYPE);
        not_modified
    } else {
        head.set_body(BoxBody::new(bytes))
    };
    Ok(ServiceResponse::new(request, response))
}

/// An answer from the read model, as of register state `seq`.
pub fn as_of(mut response: HttpResponse, seq: i64) -> HttpResponse {
    if let Ok(value) = HeaderValue::from_str(&seq.to_string()) {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static(REGISTER_SEQ),
            value,
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn if_none_match_lists_and_weak_tags_are_understood() {
        let tag = etag_of(b"x", None);
        for header in [
            tag.clone(),
            format!("\"other\", {tag}"),
            format!("W/{tag}"),
            "*".into(),
        ] {
            let req = TestRequest::default()
                .insert_header((header::IF_NONE_MATCH, header.clone()))
                .to_http_request();
            assert!(matches(&req, &tag), "{header}");
        }
        let req = TestRequest::default()
            .insert_header((header::IF_NONE_MATCH, "\"nope\""))
            .to_http_request();
        assert!(!matches(&req, &tag));
        assert_ne!(etag_of(b"x", None), etag_of(b"y", None));
        assert_ne!(etag_of(b"x", Some(b"1")), etag_of(b"x", Some(b"2")));
        // The first 16 bytes of SHA-256, in lower-case hex, quoted.
        assert_eq!(
            etag_of(b"abc", None),
            "\"ba7816bf8f01cfea414140de5dae2223\""
        );
    }
}
