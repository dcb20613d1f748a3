//! Paging: an opaque `cursor`, a `limit` (default 50, max 500), `next_cursor` in
//! the body and a `Link: <…>; rel="next"` header (API.md, "General").

use actix_web::HttpRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::problem::Problem;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// Parses `limit`: a whole number from 1 to `MAX_LIMIT`, `DEFAULT_LIMIT` when absent.
pub fn limit(raw: Option<&str>) -> Result<i64, Problem> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                Problem::parameter(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_LIMIT}"),
                )
            }),
    }
}

/// Encodes a position as an opaque cursor.
pub fn encode_cursor(position: &impl Serialize) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default())
}

/// Decodes a cursor this server handed out; anything else is a 400 naming `cursor`.
pub fn decode_cursor<T: DeserializeOwned>(raw: Option<&str>) -> Result<Option<T>, Problem> {
    let Some(raw) = raw else { return Ok(None) };
    let bad = || Problem::parameter("cursor", "is not a cursor this API handed out");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map(Some).map_err(|_| bad())
}

/// A page of a list.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The `Link` header value for the next page: the same request with `cursor`
/// (and `limit`) replaced.
pub fn next_link(req: &HttpRequest, cursor: &str, limit: i64) -> String {
    let mut pairs: Vec<(String, String)> = url_pairs(req.query_string())
        .into_iter()
        .filter(|(k, _)| k != "cursor" && k != "limit")
        .collect();
    pairs.push(("limit".into(), limit.to_string()));
    pairs.push(("cursor".into(), cursor.to_owned()));
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("<{}?{}>; rel=\"next\"", req.path(), query)
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

fn encode_component(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|e| e.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_bounded_and_named() {
        assert_eq!(limit(None).ok(), Some(50));
        assert_eq!(limit(Some("500")).ok(), Some(500));
        for bad in ["0", "501", "-1", "ten", ""] {
            let p = limit(Some(bad)).expect_err(bad);
            assert_eq!(p.errors[0].field, "limit");
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = encode_cursor(&("Jansen", "12345678"));
        assert_eq!(
            decode_cursor::<(String, String)>(Some(&c)).ok().flatten(),
            Some(("Jansen".into(), "12345678".into()))
        );
        assert!(decode_cursor::<(String, String)>(Some("!!!")).is_err());
        assert!(decode_cursor::<(String, String)>(Some("e30")).is_err());
    }
}
