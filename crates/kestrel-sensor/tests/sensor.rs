//! The real sensor on this kernel (root and BTF required; CI runs as root): processes placed in a cgroup of
//! the test's own do known things, and the sensor must report each, attributed to that cgroup, with the right
//! fields. A runc container is attributed to its container id.

use kestrel_core::{Event, EventKind, L4Proto};
use kestrel_sensor::cgroup::cgroup2_root;
use kestrel_sensor::{Config, Sensor};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A cgroup of the test's own, removed at the end.
struct TestCgroup(PathBuf);

impl TestCgroup {
    fn new(name: &str) -> TestCgroup {
        let root = cgroup2_root().expect("a cgroup v2 hierarchy");
        let p = root.join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{}: {e} (the sensor tests need root)", p.display()));
        TestCgroup(p)
    }

    /// Runs `script` with sh after moving the shell into this cgroup.
    fn sh(&self, script: &str) -> std::process::Output {
        let full = format!("echo $$ > {}/cgroup.procs && {script}", self.0.display());
        Command::new("/bin/sh").arg("-c").arg(full).output().unwrap()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            if std::fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn sensor(watch: &[&Path], queue_len: usize) -> Sensor {
    sensor_with(watch, queue_len, false)
}

fn sensor_with(watch: &[&Path], queue_len: usize, open_returns: bool) -> Sensor {
    start_sensor(Config { open_returns, ..watching(watch, queue_len) })
}

fn watching(watch: &[&Path], queue_len: usize) -> Config {
    Config {
        watch_cgroups: watch.iter().map(|p| p.to_path_buf()).collect(),
        runc_parents: vec!["kestrel-lab-runc".into()],
        queue_len,
        ..Config::default()
    }
}

fn start_sensor(cfg: Config) -> Sensor {
    Sensor::start(cfg).unwrap_or_else(|e| panic!("{e}"))
}

/// Events until `done` says enough or the deadline passes.
fn collect(s: &mut Sensor, deadline: Duration, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    let start = Instant::now();
    let mut out = Vec::new();
    while start.elapsed() < deadline && !done(&out) {
        if let Some(e) = s.next(Duration::from_millis(50)) {
            out.push(e);
        }
    }
    out
}

#[test]
fn exec_open_connect_and_exit_of_a_watched_cgroup() {
    let cg = TestCgroup::new("kestrel-test-events");
    let mut s = sensor(&[&cg.0], 65_536);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    let file = std::env::temp_dir().join(format!("kestrel-sensor-{}", std::process::id()));
    let script = format!(
        "echo 4242 > /proc/self/loginuid; cat /proc/self/loginuid > {f}.loginuid; cut -d' ' -f6 /proc/$$/stat > {f}.sid; \
         env -i GLIBC_TUNABLES=glibc.malloc.check=0 KESTREL_SECRET=hunter2 PATH=/usr/bin:/bin \
           /bin/echo kestrel-marker one two > {f}; cat /etc/shadow > /dev/null; \
         setsid /bin/echo no-tty > /dev/null; setpriv --egid=4343 --keep-groups /bin/echo egid > /dev/null; script -qec '/bin/echo on-a-tty' /dev/null > /dev/null; \
         /usr/bin/python3 -c \"{memfd}\"; \
         bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}; exec 4<>/dev/udp/127.0.0.1/{udp_port}' ; exit 3",
        f = file.display(),
        memfd = "import os; fd = os.memfd_create('kestrel'); os.write(fd, open('/bin/true', 'rb').read()); \
                 os.execve(fd, ['fileless'], {})"
    );
    let out = cg.sh(&script);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let cgroup_id = std::fs::metadata(&cg.0).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap();
    let events = collect(&mut s, Duration::from_secs(5), |ev| {
        ev.iter().any(|e| matches!(&e.kind, EventKind::Connect { to } if to.port == udp_port))
            && ev.iter().any(|e| matches!(e.kind, EventKind::Exit { status } if status == 3 << 8))
    });
    let _ = std::fs::remove_file(&file);
    let exec = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Exec { exe, argv, uid, .. } if exe == "/bin/echo" => Some((e, argv.clone(), *uid)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no exec of /bin/echo in {events:#?}"));
    assert_eq!(exec.1, ["/bin/echo", "kestrel-marker", "one", "two"]);
    assert_eq!(exec.2, 0);
    assert_eq!(exec.0.cgroup_id, cgroup_id);
    // Its parent is the shell that ran the script (env(1) exec'd it in its own process; the kernel names the
    // parent in the event, even if it is gone).
    let EventKind::Exec { parent_comm, env, vpid, .. } = &exec.0.kind else { unreachable!() };
    assert_eq!(parent_comm, "sh");
    // A process of the host's pid namespace: its pid there is its pid.
    assert_eq!(*vpid, exec.0.pid);
    // Its environment: the loader's and PATH's values kept, another variable by name only.
    assert_eq!(env, &["GLIBC_TUNABLES=glibc.malloc.check=0", "KESTREL_SECRET", "PATH=/usr/bin:/bin"]);
    // The controlling terminal: none after setsid, a pseudo-terminal (major 136) under script(1).
    let tty_of = |word: &str| {
        events.iter().find_map(|e| match &e.kind {
            EventKind::Exec { argv, tty, cap_permitted, .. } if argv.iter().any(|a| a == word) => {
                Some((*tty, *cap_permitted))
            }
            _ => None,
        })
    };
    let (no_tty, permitted) = tty_of("no-tty").unwrap_or_else(|| panic!("no exec of no-tty in {events:#?}"));
    assert_eq!(no_tty, 0);
    let (tty, _) = tty_of("on-a-tty").unwrap_or_else(|| panic!("no exec of on-a-tty in {events:#?}"));
    assert_eq!((tty >> 8) & 0xfff, 136, "tty {tty:#x}");
    // setsid(1) made its program lead a process group of its own (and a session; setsid's own exec did not
    // lead one); the script's commands stay in the group they were started in.
    let leads = |word: &str| {
        events.iter().find_map(|e| match &e.kind {
            EventKind::Exec { argv, pgrp_leader, .. } if argv[0] == "/bin/echo" && argv.iter().any(|a| a == word) => {
                Some(*pgrp_leader)
            }
            _ => None,
        })
    };
    assert_eq!((leads("no-tty"), leads("kestrel-marker")), (Some(true), Some(false)), "{events:#?}");
    // A program run from a memfd is flagged; one from a file is not. The login uid is inherited.
    let exec_of = |word: &str| {
        events.iter().find_map(|e| match &e.kind {
            EventKind::Exec { argv, exe_from_memfd, loginuid, .. } if argv.first().is_some_and(|a| a == word) => {
                Some((*exe_from_memfd, *loginuid))
            }
            _ => None,
        })
    };
    // The script set its login uid (as root, once, as pam_loginuid does at login) where the kernel allows.
    let loginuid_file = format!("{}.loginuid", file.display());
    let loginuid: u32 = std::fs::read_to_string(&loginuid_file).unwrap().trim().parse().unwrap();
    let _ = std::fs::remove_file(&loginuid_file);
    assert_eq!(exec_of("fileless"), Some((true, loginuid)), "{events:#?}");
    assert_eq!(exec_of("/bin/echo"), Some((false, loginuid)));
    // Sessions: setsid's program leads its own; the script's commands are in the script's shell's session.
    let exec_event = |word: &str| {
        events
            .iter()
            .find(|e| matches!(&e.kind, EventKind::Exec { argv, .. } if argv[0] == "/bin/echo" && argv.iter().any(|a| a == word)))
            .unwrap_or_else(|| panic!("no exec of echo {word}: {events:#?}"))
    };
    let sid = |e: &Event| match &e.kind {
        EventKind::Exec { sid, .. } => *sid,
        _ => unreachable!(),
    };
    let leader = exec_event("no-tty");
    assert_eq!(sid(leader), leader.pid);
    // The script's session as the kernel numbers it: the test's own (0 where nothing above it called setsid,
    // as in a container started without one, which CI is).
    let sid_file = format!("{}.sid", file.display());
    let script_sid: u32 = std::fs::read_to_string(&sid_file).unwrap().trim().parse().unwrap();
    let _ = std::fs::remove_file(&sid_file);
    let marker = exec_event("kestrel-marker");
    assert!(
        sid(marker) == script_sid && sid(marker) != marker.pid,
        "sid {} of pid {}, the script's {script_sid}",
        sid(marker),
        marker.pid
    );
    // The effective gid as setpriv set it, the real one untouched.
    let EventKind::Exec { gid, egid, .. } = &exec_event("egid").kind else { unreachable!() };
    assert_eq!((*gid, *egid), (0, Some(4343)));
    // The program file as its inode is.
    let echo = std::fs::metadata("/bin/echo").unwrap();
    let ns = |s: i64, n: i64| (s * 1_000_000_000 + n) as u64;
    use std::os::unix::fs::MetadataExt;
    let want = kestrel_core::ExeFile {
        ino: echo.ino(),
        ctime_ns: ns(echo.ctime(), echo.ctime_nsec()),
        mtime_ns: ns(echo.mtime(), echo.mtime_nsec()),
    };
    let EventKind::Exec { exe_file, .. } = &marker.kind else { unreachable!() };
    assert_eq!(exe_file.as_deref(), Some(&want));
    // Root on the host: CAP_SYS_ADMIN (21) is permitted.
    assert_ne!(permitted & (1 << 21), 0, "cap_permitted {permitted:#x}");
    assert!(events.iter().any(|e| matches!(&e.kind, EventKind::Open { path, flags } if *path == file.display().to_string() && flags & 1 == 1)),
        "no write-open of {} in {events:#?}", file.display());
    assert!(
        events.iter().any(|e| matches!(&e.kind, EventKind::Open { path, .. } if path == "/etc/shadow")),
        "no open of /etc/shadow"
    );
    let connect = events.iter().find(|e| matches!(&e.kind, EventKind::Connect { to } if to.port == port)).unwrap();
    let EventKind::Connect { to } = &connect.kind else { unreachable!() };
    assert_eq!((to.family.as_str(), to.addr.as_str(), to.proto), ("inet", "127.0.0.1", Some(L4Proto::Tcp)));
    assert_eq!(connect.comm, "bash");
    // The protocol is the socket's, read from the descriptor: bash's /dev/udp connects a datagram socket.
    let to_udp = events.iter().find_map(|e| match &e.kind {
        EventKind::Connect { to } if to.port == udp_port => Some(to),
        _ => None,
    });
    assert_eq!(to_udp.and_then(|to| to.proto), Some(L4Proto::Udp), "{events:#?}");
    // Every event is of the watched cgroup: nothing of the host leaked in.
    assert!(events.iter().all(|e| e.cgroup_id == cgroup_id), "events of other cgroups");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    assert!(events.iter().all(|e| e.time_ns <= now && now - e.time_ns < 60_000_000_000), "wall-clock times");
    s.stop().unwrap();
}

/// Six reads of /etc/shadow, one per way of writing it (the legacy open(2) call included), and reads of files
/// that are not sensitive, one of them named like one; the reads of /etc/shadow the sensor reported.
fn read_shadow_six_ways(open_returns: bool) -> Vec<(u32, String)> {
    let cg = TestCgroup::new(if open_returns { "kestrel-test-sensitive-ret" } else { "kestrel-test-sensitive" });
    let mut s = sensor_with(&[&cg.0], 65_536, open_returns);
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("innocent");
    let doc = dir.path().join("shadow");
    std::fs::write(&doc, "not a password file").unwrap();
    let script = format!(
        "cat /etc/shadow > /dev/null; cat /etc//shadow > /dev/null; (cd /etc && cat shadow > /dev/null); \
         cat /var/../etc/./shadow > /dev/null; ln -s /etc/shadow {link}; cat {link} > /dev/null; \
         /usr/bin/python3 -c \"import ctypes; ctypes.CDLL(None).syscall(2, b'/tmp/../etc/shadow', 0)\"; \
         cat /etc/passwd {doc} > /dev/null; ln -s /etc/passwd {plain}; ln /etc/shadow /proc/kestrel-no 2> /dev/null; \
         (cd {dir} && ln -s /etc/hostname relative); echo done",
        link = link.display(),
        doc = doc.display(),
        plain = dir.path().join("plain").display(),
        dir = dir.path().display(),
    );
    let out = cg.sh(&script);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reads = |ev: &[Event]| -> Vec<(u32, String)> {
        ev.iter()
            .filter_map(|e| match &e.kind {
                EventKind::Open { path, flags } if flags & 3 == 0 => Some((e.pid, path.clone())),
                _ => None,
            })
            .collect()
    };
    let want = if open_returns { 6 } else { 5 };
    let events = collect(&mut s, Duration::from_secs(5), |ev| {
        reads(ev).iter().filter(|(_, p)| p == "/etc/shadow").count() >= want
    });
    // Give a duplicate time to show up.
    let more = collect(&mut s, Duration::from_millis(300), |_| false);
    let all: Vec<Event> = events.into_iter().chain(more).collect();
    // Nothing but /etc/shadow, each read at most once; the raw path of a read reported at entry is kept.
    assert!(reads(&all).iter().all(|(_, p)| p.starts_with("/etc/shadow")), "{:#?}", reads(&all));
    // Every link is reported when made (the hard link's attempt fails, and is reported too), those to
    // /etc/shadow as sensitive; a relative name joined to the directory it was made in.
    let links: Vec<(String, String, bool)> = all
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Link { call, target, path, sensitive, .. } => {
                Some((call.clone(), format!("{path} -> {target}"), *sensitive))
            }
            _ => None,
        })
        .collect();
    assert_eq!(links.len(), 4, "{links:#?}");
    assert!(links[0].0.starts_with("symlink") && links[0].1 == format!("{} -> /etc/shadow", link.display()));
    assert_eq!(links[1].1, format!("{} -> /etc/passwd", dir.path().join("plain").display()));
    assert!(links[2].0.starts_with("link") && links[2].1 == "/proc/kestrel-no -> /etc/shadow", "{links:?}");
    assert_eq!(links[3].1, format!("{} -> /etc/hostname", dir.path().join("relative").display()));
    assert_eq!(links.iter().map(|l| l.2).collect::<Vec<_>>(), [true, false, true, false]);
    let mut shadow = reads(&all);
    shadow.retain(|(_, p)| p == "/etc/shadow");
    let mut pids: Vec<u32> = shadow.iter().map(|(pid, _)| *pid).collect();
    pids.dedup();
    assert_eq!(pids.len(), shadow.len(), "a read reported twice: {shadow:?}");
    shadow
}

#[test]
fn sensitive_reads_are_seen_however_the_path_is_written() {
    // Judged when made: the symbolic link is the one way not seen.
    assert_eq!(read_shadow_six_ways(false).len(), 5);
}

#[test]
fn sensitive_reads_through_a_symbolic_link_are_seen_with_open_returns() {
    assert_eq!(read_shadow_six_ways(true).len(), 6);
}

/// A process's environment read by its procfs path, by the pid's, from /proc/self by a relative name, and with
/// the return side on; files merely named `environ` and a process's other procfs files are not reported.
fn read_environments(open_returns: bool) -> Vec<String> {
    let cg = TestCgroup::new(if open_returns { "kestrel-test-environ-ret" } else { "kestrel-test-environ" });
    let mut s = sensor_with(&[&cg.0], 65_536, open_returns);
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "cat /proc/self/environ > /dev/null; cat /proc/$$/environ > /dev/null; (cd /proc/self && cat environ > /dev/null); \
         cat /proc/self/cmdline /proc/$$/status > /dev/null; echo x > {dir}/environ; cat {dir}/environ > /dev/null; \
         cat /proc/self/environ/ 2> /dev/null; echo done",
        dir = dir.path().display(),
    );
    let out = cg.sh(&script);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reads = |ev: &[Event]| -> Vec<String> {
        ev.iter()
            .filter_map(|e| match &e.kind {
                EventKind::Open { path, flags } if flags & 3 == 0 => Some(path.clone()),
                _ => None,
            })
            .collect()
    };
    let events = collect(&mut s, Duration::from_secs(5), |ev| reads(ev).len() >= 3);
    let more = collect(&mut s, Duration::from_millis(300), |_| false);
    let all: Vec<Event> = events.into_iter().chain(more).collect();
    reads(&all)
}

#[test]
fn a_process_environment_read_is_a_sensitive_read() {
    for open_returns in [false, true] {
        let reads = read_environments(open_returns);
        assert_eq!(reads.len(), 3, "open_returns {open_returns}: {reads:#?}");
        assert!(reads.iter().all(|p| kestrel_core::is_process_environment(p)), "{reads:#?}");
        assert!(reads.iter().any(|p| p == "/proc/self/environ") || open_returns, "{reads:#?}");
    }
}

/// The files a shell's `cat`s read: by an absolute path, a relative one from its directory, one with `..` in it,
/// and a directory listed — with every read reported (`all_reads`) or not, the open calls' return side on or off.
fn ordinary_reads(all_reads: bool, open_returns: bool) -> Vec<String> {
    let name = format!("kestrel-test-reads-{}-{}", u8::from(all_reads), u8::from(open_returns));
    let cg = TestCgroup::new(&name);
    let mut s = start_sensor(Config { all_reads, open_returns, ..watching(&[&cg.0], 65_536) });
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for f in ["a.txt", "b.txt", "c.txt"] {
        std::fs::write(dir.path().join(f), "x").unwrap();
    }
    let d = dir.path().display();
    let script = format!(
        "cat {d}/a.txt > /dev/null; (cd {d} && cat b.txt > /dev/null); cat {d}/sub/../c.txt > /dev/null; \
         ls {d}/sub > /dev/null; echo y > {d}/written; echo done"
    );
    let out = cg.sh(&script);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reads = |ev: &[Event]| -> Vec<String> {
        ev.iter()
            .filter_map(|e| match &e.kind {
                EventKind::Open { path, flags } if flags & 3 == 0 && path.starts_with(&d.to_string()) => {
                    Some(kestrel_core::normalize_path(path).into_owned())
                }
                _ => None,
            })
            .collect()
    };
    let written =
        |ev: &[Event]| ev.iter().any(|e| matches!(&e.kind, EventKind::Open { path, .. } if path.ends_with("/written")));
    let events = collect(&mut s, Duration::from_secs(5), |ev| written(ev));
    let more = collect(&mut s, Duration::from_millis(300), |_| false);
    let all: Vec<Event> = events.into_iter().chain(more).collect();
    assert!(written(&all), "the write that ends the script was not seen");
    let mut got = reads(&all);
    got.sort();
    got.dedup();
    got
}

#[test]
fn every_read_is_reported_when_asked_for_and_none_otherwise() {
    for open_returns in [false, true] {
        let none = ordinary_reads(false, open_returns);
        assert!(none.is_empty(), "open_returns {open_returns}, reads not asked for: {none:#?}");
        let got = ordinary_reads(true, open_returns);
        for want in ["a.txt", "b.txt", "c.txt", "sub"] {
            assert!(
                got.iter().any(|p| p.starts_with('/') && p.ends_with(&format!("/{want}"))),
                "open_returns {open_returns}: no read of {want} in {got:#?}"
            );
        }
    }
}

#[test]
fn every_read_through_io_uring_is_reported_when_asked_for() {
    // A ring's opens never enter open(2): with every read wanted, /etc/passwd by its absolute path and `hostname`
    // from /etc are reported when submitted, the relative one resolved against the working directory.
    let helper = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/io_uring.py");
    let cg = TestCgroup::new("kestrel-test-uring-reads");
    let mut s = start_sensor(Config { all_reads: true, ..watching(&[&cg.0], 65_536) });
    let out = cg.sh(&format!("cd /etc && /usr/bin/python3 {} open:/etc/passwd open:hostname", helper.display()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read = |ev: &[Event], want: &str| {
        ev.iter().any(|e| matches!(&e.kind, EventKind::Open { path, flags } if path == want && flags & 32768 != 0))
    };
    let events = collect(&mut s, Duration::from_secs(5), |ev| read(ev, "/etc/passwd") && read(ev, "/etc/hostname"));
    assert!(read(&events, "/etc/passwd") && read(&events, "/etc/hostname"), "{events:#?}");
}

#[test]
fn opens_links_connects_binds_and_listens_through_io_uring_are_seen() {
    // A ring's requests never enter the system calls: /etc/shadow read by its absolute path and by a relative
    // one from /etc, /etc/passwd (not sensitive), a TCP connection to a local listener, a symbolic link to
    // /etc/shadow, a datagram by sendmsg and one by send with a destination, a packet socket, then a bind and
    // a listen — with and without the open calls' return side.
    let helper = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/io_uring.py");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let udp_port = || std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (u1, u2) = (udp_port(), udp_port());
    for open_returns in [false, true] {
        let cg = TestCgroup::new(if open_returns { "kestrel-test-uring-ret" } else { "kestrel-test-uring" });
        let mut s = sensor_with(&[&cg.0], 65_536, open_returns);
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("innocent");
        let out = cg.sh(&format!(
            "cd /etc && /usr/bin/python3 {} open:/etc/shadow open:shadow open:/etc/passwd connect:127.0.0.1:{port} \
             symlink:/etc/shadow:{} sendmsg:127.0.0.1:{u1} send:127.0.0.1:{u2} packet",
            helper.display(),
            link.display()
        ));
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/etc/shadow"), "the ring made the link");
        let printed = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{printed}{}", String::from_utf8_lossy(&out.stderr));
        // Each request worked (a descriptor or 0, not -errno): they really happened through the ring.
        assert!(printed.lines().all(|l| l.rsplit(' ').next().is_some_and(|r| !r.starts_with('-'))), "{printed}");
        let _ = listener.accept().unwrap();
        let shadow = |ev: &[Event]| -> usize {
            ev.iter()
                .filter(
                    |e| matches!(&e.kind, EventKind::Open { path, flags } if path == "/etc/shadow" && flags & 3 == 0),
                )
                .count()
        };
        let connected = |ev: &[Event]| {
            ev.iter().any(|e| matches!(&e.kind, EventKind::Connect { to } if to.port == port && to.addr == "127.0.0.1"))
        };
        let linked = |ev: &[Event]| {
            ev.iter().any(|e| {
                matches!(&e.kind, EventKind::Link { call, target, path, sensitive: true, .. }
                if call == "symlinkat" && target == "/etc/shadow" && Path::new(path) == link)
            })
        };
        let sent = |ev: &[Event], call: &str, port: u16| {
            ev.iter().any(|e| matches!(&e.kind, EventKind::Send { call: c, to } if c == call && to.port == port))
        };
        let packet = |ev: &[Event]| {
            ev.iter().any(|e| {
                matches!(&e.kind, EventKind::Socket { family, sock_type, protocol: 3 } if family == "packet" && sock_type == "raw")
            })
        };
        let mut events = collect(&mut s, Duration::from_secs(5), |ev| {
            shadow(ev) >= 2
                && connected(ev)
                && linked(ev)
                && sent(ev, "sendmsg", u1)
                && sent(ev, "sendto", u2)
                && packet(ev)
        });
        assert!(linked(&events), "open_returns {open_returns}: {events:#?}");
        events.extend(collect(&mut s, Duration::from_millis(300), |_| false));
        assert_eq!(shadow(&events), 2, "open_returns {open_returns}: {events:#?}");
        assert!(connected(&events), "open_returns {open_returns}: {events:#?}");
        assert!(
            sent(&events, "sendmsg", u1) && sent(&events, "sendto", u2),
            "open_returns {open_returns}: {events:#?}"
        );
        assert!(packet(&events), "open_returns {open_returns}: {events:#?}");
        let to = events.iter().find_map(|e| match &e.kind {
            EventKind::Connect { to } if to.port == port => Some(to),
            _ => None,
        });
        assert_eq!(to.and_then(|t| t.proto), Some(L4Proto::Tcp), "the socket's kind, read from its descriptor");
        assert!(
            !events.iter().any(|e| matches!(&e.kind, EventKind::Open { path, .. } if path.contains("passwd"))),
            "a read of a file that is not sensitive is not reported"
        );
        // A bind and a listen (backlog 7) through the ring: reported, and the connection it then accepts too.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let lport = free.local_addr().unwrap().port();
        drop(free);
        let script = format!("/usr/bin/python3 {} listen:{lport}", helper.display());
        let cg_path = cg.0.clone();
        let server = std::thread::spawn(move || {
            let full = format!("echo $$ > {}/cgroup.procs && {script}", cg_path.display());
            Command::new("/bin/sh").arg("-c").arg(full).output().unwrap()
        });
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", lport)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "the ring's listener never came up");
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = server.join().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let bound = |ev: &[Event]| {
            ev.iter()
                .any(|e| matches!(&e.kind, EventKind::Bind { addr } if addr.port == lport && addr.addr == "127.0.0.1"))
        };
        let listened = |ev: &[Event]| ev.iter().any(|e| matches!(e.kind, EventKind::Listen { backlog: 7, .. }));
        let accepted =
            |ev: &[Event]| ev.iter().any(|e| matches!(&e.kind, EventKind::Accept { port: Some(p), .. } if *p == lport));
        let events = collect(&mut s, Duration::from_secs(5), |ev| bound(ev) && listened(ev) && accepted(ev));
        assert!(bound(&events) && listened(&events) && accepted(&events), "open_returns {open_returns}: {events:#?}");
    }
}

#[test]
fn writes_and_execs_by_relative_paths_name_the_file() {
    relative_writes(false);
}

#[test]
fn writes_by_relative_paths_name_the_file_with_open_returns() {
    relative_writes(true);
}

fn relative_writes(open_returns: bool) {
    let cg = TestCgroup::new(if open_returns { "kestrel-test-relative-ret" } else { "kestrel-test-relative" });
    let mut s = sensor_with(&[&cg.0], 65_536, open_returns);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().canonicalize().unwrap();
    let out = cg.sh(&format!(
        "cd {d} && echo x > rel-written && cp /bin/true ./runme && ./runme && echo y > /dev/null && \
         (mkdir sub && cd sub && echo z > ../up-written)",
        d = dir.display()
    ));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let want = |name: &str| dir.join(name).display().to_string();
    let (written, runme, up) = (want("rel-written"), want("runme"), want("up-written"));
    let wrote = |ev: &[Event], p: &str| {
        ev.iter().any(|e| matches!(&e.kind, EventKind::Open { path, flags } if path == p && flags & 3 != 0))
    };
    let events = collect(&mut s, Duration::from_secs(5), |ev| {
        wrote(ev, &written)
            && wrote(ev, &runme)
            && wrote(ev, &up)
            && ev.iter().any(|e| matches!(&e.kind, EventKind::Exec { exe, .. } if *exe == runme))
    });
    for p in [&written, &runme, &up] {
        assert!(wrote(&events, p), "no write of {p}: {events:#?}");
    }
    let cwd = dir.display().to_string();
    assert!(
        events.iter().any(|e| matches!(&e.kind, EventKind::Exec { exe, cwd: c, .. } if *exe == runme && *c == cwd)),
        "{events:#?}"
    );
    // Each written once, by its full path.
    let writes_of_runme = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Open { path, flags } if *path == runme && flags & 3 != 0))
        .count();
    assert_eq!(writes_of_runme, 1);
    assert!(
        !events.iter().any(|e| matches!(&e.kind, EventKind::Open { path, .. } if !path.starts_with('/'))),
        "a relative path reported: {events:#?}"
    );
}

#[test]
fn unwatched_processes_are_not_reported() {
    let watched = TestCgroup::new("kestrel-test-watched");
    let other = TestCgroup::new("kestrel-test-other");
    let mut s = sensor(&[&watched.0], 65_536);
    other.sh("/bin/echo not-me > /dev/null");
    watched.sh("/bin/echo me > /dev/null");
    let events = collect(&mut s, Duration::from_secs(3), |ev| {
        ev.iter().any(|e| matches!(&e.kind, EventKind::Exec { argv, .. } if argv.iter().any(|a| a == "me")))
    });
    assert!(events.iter().any(|e| matches!(&e.kind, EventKind::Exec { argv, .. } if argv.iter().any(|a| a == "me"))));
    assert!(!events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Exec { argv, .. } if argv.iter().any(|a| a == "not-me"))));
}

