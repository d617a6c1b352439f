//! User and group names as a process's own system names them: `/etc/passwd` and `/etc/group` inside its root
//! file system (a container's own, not the host's), so that rules can say `user.name = www-data` as Falco's
//! do. One database per root directory (a container's processes share theirs), read again only when the file
//! changed and at most once a second; the files are opened with `openat2(RESOLVE_IN_ROOT)` (a container's
//! symbolic links cannot lead to a host file), must be regular files and are read up to [`MAX_DB_BYTES`].
//! A process gone by the time its event is read is named through its cgroup's last root.

use crate::Fast;
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

/// Opens `path` inside a process's root file system (`/proc/PID/root`) the way the process would see it:
/// `openat2` with `RESOLVE_IN_ROOT`, so neither `..` nor an absolute symbolic link can lead out of the
/// container to a host file; relative paths are taken from the process's working directory. The last
/// component is not followed if it is a symbolic link, and a FIFO does not block the open.
pub fn open_in_root(pid: u32, path: &str) -> std::io::Result<std::fs::File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let root = std::fs::File::open(format!("/proc/{pid}/root"))?;
    let full = if path.starts_with('/') {
        path.to_string()
    } else {
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"))?;
        format!("{}/{path}", cwd.display())
    };
    let c = std::ffi::CString::new(full).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: open_how is plain data; zeroed is valid, then the fields are set.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: a valid directory fd, a NUL-terminated path and an open_how of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this descriptor.
    Ok(unsafe { std::fs::File::from_raw_fd(fd as i32) })
}

/// The largest user or group database read (a bigger one is not read at all).
pub const MAX_DB_BYTES: u64 = 1 << 20;
/// Most names kept per database.
const MAX_NAMES: usize = 65_536;
/// Most roots whose databases are kept, and most cgroups whose root is remembered.
const MAX_ROOTS: usize = 4096;
/// How often a database is checked for changes.
const RECHECK: Duration = Duration::from_secs(1);

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// `/etc/passwd`: user ids.
    Users,
    /// `/etc/group`: group ids.
    Groups,
}

impl Db {
    fn path(self) -> &'static str {
        match self {
            Db::Users => "/etc/passwd",
            Db::Groups => "/etc/group",
        }
    }
}

/// The names in one file, and what the file was when read (device, inode, size, modification time).
#[derive(Default)]
struct Names {
    file: Option<(u64, u64, u64, i64, i64)>,
    names: HashMap<u32, String, Fast>,
    checked: Option<Instant>,
}

/// Parses a `passwd` or `group` file: `name:password:id:…` per line; the first name of an id wins, as
/// `getpwuid` finds it. Lines that do not parse are skipped.
pub fn parse_db(text: &str) -> HashMap<u32, String, Fast> {
    let mut out: HashMap<u32, String, Fast> = HashMap::default();
    for line in text.lines() {
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(id)) = (f.next(), f.next(), f.next()) else { continue };
        let name = name.trim();
        if name.is_empty() || name.starts_with('#') || name.starts_with('+') || name.starts_with('-') {
            continue;
        }
        let Ok(id) = id.trim().parse::<u32>() else { continue };
        if out.len() >= MAX_NAMES {
            break;
        }
        out.entry(id).or_insert_with(|| name.chars().take(64).collect());
    }
    out
}

/// A root directory: its device and inode.
type Root = (u64, u64);

/// The root directory of a process.
fn root_of(pid: u32) -> Option<Root> {
    std::fs::metadata(format!("/proc/{pid}/root")).ok().map(|m| (m.dev(), m.ino()))
}

/// Names of user and group ids per root directory, read through a process that has it.
#[derive(Default)]
pub struct UserNames {
    dbs: HashMap<(Root, bool), Names, Fast>,
    /// Each cgroup's root when last seen.
    roots: HashMap<u64, Root, Fast>,
    /// The host's root (pid 1's, or where that cannot be read, the sensor's own), once looked up.
    host: Option<Option<Root>>,
}

impl UserNames {
    /// An empty cache.
    pub fn new() -> UserNames {
        UserNames::default()
    }

    /// The name of `id` in database `db` as process `pid` of `cgroup` sees it: [`UserNames::root`], then
    /// [`UserNames::name_in`]. To name several ids of one event, find the root once.
    pub fn name(
        &mut self,
        db: Db,
        cgroup: u64,
        pid: u32,
        others: impl FnOnce() -> Vec<u32>,
        id: u32,
    ) -> Option<String> {
        let seen = self.root(cgroup, pid, others)?;
        self.name_in(seen, db, id)
    }

