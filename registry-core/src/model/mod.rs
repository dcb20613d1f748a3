//! The read model: the register in memory, answering status, batch, company
//! and search questions without the database (ARCHITECTURE.md, "Reads come
//! from memory").
//!
//! The database stays the one source of truth. The model is built from it at
//! start-up (one snapshot, at a known `seq`) and then follows the event log
//! strictly in `seq` order, so that it always equals the tables as they were
//! after its last event:
//! - a write of this process hands its events over after commit and returns
//!   only once the model has applied them, so that its client reads its own
//!   write here;
//! - events of other processes (replicas on one PostgreSQL) are read from the
//!   log by a follower thread, woken by PostgreSQL's `NOTIFY`, by a write of
//!   this process that finds a gap before its own events, or by a poll.
//!
//! A `seq` the model waits for is either an event of this process still being
//! committed (it will be handed over, or given up as a gap when its
//! transaction rolls back) or one to read from the log, where the log's
//! barrier ([`crate::storage::AnyConnection::committed_seq`]) tells a gap from
//! an event not yet committed. Every answer says which `seq` it reflects.

mod apply;
mod follow;
mod load;
mod names;
mod order;
mod reads;
mod search;
mod store;
mod summary;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::certificate::CertificateNumber;
use crate::company::KvkNumber;
use crate::error::CoreError;
use crate::registry::event_log::LoggedEvent;
use crate::registry::{Certificate, CompanyHit, SearchCursor, SearchFilter, SearchPage};
use crate::scheme::SchemeRules;
use crate::status::{StatusAnswer, StatusQuery};
use crate::storage::AnyConnection;
use crate::storage::rows::Company;

pub use follow::Follow;
pub(crate) use store::Store;

/// The transparency log's tree a state of the model reflects: its size and root.
pub type LogTree = (u64, crate::log::Hash);

/// An answer and the `seq` of the last event the model had applied when it
/// gave it: the register's state the answer reflects.
#[derive(Debug, Clone, PartialEq)]
pub struct AsOf<T> {
    pub seq: i64,
    pub value: T,
}

/// How long a write of this process waits for the model to apply it before it
/// is acknowledged anyway (a stuck follower must not hold writes forever; it
/// is logged).
const APPLY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct Progress {
    /// The last `seq` applied; every one before it is applied or a gap.
    applied: i64,
    /// Events of this process, committed, waiting for those before them.
    pending: BTreeMap<i64, LoggedEvent>,
    /// Events of this process appended in transactions not yet ended.
    in_flight: BTreeSet<i64>,
    /// An event waits for what only the log can tell.
    needs_log: bool,
}

/// The read model of one process.
#[derive(Debug)]
pub struct ReadModel {
    rules: SchemeRules,
    store: RwLock<Option<Store>>,
    progress: Mutex<Progress>,
    /// Signalled whenever `applied` moves.
    applied_moved: Condvar,
    /// The follower's wake-up call.
    wake: Mutex<bool>,
    woken: Condvar,
    /// `applied`, readable without a lock (for metrics and readiness).
    seq: AtomicI64,
    loaded: AtomicBool,
    /// Candidates one search page may examine (see `search`).
    budget: std::sync::atomic::AtomicUsize,
    /// Companies per block of the name order (see `order`).
    block: std::sync::atomic::AtomicUsize,
}

