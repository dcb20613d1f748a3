//! `pso-bench`: the register measured over HTTP against the real binary, side by
//! side with the HTTP ceiling of the machine (a bare actix-web handler loaded
//! the same way). A benchmark, not a test: it asserts nothing.
//!
//! - `pso-bench run [--smoke] [--scale 10k,100k] [--backends sqlite,postgres]
//!   [--bin-dir target/release] [--out BENCHMARKS.md] [--no-peer]
//!   [--database URL --companies N]`: seeds each backend at each
//!   scale with `pso-registry seed`, starts `pso-registry serve` (timing its
//!   start-up and reading its memory), loads status (existing and unknown KvK
//!   numbers), batches of 1,000, company detail, the officer's supplier page
//!   (one client), search, feed paging (with
//!   `wrk`, 64 connections), the peer's six name searches next to Datasette
//!   serving a copy of the SQLite file with FTS5 (installed into
//!   `target/bench-venv` from the Python package registry), status while 8
//!   connections loop the most expensive reads, and signed issuances (16
//!   clients); writes every figure with its target and verdict, and the
//!   growth from the smallest to the largest scale, to `--out`. With
//!   `--database`, measures that database as it is, seeded before with
//!   `pso-registry seed --companies N --seed 42`. With `--baseline-bin PATH`
//!   (a `pso-registry` built before the transparency log; `make bench` builds
//!   one), also signed issuances on this build against that one, in turns.
//! - `pso-bench issuance --backend sqlite|postgres [--clients 16] [--seconds 10]`:
//!   signed issuances only, on a fresh database.
//! - `pso-bench subscriptions [--backends sqlite,postgres] [--subscriptions 100]`:
//!   signed issuances with that many subscriptions watching every change
//!   against none (`run` measures it too, with 100).

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
        .env(
            "REGISTRY_SIGNING_KEY_FILE",
            pso_registry_tests::signing_key_file(),
        )
        .env("RUST_LOG", "warn")
        // The load comes from one address: the limits stay out of its way
        // (their bookkeeping is still done, and measured).
        .env("REGISTRY_RATE_ANON_STATUS", "1000000000")
        .env("REGISTRY_RATE_ANON_SEARCH", "1000000000")
        // The webhook receiver of the subscription load listens here.
        .env("REGISTRY_ALLOW_LOOPBACK_TARGETS", "1")
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

