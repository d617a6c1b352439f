//! Java archives (jar, war, ear and friends): Maven coordinates from `META-INF/maven/**/pom.properties`,
//! falling back to `META-INF/MANIFEST.MF` and then the file name; nested archives (`WEB-INF/lib/*.jar`,
//! Spring Boot's `BOOT-INF/lib/*.jar`) are opened recursively, bounded in depth and inflated size.

use crate::text::key_values;
use crate::{file_name, Cataloger, Context, Found};
use kestrel_core::{Ecosystem, Package};
use kestrel_image::{Content, Want};
use serde::{Deserialize, Serialize};
use std::io::{Cursor, Read};

/// The Java archive cataloger.
pub struct JavaArchiveCataloger;

const EXTENSIONS: [&str; 10] = [".jar", ".war", ".ear", ".par", ".sar", ".nar", ".jpi", ".hpi", ".kar", ".lpkg"];
const TAG: &[u8] = b"kestrel-java\n";
const MAX_DEPTH: usize = 3;
const MAX_INFLATED: u64 = 1 << 30;
const MAX_ENTRY: u64 = 256 << 20;

fn is_archive_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    EXTENSIONS.iter().any(|e| lower.ends_with(e))
}

/// One Java package found in an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JavaPackage {
    /// Maven group id, when known.
    pub group: Option<String>,
    /// Artifact id (or the best name available).
    pub artifact: String,
    /// Version.
    pub version: String,
    /// Path inside the outer archive (`app.war:WEB-INF/lib/x.jar`), empty for the archive itself.
    pub inner: String,
    /// Where the coordinates came from: `pom.properties`, `manifest`, `file name`.
    pub evidence: String,
}

impl Cataloger for JavaArchiveCataloger {
    fn name(&self) -> &'static str {
        "java-archive"
    }

    fn want(&self, path: &str, _: u64, _: u32) -> Want {
        if is_archive_name(path) {
            Want::Summary
        } else {
            Want::Skip
        }
    }

    fn summarize(&self, path: &str, data: &[u8]) -> Option<Vec<u8>> {
        let mut budget = MAX_INFLATED;
        let mut found = Vec::new();
        let mut errors = Vec::new();
        scan_archive(file_name(path), data, "", 0, &mut budget, &mut found, &mut errors);
        let mut s = TAG.to_vec();
        s.extend_from_slice(serde_json::to_string(&(found, errors)).ok()?.as_bytes());
        Some(s)
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        for (path, node) in cx.tree().kept() {
            let Content::Summary(s) = &node.content else { continue };
            let Some(json) = s.strip_prefix(TAG) else { continue };
            let Ok((found, errors)) = serde_json::from_slice::<(Vec<JavaPackage>, Vec<String>)>(json) else { continue };
            for e in errors {
                out.warn(path, e);
            }
            for j in found {
                let name = match &j.group {
                    Some(g) => format!("{g}:{}", j.artifact),
                    None => j.artifact.clone(),
                };
                let mut p = Package::new(&name, &j.version, Ecosystem::Maven, self.name());
                p.properties.insert("java.evidence".into(), j.evidence.clone());
                cx.locate(&mut p, path);
                if !j.inner.is_empty() {
                    p.properties.insert("java.inner-path".into(), j.inner.clone());
                }
                out.packages.push(p);
            }
        }
    }
}

/// `commons-lang3-3.12.0` → (`commons-lang3`, `3.12.0`).
fn split_file_name(stem: &str) -> (String, Option<String>) {
    let bytes = stem.as_bytes();
    for i in 0..bytes.len().saturating_sub(1) {
        if bytes[i] == b'-' && bytes[i + 1].is_ascii_digit() {
            return (stem[..i].to_string(), Some(stem[i + 1..].to_string()));
        }
    }
    (stem.to_string(), None)
}

