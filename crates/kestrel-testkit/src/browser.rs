//! A real browser for the dashboard's tests and benchmark: Debian's headless Chromium driven over WebDriver
//! (Debian's chromedriver, started on a free loopback port), with a blocking API over `fantoccini`.

use crate::services::free_port;
use fantoccini::{ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Headless Chromium under chromedriver; closed (and the driver killed) on drop.
pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<fantoccini::Client>,
    driver: Child,
    /// Chromium's profile directory, removed when the browser is dropped.
    profile: PathBuf,
    /// Where screenshots go.
    pub shots: PathBuf,
}

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]).collect();
    names.iter().flat_map(|n| dirs.iter().map(move |d| d.join(n))).find(|p| p.is_file())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium window of `width`×`height`; screenshots go to `shots`.
    pub fn start(shots: &Path, width: u32, height: u32) -> Browser {
        let driver_bin = find(&["chromedriver"])
            .expect("chromedriver is not installed: run scripts/setup (Debian's chromium-driver package)");
        let chromium = find(&["chromium", "chromium-browser"]).expect("chromium is not installed: run scripts/setup");
        let port = free_port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(20), "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = std::env::temp_dir().join(format!("kestrel-chromium-{port}"));
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--hide-scrollbars", format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let Value::Object(caps) = caps else { unreachable!() };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = rt
            .block_on(ClientBuilder::new(connector).capabilities(caps).connect(&format!("http://127.0.0.1:{port}")))
            .expect("a Chromium session through chromedriver");
        std::fs::create_dir_all(shots).unwrap();
        Browser { rt, client: Some(client), driver, profile, shots: shots.to_path_buf() }
    }

    fn c(&self) -> &fantoccini::Client {
        self.client.as_ref().unwrap()
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        self.rt.block_on(self.c().goto(url)).unwrap_or_else(|e| panic!("{url}: {e}"));
    }

    /// Runs `script` (a function body: `return …`) in the page.
    pub fn js(&self, script: &str) -> Value {
        self.rt.block_on(self.c().execute(script, vec![])).unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Waits (at most `secs`) until `script` returns true.
    pub fn wait_until(&self, script: &str, secs: u64) {
        let t = Instant::now();
        while self.js(script) != Value::Bool(true) {
            if t.elapsed() > Duration::from_secs(secs) {
                let text = self.js("return document.body.innerText");
                panic!("waited {secs} s for `{script}`; the page says:\n{}", text.as_str().unwrap_or(""));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The dashboard's view counter (`main[data-gen]`).
    pub fn generation(&self) -> String {
        self.js("return document.getElementById('main').dataset.gen || ''").as_str().unwrap_or("").to_string()
    }

    /// Does `action`, then waits until the dashboard has drawn a newer view named `view`.
    pub fn then_view(&self, view: &str, action: impl FnOnce(&Browser)) {
        let before = self.generation();
        action(self);
        self.wait_until(
            &format!(
                "const m = document.getElementById('main'); return m.dataset.ready === '1' && m.dataset.gen !== '{before}' && m.dataset.view === '{view}'"
            ),
            20,
        );
    }

    /// Clicks the first element matching `css`.
    pub fn click(&self, css: &str) {
        self.rt
            .block_on(async { self.c().find(Locator::Css(css)).await?.click().await })
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Types `text` into the element matching `css`.
    pub fn type_into(&self, css: &str, text: &str) {
        self.rt
            .block_on(async { self.c().find(Locator::Css(css)).await?.send_keys(text).await })
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// The visible text of the first element matching `css`.
    pub fn text(&self, css: &str) -> String {
        self.rt
            .block_on(async { self.c().find(Locator::Css(css)).await?.text().await })
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// The visible text of every element matching `css`.
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.rt
            .block_on(async {
                let mut out = Vec::new();
                for e in self.c().find_all(Locator::Css(css)).await? {
                    out.push(e.text().await?);
                }
                Ok::<_, fantoccini::error::CmdError>(out)
            })
            .unwrap_or_else(|e| panic!("texts of {css}: {e}"))
    }

    /// How many elements match `css`.
    pub fn count(&self, css: &str) -> usize {
        self.js(&format!("return document.querySelectorAll({}).length", json!(css))).as_u64().unwrap_or(0) as usize
    }

    /// A PNG of the window, written to `shots/NAME.png`; returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.rt.block_on(self.c().screenshot()).unwrap_or_else(|e| panic!("screenshot: {e}"));
        let p = self.shots.join(format!("{name}.png"));
        std::fs::write(&p, &png).unwrap();
        p
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = self.rt.block_on(c.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
