//! The report's HTML as a person sees it: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by ./test.sh) loads the file through chromedriver's W3C
//! WebDriver API on loopback; the test reads the rendered text and element sizes, keeps a
//! screenshot and a PDF print under target/report-test/, and stops chromedriver.
//!
//! Missing Chromium fails the test (it does not skip) with a message saying to run ./test.sh.

#[path = "support/coverage_tenant.rs"]
mod tenant;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tenant::{EVIL_NAME, READER_ROLES, connect, connect_with_taps, report, upn};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free loopback port; killed on drop, whatever the test did.
struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
    session: Option<String>,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("addr").port()
}

impl Driver {
    async fn start() -> Driver {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: the report's browser test needs Debian's chromium and \
                 chromium-driver. Run ./test.sh (it installs them), or \
                 `apt-get install -y chromium chromium-driver`."
            );
        }
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            session: None,
            _profile: tempfile::tempdir().expect("profile dir"),
        };
        // Wait for readiness (a bounded number of polls, not a timing assertion).
        for _ in 0..200 {
            if let Ok(r) = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = driver._profile.path().display().to_string();
        let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": CHROMIUM, "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--hide-scrollbars", format!("--user-data-dir={profile}"),
        ]}}}});
        let created = driver.call("POST", "/session", Some(caps)).await;
        driver.session = Some(
            created["sessionId"]
                .as_str()
                .expect("session id")
                .to_owned(),
        );
        driver
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let resp = req.send().await.expect("chromedriver answers");
        let status = resp.status();
        let value: Value = resp.json().await.expect("JSON from chromedriver");
        assert!(
            status.is_success(),
            "WebDriver {method} {path}: {status} {value}"
        );
        value["value"].clone()
    }

    async fn session(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let id = self.session.as_deref().expect("session");
        self.call(method, &format!("/session/{id}{path}"), body)
            .await
    }

    async fn elements(&self, css: &str) -> Vec<String> {
        let found = self
            .session(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found
            .as_array()
            .expect("elements")
            .iter()
            .filter_map(|e| e.as_object()?.values().next()?.as_str().map(str::to_owned))
            .collect()
    }

    async fn text(&self, element: &str) -> String {
        let v = self
            .session("GET", &format!("/element/{element}/text"), None)
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    async fn rect(&self, element: &str) -> (f64, f64) {
        let r = self
            .session("GET", &format!("/element/{element}/rect"), None)
            .await;
        (
            r["width"].as_f64().unwrap_or(0.0),
            r["height"].as_f64().unwrap_or(0.0),
        )
    }

    async fn attribute(&self, element: &str, name: &str) -> String {
        let v = self
            .session("GET", &format!("/element/{element}/attribute/{name}"), None)
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    async fn quit(mut self) {
        if self.session.is_some() {
            self.session("DELETE", "", None).await;
            self.session = None;
        }
    }
}

fn output_dir() -> PathBuf {
    // target/report-test, next to the build (CARGO_TARGET_DIR respected when set).
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("report-test");
    std::fs::create_dir_all(&dir).expect("output dir");
    dir
}

async fn save_b64(value: &Value, path: &Path) -> Vec<u8> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.as_str().expect("base64"))
        .expect("decodes");
    std::fs::write(path, &bytes).expect("write");
    eprintln!("saved {}", path.display());
    bytes
}

/// Opens `html` full-height and returns the driver.
async fn open(html: &Path) -> Driver {
    let driver = Driver::start().await;
    driver
        .session(
            "POST",
            "/window/rect",
            Some(json!({"width": 1300, "height": 2400})),
        )
        .await;
    let url = format!("file://{}", html.canonicalize().expect("path").display());
    driver
        .session("POST", "/url", Some(json!({"url": url})))
        .await;
    driver
}

