//! `containers-storage:NAME`: the image store Podman, Buildah, Skopeo and CRI-O share (containers/storage), read
//! directly — no engine, no API socket — as a CRI-O node or a Podman user without `podman system service` has it.
//!
//! The store keeps each image's configuration and manifest as it was pulled (`<driver>-images/images.json` and the
//! image's "big data" files), and each layer unpacked as a directory (`overlay/<id>/diff`, `vfs/dir/<id>`,
//! `btrfs/subvolumes/<id>`) with a tar-split record of its tar (`<driver>-layers/<id>.tar-split.gz`: the tar's own
//! header bytes, and the names and sizes of the files whose content lies in the directory). Each layer's tar is put
//! together again from the two, byte for byte, so it is read as any other layer and checked against the diff id
//! the configuration names: a file changed in the store after it was unpacked is a digest mismatch, not a quiet
//! difference. Files are opened inside the layer's directory only (`openat2` with `RESOLVE_IN_ROOT`).

use crate::blobs::Blobs;
use crate::{Identified, ImageError, OpenOptions};
use base64::Engine as _;
use serde::Deserialize;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Where the store is and which of its drivers' directories to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The graph root (`/var/lib/containers/storage` for root).
    pub root: PathBuf,
    /// `overlay`, `vfs` or `btrfs`; `None`: whichever holds the image.
    pub driver: Option<String>,
}

impl Location {
    /// The store a reference's `[DRIVER@ROOT+RUNROOT:OPTIONS]` prefix names (as Podman and Skopeo write it), else
    /// the default one, as Podman finds it: the `graphroot` of `storage.conf` (`$CONTAINERS_STORAGE_CONF`, else
    /// `/etc/containers/storage.conf` for root and `$XDG_CONFIG_HOME/containers/storage.conf` for other users), else
    /// `/var/lib/containers/storage` for root and `$XDG_DATA_HOME/containers/storage` (`~/.local/share/…`) for
    /// other users. Returns the location and the image name that follows.
    pub fn parse(reference: &str) -> Result<(Location, &str), String> {
        let Some(rest) = reference.strip_prefix('[') else { return Ok((Location::default_store(), reference)) };
        let (spec, name) = rest
            .split_once(']')
            .ok_or_else(|| "a store is given as [DRIVER@ROOT+RUNROOT]NAME, with the ]".to_string())?;
        let (driver, root) = match spec.split_once('@') {
            Some((d, r)) => (Some(d.to_string()).filter(|d| !d.is_empty()), r),
            None => (None, spec),
        };
        let root = root.split(['+', ':']).next().unwrap_or_default();
        if !root.starts_with('/') {
            return Err(format!("the store's root {root:?} must be an absolute path"));
        }
        Ok((Location { root: PathBuf::from(root), driver }, name))
    }

    fn default_store() -> Location {
        let env_dir = |var: &str, under_home: &str| {
            std::env::var_os(var)
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(under_home)))
                .unwrap_or_else(|| PathBuf::from("/nonexistent"))
        };
        // SAFETY: geteuid has no preconditions.
        let root_user = unsafe { libc::geteuid() } == 0;
        let conf = std::env::var_os("CONTAINERS_STORAGE_CONF")
            .filter(|c| !c.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| match root_user {
                true => PathBuf::from("/etc/containers/storage.conf"),
                false => env_dir("XDG_CONFIG_HOME", ".config").join("containers/storage.conf"),
            });
        let root = graphroot_configured(&conf).unwrap_or_else(|| match root_user {
            true => PathBuf::from("/var/lib/containers/storage"),
            false => env_dir("XDG_DATA_HOME", ".local/share").join("containers/storage"),
        });
        Location { root, driver: None }
    }
}

/// `graphroot = "…"` of storage.conf's `[storage]` table.
fn graphroot_configured(conf: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(conf).ok()?;
    let mut in_storage = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_storage = line == "[storage]";
        } else if let Some(v) = line.strip_prefix("graphroot").map(str::trim_start).and_then(|l| l.strip_prefix('=')) {
            let v = v.trim().trim_matches('"');
            if in_storage && v.starts_with('/') {
                return Some(PathBuf::from(v));
            }
        }
    }
    None
}

