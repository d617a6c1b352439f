//! Ruby gems: installed `specifications/*.gemspec` files, and `Gemfile.lock` in project directories.

use crate::text::utf8;
use crate::{catalog_pins, file_name, whole_if, Cataloger, Context, Found};
use kestrel_core::{Ecosystem, Package};
use kestrel_image::Want;

/// Installed gems.
pub struct GemspecCataloger;

fn is_gemspec(path: &str) -> bool {
    path.ends_with(".gemspec") && path.rsplit('/').nth(1) == Some("specifications")
}

impl Cataloger for GemspecCataloger {
    fn name(&self) -> &'static str {
        "ruby-installed"
    }

    fn want(&self, path: &str, size: u64, _: u32) -> Want {
        whole_if(is_gemspec(path), size, 4 << 20)
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        for (path, _) in cx.tree().kept() {
            if !is_gemspec(path) {
                continue;
            }
            let Some(bytes) = cx.tree().content(path) else { continue };
            match parse_gemspec(&utf8(bytes)) {
                Some((name, version, licenses)) => {
                    let mut p = Package::new(&name, &version, Ecosystem::Gem, self.name());
                    p.licenses = licenses;
                    cx.locate(&mut p, path);
                    out.packages.push(p);
                }
                None => out.warn(path, "gemspec without a literal name and version"),
            }
        }
    }
}

fn ruby_strings(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find(['"', '\'']) {
        let q = rest.as_bytes()[start] as char;
        let after = &rest[start + 1..];
        let Some(end) = after.find(q) else { break };
        out.push(after[..end].to_string());
        rest = &after[end + 1..];
    }
    out
}

/// Name, version and licences assigned in a generated gemspec (`s.name = "rake".freeze`).
pub fn parse_gemspec(text: &str) -> Option<(String, String, Vec<String>)> {
    let (mut name, mut version, mut licenses) = (None, None, Vec::new());
    for line in text.lines() {
        let l = line.trim();
        let Some((lhs, rhs)) = l.split_once('=') else { continue };
        let attr = lhs.trim().rsplit('.').next().unwrap_or("").trim();
        match attr {
            "name" if name.is_none() => name = ruby_strings(rhs).into_iter().next(),
            "version" if version.is_none() => version = ruby_strings(rhs).into_iter().next(),
            "licenses" | "license" => licenses.extend(ruby_strings(rhs)),
            _ => {}
        }
    }
    Some((name.filter(|n| !n.is_empty())?, version.filter(|v| !v.is_empty())?, licenses))
}

/// Gems pinned by `Gemfile.lock`.
pub struct GemfileLockCataloger;

impl Cataloger for GemfileLockCataloger {
    fn name(&self) -> &'static str {
        "ruby-gemfile-lock"
    }

    fn want(&self, path: &str, size: u64, _: u32) -> Want {
        whole_if(file_name(path) == "Gemfile.lock", size, 32 << 20)
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        catalog_pins(self, cx, out, Ecosystem::Gem, |_, b| Ok(parse_gemfile_lock(&utf8(b))));
    }
}

/// `name (version)` entries under `specs:` of the GEM and GIT sections (platform suffixes dropped).
pub fn parse_gemfile_lock(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut section = "";
    let mut in_specs = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            section = line.trim();
            in_specs = false;
            continue;
        }
        if line.trim() == "specs:" {
            in_specs = true;
            continue;
        }
        if !in_specs || !(section == "GEM" || section == "GIT") {
            continue;
        }
        if line.starts_with("    ") && !line.starts_with("     ") {
            let l = line.trim();
            if let Some((n, v)) = l.split_once(" (") {
                let v = v.trim_end_matches(')');
                let v = v.split('-').next().unwrap_or(v);
                out.push((n.to_string(), v.to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemspec_assignments() {
        let g = "# -*- encoding: utf-8 -*-\nGem::Specification.new do |s|\n  s.name = \"rake\".freeze\n  s.version = \"13.0.6\"\n  s.licenses = [\"MIT\".freeze]\n  s.add_runtime_dependency(%q<x>.freeze, [\"= 1\"])\nend\n";
        assert_eq!(parse_gemspec(g), Some(("rake".into(), "13.0.6".into(), vec!["MIT".into()])));
        assert!(is_gemspec("/usr/local/bundle/specifications/rake-13.0.6.gemspec"));
        assert_eq!(parse_gemspec("s.name = x"), None);
    }

    #[test]
    fn gemfile_lock_specs() {
        let l = "GEM\n  remote: https://rubygems.org/\n  specs:\n    actionpack (7.1.2)\n      rack (>= 2.2.4)\n    nokogiri (1.15.5-x86_64-linux)\n\nPATH\n  remote: .\n  specs:\n    mine (0.1.0)\n\nPLATFORMS\n  ruby\n";
        assert_eq!(
            parse_gemfile_lock(l),
            vec![("actionpack".into(), "7.1.2".into()), ("nokogiri".into(), "1.15.5".into())]
        );
    }
}
