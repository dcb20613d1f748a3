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
    Unauthorized,
    InvalidToken,
    UnsupportedAlgorithm,
    KeyAlgorithmMismatch,
    UnknownIssuer,
    UnknownKey,
    InvalidSignature,
    WrongAudience,
    TokenExpired,
    TokenNotYetValid,
    TokenLifetimeTooLong,
    Replay,
    ActMismatch,
    SubMismatch,
    NotYourCertificate,
    CbNotAccredited,
    Conflict,
    CertificateInForce,
    CertificateRevoked,
    CertificateSuperseded,
    InvalidTransition,
    CertificationBodyExists,
    KeySetUnavailable,
    ServiceUnavailable,
    Internal,
}

impl ProblemType {
    pub const ALL: [ProblemType; 31] = [
        ProblemType::NotFound,
        ProblemType::MethodNotAllowed,
        ProblemType::InvalidParameter,
        ProblemType::ValidationFailed,
        ProblemType::PayloadTooLarge,
        ProblemType::UnsupportedMediaType,
        ProblemType::Unauthorized,
        ProblemType::InvalidToken,
        ProblemType::UnsupportedAlgorithm,
        ProblemType::KeyAlgorithmMismatch,
        ProblemType::UnknownIssuer,
        ProblemType::UnknownKey,
        ProblemType::InvalidSignature,
        ProblemType::WrongAudience,
        ProblemType::TokenExpired,
        ProblemType::TokenNotYetValid,
        ProblemType::TokenLifetimeTooLong,
        ProblemType::Replay,
        ProblemType::ActMismatch,
        ProblemType::SubMismatch,
        ProblemType::NotYourCertificate,
        ProblemType::CbNotAccredited,
        ProblemType::Conflict,
        ProblemType::CertificateInForce,
        ProblemType::CertificateRevoked,
        ProblemType::CertificateSuperseded,
        ProblemType::InvalidTransition,
        ProblemType::CertificationBodyExists,
        ProblemType::KeySetUnavailable,
        ProblemType::ServiceUnavailable,
        ProblemType::Internal,
    ];

