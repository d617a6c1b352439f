use super::*;
use kestrel_core::{ContainerRef, L4Proto, SockAddr, EVENT_SCHEMA};

fn ev(pid: u32, comm: &str, kind: EventKind) -> Event {
    Event {
        schema: EVENT_SCHEMA.into(),
        time_ns: 1_000 + pid as u64,
        pid,
        tid: pid,
        comm: comm.into(),
        cgroup_id: 9,
        container: Some(
            ContainerRef { id: "c0ffee".repeat(11)[..64].to_string(), runtime: "runc".into(), ..Default::default() }
                .into(),
        ),
        process: None,
        kind,
    }
}

fn exec(pid: u32, ppid: u32, parent: &str, argv: &[&str], uid: u32) -> Event {
    let comm = argv[0].rsplit('/').next().unwrap_or("").to_string();
    let mut kind = EventKind::exec_of(ppid, parent, argv);
    if let EventKind::Exec { uid: u, gid, euid, cap_effective, .. } = &mut kind {
        (*u, *gid, *euid, *cap_effective) = (uid, uid, uid, 0xa80425fb);
    }
    ev(pid, &comm, kind)
}

/// An engine over one rule file, which must load `loaded` rules.
fn engine_of(yaml: &str, loaded: usize) -> Engine {
    let mut set = RuleSet::default();
    set.add_file("t.yaml", yaml).unwrap();
    let c = set.compile();
    assert_eq!(c.report.loaded, loaded, "{:#?}", c.report);
    Engine::new(c)
}

fn names(alerts: &[Alert]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| match &a.source {
            AlertSource::Rule { name, .. } => name.clone(),
            AlertSource::Model { name, .. } => name.clone(),
        })
        .collect()
}

fn builtin() -> Engine {
    let c = RuleSet::builtin().compile();
    assert!(c.report.skipped.is_empty() && c.report.problems.is_empty(), "{:#?}", c.report);
    Engine::new(c)
}

#[test]
fn builtin_rules_catch_the_lab_attacks_and_not_the_normal_work() {
    let mut e = builtin();
    // Normal work: a web server serving, a health check, a read of /etc/passwd.
    let mut quiet = vec![];
    quiet.extend(e.process(&exec(10, 1, "runc:[2:INIT]", &["/usr/sbin/nginx", "-g", "daemon off;"], 0)));
    quiet.extend(e.process(&exec(11, 2, "runc:[2:INIT]", &["/bin/sh", "-c", "echo ok > /tmp/health"], 0)));
    quiet.extend(e.process(&ev(11, "sh", EventKind::Open { path: "/tmp/health".into(), flags: 0o1101 })));
    quiet.extend(e.process(&ev(12, "cat", EventKind::Open { path: "/etc/passwd".into(), flags: 0 })));
    let web = SockAddr { family: "inet".into(), addr: "10.0.0.5".into(), port: 443, proto: None };
    quiet.extend(e.process(&ev(11, "sh", EventKind::Connect { to: web })));
    assert!(quiet.is_empty(), "{:#?}", names(&quiet));

    // A shell under nginx.
    let a = e.process(&exec(20, 10, "nginx", &["/bin/sh", "-c", "id"], 33));
    assert_eq!(names(&a), ["Shell spawned by a server process"]);
    assert!(a[0].mitre.contains(&"T1059.004".to_string()), "{:?}", a[0].mitre);
    assert!(a[0].title.contains("spawned by nginx"), "{}", a[0].title);
    assert_eq!(a[0].severity, Severity::High);

    // nc -e /bin/sh: the tool, then the shell under it.
    let a = e.process(&exec(30, 2, "runc:[2:INIT]", &["/bin/nc", "127.0.0.1", "9001", "-e", "/bin/sh"], 0));
    assert_eq!(names(&a), ["Network tool running a program"]);
    let to = SockAddr { family: "inet".into(), addr: "127.0.0.1".into(), port: 9001, proto: None };
    assert!(e.process(&ev(30, "nc", EventKind::Connect { to })).is_empty());
    let a = e.process(&exec(30, 2, "nc", &["/bin/sh"], 0));
    assert_eq!(names(&a), ["Reverse shell"]);
    assert!(a[0].title.contains("127.0.0.1:9001"), "{}", a[0].title);

    // A service that looked up a name (a resolver's UDP query to port 53) or connected to its database, and runs a
    // shell for a report a minute later: not a reverse shell. A program that connects and at once starts a shell
    // (PHP's fsockopen, then exec), or connects and becomes one: a reverse shell — over TCP to port 53 too.
    let at = |mut x: Event, t: u64| {
        x.time_ns = t;
        x
    };
    let udp = |port| SockAddr { family: "inet".into(), addr: "10.96.0.10".into(), port, proto: Some(L4Proto::Udp) };
    let tcp = |port| SockAddr { family: "inet".into(), addr: "10.0.0.9".into(), port, proto: Some(L4Proto::Tcp) };
    let s = 1_000_000_000;
    e.process(&at(exec(50, 2, "runc:[2:INIT]", &["/usr/bin/python3", "/srv/app/app.py"], 0), s));
    assert!(e.process(&at(ev(50, "python3", EventKind::Connect { to: udp(53) }), s + 1)).is_empty());
    let report = |pid, t| at(exec(pid, 50, "python3", &["/bin/sh", "-c", "du -sk /srv/app/uploads"], 0), t);
    assert!(e.process(&report(51, 2 * s)).is_empty(), "a resolver's query is no connection");
    assert!(e.process(&at(ev(50, "python3", EventKind::Connect { to: tcp(5432) }), 3 * s)).is_empty());
    assert!(e.process(&report(52, 60 * s)).is_empty(), "the database connected a minute before");
    let a = e.process(&report(53, 3 * s + 50_000_000));
    assert_eq!(names(&a), ["Reverse shell"], "a shell 50 ms after its parent connected out");
    assert!(a[0].title.contains("10.0.0.9:5432"), "{}", a[0].title);
    let a = e.process(&report(54, 3 * s + s * 5));
    assert_eq!(names(&a), ["Reverse shell"], "5 s after: still just");
    assert!(e.process(&report(55, 3 * s + s * 5 + 1)).is_empty(), "5 s and a nanosecond: no longer");
    for (pid, to, alerts) in
        [(60, udp(53), vec![]), (61, tcp(53), vec!["Reverse shell"]), (62, udp(9), vec!["Reverse shell"])]
    {
        e.process(&at(exec(pid, 2, "runc:[2:INIT]", &["/usr/bin/perl", "-e", "..."], 0), 100 * s));
        e.process(&at(ev(pid, "perl", EventKind::Connect { to: to.clone() }), 100 * s + 1));
        let a = e.process(&at(exec(pid, 2, "perl", &["/bin/sh", "-i"], 0), 900 * s));
        assert_eq!(names(&a), alerts, "perl connected to {to:?}, then became a shell");
    }

    // A process's environment: read by code inside a service, it is a secret taken; by ps from /usr/bin, shown.
    let environ = |path: &str| EventKind::Open { path: path.into(), flags: 0 };
    e.process(&exec(45, 2, "runc:[2:INIT]", &["/usr/bin/python3", "/srv/app/app.py"], 0));
    let a = e.process(&ev(45, "python3", environ("/proc/self/environ")));
    assert_eq!(names(&a), ["Process environment read"]);
    assert!(a[0].title.contains("/proc/self/environ") && a[0].title.contains("/usr/bin/python3"), "{}", a[0].title);
    assert_eq!(names(&e.process(&ev(45, "python3", environ("/proc/1/task/7/environ")))), ["Process environment read"]);
    assert!(e.process(&ev(45, "python3", environ("/proc/self/cmdline"))).is_empty());
    assert!(e.process(&ev(45, "python3", environ("/srv/app/environ"))).is_empty());
    e.process(&exec(46, 2, "runc:[2:INIT]", &["/usr/bin/ps", "e"], 0));
    assert!(e.process(&ev(46, "ps", environ("/proc/1/environ"))).is_empty(), "ps e shows environments");
    e.process(&exec(47, 2, "runc:[2:INIT]", &["/tmp/ps", "e"], 0));
    assert_eq!(names(&e.process(&ev(47, "ps", environ("/proc/1/environ")))), ["Process environment read"]);

    // /etc/shadow, /usr/bin, setuid, miner, mount, release agent, setns, ptrace.
    let a = e.process(&ev(40, "cat", EventKind::Open { path: "/etc/shadow".into(), flags: 0 }));
    assert_eq!(names(&a), ["Sensitive file opened for reading"]);
    let a = e.process(&ev(41, "sh", EventKind::Open { path: "/usr/bin/update".into(), flags: 0o1101 }));
    assert_eq!(names(&a), ["Write below a binary directory"]);
    let a = e.process(&ev(42, "chmod", EventKind::SetuidChmod { path: Some("/tmp/id".into()), mode: 0o4755 }));
    assert_eq!(names(&a), ["Setuid or setgid bit set"]);
    assert!(a[0].title.contains("S_ISUID"), "{}", a[0].title);
    let pool = SockAddr { family: "inet".into(), addr: "127.0.0.1".into(), port: 3333, proto: None };
    assert_eq!(names(&e.process(&ev(43, "nc", EventKind::Connect { to: pool }))), ["Connection to a mining pool port"]);
    let m = EventKind::Mount {
        source: "/tmp/host-disk".into(),
        target: "/mnt/host".into(),
        fstype: "ext4".into(),
        flags: 0,
    };
    assert_eq!(names(&e.process(&ev(44, "mount", m))), ["Mount in a container"]);
    let m = EventKind::Mount { source: "/dev/vda1".into(), target: "/mnt".into(), fstype: "ext4".into(), flags: 0 };
    assert_eq!(names(&e.process(&ev(44, "mount", m))), ["Host device mounted in a container"]);
    let ra = EventKind::Open { path: "/tmp/cgrp/release_agent".into(), flags: 0o1101 };
    assert_eq!(names(&e.process(&ev(45, "sh", ra))), ["Cgroup release agent written"]);
    assert_eq!(
        names(&e.process(&ev(46, "nsenter", EventKind::Setns { nstype: 0 }))),
        ["Namespace entered from a container"]
    );
    let p = EventKind::Ptrace { request: 16, target_pid: 1 };
    assert_eq!(names(&e.process(&ev(47, "labhelper", p))), ["Process memory access through ptrace"]);

    // The container runtime's own mounts and setns are not alerts.
    let m = EventKind::Mount { source: "proc".into(), target: "/proc".into(), fstype: "proc".into(), flags: 0 };
    assert!(e.process(&ev(48, "runc:[2:INIT]", m)).is_empty());
    // Nor is runc's init re-executed as `exe` (its parent the runc binary) bind-mounting its own binary below
    // the container's state directory, as runc 1.1 does before it names itself; the same mount by an `exe`
    // whose parent is the container's program is.
    let clone = || EventKind::Mount {
        source: "/proc/self/exe".into(),
        target: format!("/run/runc/{}/runc.OXa1KA", "c0ffee".repeat(8)),
        fstype: String::new(),
        flags: 4096,
    };
    let from = |parent: &str| {
        let mut x = ev(48, "exe", clone());
        x.process = Some(kestrel_core::ProcessRef { parent_exe: Some(parent.into()), ..Default::default() });
        x
    };
    assert!(e.process(&from("/usr/sbin/runc")).is_empty());
    assert_eq!(names(&e.process(&from("/usr/sbin/nginx"))), ["Mount in a container"]);
    assert_eq!(names(&e.process(&ev(48, "exe", clone()))), ["Mount in a container"]);

    // runc's init setting the capabilities of a `runc exec --user 33` process, as that user, before it execs.
    let init = |kind| {
        let mut x = ev(49, "runc:[2:INIT]", kind);
        x.process = Some(kestrel_core::ProcessRef { euid: Some(33), ..Default::default() });
        x
    };
    assert!(e.process(&init(EventKind::Capset { effective: 0xa80425fb, permitted: 0xa80425fb })).is_empty());
    // A program of the container that names itself like runc's init (prctl) is not the runtime: it was seen
    // executing there; nor is a child it forks.
    assert!(e.process(&exec(60, 10, "nginx", &["/usr/bin/python3", "x.py"], 0)).is_empty());
    let disk =
        || EventKind::Mount { source: "/dev/vda1".into(), target: "/mnt".into(), fstype: "ext4".into(), flags: 0 };
    assert_eq!(names(&e.process(&ev(60, "runc:[2:INIT]", disk()))), ["Host device mounted in a container"]);
    let mut child = ev(61, "runc:[1:CHILD]", EventKind::Setns { nstype: 0 });
    child.process = Some(kestrel_core::ProcessRef { ppid: Some(60), ..Default::default() });
    assert_eq!(names(&e.process(&child)), ["Namespace entered from a container"]);
    let mut caps = ev(60, "crun", EventKind::Capset { effective: 0xa80425fb, permitted: 0xa80425fb });
    caps.process = Some(kestrel_core::ProcessRef { euid: Some(33), ..Default::default() });
    assert_eq!(names(&e.process(&caps)), ["Capabilities raised by a non-root process"]);

    // Privilege escalation by uid 33.
    assert!(e.process(&exec(50, 2, "runc:[2:INIT]", &["/bin/labhelper", "setuid0"], 33)).is_empty());
    let a =
        e.process(&ev(50, "labhelper", EventKind::SetIds { call: "setuid".into(), ids: vec![0], names: Vec::new() }));
    assert_eq!(names(&a), ["Privilege escalation to root"]);
    assert!(a[0].title.contains("(uid 33) called setuid(0)"), "{}", a[0].title);
    let raise = EventKind::Capset { effective: u64::MAX, permitted: u64::MAX };
    assert_eq!(names(&e.process(&ev(50, "labhelper", raise))), ["Capabilities raised by a non-root process"]);
    let ns = EventKind::Namespaces {
        call: "unshare".into(),
        namespaces: vec!["user".into()],
        flags: 0x10000000,
        cap_permitted: 0,
    };
    assert_eq!(names(&e.process(&ev(50, "labhelper", ns))), ["User namespace created in a container"]);

    // Drop and execute: written, then run.
    assert!(e.process(&ev(60, "wget", EventKind::Open { path: "/tmp/.x".into(), flags: 0o1101 })).is_empty());
    let a = e.process(&exec(61, 2, "sh", &["/tmp/.x"], 0));
    assert_eq!(names(&a), ["Drop and execute"]);
    // The same program in another container was not written there.
    let mut other = exec(62, 2, "sh", &["/tmp/.x"], 0);
    other.container = Some(ContainerRef { id: "b".repeat(64), runtime: "runc".into(), ..Default::default() }.into());
    assert!(e.process(&other).is_empty());

    // Package manager.
    let a = e.process(&exec(70, 2, "sh", &["/usr/bin/apt-get", "install", "nc"], 0));
    assert_eq!(names(&a), ["Package manager at run time"]);
    // … and its children are not reported again.
    assert!(e.process(&exec(71, 70, "apt-get", &["/usr/bin/dpkg", "-i", "x.deb"], 0)).is_empty());

    // A payload run from memory.
    let mut fileless = exec(72, 2, "sh", &["kworker"], 0);
    let EventKind::Exec { exe_from_memfd, .. } = &mut fileless.kind else { unreachable!() };
    *exe_from_memfd = true;
    assert_eq!(names(&e.process(&fileless)), ["Fileless execution"]);
    // A loader hijacked through the environment: GLIBC_TUNABLES, or a preload from /tmp; not a preload
    // from the image's own library directory, nor a variable merely named like one.
    let with_env = |pid, env: &[&str]| {
        let mut run = exec(pid, 2, "sh", &["/usr/bin/su"], 33);
        let EventKind::Exec { env: e, .. } = &mut run.kind else { unreachable!() };
        *e = env.iter().map(|v| v.to_string()).collect();
        run
    };
    let a = e.process(&with_env(74, &["HOME", "GLIBC_TUNABLES=glibc.tune.x=AAAA"]));
    assert_eq!(names(&a), ["Loader hijack through the environment"]);
    assert!(a[0].title.contains("(HOME GLIBC_TUNABLES=glibc.tune.x=AAAA)"), "{}", a[0].title);
    assert_eq!(
        names(&e.process(&with_env(75, &["LD_PRELOAD=/dev/shm/.l.so"]))),
        ["Loader hijack through the environment"]
    );
    assert!(e.process(&with_env(76, &["LD_PRELOAD=/usr/lib/libjemalloc.so", "MY_TMP", "PATH=/tmp/bin"])).is_empty());
    // A link to a sensitive file (as the sensor judged the target); any other link is not one.
    let link = |target: &str, path: &str, sensitive| EventKind::Link {
        call: "symlinkat".into(),
        target: target.into(),
        path: path.into(),
        dirfd: false,
        sensitive,
    };
    let a = e.process(&ev(77, "ln", link("/etc/shadow", "/tmp/notes", true)));
    assert_eq!(names(&a), ["Link to a sensitive file"]);
    assert!(a[0].title.starts_with("symlinkat /tmp/notes → /etc/shadow by ln"), "{}", a[0].title);
    assert!(e.process(&ev(77, "ln", link("/etc/hostname", "/tmp/notes", false))).is_empty());
    // A link made in a binary directory puts a program on PATH without writing one.
    let a = e.process(&ev(77, "ln", link("/tmp/.x", "/usr/local/bin/ls", false)));
    assert_eq!(names(&a), ["Write below a binary directory"]);
    assert!(a[0].title.contains("/usr/local/bin/ls"), "{}", a[0].title);
    // crun links every container's /dev/core to /proc/kcore while setting it up; the same link by anything
    // else, or crun linking another name or target, is still one.
    let core = |target: &str, path: &str| EventKind::Link {
        call: "symlinkat".into(),
        target: target.into(),
        path: path.into(),
        dirfd: true,
        sensitive: true,
    };
    assert!(e.process(&ev(78, "crun", core("/proc/kcore", "core"))).is_empty());
    // (The name joined to the directory the sensor rebuilt for it.)
    let rootfs_core = "/var/lib/containers/storage/overlay/0f3a/merged/dev/core";
    assert!(e.process(&ev(78, "crun", core("/proc/kcore", rootfs_core))).is_empty());
    assert_eq!(names(&e.process(&ev(79, "sh", core("/proc/kcore", "core")))), ["Link to a sensitive file"]);
    assert_eq!(names(&e.process(&ev(78, "crun", core("/proc/kcore", "/tmp/k")))), ["Link to a sensitive file"]);
    assert_eq!(names(&e.process(&ev(78, "crun", core("/etc/shadow", "core")))), ["Link to a sensitive file"]);
    // Written in /tmp, renamed into /usr/local/bin (never opened there for writing), run: both rules see it.
    assert!(e.process(&ev(81, "sh", EventKind::Open { path: "/tmp/.y".into(), flags: 0o1101 })).is_empty());
    let mv = EventKind::Rename {
        call: "rename".into(),
        from: "/tmp/.y".into(),
        to: "/usr/local/bin/top".into(),
        to_dirfd: false,
    };
    let a = e.process(&ev(81, "mv", mv));
    assert_eq!(names(&a), ["Write below a binary directory"]);
    assert!(a[0].title.contains("/usr/local/bin/top"), "{}", a[0].title);
    assert_eq!(names(&e.process(&exec(82, 2, "sh", &["/usr/local/bin/top"], 0))), ["Drop and execute"]);
    // `cd /usr/bin; mv /tmp/.z top`: the relative name is joined to mv's working directory (at its exec); one
    // relative to a directory descriptor is left as given.
    let mut mv = exec(84, 2, "sh", &["/bin/mv", "/tmp/.z", "top"], 0);
    let EventKind::Exec { cwd, .. } = &mut mv.kind else { unreachable!() };
    *cwd = "/usr/bin".into();
    assert!(e.process(&mv).is_empty());
    let rel = |to: &str, to_dirfd| EventKind::Rename {
        call: "renameat2".into(),
        from: "/tmp/.z".into(),
        to: to.into(),
        to_dirfd,
    };
    let a = e.process(&ev(84, "mv", rel("top", false)));
    assert_eq!(names(&a), ["Write below a binary directory"]);
    assert!(a[0].title.contains("/usr/bin/top by"), "{}", a[0].title);
    assert!(e.process(&ev(84, "mv", rel("top", true))).is_empty());
    // A package manager's renames are its own business.
    let dpkg = EventKind::Rename {
        call: "rename".into(),
        from: "/usr/bin/x.dpkg-new".into(),
        to: "/usr/bin/x".into(),
        to_dirfd: false,
    };
    let mut by_dpkg = ev(83, "dpkg", dpkg);
    by_dpkg.process = Some(kestrel_core::ProcessRef { exe: Some("/usr/bin/dpkg".into()), ..Default::default() });
    assert!(e.process(&by_dpkg).is_empty());
    // A packet socket; a raw ICMP socket (ping as root) is for the profiles, not a rule.
    let packet = EventKind::Socket { family: "packet".into(), sock_type: "raw".into(), protocol: 3 };
    let a = e.process(&ev(78, "tcpdump", packet));
    assert_eq!(names(&a), ["Packet socket in a container"]);
    assert!(a[0].title.starts_with("socket packet raw (protocol 0x3) by tcpdump"), "{}", a[0].title);
    assert!(a[0].mitre.contains(&"T1040".to_string()), "{:?}", a[0].mitre);
    let raw = EventKind::Socket { family: "inet".into(), sock_type: "raw".into(), protocol: 1 };
    assert!(e.process(&ev(79, "ping", raw)).is_empty());
    // A sensitive file reached through `..` and doubled slashes is still that file.
    let sneaky = EventKind::Open { path: "/var/www/html/../../..//etc/./shadow".into(), flags: 0 };
    let a = e.process(&ev(73, "php", sneaky));
    assert_eq!(names(&a), ["Sensitive file opened for reading"]);
    assert!(a[0].title.starts_with("sensitive file /etc/shadow read by"), "{}", a[0].title);

    // Host processes are outside every built-in rule.
    let mut host = ev(80, "cat", EventKind::Open { path: "/etc/shadow".into(), flags: 0 });
    host.container = None;
    assert!(e.process(&host).is_empty());
}

