//! RFC 9457 problem details: every refusal the API gives, one `type` per cause,
//! all listed in one catalogue.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use registry_core::{CoreError, FieldError};
use serde::Serialize;

/// The catalogue of problem types. Each has a stable slug (its `type` is
/// `/problems/<slug>`), a title and an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemType {
    NotFound,
    MethodNotAllowed,
    InvalidParameter,
    ValidationFailed,
    PayloadTooLarge,
    UnsupportedMediaType,
    ServiceUnavailable,
    Internal,
}

impl ProblemType {
    pub const ALL: [ProblemType; 8] = [
        ProblemType::NotFound,
        ProblemType::MethodNotAllowed,
        ProblemType::InvalidParameter,
        ProblemType::ValidationFailed,
        ProblemType::PayloadTooLarge,
        ProblemType::UnsupportedMediaType,
        ProblemType::ServiceUnavailable,
        ProblemType::Internal,
    ];

    /// Slug, title and status: the catalogue in one table.
    fn entry(self) -> (&'static str, &'static str, StatusCode) {
        match self {
            ProblemType::NotFound => ("not-found", "Not found", StatusCode::NOT_FOUND),
            ProblemType::MethodNotAllowed => (
                "method-not-allowed",
                "Method not allowed",
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            ProblemType::InvalidParameter => (
                "invalid-parameter",
                "Invalid parameter",
                StatusCode::BAD_REQUEST,
            ),
            ProblemType::ValidationFailed => (
                "validation-failed",
                "Validation failed",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            ProblemType::PayloadTooLarge => (
                "payload-too-large",
                "Payload too large",
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            ProblemType::UnsupportedMediaType => (
                "unsupported-media-type",
                "Unsupported media type",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            ProblemType::ServiceUnavailable => (
                "service-unavailable",
                "Service unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            ProblemType::Internal => (
                "internal",
                "Internal error",
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        }
    }

    pub fn slug(self) -> &'static str {
        self.entry().0
    }

    pub fn title(self) -> &'static str {
        self.entry().1
    }

    pub fn status(self) -> StatusCode {
        self.entry().2
    }

    /// The `type` URI reference.
    pub fn uri(self) -> String {
        format!("/problems/{}", self.slug())
    }
}

/// A refusal, rendered as `application/problem+json`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {detail}")]
pub struct Problem {
    pub kind: ProblemType,
    pub detail: String,
    /// The fields or parameters at fault, for validation problems.
    pub errors: Vec<FieldError>,
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
}

impl Problem {
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// A malformed parameter (query or path), named.
    pub fn parameter(name: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            kind: ProblemType::InvalidParameter,
            detail: format!("{name}: {message}"),
            errors: vec![FieldError::new(name, message)],
        }
    }

    /// Fields at fault in a body.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        Self {
            kind: ProblemType::ValidationFailed,
            detail: format!("invalid fields: {}", fields.join(", ")),
            errors,
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::NotFound, detail)
    }

    pub fn unavailable() -> Self {
        Self::new(
            ProblemType::ServiceUnavailable,
            "the register's database cannot be reached right now; try again shortly",
        )
    }

    /// A fault of ours: the client gets no detail, the log gets it all.
    pub fn internal() -> Self {
        Self::new(
            ProblemType::Internal,
            "something went wrong on our side; it has been logged",
        )
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.kind.status()
    }

    fn error_response(&self) -> HttpResponse {
        let body = ProblemBody {
            kind: self.kind.uri(),
            title: self.kind.title(),
            status: self.kind.status().as_u16(),
            detail: &self.detail,
            errors: &self.errors,
        };
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if self.kind == ProblemType::ServiceUnavailable {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
        }
        response.body(serde_json::to_string(&body).unwrap_or_default())
    }
}

/// The core's errors, each mapped to one problem type; storage faults are logged
/// here and never shown.
impl From<CoreError> for Problem {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Validation(errors) => Problem::validation(errors),
            CoreError::CertificateNotFound(n) => Problem::not_found(format!("no certificate {n}")),
            CoreError::CertificationBodyNotFound(id) => {
                Problem::not_found(format!("no certification body {id}"))
            }
            CoreError::Unavailable(reason) | CoreError::Contention(reason) => {
                tracing::warn!(%reason, "database unavailable");
                Problem::unavailable()
            }
            other => {
                tracing::error!(error = %other, "unhandled core error");
                Problem::internal()
            }
        }
    }
}

impl From<actix_web::error::BlockingError> for Problem {
    fn from(_: actix_web::error::BlockingError) -> Self {
        tracing::error!("blocking task was cancelled");
        Problem::internal()
    }
}
