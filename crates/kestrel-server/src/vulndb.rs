//! The vulnerability database served to agents, image watchers and CI (`GET /api/v1/vulndb`) and replaced by an
//! admin (`PUT /api/v1/vulndb`): one machine builds it, every node of a cluster — an air-gapped one included —
//! gets it from its server. The client side is [`kestrel_vulndb::remote`].
//!
//! The file is served zstd-compressed. The compressed copy is made once per database file (its identity is
//! `stat`'s: device, inode, size, modification and change times), with its SHA-256 — the ETag — and kept in the
//! server's data directory; a client that has that database gets `304 Not Modified`. A pushed database is
//! decompressed beside the served one, checked ([`Database::verify_file`] and the digest the client sent) and
//! renamed over it; the compressed upload becomes the served copy.

use crate::auth::{Principal, Role};
use crate::ApiError;
use axum::body::Body;
use axum::extract::State as Axum;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use kestrel_core::FileIdent;
use kestrel_vulndb::remote::{pack, unpack, UnpackError, BUILT_HEADER, MAX_DB_BYTES, MEDIA_TYPE, SHA256_HEADER};
use kestrel_vulndb::store::{Database, TempFile, DB_FILE};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The largest compressed upload accepted.
pub const MAX_UPLOAD_BYTES: u64 = 16 << 30;

/// The database a server serves: where it lives and its compressed copy.
pub struct Shelf {
    /// The database directory (holds `vulndb.sqlite`).
    dir: PathBuf,
    /// Where the compressed copies go.
    cache: PathBuf,
    /// The copy made for the current file, or why that file is not served; the lock also keeps one install at
    /// a time.
    prepared: tokio::sync::Mutex<Served>,
}

#[derive(Default)]
struct Served {
    ready: Option<Prepared>,
    /// A file refused (not a kestrel database, unreadable) and why: not read again while it is the same file,
    /// however many nodes ask.
    refused: Option<(FileIdent, String)>,
}

#[derive(Debug, Clone)]
struct Prepared {
    ident: FileIdent,
    sha256: String,
    built: Option<String>,
    compressed: PathBuf,
    compressed_len: u64,
    bytes: u64,
}

/// Numbers temporary files made at once by one process.
static TMP: AtomicU64 = AtomicU64::new(0);

fn tmp_name(dir: &Path, what: &str) -> PathBuf {
    dir.join(format!(".{what}.{}.{}.tmp", std::process::id(), TMP.fetch_add(1, Ordering::Relaxed)))
}

fn unavailable(msg: String) -> ApiError {
    tracing::error!("vulnerability database: {msg}");
    ApiError(StatusCode::SERVICE_UNAVAILABLE, msg)
}

impl Shelf {
    /// Serves the database in `dir`; compressed copies go to `cache` (both made when missing). What an earlier
    /// server left unfinished in `cache` (an upload cut by a crash) is removed.
    pub fn new(dir: PathBuf, cache: PathBuf) -> Shelf {
        if let Ok(entries) = std::fs::read_dir(&cache) {
            for e in entries.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with('.') && n.ends_with(".tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Shelf { dir, cache, prepared: tokio::sync::Mutex::new(Served::default()) }
    }

    /// The database directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn missing(&self) -> ApiError {
        ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "this server has no vulnerability database in {}: run `kestrel db update --db-dir {}` where the server \
                 runs, or `kestrel db push --server URL` from a machine that has one",
                self.dir.display(),
                self.dir.display()
            ),
        )
    }

    /// The copy of the current database, made now when the file changed since (`None`: no database).
    async fn current(&self) -> Result<Option<Prepared>, ApiError> {
        let mut guard = self.prepared.lock().await;
        let path = self.dir.join(DB_FILE);
        let ident = match tokio::fs::metadata(&path).await {
            Ok(m) => FileIdent::of(&m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unavailable(format!("{}: {e}", path.display()))),
        };
        if let Some(p) = guard.ready.as_ref().filter(|p| p.ident == ident && p.compressed.is_file()) {
            return Ok(Some(p.clone()));
        }
        if let Some((_, why)) = guard.refused.as_ref().filter(|(i, _)| *i == ident) {
            return Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, why.clone()));
        }
        let (cache, dir) = (self.cache.clone(), self.dir.clone());
        let made =
            tokio::task::spawn_blocking(move || prepare(&dir, &cache)).await.map_err(|e| unavailable(e.to_string()))?;
        metrics::counter!("kestrel_server_vulndb_prepared_total", "result" => if made.is_ok() { "ok" } else { "refused" })
            .increment(1);
        let made = match made {
            Ok(m) => m,
            Err(Unusable::File(why)) => {
                guard.refused = Some((ident, why.clone()));
                return Err(unavailable(why));
            }
            // Not the file's fault (the cache directory, the disk): tried again at the next request.
            Err(Unusable::Now(why)) => return Err(unavailable(why)),
        };
        if let Some(p) = &made {
            tracing::info!(sha256 = %p.sha256, bytes = p.bytes, compressed = p.compressed_len, "vulnerability database ready to serve");
            metrics::gauge!("kestrel_server_vulndb_bytes").set(p.bytes as f64);
        }
        guard.ready.clone_from(&made);
        Ok(made)
    }
}

