//! `kestrel db update`: download OSV's per-ecosystem `all.zip` (and CISA's known-exploited list) over HTTPS,
//! import everything into a copy of the database, and swap it in only when every download and import
//! succeeded. An interrupted or failed update leaves the previous database as it was.
//!
//! Proxies come from the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`); a mirror is
//! named with a base URL (`{base}/{Ecosystem}/all.zip`, the layout of OSV's bucket).

use crate::import::{import, ImportError, ImportSummary};
use crate::store::{DbError, TempFile, Writer};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// OSV's public bucket.
pub const DEFAULT_BASE_URL: &str = "https://osv-vulnerabilities.storage.googleapis.com";
/// CISA's Known Exploited Vulnerabilities catalogue.
pub const DEFAULT_KEV_URL: &str = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json";
/// The ecosystems `db update` fetches by default: every one kestrel catalogs packages of.
pub const DEFAULT_ECOSYSTEMS: [&str; 13] = [
    "Debian",
    "Ubuntu",
    "Alpine",
    "AlmaLinux",
    "Rocky Linux",
    "PyPI",
    "npm",
    "Go",
    "crates.io",
    "Maven",
    "RubyGems",
    "Packagist",
    "NuGet",
];
/// Largest download accepted (npm's `all.zip` is the biggest, well under this).
pub const MAX_DOWNLOAD_BYTES: u64 = 4 << 30;

/// How to update.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// Base URL of an OSV bucket or mirror.
    pub base_url: String,
    /// OSV ecosystems to fetch.
    pub ecosystems: Vec<String>,
    /// The known-exploited list's URL; `None` skips it.
    pub kev_url: Option<String>,
    /// Give up on one download after this long.
    pub timeout: Duration,
}

impl Default for UpdateOptions {
    fn default() -> Self {
        UpdateOptions {
            base_url: DEFAULT_BASE_URL.into(),
            ecosystems: DEFAULT_ECOSYSTEMS.iter().map(|s| s.to_string()).collect(),
            kev_url: Some(DEFAULT_KEV_URL.into()),
            timeout: Duration::from_secs(900),
        }
    }
}

/// Why an update failed (the previous database is untouched).
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// A download failed.
    #[error("{url}: {reason}")]
    Download {
        /// What was fetched.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// A downloaded file could not be imported.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// The database could not be written.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Progress events.
pub trait UpdateProgress {
    /// A download starts (`total` when the server gives a length).
    fn start(&mut self, what: &str, total: Option<u64>);
    /// Bytes arrived.
    fn advance(&mut self, bytes: u64);
    /// The download is done; importing follows.
    fn finish(&mut self, what: &str);
}

/// Progress that says nothing.
pub struct Silent;

impl UpdateProgress for Silent {
    fn start(&mut self, _: &str, _: Option<u64>) {}
    fn advance(&mut self, _: u64) {}
    fn finish(&mut self, _: &str) {}
}

/// The URL of an ecosystem's `all.zip` under `base` (spaces percent-encoded: `Rocky%20Linux`).
pub fn ecosystem_url(base: &str, ecosystem: &str) -> String {
    let enc: String = ecosystem
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' | '~' => c.to_string(),
            other => {
                let mut buf = [0u8; 4];
                other.encode_utf8(&mut buf).bytes().map(|b| format!("%{b:02X}")).collect()
            }
        })
        .collect();
    format!("{}/{enc}/all.zip", base.trim_end_matches('/'))
}

/// Downloads `url` to `dest`, bounded. A short body (fewer bytes than the server announced) is an error. (The
/// import that follows records the file's SHA-256.)
fn download(
    agent: &ureq::Agent,
    url: &str,
    dest: &Path,
    progress: &mut dyn UpdateProgress,
    what: &str,
) -> Result<(), UpdateError> {
    let err = |reason: String| UpdateError::Download { url: url.to_string(), reason };
    let resp = agent.get(url).call().map_err(|e| err(e.to_string()))?;
    let total = resp.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if total.is_some_and(|t| t > MAX_DOWNLOAD_BYTES) {
        return Err(err(format!(
            "{} bytes announced, more than the {} GiB accepted",
            total.unwrap_or(0),
            MAX_DOWNLOAD_BYTES >> 30
        )));
    }
    progress.start(what, total);
    let mut reader = resp.into_body().into_with_config().limit(MAX_DOWNLOAD_BYTES).reader();
    let mut file = std::fs::File::create(dest).map_err(|e| err(format!("{}: {e}", dest.display())))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(|e| err(format!("download interrupted after {got} bytes: {e}")))?;
        if n == 0 {
            break;
        }
        got += n as u64;
        file.write_all(&buf[..n]).map_err(|e| err(format!("{}: {e}", dest.display())))?;
        progress.advance(n as u64);
    }
    file.sync_all().map_err(|e| err(format!("{}: {e}", dest.display())))?;
    if let Some(t) = total {
        if got != t {
            return Err(err(format!("download cut short: {got} of {t} bytes")));
        }
    }
    progress.finish(what);
    Ok(())
}

/// Downloads every source and rebuilds them in the database in `dir`; returns what each import did.
pub fn update(
    dir: &Path,
    opts: &UpdateOptions,
    progress: &mut dyn UpdateProgress,
) -> Result<Vec<ImportSummary>, UpdateError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(opts.timeout))
        .user_agent(concat!("kestrel/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut writer = Writer::begin(dir)?;
    let mut out = Vec::new();
    for eco in &opts.ecosystems {
        let url = ecosystem_url(&opts.base_url, eco);
        let tmp = TempFile::new(dir.join(format!(".download.{}.{}.zip", std::process::id(), eco.replace(' ', "_"))));
        download(&agent, &url, tmp.path(), progress, eco)?;
        let summary = import(&mut writer, tmp.path(), Some(&format!("osv:{eco}")), Some(&url))?;
        out.push(summary);
    }
    if let Some(url) = &opts.kev_url {
        let tmp = TempFile::new(dir.join(format!(".download.{}.kev.json", std::process::id())));
        download(&agent, url, tmp.path(), progress, "known exploited vulnerabilities (CISA KEV)")?;
        out.push(import(&mut writer, tmp.path(), None, Some(url))?);
    }
    writer.commit(&crate::store::now_rfc3339())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(ecosystem_url("https://x/", "Rocky Linux"), "https://x/Rocky%20Linux/all.zip");
        assert_eq!(ecosystem_url("https://x", "crates.io"), "https://x/crates.io/all.zip");
    }
}
