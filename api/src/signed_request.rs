//! Signed requests from certification bodies: a compact JWS (RFC 7515) in the
//! body, `Content-Type: application/jose`, checked before anything is written
//! (API.md, "Certification bodies write (signed requests)").
//!
//! The order of checks: media type and size; the JWS's shape; `alg` (only
//! `EdDSA` and `ES256`); the issuer (`iss`) and its key by `kid` (fetching a
//! published key set when needed); the key's algorithm; the signature; `aud`,
//! `iat`, `exp`, `jti`; the CB's accreditation; `act` and `sub` against the
//! path. Replay (`jti` seen before) is refused inside the write's transaction.
//! No database connection is held while the signature is verified.

use actix_web::HttpRequest;
use actix_web::web;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use registry_core::{Accreditation, CbId, CertificateNumber, Provenance, RequestId, SignedRequest};
use serde_json::{Map, Value};

use crate::keys::accepted_algorithm;
use crate::problem::{Problem, ProblemType};
use crate::routes::blocking;
use crate::state::AppState;

/// The largest signed request accepted.
pub const MAX_JWS_BYTES: usize = 64 * 1024;
/// The clock skew allowed between a CB and the register.
pub const LEEWAY_SECS: i64 = 60;
/// The longest a signed request may be valid: `exp` at most this long after `iat`.
pub const MAX_LIFETIME_SECS: i64 = 600;
/// The largest JWS header accepted (encoded): ours need `alg` and `kid`; a
/// padded header would only make the stored evidence heavy.
pub const MAX_HEADER_BYTES: usize = 1024;
/// The media type of a signed request.
pub const MEDIA_TYPE: &str = "application/jose";

/// What a CB asks to do; each act has its own path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Issue,
    Renew,
    Suspend,
    Reinstate,
    Revoke,
}

impl Act {
    pub const ALL: [Act; 5] = [
        Act::Issue,
        Act::Renew,
        Act::Suspend,
        Act::Reinstate,
        Act::Revoke,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Act::Issue => "issue",
            Act::Renew => "renew",
            Act::Suspend => "suspend",
            Act::Reinstate => "reinstate",
            Act::Revoke => "revoke",
        }
    }
}

/// A signed request that passed every check but replay (which the write's
/// transaction decides).
#[derive(Debug)]
pub struct Verified {
    pub cb: CbId,
    /// All claims, including the act's payload (`certificate`, `period`, …).
    pub claims: Map<String, Value>,
    /// Who asks, with the JWS kept verbatim as evidence.
    pub provenance: Provenance,
}

fn problem(kind: ProblemType, detail: impl Into<String>) -> Problem {
    Problem::new(kind, detail)
}

fn invalid(detail: impl Into<String>) -> Problem {
    problem(ProblemType::InvalidToken, detail)
}

/// Reads the body: a compact JWS, `application/jose` (`415` otherwise), at most
/// `MAX_JWS_BYTES` (`413`), read no further than that.
pub async fn read_body(req: &HttpRequest, payload: web::Payload) -> Result<String, Problem> {
    let body = crate::extract::read_body(req, payload, MEDIA_TYPE, MAX_JWS_BYTES).await?;
    String::from_utf8(body.to_vec())
        .map(|s| s.trim().to_owned())
        .map_err(|_| invalid("the body is not UTF-8 text"))
}

/// A JWS part as the JSON object it encodes, with one reading only (a member
/// named twice, at any depth, is refused).
pub fn decode_json(part: &str, what: &str) -> Result<Map<String, Value>, Problem> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| invalid(format!("the JWS {what} is not base64url")))?;
    match crate::extract::json_value(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid(format!("the JWS {what} is not a JSON object"))),
        Err(e) => Err(invalid(format!(
            "the JWS {what} is not JSON with one reading: {e}"
        ))),
    }
}

fn seconds(claims: &Map<String, Value>, name: &str) -> Result<i64, Problem> {
    claims
        .get(name)
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid(format!("claim {name} must be a number of seconds")))
}

/// Checks `iat` and `exp` against `now` (all in seconds): not expired, not
/// issued in the future, valid for at most `MAX_LIFETIME_SECS`, each with
/// `LEEWAY_SECS`. In `i128`, so that no claim can overflow a comparison.
pub fn check_times(iat: i64, exp: i64, now: i64) -> Result<(), Problem> {
    let (iat, exp, now) = (i128::from(iat), i128::from(exp), i128::from(now));
    let leeway = i128::from(LEEWAY_SECS);
    if exp + leeway <= now {
        return Err(problem(
            ProblemType::TokenExpired,
            "the signed request has expired (exp)",
        ));
    }
    if iat - leeway > now {
        return Err(problem(
            ProblemType::TokenNotYetValid,
            "the signed request is issued in the future (iat)",
        ));
    }
    if exp < iat || exp - iat > i128::from(MAX_LIFETIME_SECS) {
        return Err(problem(
            ProblemType::TokenLifetimeTooLong,
            format!("exp must be after iat and at most {MAX_LIFETIME_SECS} seconds after it"),
        ));
    }
    Ok(())
}