#[test]
fn falco_semantics_lists_macros_append_exceptions_and_fields() {
    let yaml = r#"
- list: shells
  items: [sh]
- list: shells
  items: [bash]
  append: true
- list: nets
  items: ['"10.0.0.0/8"']
- macro: spawned
  condition: evt.type = execve
- macro: spawned
  condition: and evt.dir = <
  append: true
- rule: Shell
  desc: shell
  condition: spawned and proc.name in (shells) and proc.aname[2] = init and proc.aname = init and proc.aexepath[2] = /sbin/init and proc.aexe[1] = /usr/sbin/sshd
  output: "%proc.name under %proc.pname (%proc.aname[2]) uid=%user.uid name=%user.name %no.such.field"
  priority: NOTICE
  tags: [T1059, mitre_execution]
  exceptions:
    - name: trusted
      fields: [proc.pname, proc.cmdline]
      comps: [=, startswith]
      values:
        - [sshd, "bash -c trusted"]
- rule: Private connect
  desc: private
  condition: evt.type = connect and fd.snet in (nets) and fd.rport > 1000 and not fd.rip = 10.9.9.9
  output: "%fd.name"
  priority: critical
- rule: Glob and pmatch
  desc: x
  condition: evt.type = openat and (fd.name glob "/etc/*.conf" or fd.name pmatch (/srv, /opt/app/)) and tolower(proc.name) = cat
  output: "%fd.name"
  priority: WARNING
- rule: Shell
  condition: and user.uid = 0
  override:
    condition: append
- rule: Disabled
  condition: evt.type = execve
  enabled: false
- rule: Unsupported
  condition: evt.type = execve and container.mount.source[/proc] = /proc and evt.buffer = x
- rule: Bad
  condition: evt.type = execve and (
"#;
    let mut set = RuleSet::default();
    set.add_file("t.yaml", yaml).unwrap();
    let c = set.compile();
    let r = &c.report;
    assert_eq!((r.rules, r.loaded, r.disabled), (6, 3, 1), "{r:#?}");
    assert_eq!(r.missing_fields.keys().collect::<Vec<_>>(), ["container.mount.source", "evt.buffer"]);
    assert!(r.skipped["Bad"].contains("condition"), "{r:#?}");
    assert!(r.missing_output_fields.contains("no.such.field"));
    let mut e = Engine::new(c);

    e.process(&exec(1, 0, "", &["/sbin/init"], 0));
    e.process(&exec(2, 1, "init", &["/usr/sbin/sshd"], 0));
    let a = e.process(&exec(3, 2, "sshd", &["/bin/bash", "-l"], 0));
    assert_eq!(names(&a), ["Shell"]);
    assert_eq!(a[0].title, "bash under sshd (init) uid=0 name=root <NA>");
    assert_eq!(a[0].mitre, ["T1059"]);
    assert_eq!(a[0].severity, Severity::Low);
    // The exception: sshd running `bash -c trusted…`.
    assert!(e.process(&exec(4, 2, "sshd", &["/bin/bash", "-c", "trusted", "x"], 0)).is_empty());
    // The appended `user.uid = 0`.
    assert!(e.process(&exec(5, 2, "sshd", &["/bin/bash"], 1000)).is_empty());
    // proc.aname[2] is not init: grandparent is sshd.
    assert!(e.process(&exec(6, 3, "bash", &["/bin/sh"], 0)).is_empty());

    let to = |addr: &str, port| EventKind::Connect {
        to: SockAddr { family: "inet".into(), addr: addr.into(), port, proto: None },
    };
    assert_eq!(names(&e.process(&ev(7, "curl", to("10.1.2.3", 8080)))), ["Private connect"]);
    assert!(e.process(&ev(7, "curl", to("10.9.9.9", 8080))).is_empty());
    assert!(e.process(&ev(7, "curl", to("11.1.2.3", 8080))).is_empty());
    assert!(e.process(&ev(7, "curl", to("10.1.2.3", 80))).is_empty());
    let a = e.process(&ev(7, "curl", to("10.1.2.3", 8080)));
    assert_eq!((a[0].title.as_str(), a[0].severity), ("->10.1.2.3:8080", Severity::Critical));

    let open = |p: &str| EventKind::Open { path: p.into(), flags: 0 };
    for (path, hit) in [
        ("/etc/nginx.conf", true),
        ("/etc/a/b.conf", true),
        ("/etc/x.txt", false),
        ("/srv", true),
        ("/srv/x/y", true),
        ("/srvx", false),
        ("/opt/app/bin", true),
    ] {
        assert_eq!(!e.process(&ev(8, "CAT", open(path))).is_empty(), hit, "{path}");
    }
}

#[test]
fn socket_protocol_and_state_fields_follow_falcos_outbound_macro() {
    // Falco's own `outbound` macro (falco_rules.yaml): a connect, or a datagram sent to a new peer.
    let yaml = r#"
- list: rfc_1918_addresses
  items: ['"10.0.0.0/8"', '"172.16.0.0/12"', '"192.168.0.0/16"']
- macro: outbound
  condition: >
    (((evt.type = connect and evt.dir=<) or
      (evt.type in (sendto,sendmsg) and evt.dir=< and
       fd.l4proto != tcp and fd.connected=false and fd.name_changed=true)) and
     (fd.typechar = 4 or fd.typechar = 6) and
     (fd.ip != "0.0.0.0" and fd.net != "127.0.0.0/8" and not fd.snet in (rfc_1918_addresses)) and
     (evt.rawres >= 0 or evt.res = EINPROGRESS))
- rule: UDP out
  desc: x
  condition: outbound and fd.l4proto = udp and fd.connected = true and fd.name_changed = false
  output: "udp to %fd.rip:%fd.rport proto=%fd.l4proto"
  priority: WARNING
- rule: Datagram out
  desc: x
  condition: outbound and evt.type in (sendto, sendmsg)
  output: "%evt.type to %fd.name"
  priority: WARNING
- rule: Bound
  desc: x
  condition: evt.type = bind and fd.connected = false and fd.l4proto in (tcp, icmp)
  output: "%fd.l4proto"
  priority: NOTICE
"#;
    let mut set = RuleSet::default();
    set.add_file("net.yaml", yaml).unwrap();
    let c = set.compile();
    assert_eq!((c.report.rules, c.report.loaded), (3, 3), "{:#?}", c.report);
    let mut e = Engine::new(c);
    let addr = |addr: &str, port, proto| SockAddr { family: "inet".into(), addr: addr.into(), port, proto };
    let connect = |to| ev(7, "dig", EventKind::Connect { to });
    let a = e.process(&connect(addr("9.9.9.9", 53, Some(L4Proto::Udp))));
    assert_eq!(names(&a), ["UDP out"]);
    assert_eq!(a[0].title, "udp to 9.9.9.9:53 proto=udp");
    for quiet in [
        addr("9.9.9.9", 53, Some(L4Proto::Tcp)),
        addr("9.9.9.9", 53, None),
        addr("10.0.0.53", 53, Some(L4Proto::Udp)),
        addr("127.0.0.53", 53, Some(L4Proto::Udp)),
    ] {
        assert!(e.process(&connect(quiet.clone())).is_empty(), "{quiet:?}");
    }
    let send = |call: &str, to| ev(9, "beacon", EventKind::Send { call: call.into(), to });
    let a = e.process(&send("sendmsg", addr("9.9.9.9", 53, Some(L4Proto::Udp))));
    assert_eq!(a.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(), ["sendmsg to ->9.9.9.9:53"]);
    assert!(e.process(&send("sendto", addr("10.0.0.53", 53, Some(L4Proto::Udp)))).is_empty(), "a private peer");
    assert!(e.process(&send("sendmmsg", addr("9.9.9.9", 53, Some(L4Proto::Udp)))).is_empty(), "not in the list");
    let bind = |proto| ev(8, "srv", EventKind::Bind { addr: addr("0.0.0.0", 80, proto) });
    assert_eq!(e.process(&bind(Some(L4Proto::Icmp)))[0].title, "icmp");
    assert!(e.process(&bind(Some(L4Proto::Udp))).is_empty());
    assert_eq!(L4Proto::from_socket(1, 6), Some(L4Proto::Tcp));
    assert_eq!(L4Proto::from_socket(2, 1), Some(L4Proto::Icmp));
    assert_eq!(L4Proto::from_socket(3, 255), Some(L4Proto::Raw));
    assert_eq!(L4Proto::from_socket(5, 132), None);
}

#[test]
fn falcos_packet_socket_rule_matches_a_packet_socket_event() {
    // Falco's rule as falco_rules.yaml writes it (its `container` macro inlined).
    let yaml = r#"
- list: user_known_packet_socket_binaries
  items: []
- rule: Packet socket created in container
  desc: x
  condition: >
    evt.type=socket
    and container.id != host
    and evt.arg.domain contains AF_PACKET
    and not proc.name in (user_known_packet_socket_binaries)
  output: Packet socket was created in a container | socket_info=%evt.args type=%evt.arg.type proto=%evt.arg.proto
  priority: NOTICE
"#;
    let mut set = RuleSet::default();
    set.add_file("packet.yaml", yaml).unwrap();
    let c = set.compile();
    assert_eq!((c.report.loaded, c.report.skipped.len()), (1, 0), "{:#?}", c.report);
    let mut e = Engine::new(c);
    let socket = |family: &str, protocol| {
        ev(5, "arpspoof", EventKind::Socket { family: family.into(), sock_type: "raw".into(), protocol })
    };
    let a = e.process(&socket("packet", 0x0806));
    assert_eq!(
        a.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(),
        ["Packet socket was created in a container | socket_info=socket packet raw (protocol 0x806) type=SOCK_RAW proto=2054"]
    );
    assert!(e.process(&socket("inet", 1)).is_empty());
}

#[test]
fn falcos_redirect_stdout_stdin_rule_and_the_builtin_match_a_connection_made_a_standard_stream() {
    // Falco's stable rule as falco_rules.yaml writes it, with its `dup` macro (`container` inlined).
    let yaml = r#"
- macro: dup
  condition: (evt.type in (dup, dup2, dup3))
- macro: user_known_stand_streams_redirect_activities
  condition: (never_true)
- macro: never_true
  condition: (evt.num=0)
- rule: Redirect STDOUT/STDIN to Network Connection in Container
  desc: x
  condition: >
    dup
    and container.id != host
    and evt.rawres in (0, 1, 2)
    and fd.type in ("ipv4", "ipv6")
    and not user_known_stand_streams_redirect_activities
  output: Redirect stdout/stdin to network connection | fd.sip=%fd.sip connection=%fd.name lport=%fd.lport rport=%fd.rport fd_type=%fd.type fd_proto=%fd.l4proto evt_type=%evt.type
  priority: NOTICE
"#;
    let mut set = RuleSet::default();
    set.add_file("dup.yaml", yaml).unwrap();
    let c = set.compile();
    assert_eq!((c.report.loaded, c.report.skipped.len()), (1, 0), "{:#?}", c.report);
    let dup = |call: &str, fd, family: &str, addr: &str| EventKind::Dup {
        call: call.into(),
        fd,
        peer: SockAddr { family: family.into(), addr: addr.into(), port: 4444, proto: Some(L4Proto::Tcp) },
        local_port: Some(40_000),
    };
    let mut e = Engine::new(c);
    let a = e.process(&ev(5, "python3", dup("dup2", 1, "inet", "10.9.9.9")));
    assert_eq!(
        a.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(),
        ["Redirect stdout/stdin to network connection | fd.sip=10.9.9.9 connection=->10.9.9.9:4444 lport=40000 \
          rport=4444 fd_type=ipv4 fd_proto=tcp evt_type=dup2"]
    );
    assert_eq!(e.process(&ev(6, "perl", dup("dup", 0, "inet6", "2001:db8::1"))).len(), 1);

    // The built-in rule says the same, with the stream and the peer in its explanation.
    let mut b = builtin();
    let a = b.process(&ev(7, "python3", dup("dup3", 0, "inet", "10.9.9.9")));
    assert_eq!(names(&a), ["Network connection as a standard stream"]);
    assert!(a[0].title.contains("fd 0 the connection ->10.9.9.9:4444"), "{}", a[0].title);
    assert!(a[0].mitre.contains(&"T1059.004".to_string()), "{:?}", a[0].mitre);
    assert!(describe(&ev(7, "python3", dup("dup2", 2, "inet", "10.9.9.9")))
        .contains("standard error is now the connection"));
    let mut host = ev(8, "python3", dup("dup2", 0, "inet", "10.9.9.9"));
    host.container = None;
    assert!(b.process(&host).is_empty());
}

#[test]
fn falcos_modify_binary_dirs_rule_matches_a_rename_and_a_removal() {
    // The sandbox file's rule and macros as it writes them.
    let yaml = r#"
- macro: rename
  condition: (evt.type in (rename, renameat, renameat2))
- macro: remove
  condition: (evt.type in (rmdir, unlink, unlinkat))
- macro: modify
  condition: (rename or remove)
- macro: bin_dir_rename
  condition: >
     (evt.arg.path startswith /bin/ or
     evt.arg.name startswith /usr/bin/ or
     evt.arg.oldpath startswith /bin/ or
     evt.arg.oldpath startswith /usr/bin/ or
     evt.arg.newpath startswith /bin/ or
     evt.arg.newpath startswith /usr/bin/)
- rule: Modify binary dirs
  desc: x
  condition: modify and bin_dir_rename and not proc.name in (dpkg)
  output: File below known binary directory renamed/removed (evt_args=%evt.args newpath=%evt.arg.newpath)
  priority: ERROR
"#;
    let mut set = RuleSet::default();
    set.add_file("bin.yaml", yaml).unwrap();
    let c = set.compile();
    assert_eq!((c.report.loaded, c.report.skipped.len()), (1, 0), "{:#?}", c.report);
    let mut e = Engine::new(c);
    let mv = |comm: &str, from: &str, to: &str| {
        ev(6, comm, EventKind::Rename { call: "renameat2".into(), from: from.into(), to: to.into(), to_dirfd: false })
    };
    let a = e.process(&mv("mv", "/tmp/x", "/usr/bin/ls"));
    assert_eq!(
        a.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(),
        ["File below known binary directory renamed/removed (evt_args=renameat2 /tmp/x → /usr/bin/ls newpath=/usr/bin/ls)"]
    );
    assert_eq!(e.process(&mv("mv", "/bin/su", "/tmp/su")).len(), 1, "a binary moved out");
    assert!(e.process(&mv("mv", "/tmp/a", "/tmp/b")).is_empty());
    assert!(e.process(&mv("dpkg", "/usr/bin/ls.dpkg-new", "/usr/bin/ls")).is_empty());
    // Removals: unlink's `path`, unlinkat's `name` (joined to the working directory, as Falco resolves them).
    let rm = |call: &str, path: &str| {
        ev(6, "rm", EventKind::Unlink { call: call.into(), path: path.into(), dirfd: false, dir: call == "rmdir" })
    };
    let a = e.process(&rm("unlinkat", "/usr/bin/ps"));
    assert_eq!(
        a.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(),
        ["File below known binary directory renamed/removed (evt_args=unlinkat /usr/bin/ps newpath=<NA>)"]
    );
    assert_eq!(e.process(&rm("unlink", "/bin/su")).len(), 1);
    assert_eq!(e.process(&rm("rmdir", "/bin/kit")).len(), 1);
    assert!(e.process(&rm("unlinkat", "/tmp/ps")).is_empty());
}

#[test]
fn falcos_interactive_reconnaissance_rule_needs_a_process_group_leader_on_a_terminal() {
    // The sandbox file's rule and macros as it writes them.
    let yaml = r#"
- macro: spawned_process
  condition: (evt.type in (execve, execveat))
- list: recon_binaries
  items: [w, whoami, id, who, uname]
- condition: (proc.name in (recon_binaries))
  macro: recon_binaries_procs
- rule: Basic Interactive Reconnaissance
  desc: x
  condition: >
    spawned_process
    and recon_binaries_procs
    and proc.tty != 0
    and proc.is_vpgid_leader=true
  output: Basic Interactive Reconnaissance | evt_type=%evt.type process=%proc.name terminal=%proc.tty
  priority: NOTICE
- rule: Leader opens
  desc: x
  condition: evt.type = openat and proc.is_vpgid_leader = true
  output: leader
  priority: NOTICE
- rule: Follower opens
  desc: x
  condition: evt.type = openat and proc.is_pgid_leader = false
  output: follower
  priority: NOTICE
"#;
    let mut e = engine_of(yaml, 3);
    let run = |pid, leader: bool, tty: u32| {
        let mut x = exec(pid, 2, "bash", &["/usr/bin/whoami"], 0);
        let EventKind::Exec { pgrp_leader, tty: t, .. } = &mut x.kind else { unreachable!() };
        (*pgrp_leader, *t) = (leader, tty);
        x
    };
    let a = e.process(&run(10, true, 34816));
    assert_eq!(
        a.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(),
        ["Basic Interactive Reconnaissance | evt_type=execve process=whoami terminal=34816"]
    );
    assert!(e.process(&run(11, false, 34816)).is_empty(), "run by a script on the terminal");
    assert!(e.process(&run(12, true, 0)).is_empty(), "no terminal");
    // Later events of the process know it too; one never seen starting does not say either way.
    let open = |pid| ev(pid, "whoami", EventKind::Open { path: "/etc/passwd".into(), flags: 0 });
    assert_eq!(names(&e.process(&open(10))), ["Leader opens"]);
    assert_eq!(names(&e.process(&open(11))), ["Follower opens"]);
    assert!(e.process(&open(99)).is_empty());
}

#[test]
fn falcos_shell_history_rule_and_the_builtin_catch_evidence_removed() {
    // The incubating file's rule and macros as it writes them (docker_binaries shortened).
    let yaml = r#"
- macro: open_write
  condition: (evt.type in (open,openat,openat2) and evt.is_open_write=true and fd.typechar='f' and fd.num>=0)
- macro: rename
  condition: (evt.type in (rename, renameat, renameat2))
- macro: remove
  condition: (evt.type in (rmdir, unlink, unlinkat))
- macro: modify
  condition: (rename or remove)
- list: docker_binaries
  items: [docker, dockerd, containerd-shim, "runc"]
- macro: modify_shell_history
  condition: >
    (modify and (
      evt.arg.name endswith "ash_history" or
      evt.arg.name endswith "zsh_history" or
      evt.arg.name contains "fish_read_history" or
      evt.arg.name endswith "fish_history" or
      evt.arg.oldpath endswith "ash_history" or
      evt.arg.oldpath endswith "zsh_history" or
      evt.arg.oldpath contains "fish_read_history" or
      evt.arg.oldpath endswith "fish_history" or
      evt.arg.path endswith "ash_history" or
      evt.arg.path endswith "zsh_history" or
      evt.arg.path contains "fish_read_history" or
      evt.arg.path endswith "fish_history"))
- macro: truncate_shell_history
  condition: >
    (open_write and (
      fd.name endswith "ash_history" or
      fd.name endswith "zsh_history" or
      fd.name contains "fish_read_history" or
      fd.name endswith "fish_history") and evt.arg.flags contains "O_TRUNC")
- macro: var_lib_docker_filepath
  condition: (evt.arg.name startswith /var/lib/docker or fd.name startswith /var/lib/docker)
- rule: Delete or rename shell history
  desc: x
  condition: >
    (modify_shell_history or truncate_shell_history)
    and not var_lib_docker_filepath
    and not proc.name in (docker_binaries)
  output: Shell history deleted or renamed | file=%fd.name name=%evt.arg.name path=%evt.arg.path oldpath=%evt.arg.oldpath evt_type=%evt.type
  priority: WARNING
"#;
    let mut e = engine_of(yaml, 1);
    let rm = |comm: &str, call: &str, path: &str, dirfd| {
        ev(6, comm, EventKind::Unlink { call: call.into(), path: path.into(), dirfd, dir: false })
    };
    let a = e.process(&rm("rm", "unlinkat", "/root/.bash_history", false));
    assert_eq!(
        a.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(),
        ["Shell history deleted or renamed | file=/root/.bash_history name=/root/.bash_history \
          path=/root/.bash_history oldpath=<NA> evt_type=unlinkat"]
    );
    assert_eq!(e.process(&rm("python3", "unlink", "/home/u/.zsh_history", false)).len(), 1);
    assert!(e.process(&rm("rm", "unlinkat", "/root/.profile", false)).is_empty());
    assert!(e.process(&rm("dockerd", "unlinkat", "/root/.bash_history", false)).is_empty());
    // Relative to the working directory at exec; as given when relative to a directory descriptor (`rm -r`).
    let mut sh = exec(7, 2, "sh", &["/bin/rm", ".bash_history"], 0);
    let EventKind::Exec { cwd, .. } = &mut sh.kind else { unreachable!() };
    *cwd = "/root".into();
    e.process(&sh);
    let rel = |dirfd| {
        ev(7, "rm", EventKind::Unlink { call: "unlinkat".into(), path: ".bash_history".into(), dirfd, dir: false })
    };
    let a = e.process(&rel(false));
    assert!(a.len() == 1 && a[0].title.contains("name=/root/.bash_history"), "{a:#?}");
    assert_eq!(e.process(&rel(true)).len(), 1, "the name still ends in ash_history");
    let mv = EventKind::Rename {
        call: "renameat2".into(),
        from: "/root/.bash_history".into(),
        to: "/tmp/h".into(),
        to_dirfd: false,
    };
    assert_eq!(e.process(&ev(6, "mv", mv.clone())).len(), 1);
    let truncated = EventKind::Open { path: "/root/.bash_history".into(), flags: 0o1101 };
    assert_eq!(e.process(&ev(6, "sh", truncated.clone())).len(), 1);

    // The built-in rule: history and logs, removed, moved away or emptied.
    let mut b = builtin();
    let kit = "Shell history or logs removed in a container";
    assert_eq!(names(&b.process(&rm("rm", "unlinkat", "/root/.bash_history", false))), [kit]);
    assert_eq!(names(&b.process(&rm("rm", "unlink", "/var/log/auth.log", false))), [kit]);
    assert_eq!(names(&b.process(&rm("rm", "unlinkat", "/home/app/.python_history", false))), [kit]);
    assert_eq!(names(&b.process(&ev(6, "mv", mv))), [kit]);
    assert_eq!(names(&b.process(&ev(6, "sh", truncated.clone()))), [kit]);
    // An interactive bash (on a terminal) writing its first history file at exit opens it so too: left out.
    // Without a terminal (a reverse shell's `: > ~/.bash_history`) it still counts.
    // The session itself raises "Terminal shell in a container" (its first shell only).
    let on_tty = |pid, ppid, parent, argv: &[&str], tty| {
        let mut x = exec(pid, ppid, parent, argv, 0);
        let EventKind::Exec { tty: t, .. } = &mut x.kind else { unreachable!() };
        *t = tty;
        x
    };
    for (pid, tty, alerts) in [(9, 34816, 0), (10, 0, 1)] {
        let started = names(&b.process(&on_tty(pid, 2, "runc:[2:INIT]", &["bash", "-i"], tty)));
        assert_eq!(started, if tty != 0 { vec!["Terminal shell in a container"] } else { vec![] }, "tty {tty}");
        let a = b.process(&ev(pid, "bash", truncated.clone()));
        assert_eq!(a.len(), alerts, "tty {tty}: {a:#?}");
    }
    assert!(b.process(&on_tty(11, 9, "bash", &["sh"], 34816)).is_empty(), "a shell of the same session");
    let log_emptied = |comm| ev(6, comm, EventKind::Open { path: "/var/log/nginx/access.log".into(), flags: 0o1101 });
    assert_eq!(names(&b.process(&log_emptied("sh"))), [kit]);
    assert!(b.process(&log_emptied("nginx")).is_empty(), "a server starting its log afresh");
    // Cut in place by ftruncate (`truncate -s 0`, which opens without O_TRUNC) or truncate(2): shorter counts.
    let cut = |comm, call: &str, path: &str, size_before, length| {
        ev(7, comm, EventKind::Truncate { call: call.into(), path: path.into(), size_before, length })
    };
    let a = b.process(&cut("truncate", "ftruncate", "/var/log/auth.log", Some(5120), 0));
    assert_eq!(names(&a), [kit]);
    assert!(a[0].title.contains("ftruncate /var/log/auth.log"), "{}", a[0].title);
    assert_eq!(names(&b.process(&cut("python3", "ftruncate", "/root/.bash_history", Some(900), 10))), [kit]);
    assert!(b.process(&cut("truncate", "ftruncate", "/var/log/auth.log", Some(0), 0)).is_empty(), "nothing lost");
    assert!(b.process(&cut("truncate", "ftruncate", "/var/log/app.log", Some(10), 4096)).is_empty(), "grown");
    // A log rotator is let through only when it runs from a system binary directory.
    for (pid, exe, alerts) in [(20, "/usr/sbin/logrotate", vec![]), (21, "/tmp/logrotate", vec![kit])] {
        b.process(&exec(pid, 1, "cron", &[exe, "/etc/logrotate.conf"], 0));
        let mut e = cut("logrotate", "ftruncate", "/var/log/syslog", Some(9000), 0);
        (e.pid, e.tid) = (pid, pid);
        let a = b.process(&e);
        assert_eq!(names(&a), alerts, "{exe}");
    }
    assert!(b.process(&cut("truncate", "ftruncate", "/tmp/scratch", Some(9000), 0)).is_empty());
    // truncate(2) names the file as given (relative to the working directory) and cannot say its size.
    b.process(&sh);
    let a = b.process(&cut("python3", "truncate", ".bash_history", None, 0));
    assert!(a.len() == 1 && a[0].title.contains("evidence removed truncate /root/.bash_history"), "{a:#?}");
    assert!(b.process(&cut("python3", "truncate", ".bash_history", None, 100)).is_empty());
    let a = b.process(&cut("python3", "truncate", "/var/log/wtmp", None, 0));
    assert!(a.len() == 1 && a[0].title.contains("truncate /var/log/wtmp"), "{a:#?}");
    let mut e = rm("logrotate", "unlink", "/var/log/auth.log.4.gz", false);
    (e.pid, e.tid) = (20, 20);
    assert!(b.process(&e).is_empty(), "the system's logrotate removing an old log");
    // A program taking logrotate's name is no rotator: the log itself removed counts (an old rotated copy, which
    // any application rotating its own logs removes, does not: see below).
    assert_eq!(names(&b.process(&rm("logrotate", "unlink", "/var/log/auth.log", false))), [kit], "unseen program");
    assert!(b.process(&rm("rm", "unlinkat", "/tmp/x", false)).is_empty());
    // An application rotating its own log (Python's RotatingFileHandler; the lab's app image): the log renamed to
    // its name with a suffix, the old copy compressed by the system's gzip, which removes what it compressed (and,
    // forced, the older .gz first). A log moved anywhere else, or removed by anything but a system compressor,
    // still counts — a gzip copied elsewhere included.
    let mv_log = |to: &str| {
        let to = to.to_string();
        ev(
            30,
            "python3",
            EventKind::Rename { call: "rename".into(), from: "/var/log/app/app.log".into(), to, to_dirfd: false },
        )
    };
    assert!(b.process(&mv_log("/var/log/app/app.log.1")).is_empty(), "rotated");
    assert!(b.process(&mv_log("/var/log/app/app.log-20261204")).is_empty(), "rotated with a date");
    assert_eq!(names(&b.process(&mv_log("/tmp/app.log"))), [kit], "moved away");
    assert_eq!(names(&b.process(&mv_log("/var/log/app/ap"))), [kit], "renamed to another name");
    // (A rotated copy, whoever removes it, is the next case: only the log itself tells a system compressor.)
    for (pid, exe, alerts) in [(31, "/usr/bin/gzip", vec![]), (32, "/tmp/gzip", vec![kit])] {
        b.process(&exec(pid, 30, "python3", &[exe, "-f", "/var/log/app/app.log"], 0));
        for (gone, alerts) in [
            ("/var/log/app/app.log.1.gz", vec![]),
            ("/var/log/app/app.log.1", vec![]),
            ("/var/log/app/app.log", alerts),
        ] {
            let mut e = rm("gzip", "unlinkat", gone, false);
            (e.pid, e.tid) = (pid, pid);
            assert_eq!(names(&b.process(&e)), alerts, "{exe} removing {gone}");
        }
    }
    assert_eq!(names(&b.process(&rm("rm", "unlinkat", "/var/log/app/app.log.1", false))), [kit]);
    // RotatingFileHandler with a backup count: each copy renamed one up, the oldest removed by the application.
    // By a shell or a removal tool, or the log itself, or out of /var/log, it still counts.
    let mv = |from: &str, to: &str| {
        let (from, to) = (from.to_string(), to.to_string());
        ev(30, "python3", EventKind::Rename { call: "rename".into(), from, to, to_dirfd: false })
    };
    assert!(b.process(&mv("/var/log/app/app.log.2", "/var/log/app/app.log.3")).is_empty(), "one up");
    assert!(b.process(&mv("/var/log/app/app.log.1.gz", "/var/log/app/app.log.2.gz")).is_empty(), "one up");
    assert!(b.process(&rm("python3", "unlink", "/var/log/app/app.log.5", false)).is_empty(), "past the count");
    assert!(b.process(&rm("java", "unlink", "/var/log/app/app.log.2026-11-30.gz", false)).is_empty(), "dated");
    assert_eq!(names(&b.process(&mv("/var/log/app/app.log.2", "/tmp/app.log.3"))), [kit], "moved out");
    assert_eq!(names(&b.process(&mv("/var/log/app/app.log.2", "/var/log/app/x"))), [kit], "not a copy");
    for (comm, path) in [
        ("rm", "/var/log/app/app.log.5"),
        ("sh", "/var/log/auth.log.1"),
        ("find", "/var/log/auth.log.2.gz"),
        ("shred", "/var/log/btmp.1"),
        ("python3", "/var/log/app/app.log"),
        ("python3", "/var/log/app/app.log.1.bak"),
    ] {
        assert_eq!(names(&b.process(&rm(comm, "unlinkat", path, false))), [kit], "{comm} removing {path}");
    }
    // A program removed from a binary directory is a change there.
    assert_eq!(names(&b.process(&rm("rm", "unlinkat", "/usr/bin/ps", false))), ["Write below a binary directory"]);
}

#[test]
fn falcos_mkdir_binary_dirs_and_userfaultfd_rules_match() {
    // The sandbox file's two rules and their macros as it writes them (package_mgmt_binaries shortened).
    let yaml = r#"
- macro: mkdir
  condition: (evt.type in (mkdir, mkdirat))
- macro: bin_dir_mkdir
  condition: >
     (evt.arg.path startswith /bin/ or
     evt.arg.path startswith /sbin/ or
     evt.arg.path startswith /usr/bin/ or
     evt.arg.path startswith /usr/sbin/)
- list: package_mgmt_binaries
  items: [dpkg, apt, rpm]
- macro: package_mgmt_procs
  condition: (proc.name in (package_mgmt_binaries))
- macro: never_true
  condition: (evt.num=0)
- macro: user_known_mkdir_bin_dir_activities
  condition: (never_true)
- macro: exe_running_docker_save
  condition: >
    (proc.name = "exe"
    and (proc.cmdline contains "/var/lib/docker"
    or proc.cmdline contains "/var/run/docker")
    and proc.pname in (dockerd, docker, dockerd-current, docker-current))
- rule: Mkdir binary dirs
  desc: x
  condition: >
    mkdir
    and bin_dir_mkdir
    and not package_mgmt_procs
    and not user_known_mkdir_bin_dir_activities
    and not exe_running_docker_save
  output: Directory below known binary directory created | directory=%evt.arg.path evt_type=%evt.type
  priority: ERROR
- list: user_known_userfaultfd_processes
  items: []
- rule: Unprivileged Delegation of Page Faults Handling to a Userspace Process
  desc: x
  condition: >
    evt.type = userfaultfd
    and user.uid != 0
    and (evt.rawres >= 0 or evt.res != -1)
    and not proc.name in (user_known_userfaultfd_processes)
  output: An userfaultfd syscall was successfully executed by an unprivileged user | evt_type=%evt.type user_uid=%user.uid
  priority: CRITICAL
"#;
    let mut set = RuleSet::default();
    set.add_file("sandbox.yaml", yaml).unwrap();
    let c = set.compile();
    assert_eq!((c.report.loaded, c.report.skipped.len()), (2, 0), "{:#?}", c.report);
    let mut e = Engine::new(c);
    let mkdir = |comm: &str, call: &str, path: &str, dirfd| {
        ev(6, comm, EventKind::Mkdir { call: call.into(), path: path.into(), dirfd, mode: 0o755 })
    };
    let a = e.process(&mkdir("mkdir", "mkdirat", "/usr/bin/.hidden", false));
    assert_eq!(
        a.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(),
        ["Directory below known binary directory created | directory=/usr/bin/.hidden evt_type=mkdirat"]
    );
    assert!(e.process(&mkdir("mkdir", "mkdir", "/tmp/x", false)).is_empty());
    assert!(e.process(&mkdir("dpkg", "mkdir", "/usr/bin/x", false)).is_empty());
    // A relative path is joined to the working directory at exec, unless relative to a directory descriptor.
    let mut sh = exec(7, 2, "sh", &["/bin/mkdir", "x"], 1000);
    let EventKind::Exec { cwd, .. } = &mut sh.kind else { unreachable!() };
    *cwd = "/sbin".into();
    e.process(&sh);
    let rel = |dirfd| ev(7, "mkdir", EventKind::Mkdir { call: "mkdirat".into(), path: "x".into(), dirfd, mode: 0 });
    assert_eq!(e.process(&rel(false)).len(), 1);
    assert!(e.process(&rel(true)).is_empty());

    let a = e.process(&ev(7, "mkdir", EventKind::Userfaultfd { flags: 1 }));
    assert_eq!(
        a.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(),
        ["An userfaultfd syscall was successfully executed by an unprivileged user | evt_type=userfaultfd user_uid=1000"]
    );

    // The built-in rules: a directory made below a binary directory is a write there; userfaultfd has its own.
    let mut b = builtin();
    let a = b.process(&mkdir("sh", "mkdir", "/usr/local/bin/kit", false));
    assert_eq!(names(&a), ["Write below a binary directory"]);
    let a = b.process(&ev(8, "exploit", EventKind::Userfaultfd { flags: 0x80801 }));
    assert_eq!(names(&a), ["userfaultfd in a container"]);
    assert!(a[0].title.contains("flags UFFD_USER_MODE_ONLY|O_NONBLOCK|O_CLOEXEC"), "{}", a[0].title);
}

#[test]
fn container_privileged_is_the_runtimes_answer_and_missing_when_unknown() {
    let yaml = r#"
- rule: Mount Launched in Privileged Container
  desc: x
  condition: evt.type = execve and container.privileged = true and proc.name = mount
  output: "%proc.name in %container.id privileged=%container.privileged"
  priority: WARNING
- rule: Unprivileged
  desc: x
  condition: evt.type = execve and not container.privileged = true and proc.name = mount
  output: x
  priority: NOTICE
"#;
    let mut set = RuleSet::default();
    set.add_file("p.yaml", yaml).unwrap();
    let mut e = Engine::new(set.compile());
    let mount = |privileged| {
        let mut ev = exec(20, 1, "sh", &["/bin/mount", "-t", "cgroup", "x", "/mnt"], 0);
        std::sync::Arc::make_mut(ev.container.as_mut().unwrap()).privileged = privileged;
        ev
    };
    let a = e.process(&mount(Some(true)));
    assert_eq!(names(&a), ["Mount Launched in Privileged Container"]);
    assert_eq!(a[0].title, "mount in c0ffeec0ffee privileged=true");
    assert_eq!(names(&e.process(&mount(Some(false)))), ["Unprivileged"]);
    // Not known (no runtime state): `= true` does not match, so its negation does.
    assert_eq!(names(&e.process(&mount(None))), ["Unprivileged"]);
}

#[test]
fn terminal_and_permitted_capabilities_follow_the_process() {
    let yaml = r#"
- rule: Terminal shell in container
  desc: x
  condition: evt.type = execve and container.id != host and proc.name = bash and proc.tty != 0
  output: "tty=%proc.tty"
  priority: NOTICE
- rule: Capable
  desc: x
  condition: evt.type = connect and thread.cap_permitted contains CAP_SYS_ADMIN and proc.tty = 0
  output: "caps=%thread.cap_permitted"
  priority: NOTICE
- rule: No terminal
  desc: x
  condition: evt.type = connect and proc.tty = 0
  output: "tty=%proc.tty"
  priority: NOTICE
"#;
    let mut set = RuleSet::default();
    set.add_file("t.yaml", yaml).unwrap();
    let mut e = Engine::new(set.compile());
    let shell = |pid, tty, caps| {
        let mut ev = exec(pid, 1, "runc", &["/bin/bash"], 0);
        let EventKind::Exec { tty: t, cap_permitted, .. } = &mut ev.kind else { unreachable!() };
        (*t, *cap_permitted) = (tty, caps);
        ev
    };
    let a = e.process(&shell(30, 0x8800, 1 << 21));
    assert_eq!((names(&a), a[0].title.as_str()), (vec!["Terminal shell in container".to_string()], "tty=34816"));
    assert!(e.process(&shell(31, 0, 1 << 21)).is_empty());
    // Later events of a process read what its exec said.
    let to = SockAddr { family: "inet".into(), addr: "9.9.9.9".into(), port: 443, proto: None };
    let a = e.process(&ev(31, "bash", EventKind::Connect { to: to.clone() }));
    assert_eq!(names(&a), ["Capable", "No terminal"]);
    assert_eq!(a[0].title, "caps=CAP_SYS_ADMIN");
    assert!(e.process(&ev(30, "bash", EventKind::Connect { to: to.clone() })).is_empty(), "a terminal");
    // A process never seen starting has no known terminal: neither `!= 0` nor `= 0` holds.
    assert!(e.process(&ev(99, "bash", EventKind::Connect { to })).is_empty());
}

#[test]
fn file_names_are_resolved_and_process_facts_come_from_the_exec() {
    let yaml = r#"
- macro: directory_traversal
  condition: (fd.nameraw contains '../' and fd.nameraw glob '*../*../*')
- rule: Traversal
  desc: x
  condition: evt.type = openat and fd.name startswith /etc and directory_traversal
  output: "%fd.name from %fd.nameraw in %fd.directory"
  priority: WARNING
- rule: Fileless
  desc: x
  condition: evt.type = execve and proc.is_exe_from_memfd = true and proc.cwd startswith /dev/shm/
  output: "%proc.name in %proc.cwd"
  priority: CRITICAL
- rule: Late read
  desc: x
  condition: evt.type = openat and fd.name = /etc/shadow and proc.duration > 5000000000 and user.loginuid = -1
  output: "%proc.duration %user.loginuid"
  priority: WARNING
"#;
    let mut e = engine_of(yaml, 3);
    let open = |pid, path: &str, t: u64| {
        let mut ev = ev(pid, "app", EventKind::Open { path: path.into(), flags: 0 });
        ev.time_ns = t;
        ev
    };
    let a = e.process(&open(40, "/var/www/html/../../../etc/shadow", 1_000));
    assert_eq!(names(&a), ["Traversal"]);
    assert_eq!(a[0].title, "/etc/shadow from /var/www/html/../../../etc/shadow in /etc");
    assert!(e.process(&open(40, "/etc/shadow", 1_000)).is_empty(), "no traversal, and pid 40 never exec'd");

    let mut run = exec(41, 1, "sh", &["fileless"], 0);
    let EventKind::Exec { exe_from_memfd, cwd, .. } = &mut run.kind else { unreachable!() };
    *exe_from_memfd = true;
    *cwd = "/dev/shm".into();
    run.time_ns = 10_000_000_000;
    let a = e.process(&run);
    assert_eq!((names(&a), a[0].title.as_str()), (vec!["Fileless".to_string()], "fileless in /dev/shm/"));
    assert!(e.process(&open(41, "/etc/shadow", 12_000_000_000)).is_empty(), "2 s after its exec");
    let a = e.process(&open(41, "/etc/shadow", 16_000_000_000));
    assert_eq!((names(&a), a[0].title.as_str()), (vec!["Late read".to_string()], "6000000000 -1"));
}

#[test]
fn glob_matches_like_fnmatch() {
    for (p, t, m) in [
        ("*", "", true),
        ("/etc/*", "/etc/a/b", true),
        ("a?c", "abc", true),
        ("a?c", "ac", false),
        ("[a-c]x", "bx", true),
        ("[!a-c]x", "bx", false),
        ("*.conf", "nginx.conf.bak", false),
        ("*a*b*c", "xxaxxbxxc", true),
        ("\\*", "*", true),
        ("[", "[", true),
    ] {
        assert_eq!(glob(p, t), m, "{p} {t}");
    }
}

#[test]
fn hostile_rule_files_are_refused_or_bounded() {
    let mut set = RuleSet::default();
    assert!(set.add_file("x", "rule: [").is_err());
    assert!(set.add_file("x", "a: b").is_err());
    // A macro that refers to itself, and an exponential macro tower.
    let mut y = String::from("- macro: loop\n  condition: loop and evt.type = execve\n");
    y.push_str("- macro: m0\n  condition: proc.name = a\n");
    for i in 1..40 {
        y.push_str(&format!("- macro: m{i}\n  condition: (m{j} or m{j})\n", j = i - 1));
    }
    y.push_str("- rule: L\n  condition: loop\n- rule: T\n  condition: m39\n- 3\n- {x: 1}\n");
    set.add_file("y", &y).unwrap();
    let c = set.compile();
    assert!(c.report.skipped["L"].contains("refers to itself"), "{:?}", c.report.skipped);
    assert!(c.report.skipped["T"].contains("too many"), "{:?}", c.report.skipped);
    assert_eq!(c.report.problems.len(), 2, "{:?}", c.report.problems);

    // A chain of macros each naming the next: deep, not wide — it overflowed the stack when only the number of
    // checks was bounded. A chain as deep as real rule files use still compiles.
    let chain = |n: usize| {
        let mut y: String = (0..n).map(|i| format!("- macro: c{i}\n  condition: c{}\n", i + 1)).collect();
        y.push_str(&format!("- macro: c{n}\n  condition: proc.name = sh\n- rule: C\n  condition: (c0)\n"));
        let mut set = RuleSet::default();
        set.add_file("chain", &y).unwrap();
        set.compile()
    };
    let deep = chain(20_000);
    assert!(deep.report.skipped["C"].contains("nest too deeply"), "{:?}", deep.report.skipped);
    let shallow = chain(50);
    assert_eq!((shallow.report.loaded, shallow.report.skipped.len()), (1, 0), "{:?}", shallow.report);

    // A long macro named many times: each naming puts the whole list in place again (a 700 kB file of this shape
    // took 23 GB and more than five minutes when only the checks were counted). And many rules, each within its
    // own bound, that together expand too far.
    let started = std::time::Instant::now();
    let items: Vec<String> = (0..20_000).map(|i| format!("n{i}")).collect();
    let mut y = format!("- macro: long\n  condition: proc.name in ({})\n", items.join(","));
    y.push_str(&format!("- rule: Many\n  condition: {}\n", vec!["long"; 5_000].join(" or ")));
    for r in 0..30 {
        y.push_str(&format!("- rule: R{r}\n  condition: long or long or long or long\n"));
    }
    let mut set = RuleSet::default();
    set.add_file("long", &y).unwrap();
    let c = set.compile();
    assert!(c.report.skipped["Many"].contains("too many"), "{:?}", c.report.skipped);
    assert!(!c.report.skipped.contains_key("R0"), "{:?}", c.report.skipped);
    assert!(c.report.skipped["R29"].contains("in all"), "{:?}", c.report.skipped);
    // Lists of lists of an empty list: nothing to put in place, but 3,000⁴ names to look at (a 36 kB file ran
    // without end when only the items put in place were counted).
    let mut y = String::from("- list: l0\n  items: []\n");
    for i in 1..5 {
        y.push_str(&format!("- list: l{i}\n  items: [{}]\n", vec![format!("l{}", i - 1); 3_000].join(",")));
    }
    y.push_str("- rule: Wide\n  condition: proc.name in (l4)\n");
    let mut set = RuleSet::default();
    set.add_file("wide", &y).unwrap();
    assert!(set.compile().report.skipped["Wide"].contains("too many"));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());

    // Many rules: each is looked up by name when defined (a later entry may change it), which was a walk over
    // every rule before it — a 16 MB file of 200,000 small rules took more than two minutes.
    let started = std::time::Instant::now();
    let y: String = (0..100_000).map(|i| format!("- rule: r{i}\n  condition: proc.name = a\n")).collect();
    let mut set = RuleSet::default();
    set.add_file("many", &y).unwrap();
    set.add_file("more", "- rule: r99999\n  condition: and proc.name = b\n  append: true\n").unwrap();
    let c = set.compile();
    assert_eq!((c.report.rules, c.report.loaded), (100_000, 100_000));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
}

