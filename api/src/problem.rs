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
    MalformedBody,
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
    TooManyRequests,
    ServiceUnavailable,
    Internal,
}

impl ProblemType {
    pub const ALL: [ProblemType; 33] = [
        ProblemType::NotFound,
        ProblemType::MethodNotAllowed,
        ProblemType::InvalidParameter,
        ProblemType::MalformedBody,
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
        ProblemType::TooManyRequests,
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
            P::MalformedBody => ("malformed-body", "Malformed body", S::BAD_REQUEST),
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
            P::TooManyRequests => (
                "too-many-requests",
                "Too many requests",
                S::TOO_MANY_REQUESTS,
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
    /// The fields or parameters at fault, for validation problems (the first
    /// [`crate::contract::MAX_FAULTS`] are shown).
    pub errors: Vec<FieldError>,
    /// How many faults were found in all, when more than `errors` holds.
    pub error_count: Option<usize>,
}

/// The longest `detail` an answer carries (it may quote what was sent).
const MAX_DETAIL_CHARS: usize = 1000;
/// The longest field name or message of one fault.
const MAX_FAULT_CHARS: usize = 500;

/// An RFC 9457 problem, as every refusal of the API is written.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Problem)]
pub struct ProblemBody {
    /// A stable URI reference, `/problems/<slug>`; the catalogue is in the
    /// description of this document.
    #[serde(rename = "type")]
    #[schema(
        example = "/problems/validation-failed",
        max_length = 64,
        pattern = "^/problems/[a-z-]+$"
    )]
    pub kind: String,
    #[schema(example = "Validation failed", max_length = 64)]
    pub title: &'static str,
    /// The HTTP status.
    #[schema(example = 422, minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong, in words.
    #[schema(
        example = "certificate.level must be one of aspirant, basistrede, trede_1, trede_2, trede_3",
        max_length = 1024
    )]
    pub detail: String,
    /// The fields or parameters at fault (validation and parameter problems):
    /// the first 100.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 100)]
    pub errors: Vec<FieldFault>,
    /// How many faults there are in all, with `errors` (which lists at most
    /// 100 of them).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1000000)]
    pub error_count: Option<u32>,
}

/// The most `errorCount` says (a body of at most 64 KiB holds far fewer faults).
const MAX_ERROR_COUNT: u32 = 1_000_000;

/// A field or parameter at fault.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldFault {
    /// Its path in the contract's names: `certificate.holder.kvkNumber`,
    /// `kvkNumbers[3]`, `levelMin`.
    #[schema(example = "certificate.level", max_length = 512)]
    pub field: String,
    /// What it must be.
    #[schema(
        example = "must be one of aspirant, basistrede, trede_1, trede_2, trede_3",
        max_length = 512
    )]
    pub message: String,
}

/// At most `max` characters of `s`, an ellipsis marking a cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut cut: String = s.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

/// The first fault in words, and how many more there are.
fn summary(first: &FieldError, total: usize) -> String {
    match total {
        0 | 1 => format!("{} {}", first.field, first.message),
        n => format!(
            "{} {} (and {} more: see errors and errorCount)",
            first.field,
            first.message,
            n - 1
        ),
    }
}

impl Problem {
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
            error_count: None,
        }
    }

    /// This problem with `total` faults found in all (of which `errors` holds
    /// the first).
    pub fn counted(mut self, total: usize) -> Self {
        let total = total.max(self.errors.len());
        if !self.errors.is_empty() {
            self.error_count = Some(total);
            if let [first, ..] = self.errors.as_slice() {
                self.detail = summary(first, total);
            }
        }
        self
    }

    /// A malformed parameter (query or path), named.
    pub fn parameter(name: &str, message: impl Into<String>) -> Self {
        Self::parameters(vec![FieldError::new(name, message)])
    }

    /// Parameters at fault, each named (at least one).
    pub fn parameters(errors: Vec<FieldError>) -> Self {
        Self::faults(ProblemType::InvalidParameter, errors)
    }

    /// Fields at fault in a body.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self::faults(ProblemType::ValidationFailed, errors)
    }

    /// The first fault says it all in `detail`; more are counted there and
    /// listed in `errors`.
    fn faults(kind: ProblemType, errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [] => "the request is not valid".to_owned(),
            [first, ..] => summary(first, errors.len()),
        };
        let error_count = (!errors.is_empty()).then_some(errors.len());
        Self {
            kind,
            detail,
            errors,
            error_count,
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

    /// The register is being loaded into memory (at start-up).
    pub fn loading() -> Self {
        Self::new(
            ProblemType::ServiceUnavailable,
            "the register is loading; try again in a few seconds",
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
            detail: clip(&self.detail, MAX_DETAIL_CHARS),
            errors: self
                .errors
                .iter()
                .take(crate::contract::MAX_FAULTS)
                .map(|e| FieldFault {
                    field: clip(&e.field, MAX_FAULT_CHARS),
                    message: clip(&e.message, MAX_FAULT_CHARS),
                })
                .collect(),
            error_count: self
                .error_count
                .map(|n| u32::try_from(n).map_or(MAX_ERROR_COUNT, |n| n.min(MAX_ERROR_COUNT))),
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
            CoreError::Validation(errors) => Problem::validation(
                errors
                    .into_iter()
                    .map(|e| FieldError::new(crate::contract::camel_path(&e.field), e.message))
                    .collect(),
            ),
            CoreError::CertificateNotFound(_)
            | CoreError::CertificationBodyNotFound(_)
            | CoreError::NotFound(_) => Problem::new(P::NotFound, detail),
            CoreError::CertificationBodyExists(_) => {
                Problem::new(P::CertificationBodyExists, detail)
            }
            CoreError::NotAccredited { .. } => Problem::new(P::CbNotAccredited, detail),
            // A permission refusal is 403. Over HTTP each path admits one kind of
            // actor, so the scheme owner never reaches a CB's act; when the core
            // refuses one anyway, the closest type in the catalogue says it.
            CoreError::NotYourCertificate(_) | CoreError::NotPermitted(_) => {
                Problem::new(P::NotYourCertificate, detail)
            }
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
            CoreError::Loading => Problem::loading(),
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
