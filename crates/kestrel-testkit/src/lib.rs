//! Builds container images the way `docker save`, buildah and skopeo write them, so that tests and
//! benchmarks run on real archives: layers are real tar streams (gzip, zstd or plain), digests are real,
//! and the manifests follow the OCI image spec and Docker's `manifest.json` format.
//!
//! Hostile images are built with the same code: [`Entry::Raw`] writes any header bytes.
//!
//! ```
//! use kestrel_testkit::{Compression, Entry, Image};
//!
//! let dir = tempfile::tempdir()?;
//! let image = Image::new(vec![
//!     vec![Entry::File("etc/os-release".into(), b"ID=alpine\nVERSION_ID=3.19.1\n".to_vec())],
//!     vec![Entry::File("app/run.sh".into(), b"#!/bin/sh\n".to_vec())],
//! ]);
//! image.write_docker_archive(&dir.path().join("app.tar"), &["app:1"]); // as `docker save` writes it
//! image.write_oci_dir(&dir.path().join("layout"), "1.0", Compression::Zstd); // an OCI image layout
//! assert!(dir.path().join("app.tar").metadata()?.len() > 0);
//! assert!(dir.path().join("layout/index.json").exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub mod browser;
pub mod services;

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// Layer compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

/// One entry of a layer.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A directory.
    Dir(String),
    /// A regular file with mode 0644.
    File(String, Vec<u8>),
    /// A regular file with a mode.
    FileMode(String, Vec<u8>, u32),
    /// A symbolic link (path, target).
    Symlink(String, String),
    /// A hard link (path, target).
    Hardlink(String, String),
    /// A whiteout: deletes `path` from lower layers.
    Whiteout(String),
    /// An opaque whiteout: hides everything lower layers put in directory `path`.
    Opaque(String),
    /// A character device.
    CharDevice(String),
    /// A header with a path written byte for byte (no checks: for hostile archives).
    Raw(Vec<u8>, Vec<u8>),
}

/// `sha256:<hex>`.
pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn header(path: &str, size: u64, kind: tar::EntryType, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    let _ = path;
    h
}

/// The regular members of a tar, in order: (path, bytes).
pub fn tar_members(tar: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut d = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut d).unwrap();
            (e.path().unwrap().display().to_string(), d)
        })
        .collect()
}

/// A tar of these (path, bytes) files, in this order: an archive's members shuffled, dropped or replaced.
pub fn tar_of(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    layer_tar(&members.iter().map(|(p, d)| Entry::File(p.clone(), d.clone())).collect::<Vec<_>>())
}