#[test]
fn event_type_indexes_agree_with_the_names() {
    let kinds = vec![
        EventKind::Exit { status: 0 },
        EventKind::Open { path: "/x".into(), flags: 0 },
        EventKind::Listen { fd: 3, backlog: 1 },
        EventKind::SetIds { call: "setresgid".into(), ids: vec![0], names: Vec::new() },
        EventKind::Capset { effective: 0, permitted: 0 },
        EventKind::Namespaces { call: "clone".into(), namespaces: vec![], flags: 0, cap_permitted: 0 },
        EventKind::Setns { nstype: 0 },
        EventKind::Bpf { cmd: 5 },
        EventKind::ModuleLoad { call: "finit_module".into() },
        EventKind::SetuidChmod { path: None, mode: 0o4755 },
        EventKind::SetuidChmod { path: Some("/x".into()), mode: 0o4755 },
        EventKind::Ptrace { request: 16, target_pid: 1 },
        EventKind::Socket { family: "packet".into(), sock_type: "raw".into(), protocol: 3 },
        EventKind::Mkdir { call: "mkdirat".into(), path: "/x".into(), dirfd: false, mode: 0 },
        EventKind::Unlink { call: "unlink".into(), path: "/x".into(), dirfd: false, dir: false },
        EventKind::Unlink { call: "unlinkat".into(), path: "x".into(), dirfd: true, dir: false },
        EventKind::Unlink { call: "rmdir".into(), path: "/x".into(), dirfd: false, dir: true },
        EventKind::Unlink { call: "io_uring".into(), path: "/x".into(), dirfd: false, dir: false },
        EventKind::Userfaultfd { flags: 0 },
        EventKind::ExecMemory {
            call: "pkey_mprotect".into(),
            prot: 4,
            region: "heap".into(),
            length: 4096,
            path: None,
            file: None,
        },
        EventKind::Dup {
            call: "dup3".into(),
            fd: 0,
            peer: SockAddr { family: "inet".into(), addr: "10.0.0.1".into(), port: 1, proto: None },
            local_port: None,
        },
        EventKind::Rename { call: "renameat2".into(), from: "/tmp/x".into(), to: "/usr/bin/x".into(), to_dirfd: false },
        EventKind::Send {
            call: "sendmsg".into(),
            to: SockAddr { family: "inet".into(), addr: "8.8.8.8".into(), port: 53, proto: None },
        },
        EventKind::Mount { source: "a".into(), target: "b".into(), fstype: "c".into(), flags: 0 },
    ];
    for k in kinds {
        let e = ev(1, "x", k);
        let by_name = fields::evt_type(&e).and_then(|t| EVT_TYPES.iter().position(|x| *x == t));
        assert_eq!(fields::evt_type_index(&e), by_name, "{:?}", e.kind);
    }
    let e = exec(1, 0, "", &["/bin/true"], 0);
    assert_eq!(fields::evt_type_index(&e), Some(0));
}

