//! The database through a kestrel server: `kestrel db update --server` fetches the server's copy when it differs
//! from the one here, `kestrel db push` sends this one to the server. The agents and image watchers of a cluster
//! then need no way out but to their server — one machine builds the database (from OSV, or from files carried
//! into an air-gapped site) and every node gets it from there.
//!
//! On the wire the file is zstd-compressed (`application/zstd`); the SHA-256 of the uncompressed file is its
//! ETag, so asking again for an unchanged database costs one request answered `304 Not Modified`. What arrives
//! is written beside the database, checked ([`Database::verify_file`]: its digest, kestrel's own tables and
//! nothing else, whole) and only then renamed over it: a failed or cut-short fetch leaves the previous database.

use crate::store::{Database, DbError, TempFile, DB_FILE};
use crate::update::UpdateProgress;
use kestrel_core::FileIdent;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The API path of the database on a kestrel server.
pub const API_PATH: &str = "/api/v1/vulndb";
/// The media type of the compressed file.
pub const MEDIA_TYPE: &str = "application/zstd";
/// The header with the SHA-256 of the uncompressed file (also the ETag, quoted).
pub const SHA256_HEADER: &str = "x-kestrel-db-sha256";
/// The header with the database's build time.
pub const BUILT_HEADER: &str = "x-kestrel-db-built";
/// The largest uncompressed database accepted (a database of every ecosystem is a few GiB at most).
pub const MAX_DB_BYTES: u64 = 32 << 30;
/// zstd's level for the file on the wire: level 3 compresses a database about 2.4 times at a few hundred MB/s.
pub const LEVEL: i32 = 3;

/// What a fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pulled {
    /// The server has the database this directory holds.
    Unchanged {
        /// Its SHA-256.
        sha256: String,
    },
    /// The server has another database, built no later than this one, which stays (see [`Server::even_older`]).
    NewerHere {
        /// The SHA-256 of the one here.
        sha256: String,
        /// When the server's was built.
        server_built: Option<String>,
    },
    /// The server's database replaced this one.
    Replaced {
        /// Its SHA-256.
        sha256: String,
        /// When it was built.
        built: Option<String>,
        /// Its size.
        bytes: u64,
        /// Bytes that came over the wire.
        compressed: u64,
    },
}

