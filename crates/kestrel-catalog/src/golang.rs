//! Go modules: the build information compiled into Go binaries (main module, dependencies with their
//! replacements, the Go toolchain version as `stdlib`), and `go.mod` in project directories.

use crate::text::utf8;
use crate::{catalog_pins, file_name, whole_if, Cataloger, Context, Found};
use kestrel_core::{Ecosystem, Package};
use kestrel_image::Want;
use object::{Object, ObjectSection};

const MAGIC: &[u8] = b"\xff Go buildinf:";

/// Build information of a Go binary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoBuildInfo {
    /// Toolchain (`go1.22.1`).
    pub go_version: String,
    /// The main package path (`path` line).
    pub path: Option<String>,
    /// The main module (path, version).
    pub main: Option<(String, String)>,
    /// Dependencies (path, version), replacements applied.
    pub deps: Vec<(String, String)>,
    /// `build` settings (`GOOS`, `-ldflags`, `vcs.revision`…).
    pub settings: Vec<(String, String)>,
}

fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        x |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some((x, i + 1));
        }
    }
    None
}

fn varint_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, n) = uvarint(b)?;
    let len = usize::try_from(len).ok()?;
    let s = b.get(n..n.checked_add(len)?)?;
    Some((s, &b[n + len..]))
}

/// Finds the build information in an executable (ELF, Mach-O or PE), `None` when it is not a Go binary.
pub fn read_buildinfo(data: &[u8]) -> Option<(String, String)> {
    let file = object::File::parse(data).ok();
    let section = file.as_ref().and_then(|f| {
        f.sections()
            .find(|s| matches!(s.name(), Ok(".go.buildinfo") | Ok("__go_buildinfo")))
            .and_then(|s| s.data().ok())
    });
    // PE binaries keep it in .data; search 16-byte aligned, as the Go toolchain does.
    let (hdr, search_base) = match section.filter(|s| s.starts_with(MAGIC)) {
        Some(s) => (s, None),
        None => {
            let f = file.as_ref()?;
            let data_sec = f.sections().find(|s| s.name() == Ok(".data"))?;
            let d = data_sec.data().ok()?;
            let at = (0..d.len().saturating_sub(32)).step_by(16).find(|&i| d[i..].starts_with(MAGIC))?;
            (&d[at..], Some(()))
        }
    };
    let _ = search_base;
    if hdr.len() < 32 {
        return None;
    }
    let ptr_size = hdr[14] as usize;
    let flags = hdr[15];
    if flags & 2 != 0 {
        let (vers, rest) = varint_string(&hdr[32..])?;
        let (info, _) = varint_string(rest)?;
        return Some((String::from_utf8_lossy(vers).into_owned(), strip_sentinels(info)));
    }
    // Go < 1.18: two pointers to Go string headers {data pointer, length}.
    let f = file.as_ref()?;
    let big = flags & 1 != 0;
    let read_ptr = |b: &[u8]| -> Option<u64> {
        match (ptr_size, big) {
            (4, false) => Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?) as u64),
            (4, true) => Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as u64),
            (8, false) => Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?)),
            (8, true) => Some(u64::from_be_bytes(b.get(..8)?.try_into().ok()?)),
            _ => None,
        }
    };
    let at_addr = |addr: u64, len: u64| -> Option<&[u8]> {
        for s in f.sections() {
            let (start, size) = (s.address(), s.size());
            if addr >= start && addr.checked_add(len)? <= start + size {
                let d = s.data().ok()?;
                let off = usize::try_from(addr - start).ok()?;
                return d.get(off..off.checked_add(usize::try_from(len).ok()?)?);
            }
        }
        None
    };
    let read_go_string = |hdr_addr: u64| -> Option<&[u8]> {
        let h = at_addr(hdr_addr, 2 * ptr_size as u64)?;
        let ptr = read_ptr(h)?;
        let len = read_ptr(&h[ptr_size..])?;
        if len > 1 << 20 {
            return None;
        }
        at_addr(ptr, len)
    };
    let vers = read_go_string(read_ptr(hdr.get(16..)?)?)?;
    let info = read_go_string(read_ptr(hdr.get(16 + ptr_size..)?)?).unwrap_or_default();
    Some((String::from_utf8_lossy(vers).into_owned(), strip_sentinels(info)))
}

fn strip_sentinels(info: &[u8]) -> String {
    if info.len() >= 33 && info[info.len() - 17] == b'\n' {
        String::from_utf8_lossy(&info[16..info.len() - 16]).into_owned()
    } else {
        String::from_utf8_lossy(info).into_owned()
    }
}

