//! Importing vulnerability data: OSV `all.zip` archives, directories of OSV JSON/YAML records, Debian
//! security tracker lists (`DSA.list`, `DLA.list`), Alpine secdb JSON, and CISA's known-exploited list.
//!
//! Each input replaces one *source* in the database (re-importing a newer `all.zip` drops the older
//! records of that source first); a directory's loose records are one source and each zip in it another. Everything read is attacker-controlled: sizes are bounded, a record that
//! does not parse is skipped with a warning naming the file and entry, and nothing is guessed.

use crate::advisory::{Advisory, Affected, Event, Range};
use crate::osv::{parse_record, Parsed};
use crate::store::{DbError, KnownExploited, SourceInfo, Writer};
use crate::version::Scheme;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest record read from a zip entry or a file in a record directory.
pub const MAX_RECORD_BYTES: u64 = 16 << 20;
/// Largest list or JSON document (tracker list, secdb, KEV).
pub const MAX_DOCUMENT_BYTES: u64 = 512 << 20;
/// Most entries read from one archive or directory.
pub const MAX_RECORDS: usize = 4_000_000;
/// Warnings kept word for word (the rest are counted).
pub const MAX_WARNINGS_KEPT: usize = 200;

/// An import that could not be done at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input could not be read or is not of a kind kestrel imports.
    #[error("{path}: {reason}")]
    Input {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Writing the database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

fn input_err(path: &Path, reason: impl Into<String>) -> ImportError {
    ImportError::Input { path: path.to_path_buf(), reason: reason.into() }
}

/// The kinds of input [`import`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A zip of OSV JSON records (OSV's per-ecosystem `all.zip`).
    OsvZip,
    /// A directory of OSV JSON or YAML records and OSV zips (searched recursively).
    OsvDir,
    /// One OSV JSON or YAML record.
    OsvRecord,
    /// A Debian security tracker list (`DSA.list`, `DLA.list`).
    DebianTracker,
    /// An Alpine secdb document (`main.json`, `community.json`).
    AlpineSecdb,
    /// CISA's Known Exploited Vulnerabilities catalogue (JSON).
    KnownExploited,
}

/// What one import did.
#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    /// The sources written: one per input, except a directory (its records one, each zip in it one).
    pub sources: Vec<SourceInfo>,
    /// The first [`MAX_WARNINGS_KEPT`] warnings, each naming the entry.
    pub warnings: Vec<String>,
    /// How many warnings there were in all.
    pub warning_count: usize,
}

impl ImportSummary {
    fn warn(&mut self, w: String) {
        self.warning_count += 1;
        if self.warnings.len() < MAX_WARNINGS_KEPT {
            self.warnings.push(w);
        }
    }
}

/// Recognises an input by its content (and, for tracker lists, its first line).
pub fn detect(path: &Path) -> Result<InputKind, ImportError> {
    let meta = std::fs::metadata(path).map_err(|e| input_err(path, e.to_string()))?;
    if meta.is_dir() {
        return Ok(InputKind::OsvDir);
    }
    if !meta.is_file() {
        // Looked at, then read (a zip by seeking): a pipe would be gone by then.
        return Err(input_err(
            path,
            "not a regular file (a pipe or a device): import reads files and directories; save it to a file first",
        ));
    }
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut head))
        .map_err(|e| input_err(path, e.to_string()))?;
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Ok(InputKind::OsvZip);
    }
    let text = String::from_utf8_lossy(&head);
    let first = text.lines().next().unwrap_or("").trim_start();
    if first.starts_with('[') && (first.contains("] DSA-") || first.contains("] DLA-") || first.contains("] DTSA-")) {
        return Ok(InputKind::DebianTracker);
    }
    let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if squeezed.starts_with('{') {
        if squeezed.contains("\"distroversion\"") || squeezed.contains("\"secfixes\"") {
            return Ok(InputKind::AlpineSecdb);
        }
        if squeezed.contains("\"catalogVersion\"") || squeezed.contains("\"cveID\"") {
            return Ok(InputKind::KnownExploited);
        }
        if squeezed.contains("\"id\"") {
            return Ok(InputKind::OsvRecord);
        }
    }
    if text.lines().any(|l| l.starts_with("id:")) {
        return Ok(InputKind::OsvRecord);
    }
    Err(input_err(
        path,
        "not a kind of vulnerability data kestrel imports (OSV all.zip, OSV JSON/YAML records or a directory of them, \
         Debian DSA/DLA list, Alpine secdb JSON, CISA KEV JSON)",
    ))
}

