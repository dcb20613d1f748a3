//! `pso-bench`: load for the register, measured over HTTP against the real
//! release binary on a fresh database. A benchmark, not a test: it asserts
//! nothing and prints what it measured.
//!
//! `pso-bench issuance --backend sqlite|postgres [--clients 16] [--seconds 10]`
//! starts `pso-registry serve` on a fresh database, accredits a CB, and posts
//! signed issuances (each a new certificate, signed by the client as a CB would)
//! from concurrent clients.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pso_registry_tests::bench::{Latencies, free_port, wait_ready};
use pso_registry_tests::cb::{TestCb, certificate};
use pso_registry_tests::test_support::TestDatabase;
use serde_json::json;

struct Server {
    child: Child,
    base: String,
    admin_token: String,
    audience: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(binary: &str, database_url: &str) -> Server {
    let port = free_port();
    let admin_token = "bench-admin-token-0123456789abcdef-0123456789".to_owned();
    let audience = "https://register.bench/pso".to_owned();
    let child = Command::new(binary)
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("REGISTRY_ADMIN_TOKEN", &admin_token)
        .env("REGISTRY_AUDIENCE", &audience)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        admin_token,
        audience,
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).cloned().unwrap_or_default();
    if mode != "issuance" {
        eprintln!(
            "usage: pso-bench issuance --backend sqlite|postgres [--clients N] [--seconds S] [--binary PATH]"
        );
        std::process::exit(2);
    }
    let backend = arg(&args, "--backend").unwrap_or_else(|| "sqlite".into());
    let clients: usize = arg(&args, "--clients")
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let seconds: u64 = arg(&args, "--seconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let binary = arg(&args, "--binary").unwrap_or_else(|| "target/release/pso-registry".into());

    let db = match backend.as_str() {
        "postgres" => TestDatabase::postgres()
            .expect("a PostgreSQL server (TEST_DATABASE_URL or 127.0.0.1:5432)"),
        _ => TestDatabase::sqlite(),
    };
    let server = start_server(&binary, &db.url);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    wait_ready(&http, &server.base).await;

    let cb = TestCb::ed25519("bench-cb");
    let accredit = json!({"id": cb.id, "name": "Bench CB", "jwks": cb.jwks()});
    let response = http
        .post(format!("{}/v1/admin/certification-bodies", server.base))
        .bearer_auth(&server.admin_token)
        .json(&accredit)
        .send()
        .await
        .expect("accredit");
    assert_eq!(response.status(), 201, "accredit");

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let (http, cb, base, audience) = (http.clone(), cb.clone(), server.base.clone(), server.audience.clone());
            tokio::spawn(async move {
                let mut latencies = Latencies::default();
                let mut errors = 0u64;
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let kvk = format!("{:08}", (client as u64) * 1_000_000 + i);
                    let payload = certificate(&format!("B-{client}-{i}"), &kvk, "trede_2", "2026-01-15");
                    let now = chrono::Utc::now().timestamp();
                    let mut claims = json!({"iss": cb.id, "aud": audience, "iat": now, "exp": now + 300,
                                             "jti": format!("{client}-{i}"), "act": "issue"});
                    claims["certificate"] = payload["certificate"].clone();
                    let jws = cb.sign(&claims);
                    let sent = Instant::now();
                    let status = http
                        .post(format!("{base}/v1/certificates"))
                        .header("content-type", "application/jose")
                        .body(jws)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    if status == 201 {
                        latencies.record(sent.elapsed());
                    } else {
                        errors += 1;
                    }
                    i += 1;
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Latencies::default();
    let mut errors = 0;
    for task in tasks {
        let (latencies, e) = task.await.expect("client");
        all.merge(latencies);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "signed issuances, {backend}, {clients} clients, {seconds} s: {:.0}/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, {} ok, {errors} errors",
        all.count() as f64 / elapsed,
        all.percentile(50.0),
        all.percentile(95.0),
        all.percentile(99.0),
        all.count(),
    );
}
