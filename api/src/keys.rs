//! Certification bodies' public keys: checking a JWK set the scheme owner
//! registers, fetching the set a CB publishes at its `jwks_uri` (cached, fetched
//! again on an unknown `kid` at most once per interval), and turning a stored key
//! into something that verifies signatures.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk as JoseJwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use registry_core::{CbId, CertificationBody, FieldError, PublicKey, Registry};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::schema::{KeyBytesSchema, KidSchema};

use crate::problem::{Problem, ProblemType};

/// The algorithms the register accepts: Ed25519 (`EdDSA`) and P-256 (`ES256`).
/// `none`, every `HS*` and everything else are refused (API.md).
pub fn accepted_algorithm(alg: &str) -> Option<Algorithm> {
    match alg {
        "EdDSA" => Some(Algorithm::EdDSA),
        "ES256" => Some(Algorithm::ES256),
        _ => None,
    }
}

/// The algorithm a key is for: from its shape (an Ed25519 OKP key, a P-256 EC
/// key), and its `alg` member must agree when present.
fn algorithm_of(jwk: &serde_json::Value) -> Result<Algorithm, String> {
    let parsed: JoseJwk =
        serde_json::from_value(jwk.clone()).map_err(|e| format!("is not a JWK: {e}"))?;
    let by_shape = match &parsed.algorithm {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return Err("must be an Ed25519 (kty OKP) or P-256 (kty EC) public key".into()),
    };
    match jwk.get("alg").and_then(|a| a.as_str()) {
        None => Ok(by_shape),
        Some(alg) if accepted_algorithm(alg) == Some(by_shape) => Ok(by_shape),
        Some(alg) => Err(format!(
            "alg {alg:?} does not fit the key (expected {by_shape:?})"
        )),
    }
}

/// The members of a public JWK that the contract knows; a key set fetched from
/// a `jwks_uri` may carry more (`x5c`, `key_ops`, …), which are not kept.
const KNOWN_MEMBERS: [&str; 7] = ["kty", "crv", "x", "y", "kid", "alg", "use"];

/// A public key as the contract states it: Ed25519 (`OKP`) or P-256 (`EC`),
/// with its `kid`. Stored and published in this form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Jwk {
    Ed25519(Ed25519Jwk),
    P256(P256Jwk),
}

/// An Ed25519 public key (RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ed25519Jwk {
    pub kty: OkpKeyType,
    pub crv: Ed25519Curve,
    /// The public key.
    #[schema(value_type = KeyBytesSchema)]
    pub x: String,
    #[schema(value_type = KidSchema)]
    pub kid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<EdDsaAlgorithm>,
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<SignatureUse>,
}

/// A P-256 public key (RFC 7518).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct P256Jwk {
    pub kty: EcKeyType,
    pub crv: P256Curve,
    #[schema(value_type = KeyBytesSchema)]
    pub x: String,
    #[schema(value_type = KeyBytesSchema)]
    pub y: String,
    #[schema(value_type = KidSchema)]
    pub kid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<Es256Algorithm>,
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<SignatureUse>,
}

/// Declares a one-value enum: a JOSE member that must have that value.
macro_rules! only_value {
    ($(#[$doc:meta])* $ty:ident = $value:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $ty {
            #[serde(rename = $value)]
            Only,
        }

        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                serde_json::from_value(serde_json::json!({
                    "type": "string",
                    "enum": [$value],
                    "description": concat!("`", $value, "`."),
                }))
                .unwrap_or_default()
            }
        }

        impl ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($ty))
            }
        }
    };
}

only_value!(
    /// `kty` of an Ed25519 key.
    OkpKeyType = "OKP"
);
only_value!(
    /// `crv` of an Ed25519 key.
    Ed25519Curve = "Ed25519"
);
only_value!(
    /// `alg` of an Ed25519 key.
    EdDsaAlgorithm = "EdDSA"
);
only_value!(
    /// `kty` of a P-256 key.
    EcKeyType = "EC"
);
only_value!(
    /// `crv` of a P-256 key.
    P256Curve = "P-256"
);
only_value!(
    /// `alg` of a P-256 key.
    Es256Algorithm = "ES256"
);
only_value!(
    /// `use` of a signing key.
    SignatureUse = "sig"
);