/// Imports `path` into the database being written, replacing the source it holds. `source` overrides the
/// source name kestrel would choose (`osv:<Ecosystem>` for an `all.zip`, `debian-tracker:DSA`…);
/// `location` is recorded as where the data came from (the URL for downloads; the path by default).
pub fn import(
    writer: &mut Writer,
    path: &Path,
    source: Option<&str>,
    location: Option<&str>,
) -> Result<ImportSummary, ImportError> {
    let kind = detect(path)?;
    let location = location.map(str::to_string).unwrap_or_else(|| path.display().to_string());
    let mut summary = ImportSummary::default();
    let info = match kind {
        InputKind::OsvZip => import_osv_zip(writer, path, source, &location, &mut summary)?,
        InputKind::OsvDir => {
            let infos = import_osv_dir(writer, path, source, &location, &mut summary)?;
            summary.sources.extend(infos);
            return Ok(summary);
        }
        InputKind::OsvRecord => {
            import_osv_files(writer, path, vec![path.to_path_buf()], source, &location, &mut summary)?
        }
        InputKind::DebianTracker => import_debian_tracker(writer, path, source, &location, &mut summary)?,
        InputKind::AlpineSecdb => import_alpine_secdb(writer, path, source, &location, &mut summary)?,
        InputKind::KnownExploited => import_kev(writer, path, &location, &mut summary)?,
    };
    summary.sources.push(info);
    Ok(summary)
}

fn sha256_file(path: &Path) -> Result<String, ImportError> {
    let mut f = std::fs::File::open(path).map_err(|e| input_err(path, e.to_string()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| input_err(path, e.to_string()))?;
    Ok(hex::encode(h.finalize()))
}

/// Reads a whole file of at most `max` bytes; a larger one is an error naming it.
pub(crate) fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, ImportError> {
    let f = std::fs::File::open(path).map_err(|e| input_err(path, e.to_string()))?;
    let mut buf = Vec::new();
    f.take(max + 1).read_to_end(&mut buf).map_err(|e| input_err(path, e.to_string()))?;
    if buf.len() as u64 > max {
        return Err(input_err(path, format!("larger than {} MiB", max >> 20)));
    }
    Ok(buf)
}

/// Keeps count of what a source's records became.
#[derive(Default)]
struct Tally {
    records: u64,
    skipped: u64,
    withdrawn: u64,
    newest: Option<String>,
}

impl Tally {
    fn add(&mut self, writer: &mut Writer, a: &Advisory) -> Result<(), ImportError> {
        writer.add(a)?;
        self.records += 1;
        if let Some(m) = &a.modified {
            if self.newest.as_ref().is_none_or(|n| m > n) {
                self.newest = Some(m.clone());
            }
        }
        Ok(())
    }

    fn info(self, name: &str, location: &str, sha256: Option<String>) -> SourceInfo {
        SourceInfo {
            name: name.to_string(),
            location: location.to_string(),
            imported_at: crate::store::now_rfc3339(),
            records: self.records,
            skipped: self.skipped,
            withdrawn: self.withdrawn,
            sha256,
            newest_record: self.newest,
        }
    }
}

/// Handles one parsed OSV record.
fn take_record(
    writer: &mut Writer,
    tally: &mut Tally,
    summary: &mut ImportSummary,
    entry: &str,
    parsed: Result<Parsed, String>,
) -> Result<(), ImportError> {
    match parsed {
        Ok(Parsed::Advisory { advisory, notes }) => {
            for n in notes {
                summary.warn(format!("{entry}: {n}"));
            }
            tally.add(writer, &advisory)?;
        }
        Ok(Parsed::Withdrawn(_)) => tally.withdrawn += 1,
        Ok(Parsed::Irrelevant(_)) => {}
        Err(e) => {
            tally.skipped += 1;
            summary.warn(format!("{entry}: {e}"));
        }
    }
    Ok(())
}

/// The OSV ecosystem (without release) most records of an archive name, found by parsing its first entries.
fn zip_ecosystem(archive: &mut zip::ZipArchive<std::fs::File>) -> Option<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..archive.len().min(64) {
        let Ok(mut f) = archive.by_index(i) else { continue };
        let mut buf = Vec::new();
        if f.by_ref().take(MAX_RECORD_BYTES).read_to_end(&mut buf).is_err() {
            continue;
        }
        #[derive(Deserialize)]
        struct Peek {
            #[serde(default)]
            affected: Vec<PeekAffected>,
        }
        #[derive(Deserialize)]
        struct PeekAffected {
            #[serde(default)]
            package: Option<PeekPackage>,
        }
        #[derive(Deserialize)]
        struct PeekPackage {
            #[serde(default)]
            ecosystem: String,
        }
        if let Ok(p) = serde_json::from_slice::<Peek>(&buf) {
            for a in p.affected.into_iter().filter_map(|a| a.package) {
                let base = a.ecosystem.split(':').next().unwrap_or("").to_string();
                if !base.is_empty() {
                    *counts.entry(base).or_default() += 1;
                }
            }
        }
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(e, _)| e)
}