#[test]
fn the_environment_is_read_at_exec_and_its_kept_values_later() {
    let yaml = r#"
- rule: Proxy
  desc: x
  condition: evt.type = execve and proc.name in (curl, wget) and proc.env icontains HTTP_PROXY
  output: "env=%proc.env"
  priority: NOTICE
- rule: Named
  desc: x
  condition: evt.type = execve and proc.env contains AWS_SECRET_ACCESS_KEY
  output: "%proc.name"
  priority: NOTICE
- rule: Later
  desc: x
  condition: evt.type = connect and proc.env[HTTP_PROXY] = "http://p:3128" and not proc.env contains AWS_SECRET_ACCESS_KEY
  output: "proxy=%proc.env[HTTP_PROXY]"
  priority: NOTICE
"#;
    let mut e = engine_of(yaml, 3);
    let mut curl = exec(40, 1, "sh", &["/usr/bin/curl", "x"], 0);
    let EventKind::Exec { env, .. } = &mut curl.kind else { unreachable!() };
    *env = vec!["HTTP_PROXY=http://p:3128".into(), "AWS_SECRET_ACCESS_KEY".into()];
    let a = e.process(&curl);
    assert_eq!(names(&a), ["Proxy", "Named"]);
    assert_eq!(a[0].title, "env=HTTP_PROXY=http://p:3128 AWS_SECRET_ACCESS_KEY");
    // Later events see the variables with kept values only.
    let to = SockAddr { family: "inet".into(), addr: "9.9.9.9".into(), port: 443, proto: None };
    let a = e.process(&ev(40, "curl", EventKind::Connect { to: to.clone() }));
    assert_eq!((names(&a), a[0].title.as_str()), (vec!["Later".to_string()], "proxy=http://p:3128"));
    // A process never seen starting has no known environment.
    assert!(e.process(&ev(41, "curl", EventKind::Connect { to })).is_empty());
}

