//! Node.js packages: installed `package.json` files (images and directories), and in project directories
//! `package-lock.json` (lockfile versions 1–3), `yarn.lock` (classic and Berry) and `pnpm-lock.yaml`
//! (versions 5–9).

use crate::text::utf8;
use crate::{catalog_pins, file_name, whole_if, Cataloger, Context, Found};
use kestrel_core::{Ecosystem, Package};
use kestrel_image::Want;
use serde_json::Value;

/// Installed packages: every `package.json` that names a package and its version.
pub struct NodeModulesCataloger;

impl Cataloger for NodeModulesCataloger {
    fn name(&self) -> &'static str {
        "javascript-package"
    }

    fn want(&self, path: &str, size: u64, _: u32) -> Want {
        whole_if(file_name(path) == "package.json", size, 4 << 20)
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        for (path, _) in cx.tree().kept() {
            if file_name(path) != "package.json" {
                continue;
            }
            let Some(bytes) = cx.tree().content(path) else { continue };
            match parse_package_json(bytes) {
                Ok(Some((name, version, licenses))) => {
                    let mut p = Package::new(&name, &version, Ecosystem::Npm, self.name());
                    p.licenses = licenses;
                    cx.locate(&mut p, path);
                    out.packages.push(p);
                }
                Ok(None) => {}
                Err(e) => {
                    // Broken package.json files are common outside node_modules (templates, fixtures).
                    if path.contains("/node_modules/") {
                        out.warn(path, e)
                    }
                }
            }
        }
    }
}

fn license_of(v: &Value) -> Vec<String> {
    let one = |l: &Value| match l {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("type").and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    if let Some(l) = v.get("license").and_then(one) {
        return vec![l];
    }
    match v.get("licenses") {
        Some(Value::Array(a)) => a.iter().filter_map(one).collect(),
        Some(l) => one(l).into_iter().collect(),
        None => vec![],
    }
}

/// Name, version and licences of a `package.json`; `Ok(None)` when it names no package or version.
pub fn parse_package_json(bytes: &[u8]) -> Result<Option<(String, String, Vec<String>)>, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("invalid package.json: {e}"))?;
    let name = v.get("name").and_then(Value::as_str).unwrap_or("").trim();
    let version = v.get("version").and_then(Value::as_str).unwrap_or("").trim();
    if name.is_empty() || version.is_empty() {
        return Ok(None);
    }
    Ok(Some((name.to_string(), version.to_string(), license_of(&v))))
}

/// Packages pinned by `package-lock.json` / `npm-shrinkwrap.json`.
pub struct NpmLockCataloger;

impl Cataloger for NpmLockCataloger {
    fn name(&self) -> &'static str {
        "javascript-lock"
    }

    fn want(&self, path: &str, size: u64, _: u32) -> Want {
        let f = file_name(path);
        whole_if(
            (f == "package-lock.json" || f == "npm-shrinkwrap.json") && !path.contains("/node_modules/"),
            size,
            256 << 20,
        )
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        catalog_pins(self, cx, out, Ecosystem::Npm, |_, b| parse_package_lock(b));
    }
}

/// Parses a package lock: `packages` (v2, v3) or the nested `dependencies` tree (v1).
pub fn parse_package_lock(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("invalid package-lock.json: {e}"))?;
    let mut out = Vec::new();
    if let Some(pkgs) = v.get("packages").and_then(Value::as_object) {
        for (key, entry) in pkgs {
            if key.is_empty() || entry.get("link").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| key.rsplit_once("node_modules/").map(|(_, n)| n.to_string()));
            let version = entry.get("version").and_then(Value::as_str);
            if let (Some(n), Some(ver)) = (name, version) {
                if !key.contains("node_modules/") {
                    continue; // a workspace member, the project's own code
                }
                out.push((n, ver.to_string()));
            }
        }
        return Ok(out);
    }
    // v1: a recursive tree, bounded in depth.
    fn walk(deps: &serde_json::Map<String, Value>, out: &mut Vec<(String, String)>, depth: usize) {
        if depth > 64 {
            return;
        }
        for (name, entry) in deps {
            if let Some(ver) = entry.get("version").and_then(Value::as_str) {
                if !ver.starts_with("file:") && !ver.starts_with("link:") {
                    out.push((name.clone(), ver.to_string()));
                }
            }
            if let Some(d) = entry.get("dependencies").and_then(Value::as_object) {
                walk(d, out, depth + 1);
            }
        }
    }
    if let Some(d) = v.get("dependencies").and_then(Value::as_object) {
        walk(d, &mut out, 0);
    }
    Ok(out)
}

