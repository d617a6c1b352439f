//! Configuration checks: what a deployment says about a workload's security, before it runs.
//!
//! - [`yaml`]: YAML and JSON documents with the line of every node, bounded against YAML bombs and deep
//!   nesting.
//! - [`pss`]: every Pod Security Standards check (baseline and restricted, policy version v1.37), as
//!   upstream's pod-security-admission defines it.
//! - [`k8s`]: Kubernetes objects — the pod template of every workload kind (Pod, Deployment, StatefulSet,
//!   DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, `List`s of them), RBAC, Secrets — and the
//!   checks beyond the standard (CIS Kubernetes 5.x, NSA/CISA hardening, NIST SP 800-190).
//! - [`dockerfile`]: a Dockerfile parser (multi-stage, continuations, escape directive, BuildKit heredocs) and
//!   the CIS Docker 1.6 §4 checks that the file alone can decide.
//! - [`image`]: an image's configuration (user, health check, ports, environment, volumes, history) and a
//!   Docker daemon's `daemon.json` (CIS Docker 1.6 §2: user-namespace remapping, icc, TLS, …).
//! - [`rego`]: custom policies in Rego (regorus), giving the same findings.
//! - [`checks`]: the catalogue, with the controls each check maps to.
//!
//! [`scan_path`] walks a file or directory; each finding names the file, resource, line and field, says how
//! to fix it and which controls it breaks. A file that cannot be read is a [`FileError`] naming it; the
//! rest of the scan goes on.
//!
//! ```
//! let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    securityContext: {privileged: true}\n";
//! let findings = kestrel_config::scan_text("pod.yaml", text).unwrap();
//! let f = findings.iter().find(|f| f.id == "pss:baseline:privileged").unwrap();
//! assert_eq!((f.line, f.resource.as_str()), (Some(8), "Pod p"));
//! ```
#![deny(missing_docs)]

pub mod checks;
pub mod compliance;
pub mod dockerfile;
pub mod image;
pub mod k8s;
pub mod pss;
pub mod rego;
pub mod yaml;

use kestrel_core::ConfigFinding;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// A file that could not be checked, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct FileError {
    /// The file.
    pub file: String,
    /// Why.
    pub reason: String,
}

/// What a scan found.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Scan {
    /// Files read.
    pub files: usize,
    /// Kubernetes objects checked.
    pub objects: usize,
    /// The findings, by file and line.
    pub findings: Vec<ConfigFinding>,
    /// Files that could not be checked.
    pub errors: Vec<FileError>,
    /// The kinds of input seen: `kubernetes`, `dockerfile`, `image`, `docker-daemon`.
    pub kinds: Vec<String>,
}

/// The largest file read (larger ones are an error, not a stall).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

fn is_manifest(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}

fn is_dockerfile(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(dockerfile::is_dockerfile)
}

/// The files a scan of `path` reads: the file itself (a pipe too: `<(helm template …)`), or every `.yaml`, `.yml`
/// and `.json` file and every Dockerfile (`Dockerfile`, `Dockerfile.*`, `*.dockerfile`, `Containerfile`) under the
/// directory (regular files only; links not followed; `.git` skipped), sorted.
pub fn files(path: &Path) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(path)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git")
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && (is_manifest(e.path()) || is_dockerfile(e.path())))
        .map(|e| e.into_path())
        .collect();
    v.sort();
    v
}

/// Checks the text of one file (YAML or JSON, one or more documents).
pub fn scan_text(file: &str, text: &str) -> Result<Vec<ConfigFinding>, FileError> {
    Ok(scan_text_counted(file, text)?.0)
}

/// [`scan_text`], with the number of Kubernetes objects checked.
pub fn scan_text_counted(file: &str, text: &str) -> Result<(Vec<ConfigFinding>, usize), FileError> {
    Ok(resolve(vec![check_text(file, text, None)?]))
}

