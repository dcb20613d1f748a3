//! Appending to the event log, guarding against replayed requests, and reading
//! the feed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};
use serde::Serialize;

use super::Registry;
use crate::certificate::CertificateNumber;
use crate::certification_body::{Accreditation, CbId};
use crate::error::CoreError;
use crate::event::{Event, EventKind, Provenance, SignedRequest};
use crate::log::leaf::{LeafFields, MAX_LEAF_BYTES, leaf_bytes};
use crate::log::tree::{Frontier, Hash, leaf_hash};
use crate::storage::rows::{EventRow, NewEventRow, ReplayRow, corrupt, from_db, number, to_db};
use crate::storage::schema::{
    certificates, certification_bodies, events, log_leaves, replay_guard,
};
use crate::storage::{AnyConnection, LeafWrite, LogHeadRow};

/// An event to append.
#[derive(Debug)]
pub(crate) struct NewEvent<'a, D: Serialize> {
    pub kind: EventKind,
    /// The certificate it concerns: its row id and number.
    pub certificate: Option<(i64, &'a CertificateNumber)>,
    pub cb: Option<&'a CbId>,
    pub effective_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// What changed; stored as JSON.
    pub detail: &'a D,
    /// Who asked; a signed request among it is kept verbatim as evidence.
    pub provenance: Option<&'a Provenance>,
}

/// An event as the log holds it, as far as the read model applies it: read
/// back from the database, or kept from the transaction that appended it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LoggedEvent {
    pub seq: i64,
    pub kind: EventKind,
    /// The certificate's row id and number.
    pub certificate: Option<(i64, CertificateNumber)>,
    pub certification_body: Option<CbId>,
    pub effective_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// The stored detail (JSON; see [`super::details`]).
    pub detail: String,
    /// Its leaf in the transparency log: index and leaf hash.
    pub leaf: Option<(u64, Hash)>,
}

