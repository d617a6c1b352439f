//! Packages and where they were found.

use crate::Purl;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The packaging world a package belongs to. The serialised names are stable (they are the purl types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// Debian and Ubuntu packages (dpkg).
    Deb,
    /// Alpine packages (apk).
    Apk,
    /// RPM packages (RHEL, AlmaLinux, Rocky, Fedora, SUSE…).
    Rpm,
    /// Python packages.
    #[serde(rename = "pypi")]
    PyPI,
    /// Node.js packages.
    Npm,
    /// Rust crates.
    Cargo,
    /// Go modules (and the Go standard library, as `stdlib`).
    #[serde(rename = "golang")]
    Go,
    /// Java archives from Maven coordinates.
    Maven,
    /// Ruby gems.
    Gem,
    /// PHP packages (Composer).
    Composer,
    /// .NET packages (NuGet).
    NuGet,
}

impl Ecosystem {
    /// Every ecosystem, in display order.
    pub const ALL: [Ecosystem; 11] = [
        Ecosystem::Deb,
        Ecosystem::Apk,
        Ecosystem::Rpm,
        Ecosystem::PyPI,
        Ecosystem::Npm,
        Ecosystem::Cargo,
        Ecosystem::Go,
        Ecosystem::Maven,
        Ecosystem::Gem,
        Ecosystem::Composer,
        Ecosystem::NuGet,
    ];

    /// The purl type.
    pub fn purl_type(self) -> &'static str {
        match self {
            Ecosystem::Deb => "deb",
            Ecosystem::Apk => "apk",
            Ecosystem::Rpm => "rpm",
            Ecosystem::PyPI => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::Cargo => "cargo",
            Ecosystem::Go => "golang",
            Ecosystem::Maven => "maven",
            Ecosystem::Gem => "gem",
            Ecosystem::Composer => "composer",
            Ecosystem::NuGet => "nuget",
        }
    }

    /// True for packages managed by the operating system's package manager.
    pub fn is_os(self) -> bool {
        matches!(self, Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm)
    }

    /// The OSV ecosystem name for language ecosystems (`None` for OS packages, whose OSV name depends on the
    /// distribution, see [`crate::Distro::osv_ecosystem`]).
    pub fn osv_language_ecosystem(self) -> Option<&'static str> {
        Some(match self {
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Npm => "npm",
            Ecosystem::Cargo => "crates.io",
            Ecosystem::Go => "Go",
            Ecosystem::Maven => "Maven",
            Ecosystem::Gem => "RubyGems",
            Ecosystem::Composer => "Packagist",
            Ecosystem::NuGet => "NuGet",
            Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm => return None,
        })
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.purl_type())
    }
}

/// Where a package was found: a path inside the artifact and, for images, the digest (diff id) of the
/// layer that introduced that file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    /// Absolute path inside the artifact, `/`-separated.
    pub path: String,
    /// `sha256:…` diff id of the layer that last wrote the file; absent for directories and root file systems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

/// The source package an OS package was built from (Debian's `Source:`, Alpine's `origin`, RPM's source RPM).
/// Vulnerability advisories of Debian and Alpine are keyed on it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourcePackage {
    /// Source package name.
    pub name: String,
    /// Source package version (may differ from the binary package's version).
    pub version: String,
}

/// One package found in an artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Package name as the ecosystem spells it (`libc6`, `@babel/core`, `github.com/gorilla/mux`,
    /// `org.apache.commons:commons-lang3` is split into group and name: see `properties`).
    pub name: String,
    /// Version as recorded (Debian epochs included, Go versions with their `v`).
    pub version: String,
    /// The ecosystem.
    pub ecosystem: Ecosystem,
    /// Package URL.
    pub purl: String,
    /// For OS packages: the source package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourcePackage>,
    /// For OS packages: the distribution release it was built for, `ID-VERSION_ID` (`debian-12`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distro: Option<String>,
    /// CPU architecture, when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Declared licences, as written by the package (SPDX expressions where the package used one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    /// Every place the package was seen, sorted.
    pub locations: Vec<Location>,
    /// Diff id of the image layer that introduced this package (version): the layer of its evidence file
    /// (a dpkg `info/*.list`, the first file an apk or rpm package owns, a language package's metadata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Name of the cataloger that found it.
    pub cataloger: String,
    /// Further ecosystem-specific facts (`epoch`, `maven.group`, `go.toolchain`, `main-module`…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