    /// The root directory process `pid` of `cgroup` sees. When the process is gone (it may have exited by the
    /// time its event is read): the one the cgroup's processes last had, or that of the first of `others()`
    /// (processes of the cgroup) still there.
    pub fn root(&mut self, cgroup: u64, pid: u32, others: impl FnOnce() -> Vec<u32>) -> Option<SeenRoot> {
        let (root, via) = root_of(pid)
            .map(|r| (r, Some(pid)))
            .or_else(|| self.roots.get(&cgroup).map(|r| (*r, None)))
            .or_else(|| others().into_iter().find_map(|p| Some((root_of(p)?, Some(p)))))?;
        if self.roots.len() >= MAX_ROOTS && !self.roots.contains_key(&cgroup) {
            self.roots.clear();
        }
        // A container's cgroup also holds the runtime's helpers for a while (`runc init` before it
        // pivots, or joining for an exec), which have the host's root: they do not replace the container's.
        let host = *self.host.get_or_insert_with(|| root_of(1).or_else(|| root_of(std::process::id())));
        match self.roots.get(&cgroup) {
            Some(_) if Some(root) == host => {}
            _ => {
                self.roots.insert(cgroup, root);
            }
        }
        Some(SeenRoot { root, via })
    }

    /// The name of `id` in database `db` under a root found by [`UserNames::root`]; the file is read again
    /// (through the process it was found by) when it was last checked a second ago or more.
    pub fn name_in(&mut self, seen: SeenRoot, db: Db, id: u32) -> Option<String> {
        let key = (seen.root, db == Db::Users);
        if self.dbs.len() >= MAX_ROOTS && !self.dbs.contains_key(&key) {
            self.dbs.clear();
        }
        let names = self.dbs.entry(key).or_default();
        if let Some(pid) = seen.via.filter(|_| names.checked.is_none_or(|t| t.elapsed() >= RECHECK)) {
            refresh(names, db, pid);
        }
        names.names.get(&id).cloned()
    }
}

/// A root directory found for an event, and the process it can be read through (none: the process is gone
/// and the root is its cgroup's last known).
#[derive(Debug, Clone, Copy)]
pub struct SeenRoot {
    root: Root,
    via: Option<u32>,
}

/// Reads the file again if it changed (or was never read); keeps what was known when it cannot be opened.
fn refresh(names: &mut Names, db: Db, pid: u32) {
    let Ok(mut file) = open_in_root(pid, db.path()) else { return };
    names.checked = Some(Instant::now());
    let Ok(meta) = file.metadata() else { return };
    let id = (meta.dev(), meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec());
    if names.file == Some(id) {
        return;
    }
    names.file = Some(id);
    names.names.clear();
    if !meta.is_file() || meta.size() > MAX_DB_BYTES {
        return;
    }
    let mut text = String::new();
    if (&mut file).take(MAX_DB_BYTES).read_to_string(&mut text).is_ok() {
        names.names = parse_db(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passwd_file_names_each_id_by_its_first_entry() {
        let db = parse_db(
            "root:x:0:0:root:/root:/bin/bash\n\
             # a comment\n\
             www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n\
             toor:x:0:0::/:/bin/sh\n\
             +nis\n\
             broken:x:notanumber:0::/:\n\
             short:x\n\
             nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
        );
        assert_eq!(db.len(), 3);
        assert_eq!(db[&0], "root");
        assert_eq!(db[&33], "www-data");
        assert_eq!(db[&65534], "nobody");
    }

    #[test]
    fn names_are_read_inside_the_processs_root_and_again_when_the_file_changes() {
        // This process's own root: the host's /etc/passwd names uid 0.
        let me = std::process::id();
        let mut u = UserNames::new();
        assert_eq!(u.name(Db::Users, 1, me, Vec::new, 0).as_deref(), Some("root"));
        assert_eq!(u.name(Db::Groups, 1, me, Vec::new, 0).as_deref(), Some("root"));
        // A pid that does not exist reads nothing, and is tried again at the next ask; another process of
        // the cgroup is used in its stead.
        let mut u = UserNames::new();
        assert_eq!(u.name(Db::Users, 2, u32::MAX, Vec::new, 0), None);
        assert_eq!(u.name(Db::Users, 2, u32::MAX, || vec![u32::MAX - 1, me], 0).as_deref(), Some("root"));
    }
}
