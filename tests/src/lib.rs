//! The black-box harness: start the real server on a free port against a fresh
//! database (SQLite or PostgreSQL), and talk to it over HTTP like a partner.

pub mod bench;
pub mod browser;
pub mod cb;
pub mod chaos;
pub mod jwks_server;
pub mod receiver;

use std::collections::HashMap;

use pso_api::config::Config;
use pso_api::startup::Application;
use registry_core::test_support::TestDatabase;

pub use registry_core::test_support;

/// The backends every black-box test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running server, its database, and an HTTP client.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    pub client: reqwest::Client,
    pub admin_token: String,
    pub audience: String,
    pub backend: Backend,
    /// The `DATABASE_URL` the server was given.
    pub database_url: String,
    /// The in-process server (none for a register in a process of its own).
    server: Option<(
        actix_web::dev::ServerHandle,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )>,
    /// The database, when this server owns it (a replica does not).
    db: Option<TestDatabase>,
}

/// Runs each named `async fn(&TestApp)` against a server on SQLite and on
/// PostgreSQL (skipped, loudly by `make test`, when no PostgreSQL is reachable;
/// required when `PSO_REQUIRE_POSTGRES=1`).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let app = $crate::TestApp::spawn($crate::Backend::Sqlite).await.expect("sqlite is always there");
                super::$name(&app).await;
                app.stop().await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(app) = $crate::TestApp::spawn($crate::Backend::Postgres).await {
                    super::$name(&app).await;
                    app.stop().await;
                }
            })*
        }
    };
}

/// A fresh database of `backend`; `None` when PostgreSQL is unreachable and not
/// required.
pub async fn fresh_database(backend: Backend) -> Option<TestDatabase> {
    match backend {
        Backend::Sqlite => Some(TestDatabase::sqlite()),
        Backend::Postgres => tokio::task::spawn_blocking(TestDatabase::postgres)
            .await
            .ok()?,
    }
}

fn random_token() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..48)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect()
}

/// The `aud` the harness's servers take.
pub const AUDIENCE: &str = "https://register.test/pso";

/// The configuration the harness starts a server with: on `url`, listening on
/// a free port, with the admin API when `admin` gives its token.
pub fn configuration(backend: Backend, url: &str, admin: Option<&str>) -> Config {
    configuration_with(backend, url, admin, &[])
}

/// [`configuration`], with `extra` variables set (or overriding).
pub fn configuration_with(
    backend: Backend,
    url: &str,
    admin: Option<&str>,
    extra: &[(&str, &str)],
) -> Config {
    let mut vars: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", url.to_owned()),
        ("BIND", "127.0.0.1:0".to_owned()),
        ("REGISTRY_AUDIENCE", AUDIENCE.to_owned()),
        ("REGISTRY_ADMIN_TOKEN", admin.unwrap_or_default().to_owned()),
        ("REGISTRY_WORKERS", "2".to_owned()),
        ("DATABASE_POOL_SIZE", "8".to_owned()),
        ("REGISTRY_JWKS_MIN_REFETCH_SECS", "2".to_owned()),
        ("REGISTRY_ORIGIN", "register.test/pso".to_owned()),
        // Receivers and key sets of tests listen on loopback.
        ("REGISTRY_ALLOW_LOOPBACK_TARGETS", "1".to_owned()),
        ("REGISTRY_WEBHOOK_FIRST_RETRY_MS", "100".to_owned()),
        ("REGISTRY_WEBHOOK_MAX_RETRY_SECS", "1".to_owned()),
        // Tests ask many times from one address; the limits have tests of their own.
        ("REGISTRY_RATE_ANON_STATUS", "1000000".to_owned()),
        ("REGISTRY_RATE_ANON_SEARCH", "1000000".to_owned()),
        (
            // SQLite makes its key beside the database file; PostgreSQL's
            // replicas share one.
            "REGISTRY_SIGNING_KEY_FILE",
            match backend {
                Backend::Sqlite => String::new(),
                Backend::Postgres => signing_key_file(),
            },
        ),
    ]);
    for (k, v) in extra {
        vars.insert(k, (*v).to_owned());
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("test configuration")
}

