//! The append-only event log: every change to the register, in one order.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::certificate::{CertificateNumber, Standing};
use crate::certification_body::CbId;
use crate::validation::InvalidValue;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Issued,
    Renewed,
    Suspended,
    Reinstated,
    Revoked,
    /// Replaced by another certificate for the same main applicant.
    Superseded,
    /// A period ended without a renewal (recorded by the expiry job; the status
    /// rule does not need it).
    Expired,
    /// The scheme owner accredited a certification body.
    CertificationBodyAccredited,
    /// The scheme owner changed a certification body's name, keys or accreditation.
    CertificationBodyChanged,
    /// The key set a CB publishes at its `jwks_uri` changed (rotation).
    CertificationBodyKeysChanged,
}

impl EventKind {
    pub const ALL: [EventKind; 10] = [
        EventKind::Issued,
        EventKind::Renewed,
        EventKind::Suspended,
        EventKind::Reinstated,
        EventKind::Revoked,
        EventKind::Superseded,
        EventKind::Expired,
        EventKind::CertificationBodyAccredited,
        EventKind::CertificationBodyChanged,
        EventKind::CertificationBodyKeysChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Issued => "issued",
            EventKind::Renewed => "renewed",
            EventKind::Suspended => "suspended",
            EventKind::Reinstated => "reinstated",
            EventKind::Revoked => "revoked",
            EventKind::Superseded => "superseded",
            EventKind::Expired => "expired",
            EventKind::CertificationBodyAccredited => "certification_body_accredited",
            EventKind::CertificationBodyChanged => "certification_body_changed",
            EventKind::CertificationBodyKeysChanged => "certification_body_keys_changed",
        }
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| InvalidValue::new(format!("unknown event kind {s:?}")))
    }

    /// The standing this event sets on its certificate, if it sets one.
    pub fn standing(self) -> Option<Standing> {
        match self {
            EventKind::Suspended => Some(Standing::Suspended),
            EventKind::Reinstated => Some(Standing::Reinstated),
            EventKind::Revoked => Some(Standing::Revoked),
            EventKind::Superseded => Some(Standing::Superseded),
            _ => None,
        }
    }
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Strictly increasing, never reused, never reordered.
    pub seq: i64,
    pub kind: EventKind,
    pub certificate_number: Option<CertificateNumber>,
    pub certification_body: Option<CbId>,
    /// When the change takes effect (a suspension may be dated).
    pub effective_at: DateTime<Utc>,
    /// When the register recorded it.
    pub recorded_at: DateTime<Utc>,
    /// What changed, as JSON (the new period, the reason, …).
    pub detail: serde_json::Value,
    /// The signed request that caused it (a CB's compact JWS), verbatim.
    pub evidence: Option<String>,
    /// Its entry in the transparency log.
    pub log_index: Option<u64>,
}

/// A signed request's id (`jti`): 1 to 200 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// What `parse` accepts, as a regular expression (for the API's contract).
    pub const PATTERN: &'static str = "^[!-~]{1,200}$";

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if !s.is_empty() && s.len() <= 200 && s.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "must be 1 to 200 printable ASCII characters",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The signed request behind a CB's write: its id, until when it could be
/// replayed, and the compact JWS itself, kept as evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub id: RequestId,
    /// The request's `exp` plus the allowed clock skew: the replay guard keeps the
    /// id at least until then.
    pub replayable_until: DateTime<Utc>,
    pub compact_jws: String,
}

/// Who asks for a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An accredited CB, acting on its own certificates.
    CertificationBody(CbId),
    /// The scheme owner (administration).
    SchemeOwner,
}

/// Who asks for a change, and the signed request that proves it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub actor: Actor,
    pub request: Option<SignedRequest>,
}

impl Provenance {
    pub fn scheme_owner() -> Self {
        Self {
            actor: Actor::SchemeOwner,
            request: None,
        }
    }

    pub fn certification_body(id: CbId, request: Option<SignedRequest>) -> Self {
        Self {
            actor: Actor::CertificationBody(id),
            request,
        }
    }
}
