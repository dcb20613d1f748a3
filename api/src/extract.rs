//! How request bodies and query strings are read: size limits, and refusals as
//! problems rather than actix's plain-text errors.

use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::web;

use crate::problem::{Problem, ProblemType};

/// The largest JSON body accepted (a batch of 1,000 KvK numbers fits easily).
pub const MAX_JSON_BODY: usize = 64 * 1024;

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let detail = match &err {
            QueryPayloadError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        Problem::new(
            ProblemType::InvalidParameter,
            format!("malformed query string: {detail}"),
        )
        .into()
    })
}

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_JSON_BODY)
        .error_handler(|err, _req| {
            match &err {
                JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Overflow { .. } => Problem::new(
                    ProblemType::PayloadTooLarge,
                    format!("the body must be at most {MAX_JSON_BODY} bytes"),
                ),
                JsonPayloadError::ContentType => Problem::new(
                    ProblemType::UnsupportedMediaType,
                    "the body must be application/json",
                ),
                other => Problem::new(
                    ProblemType::ValidationFailed,
                    format!("the body is not valid JSON: {other}"),
                ),
            }
            .into()
        })
}