/// Why the database cannot be served.
enum Unusable {
    /// The file is not one kestrel wrote: so until it changes.
    File(String),
    /// Something else failed (reading, the cache directory): perhaps not the next time.
    Now(String),
}

impl From<String> for Unusable {
    fn from(why: String) -> Unusable {
        Unusable::Now(why)
    }
}

/// Compresses and digests the database file of `dir` into `cache` (read through one open file, so a database
/// renamed in meanwhile does not mix into it), after checking it is one kestrel wrote.
fn prepare(dir: &Path, cache: &Path) -> Result<Option<Prepared>, Unusable> {
    let path = dir.join(DB_FILE);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display()).into()),
    };
    let meta = file.metadata().map_err(|e| format!("{}: {e}", path.display()))?;
    let ident = FileIdent::of(&meta);
    // The same open file, by its descriptor: what is checked is what is sent.
    use std::os::fd::AsRawFd;
    let by_fd = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    let built = Database::verify_file(&by_fd)
        .map_err(|e| {
            let why = e.to_string().replace(&*by_fd.to_string_lossy(), &path.to_string_lossy());
            Unusable::File(format!("not served: {why}"))
        })?
        .built_at();
    std::fs::create_dir_all(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let tmp = TempFile::new(tmp_name(cache, "vulndb.zst"));
    let (bytes, sha256) = pack(&file, tmp.path()).map_err(|e| match e {
        UnpackError::Input(_, e) => format!("{}: {e}", path.display()),
        UnpackError::Output(e) => format!("{}: {e}", tmp.path().display()),
        UnpackError::TooLarge => format!("{}: too large", path.display()),
    })?;
    let compressed = keep_compressed(cache, tmp, &sha256)?;
    let compressed_len = std::fs::metadata(&compressed).map_err(|e| format!("{}: {e}", compressed.display()))?.len();
    Ok(Some(Prepared { ident, sha256, built, compressed, compressed_len, bytes }))
}

