//! Companies: search (`GET /v1/companies`) and one company with its certificates
//! (`GET /v1/companies/{kvk}`); the certificates list shares the search.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use registry_core::time::start_of_day;
use registry_core::{CbId, KvkNumber, Level, Province, SearchCursor, SearchFilter, SearchStatus};

use super::read;
use crate::paging::{self, Page};
use crate::problem::Problem;
use crate::query::Params;
use crate::state::AppState;
use crate::views::{CertificateView, CompanyDetailView, CompanyHitView};

/// The parameters of both searches.
pub const SEARCH_PARAMETERS: [&str; 12] = [
    "q",
    "kvk",
    "city",
    "province",
    "sbi",
    "level_min",
    "pso30plus",
    "status",
    "certification_body",
    "valid_on",
    "cursor",
    "limit",
];

/// Reads the search parameters; each fault names its parameter.
pub fn search_filter(params: &Params) -> Result<SearchFilter, Problem> {
    let q = params.parsed("q", |v| {
        let v = v.trim();
        if v.chars().count() < 2 || v.chars().count() > 100 {
            Err("must be 2 to 100 characters".to_owned())
        } else {
            Ok(v.to_owned())
        }
    })?;
    let at = params
        .parsed("valid_on", |v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .ok()
                .filter(|_| v.len() == 10)
                .map(start_of_day)
                .ok_or_else(|| "must be a date: YYYY-MM-DD".to_owned())
        })?
        .unwrap_or_else(registry_core::time::now);
    Ok(SearchFilter {
        q,
        kvk: params.parsed("kvk", |v| KvkNumber::parse(v).map_err(|e| e.0))?,
        city: params.parsed("city", |v| {
            let v = v.trim();
            if v.is_empty() || v.chars().count() > 100 {
                Err("must be 1 to 100 characters".to_owned())
            } else {
                Ok(v.to_owned())
            }
        })?,
        province: params.parsed("province", |v| Province::parse(v).map_err(|e| e.0))?,
        sbi: params.parsed("sbi", |v| {
            if (2..=5).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()) {
                Ok(v.to_owned())
            } else {
                Err("must be an SBI code or its first digits: 2 to 5 digits".to_owned())
            }
        })?,
        level_min: params.parsed("level_min", |v| Level::parse(v).map_err(|e| e.0))?,
        pso30plus: params.parsed("pso30plus", |v| match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err("must be true or false".to_owned()),
        })?,
        status: params
            .parsed("status", |v| SearchStatus::parse(v).map_err(|e| e.0))?
            .unwrap_or(SearchStatus::Active),
        certification_body: params
            .parsed("certification_body", |v| CbId::parse(v).map_err(|e| e.0))?,
        at,
    })
}

/// The page size and position of a search.
pub fn search_page(params: &Params) -> Result<(i64, Option<SearchCursor>), Problem> {
    Ok((
        paging::limit(params.get("limit"))?,
        paging::decode_cursor(params.get("cursor"))?,
    ))
}

/// Renders a page with `next_cursor` and a `Link` to the next page.
pub fn page_response<T: serde::Serialize>(
    req: &HttpRequest,
    items: Vec<T>,
    next: Option<SearchCursor>,
    limit: i64,
) -> HttpResponse {
    let next_cursor = next.as_ref().map(paging::encode_cursor);
    let mut response = HttpResponse::Ok();
    if let Some(cursor) = &next_cursor {
        response.insert_header((header::LINK, paging::next_link(req, cursor, limit)));
    }
    response.json(Page { items, next_cursor })
}

/// `GET /v1/companies`: search, by relevance with `q`, else by name.
#[utoipa::path(
    get,
    path = "/v1/companies",
    tag = "search",
    operation_id = "search_companies",
    params(crate::openapi::SearchParams),
    responses(
        (status = 200, description = "A page of companies, each with its standing on the day asked about.", body = Page<CompanyHitView>),
        crate::openapi::ReadProblems,
    )
)]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let params = Params::parse(&req, &SEARCH_PARAMETERS)?;
    let filter = search_filter(&params)?;
    let (limit, after) = search_page(&params)?;
    let registry = state.registry.clone();
    let page = read(&state, move || {
        registry.search_companies(&filter, after.as_ref(), limit)
    })
    .await?;
    let items: Vec<CompanyHitView> = page.items.into_iter().map(CompanyHitView::from).collect();
    Ok(page_response(&req, items, page.next, limit))
}

/// `GET /v1/companies/{kvk}`: the company, its standing now, and every
/// certificate that covers it, current first.
#[utoipa::path(
    get,
    path = "/v1/companies/{kvk}",
    tag = "search",
    operation_id = "get_company",
    params(("kvk" = String, Path, description = "A KvK number: 8 digits.", pattern = "^[0-9]{8}$")),
    responses(
        (status = 200, description = "The company, its standing now, and its certificates, current first.", body = CompanyDetailView),
        crate::openapi::ReadProblems,
    )
)]
pub async fn get(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    Params::parse(&req, &[])?;
    let kvk = KvkNumber::parse(&path).map_err(|e| Problem::parameter("kvk", e.0))?;
    let registry = state.registry.clone();
    let target = kvk.clone();
    let detail = read(&state, move || {
        registry.company_detail(&target, registry_core::time::now())
    })
    .await?;
    let Some((company, standing, certificates)) = detail else {
        return Err(Problem::not_found(format!(
            "the register knows no company {kvk}"
        )));
    };
    let now = registry_core::time::now();
    Ok(HttpResponse::Ok().json(CompanyDetailView::new(
        company,
        standing,
        certificates
            .into_iter()
            .map(|c| CertificateView::new(c, now))
            .collect(),
    )))
}