#[test]
fn server_and_client_names_are_the_rules_names_resolved() {
    // As in Falco, the names a rule compares against are resolved; an address reads as those that
    // resolve to it. `localhost` resolves without a network; the cluster's API name does not here.
    let yaml = r#"
- rule: To the API server
  desc: x
  condition: evt.type = connect and fd.sip.name in ("kubernetes.default.svc.cluster.local", localhost)
  output: "%fd.sip.name"
  priority: NOTICE
- rule: From localhost
  desc: x
  condition: evt.type = accept and fd.cip.name = localhost
  output: "%fd.cip"
  priority: NOTICE
"#;
    let mut e = engine_of(yaml, 2);
    let to = |addr: &str| SockAddr { family: "inet".into(), addr: addr.into(), port: 443, proto: None };
    let a = e.process(&ev(1, "curl", EventKind::Connect { to: to("127.0.0.1") }));
    assert_eq!((names(&a), a[0].title.as_str()), (vec!["To the API server".to_string()], "localhost"));
    assert!(e.process(&ev(1, "curl", EventKind::Connect { to: to("192.0.2.7") })).is_empty());
    let a = e.process(&ev(2, "nginx", EventKind::Accept { from: to("127.0.0.1"), port: Some(80) }));
    assert_eq!(names(&a), ["From localhost"]);
    assert!(e.process(&ev(2, "nginx", EventKind::Accept { from: to("198.51.100.1"), port: Some(80) })).is_empty());
}

#[test]
fn user_names_come_from_the_containers_own_user_database_as_falcos_setuid_rule_needs() {
    // Falco's "Non sudo setuid" (incubating), its macros as the file writes them: it fires only for a user
    // the container names, and not for a user becoming itself.
    let yaml = r#"
- macro: container
  condition: (container.id != host)
- macro: somebody_becoming_themselves
  condition: ((user.name=nobody and evt.arg.uid=nobody) or
              (user.name=www-data and evt.arg.uid=www-data))
- macro: known_user_in_container
  condition: (container and not user.name in ("<NA>","N/A",""))
- rule: Non sudo setuid
  desc: x
  condition: >
    evt.type=setuid
    and (known_user_in_container or not container)
    and not (user.name=root or user.uid=0)
    and not somebody_becoming_themselves
  output: "arg_uid=%evt.arg.uid user=%user.name"
  priority: NOTICE
- rule: Named exec
  desc: x
  condition: evt.type = execve and user.name in (www-data, root, "<NA>")
  output: "%user.name"
  priority: NOTICE
- rule: Named group
  desc: x
  condition: evt.type = setuid and group.name = www-data-group
  output: "%group.name"
  priority: NOTICE
"#;
    let mut e = engine_of(yaml, 3);
    let named = |mut x: Event, name: &str| {
        let EventKind::Exec { user, group, .. } = &mut x.kind else { unreachable!() };
        *user = Some(name.into());
        *group = Some(format!("{name}-group"));
        x
    };
    let setuid = |pid, id: i64, name: Option<&str>| {
        let names = vec![name.map(String::from)];
        ev(pid, "app", EventKind::SetIds { call: "setuid".into(), ids: vec![id], names })
    };
    let a = e.process(&named(exec(10, 1, "sh", &["/app"], 33), "www-data"));
    assert_eq!((names(&a), a[0].title.as_str()), (vec!["Named exec".to_string()], "www-data"));
    assert_eq!(
        describe(&named(exec(10, 1, "sh", &["/app"], 33), "www-data")),
        "exec `/app` (uid 33 www-data, parent sh)"
    );
    let a = e.process(&setuid(10, 0, Some("root")));
    assert_eq!(names(&a), ["Non sudo setuid", "Named group"]);
    assert_eq!((a[0].title.as_str(), a[1].title.as_str()), ("arg_uid=root user=www-data", "www-data-group"));
    assert_eq!(names(&e.process(&setuid(10, 33, Some("www-data")))), ["Named group"], "becoming itself");
    // A uid the container does not name reads `<NA>`, as in Falco: not a known user, no alert.
    let a = e.process(&exec(11, 1, "sh", &["/app"], 1000));
    assert_eq!(a[0].title, "<NA>");
    assert!(e.process(&setuid(11, 0, None)).is_empty());
    // Root by number, with or without a database.
    assert_eq!(e.process(&exec(12, 1, "sh", &["/app"], 0))[0].title, "root");
    // A worker forked by a root master (nginx: never exec'd) is root too until it drops privileges: its
    // setuid is not "non-root"; a child of a known user's process is that user.
    let forked = |pid, ppid, x: Event| Event {
        process: Some(kestrel_core::ProcessRef { ppid: Some(ppid), ..Default::default() }),
        ..Event { pid, tid: pid, ..x }
    };
    assert!(e.process(&forked(13, 12, setuid(13, 33, Some("www-data")))).is_empty());
    let a = e.process(&forked(14, 10, setuid(14, 0, Some("root"))));
    assert_eq!(a[0].title, "arg_uid=root user=www-data");
}

#[test]
fn user_fields_follow_the_effective_uid_the_probe_reads_as_falcos_follow_set_id_calls() {
    // Falco's user.uid is the effective uid: at exec, then as its parser follows set*id calls. The probe
    // reads it at every event; a switched-to user is named from what the sensor read for the set*id call.
    let yaml = r#"
- rule: Shadow read
  desc: x
  condition: evt.type = openat and fd.name = /etc/shadow
  output: "%user.uid %user.name"
  priority: NOTICE
- rule: Executed
  desc: x
  condition: evt.type = execve
  output: "%user.uid %user.name"
  priority: NOTICE
"#;
    let mut e = engine_of(yaml, 2);
    let as_euid = |mut x: Event, euid: Option<u32>| {
        x.process = Some(kestrel_core::ProcessRef { euid, ..Default::default() });
        x
    };
    let shadow = |euid| as_euid(ev(20, "app", EventKind::Open { path: "/etc/shadow".into(), flags: 0 }), euid);
    let title = |a: Vec<Alert>| a.into_iter().map(|a| a.title).collect::<Vec<_>>();
    let mut root = exec(20, 1, "sh", &["/app"], 0);
    if let EventKind::Exec { user, .. } = &mut root.kind {
        *user = Some("boxroot".into());
    }
    assert_eq!(title(e.process(&as_euid(root, Some(0)))), ["0 boxroot"]);
    // seteuid(33): the call's event (read before it takes effect) names 33 from the container's database.
    let names = vec![None, Some("www-data".to_string()), None];
    e.process(&as_euid(
        ev(20, "app", EventKind::SetIds { call: "setresuid".into(), ids: vec![-1, 33, -1], names }),
        Some(0),
    ));
    assert_eq!(title(e.process(&shadow(Some(33)))), ["33 www-data"]);
    // An event without the probe's reading (a recording from before it was made): the exec's.
    assert_eq!(title(e.process(&shadow(None))), ["0 boxroot"]);
    // Back to root (named as the container names it), then to a uid nobody named: Falco's fallback.
    assert_eq!(title(e.process(&shadow(Some(0)))), ["0 boxroot"]);
    assert_eq!(title(e.process(&shadow(Some(4242)))), ["4242 <NA>"]);
    // A process never seen exec'ing: the event's uid, named if its container named it before.
    let other = |euid| as_euid(ev(21, "w", EventKind::Open { path: "/etc/shadow".into(), flags: 0 }), Some(euid));
    assert_eq!(title(e.process(&other(33))), ["33 www-data"]);
    // An exec of a setuid program: the effective uid is the user, as in Falco.
    let mut su = exec(22, 20, "sh", &["/bin/su"], 1000);
    if let EventKind::Exec { euid, user, .. } = &mut su.kind {
        (*euid, *user) = (0, Some("boxroot".into()));
    }
    assert_eq!(title(e.process(&as_euid(su.clone(), Some(0)))), ["0 boxroot"]);
    assert_eq!(describe(&su), "exec `/bin/su` (uid 1000, euid 0 boxroot, parent sh)");
}

#[test]
fn session_program_file_login_and_group_fields_as_falcos_outputs_print_them() {
    // The fields Falco's "Drop and execute new binary in container" and "Fileless execution via memfd_create"
    // print: proc.sname, proc.exe_ino.*, user.loginname, group.gid (the effective gid).
    let yaml = r#"
- rule: Executed
  desc: x
  condition: evt.type = execve and proc.name != sh
  output: "%proc.sid %proc.sname %proc.exe_ino %proc.exe_ino.ctime %proc.exe_ino.ctime_duration_proc_start %group.gid %user.loginname %container.start_ts %container.duration"
  priority: NOTICE
"#;
    let mut e = engine_of(yaml, 1);
    let with = |mut x: Event, session: u32, login: Option<&str>, file: kestrel_core::ExeFile| {
        if let EventKind::Exec { sid, exe_file, loginuid, login_user, egid, .. } = &mut x.kind {
            (*sid, *exe_file, *egid) = (session, (!file.is_unknown()).then(|| Box::new(file)), Some(44));
            if let Some(name) = login {
                (*loginuid, *login_user) = (1000, Some(name.into()));
            }
        }
        x
    };
    let none = kestrel_core::ExeFile::default();
    assert!(e.process(&with(exec(30, 1, "init", &["/bin/sh"], 0), 30, None, none)).is_empty());
    // Dropped and run 5 s after its inode changed; its session's leader is sh.
    let mut dropped = exec(31, 30, "sh", &["/tmp/x"], 0);
    dropped.time_ns = 1_796_000_000_000_000_000;
    std::sync::Arc::make_mut(dropped.container.as_mut().unwrap()).created_ns = Some(1_795_000_000_000_000_000);
    let ctime = dropped.time_ns - 5_000_000_000;
    let file = kestrel_core::ExeFile { ino: 99, ctime_ns: ctime, mtime_ns: ctime - 1 };
    let a = e.process(&with(dropped, 30, Some("alice"), file));
    assert_eq!(a[0].title, format!("30 sh 99 {ctime} 5000000000 44 alice 1795000000000000000 1000000000000000"));
    // The leader known only as a parent (by the name the kernel gave with its child's exec); unknown file
    // and login: <NA>.
    assert!(e.process(&with(exec(39, 38, "sshd", &["/bin/sh"], 0), 38, None, none)).is_empty());
    let a = e.process(&with(exec(40, 39, "sh", &["/usr/bin/id"], 0), 38, None, none));
    assert_eq!(a[0].title, "38 sshd <NA> <NA> <NA> 44 <NA> <NA> <NA>");
    // A leader not known at all: the eldest ancestor in the same session names it.
    assert!(e.process(&with(exec(50, 49, "x", &["/bin/sh"], 0), 48, None, none)).is_empty());
    assert!(e.process(&with(exec(51, 50, "sh", &["/bin/bash"], 0), 48, None, none))[0].title.starts_with("48 sh "));
    // A process in a session of its own whose leader and ancestors are not known.
    let a = e.process(&with(exec(41, 2, "?", &["/usr/bin/id"], 0), 77, None, none));
    assert!(a[0].title.starts_with("77 <NA> "), "{}", a[0].title);
}

#[test]
fn falcos_unshare_rule_reads_the_callers_capabilities_from_the_event() {
    // runc's helper `runc:[1:CHILD]` unshares at every container start: never seen exec'ing, so only the
    // event can say it holds CAP_SYS_ADMIN. The rule as falco-incubating_rules.yaml writes it.
    let yaml = r#"
- macro: container
  condition: (container.id != host)
- rule: Change namespace privileges via unshare
  desc: x
  condition: >
    evt.type=unshare
    and container
    and not thread.cap_permitted contains CAP_SYS_ADMIN
  output: "%proc.name"
  priority: NOTICE
"#;
    let mut e = engine_of(yaml, 1);
    let unshare = |caps| EventKind::Namespaces {
        call: "unshare".into(),
        namespaces: vec!["mnt".into()],
        flags: 0x0002_0000,
        cap_permitted: caps,
    };
    let sys_admin = 1 << 21;
    assert!(e.process(&ev(7, "runc:[1:CHILD]", unshare(0x1ff_ffff_ffff))).is_empty());
    assert!(e.process(&ev(8, "app", unshare(sys_admin))).is_empty());
    assert_eq!(names(&e.process(&ev(9, "app", unshare(1 << 5)))), ["Change namespace privileges via unshare"]);
    // No capabilities at all (or a recording from before they were reported): as the process table says.
    assert_eq!(names(&e.process(&ev(10, "app", unshare(0)))), ["Change namespace privileges via unshare"]);
}

