//! The transparency log in the database: its leaves (made again from the
//! event rows), proofs and tiles from the stored hashes, signed checkpoints,
//! the integration of events written before the log existed, and the check at
//! start-up that the stored log is the one the events and the last signed
//! checkpoint say.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use ed25519_dalek::VerifyingKey;

use super::Registry;
use super::event_log::{frontier_of, leaf_write};
use crate::error::CoreError;
use crate::log::leaf::{LeafFields, leaf_bytes};
use crate::log::note::open_checkpoint;
use crate::log::tiles::{TILE_HEIGHT, TILE_WIDTH, TileRef};
use crate::log::tree::{self, Frontier, Hash, NodeId, NodeSource, ProofError, leaf_hash};
use crate::storage::AnyConnection;
use crate::storage::rows::{from_db, to_db};
use crate::storage::schema::{
    certificates, events, log_checkpoints, log_hashes, log_head, log_leaves,
};

/// Leaves read at a time (integration, the start-up check, entry bundles).
const PAGE: i64 = 4096;

/// The stored hashes, read from the database.
struct Stored<'c> {
    conn: &'c mut AnyConnection,
    fault: Option<diesel::result::Error>,
}

impl NodeSource for Stored<'_> {
    fn hashes(&mut self, nodes: &[NodeId]) -> Result<Vec<Hash>, ProofError> {
        let mut found: std::collections::HashMap<(i32, i64), Hash> =
            std::collections::HashMap::with_capacity(nodes.len());
        for chunk in nodes.chunks(64) {
            let mut query = log_hashes::table
                .select((log_hashes::level, log_hashes::idx, log_hashes::hash))
                // No level is negative: the nodes asked for are OR-ed onto this.
                .filter(log_hashes::level.eq(-1))
                .into_boxed();
            for n in chunk {
                let index = i64::try_from(n.index).map_err(|_| ProofError::Missing(*n))?;
                query = query.or_filter(
                    log_hashes::level
                        .eq(i32::from(n.level))
                        .and(log_hashes::idx.eq(index)),
                );
            }
            let rows: Vec<(i32, i64, Vec<u8>)> = match query.load(self.conn) {
                Ok(rows) => rows,
                Err(e) => {
                    self.fault = Some(e);
                    return Err(ProofError::Missing(chunk[0]));
                }
            };
            for (level, idx, hash) in rows {
                if let Ok(h) = <Hash>::try_from(hash.as_slice()) {
                    found.insert((level, idx), h);
                }
            }
        }
        nodes
            .iter()
            .map(|n| {
                i64::try_from(n.index)
                    .ok()
                    .and_then(|i| found.get(&(i32::from(n.level), i)))
                    .copied()
                    .ok_or(ProofError::Missing(*n))
            })
            .collect()
    }
}

/// What a proof request can get wrong, or the log.
fn proof_error(e: ProofError, fault: Option<diesel::result::Error>) -> CoreError {
    if let Some(e) = fault {
        return e.into();
    }
    match e {
        ProofError::NoSuchLeaf { index, size } => CoreError::field(
            "index",
            format!("the tree of {size} entries has no entry {index}"),
        ),
        ProofError::NotAPrefix { from, to } => CoreError::field(
            "from",
            format!("from must be at least 1 and at most to ({from} and {to} given)"),
        ),
        // A stored tree misses a hash it must have.
        ProofError::Missing(n) => CoreError::Storage(format!("the log has no hash for {n:?}")),
        ProofError::Mismatch => CoreError::Storage("the log does not verify".into()),
    }
}

/// The log's size as the database holds it (committed).
fn stored_size(conn: &mut AnyConnection) -> Result<u64, CoreError> {
    let size: i64 = log_head::table.find(1).select(log_head::size).first(conn)?;
    u64::try_from(size).map_err(|_| CoreError::Storage("corrupt log_head row".into()))
}

/// An event row as a leaf is made of it.
type EventLeafRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
    String,
    Option<String>,
);

/// The columns of an [`EventLeafRow`], in its order.
macro_rules! event_leaf_columns {
    () => {
        (
            events::seq,
            events::kind,
            certificates::number.nullable(),
            events::cb_id,
            events::effective_at,
            events::recorded_at,
            events::detail,
            events::evidence,
        )
    };
}

/// The canonical bytes of the leaf of an event row.
fn leaf_of(row: &EventLeafRow) -> Vec<u8> {
    let (seq, kind, number, cb, effective, recorded, detail, evidence) = row;
    leaf_bytes(&LeafFields {
        seq: *seq,
        kind,
        certificate: number.as_deref(),
        certification_body: cb.as_deref(),
        effective_at: from_db(*effective),
        recorded_at: from_db(*recorded),
        detail,
        evidence: evidence.as_deref(),
    })
}

