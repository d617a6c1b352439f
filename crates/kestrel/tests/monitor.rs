//! `kestrel monitor` end to end (root and a BTF kernel: CI runs as root): a process in a runc-style cgroup
//! execs a known program and the JSON lines name it, attributed to its container; without privileges the
//! command says what is missing.

use serde_json::Value;
use std::process::{Command, Stdio};

fn cgroup2_root() -> std::path::PathBuf {
    kestrel_sensor::cgroup::cgroup2_root().expect("cgroup v2")
}

/// Waits until the child says it is watching (the sensor is attached), and returns the rest of its stderr
/// through a thread.
fn wait_watching(child: &mut std::process::Child) -> std::thread::JoinHandle<String> {
    use std::io::BufRead;
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    loop {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap() == 0 {
            panic!("the sensor did not start: {first}");
        }
        first.push_str(&line);
        if line.contains("watching") {
            break;
        }
    }
    std::thread::spawn(move || {
        let mut rest = first;
        let _ = std::io::Read::read_to_string(&mut err, &mut rest);
        rest
    })
}

/// A shell that moves itself into the cgroup `parent/name` (a runc-style container to kestrel) and runs
/// `/bin/echo MARKER` there; returns the cgroup.
fn echo_in_container(parent: &str, name: &str, marker: &str) -> std::path::PathBuf {
    let cg = cgroup2_root().join(parent).join(name);
    std::fs::create_dir_all(&cg).unwrap();
    let script = format!("echo $$ > {}/cgroup.procs && /bin/echo {marker} > /dev/null", cg.display());
    assert!(Command::new("/bin/sh").arg("-c").arg(script).status().unwrap().success());
    cg
}

/// Removes what `echo_in_container` made (its process has exited).
fn remove_container(parent: &str, cg: &std::path::Path) {
    let _ = std::fs::remove_dir(cg);
    let _ = std::fs::remove_dir(cgroup2_root().join(parent));
}

/// Once `child` (a `kestrel monitor -f json` running for a few seconds) watches, a container `parent/name` echoes
/// `marker`; returns the event of that exec and every event the monitor printed.
fn marker_exec(mut child: std::process::Child, parent: &str, name: &str, marker: &str) -> (Value, Vec<Value>) {
    let stderr = wait_watching(&mut child);
    let cg = echo_in_container(parent, name, marker);
    let out = child.wait_with_output().unwrap();
    remove_container(parent, &cg);
    let stderr = stderr.join().unwrap();
    assert!(out.status.success(), "{stderr}");
    let events: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let e = events
        .iter()
        .find(|e| e["argv"].as_array().is_some_and(|a| a.iter().any(|x| x == marker)))
        .unwrap_or_else(|| panic!("no exec of the marker in {events:#?}\n{stderr}"))
        .clone();
    (e, events)
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
    let (e, events) = marker_exec(child, &parent, "web-1", "monitor-marker");
    assert!(events.iter().all(|e| e["kind"] == "exec" && e["schema"] == "kestrel.event/v1"), "{events:#?}");
    assert_eq!(e["container"]["id"], "web-1");
    assert_eq!(e["container"]["runtime"], "runc");
    assert_eq!(e["exe"], "/bin/echo");
}

