//! Companies: search (`GET /v1/companies`) and one company with its certificates
//! (`GET /v1/companies/{kvk}`); the certificates list shares the search.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use registry_core::time::start_of_day;
use registry_core::{CbId, KvkNumber, Level, Province, SearchCursor, SearchFilter, SearchStatus};
use serde::Deserialize;

use super::status::kvk_number;
use super::work;
use crate::extract::Query;
use crate::http_cache;
use crate::paging::{self, CompanyPage};
use crate::problem::Problem;
use crate::schema::{
    CbIdSchema, DateSchema, KvkNumberSchema, LevelSchema, ProvinceSchema, SbiPrefixSchema,
    SearchStatusSchema,
};
use crate::state::AppState;
use crate::views::{CertificateView, CompanyDetailView, CompanyHitView};

/// The parameters of both searches. Unknown parameters are refused (`400`).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Name or trade name, typo-tolerant and by prefix; ranks by relevance.
    /// Words shorter than two characters, legal forms and numbers are not
    /// searched by. Without it, results are ordered by name.
    #[param(min_length = 2, max_length = 100, example = "Drukerij")]
    q: Option<String>,
    /// A covered KvK number (main applicant or subsidiary).
    #[param(value_type = Option<KvkNumberSchema>)]
    kvk: Option<KvkNumber>,
    /// City, ignoring case and diacritics.
    #[param(min_length = 1, max_length = 100)]
    city: Option<String>,
    #[param(value_type = Option<ProvinceSchema>)]
    province: Option<Province>,
    /// An SBI code or its first digits.
    #[param(value_type = Option<SbiPrefixSchema>)]
    sbi: Option<String>,
    /// Certified at this level or higher on the day.
    #[param(value_type = Option<LevelSchema>)]
    level_min: Option<Level>,
    /// Only holders of PSO 30+ (`true`), or only others (`false`).
    pso30plus: Option<bool>,
    /// The standing on the day; default `active`.
    #[param(value_type = Option<SearchStatusSchema>)]
    status: Option<SearchStatus>,
    /// Only certificates of this certification body.
    #[param(value_type = Option<CbIdSchema>)]
    certification_body: Option<CbId>,
    /// The day the standing is judged on (from the start of that day,
    /// Europe/Amsterdam); default now.
    #[param(value_type = Option<DateSchema>)]
    valid_on: Option<NaiveDate>,
    /// Opaque: `nextCursor` of the previous page.
    #[param(min_length = 1, max_length = 2048)]
    cursor: Option<String>,
    /// Items per page.
    #[param(minimum = 1, maximum = 500, default = 50)]
    limit: Option<i64>,
}

crate::contract::query_contract!(SearchParams);

impl SearchParams {
    /// The filter, the page size and where the page starts.
    pub fn search(self) -> Result<(SearchFilter, i64, Option<SearchCursor>), Problem> {
        let after = paging::decode_cursor(self.cursor.as_deref())?;
        let limit = self.limit.unwrap_or(paging::DEFAULT_LIMIT);
        let filter = SearchFilter {
            q: self.q,
            kvk: self.kvk,
            city: self.city,
            province: self.province,
            sbi: self.sbi,
            level_min: self.level_min,
            pso30plus: self.pso30plus,
            status: self.status.unwrap_or(SearchStatus::Active),
            certification_body: self.certification_body,
            at: self
                .valid_on
                .map_or_else(registry_core::time::now, start_of_day),
        };
        Ok((filter, limit, after))
    }
}

/// What a search the core refuses is: a parameter at fault (a cursor it did
/// not hand out, a name query too broad to rank within a request's bound).
pub fn search_refused(e: registry_core::CoreError) -> Problem {
    match e {
        registry_core::CoreError::Validation(faults) => Problem::parameters(faults),
        e => Problem::from(e),
    }
}

/// A page written out (off the workers), where the next one starts, and the
/// register state it reflects.
#[derive(Debug)]
pub struct Written {
    pub body: Vec<u8>,
    pub next_cursor: Option<String>,
    pub seq: i64,
}

impl Written {
    /// Writes a page: `page` makes its body from `nextCursor`.
    pub fn page<P: serde::Serialize>(
        next: Option<SearchCursor>,
        seq: i64,
        page: impl FnOnce(Option<String>) -> P,
    ) -> Result<Self, Problem> {
        let next_cursor = next.as_ref().map(paging::encode_cursor);
        let body = serde_json::to_vec(&page(next_cursor.clone())).map_err(|e| {
            tracing::error!(error = %e, "cannot serialise a page");
            Problem::internal()
        })?;
        Ok(Self {
            body,
            next_cursor,
            seq,
        })
    }

    /// The answer: the page, with a `Link` to the next one.
    pub fn response(self, req: &HttpRequest, limit: i64) -> HttpResponse {
        let mut response = HttpResponse::Ok();
        if let Some(cursor) = &self.next_cursor {
            response.insert_header((header::LINK, paging::next_link(req, cursor, limit)));
        }
        http_cache::as_of(
            response.content_type("application/json").body(self.body),
            self.seq,
        )
    }
}

/// `GET /v1/companies`: search, by relevance with `q`, else by name.
#[utoipa::path(
    get,
    path = "/companies",
    tag = "search",
    operation_id = "searchCompanies",
    params(SearchParams),
    responses(
        (status = 200, description = "A page of companies, each with its standing on the day asked about.", body = CompanyPage),
        crate::openapi::ReadProblems,
    )
)]
pub async fn list(
    req: HttpRequest,
    Query(params): Query<SearchParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (filter, limit, after) = params.search()?;
    let registry = state.registry.clone();
    let written = work(&state, move || {
        let page = registry
            .model()
            .search_companies(&filter, after.as_ref(), limit)
            .map_err(search_refused)?;
        let items: Vec<CompanyHitView> = page
            .value
            .items
            .into_iter()
            .map(CompanyHitView::from)
            .collect();
        Written::page(page.value.next, page.seq, |next_cursor| CompanyPage {
            items,
            next_cursor,
        })
    })
    .await?;
    Ok(written.response(&req, limit))
}

/// `GET /v1/companies/{kvk}`: the company, its standing now, and every
/// certificate that covers it, current first.
#[utoipa::path(
    get,
    path = "/companies/{kvk}",
    tag = "search",
    operation_id = "getCompany",
    params(("kvk" = KvkNumberSchema, Path, description = "A KvK number.")),
    responses(
        (status = 200, description = "The company, its standing now, and its certificates, current first.", body = CompanyDetailView),
        crate::openapi::ResourceProblems,
    )
)]
pub async fn get(
    path: web::Path<String>,
    _: Query<crate::openapi::NoParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let kvk = kvk_number(&path)?;
    let now = registry_core::time::now();
    let detail = state.registry.model().company_detail(&kvk, now)?;
    let Some((company, standing, certificates)) = detail.value else {
        return Err(Problem::not_found(format!(
            "the register knows no company {kvk}"
        )));
    };
    Ok(http_cache::as_of(
        HttpResponse::Ok().json(CompanyDetailView::new(
            company,
            standing,
            certificates
                .into_iter()
                .map(|c| CertificateView::new(c, now))
                .collect(),
        )),
        detail.seq,
    ))
}