/// Renames the compressed copy of the database `sha256` into place and removes older copies (a response still
/// sending one keeps its open file).
fn keep_compressed(cache: &Path, tmp: TempFile, sha256: &str) -> Result<PathBuf, String> {
    let name = format!("vulndb-{sha256}.sqlite.zst");
    let target = cache.join(&name);
    std::fs::rename(tmp.path(), &target).map_err(|e| format!("{}: {e}", target.display()))?;
    tmp.keep();
    if let Ok(entries) = std::fs::read_dir(cache) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("vulndb-") && n.ends_with(".sqlite.zst") && n != name {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(target)
}

fn shelf(state: &crate::State) -> Result<&Shelf, ApiError> {
    state.inner.vulndb.as_deref().ok_or_else(|| {
        ApiError(StatusCode::NOT_FOUND, "this server was started without a vulnerability database directory".into())
    })
}

/// `GET /api/v1/vulndb`: the database, compressed; `304` when the client's `If-None-Match` names it.
pub(crate) async fn get(
    Axum(state): Axum<crate::State>,
    axum::Extension(p): axum::Extension<Principal>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    crate::allow(&p, &[Role::Viewer, Role::Ci, Role::Agent])?;
    let shelf = shelf(&state)?;
    let Some(db) = shelf.current().await? else { return Err(shelf.missing()) };
    let etag = format!("\"{}\"", db.sha256);
    let fresh = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == etag || t.trim() == "*");
    // A client whose database was built no earlier than this one keeps it (`X-Kestrel-Db-Built`): with several
    // replicas each updating its own, nodes move only forward instead of fetching each replica's in turn.
    let parse = |t: &str| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok();
    let theirs = headers.get(BUILT_HEADER).and_then(|v| v.to_str().ok()).and_then(parse);
    let newer_there = matches!((theirs, db.built.as_deref().and_then(parse)), (Some(t), Some(o)) if t >= o);
    let fresh = fresh || newer_there;
    let common = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, "no-cache".to_string()),
        (header::HeaderName::from_static(SHA256_HEADER), db.sha256.clone()),
        (header::HeaderName::from_static(BUILT_HEADER), db.built.clone().unwrap_or_default()),
    ];
    if fresh {
        metrics::counter!("kestrel_server_vulndb_requests_total", "answer" => "unchanged").increment(1);
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    let file = tokio::fs::File::open(&db.compressed)
        .await
        .map_err(|e| unavailable(format!("{}: {e}", db.compressed.display())))?;
    metrics::counter!("kestrel_server_vulndb_requests_total", "answer" => "sent").increment(1);
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 1 << 16));
    Ok((
        StatusCode::OK,
        common,
        [(header::CONTENT_TYPE, MEDIA_TYPE.to_string()), (header::CONTENT_LENGTH, db.compressed_len.to_string())],
        body,
    )
        .into_response())
}

/// `PUT /api/v1/vulndb` (admin): a database, zstd-compressed, with its SHA-256 in `X-Kestrel-Db-Sha256`.
pub(crate) async fn put(
    Axum(state): Axum<crate::State>,
    axum::Extension(p): axum::Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    crate::allow(&p, &[])?;
    let shelf = shelf(&state)?;
    let bad = |m: String| ApiError(StatusCode::BAD_REQUEST, m);
    let Some(sent_sha) = headers.get(SHA256_HEADER).and_then(|v| v.to_str().ok()).map(str::to_ascii_lowercase) else {
        return Err(bad(format!("the {SHA256_HEADER} header (the database's SHA-256) is missing")));
    };
    if !kestrel_core::is_sha256_hex(&sent_sha) {
        return Err(bad(format!("{SHA256_HEADER}: not a SHA-256 in hex")));
    }
    let cache = shelf.cache.clone();
    tokio::fs::create_dir_all(&cache).await.map_err(|e| unavailable(format!("{}: {e}", cache.display())))?;
    let upload = TempFile::new(tmp_name(&cache, "vulndb-upload.zst"));
    let mut out = tokio::fs::File::create(upload.path())
        .await
        .map_err(|e| unavailable(format!("{}: {e}", upload.path().display())))?;
    let mut stream = body.into_data_stream();
    let mut got = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| bad(format!("the upload broke off after {got} bytes: {e}")))?;
        got += chunk.len() as u64;
        if got > MAX_UPLOAD_BYTES {
            return Err(ApiError(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("more than the {} GiB accepted", MAX_UPLOAD_BYTES >> 30),
            ));
        }
        tokio::io::AsyncWriteExt::write_all(&mut out, &chunk)
            .await
            .map_err(|e| unavailable(format!("{}: {e}", upload.path().display())))?;
    }
    tokio::io::AsyncWriteExt::flush(&mut out).await.map_err(|e| unavailable(e.to_string()))?;
    drop(out);
    // The upload is here: one install at a time, and no copy made of a file being replaced (fetches wait only
    // for this, not for the upload).
    let mut guard = shelf.prepared.lock().await;
    let dir = shelf.dir.clone();
    let installed = tokio::task::spawn_blocking(move || install(&dir, &cache, upload, &sent_sha))
        .await
        .map_err(|e| unavailable(e.to_string()))??;
    tracing::info!(by = %p.name, sha256 = %installed.sha256, bytes = installed.bytes, "vulnerability database pushed");
    metrics::gauge!("kestrel_server_vulndb_bytes").set(installed.bytes as f64);
    let answer = json!({ "sha256": installed.sha256, "built": installed.built, "bytes": installed.bytes });
    *guard = Served { ready: Some(installed), refused: None };
    Ok(Json(answer))
}