/// An image record of `<driver>-images/images.json`.
#[derive(Debug, Deserialize)]
struct StoredImage {
    id: String,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    names: Vec<String>,
    /// The top layer's id.
    #[serde(default)]
    layer: Option<String>,
}

/// A layer record of `<driver>-layers/layers.json`.
#[derive(Debug, Deserialize)]
struct StoredLayer {
    id: String,
    #[serde(default)]
    parent: Option<String>,
    #[serde(rename = "diff-digest", default)]
    diff_digest: Option<String>,
    #[serde(rename = "diff-size", default)]
    diff_size: Option<u64>,
}

/// Which image a name found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The name it was found under (its first name when found by id).
    pub name: String,
    /// Its image id (the configuration's digest).
    pub image_id: String,
    /// The digest of its manifest as pulled, when the store recorded one.
    pub manifest_digest: Option<String>,
    /// The driver whose directories hold it.
    pub driver: String,
}

/// An image of the store, as [`list`] gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// One of its names (every name is a record), or its id when it has none.
    pub name: String,
    /// Its image id (`sha256:…`, the configuration's digest).
    pub image_id: String,
    /// The driver whose directories hold it.
    pub driver: String,
}

/// Every image of the store at `at`, once per name (an image without a name once, under its id).
pub fn list(at: &Location, limits: &crate::Limits) -> Result<Vec<Record>, ImageError> {
    let mut out = Vec::new();
    for driver in drivers(at)? {
        let file = at.root.join(format!("{driver}-images/images.json"));
        let Some(images) = read_json::<Vec<StoredImage>>(&file, limits.max_metadata_bytes)? else { continue };
        for image in images {
            if !kestrel_core::is_sha256_hex(&image.id) {
                continue;
            }
            let image_id = format!("sha256:{}", image.id);
            let names = if image.names.is_empty() { vec![image.id.clone()] } else { image.names };
            out.extend(names.into_iter().map(|name| Record {
                name,
                image_id: image_id.clone(),
                driver: driver.clone(),
            }));
        }
    }
    Ok(out)
}

