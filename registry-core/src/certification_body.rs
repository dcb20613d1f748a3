//! Certification bodies (CBs): who may write to the register.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::validation::InvalidValue;

/// A CB's id as the scheme owner registered it: a lower-case slug of 2 to 64
/// characters (`a-z`, `0-9`, `-`), starting and ending with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct CbId(String);

impl CbId {
    /// What `parse` accepts, as a regular expression (for the API's contract).
    pub const PATTERN: &'static str = "^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$";

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let b = s.as_bytes();
        let allowed = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-';
        let edge = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if (2..=64).contains(&b.len()) && b.iter().all(allowed) && edge(b.first()) && edge(b.last())
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "must be a lower-case slug of 2 to 64 characters (a-z, 0-9, -)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for CbId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CbId {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CbId> for String {
    fn from(c: CbId) -> Self {
        c.0
    }
}

impl fmt::Display for CbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A CB's standing with the scheme owner. Only an `active` CB may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accreditation {
    Active,
    Suspended,
    Withdrawn,
}

impl Accreditation {
    pub const ALL: [Accreditation; 3] = [
        Accreditation::Active,
        Accreditation::Suspended,
        Accreditation::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Accreditation::Active => "active",
            Accreditation::Suspended => "suspended",
            Accreditation::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        Accreditation::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| InvalidValue::new("must be one of active, suspended, withdrawn"))
    }
}

/// One public key: a JWK (a JSON object, kept as text) and its `kid`. The core
/// stores keys without interpreting them; the api checks them and verifies
/// signatures with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicKey {
    pub kid: String,
    pub jwk: String,
}

impl PublicKey {
    /// Longest `kid` accepted.
    pub const MAX_KID_LEN: usize = 200;
    /// The `kid`s `new` accepts, as a regular expression (for the API's contract).
    pub const KID_PATTERN: &'static str = "^[!-~]{1,200}$";

    pub fn new(kid: &str, jwk: String) -> Result<Self, InvalidValue> {
        if kid.is_empty()
            || kid.len() > Self::MAX_KID_LEN
            || !kid.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(InvalidValue::new(
                "kid must be 1 to 200 printable ASCII characters",
            ));
        }
        Ok(Self {
            kid: kid.to_owned(),
            jwk,
        })
    }
}

/// Where a CB's keys come from: registered inline by the scheme owner, or
/// published by the CB at a URL that the register fetches (`keys`: the set as
/// fetched just now, recorded with the address in one transaction, or neither).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    Inline(Vec<PublicKey>),
    Published { uri: String, keys: Vec<PublicKey> },
}

impl KeySource {
    /// The request field a fault in these keys is named by.
    pub fn field(&self) -> &'static str {
        match self {
            KeySource::Inline(_) => "jwks",
            KeySource::Published { .. } => "jwks_uri",
        }
    }

    pub fn keys(&self) -> &[PublicKey] {
        match self {
            KeySource::Inline(keys) | KeySource::Published { keys, .. } => keys,
        }
    }

    pub fn uri(&self) -> Option<&str> {
        match self {
            KeySource::Inline(_) => None,
            KeySource::Published { uri, .. } => Some(uri),
        }
    }
}

/// A key as the register keeps it: current, or retired (kept so that evidence
/// signed with it stays verifiable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRecord {
    pub kid: String,
    pub jwk: String,
    pub first_seen: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

impl KeyRecord {
    pub fn is_current(&self) -> bool {
        self.retired_at.is_none()
    }
}

/// A certification body as registered by the scheme owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificationBody {
    pub id: CbId,
    pub name: String,
    pub accreditation: Accreditation,
    /// Where it publishes its key set, when it does.
    pub jwks_uri: Option<String>,
    /// Every key it ever had, current and retired, oldest first.
    pub keys: Vec<KeyRecord>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CertificationBody {
    /// A current key by `kid`; a retired key verifies no new request.
    pub fn current_key(&self, kid: &str) -> Option<&KeyRecord> {
        self.keys.iter().find(|k| k.kid == kid && k.is_current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cb_ids_are_lower_case_slugs() {
        for ok in ["kiwa", "normec-certification", "cb-2"] {
            assert!(CbId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["Kiwa", "-kiwa", "kiwa-", "k", "kiwa nl", "kiwa_nl", ""] {
            assert!(CbId::parse(bad).is_err(), "{bad}");
        }
    }
}
