//! Paging: an opaque `cursor`, a `limit` (default 50, max 500), `nextCursor` in
//! the body and a `Link: <…>; rel="next"` header (API.md, "General"); and the
//! unpaged list of a bounded number of items.

use actix_web::HttpRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::problem::Problem;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

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

/// Declares a page of a list: its items and where the next page starts.
macro_rules! page_of {
    ($(#[$doc:meta])* $name:ident of $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            #[schema(max_items = 500)]
            pub items: Vec<$item>,
            /// Where the next page starts (give it as `cursor`); `null` on the last page.
            #[schema(max_length = 2048)]
            pub next_cursor: Option<String>,
        }
    };
}

/// Declares a list of a bounded number of items, in one answer.
macro_rules! list_of {
    ($(#[$doc:meta])* $name:ident of $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Serialize, utoipa::ToSchema)]
        pub struct $name {
            #[schema(max_items = 1000)]
            pub items: Vec<$item>,
        }
    };
}

page_of!(
    /// A page of companies, each with its standing on the day asked about.
    CompanyPage of crate::views::CompanyHitView
);
page_of!(
    /// A page of certificates.
    CertificatePage of crate::views::CertificateView
);
list_of!(
    /// One status answer per KvK number asked about, in the order asked.
    StatusList of crate::routes::status::StatusView
);
list_of!(
    /// Every certification body, by id.
    CertificationBodyList of crate::views::CertificationBodyView
);

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

    /// The document's `limit` says what the code applies.
    #[test]
    fn the_documented_limit_is_the_one_applied() {
        use utoipa::IntoParams;
        let lists = [
            crate::routes::companies::SearchParams::into_params(|| None),
            crate::routes::events::FeedParams::into_params(|| None),
        ];
        for parameters in lists {
            let limit = parameters
                .into_iter()
                .find(|p| p.name == "limit")
                .and_then(|p| serde_json::to_value(p.schema).ok())
                .expect("a limit parameter");
            assert_eq!(limit["default"], DEFAULT_LIMIT, "{limit}");
            assert_eq!(limit["maximum"], MAX_LIMIT, "{limit}");
            assert_eq!(limit["minimum"], 1, "{limit}");
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
