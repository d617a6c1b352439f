//! Images in containerd's store, read through its API — the socket kubelet's CRI plugin, `ctr` and `nerdctl` use
//! (`CONTAINERD_ADDRESS`, default `/run/containerd/containerd.sock`). Kubernetes nodes keep their images there, in
//! the `k8s.io` namespace.
//!
//! containerd's content store is an OCI layout in all but its files: every blob (index, manifest, configuration,
//! layer) is there by digest. kestrel reads it as one (`Blobs::Store`): the image record's target
//! becomes the layout's index, the platform is chosen and the manifest and configuration read and checked as for an
//! OCI layout on disk, and each layer is read as containerd streams it (in parallel, digest-checked, nothing written
//! to disk). The image is looked up in `CONTAINERD_NAMESPACE` when set, otherwise in every namespace (`k8s.io`
//! first, then `default`, then the others): the name as given, then as Docker would spell it in full
//! (`nginx` → `docker.io/library/nginx:latest`). A name is only ever sent as a request field, never as a path.

use crate::blobs::Blobs;
use crate::{Identified, ImageError, OpenOptions};
use containerd_client::services::v1 as api;
use containerd_client::tonic::{self, metadata::MetadataValue, transport::Channel, Code, Request};
use std::fmt;
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::Duration;

/// Longest wait for the socket to accept a connection.
const CONNECT: Duration = Duration::from_secs(10);

/// Longest wait for any answer, or for the next chunk of a blob.
const IDLE: Duration = crate::daemon::IDLE;

/// Where containerd listens, and the namespace to look in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its gRPC socket.
    pub socket: PathBuf,
    /// The namespace to look in; `None`: every one.
    pub namespace: Option<String>,
}

impl Endpoint {
    /// The default socket.
    pub const DEFAULT_SOCKET: &'static str = "/run/containerd/containerd.sock";

    /// As `ctr` finds it: `CONTAINERD_ADDRESS` (a path, or `unix://PATH`) and `CONTAINERD_NAMESPACE`.
    pub fn from_env() -> Endpoint {
        Endpoint::from_vars(std::env::var("CONTAINERD_ADDRESS").ok(), std::env::var("CONTAINERD_NAMESPACE").ok())
    }

    /// From the two variables' values (empty ones are unset).
    fn from_vars(address: Option<String>, namespace: Option<String>) -> Endpoint {
        let socket = address.filter(|v| !v.is_empty()).unwrap_or_else(|| Endpoint::DEFAULT_SOCKET.into());
        Endpoint {
            socket: PathBuf::from(socket.strip_prefix("unix://").unwrap_or(&socket)),
            namespace: namespace.filter(|v| !v.is_empty()),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "containerd at {}", self.socket.display())
    }
}

/// Why an image could not be had from containerd.
#[derive(Debug, thiserror::Error)]
pub enum ContainerdError {
    /// Nothing answers on the socket (not installed, not started, no permission).
    #[error("{endpoint}: no answer ({reason}); name its socket with CONTAINERD_ADDRESS")]
    Unreachable {
        /// containerd and its socket.
        endpoint: String,
        /// The connection's error.
        reason: String,
    },
    /// No namespace looked in has the image.
    #[error("{endpoint}: no image {name} in {namespaces} (`ctr -n NAMESPACE images ls` lists them; CONTAINERD_NAMESPACE picks one)")]
    NotFound {
        /// containerd and its socket.
        endpoint: String,
        /// The image asked for.
        name: String,
        /// The namespaces looked in, said as a phrase.
        namespaces: String,
    },
    /// containerd refused or failed a request, or holds an image kestrel cannot read whole.
    #[error("{endpoint}: {name}: {reason}")]
    Failed {
        /// containerd and its socket.
        endpoint: String,
        /// The image asked for.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// The image's manifests, configuration or layers are not what they should be (a digest mismatch, a corrupt
    /// layer, a limit).
    #[error("{endpoint}: {source}")]
    Read {
        /// containerd and its socket.
        endpoint: String,
        /// What went wrong, naming the image.
        #[source]
        source: ImageError,
    },
}

impl ContainerdError {
    /// containerd is not there, or has no such image: another source may have it.
    pub fn is_absent(&self) -> bool {
        matches!(self, ContainerdError::Unreachable { .. } | ContainerdError::NotFound { .. })
    }
}

/// Which image a name found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// containerd's name for it (its image record).
    pub name: String,
    /// The namespace holding it.
    pub namespace: String,
    /// Its image id (the configuration's digest).
    pub image_id: String,
    /// The digest of the platform's manifest.
    pub manifest_digest: String,
    /// The digest of the multi-platform index the record names, for such an image.
    pub index_digest: Option<String>,
}

