//! Hardcoded credentials: provider tokens, private keys, JWTs, passwords in URLs and assignments, Docker
//! registry auths, Kubernetes Secrets — found fast and reported redacted.
//!
//! A [`Scanner`] compiles the [`rules`] once: a SIMD search for every rule's keywords ([`prefilter`]) finds
//! where a secret could be; each rule's regex runs only on the lines around its keywords; entropy and placeholder
//! filters drop the obvious non-secrets. [`Scanner::scan_bytes`] scans one buffer, [`scan_path`] a file or
//! directory tree in parallel (memory-mapped, binaries and huge files skipped and counted). Every finding is
//! redacted: the secret's first characters and its length, and a fingerprint (SHA-256) to allowlist it by.
//!
//! ```
//! let s = kestrel_secrets::Scanner::new();
//! let token = format!("ghp_{}", "Ab3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5");
//! let found = s.scan_bytes("app.env", format!("GITHUB_TOKEN={token}\n").as_bytes());
//! assert_eq!(found[0].rule, "github-token");
//! assert!(!found[0].redacted.contains(&token));
//! ```
#![deny(missing_docs)]

pub mod image;
pub mod model;
pub mod prefilter;
pub mod rules;

use rayon::prelude::*;
use regex::bytes::Regex;
use std::path::{Path, PathBuf};

pub use kestrel_core::{secret_controls as controls, SecretFinding, SECRET_FIX as FIX};

struct Compiled {
    def: &'static rules::RuleDef,
    regex: Regex,
}

/// The compiled rules.
pub struct Scanner {
    model: model::Model,
    rules: Vec<Compiled>,
    keywords: prefilter::Prefilter,
    /// For each anchor of the prefilter, the rules of the keywords that hold it.
    keyword_rules: Vec<Vec<usize>>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new()
    }
}

/// How far before a keyword a rule's regex looks (to the start of its line, at most this far back), and how far
/// after: to the end of its line, or this far for a multi-line rule.
const WINDOW_BEFORE: usize = 256;
const LINE_AFTER: usize = 256;
const MULTILINE_AFTER: usize = 1024;

fn redact(s: &str) -> String {
    let shown: String = s.chars().take(4).collect();
    format!("{shown}…({} chars)", s.chars().count())
}

