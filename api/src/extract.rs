//! How requests are read. A query string or a JSON body is checked against the
//! contract (`crate::contract`: the schema the document declares for the type
//! that reads it), every fault at once, and only then deserialized into that
//! type; a body is read up to a limit, never past it.
//!
//! - [`Query<T>`]: unknown, repeated or malformed parameters → `400`
//!   (`invalid-parameter`), each named, an old name with the new one suggested.
//! - [`Json<T>`]: another media type → `415`; too large → `413`; not JSON → `400`
//!   (`malformed-body`); fields at fault → `422` (`validation-failed`).

use std::future::{Ready, ready};

use crate::contract::{BodyContract, QueryContract};
use crate::problem::{Problem, ProblemType};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;

/// The largest JSON body accepted (a batch of 1,000 KvK numbers fits easily).
pub const MAX_JSON_BODY: usize = 64 * 1024;

fn rules_missing(error: &str) -> Problem {
    tracing::error!(%error, "the contract's rules cannot be built");
    Problem::internal()
}

/// A query string read as `T`, its parameters checked against `T`'s documented ones.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: QueryContract> FromRequest for Query<T> {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(query(req.query_string()).map(Query))
    }
}

/// Reads `raw` (a query string) as `T`.
pub fn query<T: QueryContract>(raw: &str) -> Result<T, Problem> {
    let rules = T::rules().map_err(rules_missing)?;
    // Percent-decoded, `+` read as a space, bytes that are not UTF-8 replaced.
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    let values = rules
        .read(pairs)
        .map_err(|found| Problem::parameters(found.faults).counted(found.total))?;
    serde_json::from_value(serde_json::Value::Object(values)).map_err(|e| {
        tracing::error!(error = %e, "a query the contract admits does not deserialize");
        Problem::parameter("query", e.to_string())
    })
}

/// A JSON body read as `T`, checked against `T`'s schema; at most `LIMIT` bytes.
#[derive(Debug)]
pub struct Json<T, const LIMIT: usize = MAX_JSON_BODY>(pub T);

impl<T: BodyContract, const LIMIT: usize> FromRequest for Json<T, LIMIT> {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let bytes = read_body(&req, payload, "application/json", LIMIT).await?;
            let value = json_value(&bytes).map_err(|e| {
                Problem::new(
                    ProblemType::MalformedBody,
                    format!("the body is not JSON with one reading: {e}"),
                )
            })?;
            value_as::<T>(value).map(Json)
        })
    }
}

/// JSON text with one reading only: a member named twice in one object, at any
/// depth, is refused (RFC 8259 leaves its meaning open; RFC 7515 requires a JWS
/// header to be refused or read last-wins, and the register keeps the signed
/// text as evidence, which a first-wins reader would read otherwise).
pub fn json_value(bytes: &[u8]) -> Result<serde_json::Value, serde_json::Error> {
    use serde::Deserialize;
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let Unique(value) = Unique::deserialize(&mut reader)?;
    reader.end()?;
    Ok(value)
}

/// A JSON value read by [`json_value`]'s rule.
struct Unique(serde_json::Value);

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = serde_json::Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(serde::de::Error::custom(format_args!(
                    "member {name:?} appears twice in one object"
                )));
            }
            let Unique(value) = map.next_value()?;
            members.insert(name, value);
        }
        Ok(serde_json::Value::Object(members))
    }
}

/// Reads a JSON value as `T`, checked against `T`'s schema first.
pub fn value_as<T: BodyContract>(value: serde_json::Value) -> Result<T, Problem> {
    let rules = T::rules().map_err(rules_missing)?;
    let found = rules.check(&value);
    if !found.is_empty() {
        return Err(Problem::validation(found.faults).counted(found.total));
    }
    // What the contract cannot state (a name's script rule, say) the domain
    // types refuse as they are read, by the path of the value at fault.
    serde_path_to_error::deserialize(value).map_err(|e| {
        let at = e.path().to_string();
        let field = if at == "." { "body".to_owned() } else { at };
        let message = e.into_inner().to_string();
        Problem::validation(vec![registry_core::FieldError::new(field, message)])
    })
}

/// Reads the body of `media_type` (parameters such as `charset` aside),
/// refusing another media type (`415`) and more than `limit` bytes (`413`)
/// without reading past the limit.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: impl futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>>
    + Unpin,
    media_type: &str,
    limit: usize,
) -> Result<web::Bytes, Problem> {
    let given = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    if given.as_deref() != Some(media_type) {
        return Err(Problem::new(
            ProblemType::UnsupportedMediaType,
            format!("the body must be {media_type}"),
        ));
    }
    let too_large = || {
        Problem::new(
            ProblemType::PayloadTooLarge,
            format!("the body must be at most {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|_| Problem::new(ProblemType::MalformedBody, "the body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