#[tokio::test]
async fn a_person_sees_the_numbers_the_charts_and_the_at_risk_rows() {
    let connected = connect(READER_ROLES).await;
    let dir = tempfile::tempdir().unwrap();
    let run = report(&connected, dir.path(), "2026-12-06", 2000).await;
    connected.close().await;
    let driver = open(&run.files.html).await;

    let title = driver.session("GET", "/title", None).await;
    assert!(title.as_str().unwrap().contains("Coverage Test"), "{title}");
    let card = |id: &'static str| {
        let driver = &driver;
        async move {
            let el = driver.elements(&format!("#{id} .num")).await;
            driver.text(&el[0]).await
        }
    };
    assert_eq!(card("headline-users").await, "13");
    assert_eq!(card("headline-protected").await, "3");
    assert_eq!(card("headline-sms-only").await, "3");
    assert_eq!(card("headline-stuck").await, "6");
    assert_eq!(card("headline-admins-at-risk").await, "2");
    assert_eq!(card("headline-days-left").await, "57");
    let describes = driver.text(&driver.elements("#describes").await[0]).await;
    assert!(
        describes.contains("Coverage Test") && describes.contains("2026-12-06"),
        "{describes}"
    );
    // Which source the numbers come from, and why not the registration report.
    let source = driver.text(&driver.elements("#data-source").await[0]).await;
    assert!(
        source.starts_with("Data: per-user method reads") && source.contains("because"),
        "{source}"
    );

    // Charts: a visible bar for every non-zero count.
    let bars = driver.elements("#chart-states rect.bar").await;
    assert_eq!(bars.len(), 6);
    let mut visible = 0;
    for bar in &bars {
        let count: usize = driver.attribute(bar, "data-count").await.parse().unwrap();
        let (w, h) = driver.rect(bar).await;
        assert!(h > 0.0, "bar height");
        if count > 0 {
            assert!(w > 0.0, "a bar for {count} users has no width");
            visible += 1;
        }
    }
    assert_eq!(visible, 5, "every state but bootstrap pending has users");
    let reasons = driver.elements("#chart-stuck rect.bar").await;
    assert_eq!(reasons.len(), 6, "six stuck reasons");
    for bar in &reasons {
        assert!(driver.rect(bar).await.0 > 0.0);
    }

    // The at-risk table: administrators first, the hostile display name shown as text.
    let rows = driver.elements("#at-risk tbody tr").await;
    assert_eq!(rows.len(), 9);
    assert!(driver.text(&rows[0]).await.contains(&upn("ga.sms")));
    assert!(driver.text(&rows[0]).await.starts_with("Global Admin"));
    assert!(driver.text(&rows[1]).await.contains(&upn("helpdesk.admin")));
    let mut evil_seen = false;
    for row in &rows {
        let text = driver.text(row).await;
        assert!(!text.contains("622222222"), "unmasked number");
        evil_seen |= text.contains(EVIL_NAME);
    }
    assert!(evil_seen, "the display name is shown literally");
    assert!(
        driver.elements("script").await.is_empty(),
        "no script element"
    );
    assert!(
        driver.elements("img").await.is_empty(),
        "the hostile <img> is text, not an element"
    );
    let checks = driver.elements("#checks tbody tr").await;
    assert!(!checks.is_empty(), "readiness checks shown");

    let out = output_dir();
    let png = save_b64(
        &driver.session("GET", "/screenshot", None).await,
        &out.join("coverage-test.png"),
    )
    .await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let pdf = driver
        .session(
            "POST",
            "/print",
            Some(json!({"orientation": "landscape", "background": true})),
        )
        .await;
    let pdf = save_b64(&pdf, &out.join("coverage-test.pdf")).await;
    assert!(pdf.starts_with(b"%PDF"), "prints to PDF");
    driver.quit().await;
}

/// A P1 tenant read through the registration report, with a live and an expired Temporary
/// Access Pass: the page says where its data comes from and shows the pending bootstrap in the
/// headline and the at-risk table.
#[tokio::test]
async fn a_person_sees_the_data_source_and_the_pending_bootstrap() {
    let mut roles = READER_ROLES.to_vec();
    roles.extend([
        "UserAuthenticationMethod.ReadWrite.All",
        "AuditLog.Read.All",
    ]);
    let connected = connect_with_taps("P1", &roles).await;
    let dir = tempfile::tempdir().unwrap();
    let run = report(&connected, dir.path(), "2026-12-06", 2000).await;
    connected.close().await;
    let driver = open(&run.files.html).await;
    let source = driver.text(&driver.elements("#data-source").await[0]).await;
    assert!(
        source.starts_with("Data: registration report") && source.contains("1 page(s)"),
        "{source}"
    );
    let pending = driver
        .text(&driver.elements("#headline-bootstrap-pending .num").await[0])
        .await;
    assert_eq!(pending, "1");
    let mut pending_row = None;
    let mut expired_row = None;
    for row in driver.elements("#at-risk tbody tr").await {
        let text = driver.text(&row).await;
        if text.contains(&upn("tap.live")) {
            pending_row = Some(text);
        } else if text.contains(&upn("tap.expired")) {
            expired_row = Some(text);
        }
    }
    let pending_row = pending_row.expect("the pending bootstrap is an at-risk row");
    assert!(pending_row.contains("bootstrap pending"), "{pending_row}");
    let expired_row = expired_row.expect("the expired pass is an at-risk row");
    assert!(expired_row.contains("bootstrapExpired"), "{expired_row}");
    save_b64(
        &driver.session("GET", "/screenshot", None).await,
        &output_dir().join("registration-report.png"),
    )
    .await;
    driver.quit().await;
}

/// The README's screenshot: the generated demo tenant of `autoenroll local`.
#[tokio::test]
async fn the_demo_tenant_report_renders_and_is_kept_as_a_screenshot() {
    let seed = autoenroll_cli::local::demo::tenant(300);
    let connected = autoenroll_cli::tenant::start_simulated(
        seed,
        "generated demo tenant",
        8,
        graph_sim::SimOptions::default(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = report(&connected, dir.path(), "2026-12-06", 2000).await;
    connected.close().await;
    assert!(run.totals.users >= 300);
    let driver = open(&run.files.html).await;
    let users = driver
        .text(&driver.elements("#headline-users .num").await[0])
        .await;
    assert_eq!(users, run.totals.users.to_string());
    let rows = driver.elements("#at-risk tbody tr").await;
    assert_eq!(rows.len(), run.totals.at_risk);
    let png = save_b64(
        &driver.session("GET", "/screenshot", None).await,
        &output_dir().join("demo-report.png"),
    )
    .await;
    assert!(png.starts_with(b"\x89PNG"));
    driver.quit().await;
}
