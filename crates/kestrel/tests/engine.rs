//! Images read from a container engine's own store: a real Podman API service and a real Docker engine (Debian's
//! dockerd), each with its own store on its own socket, holding an image loaded from an archive the test kit built;
//! `kestrel image podman:NAME`, `docker:NAME` (Docker's API, which Podman serves too), the Docker CLI's current
//! context, and a bare name looked for in the `--image-src` places in order. What is read must be the very image the
//! archive holds; every failure names the engine, its socket and the reason.

use assert_cmd::cargo::CommandCargoExt;
use kestrel_testkit::services::{Docker, Podman};
use kestrel_testkit::{Entry, Image};
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{app_image as image, diff_ids, json, no_storage, purls, stderr};

/// kestrel with no engine but the ones a test names, and a cache of its own.
fn kestrel(d: &Path) -> Command {
    let mut c = Command::cargo_bin("kestrel").unwrap();
    c.env("DOCKER_HOST", format!("unix://{}", d.join("no-docker.sock").display()))
        .env("CONTAINER_HOST", format!("unix://{}", d.join("no-podman.sock").display()))
        .env("CONTAINERD_ADDRESS", d.join("no-containerd.sock"))
        .env("CONTAINERS_STORAGE_CONF", no_storage(d))
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("KESTREL_IMAGE_SRC")
        .env("KESTREL_CACHE_DIR", d.join("cache"))
        .env("SOURCE_DATE_EPOCH", "1763856000");
    c
}

/// The report of `archive` read as a file, with these scanners (the reference an engine's copy must equal).
fn scan_archive(d: &Path, archive: &Path, scanners: &str) -> serde_json::Value {
    json(
        &kestrel(d)
            .args(["image", "--input"])
            .arg(archive)
            .args(["--scanners", scanners, "-f", "json", "--no-cache"])
            .output()
            .unwrap(),
    )
}

/// A Podman API service whose store holds `image()` as `localhost/shop/app:1.0`, and that image's archive.
fn podman_with_app(d: &Path) -> (Podman, std::path::PathBuf) {
    let archive = d.join("app.tar");
    image().write_docker_archive(&archive, &["localhost/shop/app:1.0"]);
    let podman = Podman::start();
    podman.load(&archive);
    (podman, archive)
}

/// kestrel with one engine's address set (`CONTAINER_HOST` or `DOCKER_HOST`), run to its end.
fn run(d: &Path, (var, value): (&str, String), args: &[&str]) -> Output {
    kestrel(d).env(var, value).args(args).output().unwrap()
}

