//! Secrets in container images: every layer's files, also those a later layer deletes or replaces (they are
//! still in the image for anyone who pulls it), each finding with its layer.

use crate::{Scanner, SecretFinding};
use kestrel_image::{ContentSelector, Want};
use std::sync::Mutex;

/// A content selector that scans each regular file of each layer as the image is read, and keeps nothing.
pub struct LayerScanner<'a> {
    scanner: &'a Scanner,
    found: Mutex<Vec<(Option<usize>, SecretFinding)>>,
    bytes: std::sync::atomic::AtomicU64,
    files: std::sync::atomic::AtomicUsize,
    too_large: Mutex<Vec<(String, u64)>>,
}

impl<'a> LayerScanner<'a> {
    /// A selector over these rules.
    pub fn new(scanner: &'a Scanner) -> Self {
        LayerScanner {
            scanner,
            found: Mutex::new(Vec::new()),
            bytes: Default::default(),
            files: Default::default(),
            too_large: Mutex::new(Vec::new()),
        }
    }

    /// Bytes scanned so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Files scanned so far (every layer's version of a file counts).
    pub fn files(&self) -> usize {
        self.files.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The files passed over for their size (path, bytes): a credential in one would go unseen, so callers
    /// say so.
    pub fn too_large(&self) -> Vec<(String, u64)> {
        self.too_large.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The findings, each with the index of the layer its file came from.
    pub fn into_findings(self) -> Vec<(Option<usize>, SecretFinding)> {
        self.found.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl ContentSelector for LayerScanner<'_> {
    fn want(&self, path: &str, size: u64, mode: u32) -> Want {
        if size > crate::MAX_FILE_BYTES {
            // Said by name, since a credential in it goes unseen — unless it is a program or a library, which
            // a directory scan would skip as binary by its head anyway (a layer's selector sees no byte first):
            // an image's 100 MB libLLVM or node is no finding's hiding place worth a warning each.
            if !is_program_or_library(path, mode) {
                if let Ok(mut v) = self.too_large.lock() {
                    v.push((path.to_string(), size));
                }
            }
            return Want::Skip;
        }
        if size == 0 {
            Want::Skip
        } else {
            Want::Summary
        }
    }

    fn summarize_in_layer(&self, layer: Option<usize>, path: &str, data: &[u8]) -> Option<Vec<u8>> {
        if crate::is_binary(data) {
            return None;
        }
        self.bytes.fetch_add(data.len() as u64, std::sync::atomic::Ordering::Relaxed);
        self.files.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let found = self.scanner.scan_bytes(path, data);
        if !found.is_empty() {
            if let Ok(mut v) = self.found.lock() {
                v.extend(found.into_iter().map(|f| (layer, f)));
            }
        }
        None
    }

    fn renumber_layers(&self, index: &dyn Fn(usize) -> Option<usize>) {
        if let Ok(mut v) = self.found.lock() {
            // A finding in a blob the image does not use is no finding of the image.
            v.retain_mut(|(layer, _)| match layer.map(index) {
                Some(None) => false,
                Some(i) => {
                    *layer = i;
                    true
                }
                None => true,
            });
        }
    }
}

/// An executable file, or one named as a shared library, an object or a static archive (`libz.so.1.2.13`,
/// `libfoo.a`, `x.o`).
fn is_program_or_library(path: &str, mode: u32) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    mode & 0o111 != 0 || name.ends_with(".so") || name.contains(".so.") || name.ends_with(".a") || name.ends_with(".o")
}

/// Why a file was passed over for its size, as the scan's errors and warnings say it.
pub fn too_large_reason(bytes: u64) -> String {
    format!("not scanned for secrets: {bytes} bytes is above the {} MiB limit", crate::MAX_FILE_BYTES >> 20)
}

/// Scans an opened image's layers: call [`kestrel_image::open`] with a [`LayerScanner`], then this names each
/// finding's layer and says whether its file is still in the final image.
pub fn name_layers(
    artifact: &kestrel_image::Artifact,
    found: Vec<(Option<usize>, SecretFinding)>,
) -> Vec<SecretFinding> {
    let mut out: Vec<SecretFinding> = found
        .into_iter()
        .map(|(layer, mut f)| {
            if let Some(i) = layer {
                let digest = artifact.layer_digest(Some(i)).unwrap_or("?");
                let short: String = digest.trim_start_matches("sha256:").chars().take(12).collect();
                let last = artifact.tree.get(&f.file).and_then(|n| n.layer);
                let fate = match last {
                    Some(l) if l == i => "",
                    Some(_) => ", replaced by a later layer",
                    None => ", deleted by a later layer (still in the image)",
                };
                f.layer = Some(format!("{i} sha256:{short}{fate}"));
            }
            f
        })
        .collect();
    out.sort_by(|a, b| (&a.layer, &a.file, a.line).cmp(&(&b.layer, &b.file, b.line)));
    out
}
