//! Reading one layer blob (tar, optionally gzip- or zstd-compressed) into a [`LayerDelta`], and applying
//! deltas in order to squash an image into one [`FileTree`].

use crate::io::{
    digest_string, hash_blocks, sniff, tar_reason, BoundedReader, Compression, GzipNoCrc, HashPipe, LimitHit,
};
use crate::tree::{normalize_archive_path, Content, ContentSelector, FileTree, Node, NodeKind, Want};
use crate::{ImageError, Limits};
use kestrel_core::Warning;
use std::io::{self, BufRead, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

/// What one layer changes.
#[derive(Debug, Default, Clone)]
pub(crate) struct LayerDelta {
    /// Added or replaced entries in archive order, with the hard-link target where the entry is one.
    pub entries: Vec<(String, Node, Option<String>)>,
    /// Paths deleted from lower layers (`.wh.NAME`).
    pub whiteouts: Vec<String>,
    /// Directories whose lower-layer content is hidden (`.wh..wh..opq`).
    pub opaque: Vec<String>,
    /// Skipped entries: their path in the layer and why (named with the layer's final position by [`apply`]).
    pub warnings: Vec<(String, String)>,
    /// SHA-256 of the uncompressed tar.
    pub diff_id: String,
    /// SHA-256 of the blob as stored.
    pub blob_digest: String,
    /// Size of the blob as stored.
    pub blob_size: u64,
}

/// Budgets shared by all layers of one artifact (layers are read in parallel).
pub(crate) struct Budget {
    pub entries: AtomicU64,
    pub kept: AtomicU64,
    pub total: AtomicU64,
}

impl Budget {
    pub(crate) fn new() -> Self {
        Budget { entries: AtomicU64::new(0), kept: AtomicU64::new(0), total: AtomicU64::new(0) }
    }
}

/// Everything a layer reader needs besides the bytes.
pub(crate) struct LayerCtx<'a> {
    /// The input, for messages.
    pub input: &'a str,
    pub index: usize,
    /// Member name or digest of the layer, for messages.
    pub name: &'a str,
    pub selector: &'a dyn ContentSelector,
    pub limits: &'a Limits,
    pub budget: &'a Budget,
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
}

impl LayerCtx<'_> {
    fn err(&self, reason: impl ToString) -> ImageError {
        ImageError::Layer {
            path: self.input.to_string(),
            index: self.index,
            name: self.name.to_string(),
            reason: reason.to_string(),
        }
    }

    /// Maps an I/O error from the decompression chain to a limit error when a bound tripped.
    fn io_err(&self, e: io::Error) -> ImageError {
        self.limit(&e).unwrap_or_else(|| self.err(e))
    }

    /// [`LayerCtx::io_err`] for the tar reader's next header, read after the member named `after`.
    fn tar_err(&self, e: io::Error, after: Option<&[u8]>) -> ImageError {
        self.limit(&e).unwrap_or_else(|| self.err(tar_reason(&e, after)))
    }

    fn limit(&self, e: &io::Error) -> Option<ImageError> {
        let hit = LimitHit::of(e)?;
        Some(ImageError::Limit {
            path: format!("{} layer {} ({})", self.input, self.index, self.name),
            what: hit.0.clone(),
            knob: hit.1,
        })
    }

    fn warn(&self, delta: &mut LayerDelta, path: &str, msg: impl Into<String>) {
        delta.warnings.push((path.to_string(), msg.into()));
    }
}