/// What [`resolve_unless`] found.
pub enum Resolved {
    /// The caller knew the image: nothing but its manifests and configuration was read.
    Known(Found),
    /// The image, its manifests and configuration read and checked, its layers to be read as containerd streams
    /// them ([`crate::Identified::open`]).
    Store(Found, Box<Identified>),
}

/// Image `name` in containerd's store: its record found, its platform's manifest and configuration read and
/// checked, its layers left to be read — unless `known(image id, manifest digest)` says the caller already has
/// what it needs of that image (an inventory cached under those digests). `opts.platform` picks among the
/// platforms of a multi-platform image (default: this machine's).
pub fn resolve_unless(
    endpoint: &Endpoint,
    name: &str,
    opts: &OpenOptions,
    known: &dyn Fn(&str, &str) -> bool,
) -> Result<Resolved, ContainerdError> {
    let failed = |reason: String| ContainerdError::Failed { endpoint: endpoint.to_string(), name: name.into(), reason };
    if name.is_empty() || name.len() > 4096 || name.chars().any(char::is_control) {
        return Err(failed("not an image name".into()));
    }
    let conn = Conn::connect(endpoint)?;
    let namespaces = conn.namespaces(endpoint).map_err(failed)?;
    let mut names = vec![name.to_string()];
    if let Ok(r) = crate::registry::Reference::parse(name) {
        if r.to_string() != name {
            names.push(r.to_string());
        }
    }
    let prefix = id_prefix(name);
    let mut hit = None;
    'look: for ns in &namespaces {
        for n in &names {
            if let Some(image) = conn.image(ns, n).map_err(failed)? {
                hit = Some((ns.clone(), image));
                break 'look;
            }
        }
        // The first digits of an image id, as `crictl images` shows it: the CRI plugin's record of the id.
        if let Some(prefix) = &prefix {
            let mut ids: Vec<api::Image> =
                conn.images(ns).map_err(failed)?.into_iter().filter(|i| i.name.starts_with(prefix.as_str())).collect();
            if ids.len() > 1 {
                let all: Vec<&str> = ids.iter().map(|i| i.name.as_str()).collect();
                return Err(failed(format!("the id names several images in namespace {ns}: {}", all.join(", "))));
            }
            if let Some(image) = ids.pop() {
                hit = Some((ns.clone(), image));
                break 'look;
            }
        }
    }
    let Some((namespace, image)) = hit else {
        return Err(ContainerdError::NotFound {
            endpoint: endpoint.to_string(),
            name: name.into(),
            namespaces: match namespaces.as_slice() {
                [] => "any namespace (there is none)".into(),
                [one] => format!("namespace {one}"),
                all => format!("namespaces {}", all.join(", ")),
            },
        });
    };
    let target = image.target.ok_or_else(|| failed(format!("the image record {} has no target", image.name)))?;
    crate::blobs::blob_path(&image.name, &target.digest).map_err(|e| failed(e.to_string()))?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": target.media_type,
            "digest": target.digest,
            "size": target.size,
            "annotations": {"io.containerd.image.name": image.name},
        }],
    });
    let store =
        ContentStore { conn, namespace: metadata(&namespace).map_err(failed)?, max: opts.limits.max_layer_bytes };
    let blobs = Blobs::Store { index: index.to_string().into_bytes(), store };
    let shown = image.name.clone();
    let (target, config, plans) = crate::image::plan_image(&shown, &blobs, opts).map_err(|e| match e {
        // containerd fetches the blobs of the platforms it is asked for; the index names them all.
        ImageError::MissingBlob { what, name: blob, .. } => failed(format!(
            "{what} {} is not in containerd's content store: it holds what was pulled, for the platforms asked for \
             (`ctr -n {namespace} images pull --platform PLATFORM {}` fetches another's)",
            blob.strip_prefix("blobs/sha256/").map(|h| format!("sha256:{h}")).unwrap_or(blob),
            image.name
        )),
        source => ContainerdError::Read { endpoint: endpoint.to_string(), source },
    })?;
    let found = Found {
        name: image.name,
        namespace,
        image_id: target.image_id.clone().unwrap_or_default(),
        manifest_digest: target.manifest_digest.clone().unwrap_or_default(),
        index_digest: target.index_digest.clone(),
    };
    if known(&found.image_id, &found.manifest_digest) {
        return Ok(Resolved::Known(found));
    }
    // A node may keep only the unpacked snapshots (the CRI plugin's `discard_unpacked_layers`): say so before
    // reading anything (a failed request is said as itself, not taken for a missing layer).
    let stored = |member: &str| match (&blobs, member.strip_prefix("blobs/sha256/")) {
        (Blobs::Store { store, .. }, Some(hex)) => store.size(hex).map(|s| s.is_some()),
        _ => Ok(false),
    };
    for p in &plans {
        if !stored(&p.member).map_err(|e| failed(e.to_string()))? {
            return Err(failed(format!(
                "layer {} is not in containerd's content store (its layers were discarded once unpacked: the CRI \
                 plugin's discard_unpacked_layers); scan the image from its registry instead (docker://{})",
                p.blob_digest.as_deref().unwrap_or(&p.member),
                found.name
            )));
        }
    }
    Ok(Resolved::Store(found, Box::new(Identified { shown, blobs, target, config, plans })))
}