#[test]
fn remote_and_server_ends_differ_on_an_accept_as_in_falco() {
    // A connect's remote end is the server; an accept's remote end is the client, its server end the local
    // one (whose address the sensor does not report). Falco's outputs print `rport=%fd.rport`, and its
    // NodePort rule compares `fd.sport`.
    let yaml = r#"
- rule: Ends
  desc: x
  condition: evt.type in (connect, accept)
  output: "rip=%fd.rip rport=%fd.rport sip=%fd.sip sport=%fd.sport lport=%fd.lport cip=%fd.cip"
  priority: NOTICE
- rule: Remote net
  desc: x
  condition: evt.type in (connect, accept) and fd.rnet in ("198.51.100.0/24")
  output: "%fd.rip"
  priority: NOTICE
- rule: Server net
  desc: x
  condition: evt.type in (connect, accept) and fd.snet in ("198.51.100.0/24")
  output: "%fd.sip"
  priority: NOTICE
- rule: NodePort
  desc: x
  condition: evt.type = accept and fd.sport >= 30000 and fd.sport <= 32767
  output: "%fd.sport"
  priority: NOTICE
"#;
    let mut e = engine_of(yaml, 4);
    let at = |addr: &str, port| SockAddr { family: "inet".into(), addr: addr.into(), port, proto: None };
    let a = e.process(&ev(1, "curl", EventKind::Connect { to: at("198.51.100.7", 443) }));
    assert_eq!(names(&a), ["Ends", "Remote net", "Server net"]);
    assert_eq!(a[0].title, "rip=198.51.100.7 rport=443 sip=198.51.100.7 sport=443 lport=<NA> cip=<NA>");

    let a = e.process(&ev(2, "nginx", EventKind::Accept { from: at("198.51.100.9", 51234), port: Some(30080) }));
    assert_eq!(names(&a), ["Ends", "Remote net", "NodePort"]);
    assert_eq!(a[0].title, "rip=198.51.100.9 rport=51234 sip=<NA> sport=30080 lport=30080 cip=198.51.100.9");
    let a = e.process(&ev(2, "nginx", EventKind::Accept { from: at("192.0.2.1", 51234), port: Some(80) }));
    assert_eq!(names(&a), ["Ends"]);
}

#[test]
fn falcos_link_rules_read_the_link_calls() {
    let yaml = r#"
- list: sensitive_file_names
  items: [/etc/shadow, /etc/sudoers]
- macro: create_symlink
  condition: (evt.type in (symlink, symlinkat))
- macro: create_hardlink
  condition: (evt.type in (link, linkat))
- rule: Create Symlink Over Sensitive Files
  desc: x
  condition: create_symlink and evt.arg.target in (sensitive_file_names)
  output: "target=%evt.arg.target linkpath=%evt.arg.linkpath evt_type=%evt.type"
  priority: WARNING
- rule: Create Hardlink Over Sensitive Files
  desc: x
  condition: create_hardlink and evt.arg.oldpath in (sensitive_file_names)
  output: "oldpath=%evt.arg.oldpath newpath=%evt.arg.newpath"
  priority: WARNING
"#;
    let mut e = engine_of(yaml, 2);
    let link = |call: &str, target: &str| EventKind::Link {
        call: call.into(),
        target: target.into(),
        path: "x".into(),
        dirfd: false,
        sensitive: true,
    };
    let a = e.process(&ev(1, "ln", link("symlink", "/etc/shadow")));
    assert_eq!(a[0].title, "target=/etc/shadow linkpath=x evt_type=symlink");
    let a = e.process(&ev(1, "ln", link("linkat", "/etc/sudoers")));
    assert_eq!(
        (names(&a), a[0].title.as_str()),
        (vec!["Create Hardlink Over Sensitive Files".to_string()], "oldpath=/etc/sudoers newpath=x")
    );
    assert!(e.process(&ev(1, "ln", link("symlinkat", "/etc/gshadow"))).is_empty());
}

/// Falco's container_started macro and the macros it uses, as the incubating and sandbox files write them.
const CONTAINER_STARTED: &str = r#"
- macro: spawned_process
  condition: (evt.type in (execve, execveat) and evt.dir=<)
- macro: container
  condition: (container.id != host)
- macro: container_started
  condition: >
     (spawned_process and proc.vpid=1 and container)
"#;

/// An event of container `id`.
fn in_container(id: &str, mut x: Event) -> Event {
    x.container = Some(ContainerRef { id: id.into(), runtime: "runc".into(), ..Default::default() }.into());
    x
}

/// The runtime's init binding `source` into container `id` (runc names the destination by a descriptor).
fn runtime_bind(id: &str, pid: u32, source: &str, target: &str, flags: u64) -> Event {
    let kind = EventKind::Mount { source: source.into(), target: target.into(), fstype: "bind".into(), flags };
    in_container(id, ev(pid, "runc:[2:INIT]", kind))
}

/// mount(2)'s MS_BIND | MS_REC.
const BIND_REC: u64 = 4096 | 16384;

/// Container `id`'s first program (vpid 1), run by the runtime's init.
fn container_start(id: &str, pid: u32, program: &str, uid: u32) -> Event {
    let mut x = exec(pid, 2, "runc:[2:INIT]", &[program], uid);
    let EventKind::Exec { vpid, .. } = &mut x.kind else { unreachable!() };
    *vpid = 1;
    in_container(id, x)
}

#[test]
fn falcos_container_started_rules_match_a_containers_first_process_only() {
    // The incubating file's macros and rules as it writes them (the image exceptions left out).
    let yaml = CONTAINER_STARTED.to_string()
        + r#"
- macro: excessively_capable_container
  condition: >
    (thread.cap_permitted contains CAP_SYS_ADMIN
    or thread.cap_permitted contains CAP_SYS_MODULE
    or thread.cap_permitted contains CAP_BPF)
- rule: Launch Excessively Capable Container
  desc: x
  condition: container_started and excessively_capable_container
  output: Excessively capable container started | cap_permitted=%thread.cap_permitted process=%proc.name
  priority: INFO
- rule: Container Run as Root User
  desc: x
  condition: spawned_process and container and proc.vpid=1 and user.uid=0
  output: root %proc.vpid
  priority: INFO
- rule: Later vpid
  desc: x
  condition: evt.type = openat and proc.vpid = 1
  output: opened by the container's first process
  priority: INFO
"#;
    let mut e = engine_of(&yaml, 3);
    let run = |pid, vpid, uid, permitted| {
        let mut x = container_start("c0ffee", pid, "/bin/sh", uid);
        let EventKind::Exec { vpid: v, cap_permitted, .. } = &mut x.kind else { unreachable!() };
        (*v, *cap_permitted) = (vpid, permitted);
        x
    };
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    assert_eq!(
        names(&e.process(&run(10, 1, 0, CAP_SYS_ADMIN))),
        ["Launch Excessively Capable Container", "Container Run as Root User"]
    );
    assert_eq!(names(&e.process(&run(11, 1, 1000, 0))), Vec::<String>::new(), "not root, no capability");
    assert!(e.process(&run(12, 7, 0, CAP_SYS_ADMIN)).is_empty(), "not the container's first process");
    // The host pid is not the container's: a recording without vpids says nothing either way.
    assert!(e.process(&run(1, 0, 0, CAP_SYS_ADMIN)).is_empty(), "vpid not known");
    let open = |pid| ev(pid, "sh", EventKind::Open { path: "/etc/passwd".into(), flags: 0 });
    assert_eq!(names(&e.process(&open(10))), ["Later vpid"]);
    assert!(e.process(&open(12)).is_empty());
}

#[test]
fn falcos_sensitive_mount_rule_matches_a_container_started_with_a_host_path() {
    // The sandbox file's macro and rule as it writes them (its image exceptions left out, one line of the
    // macro per kind of path kept).
    let yaml = CONTAINER_STARTED.to_string()
        + r#"
- macro: sensitive_mount
  condition: (not container.mount.dest[/proc*] in ("<NA>","N/A") or
              not container.mount.dest[/var/run/docker.sock] in ("<NA>","N/A") or
              not container.mount.dest[/] in ("<NA>","N/A") or
              not container.mount.dest[/root*] in ("<NA>","N/A"))
- rule: Launch Sensitive Mount Container
  desc: x
  condition: container_started and sensitive_mount
  output: Container with sensitive mount started | mounts=%container.mounts first=%container.mount.dest[0]
  priority: INFO
"#;
    let mut e = engine_of(&yaml, 1);
    let mount = runtime_bind;
    let start = |id: &str, pid| container_start(id, pid, "/bin/sh", 0);
    // A container with the host's docker socket: runc binds it (through a descriptor), then remounts it
    // read-only, then starts the container's program.
    for x in [
        mount("aaaa", 10, "/run/bundle/rootfs", "/run/bundle/rootfs", BIND_REC),
        mount("aaaa", 10, "/sys/fs/cgroup/cpu/lab/aaaa", "/proc/self/fd/6", BIND_REC),
        mount("aaaa", 10, "/var/run/docker.sock", "/proc/self/fd/6", BIND_REC),
        mount("aaaa", 10, "/var/run/docker.sock", "/proc/self/fd/7", BIND_REC | 32 | 1),
    ] {
        assert!(e.process(&x).is_empty());
    }
    let a = e.process(&start("aaaa", 10));
    assert_eq!(
        a.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(),
        ["Container with sensitive mount started | mounts=/sys/fs/cgroup/cpu/lab/aaaa:(not known),\
             /var/run/docker.sock:(not known) first=(not known)"]
    );
    // One with only its cgroup bound, and one whose start was not seen: nothing.
    assert!(e.process(&mount("bbbb", 20, "/sys/fs/cgroup/cpu/lab/bbbb", "/proc/self/fd/6", BIND_REC)).is_empty());
    assert!(e.process(&start("bbbb", 20)).is_empty());
    assert!(e.process(&start("cccc", 30)).is_empty());
    // The first container started again under its id, without the socket: its old mounts are gone.
    assert!(e.process(&mount("aaaa", 40, "/sys/fs/cgroup/cpu/lab/aaaa", "/proc/self/fd/6", BIND_REC)).is_empty());
    assert!(e.process(&start("aaaa", 40)).is_empty());
    // The host's /proc and a path given with its destination (crun, older runc) match the globs.
    assert!(e.process(&mount("dddd", 50, "/proc", "/run/bundle/rootfs/host/proc", BIND_REC)).is_empty());
    assert_eq!(names(&e.process(&start("dddd", 50))), ["Launch Sensitive Mount Container"]);
}

#[test]
fn builtin_rule_catches_a_container_started_with_a_runtime_socket_or_the_hosts_proc() {
    let mut e = builtin();
    let mount = |id: &str, pid, source: &str| runtime_bind(id, pid, source, "/proc/self/fd/6", BIND_REC);
    let start = |id: &str, pid| container_start(id, pid, "/app/server", 1000);
    let started = "Container started with a sensitive host path";
    for (id, pid, source) in
        [("a1", 10, "/var/run/docker.sock"), ("a2", 20, "/proc"), ("a3", 30, "/"), ("a4", 40, "/root/.ssh")]
    {
        assert!(e.process(&mount(id, pid, &format!("/sys/fs/cgroup/cpu/{id}"))).is_empty());
        assert!(e.process(&mount(id, pid, source)).is_empty());
        let a = e.process(&start(id, pid));
        assert_eq!(names(&a), [started], "{source}");
        assert!(a[0].title.contains(&format!("{source}:(not known)")), "{}", a[0].title);
    }
    // What runtimes bind into every container: its cgroup, a Kubernetes pod's volumes and /etc/hosts, masked
    // paths (/dev/null over /proc/kcore), and the host's /etc files Docker copies in.
    for source in [
        "/sys/fs/cgroup/cpu/b1",
        "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~secret/t",
        "/var/lib/kubelet/pods/u1/etc-hosts",
        "/dev/null",
        "/var/lib/docker/containers/b1/hosts",
        "/etc/localtime",
    ] {
        assert!(e.process(&mount("b1", 50, source)).is_empty());
    }
    assert!(e.process(&start("b1", 50)).is_empty());
}

#[test]
fn a_shell_start_up_file_written_is_persistence_outside_package_managers_and_home_makers() {
    // A database's `COPY … TO '/var/lib/postgresql/.bashrc'`, an append to /root/.profile, a script renamed into
    // /etc/profile.d, a link made as /etc/bash.bashrc: what runs in every later shell. Reading them is every
    // shell's start; a history file is not a start-up file; dpkg and useradd (run from system directories) write
    // them as their work; a copy of useradd elsewhere does not pass.
    let mut e = builtin();
    let write = |path: &str| EventKind::Open { path: path.into(), flags: 0o2101 };
    e.process(&exec(90, 2, "runc:[2:INIT]", &["/usr/lib/postgresql/15/bin/postgres", "-D", "/data"], 100));
    let a = e.process(&ev(90, "postgres", write("/var/lib/postgresql/.bashrc")));
    assert_eq!(names(&a), ["Shell start-up file written"]);
    assert!(a[0].mitre.contains(&"T1546.004".to_string()), "{:?}", a[0].mitre);
    assert!(a[0].title.contains("/var/lib/postgresql/.bashrc") && a[0].title.contains("postgres -D"), "{}", a[0].title);
    assert_eq!(names(&e.process(&ev(91, "sh", write("/root/.profile")))), ["Shell start-up file written"]);
    assert_eq!(names(&e.process(&ev(91, "sh", write("/home/app/.zshrc")))), ["Shell start-up file written"]);
    assert_eq!(names(&e.process(&ev(91, "sh", write("/etc/bash.bashrc")))), ["Shell start-up file written"]);
    let mv = EventKind::Rename {
        call: "rename".into(),
        from: "/tmp/x.sh".into(),
        to: "/etc/profile.d/x.sh".into(),
        to_dirfd: false,
    };
    assert_eq!(names(&e.process(&ev(92, "mv", mv))), ["Shell start-up file written"]);
    let ln = EventKind::Link {
        call: "symlink".into(),
        target: "/tmp/rc".into(),
        path: "/etc/profile".into(),
        dirfd: false,
        sensitive: false,
    };
    assert_eq!(names(&e.process(&ev(93, "ln", ln))), ["Shell start-up file written"]);
    for quiet in [
        ev(94, "bash", EventKind::Open { path: "/root/.bashrc".into(), flags: 0 }),
        ev(94, "bash", write("/root/.bash_history")),
        ev(94, "sh", write("/srv/app/profile")),
        ev(94, "sh", write("/etc/profile.d.bak")),
    ] {
        assert!(e.process(&quiet).is_empty(), "{quiet:?}");
    }
    for (pid, exe) in [(95, "/usr/bin/dpkg"), (96, "/usr/sbin/useradd")] {
        e.process(&exec(pid, 2, "runc:[2:INIT]", &[exe], 0));
        let comm = exe.rsplit('/').next().unwrap();
        assert!(e.process(&ev(pid, comm, write("/home/new/.bashrc"))).is_empty(), "{exe}");
    }
    e.process(&exec(97, 2, "runc:[2:INIT]", &["/tmp/useradd"], 0));
    assert_eq!(names(&e.process(&ev(97, "useradd", write("/home/new/.bashrc")))), ["Shell start-up file written"]);
}

#[test]
fn a_dns_question_carrying_encoded_data_is_an_alert_unless_its_zone_is_listed() {
    // A chunk of a file hex-encoded into a name a tunnel's server will read; the same zone's plain names, a
    // cluster service's, a cloud endpoint's with digits are not; a zone listed in kestrel_encoded_dns_zones may
    // hold such names.
    let mut e = builtin();
    let dns = |name: &str| EventKind::Dns {
        to: SockAddr { family: "inet".into(), addr: "10.96.0.10".into(), port: 53, proto: Some(L4Proto::Udp) },
        name: name.into(),
        qtype: "A".into(),
    };
    let tunnel = "4b6f6e74656e3a2061646d696e2070617373776f72643a2068756e74657232.0.x.example.net";
    e.process(&exec(90, 2, "runc:[2:INIT]", &["/usr/bin/python3", "/srv/app/app.py"], 100));
    let a = e.process(&ev(90, "python3", dns(tunnel)));
    assert_eq!(names(&a), ["DNS question carrying encoded data"]);
    assert!(a[0].mitre.contains(&"T1048.003".to_string()), "{:?}", a[0].mitre);
    assert!(a[0].title.contains(tunnel) && a[0].title.contains("10.96.0.10"), "{}", a[0].title);
    assert!(a[0].explanation.iter().any(|l| l.contains(tunnel)), "{:?}", a[0].explanation);
    for quiet in [
        "www.example.net",
        "db.default.svc.cluster.local",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "my-deploy-5d8f7c9b6-x2k4j.default.svc.cluster.local",
        // A Kubernetes LoadBalancer service's ELB on AWS: a hash by design, in a zone no tunnel can run.
        "a8f1e4b6c2d3411e9b0a20a1b2c3d4e5-1234567890.us-west-2.elb.amazonaws.com",
        "44d88612fea8a8f36de82e1278abb02f.malware.hash.cymru.com",
    ] {
        assert!(e.process(&ev(90, "python3", dns(quiet))).is_empty(), "{quiet}");
    }
    let mut set = RuleSet::builtin();
    set.add_file("mine.yaml", "- list: kestrel_encoded_dns_zones\n  items: [example.net]\n  append: true\n").unwrap();
    let mut e = Engine::new(set.compile());
    e.process(&exec(91, 2, "runc:[2:INIT]", &["/usr/bin/python3"], 100));
    assert!(e.process(&ev(91, "python3", dns(tunnel))).is_empty());
    assert!(e.process(&ev(91, "python3", dns(&tunnel.replace("example.net", "Example.NET")))).is_empty(), "case-blind");
    assert_eq!(names(&e.process(&ev(91, "python3", dns(&tunnel.replace("example.net", "example.org"))))).len(), 1);
}