/// The register's signing key of this test process (made once, in a
/// directory of its own).
pub fn signing_key_file() -> String {
    static FILE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!(
            "pso-test-key-{}-{}",
            std::process::id(),
            random_token()
        ));
        let path = dir.join("signing-key.pem");
        pso_api::signing::make_key(&path).expect("a test signing key");
        path.display().to_string()
    })
    .clone()
}

impl TestApp {
    /// A server on a fresh database of `backend`; `None` when PostgreSQL is
    /// unreachable and not required.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        let db = fresh_database(backend).await?;
        let url = db.url.clone();
        Some(Self::spawn_on(db, backend, &url).await)
    }

    /// A server on `db`, reaching it through `url` (which may lead through a proxy).
    pub async fn spawn_on(db: TestDatabase, backend: Backend, url: &str) -> TestApp {
        Self::spawn_configured(Some(db), backend, url, Some(random_token()), |_| {}).await
    }

    /// Another server on this one's database, with the same admin token: a
    /// replica behind the same load balancer.
    pub async fn replica(&self) -> TestApp {
        Self::spawn_configured(
            None,
            self.backend,
            &self.database_url,
            Some(self.admin_token.clone()),
            |_| {},
        )
        .await
    }

    /// Stops this server and starts a new one on its database (a restart).
    pub async fn restart(mut self) -> TestApp {
        let db = self.db.take();
        let (backend, url, token) = (
            self.backend,
            self.database_url.clone(),
            self.admin_token.clone(),
        );
        self.stop().await;
        Self::spawn_configured(db, backend, &url, Some(token), |_| {}).await
    }

    /// A server with one more route, `GET /test/panic`, whose handler panics.
    pub async fn spawn_with_panicking_route(backend: Backend) -> Option<TestApp> {
        fn panicking(routes: &mut actix_web::web::ServiceConfig) {
            routes.service(
                pso_api::routes::resource("/test/panic", pso_api::routes::READ).route(
                    actix_web::web::get().to(|req: actix_web::HttpRequest| async move {
                        // An index out of range, as a bug would have it.
                        let segments: Vec<&str> = req.path().split('/').collect();
                        actix_web::HttpResponse::Ok().body(segments[segments.len() + 1].to_owned())
                    }),
                ),
            );
        }
        let db = fresh_database(backend).await?;
        let url = db.url.clone();
        Some(Self::spawn_configured(Some(db), backend, &url, Some(random_token()), panicking).await)
    }

    /// A server with the admin API and `vars` set in its environment.
    pub async fn spawn_with_env(
        backend: Backend,
        vars: &'static [(&'static str, &'static str)],
    ) -> Option<TestApp> {
        let db = fresh_database(backend).await?;
        let url = db.url.clone();
        Some(Self::spawn_full(Some(db), backend, &url, Some(random_token()), |_| {}, vars).await)
    }

    /// A server without `REGISTRY_ADMIN_TOKEN`: no admin API.
    pub async fn spawn_without_admin(backend: Backend) -> Option<TestApp> {
        let db = fresh_database(backend).await?;
        let url = db.url.clone();
        Some(Self::spawn_configured(Some(db), backend, &url, None, |_| {}).await)
    }

    /// A server on `url`, owning `db` when given; with the admin API when an
    /// admin token is given.
    async fn spawn_configured(
        db: Option<TestDatabase>,
        backend: Backend,
        url: &str,
        admin: Option<String>,
        extra: pso_api::startup::ExtraRoutes,
    ) -> TestApp {
        Self::spawn_full(db, backend, url, admin, extra, &[]).await
    }

    async fn spawn_full(
        db: Option<TestDatabase>,
        backend: Backend,
        url: &str,
        admin: Option<String>,
        extra: pso_api::startup::ExtraRoutes,
        vars: &[(&str, &str)],
    ) -> TestApp {
        let with_admin = admin.is_some();
        let admin_token = admin.unwrap_or_else(random_token);
        let audience = AUDIENCE.to_owned();
        let config = configuration_with(
            backend,
            url,
            with_admin.then_some(admin_token.as_str()),
            vars,
        );
        let app = Application::build_with(config, extra)
            .await
            .expect("server starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let task = tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("http client");
        // As a load balancer would: no request before the register is ready.
        bench::wait_ready(&client, &address).await;
        TestApp {
            address,
            client,
            admin_token,
            audience,
            backend,
            database_url: url.to_owned(),
            server: Some((handle, task)),
            db,
        }
    }

    /// The helpers, for a register at `address` that runs elsewhere (a
    /// process of its own) with the harness's audience and `admin_token`.
    pub fn attach(
        address: &str,
        admin_token: &str,
        backend: Backend,
        database_url: &str,
    ) -> TestApp {
        TestApp {
            address: address.to_owned(),
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("http client"),
            admin_token: admin_token.to_owned(),
            audience: AUDIENCE.to_owned(),
            backend,
            database_url: database_url.to_owned(),
            server: None,
            db: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// `GET path` with `If-None-Match: etag`.
    pub async fn get_if_none_match(&self, path: &str, etag: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("if-none-match", etag)
            .send()
            .await
            .expect("request")
    }

    /// Stops the server and hands over its database (kept until dropped) and URL.
    pub async fn stop_keeping_database(mut self) -> (Option<TestDatabase>, String) {
        let db = self.db.take();
        let url = self.database_url.clone();
        self.stop().await;
        (db, url)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(self) {
        if let Some((handle, task)) = self.server {
            handle.stop(true).await;
            let _ = task.await;
        }
    }
}

/// base64url without padding, as JOSE writes it.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads a response's body as JSON.
pub async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.expect("JSON body")
}

/// Whether the OpenAPI document declares problem type `slug` at `status` for an
/// operation on `path` (a concrete path such as `/v1/companies/12345678`; the
/// methods of one path are taken together). `405` is declared for every path,
/// `404` for a path no operation has.
pub fn declared(path: &str, status: u16, slug: &str) -> bool {
    let document = pso_api::openapi::document_value();
    if status == 405 {
        return slug == "method-not-allowed";
    }
    let path = path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    let matches = |template: &str| {
        let full = if pso_api::openapi::OPERATIONAL_PATHS.contains(&template) {
            template.to_owned()
        } else {
            format!("{}{template}", pso_api::openapi::BASE_PATH)
        };
        let parts: Vec<&str> = full.split('/').collect();
        parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(t, s)| (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s)
    };
    let operations: Vec<&serde_json::Value> = document["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(template, _)| matches(template))
        .flat_map(|(_, item)| item.as_object().into_iter().flatten().map(|(_, op)| op))
        .collect();
    if operations.is_empty() {
        return status == 404 && slug == "not-found";
    }
    operations.iter().any(|op| {
        op["responses"][status.to_string()]["x-problem-types"]
            .as_array()
            .is_some_and(|types| types.iter().any(|t| t == slug))
    })
}

/// Checks that `response` is a problem of `slug` with `status`, that the
/// OpenAPI document declares it for the path, and returns it.
pub async fn expect_problem(
    response: reqwest::Response,
    status: u16,
    slug: &str,
) -> serde_json::Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status of {}",
        response.url()
    );
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let path = response.url().path().to_owned();
    let body = json(response).await;
    assert_eq!(body["type"], format!("/problems/{slug}"), "{body}");
    assert!(
        declared(&path, status, slug),
        "the document does not declare {slug} ({status}) for {path}"
    );
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}