/// Packages pinned by `yarn.lock`.
pub struct YarnLockCataloger;

impl Cataloger for YarnLockCataloger {
    fn name(&self) -> &'static str {
        "javascript-yarn-lock"
    }

    fn want(&self, path: &str, size: u64, _: u32) -> Want {
        whole_if(file_name(path) == "yarn.lock" && !path.contains("/node_modules/"), size, 256 << 20)
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        catalog_pins(self, cx, out, Ecosystem::Npm, |_, b| Ok(parse_yarn_lock(&utf8(b))));
    }
}

/// The package name of a yarn descriptor (`@babel/core@^7.0.0`, `lodash@npm:^4.17.0`).
fn descriptor_name(spec: &str) -> Option<&str> {
    let spec = spec.trim().trim_matches('"');
    // A scope's leading `@` is part of the name; the next `@` ends it. `@` is one byte, so both cuts
    // fall on character boundaries whatever else the line holds.
    let skip = usize::from(spec.starts_with('@'));
    let at = spec[skip..].find('@')? + skip;
    Some(&spec[..at])
}

/// Parses classic (v1) and Berry yarn lock files.
pub fn parse_yarn_lock(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    let mut skip = false;
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            let header = line.trim_end_matches(':');
            let first = header.split(", ").next().unwrap_or("");
            skip = header.contains("__metadata")
                || header.contains("@workspace:")
                || header.contains("@link:")
                || header.contains("@file:");
            name = descriptor_name(first).map(str::to_string);
            continue;
        }
        let l = line.trim();
        let version = l.strip_prefix("version: ").or_else(|| l.strip_prefix("version "));
        if let (Some(v), Some(n)) = (version, name.as_ref()) {
            if !skip && line.starts_with("  ") && !line.starts_with("    ") {
                out.push((n.clone(), v.trim().trim_matches('"').to_string()));
            }
            name = None;
        }
    }
    out
}

/// Packages pinned by `pnpm-lock.yaml`.
pub struct PnpmLockCataloger;

impl Cataloger for PnpmLockCataloger {
    fn name(&self) -> &'static str {
        "javascript-pnpm-lock"
    }

    fn want(&self, path: &str, size: u64, _: u32) -> Want {
        whole_if(file_name(path) == "pnpm-lock.yaml" && !path.contains("/node_modules/"), size, 256 << 20)
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        catalog_pins(self, cx, out, Ecosystem::Npm, |_, b| parse_pnpm_lock(&utf8(b)));
    }
}

/// Splits a pnpm package key: `/name/1.0.0` (v5), `/@s/name@1.0.0(peer@2)` (v6), `name@1.0.0` (v9).
pub fn split_pnpm_key(key: &str) -> Option<(String, String)> {
    let k = key.trim_start_matches('/');
    let k = k.split('(').next().unwrap_or(k);
    let search_from = usize::from(k.starts_with('@'));
    if let Some(i) = k[search_from..].rfind('@') {
        let i = i + search_from;
        let (n, v) = (&k[..i], &k[i + 1..]);
        if !n.is_empty() && !v.is_empty() && !v.contains('/') {
            return Some((n.to_string(), v.to_string()));
        }
    }
    let (n, v) = k.rsplit_once('/')?;
    v.chars().next().filter(char::is_ascii_digit)?;
    Some((n.to_string(), v.split('_').next().unwrap_or(v).to_string()))
}

