use std::io;

/// Why an artifact could not be read. Every variant names the input and, where there is one, the member
/// (blob, layer, file) that failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The operating system refused a read.
    #[error("{path}: {source}")]
    Io {
        /// The file on disk (or `archive!member`).
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The input is none of the formats kestrel reads.
    #[error("{path}: not a container image: {reason}")]
    Unrecognized {
        /// The input.
        path: String,
        /// What was looked for and not found.
        reason: String,
    },
    /// The input is no tar archive, or a damaged one, or one cut short (a layer's tar is a [`ImageError::Layer`]).
    #[error("{path}: {reason}")]
    Tar {
        /// The input.
        path: String,
        /// What is wrong, and after which member.
        reason: String,
    },
    /// A manifest, index or config is malformed.
    #[error("{path}: invalid {what}: {reason}")]
    Invalid {
        /// The input (and member).
        path: String,
        /// `manifest.json`, `index.json`, `image config`…
        what: String,
        /// The parser's message.
        reason: String,
    },
    /// A manifest names a blob the archive does not hold.
    #[error("{path}: {what} {name} is missing from the image")]
    MissingBlob {
        /// The input.
        path: String,
        /// What the blob is (layer, config, manifest).
        what: String,
        /// Its digest or member name.
        name: String,
    },
    /// The content of a blob does not hash to its digest: the image was corrupted or tampered with.
    #[error("{path}: digest mismatch for {what}: expected {expected}, content hashes to {actual}")]
    DigestMismatch {
        /// The input.
        path: String,
        /// Which blob (`layer 2 blob`, `layer 2 diff id`, `config`, `manifest`).
        what: String,
        /// Digest the manifest or config promised.
        expected: String,
        /// Digest of what was read.
        actual: String,
    },
    /// A layer could not be read: corrupt or truncated compression, corrupt tar.
    #[error("{path}: layer {index} ({name}): {reason}")]
    Layer {
        /// The input.
        path: String,
        /// Layer position, 0 is the base.
        index: usize,
        /// Member name or digest of the layer.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// A configured bound was reached (decompression bomb, too many files…).
    #[error("{path}: limit exceeded: {what} (raise it with {knob} if the image is trusted)")]
    Limit {
        /// The input (and member).
        path: String,
        /// Which bound and its value.
        what: String,
        /// The option that sets it.
        knob: &'static str,
    },
    /// No manifest in an index matches the requested tag or platform.
    #[error("{path}: no image matches {wanted}; the layout has: {available}")]
    NoMatch {
        /// The input.
        path: String,
        /// The tag and platform asked for.
        wanted: String,
        /// What the layout offers.
        available: String,
    },
    /// An image store (containers-storage) holds no image of that name or id.
    #[error("{path}: no image named {name} in this store; {held}")]
    NotInStore {
        /// The store's root.
        path: String,
        /// The name or id asked for.
        name: String,
        /// What it holds instead (`it holds a, b`, or why none).
        held: String,
    },
}

impl ImageError {
    pub(crate) fn io(path: impl Into<String>, source: io::Error) -> Self {
        ImageError::Io { path: path.into(), source }
    }
    /// A tar reader's error after the member named `after` (a bound that tripped stays a limit).
    pub(crate) fn tar(path: &str, e: io::Error, after: Option<&[u8]>) -> Self {
        match crate::io::LimitHit::of(&e) {
            Some(hit) => ImageError::Limit { path: path.to_string(), what: hit.0.clone(), knob: hit.1 },
            None => ImageError::Tar { path: path.to_string(), reason: crate::io::tar_reason(&e, after) },
        }
    }
    pub(crate) fn invalid(path: impl Into<String>, what: impl Into<String>, reason: impl ToString) -> Self {
        ImageError::Invalid { path: path.into(), what: what.into(), reason: reason.to_string() }
    }
}
