//! Vulnerability scanning end to end through the binary: the database built from real advisory data (the
//! fixtures of kestrel-vulndb), `db update` over real HTTP from a mirror served on the loopback interface,
//! findings in every output format, `--fail-on`, ignore files, VEX, `--offline`, and SBOM input.

use assert_cmd::Command;
use kestrel_testkit::{go_binary, Entry, Image};
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

mod common;
use common::serve_files;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kestrel-vulndb/tests/fixtures/db")
}

fn kestrel(db: &Path) -> Command {
    let mut c = Command::cargo_bin("kestrel").unwrap();
    c.env("SOURCE_DATE_EPOCH", "1763856000").env("KESTREL_DB_DIR", db).env_remove("KESTREL_SCANNERS");
    c.env("KESTREL_CACHE_DIR", db.join("sbom-cache"));
    c
}

/// A database with the fixture data.
fn db() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let f = fixtures();
    kestrel(d.path())
        .args(["db", "import"])
        .args(
            ["osv-PyPI.zip", "osv-Go.zip", "osv-AlmaLinux.zip", "DSA.list", "DLA.list", "kev.json"].map(|n| f.join(n)),
        )
        .assert()
        .success();
    // A single record, named as its ecosystem's source.
    kestrel(d.path()).args(["db", "import", "--source", "osv:Maven"]).arg(f.join("osv-log4j.json")).assert().success();
    d
}

