//! Unpacked root file systems and project directories on the host.

use crate::tree::{Content, ContentSelector, FileTree, Node, NodeKind, Want};
use crate::{Artifact, ImageError, OpenOptions};
use kestrel_core::{ScanTarget, TargetKind, Warning};
use rayon::prelude::*;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Walks `root` without following symbolic links (a link is recorded with its target and resolved only
/// inside the tree), then reads the wanted files in parallel.
pub(crate) fn read_dir(
    root: &Path,
    kind: TargetKind,
    opts: &OpenOptions,
    selector: &dyn ContentSelector,
) -> Result<Artifact, ImageError> {
    let shown = root.display().to_string();
    let meta = std::fs::metadata(root).map_err(|e| ImageError::io(&shown, e))?;
    // A project's one file (`kestrel fs Cargo.lock`): its directory, that file alone.
    let only = match (kind, meta.is_file(), root.parent(), root.file_name()) {
        (TargetKind::Directory, true, Some(dir), Some(name)) => Some((dir, name)),
        _ => None,
    };
    let (root, only_name) = match only {
        Some((dir, name)) => (if dir.as_os_str().is_empty() { Path::new(".") } else { dir }, Some(name)),
        None if meta.is_dir() => (root, None),
        // A pipe or a device: a project's file is known by its name, which a pipe does not have.
        None if kind == TargetKind::Directory => {
            let why = "neither a directory nor a regular file: `kestrel fs` walks a project directory or reads one of \
                       its files by name (a lock file through a pipe has no name to tell its format by)";
            return Err(ImageError::io(&shown, std::io::Error::new(std::io::ErrorKind::InvalidInput, why)));
        }
        None => return Err(ImageError::Unrecognized { path: shown, reason: "not a directory".into() }),
    };
    let host_root = root.canonicalize().map(|p| p == Path::new("/")).unwrap_or(false);
    let mut tree = FileTree::new();
    let mut warnings = Vec::new();
    let mut to_read: Vec<(String, std::path::PathBuf, u64, Want, bool)> = Vec::new();
    if let Some(p) = &opts.progress {
        p.begin("walking files", None);
    }
    let walker = walkdir::WalkDir::new(root).follow_links(false).sort_by_file_name().into_iter().filter_entry(|e| {
        // Scanning a live host: the kernel's virtual file systems are not part of it.
        !(host_root && e.depth() == 1 && matches!(e.file_name().to_str(), Some("proc" | "sys" | "dev")))
            && only_name.is_none_or(|name| e.depth() == 0 || (e.depth() == 1 && e.file_name() == name))
    });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let p = e.path().map(|p| p.display().to_string()).unwrap_or_else(|| shown.clone());
                warnings.push(Warning { path: p, message: format!("not read: {e}") });
                continue;
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        if tree.len() as u64 >= opts.limits.max_entries {
            return Err(ImageError::Limit {
                path: shown,
                what: format!("more than {} entries", opts.limits.max_entries),
                knob: "--max-entries",
            });
        }
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let Some(rel) = rel.to_str() else {
            warnings.push(Warning {
                path: entry.path().display().to_string(),
                message: "skipped: file name is not UTF-8".into(),
            });
            continue;
        };
        let path = format!("/{rel}");
        let md = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                warnings.push(Warning { path, message: format!("not read: {e}") });
                continue;
            }
        };
        let ft = md.file_type();
        let mode = md.permissions().mode() & 0o7777;
        let mut node = Node { kind: NodeKind::File, mode, size: md.len(), layer: None, content: Content::None };
        if ft.is_dir() {
            node.kind = NodeKind::Dir;
            node.size = 0;
        } else if ft.is_symlink() {
            match std::fs::read_link(entry.path()) {
                Ok(t) => node.kind = NodeKind::Symlink(t.to_string_lossy().into_owned()),
                Err(e) => {
                    warnings.push(Warning { path, message: format!("symbolic link not read: {e}") });
                    continue;
                }
            }
            node.size = 0;
        } else if ft.is_file() {
            let want = selector.want(&path, md.len(), mode);
            let observed = selector.observes(&path, md.len(), mode) && md.len() <= opts.limits.max_probe_file;
            if want != Want::Skip || observed {
                to_read.push((path.clone(), entry.path().to_path_buf(), md.len(), want, observed));
            }
        } else {
            node.kind = NodeKind::Special;
            node.size = 0;
        }
        tree.insert(path, node);
    }
    if let Some(p) = &opts.progress {
        p.end();
        p.begin("reading files", Some(to_read.len() as u64));
    }
    let kept_total = AtomicU64::new(0);
    let results: Vec<(String, Result<Content, String>)> = to_read
        .par_iter()
        .map(|(path, abs, size, want, observed)| {
            // A file both observed (the secrets scan) and probed (a cataloger's summary) is loaded once for both.
            let probed = *want == Want::Summary && *size <= MAX_MAPPED;
            let bytes = (*observed || probed).then(|| look(abs, *size));
            if let (true, Some(Ok(b))) = (*observed, &bytes) {
                if !b.is_empty() {
                    selector.observe(None, path, b);
                }
            }
            let r = match (want, bytes) {
                (Want::Skip, _) => Ok(Content::None),
                (Want::Whole, _) => read_whole(abs, *size, opts, &kept_total),
                (Want::Summary, Some(Ok(b))) if probed => match selector.summarize_in_layer(None, path, &b) {
                    Some(summary) => keep(summary, *want, opts, &kept_total),
                    None => Ok(Content::None),
                },
                (Want::Summary, Some(Err(e))) if probed => Err(format!("not read: {e}")),
                (Want::Summary, _) => Err(format!("not analysed: {size} bytes is above the {MAX_MAPPED}-byte limit")),
            };
            if let Some(p) = &opts.progress {
                p.advance(1);
            }
            (path.clone(), r)
        })
        .collect();
    if let Some(p) = &opts.progress {
        p.end();
    }
    for (path, r) in results {
        match r {
            Ok(Content::None) => {}
            Ok(c) => {
                if let Some(n) = tree.get_mut(&path) {
                    n.content = c;
                }
            }
            Err(msg) => warnings.push(Warning { path, message: msg }),
        }
    }
    let target = ScanTarget::unlayered(kind, shown);
    Ok(Artifact { target, config: None, tree, warnings })
}