fn import_osv_zip(
    writer: &mut Writer,
    path: &Path,
    source: Option<&str>,
    location: &str,
    summary: &mut ImportSummary,
) -> Result<SourceInfo, ImportError> {
    let sha = sha256_file(path)?;
    let file = std::fs::File::open(path).map_err(|e| input_err(path, e.to_string()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| input_err(path, format!("not a readable zip: {e}")))?;
    if archive.len() > MAX_RECORDS {
        return Err(input_err(path, format!("{} entries (more than {MAX_RECORDS})", archive.len())));
    }
    let name = match source {
        Some(s) => s.to_string(),
        None => match zip_ecosystem(&mut archive) {
            Some(e) => format!("osv:{e}"),
            None => return Err(input_err(path, "no OSV record with an affected package among the first entries")),
        },
    };
    writer.clear_source(&name)?;
    let mut tally = Tally::default();
    let display = path.display().to_string();
    let mut buf = Vec::new();
    for i in 0..archive.len() {
        let mut f = match archive.by_index(i) {
            Ok(f) => f,
            Err(e) => {
                tally.skipped += 1;
                summary.warn(format!("{display}: entry {i}: {e}"));
                continue;
            }
        };
        if f.is_dir() {
            continue;
        }
        let entry = format!("{display}:{}", f.name());
        let is_yaml = f.name().ends_with(".yaml") || f.name().ends_with(".yml");
        if !is_yaml && !f.name().ends_with(".json") {
            continue;
        }
        buf.clear();
        let read = f.by_ref().take(MAX_RECORD_BYTES + 1).read_to_end(&mut buf);
        drop(f);
        let parsed = match read {
            Err(e) => Err(format!("unreadable: {e}")),
            Ok(_) if buf.len() as u64 > MAX_RECORD_BYTES => Err(format!("larger than {} MiB", MAX_RECORD_BYTES >> 20)),
            Ok(_) => parse_record(&buf, is_yaml, &name),
        };
        take_record(writer, &mut tally, summary, &entry, parsed)?;
    }
    let info = tally.info(&name, location, Some(sha));
    writer.set_source(&info)?;
    Ok(info)
}

/// A directory: its OSV records (searched recursively) are one source, `osv-files:DIR`; each zip in it is a source
/// of its own, as if imported alone (a mirror of OSV's bucket holds `<Ecosystem>/all.zip`). A directory with
/// neither is refused: importing it would empty the source a previous import of it filled.
fn import_osv_dir(
    writer: &mut Writer,
    path: &Path,
    source: Option<&str>,
    location: &str,
    summary: &mut ImportSummary,
) -> Result<Vec<SourceInfo>, ImportError> {
    let mut files = Vec::new();
    let mut zips = Vec::new();
    // Symbolic links are not followed: a record directory is a plain tree.
    for e in walkdir::WalkDir::new(path).max_depth(16).follow_links(false).sort_by_file_name() {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                summary.warn(format!("{}: {err}", path.display()));
                continue;
            }
        };
        if !e.file_type().is_file() {
            continue;
        }
        let n = e.file_name().to_string_lossy();
        if n.ends_with(".json") || n.ends_with(".yaml") || n.ends_with(".yml") {
            files.push(e.into_path());
            if files.len() > MAX_RECORDS {
                return Err(input_err(path, format!("more than {MAX_RECORDS} record files")));
            }
        } else if n.ends_with(".zip") {
            zips.push(e.into_path());
        }
    }
    if files.is_empty() && zips.is_empty() {
        return Err(input_err(path, "no OSV record (.json, .yaml) and no OSV archive (.zip) in it"));
    }
    if source.is_some() && !zips.is_empty() {
        return Err(input_err(
            path,
            format!(
                "--source names one source, and this directory holds {} (each a source of its own, named by its \
                 ecosystem): import the directory without --source, or each archive alone",
                kestrel_core::counted(zips.len(), "zip archive")
            ),
        ));
    }
    let mut infos: Vec<SourceInfo> = Vec::new();
    let mut from: BTreeMap<String, PathBuf> = BTreeMap::new();
    for z in zips {
        let info = import_osv_zip(writer, &z, None, &z.display().to_string(), summary)?;
        if let Some(first) = from.insert(info.name.clone(), z.clone()) {
            return Err(input_err(
                path,
                format!(
                    "{} and {} both hold {} records, and an archive replaces its ecosystem's source: import one of them",
                    first.display(),
                    z.display(),
                    info.name
                ),
            ));
        }
        infos.push(info);
    }
    if !files.is_empty() {
        infos.push(import_osv_files(writer, path, files, source, location, summary)?);
    }
    Ok(infos)
}

