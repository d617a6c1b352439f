//! NuGet versions (NuGet.Versioning): one to four numeric parts (missing parts are 0), an optional
//! `-`-separated pre-release of `.`-separated labels compared case-insensitively (numeric labels as
//! numbers, before alphanumeric ones), build metadata after `+` ignored.

use super::VersionError;
use std::cmp::Ordering;

/// A NuGet version.
#[derive(Debug, Clone)]
pub struct NuGetVersion {
    parts: [u64; 4],
    pre: Vec<String>,
}

impl NuGetVersion {
    /// Parses a version.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        let t = s.trim();
        let t = t.split_once('+').map_or(t, |(v, _)| v);
        let (core, pre) = match t.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (t, None),
        };
        let nums: Vec<&str> = core.split('.').collect();
        if nums.is_empty() || nums.len() > 4 {
            return Err(VersionError::new(s, "not a NuGet version"));
        }
        let mut parts = [0u64; 4];
        for (k, n) in nums.iter().enumerate() {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(VersionError::new(s, "not a NuGet version"));
            }
            parts[k] = n.parse().map_err(|_| VersionError::new(s, "number too large"))?;
        }
        let pre = match pre {
            None => Vec::new(),
            Some(p) => {
                let labels: Vec<String> = p.split('.').map(str::to_ascii_lowercase).collect();
                if labels.iter().any(|l| l.is_empty() || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) {
                    return Err(VersionError::new(s, "invalid pre-release label"));
                }
                labels
            }
        };
        Ok(NuGetVersion { parts, pre })
    }
}

fn compare_label(a: &str, b: &str) -> Ordering {
    let num = |s: &str| s.bytes().all(|c| c.is_ascii_digit()).then(|| s.trim_start_matches('0').to_string());
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(&y)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts).then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                for (a, b) in self.pre.iter().zip(&other.pre) {
                    let o = compare_label(a, b);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                self.pre.len().cmp(&other.pre.len())
            }
        })
    }
}

impl PartialOrd for NuGetVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for NuGetVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for NuGetVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nuget_order() {
        let n = |s| NuGetVersion::parse(s).unwrap();
        let order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-Beta", "1.0.0-rc.1", "1.0.0", "1.0.0.1", "1.0.1", "13.0.1"];
        for w in order.windows(2) {
            assert!(n(w[0]) < n(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(n("1.0"), n("1.0.0.0"));
        assert_eq!(n("1.0.0-BETA"), n("1.0.0-beta"));
        assert_eq!(n("1.0.0+abc"), n("1.0.0"));
        assert!(NuGetVersion::parse("1.0.0.0.0").is_err());
        assert!(NuGetVersion::parse("v1.0").is_err());
    }
}
