//! Delivering subscriptions' messages, per the Standard Webhooks
//! specification: `webhook-id` (stable across retries), `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under
//! each valid `whsec_` secret.
//!
//! Every process runs one dispatcher. It leases subscriptions that are owed
//! something (one replica at a time holds a lease; see
//! [`registry_core::Registry::claim_subscriptions`]), and for each sends its
//! messages in `seq` order: the oldest not yet accepted first, then the events
//! after its cursor, each stored before its first attempt. `2xx` is done;
//! `410` disables the subscription; anything else (an error status, a refused
//! connection, no answer within the timeout) is tried again later, waiting
//! twice as long each time with jitter, until the subscription has failed for
//! `REGISTRY_WEBHOOK_DISABLE_AFTER_SECS` and is disabled, its owner told why.
//! The dispatcher runs beside the server with a bounded number of deliveries
//! in flight; issuance and reads never wait for it.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use registry_core::registry::subscriptions::{
    Attempt, Claimed, EXPIRING, Expiring, Message, NewMessage, Owed, Verdict,
};
use registry_core::{Event, EventKind, Registry};
use serde::Serialize;
use sha2::Sha256;

use crate::config::{Config, WebhookOptions};
use crate::views::EventView;

/// How long a lease lasts; a replica that dies holding one is relieved after it.
const LEASE: Duration = Duration::from_secs(60);
/// A lease is given back once less than this is left of it.
const LEASE_MARGIN: Duration = Duration::from_secs(20);
/// Messages read, stored and recorded together.
const BATCH: i64 = 100;
/// Batches sent per subscription per lease (others get their turn).
const ROUNDS_PER_LEASE: usize = 10;
/// How often the dispatcher looks for work when the log has not moved.
const IDLE_LOOK: Duration = Duration::from_millis(1_000);
/// How often it checks whether the log moved.
const TICK: Duration = Duration::from_millis(100);
/// While the log moved this recently, the register counts as writing.
const BUSY_FOR: Duration = Duration::from_secs(1);
/// While it writes, each round of deliveries is followed by a pause this many
/// times as long: deliveries take at most a fifth of the time of one worker,
/// and catch up when the writing stops.
const YIELD: u32 = 4;
/// Most notices made per sweep.
const NOTICES_PER_SWEEP: usize = 10_000;

/// A new `whsec_` secret: 32 random bytes, base64.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("whsec_{}", STANDARD.encode(bytes)))
}

