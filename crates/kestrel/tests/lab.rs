//! Every lab scenario end to end (root, runc, busybox, and for the web and app images debootstrap with Debian's
//! mirror: scripts/setup provides them, CI runs as root): `lab/run.sh SCENARIO` records a real container
//! with the real sensor; the recording holds the attack marker, and what the attack does is there, after
//! the marker, attributed to the scenario's container, with the fields a detector needs.

use serde_json::Value;
use std::process::Command;

/// The events of a fresh recording of `scenario`, and the index of the attack marker.
fn record(scenario: &str) -> (Vec<Value>, usize) {
    let dir = tempfile::tempdir().unwrap();
    record_in(scenario, dir.path())
}

/// The same, the recording kept in `dir` (`scenario.jsonl.zst`).
fn record_in(scenario: &str, dir: &std::path::Path) -> (Vec<Value>, usize) {
    record_with("runc", scenario, &dir.join(format!("{scenario}.jsonl.zst")))
}

/// The same with the container run by `runtime` (runc or crun), the recording kept in `out`; `scenario` may
/// also be the path of a scenario script of the test's own.
fn record_with(runtime: &str, scenario: &str, out: &std::path::Path) -> (Vec<Value>, usize) {
    record_as(runtime, scenario, out, "")
}

/// The same, `kestrel record` given `record_args` too.
fn record_as(runtime: &str, scenario: &str, out: &std::path::Path, record_args: &str) -> (Vec<Value>, usize) {
    let lab = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lab/run.sh");
    let run = Command::new("bash")
        .arg(&lab)
        .arg(scenario)
        .arg(out)
        .env("KESTREL", assert_cmd::cargo::cargo_bin("kestrel"))
        .env("RECORD_ARGS", record_args)
        .env("LAB_DIR", out.with_extension("lab"))
        .env("LAB_RUNTIME", runtime)
        .output()
        .unwrap();
    assert!(run.status.success(), "lab/run.sh {scenario}: {}", String::from_utf8_lossy(&run.stderr));
    let replay =
        Command::new(assert_cmd::cargo::cargo_bin("kestrel")).args(["replay", "-f", "json"]).arg(out).output().unwrap();
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    let events: Vec<Value> =
        String::from_utf8_lossy(&replay.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let name = std::path::Path::new(scenario).file_stem().unwrap().to_string_lossy();
    let prefix = format!("lab-{name}-");
    assert!(
        events.iter().all(|e| e["container"]["id"].as_str().is_some_and(|c| c.starts_with(&prefix))),
        "{scenario}: an event of another container"
    );
    assert!(events.iter().any(|e| e["kind"] == "syscalls"), "{scenario}: no system-call stream recorded");
    let marker = events
        .iter()
        .position(|e| e["kind"] == "exec" && argv(e).iter().any(|a| a == "kestrel-attack-start"))
        .unwrap_or_else(|| panic!("{scenario}: no attack marker"));
    (events, marker)
}

fn argv(e: &Value) -> Vec<String> {
    e["argv"].as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default()
}

/// The events after the marker that `pred` accepts; fails naming `what` when there is none.
fn after<'a>(events: &'a [Value], marker: usize, what: &str, pred: impl Fn(&Value) -> bool) -> Vec<&'a Value> {
    let found: Vec<&Value> = events[marker + 1..].iter().filter(|e| pred(e)).collect();
    assert!(!found.is_empty(), "no {what} after the attack marker");
    found
}

fn before(events: &[Value], marker: usize, pred: impl Fn(&Value) -> bool) -> usize {
    events[..marker].iter().filter(|e| pred(e)).count()
}

fn is_write(e: &Value) -> bool {
    e["flags"].as_u64().is_some_and(|f| f & 0o3 != 0 || f & 0o100 != 0)
}

#[test]
fn shadow_read() {
    let (ev, m) = record("shadow-read");
    after(&ev, m, "read of /etc/shadow", |e| e["kind"] == "open" && e["path"] == "/etc/shadow");
    assert_eq!(before(&ev, m, |e| e["kind"] == "open" && e["path"] == "/etc/shadow"), 0);
}

#[test]
fn shell_in_web() {
    let (ev, m) = record("shell-in-web");
    // The normal phase is nginx serving requests: its accepts are there, before the marker.
    assert!(before(&ev, m, |e| e["kind"] == "accept") >= 20, "nginx served too few requests");
    assert!(before(&ev, m, |e| e["kind"] == "exec" && e["process"]["exe"] == "/usr/sbin/nginx") <= 1);
    after(&ev, m, "shell", |e| e["kind"] == "exec" && e["process"]["exe"] == "/bin/sh");
    after(&ev, m, "id", |e| e["kind"] == "exec" && argv(e).first().is_some_and(|a| a == "id"));
}

#[test]
fn reverse_shell() {
    let (ev, m) = record("reverse-shell");
    let connects = after(&ev, m, "outbound connection", |e| {
        e["kind"] == "connect" && e["to"]["family"] == "inet" && e["to"]["addr"] == "127.0.0.1"
    });
    let pid = connects[0]["pid"].clone();
    // nc -e: the connection becomes standard input and output (busybox leaves stderr alone), then the process
    // becomes the shell.
    for fd in [0, 1] {
        after(&ev, m, &format!("the connection made fd {fd}"), |e| {
            e["kind"] == "dup" && e["pid"] == pid && e["fd"] == fd && e["peer"]["addr"] == "127.0.0.1"
        });
    }
    after(&ev, m, "shell exec'd by the connected process", |e| {
        e["kind"] == "exec" && e["pid"] == pid && e["process"]["exe"] == "/bin/sh"
    });
}

#[test]
fn privesc() {
    let (ev, m) = record("privesc");
    let asks_root =
        |e: &Value| e["kind"] == "set-ids" && e["ids"].as_array().is_some_and(|ids| ids.iter().any(|i| i == 0));
    after(&ev, m, "setuid(0) by the helper", |e| asks_root(e) && e["comm"] == "labhelper" && e["call"] == "setuid");
    after(&ev, m, "setresuid(0,0,0)", |e| asks_root(e) && e["call"] == "setresuid");
    after(&ev, m, "capset of every capability", |e| e["kind"] == "capset" && e["effective"] == u64::MAX);
    after(&ev, m, "user namespace", |e| {
        e["kind"] == "namespaces" && e["namespaces"].as_array().is_some_and(|n| n.iter().any(|x| x == "user"))
    });
    // Who asked was not root: the exec before it ran as uid 33.
    after(&ev, m, "exec as uid 33", |e| e["kind"] == "exec" && e["uid"] == 33 && e["comm"] == "labhelper");
}

#[test]
fn ptrace() {
    let (ev, m) = record("ptrace");
    after(&ev, m, "PTRACE_ATTACH of pid 1", |e| e["kind"] == "ptrace" && e["request"] == 16 && e["target_pid"] == 1);
}

#[test]
fn escape_host_device() {
    let (ev, m) = record("escape-host-device");
    after(&ev, m, "mount of the device node", |e| {
        e["kind"] == "mount" && e["source"] == "/tmp/host-disk" && e["target"] == "/mnt/host"
    });
}

#[test]
fn escape_disguised_as_runtime() {
    // A program of the container that takes runc's init's name is still seen, and the rules (no profiles) still
    // raise the escape rules the runtime's own setup is excused from: it was seen executing in the container.
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("escape-disguised-as-runtime", dir.path());
    let disguised = |kind: &'static str| move |e: &Value| e["kind"] == kind && e["comm"] == "runc:[2:INIT]";
    after(&ev, m, "the user-namespace unshare", disguised("namespaces"));
    after(&ev, m, "the setns", disguised("setns"));
    after(&ev, m, "the mount", |e| disguised("mount")(e) && e["source"] == "/dev/sda1");
    let alerts = detect(&dir.path().join("escape-disguised-as-runtime.jsonl.zst"), &["--no-profiles"]);
    let names: std::collections::BTreeSet<&str> = alerts.iter().filter_map(|a| a["source"]["name"].as_str()).collect();
    for rule in [
        "Host device mounted in a container",
        "Namespace entered from a container",
        "User namespace created in a container",
    ] {
        assert!(names.contains(rule), "{rule} not raised: {names:?}");
    }
}

