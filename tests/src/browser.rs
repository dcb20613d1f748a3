//! A real browser for the page tests: Debian's Chromium, headless, driven over
//! the DevTools protocol (JSON commands and events over one WebSocket, sent
//! untyped, so that a newer Chromium's protocol does not break the harness).
//! Every request the page makes, every console message and every uncaught
//! exception is recorded, so that a test can hold a page to "nothing but the
//! server" and "no console errors".

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Where Chromium is: `CHROMIUM`, else Debian's.
pub fn chromium_path() -> Option<PathBuf> {
    let candidates = [
        std::env::var("CHROMIUM").ok().map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/chromium")),
        Some(PathBuf::from("/usr/bin/chromium-browser")),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

/// What a page did besides being shown.
#[derive(Debug, Default, Clone)]
pub struct Observed {
    /// Every URL the page asked for.
    pub requests: Vec<String>,
    /// Console messages of level error or warning, and uncaught exceptions.
    pub errors: Vec<String>,
}

/// One headless Chromium with one tab.
#[derive(Debug)]
pub struct Browser {
    child: Child,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    /// Events read while waiting for an answer, not yet looked at.
    pending: Vec<Value>,
    observed: Observed,
    _profile: TempDir,
}

/// A directory removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts Chromium headless (window 1280×900, Dutch) and opens a tab.
    pub async fn launch(chromium: &Path) -> Browser {
        let profile = std::env::temp_dir().join(format!(
            "pso-chromium-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&profile).expect("profile dir");
        let mut child = Command::new(chromium)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--metrics-recording-only",
                "--hide-scrollbars",
                "--window-size=1280,900",
                // A Dutch officer's browser.
                "--lang=nl-NL",
                "--accept-lang=nl-NL,nl",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display()));
        let stderr = child.stderr.take().expect("stderr");
        // Chromium says where its DevTools listen on stderr.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(at) = line.find("ws://") {
                    let _ = tx.send(line[at..].trim().to_owned());
                    sent = true;
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("Chromium did not say where its DevTools listen");
        let (ws, _) = tokio_tungstenite::connect_async(&url)
            .await
            .expect("connect to DevTools");
        let mut browser = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            pending: Vec::new(),
            observed: Observed::default(),
            _profile: TempDir(profile),
        };
        let target = browser
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let target_id = target["targetId"].as_str().expect("targetId").to_owned();
        let attached = browser
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
            )
            .await;
        browser.session = attached["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_owned();
        for domain in [
            "Page.enable",
            "Runtime.enable",
            "Network.enable",
            "Log.enable",
        ] {
            browser.send(domain, json!({})).await;
        }
        browser
    }

    /// Sends a command to the tab and waits for its answer.
    pub async fn send(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(Some(&session), method, params).await
    }

    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        self.ws
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send to DevTools");
        loop {
            let value = self.next_message(Duration::from_secs(60)).await;
            if value["id"].as_u64() == Some(id) {
                if let Some(error) = value.get("error") {
                    panic!("{method}: {error}");
                }
                return value["result"].clone();
            }
            self.observe(&value);
            self.pending.push(value);
        }
    }

    async fn next_message(&mut self, timeout: Duration) -> Value {
        loop {
            let message = tokio::time::timeout(timeout, self.ws.next())
                .await
                .expect("DevTools answer in time")
                .expect("DevTools connection open")
                .expect("DevTools message");
            if let Message::Text(text) = message {
                return serde_json::from_str(&text).expect("DevTools JSON");
            }
        }
    }

    /// Records requests, console errors and exceptions from an event.
    fn observe(&mut self, event: &Value) {
        let params = &event["params"];
        match event["method"].as_str() {
            Some("Network.requestWillBeSent") => {
                if let Some(url) = params["request"]["url"].as_str() {
                    self.observed.requests.push(url.to_owned());
                }
            }
            Some("Runtime.consoleAPICalled") => {
                let level = params["type"].as_str().unwrap_or_default();
                if level == "error" || level == "warning" || level == "assert" {
                    self.observed
                        .errors
                        .push(format!("console.{level}: {}", params["args"]));
                }
            }
            Some("Runtime.exceptionThrown") => self
                .observed
                .errors
                .push(format!("exception: {}", params["exceptionDetails"])),
            Some("Log.entryAdded") => {
                let entry = &params["entry"];
                if entry["level"].as_str() == Some("error") {
                    self.observed.errors.push(format!(
                        "{}: {} ({})",
                        entry["source"].as_str().unwrap_or_default(),
                        entry["text"].as_str().unwrap_or_default(),
                        entry["url"].as_str().unwrap_or_default()
                    ));
                }
            }
            _ => {}
        }
    }

    /// Waits for an event of `method` (one already read counts).
    pub async fn wait_for(&mut self, method: &str) -> Value {
        if let Some(at) = self.pending.iter().position(|e| e["method"] == method) {
            return self.pending.remove(at);
        }
        loop {
            let value = self.next_message(Duration::from_secs(30)).await;
            self.observe(&value);
            if value["method"] == method {
                return value;
            }
        }
    }

    /// Opens `url` and waits until it has loaded.
    pub async fn goto(&mut self, url: &str) {
        self.pending.clear();
        let answer = self.send("Page.navigate", json!({"url": url})).await;
        assert!(
            answer.get("errorText").is_none(),
            "navigating to {url}: {answer}"
        );
        self.wait_for("Page.loadEventFired").await;
    }

    /// Does something that makes the page load another (a click, Enter), and
    /// waits until that one has loaded.
    pub async fn and_wait_for_load(&mut self) {
        self.wait_for("Page.loadEventFired").await;
    }

    /// Evaluates `expression` in the page (promises awaited), its value as JSON.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let answer = self
            .send(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        if let Some(e) = answer.get("exceptionDetails") {
            panic!("evaluating {expression:.80}: {e}");
        }
        answer["result"]["value"].clone()
    }

    /// Presses a key (`Tab`, `Enter`, `Space`, …) as a keyboard would.
    pub async fn press(&mut self, key: &str) {
        let (code, key_code, text) = match key {
            "Tab" => ("Tab", 9, ""),
            "Enter" => ("Enter", 13, "\r"),
            " " => ("Space", 32, " "),
            other => panic!("no key {other} in the harness"),
        };
        let mut down = json!({"type": "keyDown", "key": key, "code": code,
                              "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code});
        if !text.is_empty() {
            down["text"] = json!(text);
        }
        self.send("Input.dispatchKeyEvent", down).await;
        self.send(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": key, "code": code,
                   "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code}),
        )
        .await;
    }

    /// Types `text` into whatever has the focus.
    pub async fn type_text(&mut self, text: &str) {
        self.send("Input.insertText", json!({"text": text})).await;
    }

    /// The page, all of it, as a PNG file.
    pub async fn screenshot(&mut self, path: &Path) {
        let shot = self
            .send(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true}),
            )
            .await;
        let png = STANDARD
            .decode(shot["data"].as_str().expect("data"))
            .expect("base64");
        std::fs::write(path, png).expect("write screenshot");
    }

    /// The page printed on A4 as the print stylesheet lays it out: the PDF.
    pub async fn print_pdf(&mut self) -> Vec<u8> {
        let pdf = self
            .send(
                "Page.printToPDF",
                json!({"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": true,
                       "preferCSSPageSize": true}),
            )
            .await;
        STANDARD
            .decode(pdf["data"].as_str().expect("data"))
            .expect("base64")
    }

    /// What the page did so far, and forget it.
    pub fn take_observed(&mut self) -> Observed {
        std::mem::take(&mut self.observed)
    }
}