/// The `webhook-signature` value for `body` sent as message `id` at
/// `timestamp` (Unix seconds): `v1,<signature>` per secret, space-separated.
pub fn signature(secrets: &[String], id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .filter_map(|secret| {
            let key = STANDARD
                .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
                .ok()?;
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body.as_bytes());
            Some(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The message type of an event: `certificate.issued`, …,
/// `certificationBody.accredited`, ….
pub fn message_type(kind: EventKind) -> String {
    let kind = kind.as_str();
    match kind.strip_prefix("certification_body_") {
        Some(rest) => format!("certificationBody.{rest}"),
        None => format!("certificate.{kind}"),
    }
}

/// What sends: the guarded client and the delivery options.
#[derive(Debug)]
struct Sender {
    http: reqwest::Client,
    options: WebhookOptions,
    guard: crate::outbound::Guard,
}

/// A message as delivered: Standard Webhooks' envelope.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<D: Serialize> {
    r#type: String,
    timestamp: String,
    data: D,
}

/// The data of an event's message.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EventData {
    subscription_id: String,
    /// The KvK numbers the certificate covers, the main applicant first.
    kvk_numbers: Vec<String>,
    event: EventView,
}

/// The data of an "expiring within" notice.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExpiringData<'a> {
    subscription_id: &'a str,
    certificate_number: &'a str,
    kvk_numbers: &'a [String],
    ends_at: String,
    within_days: i32,
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn event_message(
    sub: &str,
    event: Event,
    kvk_numbers: Vec<String>,
) -> serde_json::Result<(String, String)> {
    let kind = message_type(event.kind);
    let body = serde_json::to_string(&Envelope {
        r#type: kind.clone(),
        timestamp: instant(event.recorded_at),
        data: EventData {
            subscription_id: sub.to_owned(),
            kvk_numbers,
            event: EventView::from(event),
        },
    })?;
    Ok((kind, body))
}

fn notice_message(n: &Expiring, now: DateTime<Utc>) -> serde_json::Result<String> {
    serde_json::to_string(&Envelope {
        r#type: EXPIRING.to_owned(),
        timestamp: instant(now),
        data: ExpiringData {
            subscription_id: &n.subscription_id,
            certificate_number: &n.certificate_number,
            kvk_numbers: &n.kvk_numbers,
            ends_at: instant(n.ends_at),
            within_days: n.days,
        },
    })
}

/// The wait before the next attempt after `attempts` failed ones: doubling
/// from `first_retry` up to `max_retry`, then scaled by a random factor from
/// 0.5 to 1 (so that receivers coming back are not met by every sender at once).
pub fn backoff(options: &WebhookOptions, attempts: i32) -> Duration {
    let doubling = 2u32.saturating_pow(u32::try_from(attempts.clamp(0, 30)).unwrap_or(30));
    let wait = options
        .first_retry
        .saturating_mul(doubling)
        .min(options.max_retry);
    wait.mul_f64(0.5 + rand::random::<f64>() * 0.5)
}

/// The dispatcher: runs until aborted.
pub async fn run(registry: Registry, config: Arc<Config>) {
    let options = config.webhooks.clone();
    let http = match config.outbound.client(options.timeout) {
        Ok(http) => http,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client; no deliveries");
            return;
        }
    };
    let sender = Arc::new(Sender {
        http,
        options: options.clone(),
        guard: config.outbound,
    });
    let owner = format!(
        "{}-{}",
        std::process::id(),
        crate::clients::random_id("").unwrap_or_default()
    );
    let sweep_every = config.expiry_interval;
    let mut last_sweep: Option<std::time::Instant> = None;
    let mut last_head = -1;
    let mut last_look = std::time::Instant::now() - IDLE_LOOK;
    // When the log last moved: while it moves, deliveries yield to writes.
    let mut moved_at = std::time::Instant::now();
    let mut seen = -1;
    loop {
        tokio::time::sleep(TICK).await;
        let model = registry.model();
        if !model.is_loaded() {
            continue;
        }
        if last_sweep.is_none_or(|t| t.elapsed() >= sweep_every) {
            last_sweep = Some(std::time::Instant::now());
            sweep_notices(&registry).await;
        }
        let head = model.seq();
        if head != seen {
            seen = head;
            moved_at = std::time::Instant::now();
        }
        if head == last_head && last_look.elapsed() < IDLE_LOOK {
            continue;
        }
        last_look = std::time::Instant::now();
        // Look again soon while there was work.
        loop {
            // While the register is writing, one subscription at a time and a
            // pause after each round (see YIELD); idle, all at once.
            let writing = registry.model().seq() != head || moved_at.elapsed() < BUSY_FOR;
            let round_started = std::time::Instant::now();
            let claiming = registry.clone();
            let owner_c = owner.clone();
            let limit = if writing {
                1
            } else {
                options.concurrency as i64
            };
            let claimed = tokio::task::spawn_blocking(move || {
                claiming.claim_subscriptions(
                    &owner_c,
                    head,
                    registry_core::time::now(),
                    LEASE,
                    limit,
                )
            })
            .await;
            let claimed = match claimed {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot claim subscriptions; will try again");
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, "claiming subscriptions panicked");
                    break;
                }
            };
            if claimed.is_empty() {
                last_head = head;
                break;
            }
            let rounds: Vec<_> = claimed
                .into_iter()
                .map(|sub| {
                    tokio::spawn(deliver(
                        registry.clone(),
                        sender.clone(),
                        owner.clone(),
                        sub,
                        head,
                    ))
                })
                .collect();
            for round in rounds {
                if let Err(e) = round.await {
                    tracing::error!(error = %e, "a delivery round panicked");
                }
            }
            if writing {
                tokio::time::sleep(round_started.elapsed().saturating_mul(YIELD)).await;
            }
        }
    }
}