/// GETs asking for signed answers (`Accept: application/jose`).
fn lua_get_signed(paths_file: &str) -> String {
    format!(
        "local paths = {{}}\nfor line in io.lines('{paths_file}') do paths[#paths + 1] = line end\n\
         request = function() return wrk.format('GET', paths[math.random(#paths)], {{['Accept'] = 'application/jose'}}) end\n{WRK_REPORT}"
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

/// The six name searches Datasette answers too (full-text, FTS5): a word, a
/// name, a surname, with a province, with a city, another word. The register
/// asks them with `status=any` (Datasette knows no status).
const PEER_SEARCHES: [(&str, &str); 6] = [
    ("q=drukkerij", "_search=drukkerij"),
    (
        "q=bouwbedrijf%20de%20vries",
        "_search=bouwbedrijf%20de%20vries",
    ),
    ("q=van%20den%20berg", "_search=van%20den%20berg"),
    (
        "q=hovenier&province=Utrecht",
        "_search=hovenier&province=Utrecht",
    ),
    ("q=transport&city=Zwolle", "_search=transport&city=Zwolle"),
    ("q=schoonmaak", "_search=schoonmaak"),
];

/// The most expensive reads one can ask for: searches that match nothing
/// (dates before any certificate, statuses no company has), few (a rare
/// standing on a day), or everything (pages of 500 full certificates), and
/// name queries of many short, common words.
const HEAVY: [&str; 10] = [
    "/v1/certificates?validOn=2000-01-01&status=superseded&limit=500",
    "/v1/companies?levelMin=aspirant&validOn=2000-01-01&limit=500",
    "/v1/companies?status=suspended&validOn=2025-01-01&limit=500",
    "/v1/certificates?q=bouw%20de%20van%20den%20berg&status=revoked&limit=500",
    "/v1/companies?q=de%20van%20den%20berg%20bakker%20jansen&status=any&limit=500",
    "/v1/companies?city=Zwolle&levelMin=trede_3&pso30plus=true&status=any&limit=500",
    "/v1/certificates?status=any&limit=500",
    "/v1/companies?status=any&limit=500",
    "/v1/certificates?sbi=41&status=expired&limit=500",
    "/v1/companies?q=a%20b%20c%20d%20e%20f&status=any&limit=500",
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
        Some("subscriptions") => {
            let backends: Vec<String> = arg(&args, "--backends")
                .unwrap_or_else(|| "sqlite,postgres".into())
                .split(',')
                .map(str::to_owned)
                .collect();
            let clients: usize = arg(&args, "--clients")
                .and_then(|v| v.parse().ok())
                .unwrap_or(16);
            let seconds: u64 = arg(&args, "--seconds")
                .and_then(|v| v.parse().ok())
                .unwrap_or(10);
            let count: usize = arg(&args, "--subscriptions")
                .and_then(|v| v.parse().ok())
                .unwrap_or(100);
            let bin_dir = arg(&args, "--bin-dir").unwrap_or_else(|| "target/release".into());
            let table = issuance_with_subscriptions(
                &format!("{bin_dir}/pso-registry"),
                &backends,
                clients,
                seconds,
                count,
            )
            .await;
            println!("{table}");
        }
        Some("run") => run(&args).await,
        _ => {
            eprintln!(
                "usage: pso-bench run [--smoke] [--scale 10k,100k] [--backends sqlite,postgres] [--bin-dir DIR] [--out FILE] [--database URL --companies N] [--no-peer] [--baseline-bin PATH]"
            );
            eprintln!(
                "       pso-bench issuance --backend sqlite|postgres [--clients N] [--seconds S] [--bin-dir DIR]"
            );
            std::process::exit(2);
        }
    }
}

/// A figure with what it is held to and whether it holds.
#[derive(Debug, Clone)]
struct Row {
    name: String,
    figure: Figure,
    /// The target in words and whether the figure meets it (`None`: no target).
    target: Option<(String, bool)>,
}

impl Row {
    fn plain(name: impl Into<String>, figure: Figure) -> Self {
        Row {
            name: name.into(),
            figure,
            target: None,
        }
    }

    fn held(name: impl Into<String>, figure: Figure, target: String, met: bool) -> Self {
        Row {
            name: name.into(),
            figure,
            target: Some((target, met)),
        }
    }
}

/// Datasette, serving a copy of the seeded SQLite file with FTS5 over the names
/// (the peer of the issue): a status lookup as a canned query, and the six
/// name searches, each from 64 connections and from one client.
struct Peer {
    status: Figure,
    searches: Vec<(Figure, Figure)>,
}

/// The Python environment Datasette runs in, made once under `target/`.
fn datasette_venv() -> Option<std::path::PathBuf> {
    let venv = std::path::PathBuf::from("target/bench-venv");
    let datasette = venv.join("bin/datasette");
    if datasette.exists() {
        return Some(venv);
    }
    eprintln!(
        "installing Datasette and sqlite-utils into {}",
        venv.display()
    );
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    let installed = made
        && Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "datasette==0.65.*", "sqlite-utils==4.*"])
            .status()
            .is_ok_and(|s| s.success());
    installed.then_some(venv)
}