/// The pages of a PDF (its `/Type /Page` objects).
pub fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    let mut count = 0;
    let mut rest: &str = &text;
    while let Some(at) = rest.find("/Type") {
        rest = &rest[at + 5..];
        let trimmed = rest.trim_start();
        if trimmed.starts_with("/Page") && !trimmed.starts_with("/Pages") {
            count += 1;
        }
    }
    count
}

/// axe-core, installed from the npm registry under `target/browser-tools` by
/// the test set-up (pinned; nothing of it is in the repository), once per
/// test process: the walks on both backends run at once and must not install
/// it over each other.
pub fn axe_source() -> String {
    static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    AXE.get_or_init(install_axe).clone()
}

fn install_axe() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let tools = root.join("target/browser-tools");
    let script = tools.join("node_modules/axe-core/axe.min.js");
    if !script.exists() {
        std::fs::create_dir_all(&tools).expect("tools dir");
        std::fs::copy(
            root.join("tests/browser/package.json"),
            tools.join("package.json"),
        )
        .expect("package.json");
        let status = Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund"])
            .current_dir(&tools)
            .status()
            .expect("npm (Node.js) is needed for axe-core");
        assert!(status.success(), "npm install axe-core");
    }
    std::fs::read_to_string(script).expect("axe.min.js")
}

/// The WCAG 2.1 A and AA violations axe-core finds on the page shown.
pub async fn axe_violations(browser: &mut Browser, axe: &str) -> Vec<Value> {
    browser.eval(axe).await;
    let found = browser
        .eval(
            "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})\
             .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, \
             nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))",
        )
        .await;
    found.as_array().cloned().unwrap_or_default()
}

/// Hosts of the URLs a page asked for, counted.
pub fn hosts(requests: &[String]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for r in requests {
        let host = url_host(r);
        *out.entry(host).or_insert(0) += 1;
    }
    out
}

fn url_host(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!(
            "{scheme}://{}",
            rest.split(['/', '?', '#']).next().unwrap_or_default()
        ),
        None => url.to_owned(),
    }
}
