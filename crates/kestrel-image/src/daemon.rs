//! Images from a container engine's own store, through its Docker-compatible HTTP API — Docker's, and Podman's
//! compatibility API: `GET /images/{name}/get` streams the image as a `docker save` archive, which [`open`] reads as
//! it arrives ([`crate::open_stream`]: digests verified, every bound of [`Limits`] kept, nothing written to disk).
//!
//! Where an engine listens ([`Endpoint::from_env`]): `DOCKER_HOST` for Docker, else the Docker CLI's current
//! context (`DOCKER_CONTEXT`, or `currentContext` in `$DOCKER_CONFIG/config.json`), else
//! `unix:///var/run/docker.sock`; `CONTAINER_HOST` for Podman (default `/run/podman/podman.sock` for root,
//! `$XDG_RUNTIME_DIR/podman/podman.sock` otherwise — the socket `systemctl enable --now podman.socket` or
//! `podman system service` opens). `unix://PATH` and plain-HTTP `tcp://HOST:PORT` are understood; an engine behind
//! TLS (`DOCKER_TLS_VERIFY`) or SSH is refused with a message saying so.
//!
//! The engine is a local, trusted-ish peer, but what it serves is an image that came from anywhere: the archive's
//! size is bounded by [`Limits::max_total_bytes`] (plus room for the metadata documents), a stalled stream ends
//! after [`IDLE`], and the name asked for is checked for form before it becomes part of a request path.
//!
//! ```no_run
//! use kestrel_image::daemon::{open, Endpoint, Engine};
//! let engine = Endpoint::from_env(Engine::Podman).unwrap();
//! let opts = kestrel_image::OpenOptions::default();
//! let artifact = open(&engine, "docker.io/library/alpine:3.20", &opts, &kestrel_image::KeepNothing).unwrap();
//! println!("{} layers", artifact.target.layers.len());
//! ```

use crate::{Artifact, ContentSelector, ImageError, Limits, OpenOptions};
use http_body_util::BodyExt as _;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest wait for the engine to accept the connection.
const CONNECT: Duration = Duration::from_secs(10);
/// Longest silence of the engine while it sends the image (it builds the archive as it goes).
pub const IDLE: Duration = Duration::from_secs(120);
/// Most bytes of an error answer read.
const MAX_ERROR_BODY: usize = 64 << 10;

/// A container engine with a Docker-compatible API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Docker Engine (dockerd).
    Docker,
    /// Podman's API service (its Docker-compatible endpoints).
    Podman,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
        })
    }
}

/// Where an engine's API listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The engine.
    pub engine: Engine,
    addr: Addr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Addr {
    Unix(PathBuf),
    Tcp(String),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.addr {
            Addr::Unix(p) => write!(f, "{} at {}", self.engine, p.display()),
            Addr::Tcp(h) => write!(f, "{} at tcp://{h}", self.engine),
        }
    }
}

