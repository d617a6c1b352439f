//! Images read from containerd's store through its API: a real containerd (Debian's, on a socket and a root of
//! its own, no CRI plugin) holding images imported with `ctr` from archives the test kit built — the store a
//! Kubernetes node's kubelet pulls into (namespace `k8s.io`). What is read must be the very image the archive holds;
//! the platform asked for must be the one read; every failure names containerd, its socket and the reason.

use assert_cmd::cargo::CommandCargoExt;
use kestrel_testkit::services::Containerd;
use kestrel_testkit::{Compression, Entry, Image, OciLayout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{
    affected_alerts, app_image as image, diff_ids, get, json, log4j_image, node_runs, purls, start_server, stderr,
};

/// kestrel with containerd at `socket` and no other image store, and a cache of its own.
fn kestrel(d: &Path, socket: &Path) -> Command {
    let mut c = Command::cargo_bin("kestrel").unwrap();
    c.env("DOCKER_HOST", format!("unix://{}", d.join("no-docker.sock").display()))
        .env("CONTAINER_HOST", format!("unix://{}", d.join("no-podman.sock").display()))
        .env("CONTAINERD_ADDRESS", socket)
        .env_remove("CONTAINERD_NAMESPACE")
        .env_remove("KESTREL_IMAGE_SRC")
        .env("KESTREL_CACHE_DIR", d.join("cache"))
        .env("SOURCE_DATE_EPOCH", "1763856000");
    c
}

#[test]
fn images_are_read_from_containerds_store_as_the_archive_holds_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let archive = d.join("app.tar");
    image().write_docker_archive(&archive, &["localhost/shop/app:1.0"]);
    let short = d.join("short.tar");
    image().write_docker_archive(&short, &["app:2.0"]);
    let ctd = Containerd::start();
    // Where a kubelet pulls to, and where `ctr` and `nerdctl` put images by default.
    ctd.import("k8s.io", &archive, &[]);
    ctd.import("default", &short, &[]);
    let sock = ctd.socket();
    let k = || kestrel(d, &sock);

    let from_archive = json(
        &k().args(["image", "--input"])
            .arg(&archive)
            .args(["--scanners", "none", "-f", "json", "--no-cache"])
            .output()
            .unwrap(),
    );
    assert!(purls(&from_archive).iter().any(|p| p.starts_with("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1")));

    // containerd:NAME, looked for in every namespace; nothing is written to disk on the way.
    let tmp = d.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = k()
        .env("TMPDIR", &tmp)
        .args(["image", "containerd:localhost/shop/app:1.0", "--scanners", "none", "-f", "json", "--no-cache"])
        .output()
        .unwrap();
    let sbom = json(&out);
    let e = stderr(&out);
    assert!(
        e.contains(&format!("read localhost/shop/app:1.0 from containerd at {} (namespace k8s.io", sock.display())),
        "{e}"
    );
    assert_eq!(purls(&sbom), purls(&from_archive));
    assert_eq!(sbom["target"]["image_id"], from_archive["target"]["image_id"]);
    assert_eq!(diff_ids(&sbom), diff_ids(&from_archive));
    assert_eq!(diff_ids(&sbom).len(), 2);
    assert_eq!(sbom["target"]["name"], "containerd:localhost/shop/app:1.0");
    assert_eq!(sbom["target"]["tags"][0], "localhost/shop/app:1.0");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "something was written to TMPDIR");

    // By image id, as the CRI plugin records every image it pulls (a record named `sha256:…`, made here with ctr).
    let id = from_archive["target"]["image_id"].as_str().unwrap();
    ctd.ctr("k8s.io", &["images", "tag", "localhost/shop/app:1.0", id]);
    let out = k()
        .args(["image", &format!("containerd:{id}"), "--scanners", "none", "-f", "json", "--no-cache"])
        .output()
        .unwrap();
    assert_eq!(purls(&json(&out)), purls(&from_archive));
    // …or its first twelve digits, as `crictl images` shows them; digits no image id starts with are no image.
    let out = k()
        .args(["image", &format!("containerd:{}", &id[7..19]), "--scanners", "none", "-f", "json", "--no-cache"])
        .output()
        .unwrap();
    assert_eq!(purls(&json(&out)), purls(&from_archive));
    let out = k().args(["image", "containerd:0123456789ab", "--scanners", "none"]).output().unwrap();
    let e = stderr(&out);
    assert!(out.status.code() == Some(2) && e.contains("no image 0123456789ab in namespaces"), "{e}");

    // CONTAINERD_NAMESPACE names the one namespace to look in.
    let out = k()
        .env("CONTAINERD_NAMESPACE", "default")
        .args(["image", "containerd:localhost/shop/app:1.0", "--scanners", "none"])
        .output()
        .unwrap();
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("no image localhost/shop/app:1.0 in namespace default"), "{e}");
    // A short name as Docker would spell it in full: `ctr` stored `app:2.0` as docker.io/library/app:2.0.
    let out =
        k().args(["image", "containerd:app:2.0", "--scanners", "none", "-f", "json", "--no-cache"]).output().unwrap();
    assert_eq!(purls(&json(&out)), purls(&from_archive));
    assert!(stderr(&out).contains("read docker.io/library/app:2.0 from containerd at"), "{}", stderr(&out));
    assert!(stderr(&out).contains("(namespace default,"), "{}", stderr(&out));

    // A bare name, with containerd among the --image-src places; the secrets each with the layer they are in, as
    // read from the archive.
    let out = k()
        .args(["image", "localhost/shop/app:1.0", "--image-src", "docker,containerd", "-f", "json"])
        .args(["--scanners", "secret", "--no-cache"])
        .output()
        .unwrap();
    let report = json(&out);
    let from_archive_secrets = json(
        &k().args(["image", "--input"])
            .arg(&archive)
            .args(["--scanners", "secret", "-f", "json", "--no-cache"])
            .output()
            .unwrap(),
    );
    let secrets = report["secrets"].as_array().unwrap_or_else(|| panic!("no secrets: {report}"));
    assert!(secrets.iter().any(|s| s["rule"] == "aws-access-key-id" && s["file"] == "/app/.env"), "{secrets:?}");
    assert_eq!(report["secrets"], from_archive_secrets["secrets"]);
    assert!(secrets.iter().all(|s| s["layer"].as_str().is_some_and(|l| l.starts_with("1 sha256:"))), "{secrets:?}");
    // `config --image` reads the same place.
    let checked =
        json(&k().args(["config", "--image", "containerd:localhost/shop/app:1.0", "-f", "json"]).output().unwrap());
    let ids: Vec<&str> = checked["findings"].as_array().unwrap().iter().filter_map(|f| f["id"].as_str()).collect();
    assert!(ids.contains(&"image:user-root"), "{checked}");

    // The inventory cache: a second scan reads the manifests and configuration only.
    let cached = || {
        k().env("KESTREL_CACHE_DIR", d.join("cache-containerd"))
            .args(["image", "containerd:localhost/shop/app:1.0", "--scanners", "none", "-f", "json"])
            .output()
            .unwrap()
    };
    let first = cached();
    assert!(stderr(&first).contains("read localhost/shop/app:1.0 from"), "{}", stderr(&first));
    let again = cached();
    let e = stderr(&again);
    assert!(!e.contains("read localhost") && e.contains("its inventory is in the cache"), "{e}");
    assert_eq!(purls(&json(&again)), purls(&from_archive));
}