/// Parses the module information text (`path`, `mod`, `dep`, `=>`, `build` lines).
pub fn parse_modinfo(go_version: &str, text: &str) -> GoBuildInfo {
    let mut bi = GoBuildInfo { go_version: go_version.to_string(), ..Default::default() };
    let mut last_was_main = false;
    for line in text.lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        match parts.as_slice() {
            ["path", p, ..] => bi.path = Some(p.to_string()),
            ["mod", p, v, ..] => {
                bi.main = Some((p.to_string(), v.to_string()));
                last_was_main = true;
                continue;
            }
            ["dep", p, v, ..] => bi.deps.push((p.to_string(), v.to_string())),
            ["=>", p, v, ..] => {
                if last_was_main {
                    bi.main = Some((p.to_string(), v.to_string()));
                } else if let Some(last) = bi.deps.last_mut() {
                    *last = (p.to_string(), v.to_string());
                }
            }
            ["build", kv] => {
                if let Some((k, v)) = kv.split_once('=') {
                    bi.settings.push((k.to_string(), v.to_string()));
                }
            }
            _ => {}
        }
        last_was_main = false;
    }
    bi
}

/// Packages of a Go binary's build information.
pub fn packages(bi: &GoBuildInfo, cataloger: &str) -> Vec<Package> {
    let mut out = Vec::new();
    // A main module built outside module mode (GOPATH) has only a `path`; a `(devel)` version can often be
    // recovered from the `-X …version=…` linker flags the release build set.
    let main = match (&bi.main, &bi.path) {
        (Some((p, v)), _) if v == "(devel)" => Some((p.clone(), version_from_ldflags(bi).unwrap_or_else(|| v.clone()))),
        (Some(m), _) => Some(m.clone()),
        (None, Some(p)) => Some((p.clone(), version_from_ldflags(bi).unwrap_or_else(|| "(devel)".into()))),
        (None, None) => None,
    };
    let mut push = |name: &str, version: &str, main: bool| {
        let mut p = Package::new(name, version, Ecosystem::Go, cataloger);
        if !bi.go_version.is_empty() {
            p.properties.insert("go.toolchain".into(), bi.go_version.clone());
        }
        if main {
            p.properties.insert("go.main-module".into(), "true".into());
            for (k, v) in &bi.settings {
                if k == "vcs.revision" || k == "GOOS" || k == "GOARCH" {
                    p.properties.insert(format!("go.build.{k}"), v.clone());
                }
            }
        }
        out.push(p);
    };
    if let Some((p, v)) = &main {
        push(p, v, true);
    }
    for (p, v) in &bi.deps {
        // Local replacements (`=> ../x`) carry no version and name no module of the ecosystem.
        if !v.is_empty() {
            push(p, v, false);
        }
    }
    if let Some(v) = bi.go_version.split_whitespace().next().filter(|v| v.starts_with("go")) {
        push("stdlib", v, false);
    }
    out
}

/// The version a release build stamped into the binary with `-ldflags "-X pkg.Version=1.2.3"`: the first
/// `-X` assignment to a variable named like `version` whose value looks like a version, with a `v` prefix.
pub fn version_from_ldflags(bi: &GoBuildInfo) -> Option<String> {
    let flags = bi.settings.iter().find(|(k, _)| k == "-ldflags").map(|(_, v)| v.as_str())?;
    let cleaned = flags.replace(['"', '\\'], " ");
    let mut words = cleaned.split_whitespace();
    while let Some(w) = words.next() {
        let assignment = if w == "-X" {
            words.next()?
        } else if let Some(rest) = w.strip_prefix("-X=") {
            rest
        } else {
            continue;
        };
        let Some((var, value)) = assignment.split_once('=') else { continue };
        let name = var.rsplit('.').next().unwrap_or(var).to_ascii_lowercase();
        let value = value.trim_start_matches('v');
        let looks_like_version = value.split('.').count() >= 2
            && value.split('.').all(|p| p.chars().next().is_some_and(|c| c.is_ascii_digit()));
        if (name == "version" || name == "gitversion" || name == "semver") && looks_like_version {
            return Some(format!("v{value}"));
        }
    }
    None
}