/// Until when a request id must be remembered: `exp` and the leeway (an `exp`
/// [`check_times`] admitted is at most minutes from now).
fn replayable_until(exp: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(exp, 0)
        .and_then(|t| t.checked_add_signed(Duration::seconds(LEEWAY_SECS)))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A compact JWS as read, before anything is looked up or verified.
#[derive(Debug)]
pub struct Unverified<'a> {
    /// What the signature covers: `header.payload`, as sent.
    pub signing_input: &'a str,
    pub signature: &'a str,
    pub algorithm: jsonwebtoken::Algorithm,
    pub kid: String,
    pub claims: Map<String, Value>,
    /// The issuer (`iss`), a well-formed CB id.
    pub cb: CbId,
}

/// Reads `jws` as the register's signed requests are written: three parts, a
/// header of at most `MAX_HEADER_BYTES` with one reading, `alg` `EdDSA` or
/// `ES256`, no `crit`, a `kid`, claims with one reading and an `iss`.
pub fn parse(jws: &str) -> Result<Unverified<'_>, Problem> {
    let mut parts = jws.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(
            "the body must be a compact JWS: header.payload.signature",
        ));
    };
    if header_b64.len() > MAX_HEADER_BYTES {
        return Err(invalid(format!(
            "the JWS header must be at most {MAX_HEADER_BYTES} bytes (encoded)"
        )));
    }
    let header = decode_json(header_b64, "header")?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.as_str(),
        _ => "",
    };
    let Some(algorithm) = accepted_algorithm(alg) else {
        return Err(problem(
            ProblemType::UnsupportedAlgorithm,
            format!("alg {alg:?} is refused; use EdDSA or ES256"),
        ));
    };
    if header.contains_key("crit") {
        return Err(invalid(
            "the JWS header has crit members, which the register does not understand",
        ));
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the JWS header must name the key: kid"))?
        .to_owned();
    let claims = decode_json(claims_b64, "payload")?;
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("claim iss (the certification body's id) is required"))?;
    let cb = CbId::parse(iss).map_err(|_| {
        problem(
            ProblemType::UnknownIssuer,
            format!("no certification body {iss:?}"),
        )
    })?;
    let signing_input = &jws[..header_b64.len() + 1 + claims_b64.len()];
    Ok(Unverified {
        signing_input,
        signature,
        algorithm,
        kid,
        claims,
        cb,
    })
}

/// Verifies `jws` as a request for `act` on certificate `sub` (none for `issue`).
pub async fn verify(
    state: &AppState,
    jws: String,
    act: Act,
    sub: Option<&CertificateNumber>,
) -> Result<Verified, Problem> {
    let Unverified {
        signing_input,
        signature,
        algorithm,
        kid,
        claims: unverified,
        cb,
    } = parse(&jws)?;
    let registry = state.registry.clone();
    let id = cb.clone();
    let body = match blocking(move || registry.certification_body(&id)).await {
        Err(p) if p.kind == ProblemType::NotFound => {
            return Err(problem(
                ProblemType::UnknownIssuer,
                format!("no certification body {cb}"),
            ));
        }
        other => other?,
    };
    let accreditation = body.accreditation;
    let key = state.keys.key_for(&state.registry, body, &kid).await?;
    if key.algorithm != algorithm {
        return Err(problem(
            ProblemType::KeyAlgorithmMismatch,
            format!(
                "alg {algorithm:?} does not match key {kid:?}, which is for {:?}",
                key.algorithm
            ),
        ));
    }
    let valid =
        jsonwebtoken::crypto::verify(signature, signing_input.as_bytes(), &key.key, algorithm)
            .unwrap_or(false);
    if !valid {
        return Err(problem(
            ProblemType::InvalidSignature,
            "the signature does not verify with the named key",
        ));
    }
    let claims = unverified;

    let audience = &state.config.audience;
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if !aud_ok {
        return Err(problem(
            ProblemType::WrongAudience,
            format!("claim aud must be {audience:?}"),
        ));
    }
    let (iat, exp) = (seconds(&claims, "iat")?, seconds(&claims, "exp")?);
    check_times(iat, exp, Utc::now().timestamp())?;
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("claim jti (a unique request id) is required"))?;
    let jti = RequestId::parse(jti).map_err(|e| invalid(format!("claim jti {e}")))?;

    if accreditation != Accreditation::Active {
        return Err(problem(
            ProblemType::CbNotAccredited,
            format!(
                "{cb} is {}, not active: it cannot write",
                accreditation.as_str()
            ),
        ));
    }
    let signed_act = claims
        .get("act")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if signed_act != act.as_str() {
        return Err(problem(
            ProblemType::ActMismatch,
            format!(
                "this path takes act {:?}; the request is signed for {signed_act:?}",
                act.as_str()
            ),
        ));
    }
    let signed_sub = claims.get("sub").and_then(Value::as_str);
    if signed_sub != sub.map(CertificateNumber::as_str) {
        return Err(problem(
            ProblemType::SubMismatch,
            match sub {
                Some(n) => format!("claim sub must be {n}, the certificate in the path"),
                None => "an issuance carries no sub".to_owned(),
            },
        ));
    }
    let replayable_until = replayable_until(exp);
    Ok(Verified {
        cb: cb.clone(),
        claims,
        provenance: Provenance::certification_body(
            cb,
            Some(SignedRequest {
                id: jti,
                replayable_until,
                compact_jws: jws,
            }),
        ),
    })
}
