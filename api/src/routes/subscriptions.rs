//! Tender platforms' subscriptions (`/v1/subscriptions`), for API clients
//! only (`Authorization: Bearer pso_…`): where to deliver, which events, a
//! watchlist of KvK numbers (or every change), "expiring within N days"
//! notices; the deliveries made; a replay from a feed `seq`. Messages are
//! signed per Standard Webhooks with the subscription's `whsec_` secret,
//! shown once (at creation and at each rotation). A client sees only its own.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use registry_core::registry::subscriptions::{
    Delivery, Subscription, SubscriptionChange, SubscriptionSpec,
};
use registry_core::{EventKind, FieldError, KvkNumber};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::blocking;
use crate::clients::ApiClient;
use crate::extract::{Json, Query};
use crate::problem::Problem;
use crate::schema::{EventKindSchema, InstantSchema, KvkNumberSchema};
use crate::state::AppState;
use crate::views::instant;

/// The largest subscription body: a watchlist of 100,000 KvK numbers.
pub const MAX_SUBSCRIPTION_BODY: usize = 2 * 1024 * 1024;
/// How long a rotated-out secret stays valid beside the new one.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

/// A new subscription.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSubscription {
    /// Where messages are POSTed: `https` (plain `http` only to a loopback
    /// address where the register allows it); never a private, link-local or
    /// reserved address; redirects are not followed.
    #[schema(max_length = 2000, format = "uri")]
    url: String,
    /// The events delivered (default: all).
    #[schema(value_type = Option<Vec<EventKindSchema>>, max_items = 20)]
    events: Option<Vec<EventKind>>,
    /// Every certificate's changes, not only the watchlist's (default false).
    everything: Option<bool>,
    /// The watchlist: the KvK numbers whose certificates are followed (a
    /// certificate is followed when it covers one of them); at most 100,000.
    #[schema(value_type = Option<Vec<KvkNumberSchema>>, max_items = 100000)]
    kvk_numbers: Option<Vec<KvkNumber>>,
    /// A `certificate.expiring` notice when a followed certificate's period
    /// ends within this many days and it has not been renewed.
    #[schema(minimum = 1, maximum = 366)]
    expiring_within_days: Option<i32>,
    /// Deliver the events after this feed `seq` too (default: from now on).
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    after_seq: Option<i64>,
}

fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A change to a subscription; what is left out stays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscriptionPatch {
    #[schema(max_length = 2000, format = "uri")]
    url: Option<String>,
    #[schema(value_type = Option<Vec<EventKindSchema>>, max_items = 20)]
    events: Option<Vec<EventKind>>,
    everything: Option<bool>,
    /// `null` stops the notices.
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 366)]
    expiring_within_days: Option<Option<i32>>,
    /// KvK numbers to add to the watchlist.
    #[schema(value_type = Option<Vec<KvkNumberSchema>>, max_items = 100000)]
    add: Option<Vec<KvkNumber>>,
    /// KvK numbers to take off the watchlist.
    #[schema(value_type = Option<Vec<KvkNumberSchema>>, max_items = 100000)]
    remove: Option<Vec<KvkNumber>>,
    /// A new secret (in the answer); the old one stays valid for 24 hours.
    rotate_secret: Option<bool>,
    /// Deliver to a disabled subscription again, from where it stopped.
    enable: Option<bool>,
}

/// Deliver again from a point in the feed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplayRequest {
    /// The events after this `seq` are delivered again, in order (with the
    /// message ids they had).
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    after_seq: i64,
}

crate::contract::body_contract!(NewSubscription, SubscriptionPatch, ReplayRequest);