#[test]
fn images_are_read_from_the_engines_store_as_the_archive_holds_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (podman, archive) = podman_with_app(d);

    let from_archive = scan_archive(d, &archive, "none");
    assert!(purls(&from_archive).iter().any(|p| p.starts_with("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1")));

    // podman:NAME, through Podman's API socket.
    let out = run(
        d,
        ("CONTAINER_HOST", podman.url()),
        &["image", "podman:localhost/shop/app:1.0", "--scanners", "none", "-f", "json", "--no-cache"],
    );
    let sbom = json(&out);
    assert!(stderr(&out).contains("read localhost/shop/app:1.0 from podman at"), "{}", stderr(&out));
    assert_eq!(purls(&sbom), purls(&from_archive));
    // The same image: the same configuration digest and layers, named as it was asked for.
    assert_eq!(sbom["target"]["image_id"], from_archive["target"]["image_id"]);
    assert_eq!(sbom["target"]["layers"].as_array().unwrap().len(), 2);
    assert_eq!(diff_ids(&sbom), diff_ids(&from_archive));
    assert_eq!(sbom["target"]["name"], "podman:localhost/shop/app:1.0");
    assert_eq!(sbom["target"]["tags"][0], "localhost/shop/app:1.0");

    // docker-daemon:NAME, Docker's API (Podman serves it too), by image id as well as by name.
    let out = run(
        d,
        ("DOCKER_HOST", podman.url()),
        &["image", "docker-daemon:localhost/shop/app:1.0", "--scanners", "none", "-f", "json"],
    );
    assert_eq!(purls(&json(&out)), purls(&from_archive));
    let id = from_archive["target"]["image_id"].as_str().unwrap().trim_start_matches("sha256:");
    let out = run(
        d,
        ("DOCKER_HOST", podman.url()),
        &["image", &format!("docker:{}", &id[..12]), "--scanners", "none", "-f", "json", "--no-cache"],
    );
    assert_eq!(purls(&json(&out)), purls(&from_archive));

    // The Docker CLI's current context (`docker context use`), as its files say: its host is Podman's socket.
    let docker_config = d.join("docker-config");
    let meta = docker_config.join("contexts/meta/07cc8f3a1ca924058268d424aeabfa3bec22a2ae5cf5a95b5a48bc6d17196599");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(
        meta.join("meta.json"),
        format!(
            r#"{{"Name":"podtest","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{}","SkipTLSVerify":false}}}}}}"#,
            podman.url()
        ),
    )
    .unwrap();
    std::fs::write(docker_config.join("config.json"), r#"{"auths": {}, "currentContext": "podtest"}"#).unwrap();
    let out = kestrel(d)
        .env_remove("DOCKER_HOST")
        .env("DOCKER_CONFIG", &docker_config)
        .args(["image", "docker-daemon:localhost/shop/app:1.0", "--scanners", "none", "-f", "json", "--no-cache"])
        .output()
        .unwrap();
    assert_eq!(purls(&json(&out)), purls(&from_archive));
    assert!(stderr(&out).contains(&format!("from docker at {}", podman.socket().display())), "{}", stderr(&out));

    // A bare name: Docker is looked at first (nothing listens), then Podman has it.
    let out = run(
        d,
        ("CONTAINER_HOST", podman.url()),
        &["image", "localhost/shop/app:1.0", "-f", "json", "--scanners", "secret", "--no-cache"],
    );
    let report = json(&out);
    assert!(stderr(&out).contains("from podman at"), "{}", stderr(&out));
    assert_eq!(report["target"]["name"], "localhost/shop/app:1.0");
    let secrets = report["secrets"].as_array().unwrap_or_else(|| panic!("no secrets: {report}"));
    assert!(secrets.iter().any(|s| s["rule"] == "aws-access-key-id" && s["file"] == "/app/.env"), "{secrets:?}");
    // Each with the layer it is in, as read from the archive (the engine's layers are read before its manifest says
    // their order).
    let from_archive_secrets = scan_archive(d, &archive, "secret");
    assert_eq!(report["secrets"], from_archive_secrets["secrets"]);
    assert!(secrets.iter().all(|s| s["layer"].as_str().is_some_and(|l| l.starts_with("1 sha256:"))), "{secrets:?}");
    // `secrets --image` and `config --image` read the same sources.
    let out = run(
        d,
        ("CONTAINER_HOST", podman.url()),
        &["secrets", "--image", "podman:localhost/shop/app:1.0", "-f", "json"],
    );
    let found = json(&out);
    assert_eq!(found["findings"][0]["file"], "podman:localhost/shop/app:1.0!/app/.env", "{found}");
    let out =
        run(d, ("CONTAINER_HOST", podman.url()), &["config", "--image", "podman:localhost/shop/app:1.0", "-f", "json"]);
    let checked = json(&out);
    let ids: Vec<&str> = checked["findings"].as_array().unwrap().iter().filter_map(|f| f["id"].as_str()).collect();
    assert!(ids.contains(&"image:user-root"), "{checked}");
    // The inventory cache: a second scan of the same image asks the engine which image it is and exports nothing;
    // an entry made without the secret scanner does not serve a scan that wants it.
    let cached = |scanners: &str| {
        kestrel(d)
            .env("CONTAINER_HOST", podman.url())
            .env("KESTREL_CACHE_DIR", d.join("cache-engine"))
            .args(["image", "podman:localhost/shop/app:1.0", "--scanners", scanners, "-f", "json"])
            .output()
            .unwrap()
    };
    let first = cached("none");
    assert!(stderr(&first).contains("read localhost/shop/app:1.0 from"), "{}", stderr(&first));
    let again = cached("none");
    let e = stderr(&again);
    assert!(!e.contains("read localhost") && e.contains("its inventory is in the cache"), "{e}");
    let hit = json(&again);
    assert_eq!(purls(&hit), purls(&from_archive));
    assert_eq!(hit["target"]["name"], "podman:localhost/shop/app:1.0");
    assert_eq!(hit["target"]["tags"][0], "localhost/shop/app:1.0");
    assert_eq!(hit["target"]["image_id"], from_archive["target"]["image_id"]);
    let with_secrets = cached("secret");
    assert!(stderr(&with_secrets).contains("read localhost/shop/app:1.0 from"), "{}", stderr(&with_secrets));
    assert_eq!(json(&with_secrets)["secrets"].as_array().map(Vec::len), Some(1));
    assert!(stderr(&cached("secret")).contains("its inventory is in the cache"));

    // The order is the user's: with Podman left out, nothing has it, and each place tried says why.
    let out = run(
        d,
        ("CONTAINER_HOST", podman.url()),
        &["image", "localhost/shop/app:1.0", "--image-src", "docker", "--scanners", "none"],
    );
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("no image source (--image-src) has it") && e.contains("no-docker.sock: no engine answers"),
        "{e}"
    );
    assert!(!e.contains("podman"), "{e}");
}