/// A file's bytes, to look at: read when small, mapped when large. A map costs little to make, but its unmapping
/// flushes every core's TLB entries for it, and from many threads mapping a small file each (a root file system
/// of 200,000) that stalled the walk: `kestrel rootfs /usr --scanners secret` spent most of its time there. A large
/// file is mapped: parsers touch only the pages they need (an ELF's section headers and one section), and the
/// secrets scan a binary's first 8 KiB.
enum Look {
    Read(Vec<u8>),
    Mapped(memmap2::Mmap),
}

impl std::ops::Deref for Look {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Look::Read(v) => v,
            Look::Mapped(m) => m,
        }
    }
}

/// Files up to this size are read rather than mapped ([`Look`]).
const READ_BELOW: u64 = 1 << 20;

fn look(abs: &Path, size: u64) -> std::io::Result<Look> {
    let file = std::fs::File::open(abs)?;
    if size < READ_BELOW {
        let mut buf = Vec::with_capacity(size as usize);
        // Bounded by what the walk saw, plus a little: a file that grew since is read as it was then, or near.
        file.take(READ_BELOW).read_to_end(&mut buf)?;
        return Ok(Look::Read(buf));
    }
    // SAFETY: the map is read-only and dropped before the caller returns; a file changed underneath us while
    // scanning a live root file system can give wrong bytes, never unsound access from safe code here.
    Ok(Look::Mapped(unsafe { memmap2::Mmap::map(&file) }?))
}

/// A file kept whole ([`Want::Whole`]), up to the limit.
fn read_whole(abs: &Path, size: u64, opts: &OpenOptions, kept_total: &AtomicU64) -> Result<Content, String> {
    let max = opts.limits.max_kept_file;
    if size > max {
        return Err(format!("not analysed: {size} bytes is above the {max}-byte limit"));
    }
    let mut buf = Vec::with_capacity(size as usize);
    std::fs::File::open(abs).and_then(|f| f.take(max).read_to_end(&mut buf)).map_err(|e| format!("not read: {e}"))?;
    keep(buf, Want::Whole, opts, kept_total)
}

/// Largest file probed through a memory map.
const MAX_MAPPED: u64 = 16 << 30;

fn keep(kept: Vec<u8>, want: Want, opts: &OpenOptions, kept_total: &AtomicU64) -> Result<Content, String> {
    if kept_total.fetch_add(kept.len() as u64, Ordering::Relaxed) + kept.len() as u64 > opts.limits.max_kept_total {
        return Err("not analysed: the artifact's content budget (--max-kept-bytes) is used up".into());
    }
    let bytes: Arc<[u8]> = Arc::from(kept);
    Ok(if want == Want::Whole { Content::Whole(bytes) } else { Content::Summary(bytes) })
}