/// A subscription.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    #[schema(pattern = "^sub_[0-9a-z]{16}$", max_length = 20)]
    id: String,
    #[schema(format = "uri", max_length = 2000)]
    url: String,
    #[schema(value_type = Vec<EventKindSchema>, max_items = 20)]
    events: Vec<EventKind>,
    everything: bool,
    /// How many KvK numbers the watchlist holds.
    #[schema(minimum = 0, maximum = 100000)]
    watched: i64,
    #[schema(minimum = 1, maximum = 366)]
    expiring_within_days: Option<i32>,
    /// `active`, or `disabled` (see `disabledReason`).
    #[schema(pattern = "^(active|disabled)$", max_length = 8)]
    state: &'static str,
    #[schema(max_length = 600)]
    disabled_reason: Option<String>,
    /// The last feed `seq` that has a delivery (or was not this subscription's).
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    cursor_seq: i64,
    /// Deliveries not yet accepted by the receiver.
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    pending: i64,
    /// Since when deliveries fail (null while they succeed).
    #[schema(value_type = Option<InstantSchema>)]
    failing_since: Option<String>,
    #[schema(value_type = InstantSchema)]
    next_attempt_at: String,
    #[schema(value_type = InstantSchema)]
    created_at: String,
    #[schema(value_type = InstantSchema)]
    updated_at: String,
    /// The `whsec_` secret the messages are signed with: only in the answer
    /// that made it (creation, rotation); keep it, it is not shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^whsec_[A-Za-z0-9+/=]{44}$", max_length = 50)]
    secret: Option<String>,
}

impl SubscriptionView {
    fn new(s: Subscription, secret: Option<String>) -> Self {
        Self {
            id: s.id,
            url: s.url,
            events: s.kinds,
            everything: s.everything,
            watched: s.watched,
            expiring_within_days: s.expiring_days,
            state: s.state.as_str(),
            disabled_reason: s.disabled_reason,
            cursor_seq: s.cursor_seq,
            pending: s.pending,
            failing_since: s.failing_since.map(instant),
            next_attempt_at: instant(s.next_attempt_at),
            created_at: instant(s.created_at),
            updated_at: instant(s.updated_at),
            secret,
        }
    }
}

/// A client's subscriptions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    #[schema(max_items = 100)]
    items: Vec<SubscriptionView>,
}

/// A delivery: a message and how its attempts went.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    /// The message id (`webhook-id`), the same at every attempt.
    #[schema(pattern = "^msg_[0-9a-f]{32}$", max_length = 36)]
    id: String,
    /// The event's `seq` (for a notice: the feed position it was made at).
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    seq: i64,
    /// The message type: `certificate.issued`, …, `certificate.expiring`.
    #[schema(max_length = 64)]
    r#type: String,
    #[schema(value_type = InstantSchema)]
    created_at: String,
    #[schema(minimum = 0, maximum = 100000)]
    attempts: i32,
    #[schema(value_type = Option<InstantSchema>)]
    last_attempt_at: Option<String>,
    /// The receiver's last status code (null: no answer).
    #[schema(minimum = 100, maximum = 599)]
    last_status: Option<i32>,
    #[schema(max_length = 500)]
    last_error: Option<String>,
    #[schema(value_type = Option<InstantSchema>)]
    delivered_at: Option<String>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            seq: d.seq,
            r#type: d.kind,
            created_at: instant(d.created_at),
            attempts: d.attempts,
            last_attempt_at: d.last_attempt_at.map(instant),
            last_status: d.last_status,
            last_error: d.last_error,
            delivered_at: d.delivered_at.map(instant),
        }
    }
}

/// A subscription's latest deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    #[schema(max_items = 500)]
    items: Vec<DeliveryView>,
}

/// How many deliveries to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// Deliveries listed, newest first.
    #[param(minimum = 1, maximum = 500, default = 50)]
    limit: Option<i64>,
}

crate::contract::query_contract!(DeliveryParams);

fn check_url(state: &AppState, url: &str) -> Result<(), Problem> {
    state
        .config
        .outbound
        .check(url)
        .map(|_| ())
        .map_err(|e| Problem::validation(vec![FieldError::new("url", e)]))?;
    if url.len() > 2000 {
        return Err(Problem::validation(vec![FieldError::new(
            "url",
            "must be at most 2000 characters",
        )]));
    }
    Ok(())
}

fn check_events(events: &Option<Vec<EventKind>>) -> Result<(), Problem> {
    if events.as_ref().is_some_and(Vec::is_empty) {
        return Err(Problem::validation(vec![FieldError::new(
            "events",
            "must name at least one event (leave it out for all)",
        )]));
    }
    Ok(())
}

fn head(state: &AppState) -> i64 {
    state.registry.model().seq()
}