/// Why an image could not be had from an engine.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Nothing answers where the engine should listen (not installed, not started, or no permission).
    #[error("{endpoint}: no engine answers ({reason}){hint}")]
    Unreachable {
        /// The engine and its address.
        endpoint: String,
        /// The connection's error.
        reason: String,
        /// How to start the engine's API, where there is a usual way.
        hint: String,
    },
    /// The engine answered that it has no such image.
    #[error("{endpoint}: no image {name} ({message})")]
    NotFound {
        /// The engine and its address.
        endpoint: String,
        /// The image asked for.
        name: String,
        /// The engine's own words.
        message: String,
    },
    /// The engine's address is one kestrel cannot use (TLS, SSH, a malformed variable).
    #[error("{endpoint}: {reason}")]
    Config {
        /// The engine and the variable that named it.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The name or the transfer was wrong.
    #[error("{endpoint}: {name}: {reason}")]
    Failed {
        /// The engine and its address (or the variable that named it).
        endpoint: String,
        /// The image asked for.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// The engine sent the image, and reading it failed (a corrupt layer, a digest mismatch, a limit).
    #[error("{endpoint}: {source}")]
    Read {
        /// The engine and its address.
        endpoint: String,
        /// What went wrong, naming the image as asked for.
        #[source]
        source: ImageError,
    },
}

impl DaemonError {
    /// A [`DaemonError::Failed`] about `name` at `endpoint`.
    pub fn failed(endpoint: &Endpoint, name: &str, reason: String) -> DaemonError {
        DaemonError::Failed { endpoint: endpoint.to_string(), name: name.into(), reason }
    }

    /// The engine is not there, or has no such image: another source may have it.
    pub fn is_absent(&self) -> bool {
        matches!(self, DaemonError::Unreachable { .. } | DaemonError::NotFound { .. } | DaemonError::Config { .. })
    }
}

impl Endpoint {
    /// The engine's address as its own tools find it (see the module's overview).
    pub fn from_env(engine: Engine) -> Result<Endpoint, DaemonError> {
        let var = match engine {
            Engine::Docker => "DOCKER_HOST",
            Engine::Podman => "CONTAINER_HOST",
        };
        if let Some(v) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
            return Endpoint::parse(engine, &v)
                .map_err(|reason| DaemonError::Config { endpoint: format!("{engine} ({var}={v})"), reason });
        }
        if engine == Engine::Docker {
            // The Docker CLI's current context (`docker context use`): rootless Docker, a remote engine.
            let dir = std::env::var_os("DOCKER_CONFIG")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
            let named = std::env::var("DOCKER_CONTEXT").ok().filter(|c| !c.is_empty());
            if let Some(dir) = dir {
                if let Some(endpoint) = docker_context(&dir, named)? {
                    return Ok(endpoint);
                }
            }
        }
        if engine == Engine::Docker && std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty()) {
            return Err(DaemonError::Config {
                endpoint: "docker (DOCKER_TLS_VERIFY)".into(),
                reason: "an engine behind TLS is not supported: save the image (`docker save -o img.tar IMAGE`) and scan the archive".into(),
            });
        }
        let path = match engine {
            Engine::Docker => PathBuf::from("/var/run/docker.sock"),
            Engine::Podman => match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
                // root's engine listens system-wide even in a login session.
                Some(d) if !is_root() => PathBuf::from(d).join("podman/podman.sock"),
                _ => PathBuf::from("/run/podman/podman.sock"),
            },
        };
        Ok(Endpoint { engine, addr: Addr::Unix(path) })
    }

    /// An engine at a Unix socket.
    pub fn unix(engine: Engine, path: impl Into<PathBuf>) -> Endpoint {
        Endpoint { engine, addr: Addr::Unix(path.into()) }
    }

    /// `unix://PATH`, `tcp://HOST:PORT`, or a bare socket path.
    fn parse(engine: Engine, s: &str) -> Result<Endpoint, String> {
        let addr = if let Some(p) = s.strip_prefix("unix://") {
            Addr::Unix(PathBuf::from(p))
        } else if let Some(h) = s.strip_prefix("tcp://").or_else(|| s.strip_prefix("http://")) {
            let h = h.trim_end_matches('/');
            if h.is_empty() || h.contains(['/', '@', '?', '#', ' ']) {
                return Err(format!("{s}: not HOST:PORT"));
            }
            Addr::Tcp(if h.contains(':') { h.to_string() } else { format!("{h}:2375") })
        } else if s.starts_with('/') {
            Addr::Unix(PathBuf::from(s))
        } else {
            let scheme = s.split_once("://").map_or(s, |(a, _)| a);
            return Err(format!(
                "{scheme}: only unix:// and plain tcp:// engines are supported (save the image with `{engine} save -o img.tar IMAGE` and scan the archive)"
            ));
        };
        Ok(Endpoint { engine, addr })
    }
}