/// An image record in containerd's store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its namespace.
    pub namespace: String,
    /// Its name: a reference (`docker.io/library/nginx:1.25`), or — as the CRI plugin also records every image it
    /// pulls — a digest reference (`…@sha256:…`) or the image id (`sha256:…`).
    pub name: String,
    /// The digest of what it points at (a manifest, or an index of several platforms').
    pub digest: String,
}

impl Record {
    /// Whether the name is a tag rather than a digest reference or an image id.
    pub fn is_tag(&self) -> bool {
        !self.name.starts_with("sha256:") && !self.name.contains('@')
    }
}

/// Every image record in the endpoint's namespace, or in every namespace (in [`resolve_unless`]'s order, then by
/// name).
pub fn list(endpoint: &Endpoint) -> Result<Vec<Record>, ContainerdError> {
    let failed = |reason: String| ContainerdError::Failed { endpoint: endpoint.to_string(), name: "*".into(), reason };
    let conn = Conn::connect(endpoint)?;
    let namespaces = conn.namespaces(endpoint).map_err(failed)?;
    let mut out = Vec::new();
    for ns in namespaces {
        let mut images: Vec<Record> = conn
            .images(&ns)
            .map_err(failed)?
            .into_iter()
            .filter_map(|i| Some(Record { namespace: ns.clone(), digest: i.target?.digest, name: i.name }))
            .collect();
        images.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(images);
    }
    Ok(out)
}

/// `sha256:HEX` for a name that is the start of an image id (12 hex digits or more, `sha256:` or not).
fn id_prefix(name: &str) -> Option<String> {
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    (kestrel_core::is_lower_hex(hex) && (12..=64).contains(&hex.len())).then(|| format!("sha256:{hex}"))
}

/// A request to answer in a namespace.
fn in_namespace<T>(ns: &MetadataValue<tonic::metadata::Ascii>, message: T) -> Request<T> {
    let mut req = Request::new(message);
    req.metadata_mut().insert("containerd-namespace", ns.clone());
    req
}

/// A namespace as the request header carrying it.
fn metadata(ns: &str) -> Result<MetadataValue<tonic::metadata::Ascii>, String> {
    // containerd's own rule for namespace names.
    let ok = !ns.is_empty()
        && ns.len() <= 76
        && ns.split(['.', '_', '-']).all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !ok {
        return Err(format!("{ns:?} is not a containerd namespace"));
    }
    ns.parse().map_err(|e| format!("namespace {ns:?}: {e}"))
}

/// A connection to containerd, and the runtime that drives it (requests are made from any thread, blocking).
struct Conn {
    rt: Runtime,
    channel: Channel,
    /// `containerd at SOCKET`, for messages.
    shown: String,
}

/// A runtime that is shut down without waiting when dropped (which may happen on any thread).
struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("the runtime lives as long as its holder").handle()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// What a request answered within [`IDLE`]: its status when it failed, `None` when nothing came.
async fn answered<T>(
    call: impl std::future::Future<Output = Result<T, tonic::Status>>,
) -> Result<T, Option<tonic::Status>> {
    match tokio::time::timeout(IDLE, call).await {
        Ok(answer) => answer.map_err(Some),
        Err(_) => Err(None),
    }
}