fn secret() -> Result<String, Problem> {
    crate::webhooks::new_secret().map_err(|_| Problem::internal())
}

/// `POST /v1/subscriptions`: subscribe; the answer holds the secret, once.
#[utoipa::path(
    post,
    path = "/subscriptions",
    tag = "subscriptions",
    operation_id = "createSubscription",
    security(("apiClient" = [])),
    request_body(content = NewSubscription),
    responses(
        (status = 201, description = "Subscribed; `Location` names it; `secret` is shown this once.", body = SubscriptionView),
        crate::openapi::ClientProblems,
    )
)]
pub async fn create(
    ApiClient(client): ApiClient,
    state: web::Data<AppState>,
    Json(body): Json<NewSubscription, MAX_SUBSCRIPTION_BODY>,
) -> Result<HttpResponse, Problem> {
    check_url(&state, &body.url)?;
    check_events(&body.events)?;
    let everything = body.everything.unwrap_or(false);
    if everything && body.kvk_numbers.as_ref().is_some_and(|k| !k.is_empty()) {
        return Err(Problem::validation(vec![FieldError::new(
            "kvkNumbers",
            "a subscription to every change has no watchlist",
        )]));
    }
    let spec = SubscriptionSpec {
        url: body.url,
        everything,
        kinds: body.events.unwrap_or_else(|| EventKind::ALL.to_vec()),
        expiring_days: body.expiring_within_days,
        watch: body.kvk_numbers.unwrap_or_default(),
        after_seq: body.after_seq,
    };
    let id = crate::clients::random_id("sub_")?;
    let secret = secret()?;
    let registry = state.registry.clone();
    let head = head(&state);
    let kept = secret.clone();
    let created = blocking(move || {
        registry.create_subscription(&client, &id, &spec, &kept, head, registry_core::time::now())
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/subscriptions/{}", created.id),
        ))
        .json(SubscriptionView::new(created, Some(secret))))
}

/// `GET /v1/subscriptions`: the client's subscriptions.
#[utoipa::path(
    get,
    path = "/subscriptions",
    tag = "subscriptions",
    operation_id = "subscriptions",
    security(("apiClient" = [])),
    responses(
        (status = 200, description = "The client's subscriptions, oldest first.", body = SubscriptionList),
        crate::openapi::ClientProblems,
    )
)]
pub async fn list(
    ApiClient(client): ApiClient,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let registry = state.registry.clone();
    let all = blocking(move || registry.subscriptions(&client)).await?;
    Ok(private(HttpResponse::Ok()).json(SubscriptionList {
        items: all
            .into_iter()
            .map(|s| SubscriptionView::new(s, None))
            .collect(),
    }))
}

/// A client's own answer: not for shared caches.
fn private(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder.insert_header((header::CACHE_CONTROL, "private, no-cache"));
    builder
}

fn id_of(path: &str) -> String {
    path.chars().take(64).collect()
}

/// `GET /v1/subscriptions/{id}`.
#[utoipa::path(
    get,
    path = "/subscriptions/{id}",
    tag = "subscriptions",
    operation_id = "subscription",
    security(("apiClient" = [])),
    params(("id" = String, Path, description = "The subscription's id.", max_length = 64)),
    responses(
        (status = 200, description = "The subscription.", body = SubscriptionView),
        crate::openapi::ClientProblems,
    )
)]
pub async fn get(
    ApiClient(client): ApiClient,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = id_of(&path);
    let registry = state.registry.clone();
    let s = blocking(move || registry.subscription(&client, &id)).await?;
    Ok(private(HttpResponse::Ok()).json(SubscriptionView::new(s, None)))
}

