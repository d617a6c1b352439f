//! `kestrel config` as a CI gate: formats, filters and exit codes over a directory of manifests.

use assert_cmd::Command;

fn kestrel() -> Command {
    Command::cargo_bin("kestrel").unwrap()
}

const PRIVILEGED: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        securityContext: {privileged: true}\n";

#[test]
fn the_gate_fails_on_findings_and_passes_when_filtered() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("k8s")).unwrap();
    std::fs::write(dir.path().join("k8s/web.yaml"), PRIVILEGED).unwrap();
    let k8s = dir.path().join("k8s");
    // No gate: exit 0, the finding in the table.
    let out = kestrel().arg("config").arg(&k8s).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("pss:baseline:privileged") && text.contains("line 10"), "{text}");
    // --fail-on high: exit 1; --exit-code 3 with it: 3.
    kestrel().arg("config").arg(&k8s).args(["--fail-on", "high"]).assert().code(1);
    kestrel().arg("config").arg(&k8s).args(["--fail-on", "high", "--exit-code", "3"]).assert().code(3);
    // Skipping the check (a glob) and everything below critical: the gate passes.
    kestrel().arg("config").arg(&k8s).args(["--fail-on", "high", "--skip", "pss:baseline:priv*"]).assert().code(0);
    kestrel().arg("config").arg(&k8s).args(["--fail-on", "critical"]).assert().code(0);
    // JSON: the documented shape.
    let out = kestrel().arg("config").arg(&k8s).args(["-f", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "kestrel.config/v1");
    assert_eq!((v["files"].as_u64(), v["objects"].as_u64()), (Some(1), Some(1)));
    let f = v["findings"].as_array().unwrap().iter().find(|f| f["id"] == "pss:baseline:privileged").unwrap().clone();
    assert_eq!(f["resource"], "Deployment shop/web");
    assert_eq!(f["line"], 10);
    // Standard input (Helm or kustomize output piped in), and a baseline-level report.
    let out = kestrel()
        .args(["config", "-", "-f", "json", "--pss-level", "baseline"])
        .write_stdin(PRIVILEGED)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let all: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert!(all.contains(&"pss:baseline:privileged"));
    assert!(!all.iter().any(|id| id.starts_with("pss:restricted:")), "{all:?}");
    // A path that does not exist is an error, not an empty report.
    kestrel().arg("config").arg(dir.path().join("nope")).assert().failure();
    // A file named that holds nothing to check (a compose file, a Dockerfile under another name) is said to; the
    // same file found in a directory is passed over quietly, and a checked file draws no warning.
    std::fs::write(dir.path().join("compose.yaml"), "services:\n  web: {image: nginx}\n").unwrap();
    let out = kestrel().arg("config").arg(dir.path().join("compose.yaml")).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("compose.yaml: nothing to check in it") && err.contains("Containerfile"), "{err}");
    for quiet in [dir.path().to_path_buf(), dir.path().join("k8s/web.yaml")] {
        let out = kestrel().arg("config").arg(&quiet).output().unwrap();
        assert!(!String::from_utf8_lossy(&out.stderr).contains("nothing to check"), "{quiet:?}");
    }
    // A directory with nothing kestrel checks in it: the table says so (it read "0 findings (none) in 0 objects of
    // 0 files").
    let empty = dir.path().join("docs");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("README.md"), "# docs\n").unwrap();
    let out = kestrel().args(["config", "-f", "table"]).arg(&empty).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.starts_with("nothing to check: no Kubernetes manifest"), "{text}");
}

#[test]
fn an_image_configuration_is_checked_without_reading_its_layers() {
    use kestrel_testkit::{Entry, Image};
    let dir = tempfile::tempdir().unwrap();
    let mut img = Image::new(vec![vec![Entry::File("etc/os-release".into(), b"ID=debian\n".to_vec())]]);
    let root = dir.path().join("root.tar");
    img.write_docker_archive(&root, &["app:root"]);
    img.user = Some("10001".into());
    let nonroot = dir.path().join("nonroot.tar");
    img.write_docker_archive(&nonroot, &["app:nonroot"]);
    let ids = |path: &std::path::Path| -> Vec<String> {
        let out = kestrel().args(["config", "-f", "json", "--image"]).arg(path).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&root), ["image:user-root", "image:no-healthcheck"]);
    assert_eq!(ids(&nonroot), ["image:no-healthcheck"]);
    // Not an image: a clear error.
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar").unwrap();
    kestrel().args(["config", "--image"]).arg(&junk).assert().failure();
}

