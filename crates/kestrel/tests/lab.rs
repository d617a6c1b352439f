//! A lab scenario end to end (root, runc, busybox: CI has them): `lab/run.sh shadow-read` records a real
//! container; the recording holds the attack marker, and the read of /etc/shadow comes after it and only
//! after it.

use std::process::Command;

#[test]
fn the_shadow_read_scenario_is_recorded_after_its_marker() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shadow.jsonl.zst");
    let lab = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lab/run.sh");
    let run = Command::new("bash")
        .arg(&lab)
        .arg("shadow-read")
        .arg(&out)
        .env("KESTREL", assert_cmd::cargo::cargo_bin("kestrel"))
        .env("LAB_DIR", dir.path().join("lab"))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let replay = Command::new(assert_cmd::cargo::cargo_bin("kestrel"))
        .args(["replay", "-f", "json"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(replay.status.success());
    let events: Vec<serde_json::Value> =
        String::from_utf8_lossy(&replay.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let marker = events
        .iter()
        .position(|e| {
            e["kind"] == "exec" && e["argv"].as_array().is_some_and(|a| a.iter().any(|x| x == "kestrel-attack-start"))
        })
        .expect("the attack marker");
    let shadow: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e["kind"] == "open" && e["path"] == "/etc/shadow")
        .map(|(i, _)| i)
        .collect();
    assert!(!shadow.is_empty(), "no read of /etc/shadow recorded");
    assert!(shadow.iter().all(|i| *i > marker), "a read of /etc/shadow before the attack");
    assert!(events.iter().all(|e| e["container"]["id"].as_str().is_some_and(|c| c.starts_with("lab-shadow-read"))));
}