/// A Debian 11 root file system with a vulnerable apache2, requests and a Go binary.
fn rootfs(dir: &Path) {
    let w = |p: &str, data: &[u8]| {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    };
    w("etc/os-release", b"ID=debian\nVERSION_ID=\"11\"\nPRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\n");
    w(
        "var/lib/dpkg/status",
        b"Package: apache2-bin\nStatus: install ok installed\nArchitecture: amd64\nSource: apache2\nVersion: 2.4.54-1~deb11u1\n\n\
Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.11.dfsg-2+deb11u2\n\n",
    );
    w(
        "usr/lib/python3/dist-packages/requests-2.19.0.dist-info/METADATA",
        b"Metadata-Version: 2.1\nName: requests\nVersion: 2.19.0\n",
    );
    w(
        "usr/local/bin/app",
        &go_binary("go1.22.1", "mod\texample.com/app\tv0.1.0\t\ndep\tgithub.com/gin-gonic/gin\tv1.9.0\th1:x=\n"),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("usr/local/bin/app"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn json(out: &[u8]) -> Value {
    serde_json::from_slice(out).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

fn finding_ids(report: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["package"].as_str().unwrap_or("").to_string(),
                f["id"].as_str().unwrap_or(f["kind"].as_str().unwrap()).to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn rootfs_scan_reports_findings_in_every_format() {
    let db = db();
    let root = tempfile::tempdir().unwrap();
    rootfs(root.path());
    let out = kestrel(db.path()).arg("rootfs").arg(root.path()).args(["-f", "json"]).assert().success();
    let r = json(&out.get_output().stdout);
    assert_eq!(r["schema"], "kestrel.report/v1");
    let ids = finding_ids(&r);
    for want in [
        ("apache2-bin", "CVE-2023-25690"),
        ("requests", "CVE-2018-18074"),
        ("github.com/gin-gonic/gin", "CVE-2023-29401"),
        ("", "end-of-life"),
    ] {
        assert!(ids.iter().any(|(p, i)| p == want.0 && i == want.1), "{want:?} missing from {ids:?}");
    }
    assert!(ids.iter().any(|(p, i)| p == "stdlib" && i.starts_with("CVE-")), "{ids:?}");
    assert!(!ids.iter().any(|(p, _)| p == "zlib1g"), "{ids:?}");
    assert_eq!(r["database"]["sources"].as_array().unwrap().len(), 7);
    // Findings are ordered by risk.
    let risks: Vec<u64> =
        r["findings"].as_array().unwrap().iter().map(|f| f["risk"]["score"].as_u64().unwrap()).collect();
    assert!(risks.windows(2).all(|w| w[0] >= w[1]), "{risks:?}");

    let table = kestrel(db.path()).arg("rootfs").arg(root.path()).args(["-f", "table"]).assert().success();
    let t = String::from_utf8_lossy(&table.get_output().stdout).to_string();
    assert!(
        t.contains("past its end of life") && t.contains("CVE-2023-25690") && t.contains("2.4.56-1~deb11u1"),
        "{t}"
    );

    let sarif = kestrel(db.path()).arg("rootfs").arg(root.path()).args(["-f", "sarif"]).assert().success();
    let s = json(&sarif.get_output().stdout);
    assert_eq!(s["version"], "2.1.0");
    assert_eq!(s["runs"][0]["results"].as_array().unwrap().len(), r["findings"].as_array().unwrap().len());

    let cdx = kestrel(db.path()).arg("rootfs").arg(root.path()).args(["-f", "cyclonedx"]).assert().success();
    let c = json(&cdx.get_output().stdout);
    assert!(c["vulnerabilities"].as_array().unwrap().iter().any(|v| v["id"] == "CVE-2023-25690"));

    // Filters: only critical findings; nothing without a fix.
    let out = kestrel(db.path())
        .arg("rootfs")
        .arg(root.path())
        .args(["-f", "json", "--severity", "critical"])
        .assert()
        .success();
    let r = json(&out.get_output().stdout);
    assert!(r["findings"].as_array().unwrap().iter().all(|f| f["severity"] == "critical"));
    let out =
        kestrel(db.path()).arg("rootfs").arg(root.path()).args(["-f", "json", "--ignore-unfixed"]).assert().success();
    let r = json(&out.get_output().stdout);
    assert!(r["findings"].as_array().unwrap().iter().all(|f| f["kind"] == "end-of-life" || f["state"] == "fixed"));

    // The inventory alone stays an SBOM.
    let out =
        kestrel(db.path()).arg("rootfs").arg(root.path()).args(["-f", "json", "--scanners", "none"]).assert().success();
    assert_eq!(json(&out.get_output().stdout)["schema"], "kestrel.sbom/v1");
}

/// An image layer: Debian 11 with a vulnerable apache2-bin.
fn debian_11_with_apache() -> Vec<Entry> {
    vec![
        Entry::File("etc/os-release".into(), b"ID=debian\nVERSION_ID=\"11\"\n".to_vec()),
        Entry::File(
            "var/lib/dpkg/status".into(),
            b"Package: apache2-bin\nStatus: install ok installed\nArchitecture: amd64\nSource: apache2\nVersion: 2.4.54-1~deb11u1\n\n".to_vec(),
        ),
    ]
}

#[test]
fn an_image_scan_names_the_layer_of_each_finding() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    let img = Image::new(vec![
        debian_11_with_apache(),
        vec![Entry::File(
            "app/requests-2.19.0.dist-info/METADATA".into(),
            b"Metadata-Version: 2.1\nName: requests\nVersion: 2.19.0\n".to_vec(),
        )],
    ]);
    let p = dir.path().join("img.tar");
    img.write_docker_archive(&p, &["app:1"]);
    let out = kestrel(db.path()).args(["image", "--input"]).arg(&p).args(["-f", "json"]).assert().success();
    let r = json(&out.get_output().stdout);
    let layers: Vec<&str> =
        r["target"]["layers"].as_array().unwrap().iter().map(|l| l["diff_id"].as_str().unwrap()).collect();
    let layer_of = |pkg: &str| {
        r["findings"].as_array().unwrap().iter().find(|f| f["package"] == pkg).unwrap()["layer"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(layer_of("requests"), layers[1]);
}

#[test]
fn an_spdx_or_cyclonedx_sbom_of_an_image_has_the_image_s_findings() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("img.tar");
    Image::new(vec![
        debian_11_with_apache(),
        vec![Entry::File(
            "app/requests-2.19.0.dist-info/METADATA".into(),
            b"Metadata-Version: 2.1\nName: requests\nVersion: 2.19.0\n".to_vec(),
        )],
    ])
    .write_docker_archive(&img, &["app:1"]);
    let ids = |r: &Value| {
        let mut v: Vec<String> =
            r["findings"].as_array().unwrap().iter().map(|f| format!("{} {}", f["package"], f["id"])).collect();
        v.sort();
        v
    };
    let scanned = json(
        &kestrel(db.path())
            .args(["image", "--input"])
            .arg(&img)
            .args(["-f", "json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert!(ids(&scanned).iter().any(|f| f.contains("CVE-2023-25690")), "{:?}", ids(&scanned));
    for format in ["spdx", "cyclonedx"] {
        let sbom = dir.path().join(format!("img.{format}.json"));
        kestrel(db.path())
            .args(["image", "--input"])
            .arg(&img)
            .args(["--scanners", "none", "-f", format, "-o"])
            .arg(&sbom)
            .assert()
            .success();
        let out = kestrel(db.path()).arg("sbom").arg(&sbom).args(["-f", "json"]).assert().success();
        assert_eq!(ids(&json(&out.get_output().stdout)), ids(&scanned), "{format}");
    }
    // kestrel's own report read back (matched again, as with a newer database): the warnings of the matching it
    // had then are dropped, the inventory's kept.
    let mut old = scanned.clone();
    let warnings = old.as_object_mut().unwrap().entry("warnings").or_insert(serde_json::json!([]));
    warnings.as_array_mut().unwrap().extend([
        serde_json::json!({"path": "/old/vulndb.sqlite", "message": "no advisories for Debian:12 in the vulnerability database: 9 packages not checked (kestrel db update --ecosystem \"Debian\", or kestrel db import its data)"}),
        serde_json::json!({"path": "/usr/bin/tool", "message": "example.com/tool (devel): not matched: a Go program built from a source tree has no version to compare"}),
        serde_json::json!({"path": "/app/broken/METADATA", "message": "not UTF-8 text"}),
    ]);
    let report = dir.path().join("img.kestrel.json");
    std::fs::write(&report, old.to_string()).unwrap();
    let again =
        json(&kestrel(db.path()).arg("sbom").arg(&report).args(["-f", "json"]).assert().success().get_output().stdout);
    assert_eq!(ids(&again), ids(&scanned));
    let said: Vec<&str> =
        again["warnings"].as_array().unwrap().iter().map(|w| w["message"].as_str().unwrap()).collect();
    assert!(said.contains(&"not UTF-8 text"), "{said:?}");
    assert!(!said.iter().any(|m| m.contains("Debian:12") || m.contains("(devel)")), "{said:?}");
}

#[test]
fn fail_on_ignore_files_and_vex() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    let sbom = dir.path().join("app.cdx.json");
    std::fs::write(
        &sbom,
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
            {"type":"library","name":"log4j-core","purl":"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"},
            {"type":"library","name":"requests","purl":"pkg:pypi/requests@2.19.0"}]}"#,
    )
    .unwrap();
    // Log4Shell is critical: --fail-on critical exits with 1, --fail-on is not given: 0.
    let out = kestrel(db.path()).arg("sbom").arg(&sbom).args(["-f", "json", "--fail-on", "critical"]).assert().code(1);
    let r = json(&out.get_output().stdout);
    let top = &r["findings"][0];
    assert_eq!(top["id"], "CVE-2021-44228");
    assert_eq!(top["known_exploited"], true);
    assert_eq!(top["fixed_version"], "2.15.0");
    kestrel(db.path()).arg("sbom").arg(&sbom).args(["-f", "json"]).assert().success();
    // --exit-code alone fails on any finding; --severity narrows what counts.
    kestrel(db.path()).arg("sbom").arg(&sbom).args(["-f", "json", "--exit-code", "3"]).assert().code(3);
    kestrel(db.path())
        .arg("sbom")
        .arg(&sbom)
        .args(["-f", "json", "--exit-code", "3", "--severity", "low"])
        .assert()
        .success();

    // An ignore entry with a reason silences it; an expired one does not, and says so.
    let ignore = dir.path().join("ignore.yaml");
    std::fs::write(
        &ignore,
        "ignore:\n  - id: GHSA-jfh8-c2jp-5v3q\n    reason: JNDI lookups disabled by flag\n    expires: 2999-01-01\n",
    )
    .unwrap();
    let out = kestrel(db.path())
        .arg("sbom")
        .arg(&sbom)
        .args(["-f", "json", "--fail-on", "critical", "--ignore-file"])
        .arg(&ignore)
        .assert()
        .success();
    let r = json(&out.get_output().stdout);
    assert_eq!(r["suppressed"][0]["id"], "CVE-2021-44228");
    assert!(r["suppressed"][0]["reason"].as_str().unwrap().contains("JNDI lookups disabled by flag"));
    std::fs::write(&ignore, "ignore:\n  - id: CVE-2021-44228\n    reason: old decision\n    expires: 2020-01-01\n")
        .unwrap();
    let out = kestrel(db.path())
        .arg("sbom")
        .arg(&sbom)
        .args(["-f", "json", "--fail-on", "critical", "--ignore-file"])
        .arg(&ignore)
        .assert()
        .code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("expired on 2020-01-01"));
    std::fs::write(&ignore, "ignore:\n  - id: CVE-2021-44228\n").unwrap();
    let out = kestrel(db.path()).arg("sbom").arg(&sbom).arg("--ignore-file").arg(&ignore).assert().code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("ignore.yaml"));

    // VEX: not_affected for this product.
    let vex = dir.path().join("app.vex.json");
    std::fs::write(
        &vex,
        r#"{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex/1","author":"sec","timestamp":"2026-11-01T00:00:00Z","version":1,
           "statements":[{"vulnerability":{"name":"CVE-2021-44228"},"products":[{"@id":"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}],
           "status":"not_affected","justification":"vulnerable_code_not_in_execute_path"}]}"#,
    )
    .unwrap();
    let out = kestrel(db.path())
        .arg("sbom")
        .arg(&sbom)
        .args(["-f", "json", "--fail-on", "critical", "--vex"])
        .arg(&vex)
        .assert()
        .success();
    let r = json(&out.get_output().stdout);
    assert!(r["suppressed"][0]["reason"].as_str().unwrap().contains("VEX not_affected"));
}

#[test]
fn sbom_round_trip_gives_the_same_findings() {
    let db = db();
    let root = tempfile::tempdir().unwrap();
    rootfs(root.path());
    let direct = kestrel(db.path()).arg("rootfs").arg(root.path()).args(["-f", "json"]).assert().success();
    let direct = finding_ids(&json(&direct.get_output().stdout));
    let dir = tempfile::tempdir().unwrap();
    let cdx = dir.path().join("sbom.cdx.json");
    kestrel(db.path())
        .arg("rootfs")
        .arg(root.path())
        .args(["-f", "cyclonedx", "--scanners", "none", "-o"])
        .arg(&cdx)
        .assert()
        .success();
    let via = kestrel(db.path()).arg("sbom").arg(&cdx).args(["-f", "json"]).assert().success();
    assert_eq!(finding_ids(&json(&via.get_output().stdout)), direct);
    // From standard input too.
    let bytes = std::fs::read(&cdx).unwrap();
    let via = kestrel(db.path()).args(["sbom", "-", "-f", "json"]).write_stdin(bytes).assert().success();
    assert_eq!(finding_ids(&json(&via.get_output().stdout)), direct);
}

#[test]
fn offline_without_a_database_fails_clearly() {
    let empty = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    rootfs(root.path());
    let out = kestrel(&empty.path().join("db")).arg("rootfs").arg(root.path()).arg("--offline").assert().code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("no vulnerability database") && err.contains("--offline") && err.contains("kestrel db update"),
        "{err}"
    );
}

#[test]
fn a_first_scan_downloads_the_database_and_says_so_when_it_cannot() {
    // Nothing listens on this loopback port: the download fails at once, and the message says what to do.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let empty = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    rootfs(root.path());
    let out = kestrel(&empty.path().join("db"))
        .arg("rootfs")
        .arg(root.path())
        .env("KESTREL_DB_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("NO_PROXY", "127.0.0.1")
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("downloading it") && err.contains("kestrel db import") && err.contains("--scanners none"),
        "{err}"
    );
    assert!(!empty.path().join("db/vulndb.sqlite").exists());
}

#[test]
fn db_status_and_show() {
    let db = db();
    let out = kestrel(db.path()).args(["db", "status", "-f", "json"]).assert().success();
    let s = json(&out.get_output().stdout);
    let names: Vec<&str> = s["sources"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["debian-tracker:DLA", "debian-tracker:DSA", "kev", "osv:AlmaLinux", "osv:Go", "osv:Maven", "osv:PyPI"]
    );
    assert_eq!(s["sources"][4]["withdrawn"], 2);
    // The table: times to the second, every row's columns where the header's are.
    let out = kestrel(db.path()).args(["db", "status"]).assert().success();
    let t = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let header = t.lines().find(|l| l.starts_with("SOURCE")).unwrap();
    let rows: Vec<&str> = t.lines().filter(|l| l.starts_with("osv:") || l.starts_with("debian-tracker:")).collect();
    assert_eq!(rows.len(), 6, "{t}");
    let newest = header.find("NEWEST RECORD").unwrap();
    for r in rows {
        let under = r.get(newest - 1..newest + 1).unwrap_or_default();
        assert!(
            under.starts_with(' ') && under[1..].starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == 'u'),
            "{r:?} under {header:?}"
        );
        // Go's export dates every record 0001-01-01, a placeholder: not shown as the newest record's date.
        assert_eq!(r.starts_with("osv:Go "), r[newest..].starts_with("unknown "), "{r}");
        let imported = &r[header.find("IMPORTED").unwrap()..][..20];
        assert!(imported.ends_with('Z') && !imported.contains('.'), "{imported:?} in {r:?}");
    }
    let out = kestrel(db.path()).args(["db", "show", "CVE-2018-18074"]).assert().success();
    let t = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(t.contains("PYSEC-2018-28"), "{t}");
    kestrel(db.path()).args(["db", "show", "CVE-1999-99999"]).assert().code(2);
    // Importing something that is not vulnerability data names the file.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.txt");
    std::fs::write(&junk, "hello").unwrap();
    let out = kestrel(db.path()).args(["db", "import"]).arg(&junk).assert().code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("junk.txt: not a kind of vulnerability data"));
    // An advisory's text is data from elsewhere: shown with what a terminal would obey escaped; JSON exact.
    let record = dir.path().join("hostile.json");
    let summary = "boom \u{1b}]0;owned\u{7}\u{1b}[2J";
    let doc = serde_json::json!({"id": "KESTREL-TEST-1", "summary": summary, "affected": [{"package":
        {"ecosystem": "PyPI", "name": "x"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]}]});
    std::fs::write(&record, doc.to_string()).unwrap();
    kestrel(db.path()).args(["db", "import", "--source", "hostile"]).arg(&record).assert().success();
    let out = kestrel(db.path()).args(["db", "show", "KESTREL-TEST-1"]).assert().success();
    let t = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(t.contains("summary:   boom \\u{1b}]0;owned\\u{7}\\u{1b}[2J"), "{t}");
    assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
    let out = kestrel(db.path()).args(["db", "show", "KESTREL-TEST-1", "-f", "json"]).assert().success();
    assert_eq!(json(&out.get_output().stdout)[0]["summary"], summary);
}

#[test]
fn db_update_from_a_mirror_swaps_atomically() {
    let f = fixtures();
    let files = vec![
        ("/PyPI/all.zip".to_string(), std::fs::read(f.join("osv-PyPI.zip")).unwrap()),
        ("/Go/all.zip".to_string(), std::fs::read(f.join("osv-Go.zip")).unwrap()),
        ("/kev.json".to_string(), std::fs::read(f.join("kev.json")).unwrap()),
    ];
    let base = serve_files(files.clone(), vec![], 3);
    let d = tempfile::tempdir().unwrap();
    kestrel(d.path())
        .args([
            "db",
            "update",
            "--base-url",
            &base,
            "--ecosystem",
            "PyPI",
            "--ecosystem",
            "Go",
            "--kev-url",
            &format!("{base}/kev.json"),
        ])
        .env("NO_PROXY", "127.0.0.1")
        .assert()
        .success();
    let status =
        |d: &Path| json(&kestrel(d).args(["db", "status", "-f", "json"]).assert().success().get_output().stdout);
    let before = status(d.path());
    let names: Vec<&str> = before["sources"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["kev", "osv:Go", "osv:PyPI"]);
    assert_eq!(before["sources"][2]["location"], format!("{base}/PyPI/all.zip"));
    assert_eq!(before["sources"][2]["records"], 32);

    // The second update's download is cut short: it fails, naming the URL, and the database stays as it was.
    let base2 = serve_files(files, vec!["/Go/all.zip".into()], 2);
    let out = kestrel(d.path())
        .args(["db", "update", "--base-url", &base2, "--ecosystem", "PyPI", "--ecosystem", "Go", "--no-kev"])
        .env("NO_PROXY", "127.0.0.1")
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("/Go/all.zip") && err.contains("previous one is unchanged"), "{err}");
    assert_eq!(status(d.path()), before);
    let leftovers: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, [std::ffi::OsString::from("vulndb.sqlite")]);

    // A mirror without the file: a clear 404.
    let base3 = serve_files(vec![], vec![], 1);
    let out = kestrel(d.path())
        .args(["db", "update", "--base-url", &base3, "--ecosystem", "npm", "--no-kev"])
        .env("NO_PROXY", "127.0.0.1")
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("404"));
}

