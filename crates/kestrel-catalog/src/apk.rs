//! Alpine (and Wolfi/Chainguard) packages from `/lib/apk/db/installed`, with their origin (source) package.
//! Each package is dated by the layer of the first file it owns.

use crate::text::utf8;
use crate::{os_purl, Cataloger, Context, Found};
use kestrel_core::{Ecosystem, Package, SourcePackage};
use kestrel_image::Want;

/// The apk cataloger.
pub struct ApkCataloger;

const DB: &str = "/lib/apk/db/installed";

impl Cataloger for ApkCataloger {
    fn name(&self) -> &'static str {
        "apk-db"
    }

    fn want(&self, path: &str, _: u64, _: u32) -> Want {
        if path == DB {
            Want::Whole
        } else {
            Want::Skip
        }
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        let Some(bytes) = cx.tree().content(DB) else { return };
        let ns = match cx.distro.map(|d| d.id.as_str()) {
            Some(id @ ("wolfi" | "chainguard" | "postmarketos")) => id.to_string(),
            _ => "alpine".to_string(),
        };
        for e in parse_installed(&utf8(bytes)) {
            out.owned.extend(e.evidence.iter().map(|f| (f.clone(), format!("apk:{}", e.name))));
            let upstream = e.origin.as_deref().filter(|o| *o != e.name);
            let purl = os_purl(cx, "apk", &ns, (&e.name, &e.version), e.arch.as_deref(), upstream);
            let mut p = Package::new(&e.name, &e.version, Ecosystem::Apk, self.name());
            p.purl = purl.to_string();
            p.arch = e.arch.clone();
            p.distro = cx.distro.map(|d| d.release_tag());
            p.source = Some(SourcePackage {
                name: e.origin.clone().unwrap_or_else(|| e.name.clone()),
                version: e.version.clone(),
            });
            if let Some(l) = &e.license {
                p.licenses = vec![l.clone()];
            }
            if let Some(c) = &e.commit {
                p.properties.insert("commit".into(), c.clone());
            }
            if let Some(f) = e.files.iter().find(|f| cx.tree().get(f).is_some()) {
                p.layer = cx.tree().get(f).and_then(|n| cx.layer_of(n));
            }
            p.locations.push(cx.location(DB));
            out.packages.push(p);
        }
    }
}

/// One package of the apk database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApkEntry {
    /// `P:`
    pub name: String,
    /// `V:`
    pub version: String,
    /// `A:`
    pub arch: Option<String>,
    /// `o:` (origin, the source package).
    pub origin: Option<String>,
    /// `L:`
    pub license: Option<String>,
    /// `c:` (aports commit).
    pub commit: Option<String>,
    /// Files owned (`F:` directory + `R:` name), absolute; at most the first few are kept.
    pub files: Vec<String>,
    /// The owned files that are language-package evidence ([`crate::is_evidence`]).
    pub evidence: Vec<String>,
}

/// Parses `/lib/apk/db/installed`: blank-line separated records of `K:value` lines.
pub fn parse_installed(text: &str) -> Vec<ApkEntry> {
    let mut out = Vec::new();
    let mut cur = ApkEntry::default();
    let mut dir = String::new();
    let flush = |cur: &mut ApkEntry, out: &mut Vec<ApkEntry>| {
        let e = std::mem::take(cur);
        if !e.name.is_empty() && !e.version.is_empty() {
            out.push(e);
        }
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            flush(&mut cur, &mut out);
            dir.clear();
            continue;
        }
        let Some((k, v)) = line.split_once(':') else { continue };
        let v = v.trim();
        match k {
            "P" => cur.name = v.to_string(),
            "V" => cur.version = v.to_string(),
            "A" => cur.arch = Some(v.to_string()),
            "o" => cur.origin = Some(v.to_string()),
            "L" => cur.license = Some(v.to_string()).filter(|l| !l.is_empty()),
            "c" => cur.commit = Some(v.to_string()),
            "F" => dir = v.to_string(),
            "R" => {
                let f = if dir.is_empty() { format!("/{v}") } else { format!("/{dir}/{v}") };
                if crate::is_evidence(&f) && cur.evidence.len() < 100_000 {
                    cur.evidence.push(f.clone());
                }
                if cur.files.len() < 8 {
                    cur.files.push(f);
                }
            }
            _ => {}
        }
    }
    flush(&mut cur, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_language_evidence() {
        let db = "P:py3-six\nV:1.16.0-r9\no:py3-six\nF:usr/lib/python3.12/site-packages/six-1.16.0.dist-info\nR:METADATA\nR:RECORD\nF:usr/lib/python3.12/site-packages\nR:six.py\n\n";
        let e = &parse_installed(db)[0];
        assert_eq!(
            e.evidence,
            [
                "/usr/lib/python3.12/site-packages/six-1.16.0.dist-info/METADATA",
                "/usr/lib/python3.12/site-packages/six-1.16.0.dist-info/RECORD"
            ]
        );
    }

    // Cut from a real Alpine 3.20 database.
    const DB_TEXT: &str = "C:Q1o9mF6zZ5C0HTBw8OHrgYm+Yt6Mk=\nP:musl\nV:1.2.5-r0\nA:x86_64\nS:411323\nI:807936\nT:the musl c library (libc) implementation\nU:https://musl.libc.org/\nL:MIT\no:musl\nm:Natanael Copa <ncopa@alpinelinux.org>\nt:1711473420\nc:a7d3ffe0a5a4e6b4c9e3f3c8d5d1f8a0d2e1b6c4\np:so:libc.musl-x86_64.so.1=1\nF:lib\nR:ld-musl-x86_64.so.1\na:0:0:755\nZ:Q1+yRf4NqG0rp3vqbsnqI3CQX3d1A=\nR:libc.musl-x86_64.so.1\n\nC:Q1yfdL9I2HZc0zP8xyLAKhsDwBsys=\nP:libcrypto3\nV:3.3.2-r0\nA:x86_64\nL:Apache-2.0\no:openssl\nF:usr/lib\nR:libcrypto.so.3\n\n";

    #[test]
    fn parses_records_with_origin_and_files() {
        let e = parse_installed(DB_TEXT);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].name, "musl");
        assert_eq!(e[0].files, vec!["/lib/ld-musl-x86_64.so.1", "/lib/libc.musl-x86_64.so.1"]);
        assert_eq!(e[1].origin.as_deref(), Some("openssl"));
        assert_eq!(e[1].files, vec!["/usr/lib/libcrypto.so.3"]);
    }

    #[test]
    fn truncated_record_is_kept_only_when_complete() {
        assert_eq!(parse_installed("P:x\n").len(), 0);
        assert_eq!(parse_installed("P:x\nV:1").len(), 1);
    }
}
