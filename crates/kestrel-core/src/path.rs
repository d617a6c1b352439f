//! Paths as events carry them.

use std::borrow::Cow;

/// Path prefixes whose mere reading the runtime sensor reports (a read of any other file is not an event).
/// The sensor's BPF program holds the same list (`sensitive()` in `sensor.bpf.c`, which C cannot share).
pub const SENSITIVE_READS: &[&str] = &[
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/root/.ssh/",
    "/etc/kubernetes/",
    "/var/run/secrets/",
    "/run/secrets/",
    "/proc/kcore",
    "/dev/mem",
    "/etc/ld.so.preload",
];

/// Whether reading `path` (absolute, normalized) is reported: it starts with one of [`SENSITIVE_READS`], or it is a
/// process's environment ([`is_process_environment`]).
pub fn is_sensitive_read(path: &str) -> bool {
    SENSITIVE_READS.iter().any(|p| path.starts_with(p)) || is_process_environment(path)
}

/// Whether `path` (absolute, normalized) is a process's or a thread's environment in procfs — `/proc/PID/environ`,
/// `/proc/self/environ`, `/proc/thread-self/environ`, `/proc/PID/task/TID/environ` — where a container's secrets
/// often are (Kubernetes' `env` from a Secret, `docker run -e`): reading it is how code running inside a service
/// takes them without starting a program. (The sensor's BPF program reports a read of any file named `environ`;
/// this decides which of them are kept.)
pub fn is_process_environment(path: &str) -> bool {
    let pid = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let Some(rest) = path.strip_prefix("/proc/").and_then(|r| r.strip_suffix("/environ")) else { return false };
    match rest.split('/').collect::<Vec<_>>()[..] {
        [p] => pid(p) || p == "self" || p == "thread-self",
        [p, "task", t] => (pid(p) || p == "self") && pid(t),
        _ => false,
    }
}

/// An absolute path with `.`, `..` and repeated slashes resolved lexically, as Falco's `fd.name` shows it
/// (`/var/www/../../etc//shadow` → `/etc/shadow`); a relative path is left as given (kestrel does not know
/// the working directory), as is a path with nothing to resolve.
pub fn normalize_path(path: &str) -> Cow<'_, str> {
    let Some(rest) = path.strip_prefix('/') else { return Cow::Borrowed(path) };
    // Clean when no name between slashes is empty (`//`, a trailing `/`), `.` or `..`. Asked of every path an
    // open names, several times (rules, profiles, written files): first a pass the compiler vectorises (no slash
    // followed by a slash or a dot, no trailing slash: clean), then, for a path with a hidden file's name, the
    // names one by one.
    let b = path.as_bytes();
    let suspect = b.iter().zip(&b[1..]).fold(false, |acc, (&x, &y)| acc | ((x == b'/') & ((y == b'/') | (y == b'.'))));
    if rest.is_empty()
        || (!suspect && !rest.ends_with('/'))
        || rest.as_bytes().split(|&b| b == b'/').all(|name| !matches!(name, b"" | b"." | b".."))
    {
        return Cow::Borrowed(path);
    }
    Cow::Owned(resolved(path))
}

/// An absolute path resolved name by name (what [`normalize_path`] gives for a path that is not clean).
fn resolved(path: &str) -> String {
    // One allocation: each name appended after a slash, `..` cutting back to the slash before the last name (a
    // shared library's search paths — `/lib/x86_64-linux-gnu/../lib/tls/…`, tried by the loader at every load — are
    // resolved on every open of a busy server).
    let mut out = String::with_capacity(path.len());
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => out.truncate(out.rfind('/').unwrap_or(0)),
            p => {
                out.push('/');
                out.push_str(p);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_environment_is_a_sensitive_read_and_other_files_named_environ_are_not() {
        for yes in [
            "/proc/self/environ",
            "/proc/thread-self/environ",
            "/proc/1/environ",
            "/proc/4194304/environ",
            "/proc/1/task/17/environ",
            "/proc/self/task/17/environ",
        ] {
            assert!(is_sensitive_read(yes), "{yes}");
        }
        for no in [
            "/proc/environ",
            "/proc//environ",
            "/proc/1a/environ",
            "/proc/self/environment",
            "/proc/self/cmdline",
            "/proc/1/task/environ",
            "/proc/1/task/x/environ",
            "/proc/1/root/proc/1/environ",
            "/srv/app/environ",
            "/tmp/proc/1/environ",
        ] {
            assert!(!is_sensitive_read(no), "{no}");
        }
    }

    #[test]
    fn dots_and_doubled_slashes_resolve_in_absolute_paths_only() {
        for (raw, clean) in [
            ("/etc/shadow", "/etc/shadow"),
            ("/var/www/../../etc//shadow", "/etc/shadow"),
            ("/etc/./shadow", "/etc/shadow"),
            ("//etc/shadow/", "/etc/shadow"),
            ("/../..", "/"),
            ("/", "/"),
            ("shadow", "shadow"),
            ("../etc/shadow", "../etc/shadow"),
            ("/etc/..shadow", "/etc/..shadow"),
            ("/etc/.shadow.", "/etc/.shadow."),
            ("/etc/...", "/etc/..."),
            ("/etc/.", "/etc"),
            ("/etc/..", "/"),
            ("/etc/", "/etc"),
            ("/.", "/"),
            ("//", "/"),
        ] {
            assert_eq!(normalize_path(raw), clean, "{raw}");
        }
        assert!(matches!(normalize_path("/etc/shadow"), Cow::Borrowed(_)), "nothing to resolve, nothing copied");
    }

    /// Every absolute path of up to 11 bytes over `/`, `.` and a letter resolves as the names resolved one by one
    /// say (the quick test of clean paths never lets a `.`, `..` or empty name through, and the one-string resolver
    /// agrees with a list of names).
    #[test]
    fn the_quick_clean_test_agrees_with_resolving_every_path() {
        let mut paths = vec![String::from("/")];
        let mut checked = 0;
        // The names kept in a list, `..` popping one: what `resolved` does in one string.
        let by_names = |path: &str| {
            let mut parts: Vec<&str> = Vec::new();
            for part in path.split('/') {
                match part {
                    "" | "." => {}
                    ".." => {
                        parts.pop();
                    }
                    p => parts.push(p),
                }
            }
            format!("/{}", parts.join("/"))
        };
        while let Some(path) = paths.pop() {
            assert_eq!(resolved(&path), by_names(&path), "{path}");
            assert_eq!(normalize_path(&path), resolved(&path), "{path}");
            checked += 1;
            if path.len() < 11 {
                paths.extend(['/', '.', 'a'].map(|c| format!("{path}{c}")));
            }
        }
        assert_eq!(checked, (0..11).map(|n| 3usize.pow(n)).sum::<usize>());
    }
}