impl Jwk {
    /// A JWK in the form the contract knows: only its known members, typed.
    fn from_value(value: &serde_json::Value) -> Result<Self, String> {
        let object = value.as_object().ok_or("must be a JSON object")?;
        let known: serde_json::Map<String, serde_json::Value> = object
            .iter()
            .filter(|(k, _)| KNOWN_MEMBERS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_json::from_value(serde_json::Value::Object(known)).map_err(|_| {
            "must be an Ed25519 (kty OKP) or P-256 (kty EC) public key with a kid".to_owned()
        })
    }

    /// A stored key as it is published; `None` for one that does not parse
    /// (logged: stored keys were checked when they came in).
    pub fn from_stored(text: &str) -> Option<Self> {
        let parsed = serde_json::from_str(text)
            .map_err(|e| e.to_string())
            .and_then(|v| Self::from_value(&v));
        match parsed {
            Ok(jwk) => Some(jwk),
            Err(error) => {
                tracing::error!(%error, "a stored key does not parse");
                None
            }
        }
    }
}

/// The key material is a public key of its curve: an Ed25519 `x` of 32 bytes
/// that decompresses to a point not of small order (RFC 8032, 5.1.3), or a
/// P-256 `x` and `y` of 32 bytes each that are a point on the curve (SEC 1,
/// 3.2.2). jsonwebtoken checks neither before it verifies (and an `x` of
/// another length panicked it).
fn check_key_material(jwk: &Jwk) -> Result<(), String> {
    let bytes = |member: &str, value: &str| -> Result<[u8; 32], String> {
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, value)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or_else(|| format!("{member} must be 32 bytes, base64url without padding"))
    };
    match jwk {
        Jwk::Ed25519(k) => {
            let x = bytes("x", &k.x)?;
            match ed25519_dalek::VerifyingKey::from_bytes(&x) {
                Ok(key) if !key.is_weak() => Ok(()),
                _ => Err(
                    "x must be an Ed25519 public key: a point on the curve, not of small order"
                        .into(),
                ),
            }
        }
        Jwk::P256(k) => {
            let (x, y) = (bytes("x", &k.x)?, bytes("y", &k.y)?);
            let mut point = [0u8; 65];
            point[0] = 0x04;
            point[1..33].copy_from_slice(&x);
            point[33..].copy_from_slice(&y);
            p256::PublicKey::from_sec1_bytes(&point)
                .map(|_| ())
                .map_err(|_| "x and y must be a point on the P-256 curve".into())
        }
    }
}

/// The most keys one key set may register at once.
pub const MAX_KEYS: usize = 20;

/// A JWK set as the scheme owner registers it: `{"keys": [...]}`, at most
/// [`MAX_KEYS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JwkSet {
    #[schema(min_items = 1, max_items = 20)]
    pub keys: Vec<Jwk>,
}

/// Every key a certification body ever had, current and retired, as a JWK set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PublishedJwkSet {
    #[schema(max_items = 1000)]
    pub keys: Vec<Jwk>,
}

/// A key ready to verify with.
#[derive(Clone)]
pub struct VerifyingKey {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Turns a stored JWK into a verifying key.
pub fn verifying_key(jwk: &str) -> Result<VerifyingKey, String> {
    let value: serde_json::Value =
        serde_json::from_str(jwk).map_err(|e| format!("is not JSON: {e}"))?;
    let algorithm = algorithm_of(&value)?;
    // A key stored before its material was checked is checked here too: it
    // never reaches jsonwebtoken.
    check_key_material(&Jwk::from_value(&value)?)?;
    let parsed: JoseJwk =
        serde_json::from_value(value).map_err(|e| format!("is not a JWK: {e}"))?;
    let key = DecodingKey::from_jwk(&parsed).map_err(|e| format!("is not a usable key: {e}"))?;
    Ok(VerifyingKey { algorithm, key })
}

/// Checks a JWK set (`{"keys": [...]}`) field by field: each key public (no
/// private members), Ed25519 or P-256, with a `kid`, usable; returns the keys.
pub fn parse_jwks(
    jwks: &serde_json::Value,
    field: &str,
) -> Result<Vec<PublicKey>, Vec<FieldError>> {
    let Some(keys) = jwks.get("keys").and_then(|k| k.as_array()) else {
        return Err(vec![FieldError::new(
            field,
            "must be a JWK set: {\"keys\": [...]}",
        )]);
    };
    if keys.len() > MAX_KEYS {
        return Err(vec![FieldError::new(
            format!("{field}.keys"),
            format!("must list at most {MAX_KEYS} keys"),
        )]);
    }
    let mut out = Vec::new();
    let mut faults = Vec::new();
    for (i, jwk) in keys.iter().enumerate() {
        let at = format!("{field}.keys[{i}]");
        let Some(object) = jwk.as_object() else {
            faults.push(FieldError::new(at, "must be a JSON object"));
            continue;
        };
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|m| object.contains_key(*m))
        {
            faults.push(FieldError::new(
                at,
                "must be a public key: private key members are refused",
            ));
            continue;
        }
        let Some(kid) = object.get("kid").and_then(|k| k.as_str()) else {
            faults.push(FieldError::new(format!("{at}.kid"), "is required"));
            continue;
        };
        // `verifying_key` below checks the key material, as for every stored key.
        let text = match Jwk::from_value(jwk)
            .and_then(|typed| serde_json::to_string(&typed).map_err(|e| e.to_string()))
        {
            Ok(text) => text,
            Err(e) => {
                faults.push(FieldError::new(at, e));
                continue;
            }
        };
        if let Err(e) = verifying_key(&text) {
            faults.push(FieldError::new(at, e));
            continue;
        }
        match PublicKey::new(kid, text) {
            Ok(key) => out.push(key),
            Err(e) => faults.push(e.at(format!("{at}.kid"))),
        }
    }
    if faults.is_empty() {
        Ok(out)
    } else {
        Err(faults)
    }
}

