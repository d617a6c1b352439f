//! PHP packages: Composer's `vendor/composer/installed.json` (installed, formats 1 and 2) and, in project
//! directories, `composer.lock`.

use crate::{file_name, whole_if, Cataloger, Context, Found};
use kestrel_core::{Ecosystem, Package};
use kestrel_image::Want;
use serde_json::Value;

/// Parses the package list of `installed.json` (an array, or `{"packages": [...]}`) or `composer.lock`
/// (`packages` and `packages-dev`).
pub fn parse_composer(bytes: &[u8]) -> Result<Vec<(String, String, Vec<String>)>, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("invalid Composer JSON: {e}"))?;
    let lists: Vec<&Vec<Value>> = match &v {
        Value::Array(a) => vec![a],
        Value::Object(o) => {
            ["packages", "packages-dev"].iter().filter_map(|k| o.get(*k).and_then(Value::as_array)).collect()
        }
        _ => return Err("Composer JSON is neither an array nor an object".into()),
    };
    let mut out = Vec::new();
    for list in lists {
        for p in list {
            let (Some(n), Some(ver)) =
                (p.get("name").and_then(Value::as_str), p.get("version").and_then(Value::as_str))
            else {
                continue;
            };
            let lic = match p.get("license") {
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                Some(Value::String(s)) => vec![s.clone()],
                _ => vec![],
            };
            out.push((n.to_string(), ver.to_string(), lic));
        }
    }
    Ok(out)
}

fn catalog_composer(c: &dyn Cataloger, cx: &Context<'_>, out: &mut Found) {
    for (path, node) in cx.tree().kept() {
        if c.want(path, node.size, node.mode) != Want::Whole {
            continue;
        }
        let Some(bytes) = cx.tree().content(path) else { continue };
        match parse_composer(bytes) {
            Ok(list) => {
                for (n, v, lic) in list {
                    let mut p = Package::new(&n, &v, Ecosystem::Composer, c.name());
                    p.licenses = lic;
                    cx.locate(&mut p, path);
                    out.packages.push(p);
                }
            }
            Err(e) => out.warn(path, e),
        }
    }
}

/// Installed Composer packages.
pub struct ComposerInstalledCataloger;

impl Cataloger for ComposerInstalledCataloger {
    fn name(&self) -> &'static str {
        "php-composer-installed"
    }

    fn want(&self, path: &str, size: u64, _: u32) -> Want {
        whole_if(path.ends_with("/vendor/composer/installed.json"), size, 64 << 20)
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        catalog_composer(self, cx, out);
    }
}

/// Packages pinned by `composer.lock`.
pub struct ComposerLockCataloger;

impl Cataloger for ComposerLockCataloger {
    fn name(&self) -> &'static str {
        "php-composer-lock"
    }

    fn want(&self, path: &str, size: u64, _: u32) -> Want {
        whole_if(file_name(path) == "composer.lock", size, 64 << 20)
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        catalog_composer(self, cx, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_v1_v2_and_lock() {
        let v1 = br#"[{"name":"monolog/monolog","version":"2.9.1","license":["MIT"]}]"#;
        let v2 = br#"{"packages":[{"name":"psr/log","version":"3.0.0"}],"dev":true}"#;
        let lock =
            br#"{"packages":[{"name":"a/b","version":"v1.0.0"}],"packages-dev":[{"name":"c/d","version":"2.0"}]}"#;
        assert_eq!(parse_composer(v1).unwrap()[0].2, vec!["MIT"]);
        assert_eq!(parse_composer(v2).unwrap()[0].0, "psr/log");
        assert_eq!(parse_composer(lock).unwrap().len(), 2);
        assert!(parse_composer(b"3").is_err());
    }
}
