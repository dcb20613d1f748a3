//! A platform's webhook receiver for the tests: `tests/webhooks/receiver.py`,
//! which verifies every message with the Standard Webhooks reference library
//! (`standardwebhooks` from PyPI, in a venv under `target/webhook-tools`,
//! made once per test process). Without Python the tests that need it are
//! skipped with a loud line, unless `PSO_REQUIRE_RECEIVER=1` (CI) makes that
//! a failure.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// The venv's python, made once per process; `None` (or a panic, where
/// required) when it cannot be made.
pub fn python() -> Option<PathBuf> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let made = PYTHON.get_or_init(|| {
        let dir = root().join("target/webhook-tools");
        let venv = dir.join("venv");
        let python = venv.join("bin/python");
        let wanted = std::fs::read_to_string(root().join("tests/webhooks/requirements.txt"))
            .map_err(|e| e.to_string())?;
        let stamp = venv.join("requirements.txt");
        if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&wanted) {
            return Ok(python);
        }
        let _ = std::fs::remove_dir_all(&venv);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let run = |cmd: &mut Command| -> Result<(), String> {
            let out = cmd.output().map_err(|e| e.to_string())?;
            if out.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).into_owned())
            }
        };
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check", "-r"])
            .arg(root().join("tests/webhooks/requirements.txt")))?;
        std::fs::write(&stamp, wanted).map_err(|e| e.to_string())?;
        Ok(python)
    });
    match made {
        Ok(p) => Some(p.clone()),
        Err(e) if std::env::var("PSO_REQUIRE_RECEIVER").as_deref() == Ok("1") => {
            panic!("the webhook receiver's venv cannot be made: {e}")
        }
        Err(e) => {
            eprintln!(
                "SKIPPED: the webhook receiver's venv cannot be made ({e}); \
                 PSO_REQUIRE_RECEIVER=1 makes this a failure"
            );
            None
        }
    }
}

/// One message as the receiver recorded it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Received {
    pub verified: bool,
    pub id: Option<String>,
    pub r#type: Option<String>,
    pub seq: Option<i64>,
    pub kvk_numbers: Option<Vec<String>>,
    pub certificate_number: Option<String>,
    /// SHA-256 of the body, hex.
    pub sha: Option<String>,
}

/// A running receiver (stopped when dropped).
#[derive(Debug)]
pub struct Receiver {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    status: u16,
}

impl Receiver {
    /// A receiver on a free port answering verified messages with `status`.
    pub fn start(status: u16) -> Option<Receiver> {
        let dir = std::env::temp_dir().join(format!(
            "pso-receiver-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).expect("receiver dir");
        let mut r = Receiver {
            child: None,
            port: 0,
            dir,
            status,
        };
        r.port = r.spawn(0)?;
        Some(r)
    }

    /// A receiver's place (port, records) with nothing listening yet: a
    /// receiver that is down.
    pub fn down() -> Receiver {
        let dir = std::env::temp_dir().join(format!(
            "pso-receiver-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).expect("receiver dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Receiver {
            child: None,
            port,
            dir,
            status: 204,
        }
    }

    fn spawn(&mut self, port: u16) -> Option<u16> {
        let python = python()?;
        let mut child = Command::new(python)
            .arg(root().join("tests/webhooks/receiver.py"))
            .args(["--port", &port.to_string()])
            .arg("--secret-file")
            .arg(self.dir.join("secret"))
            .arg("--out")
            .arg(self.dir.join("received.jsonl"))
            .args(["--status", &self.status.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the receiver starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the receiver says where it listens");
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the receiver said {line:?}"));
        self.child = Some(child);
        Some(port)
    }

    /// Starts it (again) on its port.
    pub fn up(&mut self) {
        self.stop();
        let port = self.port;
        self.spawn(port).expect("the receiver starts again");
    }

    /// Stops it: connections are refused until it is up again.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/pso", self.port)
    }

    /// The secrets it verifies with.
    pub fn trust(&self, secrets: &[&str]) {
        std::fs::write(self.dir.join("secret"), secrets.join("\n")).expect("secret file");
    }

    /// What it has recorded.
    pub fn received(&self) -> Vec<Received> {
        std::fs::read_to_string(self.dir.join("received.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("a record"))
            .collect()
    }

    /// Waits up to `secs` for `done` to hold of what it received.
    pub async fn wait_for(&self, secs: u64, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let got = self.received();
            if done(&got) || std::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
