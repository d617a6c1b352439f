//! Debian packages from the dpkg database: `/var/lib/dpkg/status` and, in distroless images,
//! `/var/lib/dpkg/status.d/*`. Keeps the source package and its version (Debian's advisories are keyed on
//! them), reads licences from `/usr/share/doc/<package>/copyright` (DEP-5 `License:` fields) and dates each
//! package by the layer of its `info/<package>.list` file, which dpkg writes when it installs that version.

use crate::text::{field, paragraphs, utf8};
use crate::{file_name, os_purl, Cataloger, Context, Found};
use kestrel_core::{Ecosystem, Package, SourcePackage};
use kestrel_image::Want;

/// The dpkg cataloger.
pub struct DpkgCataloger;

const STATUS: &str = "/var/lib/dpkg/status";
const STATUS_D: &str = "/var/lib/dpkg/status.d/";
const INFO: &str = "/var/lib/dpkg/info/";
/// Tag of the summary of an `info/*.list` file: the evidence paths it lists (see [`crate::is_evidence`]).
const LIST_TAG: &[u8] = b"kestrel-dpkg-list\n";

impl Cataloger for DpkgCataloger {
    fn name(&self) -> &'static str {
        "dpkg-db"
    }

    fn want(&self, path: &str, _: u64, _: u32) -> Want {
        if path.starts_with(INFO) && path.ends_with(".list") && !path[INFO.len()..].contains('/') {
            return Want::Summary;
        }
        let wanted = path == STATUS
            || (path.starts_with(STATUS_D) && !path.ends_with(".md5sums") && !path[STATUS_D.len()..].contains('/'))
            || (path.starts_with("/usr/share/doc/") && path.ends_with("/copyright") && path.matches('/').count() == 5);
        if wanted {
            Want::Whole
        } else {
            Want::Skip
        }
    }

    fn summarize(&self, path: &str, data: &[u8]) -> Option<Vec<u8>> {
        if !path.ends_with(".list") {
            return None;
        }
        let mut s = LIST_TAG.to_vec();
        for line in data.split(|b| *b == b'\n') {
            if let Ok(l) = std::str::from_utf8(line) {
                if crate::is_evidence(l) {
                    s.extend_from_slice(line);
                    s.push(b'\n');
                }
            }
        }
        Some(s)
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        for (path, node) in cx.tree().kept() {
            let kestrel_image::Content::Summary(s) = &node.content else { continue };
            let (Some(lines), Some(file)) = (s.strip_prefix(LIST_TAG), path.strip_prefix(INFO)) else { continue };
            let owner = file.trim_end_matches(".list");
            let owner = owner.split(':').next().unwrap_or(owner);
            for l in String::from_utf8_lossy(lines).lines() {
                out.owned.push((l.to_string(), format!("deb:{owner}")));
            }
        }
        let mut dbs: Vec<String> = Vec::new();
        if cx.tree().get(STATUS).is_some() {
            dbs.push(STATUS.to_string());
        }
        dbs.extend(
            cx.tree()
                .below("/var/lib/dpkg/status.d")
                .map(|(p, _)| p.to_string())
                .filter(|p| self.want(p, 0, 0) == Want::Whole),
        );
        for db in dbs {
            let Some(bytes) = cx.tree().content(&db) else { continue };
            let text = utf8(bytes);
            for pkg in parse_status(&text) {
                out.packages.push(self.package(cx, pkg, &db));
            }
        }
    }
}

/// One entry of a dpkg status file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgEntry {
    /// `Package`.
    pub name: String,
    /// `Version`.
    pub version: String,
    /// `Architecture`.
    pub arch: Option<String>,
    /// Source package name (the binary's own name when `Source` is absent).
    pub source_name: String,
    /// Source version (the binary's version when `Source` gives none).
    pub source_version: String,
    /// `Maintainer`.
    pub maintainer: Option<String>,
}

/// Parses a status file, keeping packages whose `Status` says they are installed (entries without a
/// `Status` field, as in distroless `status.d`, count as installed).
pub fn parse_status(text: &str) -> Vec<DpkgEntry> {
    let mut out = Vec::new();
    for para in paragraphs(text) {
        let (Some(name), Some(version)) = (field(&para, "Package"), field(&para, "Version")) else { continue };
        if name.is_empty() || version.is_empty() {
            continue;
        }
        if let Some(status) = field(&para, "Status") {
            // `want flag state`: only the state matters; `config-files`, `not-installed`… are gone.
            let state = status.split_whitespace().nth(2).unwrap_or("");
            if !matches!(state, "installed" | "half-configured" | "unpacked" | "triggers-awaited" | "triggers-pending")
            {
                continue;
            }
        }
        let (source_name, source_version) = match field(&para, "Source") {
            Some(s) if !s.is_empty() => match s.split_once('(') {
                Some((n, v)) => (n.trim().to_string(), v.trim_end_matches(')').trim().to_string()),
                None => (s.trim().to_string(), version.to_string()),
            },
            _ => (name.to_string(), version.to_string()),
        };
        out.push(DpkgEntry {
            name: name.to_string(),
            version: version.to_string(),
            arch: field(&para, "Architecture").map(str::to_string),
            source_name,
            source_version,
            maintainer: field(&para, "Maintainer").map(str::to_string),
        });
    }
    out
}

