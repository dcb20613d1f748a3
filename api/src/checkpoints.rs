//! Signed checkpoints: made on demand for the tree the read model reflects
//! (the last one kept in memory), and kept in the database every
//! `REGISTRY_CHECKPOINT_SECS` or `REGISTRY_CHECKPOINT_EVENTS` entries, so that
//! the start-up check has a signed root to hold the log to. Ed25519 is
//! deterministic: replicas with one key make the same note for one tree
//! size, and the database keeps one per size.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use registry_core::Registry;
use registry_core::log::Hash;

use crate::signing::Signing;

/// The checkpoint last signed.
#[derive(Debug)]
pub struct Checkpoints {
    signing: Arc<Signing>,
    last: Mutex<Option<(u64, Hash, Arc<str>)>>,
}

impl Checkpoints {
    pub fn new(signing: Arc<Signing>) -> Self {
        Self {
            signing,
            last: Mutex::new(None),
        }
    }

    /// The signed note of the tree of `size` entries with root `root`.
    pub fn note(&self, size: u64, root: &Hash) -> Arc<str> {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((s, r, note)) = last.as_ref()
            && *s == size
            && r == root
        {
            return note.clone();
        }
        let note: Arc<str> = self.signing.key().sign_checkpoint(size, root).into();
        *last = Some((size, *root, note.clone()));
        note
    }
}

/// Keeps a checkpoint of the tree the model reflects whenever `events`
/// entries were added since the last kept one, or `interval` passed with any.
pub async fn run(
    registry: Registry,
    checkpoints: Arc<Checkpoints>,
    interval: Duration,
    events: u64,
) {
    let mut kept = {
        let registry = registry.clone();
        tokio::task::spawn_blocking(move || registry.last_checkpoint_size())
            .await
            .ok()
            .and_then(Result::ok)
            .flatten()
    };
    let mut since = Instant::now();
    let mut tick = tokio::time::interval(interval.min(Duration::from_secs(1)));
    loop {
        tick.tick().await;
        let Ok(tree) = registry.model().log_tree() else {
            continue;
        };
        let (size, root) = tree.value;
        let behind = size.saturating_sub(kept.unwrap_or(0));
        let due = kept.is_none_or(|k| size > k)
            && (behind >= events || since.elapsed() >= interval || kept.is_none());
        if !due {
            continue;
        }
        let note = checkpoints.note(size, &root);
        let registry = registry.clone();
        let done = tokio::task::spawn_blocking(move || {
            registry.record_checkpoint(size, &note, registry_core::time::now())
        })
        .await;
        match done {
            Ok(Ok(())) => {
                kept = Some(size);
                since = Instant::now();
                tracing::debug!(size, "checkpoint kept");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot keep a checkpoint; trying again"),
            Err(e) => tracing::warn!(error = %e, "keeping a checkpoint failed"),
        }
    }
}
