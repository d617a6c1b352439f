//! Access to the members of an image: files of an OCI layout directory, or members of a tar archive
//! located once and then read in place (in parallel, one file handle per reader).

use crate::io::{read_bounded, LimitHit};
use crate::tree::normalize_archive_path;
use crate::{ImageError, Limits};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub(crate) enum Blobs {
    /// An OCI layout directory.
    Dir(PathBuf),
    /// A tar archive on disk: member name (normalised, no leading `/`) → (data offset, size).
    Tar { file: PathBuf, members: HashMap<String, (u64, u64)> },
    /// An archive read from a stream ([`crate::stream`]): its small JSON members whole, the names and sizes of
    /// the members already read as layers, and the JSON members not kept once that many bytes of them were.
    Streamed { small: HashMap<String, Vec<u8>>, layers: HashMap<String, u64>, dropped: HashMap<String, u64> },
    /// An image in a registry: its layout's small members (index, manifests, configuration) fetched, its layers
    /// (path → size the manifest gives) fetched when read.
    Remote { small: HashMap<String, Vec<u8>>, layers: HashMap<String, u64>, source: crate::registry::RemoteBlobs },
    /// containerd's content store: an `index.json` naming the image record's target, and every blob by digest,
    /// read when asked for.
    Store { index: Vec<u8>, store: crate::containerd::ContentStore },
    /// containers/storage ([`crate::storage`]): an index, manifest and configuration made for the image, and each
    /// layer (`blobs/sha256/<diff id>` → its size, tar-split record and directory) put together when read.
    Storage { small: HashMap<String, Vec<u8>>, layers: HashMap<String, (u64, PathBuf, PathBuf)> },
}

/// Names blobs by digest inside a layout: `blobs/sha256/<hex>`. Refuses anything but a well-formed
/// SHA-256 digest, so a digest can never name a path outside the layout.
pub(crate) fn blob_path(input: &str, digest: &str) -> Result<String, ImageError> {
    match kestrel_core::sha256_hex(digest) {
        Some(hex) => Ok(format!("blobs/sha256/{hex}")),
        None => Err(ImageError::invalid(
            input,
            "descriptor",
            format!("unsupported or malformed digest {digest:?} (sha256 expected)"),
        )),
    }
}

impl Blobs {
    /// Indexes an uncompressed tar archive (a compressed one is read as a stream: [`crate::stream`]).
    pub(crate) fn index_tar(path: &Path, limits: &Limits) -> Result<Blobs, ImageError> {
        let shown = path.display().to_string();
        let file = path.to_path_buf();
        let f = File::open(&file).map_err(|e| ImageError::io(&shown, e))?;
        let mut archive = tar::Archive::new(f);
        let mut members = HashMap::new();
        let entries = archive.entries_with_seek().map_err(|e| ImageError::tar(&shown, e, None))?;
        let mut last: Option<Vec<u8>> = None;
        for entry in entries {
            let entry = entry.map_err(|e| ImageError::tar(&shown, e, last.as_deref()))?;
            last = Some(entry.path_bytes().into_owned());
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            if members.len() as u64 >= limits.max_entries {
                return Err(ImageError::Limit {
                    path: shown,
                    what: format!("more than {} archive members", limits.max_entries),
                    knob: "--max-entries",
                });
            }
            let Ok(name) = normalize_archive_path(&entry.path_bytes()) else { continue };
            members.insert(name.trim_start_matches('/').to_string(), (entry.raw_file_position(), entry.size()));
        }
        Ok(Blobs::Tar { file, members })
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        match self {
            Blobs::Dir(root) => {
                std::fs::symlink_metadata(root.join(name)).map(|m| m.file_type().is_file()).unwrap_or(false)
            }
            Blobs::Tar { members, .. } => members.contains_key(name),
            Blobs::Streamed { small, layers, dropped } => {
                small.contains_key(name) || layers.contains_key(name) || dropped.contains_key(name)
            }
            Blobs::Remote { small, layers, .. } => small.contains_key(name) || layers.contains_key(name),
            Blobs::Storage { small, layers } => small.contains_key(name) || layers.contains_key(name),
            Blobs::Store { store, .. } => match name {
                "index.json" => true,
                _ => name.strip_prefix("blobs/sha256/").is_some_and(|hex| matches!(store.size(hex), Ok(Some(_)))),
            },
        }
    }