fn fingerprint(s: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(s.as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

impl Scanner {
    /// The built-in rules, compiled, with the default keyword search.
    pub fn new() -> Scanner {
        Scanner::with_search(prefilter::Kind::DEFAULT)
    }

    /// The built-in rules, compiled, with this keyword search (to compare them).
    pub fn with_search(search: prefilter::Kind) -> Scanner {
        let mut compiled = Vec::new();
        // Every keyword, with its rule.
        let mut keywords: Vec<(String, usize)> = Vec::new();
        for def in rules::RULES {
            // The built-in patterns are tested; a broken one is a bug caught by the tests.
            let Ok(regex) = Regex::new(def.pattern) else { continue };
            compiled.push(Compiled { def, regex });
            keywords.extend(def.keywords.iter().map(|k| (k.to_ascii_lowercase(), compiled.len() - 1)));
        }
        let words: Vec<String> = keywords.iter().map(|(k, _)| k.clone()).collect();
        let (anchors, holders) = prefilter::Prefilter::anchors(&words);
        let keyword_rules = holders
            .iter()
            .map(|ks| {
                let mut rs: Vec<usize> = ks.iter().map(|&k| keywords[k].1).collect();
                rs.sort_unstable();
                rs.dedup();
                rs
            })
            .collect();
        Scanner {
            model: model::Model::shipped(),
            rules: compiled,
            keywords: prefilter::Prefilter::with_kind(anchors, search),
            keyword_rules,
        }
    }

    /// The keyword search in use.
    pub fn search(&self) -> prefilter::Kind {
        self.keywords.kind()
    }

    /// The keyword search itself.
    pub fn prefilter(&self) -> &prefilter::Prefilter {
        &self.keywords
    }

    /// The secrets in one buffer (`name` is reported as the file).
    pub fn scan_bytes(&self, name: &str, data: &[u8]) -> Vec<SecretFinding> {
        let base = name.rsplit('/').next().unwrap_or(name);
        let applies: Vec<bool> = self
            .rules
            .iter()
            .map(|c| c.def.files.is_empty() || c.def.files.iter().any(|g| kestrel_core::glob(g, base)))
            .collect();
        // Where each rule should look: merged windows around its keywords.
        let mut windows: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.rules.len()];
        for m in self.keywords.hits(data) {
            let start = m.start.saturating_sub(WINDOW_BEFORE);
            let start = memchr::memrchr(b'\n', &data[start..m.start]).map_or(start, |i| start + i + 1);
            let line_end = (m.end + LINE_AFTER).min(data.len());
            let line_end = memchr::memchr(b'\n', &data[m.end..line_end]).map_or(line_end, |i| m.end + i);
            for &r in &self.keyword_rules[m.anchor] {
                if !applies[r] {
                    continue;
                }
                let end = if self.rules[r].def.multiline {
                    let e = (m.end + MULTILINE_AFTER).min(data.len());
                    memchr::memchr(b'\n', &data[e..]).map_or(data.len(), |i| e + i)
                } else {
                    line_end
                };
                let w = &mut windows[r];
                match w.last_mut() {
                    Some(last) if start <= last.1 => last.1 = last.1.max(end),
                    _ => w.push((start, end)),
                }
            }
        }
        let mut out = Vec::new();
        let mut seen: std::collections::HashSet<(usize, usize)> = Default::default();
        let mut offsets: Vec<usize> = Vec::new();
        for (ri, ws) in windows.iter().enumerate() {
            let c = &self.rules[ri];
            for &(s, e) in ws {
                // Bytes, not text: a stray non-UTF-8 byte elsewhere in the window hides nothing.
                let text = &data[s..e];
                for caps in c.regex.captures_iter(text) {
                    let Some(m) = caps.name("secret").or_else(|| caps.get(0)) else { continue };
                    let owned = String::from_utf8_lossy(m.as_bytes());
                    let secret = owned.trim();
                    let at = s + m.start();
                    if !seen.insert((ri, at)) {
                        continue;
                    }
                    let ent = rules::entropy(secret);
                    if c.def.min_entropy.is_some_and(|min| ent < min) {
                        continue;
                    }
                    if c.def.id != "private-key" && rules::is_placeholder(secret) {
                        continue;
                    }
                    if !c.def.specific && !rules::plausible_secret(secret) {
                        continue;
                    }
                    let ls = memchr::memrchr(b'\n', &data[..at]).map_or(0, |i| i + 1);
                    let le = memchr::memchr(b'\n', &data[at..]).map_or(data.len(), |i| at + i);
                    if memchr::memmem::find(&data[ls..le], ALLOW_MARKER.as_bytes()).is_some() {
                        continue;
                    }
                    // A generic rule's candidate is weighed by the model, with its line and path.
                    let confidence = if c.def.specific {
                        1.0
                    } else {
                        let line = String::from_utf8_lossy(&data[ls..le.min(ls + 4096)]);
                        let p = self.model.score(&model::features(secret, &line, name));
                        if p < self.model.threshold {
                            continue;
                        }
                        (p * 1000.0).round() / 1000.0
                    };
                    // A key is where its header is; other secrets where they are.
                    offsets.push(if c.def.id == "private-key" { s + caps.get(0).map_or(0, |m| m.start()) } else { at });
                    out.push(SecretFinding {
                        rule: c.def.id.into(),
                        title: c.def.title.into(),
                        severity: c.def.severity,
                        file: name.into(),
                        layer: None,
                        line: 0,
                        redacted: if c.def.id == "private-key" {
                            "-----BEGIN … PRIVATE KEY-----".into()
                        } else {
                            redact(secret)
                        },
                        // The key's body, not the window around it: the same key has the same fingerprint wherever it is.
                        fingerprint: fingerprint(secret),
                        entropy: (ent * 100.0).round() / 100.0,
                        specific: c.def.specific,
                        confidence,
                    });
                }
            }
        }
        // Line numbers in one forward pass over the offsets, in order.
        let mut order: Vec<usize> = (0..out.len()).collect();
        order.sort_by_key(|&i| offsets[i]);
        let mut lines = LineCounter::new(data);
        for i in order {
            out[i].line = lines.line(offsets[i]);
        }
        // A specific rule's hit makes a generic rule's hit of the same secret redundant.
        let specific: std::collections::HashSet<(usize, String)> =
            out.iter().filter(|f| f.specific).map(|f| (f.line, f.fingerprint.clone())).collect();
        out.retain(|f| f.specific || !specific.contains(&(f.line, f.fingerprint.clone())));
        out.sort_by(|a, b| (a.line, &a.rule).cmp(&(b.line, &b.rule)));
        out
    }
}

/// Line numbers of byte offsets, counted forward once.
struct LineCounter<'a> {
    data: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(data: &'a [u8]) -> Self {
        LineCounter { data, pos: 0, line: 1 }
    }

    /// The line of `at`; offsets must come in increasing order.
    fn line(&mut self, at: usize) -> usize {
        let at = at.max(self.pos);
        self.line += memchr::memchr_iter(b'\n', &self.data[self.pos..at]).count();
        self.pos = at;
        self.line
    }
}

/// Secrets not to report: by fingerprint (a known test key), by path (globs on the file's path) or by rule. A
/// line carrying `kestrel:allow` is skipped too.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    /// Fingerprints (as reported).
    #[serde(default)]
    pub fingerprints: Vec<String>,
    /// Path globs (`*` matches `/` too): `tests/fixtures/*`, `*.md`.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Rule ids (`jwt`).
    #[serde(default)]
    pub rules: Vec<String>,
}