#[test]
fn renames_are_seen_by_system_call_and_through_io_uring() {
    // A file written in one place and moved into another never opens there for writing: mv (renameat2 or
    // rename), Python's os.rename (rename) and a ring's IORING_OP_RENAMEAT each report old and new names.
    let cg = TestCgroup::new("kestrel-test-rename");
    let mut s = sensor(&[&cg.0], 65_536);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let helper = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/io_uring.py");
    let out = cg.sh(&format!(
        "echo x > {d}/a && mv {d}/a {d}/b && /usr/bin/python3 -c 'import os; os.rename(\"{d}/b\", \"{d}/c\")' && \
         /usr/bin/python3 {} rename:{d}/c:{d}/e && /usr/bin/python3 -c 'import os; fd = os.open(\"{d}\", os.O_RDONLY); \
         os.rename(\"e\", \"f\", src_dir_fd=fd, dst_dir_fd=fd)' && cd {d} && mv f g",
        helper.display()
    ));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("g").exists(), "the ring, renameat and mv renamed the file");
    let renamed = |ev: &[Event], from: &str, to: &str| {
        ev.iter().any(|e| {
            matches!(&e.kind, EventKind::Rename { from: f, to: t, .. } if *f == format!("{d}/{from}") && *t == format!("{d}/{to}"))
        })
    };
    // Relative names come joined to the directory the kernel rebuilt for them (the descriptor's, the working
    // directory).
    let by_fd = |ev: &[Event]| {
        ev.iter().any(|e| {
            matches!(&e.kind, EventKind::Rename { from, to, to_dirfd: true, .. }
                if *from == format!("{d}/e") && *to == format!("{d}/f"))
        })
    };
    let events = collect(&mut s, Duration::from_secs(5), |ev| {
        renamed(ev, "a", "b") && renamed(ev, "b", "c") && renamed(ev, "c", "e") && by_fd(ev) && renamed(ev, "f", "g")
    });
    assert!(by_fd(&events), "renameat relative to a directory descriptor: {events:#?}");
    assert!(renamed(&events, "f", "g"), "mv by relative names: {events:#?}");
    assert!(renamed(&events, "a", "b"), "mv: {events:#?}");
    assert!(renamed(&events, "b", "c"), "os.rename: {events:#?}");
    assert!(renamed(&events, "c", "e"), "IORING_OP_RENAMEAT: {events:#?}");
    let ring = events.iter().find(|e| matches!(&e.kind, EventKind::Rename { to, .. } if to.ends_with("/e")));
    assert!(matches!(ring.map(|e| &e.kind), Some(EventKind::Rename { call, .. }) if call == "renameat2"), "{ring:?}");
}

