//! RPM versions: `[epoch:]version[-release]`, ordered by rpm's `rpmvercmp` rules (including `~`, which
//! sorts before anything, and `^`, which sorts after the base version but before anything else).

use super::VersionError;
use std::cmp::Ordering;

/// A parsed RPM EVR (epoch, version, release).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmVersion {
    epoch: u64,
    version: String,
    release: Option<String>,
}

impl RpmVersion {
    /// Parses `[epoch:]version[-release]`; the release is what follows the last `-`.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(VersionError::new(s, "empty version"));
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(VersionError::new(s, "epoch is not a number"));
                }
                (e.parse::<u64>().map_err(|_| VersionError::new(s, "epoch too large"))?, rest)
            }
            None => (0, s),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v, Some(r.to_string())),
            None => (rest, None),
        };
        if version.is_empty() || release.as_deref() == Some("") {
            return Err(VersionError::new(s, "empty version or release"));
        }
        if !rest.bytes().all(|b| b.is_ascii_graphic()) || rest.contains(':') {
            return Err(VersionError::new(s, "invalid character in version"));
        }
        Ok(RpmVersion { epoch, version: version.to_string(), release })
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch.cmp(&other.epoch).then_with(|| rpmvercmp(&self.version, &other.version)).then_with(|| {
            // A missing release compares as an empty one, below every release (`1.0 < 1.0-1`), as
            // rpm's own `rpm.vercmp` does; this keeps the order total.
            rpmvercmp(self.release.as_deref().unwrap_or(""), other.release.as_deref().unwrap_or(""))
        })
    }
}

impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// rpm's segment comparison of two version (or release) strings.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let separator = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while i < a.len() && separator(a[i]) {
            i += 1;
        }
        while j < b.len() && separator(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        // Tilde: sorts before everything, even the end of the string.
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // Caret: like tilde, except that the end of the string sorts before it.
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(ca), Some(_)) = (ca, cb) else { break };
        // One segment: all digits or all letters, taking its kind from `a`.
        let numeric = ca.is_ascii_digit();
        let run = |s: &[u8], from: usize| {
            let mut k = from;
            while k < s.len() && if numeric { s[k].is_ascii_digit() } else { s[k].is_ascii_alphabetic() } {
                k += 1;
            }
            k
        };
        let (ea, eb) = (run(a, i), run(b, j));
        if eb == j {
            // Segments of different kinds: a number is newer than letters.
            return if numeric { Ordering::Greater } else { Ordering::Less };
        }
        let (mut sa, mut sb) = (&a[i..ea], &b[j..eb]);
        if numeric {
            while sa.len() > 1 && sa[0] == b'0' {
                sa = &sa[1..];
            }
            while sb.len() > 1 && sb[0] == b'0' {
                sb = &sb[1..];
            }
            match sa.len().cmp(&sb.len()) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        match sa.cmp(sb) {
            Ordering::Equal => {}
            o => return o,
        }
        i = ea;
        j = eb;
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn rpmvercmp_rules() {
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p2", Less),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git1", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("1.0^git1", "1.0^git2", Less),
            ("1.0^git1~pre", "1.0^git1", Less),
            ("a", "1", Less),
            ("1.05", "1.5", Equal),
            ("1.0010", "1.9", Greater),
            ("1_0", "1.0", Equal),
            ("1..0", "1.0", Equal),
            ("2a", "2.0", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn evr() {
        let p = |s| RpmVersion::parse(s).unwrap();
        assert!(p("1:1.0-1.el9") > p("2.0-1.el9"));
        assert!(p("1.0.9-1.el9") > p("1.0.8-3.el9"));
        assert!(p("3.0.7-27.el9") < p("3.0.7-28.el9_4"));
        assert_eq!(p("0:1.0-1"), p("1.0-1"));
        assert!(RpmVersion::parse("x:1").is_err());
        assert!(RpmVersion::parse("1.0-").is_err());
    }
}
