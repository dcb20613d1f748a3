//! `GET /v1/events`: the global change feed.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::read;
use crate::extract::Query;
use crate::paging::DEFAULT_LIMIT;
use crate::problem::Problem;
use crate::state::AppState;
use crate::views::EventView;

/// The feed's position.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// Events after this sequence number (default 0: from the start).
    #[param(minimum = 0, maximum = 9223372036854775807_i64, default = 0)]
    pub after: Option<i64>,
    /// Events per page.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
}

impl FeedParams {
    /// `after` and `limit`, defaults filled in.
    pub fn position(&self) -> (i64, i64) {
        (self.after.unwrap_or(0), self.limit.unwrap_or(DEFAULT_LIMIT))
    }
}

crate::contract::query_contract!(FeedParams);

/// A page of events: of the change feed, or of one certificate.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    #[schema(max_items = 500)]
    items: Vec<EventView>,
    /// The `after` to ask next: the last `seq` here, or `after` when empty.
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    next_after: i64,
}

/// Events with `seq` greater than `after` (default 0), in `seq` order, at most
/// `limit`. `nextAfter` is the `after` to ask next; a `Link` to it comes while
/// pages are full.
#[utoipa::path(
    get,
    path = "/events",
    tag = "feed",
    operation_id = "events",
    params(FeedParams),
    responses(
        (status = 200, description = "Events after `after`, `seq` strictly increasing; a `Link` to the next page while pages are full.", body = EventPage),
        crate::openapi::ReadProblems,
    )
)]
pub async fn feed(
    req: HttpRequest,
    Query(params): Query<FeedParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (after, limit) = params.position();
    let registry = state.registry.clone();
    let events = read(&state, move || registry.events(after, limit)).await?;
    Ok(page(&req, events, after, limit))
}

/// The page of `events` read after `after` with `limit`: `nextAfter`, and a
/// `Link` to the next page while pages are full.
pub fn page(
    req: &HttpRequest,
    events: Vec<registry_core::Event>,
    after: i64,
    limit: i64,
) -> HttpResponse {
    let next_after = events.last().map_or(after, |e| e.seq);
    let full = events.len() as i64 == limit;
    let items: Vec<EventView> = events.into_iter().map(EventView::from).collect();
    let mut response = HttpResponse::Ok();
    if full {
        response.insert_header((
            header::LINK,
            format!(
                "<{}?after={next_after}&limit={limit}>; rel=\"next\"",
                req.path()
            ),
        ));
    }
    response.json(EventPage { items, next_after })
}