#[test]
fn an_old_database_is_named_in_a_warning() {
    let d = tempfile::tempdir().unwrap();
    let mut w = kestrel_vulndb::store::Writer::begin(d.path()).unwrap();
    kestrel_vulndb::import::import(&mut w, &fixtures().join("osv-PyPI.zip"), None, None).unwrap();
    w.commit("2020-01-01T00:00:00Z").unwrap();
    let root = tempfile::tempdir().unwrap();
    rootfs(root.path());
    let out = kestrel(d.path()).arg("rootfs").arg(root.path()).args(["-f", "json"]).assert().success();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("database is")
            && err.contains("days old (built 2020-01-01T00:00:00Z)")
            && err.contains("kestrel db update"),
        "{err}"
    );
    // A larger --max-db-age accepts it.
    let out = kestrel(d.path())
        .arg("rootfs")
        .arg(root.path())
        .args(["-f", "json", "--max-db-age", "100000"])
        .assert()
        .success();
    assert!(!String::from_utf8_lossy(&out.get_output().stderr).contains("days old"));
}

/// An image holding known vulnerable versions yields exactly the expected advisories and nothing else. The
/// expected records were computed independently of kestrel (scripts/fixtures/expected-matches.py): apache2
/// 2.4.54-1~deb11u1 on bullseye is fixed by DSA-5376-1 (five CVEs); requests 2.19.0 is affected by
/// PYSEC-2018-28 (CVE-2018-18074) and PYSEC-2023-74 (CVE-2023-32681); zlib 1:1.2.11.dfsg-2+deb11u2 and
/// Jinja2 3.1.3 by nothing in the data; Debian 11 is past its end of life.
#[test]
fn an_image_with_known_vulnerable_versions_yields_exactly_the_expected_findings() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    let meta = |n: &str, v: &str| format!("Metadata-Version: 2.1\nName: {n}\nVersion: {v}\n").into_bytes();
    let img = Image::new(vec![
        vec![
            Entry::File("etc/os-release".into(), b"ID=debian\nVERSION_ID=\"11\"\nVERSION_CODENAME=bullseye\n".to_vec()),
            Entry::File(
                "var/lib/dpkg/status".into(),
                b"Package: apache2-bin\nStatus: install ok installed\nArchitecture: amd64\nSource: apache2\nVersion: 2.4.54-1~deb11u1\n\n\
Package: apache2-data\nStatus: install ok installed\nArchitecture: all\nSource: apache2\nVersion: 2.4.54-1~deb11u1\n\n\
Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.11.dfsg-2+deb11u2\n\n"
                    .to_vec(),
            ),
        ],
        vec![
            Entry::File("usr/local/lib/python3.9/site-packages/requests-2.19.0.dist-info/METADATA".into(), meta("requests", "2.19.0")),
            Entry::File("usr/local/lib/python3.9/site-packages/Jinja2-3.1.3.dist-info/METADATA".into(), meta("Jinja2", "3.1.3")),
        ],
    ]);
    let p = dir.path().join("img.tar");
    img.write_docker_archive(&p, &["app:1"]);
    let out = kestrel(db.path()).args(["image", "--input"]).arg(&p).args(["-f", "json"]).assert().success();
    let r = json(&out.get_output().stdout);
    let got = finding_ids(&r);
    let mut want: Vec<(String, String)> = Vec::new();
    for pkg in ["apache2-bin", "apache2-data"] {
        for cve in ["CVE-2006-20001", "CVE-2022-36760", "CVE-2022-37436", "CVE-2023-25690", "CVE-2023-27522"] {
            want.push((pkg.into(), cve.into()));
        }
    }
    want.push(("requests".into(), "CVE-2018-18074".into()));
    want.push(("requests".into(), "CVE-2023-32681".into()));
    want.push(("".into(), "end-of-life".into()));
    want.sort();
    assert_eq!(got, want);
    // Each finding names the records behind it.
    let aliases = |id: &str, pkg: &str| -> Vec<String> {
        let f = r["findings"].as_array().unwrap().iter().find(|f| f["id"] == id && f["package"] == pkg).unwrap();
        f["aliases"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect()
    };
    assert!(aliases("CVE-2023-25690", "apache2-bin").contains(&"DSA-5376-1".to_string()));
    assert!(aliases("CVE-2018-18074", "requests").contains(&"PYSEC-2018-28".to_string()));
    assert!(aliases("CVE-2023-32681", "requests").contains(&"PYSEC-2023-74".to_string()));
}