/// OSV records from `files` (one file imported alone, or a directory's) as one source, `osv-files:PATH`.
fn import_osv_files(
    writer: &mut Writer,
    path: &Path,
    files: Vec<PathBuf>,
    source: Option<&str>,
    location: &str,
    summary: &mut ImportSummary,
) -> Result<SourceInfo, ImportError> {
    let name = match source {
        Some(s) => s.to_string(),
        None => {
            let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
            format!("osv-files:{}", canonical.display())
        }
    };
    writer.clear_source(&name)?;
    let mut tally = Tally::default();
    for f in files {
        let entry = f.display().to_string();
        let yaml = entry.ends_with(".yaml") || entry.ends_with(".yml");
        let parsed = match read_bounded(&f, MAX_RECORD_BYTES) {
            Ok(bytes) => parse_record(&bytes, yaml, &name),
            Err(e) => Err(e.to_string()),
        };
        take_record(writer, &mut tally, summary, &entry, parsed)?;
    }
    let sha = if path.is_file() { Some(sha256_file(path)?) } else { None };
    let info = tally.info(&name, location, sha);
    writer.set_source(&info)?;
    Ok(info)
}

/// Debian release codenames and the OSV release number they stand for.
pub const DEBIAN_RELEASES: [(&str, &str); 18] = [
    ("buzz", "1.1"),
    ("rex", "1.2"),
    ("bo", "1.3"),
    ("hamm", "2.0"),
    ("slink", "2.1"),
    ("potato", "2.2"),
    ("woody", "3.0"),
    ("sarge", "3.1"),
    ("etch", "4"),
    ("lenny", "5"),
    ("squeeze", "6"),
    ("wheezy", "7"),
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
];

