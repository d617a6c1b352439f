//! Sensitive reads seen twice: when the open is attempted (the path as given starts with a sensitive prefix)
//! and when it returns (the opened file is named like a sensitive one; its path rebuilt from the kernel's
//! dentries). The second catches what the first cannot see — `/etc//shadow`, `../../etc/shadow`, a
//! relative name from `/etc`, a directory descriptor, a symbolic link — and is dropped when it only repeats
//! the first.
//!
//! Writes are reported at entry when their path is absolute; one by a relative path (or a directory
//! descriptor) only on return, with its path rebuilt — a relative path names no place.
//!
//! Not caught: a hard link under another name (its dentry has that name), and a sensitive file under a
//! directory whose files have ordinary names (`/etc/kubernetes/…`, `/run/secrets/…`) reached by a path that
//! does not start with the prefix.

use crate::decode::Raw;
use kestrel_core::{is_sensitive_read, normalize_path, EventKind};
use std::collections::HashMap;

/// The most threads remembered between an attempt and its return.
const MAX_PENDING: usize = 4096;
/// An attempt older than this is not the same open as a return.
const SAME_OPEN_NS: u64 = 1_000_000_000;

/// What the reader needs to tell a new sensitive read from a repeated one.
#[derive(Debug, Default)]
pub struct SensitiveOpens {
    /// Every read is news (`Config::all_reads`), sensitive or not: only a sensitive one reported twice is not.
    all_reads: bool,
    /// Thread → (path as reported at entry, resolved lexically; its time).
    entered: HashMap<u32, (String, u64), crate::Fast>,
}

impl SensitiveOpens {
    /// What tells news from repeats; `all_reads`: every read is wanted.
    pub fn new(all_reads: bool) -> Self {
        SensitiveOpens { all_reads, entered: HashMap::default() }
    }

    /// Notes an event reported at entry (only sensitive reads are remembered).
    pub fn entered(&mut self, raw: &Raw) {
        if let EventKind::Open { path, flags } = &raw.kind {
            if flags & 3 == 0 && is_sensitive_read(path) {
                if self.entered.len() >= MAX_PENDING {
                    self.entered.clear();
                }
                self.entered.insert(raw.header.tid, (normalize_path(path).into_owned(), raw.header.boot_ns));
            }
        }
    }

    /// Whether a resolved open is news: a write (by a relative path: its entry reported nothing), or a
    /// sensitive read — judged at entry (`at_entry`: the only record of its open), or on return and not
    /// reported at its entry.
    pub fn is_news(&mut self, raw: &Raw, at_entry: bool) -> bool {
        let EventKind::Open { path, flags } = &raw.kind else { return false };
        if flags & 3 != 0 || flags & 0o1100 != 0 {
            return true;
        }
        if !is_sensitive_read(path) {
            return self.all_reads;
        }
        if at_entry {
            return true;
        }
        match self.entered.remove(&raw.header.tid) {
            Some((p, at)) => p != *path || raw.header.boot_ns.saturating_sub(at) > SAME_OPEN_NS,
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Header;

    fn open(tid: u32, path: &str, boot_ns: u64) -> Raw {
        Raw {
            header: Header { pid: tid, tid, euid: 0, boot_ns, cgroup_id: 1, comm: "cat".into() },
            kind: EventKind::Open { path: path.into(), flags: 0 },
        }
    }

    #[test]
    fn the_bpf_program_and_kestrel_core_list_the_same_sensitive_paths() {
        let src = include_str!("bpf/sensor.bpf.c");
        let start = src.find("bool sensitive(const char *p)").expect("sensitive() in sensor.bpf.c");
        let body = &src[start..start + src[start..].find("\n}").unwrap()];
        let bpf: Vec<&str> = body.split("has_prefix(p, \"").skip(1).map(|s| &s[..s.find('"').unwrap()]).collect();
        assert_eq!(bpf, kestrel_core::SENSITIVE_READS);
    }

    #[test]
    fn a_return_repeating_its_entry_is_dropped_and_an_evasion_is_kept() {
        let mut s = SensitiveOpens::default();
        // Reported at entry, then on return: once.
        s.entered(&open(1, "/etc/shadow", 10));
        assert!(!s.is_news(&open(1, "/etc/shadow", 20), false));
        // Only the return saw it (a relative path, a link, `..`): kept.
        assert!(s.is_news(&open(1, "/etc/shadow", 30), false));
        // Entry saw a sensitive prefix, return the file it led to.
        s.entered(&open(2, "/etc/sudoers.d/../shadow", 10));
        assert!(!s.is_news(&open(2, "/etc/shadow", 20), false), "the same file, written differently");
        // An attempt long ago is another open.
        s.entered(&open(3, "/etc/shadow", 10));
        assert!(s.is_news(&open(3, "/etc/shadow", 10 + 2 * SAME_OPEN_NS), false));
        // A file merely named like a sensitive one.
        assert!(!s.is_news(&open(4, "/usr/share/doc/shadow", 10), false));
        assert!(s.is_news(&open(4, "/root/.ssh/id_rsa", 10), false));
        // Judged at entry (`cat /etc/shadow; cd /etc; cat shadow` in one thread, or io_uring): a second open,
        // not the return of the first; a file merely named like a sensitive one is still not news.
        s.entered(&open(6, "/etc/shadow", 10));
        assert!(s.is_news(&open(6, "/etc/shadow", 20), true));
        assert!(!s.is_news(&open(6, "/tmp/shadow", 20), true));
        // A write by a relative path comes only on return: always news.
        let mut write = open(5, "/usr/bin/payload", 10);
        write.kind = EventKind::Open { path: "/usr/bin/payload".into(), flags: 0o1101 };
        assert!(s.is_news(&write, false));
    }

    #[test]
    fn with_every_read_wanted_an_ordinary_read_is_news_and_a_repeated_sensitive_one_still_not() {
        let mut s = SensitiveOpens::new(true);
        assert!(s.is_news(&open(1, "/usr/share/doc/shadow", 10), false));
        assert!(s.is_news(&open(1, "/srv/app/app.py", 10), true));
        s.entered(&open(2, "/etc/shadow", 10));
        assert!(!s.is_news(&open(2, "/etc/shadow", 20), false));
    }
}
