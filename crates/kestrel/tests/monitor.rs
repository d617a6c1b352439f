//! `kestrel monitor` end to end (root and a BTF kernel: CI runs as root): a process in a runc-style cgroup
//! execs a known program and the JSON lines name it, attributed to its container; without privileges the
//! command says what is missing.

use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

fn cgroup2_root() -> std::path::PathBuf {
    kestrel_sensor::cgroup::cgroup2_root().expect("cgroup v2")
}

#[test]
fn monitor_prints_container_events_as_json_lines() {
    let parent = format!("kestrel-monitor-test-{}", std::process::id());
    let child = Command::new(assert_cmd::cargo::cargo_bin("kestrel"))
        .args(["monitor", "--runc-parent", &parent, "--duration", "4", "-f", "json", "--kind", "exec"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the sensor says it is watching.
    std::thread::sleep(Duration::from_millis(1500));
    let cg = cgroup2_root().join(&parent).join("web-1");
    std::fs::create_dir_all(&cg).unwrap();
    let script = format!("echo $$ > {}/cgroup.procs && /bin/echo monitor-marker > /dev/null", cg.display());
    assert!(Command::new("/bin/sh").arg("-c").arg(script).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir(&cg);
    let _ = std::fs::remove_dir(cgroup2_root().join(&parent));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let events: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(events.iter().all(|e| e["kind"] == "exec" && e["schema"] == "kestrel.event/v1"), "{events:#?}");
    let e = events
        .iter()
        .find(|e| e["argv"].as_array().is_some_and(|a| a.iter().any(|x| x == "monitor-marker")))
        .unwrap_or_else(|| panic!("no exec of the marker in {events:#?}\n{stderr}"));
    assert_eq!(e["container"]["id"], "web-1");
    assert_eq!(e["container"]["runtime"], "runc");
    assert_eq!(e["exe"], "/bin/echo");
}

#[test]
fn without_privileges_monitor_says_what_is_missing() {
    // As nobody, with no capabilities.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
        .arg(assert_cmd::cargo::cargo_bin("kestrel"))
        .args(["monitor", "--all", "--duration", "1"])
        .output()
        .expect("setpriv (util-linux)");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing privileges") && err.contains("CAP_BPF"), "{err}");
}