#[test]
fn escape_release_agent() {
    let (ev, m) = record("escape-release-agent");
    after(&ev, m, "cgroup v1 mount", |e| e["kind"] == "mount" && e["fstype"] == "cgroup");
    after(&ev, m, "write to release_agent", |e| {
        e["kind"] == "open" && e["path"].as_str().is_some_and(|p| p.ends_with("/release_agent")) && is_write(e)
    });
}

#[test]
fn escape_nsenter() {
    let (ev, m) = record("escape-nsenter");
    after(&ev, m, "nsenter", |e| e["kind"] == "exec" && e["process"]["exe"] == "/bin/nsenter");
    after(&ev, m, "setns", |e| e["kind"] == "setns" && e["comm"] == "nsenter");
}

#[test]
fn package_manager() {
    let (ev, m) = record("package-manager");
    after(&ev, m, "apt-get", |e| e["kind"] == "exec" && e["process"]["exe"] == "/usr/bin/apt-get");
    after(&ev, m, "apt's download method", |e| {
        e["kind"] == "exec" && e["process"]["exe"].as_str().is_some_and(|x| x.starts_with("/usr/lib/apt/methods/"))
    });
}

#[test]
fn download_exec() {
    let (ev, m) = record("download-exec");
    let connect = after(&ev, m, "download connection", |e| e["kind"] == "connect" && e["to"]["addr"] == "127.0.0.1");
    assert!(connect[0]["to"]["port"].as_u64().is_some_and(|p| p > 0));
    after(&ev, m, "write of the payload", |e| e["kind"] == "open" && e["path"] == "/tmp/.x" && is_write(e));
    after(&ev, m, "run of the payload", |e| e["kind"] == "exec" && argv(e).iter().any(|a| a == "/tmp/.x"));
}

#[test]
fn miner_connect() {
    let (ev, m) = record("miner-connect");
    after(&ev, m, "connection to port 3333", |e| e["kind"] == "connect" && e["to"]["port"] == 3333);
}

#[test]
fn packet_sniff() {
    let (ev, m) = record("packet-sniff");
    let s = after(&ev, m, "packet socket", |e| e["kind"] == "socket" && e["family"] == "packet");
    assert_eq!((s[0]["sock_type"].as_str(), s[0]["protocol"].as_u64()), (Some("raw"), Some(3)), "{}", s[0]);
    assert_eq!(before(&ev, m, |e| e["kind"] == "socket"), 0);
}

#[test]
fn udp_exfil() {
    let (ev, m) = record("udp-exfil");
    // Dozens of datagrams to one peer: one event (a peer is reported once per process every 10 s).
    let sends = after(&ev, m, "datagram sent to the host", |e| {
        e["kind"] == "send" && e["call"] == "sendto" && e["to"]["addr"] == "127.0.0.1"
    });
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(sends[0]["to"]["proto"], "udp", "{}", sends[0]);
    assert_eq!(before(&ev, m, |e| e["kind"] == "send"), 0);
}

#[test]
fn setuid_binary() {
    let (ev, m) = record("setuid-binary");
    let chmod = after(&ev, m, "chmod setting setuid", |e| {
        e["kind"] == "setuid-chmod" && e["path"] == "/tmp/id" && e["mode"].as_u64().is_some_and(|m| m & 0o4000 != 0)
    });
    // busybox's chmod is a forked shell that never execs: the fork tells who it is.
    assert_eq!(chmod[0]["process"]["exe"], "/bin/sh", "{}", chmod[0]);
    after(&ev, m, "exec of the setuid copy", |e| e["kind"] == "exec" && e["process"]["exe"] == "/tmp/id");
}

#[test]
fn rename_into_bin() {
    let (ev, m) = record("rename-into-bin");
    after(&ev, m, "rename into /usr/bin", |e| {
        e["kind"] == "rename" && e["from"] == "/tmp/.u" && e["to"] == "/usr/bin/updater"
    });
    after(&ev, m, "run of the moved payload", |e| e["kind"] == "exec" && e["process"]["exe"] == "/usr/bin/updater");
    assert_eq!(before(&ev, m, |e| e["kind"] == "rename"), 0);
}

#[test]
fn link_into_path() {
    // The link into /usr/bin is seen though its target is no sensitive file, and the rules alone (no profiles)
    // call it a write below a binary directory.
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("link-into-path", dir.path());
    after(&ev, m, "the link into /usr/bin", |e| {
        e["kind"] == "link" && e["target"] == "/tmp/.ps" && e["path"] == "/usr/bin/ps" && e["sensitive"] == false
    });
    after(&ev, m, "the run through the link", |e| e["kind"] == "exec" && argv(e).iter().any(|a| a == "/usr/bin/ps"));
    let alerts = detect(&dir.path().join("link-into-path.jsonl.zst"), &["--no-profiles"]);
    assert!(
        alerts.iter().any(|a| a["source"]["name"] == "Write below a binary directory"
            && a["title"].as_str().is_some_and(|t| t.contains("/usr/bin/ps"))),
        "{alerts:#?}"
    );
}

#[test]
fn write_usr_bin() {
    let (ev, m) = record("write-usr-bin");
    after(&ev, m, "write into /usr/bin", |e| e["kind"] == "open" && e["path"] == "/usr/bin/update" && is_write(e));
}

#[test]
fn bind_shell() {
    // nc listens in the container and runs a shell for whoever connects: the listen, the connection accepted and the
    // shell nc started are there after the marker, the commands the host sent answered; the rules see a network tool
    // running a program.
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("bind-shell", dir.path());
    let nc = after(&ev, m, "nc listening", |e| e["kind"] == "listen" && e["comm"] == "nc")[0]["pid"].clone();
    after(&ev, m, "the attacker's connection accepted", |e| e["kind"] == "accept" && e["pid"] == nc);
    after(&ev, m, "the shell nc started", |e| e["kind"] == "exec" && e["pid"] == nc && e["exe"] == "/bin/sh");
    let got = lab_output(dir.path(), "bind-shell", "bind-shell");
    assert!(got.contains("uid=0(root)"), "{got}");
    one_rule_alert(&dir.path().join("bind-shell.jsonl.zst"), "Network tool running a program", "nc -l -p");
}

#[test]
fn authorized_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("authorized-keys", dir.path());
    after(&ev, m, "~/.ssh made", |e| e["kind"] == "mkdir" && e["path"] == "/root/.ssh");
    after(&ev, m, "a key appended", |e| {
        e["kind"] == "open" && e["path"] == "/root/.ssh/authorized_keys" && is_write(e)
    });
    one_rule_alert(
        &dir.path().join("authorized-keys.jsonl.zst"),
        "SSH authorized keys written",
        "/root/.ssh/authorized_keys",
    );
}

#[test]
fn ld_preload() {
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("ld-preload", dir.path());
    after(&ev, m, "the loader's preload list written", |e| {
        e["kind"] == "open" && e["path"] == "/etc/ld.so.preload" && is_write(e)
    });
    let alerts = detect(&dir.path().join("ld-preload.jsonl.zst"), &["--no-profiles"]);
    let titles: Vec<&str> = alerts.iter().filter_map(|a| a["title"].as_str()).collect();
    assert!(titles.iter().any(|t| t.contains("/etc/ld.so.preload")), "{titles:#?}");
    assert!(titles.iter().any(|t| t.contains("/tmp/.libc.so.6")), "{titles:#?}");
}

#[test]
fn sensitive_mount() {
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("sensitive-mount", dir.path());
    // The container started again: its runtime binds the host's /proc, then runs its first program (pid 1 in
    // the container's pid namespace).
    after(&ev, m, "the runtime binding the host's /proc", |e| {
        e["kind"] == "mount" && e["source"] == "/proc" && e["comm"].as_str().is_some_and(|c| c.starts_with("runc:"))
    });
    after(&ev, m, "the restarted container's first program", |e| e["kind"] == "exec" && e["vpid"] == 1);
    assert_eq!(before(&ev, m, |e| e["kind"] == "mount" && e["source"] == "/proc"), 0);
    // The built-in rule sees it in the recording, and names the mount.
    let recording = dir.path().join("sensitive-mount.jsonl.zst");
    one_rule_alert(&recording, "Container started with a sensitive host path", "/proc:(not known)");
}

