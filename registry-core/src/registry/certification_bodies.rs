//! The scheme owner's side: accrediting certification bodies, changing them, and
//! keeping every key they ever had (retired keys stay, so that evidence signed
//! with them remains verifiable).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::Registry;
use super::event_log::{self, NewEvent};
use crate::certification_body::{Accreditation, CbId, CertificationBody, KeySource, PublicKey};
use crate::error::CoreError;
use crate::event::{EventKind, Provenance};
use crate::storage::AnyConnection;
use crate::storage::rows::{CbRow, KeyRow, to_db};
use crate::storage::schema::{cb_keys, certification_bodies};
use crate::time;
use crate::validation::FieldError;

/// Accredit a new certification body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accredit {
    pub id: CbId,
    pub name: String,
    pub keys: KeySource,
}

/// A change to a certification body; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CertificationBodyChange {
    pub name: Option<String>,
    pub keys: Option<KeySource>,
    pub accreditation: Option<Accreditation>,
}

/// Which keys a sync added and retired.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeyChanges {
    pub added: Vec<String>,
    pub retired: Vec<String>,
}

impl KeyChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.retired.is_empty()
    }
}

fn load(conn: &mut AnyConnection, id: &CbId) -> Result<Option<CertificationBody>, CoreError> {
    let row: Option<CbRow> = certification_bodies::table
        .find(id.as_str())
        .select(CbRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    let keys: Vec<KeyRow> = cb_keys::table
        .filter(cb_keys::cb_id.eq(id.as_str()))
        .order((cb_keys::first_seen.asc(), cb_keys::kid.asc()))
        .select(KeyRow::as_select())
        .load(conn)?;
    Ok(Some(row.into_domain(keys)?))
}

fn load_existing(conn: &mut AnyConnection, id: &CbId) -> Result<CertificationBody, CoreError> {
    load(conn, id)?.ok_or_else(|| CoreError::CertificationBodyNotFound(id.clone()))
}

/// Refuses a write by a CB that does not exist or is not accredited `active`.
pub(crate) fn ensure_active(conn: &mut AnyConnection, id: &CbId) -> Result<(), CoreError> {
    let accreditation: Option<String> = certification_bodies::table
        .find(id.as_str())
        .select(certification_bodies::accreditation)
        .first(conn)
        .optional()?;
    let accreditation =
        accreditation.ok_or_else(|| CoreError::CertificationBodyNotFound(id.clone()))?;
    let accreditation =
        Accreditation::parse(&accreditation).map_err(|e| CoreError::Storage(e.to_string()))?;
    if accreditation != Accreditation::Active {
        return Err(CoreError::NotAccredited {
            id: id.clone(),
            accreditation,
        });
    }
    Ok(())
}

fn same_jwk(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A fault in key `i` of a set that came as `field` (`jwks`: that key's
/// `kid` is named; `jwks_uri`: the address, with the key it published).
fn key_fault(field: &str, i: usize, message: &str) -> FieldError {
    if field == "jwks" {
        FieldError::new(format!("jwks.keys[{i}].kid"), message)
    } else {
        FieldError::new(
            field,
            format!("publishes a set whose keys[{i}].kid {message}"),
        )
    }
}

/// Makes `keys` the CB's current keys: new ones are added, missing ones retired,
/// a retired one that reappears is current again. A `kid` never changes its key.
/// Faults are named by `field`, where the keys came from.
fn sync_keys(
    conn: &mut AnyConnection,
    body: &CertificationBody,
    keys: &[PublicKey],
    field: &str,
    now: DateTime<Utc>,
) -> Result<KeyChanges, CoreError> {
    let mut changes = KeyChanges::default();
    let mut faults = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        if keys[..i].iter().any(|k| k.kid == key.kid) {
            faults.push(key_fault(field, i, "is used by another key in the set"));
            continue;
        }
        match body.keys.iter().find(|k| k.kid == key.kid) {
            Some(known) if !same_jwk(&known.jwk, &key.jwk) => faults.push(key_fault(
                field,
                i,
                "already names another key of this certification body; a kid is never reused",
            )),
            Some(known) if known.is_current() => {}
            Some(_) => {
                diesel::update(cb_keys::table.find((body.id.as_str(), key.kid.as_str())))
                    .set(cb_keys::retired_at.eq(None::<chrono::NaiveDateTime>))
                    .execute(conn)?;
                changes.added.push(key.kid.clone());
            }
            None => {
                diesel::insert_into(cb_keys::table)
                    .values(KeyRow {
                        cb_id: body.id.as_str().to_owned(),
                        kid: key.kid.clone(),
                        jwk: key.jwk.clone(),
                        first_seen: to_db(now),
                        retired_at: None,
                    })
                    .execute(conn)?;
                changes.added.push(key.kid.clone());
            }
        }
    }
    if !faults.is_empty() {
        return Err(CoreError::Validation(faults));
    }
    for known in body.keys.iter().filter(|k| k.is_current()) {
        if !keys.iter().any(|k| k.kid == known.kid) {
            diesel::update(cb_keys::table.find((body.id.as_str(), known.kid.as_str())))
                .set(cb_keys::retired_at.eq(Some(to_db(now))))
                .execute(conn)?;
            changes.retired.push(known.kid.clone());
        }
    }
    Ok(changes)
}

/// What an admin event records about a change (keys by kid, never key material
/// beyond what is public anyway).
#[derive(Debug, Serialize)]
struct AdminDetail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    accreditation: Option<Accreditation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<&'a str>,
    #[serde(skip_serializing_if = "KeyChanges::is_empty")]
    keys: KeyChanges,
}

impl Registry {
    /// Accredits a certification body (`active`) with its keys, recording the
    /// event; a refused key refuses the whole accreditation.
    pub fn accredit(&self, command: Accredit) -> Result<CertificationBody, CoreError> {
        let now = time::now();
        self.write(|conn| {
            if load(conn, &command.id)?.is_some() {
                return Err(CoreError::CertificationBodyExists(command.id.clone()));
            }
            let jwks_uri = command.keys.uri().map(str::to_owned);
            diesel::insert_into(certification_bodies::table)
                .values(CbRow {
                    id: command.id.as_str().to_owned(),
                    name: command.name.clone(),
                    accreditation: Accreditation::Active.as_str().to_owned(),
                    jwks_uri: jwks_uri.clone(),
                    created_at: to_db(now),
                    updated_at: to_db(now),
                })
                .execute(conn)?;
            let body = load_existing(conn, &command.id)?;
            let keys = sync_keys(conn, &body, command.keys.keys(), command.keys.field(), now)?;
            let detail = AdminDetail {
                name: Some(&command.name),
                accreditation: Some(Accreditation::Active),
                jwks_uri: jwks_uri.as_deref(),
                keys,
            };
            event_log::append(
                conn,
                NewEvent {
                    kind: EventKind::CertificationBodyAccredited,
                    certificate: None,
                    cb: Some(&command.id),
                    effective_at: now,
                    recorded_at: now,
                    detail: &detail,
                    provenance: Some(&Provenance::scheme_owner()),
                },
            )?;
            load_existing(conn, &command.id)
        })
    }

    /// Changes a certification body's name, keys or accreditation, recording the
    /// event. A change that changes nothing records nothing.
    pub fn change_certification_body(
        &self,
        id: &CbId,
        change: CertificationBodyChange,
    ) -> Result<CertificationBody, CoreError> {
        let now = time::now();
        self.write(|conn| {
            let before = load_existing(conn, id)?;
            let name = change.name.clone().filter(|n| *n != before.name);
            let accreditation = change.accreditation.filter(|a| *a != before.accreditation);
            let (jwks_uri, keys) = match &change.keys {
                None => (before.jwks_uri.clone(), KeyChanges::default()),
                Some(source) => (
                    source.uri().map(str::to_owned),
                    sync_keys(conn, &before, source.keys(), source.field(), now)?,
                ),
            };
            let uri_changed = jwks_uri != before.jwks_uri;
            if name.is_none() && accreditation.is_none() && !uri_changed && keys.is_empty() {
                return Ok(before);
            }
            diesel::update(certification_bodies::table.find(id.as_str()))
                .set((
                    certification_bodies::name.eq(name.as_deref().unwrap_or(&before.name)),
                    certification_bodies::accreditation
                        .eq(accreditation.unwrap_or(before.accreditation).as_str()),
                    certification_bodies::jwks_uri.eq(&jwks_uri),
                    certification_bodies::updated_at.eq(to_db(now)),
                ))
                .execute(conn)?;
            let detail = AdminDetail {
                name: name.as_deref(),
                accreditation,
                jwks_uri: if uri_changed {
                    jwks_uri.as_deref().or(Some(""))
                } else {
                    None
                },
                keys,
            };
            event_log::append(
                conn,
                NewEvent {
                    kind: EventKind::CertificationBodyChanged,
                    certificate: None,
                    cb: Some(id),
                    effective_at: now,
                    recorded_at: now,
                    detail: &detail,
                    provenance: Some(&Provenance::scheme_owner()),
                },
            )?;
            load_existing(conn, id)
        })
    }

    /// Records the key set just fetched from a CB's `jwks_uri` as its current
    /// keys (an event when that changes anything), and returns the CB.
    pub fn sync_published_keys(
        &self,
        id: &CbId,
        keys: &[PublicKey],
    ) -> Result<CertificationBody, CoreError> {
        let now = time::now();
        self.write(|conn| {
            let body = load_existing(conn, id)?;
            if body.jwks_uri.is_none() {
                return Ok(body);
            }
            let changes = sync_keys(conn, &body, keys, "jwks_uri", now)?;
            if changes.is_empty() {
                return Ok(body);
            }
            event_log::append(
                conn,
                NewEvent {
                    kind: EventKind::CertificationBodyKeysChanged,
                    certificate: None,
                    cb: Some(id),
                    effective_at: now,
                    recorded_at: now,
                    detail: &changes,
                    provenance: None,
                },
            )?;
            load_existing(conn, id)
        })
    }

    pub fn certification_body(&self, id: &CbId) -> Result<CertificationBody, CoreError> {
        self.read(|conn| load_existing(conn, id))
    }

    /// Every certification body, by id.
    pub fn certification_bodies(&self) -> Result<Vec<CertificationBody>, CoreError> {
        self.read(|conn| {
            let ids: Vec<String> = certification_bodies::table
                .order(certification_bodies::id.asc())
                .select(certification_bodies::id)
                .load(conn)?;
            ids.iter()
                .map(|id| {
                    let id = CbId::parse(id).map_err(|e| CoreError::Storage(e.to_string()))?;
                    load_existing(conn, &id)
                })
                .collect()
        })
    }
}