/// Parses `pnpm-lock.yaml`.
pub fn parse_pnpm_lock(text: &str) -> Result<Vec<(String, String)>, String> {
    let v: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| format!("invalid pnpm-lock.yaml: {e}"))?;
    let mut out = Vec::new();
    if let Some(m) = v.get("packages").and_then(|p| p.as_mapping()) {
        for (k, entry) in m {
            let Some(key) = k.as_str() else { continue };
            let named = entry.get("name").and_then(|n| n.as_str()).zip(entry.get("version").and_then(|n| n.as_str()));
            if let Some((n, ver)) = named {
                out.push((n.to_string(), ver.to_string()));
            } else if let Some(nv) = split_pnpm_key(key) {
                out.push(nv);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_json_variants() {
        let (n, v, l) =
            parse_package_json(br#"{"name":"@babel/core","version":"7.23.0","license":"MIT"}"#).unwrap().unwrap();
        assert_eq!((n.as_str(), v.as_str(), l), ("@babel/core", "7.23.0", vec!["MIT".to_string()]));
        let (_, _, l) = parse_package_json(br#"{"name":"x","version":"1","licenses":[{"type":"BSD"},{"type":"MIT"}]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(l, vec!["BSD", "MIT"]);
        assert_eq!(parse_package_json(br#"{"type":"module"}"#).unwrap(), None);
        assert!(parse_package_json(b"{").is_err());
    }

    #[test]
    fn package_lock_v1_and_v3() {
        let v1 = br#"{"lockfileVersion":1,"dependencies":{"a":{"version":"1.0.0","dependencies":{"b":{"version":"2.0.0"}}},"loc":{"version":"file:../loc"}}}"#;
        assert_eq!(parse_package_lock(v1).unwrap(), vec![("a".into(), "1.0.0".into()), ("b".into(), "2.0.0".into())]);
        let v3 = br#"{"lockfileVersion":3,"packages":{"":{"name":"app","version":"1.0.0"},"node_modules/@s/x":{"version":"1.2.3"},"node_modules/a/node_modules/b":{"version":"0.1.0"},"node_modules/ws":{"resolved":"../ws","link":true},"packages/ws":{"name":"ws","version":"0.0.1"}}}"#;
        let mut got = parse_package_lock(v3).unwrap();
        got.sort();
        assert_eq!(got, vec![("@s/x".into(), "1.2.3".into()), ("b".into(), "0.1.0".into())]);
    }

    #[test]
    fn yarn_classic_and_berry() {
        let classic = "# yarn lockfile v1\n\n\"@babel/code-frame@^7.0.0\", \"@babel/code-frame@^7.10.4\":\n  version \"7.12.13\"\n  resolved \"https://registry.yarnpkg.com/x\"\n  dependencies:\n    \"@babel/highlight\" \"^7.12.13\"\n\nlodash@^4.17.21:\n  version \"4.17.21\"\n";
        assert_eq!(
            parse_yarn_lock(classic),
            vec![("@babel/code-frame".into(), "7.12.13".into()), ("lodash".into(), "4.17.21".into())]
        );
        let berry = "__metadata:\n  version: 6\n\n\"app@workspace:.\":\n  version: 0.0.0-use.local\n\n\"left-pad@npm:^1.3.0\":\n  version: 1.3.0\n  resolution: \"left-pad@npm:1.3.0\"\n";
        assert_eq!(parse_yarn_lock(berry), vec![("left-pad".into(), "1.3.0".into())]);
    }

    #[test]
    fn yarn_lock_fuzz_regressions() {
        // Found by the yarn_lock fuzz target: a multi-byte character first on a header line.
        let crash =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fuzz/yarn_lock-non-ascii-header"))
                .unwrap();
        let _ = parse_yarn_lock(&String::from_utf8_lossy(&crash));
        assert_eq!(parse_yarn_lock("\u{e9}@a/b@^1:\n  version \"1\"\n"), vec![("\u{e9}".into(), "1".into())]);
    }

    #[test]
    fn pnpm_keys() {
        assert_eq!(split_pnpm_key("/lodash/4.17.21"), Some(("lodash".into(), "4.17.21".into())));
        assert_eq!(split_pnpm_key("/@babel/core/7.0.0"), Some(("@babel/core".into(), "7.0.0".into())));
        assert_eq!(
            split_pnpm_key("/@babel/core@7.0.0(supports-color@8.0.0)"),
            Some(("@babel/core".into(), "7.0.0".into()))
        );
        assert_eq!(split_pnpm_key("ms@2.1.3"), Some(("ms".into(), "2.1.3".into())));
        let lock = "lockfileVersion: '9.0'\npackages:\n  ms@2.1.3:\n    resolution: {integrity: sha512-x}\n  '@types/node@20.0.0':\n    resolution: {integrity: sha512-y}\n";
        let mut got = parse_pnpm_lock(lock).unwrap();
        got.sort();
        assert_eq!(got, vec![("@types/node".into(), "20.0.0".into()), ("ms".into(), "2.1.3".into())]);
    }
}
