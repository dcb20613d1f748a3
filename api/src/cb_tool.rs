//! The reference tool for certification bodies: make a key pair, and sign a
//! request the way the register expects it (`pso-registry cb keygen`,
//! `pso-registry cb sign`). It uses only standard JOSE: anything it does, a CB
//! can do with its own library.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::Rng;
use serde_json::{Map, Value};

/// The fixed DER prefix of a PKCS#8 Ed25519 private key (RFC 8410, section 7):
/// the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A new Ed25519 key pair: the private key as PKCS#8 PEM, and the public key as a
/// JWK whose `kid` is its RFC 7638 thumbprint.
pub fn keygen() -> Result<(String, Value), String> {
    let mut seed = [0u8; 32];
    rand::rng().fill(&mut seed);
    let mut der = ED25519_PKCS8_PREFIX.to_vec();
    der.extend_from_slice(&seed);
    let body = STANDARD.encode(&der);
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
    let (_, jwk, _) = load_key(&pem)?;
    Ok((pem, jwk))
}

/// Reads a private key PEM (Ed25519 or P-256): the signing key, its public JWK
/// (with `kid`, `alg` and `use`), and its algorithm.
pub fn load_key(pem: &str) -> Result<(EncodingKey, Value, Algorithm), String> {
    let (key, algorithm) = match EncodingKey::from_ed_pem(pem.as_bytes()) {
        Ok(k) => (k, Algorithm::EdDSA),
        Err(_) => (
            EncodingKey::from_ec_pem(pem.as_bytes())
                .map_err(|e| format!("not an Ed25519 or P-256 private key PEM: {e}"))?,
            Algorithm::ES256,
        ),
    };
    let jwk = Jwk::from_encoding_key(&key, algorithm)
        .map_err(|e| format!("cannot derive the public key: {e}"))?;
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| format!("cannot compute the kid: {e}"))?;
    let mut value = serde_json::to_value(&jwk).map_err(|e| e.to_string())?;
    if let Value::Object(o) = &mut value {
        o.insert("kid".into(), Value::String(kid));
        o.insert("use".into(), Value::String("sig".into()));
    }
    Ok((key, value, algorithm))
}

/// What a signed request says besides its payload.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub iss: String,
    pub aud: String,
    pub act: String,
    pub sub: Option<String>,
    /// Seconds until `exp` (at most 600).
    pub ttl: i64,
}

/// Signs `payload` (a JSON object: `certificate`, `period`, or `reason` and
/// `effective_at`) as a compact JWS with fresh `iat`, `exp` and `jti`.
pub fn sign(pem: &str, envelope: &Envelope, payload: &Value) -> Result<String, String> {
    let (key, jwk, algorithm) = load_key(pem)?;
    let Value::Object(payload) = payload else {
        return Err("the payload must be a JSON object".into());
    };
    let now = chrono::Utc::now().timestamp();
    let mut jti = [0u8; 16];
    rand::rng().fill(&mut jti);
    let mut claims = Map::new();
    claims.insert("iss".into(), envelope.iss.clone().into());
    claims.insert("aud".into(), envelope.aud.clone().into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + envelope.ttl).into());
    claims.insert("jti".into(), URL_SAFE_NO_PAD.encode(jti).into());
    claims.insert("act".into(), envelope.act.clone().into());
    if let Some(sub) = &envelope.sub {
        claims.insert("sub".into(), sub.clone().into());
    }
    for (k, v) in payload {
        claims.insert(k.clone(), v.clone());
    }
    let mut header = Header::new(algorithm);
    header.kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
    jsonwebtoken::encode(&header, &Value::Object(claims), &key)
        .map_err(|e| format!("cannot sign: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_makes_a_signing_key_and_its_public_jwk() {
        let (pem, jwk) = keygen().expect("keygen");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert!(jwk.get("d").is_none(), "no private part in the JWK");
        let kid = jwk["kid"].as_str().expect("kid").to_owned();
        let (_, again, _) = load_key(&pem).expect("load");
        assert_eq!(again["kid"], kid, "the kid is stable for a key");

        let envelope = Envelope {
            iss: "kiwa".into(),
            aud: "aud".into(),
            act: "suspend".into(),
            sub: Some("PSO-2026-000001".into()),
            ttl: 300,
        };
        let jws = sign(&pem, &envelope, &serde_json::json!({"reason": "audit"})).expect("sign");
        let key = crate::keys::verifying_key(&jwk.to_string()).expect("verifying key");
        let (message, signature) = jws.rsplit_once('.').expect("compact");
        assert!(
            jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key.key, key.algorithm)
                .expect("verify")
        );
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(message.split('.').next().expect("header"))
                .expect("b64"),
        )
        .expect("json");
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], kid);
    }
}
