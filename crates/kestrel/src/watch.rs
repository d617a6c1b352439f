//! `kestrel watch`: continuous scanning of a registry. Each pass lists the repositories (the catalog, or
//! `--repo`) and their tags, scans every tag whose manifest digest is new, and sends the report to the
//! kestrel server. The inventories are kept in the state directory: when the vulnerability database
//! changes, every known image is matched again from its inventory (no pull) and the new reports are sent —
//! the server keeps reports by content, so an unchanged one is stored once, and it raises an alert when an
//! image a node runs has become affected.

use crate::cli::{GlobalArgs, RegistryWatchArgs, ScanWorkerArgs, UploadArgs, VulnArgs};
use anyhow::{Context, Result};
use kestrel_catalog::{Catalog, Scope};
use kestrel_core::Sbom;
use kestrel_image::registry::{resolve_unless, PullOptions, Registry, Resolved};
use kestrel_server::scanq::{ScanJob, ScanQueue};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What the watcher remembers between passes.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// Reference (`host/repo:tag`) → manifest digest last scanned.
    images: BTreeMap<String, String>,
    /// The vulnerability database at the last match (build time, file size and modification time).
    database: Option<String>,
}

/// What one pass did.
#[derive(Debug, Default)]
struct Pass {
    repositories: usize,
    tags: usize,
    scanned: usize,
    queued: usize,
    rematched: usize,
    unchanged: usize,
    failed: usize,
}

fn state_dir(a: &RegistryWatchArgs) -> PathBuf {
    a.state.clone().unwrap_or_else(|| {
        // SAFETY: geteuid has no preconditions.
        let base = if unsafe { libc::geteuid() } == 0 {
            PathBuf::from("/var/lib/kestrel")
        } else {
            std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
                .unwrap_or_else(|| PathBuf::from("."))
                .join("kestrel")
        };
        base.join("watch")
    })
}

fn sbom_path(dir: &Path, digest: &str) -> PathBuf {
    dir.join("sboms").join(format!("{}.json", digest.trim_start_matches("sha256:")))
}

pub fn run(a: RegistryWatchArgs, g: &GlobalArgs) -> Result<ExitCode> {
    let dir = state_dir(&a);
    std::fs::create_dir_all(dir.join("sboms")).with_context(|| format!("creating {}", dir.display()))?;
    let state_file = dir.join("state.json");
    let mut state: State = match std::fs::read(&state_file) {
        Ok(b) => serde_json::from_slice(&b).with_context(|| format!("{}: unreadable", state_file.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", state_file.display())),
    };
    if a.upload.server.is_none() && !g.quiet {
        eprintln!("kestrel: watch: no --server: reports are only kept in {}", dir.display());
    }
    loop {
        let p = pass(&a, g, &dir, &mut state)?;
        let tmp = state_file.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&state)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &state_file).with_context(|| format!("writing {}", state_file.display()))?;
        if !g.quiet {
            eprintln!(
                "kestrel: watch {}: {} repositories, {} tags: {} scanned (new or changed), {} queued, {} matched again (database changed), {} unchanged, {} failed",
                a.registry, p.repositories, p.tags, p.scanned, p.queued, p.rematched, p.unchanged, p.failed
            );
        }
        if a.once {
            return Ok(if p.failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS });
        }
        std::thread::sleep(std::time::Duration::from_secs(a.every.max(1)));
    }
}

fn pass(a: &RegistryWatchArgs, g: &GlobalArgs, dir: &Path, state: &mut State) -> Result<Pass> {
    let opts = PullOptions { platform: a.platform.clone(), ..PullOptions::from_env() };
    let mut reg = Registry::connect(&a.registry, &a.registry, &opts)?;
    let queue = a.nats.as_deref().map(|u| ScanQueue::connect(u, 1)).transpose().map_err(anyhow::Error::msg)?;
    let repos = if a.repos.is_empty() { reg.catalog()? } else { a.repos.clone() };
    let mut p = Pass { repositories: repos.len(), ..Default::default() };
    let db_dir = crate::db::db_dir(&a.vuln.dir)?;
    // The database's identity: when it was built, and its file (two imports in one second differ in size
    // or modification time).
    let built = kestrel_vulndb::store::Database::open(&db_dir).ok().map(|d| {
        let meta = std::fs::metadata(d.path()).ok();
        let mtime =
            meta.as_ref().and_then(|m| m.modified().ok()).and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        format!(
            "{} {} {}",
            d.built_at().unwrap_or_default(),
            meta.map_or(0, |m| m.len()),
            mtime.map_or(0, |t| t.as_nanos())
        )
    });
    let db_changed = state.database.is_some() && built.is_some() && state.database != built;
    let mut seen = Vec::new();
    for repo in &repos {
        let tags = match reg.tags(repo) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("kestrel: watch: {e}");
                p.failed += 1;
                continue;
            }
        };
        for tag in tags {
            p.tags += 1;
            let reference = format!("{}/{repo}:{tag}", a.registry);
            seen.push(reference.clone());
            let digest = match reg.manifest(repo, &tag, &opts.limits) {
                Ok((_, _, d)) => d,
                Err(e) => {
                    eprintln!("kestrel: watch: {e}");
                    p.failed += 1;
                    continue;
                }
            };
            let known = state.images.get(&reference) == Some(&digest);
            let result = if known && !db_changed {
                p.unchanged += 1;
                continue;
            } else if known {
                rematch(a, g, dir, &reference, &digest).map(|()| p.rematched += 1)
            } else if let Some(q) = &queue {
                q.publish(&ScanJob { reference: reference.clone(), digest: digest.clone() })
                    .map_err(anyhow::Error::msg)
                    .map(|_| p.queued += 1)
            } else {
                scan(&a.vuln, &a.upload, g, Some(dir), &reference, &opts, &digest).map(|()| p.scanned += 1)
            };
            match result {
                Ok(()) => {
                    state.images.insert(reference, digest);
                }
                Err(e) => {
                    eprintln!("kestrel: watch: {reference}: {e:#}");
                    p.failed += 1;
                }
            }
        }
    }
    // Tags that went away are forgotten (their inventories stay until the digest is unused).
    state.images.retain(|r, _| seen.contains(r) || !r.starts_with(&format!("{}/", a.registry)));
    if built.is_some() {
        state.database = built;
    }
    Ok(p)
}

