//! The routes, one module per resource.

pub mod admin;
pub mod certificates;
pub mod certification_bodies;
pub mod companies;
pub mod events;
pub mod health;
pub mod status;

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

/// Runs a read of the register. On the embedded SQLite default a read is work
/// in this process (microseconds, never waiting on a network or on writers, in
/// WAL mode): it runs right here, without two thread hops. On PostgreSQL it runs
/// on the blocking pool, so that a slow network never stalls a worker.
pub async fn read<T, F>(state: &crate::state::AppState, f: F) -> Result<T, Problem>
where
    F: FnOnce() -> Result<T, registry_core::CoreError> + Send + 'static,
    T: Send + 'static,
{
    match state.registry.backend() {
        registry_core::Backend::Sqlite => f().map_err(Problem::from),
        registry_core::Backend::Postgres => {
            let _permit = state
                .read_permits
                .acquire()
                .await
                .map_err(|_| Problem::unavailable())?;
            blocking(f).await
        }
    }
}

/// Unknown paths: 404 problem.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    Problem::not_found(format!("no resource at {}", req.path())).error_response()
}

/// A known path with a method it does not declare: 405 problem.
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    Problem::new(
        ProblemType::MethodNotAllowed,
        format!("{} does not accept {}", req.path(), req.method()),
    )
    .error_response()
}

/// A resource whose undeclared methods answer 405.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}