impl Package {
    /// A package with its purl computed from name, version and ecosystem (no namespace or qualifiers;
    /// catalogers that need those set `purl` themselves).
    pub fn new(name: &str, version: &str, ecosystem: Ecosystem, cataloger: &str) -> Self {
        let purl = default_purl(ecosystem, name, version).to_string();
        Package {
            name: name.to_string(),
            version: version.to_string(),
            ecosystem,
            purl,
            source: None,
            distro: None,
            arch: None,
            licenses: Vec::new(),
            locations: Vec::new(),
            layer: None,
            cataloger: cataloger.to_string(),
            properties: BTreeMap::new(),
        }
    }

    /// Adds a location (builder style).
    pub fn at(mut self, path: &str, layer: Option<&str>) -> Self {
        self.locations.push(Location { path: path.to_string(), layer: layer.map(str::to_string) });
        self
    }

    /// The identity used to merge duplicates: ecosystem, name, version and purl.
    pub fn identity(&self) -> (Ecosystem, &str, &str, &str) {
        (self.ecosystem, &self.name, &self.version, &self.purl)
    }
}

/// The purl of a package that needs no distribution qualifiers, split per the ecosystem's namespace rules.
pub fn default_purl(ecosystem: Ecosystem, name: &str, version: &str) -> Purl {
    match ecosystem {
        Ecosystem::PyPI => {
            // purl-spec: PyPI names are lowercased and `_` becomes `-`.
            let n = name.to_ascii_lowercase().replace('_', "-");
            Purl::new("pypi", &n, version)
        }
        Ecosystem::Npm => match name.strip_prefix('@').and_then(|s| s.split_once('/')) {
            Some((scope, n)) => Purl::new("npm", n, version).namespace(&format!("@{scope}")),
            None => Purl::new("npm", name, version),
        },
        Ecosystem::Go | Ecosystem::Composer => match name.rsplit_once('/') {
            Some((ns, n)) => Purl::new(ecosystem.purl_type(), n, version).namespace(ns),
            None => Purl::new(ecosystem.purl_type(), name, version),
        },
        Ecosystem::Maven => match name.split_once(':') {
            Some((g, a)) => Purl::new("maven", a, version).namespace(g),
            None => Purl::new("maven", name, version),
        },
        _ => Purl::new(ecosystem.purl_type(), name, version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_per_ecosystem() {
        let cases = [
            (Ecosystem::PyPI, "Django_Rest", "3.0", "pkg:pypi/django-rest@3.0"),
            (Ecosystem::Npm, "@babel/core", "7.1.0", "pkg:npm/%40babel/core@7.1.0"),
            (Ecosystem::Npm, "lodash", "4.17.21", "pkg:npm/lodash@4.17.21"),
            (Ecosystem::Go, "github.com/a/b/v2", "v2.0.1", "pkg:golang/github.com/a/b/v2@v2.0.1"),
            (Ecosystem::Maven, "org.slf4j:slf4j-api", "2.0.9", "pkg:maven/org.slf4j/slf4j-api@2.0.9"),
            (Ecosystem::Composer, "monolog/monolog", "3.5.0", "pkg:composer/monolog/monolog@3.5.0"),
            (Ecosystem::Cargo, "serde", "1.0.0", "pkg:cargo/serde@1.0.0"),
            (Ecosystem::Gem, "rails", "7.1.2", "pkg:gem/rails@7.1.2"),
            (Ecosystem::NuGet, "Newtonsoft.Json", "13.0.1", "pkg:nuget/Newtonsoft.Json@13.0.1"),
        ];
        for (eco, name, v, want) in cases {
            assert_eq!(default_purl(eco, name, v).to_string(), want, "{eco} {name}");
        }
    }

    #[test]
    fn ecosystem_serde_names_are_stable() {
        let s = serde_json::to_string(&Ecosystem::ALL).unwrap();
        assert_eq!(s, r#"["deb","apk","rpm","pypi","npm","cargo","golang","maven","gem","composer","nuget"]"#);
    }
}