fn month_number(m: &str) -> Option<u8> {
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    months.iter().position(|x| *x == m).map(|i| i as u8 + 1)
}

/// `[29 Mar 2023]` → `2023-03-29T00:00:00Z`.
fn tracker_date(s: &str) -> Option<String> {
    let mut it = s.split_whitespace();
    let day: u8 = it.next()?.parse().ok()?;
    let month = month_number(it.next()?)?;
    let year: u16 = it.next()?.parse().ok()?;
    (1..=31).contains(&day).then(|| format!("{year:04}-{month:02}-{day:02}T00:00:00Z"))
}

/// Parses a Debian security tracker list. Each advisory names its CVEs (`{CVE-…}`) and, per release, the
/// source package and the version that fixed it (`[bullseye] - xorg-server 2:1.20.11-1+deb11u6`), or a
/// state in angle brackets: `<not-affected>` (left out), `<unfixed>`, `<end-of-life>` (affected, no fix).
pub fn parse_debian_tracker(text: &str, source: &str, warn: &mut dyn FnMut(String)) -> Vec<Advisory> {
    let mut out: Vec<Advisory> = Vec::new();
    let mut current: Option<Advisory> = None;
    let finish = |cur: Option<Advisory>, out: &mut Vec<Advisory>| {
        if let Some(a) = cur {
            if !a.affected.is_empty() {
                out.push(a);
            }
        }
    };
    for (n, line) in text.lines().enumerate() {
        let lineno = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            // `[29 Mar 2023] DSA-5380-1 xorg-server - security update`
            finish(current.take(), &mut out);
            let Some((date, head)) = rest.split_once(']') else {
                warn(format!("line {lineno}: advisory header without a closing ]"));
                continue;
            };
            let mut words = head.split_whitespace();
            let Some(id) = words.next().filter(|w| w.contains('-') && w.len() <= 64) else {
                warn(format!("line {lineno}: advisory header without an id"));
                continue;
            };
            let summary: String = head.trim_start().trim_start_matches(id).trim().chars().take(400).collect();
            current = Some(Advisory {
                id: id.to_string(),
                aliases: Vec::new(),
                related: Vec::new(),
                summary,
                details: String::new(),
                published: tracker_date(date),
                modified: tracker_date(date),
                cvss: Vec::new(),
                source_severity: None,
                references: vec![format!("https://security-tracker.debian.org/tracker/{id}")],
                source: source.to_string(),
                affected: Vec::new(),
            });
            continue;
        }
        let body = line.trim();
        let Some(adv) = current.as_mut() else {
            if body.starts_with('[') || body.starts_with('{') {
                warn(format!("line {lineno}: outside any readable advisory (skipped)"));
            }
            continue;
        };
        if let Some(ids) = body.strip_prefix('{') {
            let ids = ids.trim_end_matches('}');
            for id in ids.split_whitespace().take(4096) {
                if !adv.aliases.iter().any(|a| a == id) {
                    adv.aliases.push(id.to_string());
                }
            }
            continue;
        }
        let Some(rest) = body.strip_prefix('[') else { continue }; // NOTE: lines and the like
        let Some((release, rest)) = rest.split_once(']') else { continue };
        let Some(rest) = rest.trim_start().strip_prefix("- ") else { continue };
        let Some(number) = DEBIAN_RELEASES.iter().find(|(c, _)| *c == release).map(|(_, n)| *n) else {
            warn(format!("line {lineno}: {}: unknown Debian release {release:?}", adv.id));
            continue;
        };
        let mut words = rest.split_whitespace();
        let (Some(package), Some(state)) = (words.next(), words.next()) else {
            warn(format!("line {lineno}: {}: release line without package and version", adv.id));
            continue;
        };
        let notes: String = words.collect::<Vec<_>>().join(" ");
        if let Some(word) = ["low", "medium", "high"].iter().rev().find(|w| notes.contains(*w)) {
            adv.source_severity.get_or_insert_with(|| word.to_string());
        }
        let (range, no_fix) = if let Some(s) = state.strip_prefix('<') {
            let s = s.trim_end_matches('>');
            if s == "not-affected" {
                continue;
            }
            (Range { events: vec![Event::Introduced("0".into())] }, Some(s.to_string()))
        } else {
            match Range::validated(Scheme::Deb, vec![Event::Introduced("0".into()), Event::Fixed(state.into())]) {
                Ok(r) => (r, None),
                Err(e) => {
                    warn(format!("line {lineno}: {}: {package}: {e}", adv.id));
                    continue;
                }
            }
        };
        adv.affected.push(Affected {
            ecosystem: format!("Debian:{number}"),
            name: package.to_string(),
            ranges: vec![range],
            versions: Vec::new(),
            cvss: Vec::new(),
            no_fix_reason: no_fix,
        });
    }
    finish(current, &mut out);
    out
}