/// Reads (its layers as they download) and scans a new or changed tag, keeps its inventory (when there is a state directory), sends the
/// report.
fn scan(
    vuln: &VulnArgs,
    upload: &UploadArgs,
    g: &GlobalArgs,
    dir: Option<&Path>,
    reference: &str,
    opts: &PullOptions,
    digest: &str,
) -> Result<()> {
    let Resolved::Remote(_, image) = resolve_unless(reference, opts, &|_, _| false)? else {
        anyhow::bail!("{reference}: the registry was asked for the whole image and gave its manifests only");
    };
    let catalog = Catalog::new(Scope::Image);
    let open = kestrel_image::OpenOptions { limits: opts.limits.clone(), ..Default::default() };
    let artifact = image.open(&open, &catalog)?;
    let sbom = crate::scan::inventory(&catalog, artifact);
    if let Some(dir) = dir {
        let path = sbom_path(dir, digest);
        std::fs::write(&path, serde_json::to_vec(&sbom)?).with_context(|| format!("writing {}", path.display()))?;
    }
    report(vuln, upload, g, reference, sbom)
}

/// Matches a known image's inventory again (the database changed) and sends the report. The inventory is the
/// one kept here, else (scanned by a worker) the one in the server's latest report of the image.
fn rematch(a: &RegistryWatchArgs, g: &GlobalArgs, dir: &Path, reference: &str, digest: &str) -> Result<()> {
    let path = sbom_path(dir, digest);
    let sbom: Sbom = if path.is_file() {
        serde_json::from_slice(&std::fs::read(&path)?).with_context(|| format!("{}", path.display()))?
    } else {
        server_inventory(&a.upload, reference)?
    };
    report(&a.vuln, &a.upload, g, reference, sbom)
}

/// The inventory in the server's latest report of `reference`.
fn server_inventory(upload: &UploadArgs, reference: &str) -> Result<Sbom> {
    let (Some(server), Some(token)) = (&upload.server, &upload.server_token) else {
        anyhow::bail!("{reference}: no inventory kept here and no --server to ask for it");
    };
    let subject = percent_encoding::utf8_percent_encode(reference, percent_encoding::NON_ALPHANUMERIC);
    let list = crate::server::get_json(
        server,
        token,
        &format!("/api/v1/reports?kind=image&limit=1&subject={subject}"),
        512 << 20,
    )?;
    let id = list["items"][0]["id"].as_str().with_context(|| format!("{reference}: the server has no report of it"))?;
    let r: kestrel_core::Report =
        serde_json::from_value(crate::server::get_json(server, token, &format!("/api/v1/reports/{id}"), 512 << 20)?)
            .with_context(|| format!("{reference}: report {id} is not a kestrel image report"))?;
    Ok(r.sbom)
}

fn report(vuln: &VulnArgs, upload: &UploadArgs, g: &GlobalArgs, reference: &str, sbom: Sbom) -> Result<()> {
    let (kind, json) = if crate::db::wants_vulns(vuln) {
        let r = crate::db::vulnerability_report(sbom, vuln, g)?;
        if !g.quiet {
            eprintln!("kestrel: watch: {reference}: {} findings", r.findings.len());
        }
        ("image", serde_json::to_value(&r)?)
    } else {
        ("sbom", serde_json::to_value(&sbom)?)
    };
    if let Some(server) = &upload.server {
        crate::server::upload_report(server, upload.server_token.as_deref(), kind, reference, json)?;
    }
    Ok(())
}

/// `kestrel scan-worker`: takes jobs from the queue, scans, sends the report, acknowledges; a failed scan goes
/// back to the queue for another try.
pub fn worker(a: ScanWorkerArgs, g: &GlobalArgs) -> Result<ExitCode> {
    let mut queue = ScanQueue::connect(&a.nats, 1).map_err(anyhow::Error::msg)?;
    let opts = PullOptions { platform: a.platform.clone(), ..PullOptions::from_env() };
    let (mut done, mut failed) = (0usize, 0usize);
    loop {
        let Some(t) = queue.next(std::time::Duration::from_secs(2)).map_err(anyhow::Error::msg)? else {
            if a.once && queue.pending().map_err(anyhow::Error::msg)? == 0 {
                break;
            }
            continue;
        };
        let ScanJob { reference, digest } = t.job.clone();
        match scan(&a.vuln, &a.upload, g, None, &reference, &opts, &digest) {
            Ok(()) => {
                queue.ack(t).map_err(anyhow::Error::msg)?;
                done += 1;
            }
            Err(e) => {
                eprintln!("kestrel: scan-worker: {reference} (delivery {}): {e:#}", t.delivery);
                queue.retry(t, std::time::Duration::from_secs(30)).map_err(anyhow::Error::msg)?;
                failed += 1;
            }
        }
    }
    if !g.quiet {
        eprintln!("kestrel: scan-worker: {done} scanned, {failed} failed (handed back)");
    }
    Ok(ExitCode::SUCCESS)
}
