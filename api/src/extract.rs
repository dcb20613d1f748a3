//! How JSON request bodies are read: a size limit, and refusals as problems
//! rather than actix's plain-text errors. (Query strings: `crate::query`.)

use actix_web::error::JsonPayloadError;
use actix_web::web;

use crate::problem::{Problem, ProblemType};

/// The largest JSON body accepted (a batch of 1,000 KvK numbers fits easily).
pub const MAX_JSON_BODY: usize = 64 * 1024;

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