#[test]
fn a_multi_platform_image_gives_the_platform_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let amd = image();
    let mut arm = Image::new(vec![vec![
        Entry::File("etc/os-release".into(), b"ID=alpine\nVERSION_ID=3.19.1\n".to_vec()),
        Entry::File("lib/apk/db/installed".into(), b"P:musl\nV:1.2.4-r2\nA:aarch64\n\n".to_vec()),
    ]]);
    arm.platform = ("linux".into(), "arm64".into());
    let mut layout = OciLayout::new();
    layout.add_multi(&[amd, arm], "localhost/multi:1", Compression::Gzip);
    let archive = d.join("multi.tar");
    layout.write_tar(&archive);
    let ctd = Containerd::start();
    ctd.import("default", &archive, &["--all-platforms"]);
    ctd.import("hostonly", &archive, &[]);
    let scan = |platform: Option<&str>| {
        let mut c = kestrel(d, &ctd.socket());
        c.args(["image", "containerd:localhost/multi:1", "--scanners", "none", "-f", "json", "--no-cache"]);
        if let Some(p) = platform {
            c.args(["--platform", p]);
        }
        c.output().unwrap()
    };
    let arm = json(&scan(Some("linux/arm64")));
    assert_eq!(arm["target"]["platform"], "linux/arm64");
    assert!(purls(&arm).iter().any(|p| p.starts_with("pkg:apk/alpine/musl@1.2.4-r2")), "{:?}", purls(&arm));
    // This machine's, by default.
    let host = json(&scan(None));
    assert_eq!(host["target"]["platform"], "linux/amd64");
    assert!(purls(&host).iter().any(|p| p.starts_with("pkg:deb/debian/zlib1g")), "{:?}", purls(&host));
    assert_ne!(host["target"]["manifest_digest"], arm["target"]["manifest_digest"]);
    // Both were chosen from the index the image record names (what a node that pulled it is told it runs), and the
    // layout on disk says the same.
    let listed = ctd.ctr("default", &["images", "ls"]);
    let record = listed.lines().find(|l| l.starts_with("localhost/multi:1 ")).unwrap_or_else(|| panic!("{listed}"));
    let index = record.split_whitespace().find(|w| w.starts_with("sha256:")).unwrap_or_else(|| panic!("{record}"));
    assert_eq!(
        (host["target"]["index_digest"].as_str(), arm["target"]["index_digest"].as_str()),
        (Some(index), Some(index))
    );
    let from_layout = kestrel(d, &ctd.socket())
        .args(["image", "--input"])
        .arg(&archive)
        .args(["--scanners", "none", "-f", "json", "--no-cache"])
        .output()
        .unwrap();
    assert_eq!(json(&from_layout)["target"]["index_digest"].as_str(), Some(index));
    // containerd fetches only the platforms it is asked for: another's manifest is not there, and that is said.
    // (An import for one platform leaves the others' blobs until the garbage collector runs: removed here, unless
    // it ran already.)
    let _ = ctd.try_ctr("hostonly", &["content", "rm", arm["target"]["manifest_digest"].as_str().unwrap()]);
    let mut c = kestrel(d, &ctd.socket());
    let out = c
        .env("CONTAINERD_NAMESPACE", "hostonly")
        .args(["image", "containerd:localhost/multi:1", "--platform", "linux/arm64", "--scanners", "none"])
        .output()
        .unwrap();
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("image manifest sha256:") && e.contains("is not in containerd's content store"), "{e}");
    assert!(e.contains("ctr -n hostonly images pull --platform PLATFORM localhost/multi:1"), "{e}");
    let out = scan(Some("linux/s390x"));
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("linux/s390x") && e.contains("linux/arm64") && e.contains("linux/amd64"), "{e}");
}