/// Decompresses an upload beside the database, checks it and renames it over the database; the upload becomes
/// the served copy.
fn install(dir: &Path, cache: &Path, upload: TempFile, sent_sha: &str) -> Result<Prepared, ApiError> {
    let bad = |m: String| ApiError(StatusCode::BAD_REQUEST, m);
    std::fs::create_dir_all(dir).map_err(|e| unavailable(format!("{}: {e}", dir.display())))?;
    let staged = TempFile::new(tmp_name(dir, DB_FILE));
    let compressed_len = std::fs::metadata(upload.path()).map(|m| m.len()).unwrap_or(0);
    let input = std::fs::File::open(upload.path()).map_err(|e| unavailable(e.to_string()))?;
    let (bytes, sha256) = unpack(input, staged.path()).map_err(|e| match e {
        UnpackError::Input(_, e) => bad(format!("not a zstd-compressed database: {e}")),
        UnpackError::Output(e) => unavailable(format!("{}: {e}", staged.path().display())),
        UnpackError::TooLarge => ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the database is larger than the {} GiB accepted", MAX_DB_BYTES >> 30),
        ),
    })?;
    if sha256 != sent_sha {
        return Err(bad(format!("the database that came has SHA-256 {sha256}, the request said {sent_sha}")));
    }
    let built = Database::verify_file(staged.path())
        .map_err(|e| {
            bad(format!("refused: {}", e.to_string().replace(&*staged.path().to_string_lossy(), "the upload")))
        })?
        .built_at();
    let target = dir.join(DB_FILE);
    std::fs::rename(staged.path(), &target).map_err(|e| unavailable(format!("{}: {e}", target.display())))?;
    staged.keep();
    let ident = FileIdent::of(&std::fs::metadata(&target).map_err(|e| unavailable(e.to_string()))?);
    let compressed = keep_compressed(cache, upload, &sha256).map_err(unavailable)?;
    Ok(Prepared { ident, sha256, built, compressed, compressed_len, bytes })
}

/// Makes the compressed copy of the database now, so the first agent to ask does not wait for it.
pub fn warm(shelf: std::sync::Arc<Shelf>) {
    tokio::spawn(async move {
        if let Err(e) = shelf.current().await {
            tracing::warn!("vulnerability database: {}", e.1);
        }
    });
}

/// How old the served database is (from its build time), when there is one.
pub(crate) async fn served_age_seconds(state: &crate::State) -> Option<f64> {
    let shelf = state.inner.vulndb.as_deref()?;
    let built = shelf.current().await.ok()??.built?;
    let t = time::OffsetDateTime::parse(&built, &time::format_description::well_known::Rfc3339).ok()?;
    Some((time::OffsetDateTime::now_utc() - t).as_seconds_f64().max(0.0))
}

/// What `/api/v1/summary` says of the database: its digest and build time, or why there is none.
pub(crate) async fn summary(state: &crate::State) -> Value {
    let Some(shelf) = state.inner.vulndb.as_deref() else { return Value::Null };
    match shelf.current().await {
        Ok(Some(p)) => json!({ "sha256": p.sha256, "built": p.built, "bytes": p.bytes }),
        Ok(None) => json!({ "missing": shelf.dir }),
        Err(e) => json!({ "error": e.1 }),
    }
}
