//! Reading a directory laid out like ADFA-LD (Creech & Hu, UNSW Canberra): `Training_Data_Master/*.txt`
//! and `Validation_Data_Master/*.txt` hold normal traces, `Attack_Data_Master/<Family>_<run>/*.txt` attacks.
//! A trace is one line of space-separated system-call numbers (i386).
//!
//! The files come from elsewhere: sizes are bounded, and every error names the file and the reason.

use std::path::{Path, PathBuf};

/// Traces larger than this are refused (the largest ADFA-LD trace is about 18 KB).
pub const MAX_TRACE_BYTES: u64 = 16 << 20;
/// Directories with more traces than this are refused.
pub const MAX_TRACES: usize = 1_000_000;

/// One trace: its file and its system calls.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Where it was read from.
    pub path: PathBuf,
    /// The attack family (`Adduser`, `Hydra_FTP`…: the folder name without its run number); `None` for
    /// normal traces.
    pub family: Option<String>,
    /// System-call numbers, in order.
    pub calls: Vec<u16>,
}

/// The three parts of the data set.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Normal traces to learn from.
    pub training: Vec<Trace>,
    /// Normal traces for thresholds and false-alarm rates.
    pub validation: Vec<Trace>,
    /// Attack traces.
    pub attacks: Vec<Trace>,
}

/// What went wrong reading the data set.
#[derive(Debug, thiserror::Error)]
pub enum AdfaError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// A file is not a trace.
    #[error("{path}: {reason}")]
    Bad {
        /// The file.
        path: PathBuf,
        /// The reason.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AdfaError + '_ {
    move |source| AdfaError::Io { path: path.to_path_buf(), source }
}

/// Reads the three folders under `dir`. The attack folder is optional (a directory of normal data alone can
/// be learned from and scored); the other two are required.
pub fn load(dir: &Path) -> Result<Dataset, AdfaError> {
    let attacks_dir = dir.join("Attack_Data_Master");
    let mut attacks = Vec::new();
    if attacks_dir.is_dir() {
        for run in sorted_entries(&attacks_dir)? {
            if !run.is_dir() {
                continue;
            }
            let name = run.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            // "Hydra_FTP_3" → "Hydra_FTP"
            let family = match name.rsplit_once('_') {
                Some((f, n)) if n.chars().all(|c| c.is_ascii_digit()) => f.to_string(),
                _ => name.clone(),
            };
            attacks.extend(read_folder(&run, Some(&family), MAX_TRACES.saturating_sub(attacks.len()))?);
        }
    }
    Ok(Dataset {
        training: read_folder(&dir.join("Training_Data_Master"), None, MAX_TRACES)?,
        validation: read_folder(&dir.join("Validation_Data_Master"), None, MAX_TRACES)?,
        attacks,
    })
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, AdfaError> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        paths.push(entry.map_err(io(dir))?.path());
    }
    paths.sort();
    Ok(paths)
}

fn read_folder(dir: &Path, family: Option<&str>, max: usize) -> Result<Vec<Trace>, AdfaError> {
    let mut traces = Vec::new();
    for path in sorted_entries(dir)? {
        // Files only, and no symlinks (a link could point anywhere).
        let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
        if !meta.is_file() {
            continue;
        }
        if traces.len() >= max {
            return Err(AdfaError::Bad { path: dir.to_path_buf(), reason: format!("more than {MAX_TRACES} traces") });
        }
        if meta.len() > MAX_TRACE_BYTES {
            return Err(AdfaError::Bad {
                path,
                reason: format!("{} bytes: larger than the {MAX_TRACE_BYTES}-byte limit for a trace", meta.len()),
            });
        }
        let text = std::fs::read(&path).map_err(io(&path))?;
        let calls = parse_trace(&text).map_err(|reason| AdfaError::Bad { path: path.clone(), reason })?;
        traces.push(Trace { path, family: family.map(str::to_string), calls });
    }
    Ok(traces)
}

/// Parses one trace: system-call numbers separated by white space.
pub fn parse_trace(text: &[u8]) -> Result<Vec<u16>, String> {
    let text = std::str::from_utf8(text).map_err(|e| format!("not text: {e}"))?;
    text.split_ascii_whitespace()
        .enumerate()
        .map(|(i, tok)| {
            tok.parse::<u16>().map_err(|_| format!("token {} ({tok:.20}) is not a system-call number", i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_folders_and_names_families() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (sub, name, body) in [
            ("Training_Data_Master", "UTD-0001.txt", "6 6 63 "),
            ("Validation_Data_Master", "UVD-0001.txt", "1 2 3"),
            ("Attack_Data_Master/Hydra_FTP_3", "UAD-Hydra-FTP-3-1.txt", "5 5\n"),
        ] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
            std::fs::write(d.join(sub).join(name), body).unwrap();
        }
        let ds = load(d).unwrap();
        assert_eq!(ds.training[0].calls, vec![6, 6, 63]);
        assert_eq!(ds.validation[0].calls, vec![1, 2, 3]);
        assert_eq!(ds.attacks[0].family.as_deref(), Some("Hydra_FTP"));
        assert_eq!(ds.attacks[0].calls, vec![5, 5]);
    }

    #[test]
    fn bad_traces_are_named() {
        assert!(parse_trace(b"1 2 x").unwrap_err().contains("token 3"));
        assert!(parse_trace(b"1 70000").unwrap_err().contains("token 2"));
        assert!(parse_trace(&[0xff, 0x20]).unwrap_err().contains("not text"));
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("Training_Data_Master"), "{err}");
        std::fs::create_dir_all(dir.path().join("Training_Data_Master")).unwrap();
        std::fs::write(dir.path().join("Training_Data_Master/a.txt"), "1 -2").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("a.txt") && err.contains("token 2"), "{err}");
    }
}
