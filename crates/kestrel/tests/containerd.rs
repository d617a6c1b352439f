//! Images read from containerd's store through its API: a real containerd (Debian's, on a socket and a root of
//! its own, no CRI plugin) holding images imported with `ctr` from archives the test kit built — the store a
//! Kubernetes node's kubelet pulls into (namespace `k8s.io`). What is read must be the very image the archive holds;
//! the platform asked for must be the one read; every failure names containerd, its socket and the reason.

use assert_cmd::cargo::CommandCargoExt;
use kestrel_testkit::services::Containerd;
use kestrel_testkit::{Compression, Entry, Image, OciLayout};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn image() -> Image {
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

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn purls(sbom: &Value) -> Vec<String> {
    let mut v: Vec<String> =
        sbom["packages"].as_array().unwrap().iter().map(|p| p["purl"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

fn diff_ids(sbom: &Value) -> Vec<Value> {
    sbom["target"]["layers"].as_array().unwrap().iter().map(|l| l["diff_id"].clone()).collect()
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
    // containerd fetches only the platforms it is asked for: another's manifest is not there, and that is said.
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