/// A failed request, said: `what` and why.
fn say(what: &str, e: Option<tonic::Status>) -> String {
    match e {
        Some(status) => format!("{what}: {}", status.message()),
        None => format!("{what}: no answer in {} s", IDLE.as_secs()),
    }
}

/// What a request answered within [`IDLE`], any failure said.
async fn within<T>(what: &str, call: impl std::future::Future<Output = Result<T, tonic::Status>>) -> Result<T, String> {
    answered(call).await.map_err(|e| say(what, e))
}

/// A `NotFound` answer as `None`.
fn found<T>(answer: Result<T, Option<tonic::Status>>) -> Result<Option<T>, Option<tonic::Status>> {
    match answer {
        Ok(t) => Ok(Some(t)),
        Err(Some(status)) if status.code() == Code::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl Conn {
    fn connect(endpoint: &Endpoint) -> Result<Conn, ContainerdError> {
        let unreachable = |reason: String| ContainerdError::Unreachable { endpoint: endpoint.to_string(), reason };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kestrel-containerd")
            .enable_all()
            .build()
            .map_err(|e| unreachable(format!("starting an I/O runtime: {e}")))?;
        let rt = Runtime(Some(rt));
        let socket = endpoint.socket.clone();
        let channel = rt
            .handle()
            .block_on(async { tokio::time::timeout(CONNECT, containerd_client::connect(socket)).await })
            .map_err(|_| unreachable(format!("no connection in {} s", CONNECT.as_secs())))?
            .map_err(|e| {
                // tonic's transport error hides the socket's own error in its source.
                let mut reason = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    reason = s.to_string();
                    source = s.source();
                }
                if reason.contains("Permission denied") {
                    reason.push_str(": containerd's socket is root's, run as root");
                }
                unreachable(reason)
            })?;
        Ok(Conn { rt, channel, shown: endpoint.to_string() })
    }

    /// Runs `work` on the connection's runtime, blocking this thread (which must not be one of a runtime's).
    fn block_on<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        self.rt.handle().block_on(work)
    }

    /// The namespace the endpoint names; else every one, the Kubernetes one first, then `default`, then the others
    /// by name.
    fn namespaces(&self, endpoint: &Endpoint) -> Result<Vec<String>, String> {
        if let Some(ns) = &endpoint.namespace {
            return Ok(vec![ns.clone()]);
        }
        let mut client = api::namespaces_client::NamespacesClient::new(self.channel.clone());
        let list = self.block_on(within(
            "listing namespaces",
            client.list(api::ListNamespacesRequest { filter: String::new() }),
        ))?;
        let mut names: Vec<String> = list.into_inner().namespaces.into_iter().map(|n| n.name).collect();
        let rank = |n: &str| match n {
            "k8s.io" => 0,
            "default" => 1,
            _ => 2,
        };
        names.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
        Ok(names)
    }

    /// Every image record in namespace `ns`.
    fn images(&self, ns: &str) -> Result<Vec<api::Image>, String> {
        let mut client = api::images_client::ImagesClient::new(self.channel.clone());
        let req = in_namespace(&metadata(ns)?, api::ListImagesRequest { filters: Vec::new() });
        let listed = self.block_on(within(&format!("listing the images of namespace {ns}"), client.list(req)))?;
        Ok(listed.into_inner().images)
    }

    /// The image record `name` in namespace `ns`; `None` when there is none.
    fn image(&self, ns: &str, name: &str) -> Result<Option<api::Image>, String> {
        let mut client = api::images_client::ImagesClient::new(self.channel.clone());
        let req = in_namespace(&metadata(ns)?, api::GetImageRequest { name: name.into() });
        let got = found(self.block_on(answered(client.get(req))))
            .map_err(|e| say(&format!("looking up {name} in namespace {ns}"), e))?;
        Ok(got.and_then(|g| g.into_inner().image))
    }
}

/// containerd's content store in one namespace, as a source of blobs by digest.
pub(crate) struct ContentStore {
    conn: Conn,
    namespace: MetadataValue<tonic::metadata::Ascii>,
    /// Most bytes of one blob.
    max: u64,
}