/// The drivers whose directories to look in: the one named, else every `<driver>-images` of the store.
fn drivers(at: &Location) -> Result<Vec<String>, ImageError> {
    let mut found: Vec<String> = match &at.driver {
        Some(d) => vec![d.clone()],
        None => std::fs::read_dir(&at.root)
            .map_err(|e| ImageError::io(at.root.display().to_string(), e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_suffix("-images").map(str::to_string))
            .collect(),
    };
    found.retain(|d| !d.is_empty() && !d.contains(['/', '.']));
    found.sort();
    Ok(found)
}

/// Layers of one image, at most (a cycle of parents is refused).
const MAX_LAYERS: usize = 1024;

/// Image `name` (a name as Podman lists it, one it completes — `busybox` is `docker.io/library/busybox:latest`,
/// a local build `localhost/NAME` — or 12 to 64 digits of its id) in the store at `at`: its configuration read and
/// checked, its layers left to be read — unless `known(image id, manifest digest)` says the caller already has what it
/// needs of it. `None` as the second value when `known` said so.
pub fn resolve_unless(
    at: &Location,
    name: &str,
    opts: &OpenOptions,
    known: &dyn Fn(&str, Option<&str>) -> bool,
) -> Result<(Found, Option<Box<Identified>>), ImageError> {
    let shown = at.root.display().to_string();
    let invalid = |what: &str, reason: String| ImageError::invalid(&shown, what, reason);
    if name.is_empty() || name.len() > 4096 || name.chars().any(char::is_control) {
        return Err(invalid("image name", format!("{name:?} is not an image name")));
    }
    let drivers = match drivers(at) {
        Err(ImageError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Err(ImageError::NotInStore {
                path: shown,
                name: name.to_string(),
                held: "no store is there (storage.conf's graphroot or a [DRIVER@ROOT] prefix names where it is)".into(),
            })
        }
        found => found?,
    };
    let mut wanted = vec![name.to_string(), format!("localhost/{name}")];
    if let Ok(r) = crate::registry::Reference::parse(name) {
        wanted.push(r.to_string());
    }
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    let by_id = kestrel_core::is_lower_hex(hex) && (12..=64).contains(&hex.len());
    let mut listed = Vec::new();
    let mut hit = None;
    for driver in &drivers {
        let file = at.root.join(format!("{driver}-images/images.json"));
        let Some(images) = read_json::<Vec<StoredImage>>(&file, opts.limits.max_metadata_bytes)? else { continue };
        let mut ids: Vec<&StoredImage> = Vec::new();
        for image in &images {
            if let Some(n) = image.names.iter().find(|n| wanted.contains(n)) {
                hit = Some((driver.clone(), n.clone(), image.id.clone()));
                break;
            }
            if by_id && image.id.starts_with(hex) {
                ids.push(image);
            }
        }
        if hit.is_none() {
            match ids.as_slice() {
                [one] => {
                    hit = Some((driver.clone(), one.names.first().cloned().unwrap_or(one.id.clone()), one.id.clone()))
                }
                [] => {}
                many => {
                    let all: Vec<&str> = many.iter().map(|i| i.id.as_str()).collect();
                    return Err(invalid("image name", format!("{name} names several images: {}", all.join(", "))));
                }
            }
        }
        if let Some((d, n, id)) = hit.take() {
            let image = images.into_iter().find(|i| i.id == id).expect("the image just found");
            return open_image(at, &d, n, image, opts, known);
        }
        listed.extend(images.into_iter().flat_map(|i| i.names));
    }
    listed.sort();
    listed.truncate(20);
    Err(ImageError::NotInStore {
        path: shown.clone(),
        name: name.to_string(),
        held: match (drivers.is_empty(), listed.is_empty()) {
            (true, _) => "it is no image store (no <driver>-images directory)".into(),
            (false, true) => "it holds no named image".into(),
            (false, false) => format!("it holds {}", listed.join(", ")),
        },
    })
}

/// The image `image` found under `name` in `driver`'s directories: configuration, layers and their tar-split
/// records found, an index and manifest made for them that name each layer by its diff id.
fn open_image(
    at: &Location,
    driver: &str,
    name: String,
    image: StoredImage,
    opts: &OpenOptions,
    known: &dyn Fn(&str, Option<&str>) -> bool,
) -> Result<(Found, Option<Box<Identified>>), ImageError> {
    let shown = format!("{}: {name}", at.root.display());
    let invalid = |what: &str, reason: String| ImageError::invalid(&shown, what, reason);
    if !kestrel_core::is_sha256_hex(&image.id) {
        return Err(invalid("images.json", format!("image id {:?} is not 64 hex digits", image.id)));
    }
    let manifest_digest = image.digest.clone().filter(|d| kestrel_core::sha256_hex(d).is_some());
    let found = Found {
        name: name.clone(),
        image_id: format!("sha256:{}", image.id),
        manifest_digest: manifest_digest.clone(),
        driver: driver.to_string(),
    };
    if known(&found.image_id, manifest_digest.as_deref()) {
        return Ok((found, None));
    }
    // The configuration: the "big data" item keyed by the image id, in a file named by that key in base64.
    let key = format!("sha256:{}", image.id);
    let config_path = at
        .root
        .join(format!("{driver}-images"))
        .join(&image.id)
        .join(format!("={}", base64::engine::general_purpose::STANDARD.encode(&key)));
    let config = read_bounded(&config_path, opts.limits.max_metadata_bytes)?
        .ok_or_else(|| invalid("image", format!("its configuration {} is missing", config_path.display())))?;
    // The layers, base first, from the top one down its parents.
    let layers: Vec<StoredLayer> =
        read_json(&at.root.join(format!("{driver}-layers/layers.json")), opts.limits.max_metadata_bytes)?
            .ok_or_else(|| invalid("image store", format!("{driver}-layers/layers.json is missing")))?;
    let by_id: HashMap<&str, &StoredLayer> = layers.iter().map(|l| (l.id.as_str(), l)).collect();
    let mut chain = Vec::new();
    let mut next = image.layer.as_deref();
    while let Some(id) = next {
        let layer = by_id.get(id).ok_or_else(|| invalid("layers.json", format!("layer {id} is not recorded")))?;
        if chain.len() == MAX_LAYERS {
            return Err(invalid("layers.json", format!("more than {MAX_LAYERS} layers below {name} (a cycle?)")));
        }
        chain.push(*layer);
        next = layer.parent.as_deref();
    }
    chain.reverse();
    let mut small = HashMap::new();
    let mut parts = HashMap::new();
    let mut descriptors = Vec::new();
    for layer in &chain {
        if !kestrel_core::is_sha256_hex(&layer.id) {
            return Err(invalid("layers.json", format!("layer id {:?} is not 64 hex digits", layer.id)));
        }
        let diff = layer.diff_digest.as_deref().unwrap_or_default();
        let member = crate::blobs::blob_path(&shown, diff)?;
        let tar_split = at.root.join(format!("{driver}-layers/{}.tar-split.gz", layer.id));
        if !tar_split.is_file() {
            return Err(invalid(
                "layer",
                format!(
                    "layer {} has no tar-split record ({}): its tar cannot be put together",
                    layer.id,
                    tar_split.display()
                ),
            ));
        }
        let dir = match driver {
            "overlay" => at.root.join("overlay").join(&layer.id).join("diff"),
            "vfs" => at.root.join("vfs/dir").join(&layer.id),
            "btrfs" => at.root.join("btrfs/subvolumes").join(&layer.id),
            other => {
                return Err(invalid(
                    "image store",
                    format!("the {other} driver's layers are not read (overlay, vfs, btrfs are)"),
                ))
            }
        };
        let size = layer.diff_size.unwrap_or(0);
        descriptors.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": diff,
            "size": size,
        }));
        parts.insert(member, (size, tar_split, dir));
    }
    let config_digest = format!("sha256:{}", image.id);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": descriptors,
    })
    .to_string()
    .into_bytes();
    let manifest_digest_made = crate::io::sha256_of(&manifest);
    let manifest_hex = manifest_digest_made.trim_start_matches("sha256:").to_string();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{manifest_hex}"),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": name},
        }],
    });
    small.insert("index.json".to_string(), index.to_string().into_bytes());
    small.insert(format!("blobs/sha256/{manifest_hex}"), manifest);
    small.insert(format!("blobs/sha256/{}", image.id), config);
    let blobs = Blobs::Storage { small, layers: parts };
    let (mut target, config, plans) = crate::image::plan_image(&shown, &blobs, opts)?;
    // The manifest made here is not the image's: name the one the store recorded, or none.
    target.manifest_digest = manifest_digest;
    target.index_digest = None;
    target.name = name;
    target.tags = image.names;
    Ok((found, Some(Box::new(Identified { shown, blobs, target, config, plans }))))
}

