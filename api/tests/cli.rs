//! The `pso-registry` binary as an operator meets it: clear one-line errors and a
//! non-zero exit on bad start-up conditions, and a clean stop on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pso-registry");

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pso_cli_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn serve_with(vars: &[(&str, &str)]) -> (Output, Duration) {
    let started = Instant::now();
    let output = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .envs(vars.iter().copied())
        .env("BIND", "127.0.0.1:0")
        .output()
        .expect("run pso-registry");
    (output, started.elapsed())
}

fn assert_fails_with(output: &Output, needle: &str) {
    assert!(!output.status.success(), "should fail: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("pso-registry: "))
        .unwrap_or_else(|| panic!("no error line in {stderr}"));
    assert!(line.contains(needle), "{line}");
}

#[test]
fn a_malformed_database_url_fails_with_one_line() {
    let (output, _) = serve_with(&[("DATABASE_URL", "mysql://localhost/pso")]);
    assert_fails_with(&output, "DATABASE_URL must start with sqlite:// ");
}

#[test]
fn an_unreachable_postgres_fails_fast_and_clearly() {
    let dir = temp_dir("unreachable");
    let key = dir.join("key.pem");
    let made = Command::new(BIN)
        .args(["signing-key", "--out"])
        .arg(&key)
        .output()
        .expect("run");
    assert!(made.status.success(), "{made:?}");
    let key = key.display().to_string();
    let (output, took) = serve_with(&[
        ("DATABASE_URL", "postgres://postgres:secret@127.0.0.1:1/pso"),
        ("REGISTRY_SIGNING_KEY_FILE", &key),
    ]);
    assert_fails_with(
        &output,
        "cannot connect to postgres://postgres:***@127.0.0.1:1/pso",
    );
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("secret"),
        "password leaked"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_file_that_is_not_a_database_fails_to_migrate() {
    let dir = temp_dir("garbage");
    let file = dir.join("registry.db");
    std::fs::write(&file, vec![b'x'; 4096]).expect("write garbage");
    let (output, _) = serve_with(&[("DATABASE_URL", &format!("sqlite://{}", file.display()))]);
    assert_fails_with(&output, "registry.db");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_short_admin_token_is_refused() {
    let (output, _) = serve_with(&[("REGISTRY_ADMIN_TOKEN", "letmein")]);
    assert_fails_with(
        &output,
        "REGISTRY_ADMIN_TOKEN must be at least 32 characters",
    );
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("letmein"),
        "token leaked"
    );
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[test]
fn serves_on_a_fresh_sqlite_default_and_stops_cleanly_on_sigterm() {
    let dir = temp_dir("serve");
    let port = free_port();
    let mut child = Command::new(BIN)
        .current_dir(&dir)
        .env_clear()
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pso-registry");
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = loop {
        if let Some(r) = get(port, "/readyz") {
            break r;
        }
        assert!(Instant::now() < deadline, "server did not come up");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let companies = get(port, "/v1/companies").expect("companies");
    assert!(
        companies.starts_with("HTTP/1.1 200") && companies.contains("\"items\":[]"),
        "{companies}"
    );
    assert!(
        dir.join("data/registry.db").exists(),
        "the default database is under ./data/"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "exit status {exit:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn postgres_without_a_signing_key_fails_before_touching_the_database() {
    let (output, took) = serve_with(&[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/pso")]);
    assert_fails_with(
        &output,
        "REGISTRY_SIGNING_KEY_FILE is required on PostgreSQL",
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn a_signing_key_is_made_private_and_never_overwritten() {
    let dir = temp_dir("signing_key");
    let path = dir.join("key.pem");
    let made = Command::new(BIN)
        .args(["signing-key", "--out"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(made.status.success(), "{made:?}");
    let kid = String::from_utf8_lossy(&made.stdout).trim().to_owned();
    assert_eq!(kid.len(), 43, "a thumbprint: {kid}");
    let before = std::fs::read(&path).expect("key");
    let again = Command::new(BIN)
        .args(["signing-key", "--out"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(!again.status.success());
    assert_eq!(
        std::fs::read(&path).expect("key"),
        before,
        "not overwritten"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