/// Checks a `jwks_uri` by the register's rule for the URLs it calls
/// ([`crate::outbound::Guard`]).
pub fn check_jwks_uri(uri: &str, guard: &crate::outbound::Guard) -> Result<reqwest::Url, String> {
    guard.check(uri)
}

/// The most a key set response may weigh.
const MAX_JWKS_BYTES: usize = 64 * 1024;
/// A fetched key set is fetched again after this long.
const REFRESH_AFTER: Duration = Duration::from_secs(300);

/// When a CB's published set was last fetched.
#[derive(Debug, Clone, Copy, Default)]
struct FetchState {
    last_attempt: Option<Instant>,
    last_success: Option<Instant>,
}

/// One CB's fetch state; holding its lock is the right to fetch (one fetch in
/// flight per CB and address).
type Slot = std::sync::Arc<tokio::sync::Mutex<FetchState>>;

/// What a partner is told when a key set cannot be had: the same words for a
/// closed port, a server that is not HTTP, an error status, or a body that is
/// not a JSON set, so that the answer maps no network (the log has the cause).
const UNREACHABLE: &str =
    "cannot be fetched: no JWK set was served at this address (the register's log has the cause)";

/// Fetches and caches published key sets; the current keys themselves live in the
/// database (so that retired keys are remembered and published).
#[derive(Debug)]
pub struct KeyStore {
    http: reqwest::Client,
    guard: crate::outbound::Guard,
    fetched: Mutex<HashMap<(CbId, String), Slot>>,
    /// An unknown `kid` triggers a fetch at most this often per CB, so random
    /// `kid`s cannot make the register hammer a CB.
    min_refetch_interval: Duration,
}

impl KeyStore {
    pub fn new(
        min_refetch_interval: Duration,
        guard: crate::outbound::Guard,
    ) -> Result<Self, reqwest::Error> {
        let http = guard.client(Duration::from_secs(5))?;
        Ok(Self {
            http,
            guard,
            fetched: Mutex::new(HashMap::new()),
            min_refetch_interval,
        })
    }

    fn slot(&self, cb: &CbId, uri: &str) -> Slot {
        let mut map = self
            .fetched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.entry((cb.clone(), uri.to_owned())).or_default().clone()
    }

    /// Fetches the key set `cb` publishes at `uri` now (an admin asked), one
    /// fetch at a time per CB, and remembers when.
    pub async fn fetch_for(&self, cb: &CbId, uri: &str) -> Result<Vec<PublicKey>, String> {
        let slot = self.slot(cb, uri);
        let mut state = slot.lock().await;
        state.last_attempt = Some(Instant::now());
        let result = self.fetch(uri).await;
        if result.is_ok() {
            state.last_success = Some(Instant::now());
        }
        result
    }