/// The endpoint of the Docker CLI's context `named` (`DOCKER_CONTEXT`), else of `currentContext` in `dir`'s
/// `config.json`: `contexts/meta/<sha256 of the name>/meta.json`, `Endpoints.docker.Host`, as `docker context
/// create` writes it. `None` for the `default` context or none.
fn docker_context(dir: &Path, named: Option<String>) -> Result<Option<Endpoint>, DaemonError> {
    let config = dir.join("config.json");
    let wrong =
        |what: &Path, reason: String| DaemonError::Config { endpoint: format!("docker ({})", what.display()), reason };
    let name = match named {
        Some(n) => n,
        None => match read_bounded(&config) {
            Ok(None) => return Ok(None),
            Ok(Some(bytes)) => {
                let v: serde_json::Value =
                    serde_json::from_slice(&bytes).map_err(|e| wrong(&config, format!("not JSON: {e}")))?;
                match v.get("currentContext").and_then(|c| c.as_str()) {
                    Some(c) if !c.is_empty() => c.to_string(),
                    _ => return Ok(None),
                }
            }
            Err(e) => return Err(wrong(&config, e)),
        },
    };
    if name == "default" {
        return Ok(None);
    }
    let hash = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(name.as_bytes()))
    };
    let meta = dir.join("contexts/meta").join(&hash).join("meta.json");
    let bytes = read_bounded(&meta)
        .map_err(|e| wrong(&meta, e))?
        .ok_or_else(|| wrong(&meta, format!("no Docker context named {name:?} (`docker context ls` lists them)")))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| wrong(&meta, format!("not JSON: {e}")))?;
    let host = v.pointer("/Endpoints/docker/Host").and_then(|h| h.as_str()).unwrap_or("");
    if host.is_empty() {
        return Err(wrong(&meta, format!("context {name:?} names no Docker host")));
    }
    if dir.join("contexts/tls").join(&hash).join("docker").exists() {
        return Err(wrong(
            &meta,
            format!("context {name:?} reaches its engine over TLS, which is not supported: save the image (`docker save -o img.tar IMAGE`) and scan the archive"),
        ));
    }
    Endpoint::parse(Engine::Docker, host)
        .map(Some)
        .map_err(|reason| DaemonError::Config { endpoint: format!("docker (context {name})"), reason })
}

/// A small JSON file whole (at most 1 MiB); `None` when it does not exist.
fn read_bounded(path: &Path) -> Result<Option<Vec<u8>>, String> {
    use std::io::Read as _;
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let mut bytes = Vec::new();
    f.take((1 << 20) + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() > 1 << 20 {
        return Err("larger than 1 MiB".into());
    }
    Ok(Some(bytes))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A name an engine resolves: a reference (`nginx:1.25`, `registry:5000/team/app@sha256:…`) or an image id,
/// nothing that could change the request's path or query.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/:@+".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && !name.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..");
    if ok {
        Ok(())
    } else {
        Err("not an image name or id (letters, digits and . _ - / : @ + only, no empty or dot path segments)".into())
    }
}

/// What the engine says of an image, without sending it ([`inspect`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// The engine's image id: the configuration's digest (`sha256:…`) for Podman and Docker's classic store; the
    /// manifest's for Docker's containerd store.
    pub id: String,
    /// Its names (`localhost/shop/app:1.0`).
    pub repo_tags: Vec<String>,
}

/// Largest answer of the inspection read.
const MAX_INSPECT_BODY: usize = 4 << 20;

/// Asks the engine what image `name` is (its id and names): cheap, where [`open`] has it send the whole image.
pub fn inspect(endpoint: &Endpoint, name: &str) -> Result<Inspected, DaemonError> {
    let failed = |reason: String| DaemonError::failed(endpoint, name, reason);
    check_name(name).map_err(failed)?;
    let body = run(endpoint, name, async {
        let (body, _driver) = get(endpoint, name, &format!("/images/{name}/json")).await?;
        read_small(endpoint, name, body, MAX_INSPECT_BODY, false).await
    })?;
    #[derive(serde::Deserialize)]
    struct Raw {
        #[serde(rename = "Id")]
        id: String,
        #[serde(rename = "RepoTags", default)]
        repo_tags: Option<Vec<String>>,
    }
    let raw: Raw = serde_json::from_slice(&body).map_err(|e| failed(format!("the engine's inspection: {e}")))?;
    // Docker answers `sha256:…`; Podman the bare hex.
    let id = if raw.id.contains(':') { raw.id } else { format!("sha256:{}", raw.id) };
    if !id.strip_prefix("sha256:").is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(failed(format!("the engine's inspection: {id:?} is not an image id")));
    }
    Ok(Inspected { id, repo_tags: raw.repo_tags.unwrap_or_default() })
}