/// Builds an uncompressed layer tar.
pub fn layer_tar(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            Entry::Dir(p) => {
                let mut h = header(p, 0, tar::EntryType::Directory, 0o755);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            Entry::File(p, d) => {
                let mut h = header(p, d.len() as u64, tar::EntryType::Regular, 0o644);
                b.append_data(&mut h, p, &d[..]).unwrap();
            }
            Entry::FileMode(p, d, m) => {
                let mut h = header(p, d.len() as u64, tar::EntryType::Regular, *m);
                b.append_data(&mut h, p, &d[..]).unwrap();
            }
            Entry::Symlink(p, t) => {
                let mut h = header(p, 0, tar::EntryType::Symlink, 0o777);
                b.append_link(&mut h, p, t).unwrap();
            }
            Entry::Hardlink(p, t) => {
                let mut h = header(p, 0, tar::EntryType::Link, 0o644);
                b.append_link(&mut h, p, t).unwrap();
            }
            Entry::Whiteout(p) => {
                let (dir, name) = p.rsplit_once('/').unwrap_or(("", p));
                let wh = if dir.is_empty() { format!(".wh.{name}") } else { format!("{dir}/.wh.{name}") };
                let mut h = header(&wh, 0, tar::EntryType::Regular, 0o644);
                b.append_data(&mut h, wh, &[][..]).unwrap();
            }
            Entry::Opaque(dir) => {
                let wh = format!("{}/.wh..wh..opq", dir.trim_end_matches('/'));
                let mut h = header(&wh, 0, tar::EntryType::Regular, 0o644);
                b.append_data(&mut h, wh, &[][..]).unwrap();
            }
            Entry::CharDevice(p) => {
                let mut h = header(p, 0, tar::EntryType::Char, 0o666);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            Entry::Raw(path, data) => {
                let mut h = tar::Header::new_old();
                {
                    let raw = h.as_old_mut();
                    let n = path.len().min(100);
                    raw.name[..n].copy_from_slice(&path[..n]);
                }
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_entry_type(tar::EntryType::Regular);
                h.set_cksum();
                b.append(&h, &data[..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// Builds a layer tar of a host directory tree (paths inside the layer start at `prefix`).
pub fn layer_from_dir(dir: &Path, prefix: &str) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.mode(tar::HeaderMode::Deterministic);
    b.append_dir_all(prefix.trim_start_matches('/'), dir)?;
    b.into_inner()
}

/// Compresses a layer.
pub fn compress(tar: &[u8], c: Compression) -> Vec<u8> {
    match c {
        Compression::None => tar.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(tar).unwrap();
            e.finish().unwrap()
        }
        Compression::Zstd => zstd::encode_all(tar, 3).unwrap(),
    }
}

/// An image under construction.
#[derive(Debug, Clone)]
pub struct Image {
    /// Uncompressed layer tars, base first.
    pub layers: Vec<Vec<u8>>,
    /// `os`/`architecture` of the config.
    pub platform: (String, String),
    /// `config.User`.
    pub user: Option<String>,
}

impl Default for Image {
    fn default() -> Self {
        Image { layers: vec![], platform: ("linux".into(), "amd64".into()), user: None }
    }
}

impl Image {
    /// An image of these layers.
    pub fn new(layers: Vec<Vec<Entry>>) -> Self {
        Image { layers: layers.iter().map(|l| layer_tar(l)).collect(), ..Default::default() }
    }

    /// The image config JSON.
    pub fn config(&self) -> Vec<u8> {
        let diff_ids: Vec<String> = self.layers.iter().map(|l| sha256(l)).collect();
        let history: Vec<serde_json::Value> =
            (0..self.layers.len()).map(|i| serde_json::json!({"created_by": format!("layer {i}")})).collect();
        let mut cfg = serde_json::json!({"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"]});
        if let Some(u) = &self.user {
            cfg["User"] = serde_json::json!(u);
        }
        serde_json::to_vec(&serde_json::json!({
            "architecture": self.platform.1, "os": self.platform.0, "created": "2026-01-01T00:00:00Z",
            "config": cfg, "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history,
        }))
        .unwrap()
    }

    /// Writes a `docker save` archive (classic layout: `<id>/layer.tar`, `<config digest>.json`).
    pub fn write_docker_archive(&self, out: &Path, tags: &[&str]) {
        let config = self.config();
        let config_name = format!("{}.json", &sha256(&config)[7..]);
        let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
        let mut layer_names = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let name = format!("{}/layer.tar", &sha256(format!("{i}{}", sha256(l)).as_bytes())[7..]);
            append(&mut b, &name, l);
            layer_names.push(name);
        }
        append(&mut b, &config_name, &config);
        let manifest = serde_json::json!([{"Config": config_name, "RepoTags": tags, "Layers": layer_names}]);
        append(&mut b, "manifest.json", &serde_json::to_vec(&manifest).unwrap());
        b.finish().unwrap();
    }

    /// Writes an OCI image layout directory with this image under `tag`, layers compressed with `c`.
    pub fn write_oci_dir(&self, dir: &Path, tag: &str, c: Compression) {
        let mut layout = OciLayout::new();
        layout.add(self, tag, c);
        layout.write_dir(dir);
    }
}

fn append(b: &mut tar::Builder<impl Write>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, data).unwrap();
}

/// An OCI image layout holding one or more images (an index entry each, or one multi-platform index).
#[derive(Debug, Default)]
pub struct OciLayout {
    /// `blobs/sha256/<hex>` → content.
    pub blobs: Vec<(String, Vec<u8>)>,
    /// Top-level index entries.
    pub manifests: Vec<serde_json::Value>,
}

impl OciLayout {
    /// An empty layout.
    pub fn new() -> Self {
        Self::default()
    }

    fn blob(&mut self, data: Vec<u8>) -> String {
        let d = sha256(&data);
        if !self.blobs.iter().any(|(n, _)| *n == d) {
            self.blobs.push((d.clone(), data));
        }
        d
    }

    /// Stores the image's blobs and returns its manifest descriptor (not yet in the index).
    pub fn manifest_descriptor(&mut self, img: &Image, c: Compression) -> serde_json::Value {
        let config = img.config();
        let config_size = config.len();
        let config_digest = self.blob(config);
        let media = match c {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        };
        let layers: Vec<serde_json::Value> = img
            .layers
            .iter()
            .map(|l| {
                let blob = compress(l, c);
                let size = blob.len();
                let d = self.blob(blob);
                serde_json::json!({"mediaType": media, "digest": d, "size": size})
            })
            .collect();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
            "layers": layers,
        }))
        .unwrap();
        let size = manifest.len();
        let d = self.blob(manifest);
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": size,
            "platform": {"os": img.platform.0, "architecture": img.platform.1},
        })
    }

    /// Adds an image under a tag.
    pub fn add(&mut self, img: &Image, tag: &str, c: Compression) {
        let mut d = self.manifest_descriptor(img, c);
        d["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": tag});
        self.manifests.push(d);
    }

    /// Adds a multi-platform image: a nested index of the images, tagged `tag`.
    pub fn add_multi(&mut self, imgs: &[Image], tag: &str, c: Compression) {
        let descs: Vec<serde_json::Value> = imgs.iter().map(|i| self.manifest_descriptor(i, c)).collect();
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descs,
        }))
        .unwrap();
        let size = index.len();
        let d = self.blob(index);
        self.manifests.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": size,
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }));
    }

    fn index(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": self.manifests})).unwrap()
    }

    /// Writes the layout as a directory.
    pub fn write_dir(&self, dir: &Path) {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        std::fs::write(dir.join("index.json"), self.index()).unwrap();
        for (d, data) in &self.blobs {
            std::fs::write(dir.join("blobs/sha256").join(&d[7..]), data).unwrap();
        }
    }

    /// Writes the layout as a tar (`oci-archive`).
    pub fn write_tar(&self, out: &Path) {
        let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
        append(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        append(&mut b, "index.json", &self.index());
        for (d, data) in &self.blobs {
            append(&mut b, &format!("blobs/sha256/{}", &d[7..]), data);
        }
        b.finish().unwrap();
    }
}