fn recover<T>(r: Result<T, std::sync::PoisonError<T>>) -> T {
    r.unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn loading() -> CoreError {
    CoreError::Loading
}

impl ReadModel {
    pub(crate) fn new(rules: SchemeRules) -> Self {
        Self {
            rules,
            store: RwLock::new(None),
            progress: Mutex::new(Progress::default()),
            applied_moved: Condvar::new(),
            wake: Mutex::new(false),
            woken: Condvar::new(),
            seq: AtomicI64::new(0),
            loaded: AtomicBool::new(false),
            budget: std::sync::atomic::AtomicUsize::new(search::EXAMINED_PER_PAGE),
            block: std::sync::atomic::AtomicUsize::new(order::BLOCK),
        }
    }

    /// The same model with the name order in blocks of `n` companies (from its
    /// next load), so that tests walk, split and skip many blocks on little data.
    #[cfg(feature = "test-support")]
    pub fn set_order_block(&self, n: usize) {
        self.block.store(n.max(1), Ordering::Relaxed);
    }

    /// The same model with searches examining at most `n` candidates a page,
    /// so that tests see pages cut short on little data.
    #[cfg(feature = "test-support")]
    pub fn set_search_budget(&self, n: usize) {
        self.budget.store(n.max(1), Ordering::Relaxed);
    }

    fn budget(&self) -> search::Budget {
        search::Budget::new(self.budget.load(Ordering::Relaxed))
    }

    /// Whether the model has been built and answers.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// The last `seq` applied.
    pub fn seq(&self) -> i64 {
        self.seq.load(Ordering::Acquire)
    }

    fn progress(&self) -> MutexGuard<'_, Progress> {
        recover(self.progress.lock())
    }

    /// Builds the model from the database (replacing any earlier one).
    pub(crate) fn load(&self, conn: &mut AnyConnection) -> Result<(), CoreError> {
        let started = Instant::now();
        let block = self.block.load(Ordering::Relaxed);
        let (store, seq) = Store::load(conn, self.rules.clone(), block)?;
        let report = store.report();
        let mut p = self.progress();
        *recover(self.store.write()) = Some(store);
        p.applied = seq;
        p.pending = p.pending.split_off(&(seq + 1));
        self.seq.store(seq, Ordering::Release);
        self.loaded.store(true, Ordering::Release);
        tracing::info!(
            seq,
            seconds = started.elapsed().as_secs_f64(),
            %report,
            "read model loaded"
        );
        self.drain(&mut p);
        Ok(())
    }

    /// The transparency log as of the model's state: its size and root hash.
    /// A signed answer names this tree (its checkpoint).
    pub fn log_tree(&self) -> Result<AsOf<LogTree>, CoreError> {
        self.read(|s| (s.log.size(), s.log_root))
    }

    /// [`ReadModel::company_status`], with the log's tree it reflects (for a
    /// signed answer: size and root).
    pub fn company_status_logged(
        &self,
        kvk: &KvkNumber,
        query: &StatusQuery,
    ) -> Result<AsOf<(StatusAnswer, LogTree)>, CoreError> {
        self.read(|s| (s.company_status(kvk, query), (s.log.size(), s.log_root)))
    }

    /// [`ReadModel::company_statuses`], with the log's tree it reflects.
    pub fn company_statuses_logged(
        &self,
        kvks: &[KvkNumber],
        query: &StatusQuery,
    ) -> Result<AsOf<(Vec<StatusAnswer>, LogTree)>, CoreError> {
        self.read(|s| {
            (
                kvks.iter().map(|k| s.company_status(k, query)).collect(),
                (s.log.size(), s.log_root),
            )
        })
    }

    /// Reads the model; an error while it is not loaded yet.
    fn read<T>(&self, f: impl FnOnce(&Store) -> T) -> Result<AsOf<T>, CoreError> {
        let guard: RwLockReadGuard<'_, Option<Store>> = recover(self.store.read());
        let store = guard.as_ref().ok_or_else(loading)?;
        Ok(AsOf {
            seq: store.seq,
            value: f(store),
        })
    }

    // ---- following the log ----

    /// Events this process's transaction appended (its `seq`s), about to commit.
    /// Before the model is loaded nothing is kept: its snapshot, or the log
    /// after it, holds every write.
    pub(crate) fn expect(&self, seqs: impl IntoIterator<Item = i64>) {
        if self.is_loaded() {
            self.progress().in_flight.extend(seqs);
        }
    }

    /// A transaction that appended these `seq`s failed: rolled back, or (its
    /// connection lost in the commit) perhaps committed. The log will tell.
    pub(crate) fn abandon(&self, seqs: impl IntoIterator<Item = i64>) {
        let mut p = self.progress();
        let mut any = false;
        for seq in seqs {
            any |= p.in_flight.remove(&seq);
        }
        if any {
            p.needs_log = true;
            self.drain(&mut p);
        }
    }

    /// A transaction of this process committed `events`: applies them (after
    /// every event before them) and returns once they are applied.
    pub(crate) fn submit(&self, events: Vec<LoggedEvent>) {
        let Some(target) = events.iter().map(|e| e.seq).max() else {
            return;
        };
        if !self.is_loaded() {
            // Nobody reads before the model is loaded; its snapshot or the
            // log after it holds this write (a tool that never loads it, such
            // as the seeder, keeps nothing).
            return;
        }
        let mut p = self.progress();
        for e in events {
            p.in_flight.remove(&e.seq);
            if e.seq > p.applied {
                p.pending.insert(e.seq, e);
            }
        }
        self.drain(&mut p);
        let deadline = Instant::now() + APPLY_TIMEOUT;
        while p.applied < target {
            let now = Instant::now();
            if now >= deadline {
                tracing::error!(
                    seq = target,
                    applied = p.applied,
                    "the read model did not apply a write in time; acknowledged anyway"
                );
                return;
            }
            let (guard, _) = recover(self.applied_moved.wait_timeout(p, deadline - now));
            p = guard;
        }
    }

    /// Applies the pending events that follow the last applied one, in order;
    /// when the next `seq` is neither pending nor in flight here, only the log
    /// can tell, and the follower is woken.
    fn drain(&self, p: &mut Progress) {
        if !self.is_loaded() {
            return;
        }
        let mut batch: Vec<LoggedEvent> = Vec::new();
        let mut next = p.applied + 1;
        while let Some(entry) = p.pending.remove(&next) {
            batch.push(entry);
            next += 1;
        }
        if !batch.is_empty() {
            let mut guard = recover(self.store.write());
            if let Some(store) = guard.as_mut() {
                let mut batch = batch.into_iter();
                for event in batch.by_ref() {
                    if let Err(e) = store.apply(&event) {
                        // Only the log and the tables can mend it.
                        tracing::warn!(seq = event.seq, error = %e, "an event of this process needs the log");
                        p.pending.insert(event.seq, event);
                        p.needs_log = true;
                        break;
                    }
                    store.extend_log(&event);
                    p.applied = event.seq;
                    store.seq = event.seq;
                }
                for event in batch {
                    p.pending.insert(event.seq, event);
                }
            }
            self.seq.store(p.applied, Ordering::Release);
            self.applied_moved.notify_all();
        }
        let waiting = p.pending.first_key_value().is_some();
        if p.needs_log || (waiting && !p.in_flight.contains(&(p.applied + 1))) {
            self.wake_follower();
        }
    }

    fn wake_follower(&self) {
        *recover(self.wake.lock()) = true;
        self.woken.notify_all();
    }

    /// Waits for a wake-up call or `timeout`; whether one came.
    fn wait_for_call(&self, timeout: Duration) -> bool {
        let guard = recover(self.wake.lock());
        let (mut called, _) = recover(
            self.woken
                .wait_timeout_while(guard, timeout, |called| !*called),
        );
        std::mem::replace(&mut *called, false)
    }

    /// Applies the log's events after the last applied one, up to `mark`,
    /// below which every `seq` is committed or a gap for good; reads what an
    /// event does not carry from the tables. Returns how many were applied.
    pub(crate) fn catch_up(&self, conn: &mut AnyConnection, mark: i64) -> Result<usize, CoreError> {
        const PAGE: i64 = 500;
        let mut applied_here = 0;
        loop {
            let after = self.progress().applied;
            if after >= mark {
                break;
            }
            let events = load::events_between(conn, after, mark, PAGE)?;
            let last_page = (events.len() as i64) < PAGE;
            let mut p = self.progress();
            // A few dozen events per hold of the lock, so that readers wait
            // little behind a long catch-up.
            for chunk in events.chunks(64) {
                let mut guard = recover(self.store.write());
                let Some(store) = guard.as_mut() else {
                    return Err(loading());
                };
                for event in chunk {
                    if event.seq <= p.applied {
                        continue;
                    }
                    if let Err(e) = store.apply(event) {
                        tracing::debug!(seq = event.seq, error = %e, "read back from the tables");
                        store.reload(conn, event)?;
                    }
                    store.extend_log(event);
                    p.pending.remove(&event.seq);
                    p.in_flight.remove(&event.seq);
                    p.applied = event.seq;
                    store.seq = event.seq;
                    applied_here += 1;
                }
                self.seq.store(p.applied, Ordering::Release);
            }
            if last_page {
                // What the log lacks up to the mark is a gap for good.
                let mut guard = recover(self.store.write());
                p.applied = p.applied.max(mark);
                if let Some(store) = guard.as_mut() {
                    store.seq = p.applied;
                }
                let after = p.applied + 1;
                p.pending = p.pending.split_off(&after);
                p.in_flight = p.in_flight.split_off(&after);
                self.seq.store(p.applied, Ordering::Release);
            }
            p.needs_log = false;
            {
                let mut guard = recover(self.store.write());
                if let Some(store) = guard.as_mut().filter(|s| s.log_stale) {
                    store.log = load::log_edge_at(conn, store.seq)?;
                    store.log_root = store.log.root();
                    store.log_stale = false;
                    tracing::warn!(
                        seq = store.seq,
                        size = store.log.size(),
                        "read the log's edge again"
                    );
                }
            }
            self.drain(&mut p);
            self.applied_moved.notify_all();
            if last_page {
                break;
            }
        }
        Ok(applied_here)
    }

    // ---- reads ----

    /// The status answer for one KvK number (an unknown one is not certified).
    pub fn company_status(
        &self,
        kvk: &KvkNumber,
        query: &StatusQuery,
    ) -> Result<AsOf<StatusAnswer>, CoreError> {
        self.read(|s| s.company_status(kvk, query))
    }

    /// Status answers for many KvK numbers, in the order asked.
    pub fn company_statuses(
        &self,
        kvks: &[KvkNumber],
        query: &StatusQuery,
    ) -> Result<AsOf<Vec<StatusAnswer>>, CoreError> {
        self.read(|s| kvks.iter().map(|k| s.company_status(k, query)).collect())
    }

    /// One certificate, by number.
    pub fn certificate(&self, n: &CertificateNumber) -> Result<AsOf<Certificate>, CoreError> {
        let found = self.read(|s| s.certificate_by_number(n))?;
        match found.value {
            Some(c) => Ok(AsOf {
                seq: found.seq,
                value: c,
            }),
            None => Err(CoreError::CertificateNotFound(n.clone())),
        }
    }

    /// One company, its standing at `at`, and its certificates.
    #[allow(clippy::type_complexity)]
    pub fn company_detail(
        &self,
        kvk: &KvkNumber,
        at: DateTime<Utc>,
    ) -> Result<AsOf<Option<(Company, StatusAnswer, Vec<Certificate>)>>, CoreError> {
        self.read(|s| s.company_detail(kvk, at))
    }

    /// One company, if the register knows it.
    pub fn company(&self, kvk: &KvkNumber) -> Result<AsOf<Option<Company>>, CoreError> {
        self.read(|s| s.company_by_kvk(kvk))
    }

    /// Companies matching `filter`, a page of at most `limit` after `after`.
    pub fn search_companies(
        &self,
        filter: &SearchFilter,
        after: Option<&SearchCursor>,
        limit: i64,
    ) -> Result<AsOf<SearchPage<CompanyHit>>, CoreError> {
        let limit = usize::try_from(limit).unwrap_or(0);
        let page = self.read(|s| s.search_companies(filter, after, limit, self.budget()))?;
        Ok(AsOf {
            seq: page.seq,
            value: page.value?,
        })
    }

    /// Certificates matching `filter`, a page of at most `limit` after `after`.
    pub fn search_certificates(
        &self,
        filter: &SearchFilter,
        after: Option<&SearchCursor>,
        limit: i64,
    ) -> Result<AsOf<SearchPage<Certificate>>, CoreError> {
        let limit = usize::try_from(limit).unwrap_or(0);
        let page = self.read(|s| s.search_certificates(filter, after, limit, self.budget()))?;
        Ok(AsOf {
            seq: page.seq,
            value: page.value?,
        })
    }

    /// What the model holds, in numbers (for logs and metrics).
    pub fn report(&self) -> Option<String> {
        recover(self.store.read())
            .as_ref()
            .map(|s| s.report().to_string())
    }
}