#[test]
fn the_cloud_metadata_service_contacted_from_a_container_is_an_alert_unless_its_client_is_listed() {
    // Code inside a service asking 169.254.169.254 (or AWS's IPv6 address) for the node's credentials; another
    // link-local peer (a node-local DNS cache) is not it; a program named in kestrel_metadata_clients may ask.
    let mut e = builtin();
    let to = |addr: &str| EventKind::Connect {
        to: SockAddr { family: "inet".into(), addr: addr.into(), port: 80, proto: Some(L4Proto::Tcp) },
    };
    e.process(&exec(90, 2, "runc:[2:INIT]", &["/usr/bin/python3", "/srv/app/app.py"], 100));
    let a = e.process(&ev(90, "python3", to("169.254.169.254")));
    assert_eq!(names(&a), ["Cloud metadata service contacted from a container"]);
    assert!(a[0].mitre.contains(&"T1552.005".to_string()), "{:?}", a[0].mitre);
    assert!(
        a[0].title.contains("169.254.169.254:80") && a[0].title.contains("python3 /srv/app/app.py"),
        "{}",
        a[0].title
    );
    let a = e.process(&ev(90, "python3", to("fd00:ec2::254")));
    assert_eq!(names(&a), ["Cloud metadata service contacted from a container"]);
    assert!(e.process(&ev(90, "python3", to("169.254.20.10"))).is_empty());
    let mut set = RuleSet::builtin();
    set.add_file("mine.yaml", "- list: kestrel_metadata_clients\n  items: [aws-node]\n  append: true\n").unwrap();
    let mut e = Engine::new(set.compile());
    e.process(&exec(91, 2, "runc:[2:INIT]", &["/usr/bin/aws-node"], 100));
    assert!(e.process(&ev(91, "aws-node", to("169.254.169.254"))).is_empty());
    e.process(&exec(92, 2, "runc:[2:INIT]", &["/usr/bin/python3"], 100));
    assert_eq!(names(&e.process(&ev(92, "python3", to("169.254.169.254")))).len(), 1);
}

#[test]
fn account_files_written_outside_the_account_tools_are_an_alert() {
    // Code inside a service appending a uid-0 account to /etc/passwd and its hash to /etc/shadow, a sudo grant
    // dropped in /etc/sudoers.d, /etc/group replaced by a rename. Reading them is every login's; useradd (from a
    // system directory, writing its temporary file and renaming it into place) and dpkg do it as their work; a copy
    // of useradd elsewhere does not pass; a backup beside them (/etc/passwd-) is not them.
    let mut e = builtin();
    let write = |path: &str| EventKind::Open { path: path.into(), flags: 0o2101 };
    e.process(&exec(90, 2, "runc:[2:INIT]", &["/usr/bin/python3", "/srv/app/app.py"], 100));
    let a = e.process(&ev(90, "python3", write("/etc/passwd")));
    assert_eq!(names(&a), ["Account or sudo configuration written"]);
    assert!(a[0].mitre.contains(&"T1136.001".to_string()), "{:?}", a[0].mitre);
    assert!(a[0].title.contains("/etc/passwd") && a[0].title.contains("python3 /srv/app/app.py"), "{}", a[0].title);
    assert_eq!(names(&e.process(&ev(90, "python3", write("/etc/shadow")))), ["Account or sudo configuration written"]);
    let sudo = ev(90, "python3", write("/etc/sudoers.d/90-ops"));
    assert_eq!(names(&e.process(&sudo)), ["Account or sudo configuration written"]);
    let mv =
        EventKind::Rename { call: "rename".into(), from: "/tmp/g".into(), to: "/etc/group".into(), to_dirfd: false };
    assert_eq!(names(&e.process(&ev(91, "mv", mv))), ["Account or sudo configuration written"]);
    for quiet in [
        ev(93, "login", EventKind::Open { path: "/etc/passwd".into(), flags: 0 }),
        ev(93, "sh", write("/etc/passwd-")),
        ev(93, "sh", write("/srv/app/passwd")),
    ] {
        assert!(e.process(&quiet).is_empty(), "{quiet:?}");
    }
    e.process(&exec(95, 2, "runc:[2:INIT]", &["/usr/sbin/useradd", "app"], 0));
    assert!(e.process(&ev(95, "useradd", write("/etc/passwd+"))).is_empty());
    let mv = EventKind::Rename {
        call: "rename".into(),
        from: "/etc/passwd+".into(),
        to: "/etc/passwd".into(),
        to_dirfd: false,
    };
    assert!(e.process(&ev(95, "useradd", mv)).is_empty());
    e.process(&exec(96, 2, "runc:[2:INIT]", &["/usr/bin/dpkg", "-i", "x.deb"], 0));
    assert!(e.process(&ev(96, "dpkg", write("/etc/group"))).is_empty());
    e.process(&exec(97, 2, "runc:[2:INIT]", &["/tmp/useradd"], 0));
    assert_eq!(names(&e.process(&ev(97, "useradd", write("/etc/shadow")))), ["Account or sudo configuration written"]);
}

#[test]
fn an_openshift_entrypoint_adding_its_uid_to_passwd_as_it_starts_is_no_alert() {
    // OpenShift's pattern: the entrypoint, run as a uid the image never named in group 0, appends a line for it to
    // /etc/passwd 2 s after the runtime created the container — no alert. The same append 2 minutes in, as root, from
    // a uid outside group 0, to /etc/shadow, or /etc/passwd written whole (no O_APPEND): each an alert.
    const SEC: u64 = 1_000_000_000;
    let created = 1_796_000_000_000_000_000u64;
    let at = |mut e: Event, after: u64| {
        e.time_ns = created + after * SEC;
        std::sync::Arc::make_mut(e.container.as_mut().unwrap()).created_ns = Some(created);
        e
    };
    let cases: [(u32, u32, u64, &str, u32, bool); 6] = [
        (1000680000, 0, 2, "/etc/passwd", 0o2101, false),
        (1000680000, 0, 120, "/etc/passwd", 0o2101, true),
        (0, 0, 2, "/etc/passwd", 0o2101, true),
        (1000680000, 1000680000, 2, "/etc/passwd", 0o2101, true),
        (1000680000, 0, 2, "/etc/shadow", 0o2101, true),
        (1000680000, 0, 2, "/etc/passwd", 0o1101, true),
    ];
    for (i, (uid, gid, after, path, flags, alert)) in cases.into_iter().enumerate() {
        let mut e = builtin();
        let pid = 50 + i as u32;
        let mut start = exec(pid, 1, "runc:[2:INIT]", &["/bin/sh", "/usr/bin/uid_entrypoint"], uid);
        if let EventKind::Exec { gid: g, egid, .. } = &mut start.kind {
            (*g, *egid) = (gid, Some(gid));
        }
        e.process(&at(start, after.saturating_sub(1)));
        let open = at(ev(pid, "sh", EventKind::Open { path: path.into(), flags }), after);
        let want: &[&str] = if alert { &["Account or sudo configuration written"] } else { &[] };
        assert_eq!(names(&e.process(&open)), want, "uid {uid} gid {gid} {after} s {path} {flags:o}");
    }
}

#[test]
fn ssh_keys_and_cron_tables_written_are_persistence_outside_package_managers_and_crontab() {
    // A key appended to root's authorized_keys, a job dropped into /etc/cron.d, a user's table replaced by a rename,
    // /etc/crontab linked: each makes a foothold last. Reading them is sshd's and cron's work; `crontab` (from a
    // system directory) writes a user's table as its work; a copy of it elsewhere does not pass. (Reading a key file
    // is "Sensitive file opened for reading"'s.)
    let mut e = builtin();
    let write = |path: &str| EventKind::Open { path: path.into(), flags: 0o2101 };
    e.process(&exec(90, 2, "runc:[2:INIT]", &["/bin/sh", "-c", "echo"], 100));
    let a = e.process(&ev(90, "sh", write("/root/.ssh/authorized_keys")));
    assert_eq!(names(&a), ["SSH authorized keys written"]);
    assert!(a[0].mitre.contains(&"T1098.004".to_string()), "{:?}", a[0].mitre);
    assert!(a[0].title.contains("/root/.ssh/authorized_keys"), "{}", a[0].title);
    assert_eq!(
        names(&e.process(&ev(90, "sh", write("/home/app/.ssh/authorized_keys2")))),
        ["SSH authorized keys written"]
    );
    let a = e.process(&ev(90, "sh", write("/etc/cron.d/update")));
    assert_eq!(names(&a), ["Scheduled job written"]);
    assert!(a[0].mitre.contains(&"T1053.003".to_string()), "{:?}", a[0].mitre);
    assert_eq!(names(&e.process(&ev(90, "sh", write("/etc/crontab")))), ["Scheduled job written"]);
    assert_eq!(names(&e.process(&ev(90, "sh", write("/etc/cron.daily/logrotate")))), ["Scheduled job written"]);
    let mv = EventKind::Rename {
        call: "rename".into(),
        from: "/tmp/tab".into(),
        to: "/var/spool/cron/crontabs/root".into(),
        to_dirfd: false,
    };
    assert_eq!(names(&e.process(&ev(91, "mv", mv))), ["Scheduled job written"]);
    let ln = EventKind::Link {
        call: "symlink".into(),
        target: "/tmp/keys".into(),
        path: "/root/.ssh/authorized_keys".into(),
        dirfd: false,
        sensitive: false,
    };
    assert_eq!(names(&e.process(&ev(92, "ln", ln))), ["SSH authorized keys written"]);
    for quiet in [
        ev(93, "cron", EventKind::Open { path: "/etc/cron.d/update".into(), flags: 0 }),
        ev(93, "sh", write("/root/.ssh/known_hosts")),
        ev(93, "sh", write("/srv/app/cron.d/job")),
        ev(93, "sh", write("/etc/crontab.bak")),
    ] {
        assert!(e.process(&quiet).is_empty(), "{quiet:?}");
    }
    for (pid, exe, path) in [
        (95, "/usr/bin/crontab", "/var/spool/cron/crontabs/tmp.X1"),
        (96, "/usr/bin/dpkg", "/etc/cron.daily/apt-compat"),
    ] {
        e.process(&exec(pid, 2, "runc:[2:INIT]", &[exe], 0));
        let comm = exe.rsplit('/').next().unwrap();
        assert!(e.process(&ev(pid, comm, write(path))).is_empty(), "{exe}");
    }
    e.process(&exec(97, 2, "runc:[2:INIT]", &["/tmp/crontab"], 0));
    let tab = write("/var/spool/cron/crontabs/root");
    assert_eq!(names(&e.process(&ev(97, "crontab", tab))), ["Scheduled job written"]);
}

#[test]
fn a_library_written_at_run_time_is_one_dropped_to_be_loaded_outside_package_managers_and_linkers() {
    // A database's `lo_export` writing a library to /tmp, a library renamed into a plugin directory, a link made as
    // a versioned library, /etc/ld.so.preload and a file in /etc/ld.so.conf.d written: code put where a loader will
    // load it. Reading a library is every program's start; names that only look alike are not libraries; dpkg,
    // ldconfig and ld (run from system directories) write them as their work; a copy of ldconfig elsewhere does not
    // pass.
    let mut e = builtin();
    let write = |path: &str| EventKind::Open { path: path.into(), flags: 0o1101 };
    e.process(&exec(90, 2, "runc:[2:INIT]", &["/usr/lib/postgresql/15/bin/postgres", "-D", "/data"], 100));
    let a = e.process(&ev(90, "postgres", write("/tmp/.pg_stat_cache.so")));
    assert_eq!(names(&a), ["Library written at run time"]);
    assert!(a[0].mitre.contains(&"T1574.006".to_string()), "{:?}", a[0].mitre);
    assert!(a[0].title.contains("/tmp/.pg_stat_cache.so") && a[0].title.contains("postgres -D"), "{}", a[0].title);
    for path in ["/etc/ld.so.preload", "/etc/ld.so.conf.d/evil.conf", "/usr/local/lib/libcrypto.so.3"] {
        assert_eq!(names(&e.process(&ev(91, "sh", write(path)))), ["Library written at run time"], "{path}");
    }
    let mv = EventKind::Rename {
        call: "rename".into(),
        from: "/tmp/x".into(),
        to: "/usr/lib/nginx/modules/ngx_x.so".into(),
        to_dirfd: false,
    };
    assert_eq!(names(&e.process(&ev(92, "mv", mv))), ["Library written at run time"]);
    let ln = EventKind::Link {
        call: "symlink".into(),
        target: "/tmp/x.so".into(),
        path: "/srv/app/lib/libz.so.1".into(),
        dirfd: false,
        sensitive: false,
    };
    assert_eq!(names(&e.process(&ev(93, "ln", ln))), ["Library written at run time"]);
    for quiet in [
        ev(94, "app", EventKind::Open { path: "/usr/lib/x86_64-linux-gnu/libssl.so.3".into(), flags: 0o2000000 }),
        ev(94, "app", write("/srv/app/data/notes.sock")),
        ev(94, "app", write("/srv/app/reason.soon")),
        ev(94, "app", write("/srv/app/lib.so-notes.txt")),
    ] {
        assert!(e.process(&quiet).is_empty(), "{quiet:?}");
    }
    for (pid, exe, path) in [
        (95, "/usr/bin/dpkg", "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13.dpkg-new"),
        (96, "/usr/sbin/ldconfig", "/etc/ld.so.cache~"),
        (97, "/usr/bin/ld", "/build/libx.so"),
    ] {
        e.process(&exec(pid, 2, "runc:[2:INIT]", &[exe], 0));
        let comm = exe.rsplit('/').next().unwrap();
        assert!(e.process(&ev(pid, comm, write(path))).is_empty(), "{exe}");
    }
    e.process(&exec(98, 2, "runc:[2:INIT]", &["/tmp/ldconfig"], 0));
    assert_eq!(names(&e.process(&ev(98, "ldconfig", write("/etc/ld.so.preload")))), ["Library written at run time"]);
}

#[test]
fn code_loaded_from_a_dropped_file_is_a_library_written_at_run_time_in_tmp_in_memory_or_removed() {
    // PostgreSQL mapping the library its `lo_export` wrote (both the write and the load alert), a library mapped
    // from /dev/shm, from a memfd, from a file removed before its mapping, and one written by the container
    // elsewhere (renamed into a plug-in directory). The image's own libraries, mapped by any program, and a
    // file mapped without being written at run time are quiet; so is what the runtime maps while it sets the
    // container up, and .NET's double-mapped JIT code.
    let mut e = builtin();
    let mmap = |path: &str, memfd, deleted| EventKind::Mmap { path: path.into(), prot: 5, memfd, deleted, file: None };
    e.process(&exec(90, 2, "runc:[2:INIT]", &["/usr/lib/postgresql/15/bin/postgres", "-D", "/data"], 100));
    let written =
        e.process(&ev(90, "postgres", EventKind::Open { path: "/tmp/.pg_stat_cache.so".into(), flags: 0o1101 }));
    assert_eq!(names(&written), ["Library written at run time"]);
    let a = e.process(&ev(90, "postgres", mmap("/tmp/.pg_stat_cache.so", false, false)));
    assert_eq!(names(&a), ["Code loaded from a dropped file"]);
    assert!(a[0].mitre.contains(&"T1129".to_string()), "{:?}", a[0].mitre);
    assert!(a[0].title.contains("/tmp/.pg_stat_cache.so") && a[0].title.contains("postgres -D"), "{}", a[0].title);
    for (path, memfd, deleted) in
        [("/dev/shm/x", false, false), ("/memfd:payload", true, false), ("/srv/app/lib/libz.so.1", false, true)]
    {
        let a = e.process(&ev(91, "app", mmap(path, memfd, deleted)));
        assert_eq!(names(&a), ["Code loaded from a dropped file"], "{path}");
    }
    let mv = EventKind::Rename {
        call: "rename".into(),
        from: "/srv/app/upload.bin".into(),
        to: "/srv/app/plugins/p.so".into(),
        to_dirfd: false,
    };
    e.process(&ev(92, "app", mv));
    assert_eq!(
        names(&e.process(&ev(92, "app", mmap("/srv/app/plugins/p.so", false, false)))),
        ["Code loaded from a dropped file"]
    );
    for quiet in [
        ev(93, "app", mmap("/usr/lib/x86_64-linux-gnu/libc.so.6", false, false)),
        ev(93, "app", mmap("/srv/app/plugins/q.so", false, false)),
        ev(93, "app", mmap("/tmpfoo/libx.so", false, false)),
    ] {
        assert!(e.process(&quiet).is_empty(), "{quiet:?}");
    }
    let mut runc = ev(94, "runc:[2:INIT]", mmap("/memfd:runc_cloned:/proc/self/exe", true, false));
    runc.process = None;
    assert!(e.process(&runc).is_empty(), "the runtime's own set-up");
    // .NET's JIT: its code's executable view is a memfd of its own.
    for deleted in [false, true] {
        assert!(e.process(&ev(95, "dotnet", mmap("/memfd:doublemapper", true, deleted))).is_empty());
    }
    // A loader that maps its file writable and makes it executable with mprotect: the same rule. Anonymous
    // memory made executable, and a library's own code made executable again, are not files dropped.
    let made = |call: &str, prot, region: &str, path: Option<&str>| EventKind::ExecMemory {
        call: call.into(),
        prot,
        region: region.into(),
        length: 4096,
        path: path.map(Into::into),
        file: None,
    };
    let protect = |region: &str, path: Option<&str>| made("mprotect", 5, region, path);
    for path in ["/memfd:x", "/tmp/.x.so"] {
        let a = e.process(&ev(96, "app", protect("file", Some(path))));
        assert_eq!(names(&a), ["Code loaded from a dropped file"], "{path}");
    }
    let rwx = made("mmap", 7, "anonymous", None);
    for quiet in [protect("file", Some("/usr/lib/x86_64-linux-gnu/libc.so.6")), protect("anonymous", None), rwx] {
        assert!(e.process(&ev(96, "app", quiet.clone())).is_empty(), "{quiet:?}");
    }
}