#[test]
fn directories_made_and_userfaultfd_are_seen() {
    // mkdir(2) by an absolute path (mkdir -p: mkdir or mkdirat), Python's os.mkdir by a relative one (mkdir) and
    // with dir_fd (mkdirat), a ring's IORING_OP_MKDIRAT; and userfaultfd(2) (reported when attempted, whatever
    // vm.unprivileged_userfaultfd lets it do). Relative paths come joined to the directory the kernel rebuilt
    // for them (the working directory, the descriptor's).
    let cg = TestCgroup::new("kestrel-test-mkdir");
    let mut s = sensor(&[&cg.0], 65_536);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let helper = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/io_uring.py");
    let out = cg.sh(&format!(
        "mkdir -m 700 {d}/a && cd {d} && /usr/bin/python3 -c 'import os; os.mkdir(\"b\"); \
         fd = os.open(\"{d}\", os.O_RDONLY); os.mkdir(\"c\", dir_fd=fd)' && /usr/bin/python3 {} mkdir:{d}/e && \
         /usr/bin/python3 -c 'import ctypes; ctypes.CDLL(None).syscall(323, 0x80801)'",
        helper.display()
    ));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for sub in ["a", "b", "c", "e"] {
        assert!(dir.path().join(sub).is_dir(), "{sub} was made");
    }
    let made = |ev: &[Event], path: &str, call: &str, by_fd: bool| {
        ev.iter().any(|e| {
            matches!(&e.kind, EventKind::Mkdir { call: c, path: p, dirfd, .. } if p == path && c == call && *dirfd == by_fd)
        })
    };
    let (a, b, c, e) = (format!("{d}/a"), format!("{d}/b"), format!("{d}/c"), format!("{d}/e"));
    let uffd = |ev: &[Event]| ev.iter().any(|e| matches!(e.kind, EventKind::Userfaultfd { flags: 0x80801 }));
    let events = collect(&mut s, Duration::from_secs(5), |ev| {
        (made(ev, &a, "mkdir", false) || made(ev, &a, "mkdirat", false))
            && made(ev, &b, "mkdir", false)
            && made(ev, &c, "mkdirat", true)
            && made(ev, &e, "mkdirat", false)
            && uffd(ev)
    });
    assert!(made(&events, &a, "mkdir", false) || made(&events, &a, "mkdirat", false), "mkdir -p: {events:#?}");
    assert!(made(&events, &b, "mkdir", false), "os.mkdir: {events:#?}");
    assert!(made(&events, &c, "mkdirat", true), "os.mkdir with dir_fd: {events:#?}");
    assert!(made(&events, &e, "mkdirat", false), "IORING_OP_MKDIRAT: {events:#?}");
    assert!(uffd(&events), "userfaultfd: {events:#?}");
    let mode = events.iter().find_map(|e| match &e.kind {
        EventKind::Mkdir { path, mode, .. } if *path == a => Some(*mode),
        _ => None,
    });
    assert_eq!(mode, Some(0o700), "{events:#?}");
}

#[test]
fn files_mapped_executable_are_seen_once_per_program_and_file() {
    // A library loaded by dlopen (ctypes) three times from a directory of the test's, by three processes of the
    // same program: reported once (per 9-minute period, so at most twice), with its inode; rewritten in place (a
    // new ctime), reported again. A library loaded from a memfd and one removed before its mapping say so; a
    // file mapped without PROT_EXEC is not reported; the program's own libraries (libc) are.
    let cg = TestCgroup::new("kestrel-test-mmap");
    let mut s = sensor(&[&cg.0], 65_536);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let libm = ["/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib/x86_64-linux-gnu/libm.so.6"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("Debian's libm");
    let load = |what: &str| format!("/usr/bin/python3 -c 'import ctypes, os, mmap; {what}'");
    let out = cg.sh(&format!(
        "cp {libm} {d}/libx.so && {a} && {a} && {a} && cat {libm} > {d}/libx.so && {a} && {memfd} && {deleted} && {data}",
        a = load(&format!("ctypes.CDLL(\"{d}/libx.so\")")),
        memfd = load(&format!(
            "fd = os.memfd_create(\"kx\"); os.write(fd, open(\"{libm}\", \"rb\").read()); \
             ctypes.CDLL(\"/proc/self/fd/%d\" % fd)"
        )),
        deleted = load(&format!(
            "import shutil; shutil.copy(\"{libm}\", \"{d}/gone.so\"); fd = os.open(\"{d}/gone.so\", os.O_RDONLY); \
             os.unlink(\"{d}/gone.so\"); ctypes.CDLL(\"/proc/self/fd/%d\" % fd)"
        )),
        data = load(&format!(
            "open(\"{d}/data\", \"wb\").write(bytes(4096)); f = open(\"{d}/data\", \"rb\"); \
             mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ)"
        )),
    ));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let libx = format!("{d}/libx.so");
    let maps = |ev: &[Event], want: &dyn Fn(&str, bool, bool) -> bool| {
        ev.iter()
            .filter(|e| {
                matches!(&e.kind, EventKind::Mmap { path, memfd, deleted, prot, .. }
                if prot & 4 != 0 && want(path, *memfd, *deleted))
            })
            .count()
    };
    let of_libx = |ev: &[Event]| maps(ev, &|p, _, _| p == libx);
    let of_memfd = |ev: &[Event]| maps(ev, &|p, m, gone| m && !gone && p == "/memfd:kx");
    let of_gone = |ev: &[Event]| maps(ev, &|p, _, gone| gone && p.ends_with("/gone.so"));
    let of_libc = |ev: &[Event]| maps(ev, &|p, _, _| p.ends_with("/libc.so.6"));
    let events = collect(&mut s, Duration::from_secs(5), |ev| {
        of_libx(ev) >= 2 && of_memfd(ev) > 0 && of_gone(ev) > 0 && of_libc(ev) > 0
    });
    // What came after the last wanted event: a late duplicate would be there.
    let events = [events, collect(&mut s, Duration::from_millis(300), |_| false)].concat();
    let n = of_libx(&events);
    assert!((2..=3).contains(&n), "libx.so loaded 4 times, rewritten once: {n} reports {events:#?}");
    let inodes: Vec<u64> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Mmap { path, file: Some(f), .. } if *path == libx => Some(f.ino),
            _ => None,
        })
        .collect();
    let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&libx).unwrap());
    assert!(inodes.len() == n && inodes.iter().all(|&i| i == ino), "inode {ino}: {inodes:?}");
    assert!(of_memfd(&events) == 1, "a memfd's library: {events:#?}");
    assert!(of_gone(&events) == 1, "a library removed before it was mapped: {events:#?}");
    assert!(of_libc(&events) >= 1, "python3's libc: {events:#?}");
    assert!(
        events.iter().all(|e| !matches!(&e.kind, EventKind::Mmap { path, .. } if path.ends_with("/data"))),
        "a mapping without PROT_EXEC: {events:#?}"
    );
}

/// Memory made executable by Python through ctypes, one way per argument (tests/sensor.rs' memory test).
const EXEC_MEMORY_PY: &str = r#"
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
PAGE = 4096
def protect(addr, n, prot):
    if libc.mprotect(addr, n, prot) != 0:
        raise OSError(ctypes.get_errno(), "mprotect")
def addr_of(m):
    return ctypes.addressof(ctypes.c_char.from_buffer(m))
def maps(name):
    for line in open("/proc/self/maps"):
        f = line.split()
        if len(f) > 5 and f[5] == name:
            return [int(x, 16) for x in f[0].split("-")]
for what in sys.argv[1:]:
    if what == "rwx":  # an anonymous mapping made executable when made
        m = mmap.mmap(-1, 2 * PAGE, prot=7)
    elif what == "anon":  # written, then made executable (W^X)
        m = mmap.mmap(-1, PAGE, prot=3)
        protect(addr_of(m), PAGE, 5)
    elif what == "rw":  # no PROT_EXEC: not reported
        m = mmap.mmap(-1, PAGE, prot=3)
        protect(addr_of(m), PAGE, 1)
    elif what == "heap":  # the brk heap: a page inside it
        start, end = maps("[heap]")
        protect(start, PAGE, 7)
    elif what == "stack":  # the main thread's stack, writable still
        start, end = maps("[stack]")
        protect(end - PAGE, PAGE, 7)
    elif what == "file":  # a file's private mapping made executable after it was written
        f = open(sys.argv[0] + ".data", "w+b"); f.write(bytes(PAGE)); f.flush()
        m = mmap.mmap(f.fileno(), PAGE, flags=mmap.MAP_PRIVATE, prot=3)
        protect(addr_of(m), PAGE, 5)
    elif what == "libc":  # code executable already: not reported
        for line in open("/proc/self/maps"):
            f = line.split()
            if len(f) > 5 and f[1].startswith("r-x") and f[5].endswith("/libc.so.6"):
                start = int(f[0].split("-")[0], 16)
                protect(start, PAGE, 5)
                break
"#;

#[test]
fn memory_made_executable_is_seen_once_per_program_and_kind() {
    // Anonymous memory made executable by mmap and by mprotect (one report: the same program, the same kind of
    // memory), twice again by a copy of the program (another program file: reported again); the heap, the
    // stack and a file's private mapping made executable, each once with its kind (the file with its path and
    // inode). mprotect without PROT_EXEC, and of code executable already, is not reported.
    let cg = TestCgroup::new("kestrel-test-execmem");
    let mut s = sensor(&[&cg.0], 65_536);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("x.py"), EXEC_MEMORY_PY).unwrap();
    let out = cg.sh(&format!(
        "cp /usr/bin/python3 {d}/py && python3 {d}/x.py rw rwx libc && python3 {d}/x.py anon heap stack file \
         && {d}/py {d}/x.py anon rwx"
    ));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mem = |ev: &[Event], want: &dyn Fn(&str, &str, u32) -> bool| {
        ev.iter()
            .filter(
                |e| matches!(&e.kind, EventKind::ExecMemory { call, region, prot, .. } if want(call, region, *prot)),
            )
            .count()
    };
    let anon = |ev: &[Event]| mem(ev, &|_, r, _| r == "anonymous");
    let other = |ev: &[Event], region: &str| mem(ev, &|_, r, _| r == region);
    let events = collect(&mut s, Duration::from_secs(5), |ev| {
        anon(ev) >= 2 && other(ev, "heap") > 0 && other(ev, "stack") > 0 && other(ev, "file") > 0
    });
    let events = [events, collect(&mut s, Duration::from_millis(300), |_| false)].concat();
    let mine: Vec<&Event> = events.iter().filter(|e| matches!(e.kind, EventKind::ExecMemory { .. })).collect();
    assert_eq!(anon(&events), 2, "once by python3, once by its copy: {mine:#?}");
    let first = mine.iter().find(|e| matches!(&e.kind, EventKind::ExecMemory { region, .. } if region == "anonymous"));
    assert!(
        matches!(&first.unwrap().kind, EventKind::ExecMemory { call, prot: 7, length: 8192, path: None, .. } if call == "mmap"),
        "python3's first: the RWX mmap of 2 pages {mine:#?}"
    );
    assert!(mine.iter().any(|e| e.comm == "py"), "the copy's own report {mine:#?}");
    for region in ["heap", "stack"] {
        let n = mem(&events, &|c, r, p| c == "mprotect" && r == region && p == 7);
        assert_eq!(n, 1, "{region}: {mine:#?}");
    }
    let data = format!("{d}/x.py.data");
    let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&data).unwrap());
    let file = mine.iter().find_map(|e| match &e.kind {
        EventKind::ExecMemory { region, path, file, length: 4096, prot: 5, .. } if region == "file" => {
            Some((path.clone(), file.as_ref().map(|f| f.ino)))
        }
        _ => None,
    });
    assert_eq!(file, Some((Some(data), Some(ino))), "{mine:#?}");
    assert_eq!(mine.len(), 5, "nothing else: no PROT_EXEC, or executable already {mine:#?}");
}