/// Reads one layer blob. Integrity problems (corrupt compression, corrupt tar, limits) are errors;
/// hostile entries (paths leaving the root, bad links) are skipped with a warning.
pub(crate) fn read_layer(blob: impl Read, ctx: &LayerCtx<'_>) -> Result<LayerDelta, ImageError> {
    let compressed = AtomicU64::new(0);
    let uncompressed = AtomicU64::new(0);
    let mut delta = LayerDelta::default();
    // Two hashing threads (the blob as stored, the tar inside it) run beside decompression and parsing.
    let (read, blob_hash, diff_hash, kind) = std::thread::scope(|scope| {
        let (btx, brx) = sync_channel(8);
        let (dtx, drx) = sync_channel(8);
        let blob_hasher = scope.spawn(move || hash_blocks(brx));
        let diff_hasher = scope.spawn(move || hash_blocks(drx));
        let mut kind = Compression::None;
        let read = (|| -> Result<(), ImageError> {
            let progress = BoundedReader::new(blob, u64::MAX).with_progress(ctx.progress);
            let mut raw = HashPipe::new(progress, btx, &compressed);
            kind = sniff(raw.fill_buf().map_err(|e| ctx.io_err(e))?);
            {
                let decompressed: Box<dyn Read + '_> = match kind {
                    Compression::Gzip => Box::new(GzipNoCrc::new(&mut raw)),
                    Compression::Zstd => {
                        Box::new(zstd::stream::read::Decoder::with_buffer(&mut raw).map_err(|e| ctx.err(e))?)
                    }
                    Compression::None => Box::new(&mut raw),
                };
                let mut bounded = BoundedReader::new(decompressed, ctx.limits.max_layer_bytes).with_ratio(
                    &compressed,
                    if kind == Compression::None { u64::MAX } else { ctx.limits.max_ratio },
                    ctx.limits.ratio_grace_bytes,
                );
                if kind == Compression::None {
                    // An uncompressed blob is its own tar: one hash serves as blob digest and diff id.
                    drop(dtx);
                    read_tar(&mut bounded, ctx, &mut delta)?;
                    io::copy(&mut bounded, &mut io::sink()).map_err(|e| ctx.io_err(e))?;
                    uncompressed.store(bounded.read, Ordering::Relaxed);
                } else {
                    let mut tar_stream = HashPipe::new(bounded, dtx, &uncompressed);
                    read_tar(&mut tar_stream, ctx, &mut delta)?;
                    // The digest covers the whole tar, padding included.
                    io::copy(&mut tar_stream, &mut io::sink()).map_err(|e| ctx.io_err(e))?;
                }
            }
            // Bytes after the compressed stream still belong to the blob.
            io::copy(&mut raw, &mut io::sink()).map_err(|e| ctx.io_err(e))?;
            Ok(())
        })();
        let blob_hash = blob_hasher.join().map_err(|_| ctx.err("hashing thread failed"));
        let diff_hash = diff_hasher.join().map_err(|_| ctx.err("hashing thread failed"));
        (read, blob_hash, diff_hash, kind)
    });
    read?;
    let (blob_hash, diff_hash) = (blob_hash?, diff_hash?);
    let total = ctx.budget.total.fetch_add(uncompressed.load(Ordering::Relaxed), Ordering::Relaxed)
        + uncompressed.load(Ordering::Relaxed);
    if total > ctx.limits.max_total_bytes {
        return Err(ImageError::Limit {
            path: ctx.input.to_string(),
            what: format!("more than {} uncompressed bytes in all layers", ctx.limits.max_total_bytes),
            knob: "--max-total-bytes",
        });
    }
    delta.blob_size = compressed.load(Ordering::Relaxed);
    delta.blob_digest = digest_string(blob_hash);
    delta.diff_id = if kind == Compression::None { delta.blob_digest.clone() } else { digest_string(diff_hash) };
    Ok(delta)
}