impl ContentStore {
    /// The size of blob `sha256:HEX`; `None` when the store does not have it.
    pub(crate) fn size(&self, hex: &str) -> io::Result<Option<u64>> {
        let mut client = api::content_client::ContentClient::new(self.conn.channel.clone());
        let req = in_namespace(&self.namespace, api::InfoRequest { digest: format!("sha256:{hex}") });
        let info = found(self.conn.block_on(answered(client.info(req))))
            .map_err(|e| io::Error::other(say(&format!("{}: sha256:{hex}", self.conn.shown), e)))?;
        Ok(info.and_then(|i| i.into_inner().info).map(|i| i.size.max(0) as u64))
    }

    /// Blob `sha256:HEX` as containerd streams it (its digest is the reader's to check); `None` when the store does
    /// not have it.
    pub(crate) fn open(&self, hex: &str) -> io::Result<Option<Box<dyn Read + Send>>> {
        let mut client = api::content_client::ContentClient::new(self.conn.channel.clone());
        let what = format!("{}: sha256:{hex}", self.conn.shown);
        let req = in_namespace(
            &self.namespace,
            api::ReadContentRequest { digest: format!("sha256:{hex}"), offset: 0, size: 0 },
        );
        let answer =
            found(self.conn.block_on(answered(client.read(req)))).map_err(|e| io::Error::other(say(&what, e)))?;
        let Some(stream) = answer.map(|a| a.into_inner()) else { return Ok(None) };
        Ok(Some(Box::new(BlobReader {
            rt: self.conn.rt.handle().clone(),
            stream,
            chunk: Vec::new(),
            at: 0,
            read: 0,
            max: self.max,
            what,
        })))
    }
}

/// A blob's chunks as containerd sends them, as a [`Read`] (each chunk awaited on the connection's runtime).
struct BlobReader {
    rt: tokio::runtime::Handle,
    stream: tonic::Streaming<api::ReadContentResponse>,
    chunk: Vec<u8>,
    /// How much of `chunk` was read.
    at: usize,
    /// Bytes received so far.
    read: u64,
    max: u64,
    /// The blob, for messages.
    what: String,
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            let next = self.rt.block_on(within(&self.what, self.stream.message())).map_err(io::Error::other)?;
            let Some(msg) = next else { return Ok(0) };
            if msg.offset != self.read as i64 {
                return Err(io::Error::other(format!(
                    "{}: a chunk at offset {} where {} was expected",
                    self.what, msg.offset, self.read
                )));
            }
            self.read += msg.data.len() as u64;
            if self.read > self.max {
                return Err(io::Error::other(format!(
                    "{}: limit exceeded: larger than {} bytes (raise it with --max-layer-bytes if the image is trusted)",
                    self.what, self.max
                )));
            }
            self.chunk = msg.data;
            self.at = 0;
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_checked_before_they_become_a_header() {
        for ok in ["k8s.io", "default", "moby", "a-b_c.d9"] {
            assert!(metadata(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a..b", ".a", "a b", "k8s.io\r\nx: y", "ns/other", &"a".repeat(77)] {
            assert!(metadata(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn image_id_prefixes_are_told_from_names() {
        let id = "e80844a11862aa4b8a3fa1f6a3b3ee8b2e7f0e7d3d4e1c1a2b3c4d5e6f708192";
        assert_eq!(id_prefix(&id[..12]).as_deref(), Some("sha256:e80844a11862"));
        assert_eq!(id_prefix(&format!("sha256:{}", &id[..20])), Some(format!("sha256:{}", &id[..20])));
        assert_eq!(id_prefix(id), Some(format!("sha256:{id}")));
        for not in ["e80844a1186", "nginx", "E80844A11862", "e80844a11862:1", &format!("{id}0")] {
            assert_eq!(id_prefix(not), None, "{not}");
        }
    }

    #[test]
    fn the_endpoint_is_found_as_ctr_finds_it() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            Endpoint::from_vars(some("unix:///tmp/c.sock"), some("k8s.io")),
            Endpoint { socket: "/tmp/c.sock".into(), namespace: some("k8s.io") }
        );
        assert_eq!(Endpoint::from_vars(some("/x/c.sock"), None).socket, PathBuf::from("/x/c.sock"));
        assert_eq!(
            Endpoint::from_vars(some(""), some("")),
            Endpoint { socket: Endpoint::DEFAULT_SOCKET.into(), namespace: None }
        );
    }
}