/// Licences named by a Debian copyright file: DEP-5 `License:` fields (first line of each) and references to
/// `/usr/share/common-licenses/NAME` in free-form files, deduplicated, in order of appearance.
pub fn copyright_licenses(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |l: &str| {
        if !l.is_empty() && l.len() < 120 && !out.iter().any(|o| o == l) {
            out.push(l.to_string());
        }
    };
    const COMMON: &str = "/usr/share/common-licenses/";
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("License:") {
            add(rest.trim());
        }
        let mut rest = line;
        while let Some(i) = rest.find(COMMON) {
            rest = &rest[i + COMMON.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_')))
                .unwrap_or(rest.len());
            add(rest[..end].trim_end_matches('.'));
        }
    }
    out
}

impl DpkgCataloger {
    fn package(&self, cx: &Context<'_>, e: DpkgEntry, db: &str) -> Package {
        let distro_ns = cx.distro.map(|d| d.id.clone()).unwrap_or_else(|| "debian".into());
        let upstream = match (e.source_name != e.name, e.source_version != e.version) {
            (_, true) => Some(format!("{}@{}", e.source_name, e.source_version)),
            (true, false) => Some(e.source_name.clone()),
            (false, false) => None,
        };
        let purl = os_purl(cx, "deb", &distro_ns, (&e.name, &e.version), e.arch.as_deref(), upstream.as_deref());
        let mut p = Package::new(&e.name, &e.version, Ecosystem::Deb, self.name());
        p.purl = purl.to_string();
        p.arch = e.arch.clone();
        p.distro = cx.distro.map(|d| d.release_tag());
        p.source = Some(SourcePackage { name: e.source_name.clone(), version: e.source_version.clone() });
        if let Some(m) = &e.maintainer {
            p.properties.insert("maintainer".into(), m.clone());
        }
        // The .list file marks the layer that installed this version; fall back to the database itself.
        let arch_list = e.arch.as_ref().map(|a| format!("/var/lib/dpkg/info/{}:{a}.list", e.name));
        let list = [arch_list, Some(format!("/var/lib/dpkg/info/{}.list", e.name))]
            .into_iter()
            .flatten()
            .find(|l| cx.tree().get(l).is_some());
        if let Some(l) = &list {
            cx.locate(&mut p, l);
        }
        cx.locate(&mut p, db);
        if db.starts_with(STATUS_D) && file_name(db) != e.name {
            p.properties.insert("status-file".into(), db.to_string());
        }
        let copyright = format!("/usr/share/doc/{}/copyright", e.name);
        if let Some(text) = cx.tree().content(&copyright) {
            p.licenses = copyright_licenses(&utf8(text));
            p.locations.push(cx.location(&copyright));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_TEXT: &str = "Package: libc6\nStatus: install ok installed\nPriority: optional\nSection: libs\nInstalled-Size: 12986\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\nArchitecture: amd64\nMulti-Arch: same\nSource: glibc\nVersion: 2.36-9+deb12u4\nDescription: GNU C Library: Shared libraries\n Contains the standard libraries.\n\nPackage: removed\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n\nPackage: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl (3.0.11-1~deb12u2)\nVersion: 3.0.11-1~deb12u2\n\nPackage: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n";

    #[test]
    fn parses_installed_entries_with_sources() {
        let e = parse_status(STATUS_TEXT);
        assert_eq!(e.len(), 3, "config-files entries are not installed");
        assert_eq!(e[0].source_name, "glibc");
        assert_eq!(e[0].source_version, "2.36-9+deb12u4");
        assert_eq!(e[1].source_name, "openssl");
        assert_eq!(e[1].source_version, "3.0.11-1~deb12u2");
        assert_eq!(e[2].source_name, "tzdata");
        assert_eq!(e[2].arch.as_deref(), Some("all"));
    }

    #[test]
    fn binnmu_source_version_differs() {
        let e = parse_status("Package: x\nSource: y (1.0-1)\nVersion: 1.0-1+b2\n");
        assert_eq!((e[0].source_name.as_str(), e[0].source_version.as_str()), ("y", "1.0-1"));
    }

    #[test]
    fn garbage_does_not_panic() {
        assert!(parse_status("\0\0\nPackage:\nVersion:\n:::\n\n\n").is_empty());
    }

    #[test]
    fn licenses_from_dep5() {
        let c = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-2+\n\nFiles: debian/*\nLicense: GPL-2+\n\nLicense: LGPL-2.1\n text\n";
        assert_eq!(copyright_licenses(c), vec!["GPL-2+", "LGPL-2.1"]);
        let free = "can be found in `/usr/share/common-licenses/LGPL-2.1'.\nand in /usr/share/common-licenses/GPL-2.\n";
        assert_eq!(copyright_licenses(free), vec!["LGPL-2.1", "GPL-2"]);
    }
}