#[test]
fn images_are_read_from_a_real_docker_engine() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let archive = d.join("app.tar");
    image().write_docker_archive(&archive, &["localhost/shop/app:1.0"]);
    let docker = Docker::start();
    docker.load(&archive);
    docker.cli(&["tag", "localhost/shop/app:1.0", "shop/app:2.0"]);
    let from_archive = scan_archive(d, &archive, "secret");
    let same_image = |out: &Output| {
        let sbom = json(out);
        assert_eq!(purls(&sbom), purls(&from_archive));
        assert_eq!(sbom["target"]["image_id"], from_archive["target"]["image_id"]);
        assert_eq!(diff_ids(&sbom), diff_ids(&from_archive));
        sbom
    };

    // docker:NAME, as Docker names it (Docker's own export: the docker-save layout Docker 20.10 writes).
    let out = run(
        d,
        ("DOCKER_HOST", docker.url()),
        &["image", "docker:localhost/shop/app:1.0", "--scanners", "secret", "-f", "json", "--no-cache"],
    );
    assert!(stderr(&out).contains(&format!("from docker at {}", docker.socket().display())), "{}", stderr(&out));
    let report = same_image(&out);
    assert_eq!(report["target"]["name"], "docker:localhost/shop/app:1.0");
    assert_eq!(report["secrets"], from_archive["secrets"]);
    assert_eq!(report["secrets"].as_array().map(Vec::len), Some(1), "{report}");
    // A short name Docker completes (docker.io/shop/app:2.0), and the image id's first 12 digits as `docker images`
    // shows them.
    let id = from_archive["target"]["image_id"].as_str().unwrap().trim_start_matches("sha256:");
    assert!(docker.cli(&["images", "-q", "shop/app:2.0"]).starts_with(&id[..12]));
    for name in ["docker:shop/app:2.0", &format!("docker:{}", &id[..12])] {
        let out =
            run(d, ("DOCKER_HOST", docker.url()), &["image", name, "--scanners", "none", "-f", "json", "--no-cache"]);
        same_image(&out);
    }
    // A bare name with the default --image-src: Docker is the first place looked in.
    let out = run(d, ("DOCKER_HOST", docker.url()), &["image", "shop/app:2.0", "--scanners", "none", "-f", "json"]);
    assert!(stderr(&out).contains("from docker at"), "{}", stderr(&out));
    assert_eq!(same_image(&out)["target"]["name"], "shop/app:2.0");
    // The same image again: Docker is asked which image it is, and the inventory cache answers.
    let out = run(d, ("DOCKER_HOST", docker.url()), &["image", "shop/app:2.0", "--scanners", "none", "-f", "json"]);
    assert!(stderr(&out).contains("its inventory is in the cache"), "{}", stderr(&out));
    same_image(&out);

    // The Docker CLI's current context, made and chosen by the Docker CLI itself.
    let config = d.join("docker-cli");
    let cli = |args: &[&str]| {
        let out = docker.docker().env_remove("DOCKER_HOST").arg("--config").arg(&config).args(args).output().unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    cli(&["context", "create", "kestrel-test", "--docker", &format!("host={}", docker.url())]);
    cli(&["context", "use", "kestrel-test"]);
    let out = kestrel(d)
        .env_remove("DOCKER_HOST")
        .env("DOCKER_CONFIG", &config)
        .args(["image", "docker:localhost/shop/app:1.0", "--scanners", "none", "-f", "json", "--no-cache"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains(&format!("from docker at {}", docker.socket().display())), "{}", stderr(&out));
    same_image(&out);

    // Docker's refusal, in its words, with the engine and the name.
    let out = run(d, ("DOCKER_HOST", docker.url()), &["image", "docker:localhost/shop/nope:1", "--scanners", "none"]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains(&format!("docker at {}: no image localhost/shop/nope:1", docker.socket().display())), "{e}");
}

#[test]
fn engine_failures_name_the_engine_the_socket_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (podman, _) = podman_with_app(d);

    // An image the engine does not have: its own words, the engine and the name.
    let out =
        run(d, ("CONTAINER_HOST", podman.url()), &["image", "podman:localhost/shop/nope:1", "--scanners", "none"]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains(&format!("podman at {}: no image localhost/shop/nope:1", podman.socket().display())), "{e}");
    // An engine that is not there, with how to start Podman's API.
    let out = run(
        d,
        ("CONTAINER_HOST", "unix:///nonexistent/podman.sock".into()),
        &["image", "podman:app", "--scanners", "none"],
    );
    let e = stderr(&out);
    assert!(e.contains("/nonexistent/podman.sock: no engine answers") && e.contains("podman system service"), "{e}");
    // Addresses kestrel cannot use are said to be so.
    let out =
        run(d, ("DOCKER_HOST", "ssh://me@build-host".into()), &["image", "docker-daemon:app", "--scanners", "none"]);
    assert!(
        stderr(&out).contains("DOCKER_HOST=ssh://me@build-host") && stderr(&out).contains("only unix://"),
        "{}",
        stderr(&out)
    );
    // A name that would change the request is refused before anything is sent.
    for bad in ["podman:../containers/json", "podman:app?x=1", "podman:"] {
        let out = run(d, ("CONTAINER_HOST", podman.url()), &["image", bad, "--scanners", "none"]);
        assert!(stderr(&out).contains("not an image name or id"), "{bad}: {}", stderr(&out));
    }
    // The archive's size is bounded like an image's: the transfer stops at the limit (plus room for four
    // metadata documents and 1 MiB of headers); nothing is written to disk.
    let big = d.join("big.tar");
    Image::new(vec![vec![Entry::File("data/blob".into(), vec![0u8; 40 << 20])]])
        .write_docker_archive(&big, &["localhost/big:1"]);
    podman.load(&big);
    let tmp = d.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = kestrel(d)
        .env("CONTAINER_HOST", podman.url())
        .env("TMPDIR", &tmp)
        .args(["image", "podman:localhost/big:1", "--scanners", "none"])
        .args(["--max-total-bytes", "1000", "--max-metadata-bytes", "1000"])
        .output()
        .unwrap();
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("the archive is larger than 1053576 bytes") && e.contains("--max-total-bytes"), "{e}");
    // Within the transfer's bound but not the image's: the reader's limit, naming the image as it was asked for.
    let out = run(
        d,
        ("CONTAINER_HOST", podman.url()),
        &["image", "podman:localhost/big:1", "--scanners", "none", "--max-total-bytes", "10000000"],
    );
    let e = stderr(&out);
    assert!(e.contains("kestrel: error: podman:localhost/big:1: ") && e.contains("limit exceeded"), "{e}");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "something was written to {}", tmp.display());
}