/// The leaves `from..` (at most `limit`), each with its index, made again
/// from the event rows.
fn leaves_from(
    conn: &mut AnyConnection,
    from: u64,
    limit: i64,
) -> Result<Vec<(u64, Vec<u8>)>, CoreError> {
    let from = i64::try_from(from).map_err(|_| CoreError::field("index", "too large"))?;
    let rows: Vec<(i64, EventLeafRow)> = log_leaves::table
        .inner_join(events::table.on(events::seq.eq(log_leaves::seq)))
        .left_join(certificates::table.on(events::certificate_id.eq(certificates::id.nullable())))
        .filter(log_leaves::log_index.ge(from))
        .order(log_leaves::log_index.asc())
        .limit(limit)
        .select((log_leaves::log_index, event_leaf_columns!()))
        .load(conn)?;
    rows.into_iter()
        .map(|(index, row)| {
            let index = u64::try_from(index)
                .map_err(|_| CoreError::Storage("corrupt log_leaves row".into()))?;
            Ok((index, leaf_of(&row)))
        })
        .collect()
}

/// Where the stored log and the events part ways.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Tampering {
    #[error("log entry {index} does not verify: {what}")]
    Entry { index: u64, what: String },
    #[error("the log's head does not verify: {0}")]
    Head(String),
    #[error("the last signed checkpoint (tree size {size}) does not verify: {what}")]
    Checkpoint { size: u64, what: String },
}

/// What the start-up check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCheck {
    /// Entries checked against their events.
    pub entries: u64,
    /// The tree size of the last signed checkpoint, if any.
    pub checkpoint: Option<u64>,
    /// Events written before the log existed, now in it.
    pub integrated: u64,
}

impl Registry {
    /// Puts the events that have no leaf yet (written before the log
    /// existed) into the log, in `seq` order; answers how many.
    pub fn integrate_log(&self) -> Result<u64, CoreError> {
        let mut total = 0u64;
        loop {
            let added = self.write(|conn| {
                let head = conn.lock_log_head()?;
                let mut frontier = frontier_of(&head)?;
                let last_logged: Option<i64> = log_leaves::table
                    .select(diesel::dsl::max(log_leaves::seq))
                    .first(conn)?;
                let rows: Vec<EventLeafRow> = events::table
                    .left_join(
                        certificates::table
                            .on(events::certificate_id.eq(certificates::id.nullable())),
                    )
                    .filter(events::seq.gt(last_logged.unwrap_or(0)))
                    .order(events::seq.asc())
                    .limit(PAGE)
                    .select(event_leaf_columns!())
                    .load(conn)?;
                for row in &rows {
                    let leaf = leaf_of(row);
                    conn.store_leaf(&leaf_write(&mut frontier, row.0, leaf_hash(&leaf))?)?;
                }
                Ok(rows.len() as u64)
            })?;
            total += added;
            if added < PAGE as u64 {
                return Ok(total);
            }
        }
    }