    /// Size of a member.
    pub(crate) fn size(&self, name: &str) -> Option<u64> {
        match self {
            Blobs::Dir(root) => {
                std::fs::symlink_metadata(root.join(name)).ok().filter(|m| m.is_file()).map(|m| m.len())
            }
            Blobs::Tar { members, .. } => members.get(name).map(|m| m.1),
            Blobs::Streamed { small, layers, .. } | Blobs::Remote { small, layers, .. } => {
                small.get(name).map(|b| b.len() as u64).or_else(|| layers.get(name).copied())
            }
            Blobs::Storage { small, layers } => {
                small.get(name).map(|b| b.len() as u64).or_else(|| layers.get(name).map(|l| l.0))
            }
            Blobs::Store { index, store } => match name {
                "index.json" => Some(index.len() as u64),
                _ => name.strip_prefix("blobs/sha256/").and_then(|hex| store.size(hex).ok().flatten()),
            },
        }
    }

    /// Opens a member; `Ok(None)` when it does not exist. Members of a layout directory must be regular
    /// files (a symbolic link could point anywhere on the host).
    pub(crate) fn open(&self, name: &str) -> io::Result<Option<Box<dyn Read + Send>>> {
        match self {
            Blobs::Dir(root) => {
                if name.split('/').any(|c| c == ".." || c.is_empty()) {
                    return Ok(None);
                }
                let p = root.join(name);
                match std::fs::symlink_metadata(&p) {
                    Ok(m) if m.file_type().is_file() => Ok(Some(Box::new(File::open(p)?))),
                    Ok(_) => Err(io::Error::other(format!("{name} is not a regular file"))),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Blobs::Tar { file, members, .. } => {
                let Some(&(off, size)) = members.get(name) else { return Ok(None) };
                let mut f = File::open(file)?;
                f.seek(SeekFrom::Start(off))?;
                Ok(Some(Box::new(f.take(size))))
            }
            Blobs::Streamed { small, layers, .. } => match small.get(name) {
                Some(b) => Ok(Some(Box::new(io::Cursor::new(b.clone())))),
                None if layers.contains_key(name) => Err(io::Error::other(
                    "it is no JSON document (its first bytes were not `{` or `[`): it was read as a layer",
                )),
                None => Ok(None),
            },
            Blobs::Remote { small, layers, source } => match (small.get(name), name.strip_prefix("blobs/sha256/")) {
                (Some(b), _) => Ok(Some(Box::new(io::Cursor::new(b.clone())))),
                (None, Some(hex)) if layers.contains_key(name) => source.open(hex).map(Some),
                _ => Ok(None),
            },
            Blobs::Storage { small, layers } => match (small.get(name), layers.get(name)) {
                (Some(b), _) => Ok(Some(Box::new(io::Cursor::new(b.clone())))),
                (None, Some((_, tar_split, dir))) => {
                    Ok(Some(Box::new(crate::storage::Reassembled::open(tar_split, dir)?)))
                }
                _ => Ok(None),
            },
            Blobs::Store { index, store } => match (name, name.strip_prefix("blobs/sha256/")) {
                ("index.json", _) => Ok(Some(Box::new(io::Cursor::new(index.clone())))),
                (_, Some(hex)) => store.open(hex),
                _ => Ok(None),
            },
        }
    }

    /// Reads a small member (manifest, index, config) whole, bounded by `max_metadata_bytes`.
    pub(crate) fn read_small(
        &self,
        input: &str,
        name: &str,
        what: &str,
        limits: &Limits,
    ) -> Result<Vec<u8>, ImageError> {
        let shown = format!("{input}!{name}");
        if let Blobs::Streamed { layers, dropped, .. } = self {
            if layers.get(name).is_some_and(|&size| size > limits.max_metadata_bytes) {
                return Err(ImageError::Limit {
                    path: shown,
                    what: format!("{what} larger than {} bytes", limits.max_metadata_bytes),
                    knob: "--max-metadata-bytes",
                });
            }
            if let Some(kept) = dropped.get(name) {
                return Err(ImageError::Limit {
                    path: shown,
                    what: format!(
                        "{what} not kept: the archive held more than {kept} bytes of JSON documents before it"
                    ),
                    knob: "--max-metadata-bytes",
                });
            }
        }
        let r = self.open(name).map_err(|e| ImageError::io(&shown, e))?.ok_or_else(|| ImageError::MissingBlob {
            path: input.to_string(),
            what: what.to_string(),
            name: name.to_string(),
        })?;
        read_bounded(r, limits.max_metadata_bytes).map_err(|e| match LimitHit::of(&e) {
            Some(hit) => ImageError::Limit { path: shown, what: format!("{what} {}", hit.0), knob: hit.1 },
            None => ImageError::io(shown, e),
        })
    }
}

/// Reads until `buf` is full or the input ends; the bytes read.
pub(crate) fn read_fill(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