fn import_debian_tracker(
    writer: &mut Writer,
    path: &Path,
    source: Option<&str>,
    location: &str,
    summary: &mut ImportSummary,
) -> Result<SourceInfo, ImportError> {
    let bytes = read_bounded(path, MAX_DOCUMENT_BYTES)?;
    let text = String::from_utf8_lossy(&bytes);
    let kind = text
        .lines()
        .next()
        .and_then(|l| l.split(']').nth(1))
        .and_then(|h| h.split_whitespace().next())
        .and_then(|id| id.split('-').next())
        .unwrap_or("DSA")
        .to_string();
    let name = source.map(str::to_string).unwrap_or_else(|| format!("debian-tracker:{kind}"));
    writer.clear_source(&name)?;
    let display = path.display().to_string();
    let advisories = parse_debian_tracker(&text, &name, &mut |w| summary.warn(format!("{display}: {w}")));
    write_source(writer, &name, location, &bytes, &advisories, summary)
}

/// Adds the advisories parsed from one document and records the source: every warning counts as a skipped part.
fn write_source(
    writer: &mut Writer,
    name: &str,
    location: &str,
    bytes: &[u8],
    advisories: &[Advisory],
    summary: &ImportSummary,
) -> Result<SourceInfo, ImportError> {
    let mut tally = Tally::default();
    for a in advisories {
        tally.add(writer, a)?;
    }
    tally.skipped = summary.warning_count as u64;
    let info = tally.info(name, location, Some(hex::encode(Sha256::digest(bytes))));
    writer.set_source(&info)?;
    Ok(info)
}

#[derive(Deserialize)]
struct Secdb {
    #[serde(default)]
    distroversion: String,
    #[serde(default)]
    reponame: String,
    #[serde(default)]
    packages: Vec<SecdbPackage>,
}

#[derive(Deserialize)]
struct SecdbPackage {
    pkg: SecdbPkg,
}

#[derive(Deserialize)]
struct SecdbPkg {
    name: String,
    #[serde(default)]
    secfixes: BTreeMap<String, Option<Vec<String>>>,
}

/// Parses an Alpine secdb document: per package, the version that fixed each vulnerability. A fix version of
/// `0` means the release was never affected (left out).
pub fn parse_alpine_secdb(bytes: &[u8], source: &str, warn: &mut dyn FnMut(String)) -> Result<Vec<Advisory>, String> {
    secdb_advisories(Secdb::parse(bytes)?, source, warn)
}

impl Secdb {
    fn parse(bytes: &[u8]) -> Result<Secdb, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("not an Alpine secdb document: {e}"))
    }
}