/// `require` entries of a `go.mod`, with `replace` directives applied.
pub fn parse_go_mod(text: &str) -> Vec<(String, String)> {
    let mut reqs: Vec<(String, String)> = Vec::new();
    let mut replaces: Vec<(String, Option<String>, String, String)> = Vec::new();
    let mut block: Option<&str> = None;
    for raw in text.lines() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line == ")" {
            block = None;
            continue;
        }
        let (kind, rest) = match block {
            Some(k) => (k, line),
            None => match line.split_once(char::is_whitespace) {
                Some((k @ ("require" | "replace"), r)) => {
                    let r = r.trim();
                    if r == "(" {
                        block = Some(k);
                        continue;
                    }
                    (k, r)
                }
                _ => continue,
            },
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        match kind {
            "require" if f.len() >= 2 => reqs.push((f[0].to_string(), f[1].to_string())),
            "replace" => {
                if let Some(arrow) = f.iter().position(|x| *x == "=>") {
                    let old = f[..arrow].to_vec();
                    let new = &f[arrow + 1..];
                    if let (Some(op), Some(np)) = (old.first(), new.first()) {
                        replaces.push((
                            op.to_string(),
                            old.get(1).map(|s| s.to_string()),
                            np.to_string(),
                            new.get(1).map(|s| s.to_string()).unwrap_or_default(),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    reqs.into_iter()
        .filter_map(|(p, v)| {
            match replaces.iter().find(|(op, ov, _, _)| *op == p && ov.as_ref().is_none_or(|ov| *ov == v)) {
                Some((_, _, _, nv)) if nv.is_empty() => None, // replaced by a local directory
                Some((_, _, np, nv)) => Some((np.clone(), nv.clone())),
                None => Some((p, v)),
            }
        })
        .collect()
}

/// Modules required by `go.mod` files of a project directory.
pub struct GoModCataloger;

impl Cataloger for GoModCataloger {
    fn name(&self) -> &'static str {
        "go-mod"
    }

    fn want(&self, path: &str, size: u64, _: u32) -> Want {
        whole_if(file_name(path) == "go.mod", size, 16 << 20)
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        catalog_pins(self, cx, out, Ecosystem::Go, |_, b| Ok(parse_go_mod(&utf8(b))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modinfo_with_replacements() {
        let text = "path\texample.com/cmd/app\nmod\texample.com\t(devel)\t\ndep\tgithub.com/a/b\tv1.0.0\th1:x=\ndep\tgolang.org/x/net\tv0.1.0\th1:y=\n=>\tgithub.com/fork/net\tv0.2.0\th1:z=\ndep\tlocal/x\tv0.0.0\n=>\t../x\t\t\nbuild\tGOOS=linux\nbuild\tvcs.revision=abc\n";
        let bi = parse_modinfo("go1.22.1", text);
        assert_eq!(bi.main, Some(("example.com".into(), "(devel)".into())));
        assert_eq!(bi.deps[1], ("github.com/fork/net".into(), "v0.2.0".into()));
        let pk = packages(&bi, "t");
        let names: Vec<_> = pk.iter().map(|p| format!("{}@{}", p.name, p.version)).collect();
        assert_eq!(
            names,
            vec!["example.com@(devel)", "github.com/a/b@v1.0.0", "github.com/fork/net@v0.2.0", "stdlib@go1.22.1"]
        );
        assert_eq!(pk[0].properties.get("go.build.vcs.revision").map(String::as_str), Some("abc"));
    }

    #[test]
    fn gopath_binary_version_from_ldflags() {
        // As the docker CLI 28.2.2 release binary records it.
        let text = "path\tgithub.com/docker/cli/cmd/docker\nbuild\t-buildmode=pie\nbuild\t-ldflags=\" -X \\\"github.com/docker/cli/cli/version.GitCommit=e6534b4\\\" -X \\\"github.com/docker/cli/cli/version.Version=28.2.2\\\" -extldflags -static\"\n";
        let bi = parse_modinfo("go1.24.3", text);
        assert_eq!(bi.main, None);
        let pk = packages(&bi, "t");
        assert_eq!((pk[0].name.as_str(), pk[0].version.as_str()), ("github.com/docker/cli/cmd/docker", "v28.2.2"));
        let dev = parse_modinfo("go1.22.0", "path\tx/cmd\nmod\tx\t(devel)\t\nbuild\t-ldflags=-X main.commit=abc\n");
        assert_eq!(packages(&dev, "t")[0].version, "(devel)");
    }

    #[test]
    fn go_mod_blocks_and_replace() {
        let m = "module x\n\ngo 1.21\n\nrequire (\n\tgithub.com/a/b v1.2.3 // indirect\n\tgithub.com/c/d v0.1.0\n)\nrequire golang.org/x/text v0.14.0\nreplace github.com/c/d => github.com/e/d v0.2.0\nreplace github.com/a/b v1.2.3 => ./local\n";
        assert_eq!(
            parse_go_mod(m),
            vec![("github.com/e/d".into(), "v0.2.0".into()), ("golang.org/x/text".into(), "v0.14.0".into())]
        );
    }

    #[test]
    fn varints_are_bounded() {
        assert_eq!(uvarint(&[0xff; 20]), None);
        assert_eq!(varint_string(&[0x05, b'a']), None);
        assert!(read_buildinfo(b"\x7fELF garbage").is_none());
    }
}
