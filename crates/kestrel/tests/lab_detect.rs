//! Detection on the lab end to end (root, runc, the real sensor; CI runs as root): a busybox workload's
//! normal load is recorded on two replicas and learned (`kestrel learn`), held-out normal load and two attack
//! scenarios are recorded, and `kestrel eval lab` must find both attacks — with the rules, and with the
//! learned profile alone — and raise no false alarm on the held-out normal load.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn lab(script: &str, args: &[&str], dir: &Path) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lab").join(script);
    let run = Command::new("bash")
        .arg(&path)
        .args(args)
        .env("KESTREL", assert_cmd::cargo::cargo_bin("kestrel"))
        .env("LAB_DIR", dir.join("lab"))
        .output()
        .unwrap();
    assert!(run.status.success(), "lab/{script} {args:?}: {}", String::from_utf8_lossy(&run.stderr));
}

#[test]
fn the_lab_attacks_are_detected_by_rules_and_by_the_learned_profile() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = |n: &str| -> PathBuf { d.join(n) };
    let s = |p: &PathBuf| p.to_str().unwrap().to_string();
    lab("normal.sh", &["busybox", "2", "25", &s(&file("learn.jsonl.zst"))], d);
    lab("normal.sh", &["busybox", "2", "15", &s(&file("heldout.jsonl.zst"))], d);
    for scenario in ["reverse-shell", "shadow-read"] {
        lab("run.sh", &[scenario, &s(&file(&format!("{scenario}.jsonl.zst")))], d);
    }
    let out = Command::new(assert_cmd::cargo::cargo_bin("kestrel"))
        .args(["eval", "lab", "-f", "json", "--learn"])
        .arg(file("learn.jsonl.zst"))
        .arg("--normal")
        .arg(file("heldout.jsonl.zst"))
        .arg(file("reverse-shell.jsonl.zst"))
        .arg(file("shadow-read.jsonl.zst"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["scenario_count"], 2, "{r:#}");
    for variant in ["rules", "profiles", "both"] {
        assert_eq!(r[format!("detected_{variant}")], 2, "{variant}: {r:#}");
    }
    // The profile's alarms name what was never seen.
    let rs = &r["scenarios"].as_array().unwrap().iter().find(|s| s["scenario"] == "reverse-shell").unwrap();
    assert!(rs["profiles"]["first"].as_str().is_some_and(|f| f.starts_with("model")), "{rs:#}");
    assert!(
        rs["rules"]["first"].as_str().is_some_and(|f| f.contains("Network tool") || f.contains("Reverse shell")),
        "{rs:#}"
    );
    // Quiet on normal load: the held-out recording and the scenarios' normal phases.
    let normal_false: u64 = r["normal"].as_object().unwrap().values().map(|v| v["both"].as_u64().unwrap()).sum();
    assert_eq!(normal_false, 0, "{r:#}");
    for s in r["scenarios"].as_array().unwrap() {
        assert_eq!(s["both"]["false_alarms"], 0, "{s:#}");
    }
}