#[test]
fn files_and_directories_removed_are_seen() {
    // rm (unlinkat, or unlink), Python's os.unlink by a relative name (unlink), os.rmdir with dir_fd (unlinkat
    // with AT_REMOVEDIR), os.rmdir by an absolute path (rmdir), a ring's IORING_OP_UNLINKAT, and rm -r (each
    // entry named relative to its directory's descriptor). Relative paths come joined to the directory the kernel
    // rebuilt for them.
    let cg = TestCgroup::new("kestrel-test-unlink");
    let mut s = sensor(&[&cg.0], 65_536);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    for f in ["a", "b", "e"] {
        std::fs::write(dir.path().join(f), "x").unwrap();
    }
    for sub in ["c", "g", "r/s"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    std::fs::write(dir.path().join("r/s/t"), "x").unwrap();
    let helper = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/io_uring.py");
    let out = cg.sh(&format!(
        "rm {d}/a && cd {d} && /usr/bin/python3 -c 'import os; os.unlink(\"b\"); \
         fd = os.open(\"{d}\", os.O_RDONLY); os.rmdir(\"c\", dir_fd=fd); os.rmdir(\"{d}/g\")' && \
         /usr/bin/python3 {} unlink:{d}/e && rm -r {d}/r",
        helper.display()
    ));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "all removed");
    let removed = |ev: &[Event], path: &str, call: &str, by_fd: bool, is_dir: bool| {
        ev.iter().any(|e| {
            matches!(&e.kind, EventKind::Unlink { call: c, path: p, dirfd, dir }
                if p == path && c == call && *dirfd == by_fd && *dir == is_dir)
        })
    };
    let [a, b, c, e, g] = ["a", "b", "c", "e", "g"].map(|f| format!("{d}/{f}"));
    let all = |ev: &[Event]| {
        (removed(ev, &a, "unlinkat", false, false) || removed(ev, &a, "unlink", false, false))
            && removed(ev, &b, "unlink", false, false)
            && removed(ev, &c, "unlinkat", true, true)
            && removed(ev, &g, "rmdir", false, true)
            && removed(ev, &e, "unlinkat", false, false)
            && removed(ev, &format!("{d}/r/s/t"), "unlinkat", true, false)
            && removed(ev, &format!("{d}/r/s"), "unlinkat", true, true)
    };
    let events = collect(&mut s, Duration::from_secs(5), all);
    assert!(
        removed(&events, &a, "unlinkat", false, false) || removed(&events, &a, "unlink", false, false),
        "rm: {events:#?}"
    );
    assert!(removed(&events, &b, "unlink", false, false), "os.unlink: {events:#?}");
    assert!(removed(&events, &c, "unlinkat", true, true), "os.rmdir with dir_fd: {events:#?}");
    assert!(removed(&events, &g, "rmdir", false, true), "os.rmdir: {events:#?}");
    assert!(removed(&events, &e, "unlinkat", false, false), "IORING_OP_UNLINKAT: {events:#?}");
    // rm -r: the file inside by a descriptor of its directory, that directory by its parent's.
    assert!(removed(&events, &format!("{d}/r/s/t"), "unlinkat", true, false), "rm -r: {events:#?}");
    assert!(removed(&events, &format!("{d}/r/s"), "unlinkat", true, true), "rm -r: {events:#?}");
}

#[test]
fn files_cut_in_place_are_seen_with_what_they_held() {
    // `truncate -s 0` (opens without O_TRUNC, then ftruncate), Python's os.truncate by a relative name
    // (truncate(2): the path as given, joined to the directory the kernel rebuilt; no size), and a ring's
    // IORING_OP_FTRUNCATE. ftruncate's path is the file's own, rebuilt from its dentries, with its size before.
    // A file grown by ftruncate (`truncate -s 100` of a 20-byte file) loses nothing: no event. A shell's
    // `: > file` stays an open with O_TRUNC (no truncate event: the open says it).
    let cg = TestCgroup::new("kestrel-test-truncate");
    let mut s = sensor(&[&cg.0], 65_536);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    for (f, n) in [("a", 100), ("b", 50), ("c", 30), ("e", 20), ("g", 20)] {
        std::fs::write(dir.path().join(f), "x".repeat(n)).unwrap();
    }
    let helper = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/io_uring.py");
    let out = cg.sh(&format!(
        "truncate -s 0 {d}/a && cd {d} && /usr/bin/python3 -c 'import os; os.truncate(\"b\", 10)' && \
         /usr/bin/python3 {} ftruncate:{d}/c:3 && truncate -s 100 {d}/g && : > {d}/e",
        helper.display()
    ));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ring = String::from_utf8_lossy(&out.stdout).contains(&format!("ftruncate:{d}/c:3 0"));
    let sizes: Vec<u64> =
        ["a", "b", "c", "e", "g"].iter().map(|f| dir.path().join(f).metadata().unwrap().len()).collect();
    assert_eq!(sizes, [0, 10, if ring { 3 } else { 30 }, 0, 100], "the calls did what they say");
    let cut = |ev: &[Event], path: &str, call: &str, before: Option<u64>, to: u64| {
        ev.iter().any(|e| {
            matches!(&e.kind, EventKind::Truncate { call: c, path: p, size_before, length }
                if p == path && c == call && *size_before == before && *length == to)
        })
    };
    let [a, b, c, e, g] = ["a", "b", "c", "e", "g"].map(|f| format!("{d}/{f}"));
    let opened_e = |ev: &[Event]| ev.iter().any(|x| matches!(&x.kind, EventKind::Open { path, .. } if *path == e));
    let events = collect(&mut s, Duration::from_secs(5), |ev| {
        cut(ev, &a, "ftruncate", Some(100), 0)
            && cut(ev, &b, "truncate", None, 10)
            && (!ring || cut(ev, &c, "ftruncate", Some(30), 3))
            && opened_e(ev)
    });
    assert!(cut(&events, &a, "ftruncate", Some(100), 0), "truncate -s 0: {events:#?}");
    assert!(cut(&events, &b, "truncate", None, 10), "os.truncate: {events:#?}");
    if ring {
        assert!(cut(&events, &c, "ftruncate", Some(30), 3), "IORING_OP_FTRUNCATE: {events:#?}");
    } else {
        eprintln!("this kernel has no IORING_OP_FTRUNCATE (before 6.9): the ring's ftruncate not checked");
    }
    assert!(opened_e(&events), ": > file: {events:#?}");
    let truncated = |f: &str| events.iter().any(|x| matches!(&x.kind, EventKind::Truncate { path, .. } if path == f));
    assert!(!truncated(&e), "an open with O_TRUNC is an open event: {events:#?}");
    assert!(!truncated(&g), "a file grown loses nothing: {events:#?}");
}

#[test]
fn kinds_left_out_are_not_seen_through_the_call_nor_the_ring() {
    // A node that does without mkdir, unlink, dup, truncate, link, mmap, exec-memory and dns events: neither
    // mkdir(2), rmdir(2), the ring's IORING_OP_MKDIRAT, a socket dup2'd onto stdin, `truncate -s 0`, the ring's
    // IORING_OP_FTRUNCATE, `ln -s`, the libraries every program maps, memory made executable by mprotect nor a DNS
    // question is reported; the execs around them are.
    let cg = TestCgroup::new("kestrel-test-leave-out");
    let cfg = Config {
        watch_cgroups: vec![cg.0.clone()],
        leave_out: ["mkdir", "dup", "unlink", "truncate", "link", "mmap", "exec-memory", "dns"]
            .map(String::from)
            .to_vec(),
        ..Config::default()
    };
    let mut s = Sensor::start(cfg).unwrap_or_else(|e| panic!("{e}"));
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("c"), "x".repeat(50)).unwrap();
    std::fs::write(dir.path().join("e"), "x".repeat(50)).unwrap();
    std::fs::write(dir.path().join("x.py"), EXEC_MEMORY_PY).unwrap();
    let helper = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/io_uring.py");
    let out = cg.sh(&format!(
        "mkdir {d}/a && rmdir {d}/a && /usr/bin/python3 {h} mkdir:{d}/b && /usr/bin/python3 -c 'import os, socket; \
         s = socket.create_connection((\"127.0.0.1\", {port})); os.dup2(s.fileno(), 0)' && truncate -s 0 {d}/c && \
         /usr/bin/python3 {h} ftruncate:{d}/e:1 && ln -s {d}/c {d}/l && /usr/bin/python3 {d}/x.py anon heap && \
         /usr/bin/python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(\
         bytes.fromhex(\"123401000001000000000000016103636f6d0000010001\"), (\"127.0.0.1\", 53))' && /bin/true",
        h = helper.display()
    ));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("b").is_dir(), "the ring made the directory");
    let ring_cut = dir.path().join("e").metadata().unwrap().len() == 1;
    let last_exec =
        |ev: &[Event]| ev.iter().any(|e| matches!(&e.kind, EventKind::Exec { exe, .. } if exe == "/bin/true"));
    let mut events = collect(&mut s, Duration::from_secs(5), last_exec);
    events.extend(collect(&mut s, Duration::from_millis(300), |_| false));
    assert!(last_exec(&events), "{events:#?}");
    let left: Vec<_> = events
        .iter()
        .filter(|e| {
            matches!(e.kind_name(), "mkdir" | "dup" | "unlink" | "truncate" | "link" | "mmap" | "exec-memory" | "dns")
        })
        .collect();
    assert!(left.is_empty(), "{left:#?}");
    // Only the ring's mkdir and ftruncate (from 6.9) reached userspace (and were dropped there): the system
    // calls' probes were not loaded at all.
    let from_ring = if ring_cut { 2 } else { 1 };
    assert_eq!(s.stats().left_out.load(std::sync::atomic::Ordering::Relaxed), from_ring);
    // An unknown kind is refused by name.
    let cfg = Config { leave_out: vec!["mkdirs".into()], ..Config::default() };
    let err = Sensor::start(cfg).err().expect("refused").to_string();
    assert!(err.contains("mkdirs") && err.contains("send, dup, mkdir"), "{err}");
}

#[test]
fn a_directory_outside_the_cgroup_v2_hierarchy_is_refused_by_name() {
    // A plain directory (as /sys/fs/cgroup/x is on a hybrid host, where v2 lives under .../unified) has an
    // inode number no process's cgroup id matches: watching it would silently see nothing.
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config { watch_cgroups: vec![dir.path().to_path_buf()], ..Config::default() };
    let err = Sensor::start(cfg).err().expect("a directory that is no cgroup is refused").to_string();
    assert!(err.contains(&dir.path().display().to_string()) && err.contains("cgroup v2 hierarchy"), "{err}");
}

#[test]
fn drops_are_counted_when_the_consumer_falls_behind() {
    let cg = TestCgroup::new("kestrel-test-flood");
    // A queue of 16 and a consumer that waits: most of 3,000 file creations must be dropped and counted.
    let mut s = sensor(&[&cg.0], 16);
    let dir = tempfile::tempdir().unwrap();
    let out = cg.sh(&format!("i=0; while [ $i -lt 3000 ]; do : > {}/f$i; i=$((i+1)); done", dir.path().display()));
    assert!(out.status.success());
    std::thread::sleep(Duration::from_millis(500));
    let mut delivered = 0u64;
    while s.next(Duration::from_millis(200)).is_some() {
        delivered += 1;
    }
    let st = s.stats();
    let received = st.received.load(Ordering::Relaxed);
    let dropped = st.dropped_queue_full.load(Ordering::Relaxed);
    assert!(received >= 3000, "received {received}");
    assert!(dropped > 0, "nothing dropped with a queue of 16");
    assert_eq!(received, delivered + dropped + st.undecodable.load(Ordering::Relaxed), "every record accounted for");
}

#[test]
fn a_runc_container_is_attributed_to_its_id() {
    a_container_is_attributed_to_its_id("runc");
}

#[test]
fn a_crun_container_is_attributed_to_its_id() {
    a_container_is_attributed_to_its_id("crun");
}

/// The runtime as the lab runs it (lab/lib.sh's `rt`): crun refuses a hybrid cgroup host whose cgroup2 still
/// has a controller, and there runs in a mount namespace of its own with cgroup2 mounted at /sys/fs/cgroup (the
/// same hierarchy, so the container's cgroup is where the sensor looks; the host's mounts are untouched).
fn runtime_command(runtime: &str) -> Command {
    let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../lab/lib.sh");
    let mut c = Command::new("bash");
    c.args(["-c", "source \"$0\" && rt \"$@\""]).arg(lib).env("LAB_RUNTIME", runtime);
    c
}

