//! API clients: the keys the scheme owner issues to tender platforms.
//!
//! A key reads `pso_<id>_<secret>`: the id finds the client, the secret (32
//! random bytes, hex) proves it. Only the SHA-256 of the secret is stored; a
//! presented key is compared with it in constant time. Keys are looked up once
//! and remembered for [`REMEMBER`], so that a client's checks cost no
//! database round trip; a revocation therefore takes effect on every replica
//! within that time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::header;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::problem::{Problem, ProblemType};

/// How long a looked-up key is trusted before it is looked up again.
pub const REMEMBER: Duration = Duration::from_secs(10);
/// Most keys remembered at once (a flood of made-up ids cannot grow it).
const MAX_REMEMBERED: usize = 10_000;

const PREFIX: &str = "pso_";
const ID_CHARS: usize = 16;
const SECRET_HEX: usize = 64;

/// Who is asking, as far as the register needs to know for its limits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// An API client, by its id.
    Client(String),
    /// Anyone else, by address (an IPv6 address by its /64).
    Anonymous(std::net::IpAddr),
}

/// A newly issued key: shown once.
#[derive(Debug)]
pub struct IssuedKey {
    pub id: String,
    pub key: String,
    pub key_hash: String,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], Problem> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| Problem::internal())?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random id of `prefix` and 16 lowercase letters and digits.
pub fn random_id(prefix: &str) -> Result<String, Problem> {
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let bytes = random_bytes::<ID_CHARS>()?;
    Ok(format!(
        "{prefix}{}",
        bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
            .collect::<String>()
    ))
}

/// Makes a key for a new client.
pub fn issue_key() -> Result<IssuedKey, Problem> {
    let id = random_id("cl_")?;
    let secret = hex(&random_bytes::<32>()?);
    Ok(IssuedKey {
        key: format!("{PREFIX}{id}_{secret}"),
        key_hash: hash(&secret),
        id,
    })
}

fn hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// The id and secret of a key of the register's shape.
fn parse_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.rsplit_once('_')?;
    let well_formed = id.len() == 3 + ID_CHARS
        && id.starts_with("cl_")
        && id[3..].bytes().all(|b| b.is_ascii_alphanumeric())
        && secret.len() == SECRET_HEX
        && secret.bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then_some((id, secret))
}

/// The bearer key a request presents, when it presents one of the register's
/// client keys (the scheme owner's token is another kind of bearer).
pub fn presented(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|k| k.starts_with(PREFIX))
}

#[derive(Debug, Clone)]
struct Remembered {
    key_hash: Option<String>,
    revoked: bool,
    at: Instant,
}

/// Looked-up keys.
#[derive(Debug, Default)]
pub struct Clients {
    remembered: Mutex<HashMap<String, Remembered>>,
}

fn unauthorized() -> Problem {
    Problem::new(
        ProblemType::Unauthorized,
        "the API key is not valid (unknown, malformed or revoked)",
    )
}

impl Clients {
    /// Checks `key` and returns its client's id; a key that is malformed,
    /// unknown or revoked is refused.
    pub async fn authenticate(
        &self,
        registry: &registry_core::Registry,
        key: &str,
    ) -> Result<String, Problem> {
        let (id, secret) = parse_key(key).ok_or_else(unauthorized)?;
        let known = self.remembered(id);
        let known = match known {
            Some(k) => k,
            None => {
                let registry = registry.clone();
                let lookup = id.to_owned();
                let credential =
                    crate::routes::blocking(move || registry.client_credential(&lookup)).await?;
                let entry = Remembered {
                    key_hash: credential.as_ref().map(|c| c.key_hash.clone()),
                    revoked: credential.is_some_and(|c| c.revoked),
                    at: Instant::now(),
                };
                self.remember(id, entry.clone());
                entry
            }
        };
        let presented = hash(secret);
        let expected = known.key_hash.as_deref().unwrap_or("");
        let same: bool = presented.as_bytes().ct_eq(expected.as_bytes()).into();
        if same && !known.revoked && known.key_hash.is_some() {
            Ok(id.to_owned())
        } else {
            Err(unauthorized())
        }
    }

    /// Forgets what was looked up for `id` (after a revocation here).
    pub fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Remembered>> {
        self.remembered
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn remembered(&self, id: &str) -> Option<Remembered> {
        self.lock()
            .get(id)
            .filter(|r| r.at.elapsed() < REMEMBER)
            .cloned()
    }

    fn remember(&self, id: &str, entry: Remembered) {
        let mut map = self.lock();
        if map.len() >= MAX_REMEMBERED {
            map.retain(|_, r| r.at.elapsed() < REMEMBER);
            if map.len() >= MAX_REMEMBERED {
                map.clear();
            }
        }
        map.insert(id.to_owned(), entry);
    }
}

/// The API client a request comes from (the rate limiter found it): for the
/// routes only clients may use.
#[derive(Debug, Clone)]
pub struct ApiClient(pub String);

impl actix_web::FromRequest for ApiClient {
    type Error = Problem;
    type Future = std::future::Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        use actix_web::HttpMessage;
        let caller = req.extensions().get::<Caller>().cloned();
        std::future::ready(match caller {
            Some(Caller::Client(id)) => Ok(ApiClient(id)),
            _ => Err(Problem::new(
                ProblemType::Unauthorized,
                "subscriptions need an API client's key: Authorization: Bearer pso_…",
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_keys_parse_and_hash() {
        let issued = issue_key().expect("key");
        let (id, secret) = parse_key(&issued.key).expect("parses");
        assert_eq!(id, issued.id);
        assert_eq!(hash(secret), issued.key_hash);
        assert!(!issued.key_hash.contains(secret));
        assert!(parse_key("pso_cl_x_00").is_none());
        assert!(parse_key(&issued.key.replace("pso_", "psx_")).is_none());
        assert!(parse_key(&format!("{}0", issued.key)).is_none());
    }
}
