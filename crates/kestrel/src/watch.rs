//! `kestrel watch`: continuous scanning of a registry, or of a node's containerd store or containers-storage. Each
//! pass lists the registry's repositories (the catalog, or `--repo`) and their tags — or containerd's image records,
//! or containers-storage's images under each of their names — scans every
//! image whose digest is new, and sends the report to the kestrel server. The inventories are kept in the state
//! directory: when the vulnerability database changes, every known image is matched again from its inventory (no
//! pull) and the new reports are sent — the server keeps reports by content, so an unchanged one is stored once,
//! and it raises an alert when an image a node runs has become affected.

use crate::cli::{GlobalArgs, RegistryWatchArgs, ScanWorkerArgs, UploadArgs, VulnArgs};
use anyhow::{Context, Result};
use kestrel_catalog::{Catalog, Scope};
use kestrel_core::Sbom;
use kestrel_image::registry::{resolve_unless, PullOptions, Registry, Resolved};
use kestrel_image::{containerd, storage};
use kestrel_server::scanq::{ScanJob, ScanQueue};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What the watcher remembers between passes.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// Reference (`host/repo:tag`; containerd's `containerd://NAMESPACE/NAME`) → digest last scanned.
    images: BTreeMap<String, String>,
    /// The vulnerability database at the last match (build time, file size and modification time).
    database: Option<String>,
}

/// Where an image to scan is read from.
enum Origin {
    /// Its registry: the subject is its reference.
    Registry,
    /// containerd's store: the endpoint with the record's namespace, and the record's name.
    Containerd(containerd::Endpoint, String),
    /// containers-storage: the store and the image's name there.
    Storage(storage::Location, String),
}