fn a_container_is_attributed_to_its_id(runtime: &str) {
    let root = cgroup2_root().unwrap();
    let parent = root.join("kestrel-lab-runc");
    std::fs::create_dir_all(&parent).unwrap();
    let busybox = ["/bin/busybox", "/usr/bin/busybox"].into_iter().find(|p| Path::new(p).is_file());
    let busybox = busybox.expect("busybox is not installed: scripts/setup installs busybox-static");
    let bundle = tempfile::tempdir().unwrap();
    let rootfs = bundle.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::create_dir_all(rootfs.join("tmp")).unwrap();
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::write(rootfs.join("etc/shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
    // The container's own user database names root differently from the host's.
    std::fs::write(rootfs.join("etc/passwd"), "boxroot:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(rootfs.join("etc/group"), "boxwheel:x:0:\n").unwrap();
    std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
    for applet in ["sh", "echo", "cat", "sleep"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    let id = format!("kestrel-test-{runtime}-{}", std::process::id());
    let spec =
        Command::new("runc").arg("spec").current_dir(bundle.path()).output().expect("runc: scripts/setup installs it");
    assert!(spec.status.success());
    let cfg_path = bundle.path().join("config.json");
    let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = false.into();
    cfg["process"]["args"] = serde_json::json!([
        "/bin/sh",
        "-c",
        format!("cd /etc && cat shadow; /bin/echo inside-{id} > /tmp/x; /bin/sleep 1")
    ]);
    // What containerd's CRI plugin writes into a Kubernetes container's bundle: the sensor reads it back
    // through runc's state (/run/runc/<id>/state.json names the bundle).
    cfg["annotations"] = serde_json::json!({
        "io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.image-name": "docker.io/library/busybox:1.36",
        "io.kubernetes.cri.sandbox-name": "lab-pod",
        "io.kubernetes.cri.sandbox-namespace": "kestrel-test",
        "io.kubernetes.cri.container-name": "box"
    });
    cfg["root"]["readonly"] = false.into();
    cfg["linux"]["cgroupsPath"] = format!("/kestrel-lab-runc/{id}").into();
    // Privileged, as containerd sets a `privileged: true` container up: every capability, nothing masked.
    let all_caps = serde_json::json!(["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"]);
    for set in ["bounding", "effective", "permitted"] {
        cfg["process"]["capabilities"][set] = all_caps.clone();
    }
    cfg["linux"]["maskedPaths"] = serde_json::json!([]);
    cfg["linux"]["readonlyPaths"] = serde_json::json!([]);
    // crun on cgroup2 loads its device-rule program after raising RLIMIT_MEMLOCK, which needs CAP_SYS_RESOURCE
    // (not in CI's sandbox): the test's container goes without the device rules.
    if runtime == "crun" {
        cfg["linux"]["resources"].as_object_mut().map(|r| r.remove("devices"));
    }
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();

    let mut s = sensor(&[&parent], 65_536);
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    // Events are read while the container runs, as they would be live: its runtime state (and so its
    // image and pod) exists only as long as it does.
    // runc's `run` writes its state before the program starts; crun's may let the program run first (then the
    // sensor finds the state at a later exec), so crun is driven as containerd, CRI-O and podman drive it:
    // create (the state is written), then start.
    let run = if runtime == "crun" {
        let err = bundle.path().join("create.err");
        let created = runtime_command(runtime)
            .args(["create", "--bundle"])
            .arg(bundle.path())
            .arg(&id)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .unwrap();
        assert!(created.success(), "crun create: {}", std::fs::read_to_string(&err).unwrap_or_default());
        let mut start = runtime_command(runtime);
        start.args(["start", &id]);
        start
    } else {
        let mut run = runtime_command(runtime);
        run.args(["run", "--bundle"]).arg(bundle.path()).arg(&id);
        run
    }
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let events = collect(&mut s, Duration::from_secs(5), |ev| {
        ev.iter().any(|e| {
            e.container.as_ref().is_some_and(|c| c.id == id)
                && matches!(&e.kind, EventKind::Open { path, .. } if path == "/tmp/x")
        })
    });
    let out = run.wait_with_output().unwrap();
    let _ = runtime_command(runtime).args(["delete", "-f", &id]).output();
    assert!(out.status.success(), "{runtime} run: {}", String::from_utf8_lossy(&out.stderr));
    let e = events
        .iter()
        .find(|e| matches!(&e.kind, EventKind::Exec { argv, .. } if argv.iter().any(|a| a.contains(&format!("inside-{id}")))))
        .unwrap_or_else(|| panic!("no exec from the container in {events:#?}"));
    let c = e.container.as_ref().expect("attributed to a container");
    assert_eq!((c.id.as_str(), c.runtime.as_str()), (id.as_str(), runtime));
    assert_eq!(c.image.as_deref(), Some("docker.io/library/busybox:1.36"));
    assert_eq!((c.pod.as_deref(), c.namespace.as_deref()), (Some("lab-pod"), Some("kestrel-test")));
    assert_eq!(c.name.as_deref(), Some("box"));
    assert_eq!(c.privileged, Some(true));
    // When the runtime created it (Falco's container.start_ts), from its state.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    assert!(c.created_ns.is_some_and(|t| (before..=now).contains(&t)), "{before} {:?} {now}", c.created_ns);
    // The other runtime's test may run beside this one under the same parent: from here on, this container's.
    let events: Vec<&Event> = events.iter().filter(|e| e.container.as_ref().is_some_and(|c| c.id == id)).collect();
    assert!(events.iter().any(|e| matches!(&e.kind, EventKind::Open { path, .. } if path == "/tmp/x")));
    // The container's first process is pid 1 in the container's pid namespace (Falco's container_started:
    // proc.vpid = 1); the programs it starts get the next pids there, not their host pids.
    let vpid_of = |e: &Event| match &e.kind {
        EventKind::Exec { vpid, .. } => *vpid,
        _ => unreachable!(),
    };
    let first = events
        .iter()
        .find(|e| matches!(&e.kind, EventKind::Exec { argv, .. } if argv.first().is_some_and(|a| a == "/bin/sh")))
        .unwrap_or_else(|| panic!("no exec of the container's /bin/sh in {events:#?}"));
    assert_eq!(vpid_of(first), 1, "{first:#?}");
    let cat = events
        .iter()
        .find(|e| matches!(&e.kind, EventKind::Exec { argv, .. } if argv.first().is_some_and(|a| a == "cat")))
        .unwrap_or_else(|| panic!("no exec of cat in {events:#?}"));
    assert!(vpid_of(cat) > 1 && vpid_of(cat) != cat.pid, "{cat:#?}");
    // Users are named by the container's /etc/passwd, not the host's — `cat` too, gone in a millisecond.
    for e in [first, cat] {
        assert!(
            matches!(&e.kind, EventKind::Exec { user: Some(u), group: Some(g), .. } if u == "boxroot" && g == "boxwheel"),
            "{e:#?}"
        );
    }
    // `cat` ran in the container's /etc: its working directory is the container's, not the host's.
    let cat_cwd = events.iter().find_map(|e| match &e.kind {
        EventKind::Exec { argv, cwd, .. } if argv.first().is_some_and(|a| a == "cat") => Some(cwd.as_str()),
        _ => None,
    });
    assert_eq!(cat_cwd, Some("/etc"), "{events:#?}");
    // A relative read of the container's /etc/shadow: its path is rebuilt up to the container's root.
    assert!(
        events.iter().any(|e| matches!(&e.kind, EventKind::Open { path, .. } if path == "/etc/shadow")),
        "{events:#?}"
    );
}

#[test]
fn privilege_changes_are_reported() {
    let cg = TestCgroup::new("kestrel-test-priv");
    let mut s = sensor(&[&cg.0], 65_536);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("suid");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    // finit_module(-1, "", 0) and ptrace(PTRACE_ATTACH, 1) fail, but the attempts are what counts.
    let py = "import ctypes; l = ctypes.CDLL(None); l.syscall(313, -1, b'', 0); l.ptrace(16, 1, 0, 0)";
    let script = format!(
        "touch {f}; chmod 4755 {f}; setpriv --reuid=65534 --regid=65534 --clear-groups /bin/true; \
         unshare --user --map-root-user /bin/true; unshare --mount sh -c 'mount -t tmpfs kestrel-tmpfs {m}'; \
         setpriv --reuid=65534 --regid=65534 --clear-groups unshare --user /bin/true 2>/dev/null; \
         /usr/bin/python3 -c \"{py}\"",
        f = f.display(),
        m = mnt.display()
    );
    // Read while the script runs, as live: a process is named through its cgroup's processes.
    let script = std::thread::spawn(move || (cg.sh(&script), cg));
    let want = |e: &Event| match &e.kind {
        EventKind::SetuidChmod { mode, .. } => *mode & 0o4000 != 0,
        EventKind::SetIds { ids, .. } => ids.contains(&65534),
        EventKind::Namespaces { namespaces, .. } => namespaces.iter().any(|n| n == "user"),
        EventKind::Mount { fstype, source, .. } => fstype == "tmpfs" && source == "kestrel-tmpfs",
        EventKind::ModuleLoad { call } => call == "finit_module",
        EventKind::Ptrace { request, target_pid } => *request == 16 && *target_pid == 1,
        _ => false,
    };
    let kinds = |ev: &[Event]| {
        let mut k: Vec<&str> = ev.iter().filter(|e| want(e)).map(|e| e.kind_name()).collect();
        k.sort();
        k.dedup();
        k
    };
    // A kernel built without module support (CONFIG_MODULES=n, as this machine's) has no module system
    // calls, hence no tracepoint for them: there the sensor leaves that program out.
    let modules = Path::new("/sys/kernel/tracing/events/syscalls/sys_enter_finit_module").is_dir();
    let mut expected = vec!["mount", "namespaces", "ptrace", "set-ids", "setuid-chmod"];
    if modules {
        expected.insert(0, "module-load");
    }
    let nobody_unshared = |ev: &[Event]| {
        ev.iter().any(|e| matches!(&e.kind, EventKind::Namespaces { call, cap_permitted: 0, .. } if call == "unshare"))
    };
    let events = collect(&mut s, Duration::from_secs(5), |ev| kinds(ev).len() == expected.len() && nobody_unshared(ev));
    let (out, _cg) = script.join().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(kinds(&events), expected, "{events:#?}");
    // The ids asked for are named as the process's own user database names them (here the host's).
    let host = kestrel_sensor::users::parse_db(&std::fs::read_to_string("/etc/passwd").unwrap());
    let set = events.iter().find(|e| matches!(&e.kind, EventKind::SetIds { ids, .. } if ids.contains(&65534)));
    let Some(EventKind::SetIds { ids, names, .. }) = set.map(|e| &e.kind) else { unreachable!() };
    let expected: Vec<Option<String>> =
        ids.iter().map(|&id| u32::try_from(id).ok().and_then(|id| host.get(&id).cloned())).collect();
    assert!(expected.iter().any(Option::is_some), "{ids:?} {host:?}");
    assert_eq!(names, &expected);
    // Who unshares, with what: root with CAP_SYS_ADMIN among its permitted capabilities, nobody with none.
    let unshare_caps: Vec<u64> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Namespaces { call, namespaces, cap_permitted, .. }
                if call == "unshare" && namespaces.iter().any(|n| n == "user") =>
            {
                Some(*cap_permitted)
            }
            _ => None,
        })
        .collect();
    assert!(unshare_caps.iter().any(|c| c & (1 << 21) != 0), "{unshare_caps:x?}");
    assert!(unshare_caps.contains(&0), "{unshare_caps:x?}");
    let chmod = events.iter().find(|e| matches!(e.kind, EventKind::SetuidChmod { .. })).unwrap();
    assert!(matches!(&chmod.kind, EventKind::SetuidChmod { path: Some(p), .. } if p.ends_with("suid")), "{chmod:?}");
}

#[test]
fn servers_bind_listen_and_accept() {
    let cg = TestCgroup::new("kestrel-test-server");
    let mut s = sensor(&[&cg.0], 65_536);
    // A two-shot server in the watched cgroup; the test connects to it from outside. The first connection is
    // read from, the second closed unread: the accept is reported either way (when the kernel completes the
    // handshake), attributed to the listening process.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // It listens as nobody (effective uid 65534): an accept, reported from the kernel's softirq where no
    // process is current, carries the listener's effective uid.
    let py = format!(
        "import os, socket; s = socket.socket(); s.bind(('127.0.0.1', {port})); os.seteuid(65534); s.listen(7); \
         c, a = s.accept(); c.recv(16); c.close(); c, a = s.accept(); c.close()"
    );
    let path = cg.0.clone();
    let server = std::thread::spawn(move || {
        let full = format!("echo $$ > {}/cgroup.procs && exec /usr/bin/python3 -c \"{py}\"", path.display());
        Command::new("/bin/sh").arg("-c").arg(full).output().unwrap()
    });
    let start = Instant::now();
    let connect = || loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(c) => break c,
            Err(_) if start.elapsed() < Duration::from_secs(5) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("server never listened: {e}"),
        }
    };
    let mut talker = connect();
    std::io::Write::write_all(&mut talker, b"hello").unwrap();
    let talker_port = talker.local_addr().unwrap().port();
    let mut buf = [0u8; 1];
    let _ = std::io::Read::read(&mut talker, &mut buf); // returns when the server has closed
    let silent = connect();
    let silent_port = silent.local_addr().unwrap().port();
    let out = server.join().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    drop(silent);
    let accepts = |ev: &[Event]| ev.iter().filter(|e| e.kind_name() == "accept").count();
    let events = collect(&mut s, Duration::from_secs(5), |ev| accepts(ev) >= 2);
    let bind = events
        .iter()
        .find(|e| matches!(&e.kind, EventKind::Bind { addr } if addr.port == port && addr.addr == "127.0.0.1"))
        .unwrap_or_else(|| panic!("no bind: {events:#?}"));
    let EventKind::Bind { addr } = &bind.kind else { unreachable!() };
    assert_eq!(addr.proto, Some(L4Proto::Tcp));
    assert!(events.iter().any(|e| matches!(&e.kind, EventKind::Listen { backlog: 7, .. })), "{events:#?}");
    for peer in [talker_port, silent_port] {
        let accept = events
            .iter()
            .find(|e| matches!(&e.kind, EventKind::Accept { from, .. } if from.port == peer))
            .unwrap_or_else(|| panic!("no accept from port {peer}: {events:#?}"));
        let EventKind::Accept { from, port: local } = &accept.kind else { unreachable!() };
        assert_eq!((from.family.as_str(), from.addr.as_str(), from.proto), ("inet", "127.0.0.1", Some(L4Proto::Tcp)));
        assert_eq!(*local, Some(port), "{accept:?}");
        assert_eq!(accept.pid, bind.pid, "the accepting process: {accept:?}");
        assert_eq!(accept.process.as_ref().and_then(|p| p.euid), Some(65534), "{accept:?}");
    }
    assert_eq!(bind.process.as_ref().and_then(|p| p.euid), Some(0), "bound as root: {bind:?}");
}