    /// Fetches the key set at `uri`: at most `MAX_JWKS_BYTES`, within the timeout,
    /// checked like an inline set. A set that cannot be had is one message,
    /// whatever the cause; a set that was had names its faulty keys.
    pub async fn fetch(&self, uri: &str) -> Result<Vec<PublicKey>, String> {
        let url = check_jwks_uri(uri, &self.guard)?;
        let body = self.download(url).await.map_err(|cause| {
            tracing::warn!(%uri, %cause, "a key set cannot be fetched");
            UNREACHABLE.to_owned()
        })?;
        parse_jwks(&body, "jwks").map_err(|faults| {
            faults
                .into_iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// The JSON object served at `url`, or why not (for the log).
    async fn download(&self, url: reqwest::Url) -> Result<serde_json::Value, String> {
        let mut response = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(format!("key set larger than {MAX_JWKS_BYTES} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_JWKS_BYTES {
                return Err(format!("key set larger than {MAX_JWKS_BYTES} bytes"));
            }
        }
        match crate::extract::json_value(&body) {
            Ok(value) if value.get("keys").is_some_and(serde_json::Value::is_array) => Ok(value),
            Ok(_) => Err("not a JWK set".into()),
            Err(e) => Err(format!("not JSON with one reading: {e}")),
        }
    }

    /// The current key `kid` of `body`, fetching the CB's published set first when
    /// it is stale, or when `kid` is unknown and the last fetch started long
    /// enough ago. Concurrent requests share one fetch: the others wait for it
    /// and read what it recorded.
    pub async fn key_for(
        &self,
        registry: &Registry,
        body: CertificationBody,
        kid: &str,
    ) -> Result<VerifyingKey, Problem> {
        let mut body = body;
        if let Some(uri) = body.jwks_uri.clone() {
            let slot = self.slot(&body.id, &uri);
            let wants = |state: &FetchState, body: &CertificationBody| {
                let stale = state
                    .last_success
                    .is_none_or(|t| t.elapsed() >= REFRESH_AFTER);
                let may = state
                    .last_attempt
                    .is_none_or(|t| t.elapsed() >= self.min_refetch_interval);
                (stale || body.current_key(kid).is_none()) && may
            };
            // A fetch in flight: a request that needs a key it does not know
            // waits for it; one that knows its key goes on.
            let held = match slot.try_lock() {
                Ok(state) => Some((state, false)),
                Err(_) if body.current_key(kid).is_none() => Some((slot.lock().await, true)),
                Err(_) => None,
            };
            if let Some((mut state, waited)) = held {
                if wants(&state, &body) {
                    // The limit counts from the start of a fetch.
                    state.last_attempt = Some(Instant::now());
                    let fetched = self.fetch(&uri).await;
                    if fetched.is_ok() {
                        state.last_success = Some(Instant::now());
                    }
                    body = self.record(registry, body, kid, fetched).await?;
                } else if waited {
                    // Another request fetched while this one waited: read what
                    // it recorded.
                    let registry = registry.clone();
                    let id = body.id.clone();
                    body = web_block(move || registry.certification_body(&id)).await?;
                }
            }
        }
        let record = body.current_key(kid).ok_or_else(|| {
            Problem::new(
                ProblemType::UnknownKey,
                format!("{} has no current key with kid {kid:?}", body.id),
            )
        })?;
        verifying_key(&record.jwk).map_err(|e| {
            tracing::error!(cb = %body.id, kid, error = %e, "a stored key does not parse");
            Problem::internal()
        })
    }

    /// Records what a fetch for `body` gave: the keys it published, or — when
    /// it failed and nothing current is left to verify with — a refusal.
    async fn record(
        &self,
        registry: &Registry,
        body: CertificationBody,
        kid: &str,
        fetched: Result<Vec<PublicKey>, String>,
    ) -> Result<CertificationBody, Problem> {
        match fetched {
            Ok(keys) => {
                let registry = registry.clone();
                let id = body.id.clone();
                match web_block(move || registry.sync_published_keys(&id, &keys)).await {
                    Ok(updated) => Ok(updated),
                    Err(e) => {
                        tracing::warn!(cb = %body.id, error = %e.detail, "cannot record fetched keys");
                        Ok(body)
                    }
                }
            }
            Err(e) => {
                tracing::warn!(cb = %body.id, error = %e, "cannot fetch the key set");
                if body.current_key(kid).is_none() && body.keys.iter().all(|k| !k.is_current()) {
                    return Err(Problem::new(
                        ProblemType::KeySetUnavailable,
                        format!("the key set of {} cannot be fetched right now", body.id),
                    ));
                }
                Ok(body)
            }
        }
    }
}

async fn web_block<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, registry_core::CoreError> + Send + 'static,
) -> Result<T, Problem> {
    crate::routes::blocking(f).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ED: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    #[test]
    fn only_eddsa_and_es256_are_accepted() {
        assert!(accepted_algorithm("EdDSA").is_some() && accepted_algorithm("ES256").is_some());
        for alg in ["none", "HS256", "HS512", "RS256", "ES384", "eddsa", ""] {
            assert!(accepted_algorithm(alg).is_none(), "{alg}");
        }
    }

    #[test]
    fn jwk_sets_are_checked_key_by_key() {
        let good = json!({"kty": "OKP", "crv": "Ed25519", "x": ED, "kid": "k1"});
        assert_eq!(
            parse_jwks(&json!({"keys": [good]}), "jwks").map(|k| k.len()),
            Ok(1)
        );
        let cases = [
            (
                json!({"kty": "OKP", "crv": "Ed25519", "x": ED}),
                "jwks.keys[0].kid",
            ),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "x": ED, "kid": "k", "d": ED}),
                "jwks.keys[0]",
            ),
            (
                json!({"kty": "oct", "k": "c2VjcmV0", "kid": "k"}),
                "jwks.keys[0]",
            ),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "x": ED, "kid": "k", "alg": "ES256"}),
                "jwks.keys[0]",
            ),
            (
                json!({"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "k"}),
                "jwks.keys[0]",
            ),
        ];
        for (key, field) in cases {
            let errors = parse_jwks(&json!({"keys": [key]}), "jwks").expect_err("refused");
            assert_eq!(errors[0].field, field, "{key}");
        }
        assert!(parse_jwks(&json!([good]), "jwks").is_err());
    }

    /// Published keys (RFC 8032 7.1 test 1, which RFC 8037 A.2 uses; RFC 7515
    /// A.3) pass; points off the curve, of small order or of another length
    /// do not.
    #[test]
    fn key_material_is_a_point_of_its_curve() {
        let ed = |x: &str| {
            Jwk::from_value(&json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k"}))
                .and_then(|k| check_key_material(&k))
        };
        let p256 = |x: &str, y: &str| {
            Jwk::from_value(&json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": "k"}))
                .and_then(|k| check_key_material(&k))
        };
        let hex = |h: &str| -> String {
            let bytes: Vec<u8> = (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
                .collect();
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
        };
        let rfc8032 = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        assert_eq!(rfc8032, ED);
        assert_eq!(ed(ED), Ok(()));
        // The identity and the point of order 2: small order.
        let identity = hex("0100000000000000000000000000000000000000000000000000000000000000");
        let order_two = hex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
        for x in [
            identity,
            order_two,
            hex("010203"),
            hex(&"07".repeat(33)),
            "!!".into(),
        ] {
            assert!(ed(&x).is_err(), "{x}");
        }
        let (x, y) = (
            "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        );
        assert_eq!(p256(x, y), Ok(()));
        let off = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4";
        assert!(p256(x, off).is_err());
        assert!(p256(&hex(&"01".repeat(32)), &hex(&"01".repeat(32))).is_err());
        assert!(p256(&hex(&"01".repeat(31)), y).is_err());
        // A key stored before the check never reaches jsonwebtoken (whose
        // Ed25519 verification panicked on a 3-byte x).
        assert!(verifying_key(r#"{"kty":"OKP","crv":"Ed25519","x":"AQID","kid":"k"}"#).is_err());
        assert!(
            verifying_key(&format!(
                r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED}","kid":"k"}}"#
            ))
            .is_ok()
        );
    }

    #[test]
    fn jwks_uris_are_https_or_loopback_http() {
        let local = crate::outbound::Guard {
            allow_loopback: true,
        };
        assert!(check_jwks_uri("https://cb.example/jwks.json", &local).is_ok());
        assert!(check_jwks_uri("http://127.0.0.1:8000/jwks.json", &local).is_ok());
        assert!(check_jwks_uri("http://localhost/jwks.json", &local).is_ok());
        assert!(check_jwks_uri("http://cb.example/jwks.json", &local).is_err());
        assert!(check_jwks_uri("file:///etc/passwd", &local).is_err());
        assert!(check_jwks_uri("not a url", &local).is_err());
        assert!(check_jwks_uri("https://169.254.169.254/jwks.json", &local).is_err());
    }
}