#[test]
fn a_broken_or_absent_containerd_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Nothing listens.
    let none = d.join("no-containerd.sock");
    let out = kestrel(d, &none).args(["image", "containerd:app:1", "--scanners", "none"]).output().unwrap();
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains(&format!("containerd at {}: no answer", none.display())) && e.contains("CONTAINERD_ADDRESS"),
        "{e}"
    );
    // A watcher of it keeps watching (containerd may be restarting), saying why each pass failed; with --once it
    // stops with the error.
    let mut watcher = kestrel(d, &none)
        .args(["watch", "--containerd", "--every", "1", "--scanners", "none", "--state"])
        .arg(d.join("state"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let alive = watcher.try_wait().unwrap().is_none();
    watcher.kill().unwrap();
    let e = String::from_utf8_lossy(&watcher.wait_with_output().unwrap().stderr).into_owned();
    assert!(alive, "the watcher stopped: {e}");
    assert!(e.matches("this pass failed, trying again in 1 s").count() >= 2 && e.contains("no answer"), "{e}");
    let out = kestrel(d, &none)
        .args(["watch", "--containerd", "--once", "--scanners", "none", "--state"])
        .arg(d.join("state"))
        .output()
        .unwrap();
    assert!(out.status.code() == Some(2) && stderr(&out).contains("no answer"), "{}", stderr(&out));
    // As a place among others, it is passed over and said so.
    let out =
        kestrel(d, &none).args(["image", "app:1", "--image-src", "containerd", "--scanners", "none"]).output().unwrap();
    let e = stderr(&out);
    assert!(e.contains("no image source (--image-src) has it") && e.contains("containerd at"), "{e}");

    let archive = d.join("app.tar");
    image().write_docker_archive(&archive, &["localhost/shop/app:1.0"]);
    let ctd = Containerd::start();
    ctd.import("k8s.io", &archive, &[]);
    let scan = |ns: &str| {
        kestrel(d, &ctd.socket())
            .env("CONTAINERD_NAMESPACE", ns)
            .args(["image", "containerd:localhost/shop/app:1.0", "--scanners", "none", "-f", "json", "--no-cache"])
            .output()
            .unwrap()
    };
    // Not root: the socket refuses, and the message says why. (The binary is copied where user nobody can run it:
    // the checkout may be in a directory only root enters.)
    let bin = std::env::temp_dir().join(format!("kestrel-nobody-{}", std::process::id()));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::copy(assert_cmd::cargo::cargo_bin("kestrel"), bin.join("kestrel")).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin.join("kestrel"))
        .args(["image", "containerd:localhost/shop/app:1.0", "--scanners", "none", "--no-cache"])
        .env("CONTAINERD_ADDRESS", ctd.socket())
        .output()
        .unwrap();
    std::fs::remove_dir_all(&bin).unwrap();
    let e = stderr(&out);
    assert!(out.status.code() == Some(2) && e.contains("Permission denied") && e.contains("run as root"), "{e}");
    // A namespace that could become more than one request header.
    let out = scan("k8s.io\r\nx-other: 1");
    let e = stderr(&out);
    assert!(out.status.code() == Some(2) && e.contains("is not a containerd namespace"), "{e}");
    let sbom = json(&scan("k8s.io"));
    let layer = sbom["target"]["layers"][1]["diff_id"].as_str().unwrap().to_string();

    // A layer changed in the store behind containerd's back: refused by its digest, the image named.
    let blob = ctd.blob_path(&layer);
    let original = std::fs::read(&blob).unwrap();
    let mut tampered = original.clone();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 0x20;
    std::fs::write(&blob, &tampered).unwrap();
    let out = scan("k8s.io");
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("localhost/shop/app:1.0") && e.contains(&layer[..19]) && e.contains("digest"), "{e}");
    std::fs::write(&blob, &original).unwrap();
    assert_eq!(purls(&json(&scan("k8s.io"))), purls(&sbom));

    // A layer the store no longer holds (a node whose CRI plugin discards layers once unpacked): said before
    // anything is read, with what to do instead.
    ctd.ctr("k8s.io", &["content", "rm", &layer]);
    let out = scan("k8s.io");
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains(&format!("layer {layer} is not in containerd's content store")) && e.contains("docker://"),
        "{e}"
    );
}