#[test]
fn image_and_rootfs_scans_find_secrets_in_every_layer_cached_gated_and_allowed() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    let token = format!("glpat-{}", "x7Kq2Lm9Np4Rs8Tu1Vw6");
    let img = Image::new(vec![
        debian_11_with_apache(),
        vec![Entry::File("root/.git-credentials".into(), format!("GITLAB={token}\n").into_bytes())],
        vec![Entry::Whiteout("root/.git-credentials".into())],
    ]);
    let p = dir.path().join("img.tar");
    img.write_docker_archive(&p, &["app:1"]);
    let scan = |args: &[&str]| {
        let out = kestrel(db.path()).args(["image", "--input"]).arg(&p).args(args).output().unwrap();
        assert!(!String::from_utf8_lossy(&out.stdout).contains(&token), "the secret leaked");
        out
    };

    // The default scanners: vulnerabilities and secrets, in one read of the layers.
    let out = scan(&["-f", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json(&out.stdout);
    assert!(!r["findings"].as_array().unwrap().is_empty(), "apache2's vulnerabilities");
    let s = &r["secrets"][0];
    assert_eq!(s["rule"], "gitlab-token", "{r}");
    assert_eq!(s["file"], "/root/.git-credentials");
    assert!(s["layer"].as_str().unwrap().contains("deleted by a later layer"), "{s}");
    // Again, from the cache (which kept the secrets): the same.
    let again = json(&scan(&["-f", "json"]).stdout);
    assert_eq!(again["secrets"], r["secrets"]);
    // A cache entry made without the secret scanner does not answer a scan that wants it.
    let only_vulns = json(&scan(&["-f", "json", "--scanners", "vuln", "--no-cache"]).stdout);
    assert!(only_vulns.get("secrets").is_none());
    std::fs::remove_dir_all(db.path().join("sbom-cache")).unwrap();
    let _ = scan(&["-f", "json", "--scanners", "vuln"]);
    let after = json(&scan(&["-f", "json"]).stdout);
    assert_eq!(after["secrets"], r["secrets"]);

    // The secret scanner alone: a report without a database, gated, in SARIF and the table.
    let out = scan(&["-f", "json", "--scanners", "secret", "--fail-on", "high"]);
    assert_eq!(out.status.code(), Some(1), "a high secret fails the gate");
    let r = json(&out.stdout);
    assert_eq!(r["schema"], "kestrel.report/v1");
    assert!(r.get("database").is_none() && r["findings"].as_array().unwrap().is_empty());
    assert_eq!(r["secrets"][0]["rule"], "gitlab-token");
    let sarif = json(&scan(&["-f", "sarif", "--scanners", "secret"]).stdout);
    let res = &sarif["runs"][0]["results"][0];
    assert_eq!(res["ruleId"], "secret:gitlab-token");
    assert_eq!(res["locations"][0]["physicalLocation"]["region"]["startLine"], 1);
    let table = String::from_utf8(scan(&["-f", "table", "--scanners", "secret"]).stdout).unwrap();
    assert!(table.contains("Secrets: 1") && table.contains("gitlab-token"), "{table}");
    // Allowed by rule: the gate passes.
    let allow = dir.path().join("allow.yaml");
    std::fs::write(&allow, "rules: [gitlab-token]\n").unwrap();
    let out =
        scan(&["-f", "json", "--scanners", "secret", "--fail-on", "high", "--secrets-allow", allow.to_str().unwrap()]);
    assert!(out.status.success(), "allowed, from the cache too");
    assert!(json(&out.stdout).get("secrets").is_none());
    let out = scan(&["-f", "json", "--scanners", "secret", "--no-cache", "--secrets-allow", allow.to_str().unwrap()]);
    assert!(json(&out.stdout).get("secrets").is_none(), "allowed, read again");

    // A root file system directory: the same scanner, over the files on disk.
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("srv")).unwrap();
    std::fs::write(root.join("srv/deploy.sh"), format!("export GITLAB_TOKEN={token}\n")).unwrap();
    let out = kestrel(db.path()).args(["rootfs", "-f", "json", "--scanners", "secret"]).arg(&root).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json(&out.stdout);
    assert_eq!(r["secrets"][0]["file"], "/srv/deploy.sh", "{r}");
    assert!(r["secrets"][0].get("layer").is_none());
}

