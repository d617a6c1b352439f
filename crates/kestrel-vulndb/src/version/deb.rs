//! Debian (dpkg) versions: `[epoch:]upstream[-revision]`, ordered as `dpkg --compare-versions` does.

use super::VersionError;
use std::cmp::Ordering;

/// A parsed Debian version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebVersion {
    epoch: u64,
    upstream: String,
    revision: String,
}

impl DebVersion {
    /// Parses a version the way dpkg does: the epoch is the number before the first `:`, the revision
    /// what follows the last `-`. The upstream part must be non-empty and start with a digit; only the
    /// characters dpkg allows are accepted.
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
                let epoch = e.parse::<u64>().map_err(|_| VersionError::new(s, "epoch too large"))?;
                (epoch, rest)
            }
            None => (0, s),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(VersionError::new(s, "empty upstream version"));
        }
        if !upstream.as_bytes()[0].is_ascii_digit() {
            return Err(VersionError::new(s, "upstream version does not start with a digit"));
        }
        let ok_upstream = |b: u8| b.is_ascii_alphanumeric() || b"~.+-:".contains(&b);
        let ok_revision = |b: u8| b.is_ascii_alphanumeric() || b"~.+".contains(&b);
        if !upstream.bytes().all(ok_upstream) || !revision.bytes().all(ok_revision) {
            return Err(VersionError::new(s, "invalid character in version"));
        }
        if rest.ends_with('-') {
            return Err(VersionError::new(s, "empty revision after '-'"));
        }
        Ok(DebVersion { epoch, upstream: upstream.to_string(), revision: revision.to_string() })
    }
}

impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(self.upstream.as_bytes(), other.upstream.as_bytes()))
            .then_with(|| compare_part(self.revision.as_bytes(), other.revision.as_bytes()))
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Weight of a non-digit character: `~` sorts before everything (even the end of the string), letters
/// before other characters.
fn weight(c: Option<&u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => *c as i32,
        Some(b'~') => -1,
        Some(c) => *c as i32 + 256,
    }
}

/// dpkg's comparison of an upstream version or a revision: alternating runs of non-digits (compared by
/// [`weight`]) and digits (compared as numbers).
fn compare_part(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        // The non-digit run.
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (wa, wb) = (weight(a.get(i)), weight(b.get(j)));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        // The digit run, as a number of any length: skip leading zeros, then the longer run wins,
        // then the first differing digit.
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        DebVersion::parse(a).unwrap().cmp(&DebVersion::parse(b).unwrap())
    }

    #[test]
    fn orders_like_dpkg() {
        use Ordering::*;
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.00", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0", "1.0+b1", Less),
            ("1.0-1", "1.0-1+deb12u1", Less),
            ("2:1.0", "1:9.9", Greater),
            ("1.2.3-1", "1.2.3-10", Less),
            ("1.0a", "1.0+", Less),
            ("1.0", "1.0a", Less),
            ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12", Less),
            ("2.36-9+deb12u4", "2.36-9+deb12u10", Less),
            ("0:1.0", "1.0", Equal),
            ("1.0-0", "1.0", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(cmp(a, b), want, "{a} vs {b}");
            assert_eq!(cmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn rejects_what_dpkg_rejects() {
        for bad in ["", "a1.0", "x:1.0", "1.0-", ":1.0", "1.0 2", "1.0-1_2"] {
            assert!(DebVersion::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(DebVersion::parse("99999999999999999999999:1").is_err());
    }
}
