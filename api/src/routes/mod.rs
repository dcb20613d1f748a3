//! The routes, one module per resource.

pub mod admin;
pub mod certificates;
pub mod certification_bodies;
pub mod companies;
pub mod events;
pub mod export;
pub mod health;
pub mod log;
pub mod status;
pub mod subscriptions;

use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::problem::{Problem, ProblemType};

/// Runs a blocking core call on the blocking pool, mapping its error to a problem.
pub async fn blocking<T, F>(f: F) -> Result<T, Problem>
where
    F: FnOnce() -> Result<T, registry_core::CoreError> + Send + 'static,
    T: Send + 'static,
{
    web::block(f).await?.map_err(Problem::from)
}

/// Runs a read of the database (the feed, a certificate's events) on the
/// blocking pool, off the async workers, a bounded number at a time.
pub async fn read<T, F>(state: &crate::state::AppState, f: F) -> Result<T, Problem>
where
    F: FnOnce() -> Result<T, registry_core::CoreError> + Send + 'static,
    T: Send + 'static,
{
    let _permit = state
        .read_permits
        .acquire()
        .await
        .map_err(|_| Problem::unavailable())?;
    blocking(f).await
}

/// Runs work on the read model that may take a while (a search page, a batch:
/// up to a millisecond or two, with their answers written out) on the
/// blocking pool, fewer at a time than there are cores, so that the workers
/// stay free for the status checks that take microseconds.
pub async fn work<T, F>(state: &crate::state::AppState, f: F) -> Result<T, Problem>
where
    F: FnOnce() -> Result<T, Problem> + Send + 'static,
    T: Send + 'static,
{
    let _permit = state
        .work_permits
        .acquire()
        .await
        .map_err(|_| Problem::unavailable())?;
    web::block(f).await?
}

/// Unknown paths: 404 problem.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    Problem::not_found(format!("no resource at {}", req.path())).error_response()
}

/// A resource that takes `allow` (its methods as `Allow` lists them: `HEAD`
/// comes with `GET`, `OPTIONS` with every resource). `OPTIONS` answers `204`
/// with `Allow`; another method answers `405` with `Allow` (RFC 9110, 15.5.6).
/// A panic in one of its handlers is answered `500` ([`crate::panics`]).
pub fn resource(
    path: &str,
    allow: &'static str,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::resource(path)
        .wrap(actix_web::middleware::from_fn(crate::panics::middleware))
        .route(web::method(Method::OPTIONS).to(move || async move {
            HttpResponse::NoContent()
                .insert_header((header::ALLOW, allow))
                .finish()
        }))
        .default_service(web::to(move |req: HttpRequest| async move {
            let mut response = Problem::new(
                ProblemType::MethodNotAllowed,
                format!("{} takes {allow}, not {}", req.path(), req.method()),
            )
            .error_response();
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
            response
        }))
}

/// What `Allow` says of a resource read with `GET`.
pub const READ: &str = "GET, HEAD, OPTIONS";
/// … written with `POST`.
pub const WRITE: &str = "POST, OPTIONS";
/// … read with `GET` and written with `POST`.
pub const READ_WRITE: &str = "GET, HEAD, POST, OPTIONS";
/// … changed with `PATCH`.
pub const CHANGE: &str = "PATCH, OPTIONS";
/// … read with `GET`, changed with `PATCH`, removed with `DELETE`.
pub const READ_CHANGE_DELETE: &str = "GET, HEAD, PATCH, DELETE, OPTIONS";
/// … removed with `DELETE`.
pub const DELETE: &str = "DELETE, OPTIONS";