fn read_tar(stream: &mut impl Read, ctx: &LayerCtx<'_>, delta: &mut LayerDelta) -> Result<(), ImageError> {
    let mut archive = tar::Archive::new(stream);
    let entries = archive.entries().map_err(|e| ctx.io_err(e))?;
    let mut probe_buf: Vec<u8> = Vec::new();
    // The last member's name, for an error in the header after it.
    let mut last: Option<Vec<u8>> = None;
    for entry in entries {
        let mut entry = entry.map_err(|e| ctx.tar_err(e, last.as_deref()))?;
        let n = ctx.budget.entries.fetch_add(1, Ordering::Relaxed) + 1;
        if n > ctx.limits.max_entries {
            return Err(ImageError::Limit {
                path: ctx.input.to_string(),
                what: format!("more than {} entries", ctx.limits.max_entries),
                knob: "--max-entries",
            });
        }
        let raw_path = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_path).into_owned();
        let normalized = normalize_archive_path(&raw_path);
        last = Some(raw_path);
        let path = match normalized {
            Ok(p) => p,
            Err(problem) => {
                ctx.warn(delta, &shown, format!("entry skipped: {problem}"));
                continue;
            }
        };
        if path == "/" {
            continue;
        }
        let (parent, base) = path.rsplit_once('/').unwrap_or(("", &path));
        let parent = if parent.is_empty() { "/" } else { parent };
        if let Some(hidden) = base.strip_prefix(".wh.") {
            if hidden == ".wh..opq" {
                delta.opaque.push(parent.to_string());
            } else if !hidden.starts_with(".wh.") && !hidden.is_empty() {
                let victim = if parent == "/" { format!("/{hidden}") } else { format!("{parent}/{hidden}") };
                delta.whiteouts.push(victim);
            }
            continue;
        }
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let etype = header.entry_type();
        let size = entry.size();
        let mut node = Node { kind: NodeKind::File, mode, size, layer: Some(ctx.index), content: Content::None };
        let mut hardlink = None;
        match etype {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                node.content = keep(&mut entry, &path, size, mode, ctx, delta, &mut probe_buf)?;
            }
            tar::EntryType::Directory => {
                node.kind = NodeKind::Dir;
                node.size = 0;
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().map(|b| String::from_utf8_lossy(&b).into_owned());
                match target {
                    Some(t) if !t.is_empty() && !t.contains('\0') => node.kind = NodeKind::Symlink(t),
                    _ => {
                        ctx.warn(delta, &path, "symbolic link without a target skipped");
                        continue;
                    }
                }
                node.size = 0;
            }
            tar::EntryType::Link => {
                let target = entry.link_name_bytes().map(|b| normalize_archive_path(&b));
                match target {
                    Some(Ok(t)) if t != "/" => hardlink = Some(t),
                    Some(Err(problem)) => {
                        ctx.warn(delta, &path, format!("hard link skipped: target {problem}"));
                        continue;
                    }
                    _ => {
                        ctx.warn(delta, &path, "hard link without a target skipped");
                        continue;
                    }
                }
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                node.kind = NodeKind::Special;
                node.size = 0;
            }
            // PAX and GNU extension headers are consumed by the tar reader; anything else is unknown.
            _ => continue,
        }
        delta.entries.push((path, node, hardlink));
    }
    Ok(())
}

/// Largest probe buffer a layer's reader keeps between files.
const RETAINED_PROBE_BYTES: usize = 8 << 20;

fn keep(
    entry: &mut impl Read,
    path: &str,
    size: u64,
    mode: u32,
    ctx: &LayerCtx<'_>,
    delta: &mut LayerDelta,
    buf: &mut Vec<u8>,
) -> Result<Content, ImageError> {
    let want = ctx.selector.want(path, size, mode);
    let observed = ctx.selector.observes(path, size, mode) && size <= ctx.limits.max_probe_file;
    let max = match want {
        Want::Skip => 0,
        Want::Whole => ctx.limits.max_kept_file,
        Want::Summary => ctx.limits.max_probe_file,
    };
    let keepable = want != Want::Skip && size <= max;
    if want != Want::Skip && !keepable {
        ctx.warn(delta, path, format!("not analysed: {size} bytes is above the {max}-byte limit"));
    }
    if !keepable && !observed {
        return Ok(Content::None);
    }
    let spilled = if want != Want::Whole && size > ctx.limits.spill_above {
        match spill(entry, size, ctx)? {
            Spill::Mapped(map) => Some(map),
            Spill::Unavailable => None,
            Spill::Failed(why) => {
                ctx.warn(delta, path, format!("not analysed: {why}"));
                return Ok(Content::None);
            }
        }
    } else {
        None
    };
    let data: &[u8] = match &spilled {
        Some(map) => map,
        None => {
            // One allocation of exactly the entry's size (bounded above by max_probe_file): growing by doubling
            // reserved up to twice a large binary's size and copied it on the way. A large buffer is not kept
            // for the small files that follow.
            if buf.capacity() > RETAINED_PROBE_BYTES && size <= RETAINED_PROBE_BYTES as u64 {
                *buf = Vec::new();
            }
            buf.clear();
            buf.reserve_exact(size as usize);
            entry.take(size).read_to_end(buf).map_err(|e| ctx.io_err(e))?;
            buf
        }
    };
    if observed {
        ctx.selector.observe(Some(ctx.index), path, data);
    }
    if !keepable {
        return Ok(Content::None);
    }
    let summary;
    let kept = match want {
        Want::Whole => data,
        _ => match ctx.selector.summarize_in_layer(Some(ctx.index), path, data) {
            Some(s) => {
                summary = s;
                summary.as_slice()
            }
            None => return Ok(Content::None),
        },
    };
    let used = ctx.budget.kept.fetch_add(kept.len() as u64, Ordering::Relaxed) + kept.len() as u64;
    if used > ctx.limits.max_kept_total {
        ctx.warn(delta, path, "not analysed: the artifact's content budget (--max-kept-bytes) is used up");
        return Ok(Content::None);
    }
    let bytes: Arc<[u8]> = Arc::from(kept);
    Ok(if want == Want::Whole { Content::Whole(bytes) } else { Content::Summary(bytes) })
}