#[test]
fn images_are_read_from_containers_storage_directly_as_the_archive_holds_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The app image and a third layer that deletes its `.env` (a whiteout the store keeps as a tar-split record).
    let mut img = image();
    img.layers.push(kestrel_testkit::layer_tar(&[Entry::Whiteout("app/.env".into())]));
    let archive = d.join("app.tar");
    img.write_docker_archive(&archive, &["localhost/shop/app:1.0"]);
    let podman = Podman::start();
    podman.load(&archive);
    let root = podman.graph_root();
    let from_archive = scan_archive(d, &archive, "secret");
    let at = |name: &str| format!("containers-storage:[vfs@{}]{name}", root.display());
    let scan = |name: &str, extra: &[&str]| {
        kestrel(d).args(["image", &at(name), "--scanners", "secret", "-f", "json"]).args(extra).output().unwrap()
    };

    // No engine runs for it (CONTAINER_HOST points nowhere): the store's files are read, each layer's tar put
    // together from its tar-split record and directory and checked against its diff id.
    let out = scan("localhost/shop/app:1.0", &["--no-cache"]);
    let sbom = json(&out);
    assert!(
        stderr(&out).contains(&format!("read localhost/shop/app:1.0 from {} (vfs)", root.display())),
        "{}",
        stderr(&out)
    );
    assert_eq!(purls(&sbom), purls(&from_archive));
    assert_eq!(sbom["target"]["image_id"], from_archive["target"]["image_id"]);
    assert_eq!(diff_ids(&sbom), diff_ids(&from_archive));
    assert_eq!(sbom["target"]["layers"].as_array().unwrap().len(), 3);
    assert_eq!(sbom["target"]["tags"][0], "localhost/shop/app:1.0");
    // The secret the third layer deleted is still found, in the second layer, as from the archive.
    assert_eq!(sbom["secrets"], from_archive["secrets"]);
    assert_eq!(sbom["secrets"].as_array().unwrap().len(), 1, "{}", sbom["secrets"]);
    // The manifest digest is the one the store recorded when the image came in, not one made up.
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("vfs-images/images.json")).unwrap()).unwrap();
    assert_eq!(sbom["target"]["manifest_digest"], stored[0]["digest"]);

    // A short name Podman completes, and the first digits of the id; then the cache answers without reading.
    let id = from_archive["target"]["image_id"].as_str().unwrap().trim_start_matches("sha256:");
    for name in ["shop/app:1.0", &id[..12]] {
        assert_eq!(purls(&json(&scan(name, &["--no-cache"]))), purls(&from_archive), "{name}");
    }
    assert!(!stderr(&scan("localhost/shop/app:1.0", &[])).contains("in the cache"), "the first scan that may keep it");
    let out = scan("shop/app:1.0", &[]);
    assert!(
        stderr(&out).contains("its inventory is in the cache") && !stderr(&out).contains("kestrel: read"),
        "{}",
        stderr(&out)
    );
    assert_eq!(purls(&json(&out)), purls(&from_archive));

    // A bare name with the default --image-src: no engine answers, the store storage.conf names has it.
    let conf = d.join("podman-storage.conf");
    std::fs::write(&conf, format!("[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\n", root.display())).unwrap();
    let out = kestrel(d)
        .env("CONTAINERS_STORAGE_CONF", &conf)
        .args(["image", "shop/app:1.0", "--scanners", "none", "-f", "json", "--no-cache"])
        .output()
        .unwrap();
    assert_eq!(purls(&json(&out)), purls(&from_archive));
    assert!(stderr(&out).contains(&format!("from {} (vfs)", root.display())), "{}", stderr(&out));

    // A name it does not hold: the store says what it holds.
    let out = scan("nothere:1", &["--no-cache"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no image named nothere:1 in this store; it holds localhost/shop/app:1.0"),
        "{}",
        stderr(&out)
    );

    // A file changed in the store after it was unpacked (same size, other bytes): its layer no longer hashes to the
    // diff id the configuration names, and the scan says so instead of reporting what is there now.
    let layer_dir = std::fs::read_dir(root.join("vfs/dir"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("etc/os-release").is_file() && !p.join("app").exists())
        .expect("the base layer's directory");
    let release = layer_dir.join("etc/os-release");
    let mut bytes = std::fs::read(&release).unwrap();
    bytes[3] ^= 0x20;
    std::fs::write(&release, &bytes).unwrap();
    let out = scan("localhost/shop/app:1.0", &["--no-cache"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("digest mismatch") && stderr(&out).contains("layer 0"), "{}", stderr(&out));
}

#[test]
fn an_overlay_store_reads_as_the_archive_holds_it() {
    // overlay: the driver Podman and CRI-O use by default, each layer's files in `overlay/<id>/diff`.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let archive = d.join("app.tar");
    image().write_docker_archive(&archive, &["localhost/shop/app:1.0"]);
    let podman = Podman::start_with_driver("overlay");
    podman.load(&archive);
    let root = podman.graph_root();
    assert!(root.join("overlay-images/images.json").is_file(), "an overlay store");
    let from_archive = scan_archive(d, &archive, "secret");
    let out = kestrel(d)
        .arg("image")
        .arg(format!("containers-storage:[{}]shop/app:1.0", root.display()))
        .args(["--scanners", "secret", "-f", "json", "--no-cache"])
        .output()
        .unwrap();
    let sbom = json(&out);
    assert!(stderr(&out).contains(&format!("from {} (overlay)", root.display())), "{}", stderr(&out));
    assert_eq!(purls(&sbom), purls(&from_archive));
    assert_eq!(diff_ids(&sbom), diff_ids(&from_archive));
    assert_eq!(sbom["secrets"], from_archive["secrets"]);
}

/// `kestrel watch --containers-storage`: a CRI-O node's (here Podman's) store watched directly — each image reported
/// to the server under each of its names, read once, and scanned again only when a name points at another image.
#[test]
fn the_watcher_scans_containers_storage_under_every_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (podman, _) = podman_with_app(d);
    podman.cli(&["tag", "localhost/shop/app:1.0", "localhost/shop/app:stable"]);
    let (_server, base, t) = common::start_server(d);
    let fixtures = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kestrel-vulndb/tests/fixtures/db");
    let k = || {
        let mut c = kestrel(d);
        c.env("KESTREL_DB_DIR", d.join("db")).env_remove("KESTREL_TOKEN");
        c
    };
    assert!(k().args(["db", "import"]).arg(fixtures.join("osv-PyPI.zip")).status().unwrap().success());
    let store = format!("[vfs@{}]", podman.graph_root().display());
    let watch = || {
        let out = k()
            .args(["watch", "--containers-storage", &store, "--once", "--state"])
            .arg(d.join("state"))
            .args(["--server", &base, "--server-token", &t[0]])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out)
    };
    let e = watch();
    let head = format!("watch containers-storage at {}: 1 drivers, 2 names: 2 scanned", podman.graph_root().display());
    assert!(e.contains(&head), "{e}");
    let reports = common::get(&base, "/api/v1/reports?kind=image", &t[2]);
    let mut subjects: Vec<&str> =
        reports["items"].as_array().unwrap().iter().map(|r| r["subject"].as_str().unwrap()).collect();
    subjects.sort();
    assert_eq!(subjects, ["localhost/shop/app:1.0", "localhost/shop/app:stable"], "{reports}");
    // Nothing changed: nothing read.
    assert!(watch().contains("0 scanned (new or changed), 0 queued, 0 matched again (database changed), 2 unchanged"));
    // `stable` moves to another image: that name alone is scanned again.
    let other = d.join("other.tar");
    kestrel_testkit::busybox().write_docker_archive(&other, &["localhost/shop/app:stable"]);
    podman.load(&other);
    let e = watch();
    assert!(
        e.contains("2 names: 1 scanned (new or changed), 0 queued, 0 matched again (database changed), 1 unchanged"),
        "{e}"
    );
}
