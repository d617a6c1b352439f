//! Reading container artifacts into one squashed, virtual [`FileTree`].
//!
//! kestrel-image opens `docker save` archives, OCI image layouts (a directory, or a tar of one), plain
//! root-file-system tars and unpacked directories, and returns an [`Artifact`]: the scan target's
//! description (layers and their digests), the image configuration, and the file tree after squashing the
//! layers with their whiteouts. Every file remembers the layer that last wrote it.
//!
//! Nothing is ever written to the host: layers are streamed, decompressed (gzip, zstd or none, sniffed
//! from the bytes), hashed and verified against the manifest and config digests, and only the files a
//! [`ContentSelector`] asks for are kept in memory. Images come from attackers, so every bound is in
//! [`Limits`], hostile entries (paths leaving the root, dangling hard links) are skipped with a
//! [`kestrel_core::Warning`] naming them, and integrity failures are [`ImageError`]s naming the file.
//!
//! ```no_run
//! use kestrel_image::{open, KeepNothing, OpenOptions};
//! let artifact = open("alpine.tar".as_ref(), &OpenOptions::default(), &KeepNothing).unwrap();
//! for layer in &artifact.target.layers {
//!     println!("{} {}", layer.index, layer.diff_id);
//! }
//! println!("{} files", artifact.tree.len());
//! ```
#![deny(missing_docs)]

mod blobs;
mod config;
pub mod containerd;
pub mod daemon;
mod error;
mod image;
mod io;
mod layer;
mod limits;
pub mod registry;
mod rootfs;
pub mod storage;
mod stream;
mod tree;

pub use config::{ContainerConfig, History, ImageConfig, RootFs};
pub use error::ImageError;
pub use limits::Limits;
pub use tree::{
    normalize_archive_path, Content, ContentSelector, FileTree, KeepNothing, Node, NodeKind, Observed, PathProblem,
    Want,
};

use kestrel_core::{ScanTarget, TargetKind, Warning};
use std::path::Path;
use std::sync::Arc;

/// A scanned artifact: what it is, its configuration (images), its squashed file tree, and the warnings
/// met while reading it.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// Description of the input and its layers.
    pub target: ScanTarget,
    /// The image configuration, for images.
    pub config: Option<ImageConfig>,
    /// The squashed file tree.
    pub tree: FileTree,
    /// Problems that did not stop reading.
    pub warnings: Vec<Warning>,
}

impl Artifact {
    /// Diff id of layer `index`, for locations.
    pub fn layer_digest(&self, index: Option<usize>) -> Option<&str> {
        index.and_then(|i| self.target.layers.get(i)).map(|l| l.diff_id.as_str())
    }
}

/// Receives progress while an artifact is read (from several threads).
pub trait Progress: Send + Sync {
    /// A phase starts; `total` is in bytes for layers and in files for directories, when known.
    fn begin(&self, phase: &str, total: Option<u64>);
    /// Some work of the current phase is done.
    fn advance(&self, n: u64);
    /// The current phase ended.
    fn end(&self);
}

/// How to open an artifact.
#[derive(Clone, Default)]
pub struct OpenOptions {
    /// Resource bounds.
    pub limits: Limits,
    /// Image tag (or manifest digest) to pick from an archive or layout holding several.
    pub tag: Option<String>,
    /// Platform (`linux/arm64`, `linux/arm/v7`) to pick from a multi-platform index; default: the host's.
    pub platform: Option<String>,
    /// Progress receiver.
    pub progress: Option<Arc<dyn Progress>>,
}

/// Opens an image or tar from a path, detecting its format: a directory with `oci-layout` is an OCI image
/// layout; a tar (optionally gzip- or zstd-compressed) holding `manifest.json` is a `docker save` archive,
/// one holding `index.json` an OCI layout, and any other tar is read as a single-layer root file system.
/// A compressed archive is read once, front to back, as [`open_stream`] reads one (a plain tar is indexed and its
/// layers read in parallel, in place): nothing is decompressed to disk.
pub fn open(path: &Path, opts: &OpenOptions, selector: &dyn ContentSelector) -> Result<Artifact, ImageError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| ImageError::io(&shown, e))?;
    if meta.is_dir() {
        if !path.join("oci-layout").is_file() {
            return Err(ImageError::Unrecognized {
                path: shown,
                reason: "a directory without an `oci-layout` file (scan an unpacked file system with `kestrel rootfs`)"
                    .into(),
            });
        }
        return image::read_image(&shown, blobs::Blobs::Dir(path.to_path_buf()), opts, selector);
    }
    if compressed(path)? {
        let f = std::fs::File::open(path).map_err(|e| ImageError::io(&shown, e))?;
        return match stream::open_stream(&shown, f, Some(meta.len()), opts, selector) {
            // Neither manifest.json nor index.json: a root file system, read again as one.
            Err(ImageError::Unrecognized { .. }) => open_rootfs_tar(path, opts, selector),
            read => read,
        };
    }
    let blobs = blobs::Blobs::index_tar(path, &opts.limits)?;
    if blobs.has("manifest.json") || blobs.has("index.json") {
        return image::read_image(&shown, blobs, opts, selector);
    }
    drop(blobs);
    open_rootfs_tar(path, opts, selector)
}

