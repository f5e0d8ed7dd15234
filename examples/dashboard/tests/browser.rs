//! The page in real headless Chromium, driven through ChromeDriver's W3C
//! WebDriver HTTP API: it loads, shows the services, and shows a worker
//! going critical without a reload; then it shows Consul unreachable with
//! the age of the data. It saves a screenshot of the page on the way.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages
//! `chromium` and `chromium-driver`; `CHROME_BIN` and `CHROMEDRIVER`
//! override the paths). The screenshot goes to
//! `$CARGO_TARGET_TMPDIR/dashboard.png`, and also to `$DASHBOARD_SCREENSHOT`
//! when set (relative to the workspace root), e.g.
//! `DASHBOARD_SCREENSHOT=docs/dashboard.png cargo test -p dashboard --test browser`.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::Harness;
use reqwest::Method;
use serde_json::{json, Value};

/// Chromium and ChromeDriver, killed on drop whatever happens.
struct Browser {
    http: reqwest::Client,
    port: u16,
    session: Option<String>,
    child: Child,
    log: PathBuf,
    // Last: the profile directory goes after Chromium does.
    dir: tempfile::TempDir,
}

fn binary(var: &str, default: &str, package: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        path.is_file(),
        "{} not found: run .ci/test, which installs what the tests need \
         (or apt-get install -y chromium chromium-driver: Debian's `{package}`), or set {var}",
        path.display()
    );
    path
}

use testkit::free_port;

