//! The software bill of materials of one scanned target.

use crate::{Ecosystem, Package};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version tag of kestrel's own SBOM JSON. Bumped on any incompatible change; additive changes keep it.
pub const SBOM_SCHEMA: &str = "kestrel.sbom/v1";

/// What kind of thing was scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// A `docker save` archive.
    DockerArchive,
    /// An OCI image layout (directory or tar).
    OciLayout,
    /// An unpacked root file system.
    Rootfs,
    /// A project directory (lock files and manifests).
    Directory,
}

/// One layer of a scanned image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRef {
    /// Position, 0 is the base layer.
    pub index: usize,
    /// Digest of the uncompressed layer tar (`sha256:…`, the image config's diff id).
    pub diff_id: String,
    /// Digest of the blob as stored (compressed), when different from the diff id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_digest: Option<String>,
    /// Media type of the blob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Size of the blob in bytes.
    pub size: u64,
    /// The Dockerfile step that created it, from the image history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// The scanned artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanTarget {
    /// Kind of input.
    pub kind: TargetKind,
    /// What the user named (path, `oci:DIR:TAG`…).
    pub name: String,
    /// Image id: digest of the image configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// Digest of the image manifest, when the layout records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
    /// Digest of the multi-platform index the manifest was chosen from, when there was one: what a registry's tag
    /// points at, and the digest a node pulled such an image by (the kubelet's `imageID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<String>,
    /// Repository tags recorded in the archive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `os/arch[/variant]` of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Layers, base first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerRef>,
}

/// The hex digits of a SHA-256 digest as images spell it (`sha256:` and 64 lower-case hex digits); `None` for anything
/// else.
pub fn sha256_hex(digest: &str) -> Option<&str> {
    digest.strip_prefix("sha256:").filter(|h| is_sha256_hex(h))
}

/// Whether `h` is the 64 lower-case hex digits of a SHA-256 digest, without `sha256:` (an image or layer id as
/// stores write it).
pub fn is_sha256_hex(h: &str) -> bool {
    h.len() == 64 && is_lower_hex(h)
}

/// Whether every character is a lower-case hex digit, as digests spell them.
pub fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl ScanTarget {
    /// A target without image metadata (a root file system or a directory).
    pub fn unlayered(kind: TargetKind, name: impl Into<String>) -> Self {
        ScanTarget {
            kind,
            name: name.into(),
            image_id: None,
            manifest_digest: None,
            index_digest: None,
            tags: vec![],
            platform: None,
            layers: vec![],
        }
    }
}

/// The operating system release found in the artifact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    /// `ID` from os-release, lowercase (`debian`, `alpine`, `almalinux`, `rhel`…).
    pub id: String,
    /// `VERSION_ID` (`12`, `3.20.3`, `9.4`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `VERSION_CODENAME` (`bookworm`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// `ID_LIKE`, split.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_like: Vec<String>,
    /// `PRETTY_NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// The file it was read from.
    pub source_file: String,
    /// True when no os-release exists but the package database shows a distroless image (dpkg `status.d`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub distroless: bool,
}

impl Distro {
    /// `ID-VERSION_ID`, the release tag put on OS packages and in purls (`debian-12`, `alpine-3.20.3`).
    pub fn release_tag(&self) -> String {
        match &self.version_id {
            Some(v) => format!("{}-{}", self.id, v),
            None => self.id.clone(),
        }
    }

    /// The major release (`12`, `3.20` for Alpine, `9` for RHEL-family), used to name OSV ecosystems.
    pub fn major_release(&self) -> Option<String> {
        let v = self.version_id.as_deref()?;
        let mut parts = v.split('.');
        let first = parts.next()?;
        Some(if self.id == "alpine" || self.id == "ubuntu" {
            match parts.next() {
                Some(second) => format!("{first}.{second}"),
                None => first.to_string(),
            }
        } else {
            first.to_string()
        })
    }

    /// The OSV ecosystem of this release's OS packages (`Debian:12`, `Alpine:v3.20`, `AlmaLinux:9`).
    pub fn osv_ecosystem(&self) -> Option<String> {
        let major = self.major_release()?;
        let name = match self.id.as_str() {
            "debian" => "Debian",
            "ubuntu" => "Ubuntu",
            "alpine" => return Some(format!("Alpine:v{major}")),
            "almalinux" => "AlmaLinux",
            "rocky" => "Rocky Linux",
            "rhel" => "Red Hat",
            "opensuse-leap" | "opensuse" => "openSUSE",
            "sles" => "SUSE",
            "wolfi" => return Some("Wolfi".into()),
            "chainguard" => return Some("Chainguard".into()),
            _ => return None,
        };
        Some(format!("{name}:{major}"))
    }
}