#[test]
fn cover_tracks() {
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("cover-tracks", dir.path());
    // nginx logged the normal phase's requests; the attack cut the log to nothing, in place, by ftruncate.
    let cut = after(&ev, m, "the access log cut", |e| {
        e["kind"] == "truncate" && e["call"] == "ftruncate" && e["path"] == "/var/log/nginx/access.log"
    });
    assert!(cut[0]["size_before"].as_u64().unwrap() > 1000, "what the log held: {}", cut[0]);
    assert_eq!(cut[0]["length"], 0);
    assert_eq!(before(&ev, m, |e| e["kind"] == "truncate"), 0);
    // The built-in rule sees it in the recording.
    let recording = dir.path().join("cover-tracks.jsonl.zst");
    one_rule_alert(&recording, "Shell history or logs removed in a container", "ftruncate /var/log/nginx/access.log");
}

#[test]
fn app_command_injection() {
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("app-command-injection", dir.path());
    // The normal phase: the app served requests and ran its own report through a shell.
    assert!(before(&ev, m, |e| e["kind"] == "accept") >= 20, "the app served too few requests");
    let own_shell = |e: &Value| e["kind"] == "exec" && e["exe"] == "/bin/sh" && e["parent_comm"] == "python3";
    assert!(before(&ev, m, own_shell) >= 1, "the app's own report");
    // The attack came in through the app: its shell ran what the attacker appended, nothing through the runtime.
    for program in ["id", "cat", "uname"] {
        after(&ev, m, program, |e| e["kind"] == "exec" && argv(e)[0] == program && e["parent_comm"] == "sh");
    }
    let by_runtime =
        |e: &Value| e["kind"] == "exec" && e["parent_comm"].as_str().is_some_and(|p| p.starts_with("runc"));
    assert!(!ev[m + 1..].iter().any(by_runtime), "an exec through the runtime after the marker");
    // A rule cannot tell this shell from the app's own (Python runs shells; its report is one): the rules raise
    // nothing on the whole recording — the app having looked up a name or connected out at its start included,
    // which the reverse-shell rule once took for a shell's connection — and the profile is what catches it
    // (bench/detect.sh).
    let alerts = detect(&dir.path().join("app-command-injection.jsonl.zst"), &["--no-profiles"]);
    assert!(alerts.is_empty(), "{alerts:#?}");
}

#[test]
fn app_reverse_shell() {
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("app-reverse-shell", dir.path());
    // The injected Python connects out, makes the connection its standard streams, and starts a shell on it.
    let connects = after(&ev, m, "python's connection", |e| {
        e["kind"] == "connect" && e["comm"] == "python3" && e["to"]["addr"] == "127.0.0.1" && e["to"]["proto"] == "tcp"
    });
    let pid = connects[0]["pid"].clone();
    for fd in [0, 1, 2] {
        after(&ev, m, &format!("the connection made fd {fd}"), |e| {
            e["kind"] == "dup" && e["pid"] == pid && e["fd"] == fd && e["peer"]["addr"] == "127.0.0.1"
        });
    }
    after(&ev, m, "the shell on the connection", |e| {
        e["kind"] == "exec" && e["ppid"] == pid && argv(e) == ["/bin/sh", "-i"]
    });
    // The rules see it, after the attack's start only.
    let alerts = detect(&dir.path().join("app-reverse-shell.jsonl.zst"), &["--no-profiles"]);
    let mut rules: Vec<&str> = alerts.iter().map(|a| a["source"]["name"].as_str().unwrap()).collect();
    rules.sort_unstable();
    rules.dedup();
    assert_eq!(rules, ["Network connection as a standard stream", "Reverse shell"], "{alerts:#?}");
    let start = ev[m]["time_ns"].as_u64().unwrap();
    assert!(alerts.iter().all(|a| a["time_ns"].as_u64().unwrap() > start), "{alerts:#?}");
}

/// What a lab run's host side wrote to `$LAB_DIR/PREFIX.*.out` (the listener's count, the attacker's reply).
fn lab_output(dir: &std::path::Path, scenario: &str, prefix: &str) -> String {
    let lab = dir.join(format!("{scenario}.jsonl.lab"));
    let found = std::fs::read_dir(&lab)
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&format!("{prefix}.")))
        .unwrap_or_else(|| panic!("no {prefix}.*.out in {}", lab.display()));
    std::fs::read_to_string(found).unwrap()
}

/// The bytes the scenario's sink listener counted (0 when it said nothing of them), and what it said.
fn sink_bytes(dir: &std::path::Path, scenario: &str) -> (u64, String) {
    let got = lab_output(dir, scenario, "sink");
    (got.trim().strip_prefix("bytes ").and_then(|n| n.parse().ok()).unwrap_or(0), got)
}

/// What the app's own process did after the marker: no program started, nothing through the runtime — the attack
/// ran inside the app (its pid: the one that accepts the requests).
fn only_the_app_after_the_marker(ev: &[Value], m: usize) -> Value {
    let app = ev[..m].iter().find(|e| e["kind"] == "accept").expect("the app served requests")["pid"].clone();
    let execs: Vec<&Value> = ev[m + 1..].iter().filter(|e| e["kind"] == "exec").collect();
    assert!(execs.is_empty(), "a program started after the marker: {execs:#?}");
    app
}

/// No connection and no datagram from the app's process (`app`, its pid) after the marker.
fn nothing_sent_out(ev: &[Value], m: usize, app: &Value) {
    let out = |e: &Value| matches!(e["kind"].as_str(), Some("connect" | "send")) && e["pid"] == *app;
    assert!(!ev[m + 1..].iter().any(out), "the app sent something out");
}

#[test]
fn app_deserialize_exfil() {
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("app-deserialize-exfil", dir.path());
    let app = only_the_app_after_the_marker(&ev, m);
    // The code the pickle ran connected out from the app's own process, and the listener got the database.
    after(&ev, m, "the app's connection out", |e| {
        e["kind"] == "connect" && e["pid"] == app && e["to"]["addr"] == "127.0.0.1" && e["to"]["proto"] == "tcp"
    });
    let (bytes, got) = sink_bytes(dir.path(), "app-deserialize-exfil");
    assert!(bytes > 4096, "the listener got {got:?}");
    // No rule sees it (no shell, no program, no sensitive file, no standard stream on the connection): only a
    // profile can (bench/detect.sh).
    let alerts = detect(&dir.path().join("app-deserialize-exfil.jsonl.zst"), &["--no-profiles"]);
    assert!(alerts.is_empty(), "{alerts:#?}");
}

#[test]
fn app_deserialize_listen() {
    // The code the pickle ran left a thread of the app listening on a new port, which ran what the attacker sent it:
    // the app's own process binds and listens after the marker (a thread of it, not the one that listened at its
    // start), accepts the attacker, and sends nothing out. No rule sees it; a profile learned from the normal part —
    // where the app listened once, at its start — alerts on the app listening again.
    let dir = tempfile::tempdir().unwrap();
    let _keep = KeepOnPanic(dir.path(), "app_deserialize_listen");
    let (ev, m) = record_in("app-deserialize-listen", dir.path());
    let app = only_the_app_after_the_marker(&ev, m);
    assert_eq!(before(&ev, m, |e| e["kind"] == "listen" && e["pid"] == app), 1, "the app listens once as it starts");
    let backdoor = after(&ev, m, "the app listening again", |e| e["kind"] == "listen" && e["pid"] == app)[0];
    assert_ne!(backdoor["tid"], app, "a thread of the app");
    nothing_sent_out(&ev, m, &app);
    let got = lab_output(dir.path(), "app-deserialize-listen", "app-listen");
    assert!(got.contains(", 0)"), "the backdoor ran the attacker's code as root: {got}");
    let recording = dir.path().join("app-deserialize-listen.jsonl.zst");
    let rules = detect(&recording, &["--no-profiles"]);
    assert!(rules.is_empty(), "{rules:#?}");
    let said = profile_alerts_after_the_marker(dir.path(), &recording, ev[m]["time_ns"].as_u64().unwrap(), |_| ());
    assert!(said.contains("`python3 listens again` never seen while learning"), "{said}");
}