/// Makes the "expiring within" notices that are due.
async fn sweep_notices(registry: &Registry) {
    let registry = registry.clone();
    let made = tokio::task::spawn_blocking(move || {
        let now = registry_core::time::now();
        let due = registry.expiring(now, NOTICES_PER_SWEEP)?;
        let notices: Vec<(Expiring, String)> = due
            .into_iter()
            .filter_map(|n| notice_message(&n, now).ok().map(|body| (n, body)))
            .collect();
        let made = registry.store_notices(&notices, now)?;
        let forgotten = registry.forget_old_deliveries(now)?;
        if forgotten > 0 {
            tracing::info!(forgotten, "delivered messages past their keeping forgotten");
        }
        Ok::<_, registry_core::CoreError>(made)
    })
    .await;
    match made {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(notices = n, "expiring-certificate notices made"),
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot make notices; will try again"),
        Err(e) => tracing::error!(error = %e, "making notices panicked"),
    }
}

/// Blocking core call off the async workers.
async fn core<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, registry_core::CoreError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Sends what `sub` is owed, in order, a batch at a time, while the lease
/// lasts; gives it back. A batch costs two transactions (its messages stored,
/// its attempts recorded), whatever its size. An event's message is made from
/// the event at each attempt: the same bytes every time.
async fn deliver(
    registry: Registry,
    sender: Arc<Sender>,
    owner: String,
    mut sub: Claimed,
    head: i64,
) {
    let leased = std::time::Instant::now();
    let lease_left = || leased.elapsed() + LEASE_MARGIN < LEASE;
    let result = async {
        for _ in 0..ROUNDS_PER_LEASE {
            if !lease_left() {
                break;
            }
            let (r, s, o) = (registry.clone(), sub.clone(), owner.clone());
            let owed = core(move || r.owed(&s, &o, head, BATCH)).await?;
            let messages: Vec<(Message, String)> = match owed {
                Owed::Nothing => break,
                Owed::Messages(pending) => pending
                    .into_iter()
                    .map(|(message, event)| {
                        let body = match (&message.payload, event) {
                            (Some(body), _) => Ok(body.clone()),
                            (None, Some((event, kvks))) => event_message(&sub.id, event, kvks)
                                .map(|(_, body)| body)
                                .map_err(|e| e.to_string()),
                            (None, None) => Err(format!("message {} has no event", message.id)),
                        }?;
                        Ok((message, body))
                    })
                    .collect::<Result<_, String>>()?,
                Owed::Events(events) => {
                    let Some(last) = events.last().map(|(e, _)| e.seq) else {
                        break;
                    };
                    let mut bodies = std::collections::HashMap::new();
                    let mut made = Vec::with_capacity(events.len());
                    for (event, kvks) in events {
                        let seq = event.seq;
                        let (kind, body) =
                            event_message(&sub.id, event, kvks).map_err(|e| e.to_string())?;
                        made.push(NewMessage { seq, kind });
                        bodies.insert(seq, body);
                    }
                    let (r, id, o) = (registry.clone(), sub.id.clone(), owner.clone());
                    let stored =
                        core(move || r.store_messages(&id, &o, &made, registry_core::time::now()))
                            .await?;
                    sub.cursor_seq = last;
                    let Some(stored) = stored else {
                        return Ok(()); // the lease went to another replica
                    };
                    stored
                        .into_iter()
                        .map(|m| {
                            let body = match &m.payload {
                                Some(body) => body.clone(),
                                None => bodies.remove(&m.seq).unwrap_or_default(),
                            };
                            (m, body)
                        })
                        .collect()
                }
            };
            let mut attempts = Vec::with_capacity(messages.len());
            for (message, body) in &messages {
                if !lease_left() {
                    break;
                }
                let attempt = send(&sender, &sub, message, body).await;
                let delivered = attempt.verdict == Verdict::Delivered;
                if let Verdict::Disable(reason) = &attempt.verdict {
                    tracing::warn!(subscription = %sub.id, %reason, "subscription disabled");
                }
                attempts.push((message.id.clone(), attempt));
                if !delivered {
                    break;
                }
                sub.failing_since = None;
            }
            let all_delivered = attempts.len() == messages.len()
                && attempts
                    .last()
                    .is_none_or(|(_, a)| a.verdict == Verdict::Delivered);
            let (r, s, o) = (registry.clone(), sub.id.clone(), owner.clone());
            let kept = core(move || r.record_attempts(&s, &o, &attempts)).await?;
            if !kept || !all_delivered {
                break;
            }
        }
        Ok::<(), String>(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(subscription = %sub.id, error = %e, "delivery round failed; will try again");
    }
    let (r, s, o) = (registry.clone(), sub.id.clone(), owner.clone());
    if let Err(e) = core(move || r.release_subscription(&s, &o)).await {
        tracing::warn!(subscription = %sub.id, error = %e, "cannot give a lease back; it runs out");
    }
}

/// One attempt at `message`, and what follows from it.
async fn send(sender: &Sender, sub: &Claimed, message: &Message, body: &str) -> Attempt {
    let (http, options) = (&sender.http, &sender.options);
    let now = registry_core::time::now();
    let timestamp = now.timestamp();
    let sent = match sender.guard.check(&sub.url) {
        Err(e) => Err(e),
        Ok(url) => http
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &message.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature(&sub.secrets, &message.id, timestamp, body),
            )
            .body(body.to_owned())
            .send()
            .await
            .map(|r| r.status())
            .map_err(|e| describe(&e)),
    };
    let at = registry_core::time::now();
    let (status, error) = match &sent {
        Ok(s) => (
            Some(s.as_u16()),
            (!s.is_success()).then(|| format!("answered {s}")),
        ),
        Err(e) => (None, Some(e.clone())),
    };
    let failing_since = sub.failing_since.unwrap_or(at);
    let given_up = chrono::Duration::from_std(options.disable_after)
        .map(|d| at - failing_since >= d)
        .unwrap_or(false);
    let verdict = match sent {
        Ok(s) if s.is_success() => Verdict::Delivered,
        Ok(s) if s.as_u16() == 410 => {
            Verdict::Disable("the receiver answered 410 Gone: unsubscribed".to_owned())
        }
        _ if given_up => Verdict::Disable(format!(
            "failing since {}; last attempt: {}",
            instant(failing_since),
            error.as_deref().unwrap_or("failed")
        )),
        _ => {
            let wait = backoff(options, message.attempts);
            Verdict::Retry(at + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX))
        }
    };
    Attempt {
        at,
        status,
        error,
        verdict,
    }
}