/// Something that went wrong without stopping the scan: a file that could not be parsed, an unsafe path
/// skipped, a limit reached. Every warning names the path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Warning {
    /// The file (inside the artifact, or on disk) concerned.
    pub path: String,
    /// What happened.
    pub message: String,
}

/// Name and version of the tool that produced a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// `kestrel`.
    pub name: String,
    /// Crate version.
    pub version: String,
}

/// The inventory of one artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sbom {
    /// Always [`SBOM_SCHEMA`].
    pub schema: String,
    /// Producer.
    pub tool: Tool,
    /// When it was made, RFC 3339 UTC.
    pub created: String,
    /// The scanned artifact.
    pub target: ScanTarget,
    /// Operating system, when one was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distro: Option<Distro>,
    /// Packages, sorted by ecosystem, name, version, purl.
    pub packages: Vec<Package>,
    /// Problems met (unparsable files, skipped entries), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

impl Sbom {
    /// Sorts packages and warnings into their canonical order and merges packages with the same identity
    /// (their locations are joined).
    pub fn normalize(&mut self) {
        let mut merged: BTreeMap<(Ecosystem, String, String, String), Package> = BTreeMap::new();
        for p in self.packages.drain(..) {
            let key = (p.ecosystem, p.name.clone(), p.version.clone(), p.purl.clone());
            match merged.get_mut(&key) {
                Some(existing) => {
                    existing.locations.extend(p.locations);
                    for l in p.licenses {
                        if !existing.licenses.contains(&l) {
                            existing.licenses.push(l);
                        }
                    }
                    for (k, v) in p.properties {
                        existing.properties.entry(k).or_insert(v);
                    }
                }
                None => {
                    merged.insert(key, p);
                }
            }
        }
        self.packages = merged.into_values().collect();
        for p in &mut self.packages {
            p.locations.sort();
            p.locations.dedup();
        }
        self.warnings.sort();
        self.warnings.dedup();
    }

    /// Number of packages per ecosystem.
    pub fn counts(&self) -> BTreeMap<Ecosystem, usize> {
        let mut m = BTreeMap::new();
        for p in &self.packages {
            *m.entry(p.ecosystem).or_insert(0) += 1;
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distro(id: &str, v: &str) -> Distro {
        Distro { id: id.into(), version_id: Some(v.into()), ..Default::default() }
    }

    #[test]
    fn osv_ecosystem_names() {
        assert_eq!(distro("debian", "12").osv_ecosystem().as_deref(), Some("Debian:12"));
        assert_eq!(distro("alpine", "3.20.3").osv_ecosystem().as_deref(), Some("Alpine:v3.20"));
        assert_eq!(distro("almalinux", "9.4").osv_ecosystem().as_deref(), Some("AlmaLinux:9"));
        assert_eq!(distro("ubuntu", "22.04").osv_ecosystem().as_deref(), Some("Ubuntu:22.04"));
        assert_eq!(distro("alpine", "3.20.3").release_tag(), "alpine-3.20.3");
    }

    #[test]
    fn normalize_merges_and_sorts() {
        let a = Package::new("b", "1", Ecosystem::Npm, "t").at("/x/b", None);
        let b = Package::new("a", "1", Ecosystem::Npm, "t").at("/x/a", None);
        let c = Package::new("b", "1", Ecosystem::Npm, "t").at("/y/b", Some("sha256:1"));
        let mut s = Sbom {
            schema: SBOM_SCHEMA.into(),
            tool: Tool { name: "kestrel".into(), version: "0".into() },
            created: "2026-01-01T00:00:00Z".into(),
            target: ScanTarget {
                kind: TargetKind::Directory,
                name: ".".into(),
                image_id: None,
                manifest_digest: None,
                index_digest: None,
                tags: vec![],
                platform: None,
                layers: vec![],
            },
            distro: None,
            packages: vec![a, b, c],
            warnings: vec![],
        };
        s.normalize();
        assert_eq!(s.packages.len(), 2);
        assert_eq!(s.packages[0].name, "a");
        assert_eq!(s.packages[1].locations.len(), 2);
    }
}
