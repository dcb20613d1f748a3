//! The scheme owner's side: accrediting certification bodies and changing them.

use diesel::prelude::*;
use serde::Serialize;

use super::Registry;
use super::event_log;
use crate::certification_body::{Accreditation, CbId, CertificationBody, KeySource};
use crate::error::CoreError;
use crate::event::{EventKind, Provenance};
use crate::storage::AnyConnection;
use crate::storage::rows::{CbRow, to_db};
use crate::storage::schema::certification_bodies;
use crate::time;

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

fn key_columns(keys: &KeySource) -> (Option<String>, Option<String>) {
    match keys {
        KeySource::Jwks(jwks) => (Some(jwks.clone()), None),
        KeySource::JwksUri(uri) => (None, Some(uri.clone())),
    }
}

fn load(conn: &mut AnyConnection, id: &CbId) -> Result<Option<CertificationBody>, CoreError> {
    let row: Option<CbRow> = certification_bodies::table
        .find(id.as_str())
        .select(CbRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(CbRow::into_domain).transpose()?)
}

/// The CB behind a write, which must exist and be accredited `active`.
pub(crate) fn active_body(
    conn: &mut AnyConnection,
    id: &CbId,
) -> Result<CertificationBody, CoreError> {
    let body = load(conn, id)?.ok_or_else(|| CoreError::CertificationBodyNotFound(id.clone()))?;
    if body.accreditation != Accreditation::Active {
        return Err(CoreError::NotAccredited {
            id: id.clone(),
            accreditation: body.accreditation,
        });
    }
    Ok(body)
}

impl Registry {
    /// Accredits a certification body (`active`), recording the event.
    pub fn accredit(&self, command: Accredit) -> Result<CertificationBody, CoreError> {
        let now = time::now();
        self.write(|conn| {
            if load(conn, &command.id)?.is_some() {
                return Err(CoreError::CertificationBodyExists(command.id.clone()));
            }
            let (jwks, jwks_uri) = key_columns(&command.keys);
            diesel::insert_into(certification_bodies::table)
                .values(CbRow {
                    id: command.id.as_str().to_owned(),
                    name: command.name.clone(),
                    accreditation: Accreditation::Active.as_str().to_owned(),
                    jwks,
                    jwks_uri,
                    created_at: to_db(now),
                    updated_at: to_db(now),
                })
                .execute(conn)?;
            let detail = serde_json::json!({
                "name": command.name,
                "accreditation": Accreditation::Active,
                "keys": command.keys,
            });
            event_log::append(
                conn,
                event_log::NewEvent {
                    kind: EventKind::CertificationBodyAccredited,
                    certificate_id: None,
                    cb: Some(&command.id),
                    effective_at: now,
                    recorded_at: now,
                    detail: &detail,
                    provenance: Some(&Provenance::scheme_owner()),
                },
            )?;
            load(conn, &command.id)?
                .ok_or_else(|| CoreError::CertificationBodyNotFound(command.id.clone()))
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
            let before =
                load(conn, id)?.ok_or_else(|| CoreError::CertificationBodyNotFound(id.clone()))?;
            let name = change.name.clone().unwrap_or_else(|| before.name.clone());
            let keys = change.keys.clone().unwrap_or_else(|| before.keys.clone());
            let accreditation = change.accreditation.unwrap_or(before.accreditation);
            if name == before.name && keys == before.keys && accreditation == before.accreditation {
                return Ok(before);
            }
            let (jwks, jwks_uri) = key_columns(&keys);
            diesel::update(certification_bodies::table.find(id.as_str()))
                .set((
                    certification_bodies::name.eq(&name),
                    certification_bodies::accreditation.eq(accreditation.as_str()),
                    certification_bodies::jwks.eq(jwks),
                    certification_bodies::jwks_uri.eq(jwks_uri),
                    certification_bodies::updated_at.eq(to_db(now)),
                ))
                .execute(conn)?;
            event_log::append(
                conn,
                event_log::NewEvent {
                    kind: EventKind::CertificationBodyChanged,
                    certificate_id: None,
                    cb: Some(id),
                    effective_at: now,
                    recorded_at: now,
                    detail: &change,
                    provenance: Some(&Provenance::scheme_owner()),
                },
            )?;
            load(conn, id)?.ok_or_else(|| CoreError::CertificationBodyNotFound(id.clone()))
        })
    }

    pub fn certification_body(&self, id: &CbId) -> Result<CertificationBody, CoreError> {
        self.read(|conn| {
            load(conn, id)?.ok_or_else(|| CoreError::CertificationBodyNotFound(id.clone()))
        })
    }

    /// Every certification body, by id.
    pub fn certification_bodies(&self) -> Result<Vec<CertificationBody>, CoreError> {
        self.read(|conn| {
            let rows: Vec<CbRow> = certification_bodies::table
                .order(certification_bodies::id.asc())
                .select(CbRow::as_select())
                .load(conn)?;
            rows.into_iter()
                .map(|r| r.into_domain().map_err(CoreError::from))
                .collect()
        })
    }
}