    /// Slug, title and status: the catalogue in one table.
    fn entry(self) -> (&'static str, &'static str, StatusCode) {
        use ProblemType as P;
        use StatusCode as S;
        match self {
            P::NotFound => ("not-found", "Not found", S::NOT_FOUND),
            P::MethodNotAllowed => (
                "method-not-allowed",
                "Method not allowed",
                S::METHOD_NOT_ALLOWED,
            ),
            P::InvalidParameter => ("invalid-parameter", "Invalid parameter", S::BAD_REQUEST),
            P::ValidationFailed => (
                "validation-failed",
                "Validation failed",
                S::UNPROCESSABLE_ENTITY,
            ),
            P::PayloadTooLarge => (
                "payload-too-large",
                "Payload too large",
                S::PAYLOAD_TOO_LARGE,
            ),
            P::UnsupportedMediaType => (
                "unsupported-media-type",
                "Unsupported media type",
                S::UNSUPPORTED_MEDIA_TYPE,
            ),
            P::Unauthorized => (
                "unauthorized",
                "Missing or wrong bearer token",
                S::UNAUTHORIZED,
            ),
            P::InvalidToken => (
                "invalid-token",
                "Not a well-formed signed request",
                S::UNAUTHORIZED,
            ),
            P::UnsupportedAlgorithm => (
                "unsupported-algorithm",
                "Signature algorithm not accepted",
                S::UNAUTHORIZED,
            ),
            P::KeyAlgorithmMismatch => (
                "key-algorithm-mismatch",
                "Algorithm does not match the key",
                S::UNAUTHORIZED,
            ),
            P::UnknownIssuer => (
                "unknown-issuer",
                "Unknown certification body",
                S::UNAUTHORIZED,
            ),
            P::UnknownKey => ("unknown-key", "Unknown signing key", S::UNAUTHORIZED),
            P::InvalidSignature => ("invalid-signature", "Invalid signature", S::UNAUTHORIZED),
            P::WrongAudience => (
                "wrong-audience",
                "Signed for another audience",
                S::UNAUTHORIZED,
            ),
            P::TokenExpired => ("token-expired", "Signed request expired", S::UNAUTHORIZED),
            P::TokenNotYetValid => (
                "token-not-yet-valid",
                "Signed request issued in the future",
                S::UNAUTHORIZED,
            ),
            P::TokenLifetimeTooLong => (
                "token-lifetime-too-long",
                "Signed request valid for too long",
                S::UNAUTHORIZED,
            ),
            P::Replay => ("replay", "Request id already used", S::UNAUTHORIZED),
            P::ActMismatch => (
                "act-mismatch",
                "Signed act does not match the path",
                S::FORBIDDEN,
            ),
            P::SubMismatch => (
                "sub-mismatch",
                "Signed certificate does not match the path",
                S::FORBIDDEN,
            ),
            P::NotYourCertificate => (
                "not-your-certificate",
                "Certificate of another certification body",
                S::FORBIDDEN,
            ),
            P::CbNotAccredited => (
                "cb-not-accredited",
                "Certification body not accredited",
                S::FORBIDDEN,
            ),
            P::Conflict => ("conflict", "Conflicts with an earlier request", S::CONFLICT),
            P::CertificateInForce => (
                "certificate-in-force",
                "Another certificate is in force",
                S::CONFLICT,
            ),
            P::CertificateRevoked => ("certificate-revoked", "Certificate revoked", S::CONFLICT),
            P::CertificateSuperseded => (
                "certificate-superseded",
                "Certificate superseded",
                S::CONFLICT,
            ),
            P::InvalidTransition => (
                "invalid-transition",
                "Not possible in the certificate's state",
                S::CONFLICT,
            ),
            P::CertificationBodyExists => (
                "certification-body-exists",
                "Certification body exists",
                S::CONFLICT,
            ),
            P::KeySetUnavailable => (
                "key-set-unavailable",
                "Key set cannot be fetched",
                S::SERVICE_UNAVAILABLE,
            ),
            P::ServiceUnavailable => (
                "service-unavailable",
                "Service unavailable",
                S::SERVICE_UNAVAILABLE,
            ),
            P::Internal => ("internal", "Internal error", S::INTERNAL_SERVER_ERROR),
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
        if self.kind.status() == StatusCode::UNAUTHORIZED {
            let challenge = if self.kind == ProblemType::Unauthorized {
                "Bearer"
            } else {
                "Signature"
            };
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            ));
        }
        if self.kind.status() == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
        }
        response.body(serde_json::to_string(&body).unwrap_or_default())
    }
}

/// The core's errors, each mapped to one problem type; storage faults are logged
/// here and never shown.
impl From<CoreError> for Problem {
    fn from(e: CoreError) -> Self {
        use ProblemType as P;
        let detail = e.to_string();
        match e {
            CoreError::Validation(errors) => Problem::validation(errors),
            CoreError::CertificateNotFound(_) | CoreError::CertificationBodyNotFound(_) => {
                Problem::new(P::NotFound, detail)
            }
            CoreError::CertificationBodyExists(_) => {
                Problem::new(P::CertificationBodyExists, detail)
            }
            CoreError::NotAccredited { .. } => Problem::new(P::CbNotAccredited, detail),
            CoreError::NotYourCertificate(_) => Problem::new(P::NotYourCertificate, detail),
            CoreError::Replay => Problem::new(
                P::Replay,
                "this jti was used before by this certification body",
            ),
            CoreError::IdempotencyConflict { .. } => Problem::new(P::Conflict, detail),
            CoreError::CertificateInForce { .. } => Problem::new(P::CertificateInForce, detail),
            CoreError::CertificateRevoked(_) => Problem::new(P::CertificateRevoked, detail),
            CoreError::CertificateSuperseded(_) => Problem::new(P::CertificateSuperseded, detail),
            CoreError::InvalidTransition(_) => Problem::new(P::InvalidTransition, detail),
            CoreError::Unavailable(reason) | CoreError::Contention(reason) => {
                tracing::warn!(%reason, "database unavailable");
                Problem::unavailable()
            }
            CoreError::Storage(reason) => {
                tracing::error!(%reason, "storage fault");
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
