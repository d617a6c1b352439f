//! `kestrel monitor`: the runtime sensor's events on standard output.

use crate::cli::{GlobalArgs, MonitorArgs, MonitorFormat};
use anyhow::{Context as _, Result};
use kestrel_core::{Event, EventKind};
use kestrel_sensor::cgroup::cgroup2_root;
use kestrel_sensor::{Config, Sensor};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Parents of container cgroups in the runtimes' usual layouts (systemd and cgroupfs drivers).
const CONTAINER_PARENTS: [&str; 7] =
    ["system.slice", "kubepods.slice", "kubepods", "machine.slice", "docker", "podman", "kestrel-lab"];

fn describe(e: &Event) -> String {
    match &e.kind {
        EventKind::Exec { argv, uid, euid, .. } => format!("exec {} (uid {uid}, euid {euid})", argv.join(" ")),
        EventKind::Exit { status } => format!("exit {}", status >> 8),
        EventKind::Open { path, flags } => format!("open {path} (flags {flags:#o})"),
        EventKind::Connect { to } => format!("connect {} {}:{}", to.family, to.addr, to.port),
        EventKind::SetIds { call, ids } => format!("{call}({ids:?})"),
        EventKind::Capset { effective, .. } => format!("capset effective {effective:#x}"),
        EventKind::Namespaces { call, namespaces, .. } => format!("{call} new namespaces {}", namespaces.join(",")),
        EventKind::Setns { nstype } => format!("setns {nstype:#x}"),
        EventKind::Mount { source, target, fstype, .. } => format!("mount {source} on {target} ({fstype})"),
        EventKind::Ptrace { request, target_pid } => format!("ptrace request {request} pid {target_pid}"),
        EventKind::Bpf { cmd } => format!("bpf cmd {cmd}"),
        EventKind::ModuleLoad { call } => call.to_string(),
        EventKind::SetuidChmod { path, mode } => format!("chmod {:o} {}", mode, path.as_deref().unwrap_or("(fd)")),
    }
}

pub fn run(a: MonitorArgs, g: &GlobalArgs) -> Result<ExitCode> {
    let root = cgroup2_root().context("no cgroup v2 hierarchy is mounted")?;
    let mut watch = a.cgroup.clone();
    for p in &a.runc_parent {
        let dir = root.join(p.trim_start_matches('/'));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create the runc parent cgroup", dir.display()))?;
        watch.push(dir);
    }
    if watch.is_empty() && !a.all {
        watch = CONTAINER_PARENTS.iter().map(|p| root.join(p)).filter(|p| p.is_dir()).collect();
    }
    let mut runc_parents = a.runc_parent.clone();
    runc_parents.push("kestrel-lab".into());
    let only_containers = !a.all && a.cgroup.is_empty();
    let cfg = Config { watch_all: a.all, watch_cgroups: watch.clone(), runc_parents, ..Config::default() };
    let mut sensor = Sensor::start(cfg)?;
    if !g.quiet {
        if a.all {
            eprintln!("kestrel: watching every process");
        } else {
            let names: Vec<String> = watch.iter().map(|p| p.display().to_string()).collect();
            eprintln!("kestrel: watching {}", if names.is_empty() { "no cgroup yet".into() } else { names.join(", ") });
        }
    }
    let table = match a.format {
        Some(MonitorFormat::Table) => true,
        Some(MonitorFormat::Json) => false,
        None => std::io::stdout().is_terminal(),
    };
    let started = Instant::now();
    let mut last_stats = Instant::now();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let print_stats = |s: &Sensor| {
        let parts: Vec<String> = s.stats().snapshot().iter().map(|(k, v)| format!("{k} {v}")).collect();
        eprintln!("kestrel: sensor: {}", parts.join(", "));
    };
    loop {
        if a.duration.is_some_and(|d| started.elapsed() >= Duration::from_secs(d)) {
            break;
        }
        if a.stats && last_stats.elapsed() >= Duration::from_secs(5) {
            print_stats(&sensor);
            last_stats = Instant::now();
        }
        let Some(e) = sensor.next(Duration::from_millis(100)) else {
            out.flush().ok();
            continue;
        };
        if only_containers && e.container.is_none() {
            continue;
        }
        if !a.kind.is_empty() && !a.kind.iter().any(|k| k == e.kind_name()) {
            continue;
        }
        if let Some(c) = &a.container {
            if !e.container.as_ref().is_some_and(|x| x.id.starts_with(c.as_str())) {
                continue;
            }
        }
        let line = if table {
            let who =
                e.container.as_ref().map(|c| c.id.chars().take(12).collect::<String>()).unwrap_or_else(|| "-".into());
            format!("{:<12} {:>7} {:<15} {}", who, e.pid, e.comm, describe(&e))
        } else {
            serde_json::to_string(&e)?
        };
        if writeln!(out, "{line}").is_err() {
            break; // the reader went away (a closed pipe)
        }
    }
    out.flush().ok();
    drop(out);
    let dropped = sensor.stats().dropped_ring_full.load(Ordering::Relaxed)
        + sensor.stats().dropped_queue_full.load(Ordering::Relaxed);
    if a.stats || (dropped > 0 && !g.quiet) {
        print_stats(&sensor);
    }
    sensor.stop()?;
    Ok(ExitCode::SUCCESS)
}