impl Browser {
    async fn start() -> Browser {
        let driver = binary("CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver");
        let chrome = binary("CHROME_BIN", "/usr/bin/chromium", "chromium");
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("chromedriver.log");
        let out = std::fs::File::create(&log).unwrap();
        let port = free_port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", driver.display()));
        let mut b = Browser {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            port,
            session: None,
            child,
            log,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = b.child.try_wait().unwrap() {
                panic!("chromedriver exited with {status}: {}", b.log_text());
            }
            let ready = b
                .http
                .get(b.url("/status"))
                .send()
                .await
                .ok()
                .map(|r| r.json::<Value>());
            if let Some(r) = ready {
                if r.await.is_ok_and(|v| v["value"]["ready"] == true) {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready within 20 s: {}",
                b.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = b.dir.path().join("profile");
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": chrome,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--window-size=1280,900", "--hide-scrollbars",
                format!("--user-data-dir={}", profile.display()),
            ],
        }}}});
        let v = b.command(Method::POST, "/session", Some(caps)).await;
        let id = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session ID in {v}"));
        b.session = Some(id.to_string());
        b
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A WebDriver command; its `value`, or a panic with the error.
    async fn command(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method.clone(), self.url(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status();
        let v: Value = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {status}, not JSON: {e}"));
        if !status.is_success() {
            panic!(
                "{method} {path}: {status}: {} {}",
                v["value"]["error"], v["value"]["message"]
            );
        }
        v["value"].clone()
    }

    async fn in_session(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let id = self.session.as_deref().unwrap();
        self.command(method, &format!("/session/{id}{path}"), body)
            .await
    }

    async fn goto(&self, url: &str) {
        self.in_session(Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Runs `script` (a function body) in the page.
    async fn js(&self, script: &str) -> Value {
        self.in_session(
            Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Polls the page's state until `pred` holds.
    async fn until(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.js(PAGE_STATE).await;
            if pred(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "the page did not show {what} within 20 s; it shows {v:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&self) -> Vec<u8> {
        let b64 = self.in_session(Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
        assert!(png.len() > 10_000, "a real picture: {} bytes", png.len());
        png
    }

    async fn quit(mut self) {
        if let Some(id) = self.session.take() {
            self.command(Method::DELETE, &format!("/session/{id}"), None)
                .await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // After a failure: close Chromium through the driver (blocking, bounded)...
        if let Some(id) = self.session.take() {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
            if let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
                let _ = write!(
                    s,
                    "DELETE /session/{id} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
                );
                // The answer comes once Chromium is closed; the body does not matter.
                let mut answer = Vec::new();
                let mut chunk = [0u8; 1024];
                while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => answer.extend_from_slice(&chunk[..n]),
                    }
                }
            }
        }
        // ...then stop the driver.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the test reads from the page.
const PAGE_STATE: &str = r#"
const q = (s) => document.querySelector(s);
const banner = q('#banner');
return {
  loaded: window.__loaded === true,
  marker: window.__testMarker || null,
  navigations: performance.getEntriesByType('navigation').length,
  snapshots: window.__snapshots || 0,
  conn: q('#conn') ? q('#conn').dataset.state : null,
  services: Object.fromEntries([...document.querySelectorAll('[data-service]')]
    .map((e) => [e.dataset.service, e.dataset.status])),
  instances: Object.fromEntries([...document.querySelectorAll('[data-instance]')]
    .map((e) => [e.dataset.instance, e.dataset.status])),
  critical: Number((q('.stat[data-kind="critical"]') || {dataset: {}}).dataset.count),
  samples: Number((q('[data-service="worker"] svg') || {dataset: {}}).dataset.samples),
  banner: banner && banner.classList.contains('shown') ? banner.textContent : null,
  age: banner ? banner.dataset.age : null,
};
"#;

fn shows(v: &Value, id: &str, status: &str) -> bool {
    v["instances"][id] == status
}

fn save(png: &[u8], name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, png).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_follows_consul_live_in_chromium() {
    let started = Instant::now();
    let mut h = Harness::start(120).await;
    h.register("sensor-1", "sensor", 7001, &["v1"], "reading 21.4 °C")
        .await;
    h.register(
        "worker-1",
        "worker",
        7101,
        &["v1"],
        "squares: 1,204 computed",
    )
    .await;
    h.register(
        "worker-2",
        "worker",
        7102,
        &["v1"],
        "squares: 1,187 computed",
    )
    .await;
    h.register(
        "app-1",
        "app",
        7201,
        &["v1"],
        "last square from worker-1 in 3 ms",
    )
    .await;

    let browser = Browser::start().await;
    let page = h.url("/");
    browser.goto(&page).await;
    let v = browser
        .until("the services", |v| {
            ["sensor-1", "worker-1", "worker-2", "app-1"]
                .iter()
                .all(|id| shows(v, id, "passing"))
                && v["services"]["dashboard"] == "passing"
        })
        .await;
    assert_eq!(v["loaded"], true, "{v:#}");
    assert_eq!(v["conn"], "live", "{v:#}");
    assert_eq!(v["services"]["worker"], "passing", "{v:#}");
    // Reloading would wipe this.
    browser
        .js("window.__testMarker = 'first load'; return null;")
        .await;
    let snapshots = v["snapshots"].as_u64().unwrap();

    // A third worker comes, then the second goes critical: the same page shows it.
    h.register("worker-3", "worker", 7103, &["v1"], "squares: 12 computed")
        .await;
    browser
        .until("worker-3", |v| shows(v, "worker-3", "passing"))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    h.fail(
        "worker-2",
        "HTTP GET http://127.0.0.1:7102/health: 503 Service Unavailable (queue full)",
    )
    .await;
    let v = browser
        .until("worker-2 critical", |v| shows(v, "worker-2", "critical"))
        .await;
    assert_eq!(v["marker"], "first load", "no reload: {v:#}");
    assert_eq!(v["navigations"], 1, "no navigation: {v:#}");
    assert!(v["snapshots"].as_u64().unwrap() > snapshots, "{v:#}");
    assert_eq!(v["services"]["worker"], "critical", "{v:#}");
    assert_eq!(v["critical"], 1, "{v:#}");
    assert!(shows(&v, "worker-1", "passing") && shows(&v, "worker-3", "passing"));
    let text = browser
        .js("return document.querySelector('[data-instance=\"worker-2\"]').textContent;")
        .await;
    assert!(
        text.as_str().unwrap().contains("503 Service Unavailable"),
        "the check output shows: {text}"
    );

    // A warning for colour, a few seconds of history, then the picture.
    tokio::time::sleep(Duration::from_secs(3)).await;
    h.warn("worker-3", "p99 latency 840 ms (limit 500 ms)")
        .await;
    browser
        .until("worker-3 warning and some history", |v| {
            shows(v, "worker-3", "warning") && v["samples"].as_u64().unwrap_or(0) >= 8
        })
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let png = browser.screenshot().await;
    let path = save(&png, "dashboard.png");
    eprintln!("screenshot: {}", path.display());
    if let Some(dest) = std::env::var_os("DASHBOARD_SCREENSHOT") {
        let dest = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(dest);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&dest, &png).unwrap();
        eprintln!("screenshot: {}", dest.display());
    }

    // A long failure whose useful end comes last: all of it on hover, and
    // on a click, which stays open across the next snapshots.
    let refused = "HTTP GET http://127.0.0.1:7102/health?probe=readiness&verbose=1&client=dashboard-browser-test: \
                   error sending request for url (http://127.0.0.1:7102/health?probe=readiness&verbose=1&client=dashboard-browser-test): \
                   client error (Connect): tcp connect error: Connection refused (os error 111)";
    h.fail("worker-2", refused).await;
    let out = r#"
const c = document.querySelector('[data-instance="worker-2"] .check[data-status="critical"]');
const o = c && c.querySelector('.cout');
return o ? { title: c.title, text: o.textContent, open: c.classList.contains('open'),
             clipped: o.scrollHeight > o.clientHeight + 1 || o.scrollWidth > o.clientWidth + 1 } : null;
"#;
    let deadline = Instant::now() + Duration::from_secs(20);
    let shown = loop {
        let v = browser.js(out).await;
        if v["text"].as_str() == Some(refused) {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the long output never showed: {v:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        shown["title"]
            .as_str()
            .unwrap()
            .ends_with("Connection refused (os error 111)"),
        "hover shows all of it: {shown:#}"
    );
    assert_eq!(
        shown["clipped"], true,
        "closed, it is cut to two lines: {shown:#}"
    );
    browser
        .js("document.querySelector('[data-instance=\"worker-2\"] .check[data-status=\"critical\"] .cout').click(); return null;")
        .await;
    // Another change: the page draws the instances again.
    h.warn("worker-1", "p99 latency 610 ms (limit 500 ms)")
        .await;
    browser
        .until("worker-1 warning", |v| shows(v, "worker-1", "warning"))
        .await;
    let opened = browser.js(out).await;
    assert_eq!(
        opened["open"], true,
        "still open after a snapshot: {opened:#}"
    );
    assert_eq!(opened["clipped"], false, "open, nothing is cut: {opened:#}");
    let png = browser.screenshot().await;
    eprintln!(
        "screenshot: {}",
        save(&png, "dashboard-open-check.png").display()
    );

    // Consul goes away: the page says so, with the age of its data.
    h.stop_agent().await;
    let v = browser
        .until("Consul unreachable", |v| {
            v["banner"]
                .as_str()
                .is_some_and(|b| b.starts_with("Consul unreachable — data is "))
                && v["age"].as_str().and_then(|a| a.parse::<u64>().ok()) >= Some(2)
        })
        .await;
    assert_eq!(v["conn"], "stale", "{v:#}");
    assert_eq!(v["marker"], "first load", "no reload: {v:#}");
    assert!(
        shows(&v, "worker-2", "critical"),
        "the last data stays: {v:#}"
    );
    let stale = save(&browser.screenshot().await, "dashboard-stale.png");
    eprintln!("screenshot: {}", stale.display());

    browser.quit().await;
    h.shutdown().await;
    eprintln!("browser test took {:?}", started.elapsed());
}
