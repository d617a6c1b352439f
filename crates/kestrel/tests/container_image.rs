//! The kestrel container image (scripts/image, umoci): built from the test's own binary, scanned by kestrel
//! itself (its Debian libraries come out as packages; the configuration does not run as root), and run in a
//! real container with runc (root: CI runs as root; skipped with a message otherwise).

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_image_builds_scans_clean_of_root_and_runs_in_runc() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("image");
    let bin = assert_cmd::cargo::cargo_bin("kestrel");
    let out = Command::new(root().join("scripts/image"))
        .args(["--binary"])
        .arg(&bin)
        .arg("--out")
        .arg(&layout)
        .args(["--tag", "test"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));

    // kestrel scans its own image: the libraries it links, as Debian packages; the user is not root.
    let reference = format!("oci:{}:test", layout.display());
    let out = Command::cargo_bin("kestrel")
        .unwrap()
        .args(["image", &reference, "--scanners", "none", "-f", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sbom: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = sbom["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    for want in ["libc6", "libelf1", "zlib1g"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let out =
        Command::cargo_bin("kestrel").unwrap().args(["config", "-f", "json", "--image", &reference]).output().unwrap();
    let findings: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = findings["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert!(!ids.iter().any(|i| i.contains("root") || i.contains("user")), "{ids:?}");

    // It runs: unpacked by umoci into a runtime bundle, started by runc.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: the image is not run with runc (CI runs as root)");
        return;
    }
    let bundle = dir.path().join("bundle");
    let out = Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:test", layout.display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The image's binary has no debug sections (the build's has line tables), and keeps its symbols.
    let sections = |p: &std::path::Path| {
        let out = Command::new("readelf").args(["-S", "-W"]).arg(p).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(sections(&bin).contains(" .debug_line "), "the test's own build carries line tables");
    let shipped = sections(&bundle.join("rootfs/usr/local/bin/kestrel"));
    // (rustc's .debug_gdb_scripts is loaded with the program, not debug information: it stays.)
    assert!(!shipped.contains(" .debug_line ") && !shipped.contains(" .debug_info "), "{shipped}");
    assert!(shipped.contains(" .symtab "), "{shipped}");
    let config_path = bundle.join("config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    assert_eq!(config["process"]["user"]["uid"], 65532, "the image's user");
    config["process"]["args"] = serde_json::json!(["/usr/local/bin/kestrel", "--version"]);
    config["process"]["terminal"] = Value::Bool(false);
    std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
    let id = format!("kestrel-image-test-{}", std::process::id());
    let out = Command::new("runc").args(["run", "--bundle"]).arg(&bundle).arg(&id).output().unwrap();
    let _ = Command::new("runc").args(["delete", "--force", &id]).output();
    assert!(out.status.success(), "runc: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("kestrel {}", env!("CARGO_PKG_VERSION")));
}