#[test]
fn app_deserialize_persist() {
    // The code the pickle ran appended to the app's own source: one write, by the app's own process, of a file it only
    // ever read. No rule sees it; a profile learned from the normal part alerts on the write.
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("app-deserialize-persist", dir.path());
    let app = only_the_app_after_the_marker(&ev, m);
    after(&ev, m, "the app's source written", |e| {
        e["kind"] == "open" && e["pid"] == app && e["path"] == "/srv/app/app.py" && is_write(e)
    });
    assert_eq!(before(&ev, m, |e| e["kind"] == "open" && e["path"] == "/srv/app/app.py" && is_write(e)), 0);
    nothing_sent_out(&ev, m, &app);
    let recording = dir.path().join("app-deserialize-persist.jsonl.zst");
    assert!(detect(&recording, &["--no-profiles"]).is_empty());
    let said = profile_alerts_after_the_marker(dir.path(), &recording, ev[m]["time_ns"].as_u64().unwrap(), |_| ());
    assert!(said.contains("write in /srv/app"), "{said}");
}

#[test]
fn app_deserialize_scan() {
    // The code the pickle ran tried the usual ports of a cluster's services on the loopback: connections from the
    // app's own process to many ports after the marker, most refused. The profile alerts on ports the app never used.
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("app-deserialize-scan", dir.path());
    let app = only_the_app_after_the_marker(&ev, m);
    let ports: std::collections::BTreeSet<u64> = after(&ev, m, "the app's connections", |e| {
        e["kind"] == "connect" && e["pid"] == app && e["to"]["addr"] == "127.0.0.1"
    })
    .iter()
    .filter_map(|e| e["to"]["port"].as_u64())
    .collect();
    assert!(ports.len() >= 15 && ports.contains(&6443) && ports.contains(&10250), "{ports:?}");
    let recording = dir.path().join("app-deserialize-scan.jsonl.zst");
    let said = profile_alerts_after_the_marker(dir.path(), &recording, ev[m]["time_ns"].as_u64().unwrap(), |_| ());
    assert!(said.contains("connect to loopback port 10250"), "{said}");
}

#[test]
fn app_deserialize_token() {
    // The code the pickle ran read the pod's service-account token (mounted where Kubernetes mounts it) into a note the
    // attacker read back: the app's own process opens the token after the marker, the note holds it; the rules see a
    // sensitive file read.
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("app-deserialize-token", dir.path());
    let app = only_the_app_after_the_marker(&ev, m);
    after(&ev, m, "the token read", |e| {
        e["kind"] == "open"
            && e["pid"] == app
            && e["path"].as_str().is_some_and(|p| p.ends_with("serviceaccount/token"))
    });
    nothing_sent_out(&ev, m, &app);
    let got = lab_output(dir.path(), "app-deserialize-token", "app-token");
    assert!(got.contains("eyJhbGciOiJSUzI1NiIs"), "{got}");
    one_rule_alert(
        &dir.path().join("app-deserialize-token.jsonl.zst"),
        "Sensitive file opened for reading",
        "serviceaccount/token",
    );
}

#[test]
fn app_deserialize_metadata() {
    // The code the pickle ran asked the cloud's metadata service for credentials: connections from the app's own
    // process to 169.254.169.254 after the marker (none answers in the lab). The rule for the metadata service sees
    // them, after the marker only.
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("app-deserialize-metadata", dir.path());
    let app = only_the_app_after_the_marker(&ev, m);
    after(&ev, m, "the app asking the metadata service", |e| {
        e["kind"] == "connect" && e["pid"] == app && e["to"]["addr"] == "169.254.169.254" && e["to"]["port"] == 80
    });
    let recording = dir.path().join("app-deserialize-metadata.jsonl.zst");
    let alerts = detect(&recording, &["--no-profiles"]);
    assert!(!alerts.is_empty(), "no rule alert");
    for a in &alerts {
        assert_eq!(a["source"]["name"], "Cloud metadata service contacted from a container", "{a}");
        assert!(a["time_ns"].as_u64() > ev[m]["time_ns"].as_u64(), "{a}");
    }
}

#[test]
fn app_deserialize_adduser() {
    // The code the pickle ran appended an account with uid 0 to /etc/passwd and its hash to /etc/shadow: both opened
    // for writing by the app's own process after the marker; the rule for the account files sees them.
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("app-deserialize-adduser", dir.path());
    let app = only_the_app_after_the_marker(&ev, m);
    for file in ["/etc/passwd", "/etc/shadow"] {
        after(&ev, m, file, |e| e["kind"] == "open" && e["pid"] == app && e["path"] == file && is_write(e));
    }
    nothing_sent_out(&ev, m, &app);
    let alerts = detect(&dir.path().join("app-deserialize-adduser.jsonl.zst"), &["--no-profiles"]);
    let names: Vec<&str> = alerts.iter().filter_map(|a| a["source"]["name"].as_str()).collect();
    assert_eq!(names, ["Account or sudo configuration written"; 2], "{alerts:#?}");
}

#[test]
fn app_deserialize_dns_exfil() {
    // The code the pickle ran looked up names made of the notes database's bytes: DNS questions from the app's own
    // process after the marker, many more than its own lookups before it (its start's), each name a hex label in
    // x.example.net; no TCP connection out. The rule for encoded names sees each question; the profile alerts on
    // the new zone with encoded names.
    let dir = tempfile::tempdir().unwrap();
    let _keep = KeepOnPanic(dir.path(), "app_deserialize_dns_exfil");
    let (ev, m) = record_in("app-deserialize-dns-exfil", dir.path());
    let app = only_the_app_after_the_marker(&ev, m);
    let dns = |e: &Value| e["kind"] == "dns" && e["pid"] == app && e["to"]["port"] == 53;
    let questions = after(&ev, m, "questions to the resolver", dns);
    assert!(questions.len() >= 10 && questions.len() > 5 * before(&ev, m, dns), "{} after the marker", questions.len());
    let tunnel = |e: &&&Value| e["name"].as_str().is_some_and(|n| n.ends_with(".x.example.net") && n.len() > 60);
    assert!(questions.iter().filter(tunnel).count() >= 10, "{questions:#?}");
    let tcp_out = |e: &Value| e["kind"] == "connect" && e["pid"] == app && e["to"]["proto"] == "tcp";
    assert!(!ev[m + 1..].iter().any(tcp_out), "a TCP connection out");
    let recording = dir.path().join("app-deserialize-dns-exfil.jsonl.zst");
    let alerts = detect(&recording, &["--no-profiles"]);
    assert!(alerts.len() >= 10, "{alerts:#?}");
    for a in &alerts {
        assert_eq!(a["source"]["name"], "DNS question carrying encoded data", "{a}");
        assert!(a["time_ns"].as_u64() > ev[m]["time_ns"].as_u64(), "{a}");
    }
    let said = profile_alerts_after_the_marker(dir.path(), &recording, ev[m]["time_ns"].as_u64().unwrap(), |_| ());
    assert!(said.contains("python3 looks up names with encoded data in example.net"), "{said}");
}

#[test]
fn app_deserialize_dns_beacon() {
    // The code the pickle ran left a thread asking DNS three times for a TXT record in a zone of its operator's: three
    // questions from the app's own process after the marker, sent to an address (the sendto path), none encoded. No
    // rule sees them; a profile learned from the normal part — where the app asked about its own names only, for A
    // and AAAA records — alerts on the new zone and record type.
    let dir = tempfile::tempdir().unwrap();
    let _keep = KeepOnPanic(dir.path(), "app_deserialize_dns_beacon");
    let (ev, m) = record_in("app-deserialize-dns-beacon", dir.path());
    let app = only_the_app_after_the_marker(&ev, m);
    let beacon = after(&ev, m, "the beacon's questions", |e| {
        e["kind"] == "dns" && e["pid"] == app && e["name"] == "updates.cdn-sync.example.org" && e["qtype"] == "TXT"
    });
    assert_eq!(beacon.len(), 3, "{beacon:#?}");
    assert_ne!(beacon[0]["tid"], app, "a thread of the app");
    let recording = dir.path().join("app-deserialize-dns-beacon.jsonl.zst");
    let rules = detect(&recording, &["--no-profiles"]);
    assert!(rules.is_empty(), "{rules:#?}");
    let said = profile_alerts_after_the_marker(dir.path(), &recording, ev[m]["time_ns"].as_u64().unwrap(), |_| ());
    assert!(said.contains("python3 looks up names in example.org"), "{said}");
    assert!(said.contains("python3 asks for TXT records"), "{said}");
}

