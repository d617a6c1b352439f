//! Profiles on disk: one directory, a file per workload and version (`<workload>.v<N>.json`) and the
//! current version (`<workload>.json`), so that any earlier version can be rolled back to.

use crate::profile::{Profile, PROFILE_SCHEMA};
use std::path::{Path, PathBuf};

/// An error reading or writing profiles, with the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a profile kestrel can read.
    #[error("{path}: {reason}")]
    Bad {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The largest profile file read.
const MAX_PROFILE_BYTES: u64 = 512 << 20;

/// A directory of profiles.
#[derive(Debug, Clone)]
pub struct ProfileStore {
    dir: PathBuf,
}

/// A workload name as a file name: anything but letters, digits, `.`, `-` and `_` becomes `_`, plus a
/// short hash of the name so that two names never share a file.
pub fn slug(workload: &str) -> String {
    let clean: String = workload
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_".contains(c) { c } else { '_' })
        .take(80)
        .collect();
    let mut h: u32 = 2166136261;
    for b in workload.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(16777619);
    }
    format!("{clean}-{h:08x}")
}

impl ProfileStore {
    /// The store in `dir` (created when saving).
    pub fn new(dir: impl Into<PathBuf>) -> ProfileStore {
        ProfileStore { dir: dir.into() }
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io { path: path.to_path_buf(), source }
    }

    /// Saves a profile as its version and as the current one.
    pub fn save(&self, p: &Profile) -> Result<PathBuf, StoreError> {
        std::fs::create_dir_all(&self.dir).map_err(Self::io(&self.dir))?;
        let text =
            serde_json::to_vec(p).map_err(|e| StoreError::Bad { path: self.dir.clone(), reason: e.to_string() })?;
        let base = slug(&p.workload);
        let versioned = self.dir.join(format!("{base}.v{}.json", p.version));
        let current = self.dir.join(format!("{base}.json"));
        for path in [&versioned, &current] {
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, &text).map_err(Self::io(&tmp))?;
            std::fs::rename(&tmp, path).map_err(Self::io(path))?;
        }
        Ok(current)
    }

    /// Reads one profile file.
    pub fn read(path: &Path) -> Result<Profile, StoreError> {
        let meta = std::fs::metadata(path).map_err(Self::io(path))?;
        if meta.len() > MAX_PROFILE_BYTES {
            return Err(StoreError::Bad {
                path: path.into(),
                reason: format!("{} bytes: larger than a profile may be", meta.len()),
            });
        }
        // Bounded whatever the file says of its size (a pipe, `profile merge a=<(…)`, says 0).
        let mut text = Vec::new();
        let file = std::fs::File::open(path).map_err(Self::io(path))?;
        std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_PROFILE_BYTES + 1), &mut text)
            .map_err(Self::io(path))?;
        if text.len() as u64 > MAX_PROFILE_BYTES {
            return Err(StoreError::Bad { path: path.into(), reason: "larger than a profile may be".into() });
        }
        let mut p: Profile = serde_json::from_slice(&text)
            .map_err(|e| StoreError::Bad { path: path.into(), reason: format!("not a profile: {e}") })?;
        if p.schema != PROFILE_SCHEMA {
            return Err(StoreError::Bad {
                path: path.into(),
                reason: format!("schema {:?}, expected {PROFILE_SCHEMA}", p.schema),
            });
        }
        p.reindex();
        Ok(p)
    }

    /// The current version of every workload (none when the directory does not exist).
    pub fn load_all(&self) -> Result<Vec<Profile>, StoreError> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(StoreError::Io { path: self.dir.clone(), source: e }),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                // Regular files only: a pipe or a device placed here would hold the start up for ever.
                name.ends_with(".json") && !name.contains(".v") && p.is_file()
            })
            .collect();
        paths.sort();
        for p in paths {
            out.push(Self::read(&p)?);
        }
        Ok(out)
    }

    /// The versions kept for a workload, oldest first.
    pub fn versions(&self, workload: &str) -> Result<Vec<u32>, StoreError> {
        let prefix = format!("{}.v", slug(workload));
        let mut v: Vec<u32> = std::fs::read_dir(&self.dir)
            .map_err(Self::io(&self.dir))?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_prefix(&prefix)?.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        v.sort_unstable();
        Ok(v)
    }

    /// Makes an earlier version current again.
    pub fn rollback(&self, workload: &str, version: u32) -> Result<Profile, StoreError> {
        let base = slug(workload);
        let from = self.dir.join(format!("{base}.v{version}.json"));
        if !from.exists() {
            let kept = self.versions(workload)?;
            let reason = if kept.is_empty() {
                format!("no profile of workload {workload:?} here")
            } else {
                let kept: Vec<String> = kept.iter().map(|v| format!("v{v}")).collect();
                format!("no version {version} of {workload:?} (kept: {})", kept.join(", "))
            };
            return Err(StoreError::Bad { path: self.dir.clone(), reason });
        }
        let p = Self::read(&from)?;
        let current = self.dir.join(format!("{base}.json"));
        std::fs::copy(&from, &current).map_err(Self::io(&current))?;
        Ok(p)
    }
}
