//! Tender platforms: the scheme owner's API clients, their subscriptions to
//! the register's changes, and the deliveries made to them.
//!
//! The event log is the outbox. An event is written in its change's own
//! transaction; a subscription follows the log with a cursor of its own
//! (`cursor_seq`), and each event it is owed becomes a delivery row, stored
//! once with the message as first sent, before the first attempt. A delivery
//! is therefore never lost (the event it comes from is committed with the
//! change) and issuance pays nothing for subscriptions. One replica at a time
//! holds a subscription's lease and delivers its messages in `seq` order,
//! the oldest undelivered first (a failing one holds back the rest).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::Registry;
use crate::company::KvkNumber;
use crate::error::CoreError;
use crate::event::{Event, EventKind};
use crate::storage::rows::{from_db, to_db};
use crate::storage::same_sql;
use crate::storage::schema::{
    api_clients, certificates, coverage, deliveries, events, subscription_secrets, subscriptions,
    watched,
};

/// Most KvK numbers one subscription watches.
pub const MAX_WATCHED: usize = 100_000;
/// Most subscriptions one client holds.
pub const MAX_SUBSCRIPTIONS_PER_CLIENT: i64 = 100;
/// Longest "expiring within" notice period, in days.
pub const MAX_EXPIRING_DAYS: i32 = 366;
/// Most deliveries listed at once.
pub const MAX_DELIVERIES_LISTED: i64 = 500;
/// Rows written per statement when a watchlist is stored (well under
/// SQLite's limit of bound values).
const WATCH_CHUNK: usize = 2_000;

/// An API client as the scheme owner sees it (never its key).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiClient {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a presented key is checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientCredential {
    pub id: String,
    /// SHA-256 of the key's secret part, hex.
    pub key_hash: String,
    pub revoked: bool,
}

/// Whether a subscription is delivered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionState {
    Active,
    /// Not delivered to: failing for too long, the receiver answered `410`,
    /// or the client was revoked (`disabled_reason` says which).
    Disabled,
}

impl SubscriptionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionState::Active => "active",
            SubscriptionState::Disabled => "disabled",
        }
    }

    fn parse(s: &str) -> Result<Self, CoreError> {
        match s {
            "active" => Ok(SubscriptionState::Active),
            "disabled" => Ok(SubscriptionState::Disabled),
            other => Err(CoreError::Storage(format!(
                "corrupt subscriptions row: state {other:?}"
            ))),
        }
    }
}

/// What a new subscription follows and where it is delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionSpec {
    pub url: String,
    /// Every certificate's changes, not only the watchlist's.
    pub everything: bool,
    pub kinds: Vec<EventKind>,
    /// A notice this many days before a watched certificate's period ends
    /// without a renewal.
    pub expiring_days: Option<i32>,
    pub watch: Vec<KvkNumber>,
    /// Deliver the events after this `seq` (default: from now on).
    pub after_seq: Option<i64>,
}

/// A change to a subscription; what is left out stays.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubscriptionChange {
    pub url: Option<String>,
    pub everything: Option<bool>,
    pub kinds: Option<Vec<EventKind>>,
    /// `Some(None)` stops the notices.
    pub expiring_days: Option<Option<i32>>,
    pub add: Vec<KvkNumber>,
    pub remove: Vec<KvkNumber>,
    /// A new secret; the old one stays valid until the given instant.
    pub new_secret: Option<(String, DateTime<Utc>)>,
    /// Deliver again (a disabled subscription, from where it stopped).
    pub enable: bool,
}

/// A subscription as its client sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub everything: bool,
    pub kinds: Vec<EventKind>,
    pub expiring_days: Option<i32>,
    pub watched: i64,
    pub state: SubscriptionState,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The last event that has a delivery, or was passed over.
    pub cursor_seq: i64,
    /// Deliveries not yet accepted by the receiver.
    pub pending: i64,
    pub failing_since: Option<DateTime<Utc>>,
    pub next_attempt_at: DateTime<Utc>,
}

/// One delivery, as its client sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub seq: i64,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub attempts: i32,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A subscription this process holds the lease of.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub id: String,
    pub url: String,
    /// The current secret first, then the previous one while it is valid.
    pub secrets: Vec<String>,
    pub everything: bool,
    pub kinds: Vec<EventKind>,
    pub cursor_seq: i64,
    pub failing_since: Option<DateTime<Utc>>,
}

/// A message to send (again).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub seq: i64,
    pub kind: String,
    /// A notice's body; an event's is made from the event (see [`Owed`]).
    pub payload: Option<String>,
    pub attempts: i32,
}

/// An event with the KvK numbers its certificate covers, the main applicant
/// first.
pub type Covering = (Event, Vec<String>);

/// What a claimed subscription is owed next.
#[derive(Debug, Clone, PartialEq)]
pub enum Owed {
    /// Stored messages not yet accepted, oldest first: send them (again);
    /// an event's with the event and the KvK numbers its certificate covers,
    /// to make its body from.
    Messages(Vec<(Message, Option<Covering>)>),
    /// Events it has no delivery for yet, in `seq` order, each with the KvK
    /// numbers its certificate covers: make their messages and store them.
    Events(Vec<Covering>),
    /// Nothing up to the head.
    Nothing,
}

