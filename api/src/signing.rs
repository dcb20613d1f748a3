//! The register's own signing key: loaded from `REGISTRY_SIGNING_KEY_FILE`
//! (PKCS#8 PEM, Ed25519), or on SQLite made at first start beside the
//! database file; retired keys (public, PEM) from
//! `REGISTRY_RETIRED_KEYS_FILE`, so that what they signed stays verifiable.
//! Published as a JWK set and as a signed-note verifier key; the private key
//! never leaves this module but as signatures.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use registry_core::DatabaseUrl;
use registry_core::log::RegisterKey;
use sha2::{Digest, Sha256};

use crate::config::Config;

/// The file name of a key made at first start, beside the SQLite database.
pub const GENERATED_KEY_FILE: &str = "signing-key.pem";

/// Why the signing key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error(
        "REGISTRY_SIGNING_KEY_FILE is required on PostgreSQL: every replica must sign with the same key"
    )]
    Required,
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write a new signing key to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an Ed25519 private key in PKCS#8 PEM")]
    NotAKey { path: PathBuf },
    #[error("{path}: block {block} is not an Ed25519 public key in PEM")]
    NotAPublicKey { path: PathBuf, block: usize },
    #[error("cannot make a key: {0}")]
    Random(String),
    #[error(transparent)]
    Name(#[from] registry_core::log::note::BadName),
}

/// The register's keys, as it signs and publishes them.
#[derive(Debug)]
pub struct Signing {
    key: RegisterKey,
    kid: String,
    /// The protected header of a signed answer, encoded.
    answer_header: String,
    retired: Vec<VerifyingKey>,
    jwks: String,
}

impl Signing {
    /// Loads (or, on SQLite without a configured file, makes) the keys.
    pub fn load(config: &Config) -> Result<Signing, SigningError> {
        let path = match (&config.signing_key_file, &config.database_url) {
            (Some(path), _) => path.clone(),
            (None, DatabaseUrl::Sqlite(db)) => db
                .parent()
                .unwrap_or_else(|| Path::new("."))
                .join(GENERATED_KEY_FILE),
            (None, DatabaseUrl::Postgres(_)) => return Err(SigningError::Required),
        };
        let key = if config.signing_key_file.is_none() && !path.exists() {
            make_key(&path)?
        } else {
            read_key(&path)?
        };
        let retired = match &config.retired_keys_file {
            Some(path) => read_public_keys(path)?,
            None => Vec::new(),
        };
        Signing::new(&config.origin, key, retired)
    }

    /// The keys from their parts.
    pub fn new(
        origin: &str,
        key: SigningKey,
        retired: Vec<VerifyingKey>,
    ) -> Result<Signing, SigningError> {
        let key = RegisterKey::new(origin, key)?;
        let current = key.public();
        let kid = thumbprint(&current);
        let keys: Vec<serde_json::Value> = std::iter::once(&current)
            .chain(retired.iter().filter(|k| **k != current))
            .map(|k| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": URL_SAFE_NO_PAD.encode(k.as_bytes()),
                    "kid": thumbprint(k),
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        let jwks = serde_json::json!({ "keys": keys }).to_string();
        let header = serde_json::json!({
            "alg": "EdDSA",
            "kid": kid,
            "typ": crate::signed_answer::STATUS_TYP,
        });
        let answer_header = URL_SAFE_NO_PAD.encode(header.to_string());
        Ok(Signing {
            key,
            kid,
            answer_header,
            retired,
            jwks,
        })
    }

    /// The current key (signing notes and answers).
    pub fn key(&self) -> &RegisterKey {
        &self.key
    }

    /// The current key's `kid`: its RFC 7638 thumbprint.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The protected header of a signed answer, base64url.
    pub fn answer_header(&self) -> &str {
        &self.answer_header
    }

    /// The published JWK set: the current key first, then the retired ones.
    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    /// Every key a checkpoint of this register may be signed with, by name.
    pub fn note_keys(&self) -> Vec<(String, VerifyingKey)> {
        std::iter::once(self.key.public())
            .chain(self.retired.iter().copied())
            .map(|k| (self.key.name().to_owned(), k))
            .collect()
    }
}

/// RFC 7638 thumbprint of an Ed25519 key (RFC 8037): base64url of the SHA-256
/// of `{"crv":"Ed25519","kty":"OKP","x":"…"}`.
pub fn thumbprint(key: &VerifyingKey) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(key.as_bytes())
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn read_key(path: &Path) -> Result<SigningKey, SigningError> {
    let pem = std::fs::read_to_string(path).map_err(|source| SigningError::Read {
        path: path.to_owned(),
        source,
    })?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|_| SigningError::NotAKey {
        path: path.to_owned(),
    })
}

/// Makes a key and writes it, readable by its owner only, to a file that
/// must not exist yet.
pub fn make_key(path: &Path) -> Result<SigningKey, SigningError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| SigningError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&secret);
    secret.fill(0);
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|e| SigningError::Random(e.to_string()))?;
    let write = |path: &Path| -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        file.write_all(pem.as_bytes())?;
        file.sync_all()
    };
    write(path).map_err(|source| SigningError::Write {
        path: path.to_owned(),
        source,
    })?;
    tracing::info!(path = %path.display(), "made the register's signing key");
    Ok(key)
}

/// Public keys, one PEM block (`PUBLIC KEY`, SPKI) each.
fn read_public_keys(path: &Path) -> Result<Vec<VerifyingKey>, SigningError> {
    let text = std::fs::read_to_string(path).map_err(|source| SigningError::Read {
        path: path.to_owned(),
        source,
    })?;
    const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
    text.split(BEGIN)
        .skip(1)
        .enumerate()
        .map(|(i, block)| {
            VerifyingKey::from_public_key_pem(&format!("{BEGIN}{block}")).map_err(|_| {
                SigningError::NotAPublicKey {
                    path: path.to_owned(),
                    block: i + 1,
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbprint_is_rfc_8037s() {
        // RFC 8037 appendix A.3: the thumbprint of the example key of A.2.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .expect("base64");
        let key = VerifyingKey::from_bytes(&x.try_into().expect("32 bytes")).expect("key");
        assert_eq!(
            thumbprint(&key),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn a_made_key_is_kept_private_and_read_back() {
        let dir = std::env::temp_dir().join(format!("pso-key-{}", std::process::id()));
        let path = dir.join(GENERATED_KEY_FILE);
        let _ = std::fs::remove_file(&path);
        let made = make_key(&path).expect("made");
        assert!(
            make_key(&path).is_err(),
            "an existing key is never overwritten"
        );
        assert_eq!(read_key(&path).expect("read").to_bytes(), made.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o077, 0, "owner only");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
