//! Compiled executables: Go binaries (build information) and Rust binaries built with `cargo auditable`.
//! While the artifact is read, every executable is probed and only a small tagged summary is kept.

use crate::{golang, rust, Cataloger, Context, Found};
use kestrel_image::{Content, Want};

/// The executable cataloger.
pub struct BinaryCataloger;

const GO_TAG: &[u8] = b"kestrel-go\n";
const RUST_TAG: &[u8] = b"kestrel-rust\n";

fn is_executable_magic(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
        || data.starts_with(b"MZ")
        || data.starts_with(&[0xcf, 0xfa, 0xed, 0xfe])
        || data.starts_with(&[0xfe, 0xed, 0xfa, 0xcf])
        || data.starts_with(&[0xca, 0xfe, 0xba, 0xbe])
}

impl Cataloger for BinaryCataloger {
    fn name(&self) -> &'static str {
        "binary"
    }

    fn want(&self, path: &str, size: u64, mode: u32) -> Want {
        // Executables by permission; `.exe` for Windows images. Tiny files are scripts, not binaries.
        if size >= 4096 && (mode & 0o111 != 0 || path.ends_with(".exe")) {
            Want::Summary
        } else {
            Want::Skip
        }
    }

    fn summarize(&self, _path: &str, data: &[u8]) -> Option<Vec<u8>> {
        if !is_executable_magic(data) {
            return None;
        }
        if let Some((vers, info)) = golang::read_buildinfo(data) {
            let mut s = GO_TAG.to_vec();
            s.extend_from_slice(vers.as_bytes());
            s.push(b'\n');
            s.extend_from_slice(info.as_bytes());
            return Some(s);
        }
        if let Some(r) = rust::read_auditable(data) {
            let mut s = RUST_TAG.to_vec();
            match r {
                Ok(entries) => {
                    let json: Vec<serde_json::Value> = entries
                        .iter()
                        .map(|e| serde_json::json!({"name": e.name, "version": e.version, "source": e.source, "kind": e.kind}))
                        .collect();
                    s.extend_from_slice(serde_json::to_string(&json).ok()?.as_bytes());
                }
                Err(e) => s.extend_from_slice(format!("error:{e}").as_bytes()),
            }
            return Some(s);
        }
        None
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        for (path, node) in cx.tree().kept() {
            let Content::Summary(s) = &node.content else { continue };
            if let Some(rest) = s.strip_prefix(GO_TAG) {
                let text = String::from_utf8_lossy(rest);
                let (vers, info) = text.split_once('\n').unwrap_or((&text, ""));
                let bi = golang::parse_modinfo(vers, info);
                for mut p in golang::packages(&bi, "go-binary") {
                    cx.locate(&mut p, path);
                    out.packages.push(p);
                }
            } else if let Some(rest) = s.strip_prefix(RUST_TAG) {
                if let Some(err) = rest.strip_prefix(b"error:") {
                    out.warn(path, String::from_utf8_lossy(err));
                    continue;
                }
                match serde_json::from_slice::<Vec<rust::CrateEntry>>(rest) {
                    Ok(entries) => {
                        for mut p in rust::packages(&entries, "rust-auditable-binary") {
                            cx.locate(&mut p, path);
                            out.packages.push(p);
                        }
                    }
                    Err(e) => out.warn(path, format!("cargo-auditable summary: {e}")),
                }
            }
        }
    }
}
