//! Readers that hash, count and bound what flows through them.

use sha2::{Digest, Sha256};
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

/// Hashes everything read through it with SHA-256 into a borrowed hasher and counts the bytes into a
/// borrowed counter (so that a [`BoundedReader`] further down the chain can read the count).
pub(crate) struct HashingReader<'a, R> {
    inner: R,
    hasher: &'a mut Sha256,
    count: &'a AtomicU64,
}

impl<'a, R: Read> HashingReader<'a, R> {
    pub(crate) fn new(inner: R, hasher: &'a mut Sha256, count: &'a AtomicU64) -> Self {
        HashingReader { inner, hasher, count }
    }
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// `sha256:<hex>` of a finished hasher.
pub(crate) fn digest_string(h: Sha256) -> String {
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// `sha256:<hex>` of a byte slice.
pub(crate) fn sha256_of(data: &[u8]) -> String {
    digest_string(Sha256::new_with_prefix(data))
}

/// Why a bounded reader stopped.
#[derive(Debug)]
pub(crate) struct LimitHit(pub String, pub &'static str);

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for LimitHit {}

/// Fails the read (with a [`LimitHit`] inside the `io::Error`) once more than `max` bytes came through,
/// or once the ratio of its bytes to the `compressed` counter's exceeds `max_ratio` past `grace` bytes.
pub(crate) struct BoundedReader<'a, R> {
    inner: R,
    pub(crate) read: u64,
    max: u64,
    compressed: Option<(&'a AtomicU64, u64, u64)>,
    progress: Option<&'a (dyn Fn(u64) + Sync)>,
}

impl<'a, R: Read> BoundedReader<'a, R> {
    pub(crate) fn new(inner: R, max: u64) -> Self {
        BoundedReader { inner, read: 0, max, compressed: None, progress: None }
    }
    pub(crate) fn with_ratio(mut self, compressed: &'a AtomicU64, max_ratio: u64, grace: u64) -> Self {
        self.compressed = Some((compressed, max_ratio, grace));
        self
    }
    pub(crate) fn with_progress(mut self, f: Option<&'a (dyn Fn(u64) + Sync)>) -> Self {
        self.progress = f;
        self
    }
}

impl<R: Read> Read for BoundedReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.max {
            return Err(io::Error::other(LimitHit(
                format!("more than {} uncompressed bytes", self.max),
                "--max-layer-bytes",
            )));
        }
        if let Some((c, ratio, grace)) = &self.compressed {
            if self.read > *grace {
                let c = c.load(Ordering::Relaxed).max(1);
                if self.read / c > *ratio {
                    return Err(io::Error::other(LimitHit(
                        format!("compression ratio above {ratio}:1 ({} bytes from {c}), a decompression bomb", self.read),
                        "--max-ratio",
                    )));
                }
            }
        }
        if let Some(p) = &self.progress {
            p(n as u64);
        }
        Ok(n)
    }
}

/// Compression of a layer blob, sniffed from its first bytes (media types lie).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

pub(crate) fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Reads up to `max` bytes fully; errors if the stream is longer.
pub(crate) fn read_bounded(mut r: impl Read, max: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    (&mut r).take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(io::Error::other(LimitHit(format!("larger than {max} bytes"), "--max-metadata-bytes")));
    }
    Ok(buf)
}
