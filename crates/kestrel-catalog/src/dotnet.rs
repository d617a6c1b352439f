//! .NET packages (NuGet): the `*.deps.json` a published application carries next to its assemblies (what
//! runs in an image), and, in project directories, NuGet's `packages.lock.json`.

use crate::{catalog_pins, file_name, whole_if, Cataloger, Context, Found};
use kestrel_core::Ecosystem;
use kestrel_image::Want;
use serde_json::Value;

/// The NuGet packages of a `deps.json`: its `libraries` of type `package` (`"Name/1.2.3"` keys); projects and
/// framework references are not packages.
pub fn parse_deps_json(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("invalid deps.json: {e}"))?;
    let libs = v.get("libraries").and_then(Value::as_object).ok_or("deps.json without a libraries object")?;
    let mut out = Vec::new();
    for (key, lib) in libs {
        if lib.get("type").and_then(Value::as_str) != Some("package") {
            continue;
        }
        if let Some((name, version)) = key.split_once('/') {
            if !name.is_empty() && !version.is_empty() {
                out.push((name.to_string(), version.to_string()));
            }
        }
    }
    Ok(out)
}

/// The resolved packages of a `packages.lock.json` (every target framework; projects left out).
pub fn parse_packages_lock(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("invalid packages.lock.json: {e}"))?;
    let deps = v.get("dependencies").and_then(Value::as_object).ok_or("packages.lock.json without dependencies")?;
    let mut out = Vec::new();
    for framework in deps.values().filter_map(Value::as_object) {
        for (name, d) in framework {
            if d.get("type").and_then(Value::as_str) == Some("Project") {
                continue;
            }
            if let Some(v) = d.get("resolved").and_then(Value::as_str) {
                out.push((name.clone(), v.to_string()));
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Packages of published .NET applications.
pub struct DepsJsonCataloger;

impl Cataloger for DepsJsonCataloger {
    fn name(&self) -> &'static str {
        "dotnet-deps"
    }

    fn want(&self, path: &str, size: u64, _: u32) -> Want {
        whole_if(file_name(path).ends_with(".deps.json"), size, 64 << 20)
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        catalog_pins(self, cx, out, Ecosystem::NuGet, |_, b| parse_deps_json(b));
    }
}

/// Packages pinned by NuGet lock files.
pub struct NuGetLockCataloger;

impl Cataloger for NuGetLockCataloger {
    fn name(&self) -> &'static str {
        "nuget-lock"
    }

    fn want(&self, path: &str, size: u64, _: u32) -> Want {
        whole_if(file_name(path) == "packages.lock.json", size, 64 << 20)
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        catalog_pins(self, cx, out, Ecosystem::NuGet, |_, b| parse_packages_lock(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deps_json_packages_only() {
        let json = br#"{"runtimeTarget":{"name":".NETCoreApp,Version=v8.0"},"libraries":{
            "App/1.0.0":{"type":"project","serviceable":false,"sha512":""},
            "Newtonsoft.Json/13.0.1":{"type":"package","serviceable":true,"sha512":"sha512-x","path":"newtonsoft.json/13.0.1"},
            "System.Text.Json/4.7.0":{"type":"package"},
            "Microsoft.NETCore.App/8.0.0":{"type":"reference"}}}"#;
        let mut got = parse_deps_json(json).unwrap();
        got.sort();
        assert_eq!(
            got,
            vec![("Newtonsoft.Json".to_string(), "13.0.1".to_string()), ("System.Text.Json".into(), "4.7.0".into())]
        );
        assert!(parse_deps_json(b"{}").unwrap_err().contains("libraries"));
        assert!(parse_deps_json(b"[").is_err());
    }

    #[test]
    fn lock_file_resolved_versions() {
        let json = br#"{"version":1,"dependencies":{"net8.0":{
            "Newtonsoft.Json":{"type":"Direct","requested":"[13.0.1, )","resolved":"13.0.1","contentHash":"x"},
            "Lib":{"type":"Project"}},
            "net6.0":{"Newtonsoft.Json":{"type":"Direct","resolved":"13.0.1"},"Serilog":{"type":"Transitive","resolved":"2.10.0"}}}}"#;
        assert_eq!(
            parse_packages_lock(json).unwrap(),
            vec![("Newtonsoft.Json".to_string(), "13.0.1".to_string()), ("Serilog".into(), "2.10.0".into())]
        );
    }
}