    /// Checks the stored log: every entry against its event row, every
    /// stored hash against the tree those entries make, the head, and the
    /// last signed checkpoint (signed by one of `keys`, its root the root of
    /// that many entries). A first event without its leaf is integrated
    /// first. The first thing that does not verify is named.
    pub fn check_log(
        &self,
        keys: &[(String, VerifyingKey)],
    ) -> Result<Result<LogCheck, Tampering>, CoreError> {
        let integrated = self.integrate_log()?;
        self.read(|conn| {
            // The checkpoint first, then the head: the log only grows, so
            // the head read after it holds at least its entries, however
            // many replicas append and sign meanwhile; what they append after
            // the head was read is left to their next start.
            let last: Option<(i64, String)> = log_checkpoints::table
                .order(log_checkpoints::size.desc())
                .select((log_checkpoints::size, log_checkpoints::note))
                .first(conn)
                .optional()?;
            let (head_size, head_edge): (i64, Vec<u8>) = log_head::table
                .find(1)
                .select((log_head::size, log_head::frontier))
                .first(conn)?;
            let head_size = u64::try_from(head_size)
                .map_err(|_| CoreError::Storage("corrupt log_head row".into()))?;
            let checkpoint = match last {
                None => None,
                Some((size, note)) => {
                    let size = u64::try_from(size).unwrap_or(u64::MAX);
                    match open_checkpoint(&note, keys) {
                        Ok(cp) if cp.size == size && cp.size <= head_size => Some(cp),
                        Ok(cp) => {
                            return Ok(Err(Tampering::Checkpoint {
                                size,
                                what: format!(
                                    "it names {} entries; the log holds {head_size}",
                                    cp.size
                                ),
                            }));
                        }
                        Err(e) => {
                            return Ok(Err(Tampering::Checkpoint {
                                size,
                                what: e.to_string(),
                            }));
                        }
                    }
                }
            };
            let mut rebuilt = Frontier::default();
            let mut root_at_checkpoint = None;
            let mut next = 0u64;
            while next < head_size {
                let page = leaves_from(conn, next, PAGE)?;
                if page.is_empty() {
                    return Ok(Err(Tampering::Entry {
                        index: next,
                        what: "its event is missing".into(),
                    }));
                }
                let first = next;
                let mut completed: Vec<(NodeId, Hash)> = Vec::with_capacity(page.len() * 2);
                for (index, leaf) in page.iter().take_while(|(i, _)| *i < head_size) {
                    if *index != next {
                        return Ok(Err(Tampering::Entry {
                            index: next,
                            what: "its event is missing".into(),
                        }));
                    }
                    completed.extend(rebuilt.push(leaf_hash(leaf)));
                    next += 1;
                    if checkpoint.as_ref().is_some_and(|cp| cp.size == next) {
                        root_at_checkpoint = Some(rebuilt.root());
                    }
                }
                // The entries against the stored hashes first: that names
                // the entry; the checkpoint can only say that one differs.
                if let Some(t) = compare_stored(conn, first, next, &completed)? {
                    return Ok(Err(t));
                }
                if let (Some(cp), Some(root)) = (&checkpoint, root_at_checkpoint.take())
                    && root != cp.root
                {
                    return Ok(Err(Tampering::Checkpoint {
                        size: cp.size,
                        what: "its root is not the root of the entries".into(),
                    }));
                }
            }
            if head_edge != rebuilt.to_bytes() {
                return Ok(Err(Tampering::Head(
                    "its edge is not the edge of the entries".into(),
                )));
            }
            let last_seq: i64 = match head_size.checked_sub(1) {
                None => 0,
                Some(last) => log_leaves::table
                    .filter(log_leaves::log_index.eq(i64::try_from(last).unwrap_or(i64::MAX)))
                    .select(log_leaves::seq)
                    .first(conn)?,
            };
            let unlogged: Option<i64> = events::table
                .left_join(log_leaves::table.on(log_leaves::seq.eq(events::seq)))
                .filter(events::seq.le(last_seq))
                .filter(log_leaves::log_index.is_null())
                .select(events::seq)
                .first(conn)
                .optional()?;
            if let Some(seq) = unlogged {
                return Ok(Err(Tampering::Head(format!(
                    "event {seq} is not in the log"
                ))));
            }
            Ok(Ok(LogCheck {
                entries: head_size,
                checkpoint: checkpoint.map(|c| c.size),
                integrated,
            }))
        })
    }

    /// The log's size in the database now.
    pub fn log_size(&self) -> Result<u64, CoreError> {
        self.read(stored_size)
    }

    /// The leaf bytes of entry `index`.
    pub fn log_entry(&self, index: u64) -> Result<Option<Vec<u8>>, CoreError> {
        self.read(|conn| {
            Ok(leaves_from(conn, index, 1)?
                .into_iter()
                .next()
                .filter(|(i, _)| *i == index)
                .map(|(_, leaf)| leaf))
        })
    }