#[test]
fn dns_tunnel_tool() {
    // A real tunnel tool (dns2tcp's client, fetched into /tmp) carried /etc/passwd to the listener through DNS
    // questions to the tunnel's server: all of it arrived. The sensor saw the questions — TXT, zone t.example.net,
    // base64 labels — sent by the dropped program after the marker; the rule for encoded names alerts on them (beside
    // the drop-and-execute rules the fetch and run trip), and a profile learned from the normal part on the new zone
    // with encoded names.
    let dir = tempfile::tempdir().unwrap();
    let _keep = KeepOnPanic(dir.path(), "dns_tunnel_tool");
    let (ev, m) = record_in("dns-tunnel-tool", dir.path());
    let (bytes, got) = sink_bytes(dir.path(), "dns-tunnel-tool");
    assert!(bytes > 500, "the listener got {got:?}");
    let questions = after(&ev, m, "the tunnel's questions", |e| {
        e["kind"] == "dns"
            && e["process"]["exe"] == "/tmp/.t"
            && e["to"]["port"] == 53
            && e["name"].as_str().is_some_and(|n| n.ends_with(".t.example.net"))
    });
    assert!(questions.iter().all(|q| q["qtype"] == "TXT"), "{questions:#?}");
    let long = questions.iter().filter(|q| q["name"].as_str().unwrap().len() > 63).count();
    assert!(long >= 5, "{long} questions carrying data of {}", questions.len());
    assert_eq!(before(&ev, m, |e| e["kind"] == "dns"), 0);
    let recording = dir.path().join("dns-tunnel-tool.jsonl.zst");
    let rules = detect(&recording, &["--no-profiles"]);
    let encoded = rules.iter().filter(|a| a["source"]["name"] == "DNS question carrying encoded data").count();
    assert!(encoded >= long, "{encoded} alerts on {long} questions carrying data: {rules:#?}");
    let said = profile_alerts_after_the_marker(dir.path(), &recording, ev[m]["time_ns"].as_u64().unwrap(), |_| ());
    assert!(said.contains("with encoded data in example.net"), "{said}");
}

#[test]
fn app_deserialize_daemon() {
    // The code the pickle ran forked the app: a child that never exec'd started a session of its own and connected to a
    // listener on the host, which got its beacon. A profile learned from the normal part alerts on the connection.
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("app-deserialize-daemon", dir.path());
    let app = only_the_app_after_the_marker(&ev, m);
    let beacon = after(&ev, m, "a connection out by a fork of the app", |e| {
        e["kind"] == "connect" && e["pid"] != app && e["comm"] == "python3" && e["to"]["proto"] == "tcp"
    });
    assert_eq!(beacon[0]["process"]["ppid"], app, "{}", beacon[0]);
    assert!(lab_output(dir.path(), "app-deserialize-daemon", "sink").contains("bytes"));
    let recording = dir.path().join("app-deserialize-daemon.jsonl.zst");
    let said = profile_alerts_after_the_marker(dir.path(), &recording, ev[m]["time_ns"].as_u64().unwrap(), |_| ());
    assert!(said.contains("connect to loopback port ephemeral"), "{said}");
}

#[test]
fn app_deserialize_inband() {
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("app-deserialize-inband", dir.path());
    let app = only_the_app_after_the_marker(&ev, m);
    // Nothing went out but the app's replies.
    nothing_sent_out(&ev, m, &app);
    // The request's thread (not the one accepting) wrote the loot into the database and made system calls.
    after(&ev, m, "the database written", |e| {
        e["kind"] == "open" && e["pid"] == app && e["path"] == "/srv/app/data/notes.db" && e["tid"] != app
    });
    // And the attacker read the account list back through the app's search.
    let reply = lab_output(dir.path(), "app-deserialize-inband", "inband");
    assert!(reply.contains("root:x:0:0") && reply.contains("PATH="), "{reply}");
    // The environment's read is the one thing the sensor reports of the theft (a read of /etc/passwd is no event),
    // by the app's own process; the rule about it is the one that fires, after the marker only.
    after(&ev, m, "the environment's read", |e| {
        e["kind"] == "open" && e["pid"] == app && e["path"] == "/proc/self/environ"
    });
    let alerts = detect(&dir.path().join("app-deserialize-inband.jsonl.zst"), &["--no-profiles"]);
    let rules: Vec<&str> = alerts.iter().map(|a| a["source"]["name"].as_str().unwrap()).collect();
    assert_eq!(rules, ["Process environment read"], "{alerts:#?}");
    let start = ev[m]["time_ns"].as_u64().unwrap();
    assert!(alerts[0]["time_ns"].as_u64().unwrap() > start, "{alerts:#?}");
}

#[test]
fn app_deserialize_read() {
    // Code run inside the app reads ordinary files only and hands them back in-band. Recorded with every read
    // reported (`--reads`): the reads are there, by the app's own process; no rule has anything to say; a profile
    // learned from the recording's normal part alerts after the marker, on the app reading below /etc past its
    // start-up, and on nothing before it.
    let dir = tempfile::tempdir().unwrap();
    let _keep = KeepOnPanic(dir.path(), "app_deserialize_read");
    let out = dir.path().join("app-deserialize-read.jsonl.zst");
    let (ev, m) = record_as("runc", "app-deserialize-read", &out, "--reads");
    let app = only_the_app_after_the_marker(&ev, m);
    for path in ["/etc/passwd", "/etc/hostname", "/srv/app/app.py"] {
        after(&ev, m, path, |e| e["kind"] == "open" && e["pid"] == app && e["path"] == path);
    }
    let reply = lab_output(dir.path(), "app-deserialize-read", "read");
    assert!(reply.contains("root:x:0:0") && reply.contains("def "), "{reply}");
    let alerts = detect(&out, &["--no-profiles"]);
    assert!(alerts.is_empty(), "{alerts:#?}");
    let said = profile_alerts_after_the_marker(dir.path(), &out, ev[m]["time_ns"].as_u64().unwrap(), |_| ());
    assert!(said.contains("python3 reads in /etc after its start-up"), "{said}");
}

#[test]
fn app_memory_implant() {
    // Code run inside the app loads a library it was sent from a memfd: the app's own process maps the implant's code
    // from memory after the marker, and nothing else happens (no program, no connection out). The rules see the code
    // loaded from a memfd, after the marker only; a profile learned from the normal part alerts on it too.
    let dir = tempfile::tempdir().unwrap();
    let _keep = KeepOnPanic(dir.path(), "app_memory_implant");
    let (ev, m) = record_in("app-memory-implant", dir.path());
    let app = only_the_app_after_the_marker(&ev, m);
    after(&ev, m, "the implant mapped from a memfd", |e| {
        e["kind"] == "mmap" && e["pid"] == app && e["memfd"] == true && e["path"] == "/memfd:kworker"
    });
    nothing_sent_out(&ev, m, &app);
    // The app mapped its own libraries before (the dynamic loader's, its extension modules), none from memory.
    assert!(before(&ev, m, |e| e["kind"] == "mmap" && e["pid"] == app) > 0, "the app's own libraries");
    assert_eq!(before(&ev, m, |e| e["kind"] == "mmap" && e["memfd"] == true), 0);
    let recording = dir.path().join("app-memory-implant.jsonl.zst");
    let alerts = detect(&recording, &["--no-profiles"]);
    let names: Vec<&str> = alerts.iter().filter_map(|a| a["source"]["name"].as_str()).collect();
    assert_eq!(names, ["Code loaded from a dropped file"], "{alerts:#?}");
    assert!(alerts[0]["title"].as_str().unwrap().contains("/memfd:kworker"), "{}", alerts[0]);
    assert!(alerts[0]["time_ns"].as_u64() > ev[m]["time_ns"].as_u64(), "{alerts:#?}");
    let said = profile_alerts_after_the_marker(dir.path(), &recording, ev[m]["time_ns"].as_u64().unwrap(), |_| ());
    assert!(said.contains("python3 maps a memfd's code"), "{said}");
}