fn scan_archive(
    name: &str,
    data: &[u8],
    inner: &str,
    depth: usize,
    budget: &mut u64,
    found: &mut Vec<JavaPackage>,
    errors: &mut Vec<String>,
) {
    let where_ = if inner.is_empty() { name.to_string() } else { inner.to_string() };
    let mut zip = match zip::ZipArchive::new(Cursor::new(data)) {
        Ok(z) => z,
        Err(e) => {
            errors.push(format!("{where_}: not a readable zip archive: {e}"));
            return;
        }
    };
    let mut poms: Vec<Vec<(String, String)>> = Vec::new();
    let mut manifest: Option<Vec<(String, String)>> = None;
    let mut nested: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..zip.len() {
        let Ok(mut f) = zip.by_index(i) else { continue };
        let entry = f.name().to_string();
        let is_pom = entry.starts_with("META-INF/maven/") && entry.ends_with("/pom.properties");
        let is_manifest = entry.eq_ignore_ascii_case("META-INF/MANIFEST.MF");
        let is_nested = depth < MAX_DEPTH && is_archive_name(&entry) && !f.is_dir();
        if !(is_pom || is_manifest || is_nested) {
            continue;
        }
        let limit = f.size().min(MAX_ENTRY);
        if limit > *budget {
            errors.push(format!("{where_}: inflated-size budget used up at {entry}"));
            return;
        }
        let mut buf = Vec::new();
        if let Err(e) = (&mut f).take(limit).read_to_end(&mut buf) {
            errors.push(format!("{where_}!{entry}: {e}"));
            continue;
        }
        *budget -= buf.len() as u64;
        if is_pom {
            poms.push(key_values(&String::from_utf8_lossy(&buf)));
        } else if is_manifest {
            manifest = Some(parse_manifest(&String::from_utf8_lossy(&buf)));
        } else {
            nested.push((entry, buf));
        }
    }
    let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name);
    let (file_artifact, file_version) = split_file_name(stem);
    let get = |kv: &Vec<(String, String)>, k: &str| {
        kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.trim().to_string()).filter(|v| !v.is_empty())
    };
    let mut main_found = false;
    for pom in &poms {
        let (Some(a), Some(v)) = (get(pom, "artifactId"), get(pom, "version")) else { continue };
        if a == file_artifact {
            main_found = true;
        }
        found.push(JavaPackage {
            group: get(pom, "groupId"),
            artifact: a,
            version: v,
            inner: inner.to_string(),
            evidence: "pom.properties".into(),
        });
    }
    if !main_found && poms.is_empty() {
        let m = manifest.unwrap_or_default();
        let version = get(&m, "Implementation-Version").or_else(|| get(&m, "Bundle-Version")).or(file_version);
        let group = get(&m, "Implementation-Vendor-Id");
        if let Some(v) = version {
            let (artifact, evidence) = if file_artifact.is_empty() {
                (get(&m, "Implementation-Title").unwrap_or_else(|| stem.to_string()), "manifest")
            } else {
                (file_artifact.clone(), "file name")
            };
            found.push(JavaPackage {
                group,
                artifact,
                version: v,
                inner: inner.to_string(),
                evidence: evidence.into(),
            });
        }
    }
    for (entry, bytes) in nested {
        let inner_path = if inner.is_empty() { entry.clone() } else { format!("{inner}:{entry}") };
        scan_archive(file_name(&entry), &bytes, &inner_path, depth + 1, budget, found, errors);
    }
}

/// Parses a JAR manifest (`Key: value` with 72-column continuation lines starting with a space).
pub fn parse_manifest(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some(last) = out.last_mut() {
                last.1.push_str(cont.trim_end_matches('\r'));
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        } else if line.trim().is_empty() && !out.is_empty() {
            break; // the main section ends at the first blank line
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn jar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (n, d) in entries {
            w.start_file(*n, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(d).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn pom_properties_and_nested_jars() {
        let inner = jar(&[("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\nImplementation-Version: 2.0.9\n")]);
        let outer = jar(&[
            (
                "META-INF/maven/com.example/app/pom.properties",
                b"#Generated\nversion=1.0.0\ngroupId=com.example\nartifactId=app\n",
            ),
            (
                "META-INF/maven/com.google.guava/guava/pom.properties",
                b"version=31.1-jre\ngroupId=com.google.guava\nartifactId=guava\n",
            ),
            ("BOOT-INF/lib/slf4j-api-2.0.9.jar", &inner),
        ]);
        let s = JavaArchiveCataloger.summarize("/app/app-1.0.0.jar", &outer).unwrap();
        let (found, errors): (Vec<JavaPackage>, Vec<String>) = serde_json::from_slice(&s[TAG.len()..]).unwrap();
        assert!(errors.is_empty());
        let ids: Vec<String> = found
            .iter()
            .map(|j| format!("{}:{}@{} [{}]", j.group.clone().unwrap_or_default(), j.artifact, j.version, j.inner))
            .collect();
        assert_eq!(
            ids,
            vec![
                "com.example:app@1.0.0 []",
                "com.google.guava:guava@31.1-jre []",
                ":slf4j-api@2.0.9 [BOOT-INF/lib/slf4j-api-2.0.9.jar]"
            ]
        );
    }

    #[test]
    fn not_a_zip_is_reported() {
        let s = JavaArchiveCataloger.summarize("/x.jar", b"PK garbage").unwrap();
        let (found, errors): (Vec<JavaPackage>, Vec<String>) = serde_json::from_slice(&s[TAG.len()..]).unwrap();
        assert!(found.is_empty() && errors.len() == 1);
    }

    #[test]
    fn file_name_versions() {
        assert_eq!(split_file_name("commons-lang3-3.12.0"), ("commons-lang3".into(), Some("3.12.0".into())));
        assert_eq!(split_file_name("tool"), ("tool".into(), None));
    }
}