/// Reads image `name` from the engine's store as it streams in ([`crate::open_stream`]), named `name` in the result
/// and in messages; the engine's failures are told apart from the image's ([`DaemonError::Read`]).
pub fn open(
    endpoint: &Endpoint,
    name: &str,
    opts: &OpenOptions,
    selector: &dyn ContentSelector,
) -> Result<Artifact, DaemonError> {
    // The transfer has the progress bar: it counts the same bytes.
    let quiet = OpenOptions { progress: None, ..opts.clone() };
    stream(endpoint, name, &opts.limits, opts.progress.as_deref(), |r| crate::open_stream(name, r, &quiet, selector))?
        .map_err(|source| DaemonError::Read { endpoint: endpoint.to_string(), source })
}

/// Asks the engine for image `name` as a `docker save` archive and gives `read` the bytes as they come, telling
/// `progress` their count (the engine does not say how many there will be). The transfer runs on a thread of its
/// own; `read` runs on the caller's. When the transfer fails, its error is returned whatever `read` made of the
/// cut-short stream; `read` may stop early.
pub fn stream<T>(
    endpoint: &Endpoint,
    name: &str,
    limits: &Limits,
    progress: Option<&dyn crate::Progress>,
    read: impl FnOnce(&mut dyn Read) -> T,
) -> Result<T, DaemonError> {
    let failed = |reason: String| DaemonError::failed(endpoint, name, reason);
    check_name(name).map_err(failed)?;
    let max = limits.max_archive_bytes();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<bytes::Bytes, String>>(64);
    std::thread::scope(|s| {
        let transfer = s.spawn(move || {
            block_on(endpoint, name, async {
                let (body, driver) = match get(endpoint, name, &format!("/images/{name}/get")).await {
                    Ok(got) => got,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return Err(e);
                    }
                };
                if let Some(p) = progress {
                    p.begin("exporting", None);
                }
                let sent = pump(body, &tx, max, progress).await;
                if let Some(p) = progress {
                    p.end();
                }
                driver.abort();
                sent.map_err(|reason| {
                    let _ = tx.send(Err(reason.clone()));
                    failed(reason)
                })
            })
        });
        let mut reader = ChannelReader { rx, chunk: bytes::Bytes::new() };
        let out = read(&mut reader);
        // Ends the transfer if `read` stopped early.
        drop(reader);
        joined(endpoint, name, transfer).map(|()| out)
    })
}

/// The engine's answer, frame by frame, into `tx`: at most `max` bytes, each frame within [`IDLE`]. Stops quietly
/// when the reader is gone.
async fn pump(
    mut body: hyper::body::Incoming,
    tx: &std::sync::mpsc::SyncSender<Result<bytes::Bytes, String>>,
    max: u64,
    progress: Option<&dyn crate::Progress>,
) -> Result<(), String> {
    let mut bytes = 0u64;
    loop {
        let data = match next_data(&mut body).await {
            Ok(Some(data)) => data,
            Ok(None) => return Ok(()),
            Err(cut) => return Err(cut.say(format_args!("reading the image after {bytes} bytes"))),
        };
        bytes += data.len() as u64;
        if bytes > max {
            return Err(format!(
                "limit exceeded: the archive is larger than {max} bytes (raise it with --max-total-bytes if the image is trusted)"
            ));
        }
        if let Some(p) = progress {
            p.advance(data.len() as u64);
        }
        // The reader blocks this thread while it catches up: that is the back-pressure. Gone: it needs no more.
        if tx.send(Ok(data)).is_err() {
            return Ok(());
        }
    }
}