/// What one file gave: its findings, and what a check across files needs (the namespaces with a
/// NetworkPolicy, and the workloads that need one).
#[derive(Debug, Clone, Default)]
struct Checked {
    findings: Vec<ConfigFinding>,
    objects: usize,
    network_policies: Vec<Option<String>>,
    needs_policy: Vec<(Option<String>, ConfigFinding)>,
    kind: Option<&'static str>,
}

/// Joins the files' results: a workload is missing a NetworkPolicy only when no file gives its namespace one.
fn resolve(checked: Vec<Checked>) -> (Vec<ConfigFinding>, usize) {
    let covered: std::collections::HashSet<Option<String>> =
        checked.iter().flat_map(|c| c.network_policies.iter().cloned()).collect();
    let mut out = Vec::new();
    let mut objects = 0;
    for c in checked {
        objects += c.objects;
        out.extend(c.findings);
        out.extend(c.needs_policy.into_iter().filter(|(ns, _)| !covered.contains(ns)).map(|(_, f)| f));
    }
    (out, objects)
}

fn check_text(file: &str, text: &str, policies: Option<&mut rego::Policies>) -> Result<Checked, FileError> {
    let docs = yaml::parse(text, yaml::Limits::default())
        .map_err(|e| FileError { file: file.into(), reason: e.to_string() })?;
    let base = file.rsplit('/').next().unwrap_or(file);
    if image::is_daemon_json(base) {
        if let Some(doc) = docs.first().filter(|d| d.value.is_object()) {
            let findings = image::check_daemon(file, doc);
            return Ok(Checked { findings, objects: 1, kind: Some("docker-daemon"), ..Default::default() });
        }
    }
    if let Some(doc) = docs.first().filter(|d| docs.len() == 1 && image::is_image_config(&d.value)) {
        let findings = image::check_image_config(file, base, &doc.value);
        return Ok(Checked { findings, objects: 1, kind: Some("image"), ..Default::default() });
    }
    let mut c = Checked::default();
    let mut policies = policies;
    for doc in &docs {
        if let Some(p) = policies.as_deref_mut() {
            let f = p.evaluate_document(file, doc).map_err(|e| FileError { file: file.into(), reason: e.reason })?;
            c.findings.extend(f);
        }
        c.objects += k8s::objects(&doc.value).len();
        let mut sink = k8s::Sink { file, doc, out: Vec::new(), network_policies: Vec::new(), needs_policy: Vec::new() };
        k8s::check_document(&mut sink);
        c.findings.append(&mut sink.out);
        c.network_policies.append(&mut sink.network_policies);
        c.needs_policy.append(&mut sink.needs_policy);
    }
    if c.objects > 0 {
        c.kind = Some("kubernetes");
    }
    Ok(c)
}

/// A file whole, but at most `max` bytes whatever it says of its size (a pipe or a device says nothing): `None` when it
/// holds more.
pub(crate) fn read_at_most(path: &Path, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(max + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}

fn scan_file(p: &Path, policies: Option<&mut rego::Policies>) -> Result<Checked, FileError> {
    let name = p.display().to_string();
    let err = |reason: String| FileError { file: name.clone(), reason };
    let meta = std::fs::metadata(p).map_err(|e| err(e.to_string()))?;
    let too_big = |n: u64| err(format!("{n} bytes: larger than the {} MiB limit", MAX_FILE_BYTES >> 20));
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big(meta.len()));
    }
    let bytes =
        read_at_most(p, MAX_FILE_BYTES).map_err(|e| err(e.to_string()))?.ok_or_else(|| too_big(MAX_FILE_BYTES + 1))?;
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return Err(err("a binary file, not YAML or JSON".into()));
    }
    let text =
        String::from_utf8(bytes).map_err(|e| err(format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to())))?;
    if is_dockerfile(p) {
        let df = dockerfile::parse(&text).map_err(|e| err(e.to_string()))?;
        let mut findings = dockerfile::check_parsed(&name, &df);
        if let Some(p) = policies {
            let mut input = serde_json::to_value(&df).unwrap_or_default();
            input["kind"] = serde_json::Value::String("Dockerfile".into());
            findings.extend(p.evaluate(&name, "Dockerfile", None, &input).map_err(|e| err(e.reason))?);
        }
        return Ok(Checked { findings, objects: df.stages.len(), kind: Some("dockerfile"), ..Default::default() });
    }
    check_text(&name, &text, policies)
}

