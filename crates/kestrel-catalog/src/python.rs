//! Python packages: installed distributions (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, single-file
//! `*.egg-info`) and, in project directories, pinned requirements (`requirements*.txt`, `poetry.lock`,
//! `Pipfile.lock`).

use crate::text::{field, fields_all, headers, utf8};
use crate::{catalog_pins, file_name, whole_if, Cataloger, Context, Found};
use kestrel_core::{Ecosystem, Package};
use kestrel_image::Want;

/// Installed Python distributions.
pub struct PythonInstalledCataloger;

fn is_metadata(path: &str) -> bool {
    let Some((dir, file)) = path.rsplit_once('/') else { return false };
    let dir = file_name(dir).to_ascii_lowercase();
    (file == "METADATA" && dir.ends_with(".dist-info"))
        || (file == "PKG-INFO" && dir.ends_with(".egg-info"))
        || (file.ends_with(".egg-info") && !file.starts_with('.'))
}

impl Cataloger for PythonInstalledCataloger {
    fn name(&self) -> &'static str {
        "python-installed"
    }

    fn want(&self, path: &str, size: u64, _: u32) -> Want {
        // A single-file `.egg-info` is small; a directory of that name is not a file and never asked about.
        whole_if(is_metadata(path), size, 8 << 20)
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        for (path, _) in cx.tree().kept() {
            if !is_metadata(path) {
                continue;
            }
            let Some(bytes) = cx.tree().content(path) else { continue };
            match parse_metadata(&utf8(bytes)) {
                Some(m) => {
                    let mut p = Package::new(&m.name, &m.version, Ecosystem::PyPI, self.name());
                    p.licenses = m.licenses;
                    cx.locate(&mut p, path);
                    out.packages.push(p);
                }
                None => out.warn(path, "Python metadata without Name and Version"),
            }
        }
    }
}

/// Name, version and licences of a core-metadata document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonMetadata {
    /// `Name`.
    pub name: String,
    /// `Version`.
    pub version: String,
    /// `License-Expression`, else a short `License`, else the `License ::` classifiers.
    pub licenses: Vec<String>,
}

/// Parses `METADATA` / `PKG-INFO`.
pub fn parse_metadata(text: &str) -> Option<PythonMetadata> {
    let h = headers(text);
    let name = field(&h, "Name")?.trim().to_string();
    let version = field(&h, "Version")?.trim().to_string();
    if name.is_empty() || version.is_empty() {
        return None;
    }
    let mut licenses = Vec::new();
    if let Some(expr) = field(&h, "License-Expression").filter(|s| !s.is_empty()) {
        licenses.push(expr.to_string());
    } else if let Some(l) =
        field(&h, "License").filter(|l| !l.is_empty() && *l != "UNKNOWN" && l.len() <= 64 && !l.contains('\n'))
    {
        licenses.push(l.to_string());
    } else {
        for c in fields_all(&h, "Classifier") {
            if let Some(l) = c.strip_prefix("License :: ") {
                let l = l.rsplit(" :: ").next().unwrap_or(l).to_string();
                if !licenses.contains(&l) {
                    licenses.push(l);
                }
            }
        }
    }
    Some(PythonMetadata { name, version, licenses })
}

/// Pinned Python requirements of a project.
pub struct PythonRequirementsCataloger;

fn requirement_kind(path: &str) -> Option<&'static str> {
    let f = file_name(path);
    if f.starts_with("requirements") && f.ends_with(".txt") {
        Some("requirements")
    } else if f == "poetry.lock" {
        Some("poetry")
    } else if f == "Pipfile.lock" {
        Some("pipfile")
    } else {
        None
    }
}

impl Cataloger for PythonRequirementsCataloger {
    fn name(&self) -> &'static str {
        "python-lock"
    }

    fn want(&self, path: &str, size: u64, _: u32) -> Want {
        whole_if(requirement_kind(path).is_some(), size, 32 << 20)
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        catalog_pins(self, cx, out, Ecosystem::PyPI, |path, b| {
            let text = utf8(b);
            match requirement_kind(path) {
                Some("requirements") => Ok(parse_requirements(&text)),
                Some("poetry") => parse_poetry_lock(&text),
                _ => parse_pipfile_lock(&text),
            }
        });
    }
}