#[test]
fn a_process_gone_before_its_event_is_read_is_named_through_its_cgroups_other_processes() {
    // The cgroup's only live process (a sleep) started before the sensor, so the sensor never saw its root;
    // the shell and the echo it runs are gone before their events are read. Their users are named from the
    // user database under the root of a process still in the cgroup (found through cgroup.procs).
    let cg = TestCgroup::new("kestrel-test-gone");
    let mut sleeper = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("echo $$ > {}/cgroup.procs && exec sleep 30", cg.0.display()))
        .spawn()
        .unwrap();
    let procs = cg.0.join("cgroup.procs");
    let start = Instant::now();
    while std::fs::read_to_string(&procs).unwrap_or_default().trim().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(5), "the sleeper never joined its cgroup");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut s = sensor(&[&cg.0], 65_536);
    let out = cg.sh("/bin/echo gone-before-read > /dev/null");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let echo = |ev: &[Event]| {
        ev.iter()
            .find(|e| matches!(&e.kind, EventKind::Exec { argv, .. } if argv.iter().any(|a| a == "gone-before-read")))
            .cloned()
    };
    let events = collect(&mut s, Duration::from_secs(5), |ev| echo(ev).is_some());
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let echo = echo(&events).unwrap_or_else(|| panic!("no exec of echo: {events:#?}"));
    assert!(!Path::new(&format!("/proc/{}", echo.pid)).exists(), "the echo is gone");
    let host = kestrel_sensor::users::parse_db(&std::fs::read_to_string("/etc/passwd").unwrap());
    let EventKind::Exec { user, .. } = &echo.kind else { unreachable!() };
    assert_eq!(user.as_ref(), host.get(&0), "{echo:#?}");
    assert!(user.is_some());
}

#[test]
fn every_event_carries_the_effective_uid_the_thread_had() {
    // Falco's user.uid follows set*id calls. A root process switches its effective uid to nobody and back
    // without exec'ing, reading /etc/shadow each time (the attempt is reported whether or not it succeeds).
    let cg = TestCgroup::new("kestrel-test-euid");
    let mut s = sensor(&[&cg.0], 65_536);
    let py = "import ctypes, os; l = ctypes.CDLL(None); \
              [(os.seteuid(u), l.open(b'/etc/shadow', 0)) for u in (65534, 0, 65534)]";
    // Its login uid set to nobody's (where the kernel allows: the value read back is the one expected).
    let script = format!("echo 65534 > /proc/self/loginuid; cat /proc/self/loginuid; /usr/bin/python3 -c \"{py}\"");
    let script = std::thread::spawn(move || (cg.sh(&script), cg));
    let reads = |ev: &[Event]| -> Vec<Option<u32>> {
        ev.iter()
            .filter(|e| e.comm == "python3" && matches!(&e.kind, EventKind::Open { path, .. } if path == "/etc/shadow"))
            .map(|e| e.process.as_ref().and_then(|p| p.euid))
            .collect()
    };
    let events = collect(&mut s, Duration::from_secs(5), |ev| reads(ev).len() >= 3);
    let (out, _cg) = script.join().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(reads(&events), [Some(65534), Some(0), Some(65534)], "{events:#?}");
    // The set*id call's own event is read at its entry: before it takes effect.
    let calls: Vec<(Vec<i64>, Option<u32>)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::SetIds { call, ids, .. } if call == "setresuid" => {
                Some((ids.clone(), e.process.as_ref().and_then(|p| p.euid)))
            }
            _ => None,
        })
        .collect();
    assert_eq!(calls, [(vec![-1, 65534, -1], Some(0)), (vec![-1, 0, -1], Some(65534)), (vec![-1, 65534, -1], Some(0))]);
    // The exec that started it: as root, named, as its login uid is, from the host's user database.
    let exec = events.iter().find(|e| e.comm == "python3" && e.kind_name() == "exec").expect("python3's exec");
    assert_eq!(exec.process.as_ref().and_then(|p| p.euid), Some(0));
    let host = kestrel_sensor::users::parse_db(&std::fs::read_to_string("/etc/passwd").unwrap());
    let loginuid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let EventKind::Exec { user, login_user, .. } = &exec.kind else { unreachable!() };
    assert_eq!(user.as_ref(), host.get(&0));
    let want = host.get(&loginuid).filter(|_| loginuid != u32::MAX).map(String::as_str);
    assert_eq!(login_user.as_deref(), want, "loginuid {loginuid}");
}

#[test]
fn datagrams_sent_to_an_address_and_tcp_fast_open_are_seen() {
    // UDP talks to peers without connect(): five sendto()s to one peer (one event: a peer is reported once per
    // process every 10 s), a sendmsg() to a second, an IPv6 sendto() to a third, and one with MSG_FASTOPEN,
    // which UDP ignores (no way to slip a datagram past the sensor), to a fourth. Not reported as sends:
    // a connected UDP socket's send() (its connect is), a unix datagram. A TCP sendto() with MSG_FASTOPEN
    // connects without connect(): reported as the connect it is. Sockets: an ARP packet socket and a raw ICMP
    // one are reported; the UDP and TCP ones are not.
    let cg = TestCgroup::new("kestrel-test-send");
    let mut s = sensor(&[&cg.0], 65_536);
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp_port = tcp.local_addr().unwrap().port();
    let udp_port = |ip: &str| std::net::UdpSocket::bind((ip, 0)).unwrap().local_addr().unwrap().port();
    let (p1, p2, p3, p4) = (udp_port("127.0.0.1"), udp_port("127.0.0.1"), udp_port("::1"), udp_port("127.0.0.1"));
    let p5 = udp_port("127.0.0.1");
    // sendmmsg: three messages in one call, two to one peer and one to another (libc's, through ctypes).
    let (p6, p7) = (udp_port("127.0.0.1"), udp_port("127.0.0.1"));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("send.py");
    std::fs::write(
        &script,
        format!(
            "import socket\n\
             u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             for _ in range(5): u.sendto(b'x', ('127.0.0.1', {p1}))\n\
             u.sendmsg([b'x'], [], 0, ('127.0.0.1', {p2}))\n\
             socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b'x', ('::1', {p3}))\n\
             for _ in range(3): u.sendto(b'x', socket.MSG_FASTOPEN, ('127.0.0.1', {p5}))\n\
             import ctypes, struct\n\
             class Iov(ctypes.Structure): _fields_ = [('base', ctypes.c_char_p), ('len', ctypes.c_size_t)]\n\
             class Msg(ctypes.Structure): _fields_ = [('name', ctypes.c_char_p), ('namelen', ctypes.c_uint32), \
               ('iov', ctypes.POINTER(Iov)), ('iovlen', ctypes.c_size_t), ('control', ctypes.c_void_p), \
               ('controllen', ctypes.c_size_t), ('flags', ctypes.c_int)]\n\
             class MMsg(ctypes.Structure): _fields_ = [('hdr', Msg), ('len', ctypes.c_uint)]\n\
             addrs = [struct.pack('<H', socket.AF_INET) + struct.pack('>H', p) + socket.inet_aton('127.0.0.1') + bytes(8) \
               for p in ({p6}, {p6}, {p7})]\n\
             iov = Iov(b'x', 1)\n\
             msgs = (MMsg * 3)(*[MMsg(Msg(a, 16, ctypes.pointer(iov), 1, None, 0, 0), 0) for a in addrs])\n\
             assert ctypes.sizeof(MMsg) == 64\n\
             n = ctypes.CDLL(None, use_errno=True).sendmmsg(u.fileno(), msgs, 3, 0)\n\
             assert n == 3, (n, ctypes.get_errno())\n\
             c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.connect(('127.0.0.1', {p4})); c.send(b'x')\n\
             try: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'x', '/nonexistent/kestrel.sock')\n\
             except OSError: pass\n\
             t = socket.socket(); t.sendto(b'hello', socket.MSG_FASTOPEN, ('127.0.0.1', {tcp_port}))\n\
             socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0806)).close()\n\
             socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()\n"
        ),
    )
    .unwrap();
    let out = cg.sh(&format!("/usr/bin/python3 {}", script.display()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = tcp.accept().unwrap();
    let sends = |ev: &[Event], call: &str, port: u16| {
        ev.iter().filter(|e| matches!(&e.kind, EventKind::Send { call: c, to } if c == call && to.port == port)).count()
    };
    let fast_open = |ev: &[Event]| {
        ev.iter().any(|e| matches!(&e.kind, EventKind::Connect { to } if to.port == tcp_port && to.addr == "127.0.0.1"))
    };
    let mut events = collect(&mut s, Duration::from_secs(5), |ev| {
        sends(ev, "sendto", p1) == 1
            && sends(ev, "sendmsg", p2) == 1
            && sends(ev, "sendto", p3) == 1
            && sends(ev, "sendto", p5) == 1
            && sends(ev, "sendmmsg", p6) == 1
            && sends(ev, "sendmmsg", p7) == 1
            && fast_open(ev)
            && ev.iter().filter(|e| e.kind_name() == "socket").count() == 2
    });
    events.extend(collect(&mut s, Duration::from_millis(300), |_| false));
    assert_eq!(sends(&events, "sendto", p1), 1, "five datagrams to one peer, one event: {events:#?}");
    assert_eq!(sends(&events, "sendmsg", p2), 1, "{events:#?}");
    assert_eq!(sends(&events, "sendto", p3), 1, "{events:#?}");
    assert_eq!(sends(&events, "sendto", p5), 1, "a datagram with MSG_FASTOPEN is still a send: {events:#?}");
    assert_eq!(
        (sends(&events, "sendmmsg", p6), sends(&events, "sendmmsg", p7)),
        (1, 1),
        "sendmmsg: each peer of the call once: {events:#?}"
    );
    let send = events.iter().find_map(|e| match &e.kind {
        EventKind::Send { to, .. } if to.port == p3 => Some(to),
        _ => None,
    });
    assert_eq!(send.map(|t| (t.family.as_str(), t.addr.as_str(), t.proto)), Some(("inet6", "::1", Some(L4Proto::Udp))));
    assert!(fast_open(&events), "TCP Fast Open's connect: {events:#?}");
    assert!(
        events.iter().any(|e| matches!(&e.kind, EventKind::Connect { to } if to.port == p4)),
        "the connected UDP socket's connect: {events:#?}"
    );
    let others: Vec<_> = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Send { to, .. } if ![p1, p2, p3, p5, p6, p7].contains(&to.port)))
        .collect();
    assert!(others.is_empty(), "no send without an address, none on a unix or TCP socket: {others:#?}");
    let sockets: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Socket { family, sock_type, protocol } => Some((family.as_str(), sock_type.as_str(), *protocol)),
            _ => None,
        })
        .collect();
    assert_eq!(sockets, [("packet", "dgram", 0x0806), ("inet", "raw", 1)], "{events:#?}");
}