/// Whether the file at `path` is gzip- or zstd-compressed (by its first bytes).
fn compressed(path: &Path) -> Result<bool, ImageError> {
    let shown = path.display().to_string();
    let mut f = std::fs::File::open(path).map_err(|e| ImageError::io(&shown, e))?;
    let mut head = [0u8; 4];
    let n = blobs::read_fill(&mut f, &mut head).map_err(|e| ImageError::io(&shown, e))?;
    Ok(io::sniff(&head[..n]) != io::Compression::None)
}

/// Reads an image archive — a `docker save` archive or an OCI layout tar, plain, gzip or zstd — from a stream, front
/// to back, once, writing nothing to disk: what a container engine sends for `GET /images/NAME/get`, or `docker save`
/// on a pipe. `input` names it in messages and in the result. Every layer is read as it arrives, before the manifest
/// at the archive's end says which layers the image has and in what order, so the selector's
/// [`ContentSelector::renumber_layers`] is called before this returns; blobs the image does not use are read too.
pub fn open_stream(
    input: &str,
    reader: impl std::io::Read,
    opts: &OpenOptions,
    selector: &dyn ContentSelector,
) -> Result<Artifact, ImageError> {
    stream::open_stream(input, reader, None, opts, selector)
}

/// An image whose index, manifests and config have been read and verified, its layers not yet: what
/// [`identify`] returns. [`Identified::open`] reads the layers without indexing the input again (which, for a
/// compressed archive, means decompressing it again).
pub struct Identified {
    shown: String,
    blobs: blobs::Blobs,
    target: ScanTarget,
    config: config::ImageConfig,
    plans: Vec<image::LayerPlan>,
}

impl Identified {
    /// The image: its image id (the config's digest, which names every layer by its diff id), manifest
    /// digest, tags and platform; no layers yet.
    pub fn target(&self) -> &ScanTarget {
        &self.target
    }

    /// The image's configuration (read and digest-checked; no layer read yet).
    pub fn config(&self) -> &config::ImageConfig {
        &self.config
    }

    /// Reads the layers: the same artifact [`open`] gives.
    pub fn open(self, opts: &OpenOptions, selector: &dyn ContentSelector) -> Result<Artifact, ImageError> {
        image::squash(&self.shown, &self.blobs, self.target, self.config, self.plans, opts, selector)
    }
}

/// Names the image a path holds without reading its layers: only the index, manifests and config are read
/// (and verified). `None` for inputs that are not images (a root file system tar, a directory without
/// `oci-layout`), which have no content address, and for compressed archives, whose manifest comes after their
/// layers: [`open`] reads them whole, once.
pub fn identify(path: &Path, opts: &OpenOptions) -> Result<Option<Identified>, ImageError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| ImageError::io(&shown, e))?;
    let blobs = if meta.is_dir() {
        if !path.join("oci-layout").is_file() {
            return Ok(None);
        }
        blobs::Blobs::Dir(path.to_path_buf())
    } else if compressed(path)? {
        return Ok(None);
    } else {
        let b = blobs::Blobs::index_tar(path, &opts.limits)?;
        if !(b.has("manifest.json") || b.has("index.json")) {
            return Ok(None);
        }
        b
    };
    let (target, config, plans) = image::plan_image(&shown, &blobs, opts)?;
    Ok(Some(Identified { shown, blobs, target, config, plans }))
}

/// Opens a tar of a root file system (optionally compressed) as a one-layer artifact.
pub fn open_rootfs_tar(
    path: &Path,
    opts: &OpenOptions,
    selector: &dyn ContentSelector,
) -> Result<Artifact, ImageError> {
    let shown = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| ImageError::io(&shown, e))?;
    read_rootfs_tar(f, &shown, opts, selector)
}

/// Reads a root file system tar (optionally compressed) from a stream; `name` is used in messages.
pub fn read_rootfs_tar(
    stream: impl std::io::Read,
    name: &str,
    opts: &OpenOptions,
    selector: &dyn ContentSelector,
) -> Result<Artifact, ImageError> {
    let shown = name.to_string();
    let budget = layer::Budget::new();
    let ctx = layer::LayerCtx {
        input: &shown,
        index: 0,
        name: &shown,
        selector,
        limits: &opts.limits,
        budget: &budget,
        progress: None,
    };
    let delta = layer::read_layer(stream, &ctx).map_err(|e| match e {
        // A root file system is one tar, not a layer of an image: no "layer 0".
        ImageError::Layer { path, reason, .. } => ImageError::Tar { path, reason },
        e => e,
    })?;
    if delta.blob_size == 0 {
        // GNU tar refuses it too: an empty root file system is a tar of end blocks, not nothing.
        return Err(ImageError::Tar { path: shown, reason: "an empty file, not a tar archive".into() });
    }
    let mut tree = FileTree::new();
    let mut warnings = Vec::new();
    layer::apply(&mut tree, delta, 0, &mut warnings);
    // A root file system tar has no layers of its own: its files carry no layer digest.
    let mut clean = FileTree::new();
    for (p, n) in tree.iter() {
        let mut n = n.clone();
        n.layer = None;
        clean.insert(p.to_string(), n);
    }
    let target = ScanTarget::unlayered(TargetKind::Rootfs, shown);
    Ok(Artifact { target, config: None, tree: clean, warnings })
}

/// Opens an unpacked directory: a root file system ([`TargetKind::Rootfs`]) or a project directory
/// ([`TargetKind::Directory`]).
pub fn open_dir(
    path: &Path,
    kind: TargetKind,
    opts: &OpenOptions,
    selector: &dyn ContentSelector,
) -> Result<Artifact, ImageError> {
    rootfs::read_dir(path, kind, opts, selector)
}