/// `--host-root`: the runtimes' state is the node's, read below the root it is seen at (an agent in a pod sees the
/// node's at /proc/1/root; here a directory laid out as a node's). One that cannot be read is said at the start.
#[test]
fn the_runtimes_state_is_read_below_the_host_root() {
    let parent = format!("kestrel-hostroot-test-{}", std::process::id());
    let node = tempfile::tempdir().unwrap();
    let at = |p: &str| node.path().join(p);
    std::fs::create_dir_all(at("run/runc/web-2")).unwrap();
    std::fs::create_dir_all(at("bundles/web-2")).unwrap();
    std::fs::write(at("run/runc/web-2/state.json"), r#"{"config":{"labels":["bundle=/bundles/web-2"]}}"#).unwrap();
    std::fs::write(
        at("bundles/web-2/config.json"),
        r#"{"annotations":{"io.kubernetes.cri.image-name":"registry.example/shop/web:2"}}"#,
    )
    .unwrap();
    let monitor = |host_root: &std::path::Path| {
        Command::new(assert_cmd::cargo::cargo_bin("kestrel"))
            .args(["monitor", "--runc-parent", &parent, "--duration", "4", "-f", "json", "--kind", "exec"])
            .arg("--host-root")
            .arg(host_root)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (e, _) = marker_exec(monitor(node.path()), &parent, "web-2", "hostroot-marker");
    assert_eq!(e["container"]["id"], "web-2");
    assert_eq!(e["container"]["image"], "registry.example/shop/web:2", "{e}");

    let mut child = monitor(&node.path().join("absent"));
    let stderr = wait_watching(&mut child);
    let _ = child.kill();
    let _ = child.wait();
    let stderr = stderr.join().unwrap();
    assert!(
        stderr.contains("absent: No such file or directory") && stderr.contains("cannot be read there"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_event_kind_is_refused_with_the_known_ones() {
    // A typo must not filter every event out in silence.
    let out = Command::new(assert_cmd::cargo::cargo_bin("kestrel"))
        .args(["monitor", "--duration", "1", "--kind", "exec,dups"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'dups'") && err.contains("dup") && err.contains("userfaultfd"), "{err}");
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

#[test]
fn a_monitor_stopped_by_a_signal_first_hands_on_what_the_sensor_caught() {
    // A burst of 5,000 directories made in a container, read slowly so that the monitor falls behind, and
    // SIGTERM as soon as the burst ends: every one is printed (the backlog the sensor had queued is not thrown
    // away on stop).
    let parent = format!("kestrel-drain-test-{}", std::process::id());
    let cg = cgroup2_root().join(&parent).join("burst-1");
    std::fs::create_dir_all(&cg).unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("kestrel"))
        .args(["monitor", "--runc-parent", &parent, "-f", "json", "--kind", "mkdir"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = wait_watching(&mut child);
    // Read slowly (4 KiB every 20 ms: the monitor's writes wait, its backlog grows), then at full speed once the
    // signal is sent.
    let mut stdout = child.stdout.take().unwrap();
    let fast = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader_fast = fast.clone();
    let printed = std::thread::spawn(move || {
        let (mut all, mut buf) = (Vec::new(), [0u8; 4096]);
        loop {
            match std::io::Read::read(&mut stdout, &mut buf).unwrap() {
                0 => break,
                n => all.extend_from_slice(&buf[..n]),
            }
            if !reader_fast.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        String::from_utf8(all).unwrap()
    });
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec /usr/bin/python3 -c 'import os\nfor i in range(5000):\n    os.mkdir(\"{d}/x\"); os.rmdir(\"{d}/x\")'",
        cg.display(),
        d = dir.path().display()
    );
    let burst = Command::new("/bin/sh").arg("-c").arg(script).output().unwrap();
    assert!(burst.status.success(), "{}", String::from_utf8_lossy(&burst.stderr));
    assert!(Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap().success());
    fast.store(true, std::sync::atomic::Ordering::Relaxed);
    let status = child.wait().unwrap();
    let _ = std::fs::remove_dir(&cg);
    let _ = std::fs::remove_dir(cgroup2_root().join(&parent));
    let stderr = stderr.join().unwrap();
    assert!(status.success(), "{stderr}");
    let made = printed.join().unwrap().lines().filter(|l| l.contains("\"kind\":\"mkdir\"")).count();
    assert_eq!(made, 5_000, "{stderr}");
}

#[test]
fn record_then_replay_without_privileges() {
    let parent = format!("kestrel-record-test-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl.zst");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("kestrel"))
        .args([
            "record",
            "--runc-parent",
            &parent,
            "--duration",
            "4",
            "--label",
            "scenario=test",
            "--leave-out",
            "send",
        ])
        .arg("--out")
        .arg(&trace)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = wait_watching(&mut child);
    let cg = echo_in_container(&parent, "db-1", "record-marker");
    let out = child.wait_with_output().unwrap();
    remove_container(&parent, &cg);
    assert!(out.status.success(), "{}", stderr.join().unwrap());
    // The header says which kinds a node may do without were reported: what a profile learned from it may take
    // an absence for (memory made executable needs bpf_find_vma, which this kernel has).
    let text = zstd::decode_all(std::fs::File::open(&trace).unwrap()).unwrap();
    let header: Value = serde_json::from_slice(text.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(header["labels"]["scenario"], "test");
    let reports: Vec<&str> = header["reports"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for kind in kestrel_sensor::LEAVABLE.iter().map(|(k, _)| *k) {
        assert_eq!(reports.contains(&kind), kind != "send", "{kind}: {reports:?}");
    }
    // Replay as nobody: a recording needs no privileges.
    let public = std::path::Path::new("/tmp").join(format!("kestrel-replay-{}.jsonl.zst", std::process::id()));
    std::fs::copy(&trace, &public).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("kestrel"))
        .args(["replay", "-f", "json", "--kind", "exec", "--container", "db-1"])
        .arg(&public)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&public);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(events.iter().all(|e| e["kind"] == "exec" && e["container"]["id"] == "db-1"), "{events:#?}");
    assert!(events.iter().any(|e| e["argv"][1] == "record-marker"), "{events:#?}");
    // A file that is not a recording is refused with its name.
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "{\"hello\": 1}\n").unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("kestrel")).arg("replay").arg(&junk).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.jsonl: not a kestrel recording"));
}

/// The agent's `/metrics`: `detect --live --metrics` serves Prometheus text while it runs — the events it
/// processed and the sensor's own counters.
#[test]
fn detect_serves_prometheus_metrics_while_it_runs() {
    let parent = format!("kestrel-metrics-test-{}", std::process::id());
    let port = kestrel_testkit::services::free_port();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("kestrel"))
        .args(["detect", "--live", "--no-profiles", "--runc-parent", &parent, "--duration", "5", "-f", "json"])
        .args(["--metrics", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = wait_watching(&mut child);
    let cg = cgroup2_root().join(&parent).join("web-1");
    std::fs::create_dir_all(&cg).unwrap();
    // Benign on purpose: the lab tests record real containers at the same time, and their sensors see this
    // one too (a read of /etc/shadow here was a false alarm in their held-out recording).
    let script = format!("echo $$ > {}/cgroup.procs && /bin/echo metrics-marker > /dev/null", cg.display());
    assert!(Command::new("/bin/sh").arg("-c").arg(script).status().unwrap().success());
    // The gauges are refreshed every second; the counters as events come.
    let mut text = String::new();
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_secs(4) {
        std::thread::sleep(std::time::Duration::from_millis(300));
        if let Ok(mut r) = ureq::get(format!("http://127.0.0.1:{port}/metrics")).call() {
            text = r.body_mut().read_to_string().unwrap();
            if text.contains("kestrel_agent_events_total") && text.contains("kestrel_agent_sensor{") {
                break;
            }
        }
    }
    let other = ureq::get(format!("http://127.0.0.1:{port}/other")).config().http_status_as_error(false).build().call();
    let out = child.wait_with_output().unwrap();
    remove_container(&parent, &cg);
    let stderr = stderr.join().unwrap();
    assert!(out.status.success(), "{stderr}");
    assert_eq!(other.map(|r| r.status().as_u16()).ok(), Some(404), "only /metrics is served");
    for needle in ["kestrel_agent_events_total", "kestrel_agent_sensor{counter=\"dropped_ring_full\"}"] {
        assert!(text.contains(needle), "{needle} missing from /metrics:\n{text}\n{stderr}");
    }
}

/// `detect --live --reads` over profiles learned without every read says which they are (their read view stays off
/// until relearned); without `--reads` it says nothing of it.
#[test]
fn detect_with_reads_names_the_profiles_that_learned_without_them() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("web.jsonl");
    let exec = serde_json::json!({"schema": "kestrel.event/v1", "time_ns": 1_000_000_000u64, "pid": 7, "tid": 7,
        "comm": "nginx", "cgroup_id": 1, "container": {"id": "web-1", "runtime": "runc"}, "kind": "exec", "ppid": 1,
        "parent_comm": "runc", "uid": 0, "gid": 0, "euid": 0, "exe": "/usr/sbin/nginx", "argv": ["nginx"],
        "cap_effective": 0});
    // Its sensor reported only these of the kinds a node may do without.
    let header =
        serde_json::json!({"schema": "kestrel.trace/v1", "started_ns": 0, "labels": {}, "reports": ["send", "mmap"]});
    std::fs::write(&rec, format!("{header}\n{exec}\n")).unwrap();
    let profiles = dir.path().join("profiles");
    let learn = Command::new(assert_cmd::cargo::cargo_bin("kestrel"))
        .args(["learn", "-q", "--workload", "web", "-k", "1", "-t", "1", "--mode", "monitor", "--profiles"])
        .arg(&profiles)
        .arg(&rec)
        .output()
        .unwrap();
    assert!(learn.status.success(), "{}", String::from_utf8_lossy(&learn.stderr));
    let parent = format!("kestrel-reads-test-{}", std::process::id());
    let said = |reads: bool| {
        let out = Command::new(assert_cmd::cargo::cargo_bin("kestrel"))
            .args(["detect", "--live", "--runc-parent", &parent, "--duration", "1", "-f", "json", "--profiles"])
            .arg(&profiles)
            .args(reads.then_some("--reads"))
            .args((!reads).then_some("--leave-out=dup,mkdir,unlink,truncate,rename,link,socket,exec-memory,dns"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let with = said(true);
    assert!(with.contains("--reads: 1 profile learned without every read, or by an older kestrel (web)"), "{with}");
    // And the kinds this sensor reports that the profile's did not: not judged, and said so.
    let kinds = "web (dup, mkdir, unlink, truncate, rename, link, socket, exec-memory, dns)";
    assert!(
        with.contains(&format!(
            "1 profile learned from a sensor that did not report every kind this one does: {kinds}"
        )),
        "{with}"
    );
    assert!(with.contains(&format!("{kinds}; those kinds are not judged for them until they learn again")), "{with}");
    let without = said(false);
    assert!(!without.contains("learned without every read"), "{without}");
    assert!(!without.contains("did not report every kind"), "the same kinds left out: {without}");
}