thread_local! {
    /// The events appended by the transaction running on this thread, in
    /// order: what a committed write hands to the read model (see
    /// [`Registry::write`]).
    static APPENDED: std::cell::RefCell<Vec<LoggedEvent>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The `seq`s of the events appended on this thread since the last take.
pub(crate) fn appended_seqs() -> Vec<i64> {
    APPENDED.with(|a| a.borrow().iter().map(|e| e.seq).collect())
}

/// Takes the events appended on this thread since the last call.
pub(crate) fn take_appended() -> Vec<LoggedEvent> {
    APPENDED.with(|a| std::mem::take(&mut *a.borrow_mut()))
}

/// Appends one event, and its leaf to the transparency log, and returns its
/// `seq`. Call it last in a transaction: it takes the log's lock, held until
/// commit (see [`AnyConnection::append_event`]).
pub(crate) fn append<D: Serialize>(
    conn: &mut AnyConnection,
    event: NewEvent<'_, D>,
) -> Result<i64, CoreError> {
    let NewEvent {
        kind,
        certificate,
        cb,
        effective_at,
        recorded_at,
        detail,
        provenance,
    } = event;
    let detail = serde_json::to_string(detail)?;
    let evidence = provenance
        .and_then(|p| p.request.as_ref())
        .map(|r| r.compact_jws.as_str());
    let (head, seq) = conn.append_event(&NewEventRow {
        certificate_id: certificate.map(|(id, _)| id),
        cb_id: cb.map(CbId::as_str),
        kind: kind.as_str(),
        effective_at: to_db(effective_at),
        recorded_at: to_db(recorded_at),
        detail: &detail,
        evidence,
    })?;
    let mut frontier = frontier_of(&head)?;
    let leaf = leaf_bytes(&LeafFields {
        seq,
        kind: kind.as_str(),
        certificate: certificate.map(|(_, n)| n.as_str()),
        certification_body: cb.map(CbId::as_str),
        effective_at,
        recorded_at,
        detail: &detail,
        evidence,
    });
    if leaf.len() > MAX_LEAF_BYTES {
        return Err(CoreError::field(
            "request",
            format!("the event would take more than {MAX_LEAF_BYTES} bytes in the log"),
        ));
    }
    let log_index = frontier.size();
    let hash = leaf_hash(&leaf);
    conn.store_leaf(&leaf_write(&mut frontier, seq, hash)?)?;
    APPENDED.with(|a| {
        a.borrow_mut().push(LoggedEvent {
            seq,
            kind,
            certificate: certificate.map(|(id, n)| (id, n.clone())),
            certification_body: cb.cloned(),
            effective_at,
            recorded_at,
            detail,
            leaf: Some((log_index, hash)),
        })
    });
    Ok(seq)
}

/// The tree's right edge as the log head holds it.
pub(crate) fn frontier_of(head: &LogHeadRow) -> Result<Frontier, CoreError> {
    u64::try_from(head.size)
        .ok()
        .and_then(|size| Frontier::from_parts(size, &head.frontier).ok())
        .ok_or_else(|| CoreError::Storage("corrupt log_head row".into()))
}

/// Pushes the leaf `hash` (of event `seq`) onto the tree's edge: the rows
/// that store it, the hashes it completes and the head after it.
pub(crate) fn leaf_write(
    frontier: &mut Frontier,
    seq: i64,
    hash: Hash,
) -> Result<LeafWrite, CoreError> {
    let full = || CoreError::Storage("the log is full".into());
    let log_index = i64::try_from(frontier.size()).map_err(|_| full())?;
    let completed = frontier.push(hash);
    Ok(LeafWrite {
        log_index,
        seq,
        levels: completed.iter().map(|(n, _)| i32::from(n.level)).collect(),
        indexes: completed
            .iter()
            .map(|(n, _)| i64::try_from(n.index))
            .collect::<Result<_, _>>()
            .map_err(|_| full())?,
        hashes: completed.iter().map(|(_, h)| h.to_vec()).collect(),
        frontier: frontier.to_bytes(),
    })
}

/// Claims a request id for this CB until it can no longer be replayed; a
/// second use of the id, even by a concurrent request, is refused as a replay.
/// Done first in a write's transaction, so a refused write releases it again.
/// With `if_accredited`, the id is claimed only while the CB's accreditation is
/// active (one statement for both checks); whether it was claimed is returned.
pub(crate) fn claim_request_id(
    conn: &mut AnyConnection,
    cb: &CbId,
    request: &SignedRequest,
    if_accredited: bool,
) -> Result<bool, CoreError> {
    let inserted = if if_accredited {
        diesel::insert_into(replay_guard::table)
            .values(
                certification_bodies::table
                    .filter(certification_bodies::id.eq(cb.as_str()))
                    .filter(certification_bodies::accreditation.eq(Accreditation::Active.as_str()))
                    .select((
                        certification_bodies::id,
                        request.id.as_str().into_sql::<Text>(),
                        to_db(request.replayable_until).into_sql::<Timestamp>(),
                    )),
            )
            .into_columns((
                replay_guard::cb_id,
                replay_guard::jti,
                replay_guard::expires_at,
            ))
            .execute(conn)
    } else {
        diesel::insert_into(replay_guard::table)
            .values(ReplayRow {
                cb_id: cb.as_str(),
                jti: request.id.as_str(),
                expires_at: to_db(request.replayable_until),
            })
            .execute(conn)
    };
    match inserted {
        Ok(n) => Ok(n > 0),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Err(CoreError::Replay),
        Err(e) => Err(e.into()),
    }
}

fn into_event(
    row: EventRow,
    number_of: Option<String>,
    log_index: Option<i64>,
) -> Result<Event, CoreError> {
    let bad = corrupt("events");
    Ok(Event {
        seq: row.seq,
        kind: EventKind::parse(&row.kind).map_err(&bad)?,
        certificate_number: number_of.as_deref().map(number).transpose()?,
        certification_body: row
            .cb_id
            .as_deref()
            .map(CbId::parse)
            .transpose()
            .map_err(&bad)?,
        effective_at: from_db(row.effective_at),
        recorded_at: from_db(row.recorded_at),
        detail: serde_json::from_str(&row.detail)?,
        evidence: row.evidence,
        log_index: log_index.and_then(|i| u64::try_from(i).ok()),
    })
}

/// The events `seqs`, in `seq` order, with their certificates' numbers and
/// log indexes.
pub(crate) fn events_at(conn: &mut AnyConnection, seqs: &[i64]) -> Result<Vec<Event>, CoreError> {
    let rows: Vec<(EventRow, Option<String>, Option<i64>)> = events::table
        .left_join(certificates::table.on(events::certificate_id.eq(certificates::id.nullable())))
        .left_join(log_leaves::table.on(log_leaves::seq.eq(events::seq)))
        .filter(events::seq.eq_any(seqs))
        .order(events::seq.asc())
        .select((
            EventRow::as_select(),
            certificates::number.nullable(),
            log_leaves::log_index.nullable(),
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(row, n, i)| into_event(row, n, i))
        .collect()
}

impl Registry {
    /// Forgets request ids that can no longer be replayed: their request's `exp`
    /// (plus clock skew) has passed, so the signature check refuses them anyway.
    pub fn forget_expired_request_ids(&self, now: DateTime<Utc>) -> Result<usize, CoreError> {
        self.write(|conn| {
            Ok(
                diesel::delete(replay_guard::table.filter(replay_guard::expires_at.lt(to_db(now))))
                    .execute(conn)?,
            )
        })
    }

    /// The global change feed: up to `limit` events with `seq` greater than
    /// `after`, in `seq` order.
    pub fn events(&self, after: i64, limit: i64) -> Result<Vec<Event>, CoreError> {
        self.read(|conn| {
            let upto = conn.committed_seq()?.unwrap_or(i64::MAX);
            let rows: Vec<(EventRow, Option<String>, Option<i64>)> = events::table
                .left_join(
                    certificates::table.on(events::certificate_id.eq(certificates::id.nullable())),
                )
                .left_join(log_leaves::table.on(log_leaves::seq.eq(events::seq)))
                .filter(events::seq.gt(after))
                .filter(events::seq.le(upto))
                .order(events::seq.asc())
                .limit(limit)
                .select((
                    EventRow::as_select(),
                    certificates::number.nullable(),
                    log_leaves::log_index.nullable(),
                ))
                .load(conn)?;
            rows.into_iter()
                .map(|(row, n, i)| into_event(row, n, i))
                .collect()
        })
    }

    /// A certificate's events with `seq` greater than `after`, oldest first, at
    /// most `limit`, with the evidence behind each.
    pub fn certificate_events(
        &self,
        number: &CertificateNumber,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Event>, CoreError> {
        self.read(|conn| {
            let id: i64 = certificates::table
                .filter(certificates::number.eq(number.as_str()))
                .select(certificates::id)
                .first(conn)
                .optional()?
                .ok_or_else(|| CoreError::CertificateNotFound(number.clone()))?;
            let rows: Vec<(EventRow, Option<i64>)> = events::table
                .left_join(log_leaves::table.on(log_leaves::seq.eq(events::seq)))
                .filter(events::certificate_id.eq(id))
                .filter(events::seq.gt(after))
                .order(events::seq.asc())
                .limit(limit)
                .select((EventRow::as_select(), log_leaves::log_index.nullable()))
                .load(conn)?;
            rows.into_iter()
                .map(|(row, i)| into_event(row, Some(number.as_str().to_owned()), i))
                .collect()
        })
    }
}