/// A message for an event, to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub seq: i64,
    pub kind: String,
}

/// How an attempt ended, and what follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub verdict: Verdict,
}

/// What an attempt decides.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Accepted (2xx).
    Delivered,
    /// Try again at this instant.
    Retry(DateTime<Utc>),
    /// Stop delivering to this subscription, for this reason.
    Disable(String),
}

/// A certificate of a subscription's nearing the end of its period with no
/// renewal: a notice to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Expiring {
    pub subscription_id: String,
    pub message_id: String,
    pub certificate_number: String,
    pub ends_at: DateTime<Utc>,
    pub kvk_numbers: Vec<String>,
    pub days: i32,
}

type ClientRow = (
    String,
    String,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
);

const CLIENT_COLUMNS: (
    api_clients::id,
    api_clients::name,
    api_clients::created_at,
    api_clients::revoked_at,
) = (
    api_clients::id,
    api_clients::name,
    api_clients::created_at,
    api_clients::revoked_at,
);

fn into_client((id, name, created_at, revoked_at): ClientRow) -> ApiClient {
    ApiClient {
        id,
        name,
        created_at: from_db(created_at),
        revoked_at: revoked_at.map(from_db),
    }
}

/// The stable id of the message for event `seq` to `subscription`: the same
/// for every attempt, on every replica, and after a restart (receivers
/// deduplicate by it).
pub fn message_id(subscription: &str, seq: i64) -> String {
    stable_id(&format!("{subscription}\nevent\n{seq}"))
}

fn notice_id(subscription: &str, certificate: &str, ends_at: DateTime<Utc>) -> String {
    stable_id(&format!(
        "{subscription}\nexpiring\n{certificate}\n{}",
        ends_at.timestamp()
    ))
}

fn stable_id(content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

fn kinds_json(kinds: &[EventKind]) -> Result<String, CoreError> {
    Ok(serde_json::to_string(
        &kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
    )?)
}

fn parse_kinds(json: &str) -> Result<Vec<EventKind>, CoreError> {
    let names: Vec<String> = serde_json::from_str(json)?;
    names
        .iter()
        .map(|n| {
            EventKind::parse(n)
                .map_err(|e| CoreError::Storage(format!("corrupt subscriptions row: {e}")))
        })
        .collect()
}

type SubscriptionRow = (
    String,
    String,
    bool,
    String,
    Option<i32>,
    String,
    Option<String>,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
    i64,
    Option<chrono::NaiveDateTime>,
    chrono::NaiveDateTime,
);

fn subscription_columns() -> (
    subscriptions::id,
    subscriptions::url,
    subscriptions::everything,
    subscriptions::kinds,
    subscriptions::expiring_days,
    subscriptions::state,
    subscriptions::disabled_reason,
    subscriptions::created_at,
    subscriptions::updated_at,
    subscriptions::cursor_seq,
    subscriptions::failing_since,
    subscriptions::next_attempt_at,
) {
    (
        subscriptions::id,
        subscriptions::url,
        subscriptions::everything,
        subscriptions::kinds,
        subscriptions::expiring_days,
        subscriptions::state,
        subscriptions::disabled_reason,
        subscriptions::created_at,
        subscriptions::updated_at,
        subscriptions::cursor_seq,
        subscriptions::failing_since,
        subscriptions::next_attempt_at,
    )
}

fn not_found(id: &str) -> CoreError {
    CoreError::NotFound(format!("no subscription {id}"))
}

/// The client's subscription `id`, read in `conn` (another client's is not
/// found).
fn load_subscription(
    conn: &mut crate::storage::AnyConnection,
    client: &str,
    id: &str,
) -> Result<Subscription, CoreError> {
    let row: SubscriptionRow = subscriptions::table
        .filter(subscriptions::id.eq(id))
        .filter(subscriptions::client_id.eq(client))
        .select(subscription_columns())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found(id))?;
    let watched: i64 = watched::table
        .filter(watched::subscription_id.eq(id))
        .count()
        .get_result(conn)?;
    let pending: i64 = deliveries::table
        .filter(deliveries::subscription_id.eq(id))
        .filter(deliveries::delivered_at.is_null())
        .count()
        .get_result(conn)?;
    into_subscription(row, watched, pending)
}

fn into_subscription(
    row: SubscriptionRow,
    watched: i64,
    pending: i64,
) -> Result<Subscription, CoreError> {
    let (
        id,
        url,
        everything,
        kinds,
        expiring_days,
        state,
        disabled_reason,
        created_at,
        updated_at,
        cursor_seq,
        failing_since,
        next_attempt_at,
    ) = row;
    Ok(Subscription {
        id,
        url,
        everything,
        kinds: parse_kinds(&kinds)?,
        expiring_days,
        watched,
        state: SubscriptionState::parse(&state)?,
        disabled_reason,
        created_at: from_db(created_at),
        updated_at: from_db(updated_at),
        cursor_seq,
        pending,
        failing_since: failing_since.map(from_db),
        next_attempt_at: from_db(next_attempt_at),
    })
}