/// A JSON document of the store, up to `max` bytes; `None` when the file is not there.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path, max: u64) -> Result<Option<T>, ImageError> {
    let Some(bytes) = read_bounded(path, max)? else { return Ok(None) };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| ImageError::invalid(path.display().to_string(), "JSON", e))
}

/// A file of the store, up to `max` bytes; `None` when it is not there.
fn read_bounded(path: &Path, max: u64) -> Result<Option<Vec<u8>>, ImageError> {
    let shown = path.display().to_string();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ImageError::io(&shown, e)),
    };
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| ImageError::io(&shown, e))?;
    if bytes.len() as u64 > max {
        return Err(ImageError::Limit {
            path: shown,
            what: format!("more than {max} bytes of metadata"),
            knob: "--max-metadata-bytes",
        });
    }
    Ok(Some(bytes))
}

/// One record of a tar-split file.
#[derive(Deserialize)]
struct SplitRecord {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    name: Option<String>,
    /// The name's bytes, when they are not UTF-8.
    #[serde(default)]
    name_raw: Option<String>,
    #[serde(default)]
    size: u64,
    /// A segment's bytes (base64).
    #[serde(default)]
    payload: Option<String>,
}

/// The longest tar-split record (a segment holds tar headers and padding: a few KB; a long PAX header more).
const MAX_RECORD: u64 = 16 << 20;