async fn datasette(
    db_file: &std::path::Path,
    dir: &std::path::Path,
    connections: u32,
    seconds: u64,
    status_paths: &str,
) -> Option<Peer> {
    let venv = datasette_venv()?;
    let copy = dir.join("peer.db");
    std::fs::copy(db_file, &copy).ok()?;
    let fts = Command::new(venv.join("bin/sqlite-utils"))
        .arg("enable-fts")
        .arg(&copy)
        .args(["companies", "name", "--fts5"])
        .status()
        .ok()?;
    if !fts.success() {
        return None;
    }
    let metadata = dir.join("peer.json");
    std::fs::write(
        &metadata,
        json!({"databases": {"peer": {"queries": {"status": {"sql":
            "select c.number, c.history from coverage v join certificates c on c.id = v.certificate_id where v.kvk_number = :kvk"
        }}}}})
        .to_string(),
    )
    .ok()?;
    let port = free_port();
    let mut child = Command::new(venv.join("bin/datasette"))
        .arg("--immutable")
        .arg(&copy)
        .args(["-p", &port.to_string(), "-m"])
        .arg(&metadata)
        .args(["--setting", "num_sql_threads", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    wait_for_port(port).await;
    let base = format!("http://127.0.0.1:{port}");
    // What a table page computes besides its rows (a count, facets) is left
    // out: only the search is measured.
    let plain = "&_size=20&_nocount=1&_nofacet=1&_nosuggest=1";
    let status_lua = std::fs::read_to_string(status_paths)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split('/').nth(3))
        .map(|kvk| format!("/peer/status.json?kvk={kvk}"))
        .collect::<Vec<_>>()
        .join("\n");
    let peer_status = dir.join("peer-status.txt");
    std::fs::write(&peer_status, status_lua + "\n").ok()?;
    let status = wrk(
        &base,
        &lua_get(&peer_status.to_string_lossy()),
        dir,
        "peer-status",
        connections,
        seconds,
    );
    let mut searches = Vec::new();
    for (i, (_, peer)) in PEER_SEARCHES.iter().enumerate() {
        let path = dir.join(format!("peer-search-{i}.txt"));
        std::fs::write(&path, format!("/peer/companies.json?{peer}{plain}\n")).ok()?;
        let script = lua_get(&path.to_string_lossy());
        let many = wrk(
            &base,
            &script,
            dir,
            "peer-search",
            connections,
            seconds / 2 + 1,
        );
        let one = wrk(&base, &script, dir, "peer-search1", 1, seconds / 2 + 1);
        searches.push((many, one));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&copy);
    Some(Peer { status, searches })
}

/// Runs two wrk loads at once: `heavy` from 8 connections while 8 others ask
/// `light`; the light load's figure.
fn isolation(base: &str, heavy: &str, light: &str, dir: &std::path::Path, seconds: u64) -> Figure {
    let heavy_path = dir.join("heavy.lua");
    std::fs::write(&heavy_path, heavy).expect("write script");
    let mut background = Command::new("wrk")
        .args([
            "-t1",
            "-c8",
            &format!("-d{}s", seconds + 2),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(&heavy_path)
        .arg(base)
        .stdout(Stdio::null())
        .spawn()
        .expect("wrk");
    std::thread::sleep(Duration::from_millis(500));
    let figure = wrk(base, light, dir, "isolated", 8, seconds);
    let _ = background.wait();
    figure
}

/// The server's resident memory now and at its peak, in MB.
fn rss_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn verdict(met: bool) -> &'static str {
    if met { "**met**" } else { "**missed**" }
}

async fn run(args: &[String]) {
    let smoke = args.iter().any(|a| a == "--smoke");
    let with_peer = !smoke && !args.iter().any(|a| a == "--no-peer");
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
        "\n## {} — commit {} {}\n\nMachine: {}. wrk, 2 threads, {connections} connections, {seconds} s per load unless said; signed issuances from {clients} concurrent clients. \
         HTTP ceiling (a bare actix-web handler with a status-sized JSON body, same tool and connections): **{:.0} req/s**, p50 {:.2} ms, p99 {:.2} ms. \
         Peer: Datasette 0.65 on a copy of the seeded SQLite file with FTS5 over the names (`sqlite-utils enable-fts … --fts5`), `--immutable`, \
         each search as a table page without count or facets, the status lookup as a canned query; the PostgreSQL rows are held to the SQLite run's peer at the same scale (the seed is deterministic).\n",
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
    // Per scale: the peer (from the SQLite run), and per backend the p50s the
    // growth rows compare.
    let mut peers: std::collections::HashMap<u64, Peer> = std::collections::HashMap::new();
    let mut growth: Vec<(String, u64, f64, f64)> = Vec::new();
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
            let started = Instant::now();
            let server = start_server(&registry_bin, &url);
            wait_ready(&reqwest::Client::new(), &server.base).await;
            let startup = started.elapsed().as_secs_f64();
            let (loaded_rss, _) = rss_mb(server.child.id());

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
            let supplier_paths = write_lines(
                "supplier.txt",
                (0..20_000)
                    .map(|_| format!("/leverancier/{}", kvk_of(rng.random_range(0..companies))))
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
            let heavy_paths =
                write_lines("heavy.txt", HEAVY.iter().map(|p| (*p).to_owned()).collect());
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
            let load = |name: &str, script: String, connections: u32, secs: u64| {
                let f = wrk(&server.base, &script, &dir, name, connections, secs);
                eprintln!(
                    "{backend} {scale} {name}: {:.0} req/s, p50 {:.2} p95 {:.2} p99 {:.2} ms, {} errors",
                    f.rps, f.p50, f.p95, f.p99, f.errors
                );
                f
            };

            let mut rows: Vec<Row> = Vec::new();
            let status = load("status", lua_get(&status_paths), connections, seconds);
            let ratio = status.rps / ceiling_figure.rps;
            rows.push(Row::held(
                "status (90% existing, 10% unknown KvK)",
                status.clone(),
                "≥ 0.6× ceiling, p99 ≤ 5 ms".into(),
                ratio >= 0.6 && status.p99 <= 5.0,
            ));
            let signed = load(
                "status-signed",
                lua_get_signed(&status_paths),
                connections,
                seconds,
            );
            let signed_ratio = signed.rps / status.rps;
            rows.push(Row::held(
                format!("status, signed (application/jose; {signed_ratio:.2}× plain status)"),
                signed.clone(),
                "≥ 0.5× plain status".into(),
                signed_ratio >= 0.5,
            ));
            let batch1 = load(
                "batch1",
                lua_post("/v1/status/batch", &batch_bodies),
                1,
                seconds,
            );
            rows.push(Row::held(
                "batch of 1,000, one client",
                batch1.clone(),
                "p95 ≤ 5 ms".into(),
                batch1.p95 <= 5.0,
            ));
            rows.push(Row::plain(
                "batch of 1,000",
                load(
                    "batch",
                    lua_post("/v1/status/batch", &batch_bodies),
                    connections,
                    seconds,
                ),
            ));
            rows.push(Row::plain(
                "company detail",
                load("detail", lua_get(&detail_paths), connections, seconds),
            ));
            let supplier = load("supplier", lua_get(&supplier_paths), 1, seconds);
            rows.push(Row::held(
                "supplier page (the officer's HTML, with its certificates' history), one client",
                supplier.clone(),
                "p95 ≤ 10 ms (at 100k)".into(),
                supplier.p95 <= 10.0,
            ));
            rows.push(Row::plain(
                "search (12 queries, typos, filters)",
                load("search", lua_get(&search_paths), connections, seconds),
            ));
            let mix = load("search1", lua_get(&search_paths), 1, seconds);
            let (search_p95, search_p95_at) = if companies >= 1_000_000 {
                (5.0, "1M")
            } else {
                (2.0, "100k")
            };
            rows.push(Row::held(
                "search (12 queries), one client",
                mix.clone(),
                format!("p95 ≤ {search_p95} ms (at {search_p95_at})"),
                mix.p95 <= search_p95,
            ));

            // The peer's six searches, one by one, and its status lookup.
            if with_peer && backend == "sqlite" {
                let file = url.trim_start_matches("sqlite://");
                if let Some(peer) = datasette(
                    std::path::Path::new(file),
                    &dir,
                    connections,
                    seconds,
                    &status_paths,
                )
                .await
                {
                    peers.insert(companies, peer);
                }
            }
            let mut six: Vec<(Figure, Figure)> = Vec::new();
            for (i, (register, _)) in PEER_SEARCHES.iter().enumerate() {
                let path = write_lines(
                    &format!("six-{i}.txt"),
                    vec![format!("/v1/companies?{register}&status=any&limit=20")],
                );
                let many = load("six", lua_get(&path), connections, seconds / 2 + 1);
                let one = load("six1", lua_get(&path), 1, seconds / 2 + 1);
                six.push((many, one));
            }
            let range = |f: &dyn Fn(&(Figure, Figure)) -> f64| {
                let v: Vec<f64> = six.iter().map(f).collect();
                (
                    v.iter().copied().fold(f64::INFINITY, f64::min),
                    v.iter().copied().fold(0.0, f64::max),
                )
            };
            let worst = |pick: fn(&(Figure, Figure)) -> &Figure| -> Figure {
                let mut f = six
                    .iter()
                    .map(pick)
                    .min_by(|a, b| a.rps.total_cmp(&b.rps))
                    .cloned()
                    .unwrap_or(Figure {
                        rps: f64::NAN,
                        p50: f64::NAN,
                        p95: f64::NAN,
                        p99: f64::NAN,
                        errors: 0,
                    });
                f.p95 = six.iter().map(|s| pick(s).p95).fold(0.0, f64::max);
                f.p99 = six.iter().map(|s| pick(s).p99).fold(0.0, f64::max);
                f.errors = six.iter().map(|s| pick(s).errors).sum();
                f
            };
            let (many_lo, many_hi) = range(&|s| s.0.rps);
            let (one_lo, one_hi) = range(&|s| s.1.rps);
            match peers.get(&companies) {
                Some(peer) => {
                    let times = |pick: fn(&(Figure, Figure)) -> f64| -> f64 {
                        six.iter()
                            .zip(&peer.searches)
                            .map(|(r, p)| pick(r) / pick(p))
                            .fold(f64::INFINITY, f64::min)
                    };
                    let many_times = times(|s| s.0.rps);
                    let one_times = times(|s| s.1.rps);
                    let (p_many_lo, p_many_hi) = (
                        peer.searches
                            .iter()
                            .map(|s| s.0.rps)
                            .fold(f64::INFINITY, f64::min),
                        peer.searches.iter().map(|s| s.0.rps).fold(0.0, f64::max),
                    );
                    let (p_one_lo, p_one_hi) = (
                        peer.searches
                            .iter()
                            .map(|s| s.1.rps)
                            .fold(f64::INFINITY, f64::min),
                        peer.searches.iter().map(|s| s.1.rps).fold(0.0, f64::max),
                    );
                    rows.push(Row::held(
                        format!(
                            "search, the peer's six, {connections} connections ({many_lo:.0}–{many_hi:.0} req/s; Datasette {p_many_lo:.0}–{p_many_hi:.0}; least {many_times:.1}×)"
                        ),
                        worst(|s| &s.0),
                        "≥ 10× Datasette, each".into(),
                        many_times >= 10.0,
                    ));
                    let p95_ok = six.iter().all(|s| s.1.p95 <= search_p95);
                    rows.push(Row::held(
                        format!(
                            "search, the peer's six, one client ({one_lo:.0}–{one_hi:.0} req/s; Datasette {p_one_lo:.0}–{p_one_hi:.0}; least {one_times:.1}×)"
                        ),
                        worst(|s| &s.1),
                        format!("≥ 5× Datasette, each; p95 ≤ {search_p95} ms"),
                        one_times >= 5.0 && p95_ok,
                    ));
                    rows.push(Row::plain(
                        "Datasette: status lookup (canned query)",
                        peer.status.clone(),
                    ));
                    for (i, (_, q)) in PEER_SEARCHES.iter().enumerate() {
                        rows.push(Row::plain(
                            format!("Datasette: `{q}`, one client"),
                            peer.searches[i].1.clone(),
                        ));
                    }
                }
                None => {
                    rows.push(Row::plain(
                        format!("search, the peer's six, {connections} connections ({many_lo:.0}–{many_hi:.0} req/s; no peer)"),
                        worst(|s| &s.0),
                    ));
                    rows.push(Row::plain(
                        format!("search, the peer's six, one client ({one_lo:.0}–{one_hi:.0} req/s; no peer)"),
                        worst(|s| &s.1),
                    ));
                }
            }
            growth.push((backend.clone(), companies, status.p50, mix.p50));

            let heavy = load("heavy", lua_get(&heavy_paths), 8, seconds);
            rows.push(Row::plain(
                "heavy reads alone (10 most expensive, 8 connections)",
                heavy,
            ));
            let isolated = isolation(
                &server.base,
                &lua_get(&heavy_paths),
                &lua_get(&status_paths),
                &dir,
                seconds,
            );
            eprintln!(
                "{backend} {scale} isolation: status p99 {:.2} ms while 8 connections loop heavy reads",
                isolated.p99
            );
            rows.push(Row::held(
                "status, 8 connections, while 8 others loop the heavy reads",
                isolated.clone(),
                "p99 ≤ 10 ms".into(),
                isolated.p99 <= 10.0,
            ));
            rows.push(Row::plain(
                "feed page of 100",
                load("feed", lua_get(&feed_paths), connections, seconds),
            ));
            let issued = issuances(
                &server,
                clients,
                seconds,
                &format!("{backend}{scale}"),
                companies,
            )
            .await;
            rows.push(if backend == "postgres" {
                Row::held(
                    format!("signed issuance, {clients} clients"),
                    issued.clone(),
                    "≥ 1,000/s".into(),
                    issued.rps >= 1000.0,
                )
            } else {
                Row::plain(format!("signed issuance, {clients} clients"), issued)
            });
            let (rss, peak) = rss_mb(server.child.id());
            drop(server);

            let _ = writeln!(
                report,
                "### {backend}, {companies} companies ({seeded}; ready in {startup:.1} s; RSS {loaded_rss:.0} MB loaded, {rss:.0} MB after the loads, peak {peak:.0} MB)\n\n\
                 | load | req/s | × ceiling | p50 ms | p95 ms | p99 ms | errors | target | verdict |\n|---|---:|---:|---:|---:|---:|---:|---|---|"
            );
            for row in &rows {
                let f = &row.figure;
                let (target, met) = match &row.target {
                    Some((t, met)) => (t.as_str(), verdict(*met)),
                    None => ("", ""),
                };
                let _ = writeln!(
                    report,
                    "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {target} | {met} |",
                    row.name,
                    f.rps,
                    f.rps / ceiling_figure.rps,
                    f.p50,
                    f.p95,
                    f.p99,
                    f.errors
                );
            }
            let _ = writeln!(
                report,
                "\nStart-up with {companies} companies: ready in {startup:.1} s (target at 1M: ≤ 30 s). Memory: {loaded_rss:.0} MB resident once loaded (target at 1M: ≤ 400 MB).\n"
            );
        }
    }
    // Growth: the largest scale against the smallest, per backend.
    for backend in &backends {
        let of: Vec<&(String, u64, f64, f64)> = growth.iter().filter(|g| &g.0 == backend).collect();
        if let (Some(small), Some(large)) =
            (of.iter().min_by_key(|g| g.1), of.iter().max_by_key(|g| g.1))
            && small.1 != large.1
        {
            let status = large.2 / small.2;
            let search = large.3 / small.3;
            let _ = writeln!(
                report,
                "Growth, {backend}: p50 at {} against {} companies — status {:.2} ms / {:.2} ms = {status:.2}×, search (one client) {:.2} ms / {:.2} ms = {search:.2}× (target ≤ 1.5×, at 1M against 10k): {}.\n",
                large.1,
                small.1,
                large.2,
                small.2,
                large.3,
                small.3,
                verdict(status <= 1.5 && search <= 1.5)
            );
        }
    }
    if !smoke {
        let _ = writeln!(
            report,
            "{}",
            issuance_with_subscriptions(&registry_bin, &backends, clients, seconds, 100).await
        );
    }
    if let Some(baseline) = arg(args, "--baseline-bin") {
        let _ = writeln!(
            report,
            "{}",
            issuance_against_baseline(&registry_bin, &baseline, &backends, clients, seconds).await
        );
    }
    let mut existing = std::fs::read_to_string(&out).unwrap_or_else(|_| {
        "# Benchmarks\n\n`make bench` appends a section per run (`make bench-smoke` writes to a scratch file).\n"
            .to_owned()
    });
    existing.push_str(&report);
    std::fs::write(&out, existing).expect("write report");
    println!("{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Signed issuances on this build against `baseline` (the register before the
/// transparency log), each on a fresh database per backend, taken in turns
/// (this, baseline, this, baseline) so that a drift of the machine falls on both.
async fn issuance_against_baseline(
    registry_bin: &str,
    baseline: &str,
    backends: &[String],
    clients: usize,
    seconds: u64,
) -> String {
    let mut out = format!(
        "### Signed issuance with the transparency log against the register without it\n\n\
         Baseline: `{baseline}`, a build of the register before the log. Each figure is the mean of two {seconds} s runs of {clients} clients on a fresh database, taken in turns with the baseline's.\n\n\
         | backend | with the log /s | p95 ms | without /s | p95 ms | ratio | target | verdict |\n|---|---:|---:|---:|---:|---:|---|---|\n"
    );
    for backend in backends {
        let mut with = Vec::new();
        let mut without = Vec::new();
        for round in 0..2 {
            for (binary, into) in [(registry_bin, &mut with), (baseline, &mut without)] {
                let db = fresh_database(backend);
                let server = start_server(binary, &db.url);
                wait_ready(&reqwest::Client::new(), &server.base).await;
                let f = issuances(&server, clients, seconds, &format!("baseline{round}"), 0).await;
                eprintln!(
                    "{backend} issuance ({binary}): {:.0}/s, p95 {:.2} ms, {} errors",
                    f.rps, f.p95, f.errors
                );
                into.push(f);
            }
        }
        let mean =
            |v: &[Figure], f: fn(&Figure) -> f64| v.iter().map(f).sum::<f64>() / v.len() as f64;
        let (a, b) = (mean(&with, |f| f.rps), mean(&without, |f| f.rps));
        let ratio = a / b;
        let _ = writeln!(
            out,
            "| {backend} | {a:.0} | {:.2} | {b:.0} | {:.2} | {:.0} % | ≥ 90 % | {} |",
            mean(&with, |f| f.p95),
            mean(&without, |f| f.p95),
            ratio * 100.0,
            verdict(ratio >= 0.9)
        );
    }
    out
}

/// A webhook receiver in this process: answers every delivery `204` at
/// once and counts them (the tests verify the signatures; this measures).
async fn start_receiver() -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    let server = actix_web::HttpServer::new(move || {
        let counted = counted.clone();
        actix_web::App::new().default_service(actix_web::web::to(move || {
            counted.fetch_add(1, Ordering::Relaxed);
            async { actix_web::HttpResponse::NoContent().finish() }
        }))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .expect("the receiver binds");
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}/hooks"), count)
}

/// The log's size: the events written so far.
async fn log_size(base: &str) -> u64 {
    reqwest::get(format!("{base}/v1/log/checkpoint"))
        .await
        .expect("checkpoint")
        .text()
        .await
        .expect("checkpoint text")
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
}

/// Signed issuance with `subscriptions` subscriptions watching every change
/// (delivered to a receiver in this process) against none, each on a fresh
/// database, taken in turns; and how soon the deliveries caught up.
async fn issuance_with_subscriptions(
    registry_bin: &str,
    backends: &[String],
    clients: usize,
    seconds: u64,
    subscriptions: usize,
) -> String {
    let (receiver, received) = start_receiver().await;
    let mut out = format!(
        "### Signed issuance with {subscriptions} subscriptions watching every change\n\n\
         Each figure is the mean of two {seconds} s runs of {clients} clients on a fresh database, taken in turns with the same build without subscriptions. \
         The subscriptions deliver to a receiver in the benchmark's process that answers `204` at once. \
         Delivered: messages received during the issuance; caught up: seconds after it until every message had arrived (at most 120 s).\n\n\
         | backend | with subscriptions /s | p95 ms | without /s | p95 ms | ratio | delivered during | caught up after | target | verdict |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---|---|\n"
    );
    for backend in backends {
        let mut with = Vec::new();
        let mut without = Vec::new();
        let mut delivered = Vec::new();
        let mut caught_up = Vec::new();
        for round in 0..2 {
            for subscribed in [true, false] {
                let db = fresh_database(backend);
                let server = start_server(registry_bin, &db.url);
                let http = reqwest::Client::new();
                wait_ready(&http, &server.base).await;
                if subscribed {
                    let client: Value = http
                        .post(format!("{}/v1/admin/clients", server.base))
                        .bearer_auth(&server.admin_token)
                        .json(&json!({"name": "Bench platform"}))
                        .send()
                        .await
                        .expect("client")
                        .json()
                        .await
                        .expect("client json");
                    let key = client["key"].as_str().expect("key").to_owned();
                    for _ in 0..subscriptions {
                        let response = http
                            .post(format!("{}/v1/subscriptions", server.base))
                            .bearer_auth(&key)
                            .json(&json!({"url": receiver, "everything": true}))
                            .send()
                            .await
                            .expect("subscribe");
                        assert_eq!(response.status(), 201, "subscribe");
                    }
                }
                let before_log = log_size(&server.base).await;
                let before = received.load(std::sync::atomic::Ordering::Relaxed);
                let f = issuances(
                    &server,
                    clients,
                    seconds,
                    &format!("subs{round}{subscribed}"),
                    0,
                )
                .await;
                eprintln!(
                    "{backend} issuance, {} subscriptions: {:.0}/s, p95 {:.2} ms, {} errors",
                    if subscribed { subscriptions } else { 0 },
                    f.rps,
                    f.p95,
                    f.errors
                );
                if subscribed {
                    let ended = Instant::now();
                    let during = received.load(std::sync::atomic::Ordering::Relaxed) - before;
                    // Every event after the subscriptions, to each of them (the
                    // accreditation of the run's CB included).
                    let expected =
                        (log_size(&server.base).await - before_log) * subscriptions as u64;
                    while received.load(std::sync::atomic::Ordering::Relaxed) - before < expected
                        && ended.elapsed() < Duration::from_secs(120)
                    {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    delivered.push(during as f64);
                    caught_up.push(ended.elapsed().as_secs_f64());
                    with.push(f);
                } else {
                    without.push(f);
                }
            }
        }
        let mean =
            |v: &[Figure], f: fn(&Figure) -> f64| v.iter().map(f).sum::<f64>() / v.len() as f64;
        let (a, b) = (mean(&with, |f| f.rps), mean(&without, |f| f.rps));
        let ratio = a / b;
        let _ = writeln!(
            out,
            "| {backend} | {a:.0} | {:.2} | {b:.0} | {:.2} | {:.0} % | {:.0} | {:.1} s | ≥ 90 % | {} |",
            mean(&with, |f| f.p95),
            mean(&without, |f| f.p95),
            ratio * 100.0,
            delivered.iter().sum::<f64>() / delivered.len() as f64,
            caught_up.iter().sum::<f64>() / caught_up.len() as f64,
            verdict(ratio >= 0.9)
        );
    }
    out
}

async fn wait_for_port(port: u16) {
    for _ in 0..200 {
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
