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

/// Whether reading `path` (absolute, normalized) is reported: it starts with one of [`SENSITIVE_READS`].
pub fn is_sensitive_read(path: &str) -> bool {
    SENSITIVE_READS.iter().any(|p| path.starts_with(p))
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
    /// say (the quick test of clean paths never lets a `.`, `..` or empty name through).
    #[test]
    fn the_quick_clean_test_agrees_with_resolving_every_path() {
        let mut paths = vec![String::from("/")];
        let mut checked = 0;
        while let Some(path) = paths.pop() {
            assert_eq!(normalize_path(&path), resolved(&path), "{path}");
            checked += 1;
            if path.len() < 11 {
                paths.extend(['/', '.', 'a'].map(|c| format!("{path}{c}")));
            }
        }
        assert_eq!(checked, (0..11).map(|n| 3usize.pow(n)).sum::<usize>());
    }
}
