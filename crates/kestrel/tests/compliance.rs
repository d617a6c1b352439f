//! `kestrel compliance`: controls held against a scan, the HTML report rendered by a real browser (headless
//! Chromium from Debian, installed by scripts/setup) with a screenshot and a PDF print, JSON, and the CI gate.

use assert_cmd::Command;
use std::path::Path;

fn kestrel() -> Command {
    Command::cargo_bin("kestrel").unwrap()
}

const PRIVILEGED: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: bad, namespace: shop}\nspec:\n  containers:\n  - name: c\n    image: app:1.2\n    securityContext: {privileged: true, runAsUser: 1000}\n  hostIPC: true\n";

fn chromium(args: &[&str]) -> std::process::Output {
    let bin = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| std::process::Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()));
    let bin = bin.expect("chromium is not installed: run scripts/setup (Debian's chromium package)");
    std::process::Command::new(bin)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_report_with_evidence_rendered_by_a_real_browser_and_a_ci_gate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("k8s")).unwrap();
    std::fs::write(d.join("k8s/bad.yaml"), PRIVILEGED).unwrap();

    // JSON: each control's status and evidence.
    let out =
        kestrel().args(["compliance", "--spec", "cis-k8s-1.9", "-f", "json"]).arg(d.join("k8s")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "kestrel.compliance/v1");
    let status = |id: &str| v["controls"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()["status"].clone();
    assert_eq!(status("5.2.2"), "fail", "privileged");
    assert_eq!(status("5.2.4"), "fail", "hostIPC");
    assert_eq!(status("5.2.3"), "pass", "no hostPID: one Pod Security check, but the finding names its own item");
    assert_eq!(status("5.2.7"), "fail", "runAsNonRoot not set");
    assert_eq!(status("5.1.1"), "pass", "no cluster-admin binding among the files");
    assert_eq!(status("5.1.7"), "manual");
    let privileged = v["controls"].as_array().unwrap().iter().find(|c| c["id"] == "5.2.2").unwrap();
    assert_eq!(privileged["findings"][0]["line"], 8);
    // A spec about images, given only manifests: its Dockerfile controls are not evaluated, not passed.
    let out =
        kestrel().args(["compliance", "--spec", "cis-docker-1.6", "-f", "json"]).arg(d.join("k8s")).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let st = |id: &str| v["controls"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()["status"].clone();
    assert_eq!(st("4.7"), "not-evaluated");
    assert_eq!(st("5.5"), "fail", "a pod spec is a container runtime configuration");

    // HTML, rendered by Chromium: the DOM it builds has the counts, and the screenshot and the PDF exist.
    let html = d.join("report.html");
    kestrel()
        .args(["compliance", "--spec", "cis-k8s-1.9", "-f", "html", "-o"])
        .arg(&html)
        .arg(d.join("k8s"))
        .assert()
        .success();
    let url = format!("file://{}", html.display());
    let dom = chromium(&["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<b id=\"n-fail\">"), "{dom}");
    let fails = dom.matches("class=\"control fail\"").count();
    assert!(fails >= 4, "{fails} failing rows");
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compliance-report.png");
    let _ = std::fs::remove_file(&shot);
    let o = chromium(&[&format!("--screenshot={}", shot.display()), "--window-size=1280,1600", &url]);
    let png = std::fs::read(&shot).unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&o.stderr)));
    assert_eq!(&png[1..4], b"PNG");
    assert!(png.len() > 20_000, "a blank page? {} bytes", png.len());
    let pdf = d.join("report.pdf");
    chromium(&[&format!("--print-to-pdf={}", pdf.display()), "--no-pdf-header-footer", &url]);
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"), "printable");

    // The gate.
    kestrel().args(["compliance", "--spec", "cis-k8s-1.9", "--fail-on-fail"]).arg(d.join("k8s")).assert().code(1);
    let ok = d.join("ok");
    std::fs::create_dir_all(&ok).unwrap();
    std::fs::write(ok.join("role.yaml"), "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: shop}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [get]}]\n").unwrap();
    kestrel().args(["compliance", "--spec", "cis-k8s-1.9", "--fail-on-fail"]).arg(&ok).assert().code(0);
    // An unknown spec is an error naming the built-in ones.
    let out = kestrel().args(["compliance", "--spec", "nope"]).arg(&ok).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("cis-k8s-1.9"));
}

