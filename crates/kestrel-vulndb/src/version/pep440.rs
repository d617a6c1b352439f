//! Python versions (PEP 440) through `pep440_rs`: epochs, pre-, post- and dev-releases, local versions,
//! and the normalisations PEP 440 allows (`1.0-RC1` is `1.0rc1`).

use super::VersionError;
use std::cmp::Ordering;
use std::str::FromStr;

/// A PEP 440 version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pep440Version(pep440_rs::Version);

impl Pep440Version {
    /// Parses a version; legacy versions that are not PEP 440 (`2004d`, `dev`) are errors, as they are
    /// for `packaging.version.Version`.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        pep440_rs::Version::from_str(s.trim()).map(Pep440Version).map_err(|e| VersionError::new(s, e.to_string()))
    }
}

impl Ord for Pep440Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl PartialOrd for Pep440Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep440_order() {
        let p = |s| Pep440Version::parse(s).unwrap();
        let order = ["1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0+local", "1.0.post1", "1.1", "1!0.1"];
        for w in order.windows(2) {
            assert!(p(w[0]) < p(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(p("1.0-RC1"), p("1.0rc1"));
        assert_eq!(p("1.0"), p("1.0.0"));
        assert!(Pep440Version::parse("2004d").is_err());
    }
}