/// Adds `kvks` to a watchlist (those already there stay), keeping it within
/// [`MAX_WATCHED`].
fn watch(
    conn: &mut crate::storage::AnyConnection,
    id: &str,
    kvks: &[KvkNumber],
) -> Result<(), CoreError> {
    for chunk in kvks.chunks(WATCH_CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|k| {
                (
                    watched::subscription_id.eq(id),
                    watched::kvk_number.eq(k.as_str()),
                )
            })
            .collect();
        same_sql!(conn, |c| diesel::insert_into(watched::table)
            .values(&rows)
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    let count: i64 = watched::table
        .filter(watched::subscription_id.eq(id))
        .count()
        .get_result(conn)?;
    if count > MAX_WATCHED as i64 {
        return Err(CoreError::field(
            "add",
            format!("a watchlist holds at most {MAX_WATCHED} KvK numbers; this would make {count}"),
        ));
    }
    Ok(())
}

fn check_expiring_days(days: Option<i32>) -> Result<(), CoreError> {
    match days {
        Some(d) if !(1..=MAX_EXPIRING_DAYS).contains(&d) => Err(CoreError::field(
            "expiringWithinDays",
            format!("must be from 1 to {MAX_EXPIRING_DAYS}"),
        )),
        _ => Ok(()),
    }
}

impl Registry {
    /// Registers an API client under `id` with the hash of its key.
    pub fn create_client(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<ApiClient, CoreError> {
        self.write(|conn| {
            diesel::insert_into(api_clients::table)
                .values((
                    api_clients::id.eq(id),
                    api_clients::name.eq(name),
                    api_clients::key_hash.eq(key_hash),
                    api_clients::created_at.eq(to_db(now)),
                ))
                .execute(conn)?;
            Ok(())
        })?;
        Ok(ApiClient {
            id: id.to_owned(),
            name: name.to_owned(),
            created_at: now,
            revoked_at: None,
        })
    }

    /// Every API client, oldest first.
    pub fn clients(&self) -> Result<Vec<ApiClient>, CoreError> {
        self.read(|conn| {
            let rows: Vec<ClientRow> = api_clients::table
                .order((api_clients::created_at.asc(), api_clients::id.asc()))
                .select(CLIENT_COLUMNS)
                .load(conn)?;
            Ok(rows.into_iter().map(into_client).collect())
        })
    }

    /// Revokes a client's key: it is refused from now on, and its
    /// subscriptions are no longer delivered to.
    pub fn revoke_client(&self, id: &str, now: DateTime<Utc>) -> Result<ApiClient, CoreError> {
        self.write(|conn| {
            let changed = diesel::update(
                api_clients::table
                    .filter(api_clients::id.eq(id))
                    .filter(api_clients::revoked_at.is_null()),
            )
            .set(api_clients::revoked_at.eq(to_db(now)))
            .execute(conn)?;
            if changed > 0 {
                diesel::update(subscriptions::table.filter(subscriptions::client_id.eq(id)))
                    .set((
                        subscriptions::state.eq(SubscriptionState::Disabled.as_str()),
                        subscriptions::disabled_reason.eq("the client's key was revoked"),
                        subscriptions::updated_at.eq(to_db(now)),
                    ))
                    .execute(conn)?;
            }
            let row: Option<ClientRow> = api_clients::table
                .find(id)
                .select(CLIENT_COLUMNS)
                .first(conn)
                .optional()?;
            row.map(into_client)
                .ok_or_else(|| CoreError::NotFound(format!("no API client {id}")))
        })
    }

    /// What a key presented for client `id` is checked against.
    pub fn client_credential(&self, id: &str) -> Result<Option<ClientCredential>, CoreError> {
        self.read(|conn| {
            let row: Option<(String, String, Option<chrono::NaiveDateTime>)> = api_clients::table
                .find(id)
                .select((
                    api_clients::id,
                    api_clients::key_hash,
                    api_clients::revoked_at,
                ))
                .first(conn)
                .optional()?;
            Ok(row.map(|(id, key_hash, revoked_at)| ClientCredential {
                id,
                key_hash,
                revoked: revoked_at.is_some(),
            }))
        })
    }

    /// Creates a subscription for `client` under `id`, delivering with
    /// `secret`; events after `spec.after_seq` (default `head`, from now on).
    pub fn create_subscription(
        &self,
        client: &str,
        id: &str,
        spec: &SubscriptionSpec,
        secret: &str,
        head: i64,
        now: DateTime<Utc>,
    ) -> Result<Subscription, CoreError> {
        check_expiring_days(spec.expiring_days)?;
        if spec.watch.len() > MAX_WATCHED {
            return Err(CoreError::field(
                "kvkNumbers",
                format!("a watchlist holds at most {MAX_WATCHED} KvK numbers"),
            ));
        }
        let cursor = match spec.after_seq {
            Some(after) if !(0..=head).contains(&after) => {
                return Err(CoreError::field(
                    "afterSeq",
                    format!("must be from 0 to the feed's last seq, {head}"),
                ));
            }
            Some(after) => after,
            None => head,
        };
        let kinds = kinds_json(&spec.kinds)?;
        self.write(|conn| {
            let held: i64 = subscriptions::table
                .filter(subscriptions::client_id.eq(client))
                .count()
                .get_result(conn)?;
            if held >= MAX_SUBSCRIPTIONS_PER_CLIENT {
                return Err(CoreError::field(
                    "url",
                    format!(
                        "a client holds at most {MAX_SUBSCRIPTIONS_PER_CLIENT} subscriptions; \
                         delete one first"
                    ),
                ));
            }
            diesel::insert_into(subscriptions::table)
                .values((
                    subscriptions::id.eq(id),
                    subscriptions::client_id.eq(client),
                    subscriptions::url.eq(&spec.url),
                    subscriptions::everything.eq(spec.everything),
                    subscriptions::kinds.eq(&kinds),
                    subscriptions::expiring_days.eq(spec.expiring_days),
                    subscriptions::state.eq(SubscriptionState::Active.as_str()),
                    subscriptions::created_at.eq(to_db(now)),
                    subscriptions::updated_at.eq(to_db(now)),
                    subscriptions::cursor_seq.eq(cursor),
                    subscriptions::next_attempt_at.eq(to_db(now)),
                ))
                .execute(conn)?;
            diesel::insert_into(subscription_secrets::table)
                .values((
                    subscription_secrets::subscription_id.eq(id),
                    subscription_secrets::secret.eq(secret),
                    subscription_secrets::created_at.eq(to_db(now)),
                ))
                .execute(conn)?;
            watch(conn, id, &spec.watch)?;
            load_subscription(conn, client, id)
        })
    }

    /// The client's subscriptions, oldest first.
    pub fn subscriptions(&self, client: &str) -> Result<Vec<Subscription>, CoreError> {
        self.read(|conn| {
            let ids: Vec<String> = subscriptions::table
                .filter(subscriptions::client_id.eq(client))
                .order((subscriptions::created_at.asc(), subscriptions::id.asc()))
                .select(subscriptions::id)
                .load(conn)?;
            ids.iter()
                .map(|id| load_subscription(conn, client, id))
                .collect()
        })
    }

    /// The client's subscription `id`.
    pub fn subscription(&self, client: &str, id: &str) -> Result<Subscription, CoreError> {
        self.read(|conn| load_subscription(conn, client, id))
    }

    /// Changes the client's subscription `id`.
    pub fn change_subscription(
        &self,
        client: &str,
        id: &str,
        change: &SubscriptionChange,
        now: DateTime<Utc>,
    ) -> Result<Subscription, CoreError> {
        if let Some(days) = change.expiring_days {
            check_expiring_days(days)?;
        }
        if change.add.len() > MAX_WATCHED || change.remove.len() > MAX_WATCHED {
            return Err(CoreError::field(
                "add",
                format!("at most {MAX_WATCHED} KvK numbers a change"),
            ));
        }
        let kinds = change.kinds.as_deref().map(kinds_json).transpose()?;
        self.write(|conn| {
            load_subscription(conn, client, id)?;
            let target = subscriptions::table.filter(subscriptions::id.eq(id));
            diesel::update(target)
                .set(subscriptions::updated_at.eq(to_db(now)))
                .execute(conn)?;
            if let Some(url) = &change.url {
                diesel::update(target)
                    .set(subscriptions::url.eq(url))
                    .execute(conn)?;
            }
            if let Some(everything) = change.everything {
                diesel::update(target)
                    .set(subscriptions::everything.eq(everything))
                    .execute(conn)?;
            }
            if let Some(kinds) = &kinds {
                diesel::update(target)
                    .set(subscriptions::kinds.eq(kinds))
                    .execute(conn)?;
            }
            if let Some(days) = change.expiring_days {
                diesel::update(target)
                    .set(subscriptions::expiring_days.eq(days))
                    .execute(conn)?;
            }
            if let Some((secret, previous_until)) = &change.new_secret {
                // The one before the current one goes; the current one stays
                // valid a while, beside the new one.
                let mine = subscription_secrets::table
                    .filter(subscription_secrets::subscription_id.eq(id));
                diesel::delete(mine.filter(subscription_secrets::valid_until.is_not_null()))
                    .execute(conn)?;
                diesel::update(mine)
                    .set(subscription_secrets::valid_until.eq(to_db(*previous_until)))
                    .execute(conn)?;
                diesel::insert_into(subscription_secrets::table)
                    .values((
                        subscription_secrets::subscription_id.eq(id),
                        subscription_secrets::secret.eq(secret),
                        subscription_secrets::created_at.eq(to_db(now)),
                    ))
                    .execute(conn)?;
            }
            if change.enable {
                diesel::update(target)
                    .set((
                        subscriptions::state.eq(SubscriptionState::Active.as_str()),
                        subscriptions::disabled_reason.eq(None::<String>),
                        subscriptions::failing_since.eq(None::<chrono::NaiveDateTime>),
                        subscriptions::next_attempt_at.eq(to_db(now)),
                    ))
                    .execute(conn)?;
            }
            for chunk in change.remove.chunks(WATCH_CHUNK) {
                diesel::delete(
                    watched::table
                        .filter(watched::subscription_id.eq(id))
                        .filter(watched::kvk_number.eq_any(chunk.iter().map(KvkNumber::as_str))),
                )
                .execute(conn)?;
            }
            watch(conn, id, &change.add)?;
            load_subscription(conn, client, id)
        })
    }

    /// Deletes the client's subscription `id`, its watchlist and deliveries.
    pub fn delete_subscription(&self, client: &str, id: &str) -> Result<(), CoreError> {
        self.write(|conn| {
            let gone = diesel::delete(
                subscriptions::table
                    .filter(subscriptions::id.eq(id))
                    .filter(subscriptions::client_id.eq(client)),
            )
            .execute(conn)?;
            if gone == 0 {
                return Err(not_found(id));
            }
            Ok(())
        })
    }

    /// Delivers the events after `after_seq` again (those already delivered
    /// keep their ids: a receiver that still has them passes them over).
    pub fn replay_subscription(
        &self,
        client: &str,
        id: &str,
        after_seq: i64,
        head: i64,
        now: DateTime<Utc>,
    ) -> Result<Subscription, CoreError> {
        if !(0..=head).contains(&after_seq) {
            return Err(CoreError::field(
                "afterSeq",
                format!("must be from 0 to the feed's last seq, {head}"),
            ));
        }
        self.write(|conn| {
            load_subscription(conn, client, id)?;
            // Messages not yet accepted past that point are made again, in
            // order, when the cursor comes by.
            diesel::delete(
                deliveries::table
                    .filter(deliveries::subscription_id.eq(id))
                    .filter(deliveries::delivered_at.is_null())
                    .filter(deliveries::seq.gt(after_seq))
                    .filter(deliveries::kind.ne(EXPIRING)),
            )
            .execute(conn)?;
            diesel::update(subscriptions::table.filter(subscriptions::id.eq(id)))
                .set((
                    subscriptions::cursor_seq.eq(after_seq),
                    subscriptions::next_attempt_at.eq(to_db(now)),
                    subscriptions::updated_at.eq(to_db(now)),
                ))
                .execute(conn)?;
            load_subscription(conn, client, id)
        })
    }

    /// The subscription's latest deliveries, newest first, at most `limit`.
    pub fn deliveries(
        &self,
        client: &str,
        id: &str,
        limit: i64,
    ) -> Result<Vec<Delivery>, CoreError> {
        let limit = limit.clamp(1, MAX_DELIVERIES_LISTED);
        self.read(|conn| {
            load_subscription(conn, client, id)?;
            type Row = (
                String,
                i64,
                String,
                chrono::NaiveDateTime,
                i32,
                Option<chrono::NaiveDateTime>,
                Option<i32>,
                Option<String>,
                Option<chrono::NaiveDateTime>,
            );
            let rows: Vec<Row> = deliveries::table
                .filter(deliveries::subscription_id.eq(id))
                .order((deliveries::created_at.desc(), deliveries::seq.desc()))
                .limit(limit)
                .select((
                    deliveries::id,
                    deliveries::seq,
                    deliveries::kind,
                    deliveries::created_at,
                    deliveries::attempts,
                    deliveries::last_attempt_at,
                    deliveries::last_status,
                    deliveries::last_error,
                    deliveries::delivered_at,
                ))
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(|r| Delivery {
                    id: r.0,
                    seq: r.1,
                    kind: r.2,
                    created_at: from_db(r.3),
                    attempts: r.4,
                    last_attempt_at: r.5.map(from_db),
                    last_status: r.6,
                    last_error: r.7,
                    delivered_at: r.8.map(from_db),
                })
                .collect())
        })
    }

    /// Takes the lease of up to `limit` active subscriptions that are owed
    /// something up to `head` and are due, for `lease`, as `owner`. On
    /// PostgreSQL the rows are claimed with `FOR UPDATE SKIP LOCKED`: replicas
    /// claiming at once take different subscriptions.
    pub fn claim_subscriptions(
        &self,
        owner: &str,
        head: i64,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<Claimed>, CoreError> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        self.write(|conn| {
            let ids = conn.claim_subscriptions(owner, to_db(until), to_db(now), head, limit)?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            type Row = (
                String,
                String,
                bool,
                String,
                i64,
                Option<chrono::NaiveDateTime>,
            );
            let rows: Vec<Row> = subscriptions::table
                .filter(subscriptions::id.eq_any(&ids))
                .select((
                    subscriptions::id,
                    subscriptions::url,
                    subscriptions::everything,
                    subscriptions::kinds,
                    subscriptions::cursor_seq,
                    subscriptions::failing_since,
                ))
                .load(conn)?;
            let keys: Vec<(String, String)> = subscription_secrets::table
                .filter(subscription_secrets::subscription_id.eq_any(&ids))
                .filter(
                    subscription_secrets::valid_until
                        .is_null()
                        .or(subscription_secrets::valid_until.gt(to_db(now))),
                )
                // The current secret (no end) first.
                .order((
                    subscription_secrets::subscription_id.asc(),
                    subscription_secrets::created_at.desc(),
                ))
                .select((
                    subscription_secrets::subscription_id,
                    subscription_secrets::secret,
                ))
                .load(conn)?;
            rows.into_iter()
                .map(|(id, url, everything, kinds, cursor_seq, failing_since)| {
                    let secrets = keys
                        .iter()
                        .filter(|(s, _)| *s == id)
                        .map(|(_, k)| k.clone())
                        .collect();
                    Ok(Claimed {
                        id,
                        url,
                        secrets,
                        everything,
                        kinds: parse_kinds(&kinds)?,
                        cursor_seq,
                        failing_since: failing_since.map(from_db),
                    })
                })
                .collect()
        })
    }

    /// What the claimed subscription is owed next, up to `head`, at most
    /// `limit` of it: its oldest messages not yet accepted, else the first
    /// events after its cursor that it follows. When it is owed nothing, its
    /// cursor moves to `head`.
    pub fn owed(
        &self,
        sub: &Claimed,
        owner: &str,
        head: i64,
        limit: i64,
    ) -> Result<Owed, CoreError> {
        let found = self.read(|conn| {
            let pending: Vec<(String, i64, String, Option<String>, i32)> = deliveries::table
                .filter(deliveries::subscription_id.eq(&sub.id))
                .filter(deliveries::delivered_at.is_null())
                .order((deliveries::seq.asc(), deliveries::created_at.asc()))
                .limit(limit)
                .select((
                    deliveries::id,
                    deliveries::seq,
                    deliveries::kind,
                    deliveries::payload,
                    deliveries::attempts,
                ))
                .load(conn)?;
            if !pending.is_empty() {
                let seqs: Vec<i64> = pending
                    .iter()
                    .filter(|p| p.3.is_none())
                    .map(|p| p.1)
                    .collect();
                let found = super::event_log::events_at(conn, &seqs)?;
                let mut events: std::collections::HashMap<i64, (Event, Vec<String>)> =
                    with_coverage(conn, found)?
                        .into_iter()
                        .map(|(e, k)| (e.seq, (e, k)))
                        .collect();
                return Ok(Owed::Messages(
                    pending
                        .into_iter()
                        .map(|(id, seq, kind, payload, attempts)| {
                            let event = payload.is_none().then(|| events.remove(&seq)).flatten();
                            (
                                Message {
                                    id,
                                    seq,
                                    kind,
                                    payload,
                                    attempts,
                                },
                                event,
                            )
                        })
                        .collect(),
                ));
            }
            let kinds: Vec<&str> = sub.kinds.iter().map(|k| k.as_str()).collect();
            let mut next = events::table
                .filter(events::seq.gt(sub.cursor_seq))
                .filter(events::seq.le(head))
                .filter(events::kind.eq_any(kinds))
                .into_boxed();
            if !sub.everything {
                next = next.filter(diesel::dsl::exists(
                    coverage::table
                        .inner_join(watched::table.on(watched::kvk_number.eq(coverage::kvk_number)))
                        .filter(
                            coverage::certificate_id
                                .nullable()
                                .eq(events::certificate_id),
                        )
                        .filter(watched::subscription_id.eq(&sub.id)),
                ));
            }
            let seqs: Vec<i64> = next
                .order(events::seq.asc())
                .select(events::seq)
                .limit(limit)
                .load(conn)?;
            if seqs.is_empty() {
                return Ok(Owed::Nothing);
            }
            let found = super::event_log::events_at(conn, &seqs)?;
            Ok(Owed::Events(with_coverage(conn, found)?))
        })?;
        if found == Owed::Nothing {
            self.write(|conn| {
                diesel::update(
                    subscriptions::table
                        .filter(subscriptions::id.eq(&sub.id))
                        .filter(subscriptions::lease_owner.eq(owner))
                        .filter(subscriptions::cursor_seq.lt(head)),
                )
                .set(subscriptions::cursor_seq.eq(head))
                .execute(conn)?;
                Ok(())
            })?;
        }
        Ok(found)
    }

    /// Stores the messages made for events (each made once: one stored before,
    /// for a replay, is kept as it was and sent again) and moves the cursor
    /// past them, in one transaction; `None` when the lease was lost.
    pub fn store_messages(
        &self,
        sub: &str,
        owner: &str,
        made: &[NewMessage],
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Message>>, CoreError> {
        let (Some(first), Some(last)) = (made.first(), made.last()) else {
            return Ok(Some(Vec::new()));
        };
        let ids: Vec<String> = made.iter().map(|m| message_id(sub, m.seq)).collect();
        self.write(|conn| {
            let moved = diesel::update(
                subscriptions::table
                    .filter(subscriptions::id.eq(sub))
                    .filter(subscriptions::lease_owner.eq(owner))
                    .filter(subscriptions::cursor_seq.lt(first.seq)),
            )
            .set(subscriptions::cursor_seq.eq(last.seq))
            .execute(conn)?;
            if moved == 0 {
                return Ok(None);
            }
            for (m, id) in made.iter().zip(&ids) {
                let row = (
                    deliveries::id.eq(id),
                    deliveries::subscription_id.eq(sub),
                    deliveries::seq.eq(m.seq),
                    deliveries::kind.eq(&m.kind),
                    deliveries::created_at.eq(to_db(now)),
                    deliveries::attempts.eq(0),
                );
                // Made before (a replay): sent again as it was.
                same_sql!(conn, |c| diesel::insert_into(deliveries::table)
                    .values(row)
                    .on_conflict(deliveries::id)
                    .do_update()
                    .set(deliveries::delivered_at.eq(None::<chrono::NaiveDateTime>))
                    .execute(c))?;
            }
            let stored: Vec<(String, i64, String, Option<String>, i32)> = deliveries::table
                .filter(deliveries::id.eq_any(&ids))
                .order(deliveries::seq.asc())
                .select((
                    deliveries::id,
                    deliveries::seq,
                    deliveries::kind,
                    deliveries::payload,
                    deliveries::attempts,
                ))
                .load(conn)?;
            Ok(Some(
                stored
                    .into_iter()
                    .map(|(id, seq, kind, payload, attempts)| Message {
                        id,
                        seq,
                        kind,
                        payload,
                        attempts,
                    })
                    .collect(),
            ))
        })
    }

    /// Records attempts at messages, in the order made, and what follows from
    /// the last, in one transaction; `false` when the lease was lost meanwhile
    /// (another replica owns it now).
    pub fn record_attempts(
        &self,
        sub: &str,
        owner: &str,
        attempts: &[(String, Attempt)],
    ) -> Result<bool, CoreError> {
        let Some((_, last)) = attempts.last() else {
            return Ok(true);
        };
        self.write(|conn| {
            let held: Option<Option<chrono::NaiveDateTime>> = subscriptions::table
                .filter(subscriptions::id.eq(sub))
                .filter(subscriptions::lease_owner.eq(owner))
                .select(subscriptions::failing_since)
                .first(conn)
                .optional()?;
            let Some(failing_since) = held else {
                return Ok(false);
            };
            for (id, attempt) in attempts {
                let at = to_db(attempt.at);
                let error = attempt
                    .error
                    .as_deref()
                    .map(|e| e.chars().take(500).collect::<String>());
                let delivered = matches!(attempt.verdict, Verdict::Delivered).then_some(at);
                diesel::update(deliveries::table.find(id))
                    .set((
                        deliveries::attempts.eq(deliveries::attempts + 1),
                        deliveries::last_attempt_at.eq(at),
                        deliveries::last_status.eq(attempt.status.map(i32::from)),
                        deliveries::last_error.eq(&error),
                        deliveries::delivered_at.eq(delivered),
                    ))
                    .execute(conn)?;
            }
            let at = to_db(last.at);
            let failing_since = failing_since.unwrap_or(at);
            let target = subscriptions::table.filter(subscriptions::id.eq(sub));
            match &last.verdict {
                Verdict::Delivered => diesel::update(target)
                    .set((
                        subscriptions::failing_since.eq(None::<chrono::NaiveDateTime>),
                        subscriptions::next_attempt_at.eq(at),
                    ))
                    .execute(conn)?,
                Verdict::Retry(when) => diesel::update(target)
                    .set((
                        subscriptions::failing_since.eq(failing_since),
                        subscriptions::next_attempt_at.eq(to_db(*when)),
                    ))
                    .execute(conn)?,
                Verdict::Disable(reason) => diesel::update(target)
                    .set((
                        subscriptions::failing_since.eq(failing_since),
                        subscriptions::state.eq(SubscriptionState::Disabled.as_str()),
                        subscriptions::disabled_reason.eq(reason),
                        subscriptions::updated_at.eq(at),
                    ))
                    .execute(conn)?,
            };
            Ok(true)
        })
    }

    /// Gives the lease back.
    pub fn release_subscription(&self, sub: &str, owner: &str) -> Result<(), CoreError> {
        self.write(|conn| {
            diesel::update(
                subscriptions::table
                    .filter(subscriptions::id.eq(sub))
                    .filter(subscriptions::lease_owner.eq(owner)),
            )
            .set((
                subscriptions::lease_owner.eq(None::<String>),
                subscriptions::lease_until.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(conn)?;
            Ok(())
        })
    }

    /// Certificates that active subscriptions with an "expiring within"
    /// period follow and that end within it, not closed before, with no
    /// notice made yet: at most `limit`.
    pub fn expiring(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Expiring>, CoreError> {
        self.read(|conn| {
            let subs: Vec<(String, bool, i32)> = subscriptions::table
                .filter(subscriptions::state.eq(SubscriptionState::Active.as_str()))
                .filter(subscriptions::expiring_days.is_not_null())
                .select((
                    subscriptions::id,
                    subscriptions::everything,
                    subscriptions::expiring_days.assume_not_null(),
                ))
                .load(conn)?;
            let mut out = Vec::new();
            for (id, everything, days) in subs {
                let horizon = now + chrono::Duration::days(i64::from(days));
                let mut q = certificates::table
                    .filter(certificates::ends_at.gt(to_db(now)))
                    .filter(certificates::ends_at.le(to_db(horizon)))
                    .filter(
                        certificates::closed_at
                            .is_null()
                            .or(certificates::closed_at.gt(certificates::ends_at.nullable())),
                    )
                    .into_boxed();
                if !everything {
                    q = q.filter(diesel::dsl::exists(
                        coverage::table
                            .inner_join(
                                watched::table.on(watched::kvk_number.eq(coverage::kvk_number)),
                            )
                            .filter(coverage::certificate_id.eq(certificates::id))
                            .filter(watched::subscription_id.eq(&id)),
                    ));
                }
                let found: Vec<(i64, String, chrono::NaiveDateTime)> = q
                    .order(certificates::ends_at.asc())
                    .select((
                        certificates::id,
                        certificates::number,
                        certificates::ends_at,
                    ))
                    .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                    .load(conn)?;
                for (certificate_id, number, ends_at) in found {
                    let ends_at = from_db(ends_at);
                    let message_id = notice_id(&id, &number, ends_at);
                    let made: i64 = deliveries::table
                        .find(&message_id)
                        .count()
                        .get_result(conn)?;
                    if made > 0 {
                        continue;
                    }
                    let kvk_numbers = coverage::table
                        .filter(coverage::certificate_id.eq(certificate_id))
                        .order((coverage::is_main.desc(), coverage::kvk_number.asc()))
                        .select(coverage::kvk_number)
                        .load(conn)?;
                    out.push(Expiring {
                        subscription_id: id.clone(),
                        message_id,
                        certificate_number: number,
                        ends_at,
                        kvk_numbers,
                        days,
                    });
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
            Ok(out)
        })
    }

    /// Forgets delivered messages older than [`KEEP_DELIVERED_DAYS`].
    pub fn forget_old_deliveries(&self, now: DateTime<Utc>) -> Result<usize, CoreError> {
        let before = now - chrono::Duration::days(KEEP_DELIVERED_DAYS);
        self.write(|conn| {
            Ok(diesel::delete(
                deliveries::table
                    .filter(deliveries::delivered_at.is_not_null())
                    .filter(deliveries::delivered_at.lt(to_db(before))),
            )
            .execute(conn)?)
        })
    }

    /// Stores notices made for [`Registry::expiring`] (each once), placed after
    /// the events their subscription has deliveries for.
    pub fn store_notices(
        &self,
        notices: &[(Expiring, String)],
        now: DateTime<Utc>,
    ) -> Result<usize, CoreError> {
        self.write(|conn| {
            let mut stored = 0;
            for (notice, payload) in notices {
                let cursor: Option<i64> = subscriptions::table
                    .find(&notice.subscription_id)
                    .select(subscriptions::cursor_seq)
                    .first(conn)
                    .optional()?;
                let Some(cursor) = cursor else { continue };
                let row = (
                    deliveries::id.eq(&notice.message_id),
                    deliveries::subscription_id.eq(&notice.subscription_id),
                    deliveries::seq.eq(cursor),
                    deliveries::kind.eq(EXPIRING),
                    deliveries::payload.eq(payload),
                    deliveries::created_at.eq(to_db(now)),
                    deliveries::attempts.eq(0),
                );
                stored += same_sql!(conn, |c| diesel::insert_into(deliveries::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(c))?;
            }
            Ok(stored)
        })
    }
}

/// `events`, each with the KvK numbers its certificate covers (the main
/// applicant first).
fn with_coverage(
    conn: &mut crate::storage::AnyConnection,
    events: Vec<Event>,
) -> Result<Vec<(Event, Vec<String>)>, CoreError> {
    let numbers: Vec<&str> = events
        .iter()
        .filter_map(|e| e.certificate_number.as_ref().map(|n| n.as_str()))
        .collect();
    let covered: Vec<(String, String)> = coverage::table
        .inner_join(certificates::table.on(certificates::id.eq(coverage::certificate_id)))
        .filter(certificates::number.eq_any(&numbers))
        .order((
            certificates::number.asc(),
            coverage::is_main.desc(),
            coverage::kvk_number.asc(),
        ))
        .select((certificates::number, coverage::kvk_number))
        .load(conn)?;
    let mut by_number: std::collections::HashMap<String, Vec<String>> =
        std::collections::HashMap::new();
    for (number, kvk) in covered {
        by_number.entry(number).or_default().push(kvk);
    }
    Ok(events
        .into_iter()
        .map(|e| {
            let kvks = e
                .certificate_number
                .as_ref()
                .and_then(|n| by_number.get(n.as_str()).cloned())
                .unwrap_or_default();
            (e, kvks)
        })
        .collect())
}

/// How long delivered messages are kept (for `GET …/deliveries`).
pub const KEEP_DELIVERED_DAYS: i64 = 30;

/// The kind of an "expiring within" notice's delivery.
pub const EXPIRING: &str = "certificate.expiring";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_and_distinct() {
        assert_eq!(message_id("sub_a", 7), message_id("sub_a", 7));
        assert_ne!(message_id("sub_a", 7), message_id("sub_a", 8));
        assert_ne!(message_id("sub_a", 7), message_id("sub_b", 7));
        let id = message_id("sub_a", 7);
        assert!(id.starts_with("msg_") && id.len() == 36, "{id}");
    }
}