#[test]
fn hardcoded_credentials_fail_their_controls_from_files_images_and_secrets_reports() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let token = format!("ghp_{}", "Ab3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5");
    std::fs::create_dir_all(d.join("app")).unwrap();
    std::fs::write(d.join("app/settings.py"), format!("GITHUB_TOKEN = \"{token}\"\n")).unwrap();
    let control = |args: &[&str], spec: &str, id: &str| -> serde_json::Value {
        let out = kestrel().args(["compliance", "-f", "json", "--spec", spec]).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(!String::from_utf8_lossy(&out.stdout).contains(&token), "the secret leaked");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["controls"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone()
    };
    let app = d.join("app");
    let app = app.to_str().unwrap();

    // A directory: NIST SP 800-190 4.1.4 (embedded clear text secrets) fails, with the file and line.
    let c = control(&[app], "nist-800-190", "4.1.4");
    assert_eq!(c["status"], "fail", "{c}");
    assert_eq!(c["findings"][0]["id"], "secret:github-token");
    assert!(c["findings"][0]["file"].as_str().unwrap().ends_with("settings.py"));
    assert_eq!(c["findings"][0]["line"], 1);
    // Not looked for: nothing else in the directory is a 4.1.4 input, so the control is not evaluated.
    let c = control(&[app, "--no-secrets"], "nist-800-190", "4.1.4");
    assert_eq!(c["status"], "not-evaluated", "{c}");
    // Allowed by fingerprint: the control passes.
    let fp = control(&[app], "nist-800-190", "4.1.4")["findings"][0]["field"]
        .as_str()
        .unwrap()
        .trim_start_matches("fingerprint ")
        .to_string();
    let allow = d.join("allow.yaml");
    std::fs::write(&allow, format!("fingerprints: [\"{fp}\"]\n")).unwrap();
    let c = control(&[app, "--allow", allow.to_str().unwrap()], "nist-800-190", "4.1.4");
    assert_eq!(c["status"], "pass", "{c}");

    // An image: a credential a later layer deleted is still in the image, and fails PCI DSS 8.6.2.
    use kestrel_testkit::{Entry, Image};
    let img = Image::new(vec![
        vec![Entry::File("root/.git-credentials".into(), format!("https://me:{token}@github.com\n").into_bytes())],
        vec![Entry::Whiteout("root/.git-credentials".into())],
    ]);
    let archive = d.join("app.tar");
    img.write_docker_archive(&archive, &["app:1"]);
    let c = control(&["--image", archive.to_str().unwrap()], "pci-dss-4.0", "8.6.2");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["evidence"].as_str().unwrap().contains(".git-credentials"), "{c}");

    // A `kestrel secrets -f json` report as a result, alone.
    let report = d.join("secrets.json");
    kestrel().args(["secrets", "-f", "json", "-o"]).arg(&report).arg(app).assert().success();
    let c = control(&["--results", report.to_str().unwrap()], "cis-docker-1.6", "4.10");
    assert_eq!(c["status"], "fail", "{c}");
    std::fs::write(d.join("clean.py"), "print('hello')\n").unwrap();
    kestrel().args(["secrets", "-f", "json", "-o"]).arg(&report).arg(d.join("clean.py")).assert().success();
    let c = control(&["--results", report.to_str().unwrap()], "cis-docker-1.6", "4.10");
    assert_eq!(c["status"], "pass", "a secrets report with nothing in it is evidence: {c}");
    // Something that is neither report is refused, naming the file.
    std::fs::write(d.join("other.json"), "{\"schema\": \"something/v1\"}").unwrap();
    let out =
        kestrel().args(["compliance", "--spec", "hipaa", "--results"]).arg(d.join("other.json")).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("other.json: neither"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A gate that could judge nothing passes — said on stderr, so a CI log shows the wrong path or input.
#[test]
fn a_spec_nothing_could_be_evaluated_against_is_warned_of() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM debian:12\nUSER app\n").unwrap();
    let out = kestrel()
        .args(["compliance", "--spec", "pss-restricted", "--fail-on-fail", "-f", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: no control of pss-restricted could be evaluated: the scan had only dockerfile input"),
        "{err}"
    );
    // Judged, it says nothing of the kind.
    std::fs::write(
        dir.path().join("pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n",
    )
    .unwrap();
    let out =
        kestrel().args(["compliance", "--spec", "pss-restricted", "-f", "json"]).arg(dir.path()).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("could be evaluated"));
}