fn secdb_advisories(db: Secdb, source: &str, warn: &mut dyn FnMut(String)) -> Result<Vec<Advisory>, String> {
    let release = db.distroversion.trim();
    if !release.starts_with('v') || release.len() > 16 {
        return Err(format!("distroversion {release:?} is not an Alpine release (v3.20)"));
    }
    let ecosystem = format!("Alpine:{release}");
    let mut by_id: BTreeMap<String, Advisory> = BTreeMap::new();
    for p in db.packages {
        let name = p.pkg.name.trim();
        for (fixed, ids) in p.pkg.secfixes {
            if fixed == "0" {
                continue;
            }
            let range =
                match Range::validated(Scheme::Apk, vec![Event::Introduced("0".into()), Event::Fixed(fixed.clone())]) {
                    Ok(r) => r,
                    Err(e) => {
                        warn(format!("{name}: {e}"));
                        continue;
                    }
                };
            // An entry may hold several ids (`CVE-2019-1 GHSA-…`); each is its own advisory.
            for id in ids.unwrap_or_default().iter().flat_map(|s| s.split_whitespace()) {
                if id.len() > 64 || !id.contains('-') {
                    warn(format!("{name} {fixed}: {id:?} is not an advisory id"));
                    continue;
                }
                let adv = by_id.entry(id.to_string()).or_insert_with(|| Advisory {
                    id: id.to_string(),
                    aliases: Vec::new(),
                    related: Vec::new(),
                    summary: String::new(),
                    details: String::new(),
                    published: None,
                    modified: None,
                    cvss: Vec::new(),
                    source_severity: None,
                    references: vec![format!("https://security.alpinelinux.org/vuln/{id}")],
                    source: source.to_string(),
                    affected: Vec::new(),
                });
                adv.affected.push(Affected {
                    ecosystem: ecosystem.clone(),
                    name: name.to_string(),
                    ranges: vec![range.clone()],
                    versions: Vec::new(),
                    cvss: Vec::new(),
                    no_fix_reason: None,
                });
            }
        }
    }
    Ok(by_id.into_values().collect())
}

fn import_alpine_secdb(
    writer: &mut Writer,
    path: &Path,
    source: Option<&str>,
    location: &str,
    summary: &mut ImportSummary,
) -> Result<SourceInfo, ImportError> {
    let bytes = read_bounded(path, MAX_DOCUMENT_BYTES)?;
    let db = Secdb::parse(&bytes).map_err(|e| input_err(path, e))?;
    let name = source.map(str::to_string).unwrap_or_else(|| {
        let repo = if db.reponame.is_empty() { "main" } else { db.reponame.as_str() };
        format!("alpine-secdb:{}/{repo}", db.distroversion)
    });
    writer.clear_source(&name)?;
    let display = path.display().to_string();
    let advisories = secdb_advisories(db, &name, &mut |w| summary.warn(format!("{display}: {w}")))
        .map_err(|e| input_err(path, e))?;
    write_source(writer, &name, location, &bytes, &advisories, summary)
}