#[test]
fn secrets_are_found_redacted_and_gate_a_build() {
    let dir = tempfile::tempdir().unwrap();
    let token = format!("ghp_{}", "Ab3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5");
    std::fs::write(dir.path().join("deploy.sh"), format!("#!/bin/sh\nexport GITHUB_TOKEN={token}\n")).unwrap();
    let out = kestrel().args(["secrets", "-f", "json"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(&token), "the secret leaked: {text}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "kestrel.secrets/v1");
    assert_eq!(v["findings"][0]["rule"], "github-token");
    assert_eq!(v["findings"][0]["line"], 2);
    kestrel().arg("secrets").arg(dir.path()).args(["--fail-on", "high"]).assert().code(1);
    // The table: the secret redacted, and a summary of files and bytes searched (a binary file is passed over).
    std::fs::write(dir.path().join("logo.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    let out = kestrel().arg("secrets").arg(dir.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(&token), "the secret leaked: {text}");
    let last = text.lines().last().unwrap_or_default();
    assert!(last.starts_with("1 finding (1 critical) in 2 files (1 binary or too large, skipped), "), "{text}");
    assert!(text.contains("secret:github-token                  GitHub token\n"), "{text}");
    let sarif = kestrel().arg("secrets").arg(dir.path()).args(["-f", "sarif"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&sarif.stdout).contains(&token));
}

#[test]
fn secrets_in_an_image_are_found_in_every_layer() {
    use kestrel_testkit::{Entry, Image};
    let dir = tempfile::tempdir().unwrap();
    let token = format!("glpat-{}", "x7Kq2Lm9Np4Rs8Tu1Vw6");
    let img = Image::new(vec![
        vec![Entry::File("root/.git-credentials".into(), format!("GITLAB={token}\n").into_bytes())],
        vec![Entry::Whiteout("root/.git-credentials".into())],
    ]);
    let archive = dir.path().join("app.tar");
    img.write_docker_archive(&archive, &["app:1"]);
    let out = kestrel().args(["secrets", "-f", "json", "--image"]).arg(&archive).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["rule"], "gitlab-token");
    assert!(f["layer"].as_str().unwrap().contains("deleted by a later layer"), "{f}");
    assert!(f["file"].as_str().unwrap().ends_with("app.tar!/root/.git-credentials"), "{f}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&token));
}

#[test]
fn a_secrets_allowlist_silences_known_test_keys() {
    let dir = tempfile::tempdir().unwrap();
    let token = format!("ghp_{}", "Ab3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5");
    std::fs::write(dir.path().join("ci.sh"), format!("TOKEN={token}\n")).unwrap();
    let out = kestrel().args(["secrets", "-f", "json"]).arg(dir.path()).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fp = v["findings"][0]["fingerprint"].as_str().unwrap().to_string();
    let allow = dir.path().join("allow.yaml");
    std::fs::write(&allow, format!("fingerprints: [\"{fp}\"]\n")).unwrap();
    let out = kestrel()
        .args(["secrets", "-f", "json", "--fail-on", "low", "--allow"])
        .arg(&allow)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "allowed: the gate passes");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 0);
    // The same secret on standard input is allowed the same way.
    let out = kestrel()
        .args(["secrets", "-f", "json", "--fail-on", "low", "--allow"])
        .arg(&allow)
        .arg("-")
        .write_stdin(format!("TOKEN={token}\n"))
        .output()
        .unwrap();
    assert!(out.status.success(), "allowed on standard input too: {}", String::from_utf8_lossy(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 0);
    let out = kestrel().args(["secrets", "-f", "json", "-"]).write_stdin(format!("TOKEN={token}\n")).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"][0]["file"], "(stdin)", "found there without the allowlist");
    std::fs::write(&allow, "fingerprint: [typo]\n").unwrap();
    kestrel().args(["secrets", "--allow"]).arg(&allow).arg(dir.path()).assert().failure();
}

/// A file named on the command line that cannot be checked fails the run with 2 after the report (which lists
/// it): a gate cannot pass on a manifest it never read. One found in a directory — a Helm chart's templates,
/// which are not YAML until rendered — is reported and the rest of the directory judged as before.
#[test]
fn a_named_file_that_cannot_be_checked_fails_the_run_one_in_a_directory_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("chart/templates")).unwrap();
    std::fs::write(d.join("chart/web.yaml"), PRIVILEGED).unwrap();
    let template = d.join("chart/templates/dep.yaml");
    std::fs::write(&template, "kind: Deployment\nmetadata:\n  labels:\n    {{- include \"x\" . | nindent 4 }}\n")
        .unwrap();
    let run = |args: &[&std::ffi::OsStr], stdin: &str| {
        kestrel().arg("config").args(args).args(["-f", "json"]).write_stdin(stdin).output().unwrap()
    };
    let chart = d.join("chart");
    let out = run(&[chart.as_os_str()], "");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(1), "{v:#}");
    let out = kestrel().arg("config").arg(&chart).args(["--fail-on", "high"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "the directory's findings still gate");
    // Named: the report is written, then exit 2 naming it.
    let out = run(&[template.as_os_str(), d.join("chart/web.yaml").as_os_str()], "");
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["findings"].as_array().unwrap().iter().any(|f| f["id"] == "pss:baseline:privileged"), "{v:#}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("not checked, the reason above: {}", template.display())), "{err}");
    // Standard input too; and compliance, which holds the same scan against a standard.
    assert_eq!(run(&[std::ffi::OsStr::new("-")], "a: [").status.code(), Some(2));
    assert_eq!(run(&[std::ffi::OsStr::new("-")], PRIVILEGED).status.code(), Some(0));
    let out = kestrel().args(["compliance", "--spec", "cis-k8s-1.9", "--no-secrets"]).arg(&template).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kestrel().args(["compliance", "--spec", "cis-k8s-1.9", "--no-secrets"]).arg(&chart).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A pipe named on the command line is read as the file it stands for — `kestrel config <(helm template …)`,
/// `kestrel secrets <(kubectl get secret -o yaml)` — where it once counted as nothing (0 files, exit 0: a gate
/// passed unread). A pipe met while walking a directory is passed over: nothing would ever write to it.
#[test]
fn a_pipe_named_on_the_command_line_is_read_one_in_a_directory_is_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = |name: &str| {
        let path = d.join(name);
        assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
        path
    };
    let feed = |path: std::path::PathBuf, text: &'static str| std::thread::spawn(move || std::fs::write(path, text));
    // A writer still waiting for a reader (kestrel never opened the pipe) is let go, so the test fails, not hangs.
    let release = |path: &std::path::Path| {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path);
    };
    let rendered = fifo("rendered.yaml");
    let writer = feed(rendered.clone(), PRIVILEGED);
    let out = kestrel().args(["config", "-f", "json", "--fail-on", "high"]).arg(&rendered).output().unwrap();
    release(&rendered);
    let _ = writer.join();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["files"].as_u64(), v["objects"].as_u64()), (Some(1), Some(1)), "{v:#}");
    let secret = fifo("secret.env");
    let writer = feed(secret.clone(), "token = \"ghp_4Gx7qLm2Zp9RtVb3Nc8Kd1Wy6Hs5Jf0Ae2Qu\"\n");
    let out = kestrel().args(["secrets", "-f", "json"]).arg(&secret).output().unwrap();
    release(&secret);
    let _ = writer.join();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"].as_array().map(Vec::len), Some(1), "{v:#}");
    // In a directory, beside a manifest: passed over, no hang (nothing writes to them now).
    std::fs::write(d.join("web.yaml"), PRIVILEGED).unwrap();
    for cmd in ["config", "secrets"] {
        let out = kestrel().args([cmd, "-f", "json"]).arg(d).timeout(std::time::Duration::from_secs(60)).output();
        let out = out.unwrap();
        assert_eq!(out.status.code(), Some(0), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