/// What became of a large file sent to a temporary file.
enum Spill {
    /// Its bytes, mapped.
    Mapped(memmap2::Mmap),
    /// No temporary directory had room: nothing was read, the caller reads it into memory.
    Unavailable,
    /// Writing it failed part-way (the layer's reading goes on; the rest of the entry is skipped).
    Failed(String),
}

/// Bytes copied at a time into a temporary file.
const SPILL_CHUNK: usize = 1 << 20;

/// Room left free on the temporary file's file system beyond the file itself.
const SPILL_MARGIN: u64 = 256 << 20;

/// Copies the entry's `size` bytes to an unnamed temporary file (gone when closed, even on a crash) and maps it.
/// An error reading the entry is the layer's error, as for a file read into memory.
fn spill(entry: &mut impl Read, size: u64, ctx: &LayerCtx<'_>) -> Result<Spill, ImageError> {
    let Some((dir, mut file)) = spill_file(size) else { return Ok(Spill::Unavailable) };
    let mut chunk = vec![0u8; SPILL_CHUNK];
    let mut left = size;
    while left > 0 {
        let want = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match entry.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ctx.io_err(e)),
        };
        if let Err(e) = file.write_all(&chunk[..n]) {
            return Ok(Spill::Failed(format!("writing it to a temporary file in {} failed: {e}", dir.display())));
        }
        left -= n as u64;
    }
    // SAFETY: the file is unnamed and this process's alone; the map is read-only and dropped before the file
    // could change.
    match unsafe { memmap2::Mmap::map(&file) } {
        Ok(map) => Ok(Spill::Mapped(map)),
        Err(e) => Ok(Spill::Failed(format!("mapping its temporary file in {} failed: {e}", dir.display()))),
    }
}

/// An unnamed temporary file with room for `size` bytes: in `$TMPDIR`, else `/var/tmp`, else `/tmp`.
fn spill_file(size: u64) -> Option<(std::path::PathBuf, std::fs::File)> {
    let dirs = std::env::var_os("TMPDIR")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain(["/var/tmp", "/tmp"].map(std::path::PathBuf::from));
    dirs.into_iter().find_map(|dir| {
        let file = tempfile::tempfile_in(&dir).ok()?;
        (free_bytes(&file)? >= size.saturating_add(SPILL_MARGIN)).then_some((dir, file))
    })
}

/// Bytes an unprivileged writer may still use on the file system holding `file`.
fn free_bytes(file: &std::fs::File) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: fstatvfs fills the struct it is given for an open descriptor; it is read only when it succeeded.
    let st = unsafe {
        if libc::fstatvfs(file.as_raw_fd(), st.as_mut_ptr()) != 0 {
            return None;
        }
        st.assume_init()
    };
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Applies layer `index` on top of the tree: opaque directories first, then whiteouts, then entries in order.
/// The layer's files are marked with `index` here, not when read: a layer streamed before the image's manifest
/// arrived was read before its position was known.
pub(crate) fn apply(tree: &mut FileTree, delta: LayerDelta, index: usize, warnings: &mut Vec<Warning>) {
    for dir in &delta.opaque {
        tree.remove_below(dir);
    }
    for victim in &delta.whiteouts {
        tree.remove(victim);
    }
    for (path, mut node, hardlink) in delta.entries {
        node.layer = Some(index);
        if let Some(target) = hardlink {
            match tree.get(&target) {
                Some(t) if t.kind == NodeKind::File => {
                    node.size = t.size;
                    node.mode = t.mode;
                    node.content = t.content.clone();
                }
                _ => {
                    warnings.push(Warning {
                        path: format!("layer {index}:{path}"),
                        message: format!(
                            "hard link to {target}, which is not a file in this or a lower layer: skipped"
                        ),
                    });
                    continue;
                }
            }
        }
        tree.insert(path, node);
    }
    warnings.extend(
        delta.warnings.into_iter().map(|(path, message)| Warning { path: format!("layer {index}:{path}"), message }),
    );
}
