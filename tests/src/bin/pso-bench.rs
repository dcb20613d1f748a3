//! `pso-bench`: the register measured over HTTP against the real binary, side by
//! side with the HTTP ceiling of the machine (a bare actix-web handler loaded
//! the same way). A benchmark, not a test: it asserts nothing.
//!
//! - `pso-bench run [--smoke] [--scale 10k,100k] [--backends sqlite,postgres]
//!   [--bin-dir target/release] [--out BENCHMARKS.md]
//!   [--database URL --companies N]`: seeds each backend at each
//!   scale with `pso-registry seed`, starts `pso-registry serve`, loads status
//!   (existing and unknown KvK numbers), batches of 1,000, company detail,
//!   search, feed paging (with `wrk`, 64 connections) and signed issuances (16
//!   clients), reads the server's peak RSS, and appends a table to `--out`.
//!   With `--database`, measures that database as it is, seeded before with
//!   `pso-registry seed --companies N --seed 42`.
//! - `pso-bench issuance --backend sqlite|postgres [--clients 16] [--seconds 10]`:
//!   signed issuances only, on a fresh database.

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pso_api::seed::{kvk_of, unknown_kvk};
use pso_registry_tests::bench::{Latencies, free_port, wait_ready};
use pso_registry_tests::cb::{TestCb, certificate};
use pso_registry_tests::test_support::TestDatabase;
use rand::Rng;
use serde_json::{Value, json};

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