/// `PATCH /v1/subscriptions/{id}`: change the URL, the events, the
/// watchlist (`add`, `remove`), the notices; rotate the secret; enable again.
#[utoipa::path(
    patch,
    path = "/subscriptions/{id}",
    tag = "subscriptions",
    operation_id = "changeSubscription",
    security(("apiClient" = [])),
    params(("id" = String, Path, description = "The subscription's id.", max_length = 64)),
    request_body(content = SubscriptionPatch),
    responses(
        (status = 200, description = "Changed; with `rotateSecret`, the new `secret`, shown this once.", body = SubscriptionView),
        crate::openapi::ClientProblems,
    )
)]
pub async fn change(
    ApiClient(client): ApiClient,
    path: web::Path<String>,
    state: web::Data<AppState>,
    Json(body): Json<SubscriptionPatch, MAX_SUBSCRIPTION_BODY>,
) -> Result<HttpResponse, Problem> {
    if let Some(url) = &body.url {
        check_url(&state, url)?;
    }
    check_events(&body.events)?;
    let now = registry_core::time::now();
    let new_secret = match body.rotate_secret {
        Some(true) => Some(secret()?),
        _ => None,
    };
    let change = SubscriptionChange {
        url: body.url,
        everything: body.everything,
        kinds: body.events,
        expiring_days: body.expiring_within_days,
        add: body.add.unwrap_or_default(),
        remove: body.remove.unwrap_or_default(),
        new_secret: new_secret.clone().map(|s| (s, now + ROTATION_OVERLAP)),
        enable: body.enable == Some(true),
    };
    let id = id_of(&path);
    let registry = state.registry.clone();
    let s = blocking(move || registry.change_subscription(&client, &id, &change, now)).await?;
    Ok(private(HttpResponse::Ok()).json(SubscriptionView::new(s, new_secret)))
}

/// `DELETE /v1/subscriptions/{id}`: unsubscribe (its deliveries go with it).
#[utoipa::path(
    delete,
    path = "/subscriptions/{id}",
    tag = "subscriptions",
    operation_id = "deleteSubscription",
    security(("apiClient" = [])),
    params(("id" = String, Path, description = "The subscription's id.", max_length = 64)),
    responses(
        (status = 204, description = "Unsubscribed."),
        crate::openapi::ClientProblems,
    )
)]
pub async fn delete(
    ApiClient(client): ApiClient,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = id_of(&path);
    let registry = state.registry.clone();
    blocking(move || registry.delete_subscription(&client, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/subscriptions/{id}/deliveries`: the latest deliveries.
#[utoipa::path(
    get,
    path = "/subscriptions/{id}/deliveries",
    tag = "subscriptions",
    operation_id = "subscriptionDeliveries",
    security(("apiClient" = [])),
    params(("id" = String, Path, description = "The subscription's id.", max_length = 64), DeliveryParams),
    responses(
        (status = 200, description = "The latest deliveries, newest first.", body = DeliveryList),
        crate::openapi::ClientProblems,
    )
)]
pub async fn deliveries(
    ApiClient(client): ApiClient,
    path: web::Path<String>,
    Query(params): Query<DeliveryParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = id_of(&path);
    let limit = params.limit.unwrap_or(crate::paging::DEFAULT_LIMIT);
    let registry = state.registry.clone();
    let items = blocking(move || registry.deliveries(&client, &id, limit)).await?;
    Ok(private(HttpResponse::Ok()).json(DeliveryList {
        items: items.into_iter().map(DeliveryView::from).collect(),
    }))
}

/// `POST /v1/subscriptions/{id}/replay`: deliver the events after `afterSeq`
/// again, in order.
#[utoipa::path(
    post,
    path = "/subscriptions/{id}/replay",
    tag = "subscriptions",
    operation_id = "replaySubscription",
    security(("apiClient" = [])),
    params(("id" = String, Path, description = "The subscription's id.", max_length = 64)),
    request_body(content = ReplayRequest),
    responses(
        (status = 200, description = "The cursor is back at `afterSeq`.", body = SubscriptionView),
        crate::openapi::ClientProblems,
    )
)]
pub async fn replay(
    ApiClient(client): ApiClient,
    path: web::Path<String>,
    state: web::Data<AppState>,
    Json(body): Json<ReplayRequest>,
) -> Result<HttpResponse, Problem> {
    let id = id_of(&path);
    let registry = state.registry.clone();
    let head = head(&state);
    let s = blocking(move || {
        registry.replay_subscription(
            &client,
            &id,
            body.after_seq,
            head,
            registry_core::time::now(),
        )
    })
    .await?;
    Ok(private(HttpResponse::Ok()).json(SubscriptionView::new(s, None)))
}