    /// The audit path of entry `index` in the tree of `size` entries; `None`
    /// while the log has not reached that size.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Option<Vec<Hash>>, CoreError> {
        self.read(|conn| {
            if size > stored_size(conn)? {
                return Ok(None);
            }
            let mut stored = Stored { conn, fault: None };
            tree::inclusion_proof(index, size, &mut stored)
                .map(Some)
                .map_err(|e| proof_error(e, stored.fault))
        })
    }

    /// The proof that the tree of `from` entries is a prefix of the tree of
    /// `to`; `None` while the log has not reached `to` entries.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Option<Vec<Hash>>, CoreError> {
        self.read(|conn| {
            if to > stored_size(conn)? {
                return Ok(None);
            }
            let mut stored = Stored { conn, fault: None };
            tree::consistency_proof(from, to, &mut stored)
                .map(Some)
                .map_err(|e| proof_error(e, stored.fault))
        })
    }

    /// The root hash of the tree of `size` entries (for a checkpoint).
    pub fn log_root(&self, size: u64) -> Result<Hash, CoreError> {
        self.read(|conn| {
            let mut stored = Stored { conn, fault: None };
            tree::root_at(size, &mut stored).map_err(|e| proof_error(e, stored.fault))
        })
    }

    /// A tile's bytes, when the log holds it: hashes, 32 bytes each, or an
    /// entry bundle (each entry after its big-endian 16-bit length).
    pub fn log_tile(&self, tile: &TileRef) -> Result<Option<Vec<u8>>, CoreError> {
        self.read(|conn| {
            let size = stored_size(conn)?;
            if !tile.available_in(size) {
                return Ok(None);
            }
            let start = tile.index.saturating_mul(TILE_WIDTH);
            let width = tile.width();
            match tile.level {
                None => {
                    let mut out = Vec::new();
                    for (_, leaf) in leaves_from(conn, start, width as i64)? {
                        let len = u16::try_from(leaf.len())
                            .map_err(|_| CoreError::Storage("a leaf outgrew its tile".into()))?;
                        out.extend_from_slice(&len.to_be_bytes());
                        out.extend_from_slice(&leaf);
                    }
                    Ok(Some(out))
                }
                Some(level) => {
                    let lo =
                        i64::try_from(start).map_err(|_| CoreError::field("tile", "too large"))?;
                    let hashes: Vec<Vec<u8>> = log_hashes::table
                        .filter(log_hashes::level.eq(i32::from(level * TILE_HEIGHT)))
                        .filter(log_hashes::idx.ge(lo))
                        .filter(log_hashes::idx.lt(lo + width as i64))
                        .order(log_hashes::idx.asc())
                        .select(log_hashes::hash)
                        .load(conn)?;
                    if hashes.len() as u64 != width {
                        return Err(CoreError::Storage(format!(
                            "the log lacks hashes of tile {}",
                            tile.path_suffix()
                        )));
                    }
                    Ok(Some(hashes.concat()))
                }
            }
        })
    }

    /// Keeps a signed checkpoint (one per tree size: a second of the same
    /// size is the same note, Ed25519 being deterministic, and is left).
    pub fn record_checkpoint(
        &self,
        size: u64,
        note: &str,
        signed_at: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        let size = i64::try_from(size).map_err(|_| CoreError::field("size", "too large"))?;
        self.read(|conn| {
            let done = diesel::insert_into(log_checkpoints::table)
                .values((
                    log_checkpoints::size.eq(size),
                    log_checkpoints::note.eq(note),
                    log_checkpoints::signed_at.eq(to_db(signed_at)),
                ))
                .execute(conn);
            match done {
                Ok(_)
                | Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
    }

    /// The largest tree size a checkpoint was kept for.
    pub fn last_checkpoint_size(&self) -> Result<Option<u64>, CoreError> {
        self.read(|conn| {
            let size: Option<i64> = log_checkpoints::table
                .select(diesel::dsl::max(log_checkpoints::size))
                .first(conn)?;
            Ok(size.and_then(|s| u64::try_from(s).ok()))
        })
    }
}

/// Compares the hashes a page of entries completed with the stored ones.
fn compare_stored(
    conn: &mut AnyConnection,
    first: u64,
    end: u64,
    completed: &[(NodeId, Hash)],
) -> Result<Option<Tampering>, CoreError> {
    let mut by_level: std::collections::BTreeMap<u8, (u64, u64)> = Default::default();
    for (n, _) in completed {
        let e = by_level.entry(n.level).or_insert((n.index, n.index));
        e.0 = e.0.min(n.index);
        e.1 = e.1.max(n.index);
    }
    let mut stored: std::collections::HashMap<(u8, u64), Vec<u8>> = Default::default();
    for (level, (lo, hi)) in by_level {
        let rows: Vec<(i64, Vec<u8>)> = log_hashes::table
            .filter(log_hashes::level.eq(i32::from(level)))
            .filter(log_hashes::idx.between(
                i64::try_from(lo).unwrap_or(i64::MAX),
                i64::try_from(hi).unwrap_or(i64::MAX),
            ))
            .select((log_hashes::idx, log_hashes::hash))
            .load(conn)?;
        for (idx, hash) in rows {
            if let Ok(i) = u64::try_from(idx) {
                stored.insert((level, i), hash);
            }
        }
    }
    for (n, hash) in completed {
        let first_leaf = n.index << n.level;
        match stored.get(&(n.level, n.index)) {
            Some(h) if h.as_slice() == hash => {}
            Some(_) if n.level == 0 => {
                return Ok(Some(Tampering::Entry {
                    index: n.index,
                    what: "its event is not the one the log recorded".into(),
                }));
            }
            found => {
                return Ok(Some(Tampering::Entry {
                    index: first_leaf.max(first).min(end.saturating_sub(1)),
                    what: format!(
                        "the stored hash of level {} node {} is {}",
                        n.level,
                        n.index,
                        if found.is_some() {
                            "not the entries' hash"
                        } else {
                            "missing"
                        }
                    ),
                }));
            }
        }
    }
    Ok(None)
}
