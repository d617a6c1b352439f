//! Rust crates: `Cargo.lock` in project directories, and the dependency list that `cargo auditable`
//! embeds in binaries (section `.dep-v0`, zlib-compressed JSON).

use crate::text::utf8;
use crate::{file_name, whole_if, Cataloger, Context, Found};
use kestrel_core::{Ecosystem, Package};
use kestrel_image::Want;
use object::{Object, ObjectSection};
use serde::Deserialize;

/// Most bytes the auditable JSON may inflate to.
const MAX_AUDIT_JSON: usize = 8 << 20;

/// One crate of a `Cargo.lock` or an audit record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CrateEntry {
    /// Crate name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Where it came from (`registry+https://…`, `git+…`, `crates.io`, `local`); absent for workspace crates.
    #[serde(default)]
    pub source: Option<String>,
    /// `build` or `runtime` (audit records).
    #[serde(default)]
    pub kind: Option<String>,
}

/// Parses a `Cargo.lock` (versions 1–4).
pub fn parse_cargo_lock(text: &str) -> Result<Vec<CrateEntry>, String> {
    #[derive(Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<CrateEntry>,
    }
    let lock: Lock =
        toml::from_str(text).map_err(|e| format!("invalid Cargo.lock: {}", crate::toml_error(&e, text)))?;
    Ok(lock.package)
}

/// Inflates and parses the `cargo auditable` record of an executable; `None` when it has none.
pub fn read_auditable(data: &[u8]) -> Option<Result<Vec<CrateEntry>, String>> {
    let file = object::File::parse(data).ok()?;
    let section = file.sections().find(|s| matches!(s.name(), Ok(".dep-v0") | Ok("dep-v0") | Ok(".dep-v0\0")))?;
    let compressed = section.data().ok()?;
    Some(parse_audit_section(compressed))
}

/// Parses the (zlib-compressed) content of a `.dep-v0` section.
pub fn parse_audit_section(compressed: &[u8]) -> Result<Vec<CrateEntry>, String> {
    let json = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(compressed, MAX_AUDIT_JSON)
        .map_err(|e| format!("cargo-auditable data does not inflate: {e:?}"))?;
    #[derive(Deserialize)]
    struct Audit {
        packages: Vec<CrateEntry>,
    }
    serde_json::from_slice::<Audit>(&json).map(|a| a.packages).map_err(|e| format!("invalid cargo-auditable JSON: {e}"))
}

/// Packages for crate entries.
pub fn packages(entries: &[CrateEntry], cataloger: &str) -> Vec<Package> {
    entries
        .iter()
        .map(|e| {
            let mut p = Package::new(&e.name, &e.version, Ecosystem::Cargo, cataloger);
            if let Some(s) = &e.source {
                p.properties.insert("cargo.source".into(), s.clone());
            }
            if let Some(k) = &e.kind {
                p.properties.insert("cargo.kind".into(), k.clone());
            }
            p
        })
        .collect()
}

/// Crates pinned by `Cargo.lock` files.
pub struct CargoLockCataloger;

impl Cataloger for CargoLockCataloger {
    fn name(&self) -> &'static str {
        "rust-cargo-lock"
    }

    fn want(&self, path: &str, size: u64, _: u32) -> Want {
        whole_if(file_name(path) == "Cargo.lock", size, 64 << 20)
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        for (path, _) in cx.tree().kept() {
            if file_name(path) != "Cargo.lock" {
                continue;
            }
            let Some(bytes) = cx.tree().content(path) else { continue };
            match parse_cargo_lock(&utf8(bytes)) {
                Ok(entries) => {
                    for mut p in packages(&entries, self.name()) {
                        cx.locate(&mut p, path);
                        out.packages.push(p);
                    }
                }
                Err(e) => out.warn(path, e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_lock_v3() {
        let l = "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"serde\"]\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.190\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"x\"\n";
        let e = parse_cargo_lock(l).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].source.as_deref(), Some("registry+https://github.com/rust-lang/crates.io-index"));
        assert!(parse_cargo_lock("[[package]]\nname = 1\n").is_err());
    }

    #[test]
    fn a_broken_lock_file_is_said_in_one_line_without_quoting_it() {
        let text = format!("version = 3\n[[package]]\nname = \"é\"\nx = {}\n", "[".repeat(10_000));
        let e = parse_cargo_lock(&text).unwrap_err();
        assert!(e.starts_with("invalid Cargo.lock: line 4, column ") && !e.contains('\n') && e.len() < 200, "{e}");
        // Whatever a parser says, a warning stays short.
        let mut found = crate::Found::default();
        found.warn("/Cargo.lock", "é".repeat(5_000));
        assert_eq!(found.warnings[0].message.chars().count(), 1_001);
        assert!(found.warnings[0].message.ends_with("é…"));
    }

    #[test]
    fn audit_section_roundtrip_and_bomb() {
        let json = br#"{"packages":[{"name":"app","version":"0.1.0","source":"local","root":true},{"name":"itoa","version":"1.0.9","source":"crates.io","kind":"runtime","dependencies":[]}]}"#;
        let z = miniz_oxide::deflate::compress_to_vec_zlib(json, 6);
        let e = parse_audit_section(&z).unwrap();
        assert_eq!(e[1].name, "itoa");
        let bomb = miniz_oxide::deflate::compress_to_vec_zlib(&vec![b' '; MAX_AUDIT_JSON + 10], 9);
        assert!(parse_audit_section(&bomb).is_err());
        assert!(parse_audit_section(b"garbage").is_err());
    }
}