#[test]
fn app_shellcode() {
    // Code run inside the app writes shellcode into anonymous memory, makes it executable with mprotect and calls it:
    // the app's own process makes anonymous memory executable after the marker, and nothing else happens (no program,
    // no memfd, no connection out). No rule has anything to say; a profile learned from the normal part, in which the
    // app never made memory executable, alerts on that alone.
    let dir = tempfile::tempdir().unwrap();
    let _keep = KeepOnPanic(dir.path(), "app_shellcode");
    let (ev, m) = record_in("app-shellcode", dir.path());
    let app = only_the_app_after_the_marker(&ev, m);
    after(&ev, m, "the app's anonymous memory made executable", |e| {
        e["kind"] == "exec-memory"
            && e["pid"] == app
            && e["call"] == "mprotect"
            && e["region"] == "anonymous"
            && e["prot"] == 5
            && e["length"] == 4096
    });
    nothing_sent_out(&ev, m, &app);
    assert!(!ev[m + 1..].iter().any(|e| e["kind"] == "mmap" && e["memfd"] == true), "no memfd");
    assert_eq!(before(&ev, m, |e| e["kind"] == "exec-memory"), 0, "nothing made executable before");
    let recording = dir.path().join("app-shellcode.jsonl.zst");
    let alerts = detect(&recording, &["--no-profiles"]);
    assert!(alerts.is_empty(), "{alerts:#?}");
    let said = profile_alerts_after_the_marker(dir.path(), &recording, ev[m]["time_ns"].as_u64().unwrap(), |_| ());
    assert!(said.contains("python3 makes anonymous memory executable"), "{said}");
}

#[test]
fn app_export_traversal() {
    // A user's export, the name joined unchecked: `../data` gets the notes of every user. Recorded with every read
    // reported: the app's tar reads the database after the marker; no rule has anything to say; a profile learned
    // from the recording's normal part (which holds a user's export too) alerts after the marker on tar reading
    // where it never read — in its start-up, the whole of its short life — and on nothing before it.
    let dir = tempfile::tempdir().unwrap();
    let _keep = KeepOnPanic(dir.path(), "app_export_traversal");
    let out = dir.path().join("app-export-traversal.jsonl.zst");
    let (ev, m) = record_as("runc", "app-export-traversal", &out, "--reads");
    after(&ev, m, "tar reading the notes", |e| {
        e["kind"] == "open" && e["comm"] == "tar" && e["path"].as_str().is_some_and(|p| p.ends_with("/notes.db"))
    });
    let listing = lab_output(dir.path(), "app-export-traversal", "listing");
    assert!(listing.contains("notes.db"), "{listing}");
    let alerts = detect(&out, &["--no-profiles"]);
    assert!(alerts.is_empty(), "{alerts:#?}");
    let said = profile_alerts_after_the_marker(dir.path(), &out, ev[m]["time_ns"].as_u64().unwrap(), |normal| {
        assert!(normal.iter().any(|l| l.contains("\"comm\":\"tar\"")), "a user's export before the marker")
    });
    assert!(said.contains("tar reads in /srv/app/data"), "{said}");
}

/// The first event after the marker that `pred` accepts, in the scenario's container.
fn first_after(ev: &[Value], m: usize, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let found = after(ev, m, what, |e| pred(e));
    assert!(found.iter().all(|e| e["container"]["id"] == ev[m]["container"]["id"]), "another container");
    found[0].clone()
}

#[test]
fn db_copy_program() {
    // A database's superuser runs a shell command through `COPY … FROM PROGRAM`: the server process serving the
    // client starts `sh -c`, whose programs' output comes back as rows. The normal phase served many clients (a
    // server process each) without a shell; the rules see the shell, after the marker only.
    let dir = tempfile::tempdir().unwrap();
    let (ev, m) = record_in("db-copy-program", dir.path());
    assert!(before(&ev, m, |e| e["kind"] == "accept" && e["comm"] == "postgres") >= 5, "too few clients served");
    assert_eq!(before(&ev, m, |e| e["kind"] == "exec" && e["exe"] == "/bin/sh"), 0, "a shell before the marker");
    let shell = first_after(&ev, m, "the server process's shell", |e| {
        e["kind"] == "exec" && e["exe"] == "/bin/sh" && e["parent_comm"] == "postgres"
    });
    for program in ["id", "uname", "cat"] {
        after(&ev, m, program, |e| e["kind"] == "exec" && argv(e)[0] == program && e["parent_comm"] == "sh");
    }
    let rows = lab_output(dir.path(), "db-copy-program", "copy-program");
    assert!(rows.contains("uid=100(postgres)") && rows.contains("root:x:0:0"), "{rows}");
    let alerts = detect(&dir.path().join("db-copy-program.jsonl.zst"), &["--no-profiles"]);
    let names: Vec<&str> = alerts.iter().filter_map(|a| a["source"]["name"].as_str()).collect();
    assert_eq!(names, ["Shell spawned by a server process"], "{alerts:#?}");
    assert!(alerts[0]["title"].as_str().unwrap().contains("spawned by postgres"), "{}", alerts[0]);
    assert!(alerts[0]["time_ns"].as_u64() > ev[m]["time_ns"].as_u64(), "{}", alerts[0]);
    assert_eq!(alerts[0]["evidence"][0]["ppid"], shell["ppid"], "{}", alerts[0]);
}

#[test]
fn db_read_file() {
    // A database's superuser reads the system's files through `pg_read_file` and lists /etc through `pg_ls_dir`.
    // Recorded with every read reported: the server process serving the client opens them; no rule has anything to
    // say; a profile learned from the recording's normal part (clients served, extensions and the JIT loaded late,
    // which reads the loader's cache in /etc) alerts after the marker on the server reading below /etc.
    let dir = tempfile::tempdir().unwrap();
    let _keep = KeepOnPanic(dir.path(), "db_read_file");
    let out = dir.path().join("db-read-file.jsonl.zst");
    let (ev, m) = record_as("runc", "db-read-file", &out, "--reads");
    let backend = first_after(&ev, m, "the server reading /etc/passwd", |e| {
        e["kind"] == "open" && e["comm"] == "postgres" && e["path"] == "/etc/passwd"
    })["pid"]
        .clone();
    after(&ev, m, "/etc/hostname read by the same process", |e| {
        e["kind"] == "open" && e["pid"] == backend && e["path"] == "/etc/hostname"
    });
    let rows = lab_output(dir.path(), "db-read-file", "read-file");
    assert!(rows.contains("root:x:0:0") && rows.contains("passwd"), "{rows}");
    let alerts = detect(&out, &["--no-profiles"]);
    assert!(alerts.is_empty(), "{alerts:#?}");
    let said = profile_alerts_after_the_marker(dir.path(), &out, ev[m]["time_ns"].as_u64().unwrap(), |_| ());
    assert!(said.contains("postgres reads in /etc after its start-up"), "{said}");
}

#[test]
fn db_write_startup() {
    // A database's superuser writes a command into the database account's ~/.bashrc through `COPY … TO`: the server
    // process opens it for writing. The built-in rule for shell start-up files sees it, after the marker only, and a
    // profile learned from the recording's normal part alerts on the server writing outside its data.
    let dir = tempfile::tempdir().unwrap();
    let _keep = KeepOnPanic(dir.path(), "db_write_startup");
    let out = dir.path().join("db-write-startup.jsonl.zst");
    let (ev, m) = record_as("runc", "db-write-startup", &out, "");
    let bashrc = "/var/lib/postgresql/.bashrc";
    after(&ev, m, "the server writing ~/.bashrc", |e| {
        e["kind"] == "open" && e["comm"] == "postgres" && e["path"] == bashrc && is_write(e)
    });
    let alerts = detect(&out, &["--no-profiles"]);
    let names: Vec<&str> = alerts.iter().filter_map(|a| a["source"]["name"].as_str()).collect();
    assert_eq!(names, ["Shell start-up file written"], "{alerts:#?}");
    assert!(alerts[0]["title"].as_str().unwrap().contains(bashrc), "{}", alerts[0]);
    assert!(alerts[0]["time_ns"].as_u64() > ev[m]["time_ns"].as_u64(), "{}", alerts[0]);
    let said = profile_alerts_after_the_marker(dir.path(), &out, ev[m]["time_ns"].as_u64().unwrap(), |_| ());
    assert!(said.contains("write in /var/lib/postgresql"), "{said}");
}