#[test]
fn a_name_taken_with_prctl_passes_no_exception() {
    // Falco's thread table keeps the name a process had at its exec (a fork: its parent's); prctl(PR_SET_NAME)
    // does not change proc.name. Otherwise a program could call itself `apt`, `sshd` or `logrotate` and pass
    // the exceptions the rules make for package managers, password programs and log rotators.
    let mut e = builtin();
    assert!(e.process(&exec(70, 2, "runc:[2:INIT]", &["/usr/bin/python3", "x.py"], 0)).is_empty());
    let write = || EventKind::Open { path: "/usr/bin/implant".into(), flags: 0o1101 };
    let a = e.process(&ev(70, "apt", write()));
    assert_eq!(names(&a), ["Write below a binary directory"]);
    assert!(a[0].title.contains("by python3"), "{}", a[0].title);
    let shadow = || EventKind::Open { path: "/etc/shadow".into(), flags: 0 };
    assert_eq!(names(&e.process(&ev(70, "sshd", shadow()))), ["Sensitive file opened for reading"]);
    // A child it forks, renamed, is still its parent's program.
    let mut child = ev(
        71,
        "logrotate",
        EventKind::Unlink { call: "unlink".into(), path: "/var/log/auth.log".into(), dirfd: false, dir: false },
    );
    child.process = Some(kestrel_core::ProcessRef { ppid: Some(70), ..Default::default() });
    assert_eq!(names(&e.process(&child)), ["Shell history or logs removed in a container"]);
    // The real programs, seen executing under those names, keep their exceptions.
    // (Its exec is a package manager run in a container, a rule of its own.)
    e.process(&exec(72, 2, "runc:[2:INIT]", &["/usr/bin/apt", "install", "x"], 0));
    assert!(e.process(&ev(72, "apt", write())).is_empty());
    e.process(&exec(73, 2, "runc:[2:INIT]", &["/usr/sbin/sshd", "-D"], 0));
    assert!(e.process(&ev(73, "sshd", shadow())).is_empty());
    // A process never seen executing is named as its events name it, and its program is what the sensor
    // read of it (/proc/PID/exe); not known, no exception.
    let mut apt = ev(74, "apt", write());
    apt.process = Some(kestrel_core::ProcessRef { exe: Some("/usr/bin/apt".into()), ..Default::default() });
    assert!(e.process(&apt).is_empty());
    assert_eq!(names(&e.process(&ev(75, "apt", write()))), ["Write below a binary directory"]);
    // A copy of a program named like a package manager, run from elsewhere, is not one; nor is a path that
    // only starts in a system directory.
    for exe in ["/tmp/apt", "/usr/bin/../../tmp/apt"] {
        let mut x = exec(76, 2, "runc:[2:INIT]", &[exe], 0);
        let EventKind::Exec { exe: e_exe, .. } = &mut x.kind else { unreachable!() };
        *e_exe = exe.into();
        x.comm = "apt".into();
        e.process(&x);
        assert_eq!(names(&e.process(&ev(76, "apt", write()))), ["Write below a binary directory"], "{exe}");
    }
}

#[test]
fn a_rule_for_every_event_type_alerts_once_an_event_and_type_checks_are_decided_per_type() {
    let mut eng = engine_of(
        r#"
- rule: Any event of nc
  desc: no event type named
  condition: proc.name = nc and evt.dir = <
  output: "%evt.type by %proc.name"
  priority: WARNING
- rule: Opened or removed by nc
  desc: types named in an or, one branch per type
  condition: proc.name = nc and ((evt.type in (open, openat) and evt.is_open_write = true) or evt.type = unlinkat)
  output: "%evt.type %fd.name"
  priority: WARNING
"#,
        2,
    );
    let titles = |eng: &mut Engine, e: &Event| eng.process(e).into_iter().map(|a| a.title).collect::<Vec<_>>();
    assert_eq!(titles(&mut eng, &exec(7, 1, "sh", &["/bin/nc"], 0)), ["execve by nc"]);
    let write = ev(7, "nc", EventKind::Open { path: "/tmp/x".into(), flags: 1 });
    assert_eq!(titles(&mut eng, &write), ["openat /tmp/x", "openat by nc"]);
    let read = ev(7, "nc", EventKind::Open { path: "/tmp/x".into(), flags: 0 });
    assert_eq!(titles(&mut eng, &read), ["openat by nc"]);
    // Both rules check `proc.name = nc` on opens: one check, shared, whose result is this event's only.
    assert!(titles(&mut eng, &ev(8, "sh", EventKind::Open { path: "/tmp/x".into(), flags: 1 })).is_empty());
    assert_eq!(titles(&mut eng, &write), ["openat /tmp/x", "openat by nc"]);
    let rm =
        ev(7, "nc", EventKind::Unlink { call: "unlinkat".into(), path: "/tmp/x".into(), dirfd: false, dir: false });
    assert_eq!(titles(&mut eng, &rm), ["unlinkat /tmp/x", "unlinkat by nc"]);
    // A batch of calls has no type in the table: only the rule for any type, its type checks left to the event.
    assert_eq!(titles(&mut eng, &ev(7, "nc", EventKind::Syscalls { ids: vec![0] })), ["<NA> by nc"]);
}

/// `contains` finds what the standard searcher finds: needles empty, of one byte, longer than the value, at the
/// start, at the end, overlapping themselves, non-ASCII, and values that hold the needle's first byte far more often
/// than the candidates the quick search tries.
#[test]
fn contains_finds_what_the_standard_searcher_finds() {
    let values = [
        "",
        "a",
        "libx.so",
        "libx.so.1",
        ".so.",
        "/tmp/.so.x",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
        "çaçaçab",
        "stratum+tcp://pool:3333",
        "-e /bin/sh",
        "x.sox",
        "...................................................so.",
    ];
    let needles = ["", "a", ".so.", ".so", "aab", "aaaaaab", "çab", "stratum+tcp", "-e ", "b", ".so.x", "zz"];
    for v in values {
        for n in needles {
            assert_eq!(contains(v, n), v.contains(n), "{v:?} contains {n:?}");
        }
    }
}

/// `fd.filename` and `fd.directory` split a path at its last `/` as `rsplit('/')` and `rfind('/')` do, on every
/// shape of path: absolute, relative, the root, a trailing slash, none at all, doubled slashes, non-ASCII names.
#[test]
fn a_paths_file_name_and_directory_split_at_its_last_slash() {
    use crate::rules::fields::Val;
    let (file, dir) = (Field::bind("fd.filename", None).unwrap(), Field::bind("fd.directory", None).unwrap());
    let st = crate::rules::fields::State::default();
    for path in ["/etc/passwd", "base/16384/2619", "/", "x", "", "/tmp/", "//a//b", "/srv/ünï/çode.so.1", "a/", "a/.."]
    {
        let e = ev(1, "x", EventKind::Unlink { call: "unlink".into(), path: path.into(), dirfd: true, dir: false });
        // The path as the rules name the file (made clean first), split.
        let Val::Str(path) = Field::FdName.get(&e, &st) else { panic!("{path}: no fd.name") };
        let path = path.as_ref();
        let want_file = path.rsplit('/').next().unwrap_or(path);
        let want_dir = match path.rfind('/') {
            Some(0) => "/",
            Some(i) => &path[..i],
            None => ".",
        };
        assert_eq!(file.get(&e, &st), Val::Str(want_file.into()), "{path}");
        assert_eq!(dir.get(&e, &st), Val::Str(want_dir.into()), "{path}");
    }
}

/// The events of a real recording (a lab attack, as the sensor reported it; the fuzzers' seed).
pub(super) fn recorded_events() -> Vec<Event> {
    let events: Vec<Event> = include_str!("../../../../fuzz/seeds/events.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(events.len() > 50, "the seed recording reads");
    events
}

/// Checks read the strings the event, the process table and the memo hold where they are (`Field::str_in`); every
/// other read makes the field's value (`Field::get_in`). Both must give the same value for every field on every
/// event: a recorded attack (a real sensor's events), and each of its events again outside a container, in one
/// with a long non-ASCII id, and with its file names relative, dotted, doubled.
#[test]
fn fields_read_in_place_give_the_fields_values() {
    use crate::rules::fields::{Memo, State, Val};
    let recorded = recorded_events();
    let mut events = Vec::new();
    for e in &recorded {
        events.push(e.clone());
        let mut outside = e.clone();
        outside.container = None;
        events.push(outside);
        let mut odd = e.clone();
        odd.container = Some(
            ContainerRef { id: "ççç-container-ünïcode".into(), runtime: "runc".into(), ..Default::default() }.into(),
        );
        events.push(odd);
        for path in ["data/base/1/2", "/lib/x86_64-linux-gnu/../lib/tls/libc.so.6", "//etc//passwd", "x", "/", ""] {
            let mut moved = e.clone();
            match &mut moved.kind {
                EventKind::Open { path: p, .. }
                | EventKind::Mkdir { path: p, .. }
                | EventKind::Unlink { path: p, .. }
                | EventKind::Link { path: p, .. }
                | EventKind::Truncate { path: p, .. }
                | EventKind::Mmap { path: p, .. }
                | EventKind::Rename { to: p, .. } => *p = path.into(),
                _ => continue,
            }
            events.push(moved);
        }
    }
    let names = [
        "evt.type",
        "evt.args",
        "proc.name",
        "proc.exe",
        "proc.exepath",
        "proc.cmdline",
        "proc.pname",
        "proc.pexe",
        "proc.pexepath",
        "proc.cwd",
        "fd.nameraw",
        "fd.name",
        "fd.directory",
        "fd.filename",
        "fd.typechar",
        "user.name",
        "container.id",
        "container.name",
        "container.image",
        "container.image.repository",
    ];
    let fields: Vec<Field> = names.iter().map(|n| Field::bind(n, None).unwrap()).collect();
    let mut st = State::default();
    let (mut in_place, mut missing) = (0, 0);
    for e in &events {
        st.update(e);
        for (name, f) in names.iter().zip(&fields) {
            // A fresh memo for each way, and the memo's path read first by the other way too.
            let (a, b) = (Memo::default(), Memo::default());
            let made = f.get_in(e, &st, &a);
            let Some(read) = f.str_in(e, &st, &b) else { continue };
            let made_after = f.get_in(e, &st, &b);
            in_place += 1;
            let want = match &made {
                Val::Str(s) => Some(s.as_ref()),
                Val::Missing => {
                    missing += 1;
                    None
                }
                other => panic!("{name}: {other:?} is not a string"),
            };
            assert_eq!(read, want, "{name} on {}", describe(e));
            assert_eq!(made_after, made, "{name} on {} after the memo", describe(e));
            assert_eq!(f.str_in(e, &st, &a), Some(read), "{name} on {} with the memo of the value", describe(e));
        }
    }
    // The short id is a hex id's first 12 digits; an id that is a name stays whole.
    let id = Field::bind("container.id", None).unwrap();
    let name = |e: &Event| e.container.as_ref().unwrap().id.clone();
    assert!(!name(&events[2]).is_ascii() && name(&events[2]).chars().count() > 12);
    assert_eq!(id.get(&events[2], &st), Val::Str(name(&events[2]).into()));
    assert_eq!(id.get(&events[0], &st), Val::Str(name(&events[0]).into()));
    let mut hex = events[0].clone();
    std::sync::Arc::make_mut(hex.container.as_mut().unwrap()).id = "0123456789ab".repeat(5) + "cdef";
    assert_eq!(id.get(&hex, &st), Val::Str("0123456789ab".into()));
    // Most of the fields are read in place, and some do not apply to some events.
    assert!(in_place > events.len() * 10, "{in_place} reads in place over {} events", events.len());
    assert!(missing > 0);
}

#[test]
fn an_events_line_says_runs_of_one_call_once_and_only_the_mounts_parts_it_has() {
    // open, 40 rt_sigaction, two mmap, read: the run of 40 said once with its count; a pair stays a pair.
    let mut ids = vec![257];
    ids.extend(std::iter::repeat_n(13, 40));
    ids.extend([9, 9, 0]);
    let line = describe(&ev(5, "nginx", EventKind::Syscalls { ids }));
    assert_eq!(line, "44 system calls: openat rt_sigaction ×40 mmap mmap read");
    // runc making the root a slave mount: no source, no type; a bind mount with its flags.
    let slave =
        EventKind::Mount { source: String::new(), target: "/".into(), fstype: String::new(), flags: 1 << 19 | 16384 };
    assert_eq!(describe(&ev(5, "runc:[2:INIT]", slave)), "mount on / MS_REC|MS_SLAVE");
    let kind = EventKind::Mount {
        source: "/var/run/docker.sock".into(),
        target: "/mnt/s".into(),
        fstype: "bind".into(),
        flags: BIND_REC,
    };
    assert_eq!(describe(&ev(5, "runc:[2:INIT]", kind)), "mount /var/run/docker.sock on /mnt/s (bind) MS_BIND|MS_REC");
}

#[test]
fn a_mistyped_field_is_answered_with_the_one_it_most_likely_meant() {
    use crate::rules::fields::near;
    for (typo, meant) in [
        ("fd.nme", "fd.name"),            // left out
        ("proc.namee", "proc.name"),      // added
        ("proc.pnmae", "proc.pname"),     // swapped
        ("container.ie", "container.id"), // changed
    ] {
        assert_eq!(near(typo).as_deref(), Some(meant), "{typo}");
    }
    // Nothing near, or nothing to guess from: no guess.
    for far in ["evt.buffer", "", "fd.name[0]", "zzzzzzzz", "çç"] {
        assert_eq!(near(far), None, "{far}");
    }
    // The reason a rule is skipped carries the guess.
    let mut set = RuleSet::default();
    set.add_file(
        "t.yaml",
        "- rule: R\n  desc: x\n  condition: evt.type = open and fd.nme = /etc/shadow\n  output: x\n  priority: ERROR\n",
    )
    .unwrap();
    let report = set.compile().report;
    assert_eq!(report.skipped["R"], "fields not supported: fd.nme (did you mean fd.name?)");
    assert_eq!(report.did_you_mean["fd.nme"], "fd.name");
}

/// An `in` list of at least `SET_FROM` strings is looked up by hash instead of scanned: the same answers — its
/// first and last names, a name it lacks, a prefix of a name — on a field of one string and with `intersects` on a
/// field of several (capabilities); `evt.type`'s lists stay lists, so the rule is still filed under its types.
#[test]
fn long_in_lists_are_looked_up_by_hash_with_the_same_answers() {
    let tools: Vec<String> = (0..20).map(|i| format!("tool{i}")).collect();
    let yaml = format!(
        "- rule: tools\n  desc: d\n  condition: evt.type = execve and proc.name in ({})\n  output: o\n  priority: WARNING\n\
         - rule: chown\n  desc: d\n  condition: evt.type = execve and thread.cap_effective intersects (CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_RAWIO, CAP_SYS_BOOT, CAP_MAC_ADMIN, CAP_BPF, CAP_CHOWN)\n  output: o\n  priority: WARNING\n\
         - rule: admin\n  desc: d\n  condition: evt.type = execve and thread.cap_effective intersects (CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_RAWIO, CAP_SYS_BOOT, CAP_MAC_ADMIN, CAP_BPF, CAP_PERFMON)\n  output: o\n  priority: WARNING\n\
         - rule: types\n  desc: d\n  condition: evt.type in (execve, openat, connect, bind, listen, accept, mkdir, unlinkat, renameat) and proc.name = tool5\n  output: o\n  priority: WARNING\n",
        tools.join(", ")
    );
    let mut e = engine_of(&yaml, 4);
    for r in &e.rules()[..3] {
        assert!(format!("{:?}", r.cond).contains("Set("), "{}: {:?}", r.name, r.cond);
    }
    assert!(!format!("{:?}", e.rules()[3].cond).contains("Set("));
    assert_ne!(e.rules()[3].types, u64::MAX, "filed under its types");
    // The exec helper gives every process the capabilities 0xa80425fb: CAP_CHOWN, not CAP_SYS_ADMIN nor the others.
    for (pid, name, want) in [
        (10, "tool0", vec!["tools", "chown"]),
        (11, "tool19", vec!["tools", "chown"]),
        (12, "tool5", vec!["tools", "chown", "types"]),
        (13, "tool20", vec!["chown"]),
        (14, "tool", vec!["chown"]),
    ] {
        let a = e.process(&exec(pid, 1, "sh", &[&format!("/usr/bin/{name}")], 0));
        assert_eq!(names(&a), want, "{name}");
    }
}
