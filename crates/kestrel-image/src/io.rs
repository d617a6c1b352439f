//! Readers that hash, count and bound what flows through them.

use sha2::{Digest, Sha256};
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Size of the blocks a [`HashPipe`] hands to its hashing thread.
const PIPE_BLOCK: usize = 1 << 20;

/// Reads its inner reader in 1 MiB blocks and hands each block to a hashing thread, so that SHA-256 runs
/// beside decompression and tar parsing instead of after them. Serves the blocks as a [`BufRead`].
pub(crate) struct HashPipe<'a, R> {
    inner: R,
    block: std::sync::Arc<Vec<u8>>,
    pos: usize,
    eof: bool,
    tx: std::sync::mpsc::SyncSender<std::sync::Arc<Vec<u8>>>,
    count: &'a AtomicU64,
}

impl<'a, R: Read> HashPipe<'a, R> {
    pub(crate) fn new(inner: R, tx: std::sync::mpsc::SyncSender<std::sync::Arc<Vec<u8>>>, count: &'a AtomicU64) -> Self {
        HashPipe { inner, block: std::sync::Arc::new(Vec::new()), pos: 0, eof: false, tx, count }
    }

    fn refill(&mut self) -> io::Result<()> {
        let mut v = vec![0u8; PIPE_BLOCK];
        let mut n = 0;
        while n < v.len() {
            match self.inner.read(&mut v[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        v.truncate(n);
        if n == 0 {
            self.eof = true;
        }
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        self.block = std::sync::Arc::new(v);
        self.pos = 0;
        if n > 0 {
            self.tx.send(self.block.clone()).map_err(|_| io::Error::other("hashing thread stopped"))?;
        }
        Ok(())
    }
}

impl<R: Read> io::BufRead for HashPipe<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.block.len() && !self.eof {
            self.refill()?;
        }
        Ok(&self.block[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.block.len());
    }
}

impl<R: Read> Read for HashPipe<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = io::BufRead::fill_buf(self)?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        io::BufRead::consume(self, n);
        Ok(n)
    }
}

/// The hashing thread's loop: hashes blocks until the sending side is dropped.
pub(crate) fn hash_blocks(rx: std::sync::mpsc::Receiver<std::sync::Arc<Vec<u8>>>) -> Sha256 {
    let mut h = Sha256::new();
    for block in rx {
        h.update(&block[..]);
    }
    h
}
