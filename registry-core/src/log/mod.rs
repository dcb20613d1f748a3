//! The transparency log over the event log: every event a leaf of an RFC 6962
//! Merkle tree, in `seq` order, stored in the event's own transaction; signed
//! checkpoints (C2SP signed notes), inclusion and consistency proofs, and the
//! tree as C2SP tiles. The pure parts live here; what reads and writes the
//! database is in `registry::transparency`.

pub mod leaf;
pub mod note;
pub mod tiles;
pub mod tree;

pub use note::{Checkpoint, NoteError, RegisterKey};
pub use tree::{Frontier, Hash, ProofError};