impl Allowlist {
    /// Whether a finding is allowed (not reported).
    pub fn allows(&self, f: &SecretFinding) -> bool {
        self.fingerprints.contains(&f.fingerprint)
            || self.rules.contains(&f.rule)
            || self.paths.iter().any(|g| kestrel_core::glob(g, &f.file))
    }
}

/// The marker that allows the secrets of its line: `password = "…"  # kestrel:allow`.
pub const ALLOW_MARKER: &str = "kestrel:allow";

/// What a scan of files found.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Scan {
    /// Files read.
    pub files: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Files skipped: binary, or larger than [`MAX_FILE_BYTES`].
    pub skipped: usize,
    /// The secrets.
    pub findings: Vec<SecretFinding>,
    /// Files that could not be read: (file, reason).
    pub errors: Vec<(String, String)>,
}

/// Files larger than this are skipped (counted).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// A file whose first this many bytes hold a NUL is binary: skipped (counted).
const BINARY_SNIFF: usize = 8192;

/// Whether a file beginning with `data` is binary: a NUL among its first [`BINARY_SNIFF`] bytes (the rest of
/// `data`, if any, is not looked at).
pub(crate) fn is_binary(data: &[u8]) -> bool {
    memchr::memchr(0, &data[..data.len().min(BINARY_SNIFF)]).is_some()
}

/// Scans a file (a pipe too: `<(kubectl get secrets -o yaml)`) or every regular file under a directory (links not
/// followed; `.git` skipped), in parallel.
pub fn scan_path(scanner: &Scanner, path: &Path) -> Scan {
    let files: Vec<PathBuf> = if !path.is_dir() {
        vec![path.to_path_buf()]
    } else {
        walkdir::WalkDir::new(path)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| e.file_name() != ".git")
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .collect()
    };
    enum One {
        Read(u64, Vec<SecretFinding>),
        Skipped,
        TooLarge(String, u64),
        Error(String, String),
    }
    let results: Vec<One> = files
        .par_iter()
        .map(|p| {
            let name = p.display().to_string();
            let file = match std::fs::File::open(p) {
                Ok(f) => f,
                Err(e) => return One::Error(name, e.to_string()),
            };
            let (regular, len) = file.metadata().map_or((false, 0), |m| (m.is_file(), m.len()));
            if regular && len == 0 {
                return One::Read(0, vec![]);
            }
            if len > MAX_FILE_BYTES {
                // A large binary (a build's output, a database) is skipped as any binary is, without a word; a
                // large text is named, since a credential in it would go unseen.
                let mut head = [0u8; BINARY_SNIFF];
                use std::io::Read;
                let n = (&file).read(&mut head).unwrap_or(0);
                if is_binary(&head[..n]) {
                    return One::Skipped;
                }
                return One::TooLarge(name, len);
            }
            // Small files are read (a copy costs less than the page faults of a map); large ones mapped. A pipe
            // says nothing of its size: read, up to the limit.
            let data: Box<dyn std::ops::Deref<Target = [u8]>> = if !regular || len < (4 << 20) {
                let mut buf = Vec::with_capacity(len as usize);
                use std::io::Read;
                // The head first: a binary (most of a build tree) is known by it and not read further.
                if let Err(e) = (&file).take(BINARY_SNIFF as u64).read_to_end(&mut buf) {
                    return One::Error(name, e.to_string());
                }
                if is_binary(&buf) {
                    return One::Skipped;
                }
                if let Err(e) = (&file).take(MAX_FILE_BYTES + 1 - buf.len() as u64).read_to_end(&mut buf) {
                    return One::Error(name, e.to_string());
                }
                if buf.len() as u64 > MAX_FILE_BYTES {
                    return One::TooLarge(name, buf.len() as u64);
                }
                Box::new(buf)
            } else {
                // SAFETY: read-only map of a regular file; a file truncated under us can fault, as with any
                // mmap reader (ripgrep accepts the same).
                match unsafe { memmap2::Mmap::map(&file) } {
                    Ok(m) => Box::new(m),
                    Err(e) => return One::Error(name, e.to_string()),
                }
            };
            if is_binary(&data) {
                return One::Skipped;
            }
            One::Read(data.len() as u64, scanner.scan_bytes(&name, &data))
        })
        .collect();
    let mut scan = Scan { files: files.len(), ..Default::default() };
    for r in results {
        match r {
            One::Read(n, f) => {
                scan.bytes += n;
                scan.findings.extend(f);
            }
            One::Skipped => scan.skipped += 1,
            // Skipped too, and said by name: a credential in it would go unseen.
            One::TooLarge(f, n) => {
                scan.skipped += 1;
                scan.errors.push((f, image::too_large_reason(n)));
            }
            One::Error(f, e) => scan.errors.push((f, e)),
        }
    }
    scan.findings.sort_by(|a, b| (&a.file, a.line, &a.rule).cmp(&(&b.file, b.line, &b.rule)));
    scan
}

#[cfg(test)]
mod tests;