/// Why a fetch or a push failed (the database here is as it was).
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The request failed or the server refused it.
    #[error("{url}: {reason}")]
    Http {
        /// What was asked.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// The database here could not be read or written, or what came is not a kestrel database.
    #[error(transparent)]
    Db(#[from] DbError),
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Remembered {
    sha256: String,
    file: FileIdent,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DbError + '_ {
    move |source| DbError::Io { path: path.to_path_buf(), source }
}

/// The SHA-256 (hex) of everything `r` yields.
pub fn sha256_of(mut r: impl Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// Where the digest of the database in `dir` is remembered.
fn remembered_path(dir: &Path) -> PathBuf {
    dir.join(format!(".{DB_FILE}.sha256"))
}

/// The SHA-256 of the database file in `dir` (`None`: there is none), remembered beside it while the file's
/// identity (device, inode, size, modification and change times) stays the same, so a watcher asking every
/// few minutes reads a large database once.
pub fn local_sha256(dir: &Path) -> Result<Option<String>, DbError> {
    let path = dir.join(DB_FILE);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    let ident = FileIdent::of(&file.metadata().map_err(io(&path))?);
    let kept = remembered_path(dir);
    if let Some(r) = std::fs::read(&kept).ok().and_then(|b| serde_json::from_slice::<Remembered>(&b).ok()) {
        if r.file == ident && kestrel_core::is_sha256_hex(&r.sha256) {
            return Ok(Some(r.sha256));
        }
    }
    let sha256 = sha256_of(&file).map_err(io(&path))?;
    remember(dir, &sha256, ident);
    Ok(Some(sha256))
}

/// Remembers the digest of the file with `ident` (best effort: without it the next look reads the file again).
fn remember(dir: &Path, sha256: &str, ident: FileIdent) {
    let kept = remembered_path(dir);
    let tmp = dir.join(format!(".{DB_FILE}.sha256.{}.tmp", std::process::id()));
    let text = serde_json::to_vec(&Remembered { sha256: sha256.to_string(), file: ident }).unwrap_or_default();
    if std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &kept)).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

fn agent(timeout: Duration, tls: ureq::tls::TlsConfig) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_global(Some(timeout))
        .user_agent(concat!("kestrel/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// The `{"error": …}` of a refusal, else its text.
fn refusal(status: u16, mut resp: ureq::http::Response<ureq::Body>) -> String {
    let text = resp.body_mut().with_config().limit(64 << 10).read_to_string().unwrap_or_default();
    let why = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or(text);
    format!("{status}: {}", why.trim())
}

/// Counts what passes through a reader into the progress.
struct Counting<'a, R> {
    inner: R,
    got: u64,
    progress: &'a mut dyn UpdateProgress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.got += n as u64;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// Why [`unpack`] or [`pack`] stopped.
#[derive(Debug)]
pub enum UnpackError {
    /// The input: unreadable, not zstd, cut short (with the bytes written before).
    Input(u64, std::io::Error),
    /// Writing the file.
    Output(std::io::Error),
    /// More than [`MAX_DB_BYTES`] uncompressed.
    TooLarge,
}

/// Copies `input` to `out`, digesting what passes, at most `limit` bytes when given; returns the size and SHA-256.
fn copy_digest(mut input: impl Read, out: &mut impl Write, limit: Option<u64>) -> Result<(u64, String), UnpackError> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(|e| UnpackError::Input(bytes, e))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        if limit.is_some_and(|l| bytes > l) {
            return Err(UnpackError::TooLarge);
        }
        h.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(UnpackError::Output)?;
    }
    Ok((bytes, hex::encode(h.finalize())))
}

/// Copies `input` into a new file at `dest` (synced), at most [`MAX_DB_BYTES`]; returns its size and SHA-256.
fn store(input: impl Read, dest: &Path) -> Result<(u64, String), UnpackError> {
    let mut out = std::fs::File::create(dest).map_err(UnpackError::Output)?;
    let done = copy_digest(input, &mut out, Some(MAX_DB_BYTES))?;
    out.sync_all().map_err(UnpackError::Output)?;
    Ok(done)
}

/// Decompresses the zstd stream `input` into a new file at `dest` (synced), at most [`MAX_DB_BYTES`]; returns
/// its size and SHA-256.
pub fn unpack(input: impl Read, dest: &Path) -> Result<(u64, String), UnpackError> {
    store(zstd::stream::read::Decoder::new(input).map_err(|e| UnpackError::Input(0, e))?, dest)
}

/// Compresses `input` (zstd, [`LEVEL`]) into a new file at `dest` (synced); returns the size and SHA-256 of what
/// was read: the database's, as the server announces it and `db export` says it.
pub fn pack(input: impl Read, dest: &Path) -> Result<(u64, String), UnpackError> {
    let out = std::fs::File::create(dest).map_err(UnpackError::Output)?;
    let mut enc = zstd::stream::write::Encoder::new(out, LEVEL).map_err(UnpackError::Output)?;
    let done = copy_digest(input, &mut enc, None)?;
    enc.finish().and_then(|f| f.sync_all()).map_err(UnpackError::Output)?;
    Ok(done)
}

/// A kestrel server as the database's client sees it.
#[derive(Debug, Clone)]
pub struct Server<'a> {
    /// Its base URL.
    pub url: &'a str,
    /// The bearer token.
    pub token: &'a str,
    /// How long one transfer may take.
    pub timeout: Duration,
    /// TLS settings (the CA to trust for an https:// URL).
    pub tls: ureq::tls::TlsConfig,
    /// Take the server's database whenever it differs, even when it was built before the one here (a
    /// rollback); else only one built later replaces it.
    pub even_older: bool,
}

/// Fetches the database of the kestrel server into `dir`, unless the one here is the same.
pub fn pull(dir: &Path, server: &Server<'_>, progress: &mut dyn UpdateProgress) -> Result<Pulled, RemoteError> {
    let url = format!("{}{API_PATH}", server.url.trim_end_matches('/'));
    let http = |reason: String| RemoteError::Http { url: url.clone(), reason };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let here = local_sha256(dir)?;
    // When the one here was built: a server with an older one (another replica not yet updated) leaves it.
    let built_here = here.as_ref().and_then(|_| Database::open(dir).ok()).and_then(|d| d.built_at());
    let mut req =
        agent(server.timeout, server.tls.clone()).get(&url).header("Authorization", format!("Bearer {}", server.token));
    if let Some(sha) = &here {
        req = req.header("If-None-Match", format!("\"{sha}\""));
    }
    if let (Some(built), false) = (&built_here, server.even_older) {
        req = req.header(BUILT_HEADER, built);
    }
    let resp = req.call().map_err(|e| http(e.to_string()))?;
    let status = resp.status().as_u16();
    if status == 304 {
        if let Some(sha256) = here {
            let theirs = resp.headers().get(SHA256_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
            if theirs == sha256 {
                return Ok(Pulled::Unchanged { sha256 });
            }
            let server_built = resp.headers().get(BUILT_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
            return Ok(Pulled::NewerHere { sha256, server_built });
        }
    }
    if status != 200 {
        return Err(http(refusal(status, resp)));
    }
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let Some(sha256) = header(SHA256_HEADER).filter(|s| kestrel_core::is_sha256_hex(s)) else {
        return Err(http(format!("the answer has no {SHA256_HEADER} header: is this a kestrel server?")));
    };
    if here.as_deref() == Some(sha256.as_str()) {
        return Ok(Pulled::Unchanged { sha256 });
    }
    let total = header("content-length").and_then(|v| v.parse::<u64>().ok());
    progress.start("vulnerability database", total);
    let tmp_path = dir.join(format!(".{DB_FILE}.{}.pull.tmp", std::process::id()));
    let tmp = TempFile::new(tmp_path.clone());
    let mut body = Counting {
        inner: resp.into_body().into_with_config().limit(MAX_DB_BYTES).reader(),
        got: 0,
        progress: &mut *progress,
    };
    let (bytes, got_sha) = unpack(&mut body, &tmp_path).map_err(|e| match e {
        UnpackError::Input(n, e) => http(format!("reading the database after {n} bytes: {e}")),
        UnpackError::Output(e) => io(&tmp_path)(e).into(),
        UnpackError::TooLarge => http(format!("the database is larger than the {} GiB accepted", MAX_DB_BYTES >> 30)),
    })?;
    let compressed = body.got;
    progress.finish("vulnerability database");
    if got_sha != sha256 {
        return Err(http(format!("the database that came has SHA-256 {got_sha}, the server announced {sha256}")));
    }
    let built = Database::verify_file(&tmp_path)
        .map_err(|e| {
            let why = e.to_string().replace(&*tmp_path.to_string_lossy(), "the download");
            http(format!("what came is not a usable database: {why}"))
        })?
        .built_at();
    swap_in(dir, tmp, &sha256)?;
    Ok(Pulled::Replaced { sha256, built, bytes, compressed })
}

/// Whether `path` holds a kestrel database as a file (SQLite's header), zstd-compressed or not, rather than
/// advisories to import.
pub fn is_database_file(path: &Path) -> bool {
    const SQLITE: &[u8] = b"SQLite format 3\0";
    let Ok(f) = std::fs::File::open(path) else { return false };
    let mut head = Vec::with_capacity(16);
    if f.take(16).read_to_end(&mut head).is_err() {
        return false;
    }
    if head.starts_with(SQLITE) {
        return true;
    }
    if !head.starts_with(&ZSTD_MAGIC) {
        return false;
    }
    let mut inner = Vec::with_capacity(16);
    std::fs::File::open(path)
        .and_then(zstd::stream::read::Decoder::new)
        .and_then(|d| d.take(16).read_to_end(&mut inner))
        .is_ok_and(|_| inner.starts_with(SQLITE))
}

/// Replaces the database in `dir` with the database file at `path` (as `db export` writes it: zstd-compressed,
/// or not), after checking it as a fetched one; returns its SHA-256 and build time. The database here stays
/// when anything fails.
pub fn install_file(dir: &Path, path: &Path) -> Result<(String, Option<String>), DbError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let staged = TempFile::new(dir.join(format!(".{DB_FILE}.{}.import.tmp", std::process::id())));
    let input = std::fs::File::open(path).map_err(io(path))?;
    let invalid = |reason: String| DbError::Invalid { path: path.to_path_buf(), reason };
    let zstd = is_zstd(path);
    let stored = if zstd { unpack(input, staged.path()) } else { store(input, staged.path()) };
    let (_, sha256) = stored.map_err(|e| match e {
        UnpackError::Input(n, e) if zstd => invalid(format!("unreadable after {n} bytes: {e}")),
        UnpackError::Input(_, e) => io(path)(e),
        UnpackError::Output(e) => io(staged.path())(e),
        UnpackError::TooLarge => invalid(format!("larger than the {} GiB accepted", MAX_DB_BYTES >> 30)),
    })?;
    let staged_name = format!("{}: ", staged.path().display());
    let built =
        Database::verify_file(staged.path()).map_err(|e| invalid(e.to_string().replace(&staged_name, "")))?.built_at();
    swap_in(dir, staged, &sha256)?;
    Ok((sha256, built))
}

/// Renames a checked database file over the one in `dir` and remembers its digest.
fn swap_in(dir: &Path, staged: TempFile, sha256: &str) -> Result<(), DbError> {
    let target = dir.join(DB_FILE);
    std::fs::rename(staged.path(), &target).map_err(io(&target))?;
    staged.keep();
    if let Ok(m) = std::fs::metadata(&target) {
        remember(dir, sha256, FileIdent::of(&m));
    }
    Ok(())
}

/// zstd's frame magic number, as it starts a file.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

fn is_zstd(path: &Path) -> bool {
    let mut head = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && head == ZSTD_MAGIC
}

/// Writes the database in `dir`, checked, zstd-compressed to `dest` (for `db import` on a machine with no way
/// to a server); returns its size, SHA-256 and the compressed size.
pub fn export(dir: &Path, dest: &Path) -> Result<(u64, String, u64), DbError> {
    let path = dir.join(DB_FILE);
    Database::verify_file(&path)?;
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = TempFile::new(parent.join(format!(".{name}.{}.tmp", std::process::id())));
    let input = std::fs::File::open(&path).map_err(io(&path))?;
    let (bytes, sha256) = pack(input, tmp.path()).map_err(|e| match e {
        UnpackError::Input(_, e) => io(&path)(e),
        UnpackError::Output(e) => io(tmp.path())(e),
        // pack has no bound: never.
        UnpackError::TooLarge => DbError::Invalid { path: path.clone(), reason: "too large".into() },
    })?;
    std::fs::rename(tmp.path(), dest).map_err(io(dest))?;
    tmp.keep();
    let compressed = std::fs::metadata(dest).map_err(io(dest))?.len();
    Ok((bytes, sha256, compressed))
}

/// What the server said to a push.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Pushed {
    /// The SHA-256 of the database the server now serves.
    pub sha256: String,
    /// When it was built.
    #[serde(default)]
    pub built: Option<String>,
    /// Its size.
    pub bytes: u64,
}

/// Sends the database in `dir` to the kestrel `server` (an admin's `token`), which checks it and serves it from
/// then on. The file is compressed as it is sent.
pub fn push(dir: &Path, server: &Server<'_>) -> Result<Pushed, RemoteError> {
    let url = format!("{}{API_PATH}", server.url.trim_end_matches('/'));
    let http = |reason: String| RemoteError::Http { url: url.clone(), reason };
    let path = dir.join(DB_FILE);
    Database::verify_file(&path)?;
    let sha256 = local_sha256(dir)?.ok_or_else(|| DbError::Missing(path.clone()))?;
    let file = std::fs::File::open(&path).map_err(io(&path))?;
    let mut enc = zstd::stream::read::Encoder::new(file, LEVEL)
        .map_err(|e| http(format!("compressing {}: {e}", path.display())))?;
    let mut resp = agent(server.timeout, server.tls.clone())
        .put(&url)
        .header("Authorization", format!("Bearer {}", server.token))
        .header("Content-Type", MEDIA_TYPE)
        .header(SHA256_HEADER, &sha256)
        // A refusal (a token that may not push) comes before the body is sent, not as a broken pipe after.
        .header("Expect", "100-continue")
        .send(ureq::SendBody::from_reader(&mut enc))
        .map_err(|e| http(e.to_string()))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(http(refusal(status, resp)));
    }
    let text = resp.body_mut().with_config().limit(1 << 20).read_to_string().map_err(|e| http(e.to_string()))?;
    let pushed: Pushed = serde_json::from_str(&text).map_err(|e| http(format!("unexpected answer ({e}): {text}")))?;
    if pushed.sha256 != sha256 {
        return Err(http(format!("the server serves {}, not the {sha256} sent", pushed.sha256)));
    }
    Ok(pushed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_remembered_while_the_file_is_unchanged_and_read_again_when_it_changes() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(local_sha256(d.path()).unwrap(), None);
        std::fs::write(d.path().join(DB_FILE), b"one").unwrap();
        let one = local_sha256(d.path()).unwrap().unwrap();
        assert_eq!(one, sha256_of(&b"one"[..]).unwrap());
        assert!(remembered_path(d.path()).is_file());
        // The remembered digest is what is answered while the file is the same (a forged one proves it is used).
        let forged = "0".repeat(64);
        let ident = FileIdent::of(&std::fs::metadata(d.path().join(DB_FILE)).unwrap());
        remember(d.path(), &forged, ident);
        assert_eq!(local_sha256(d.path()).unwrap().as_deref(), Some(forged.as_str()));
        // A new file (written beside and renamed over, as every writer does) is read again.
        std::fs::write(d.path().join("new"), b"two").unwrap();
        std::fs::rename(d.path().join("new"), d.path().join(DB_FILE)).unwrap();
        assert_eq!(local_sha256(d.path()).unwrap(), Some(sha256_of(&b"two"[..]).unwrap()));
    }
}