/// An x86-64 ELF executable with one extra data section `name` holding `data` (and a tiny `.text`).
pub fn elf_with_section(name: &str, data: &[u8]) -> Vec<u8> {
    use object::write::{Object, StandardSection};
    use object::{Architecture, BinaryFormat, Endianness, SectionKind};
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    let text = obj.section_id(StandardSection::Text);
    obj.append_section_data(text, &[0xc3; 16], 16);
    let sec = obj.add_section(Vec::new(), name.as_bytes().to_vec(), SectionKind::Data);
    obj.append_section_data(sec, data, 16);
    // Pad so that the binary cataloger (which skips files under 4 KiB as scripts) looks at it.
    let pad = obj.add_section(Vec::new(), b".padding".to_vec(), SectionKind::Data);
    obj.append_section_data(pad, &[0u8; 8192], 16);
    obj.write().unwrap()
}

/// A Go executable as the Go 1.18+ linker lays out `.go.buildinfo`: the 32-byte header (magic, pointer
/// size, flags with the inline-strings bit), then the varint-prefixed toolchain version and module info
/// wrapped in its 16-byte sentinels.
pub fn go_binary(go_version: &str, modinfo: &str) -> Vec<u8> {
    fn uvarint(mut v: usize, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    let mut info = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6".to_vec();
    info.extend_from_slice(modinfo.as_bytes());
    info.extend_from_slice(b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2");
    let mut sec = b"\xff Go buildinf:".to_vec();
    sec.push(8); // pointer size
    sec.push(2); // flags: little endian, inline strings
    sec.resize(32, 0);
    uvarint(go_version.len(), &mut sec);
    sec.extend_from_slice(go_version.as_bytes());
    uvarint(info.len(), &mut sec);
    sec.extend_from_slice(&info);
    elf_with_section(".go.buildinfo", &sec)
}

/// A Rust executable carrying a `cargo auditable` dependency record (`.dep-v0`, zlib-compressed JSON).
pub fn auditable_binary(json: &str) -> Vec<u8> {
    elf_with_section(".dep-v0", &miniz_oxide::deflate::compress_to_vec_zlib(json.as_bytes(), 6))
}

/// An image holding a static busybox at /bin/busybox and nothing else (Debian's busybox-static, which
/// `scripts/setup` installs): `/bin/busybox sh -c …` runs in it.
pub fn busybox() -> Image {
    let busybox = std::fs::read("/bin/busybox").expect("/bin/busybox: scripts/setup installs busybox-static");
    Image::new(vec![vec![Entry::Dir("bin".into()), Entry::FileMode("bin/busybox".into(), busybox, 0o755)]])
}

/// A jar (zip) holding the given entries.
pub fn jar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    zip_entries(entries)
}

fn zip_entries(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (n, d) in entries {
        w.start_file(*n, zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(d).unwrap();
    }
    w.finish().unwrap().into_inner()
}

impl Image {
    /// Writes a `docker save` archive as Docker 25 and later do: an OCI image layout (uncompressed layer
    /// blobs, `index.json` with `io.containerd.image.name`) plus the classic `manifest.json` pointing into it.
    pub fn write_docker25_archive(&self, out: &Path, name: &str) {
        let mut layout = OciLayout::new();
        let mut d = layout.manifest_descriptor(self, Compression::None);
        let tag = name.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
        d["annotations"] = serde_json::json!({"io.containerd.image.name": format!("docker.io/library/{name}"), "org.opencontainers.image.ref.name": tag});
        layout.manifests.push(d);
        let config = self.config();
        let layers: Vec<String> = self.layers.iter().map(|l| format!("blobs/sha256/{}", &sha256(l)[7..])).collect();
        let manifest = serde_json::json!([{"Config": format!("blobs/sha256/{}", &sha256(&config)[7..]), "RepoTags": [name], "Layers": layers}]);
        let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
        append(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        append(&mut b, "index.json", &layout.index());
        append(&mut b, "manifest.json", &serde_json::to_vec(&manifest).unwrap());
        for (d, data) in &layout.blobs {
            append(&mut b, &format!("blobs/sha256/{}", &d[7..]), data);
        }
        b.finish().unwrap();
    }
}
