//! Builds the server from a configuration: opens the database, binds the
//! listener, wires routes and middleware. `main` and the black-box tests start
//! the server the same way (tests bind port 0 and get a real URL).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use registry_core::{Registry, SchemeRules, StorageError};
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::metrics::{self, Metrics};
use crate::routes::{
    self, CHANGE, DELETE, READ, READ_CHANGE_DELETE, READ_WRITE, WRITE, admin, certificates,
    certification_bodies, companies, events, export, health, log, resource, status, subscriptions,
};
use crate::state::AppState;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] StorageError),
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
    #[error("cannot set up metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("cannot set up the HTTP client for key sets: {0}")]
    Http(#[from] reqwest::Error),
    #[error("start-up task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("the register's signing key: {0}")]
    Signing(#[from] crate::signing::SigningError),
    #[error("cannot check the transparency log: {0}")]
    Core(#[from] registry_core::CoreError),
    /// The stored log is not the history it signed: the register does not serve.
    #[error("the transparency log was rewritten behind the register's back: {0}")]
    Tampered(registry_core::Tampering),
}

/// Routes an embedder adds beside the register's own (the black-box tests add
/// one that panics, to see the panic answered).
pub type ExtraRoutes = fn(&mut web::ServiceConfig);

/// A server that is bound and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    registry: Registry,
    config: Arc<Config>,
    checkpoints: Arc<crate::checkpoints::Checkpoints>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Opens (and migrates) the database and binds `config.bind`.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with(config, |_| {}).await
    }

    /// [`Application::build`], with `extra` routes beside the register's.
    pub async fn build_with(config: Config, extra: ExtraRoutes) -> Result<Self, StartupError> {
        // The key before the database: a register that cannot sign touches nothing.
        let signing = Arc::new(crate::signing::Signing::load(&config)?);
        let (url, pool) = (config.database_url.clone(), config.pool.clone());
        let registry =
            tokio::task::spawn_blocking(move || Registry::open(&url, &pool, SchemeRules::pso()))
                .await??;
        tracing::info!(database = %config.database_url, "database ready");
        let checking = registry.clone();
        let keys = signing.note_keys();
        let started = std::time::Instant::now();
        let check = tokio::task::spawn_blocking(move || checking.check_log(&keys)).await??;
        match check {
            Ok(check) => tracing::info!(
                entries = check.entries,
                integrated = check.integrated,
                checkpoint = ?check.checkpoint,
                seconds = started.elapsed().as_secs_f64(),
                verifier_key = %signing.key().verifier_key(),
                "transparency log verified"
            ),
            Err(tampered) => {
                tracing::error!(%tampered, "the transparency log does not verify; not serving");
                return Err(StartupError::Tampered(tampered));
            }
        }
        let checkpoints = Arc::new(crate::checkpoints::Checkpoints::new(signing.clone()));
        let listener = TcpListener::bind(&config.bind).map_err(|source| StartupError::Bind {
            bind: config.bind.clone(),
            source,
        })?;
        let port = listener.local_addr().map_err(|source| StartupError::Bind {
            bind: config.bind.clone(),
            source,
        })?;
        let config = Arc::new(config);
        let server = run(
            listener,
            registry.clone(),
            config.clone(),
            (signing, checkpoints.clone()),
            extra,
        )?;
        tracing::info!(address = %port, "serving");
        Ok(Self {
            port: port.port(),
            server,
            registry,
            config,
            checkpoints,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGTERM/SIGINT or the handle), finishing requests in
    /// flight, with the read model (loaded, then following the log) and the
    /// expiry job beside it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let model = tokio::spawn(keep_model(self.registry.clone()));
        let expiry = tokio::spawn(crate::expiry::run(
            self.registry.clone(),
            self.config.expiry_interval,
        ));
        let checkpoints = tokio::spawn(crate::checkpoints::run(
            self.registry.clone(),
            self.checkpoints.clone(),
            self.config.checkpoint_interval,
            self.config.checkpoint_events,
        ));
        let webhooks = tokio::spawn(crate::webhooks::run(
            self.registry.clone(),
            self.config.clone(),
        ));
        let result = self.server.await;
        webhooks.abort();
        checkpoints.abort();
        expiry.abort();
        model.abort();
        if let Ok(follow) = model.await {
            // Joining the follower waits for its last round at most.
            let _ = tokio::task::spawn_blocking(move || drop(follow)).await;
        }
        tracing::info!("stopped");
        result
    }
}

/// How long a failed load of the read model waits before it is tried again.
const MODEL_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// Loads the read model (again and again, until it loads: `/readyz` answers
/// `503` meanwhile), then follows the log; the follower runs until the
/// returned handle is dropped.
async fn keep_model(registry: Registry) -> registry_core::Follow {
    loop {
        let loading = registry.clone();
        match tokio::task::spawn_blocking(move || {
            loading.load_model()?;
            loading
                .follow()
                .map_err(|e| registry_core::CoreError::Storage(e.to_string()))
        })
        .await
        {
            Ok(Ok(follow)) => return follow,
            Ok(Err(e)) => tracing::error!(error = %e, "cannot load the read model; trying again"),
            Err(e) => tracing::error!(error = %e, "loading the read model failed"),
        }
        tokio::time::sleep(MODEL_RETRY).await;
    }
}

/// `GET /v1/openapi.json` (and `/openapi.json`): the OpenAPI 3.1 document,
/// generated from the code (ADR `/core/publish-openapi`).
async fn openapi_json() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(crate::openapi::document())
}

