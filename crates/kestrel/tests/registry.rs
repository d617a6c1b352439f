//! Scanning images straight from a registry: a real registry (Debian's docker-registry) demanding a password,
//! images pushed by skopeo, credentials from a Docker config file, and `kestrel image docker://…` pulling,
//! verifying and scanning them — the manifest digest is the one skopeo reports; a blob altered in the
//! registry's storage is refused.

use assert_cmd::cargo::CommandCargoExt;
use base64::Engine;
use kestrel_testkit::services::Registry;
use kestrel_testkit::{Entry, Image};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn log4j_image(dir: &Path, version: &str) -> PathBuf {
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
    let out = kestrel(&with, d).args(["image", &reference, "--scanners", "none", "-f", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
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
    assert_eq!(sbom["target"]["layers"].as_array().unwrap().len(), 2);
    // The manifest digest is the registry's, as skopeo sees it.
    let inspect = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--creds", "ci:s3cret", "--format", "{{.Digest}}", &reference])
        .output()
        .unwrap();
    let digest = String::from_utf8_lossy(&inspect.stdout).trim().to_string();
    assert!(digest.starts_with("sha256:"), "{}", String::from_utf8_lossy(&inspect.stderr));
    assert_eq!(sbom["target"]["manifest_digest"], digest.as_str());
    // By digest too.
    let by_digest = format!("docker://{host}/shop/app@{digest}");
    let out = kestrel(&with, d).args(["image", &by_digest, "--scanners", "none", "-f", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

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

    // A layer altered in the registry's storage: the pull refuses it.
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
    assert!(!out.status.success() && e.contains("hashes to") && e.contains(&layer[7..]), "{e}");
}
