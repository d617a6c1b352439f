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

impl LimitHit {
    /// The bound an I/O error says was reached, when it is one.
    pub(crate) fn of(e: &io::Error) -> Option<&LimitHit> {
        e.get_ref()?.downcast_ref()
    }
}

/// Longest member name quoted in a tar error: a PAX header can make a name of any length.
const MAX_NAME_CHARS: usize = 200;

/// Why a tar archive could not be read, having read up to the member named `after`. The tar crate's message for a
/// header it cannot read quotes the header's field and name as it read them — for a file that is no tar at all, a
/// run of its bytes — so a header that does not parse is called what it is: no tar header at the start, a damaged
/// one after `after` otherwise. An archive that stops inside a block or a member `ends early`.
pub(crate) fn tar_reason(e: &io::Error, after: Option<&[u8]>) -> String {
    let text = e.to_string();
    // `… when getting cksum for NAME`, `archive header checksum mismatch`: tar::Archive reading a header.
    let field = text.split_once(" when getting ").map(|(_, rest)| rest.split(' ').next().unwrap_or(""));
    let header = field.is_some() || text == "archive header checksum mismatch";
    let short = e.kind() == io::ErrorKind::UnexpectedEof
        || ["unexpected EOF", "failed to read entire block"].iter().any(|m| text.contains(m));
    let Some(after) = after else {
        return match (header, short) {
            (true, _) => "not a tar archive (its first 512 bytes are no tar header)".to_string(),
            (_, true) => "it ends within its first 512 bytes (not a tar archive, or cut short)".to_string(),
            _ => text,
        };
    };
    let after = String::from_utf8_lossy(after);
    let after = match after.char_indices().nth(MAX_NAME_CHARS) {
        Some((cut, _)) => format!("`{}…`", &after[..cut]),
        None => format!("`{after}`"),
    };
    match (field, header, short) {
        (Some("cksum") | None, true, _) => format!("a damaged tar header after {after} (its checksum does not hold)"),
        (Some(field), true, _) => format!("a damaged tar header after {after} (its {field} field does not parse)"),
        (_, _, true) => format!("it ends early (cut short?) in or after {after}"),
        _ => format!("{text} (after {after})"),
    }
}

/// Fails the read (with a [`LimitHit`] inside the `io::Error`) once more than `max` bytes came through,
/// or once the ratio of its bytes to the `compressed` counter's exceeds `max_ratio` past `grace` bytes.
pub(crate) struct BoundedReader<'a, R> {
    inner: R,
    pub(crate) read: u64,
    max: u64,
    compressed: Option<(&'a AtomicU64, u64, u64)>,
    progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// What going past `max` is called (a layer's bound unless said otherwise).
    over: fn(u64) -> LimitHit,
}