#[test]
fn dns_questions_are_seen_however_they_are_sent() {
    // A DNS question, every way a resolver sends one, to port 53 of a loopback address (a socket there reads
    // nothing, answers nothing): sendto an address (musl's resolver), IPv6 too; sendmsg with an address; on a connected
    // socket: send (glibc's), write (Go's), sendmmsg with two questions (glibc's A and AAAA, by ctypes) and
    // sendmsg; over TCP: send (length and question in one buffer, as Go writes them) and writev (the length, then the
    // question: glibc's TCP fallback). Each is one event with its name and type, whatever the case of its letters.
    // Not DNS: the same question to another port, a question written to a file on the connected socket's descriptor
    // after it was closed, and a TCP connection to port 53 that sends nothing. Reported with no name: bytes that are
    // no question, to port 53.
    let cg = TestCgroup::new("kestrel-test-dns");
    let mut s = sensor(&[&cg.0], 65_536);
    // A server on port 53 of a loopback address of its own, so that the connected socket's sends are not refused.
    let _server = std::net::UdpSocket::bind("127.53.0.1:53").unwrap();
    let _tcp_server = std::net::TcpListener::bind("127.53.0.1:53").unwrap();
    let other_port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("dns.py");
    let file = dir.path().join("question");
    std::fs::write(
        &script,
        format!(
            "import socket, os, struct, ctypes\n\
             def q(name, t=1):\n\
             \x20   d = struct.pack('>HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0)\n\
             \x20   for l in name.split('.'): d += bytes([len(l)]) + l.encode()\n\
             \x20   return d + b'\\0' + struct.pack('>HH', t, 1)\n\
             srv = ('127.53.0.1', 53)\n\
             u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             u.sendto(q('sendto.example.org', 16), srv)\n\
             u.sendmsg([q('sendmsg.example.org')], [], 0, srv)\n\
             u.sendto(q('other-port.example.org'), ('127.0.0.1', {other_port}))\n\
             u.sendto(b'SSH-2.0-OpenSSH_9.6', srv)\n\
             socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(q('v6.example.org', 28), ('::1', 53))\n\
             c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             c.connect(srv)\n\
             c.send(q('Send.Example.ORG'))\n\
             os.write(c.fileno(), q('write.example.org'))\n\
             c.sendmsg([q('connected-sendmsg.example.org')])\n\
             class Iov(ctypes.Structure): _fields_ = [('base', ctypes.c_char_p), ('len', ctypes.c_size_t)]\n\
             class Msg(ctypes.Structure): _fields_ = [('name', ctypes.c_void_p), ('namelen', ctypes.c_uint32), \
               ('iov', ctypes.POINTER(Iov)), ('iovlen', ctypes.c_size_t), ('control', ctypes.c_void_p), \
               ('controllen', ctypes.c_size_t), ('flags', ctypes.c_int)]\n\
             class MMsg(ctypes.Structure): _fields_ = [('hdr', Msg), ('len', ctypes.c_uint)]\n\
             qs = [q('mmsg.example.org', 1), q('mmsg.example.org', 28)]\n\
             iovs = [Iov(x, len(x)) for x in qs]\n\
             msgs = (MMsg * 2)(*[MMsg(Msg(None, 0, ctypes.pointer(i), 1, None, 0, 0), 0) for i in iovs])\n\
             n = ctypes.CDLL(None, use_errno=True).sendmmsg(c.fileno(), msgs, 2, 0)\n\
             assert n == 2, (n, ctypes.get_errno())\n\
             fd = c.fileno()\n\
             c.close()\n\
             f = os.open('{file}', os.O_WRONLY | os.O_CREAT)\n\
             assert f == fd, (f, fd)\n\
             os.write(f, q('file.example.org'))\n\
             t = socket.create_connection(srv)\n\
             m = q('tcp.example.org', 16)\n\
             t.send(struct.pack('>H', len(m)) + m)\n\
             m = q('writev.example.org', 28)\n\
             assert os.writev(t.fileno(), [struct.pack('>H', len(m)), m]) == len(m) + 2\n\
             m = q('two-writes.example.org')\n\
             t.send(struct.pack('>H', len(m)))\n\
             t.send(m)\n\
             m = q('tcp-sendmsg.example.org')\n\
             t.sendmsg([struct.pack('>H', len(m)), m])\n\
             socket.create_connection(srv).close()\n",
            file = file.display(),
        ),
    )
    .unwrap();
    let out = cg.sh(&format!("/usr/bin/python3 {}", script.display()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let questions = |ev: &[Event]| -> Vec<(String, String, String)> {
        ev.iter()
            .filter_map(|e| match &e.kind {
                EventKind::Dns { to, name, qtype } => {
                    let tcp = ["tcp", "writev", "two-writes", "tcp-sendmsg"]
                        .iter()
                        .any(|t| name.starts_with(&format!("{t}.")));
                    let proto = if tcp { L4Proto::Tcp } else { L4Proto::Udp };
                    assert_eq!((to.port, to.proto), (53, Some(proto)), "{e:?}");
                    Some((to.addr.clone(), name.clone(), qtype.clone()))
                }
                _ => None,
            })
            .collect()
    };
    let mut events = collect(&mut s, Duration::from_secs(5), |ev| questions(ev).len() >= 13);
    events.extend(collect(&mut s, Duration::from_millis(300), |_| false));
    let got = questions(&events);
    let want: Vec<(String, String, String)> = [
        ("127.53.0.1", "sendto.example.org", "TXT"),
        ("127.53.0.1", "sendmsg.example.org", "A"),
        ("127.53.0.1", "", ""),
        ("::1", "v6.example.org", "AAAA"),
        ("127.53.0.1", "Send.Example.ORG", "A"),
        ("127.53.0.1", "write.example.org", "A"),
        ("127.53.0.1", "connected-sendmsg.example.org", "A"),
        ("127.53.0.1", "mmsg.example.org", "A"),
        ("127.53.0.1", "mmsg.example.org", "AAAA"),
        ("127.53.0.1", "tcp.example.org", "TXT"),
        ("127.53.0.1", "writev.example.org", "AAAA"),
        ("127.53.0.1", "two-writes.example.org", "A"),
        ("127.53.0.1", "tcp-sendmsg.example.org", "A"),
    ]
    .iter()
    .map(|(a, n, t)| (a.to_string(), n.to_string(), t.to_string()))
    .collect();
    assert_eq!(got, want, "{events:#?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Connect { to } if to.port == 53 && to.proto == Some(L4Proto::Tcp))),
        "the TCP connection is a connect: {events:#?}"
    );
}

#[test]
fn dns_questions_through_io_uring_are_seen() {
    // A ring's requests never enter the system calls: a question sent to port 53 by IORING_OP_SEND with a
    // destination and by IORING_OP_SENDMSG with msg_name; a UDP socket connected to port 53 by IORING_OP_CONNECT (which
    // marks it, as connect(2) does), then a question by IORING_OP_SEND without an address and one by IORING_OP_WRITE;
    // a TCP connection to port 53 by IORING_OP_CONNECT and a question by IORING_OP_WRITEV (its length, then itself).
    let helper = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/io_uring.py");
    let cg = TestCgroup::new("kestrel-test-uring-dns");
    let mut s = sensor(&[&cg.0], 65_536);
    let _udp = std::net::UdpSocket::bind("127.53.0.5:53").unwrap();
    let tcp = std::net::TcpListener::bind("127.53.0.5:53").unwrap();
    let out = cg.sh(&format!(
        "/usr/bin/python3 {} dns-send:127.53.0.5:ring-send.example.org dns-sendmsg:127.53.0.5:ring-sendmsg.example.org \
         dns-connected:127.53.0.5:ring.example.org dns-tcp:127.53.0.5:ring-tcp.example.org",
        helper.display()
    ));
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{printed}{}", String::from_utf8_lossy(&out.stderr));
    assert!(printed.lines().all(|l| l.rsplit(' ').next().is_some_and(|r| !r.starts_with('-'))), "{printed}");
    let _ = tcp.accept().unwrap();
    let questions = |ev: &[Event]| -> Vec<(String, Option<L4Proto>)> {
        ev.iter()
            .filter_map(|e| match &e.kind {
                EventKind::Dns { to, name, .. } if to.addr == "127.53.0.5" && to.port == 53 => {
                    Some((name.clone(), to.proto))
                }
                _ => None,
            })
            .collect()
    };
    let mut events = collect(&mut s, Duration::from_secs(5), |ev| questions(ev).len() >= 5);
    events.extend(collect(&mut s, Duration::from_millis(300), |_| false));
    let want: Vec<(String, Option<L4Proto>)> = [
        ("ring-send.example.org", L4Proto::Udp),
        ("ring-sendmsg.example.org", L4Proto::Udp),
        ("send.ring.example.org", L4Proto::Udp),
        ("write.ring.example.org", L4Proto::Udp),
        ("ring-tcp.example.org", L4Proto::Tcp),
    ]
    .iter()
    .map(|(n, p)| (n.to_string(), Some(*p)))
    .collect();
    assert_eq!(questions(&events), want, "{events:#?}");
}

#[test]
fn a_tunnel_through_port_53_is_reported_a_few_times_not_every_packet() {
    // A VPN or a WireGuard tunnel through port 53 sends message after message that is no DNS: a TCP connection writes
    // 40, a UDP socket sends 40 datagrams to the port's address, a connected UDP socket writes 40. Each socket reports
    // its first 8 (no name) and then none of them — but a question each sends after them is seen, with its name (the
    // TCP one by writev, its length and question as two buffers).
    let cg = TestCgroup::new("kestrel-test-dns-tunnel");
    let mut s = sensor(&[&cg.0], 65_536);
    let _tcp_server = std::net::TcpListener::bind("127.53.0.2:53").unwrap();
    let _udp_servers = ["127.53.0.3:53", "127.53.0.4:53"].map(|a| std::net::UdpSocket::bind(a).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("tunnel.py");
    std::fs::write(
        &script,
        "import socket, os, struct\n\
         def q(name, t=1):\n\
         \x20   d = struct.pack('>HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0)\n\
         \x20   for l in name.split('.'): d += bytes([len(l)]) + l.encode()\n\
         \x20   return d + b'\\0' + struct.pack('>HH', t, 1)\n\
         packet = b'\\x45\\x00' + bytes(range(2, 120))\n\
         t = socket.create_connection(('127.53.0.2', 53))\n\
         for _ in range(40): t.send(packet)\n\
         m = q('tcp.example.org')\n\
         assert os.writev(t.fileno(), [struct.pack('>H', len(m)), m]) == len(m) + 2\n\
         u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         for _ in range(40): u.sendto(packet, ('127.53.0.3', 53))\n\
         u.sendto(q('sendto.example.org'), ('127.53.0.3', 53))\n\
         c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         c.connect(('127.53.0.4', 53))\n\
         for _ in range(40): os.write(c.fileno(), packet)\n\
         c.send(q('connected.example.org'))\n",
    )
    .unwrap();
    let out = cg.sh(&format!("/usr/bin/python3 {}", script.display()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dns = |ev: &[Event]| -> Vec<(String, String)> {
        ev.iter()
            .filter_map(|e| match &e.kind {
                EventKind::Dns { to, name, .. } => Some((to.addr.clone(), name.clone())),
                _ => None,
            })
            .collect()
    };
    let mut events =
        collect(&mut s, Duration::from_secs(5), |ev| dns(ev).iter().filter(|d| !d.1.is_empty()).count() == 3);
    events.extend(collect(&mut s, Duration::from_millis(300), |_| false));
    let got = dns(&events);
    for (addr, name) in [
        ("127.53.0.2", "tcp.example.org"),
        ("127.53.0.3", "sendto.example.org"),
        ("127.53.0.4", "connected.example.org"),
    ] {
        let of: Vec<&str> = got.iter().filter(|d| d.0 == addr).map(|d| d.1.as_str()).collect();
        let mut want = vec![""; 8];
        want.push(name);
        assert_eq!(of, want, "{addr}: {got:?}");
    }
}

#[test]
fn a_connection_made_a_standard_stream_is_seen() {
    // A reverse shell's redirection, four ways: dup2(s, 0), dup3(s, 1), close(2) then dup(s) (the lowest free
    // descriptor; by ctypes: Python's os.dup is fcntl(F_DUPFD_CLOEXEC)), and close(1) then os.dup(s). Not
    // reported: a file or a unix socket made a standard stream, a socket duplicated onto descriptor 5, a dup2 of
    // a descriptor that is not open. A connected UDP socket made stdin is, with its peer.
    let cg = TestCgroup::new("kestrel-test-dup");
    let mut s = sensor(&[&cg.0], 65_536);
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("dup.py");
    std::fs::write(
        &script,
        format!(
            "import os, socket\n\
             s = socket.create_connection(('127.0.0.1', {port}))\n\
             os.dup2(s.fileno(), 0)\n\
             os.dup2(s.fileno(), 1, inheritable=False)\n\
             import ctypes; libc = ctypes.CDLL(None, use_errno=True)\n\
             os.close(2); assert libc.dup(s.fileno()) == 2\n\
             os.close(1); assert os.dup(s.fileno()) == 1\n\
             os.dup2(s.fileno(), 5)\n\
             f = open('/dev/null'); os.dup2(f.fileno(), 1)\n\
             a, b = socket.socketpair(); os.dup2(a.fileno(), 1)\n\
             try: os.dup2(999, 0)\n\
             except OSError: pass\n\
             u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.connect(('127.0.0.1', {udp_port}))\n\
             os.dup2(u.fileno(), 0)\n"
        ),
    )
    .unwrap();
    let out = cg.sh(&format!("/usr/bin/python3 {} </dev/null", script.display()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_conn, client) = tcp.accept().unwrap();
    let dups = |ev: &[Event]| -> Vec<(String, u32, u16, Option<L4Proto>)> {
        ev.iter()
            .filter_map(|e| match &e.kind {
                EventKind::Dup { call, fd, peer, .. } => Some((call.clone(), *fd, peer.port, peer.proto)),
                _ => None,
            })
            .collect()
    };
    let mut events = collect(&mut s, Duration::from_secs(5), |ev| dups(ev).len() >= 5);
    events.extend(collect(&mut s, Duration::from_millis(300), |_| false));
    let tcp = Some(L4Proto::Tcp);
    assert_eq!(
        dups(&events),
        [
            ("dup2".to_string(), 0, port, tcp),
            ("dup3".to_string(), 1, port, tcp),
            ("dup".to_string(), 2, port, tcp),
            ("fcntl".to_string(), 1, port, tcp),
            ("dup2".to_string(), 0, udp_port, Some(L4Proto::Udp)),
        ],
        "{events:#?}"
    );
    let first = events.iter().find(|e| e.kind_name() == "dup").unwrap();
    let EventKind::Dup { peer, local_port, .. } = &first.kind else { unreachable!() };
    assert_eq!((peer.family.as_str(), peer.addr.as_str()), ("inet", "127.0.0.1"));
    assert_eq!(*local_port, Some(client.port()), "the socket's own port");
    assert_eq!(first.comm, "python3");
}

#[test]
fn a_streaming_cgroup_reports_its_system_calls_in_order() {
    let cg = TestCgroup::new("kestrel-test-stream");
    let cfg = Config { watch_cgroups: vec![cg.0.clone()], stream_cgroups: vec![cg.0.clone()], ..Config::default() };
    let mut s = Sensor::start(cfg).unwrap_or_else(|e| panic!("{e}"));
    let out = cg.sh("/bin/true");
    assert!(out.status.success());
    // /bin/true ends with exit_group (231 on x86_64); the batches of its thread hold it, last.
    let events = collect(&mut s, Duration::from_secs(5), |ev| {
        ev.iter()
            .any(|e| matches!(&e.kind, EventKind::Syscalls { ids } if ids.last() == Some(&231) && e.comm == "true"))
    });
    let ids: Vec<u16> = events
        .iter()
        .filter(|e| e.comm == "true")
        .flat_map(|e| match &e.kind {
            EventKind::Syscalls { ids } => ids.clone(),
            _ => vec![],
        })
        .collect();
    assert_eq!(ids.last(), Some(&231), "{ids:?}");
    assert!(ids.len() > 5, "{ids:?}");
    // A batch never spans an exec: the shell's calls end with its execve (59), before the exec event;
    // /bin/true's own calls come after it.
    let exec = events
        .iter()
        .position(|e| matches!(&e.kind, EventKind::Exec { exe, .. } if exe == "/bin/true"))
        .expect("the exec of /bin/true");
    let tid = events[exec].tid;
    let calls = |e: &kestrel_core::Event| match &e.kind {
        EventKind::Syscalls { ids } if e.tid == tid => Some(ids.clone()),
        _ => None,
    };
    let before = events[..exec].iter().filter_map(calls).next_back().expect("the shell's batch before the exec");
    assert_eq!(before.last(), Some(&59), "{before:?}");
    assert!(events[exec + 1..].iter().filter_map(calls).all(|ids| !ids.contains(&59)));
    // Unwatched threads do not stream.
    assert!(events
        .iter()
        .all(|e| e.cgroup_id == std::fs::metadata(&cg.0).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap()));
}

/// A stand-in for the node's kubelet (no Kubernetes cluster runs here): a real HTTP server answering
/// `GET /pods` with a `PodList` built with the Kubernetes API's own types, and 401 without the bearer token.
/// Everything from the request on is the code a node runs.
fn kubelet(
    token: &'static str,
    pods: k8s_openapi::List<k8s_openapi::api::core::v1::Pod>,
) -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = serde_json::to_vec(&pods).unwrap();
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut r = BufReader::new(&conn);
            let (mut first, mut auth) = (String::new(), false);
            let _ = r.read_line(&mut first);
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                auth |= line.trim().eq_ignore_ascii_case(&format!("authorization: Bearer {token}"));
            }
            let _ = seen_tx.send(first.trim().to_string());
            let mut w = &conn;
            let _ = if auth && first.starts_with("GET /pods ") {
                write!(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
                    .and_then(|_| w.write_all(&body))
            } else {
                write!(w, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            };
        }
    });
    (url, seen_rx)
}

#[test]
fn a_kubernetes_container_gets_its_pods_name_namespace_and_labels_from_the_kubelet() {
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    let uid = format!("0f1e2d3c-4b5a-6978-8a9b-{:012x}", std::process::id());
    let id = format!("{:064x}", 0xfeed_0000_u64 + std::process::id() as u64);
    let pod = |name: &str, uid: &str, app: &str| Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("shop".into()),
            uid: Some(uid.into()),
            labels: Some([("app".to_string(), app.to_string()), ("tier".to_string(), "front".to_string())].into()),
            ..Default::default()
        },
        ..Default::default()
    };
    // The kubelet says which image each container was pulled by (containerd: the repository digest).
    let pulled = format!("sha256:{}", "ab".repeat(32));
    let mut web = pod("web-7d9f", &uid, "web");
    web.status = Some(k8s_openapi::api::core::v1::PodStatus {
        container_statuses: Some(vec![k8s_openapi::api::core::v1::ContainerStatus {
            name: "nginx".into(),
            container_id: Some(format!("containerd://{id}")),
            image: "docker.io/library/nginx:1.27".into(),
            image_id: format!("docker.io/library/nginx@{pulled}"),
            ..Default::default()
        }]),
        ..Default::default()
    });
    let list = k8s_openapi::List {
        items: vec![pod("db-0", "11111111-2222-3333-4444-555555555555", "db"), web],
        ..Default::default()
    };
    let (url, seen) = kubelet("kestrel-test-token", list);
    let token = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token.path(), "kestrel-test-token\n").unwrap();

    // The cgroup layout of a containerd container of a best-effort pod under the systemd driver.
    let top = TestCgroup::new("kestrel-test-k8s");
    let pod_cg = top.0.join(format!("kubepods-besteffort-pod{}.slice", uid.replace('-', "_")));
    std::fs::create_dir_all(&pod_cg).unwrap();
    let pod_cg = TestCgroup(pod_cg);
    let scope = pod_cg.0.join(format!("cri-containerd-{id}.scope"));
    std::fs::create_dir_all(&scope).unwrap();
    let scope = TestCgroup(scope);

    let kubelet = kestrel_sensor::kubelet::KubeletConfig {
        url,
        token_file: Some(token.path().to_path_buf()),
        ca_file: None,
        insecure: false,
        every: Duration::from_secs(30),
    };
    let cfg = Config { watch_cgroups: vec![top.0.clone()], kubelet: Some(kubelet), ..Config::default() };
    let mut s = Sensor::start(cfg).unwrap_or_else(|e| panic!("{e}"));
    // Until the kubelet has answered, the container is known by its id and pod uid alone; its events after
    // the answer carry the pod.
    let labelled = |ev: &[Event]| {
        ev.iter().any(|e| {
            matches!(&e.kind, EventKind::Exec { exe, .. } if exe == "/bin/true")
                && e.container.as_ref().is_some_and(|c| c.labels.get("app").is_some_and(|a| a == "web"))
        })
    };
    let mut events = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) && !labelled(&events) {
        scope.sh("/bin/true");
        events.extend(collect(&mut s, Duration::from_millis(300), labelled));
    }
    s.stop().unwrap();
    let e = events
        .iter()
        .rev()
        .find(|e| matches!(&e.kind, EventKind::Exec { exe, .. } if exe == "/bin/true"))
        .unwrap_or_else(|| panic!("no exec of /bin/true in {events:#?}"));
    let c = e.container.as_ref().expect("attributed to its container");
    assert_eq!((c.id.as_str(), c.runtime.as_str()), (id.as_str(), "containerd"));
    assert_eq!(c.pod_uid.as_deref(), Some(uid.as_str()));
    assert_eq!((c.pod.as_deref(), c.namespace.as_deref()), (Some("web-7d9f"), Some("shop")), "{c:?}");
    assert_eq!(c.labels.get("app").map(String::as_str), Some("web"), "{c:?}");
    assert_eq!(c.labels.get("tier").map(String::as_str), Some("front"));
    // No runtime state here (no bundle): the kubelet names the image too.
    assert_eq!(c.image.as_deref(), Some("docker.io/library/nginx:1.27"), "{c:?}");
    assert_eq!((c.image_id.as_deref(), c.image_digest.as_deref()), (None, Some(pulled.as_str())), "{c:?}");
    assert_eq!(seen.try_iter().next().as_deref(), Some("GET /pods HTTP/1.1"));
}