/// The transfer's chunks as a [`Read`]; a failed transfer is an I/O error carrying its reason.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<Result<bytes::Bytes, String>>,
    chunk: bytes::Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.recv() {
                Ok(Ok(c)) => self.chunk = c,
                Ok(Err(reason)) => return Err(std::io::Error::other(reason)),
                // The sender is gone: the transfer ended (its error, if any, is the caller's to report).
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

/// Runs `work` on a runtime of its own, on a thread of its own: callers may be inside another runtime.
fn run<T: Send>(
    endpoint: &Endpoint,
    name: &str,
    work: impl std::future::Future<Output = Result<T, DaemonError>> + Send,
) -> Result<T, DaemonError> {
    std::thread::scope(|s| joined(endpoint, name, s.spawn(|| block_on(endpoint, name, work))))
}

/// Runs `work` on a current-thread runtime of its own, on this thread.
fn block_on<T>(
    endpoint: &Endpoint,
    name: &str,
    work: impl std::future::Future<Output = Result<T, DaemonError>>,
) -> Result<T, DaemonError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DaemonError::failed(endpoint, name, format!("starting an I/O runtime: {e}")))?
        .block_on(work)
}

/// What the transfer thread answered.
fn joined<T>(
    endpoint: &Endpoint,
    name: &str,
    thread: std::thread::ScopedJoinHandle<'_, Result<T, DaemonError>>,
) -> Result<T, DaemonError> {
    thread.join().unwrap_or_else(|_| Err(DaemonError::failed(endpoint, name, "the transfer thread panicked".into())))
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// `GET path` on a fresh connection: the body of a successful answer, and the task driving the connection
/// (abort it when done). An engine that is not there is [`DaemonError::Unreachable`], a 404 is
/// [`DaemonError::NotFound`], other answers are [`DaemonError::Failed`] with the engine's message.
async fn get(
    endpoint: &Endpoint,
    name: &str,
    path: &str,
) -> Result<(hyper::body::Incoming, tokio::task::JoinHandle<()>), DaemonError> {
    let failed = |reason: String| DaemonError::failed(endpoint, name, reason);
    let unreachable = |reason: String| DaemonError::Unreachable {
        endpoint: endpoint.to_string(),
        reason,
        hint: match endpoint.engine {
            Engine::Podman => {
                "; start its API with `systemctl enable --now podman.socket` or `podman system service`".into()
            }
            Engine::Docker => String::new(),
        },
    };
    let connect = async {
        Ok::<Box<dyn Io>, std::io::Error>(match &endpoint.addr {
            Addr::Unix(p) => Box::new(tokio::net::UnixStream::connect(p).await?),
            Addr::Tcp(h) => Box::new(tokio::net::TcpStream::connect(h.as_str()).await?),
        })
    };
    let io = match tokio::time::timeout(CONNECT, connect).await {
        Err(_) => return Err(unreachable(format!("no connection within {} s", CONNECT.as_secs()))),
        Ok(Err(e)) => return Err(unreachable(e.to_string())),
        Ok(Ok(io)) => io,
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
        .await
        .map_err(|e| failed(format!("HTTP handshake: {e}")))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, "localhost")
        .header(hyper::header::USER_AGENT, concat!("kestrel/", env!("CARGO_PKG_VERSION")))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| failed(e.to_string()))?;
    let resp = match tokio::time::timeout(IDLE, sender.send_request(req)).await {
        Err(_) => return Err(failed(format!("no answer within {} s", IDLE.as_secs()))),
        Ok(r) => r.map_err(|e| failed(format!("request: {e}")))?,
    };
    let status = resp.status();
    if status.is_success() {
        return Ok((resp.into_body(), driver));
    }
    // The start of an error page is enough to quote.
    let text = read_small(endpoint, name, resp.into_body(), MAX_ERROR_BODY, true).await.unwrap_or_default();
    driver.abort();
    // Both engines answer `{"message": "…"}`; anything else is quoted as it came.
    let message = serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&text).trim().chars().take(300).collect());
    Err(if status == hyper::StatusCode::NOT_FOUND {
        DaemonError::NotFound { endpoint: endpoint.to_string(), name: name.into(), message }
    } else {
        failed(format!("the engine answered {status}: {message}"))
    })
}

