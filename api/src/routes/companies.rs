//! Companies: `GET /v1/companies` (a page, ordered by name; the full search comes
//! with the public-reads work).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use registry_core::CompanyCursor;
use serde::Deserialize;

use super::blocking;
use crate::paging::{self, Page};
use crate::problem::Problem;
use crate::state::AppState;
use crate::views::CompanyView;

#[derive(Debug, Deserialize)]
pub struct ListParams {
    cursor: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/companies`: companies by name, paged with a keyset cursor.
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, Problem> {
    let limit = paging::limit(params.limit.as_deref())?;
    let after: Option<CompanyCursor> = paging::decode_cursor(params.cursor.as_deref())?;
    let registry = state.registry.clone();
    let page = blocking(move || registry.companies(after.as_ref(), limit)).await?;
    let next_cursor = page.next.as_ref().map(paging::encode_cursor);
    let body = Page {
        items: page.items.into_iter().map(CompanyView::from).collect(),
        next_cursor: next_cursor.clone(),
    };
    let mut response = HttpResponse::Ok();
    if let Some(cursor) = &next_cursor {
        response.insert_header((header::LINK, paging::next_link(&req, cursor, limit)));
    }
    Ok(response.json(body))
}