/// `name==version` lines of a requirements file (other specifiers pin nothing and are skipped).
pub fn parse_requirements(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let line = line.split(';').next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('-') {
            continue;
        }
        let Some((name, rest)) = line.split_once("==") else { continue };
        let name = name.split('[').next().unwrap_or(name).trim();
        let version = rest.split([',', ' ', '\\']).next().unwrap_or("").trim();
        if !name.is_empty() && !version.is_empty() && !version.contains('*') {
            out.push((name.to_string(), version.to_string()));
        }
    }
    out
}

/// `[[package]]` entries of a `poetry.lock`.
pub fn parse_poetry_lock(text: &str) -> Result<Vec<(String, String)>, String> {
    #[derive(serde::Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        name: String,
        version: String,
    }
    let lock: Lock =
        toml::from_str(text).map_err(|e| format!("invalid poetry.lock: {}", crate::toml_error(&e, text)))?;
    Ok(lock.package.into_iter().map(|e| (e.name, e.version)).collect())
}

/// `default` and `develop` pins of a `Pipfile.lock`.
pub fn parse_pipfile_lock(text: &str) -> Result<Vec<(String, String)>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("invalid Pipfile.lock: {e}"))?;
    let mut out = Vec::new();
    for section in ["default", "develop"] {
        if let Some(m) = v.get(section).and_then(|s| s.as_object()) {
            for (name, spec) in m {
                if let Some(ver) = spec.get("version").and_then(|v| v.as_str()).and_then(|s| s.strip_prefix("==")) {
                    out.push((name.clone(), ver.to_string()));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_with_classifiers() {
        let m = parse_metadata("Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\nClassifier: License :: OSI Approved :: Apache Software License\n\nbody\nName: nope\n").unwrap();
        assert_eq!((m.name.as_str(), m.version.as_str()), ("requests", "2.31.0"));
        assert_eq!(m.licenses, vec!["Apache 2.0"]);
        let m = parse_metadata(
            "Name: x\nVersion: 1\nLicense: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n",
        )
        .unwrap();
        assert_eq!(m.licenses, vec!["MIT License"]);
        let m = parse_metadata("Name: x\nVersion: 1\nLicense-Expression: MIT OR Apache-2.0\n").unwrap();
        assert_eq!(m.licenses, vec!["MIT OR Apache-2.0"]);
        assert!(parse_metadata("Name: x\n").is_none());
    }

    #[test]
    fn metadata_paths() {
        assert!(is_metadata("/usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA"));
        assert!(is_metadata("/usr/lib/python3/dist-packages/PyYAML-6.0.egg-info"));
        assert!(is_metadata("/x/foo.egg-info/PKG-INFO"));
        assert!(!is_metadata("/x/foo.dist-info/RECORD"));
    }

    #[test]
    fn requirements_pins() {
        let r = parse_requirements(
            "# c\nflask==2.3.2\nrequests[socks]==2.31.0 ; python_version>'3'\nnumpy>=1.0\n-r other.txt\nx==1.*\n",
        );
        assert_eq!(r, vec![("flask".into(), "2.3.2".into()), ("requests".into(), "2.31.0".into())]);
    }

    #[test]
    fn lock_files() {
        let p = parse_poetry_lock(
            "[[package]]\nname = \"idna\"\nversion = \"3.4\"\n\n[metadata]\nlock-version = \"2.0\"\n",
        )
        .unwrap();
        assert_eq!(p, vec![("idna".into(), "3.4".into())]);
        let p = parse_pipfile_lock(
            r#"{"default":{"six":{"version":"==1.16.0"}},"develop":{"pytest":{"version":"==8.0.0"}}}"#,
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        assert!(parse_poetry_lock("[[package]\n").is_err());
    }
}
