//! No panic reaches a client: a handler that panics is answered with a `500`
//! problem like any fault of ours, the connection stays usable, and the log gets
//! one line (the message and where), not a backtrace per request.
//!
//! The guard wraps each resource ([`crate::routes::resource`]), inside the
//! router: it keeps a handle on the request to answer with, which the router
//! (matching the path) must not see shared.

use std::panic::AssertUnwindSafe;
use std::sync::Once;

use actix_web::ResponseError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use futures_util::FutureExt;

use crate::problem::Problem;

/// Answers a panic in the handler (or in a middleware inside this one) with
/// `500 internal`.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request = req.request().clone();
    match AssertUnwindSafe(async move { next.call(req).await })
        .catch_unwind()
        .await
    {
        Ok(result) => result.map(ServiceResponse::map_into_boxed_body),
        Err(_) => Ok(ServiceResponse::new(
            request,
            Problem::internal().error_response(),
        )),
    }
}

/// Whether a panic on this thread is one of the server's (a worker or the
/// blocking pool), which the log records in one line.
fn on_a_server_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|name| name.starts_with("actix"))
}

/// Makes panics on the server's threads one log line each (message and
/// location, no backtrace); panics elsewhere (a test's own assertion, the
/// command line) are reported as before.
pub fn install_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !on_a_server_thread() {
                return previous(info);
            }
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            tracing::error!(%message, %location, "a request panicked; answered 500");
        }));
    });
}
