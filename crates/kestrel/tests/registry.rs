//! Scanning images straight from a registry: a real registry (Debian's docker-registry) demanding a password,
//! images pushed by skopeo, credentials from a Docker config file, and `kestrel image docker://…` pulling,
//! verifying and scanning them — the manifest digest is the one skopeo reports; a blob altered in the
//! registry's storage is refused.

use assert_cmd::cargo::CommandCargoExt;
use base64::Engine;
use kestrel_testkit::services::Registry;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{affected_alerts, get, log4j_image, node_runs, start_server_with};

fn kestrel(docker_config: &Path, home: &Path) -> Command {
    let mut c = Command::cargo_bin("kestrel").unwrap();
    c.env("DOCKER_CONFIG", docker_config)
        .env("HOME", home)
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env("KESTREL_CACHE_DIR", home.join("cache"));
    c
}

#[test]
fn images_are_pulled_with_docker_credentials_verified_and_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let registry = Registry::start(Some(("ci", "s3cret")));
    let host = registry.host();
    registry.push_archive(&log4j_image(d, "2.14.1"), "shop/app:1.0");

    // Credentials as `docker login` leaves them.
    let with = d.join("with-creds");
    std::fs::create_dir_all(&with).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(b"ci:s3cret");
    std::fs::write(with.join("config.json"), format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#)).unwrap();
    let without = d.join("no-creds");
    std::fs::create_dir_all(&without).unwrap();

    let reference = format!("docker://{host}/shop/app:1.0");
    // The layers are read as they download: nothing is written to disk.
    let tmp = d.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = kestrel(&with, d)
        .env("TMPDIR", &tmp)
        .args(["image", &reference, "--scanners", "none", "-f", "json"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && e.contains(&format!("kestrel: read {host}/shop/app:1.0 (sha256:")), "{e}");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "something was written to {}", tmp.display());
    let sbom: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        sbom["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["purl"] == "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"),
        "{}",
        sbom["packages"]
    );
    assert_eq!(sbom["target"]["tags"][0], format!("{host}/shop/app:1.0"), "named by its reference");
    assert_eq!(sbom["target"]["name"], reference.as_str(), "named as it was asked for, not by its temporary copy");
    assert_eq!(sbom["target"]["layers"].as_array().unwrap().len(), 2);
    // The manifest digest is the registry's, as skopeo sees it.
    let inspect = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--creds", "ci:s3cret", "--format", "{{.Digest}}", &reference])
        .output()
        .unwrap();
    let digest = String::from_utf8_lossy(&inspect.stdout).trim().to_string();
    assert!(digest.starts_with("sha256:"), "{}", String::from_utf8_lossy(&inspect.stderr));
    assert_eq!(sbom["target"]["manifest_digest"], digest.as_str());
    // Again, with the inventory cache: the manifest is fetched (so a moved tag is seen), no blob is.
    let out = kestrel(&with, d).args(["image", &reference, "--scanners", "none", "-f", "json"]).output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && e.contains("its inventory is in the cache") && !e.contains("kestrel: read"), "{e}");
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["packages"], sbom["packages"]);
    for field in ["name", "tags", "manifest_digest", "image_id"] {
        assert_eq!(again["target"][field], sbom["target"][field], "{field}");
    }
    // Naming the platform of a single-platform image.
    let out = kestrel(&with, d)
        .args(["image", &reference, "--platform", "linux/amd64", "--scanners", "none", "-f", "json", "--no-cache"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["packages"], sbom["packages"]);
    // By digest too.
    let by_digest = format!("docker://{host}/shop/app@{digest}");
    let out = kestrel(&with, d).args(["image", &by_digest, "--scanners", "none", "-f", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // A bare name: no engine listens here, so the registry is the place that has it.
    let bare = format!("{host}/shop/app:1.0");
    let out = kestrel(&with, d)
        .env("DOCKER_HOST", format!("unix://{}", d.join("no-docker.sock").display()))
        .env("CONTAINER_HOST", format!("unix://{}", d.join("no-podman.sock").display()))
        .env("CONTAINERD_ADDRESS", d.join("no-containerd.sock"))
        .env("CONTAINERS_STORAGE_CONF", common::no_storage(d))
        .args(["image", &bare, "--scanners", "none", "-f", "json", "--no-cache"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pulled: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pulled["target"]["manifest_digest"], digest.as_str());
    assert_eq!(pulled["target"]["name"], bare.as_str());
    // With the registry left out of --image-src, nothing has it.
    let out = kestrel(&with, d)
        .env("DOCKER_HOST", format!("unix://{}", d.join("no-docker.sock").display()))
        .args(["image", &bare, "--scanners", "none", "--image-src", "docker"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // No credentials: refused, and said why.
    let out = kestrel(&without, d).args(["image", &reference, "--scanners", "none"]).output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("not allowed") && e.contains("shop/app:1.0"), "{e}");
    // A tag that is not there.
    let out = kestrel(&with, d)
        .args(["image", &format!("docker://{host}/shop/app:9.9"), "--scanners", "none"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such image"), "{}", String::from_utf8_lossy(&out.stderr));

    // A layer altered in the registry's storage: refused, naming it (its layers are read as they download: the
    // damage is met as a corrupt stream or as a digest mismatch, whichever comes first).
    let layer = sbom["target"]["layers"][1]["blob_digest"].as_str().unwrap().to_string();
    let data = registry.blob_path(&layer);
    assert!(data.is_file(), "{}", data.display());
    let mut bytes = std::fs::read(&data).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&data, bytes).unwrap();
    let out = kestrel(&with, d)
        .args(["image", &reference, "--scanners", "none"])
        .env("KESTREL_CACHE_DIR", d.join("cache2"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains(&layer[7..]), "{e}");
    assert!(e.contains("corrupt") || e.contains("digest mismatch"), "{e}");
    // Another layer's bytes in its place: a sound gzip stream, refused for its digest.
    let other = sbom["target"]["layers"][0]["blob_digest"].as_str().unwrap();
    std::fs::copy(registry.blob_path(other), &data).unwrap();
    let out = kestrel(&with, d)
        .args(["image", &reference, "--scanners", "none"])
        .env("KESTREL_CACHE_DIR", d.join("cache3"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("digest mismatch") && e.contains("layer 1 blob"), "{e}");
    assert!(e.contains(&layer[7..]) && e.contains(&other[7..]), "{e}");
}

/// `kestrel watch` scans new tags, matches known images again when the database changes, and the server
/// raises an alert for the node running an image that became vulnerable.
/// A multi-platform image: the platform's manifest is read, and the index the tag points at — the digest a node that
/// pulled the image is told it runs — is said too, from the registry and from the cache alike.
#[test]
fn a_multi_platform_image_is_known_by_its_index_digest_too() {
    use kestrel_testkit::{Compression, Entry, Image, OciLayout};
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut arm = Image::new(vec![vec![
        Entry::File("etc/os-release".into(), b"ID=alpine\nVERSION_ID=3.19.1\n".to_vec()),
        Entry::File("lib/apk/db/installed".into(), b"P:musl\nV:1.2.4-r2\nA:aarch64\n\n".to_vec()),
    ]]);
    arm.platform = ("linux".into(), "arm64".into());
    let mut layout = OciLayout::new();
    layout.add_multi(&[common::app_image(), arm], "shop/multi:1", Compression::Gzip);
    let archive = d.join("multi.tar");
    layout.write_tar(&archive);
    let registry = Registry::start(None);
    registry.push_oci_archive(&archive, "shop/multi:1");
    let reference = format!("docker://{}/shop/multi:1", registry.host());
    let raw = Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", &reference]).output().unwrap();
    assert!(raw.status.success(), "{}", String::from_utf8_lossy(&raw.stderr));
    let index = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&raw.stdout)));
    assert!(String::from_utf8_lossy(&raw.stdout).contains("manifests"), "the tag names an index");
    let config = d.join("docker");
    std::fs::create_dir_all(&config).unwrap();
    let scan = |extra: &[&str]| {
        let out = kestrel(&config, d)
            .args(["image", &reference, "-f", "json", "--scanners", "none"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (serde_json::from_slice::<Value>(&out.stdout).unwrap(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (host, _) = scan(&[]);
    assert_eq!(host["target"]["platform"], "linux/amd64");
    assert_eq!(host["target"]["index_digest"], index.as_str());
    assert_ne!(host["target"]["manifest_digest"], index.as_str());
    let (cached, e) = scan(&[]);
    assert!(e.contains("its inventory is in the cache"), "{e}");
    assert_eq!(cached["target"]["index_digest"], index.as_str());
    let (arm, _) = scan(&["--platform", "linux/arm64"]);
    assert_eq!(arm["target"]["platform"], "linux/arm64");
    assert_eq!(arm["target"]["index_digest"], index.as_str());
    assert_ne!(arm["target"]["manifest_digest"], host["target"]["manifest_digest"]);
    // The same image pushed alone (skopeo without --all copies this machine's platform): the cache holds its
    // inventory, read through the index, and the report says no index, as the registry does.
    let single = format!("docker://{}/shop/single:1", registry.host());
    let copied = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false", &format!("oci-archive:{}", archive.display()), &single])
        .output()
        .unwrap();
    assert!(copied.status.success(), "{}", String::from_utf8_lossy(&copied.stderr));
    let out = kestrel(&config, d).args(["image", &single, "-f", "json", "--scanners", "none"]).output().unwrap();
    let alone: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("its inventory is in the cache"));
    assert_eq!(alone["target"]["manifest_digest"], host["target"]["manifest_digest"]);
    assert_eq!(alone["target"]["index_digest"], Value::Null);
}

#[test]
fn the_watcher_rescans_on_database_updates_and_running_images_raise_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let registry = Registry::start(None);
    let host = registry.host();
    registry.push_archive(&log4j_image(d, "2.14.1"), "shop/app:1.0");
    registry.push_archive(&log4j_image(d, "2.17.1"), "shop/app:1.1");
    // The server posts new critical alerts to a chat webhook.
    let hook = kestrel_testkit::services::Webhook::start(vec![], std::time::Duration::ZERO);
    let notify = format!("chat:http://{}/hooks/secret", hook.addr);
    let (_server, base, t) = start_server_with(d, &["--notify", &notify, "--notify-severity", "critical"]);
    let (ci, agent, viewer) = (&t[0], &t[1], &t[2]);
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kestrel-vulndb/tests/fixtures/db");
    let db = d.join("db");
    let kestrel = || {
        let mut c = Command::cargo_bin("kestrel").unwrap();
        c.env("KESTREL_DB_DIR", &db).env("HOME", d).env("DOCKER_CONFIG", d.join("docker")).env_remove("KESTREL_TOKEN");
        c
    };
    // A database that knows nothing of Java yet.
    assert!(kestrel().args(["db", "import"]).arg(fixtures.join("osv-PyPI.zip")).status().unwrap().success());
    let watch = || {
        let out = kestrel()
            .args(["watch", "--registry", &host, "--once", "--state"])
            .arg(d.join("state"))
            .args(["--server", &base, "--server-token", ci])
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{e}");
        e
    };
    let e = watch();
    assert!(e.contains("1 repositories, 2 tags: 2 scanned"), "{e}");
    let reports = get(&base, "/api/v1/reports?kind=image", viewer);
    let subjects: Vec<&str> =
        reports["items"].as_array().unwrap().iter().map(|r| r["subject"].as_str().unwrap()).collect();
    assert!(subjects.contains(&format!("{host}/shop/app:1.0").as_str()) && subjects.len() == 2, "{subjects:?}");
    assert!(reports["items"].as_array().unwrap().iter().all(|r| r["counts"][0] == 0), "nothing known yet");

    // node-1 runs 1.0: its agent says so (the images of the containers it saw).
    node_runs(kestrel(), d, &base, agent, "node-1", serde_json::json!({"image": format!("{host}/shop/app:1.0")}));
    let nodes = get(&base, "/api/v1/nodes", viewer);
    let node = nodes["items"].as_array().unwrap().iter().find(|n| n["name"] == "node-1").unwrap().clone();
    assert_eq!(node["status"]["images"], serde_json::json!([format!("{host}/shop/app:1.0")]), "{node}");
    // Where the runtime recorded the image's id (Docker, CRI-O), the id decides: node-2 runs 1.0's image under a
    // name of its own; node-3 runs an older build of 1.0, pulled before the tag moved.
    let subject = format!("{host}%2Fshop%2Fapp%3A1.0");
    let reports = get(&base, &format!("/api/v1/reports?kind=image&subject={subject}"), viewer);
    let report = get(&base, &format!("/api/v1/reports/{}", reports["items"][0]["id"].as_str().unwrap()), viewer);
    let id = report["target"]["image_id"].as_str().unwrap_or_else(|| panic!("no image id: {report}")).to_string();
    node_runs(kestrel(), d, &base, &t[3], "node-2", serde_json::json!({"image": "dev/app:local", "image_id": id}));
    let older = format!("sha256:{}", "0".repeat(64));
    let moved = serde_json::json!({"image": format!("{host}/shop/app:1.0"), "image_id": older});
    node_runs(kestrel(), d, &base, &t[4], "node-3", moved);
    let nodes = get(&base, "/api/v1/nodes", viewer);
    let node = nodes["items"].as_array().unwrap().iter().find(|n| n["name"] == "node-2").unwrap().clone();
    assert_eq!(node["status"]["image_refs"], serde_json::json!([{"image": "dev/app:local", "digest": id}]), "{node}");

    // Nothing changed: nothing scanned.
    assert!(watch().contains("0 scanned (new or changed), 0 queued, 0 matched again (database changed), 2 unchanged"));
    // The database learns of Log4Shell: both images are matched again from their inventories (no pull), and
    // the node running the affected one gets an alert; the fixed one raises none.
    assert!(kestrel()
        .args(["db", "import", "--source", "osv:Maven"])
        .arg(fixtures.join("osv-log4j.json"))
        .status()
        .unwrap()
        .success());
    let e = watch();
    assert!(e.contains("0 scanned (new or changed), 0 queued, 2 matched again"), "{e}");
    let affected = affected_alerts(&base, viewer, "node-1");
    assert_eq!(affected.len(), 1, "{affected:?}");
    let by_digest = affected_alerts(&base, viewer, "node-2");
    assert_eq!(by_digest.len(), 1, "the same image under another name");
    // Each alert says how the image is known to run there.
    let how = |a: &serde_json::Value| a["alert"]["explanation"][1].as_str().unwrap_or_default().to_string();
    assert!(how(&by_digest[0]).contains(&format!("a container of dev/app:local there is image {id}")), "{by_digest:?}");
    assert!(how(&affected[0]).contains("known by name only"), "{affected:?}");
    assert_eq!(affected_alerts(&base, viewer, "node-3"), Vec::<serde_json::Value>::new(), "another build of 1.0");
    let a = &affected[0]["alert"];
    assert_eq!(a["severity"], "critical");
    assert!(
        a["title"].as_str().unwrap().contains(&format!("{host}/shop/app:1.0"))
            && a["title"].as_str().unwrap().contains("CVE-2021-44228"),
        "{a}"
    );
    assert!(
        a["explanation"].as_array().unwrap().iter().any(|l| l.as_str().unwrap().contains("fixed in 2.15.0")),
        "{a}"
    );
    // …and the chat heard of it, once for each node that runs it.
    let said = || -> Vec<String> {
        hook.received().iter().map(|(_, body)| body["text"].as_str().unwrap_or_default().to_string()).collect()
    };
    let t0 = std::time::Instant::now();
    while said().concat().matches("node node-").count() < 2 && t0.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let text = said().concat();
    // A message per alert, or one for both under a header when the notifier had both at hand at once.
    let body = text.strip_prefix("*2 new alerts*\n\n").unwrap_or(&text);
    assert!(body.starts_with("*CRITICAL*") && text.contains("CVE-2021-44228"), "{text}");
    for (node, times) in [("node node-1", 1), ("node node-2", 1), ("node node-3", 0)] {
        assert_eq!(text.matches(node).count(), times, "{node}: {text}");
    }
    // A new tag is scanned on the next pass.
    registry.push_archive(&log4j_image(d, "2.17.1"), "shop/app:1.2");
    assert!(watch().contains("3 tags: 1 scanned"));
    // The same image as 1.1, reported from its kept inventory under its own name: the server keeps reports by
    // content, and one naming 1.1 would not have been stored for 1.2.
    let subject = format!("{host}%2Fshop%2Fapp%3A1.2");
    let reports = get(&base, &format!("/api/v1/reports?kind=image&subject={subject}"), viewer);
    let id = reports["items"][0]["id"].as_str().unwrap_or_else(|| panic!("no report of 1.2: {reports}"));
    let report = get(&base, &format!("/api/v1/reports/{id}"), viewer);
    assert_eq!(report["target"]["name"], format!("{host}/shop/app:1.2"), "{report}");
}

/// A watcher with no way out but to its server: the database comes from there (`--db-from-server`), pushed by an
/// admin (`kestrel db push`), and when the admin pushes a newer one the images are matched again.
#[test]
fn the_watcher_takes_its_database_from_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let registry = Registry::start(None);
    let host = registry.host();
    registry.push_archive(&log4j_image(d, "2.14.1"), "shop/app:1.0");
    let served = d.join("served-db");
    let (_server, base, t) = start_server_with(d, &["--db-dir", served.to_str().unwrap()]);
    let (ci, viewer, admin) = (&t[0], &t[2], &t[5]);
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kestrel-vulndb/tests/fixtures/db");
    let kestrel = |db: &str| {
        let mut c = Command::cargo_bin("kestrel").unwrap();
        c.env("KESTREL_DB_DIR", d.join(db)).env("HOME", d).env("DOCKER_CONFIG", d.join("docker"));
        c.env_remove("KESTREL_TOKEN").env_remove("KESTREL_SERVER");
        c
    };
    let run = |c: &mut Command| {
        let out = c.output().unwrap();
        let e = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{e}");
        e
    };
    // Before the server has one, a pass says why it could not fetch it and goes on (here without the vulnerability
    // scanner, which would need one).
    let e = run(kestrel("node-db")
        .args(["watch", "--registry", &host, "--once", "--db-from-server", "--scanners", "none", "--state"])
        .arg(d.join("probe-state"))
        .args(["--server", &base, "--server-token", ci]));
    assert!(e.contains("404") && e.contains("kestrel db push") && e.contains("1 scanned"), "{e}");
    // The admin's machine builds a database and pushes it; a ci token may not.
    run(kestrel("admin-db").args(["db", "import"]).arg(fixtures.join("osv-PyPI.zip")));
    let refused = kestrel("admin-db").args(["db", "push", "--server", &base, "--server-token", ci]).output().unwrap();
    let e = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && e.contains("403"), "{e}");
    let e = run(kestrel("admin-db").args(["db", "push", "--server", &base, "--server-token", admin]));
    assert!(e.contains(&format!("{base} now serves this database")), "{e}");
    assert!(served.join("vulndb.sqlite").is_file());

    let watch = || {
        run(kestrel("node-db")
            .args(["watch", "--registry", &host, "--once", "--offline", "--db-from-server", "--state"])
            .arg(d.join("state"))
            .args(["--server", &base, "--server-token", ci]))
    };
    let e = watch();
    assert!(e.contains(&format!("database from {base}")) && e.contains("1 scanned"), "{e}");
    assert!(d.join("node-db/vulndb.sqlite").is_file());
    let e = watch();
    assert!(
        e.contains("is the server's already") && e.contains("0 matched again (database changed), 1 unchanged"),
        "{e}"
    );
    let reports = get(&base, "/api/v1/reports?kind=image", viewer);
    assert!(reports["items"].as_array().unwrap().iter().all(|r| r["counts"][0] == 0), "nothing known yet: {reports}");

    // The admin learns of Log4Shell and pushes again: the watcher fetches it and matches the image again.
    run(kestrel("admin-db").args(["db", "import", "--source", "osv:Maven"]).arg(fixtures.join("osv-log4j.json")));
    run(kestrel("admin-db").args(["db", "push", "--server", &base, "--server-token", admin]));
    let e = watch();
    assert!(e.contains(&format!("database from {base}")) && e.contains("1 matched again"), "{e}");
    let reports = get(&base, "/api/v1/reports?kind=image", viewer);
    let latest = &reports["items"][0];
    assert!(latest["counts"][0].as_u64().unwrap() >= 1, "Log4Shell is critical: {reports}");
    let show = kestrel("node-db").args(["db", "show", "CVE-2021-44228"]).output().unwrap();
    assert!(String::from_utf8_lossy(&show.stdout).contains("CVE-2021-44228"));
}

/// The scans as a JetStream work queue: the watcher queues, two workers share the jobs (each scanned once, with
/// the database the server serves: they have none of their own and may not download one), and when the
/// database changes the watcher matches the images again from the inventories in the server's reports (it never
/// scanned them itself).
#[test]
fn scans_are_shared_by_workers_through_jetstream() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let registry = Registry::start(None);
    let host = registry.host();
    registry.push_archive(&log4j_image(d, "2.14.1"), "shop/app:1.0");
    registry.push_archive(&log4j_image(d, "2.17.1"), "shop/app:1.1");
    registry.push_archive(&log4j_image(d, "2.17.1"), "shop/api:2.0");
    let nats = kestrel_testkit::services::Nats::start();
    let db = d.join("db");
    let (_server, base, t) = start_server_with(d, &["--db-dir", db.to_str().unwrap()]);
    let (ci, viewer) = (&t[0], &t[2]);
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kestrel-vulndb/tests/fixtures/db");
    let kestrel = || {
        let mut c = Command::cargo_bin("kestrel").unwrap();
        c.env("KESTREL_DB_DIR", &db).env("HOME", d).env("DOCKER_CONFIG", d.join("docker")).env_remove("KESTREL_TOKEN");
        c
    };
    assert!(kestrel().args(["db", "import"]).arg(fixtures.join("osv-PyPI.zip")).status().unwrap().success());
    let watch = || {
        let out = kestrel()
            .args(["watch", "--registry", &host, "--once", "--nats", &nats.url(), "--state"])
            .arg(d.join("state"))
            .args(["--server", &base, "--server-token", ci])
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{e}");
        e
    };
    let e = watch();
    assert!(e.contains("2 repositories, 3 tags: 0 scanned (new or changed), 3 queued"), "{e}");
    let workers: Vec<std::process::Child> = (0..2)
        .map(|i| {
            kestrel()
                .env("KESTREL_DB_DIR", d.join(format!("worker-db-{i}")))
                .args(["scan-worker", "--once", "--nats", &nats.url(), "--server", &base, "--server-token", ci])
                .args(["--db-from-server", "--offline"])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let (mut scanned, mut fetched) = (0, 0);
    for w in workers {
        let out = w.wait_with_output().unwrap();
        let e = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{e}");
        let line =
            e.lines().find(|l| l.contains("scan-worker:") && l.contains("scanned")).unwrap_or_else(|| panic!("{e}"));
        assert!(line.contains(" 0 failed"), "{e}");
        scanned += line.split_whitespace().nth(2).unwrap().parse::<usize>().unwrap();
        fetched += e.matches(&format!("database from {base}")).count();
    }
    assert_eq!(scanned, 3, "every job scanned once, by one worker or the other");
    assert!((1..=2).contains(&fetched), "a worker fetches once before its first job: {fetched}");
    let reports = get(&base, "/api/v1/reports?kind=image", viewer);
    assert_eq!(reports["items"].as_array().unwrap().len(), 3);
    // Nothing new: nothing queued.
    assert!(watch().contains("0 queued, 0 matched again (database changed), 3 unchanged"));
    // The database learns of Log4Shell: matched again here, from the server's inventories.
    assert!(kestrel()
        .args(["db", "import", "--source", "osv:Maven"])
        .arg(fixtures.join("osv-log4j.json"))
        .status()
        .unwrap()
        .success());
    let e = watch();
    assert!(e.contains("3 matched again"), "{e}");
    let reports = get(&base, &format!("/api/v1/reports?kind=image&subject={host}%2Fshop%2Fapp%3A1.0"), viewer);
    assert_eq!(reports["items"][0]["counts"][0], 1, "Log4Shell found in 1.0 from its inventory: {reports}");
}

/// A job that keeps failing (its image is gone) is tried five times, then taken off the queue: a `--once` worker
/// ends instead of waiting for it forever.
#[test]
fn a_scan_that_keeps_failing_is_given_up_after_five_tries() {
    let nats = kestrel_testkit::services::Nats::start();
    let queue = kestrel_server::scanq::ScanQueue::connect(&nats.url(), 1).unwrap();
    let job = kestrel_server::scanq::ScanJob {
        reference: "127.0.0.1:1/gone/app:1.0".into(),
        digest: format!("sha256:{}", "0".repeat(64)),
    };
    assert!(queue.publish(&job).unwrap());
    let mut worker = Command::cargo_bin("kestrel").unwrap();
    worker.args(["scan-worker", "--once", "--nats", &nats.url(), "--retry-after", "0", "--scanners", "none"]);
    let out = worker.env_remove("KESTREL_SERVER").env_remove("KESTREL_TOKEN").output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{e}");
    assert!(e.contains("0 scanned, 4 failed (handed back), 1 given up"), "{e}");
    assert!(e.contains("127.0.0.1:1/gone/app:1.0: given up after 5 tries"), "{e}");
    assert_eq!(queue.pending().unwrap(), 0, "off the queue");
}