/// A machine with no way out and no server: `kestrel db export` on a connected one, the file carried over,
/// `kestrel db import FILE` replaces the database whole — only a database kestrel wrote, alone, and a refused one
/// leaves the database there as it was.
#[test]
fn a_whole_database_is_exported_and_imported() {
    let connected = tempfile::tempdir().unwrap();
    let gapped = tempfile::tempdir().unwrap();
    let f = fixtures();
    kestrel(connected.path())
        .args(["db", "import"])
        .arg(f.join("osv-PyPI.zip"))
        .arg(f.join("DSA.list"))
        .assert()
        .success();
    let file = connected.path().join("kestrel-db.sqlite.zst");
    let out = kestrel(connected.path()).args(["db", "export"]).arg(&file).assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("`kestrel db import"));
    let db = connected.path().join("vulndb.sqlite");
    assert!(std::fs::metadata(&file).unwrap().len() * 2 < std::fs::metadata(&db).unwrap().len(), "compressed");

    kestrel(gapped.path()).args(["db", "import"]).arg(f.join("DLA.list")).assert().success();
    let status = |d: &Path| {
        let v = json(&kestrel(d).args(["db", "status", "-f", "json"]).assert().success().get_output().stdout);
        let names: Vec<String> =
            v["sources"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect();
        names
    };
    assert_eq!(status(gapped.path()), ["debian-tracker:DLA"]);
    // Not with other files, not under another source name.
    let out = kestrel(gapped.path()).args(["db", "import"]).arg(&file).arg(f.join("kev.json")).assert().code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("import it alone"));
    let out = kestrel(gapped.path()).args(["db", "import", "--source", "x"]).arg(&file).assert().code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("no --source"));
    // A database with a trigger slipped in (uncompressed this time) is refused, naming the file.
    let bad = gapped.path().join("bad.sqlite");
    std::fs::copy(&db, &bad).unwrap();
    rusqlite::Connection::open(&bad).unwrap().execute_batch("CREATE VIEW v AS SELECT 1;").unwrap();
    let out = kestrel(gapped.path()).args(["db", "import"]).arg(&bad).assert().code(2);
    let e = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(e.contains("bad.sqlite") && e.contains("view `v`") && e.contains("is unchanged"), "{e}");
    assert_eq!(status(gapped.path()), ["debian-tracker:DLA"]);
    // The exported one replaces it whole, byte for byte.
    kestrel(gapped.path()).args(["db", "import"]).arg(&file).assert().success();
    assert_eq!(status(gapped.path()), ["debian-tracker:DSA", "osv:PyPI"]);
    assert_eq!(std::fs::read(gapped.path().join("vulndb.sqlite")).unwrap(), std::fs::read(&db).unwrap());
    let names: Vec<String> = std::fs::read_dir(gapped.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}
