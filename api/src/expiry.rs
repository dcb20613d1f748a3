//! The background job that records `expired` events in the feed when a period
//! ends without renewal, and forgets request ids that can no longer be replayed. Status answers never wait for it: they are computed
//! from the periods as of the asked instant (API.md, "Lifecycle").

use std::time::Duration;

use registry_core::Registry;

/// How many expiries one round records at most; the next round takes the rest.
const BATCH: i64 = 500;

/// Runs until the task is aborted: a round at once, then one every `interval`.
pub async fn run(registry: Registry, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let registry = registry.clone();
        let round = tokio::task::spawn_blocking(move || {
            let mut total = 0;
            loop {
                let n = registry.record_expiries(registry_core::time::now(), BATCH)?;
                total += n;
                if (n as i64) < BATCH {
                    registry.forget_expired_request_ids(registry_core::time::now())?;
                    return Ok::<_, registry_core::CoreError>(total);
                }
            }
        })
        .await;
        match round {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(recorded = n, "expired periods recorded"),
            Ok(Err(e)) => tracing::warn!(error = %e, "expiry round failed; will try again"),
            Err(e) => tracing::error!(error = %e, "expiry round panicked"),
        }
    }
}