fn import_kev(
    writer: &mut Writer,
    path: &Path,
    location: &str,
    summary: &mut ImportSummary,
) -> Result<SourceInfo, ImportError> {
    #[derive(Deserialize)]
    struct Kev {
        #[serde(default, rename = "dateReleased")]
        date_released: Option<String>,
        vulnerabilities: Vec<KevEntry>,
    }
    #[derive(Deserialize)]
    struct KevEntry {
        #[serde(rename = "cveID")]
        cve: String,
        #[serde(default, rename = "dateAdded")]
        date_added: Option<String>,
        #[serde(default, rename = "knownRansomwareCampaignUse")]
        ransomware: Option<String>,
    }
    let bytes = read_bounded(path, MAX_DOCUMENT_BYTES)?;
    let kev: Kev = serde_json::from_slice(&bytes)
        .map_err(|e| input_err(path, format!("not a known-exploited vulnerabilities catalogue: {e}")))?;
    writer.clear_source("kev")?;
    let mut tally = Tally::default();
    for v in kev.vulnerabilities {
        let cve = v.cve.trim();
        if !cve.starts_with("CVE-") || cve.len() > 32 {
            summary.warn(format!("{}: {cve:?} is not a CVE id", path.display()));
            tally.skipped += 1;
            continue;
        }
        writer.add_known_exploited(&KnownExploited {
            cve: cve.to_string(),
            date_added: v.date_added,
            ransomware: v.ransomware.as_deref() == Some("Known"),
        })?;
        tally.records += 1;
    }
    tally.newest = kev.date_released;
    let info = tally.info("kev", location, Some(hex::encode(Sha256::digest(&bytes))));
    writer.set_source(&info)?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_tracker_entries() {
        let text = "[29 Mar 2023] DSA-5380-1 xorg-server - security update\n\t{CVE-2023-1393}\n\t[bullseye] - xorg-server 2:1.20.11-1+deb11u6\n\
[05 Jan 2005] DSA-600-1 zlib - buffer overflow\n\t{CVE-2004-1}\n\t[woody] - zlib <not-affected> (vulnerable code introduced later)\n\t[sarge] - zlib 1:1.2.2-4.sarge.1 (medium)\n\tNOTE: fixed in testing at time of DSA\n\
[01 Jan 2010] DSA-9-1 gone - security update\n\t[woody] - gone <not-affected> (no)\n\
[01 Jan 2010] DSA-10-1 old - security update\n\t[lenny] - old <end-of-life>\n\t[etch] - old not!a!version\n\t[potatoes] - old 1.0\n";
        let mut warnings = Vec::new();
        let list = parse_debian_tracker(text, "debian-tracker:DSA", &mut |w| warnings.push(w));
        assert_eq!(list.len(), 3, "{list:#?}");
        let a = &list[0];
        assert_eq!(a.id, "DSA-5380-1");
        assert_eq!(a.aliases, ["CVE-2023-1393"]);
        assert_eq!(a.published.as_deref(), Some("2023-03-29T00:00:00Z"));
        assert_eq!(a.affected[0].ecosystem, "Debian:11");
        assert_eq!(a.affected[0].ranges[0].events[1], Event::Fixed("2:1.20.11-1+deb11u6".into()));
        let z = &list[1];
        assert_eq!(z.affected.len(), 1, "not-affected is left out");
        assert_eq!(z.affected[0].ecosystem, "Debian:3.1");
        assert_eq!(z.source_severity.as_deref(), Some("medium"));
        let old = &list[2];
        assert_eq!(old.affected[0].no_fix_reason.as_deref(), Some("end-of-life"));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("line 13") && warnings[0].contains("not!a!version"), "{warnings:?}");
        assert!(warnings[1].contains("potatoes"));
    }

    #[test]
    fn alpine_secdb() {
        let json = br#"{"distroversion":"v3.20","reponame":"main","packages":[
            {"pkg":{"name":"openssl","secfixes":{"3.3.2-r0":["CVE-2024-6119"],"3.3.1-r1":["CVE-2024-5535 GHSA-xxxx-yyyy-zzzz"],"0":["CVE-2022-1"]}}},
            {"pkg":{"name":"busybox","secfixes":{"1.36.1-r29":["CVE-2023-42363"],"bad~~version":["CVE-2023-9"]}}}]}"#;
        let mut warnings = Vec::new();
        let list = parse_alpine_secdb(json, "alpine-secdb:v3.20/main", &mut |w| warnings.push(w)).unwrap();
        let ids: Vec<_> = list.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["CVE-2023-42363", "CVE-2024-5535", "CVE-2024-6119", "GHSA-xxxx-yyyy-zzzz"]);
        assert!(list.iter().all(|a| a.affected[0].ecosystem == "Alpine:v3.20"));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(parse_alpine_secdb(b"{\"distroversion\":\"edge!\"}", "s", &mut |_| {}).is_err());
    }
}
