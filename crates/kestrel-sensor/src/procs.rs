//! The process table: what each process runs and who its parent is, learnt from exec and exit events, and
//! from `/proc` for processes that started before the sensor. Bounded: past its capacity the table starts
//! again from nothing (the next events refill it from `/proc`), so memory stays flat whatever the churn.

use crate::Fast;
use kestrel_core::{EventKind, ProcessRef};
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
struct Proc {
    exe: Option<String>,
    ppid: Option<u32>,
}

/// Process id → program and parent.
pub struct ProcessTable {
    procs: HashMap<u32, Proc, Fast>,
    capacity: usize,
    proc_root: std::path::PathBuf,
}

impl ProcessTable {
    /// A table of at most `capacity` processes, reading `/proc` for the ones it has not seen.
    pub fn new(capacity: usize) -> ProcessTable {
        ProcessTable { procs: HashMap::default(), capacity, proc_root: "/proc".into() }
    }

    fn read_proc(&self, pid: u32) -> Proc {
        let base = self.proc_root.join(pid.to_string());
        let exe = std::fs::read_link(base.join("exe")).ok().map(|p| p.display().to_string());
        // The parent is the fourth field of /proc/PID/stat, after the parenthesised command name.
        let ppid = std::fs::read_to_string(base.join("stat"))
            .ok()
            .and_then(|s| s.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok()));
        Proc { exe, ppid }
    }

    fn get(&mut self, pid: u32) -> Proc {
        if let Some(p) = self.procs.get(&pid) {
            return p.clone();
        }
        let p = self.read_proc(pid);
        self.insert(pid, p.clone());
        p
    }

    fn insert(&mut self, pid: u32, p: Proc) {
        if self.procs.len() >= self.capacity && !self.procs.contains_key(&pid) {
            self.procs.clear();
        }
        self.procs.insert(pid, p);
    }

    /// A new process `pid` forked by `ppid`: it runs its parent's program until it execs.
    pub fn forked(&mut self, pid: u32, ppid: u32) {
        let parent = self.get(ppid);
        self.insert(pid, Proc { exe: parent.exe, ppid: Some(ppid) });
    }

    /// Updates the table with an event of `pid` and says what is known of it and its parent.
    pub fn observe(&mut self, pid: u32, kind: &EventKind) -> ProcessRef {
        if let EventKind::Exec { exe, ppid, .. } = kind {
            self.insert(pid, Proc { exe: Some(exe.clone()), ppid: Some(*ppid) });
        }
        let me = self.get(pid);
        let parent_exe = me.ppid.filter(|p| *p != 0).and_then(|pp| self.get(pp).exe);
        if let EventKind::Exit { .. } = kind {
            self.procs.remove(&pid);
        }
        ProcessRef { exe: me.exe, ppid: me.ppid, parent_exe, euid: None }
    }

    /// Processes known.
    pub fn len(&self) -> usize {
        self.procs.len()
    }

    /// True when no process is known.
    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(exe: &str, ppid: u32) -> EventKind {
        EventKind::exec_of(ppid, "", &[exe])
    }

    #[test]
    fn parents_and_bounds() {
        let mut t = ProcessTable::new(3);
        t.proc_root = "/nonexistent".into();
        t.observe(100, &exec("/usr/sbin/nginx", 1));
        let r = t.observe(200, &exec("/bin/sh", 100));
        assert_eq!(
            (r.exe.as_deref(), r.ppid, r.parent_exe.as_deref()),
            (Some("/bin/sh"), Some(100), Some("/usr/sbin/nginx"))
        );
        // A later event of the shell still knows its parent; its exit removes it.
        let r = t.observe(200, &EventKind::Exit { status: 0 });
        assert_eq!(r.parent_exe.as_deref(), Some("/usr/sbin/nginx"));
        assert!(!t.procs.contains_key(&200));
        // Past the capacity the table starts again.
        for pid in 300..310 {
            t.observe(pid, &exec("/bin/true", 100));
        }
        assert!(t.len() <= 3);
    }

    #[test]
    fn a_forked_child_runs_its_parents_program_until_it_execs() {
        let mut t = ProcessTable::new(16);
        t.proc_root = "/nonexistent".into();
        t.observe(100, &exec("/bin/sh", 1));
        t.forked(101, 100);
        let r = t.observe(101, &EventKind::Exit { status: 0 });
        assert_eq!((r.exe.as_deref(), r.ppid, r.parent_exe.as_deref()), (Some("/bin/sh"), Some(100), Some("/bin/sh")));
        t.forked(102, 100);
        let r = t.observe(102, &exec("/bin/cat", 100));
        assert_eq!(r.exe.as_deref(), Some("/bin/cat"));
    }

    #[test]
    fn processes_from_before_come_from_proc() {
        let mut t = ProcessTable::new(16);
        let me = std::process::id();
        let r = t.observe(me, &EventKind::Exit { status: 0 });
        assert!(r.exe.is_some() && r.ppid.is_some(), "{r:?}");
    }
}
