//! `GET /v1/events`: the global change feed.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::read;
use crate::paging;
use crate::problem::Problem;
use crate::query::Params;
use crate::state::AppState;
use crate::views::EventView;

/// Events with `seq` greater than `after` (default 0), in `seq` order, at most
/// `limit`. `next_after` is the `after` to ask next; a `Link` to it comes while
/// pages are full.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "feed",
    operation_id = "events",
    params(crate::openapi::FeedParams),
    responses(
        (status = 200, description = "Events after `after`, `seq` strictly increasing; a `Link` to the next page while pages are full.", body = crate::openapi::EventPage),
        crate::openapi::ReadProblems,
    )
)]
pub async fn feed(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let params = Params::parse(&req, &["after", "limit"])?;
    let limit = paging::limit(params.get("limit"))?;
    let after = match params.get("after") {
        None => 0,
        Some(raw) => raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            Problem::parameter(
                "after",
                "must be a sequence number (a whole number, 0 or more)",
            )
        })?,
    };
    let registry = state.registry.clone();
    let events = read(&state, move || registry.events(after, limit)).await?;
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
    Ok(response.json(serde_json::json!({ "items": items, "next_after": next_after })))
}