/// Checks a file or every manifest under a directory, in parallel. Findings come sorted by file and line.
pub fn scan_path(path: &Path) -> Scan {
    scan_path_with(path, None)
}

/// [`scan_path`], with custom Rego policies evaluated on every object too.
pub fn scan_path_with(path: &Path, policies: Option<&rego::Policies>) -> Scan {
    let files = files(path);
    let sources: Option<Vec<(String, String)>> = policies.map(|p| p.sources().to_vec());
    let results: Vec<_> = files
        .par_iter()
        .map_init(
            || sources.clone().and_then(|s| rego::Policies::from_sources(s).ok()),
            |engine, p| scan_file(p, engine.as_mut()),
        )
        .collect();
    let mut scan = Scan { files: files.len(), ..Default::default() };
    let mut checked = Vec::new();
    for r in results {
        match r {
            Ok(c) => checked.push(c),
            Err(e) => scan.errors.push(e),
        }
    }
    let mut kinds: Vec<String> = checked.iter().filter_map(|c| c.kind.map(String::from)).collect();
    kinds.sort();
    kinds.dedup();
    scan.kinds = kinds;
    (scan.findings, scan.objects) = resolve(checked);
    scan.findings.sort_by(|a, b| (&a.file, a.line, &a.id).cmp(&(&b.file, b.line, &b.id)));
    scan
}

/// One fixture of the Pod Security Standards evaluation.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FixtureResult {
    /// The file.
    pub file: String,
    /// `baseline` or `restricted`.
    pub level: String,
    /// Whether the fixture should pass.
    pub expect_pass: bool,
    /// The check a failing fixture breaks (lowercase, as in the file name).
    pub check: String,
    /// Whether kestrel agrees.
    pub ok: bool,
    /// The Pod Security Standards findings at the fixture's level (ids).
    pub found: Vec<String>,
}

/// Runs the Pod Security Standards checks over a directory laid out like upstream's admission fixtures
/// (`LEVEL/pass|fail/CHECKn.yaml`): a `fail` fixture must be flagged under its check at a level no higher
/// than its own; a `pass` fixture must have no finding at its level or below.
pub fn eval_pss_fixtures(dir: &Path) -> Result<Vec<FixtureResult>, FileError> {
    let mut out = Vec::new();
    for level in ["baseline", "restricted"] {
        for verdict in ["pass", "fail"] {
            let d = dir.join(level).join(verdict);
            let mut entries: Vec<PathBuf> = match std::fs::read_dir(&d) {
                Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| is_manifest(p)).collect(),
                Err(e) => return Err(FileError { file: d.display().to_string(), reason: e.to_string() }),
            };
            entries.sort();
            for p in entries {
                let findings = scan_file(&p, None)?.findings;
                let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                let check = stem.trim_end_matches(|c: char| c.is_ascii_digit()).to_string();
                let within = |id: &str| match id.split(':').nth(1) {
                    Some("baseline") => true,
                    Some("restricted") => level == "restricted",
                    _ => false,
                };
                let found: Vec<String> = findings
                    .iter()
                    .filter(|f| f.id.starts_with("pss:") && within(&f.id))
                    .map(|f| f.id.clone())
                    .collect();
                let ok = if verdict == "pass" {
                    found.is_empty()
                } else {
                    found.iter().any(|id| id.rsplit(':').next().is_some_and(|c| c.eq_ignore_ascii_case(&check)))
                };
                out.push(FixtureResult {
                    file: p.display().to_string(),
                    level: level.into(),
                    expect_pass: verdict == "pass",
                    check,
                    ok,
                    found,
                });
            }
        }
    }
    Ok(out)
}