/// One image a pass looks at.
struct Listed {
    /// What the state remembers it under.
    key: String,
    /// The name its reports go under.
    subject: String,
    /// The digest that says whether it changed (what the tag or record points at).
    digest: String,
    origin: Origin,
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
        note!("kestrel: watch: no --server: reports are only kept in {}", dir.display());
    }
    loop {
        let p = match pass(&a, g, &dir, &mut state) {
            Ok(p) => p,
            Err(e) if a.once => return Err(e),
            // A registry or a containerd that does not answer now (restarting, a network blip) may answer at the
            // next pass: a watcher that runs for months does not stop for it.
            Err(e) => {
                note!("kestrel: watch: this pass failed, trying again in {} s: {e:#}", a.every.max(1));
                std::thread::sleep(std::time::Duration::from_secs(a.every.max(1)));
                continue;
            }
        };
        let tmp = state_file.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&state)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &state_file).with_context(|| format!("writing {}", state_file.display()))?;
        if !g.quiet {
            let (what, places, images) = match (&a.registry, store(&a)?) {
                (Some(r), _) => (r.clone(), "repositories", "tags"),
                (None, Some(at)) => (format!("containers-storage at {}", at.root.display()), "drivers", "names"),
                (None, None) => (containerd::Endpoint::from_env().to_string(), "namespaces", "images"),
            };
            note!(
                "kestrel: watch {what}: {} {places}, {} {images}: {} scanned (new or changed), {} queued, {} matched again (database changed), {} unchanged, {} failed",
                p.repositories, p.tags, p.scanned, p.queued, p.rematched, p.unchanged, p.failed
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
    let mut p = Pass::default();
    let (listed, prefix) = match (&a.registry, store(a)?) {
        (Some(registry), _) => (list_registry(a, registry, &opts, &mut p)?, format!("{registry}/")),
        (None, Some(at)) => (list_storage(at, &opts.limits, &mut p)?, "containers-storage://".to_string()),
        (None, None) => (list_containerd(&mut p)?, "containerd://".to_string()),
    };
    let queue = a.nats.as_deref().map(|u| ScanQueue::connect(u, 1)).transpose().map_err(anyhow::Error::msg)?;
    let db_dir = crate::db::db_dir(&a.vuln.dir)?;
    if a.db_from_server {
        fetch_database(&db_dir, &a.upload, g, "watch");
    }
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
    for l in listed {
        seen.push(l.key.clone());
        let known = state.images.get(&l.key) == Some(&l.digest);
        let result = if known && !db_changed {
            p.unchanged += 1;
            continue;
        } else if known {
            rematch(a, g, dir, &l.subject, &l.digest).map(|()| p.rematched += 1)
        } else if let Some(q) = &queue {
            q.publish(&ScanJob { reference: l.subject.clone(), digest: l.digest.clone() })
                .map_err(anyhow::Error::msg)
                .map(|_| p.queued += 1)
        } else {
            scan(&a.vuln, &a.upload, g, Some(dir), &l, &opts).map(|()| p.scanned += 1)
        };
        match result {
            Ok(()) => {
                state.images.insert(l.key, l.digest);
            }
            Err(e) => {
                note!("kestrel: watch: {}: {e:#}", l.subject);
                p.failed += 1;
            }
        }
    }
    // Images that went away are forgotten (their inventories stay until the digest is unused).
    state.images.retain(|r, _| seen.contains(r) || !r.starts_with(&prefix));
    if built.is_some() {
        state.database = built;
    }
    Ok(p)
}

/// A registry's tags, each with the digest of what it points at (a tag the registry cannot say is counted failed).
fn list_registry(a: &RegistryWatchArgs, registry: &str, opts: &PullOptions, p: &mut Pass) -> Result<Vec<Listed>> {
    let mut reg = Registry::connect(registry, registry, opts)?;
    let repos = if a.repos.is_empty() { reg.catalog()? } else { a.repos.clone() };
    p.repositories = repos.len();
    let mut listed = Vec::new();
    for repo in &repos {
        let tags = match reg.tags(repo) {
            Ok(t) => t,
            Err(e) => {
                note!("kestrel: watch: {e}");
                p.failed += 1;
                continue;
            }
        };
        for tag in tags {
            p.tags += 1;
            let reference = format!("{registry}/{repo}:{tag}");
            match reg.manifest(repo, &tag, &opts.limits) {
                Ok((_, _, digest)) => {
                    listed.push(Listed { key: reference.clone(), subject: reference, digest, origin: Origin::Registry })
                }
                Err(e) => {
                    note!("kestrel: watch: {e}");
                    p.failed += 1;
                }
            }
        }
    }
    Ok(listed)
}

/// containerd's images, under their tags; an image no tag names under its digest references (else its id) — the
/// CRI plugin records each image it pulls under all three.
fn list_containerd(p: &mut Pass) -> Result<Vec<Listed>> {
    let endpoint = containerd::Endpoint::from_env();
    let records = containerd::list(&endpoint)?;
    let rank = |r: &containerd::Record| {
        if r.is_tag() {
            0
        } else if r.name.contains('@') {
            1
        } else {
            2
        }
    };
    // The best rank each image (namespace, digest) has.
    let mut best: BTreeMap<(&str, &str), u8> = BTreeMap::new();
    for r in &records {
        let b = best.entry((&r.namespace, &r.digest)).or_insert(2);
        *b = (*b).min(rank(r));
    }
    let kept: Vec<&containerd::Record> =
        records.iter().filter(|r| best[&(r.namespace.as_str(), r.digest.as_str())] == rank(r)).collect();
    p.repositories = kept.iter().map(|r| &r.namespace).collect::<std::collections::BTreeSet<_>>().len();
    p.tags = kept.len();
    Ok(kept
        .into_iter()
        .map(|r| Listed {
            key: format!("containerd://{}/{}", r.namespace, r.name),
            subject: r.name.clone(),
            digest: r.digest.clone(),
            origin: Origin::Containerd(
                containerd::Endpoint { namespace: Some(r.namespace.clone()), ..endpoint.clone() },
                r.name.clone(),
            ),
        })
        .collect())
}

/// The containers-storage `--containers-storage` names (`None`: another source is watched).
fn store(a: &RegistryWatchArgs) -> Result<Option<storage::Location>> {
    let Some(spec) = &a.containers_storage else { return Ok(None) };
    let (at, rest) =
        storage::Location::parse(spec).map_err(|e| anyhow::anyhow!("--containers-storage {spec:?}: {e}"))?;
    anyhow::ensure!(rest.is_empty(), "--containers-storage {spec:?}: names a store ([DRIVER@ROOT]), not an image");
    Ok(Some(at))
}

/// containers-storage's images, under each of their names (an image without one under its id).
fn list_storage(at: storage::Location, limits: &kestrel_image::Limits, p: &mut Pass) -> Result<Vec<Listed>> {
    let records = storage::list(&at, limits)?;
    p.repositories = records.iter().map(|r| &r.driver).collect::<std::collections::BTreeSet<_>>().len();
    p.tags = records.len();
    Ok(records
        .into_iter()
        .map(|r| Listed {
            key: format!("containers-storage://{}/{}/{}", at.root.display(), r.driver, r.name),
            subject: r.name.clone(),
            digest: r.image_id,
            origin: Origin::Storage(storage::Location { driver: Some(r.driver), ..at.clone() }, r.name),
        })
        .collect())
}

/// Reads (its layers as they arrive) and scans a new or changed image, keeps its inventory (when there is a state
/// directory), sends the report. An image whose inventory is kept already (another tag of it) is not read again.
fn scan(
    vuln: &VulnArgs,
    upload: &UploadArgs,
    g: &GlobalArgs,
    dir: Option<&Path>,
    l: &Listed,
    opts: &PullOptions,
) -> Result<()> {
    let kept = dir.map(|d| sbom_path(d, &l.digest)).filter(|p| p.is_file());
    if let Some(path) = kept {
        let sbom: Sbom =
            serde_json::from_slice(&std::fs::read(&path)?).with_context(|| format!("{}", path.display()))?;
        return report(vuln, upload, g, &l.subject, sbom);
    }
    let subject = &l.subject;
    let open = kestrel_image::OpenOptions {
        platform: opts.platform.clone(),
        limits: opts.limits.clone(),
        ..Default::default()
    };
    let image = match &l.origin {
        Origin::Registry => match resolve_unless(subject, opts, &|_, _| false)? {
            Resolved::Remote(_, image) => image,
            Resolved::Known(_) => {
                anyhow::bail!("{subject}: the registry was asked for the whole image and gave its manifests only")
            }
        },
        Origin::Containerd(endpoint, name) => match containerd::resolve_unless(endpoint, name, &open, &|_, _| false)? {
            containerd::Resolved::Store(_, image) => image,
            containerd::Resolved::Known(_) => anyhow::bail!("{subject}: containerd's image was taken for a known one"),
        },
        Origin::Storage(at, name) => match storage::resolve_unless(at, name, &open, &|_, _| false)? {
            (_, Some(image)) => image,
            (_, None) => anyhow::bail!("{subject}: containers-storage's image was taken for a known one"),
        },
    };
    let catalog = Catalog::new(Scope::Image);
    let artifact = image.open(&open, &catalog)?;
    let sbom = crate::scan::inventory(&catalog, artifact);
    if let Some(dir) = dir {
        let path = sbom_path(dir, &l.digest);
        std::fs::write(&path, serde_json::to_vec(&sbom)?).with_context(|| format!("writing {}", path.display()))?;
    }
    report(vuln, upload, g, subject, sbom)
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
    let get = |path: &str| crate::server::get_json(server, token, upload.server_ca.as_deref(), path, 512 << 20);
    let list = get(&format!("/api/v1/reports?kind=image&limit=1&subject={subject}"))?;
    let id = list["items"][0]["id"].as_str().with_context(|| format!("{reference}: the server has no report of it"))?;
    let r: kestrel_core::Report = serde_json::from_value(get(&format!("/api/v1/reports/{id}"))?)
        .with_context(|| format!("{reference}: report {id} is not a kestrel image report"))?;
    Ok(r.sbom)
}

/// Matches an inventory and sends the report of `reference`. The inventory is named `reference` whichever name it was
/// read under (another tag of the same image, kept from an earlier pass): the server keeps reports by content, and
/// a report naming another tag would be taken for that tag's.
fn report(vuln: &VulnArgs, upload: &UploadArgs, g: &GlobalArgs, reference: &str, mut sbom: Sbom) -> Result<()> {
    sbom.target.name = reference.to_string();
    let (kind, json) = if crate::db::wants_vulns(vuln) {
        let r = crate::db::vulnerability_report(sbom, vuln, g)?;
        if !g.quiet {
            note!("kestrel: watch: {reference}: {}", kestrel_core::counted(r.findings.len(), "finding"));
        }
        ("image", serde_json::to_value(&r)?)
    } else {
        ("sbom", serde_json::to_value(&sbom)?)
    };
    if upload.server.is_some() {
        crate::server::upload_report(upload, kind, reference, json)?;
    }
    Ok(())
}

/// `kestrel scan-worker`: takes jobs from the queue, scans, sends the report, acknowledges; a failed scan goes
/// back to the queue for another try.
/// `--db-from-server`: the server's database into `dir` when it changed there; a failure is said and the
/// database here is used as it is.
fn fetch_database(dir: &Path, upload: &UploadArgs, g: &GlobalArgs, who: &str) {
    let Some(server) = &upload.server else { return };
    let token = upload.server_token.as_deref().unwrap_or_default();
    if let Err(e) = crate::db::pull_from_server(dir, server, token, upload.server_ca.as_deref(), false, g) {
        note!("kestrel: {who}: {e:#}");
    }
}

pub fn worker(a: ScanWorkerArgs, g: &GlobalArgs) -> Result<ExitCode> {
    let mut queue = ScanQueue::connect(&a.nats, 1).map_err(anyhow::Error::msg)?;
    let opts = PullOptions { platform: a.platform.clone(), ..PullOptions::from_env() };
    let db_dir = crate::db::db_dir(&a.vuln.dir)?;
    let mut fetched: Option<std::time::Instant> = None;
    let (mut done, mut failed, mut given_up) = (0usize, 0usize, 0usize);
    loop {
        let Some(t) = queue.next(std::time::Duration::from_secs(2)).map_err(anyhow::Error::msg)? else {
            if a.once && queue.pending().map_err(anyhow::Error::msg)? == 0 {
                break;
            }
            continue;
        };
        if a.db_from_server && fetched.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(60)) {
            fetch_database(&db_dir, &a.upload, g, "scan-worker");
            fetched = Some(std::time::Instant::now());
        }
        let ScanJob { reference, digest } = t.job.clone();
        let job = Listed { key: reference.clone(), subject: reference.clone(), digest, origin: Origin::Registry };
        match scan(&a.vuln, &a.upload, g, None, &job, &opts) {
            Ok(()) => {
                queue.ack(t).map_err(anyhow::Error::msg)?;
                done += 1;
            }
            Err(e) if t.delivery >= kestrel_server::scanq::MAX_DELIVER => {
                note!("kestrel: scan-worker: {reference}: given up after {} tries: {e:#}", t.delivery);
                queue.give_up(t).map_err(anyhow::Error::msg)?;
                given_up += 1;
            }
            Err(e) => {
                note!("kestrel: scan-worker: {reference} (delivery {}): {e:#}", t.delivery);
                queue.retry(t, std::time::Duration::from_secs(a.retry_after)).map_err(anyhow::Error::msg)?;
                failed += 1;
            }
        }
    }
    if !g.quiet {
        note!("kestrel: scan-worker: {done} scanned, {failed} failed (handed back), {given_up} given up");
    }
    Ok(ExitCode::SUCCESS)
}