#[test]
fn db_load_library() {
    // A database's superuser loads a library of its own into the server: `lo_export` has the server process write it
    // to /tmp, `CREATE FUNCTION … LANGUAGE C` loads it, and the function forks a reverse shell to the host's listener.
    // The shell's commands ran as the database's account; the rules see the library written, its code loaded, the
    // connection put on the standard streams and the shell, after the marker only; a profile learned from the normal
    // part alerts already on the library written in /tmp, before its code runs.
    let dir = tempfile::tempdir().unwrap();
    let _keep = KeepOnPanic(dir.path(), "db_load_library");
    let (ev, m) = record_in("db-load-library", dir.path());
    let library = "/tmp/.pg_stat_cache.so";
    let written = first_after(&ev, m, "the server writing the library", |e| {
        e["kind"] == "open" && e["comm"] == "postgres" && e["path"] == library && is_write(e)
    });
    // The server maps the library's code from where it wrote it.
    let loaded = first_after(&ev, m, "the server mapping the library", |e| {
        e["kind"] == "mmap" && e["comm"] == "postgres" && e["path"] == library && e["prot"].as_u64().unwrap() & 4 != 0
    });
    assert!(loaded["time_ns"].as_u64() > written["time_ns"].as_u64());
    let shell = first_after(&ev, m, "the library's shell", |e| {
        e["kind"] == "exec" && e["exe"] == "/bin/sh" && e["parent_comm"] == "postgres"
    });
    assert!(shell["time_ns"].as_u64() > written["time_ns"].as_u64());
    assert_eq!(before(&ev, m, |e| e["kind"] == "exec" && e["exe"] == "/bin/sh"), 0, "a shell before the marker");
    let said = lab_output(dir.path(), "db-load-library", "shell-listener");
    assert!(said.contains("uid=100(postgres)") && said.contains("Linux"), "{said}");
    let alerts = detect(&dir.path().join("db-load-library.jsonl.zst"), &["--no-profiles"]);
    let mut names: Vec<&str> = alerts.iter().filter_map(|a| a["source"]["name"].as_str()).collect();
    names.dedup();
    assert_eq!(
        names,
        [
            "Library written at run time",
            "Code loaded from a dropped file",
            "Network connection as a standard stream",
            "Shell spawned by a server process",
            "Reverse shell"
        ]
    );
    assert!(alerts[0]["title"].as_str().unwrap().contains(library), "{}", alerts[0]);
    assert!(alerts.iter().all(|a| a["time_ns"].as_u64() > ev[m]["time_ns"].as_u64()), "{alerts:#?}");
    let start = ev[m]["time_ns"].as_u64().unwrap();
    let said =
        profile_alerts_after_the_marker(dir.path(), &dir.path().join("db-load-library.jsonl.zst"), start, |_| ());
    assert!(said.contains("write in /tmp"), "{said}");
}

#[test]
fn db_alter_system() {
    // A database's superuser has the server rewrite its own configuration (`ALTER SYSTEM`) and read it again: the
    // server process serving the attacker writes postgresql.auto.conf's temporary file and renames it into place, in
    // the data directory it writes in all the time. No rule sees it; a profile learned from the recording's normal
    // part alerts on the server's work there after the marker, and nothing before.
    let dir = tempfile::tempdir().unwrap();
    let _keep = KeepOnPanic(dir.path(), "db_alter_system");
    let out = dir.path().join("db-alter-system.jsonl.zst");
    let (ev, m) = record_as("runc", "db-alter-system", &out, "--reads");
    let conf = "/var/lib/postgresql/15/main/postgresql.auto.conf";
    after(&ev, m, "the configuration's temporary file written", |e| {
        e["kind"] == "open" && e["comm"] == "postgres" && e["path"] == format!("{conf}.tmp") && is_write(e)
    });
    after(&ev, m, "the configuration renamed into place", |e| e["kind"] == "rename" && e["to"] == conf);
    assert!(detect(&out, &["--no-profiles"]).is_empty());
    let said = profile_alerts_after_the_marker(dir.path(), &out, ev[m]["time_ns"].as_u64().unwrap(), |_| ());
    assert!(said.contains("postgres"), "{said}");
}

#[test]
fn app_reading_its_code_and_time_zones_late_for_seldom_used_features_is_no_alert() {
    // The app's statistics page and a note in a reader's time zone, first asked for after the marker (the lab's
    // ordinary load leaves both out): the page's modules — statistics with decimal's C extension, csv, the xml
    // package — are imported then, and the zone's data read from /usr/share/zoneinfo, long after the app's start-up,
    // from directories it never read in. Recorded with every read reported: the reads are there after the marker, and
    // a profile learned from the normal part says nothing of them — the program's own code, the system's reference
    // data.
    let dir = tempfile::tempdir().unwrap();
    let _keep = KeepOnPanic(dir.path(), "app_stats_page");
    let page = scenario_file(
        dir.path(),
        "stats-page",
        r#"IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
attack() {
  local f; for f in csv xml; do timeout 15 busybox wget -q -O /dev/null "http://127.0.0.1:$WEB_PORT/stats?format=$f" || true; done
  timeout 15 busybox wget -q -O /dev/null "http://127.0.0.1:$WEB_PORT/notes/1?tz=Asia/Tokyo" || true
}
"#,
    );
    let out = dir.path().join("stats-page.jsonl.zst");
    let (ev, m) = record_as("runc", &page, &out, "--reads");
    let path = |e: &Value, f: &dyn Fn(&str) -> bool| e["comm"] == "python3" && e["path"].as_str().is_some_and(f);
    after(&ev, m, "decimal's extension loaded", |e| path(e, &|p| p.contains("/lib-dynload/_decimal")));
    after(&ev, m, "the xml package's directory listed", |e| {
        path(e, &|p| p.starts_with("/usr/lib/python3") && p.ends_with("/xml"))
    });
    after(&ev, m, "a time zone's data read", |e| path(e, &|p| p == "/usr/share/zoneinfo/Asia/Tokyo"));
    let said = profile_alerts_after_the_marker(dir.path(), &out, ev[m]["time_ns"].as_u64().unwrap(), |normal| {
        assert!(!normal.iter().any(|l| l.contains("/_decimal")), "decimal imported before the marker")
    });
    assert!(!said.contains("/usr/lib/python3") && !said.contains("/usr/share/zoneinfo"), "{said}");
}

#[test]
fn an_openshift_entrypoint_adding_its_uid_is_no_alert_a_second_root_is() {
    // An image made for OpenShift: /etc/passwd writable by group 0 (the image's build step, here at the start), and
    // as the container starts, its entrypoint — run as a uid the image never named, in group 0 — appends a line for
    // it (Red Hat's uid_entrypoint). The built-in rules let that pass; after the marker, root appending a second uid
    // 0 to the same file is an alert. The real path: the shell's `>>` flags, the uid and group the sensor read, the
    // container's creation time from runc's state.
    let dir = tempfile::tempdir().unwrap();
    let _keep = KeepOnPanic(dir.path(), "openshift_entrypoint");
    let script = scenario_file(
        dir.path(),
        "openshift-entrypoint",
        r#"normal() {
  inside "$1" /bin/chmod g+w /etc/passwd
  inside_as 1000680000:0 "$1" /bin/sh -c 'whoami 2>/dev/null || echo "default:x:$(id -u):0:default user:/tmp:/sbin/nologin" >> /etc/passwd'
}
attack() { inside "$1" /bin/sh -c 'echo "toor:x:0:0::/root:/bin/sh" >> /etc/passwd'; }
"#,
    );
    let out = dir.path().join("openshift-entrypoint.jsonl.zst");
    let (ev, m) = record_as("runc", &script, &out, "");
    let appends = |e: &Value| e["kind"] == "open" && e["path"] == "/etc/passwd" && is_write(e);
    let entry: Vec<&Value> = ev[..m].iter().filter(|e| appends(e)).collect();
    assert_eq!(entry.len(), 1, "the entrypoint's append: {entry:#?}");
    assert_eq!(entry[0]["process"]["euid"], 1000680000, "{}", entry[0]);
    after(&ev, m, "root's append", |e| appends(e) && e["process"]["euid"] == 0);
    let rules = detect(&out, &["--no-profiles"]);
    let account: Vec<&Value> =
        rules.iter().filter(|a| a["source"]["name"] == "Account or sudo configuration written").collect();
    assert_eq!(account.len(), 1, "{rules:#?}");
    assert!(account[0]["time_ns"].as_u64() > ev[m]["time_ns"].as_u64(), "{:#?}", account[0]);
}