/// A layer's tar, put together from its tar-split record and its directory: the record's segments (the tar's own
/// bytes) and, for each file record, that many bytes of the file in the directory.
pub struct Reassembled {
    records: BufReader<flate2::read::GzDecoder<std::fs::File>>,
    dir: std::fs::File,
    dir_shown: PathBuf,
    /// What is being handed out: a segment's bytes, or a file's.
    current: Box<dyn Read + Send>,
    line: Vec<u8>,
}

impl Reassembled {
    /// The tar the gzip-compressed tar-split record `tar_split` describes, its files read from `dir`.
    pub fn open(tar_split: &Path, dir: &Path) -> io::Result<Reassembled> {
        let records = BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(tar_split)?));
        let dir_file = std::fs::File::open(dir)?;
        Ok(Reassembled {
            records,
            dir: dir_file,
            dir_shown: dir.to_path_buf(),
            current: Box::new(io::empty()),
            line: Vec::new(),
        })
    }

    /// The next record's bytes to hand out; `false` at the end.
    fn advance(&mut self) -> io::Result<bool> {
        let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, format!("tar-split record: {why}"));
        loop {
            self.line.clear();
            let n = (&mut self.records).take(MAX_RECORD).read_until(b'\n', &mut self.line)?;
            if n == 0 {
                return Ok(false);
            }
            if self.line.last() != Some(&b'\n') && n as u64 == MAX_RECORD {
                return Err(bad(format!("a record longer than {MAX_RECORD} bytes")));
            }
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let r: SplitRecord = serde_json::from_slice(&self.line).map_err(|e| bad(e.to_string()))?;
            let b64 = base64::engine::general_purpose::STANDARD;
            match r.kind {
                // A segment: the tar's own bytes (headers, padding, the end).
                2 => {
                    let bytes = b64.decode(r.payload.unwrap_or_default()).map_err(|e| bad(e.to_string()))?;
                    self.current = Box::new(io::Cursor::new(bytes));
                    return Ok(true);
                }
                // A file: its content, from the layer's directory.
                1 if r.size == 0 => continue,
                1 => {
                    let name = match (r.name, r.name_raw) {
                        (Some(n), _) => n.into_bytes(),
                        (None, Some(raw)) => b64.decode(raw).map_err(|e| bad(e.to_string()))?,
                        (None, None) => return Err(bad("a file without a name".into())),
                    };
                    let file = open_beneath(&self.dir, &name).map_err(|e| {
                        io::Error::new(
                            e.kind(),
                            format!("{}/{}: {e}", self.dir_shown.display(), String::from_utf8_lossy(&name)),
                        )
                    })?;
                    self.current = Box::new(Exactly { inner: file.take(r.size), left: r.size });
                    return Ok(true);
                }
                other => return Err(bad(format!("unknown record type {other}"))),
            }
        }
    }
}

impl Read for Reassembled {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = self.current.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            if !self.advance()? {
                return Ok(0);
            }
        }
    }
}

/// A file's content of the size its tar header says: shorter is an error (the file changed since it was
/// unpacked), not a quietly shorter tar.
struct Exactly {
    inner: io::Take<std::fs::File>,
    left: u64,
}