/// `kestrel watch --containerd` on a node: each image of containerd's store is scanned once and reported under its
/// name (not again under the digest and id records the CRI plugin adds), scanned again only when it changes, matched
/// again when the database changes — and the server raises an alert for the node running the one that became
/// vulnerable.
#[test]
fn the_watcher_scans_a_nodes_containerd_images_and_running_ones_raise_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ctd = Containerd::start();
    // The kubelet's namespace holds the vulnerable one, recorded as the CRI plugin records a pull: by tag, by
    // digest reference and by id.
    ctd.import("k8s.io", &log4j_image(d, "2.14.1"), &[]);
    let app = "docker.io/library/app:latest";
    let listed = ctd.ctr("k8s.io", &["images", "ls"]);
    let manifest = listed.split_whitespace().find(|w| w.starts_with("sha256:")).unwrap().to_string();
    ctd.ctr("k8s.io", &["images", "tag", app, &format!("docker.io/library/app@{manifest}")]);
    let (_server, base, t) = start_server(d);
    let (ci, agent, viewer) = (&t[0], &t[1], &t[2]);
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kestrel-vulndb/tests/fixtures/db");
    let k = || {
        let mut c = kestrel(d, &ctd.socket());
        c.env("KESTREL_DB_DIR", d.join("db")).env_remove("KESTREL_TOKEN");
        c
    };
    let sbom =
        json(&k().args(["image", &format!("containerd:{app}"), "--scanners", "none", "-f", "json"]).output().unwrap());
    ctd.ctr("k8s.io", &["images", "tag", app, sbom["target"]["image_id"].as_str().unwrap()]);
    // `default` holds the fixed one, as `ctr` or nerdctl put it there.
    ctd.import("default", &log4j_image(d, "2.17.1"), &[]);
    ctd.ctr("default", &["images", "tag", app, "docker.io/library/api:2.0"]);
    ctd.ctr("default", &["images", "rm", app]);
    // A database that knows nothing of Java yet.
    assert!(k().args(["db", "import"]).arg(fixtures.join("osv-PyPI.zip")).status().unwrap().success());
    let watch = || {
        let out = k()
            .args(["watch", "--containerd", "--once", "--state"])
            .arg(d.join("state"))
            .args(["--server", &base, "--server-token", ci])
            .output()
            .unwrap();
        let e = stderr(&out);
        assert!(out.status.success(), "{e}");
        e
    };
    let e = watch();
    assert!(
        e.contains(&format!("watch containerd at {}: 2 namespaces, 2 images: 2 scanned", ctd.socket().display())),
        "{e}"
    );
    let reports = get(&base, "/api/v1/reports?kind=image", viewer);
    let mut subjects: Vec<&str> =
        reports["items"].as_array().unwrap().iter().map(|r| r["subject"].as_str().unwrap()).collect();
    subjects.sort();
    assert_eq!(subjects, ["docker.io/library/api:2.0", app], "{reports}");

    // node-1 runs the app, named as a pod spec names it; node-2 runs it under another name, and its kubelet says
    // the digest it was pulled by (the image record's); nothing changed, nothing scanned.
    node_runs(k(), d, &base, agent, "node-1", serde_json::json!({"image": "app:latest"}));
    let listed = ctd.ctr("k8s.io", &["images", "ls"]);
    let record = listed.lines().find(|l| l.starts_with(&format!("{app} "))).unwrap_or_else(|| panic!("{listed}"));
    let pulled_by = record.split_whitespace().find(|w| w.starts_with("sha256:")).unwrap_or_else(|| panic!("{record}"));
    node_runs(
        k(),
        d,
        &base,
        &t[3],
        "node-2",
        serde_json::json!({"image": "mirror.local/app:1", "image_digest": pulled_by}),
    );
    let e = watch();
    assert!(e.contains("0 scanned (new or changed), 0 queued, 0 matched again (database changed), 2 unchanged"), "{e}");
    // The database learns of Log4Shell: both matched again from their inventories, and node-1 gets an alert.
    assert!(k()
        .args(["db", "import", "--source", "osv:Maven"])
        .arg(fixtures.join("osv-log4j.json"))
        .status()
        .unwrap()
        .success());
    let e = watch();
    assert!(e.contains("0 scanned (new or changed), 0 queued, 2 matched again"), "{e}");
    let affected = affected_alerts(&base, viewer, "node-1");
    assert_eq!(affected.len(), 1, "{affected:?}");
    assert_eq!(affected_alerts(&base, viewer, "node-2").len(), 1, "known by the digest it was pulled by");
    let title = affected[0]["alert"]["title"].as_str().unwrap();
    assert!(title.contains(app) && title.contains("CVE-2021-44228"), "{title}");

    // A new tag of a known image is reported from the inventory kept (no layer read); a changed one is read.
    ctd.ctr("default", &["images", "tag", "docker.io/library/api:2.0", "docker.io/library/api:stable"]);
    ctd.import("default", &log4j_image(d, "2.14.1"), &[]);
    ctd.ctr("default", &["images", "tag", "--force", app, "docker.io/library/api:2.0"]);
    ctd.ctr("default", &["images", "rm", app]);
    let e = watch();
    assert!(e.contains("2 namespaces, 3 images: 2 scanned (new or changed)") && e.contains("1 unchanged"), "{e}");
    let reports = get(&base, "/api/v1/reports?kind=image&subject=docker.io%2Flibrary%2Fapi%3A2.0", viewer);
    assert_eq!(reports["items"][0]["counts"][0], 1, "api:2.0 now holds the vulnerable jar: {reports} {e}");
    // An image that goes away is forgotten.
    ctd.ctr("default", &["images", "rm", "docker.io/library/api:stable"]);
    let state: Value = serde_json::from_slice(&std::fs::read(d.join("state/state.json")).unwrap()).unwrap();
    assert!(state["images"].as_object().unwrap().keys().any(|k| k.ends_with("api:stable")));
    watch();
    let state: Value = serde_json::from_slice(&std::fs::read(d.join("state/state.json")).unwrap()).unwrap();
    let keys: Vec<&String> = state["images"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("containerd://") && !k.ends_with("api:stable")), "{keys:?}");
}
