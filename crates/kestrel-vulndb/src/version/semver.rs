//! Semantic versions (npm, crates.io, Go modules): precedence by SemVer 2.0 — major, minor, patch, then
//! pre-release identifiers; build metadata (`+…`, Go's `+incompatible`) never counts.

use super::VersionError;
use std::cmp::Ordering;

/// A semantic version ordered by SemVer precedence.
#[derive(Debug, Clone)]
pub struct SemVersion(semver::Version);

impl SemVersion {
    /// Strict SemVer 2.0 (crates.io).
    pub fn parse_strict(s: &str) -> Result<Self, VersionError> {
        semver::Version::parse(s.trim()).map(SemVersion).map_err(|e| VersionError::new(s, e.to_string()))
    }

    /// npm's reading: a leading `v` or `=` and surrounding spaces are allowed, as node-semver's
    /// `SemVer` constructor allows them.
    pub fn parse_npm(s: &str) -> Result<Self, VersionError> {
        let t = s.trim();
        let t = t.strip_prefix('=').unwrap_or(t).trim_start();
        let t = t.strip_prefix('v').unwrap_or(t);
        Self::parse_strict(t).map_err(|e| VersionError::new(s, e.reason))
    }

    /// Go module versions: `v1` and `v1.2` are short for `v1.0.0` and `v1.2.0` (golang.org/x/mod/semver);
    /// pseudo-versions are pre-releases and order by their timestamp. The `v` is optional because OSV's
    /// Go records write versions without it; a Go toolchain's `go1.22.1` is read too (`go1.21rc2` is
    /// `1.21.0-rc2`).
    pub fn parse_go(s: &str) -> Result<Self, VersionError> {
        let t = s.trim();
        if let Some(tool) = t.strip_prefix("go") {
            return Self::parse_go_toolchain(tool).ok_or_else(|| VersionError::new(s, "not a Go toolchain version"));
        }
        let rest = t.strip_prefix('v').unwrap_or(t);
        // Only the release part may be shortened, and only when nothing follows it.
        let core_end = rest.find(['-', '+']).unwrap_or(rest.len());
        let core = &rest[..core_end];
        let padded = match core.matches('.').count() {
            0 if core_end == rest.len() => format!("{core}.0.0"),
            1 if core_end == rest.len() => format!("{core}.0"),
            _ => rest.to_string(),
        };
        Self::parse_strict(&padded).map_err(|e| VersionError::new(s, e.reason))
    }
}

impl SemVersion {
    fn parse_go_toolchain(t: &str) -> Option<Self> {
        let pre_at = t.find(|c: char| c.is_ascii_alphabetic());
        let (core, pre) = match pre_at {
            Some(i) => (&t[..i], Some(&t[i..])),
            None => (t, None),
        };
        let mut nums = core.split('.').map(|n| n.parse::<u64>().ok());
        let major = nums.next()??;
        let minor = nums.next().unwrap_or(Some(0))?;
        let patch = nums.next().unwrap_or(Some(0))?;
        if nums.next().is_some() {
            return None;
        }
        let text = match pre {
            Some(p) if p.bytes().all(|b| b.is_ascii_alphanumeric()) => format!("{major}.{minor}.{patch}-{p}"),
            Some(_) => return None,
            None => format!("{major}.{minor}.{patch}"),
        };
        semver::Version::parse(&text).ok().map(SemVersion)
    }
}

impl PartialEq for SemVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for SemVersion {}

impl Ord for SemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.0, &other.0);
        (a.major, a.minor, a.patch).cmp(&(b.major, b.minor, b.patch)).then_with(|| a.pre.cmp(&b.pre))
    }
}

impl PartialOrd for SemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        let n = |s| SemVersion::parse_npm(s).unwrap();
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.10.0",
        ];
        for w in order.windows(2) {
            assert!(n(w[0]) < n(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(n("v1.2.3+build.5"), n("=1.2.3"));
        assert!(SemVersion::parse_npm("1.2").is_err());
        assert!(SemVersion::parse_npm("01.2.3").is_err());
    }

    #[test]
    fn go_versions() {
        let g = |s| SemVersion::parse_go(s).unwrap();
        assert_eq!(g("v1.2"), g("v1.2.0"));
        assert_eq!(g("v2.0.0+incompatible"), g("v2.0.0"));
        assert!(g("v0.0.0-20191109021931-daa7c04131f5") < g("v0.0.0-20200101000000-aaaaaaaaaaaa"));
        assert!(g("v1.2.4-0.20191109021931-daa7c04131f5") < g("v1.2.4"));
        assert!(g("v1.2.4-0.20191109021931-daa7c04131f5") > g("v1.2.3"));
        assert_eq!(g("1.2.3"), g("v1.2.3"));
        assert_eq!(g("go1.22"), g("1.22.0"));
        assert!(g("go1.21rc2") < g("go1.21.0"));
        assert!(g("go1.21.4") > g("1.21.3"));
        assert!(SemVersion::parse_go("gofoo").is_err());
        assert!(SemVersion::parse_go("v1.2-pre").is_err());
    }
}
