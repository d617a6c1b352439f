//! What the tests of images from registries and stores share: a test image with a Log4j jar, and a kestrel server
//! with one token per role, and a node agent's word that a node runs an image.
// Each test crate uses part of this.
#![allow(dead_code)]

use assert_cmd::cargo::CommandCargoExt;
use kestrel_testkit::{Entry, Image};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A storage.conf (`CONTAINERS_STORAGE_CONF`) whose containers-storage is an empty directory: a bare image name looked
/// for in the --image-src places must not find the host's images.
pub fn no_storage(d: &Path) -> PathBuf {
    let conf = d.join("storage.conf");
    std::fs::create_dir_all(d.join("no-storage")).unwrap();
    std::fs::write(&conf, format!("[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\n", d.join("no-storage").display()))
        .unwrap();
    conf
}

/// A two-layer Debian image with a package, a Log4j jar and an AWS key in a `.env` file: what every image source
/// must give the same inventory and secrets of.
pub fn app_image() -> Image {
    let pom = b"groupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n";
    let jar = kestrel_testkit::jar(&[("META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties", pom)]);
    Image::new(vec![
        vec![
            Entry::File("etc/os-release".into(), b"ID=debian\nVERSION_ID=\"12\"\n".to_vec()),
            Entry::File(
                "var/lib/dpkg/status".into(),
                b"Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n\n"
                    .to_vec(),
            ),
        ],
        vec![
            Entry::File("app/lib/log4j-core-2.14.1.jar".into(), jar),
            Entry::File("app/.env".into(), b"AWS_ACCESS_KEY_ID=AKIAZ7VRSQ5LT4WDJQ3H\n".to_vec()),
        ],
    ])
}

/// A two-layer Debian image holding log4j-core VERSION, as a `docker save` archive tagged `app:latest`.
pub fn log4j_image(dir: &Path, version: &str) -> PathBuf {
    let pom = format!("groupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion={version}\n");
    let jar =
        kestrel_testkit::jar(&[("META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties", pom.as_bytes())]);
    let p = dir.join(format!("{version}.tar"));
    Image::new(vec![
        vec![Entry::File("etc/os-release".into(), b"ID=debian\nVERSION_ID=\"12\"\n".to_vec())],
        vec![Entry::File(format!("app/lib/log4j-core-{version}.jar"), jar)],
    ])
    .write_docker_archive(&p, &["app:latest"]);
    p
}

/// A kestrel server, stopped on drop.
pub struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A kestrel server on a loopback port with tokens for the roles ci, agent (node-1) and viewer, in that order, then
/// agents node-2 and node-3.
pub fn start_server(d: &Path) -> (Server, String, Vec<String>) {
    start_server_with(d, &[])
}

/// The server, with more arguments.
pub fn start_server_with(d: &Path, more: &[&str]) -> (Server, String, Vec<String>) {
    let mut file = String::from("tokens:\n");
    let mut tokens = Vec::new();
    for (role, name) in [
        ("ci", "watcher"),
        ("agent", "node-1"),
        ("viewer", "vera"),
        ("agent", "node-2"),
        ("agent", "node-3"),
        ("admin", "root"),
    ] {
        let out = Command::cargo_bin("kestrel")
            .unwrap()
            .args(["server", "token", "--role", role, "--name", name])
            .output()
            .unwrap();
        tokens.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
        file.extend(
            String::from_utf8(out.stderr)
                .unwrap()
                .lines()
                .filter(|l| l.starts_with("- ") || l.starts_with("  "))
                .map(|l| format!("{l}\n")),
        );
    }
    std::fs::write(d.join("tokens.yaml"), file).unwrap();
    let port = kestrel_testkit::services::free_port();
    let child = Command::cargo_bin("kestrel")
        .unwrap()
        .args(["server", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(d.join("data"))
        .arg("--tokens")
        .arg(d.join("tokens.yaml"))
        .args(more)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let t = std::time::Instant::now();
    while ureq::get(format!("{base}/healthz")).call().is_err() {
        assert!(t.elapsed() < std::time::Duration::from_secs(20));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (Server(child), base, tokens)
}

/// GET a JSON document from the server's API.
pub fn get(base: &str, path: &str, token: &str) -> Value {
    ureq::get(format!("{base}{path}"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap()
}

/// Node `node` runs a container of an image (`image`: the container's `image`, `image_id`, `image_digest` as the
/// sensor would say them): `kestrel` (a command with its environment set) runs the agent's `detect` over a recording
/// of that container, sending its status to the server with the agent's token.
pub fn node_runs(mut kestrel: Command, d: &Path, base: &str, agent: &str, node: &str, image: Value) {
    let mut container = serde_json::json!({"id": "app-1", "runtime": "runc"});
    container.as_object_mut().unwrap().extend(image.as_object().expect("an object").clone());
    let rec = d.join(format!("run-{node}.jsonl"));
    std::fs::write(
        &rec,
        format!(
            "{}\n{}\n",
            serde_json::json!({"schema": "kestrel.trace/v1", "started_ns": 1_000_000_000u64}),
            serde_json::json!({"schema": "kestrel.event/v1", "time_ns": 2_000_000_000u64, "pid": 10, "tid": 10, "comm": "java",
                "cgroup_id": 1, "container": container,
                "kind": "exec", "ppid": 1, "uid": 0, "gid": 0, "euid": 0, "exe": "/usr/bin/java", "argv": ["java", "-jar", "app.jar"],
                "cap_effective": 0})
        ),
    )
    .unwrap();
    let out = kestrel
        .args(["detect", "-q", "--no-profiles", "--server", base, "--server-token", agent, "--node", node, "--spool"])
        .arg(d.join(format!("spool-{node}")))
        .arg(&rec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A successful run's standard output as JSON (a failed one fails the test with its standard error).
pub fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A run's standard error.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// An SBOM's layers by their diff ids, base first.
pub fn diff_ids(sbom: &Value) -> Vec<Value> {
    sbom["target"]["layers"].as_array().unwrap().iter().map(|l| l["diff_id"].clone()).collect()
}

/// An SBOM's package URLs, sorted.
pub fn purls(sbom: &Value) -> Vec<String> {
    let mut v: Vec<String> =
        sbom["packages"].as_array().unwrap().iter().map(|p| p["purl"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

/// The server's "running image became vulnerable" alerts for `node`, read with a viewer's token.
pub fn affected_alerts(base: &str, viewer: &str, node: &str) -> Vec<Value> {
    let alerts = get(base, &format!("/api/v1/alerts?node={node}"), viewer);
    alerts["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["alert"]["id"].as_str().unwrap().starts_with("image-affected:"))
        .cloned()
        .collect()
}

/// Serves files over HTTP/1.1 on the loopback interface for a bounded number of requests. `cut` names
/// paths whose body is cut in half after announcing the full length.
pub fn serve_files(files: Vec<(String, Vec<u8>)>, cut: Vec<String>, requests: usize) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
            match files.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => {
                    let head =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    let _ = s.write_all(head.as_bytes());
                    let send = if cut.contains(&path) { &body[..body.len() / 2] } else { &body[..] };
                    let _ = s.write_all(send);
                }
                None => {
                    let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
            }
        }
    });
    format!("http://{addr}")
}