/// Wires the HTTP server over `listener`.
pub fn run(
    listener: TcpListener,
    registry: Registry,
    config: Arc<Config>,
    (signing, checkpoints): (
        Arc<crate::signing::Signing>,
        Arc<crate::checkpoints::Checkpoints>,
    ),
    extra: ExtraRoutes,
) -> Result<Server, StartupError> {
    crate::panics::install_hook();
    let metrics = web::Data::new(Metrics::new()?);
    let workers = config.workers;
    let keys = Arc::new(crate::keys::KeyStore::new(
        config.jwks_min_refetch,
        config.outbound,
    )?);
    // Reads in flight on PostgreSQL: twice the cores. More only queues in the
    // scheduler (measured on 2 cores: 16 at once gave a p99 of 138 ms, 4 gave 9 ms).
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let read_permits = Arc::new(tokio::sync::Semaphore::new(
        (config.pool.max_size as usize).min(2 * cores),
    ));
    // Searches and batches: one core's worth at most on a small machine, the
    // rest stays with the workers that answer status checks.
    let work_permits = Arc::new(tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1)));
    let config_limits = config.limits;
    let state = web::Data::new(AppState {
        registry,
        config,
        keys,
        read_permits,
        work_permits,
        signing,
        checkpoints,
        clients: Arc::new(crate::clients::Clients::default()),
        export_permits: Arc::new(tokio::sync::Semaphore::new(routes::export::EXPORTS_AT_ONCE)),
        limiter: Arc::new(crate::rate_limit::RateLimiter::new(config_limits)),
    });
    let admin = state.config.admin_token.is_some();
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(metrics.clone())
            .wrap(from_fn(crate::http_cache::middleware))
            .wrap(from_fn(crate::rate_limit::middleware))
            .wrap(from_fn(metrics::observe))
            .wrap(from_fn(crate::transport::middleware))
            .service(resource("/healthz", READ).route(web::get().to(health::healthz)))
            .service(resource("/readyz", READ).route(web::get().to(health::readyz)))
            .service(resource("/metrics", READ).route(web::get().to(health::metrics)))
            .service(resource("/v1/companies", READ).route(web::get().to(companies::list)))
            .service(resource("/v1/companies/{kvk}", READ).route(web::get().to(companies::get)))
            .service(resource("/v1/companies/{kvk}/status", READ).route(web::get().to(status::one)))
            .service(
                resource("/v1/status/batch", WRITE)
                    .route(
                        web::post()
                            .guard(actix_web::guard::fn_guard(status::is_csv))
                            .to(status::batch_csv),
                    )
                    .route(web::post().to(status::batch)),
            )
            .service(
                resource("/v1/certificates", READ_WRITE)
                    .route(web::get().to(certificates::list))
                    .route(web::post().to(certificates::issue)),
            )
            .service(
                resource("/v1/certificates/{number}", READ).route(web::get().to(certificates::get)),
            )
            .service(
                resource("/v1/certificates/{number}/events", READ)
                    .route(web::get().to(certificates::events)),
            )
            .service(
                resource("/v1/certificates/{number}/renewals", WRITE)
                    .route(web::post().to(certificates::renew)),
            )
            .service(
                resource("/v1/certificates/{number}/suspension", WRITE)
                    .route(web::post().to(certificates::suspend)),
            )
            .service(
                resource("/v1/certificates/{number}/reinstatement", WRITE)
                    .route(web::post().to(certificates::reinstate)),
            )
            .service(
                resource("/v1/certificates/{number}/revocation", WRITE)
                    .route(web::post().to(certificates::revoke)),
            )
            .service(
                resource("/v1/certification-bodies", READ)
                    .route(web::get().to(certification_bodies::list)),
            )
            .service(
                resource("/v1/certification-bodies/{id}", READ)
                    .route(web::get().to(certification_bodies::get)),
            )
            .service(resource("/v1/events", READ).route(web::get().to(events::feed)))
            .service(
                resource("/v1/export/certificates", READ)
                    .route(web::get().to(export::certificates)),
            )
            .service(resource("/v1/export/companies", READ).route(web::get().to(export::companies)))
            .service(
                resource("/v1/subscriptions", READ_WRITE)
                    .route(web::get().to(subscriptions::list))
                    .route(web::post().to(subscriptions::create)),
            )
            .service(
                resource("/v1/subscriptions/{id}", READ_CHANGE_DELETE)
                    .route(web::get().to(subscriptions::get))
                    .route(web::patch().to(subscriptions::change))
                    .route(web::delete().to(subscriptions::delete)),
            )
            .service(
                resource("/v1/subscriptions/{id}/deliveries", READ)
                    .route(web::get().to(subscriptions::deliveries)),
            )
            .service(
                resource("/v1/subscriptions/{id}/replay", WRITE)
                    .route(web::post().to(subscriptions::replay)),
            )
            .service(resource("/v1/log/checkpoint", READ).route(web::get().to(log::checkpoint)))
            .service(resource("/v1/log/verifier-key", READ).route(web::get().to(log::verifier_key)))
            .service(resource("/v1/log/entries/{index}", READ).route(web::get().to(log::entry)))
            .service(resource("/v1/log/proof/inclusion", READ).route(web::get().to(log::inclusion)))
            .service(
                resource("/v1/log/proof/consistency", READ).route(web::get().to(log::consistency)),
            )
            .service(resource("/v1/log/tile/{path:.*}", READ).route(web::get().to(log::tile)))
            .service(resource("/.well-known/jwks.json", READ).route(web::get().to(log::jwks)))
            .configure(|routes| {
                // Without a token the scheme owner's API does not exist: its
                // paths are unknown paths (404), whatever is sent.
                if !admin {
                    return;
                }
                routes
                    .service(
                        resource("/v1/admin/certification-bodies", WRITE)
                            .route(web::post().to(admin::accredit)),
                    )
                    .service(
                        resource("/v1/admin/certification-bodies/{id}", CHANGE)
                            .route(web::patch().to(admin::change)),
                    )
                    .service(
                        resource("/v1/admin/certificates/{number}/revocation", WRITE)
                            .route(web::post().to(admin::revoke)),
                    )
                    .service(
                        resource("/v1/admin/clients", READ_WRITE)
                            .route(web::get().to(admin::clients))
                            .route(web::post().to(admin::create_client)),
                    )
                    .service(
                        resource("/v1/admin/clients/{id}", DELETE)
                            .route(web::delete().to(admin::revoke_client)),
                    );
            })
            .service(resource("/v1/openapi.json", READ).route(web::get().to(openapi_json)))
            .service(resource("/openapi.json", READ).route(web::get().to(openapi_json)))
            .service(web::redirect("/docs", "/docs/"))
            .service(
                SwaggerUi::new("/docs/{_:.*}")
                    .config(utoipa_swagger_ui::Config::from("/v1/openapi.json")),
            )
            .configure(crate::pages::routes)
            .configure(extra)
            .default_service(web::to(routes::not_found))
    })
    .shutdown_timeout(10)
    .listen(listener)
    .map_err(|source| StartupError::Bind {
        bind: "listener".into(),
        source,
    })?;
    if let Some(n) = workers {
        server = server.workers(n);
    }
    Ok(server.run())
}