/// What went wrong with a request, in words for the subscription's owner
/// (no addresses beyond the URL they gave).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer within the timeout".into()
    } else if e.is_connect() {
        "cannot connect (refused, unreachable, or an address the register does not call)".into()
    } else if e.is_redirect() {
        "answered with a redirect, which is not followed".into()
    } else {
        "the request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks specification's published example.
    #[test]
    fn signatures_match_the_specifications_example() {
        let secret = vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()];
        let sig = signature(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn two_secrets_give_two_signatures() {
        let a = new_secret().expect("secret");
        let b = new_secret().expect("secret");
        let sig = signature(&[a.clone(), b], "msg_x", 1, "{}");
        assert_eq!(sig.split(' ').count(), 2);
        assert!(sig.starts_with(&signature(&[a], "msg_x", 1, "{}")));
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let options = WebhookOptions {
            first_retry: Duration::from_secs(5),
            max_retry: Duration::from_secs(3600),
            disable_after: Duration::from_secs(3 * 86_400),
            timeout: Duration::from_secs(10),
            concurrency: 1,
        };
        for attempts in 0..40 {
            let full = Duration::from_secs(5)
                .saturating_mul(2u32.saturating_pow(attempts.min(30) as u32))
                .min(Duration::from_secs(3600));
            let wait = backoff(&options, attempts);
            assert!(wait <= full && wait >= full / 2, "{attempts}: {wait:?}");
        }
        // Retried for at least a day before the subscription is given up.
        let mut total = Duration::ZERO;
        let mut attempts = 0;
        while total < options.disable_after {
            total += backoff(&options, attempts);
            attempts += 1;
        }
        assert!(attempts > 24, "{attempts} attempts in three days");
    }

    #[test]
    fn message_types_name_the_event() {
        assert_eq!(message_type(EventKind::Issued), "certificate.issued");
        assert_eq!(
            message_type(EventKind::CertificationBodyAccredited),
            "certificationBody.accredited"
        );
    }
}