/// A small body, whole: at most `max` bytes (more is an error, or with `truncate` left unread), each frame
/// within [`IDLE`].
async fn read_small(
    endpoint: &Endpoint,
    name: &str,
    mut body: hyper::body::Incoming,
    max: usize,
    truncate: bool,
) -> Result<Vec<u8>, DaemonError> {
    let failed = |reason: String| DaemonError::failed(endpoint, name, reason);
    let mut out = Vec::new();
    loop {
        let d = match next_data(&mut body).await {
            Ok(Some(d)) => d,
            Ok(None) => return Ok(out),
            Err(cut) => return Err(failed(cut.say("reading the answer"))),
        };
        if out.len() + d.len() > max {
            if truncate {
                out.extend_from_slice(&d[..max - out.len()]);
                return Ok(out);
            }
            return Err(failed(format!("the engine's answer is larger than {max} bytes")));
        }
        out.extend_from_slice(&d);
    }
}

/// Why a body's next data did not come.
enum Cut {
    /// Nothing for [`IDLE`].
    Idle,
    Failed(hyper::Error),
}

impl Cut {
    /// In words; a failure said as what was `doing`.
    fn say(self, doing: impl fmt::Display) -> String {
        match self {
            Cut::Idle => format!("the engine sent nothing for {} s", IDLE.as_secs()),
            Cut::Failed(e) => format!("{doing}: {e}"),
        }
    }
}