/// A scenario of the test's own, written to `DIR/NAME.sh` (the lab's scenario form: `IMAGE=`, `normal`, `attack`).
fn scenario_file(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(format!("{name}.sh"));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// Learns a profile from a recording's normal part (its header and its events before the attack's start, which
/// `check` looks at first) and detects over the whole recording with it: every profile alert comes at or after the
/// start; returns them as JSON, to look for what they say.
fn profile_alerts_after_the_marker(
    dir: &std::path::Path,
    recording: &std::path::Path,
    start: u64,
    check: impl Fn(&[&str]),
) -> String {
    let normal = dir.join("normal.jsonl.zst");
    let text = String::from_utf8(zstd::decode_all(std::fs::File::open(recording).unwrap()).unwrap()).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).unwrap()["time_ns"].as_u64().is_none_or(|t| t < start))
        .collect();
    assert!(kept.len() > 300, "{} lines before the marker", kept.len());
    check(&kept);
    std::fs::write(&normal, zstd::encode_all((kept.join("\n") + "\n").as_bytes(), 3).unwrap()).unwrap();
    let profiles = dir.join("profiles");
    learn_lab(&profiles, &normal);
    let alerts = detect(recording, &["--workload", "lab", "--profiles", profiles.to_str().unwrap()]);
    let model: Vec<&Value> = alerts.iter().filter(|a| a["source"]["type"] == "model").collect();
    assert!(model.iter().all(|a| a["time_ns"].as_u64().unwrap() >= start), "{model:#?}");
    serde_json::to_string(&model).unwrap()
}

/// The rules (no profiles) raise exactly one alert of `rule` on a recording, its title saying `says`.
fn one_rule_alert(recording: &std::path::Path, rule: &str, says: &str) {
    let alerts = detect(recording, &["--no-profiles"]);
    let of_rule: Vec<&Value> = alerts.iter().filter(|a| a["source"]["name"] == rule).collect();
    assert_eq!(of_rule.len(), 1, "{alerts:#?}");
    assert!(of_rule[0]["title"].as_str().unwrap().contains(says), "{}", of_rule[0]);
}

#[test]
fn an_interactive_session_is_one_terminal_shell_alert_and_its_history_no_evidence_removal() {
    // `kubectl exec -it` in miniature, recorded as the lab records its scenarios: a real web container, `script`
    // giving `bash -i` a terminal, the session typing one command and exiting — bash creates /root/.bash_history
    // with a truncating open at exit. The rules see one terminal-shell alert (the session's first shell) and no
    // evidence removal.
    let dir = tempfile::tempdir().unwrap();
    let session = scenario_file(
        dir.path(),
        "session",
        r#"IMAGE=web
normal() { web_traffic "http://127.0.0.1:$WEB_PORT/" 5; }
attack() {
  printf 'echo hello\nexit\n' | inside "$1" script -qc "bash -i" /dev/null > /dev/null
  inside "$1" test -s /root/.bash_history
}
"#,
    );
    let out = dir.path().join("session.jsonl.zst");
    let (ev, m) = record_with("runc", &session, &out);
    // What would have been taken for evidence removal is there: bash's truncating open of its new history.
    after(&ev, m, "a truncating open of the history", |e| {
        e["kind"] == "open"
            && e["path"] == "/root/.bash_history"
            && e["flags"].as_u64().is_some_and(|f| f & 0o1000 != 0)
    });
    let alerts = detect(&out, &["--no-profiles"]);
    let names: Vec<&str> = alerts.iter().filter_map(|a| a["source"]["name"].as_str()).collect();
    assert_eq!(names, ["Terminal shell in a container"], "{alerts:#?}");
    assert!(alerts[0]["title"].as_str().unwrap().contains("parent script"), "{}", alerts[0]);
}

/// Learns one workload, `lab`, from a recording of one container (k = 1, t = 1) into `profiles`, in monitor mode.
fn learn_lab(profiles: &std::path::Path, recording: &std::path::Path) {
    let learn = Command::new(assert_cmd::cargo::cargo_bin("kestrel"))
        .args(["learn", "-q", "--workload", "lab", "-k", "1", "-t", "1", "--mode", "monitor", "--profiles"])
        .arg(profiles)
        .arg(recording)
        .output()
        .unwrap();
    assert!(learn.status.success(), "{}", String::from_utf8_lossy(&learn.stderr));
}

/// Alerts `kestrel detect` raises on a recording, with these options.
fn detect(recording: &std::path::Path, options: &[&str]) -> Vec<Value> {
    let out = Command::new(assert_cmd::cargo::cargo_bin("kestrel"))
        .args(["detect", "-q", "-f", "json"])
        .args(options)
        .arg(recording)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Keeps a failed test's recordings: on a panic, the files of `0` are copied to the target's temporary directory
/// (`lab-failures/NAME`) and the place is printed, so that a rare race seen once can be read afterwards.
struct KeepOnPanic<'a>(&'a std::path::Path, &'a str);

impl Drop for KeepOnPanic<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let to = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("lab-failures").join(self.1);
        let _ = std::fs::create_dir_all(&to);
        for f in std::fs::read_dir(self.0).into_iter().flatten().flatten() {
            if f.path().is_file() {
                let _ = std::fs::copy(f.path(), to.join(f.file_name()));
            }
        }
        eprintln!("the recordings are kept in {}", to.display());
    }
}

#[test]
fn a_new_container_of_a_learned_workload_starts_quietly_under_runc_and_crun() {
    // What a runtime does to start a container happens in the container's cgroup and names the container (its
    // bundle path, its state directory): the profiles and the rules must know it for the runtime's, or every
    // new replica alarms. Checked with both runtimes on real containers: one learned, a second of the same
    // workload detected on (no model alert; the scenario's own rule alert as the control), and a third doing
    // something new (the profile is live: it alerts).
    let dir = tempfile::tempdir().unwrap();
    let _keep = KeepOnPanic(dir.path(), "a_new_container_of_a_learned_workload");
    for runtime in ["runc", "crun"] {
        let rec = |scenario: &str, n: u32| {
            let out = dir.path().join(format!("{runtime}-{scenario}-{n}.jsonl.zst"));
            let (ev, _) = record_with(runtime, scenario, &out);
            let init = |e: &&Value| e["comm"].as_str().is_some_and(|c| c.starts_with("runc:") || c == "crun");
            assert!(ev.iter().any(|e| init(&e) && e["kind"] == "mkdir"), "{runtime}: no runtime setup recorded");
            out
        };
        let (first, second, other) = (rec("shadow-read", 1), rec("shadow-read", 2), rec("reverse-shell", 3));
        let profiles = dir.path().join(format!("{runtime}-profiles"));
        learn_lab(&profiles, &first);
        // Every container one workload, profiles from the first.
        let options = ["--workload", "lab", "--profiles", profiles.to_str().unwrap()];
        let alerts = detect(&second, &options);
        let names: Vec<&str> = alerts.iter().filter_map(|a| a["source"]["name"].as_str()).collect();
        assert_eq!(names, ["Sensitive file opened for reading"], "{runtime}: {alerts:#?}");
        let alerts = detect(&other, &options);
        assert!(alerts.iter().any(|a| a["source"]["type"] == "model"), "{runtime}: {alerts:#?}");
    }
}
