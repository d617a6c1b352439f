//! Version ordering, one scheme per ecosystem, each following the ecosystem's own implementation (and
//! tested against it where the test script can install it: `dpkg`, rpm's Python bindings, Python
//! `packaging`, node `semver`, Go's `x/mod/semver`, Maven's `ComparableVersion`, RubyGems).
//!
//! ```
//! use kestrel_vulndb::version::Scheme;
//! use std::cmp::Ordering;
//! assert_eq!(Scheme::Deb.compare("1.0~rc1", "1.0").unwrap(), Ordering::Less);
//! assert_eq!(Scheme::Pep440.compare("1.0.post1", "1.0").unwrap(), Ordering::Greater);
//! assert!(Scheme::Npm.compare("not-a-version", "1.0.0").is_err());
//! ```

mod apk;
mod composer;
mod deb;
mod gem;
mod maven;
mod nuget;
mod pep440;
mod rpm;
mod semver;

pub use apk::ApkVersion;
pub use composer::{php_version_compare, ComposerVersion};
pub use deb::DebVersion;
pub use gem::GemVersion;
pub use maven::MavenVersion;
pub use nuget::NuGetVersion;
pub use pep440::Pep440Version;
pub use rpm::{rpmvercmp, RpmVersion};
pub use semver::SemVersion;

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

/// A version string that its ecosystem cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("version {version:?}: {reason}")]
pub struct VersionError {
    /// The text as given.
    pub version: String,
    /// Why it was refused.
    pub reason: String,
}

impl VersionError {
    pub(crate) fn new(version: &str, reason: impl Into<String>) -> Self {
        VersionError { version: version.chars().take(80).collect(), reason: reason.into() }
    }
}

/// How an ecosystem orders versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Debian and Ubuntu (dpkg).
    Deb,
    /// RPM (RHEL family, SUSE).
    Rpm,
    /// Alpine and Wolfi (apk-tools).
    Apk,
    /// Python (PEP 440).
    Pep440,
    /// npm (node-semver: SemVer 2.0 with a tolerated leading `v` or `=`).
    Npm,
    /// crates.io (strict SemVer 2.0).
    Cargo,
    /// Go modules (`v`-prefixed SemVer, short forms, pseudo-versions).
    Go,
    /// Maven (`ComparableVersion`).
    Maven,
    /// RubyGems (`Gem::Version`).
    Gem,
    /// NuGet (NuGet.Versioning).
    NuGet,
    /// Packagist (Composer normalisation + PHP `version_compare`).
    Composer,
}

/// A parsed version of some [`Scheme`]; versions of different schemes do not compare.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Version {
    Deb(DebVersion),
    Rpm(RpmVersion),
    Apk(ApkVersion),
    Pep440(Pep440Version),
    Sem(SemVersion),
    Maven(MavenVersion),
    Gem(GemVersion),
    NuGet(NuGetVersion),
    Composer(ComposerVersion),
}

impl Scheme {
    /// Every scheme.
    pub const ALL: [Scheme; 11] = [
        Scheme::Deb,
        Scheme::Rpm,
        Scheme::Apk,
        Scheme::Pep440,
        Scheme::Npm,
        Scheme::Cargo,
        Scheme::Go,
        Scheme::Maven,
        Scheme::Gem,
        Scheme::NuGet,
        Scheme::Composer,
    ];

    /// Parses `s` in this scheme.
    pub fn parse(self, s: &str) -> Result<Version, VersionError> {
        if s.len() > 256 {
            return Err(VersionError::new(s, "longer than 256 bytes"));
        }
        Ok(match self {
            Scheme::Deb => Version::Deb(DebVersion::parse(s)?),
            Scheme::Rpm => Version::Rpm(RpmVersion::parse(s)?),
            Scheme::Apk => Version::Apk(ApkVersion::parse(s)?),
            Scheme::Pep440 => Version::Pep440(Pep440Version::parse(s)?),
            Scheme::Npm => Version::Sem(SemVersion::parse_npm(s)?),
            Scheme::Cargo => Version::Sem(SemVersion::parse_strict(s)?),
            Scheme::Go => Version::Sem(SemVersion::parse_go(s)?),
            Scheme::Maven => Version::Maven(MavenVersion::parse(s)?),
            Scheme::Gem => Version::Gem(GemVersion::parse(s)?),
            Scheme::NuGet => Version::NuGet(NuGetVersion::parse(s)?),
            Scheme::Composer => Version::Composer(ComposerVersion::parse(s)?),
        })
    }

    /// Parses both and compares them.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        let (a, b) = (self.parse(a)?, self.parse(b)?);
        Ok(a.partial_cmp(&b).expect("same scheme"))
    }

    /// The scheme of an OSV ecosystem name (`Debian:12`, `PyPI`, `AlmaLinux:9`…), if kestrel orders it.
    pub fn of_osv_ecosystem(ecosystem: &str) -> Option<Scheme> {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        Some(match base {
            "Debian" | "Ubuntu" => Scheme::Deb,
            "Alpine" | "Wolfi" | "Chainguard" => Scheme::Apk,
            "AlmaLinux" | "Rocky Linux" | "Red Hat" | "openSUSE" | "SUSE" | "Mageia" | "openEuler" => Scheme::Rpm,
            "PyPI" => Scheme::Pep440,
            "npm" => Scheme::Npm,
            "crates.io" => Scheme::Cargo,
            "Go" => Scheme::Go,
            "Maven" => Scheme::Maven,
            "RubyGems" => Scheme::Gem,
            "NuGet" => Scheme::NuGet,
            "Packagist" => Scheme::Composer,
            _ => return None,
        })
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        f.write_str(&s)
    }
}

impl PartialOrd for Version {
    /// `None` when the two are of different schemes.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        use Version::*;
        Some(match (self, other) {
            (Deb(a), Deb(b)) => a.cmp(b),
            (Rpm(a), Rpm(b)) => a.cmp(b),
            (Apk(a), Apk(b)) => a.cmp(b),
            (Pep440(a), Pep440(b)) => a.cmp(b),
            (Sem(a), Sem(b)) => a.cmp(b),
            (Maven(a), Maven(b)) => a.cmp(b),
            (Gem(a), Gem(b)) => a.cmp(b),
            (NuGet(a), NuGet(b)) => a.cmp(b),
            (Composer(a), Composer(b)) => a.cmp(b),
            _ => return None,
        })
    }
}