/// The body's next data (frames without data passed over), each within [`IDLE`]; `None` at its end.
async fn next_data(body: &mut hyper::body::Incoming) -> Result<Option<bytes::Bytes>, Cut> {
    loop {
        match tokio::time::timeout(IDLE, body.frame()).await {
            Err(_) => return Err(Cut::Idle),
            Ok(None) => return Ok(None),
            Ok(Some(Err(e))) => return Err(Cut::Failed(e)),
            Ok(Some(Ok(f))) => {
                if let Ok(d) = f.into_data() {
                    return Ok(Some(d));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_addresses_parse_like_the_engines_own_tools() {
        let p = |s: &str| Endpoint::parse(Engine::Docker, s);
        assert_eq!(
            p("unix:///run/user/1000/docker.sock").unwrap().addr,
            Addr::Unix("/run/user/1000/docker.sock".into())
        );
        assert_eq!(p("/var/run/docker.sock").unwrap().addr, Addr::Unix("/var/run/docker.sock".into()));
        assert_eq!(p("tcp://10.0.0.5:2376").unwrap().addr, Addr::Tcp("10.0.0.5:2376".into()));
        assert_eq!(p("tcp://build-host").unwrap().addr, Addr::Tcp("build-host:2375".into()));
        assert!(p("ssh://me@build-host").unwrap_err().contains("ssh: only unix:// and plain tcp://"));
        assert!(p("npipe:////./pipe/docker_engine").unwrap_err().contains("npipe"));
        assert!(p("tcp://user@host:1/x").is_err());
        assert_eq!(Endpoint::unix(Engine::Podman, "/s.sock").to_string(), "podman at /s.sock");
    }

    #[test]
    fn docker_contexts_are_read_as_the_docker_cli_writes_them() {
        // The files as `docker context create podtest --docker host=unix:///tmp/x.sock && docker context use
        // podtest` (Docker CLI 28.2) left them.
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        let meta = dir.join("contexts/meta/07cc8f3a1ca924058268d424aeabfa3bec22a2ae5cf5a95b5a48bc6d17196599");
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"podtest","Metadata":{},"Endpoints":{"docker":{"Host":"unix:///tmp/x.sock","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        // No config.json: the default socket.
        assert_eq!(docker_context(dir, None).unwrap(), None);
        std::fs::write(dir.join("config.json"), "{\n\t\"auths\": {},\n\t\"currentContext\": \"podtest\"\n}").unwrap();
        let e = docker_context(dir, None).unwrap().unwrap();
        assert_eq!(e.addr, Addr::Unix("/tmp/x.sock".into()));
        // DOCKER_CONTEXT wins over the file; `default` is the default socket.
        assert_eq!(docker_context(dir, Some("default".into())).unwrap(), None);
        let missing = docker_context(dir, Some("elsewhere".into())).unwrap_err().to_string();
        assert!(missing.contains("no Docker context named \"elsewhere\""), "{missing}");
        // A context behind TLS is refused, not half-used.
        std::fs::create_dir_all(
            dir.join("contexts/tls/07cc8f3a1ca924058268d424aeabfa3bec22a2ae5cf5a95b5a48bc6d17196599/docker"),
        )
        .unwrap();
        assert!(docker_context(dir, None).unwrap_err().to_string().contains("over TLS"));
        std::fs::write(dir.join("config.json"), "{not json").unwrap();
        assert!(docker_context(dir, None).unwrap_err().to_string().contains("config.json"));
    }

    /// An engine on a Unix socket of its own that answers every request with `answer` (status line, headers
    /// and body, as bytes), as a broken or hostile engine might.
    fn engine_answering(answer: Vec<u8>) -> (tempfile::TempDir, Endpoint) {
        use std::io::{Read as _, Write as _};
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("engine.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                let _ = conn.write_all(&answer);
            }
        });
        (dir, Endpoint::unix(Engine::Podman, sock))
    }

    #[test]
    fn a_broken_or_hostile_engine_gets_a_clear_error() {
        let limits = Limits::default();
        let drain = |r: &mut dyn Read| std::io::copy(r, &mut std::io::sink());
        // Not an id.
        let body = r#"{"Id":"../../etc","RepoTags":[]}"#;
        let (_d, e) = engine_answering(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        );
        let err = inspect(&e, "app").unwrap_err().to_string();
        assert!(err.contains("is not an image id") && err.contains("engine.sock"), "{err}");
        // Not JSON.
        let (_d, e) = engine_answering(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello".to_vec());
        assert!(inspect(&e, "app").unwrap_err().to_string().contains("the engine's inspection"));
        // An error page: its status and the start of its text, not all of it.
        let page = format!("<html>{}</html>", "x".repeat(100_000));
        let (_d, e) = engine_answering(
            format!("HTTP/1.1 500 Internal Server Error\r\ncontent-length: {}\r\n\r\n{page}", page.len()).into_bytes(),
        );
        let err = stream(&e, "app", &limits, None, drain).unwrap_err().to_string();
        assert!(err.contains("the engine answered 500 Internal Server Error: <html>xxx") && err.len() < 600, "{err}");
        // An inspection answer larger than 4 MiB is not read whole.
        let (_d, e) = engine_answering(
            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{}", 5 << 20, " ".repeat(5 << 20)).into_bytes(),
        );
        assert!(inspect(&e, "app").unwrap_err().to_string().contains("larger than 4194304 bytes"));
        // Not HTTP at all.
        let (_d, e) = engine_answering(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec());
        assert!(matches!(stream(&e, "app", &limits, None, drain), Err(DaemonError::Failed { .. })));
        // A body cut short of its announced length.
        let (_d, e) = engine_answering(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nshort".to_vec());
        let err = stream(&e, "app", &limits, None, drain).unwrap_err().to_string();
        assert!(err.contains("reading the image after"), "{err}");
    }

    #[test]
    fn names_that_could_change_the_request_are_refused() {
        for ok in [
            "nginx",
            "nginx:1.25",
            "localhost/shop/app:1.0",
            "registry.example:5000/team/app@sha256:0123abcd",
            "7bf05db8c870",
            "sha256:7bf05db8c870bf2e53aa66deb3a20ac0eba062af35546553a9d0117b10fe677a",
        ] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../containers/x/export",
            "app/../../containers/json",
            "app//x",
            "/app",
            "app?all=1",
            "app#x",
            "app%2f..",
            "app name",
            "app\r\nHost: evil",
            ".hidden",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