impl Server {
    /// The peak resident set size of the server process, in MB.
    fn peak_rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
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
        .env("REGISTRY_EXPIRY_INTERVAL_SECS", "86400")
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

fn fresh_database(backend: &str) -> TestDatabase {
    match backend {
        "postgres" => TestDatabase::postgres()
            .expect("a PostgreSQL server (TEST_DATABASE_URL or 127.0.0.1:5432)"),
        _ => TestDatabase::sqlite(),
    }
}

/// One measured load.
#[derive(Debug, Clone)]
struct Figure {
    rps: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    errors: u64,
}

const WRK_REPORT: &str = r#"
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format('{"requests":%d,"duration_us":%d,"errors":%d,"p50":%d,"p95":%d,"p99":%d}\n',
    summary.requests, summary.duration, errors, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"#;

fn lua_get(paths_file: &str) -> String {
    format!(
        "local paths = {{}}\nfor line in io.lines('{paths_file}') do paths[#paths + 1] = line end\n\
         request = function() return wrk.format('GET', paths[math.random(#paths)]) end\n{WRK_REPORT}"
    )
}

fn lua_post(path: &str, bodies_file: &str) -> String {
    format!(
        "local bodies = {{}}\nfor line in io.lines('{bodies_file}') do bodies[#bodies + 1] = line end\n\
         request = function() return wrk.format('POST', '{path}', {{['Content-Type'] = 'application/json'}}, bodies[math.random(#bodies)]) end\n{WRK_REPORT}"
    )
}

/// Runs wrk with `script` against `base` and reads its report line.
fn wrk(
    base: &str,
    script: &str,
    dir: &std::path::Path,
    name: &str,
    connections: u32,
    seconds: u64,
) -> Figure {
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(&path, script).expect("write script");
    let output = Command::new("wrk")
        .args([
            // wrk needs at least one connection per thread.
            &format!("-t{}", connections.min(2)),
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(&path)
        .arg(base)
        .output()
        .expect("wrk (apt-get install wrk)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("{\"requests\""))
        .unwrap_or_else(|| panic!("no wrk report for {name}: {stdout}"));
    let v: Value = serde_json::from_str(line).expect("report");
    let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    Figure {
        rps: f("requests") / (f("duration_us") / 1e6),
        p50: f("p50") / 1000.0,
        p95: f("p95") / 1000.0,
        p99: f("p99") / 1000.0,
        errors: v["errors"].as_u64().unwrap_or(0),
    }
}

/// Signed issuances from `clients` concurrent CB clients for `seconds`.
async fn issuances(
    server: &Server,
    clients: usize,
    seconds: u64,
    reference_prefix: &str,
    companies: u64,
) -> Figure {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    // A CB of its own per run: a database measured again already knows the last one.
    let cb = TestCb::ed25519(&format!("bench-{reference_prefix}-{}", std::process::id()));
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
                    // Numbers no seeded company has: every issuance is a new
                    // certificate (a stretch per run, for a database measured again).
                    let run = u64::from(std::process::id() % 200) * 200_000;
                    let kvk = unknown_kvk(companies, 100_000 + run + client as u64 * 10_000 + i);
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
    Figure {
        rps: all.count() as f64 / elapsed,
        p50: all.percentile(50.0),
        p95: all.percentile(95.0),
        p99: all.percentile(99.0),
        errors,
    }
}

fn scale_of(s: &str) -> u64 {
    match s {
        "1m" => 1_000_000,
        s if s.ends_with('k') => s.trim_end_matches('k').parse::<u64>().unwrap_or(10) * 1000,
        s => s.parse().unwrap_or(10_000),
    }
}

/// The queries a procurement officer types, some with typos, with and without filters.
const SEARCHES: [&str; 12] = [
    "q=drukkerij",
    "q=drukerij%20jansen",
    "q=bouwbedrijf%20de%20vries",
    "q=instalatiebedrijf",
    "q=hovenier&province=Utrecht",
    "q=schoonmaak&levelMin=trede_2",
    "q=van%20den%20berg",
    "q=transport&city=Zwolle",
    "province=Gelderland&levelMin=trede_2",
    "city=Utrecht",
    "sbi=41&status=any",
    "levelMin=trede_3&pso30plus=true",
];

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    format!("{cores} cores ({cpu}), {memory:.0} GiB; load generator on the same machine")
}

fn git_commit() -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("issuance") => {
            let backend = arg(&args, "--backend").unwrap_or_else(|| "sqlite".into());
            let clients: usize = arg(&args, "--clients")
                .and_then(|v| v.parse().ok())
                .unwrap_or(16);
            let seconds: u64 = arg(&args, "--seconds")
                .and_then(|v| v.parse().ok())
                .unwrap_or(10);
            let bin_dir = arg(&args, "--bin-dir").unwrap_or_else(|| "target/release".into());
            let db = fresh_database(&backend);
            let server = start_server(&format!("{bin_dir}/pso-registry"), &db.url);
            wait_ready(&reqwest::Client::new(), &server.base).await;
            let f = issuances(&server, clients, seconds, "issuance", 0).await;
            println!(
                "signed issuances, {backend}, {clients} clients, {seconds} s: {:.0}/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, {} errors",
                f.rps, f.p50, f.p95, f.p99, f.errors
            );
        }
        Some("run") => run(&args).await,
        _ => {
            eprintln!(
                "usage: pso-bench run [--smoke] [--scale 10k,100k] [--backends sqlite,postgres] [--bin-dir DIR] [--out FILE] [--database URL --companies N]"
            );
            eprintln!(
                "       pso-bench issuance --backend sqlite|postgres [--clients N] [--seconds S] [--bin-dir DIR]"
            );
            std::process::exit(2);
        }
    }
}

async fn run(args: &[String]) {
    let smoke = args.iter().any(|a| a == "--smoke");
    let scales: Vec<String> = arg(args, "--scale")
        .unwrap_or_else(|| {
            if smoke {
                "1k".into()
            } else {
                "10k,100k".into()
            }
        })
        .split(',')
        .map(str::to_owned)
        .collect();
    let mut backends: Vec<String> = arg(args, "--backends")
        .unwrap_or_else(|| "sqlite,postgres".into())
        .split(',')
        .map(str::to_owned)
        .collect();
    // An existing, seeded database measured as it is (no seeding).
    let existing = arg(args, "--database");
    let scales = match &existing {
        Some(url) => {
            backends = vec![
                if url.starts_with("postgres") {
                    "postgres"
                } else {
                    "sqlite"
                }
                .into(),
            ];
            vec![arg(args, "--companies").expect("--database needs --companies N (as seeded)")]
        }
        None => scales,
    };
    let bin_dir = arg(args, "--bin-dir").unwrap_or_else(|| "target/release".into());
    let out = arg(args, "--out").unwrap_or_else(|| "BENCHMARKS.md".into());
    let (connections, seconds, clients) = if smoke { (8, 2, 4) } else { (64, 10, 16) };
    let registry_bin = format!("{bin_dir}/pso-registry");
    let dir = std::env::temp_dir().join(format!("pso-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("work dir");

    // The ceiling: a bare handler, same tool, same connections, same run.
    let ceiling_port = free_port();
    let mut ceiling = Command::new(format!("{bin_dir}/pso-ceiling"))
        .arg(ceiling_port.to_string())
        .stdout(Stdio::null())
        .spawn()
        .expect("pso-ceiling");
    let ceiling_base = format!("http://127.0.0.1:{ceiling_port}");
    wait_for_port(ceiling_port).await;
    let paths = dir.join("ceiling.txt");
    std::fs::write(&paths, "/v1/companies/12345678/status\n").expect("write");
    let ceiling_figure = wrk(
        &ceiling_base,
        &lua_get(&paths.to_string_lossy()),
        &dir,
        "ceiling",
        connections,
        seconds,
    );
    let _ = ceiling.kill();
    let _ = ceiling.wait();
    eprintln!(
        "ceiling: {:.0} req/s, p99 {:.2} ms",
        ceiling_figure.rps, ceiling_figure.p99
    );

    let mut report = String::new();
    let _ = writeln!(
        report,
        "\n## {} — commit {} {}\n\nMachine: {}. wrk, 2 threads, {connections} connections, {seconds} s per load; signed issuances from {clients} concurrent clients. \
         HTTP ceiling (a bare actix-web handler with a status-sized JSON body, same tool and connections): **{:.0} req/s**, p50 {:.2} ms, p99 {:.2} ms.\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        git_commit(),
        if smoke {
            "(smoke run: numbers are not meaningful)"
        } else {
            ""
        },
        machine(),
        ceiling_figure.rps,
        ceiling_figure.p50,
        ceiling_figure.p99,
    );
    for backend in &backends {
        for scale in &scales {
            let companies = scale_of(scale);
            let (_db, url, seeded) = match &existing {
                Some(url) => (None, url.clone(), "an existing database".to_owned()),
                None => {
                    let db = fresh_database(backend);
                    let started = Instant::now();
                    let status = Command::new(&registry_bin)
                        .args([
                            "seed",
                            "--companies",
                            &companies.to_string(),
                            "--seed",
                            "42",
                            "--database",
                            &db.url,
                        ])
                        .env("RUST_LOG", "warn")
                        .status()
                        .expect("seed");
                    assert!(status.success(), "seeding failed");
                    let seeded = format!("seeded in {:.0} s", started.elapsed().as_secs_f64());
                    let url = db.url.clone();
                    (Some(db), url, seeded)
                }
            };
            let server = start_server(&registry_bin, &url);
            wait_ready(&reqwest::Client::new(), &server.base).await;

            let mut rng = rand::rng();
            let write_lines = |name: &str, lines: Vec<String>| {
                let path = dir.join(name);
                std::fs::write(&path, lines.join("\n") + "\n").expect("write");
                path.to_string_lossy().into_owned()
            };
            let status_paths = write_lines(
                "status.txt",
                (0..20_000)
                    .map(|j| {
                        let kvk = if rng.random_bool(0.9) {
                            kvk_of(rng.random_range(0..companies))
                        } else {
                            unknown_kvk(companies, j)
                        };
                        format!("/v1/companies/{kvk}/status")
                    })
                    .collect(),
            );
            let detail_paths = write_lines(
                "detail.txt",
                (0..20_000)
                    .map(|_| format!("/v1/companies/{}", kvk_of(rng.random_range(0..companies))))
                    .collect(),
            );
            let batch_bodies = write_lines(
                "batch.txt",
                (0..20)
                    .map(|_| {
                        let kvks: Vec<String> = (0..1000)
                            .map(|_| kvk_of(rng.random_range(0..companies * 11 / 10)))
                            .collect();
                        json!({"kvkNumbers": kvks}).to_string()
                    })
                    .collect(),
            );
            let search_paths = write_lines(
                "search.txt",
                SEARCHES
                    .iter()
                    .map(|q| format!("/v1/companies?{q}&limit=20"))
                    .collect(),
            );
            let last_seq = {
                let body: Value =
                    reqwest::get(format!("{}/v1/events?after=0&limit=1", server.base))
                        .await
                        .expect("feed")
                        .json()
                        .await
                        .expect("json");
                body["nextAfter"].as_i64().unwrap_or(1)
            };
            let feed_paths = write_lines(
                "feed.txt",
                (0..5000)
                    .map(|_| {
                        format!(
                            "/v1/events?after={}&limit=100",
                            rng.random_range(0..(companies as i64 * 12 / 10).max(last_seq))
                        )
                    })
                    .collect(),
            );

            let mut rows: Vec<(&str, Figure)> = Vec::new();
            rows.push((
                "status (90% existing, 10% unknown KvK)",
                wrk(
                    &server.base,
                    &lua_get(&status_paths),
                    &dir,
                    "status",
                    connections,
                    seconds,
                ),
            ));
            rows.push((
                "batch of 1,000",
                wrk(
                    &server.base,
                    &lua_post("/v1/status/batch", &batch_bodies),
                    &dir,
                    "batch",
                    connections,
                    seconds,
                ),
            ));
            rows.push((
                "batch of 1,000, one client",
                wrk(
                    &server.base,
                    &lua_post("/v1/status/batch", &batch_bodies),
                    &dir,
                    "batch1",
                    1,
                    seconds,
                ),
            ));
            rows.push((
                "company detail",
                wrk(
                    &server.base,
                    &lua_get(&detail_paths),
                    &dir,
                    "detail",
                    connections,
                    seconds,
                ),
            ));
            rows.push((
                "search (12 queries, typos, filters)",
                wrk(
                    &server.base,
                    &lua_get(&search_paths),
                    &dir,
                    "search",
                    connections,
                    seconds,
                ),
            ));
            rows.push((
                "search, one client",
                wrk(
                    &server.base,
                    &lua_get(&search_paths),
                    &dir,
                    "search1",
                    1,
                    seconds,
                ),
            ));
            rows.push((
                "feed page of 100",
                wrk(
                    &server.base,
                    &lua_get(&feed_paths),
                    &dir,
                    "feed",
                    connections,
                    seconds,
                ),
            ));
            rows.push((
                "signed issuance",
                issuances(
                    &server,
                    clients,
                    seconds,
                    &format!("{backend}{scale}"),
                    companies,
                )
                .await,
            ));
            let rss = server.peak_rss_mb();
            drop(server);

            let _ = writeln!(
                report,
                "### {backend}, {companies} companies ({seeded}; server peak RSS {rss:.0} MB)\n\n| load | req/s | × ceiling | p50 ms | p95 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|---:|"
            );
            for (name, f) in &rows {
                let _ = writeln!(
                    report,
                    "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                    f.rps,
                    f.rps / ceiling_figure.rps,
                    f.p50,
                    f.p95,
                    f.p99,
                    f.errors
                );
                eprintln!(
                    "{backend} {scale} {name}: {:.0} req/s, p50 {:.2} p95 {:.2} p99 {:.2} ms, {} errors",
                    f.rps, f.p50, f.p95, f.p99, f.errors
                );
            }
            report.push('\n');
        }
    }
    let mut existing = std::fs::read_to_string(&out).unwrap_or_else(|_| {
        "# Benchmarks\n\n`make bench` appends a section per run (`make bench-smoke` writes to a scratch file). \
         Targets (issue 5): status ≥ 0.5× the ceiling's req/s and p99 ≤ 5 ms; batch of 1,000 p95 ≤ 20 ms; \
         search p95 ≤ 10 ms at 100k companies (≤ 20 ms at 1M); p50 at 1M ≤ 2× p50 at 10k; signed issuance ≥ 1,000/s \
         on PostgreSQL; server RSS ≤ 150 MB at 1M on SQLite.\n"
            .to_owned()
    });
    existing.push_str(&report);
    std::fs::write(&out, existing).expect("write report");
    println!("{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

async fn wait_for_port(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("port {port} did not open");
}