impl Read for Exactly {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("{} bytes short", self.left)));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Opens `name` inside `dir` as a regular file, never outside it: `openat2` with `RESOLVE_IN_ROOT` (`..` and
/// absolute symbolic links stay inside) and the last component not followed.
fn open_beneath(dir: &std::fs::File, name: &[u8]) -> io::Result<std::fs::File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let c = std::ffi::CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: open_how is plain data; zeroed is valid, then the fields are set.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: a valid directory fd, a NUL-terminated path and an open_how of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this descriptor.
    let file = unsafe { std::fs::File::from_raw_fd(fd as i32) };
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not a regular file"));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A tar-split file of these JSON records.
    fn tar_split(dir: &Path, records: &[serde_json::Value]) -> PathBuf {
        let p = dir.join("layer.tar-split.gz");
        let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&p).unwrap(), flate2::Compression::fast());
        for r in records {
            writeln!(gz, "{r}").unwrap();
        }
        gz.finish().unwrap();
        p
    }

    fn segment(bytes: &[u8]) -> serde_json::Value {
        serde_json::json!({"type": 2, "payload": base64::engine::general_purpose::STANDARD.encode(bytes), "position": 0})
    }

    fn file(name: &str, size: u64) -> serde_json::Value {
        serde_json::json!({"type": 1, "name": name, "size": size, "payload": null, "position": 1})
    }

    fn read_all(split: &Path, layer: &Path) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Reassembled::open(split, layer)?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn segments_and_files_are_put_together_in_order() {
        let d = tempfile::tempdir().unwrap();
        let layer = d.path().join("layer");
        std::fs::create_dir_all(layer.join("etc")).unwrap();
        std::fs::write(layer.join("etc/a"), b"AAAA").unwrap();
        let raw = tar_split(
            d.path(),
            &[
                segment(b"<header a>"),
                file("etc/a", 4),
                segment(b"<pad>"),
                file("etc/", 0),
                serde_json::json!({"type": 1, "name_raw": base64::engine::general_purpose::STANDARD.encode("etc/a"), "size": 2}),
                segment(b"<end>"),
            ],
        );
        assert_eq!(read_all(&raw, &layer).unwrap(), b"<header a>AAAA<pad>AA<end>");
    }

    #[test]
    fn a_record_never_reads_outside_the_layers_directory() {
        let d = tempfile::tempdir().unwrap();
        let layer = d.path().join("layer");
        std::fs::create_dir_all(&layer).unwrap();
        std::fs::write(d.path().join("outside"), b"host secret").unwrap();
        std::os::unix::fs::symlink(d.path().join("outside"), layer.join("link")).unwrap();
        std::os::unix::fs::symlink("/", layer.join("up")).unwrap();
        let outside = d.path().join("outside").display().to_string();
        for name in ["../outside", outside.as_str(), "link", "up/outside"] {
            let split = tar_split(d.path(), &[file(name, 11)]);
            let e = read_all(&split, &layer).unwrap_err();
            assert!(e.to_string().contains(name.trim_start_matches('/')), "{name}: {e}");
        }
    }

    #[test]
    fn a_changed_or_hostile_record_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let layer = d.path().join("layer");
        std::fs::create_dir_all(layer.join("dir")).unwrap();
        std::fs::write(layer.join("short"), b"12345").unwrap();
        let cases = [
            (vec![file("short", 10)], "5 bytes short"),
            (vec![file("missing", 1)], "No such file"),
            (vec![file("dir", 1)], "not a regular file"),
            (vec![serde_json::json!({"type": 7, "position": 0})], "unknown record type 7"),
            (vec![serde_json::json!({"type": 1, "size": 3})], "a file without a name"),
            (vec![serde_json::json!({"type": 2, "payload": "not base64!"})], "tar-split record"),
        ];
        for (records, said) in cases {
            let split = tar_split(d.path(), &records);
            let e = read_all(&split, &layer).unwrap_err();
            assert!(e.to_string().contains(said), "{records:?}: {e}");
        }
        let junk = d.path().join("junk.gz");
        std::fs::write(&junk, b"not gzip").unwrap();
        assert!(read_all(&junk, &layer).is_err());
    }

    #[test]
    fn references_name_a_store_or_the_default_one() {
        let (at, name) = Location::parse("[overlay@/var/lib/x+/run/x:opt=1]docker.io/library/nginx:1").unwrap();
        assert_eq!(
            (at.root, at.driver.as_deref(), name),
            (PathBuf::from("/var/lib/x"), Some("overlay"), "docker.io/library/nginx:1")
        );
        let (at, name) = Location::parse("[/srv/store]app").unwrap();
        assert_eq!((at.root, at.driver, name), (PathBuf::from("/srv/store"), None, "app"));
        assert!(Location::parse("[vfs@relative]app").unwrap_err().contains("absolute"));
        assert!(Location::parse("[vfs@/x app").unwrap_err().contains("]"));
        assert_eq!(Location::parse("nginx").unwrap().1, "nginx");
        let conf = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            conf.path(),
            "[other]\ngraphroot = \"/wrong\"\n[storage]\ndriver = \"overlay\"\ngraphroot = \"/srv/containers\"\n",
        )
        .unwrap();
        assert_eq!(graphroot_configured(conf.path()), Some(PathBuf::from("/srv/containers")));
    }
}