#[test]
fn a_refusing_or_unreachable_kubelet_or_a_bad_ca_gives_an_error_naming_it() {
    use kestrel_sensor::kubelet::{agent, fetch, KubeletConfig};
    let (url, _) = kubelet("right-token", Default::default());
    let cfg = KubeletConfig {
        url: url.clone(),
        token_file: None,
        ca_file: None,
        insecure: false,
        every: Duration::from_secs(1),
    };
    let agent = agent(&cfg).unwrap();
    let err = fetch(&cfg, &agent).unwrap_err();
    assert!(err.contains(&format!("{url}/pods")) && err.contains("401"), "{err}");
    let dead = KubeletConfig { url: "http://127.0.0.1:9".into(), ..cfg };
    let err = fetch(&dead, &agent).unwrap_err();
    assert!(err.starts_with("http://127.0.0.1:9/pods: "), "{err}");
    let bad_ca = KubeletConfig { ca_file: Some("/nonexistent/ca.crt".into()), ..dead };
    let err =
        Sensor::start(Config { kubelet: Some(bad_ca), ..Config::default() }).err().expect("a bad CA file is refused");
    assert!(err.to_string().contains("/nonexistent/ca.crt"), "{err}");
}

#[test]
fn a_containers_user_database_is_read_inside_its_root_whatever_its_links_point_at() {
    use kestrel_sensor::users::{Db, UserNames};
    let busybox = ["/bin/busybox", "/usr/bin/busybox"].into_iter().find(|p| Path::new(p).is_file());
    let busybox = busybox.expect("busybox is not installed: scripts/setup installs busybox-static");
    // Three roots: one with plain files; one whose passwd is an absolute link to /etc/passwd (the host's, if
    // followed from outside the root; itself, inside) and whose group file is a FIFO (a read that would
    // block); one whose passwd climbs out with `..` (back to itself, inside the root).
    let plain = tempfile::tempdir().unwrap();
    let hostile = tempfile::tempdir().unwrap();
    let climbing = tempfile::tempdir().unwrap();
    for r in [&plain, &hostile, &climbing] {
        std::fs::create_dir_all(r.path().join("etc")).unwrap();
        std::fs::create_dir_all(r.path().join("bin")).unwrap();
        std::fs::copy(busybox, r.path().join("bin/busybox")).unwrap();
    }
    std::fs::write(plain.path().join("etc/passwd"), "boxroot:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n").unwrap();
    std::fs::write(plain.path().join("etc/group"), "boxwheel:x:0:\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", hostile.path().join("etc/passwd")).unwrap();
    let fifo = std::ffi::CString::new(hostile.path().join("etc/group").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    std::os::unix::fs::symlink("../../../../../../../../etc/passwd", climbing.path().join("etc/passwd")).unwrap();
    let chrooted =
        |root: &Path| Command::new("chroot").arg(root).args(["/bin/busybox", "sleep", "30"]).spawn().expect("chroot");
    let mut kids = [chrooted(plain.path()), chrooted(hostile.path()), chrooted(climbing.path())];
    // Wait until each child has entered its root.
    for k in &kids {
        let deadline = Instant::now() + Duration::from_secs(5);
        let root = |k: &std::process::Child| std::fs::read_link(format!("/proc/{}/root", k.id())).unwrap_or_default();
        while root(k) == Path::new("/") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let started = Instant::now();
    let mut u = UserNames::new();
    let name = |u: &mut UserNames, db, cgroup, k: &std::process::Child, id| u.name(db, cgroup, k.id(), Vec::new, id);
    let got = [
        name(&mut u, Db::Users, 1, &kids[0], 0),
        name(&mut u, Db::Users, 1, &kids[0], 1000),
        name(&mut u, Db::Groups, 1, &kids[0], 0),
        name(&mut u, Db::Users, 2, &kids[1], 0),
        name(&mut u, Db::Groups, 2, &kids[1], 0),
        name(&mut u, Db::Users, 3, &kids[2], 0),
    ];
    let elapsed = started.elapsed();
    // A process gone is named through its cgroup's root: the container's, not that of a helper of the runtime
    // with the host's root (this test's own process stands for it) seen in the cgroup since.
    let me = std::process::id();
    assert_eq!(u.name(Db::Users, 1, me, Vec::new, 0).as_deref(), Some("root"));
    let gone = u32::MAX;
    let after = [u.name(Db::Users, 1, gone, Vec::new, 0), u.name(Db::Users, 9, gone, || vec![kids[0].id()], 1000)];
    for k in &mut kids {
        let _ = k.kill();
        let _ = k.wait();
    }
    let some = |s: &str| Some(s.to_string());
    // The host's /etc/passwd names uid 0 `root`: it is never read.
    assert_eq!(got, [some("boxroot"), some("app"), some("boxwheel"), None, None, None]);
    assert_eq!(after, [some("boxroot"), some("app")]);
    assert!(elapsed < Duration::from_secs(2), "the FIFO blocked: {elapsed:?}");
}

/// A cgroup that is not there when the sensor starts (a container engine's parent before its first container:
/// Docker's `/docker`, the kubelet's `kubepods`) is watched from the moment it is made, with what is made below it, and
/// streams its system calls when asked to. (The sensor is woken by the parent's making and here always adds it before the first exec; a verdict a process
/// below could leave before that is dropped when the parent joins — a race this test does not force.)
#[test]
fn a_parent_made_after_the_start_is_watched_from_then_on() {
    let parent = cgroup2_root().unwrap().join(format!("kestrel-test-late-{}", std::process::id()));
    let _ = std::fs::remove_dir(&parent);
    let cfg = Config { watch_when_made: vec![parent.clone()], stream_when_made: true, ..Config::default() };
    let mut s = Sensor::start(cfg).unwrap_or_else(|e| panic!("{e}"));
    // Made, entered and run in at once, as a runtime does.
    let child = parent.join("box");
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "mkdir -p {c} && echo $$ > {c}/cgroup.procs && /bin/true first; sleep 0.3; /bin/true second; \
             sleep 0.3; /bin/true third",
            c = child.display()
        ))
        .output()
        .unwrap();
    // Dropped last to first: the child's directory goes before its parent's.
    let _parent = TestCgroup(parent.clone());
    let child = TestCgroup(child);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id = std::fs::metadata(&child.0).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap();
    let ran = |ev: &[Event], arg: &str| {
        ev.iter().any(|e| {
            e.cgroup_id == id && matches!(&e.kind, EventKind::Exec { argv, .. } if argv.iter().any(|a| a == arg))
        })
    };
    let events = collect(&mut s, Duration::from_secs(3), |ev| ran(ev, "third"));
    assert!(ran(&events, "second") && ran(&events, "third"), "not watched once made: {events:#?}");
    assert!(events.iter().all(|e| e.cgroup_id == id), "{events:#?}");
    // And its system calls are streamed (`--syscalls`), like a streaming cgroup's from the start.
    assert!(events.iter().any(|e| matches!(&e.kind, EventKind::Syscalls { ids } if !ids.is_empty())), "{events:#?}");
}
