//! Signed status answers: asked for with `Accept: application/jose`, a status
//! answer (or a batch of them) comes as a compact JWS (`EdDSA`, the register's
//! key by `kid`, `typ` [`STATUS_TYP`]) whose claims are the JSON answer's
//! fields and `iss` (the register's origin), `iat`, `jti` (the check's own
//! reference, to quote) and `checkpoint` (the signed checkpoint of the log
//! state the answer reflects). An officer files it; years later it verifies
//! with the register's published key set and the log.

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use serde::Serialize;

use crate::problem::Problem;
use crate::signing::Signing;

/// The media type of a signed answer.
pub const JOSE: &str = "application/jose";

/// The `typ` of a signed status answer (RFC 8725, 3.11: explicit typing).
pub const STATUS_TYP: &str = "pso-status+jwt";

/// Whether the client asks for a signed answer: `application/jose` among its
/// `Accept` values (with a quality above zero).
pub fn wanted(req: &HttpRequest) -> bool {
    accepts(req, JOSE)
}

/// Whether `media` is among the request's `Accept` values (with a quality
/// above zero).
pub fn accepts(req: &HttpRequest, media_type: &str) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case(media_type) && !refused
        })
}

/// A check's reference: `PSO-` and 16 characters of Crockford's base32 (80
/// random bits) in groups of four, easy to read aloud and to quote.
pub fn reference() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bits: u128 = rand::rng().random::<u128>() >> 48;
    let mut out = String::with_capacity(23);
    out.push_str("PSO");
    for i in 0..16 {
        if i % 4 == 0 {
            out.push('-');
        }
        let shift = 5 * (15 - i);
        out.push(char::from(ALPHABET[((bits >> shift) & 31) as usize]));
    }
    out
}

/// The claims the register adds to an answer.
#[derive(Debug, Serialize)]
struct Added<'a> {
    iss: &'a str,
    iat: i64,
    jti: &'a str,
    checkpoint: &'a str,
}

/// Signs `answer` (which serializes as a JSON object) with the claims
/// above: the compact JWS.
pub fn sign(
    signing: &Signing,
    answer: &impl Serialize,
    checkpoint: &str,
    jti: &str,
) -> Result<String, Problem> {
    let fault = |e: serde_json::Error| {
        tracing::error!(error = %e, "cannot serialise a signed answer");
        Problem::internal()
    };
    let mut payload = serde_json::to_vec(answer).map_err(fault)?;
    let added = serde_json::to_vec(&Added {
        iss: signing.key().name(),
        iat: registry_core::time::now().timestamp(),
        jti,
        checkpoint,
    })
    .map_err(fault)?;
    // `{…answer…}` and `{…added…}` become one object.
    if payload.last() != Some(&b'}') || added.first() != Some(&b'{') {
        return Err(Problem::internal());
    }
    payload.pop();
    if payload.len() > 1 {
        payload.push(b',');
    }
    payload.extend_from_slice(&added[1..]);
    let mut jws =
        String::with_capacity(signing.answer_header().len() + payload.len() * 4 / 3 + 100);
    jws.push_str(signing.answer_header());
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut jws);
    let signature = signing.key().sign(jws.as_bytes());
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut jws);
    Ok(jws)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn a_reference_reads_aloud() {
        let r = reference();
        assert_eq!(r.len(), 23, "{r}");
        assert!(r.starts_with("PSO-"));
        assert!(
            r[4..]
                .split('-')
                .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_alphanumeric()))
        );
        assert_ne!(reference(), r);
    }

    #[test]
    fn accept_asks_for_a_signed_answer() {
        for (accept, signed) in [
            ("application/jose", true),
            ("application/json, application/jose;q=0.5", true),
            ("Application/JOSE", true),
            ("application/jose;q=0", false),
            ("application/json", false),
            ("*/*", false),
        ] {
            let req = TestRequest::default()
                .insert_header((header::ACCEPT, accept))
                .to_http_request();
            assert_eq!(wanted(&req), signed, "{accept}");
        }
    }
}
