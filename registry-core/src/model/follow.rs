//! The follower: one thread per process that applies the events other
//! processes append (replicas on one PostgreSQL), and settles what this
//! process's writes cannot (a `seq` given up by a transaction of another).
//!
//! It keeps a connection of its own. On PostgreSQL it `LISTEN`s to the
//! channel every append notifies (see `storage`), and looks at what arrived
//! every few milliseconds (reading what the socket holds, no round trip); an
//! event of another process sends it to the log, which is the truth, read up to
//! its barrier; a poll every half second is the fallback for a notification
//! lost with a connection. On SQLite (one writer, usually this process) it
//! polls.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;

use super::ReadModel;
use crate::storage::{AnyConnection, Connector, DatabaseUrl};

/// The channel every appended event is announced on (its payload: the `seq`).
pub(crate) const CHANNEL: &str = "pso_events";

/// How often a PostgreSQL follower looks for notifications.
const LISTEN_TICK: Duration = Duration::from_millis(5);
/// How often the log is read regardless (SQLite's only way; PostgreSQL's
/// fallback).
const POLL: Duration = Duration::from_millis(500);
/// How long a follower waits before it connects again.
const RECONNECT: Duration = Duration::from_secs(1);

/// A running follower; stopped (and joined) when dropped.
#[derive(Debug)]
pub struct Follow {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Follow {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl ReadModel {
    /// Starts following the log of the database at `url` (the model must be
    /// loaded from it). The thread ends when the `Follow` is dropped, or when
    /// the model is.
    pub(crate) fn follow(self: &Arc<Self>, url: DatabaseUrl) -> std::io::Result<Follow> {
        let stop = Arc::new(AtomicBool::new(false));
        let model = Arc::downgrade(self);
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("read-model".into())
            .spawn(move || run(model, &Connector::new(url), &stopped))?;
        Ok(Follow {
            stop,
            thread: Some(thread),
        })
    }
}

/// Whether an announcement (`instance:seq`) is of an event another process
/// appended after `applied`: this process's own are handed over directly.
fn announced_elsewhere(payload: &str, applied: i64) -> bool {
    match payload.rsplit_once(':') {
        Some((instance, seq)) => {
            instance != crate::storage::instance() && seq.parse::<i64>().is_ok_and(|s| s > applied)
        }
        None => true,
    }
}

/// Opens the follower's connection; on PostgreSQL it listens.
fn connect(connector: &Connector) -> Option<AnyConnection> {
    let mut conn = match connector.open() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "the read model's follower cannot connect; trying again");
            return None;
        }
    };
    if let AnyConnection::Postgresql(pg) = &mut conn
        && let Err(e) = diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(pg)
    {
        tracing::warn!(error = %e, "the read model's follower cannot listen; trying again");
        return None;
    }
    Some(conn)
}

fn run(model: Weak<ReadModel>, connector: &Connector, stop: &AtomicBool) {
    let mut conn: Option<AnyConnection> = None;
    let mut last_read = Instant::now();
    while !stop.load(Ordering::Acquire) {
        let Some(model) = model.upgrade() else { return };
        if conn.is_none() {
            conn = connect(connector);
            if conn.is_none() {
                drop(model);
                std::thread::sleep(RECONNECT);
                continue;
            }
            // Whatever was announced while away is read now.
            last_read = Instant::now() - POLL;
        }
        let Some(c) = conn.as_mut() else { continue };
        let tick = match c {
            AnyConnection::Postgresql(_) => LISTEN_TICK,
            AnyConnection::Sqlite(_) => POLL,
        };
        let mut due = model.wait_for_call(tick) || last_read.elapsed() >= POLL;
        if let AnyConnection::Postgresql(pg) = c {
            // What the socket holds; an error (a connection lost) ends the
            // round, and the read below finds out.
            for note in pg.notifications_iter() {
                match note {
                    Ok(n) => due |= announced_elsewhere(&n.payload, model.seq()),
                    Err(_) => {
                        due = true;
                        break;
                    }
                }
            }
        }
        if !due || !model.is_loaded() {
            continue;
        }
        last_read = Instant::now();
        let caught_up = c
            .committed_seq()
            .map_err(crate::error::CoreError::from)
            .and_then(|mark| match mark {
                Some(mark) => Ok(mark),
                None => super::load::last_seq(c),
            })
            .and_then(|mark| model.catch_up(c, mark));
        if let Err(e) = caught_up {
            tracing::warn!(error = %e, "the read model's follower lost the log; connecting again");
            conn = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_of_this_process_are_left_alone() {
        let own = format!("{}:10", crate::storage::instance());
        assert!(!announced_elsewhere(&own, 5));
        assert!(announced_elsewhere("someone-else:10", 5));
        assert!(!announced_elsewhere("someone-else:5", 5), "applied already");
        assert!(announced_elsewhere("garbled", 5), "read the log to be sure");
    }
}