impl<'a, R: Read> BoundedReader<'a, R> {
    pub(crate) fn new(inner: R, max: u64) -> Self {
        let over = |max| LimitHit(format!("more than {max} uncompressed bytes"), "--max-layer-bytes");
        BoundedReader { inner, read: 0, max, compressed: None, progress: None, over }
    }
    /// Names going past `max` otherwise than as a layer's bound.
    pub(crate) fn over(mut self, over: fn(u64) -> LimitHit) -> Self {
        self.over = over;
        self
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
            return Err(io::Error::other((self.over)(self.max)));
        }
        if let Some((c, ratio, grace)) = &self.compressed {
            if self.read > *grace {
                let c = c.load(Ordering::Relaxed).max(1);
                if self.read / c > *ratio {
                    return Err(io::Error::other(LimitHit(
                        format!(
                            "compression ratio above {ratio}:1 ({} bytes from {c}), a decompression bomb",
                            self.read
                        ),
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
    pub(crate) fn new(
        inner: R,
        tx: std::sync::mpsc::SyncSender<std::sync::Arc<Vec<u8>>>,
        count: &'a AtomicU64,
    ) -> Self {
        HashPipe { inner, block: std::sync::Arc::new(Vec::new()), pos: 0, eof: false, tx, count }
    }

    fn refill(&mut self) -> io::Result<()> {
        // Reuse the previous block when the hashing thread is done with it (no allocation, no memset).
        let mut v = match std::sync::Arc::try_unwrap(std::mem::take(&mut self.block)) {
            Ok(mut v) => {
                v.resize(PIPE_BLOCK, 0);
                v
            }
            Err(_) => vec![0u8; PIPE_BLOCK],
        };
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

/// A gzip stream (RFC 1952, one or more members) decoded without the CRC-32 check: every layer's
/// uncompressed bytes are verified against their SHA-256 diff id and the blob against its digest, so the
/// CRC would only cost time. The header is parsed with bounds, the `ISIZE` trailer is still checked.
pub(crate) struct GzipNoCrc<R: io::BufRead> {
    state: GzState<R>,
    member_out: u64,
}

enum GzState<R: io::BufRead> {
    Header(Option<R>),
    Body(flate2::bufread::DeflateDecoder<R>),
    Done,
}

fn read_exact_buf(r: &mut impl io::BufRead, n: usize) -> io::Result<Vec<u8>> {
    let mut v = vec![0u8; n];
    r.read_exact(&mut v).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::other("truncated gzip stream")
        } else {
            e
        }
    })?;
    Ok(v)
}

fn skip_zero_terminated(r: &mut impl io::BufRead) -> io::Result<()> {
    let mut seen = 0usize;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Err(io::Error::other("truncated gzip header"));
        }
        if let Some(i) = buf.iter().position(|&b| b == 0) {
            r.consume(i + 1);
            return Ok(());
        }
        let n = buf.len();
        r.consume(n);
        seen += n;
        if seen > 1 << 20 {
            return Err(io::Error::other("gzip header name or comment longer than 1 MiB"));
        }
    }
}

fn read_gzip_header(r: &mut impl io::BufRead) -> io::Result<()> {
    let h = read_exact_buf(r, 10)?;
    if h[0] != 0x1f || h[1] != 0x8b {
        return Err(io::Error::other("not a gzip member (bad magic)"));
    }
    if h[2] != 8 {
        return Err(io::Error::other(format!("unsupported gzip compression method {}", h[2])));
    }
    let flags = h[3];
    if flags & 0xe0 != 0 {
        return Err(io::Error::other("reserved gzip header flags set"));
    }
    if flags & 4 != 0 {
        let l = read_exact_buf(r, 2)?;
        let len = u16::from_le_bytes([l[0], l[1]]) as usize;
        read_exact_buf(r, len)?;
    }
    if flags & 8 != 0 {
        skip_zero_terminated(r)?;
    }
    if flags & 16 != 0 {
        skip_zero_terminated(r)?;
    }
    if flags & 2 != 0 {
        read_exact_buf(r, 2)?;
    }
    Ok(())
}

impl<R: io::BufRead> GzipNoCrc<R> {
    pub(crate) fn new(r: R) -> Self {
        GzipNoCrc { state: GzState::Header(Some(r)), member_out: 0 }
    }
}

impl<R: io::BufRead> Read for GzipNoCrc<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match &mut self.state {
                GzState::Done => return Ok(0),
                GzState::Header(r) => {
                    let Some(mut r) = r.take() else { return Ok(0) };
                    read_gzip_header(&mut r)?;
                    self.member_out = 0;
                    self.state = GzState::Body(flate2::bufread::DeflateDecoder::new(r));
                }
                GzState::Body(d) => {
                    let n = d.read(buf)?;
                    if n > 0 || buf.is_empty() {
                        self.member_out += n as u64;
                        return Ok(n);
                    }
                    // End of this member's deflate data: the trailer, then maybe another member.
                    let GzState::Body(d) = std::mem::replace(&mut self.state, GzState::Done) else { unreachable!() };
                    let mut r = d.into_inner();
                    let t = read_exact_buf(&mut r, 8)?;
                    let isize = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
                    if isize != self.member_out as u32 {
                        return Err(io::Error::other("gzip trailer size does not match the data: corrupt stream"));
                    }
                    if r.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
                        self.state = GzState::Header(Some(r));
                    } else {
                        // Trailing bytes (padding) are left for the caller, which hashes them as part of the blob.
                        return Ok(0);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_members_decode_and_trailer_is_checked() {
        let mut two = gz(b"hello ");
        two.extend(gz(b"world"));
        let mut out = String::new();
        GzipNoCrc::new(&two[..]).read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello world");
        // Named member (FNAME) as `gzip file` writes it.
        let mut named =
            flate2::GzBuilder::new().filename("layer.tar").comment("c").write(Vec::new(), flate2::Compression::fast());
        named.write_all(b"abc").unwrap();
        let named = named.finish().unwrap();
        let mut out = Vec::new();
        GzipNoCrc::new(&named[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc");
        // A wrong ISIZE is an error; truncation is an error.
        let mut bad = gz(b"data");
        let n = bad.len();
        bad[n - 4] ^= 1;
        assert!(GzipNoCrc::new(&bad[..]).read_to_end(&mut Vec::new()).is_err());
        let good = gz(&[7u8; 10000]);
        assert!(GzipNoCrc::new(&good[..good.len() / 2]).read_to_end(&mut Vec::new()).is_err());
        assert!(GzipNoCrc::new(&b"\x1f\x8b\x07"[..]).read_to_end(&mut Vec::new()).is_err());
    }
}
