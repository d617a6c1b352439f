//! The inventory cache of images. An image's config digest names its layers by their diff ids, so the
//! inventory of one image id (with this kestrel version, scope and limits) never changes: it is stored as
//! JSON under a key derived from them, and a later scan of the same image reads only its manifest and
//! config. Layers are not read, hence not re-verified, on a hit: `--no-cache` reads and verifies them all. An
//! image in an engine's store is looked up by the id the engine gives it, and a registry's by its manifests,
//! before any layer is sent; a compressed archive or standard input cannot be named before it is read (its
//! manifest comes last), so it is read whole — once: a compressed archive file, once read, is remembered by what the
//! file system says of it ([`Cache::file_alias`]), and found again unchanged its inventory is served as well.

use crate::cli::CacheArgs;
use kestrel_core::{Sbom, ScanTarget};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// What is kept of an image: its inventory, and the secrets in its layers when the secret scanner ran (before
/// any allowlist: that is applied on every scan).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Entry {
    #[serde(flatten)]
    pub sbom: Sbom,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<kestrel_core::SecretFinding>>,
}

/// Entries kept; the oldest go first.
const MAX_ENTRIES: usize = 256;

pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache the flags ask for, or `None` when disabled or no directory can be named.
    pub fn new(a: &CacheArgs) -> Option<Cache> {
        if a.no_cache {
            return None;
        }
        let dir = match &a.cache_dir {
            Some(d) => d.clone(),
            None => {
                let base =
                    std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()).map(PathBuf::from).or_else(|| {
                        std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".cache"))
                    })?;
                base.join("kestrel").join("sboms")
            }
        };
        Some(Cache { dir })
    }

    /// The key of an image's inventory.
    pub fn key(target: &ScanTarget, limits: &kestrel_image::Limits) -> Option<String> {
        Some(Cache::key_of(target.image_id.as_deref()?, target.manifest_digest.as_deref(), limits))
    }

    /// The key of an image's inventory by its id and manifest digest (none for a `docker save` archive — and for
    /// an image in an engine's store, which kestrel reads as one).
    pub fn key_of(image_id: &str, manifest_digest: Option<&str>, limits: &kestrel_image::Limits) -> String {
        let mut h = Sha256::new();
        h.update(format!(
            "kestrel {}\nimage\n{image_id}\n{}\n{:?}\n",
            env!("CARGO_PKG_VERSION"),
            manifest_digest.unwrap_or(""),
            limits
        ));
        hex::encode(h.finalize())
    }

    /// A compressed archive's inventory cannot be found by its content address before it is read (the manifest and
    /// configuration are inside the compressed stream, the manifest at its end), so once read, the file itself is
    /// remembered: its path and what the file system says of it — device, inode, size, modification and change times,
    /// which every write moves (as git's index and ccache's direct mode trust) — with the image asked for in it and
    /// the limits. `None` when it is no regular file.
    pub fn file_alias(
        path: &std::path::Path,
        tag: Option<&str>,
        platform: Option<&str>,
        limits: &kestrel_image::Limits,
    ) -> Option<String> {
        let canonical = std::fs::canonicalize(path).ok()?;
        let m = std::fs::metadata(&canonical).ok()?;
        if !m.is_file() {
            return None;
        }
        let mut h = Sha256::new();
        h.update(format!(
            "kestrel {}\nfile\n{}\n{}\n{}\n{}\n{:?}\n",
            env!("CARGO_PKG_VERSION"),
            canonical.display(),
            kestrel_core::FileIdent::of(&m),
            tag.unwrap_or(""),
            platform.unwrap_or(""),
            limits
        ));
        Some(hex::encode(h.finalize()))
    }

    /// The key of the inventory read from the file `alias` names ([`Cache::file_alias`]).
    pub fn get_alias(&self, alias: &str) -> Option<String> {
        let key = std::fs::read_to_string(self.dir.join(format!("{alias}.alias"))).ok()?;
        let key = key.trim();
        kestrel_core::is_sha256_hex(key).then(|| key.to_string())
    }

    /// Remembers that the file `alias` names holds the image whose inventory is kept under `key`.
    pub fn put_alias(&self, alias: &str, key: &str) {
        if std::fs::create_dir_all(&self.dir).is_ok() {
            let _ = crate::scan::write_atomically(&self.dir.join(format!("{alias}.alias")), key.as_bytes());
            self.prune_kind(".alias");
        }
    }

    pub fn get(&self, key: &str) -> Option<Entry> {
        let bytes = std::fs::read(self.dir.join(format!("{key}.json"))).ok()?;
        // An entry that does not parse (older layout, damage) is a miss.
        serde_json::from_slice(&bytes).ok()
    }

    /// Stores an inventory; failures only cost the next scan its speed.
    pub fn put(&self, key: &str, entry: &Entry) {
        if std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let Ok(bytes) = serde_json::to_vec(entry) else { return };
        if crate::scan::write_atomically(&self.dir.join(format!("{key}.json")), &bytes).is_ok() {
            self.prune_kind(".json");
        }
    }

    /// Keeps the [`MAX_ENTRIES`] newest files ending in `suffix` (inventories, or file aliases).
    fn prune_kind(&self, suffix: &str) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else { return };
        let mut entries: Vec<(std::time::SystemTime, PathBuf)> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        if entries.len() <= MAX_ENTRIES {
            return;
        }
        entries.sort();
        for (_, p) in entries.iter().take(entries.len() - MAX_ENTRIES) {
            let _ = std::fs::remove_file(p);
        }
    }
}
