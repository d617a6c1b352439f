//! The inventory commands: open the artifact, run the catalogers, write the SBOM.

use crate::cli::{Cli, Command, GlobalArgs, ImageSource, OutputArgs, OutputFormat, VulnArgs};
use anyhow::{bail, Context as _, Result};
use kestrel_catalog::{Catalog, Scope};
use kestrel_core::{Sbom, TargetKind, Tool, SBOM_SCHEMA};
use kestrel_image::{Artifact, OpenOptions};
use kestrel_report::{Format, SbomWriter};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

pub fn run(cli: Cli) -> Result<ExitCode> {
    let g = cli.global;
    match cli.command {
        Command::Image(a) => {
            let catalog = Catalog::new(Scope::Image);
            let secrets_wanted = crate::db::wants_secrets(&a.vuln);
            // A cached inventory of this very image (by content address) spares reading its layers — and, for an
            // image in an engine's store or a registry, exporting or pulling it: the engine names its id first,
            // the registry's manifests their digests.
            let cache = crate::cache::Cache::new(&a.cache);
            let limits = a.limits.limits();
            let lookup = |key: &str| {
                // An entry made without the secret scanner does not serve a scan that wants it.
                cache.as_ref()?.get(key).filter(|e| !secrets_wanted || e.secrets.is_some())
            };
            // The cached inventory, named as the image was found now (the index it was listed in too: the same
            // manifest may have been read through another, or none).
            let from_cache =
                |entry: crate::cache::Entry, (name, tags, index): (String, Vec<String>, Option<String>), id: &str| {
                    tracing::info!("inventory of {id} from the cache");
                    let crate::cache::Entry { mut sbom, secrets } = entry;
                    sbom.target.name = name;
                    sbom.target.tags = tags;
                    sbom.target.index_digest = index;
                    sbom.created = created();
                    let secrets = allowed(if secrets_wanted { secrets } else { None }, &a.vuln)?;
                    emit_and_upload(&g, &a.out, &a.vuln, (sbom, secrets), &a.upload)
                };
            let known_before_transfer = std::cell::RefCell::new(None);
            let served = |id: &str, manifest: Option<&str>| {
                let e = lookup(&crate::cache::Cache::key_of(id, manifest, &limits));
                let hit = e.is_some();
                *known_before_transfer.borrow_mut() = e;
                hit
            };
            let opened = match (&a.image, &a.input) {
                (_, Some(input)) => OpenedRef::file(input.clone(), a.tag.clone(), ImageKind::Detect),
                (Some(r), None) => open_ref(
                    r,
                    a.tag.clone(),
                    a.platform.clone(),
                    &limits,
                    &a.image_src,
                    g.quiet,
                    if cache.is_some() { &served } else { &|_, _| false },
                )?,
                (None, None) => bail!("name an image, or a docker archive with --input"),
            };
            if let ImageKind::Cached { image_id, tags, index_digest } = opened.kind {
                let entry = known_before_transfer.take().context("the cached inventory was read a moment ago")?;
                return from_cache(entry, (opened.name.unwrap_or(image_id.clone()), tags, index_digest), &image_id);
            }
            let opts =
                OpenOptions { limits, tag: opened.tag.clone(), platform: a.platform.clone(), progress: bars(g.quiet) };
            let mut opened = opened;
            let identified = if cache.is_some() { opened.identify(&opts)? } else { None };
            if let Some(id) = &identified {
                let t = id.target();
                if let Some(entry) = crate::cache::Cache::key(t, &opts.limits).as_deref().and_then(lookup) {
                    let id = t.image_id.as_deref().unwrap_or("?");
                    let name = opened.name.unwrap_or_else(|| t.name.clone());
                    return from_cache(entry, (name, t.tags.clone(), t.index_digest.clone()), id);
                }
            }
            // A file that cannot be identified without reading it whole (a compressed archive): found by the file.
            let alias = match (&cache, &identified, &opened.kind) {
                (Some(_), None, ImageKind::Detect | ImageKind::OciDir) => crate::cache::Cache::file_alias(
                    &opened.path,
                    opened.tag.as_deref(),
                    a.platform.as_deref(),
                    &opts.limits,
                ),
                _ => None,
            };
            let by_file = alias.as_deref().and_then(|al| cache.as_ref()?.get_alias(al));
            if let Some(entry) = by_file.as_deref().and_then(lookup) {
                if !g.quiet {
                    note!(
                        "kestrel: {}: unchanged since it was read; its inventory is in the cache",
                        opened.path.display()
                    );
                }
                let t = entry.sbom.target.clone();
                let id = t.image_id.clone().unwrap_or_default();
                return from_cache(entry, (opened.name.unwrap_or(t.name), t.tags, t.index_digest), &id);
            }
            let read = read_with_secrets(secrets_wanted, &catalog, |sel| opened.open(identified, &opts, sel));
            let (artifact, secrets) = named(&opened.name, read)?;
            if artifact.target.layers.is_empty() && artifact.config.is_none() {
                bail!("{}: not a container image (a tar with neither manifest.json nor index.json); scan a root file system tar with `kestrel rootfs`", opened.path.display());
            }
            let key = opened.cache_key(&artifact, &opts.limits);
            let mut sbom = inventory(&catalog, artifact);
            if let Some(n) = opened.name {
                sbom.target.name = n;
            }
            if let (Some(c), Some(k)) = (&cache, &key) {
                c.put(k, &crate::cache::Entry { sbom: sbom.clone(), secrets: secrets.clone() });
                if let Some(al) = &alias {
                    c.put_alias(al, k);
                }
            }
            let secrets = allowed(secrets, &a.vuln)?;
            emit_and_upload(&g, &a.out, &a.vuln, (sbom, secrets), &a.upload)
        }
        Command::Rootfs(a) => {
            let opts = OpenOptions { limits: a.limits.limits(), progress: bars(g.quiet), ..Default::default() };
            let catalog = Catalog::new(Scope::Image);
            let (artifact, secrets) = read_with_secrets(crate::db::wants_secrets(&a.vuln), &catalog, |sel| {
                Ok(if a.path.as_os_str() == "-" {
                    // A container's file system as `docker export` or `podman export` writes it.
                    kestrel_image::read_rootfs_tar(std::io::stdin().lock(), "stdin", &opts, sel)?
                } else if a.path.is_dir() {
                    kestrel_image::open_dir(&a.path, TargetKind::Rootfs, &opts, sel)?
                } else {
                    kestrel_image::open_rootfs_tar(&a.path, &opts, sel)?
                })
            })?;
            finish(&g, &a.out, &a.vuln, &catalog, artifact, allowed(secrets, &a.vuln)?)
        }
        Command::Fs(a) => {
            let opts = OpenOptions { limits: a.limits.limits(), progress: bars(g.quiet), ..Default::default() };
            let catalog = Catalog::new(Scope::Directory);
            let (mut artifact, secrets) = read_with_secrets(crate::db::wants_secrets(&a.vuln), &catalog, |sel| {
                Ok(kestrel_image::open_dir(&a.path, TargetKind::Directory, &opts, sel)?)
            })?;
            artifact.warnings.extend(unread_file(&catalog, &a.path));
            finish(&g, &a.out, &a.vuln, &catalog, artifact, allowed(secrets, &a.vuln)?)
        }
        Command::Sbom(a) => {
            let (bytes, name) = if a.path.as_os_str() == "-" {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin().lock().take(MAX_SBOM_BYTES), &mut buf)
                    .context("reading the SBOM from standard input")?;
                (buf, "stdin".to_string())
            } else {
                // Bounded whatever the file says of its size (a pipe, `<(syft …)`, says 0).
                (crate::read_input(&a.path, MAX_SBOM_BYTES, "an SBOM")?, a.path.display().to_string())
            };
            let sbom = kestrel_report::read_sbom(&bytes, &name).map_err(anyhow::Error::msg)?;
            emit(&g, &a.out, &a.vuln, sbom, None)
        }
        Command::Db(cmd) => crate::db::run(cmd, &g),
        Command::Learn(a) => crate::detect::learn(a, &g),
        Command::Detect(a) => crate::detect::detect(a, &g),
        Command::Rules(a) => crate::detect::rules(a),
        Command::Profile(cmd) => crate::detect::profile(cmd),
        Command::Respond(cmd) => crate::detect::respond(cmd),
        Command::Monitor(a) => crate::monitor::monitor(a, &g),
        Command::Record(a) => crate::monitor::record(a, &g),
        Command::Replay(a) => crate::monitor::replay(a, &g),
        Command::Eval(crate::cli::EvalCommand::Adfa(a)) => crate::eval::adfa(a, &g),
        Command::Eval(crate::cli::EvalCommand::Pss(a)) => crate::config::eval_pss(a),
        Command::Config(a) => crate::config::config(a),
        Command::Compliance(a) => crate::config::compliance(a),
        Command::Server(a) => crate::server::run(a),
        Command::Admission(a) => crate::server::admission(a),
        Command::Watch(a) => crate::watch::run(a, &g),
        Command::ScanWorker(a) => crate::watch::worker(a, &g),
        Command::Secrets(a) => crate::config::secrets(a),
        Command::Eval(crate::cli::EvalCommand::Lab(a)) => crate::detect::eval_lab(a),
        Command::Eval(crate::cli::EvalCommand::Dns(a)) => crate::eval::dns(a),
        Command::Eval(crate::cli::EvalCommand::Speed(a)) => crate::detect::eval_speed(a),
        Command::Catalogers => {
            say!("image and rootfs scans: {}", Catalog::new(Scope::Image).names().join(", "));
            say!("fs scans:               {}", Catalog::new(Scope::Directory).names().join(", "));
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(crate) enum ImageKind {
    Detect,
    OciDir,
    /// An image in an engine's store or a registry whose inventory the cache holds: no layer was sent.
    Cached {
        image_id: String,
        tags: Vec<String>,
        /// The multi-platform index the source listed it in, if any.
        index_digest: Option<String>,
    },
    /// An image in an engine's store, read as the engine streams it (no path).
    Engine {
        endpoint: kestrel_image::daemon::Endpoint,
        name: String,
        /// The engine's id for it, which keys its inventory in the cache.
        id: String,
        /// Whether to keep from saying how long the transfer took.
        quiet: bool,
    },
    /// An image archive on standard input (`docker save app | kestrel image -`) or through another pipe (path
    /// not `-`: `<(docker save app)`), read as it streams in.
    Stream,
    /// An image in a registry or in containerd's store, its manifests and configuration read, its layers read as
    /// they arrive.
    Remote {
        image: Option<Box<kestrel_image::Identified>>,
        reference: String,
        /// Whether to keep from saying how long the transfer took.
        quiet: bool,
    },
}

/// Errors about an image read from an engine, a registry or standard input name it as it was asked for, too.
pub(crate) fn named<T>(name: &Option<String>, r: Result<T>) -> Result<T> {
    match name {
        Some(n) => r.with_context(|| n.clone()),
        None => r,
    }
}

/// Whether the inventory cache holds the image with this id (configuration digest) and manifest digest.
pub(crate) type Known<'a> = dyn Fn(&str, Option<&str>) -> bool + 'a;

/// An image reference made ready to open: a path, and what to call it.
pub(crate) struct OpenedRef {
    pub path: PathBuf,
    pub tag: Option<String>,
    pub kind: ImageKind,
    /// The name to report instead of `path`: the reference as given, for an image from an engine or a registry.
    pub name: Option<String>,
}

impl OpenedRef {
    fn file(path: PathBuf, tag: Option<String>, kind: ImageKind) -> OpenedRef {
        OpenedRef { path, tag, kind, name: None }
    }

    /// Image `given`, its manifests and configuration read from `reference` (how it is said when read), its layers
    /// to be read as they arrive.
    fn remote(given: &str, image: Box<kestrel_image::Identified>, reference: String, quiet: bool) -> OpenedRef {
        OpenedRef {
            path: PathBuf::from(given),
            tag: None,
            kind: ImageKind::Remote { image: Some(image), reference, quiet },
            name: Some(given.into()),
        }
    }

    /// Image `given`, whose inventory the cache holds (`said`: which image it is, as its source said), unless
    /// `quiet` telling so.
    fn cached(
        given: &str,
        said: &str,
        (image_id, tags, index_digest): (String, Vec<String>, Option<String>),
        quiet: bool,
    ) -> OpenedRef {
        if !quiet {
            note!("kestrel: {said}: its inventory is in the cache");
        }
        OpenedRef {
            path: PathBuf::new(),
            tag: None,
            kind: ImageKind::Cached { image_id, tags, index_digest },
            name: Some(given.into()),
        }
    }

    /// The image's configuration and layers to read, its layers not read: `None` for what is not an image, and for
    /// an engine's image (its manifest comes at the end of what the engine sends: it is read whole, once).
    pub(crate) fn identify(&mut self, opts: &OpenOptions) -> Result<Option<kestrel_image::Identified>> {
        match &mut self.kind {
            // Identified when its manifests were fetched.
            ImageKind::Remote { image, .. } => Ok(image.take().map(|i| *i)),
            ImageKind::Engine { .. } | ImageKind::Cached { .. } | ImageKind::Stream => Ok(None),
            _ => named(&self.name, kestrel_image::identify(&self.path, opts).map_err(Into::into)),
        }
    }

    /// Reads the image: from what [`OpenedRef::identify`] found when it found it, from the engine as it streams
    /// in, or from its path.
    pub(crate) fn open(
        &mut self,
        identified: Option<kestrel_image::Identified>,
        opts: &OpenOptions,
        sel: &dyn kestrel_image::ContentSelector,
    ) -> Result<Artifact> {
        let started = std::time::Instant::now();
        let read = match (identified, &mut self.kind) {
            (identified, ImageKind::Remote { image, reference, quiet }) => {
                let image = identified.or_else(|| image.take().map(|i| *i)).context("the image was read already")?;
                let a = image.open(opts, sel)?;
                if !*quiet {
                    let bytes: u64 = a.target.layers.iter().map(|l| l.size).sum();
                    note!(
                        "kestrel: read {reference} ({bytes} bytes of layers) in {:.1} s",
                        started.elapsed().as_secs_f64()
                    );
                }
                a
            }
            // Already indexed and planned: the layers are read without indexing the input again.
            (Some(id), _) => id.open(opts, sel)?,
            (None, ImageKind::Engine { endpoint, name, quiet, .. }) => {
                let a = kestrel_image::daemon::open(endpoint, name, opts, sel)?;
                if !*quiet {
                    note!("kestrel: read {name} from {endpoint} in {:.1} s", started.elapsed().as_secs_f64());
                }
                a
            }
            (None, ImageKind::Stream) if self.path.as_os_str() == "-" => {
                kestrel_image::open_stream("stdin", std::io::stdin().lock(), opts, sel)?
            }
            (None, ImageKind::Stream) => {
                let shown = self.path.display().to_string();
                let pipe = std::fs::File::open(&self.path).with_context(|| format!("{shown}: cannot open"))?;
                kestrel_image::open_stream(&shown, std::io::BufReader::new(pipe), opts, sel)?
            }
            (None, ImageKind::Cached { .. }) => bail!("the cached inventory serves this image: nothing to read"),
            (None, ImageKind::OciDir) if !self.path.join("oci-layout").is_file() => {
                bail!("{}: not an OCI image layout (no oci-layout file)", self.path.display())
            }
            (None, _) => kestrel_image::open(&self.path, opts, sel)?,
        };
        Ok(read)
    }

    /// Where the image's inventory is kept in the cache, once read.
    fn cache_key(&self, artifact: &Artifact, limits: &kestrel_image::Limits) -> Option<String> {
        match &self.kind {
            // As the cache was asked before the transfer.
            ImageKind::Engine { id, .. } => Some(crate::cache::Cache::key_of(id, None, limits)),
            _ => crate::cache::Cache::key(&artifact.target, limits),
        }
    }
}

/// [`parse_image_ref`]; `-`, an archive on standard input; a registry reference (`docker://REF`, `registry:REF`);
/// `docker-daemon:NAME` and `podman:NAME` in an engine's store; and a bare name that is not a file looked for in
/// `sources`, in order. Images from engines and registries are read when opened, as they arrive; a registry's
/// manifests and an engine's answer to which image NAME is are fetched here, and when `cached` says the inventory
/// cache holds that image the kind is [`ImageKind::Cached`] and nothing more is fetched.
pub(crate) fn open_ref(
    r: &str,
    tag: Option<String>,
    platform: Option<String>,
    limits: &kestrel_image::Limits,
    sources: &[ImageSource],
    quiet: bool,
    cached: &Known<'_>,
) -> Result<OpenedRef> {
    use kestrel_image::daemon::Engine;
    if r == "-" {
        if std::io::stdin().is_terminal() {
            bail!(
                "-: standard input is a terminal; pipe an image archive into it (`docker save app | kestrel image -`)"
            );
        }
        return Ok(OpenedRef::file(PathBuf::from("-"), tag, ImageKind::Stream));
    }
    if let Some(reference) = r.strip_prefix("docker://").or_else(|| r.strip_prefix("registry:")) {
        return registry_image(r, reference, platform, limits, quiet, cached);
    }
    // `docker:` as syft spells it.
    for (scheme, engine) in
        [("docker-daemon:", Engine::Docker), ("docker:", Engine::Docker), ("podman:", Engine::Podman)]
    {
        if let Some(name) = r.strip_prefix(scheme) {
            return Ok(engine_image(r, engine, name, quiet, cached)?);
        }
    }
    if let Some(name) = r.strip_prefix("containerd:") {
        return Ok(containerd_image(r, name, platform, limits, quiet, cached)?);
    }
    // CRI-O keeps its images in containers-storage, as Podman does.
    if let Some(name) = ["containers-storage:", "cri-o:", "crio:"].iter().find_map(|s| r.strip_prefix(s)) {
        return storage_image(r, name, limits, quiet, cached).with_context(|| r.to_string());
    }
    if !is_image_name(r) {
        let (path, tag, kind) = parse_image_ref(r, tag)?;
        // A pipe (`<(docker save app)`) cannot be sought in: read as it streams in, as standard input is.
        let pipe = std::fs::metadata(&path).is_ok_and(|m| !m.is_file() && !m.is_dir());
        let kind = if pipe && matches!(kind, ImageKind::Detect) { ImageKind::Stream } else { kind };
        return Ok(OpenedRef::file(path, tag, kind));
    }
    // Tried and not there, in order, for the message when no source has it.
    let mut missed = Vec::new();
    for source in sources {
        // Each place's answer, and whether not having the image (or not being there) lets the next one try.
        let tried = match source {
            ImageSource::Docker | ImageSource::Podman => {
                let engine = if *source == ImageSource::Docker { Engine::Docker } else { Engine::Podman };
                engine_image(r, engine, r, quiet, cached).map_err(|e| (e.is_absent(), e.into()))
            }
            ImageSource::Containerd => containerd_image(r, r, platform.clone(), limits, quiet, cached)
                .map_err(|e| (e.is_absent(), anyhow::Error::from(e))),
            ImageSource::ContainersStorage => {
                storage_image(r, r, limits, quiet, cached).map_err(|e| (not_in_storage(&e), anyhow::Error::from(e)))
            }
            ImageSource::Registry => {
                return registry_image(r, r, platform, limits, quiet, cached).map_err(|e| {
                    missed.push(format!("registry: {e:#}"));
                    no_source(r, &missed)
                })
            }
        };
        match tried {
            Ok(o) => return Ok(o),
            Err((true, e)) => {
                tracing::debug!("{r}: {e}");
                missed.push(e.to_string());
            }
            Err((false, e)) => return Err(e),
        }
    }
    Err(no_source(r, &missed))
}

fn no_source(r: &str, missed: &[String]) -> anyhow::Error {
    anyhow::anyhow!(
        "{r}: no such file, and no image source (--image-src) has it:\n  {}",
        if missed.is_empty() { "no source was named".to_string() } else { missed.join("\n  ") }
    )
}

/// Whether `r`, which names no existing file, reads as an image name rather than a mistyped path.
fn is_image_name(r: &str) -> bool {
    const FILE_ENDINGS: [&str; 8] = [".tar", ".tgz", ".gz", ".zst", ".xz", ".bz2", ".zip", ".json"];
    const FILE_SCHEMES: [&str; 4] = ["oci:", "oci-dir:", "oci-archive:", "docker-archive:"];
    !Path::new(r).exists()
        && !r.starts_with(['/', '.', '~'])
        && !FILE_SCHEMES.iter().any(|s| r.starts_with(s))
        && !FILE_ENDINGS.iter().any(|e| r.ends_with(e))
        && kestrel_image::registry::Reference::parse(r).is_ok()
}

/// Image `reference` in its registry, its manifests and configuration fetched — unless `cached` says the cache holds
/// the inventory of the image they name.
fn registry_image(
    given: &str,
    reference: &str,
    platform: Option<String>,
    limits: &kestrel_image::Limits,
    quiet: bool,
    cached: &Known<'_>,
) -> Result<OpenedRef> {
    use kestrel_image::registry::{resolve_unless, PullOptions, Resolved};
    let opts = PullOptions { platform, limits: limits.clone(), ..PullOptions::from_env() };
    let (pulled, image) = match resolve_unless(reference, &opts, &|config, manifest| cached(config, Some(manifest)))? {
        Resolved::Known(pulled) => {
            let said = format!("{} is {}", pulled.reference, pulled.manifest_digest);
            let index = pulled.index_digest();
            return Ok(OpenedRef::cached(
                given,
                &said,
                (pulled.config_digest, vec![pulled.reference.to_string()], index),
                quiet,
            ));
        }
        Resolved::Remote(pulled, image) => (pulled, image),
    };
    Ok(OpenedRef::remote(given, image, format!("{} ({})", pulled.reference, pulled.manifest_digest), quiet))
}

/// Image `name` in containerd's store, its manifests and configuration read — unless `cached` says the cache holds
/// the inventory of the image they name.
fn containerd_image(
    given: &str,
    name: &str,
    platform: Option<String>,
    limits: &kestrel_image::Limits,
    quiet: bool,
    cached: &Known<'_>,
) -> Result<OpenedRef, kestrel_image::containerd::ContainerdError> {
    use kestrel_image::containerd::{resolve_unless, Endpoint, Resolved};
    let endpoint = Endpoint::from_env();
    let opts = OpenOptions { platform, limits: limits.clone(), ..Default::default() };
    let (found, image) = match resolve_unless(&endpoint, name, &opts, &|id, manifest| cached(id, Some(manifest)))? {
        Resolved::Known(found) => {
            let said = format!("{} in {endpoint} (namespace {}) is {}", found.name, found.namespace, found.image_id);
            return Ok(OpenedRef::cached(given, &said, (found.image_id, vec![found.name], found.index_digest), quiet));
        }
        Resolved::Store(found, image) => (found, image),
    };
    Ok(OpenedRef::remote(
        given,
        image,
        format!("{} from {endpoint} (namespace {}, {})", found.name, found.namespace, found.manifest_digest),
        quiet,
    ))
}

/// Whether containers-storage is not there or does not hold the image (the next --image-src place may).
fn not_in_storage(e: &kestrel_image::ImageError) -> bool {
    use kestrel_image::ImageError;
    match e {
        ImageError::NotInStore { .. } => true,
        ImageError::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}

/// Image `name` in containers-storage (`[DRIVER@ROOT]NAME`, else the default store), its layers to be read from the
/// store's directories — unless `cached` says the cache holds its inventory.
fn storage_image(
    given: &str,
    name: &str,
    limits: &kestrel_image::Limits,
    quiet: bool,
    cached: &Known<'_>,
) -> Result<OpenedRef, kestrel_image::ImageError> {
    use kestrel_image::storage::{resolve_unless, Location};
    let (at, name) = Location::parse(name).map_err(|reason| kestrel_image::ImageError::Invalid {
        path: given.to_string(),
        what: "containers-storage reference".into(),
        reason,
    })?;
    let opts = OpenOptions { limits: limits.clone(), ..Default::default() };
    let (found, image) = resolve_unless(&at, name, &opts, &|id, manifest| cached(id, manifest))?;
    let Some(image) = image else {
        let said = format!("{} in {} ({}) is {}", found.name, at.root.display(), found.driver, found.image_id);
        return Ok(OpenedRef::cached(given, &said, (found.image_id, vec![found.name], None), quiet));
    };
    Ok(OpenedRef::remote(given, image, format!("{} from {} ({})", found.name, at.root.display(), found.driver), quiet))
}

/// Image `name` in `engine`'s store, to be read as the engine streams it — unless `cached` says the cache holds the
/// inventory of the image the engine names.
fn engine_image(
    given: &str,
    engine: kestrel_image::daemon::Engine,
    name: &str,
    quiet: bool,
    cached: &Known<'_>,
) -> Result<OpenedRef, kestrel_image::daemon::DaemonError> {
    use kestrel_image::daemon::Endpoint;
    let endpoint = Endpoint::from_env(engine)?;
    let inspected = kestrel_image::daemon::inspect(&endpoint, name)?;
    // An engine's image is read as a `docker save` archive: no manifest digest in its key.
    if cached(&inspected.id, None) {
        let said = format!("{name} from {endpoint} is {}", inspected.id);
        return Ok(OpenedRef::cached(given, &said, (inspected.id, inspected.repo_tags, None), quiet));
    }
    Ok(OpenedRef {
        path: PathBuf::new(),
        tag: None,
        kind: ImageKind::Engine { endpoint, name: name.to_string(), id: inspected.id, quiet },
        name: Some(given.to_string()),
    })
}

/// `oci:DIR[:TAG]` (or `oci-dir:`), `oci-archive:PATH[:TAG]`, `docker-archive:PATH`, or a plain path.
fn parse_image_ref(r: &str, tag: Option<String>) -> Result<(PathBuf, Option<String>, ImageKind)> {
    let split_tag = |rest: &str| -> (PathBuf, Option<String>) {
        if Path::new(rest).exists() {
            return (PathBuf::from(rest), None);
        }
        match rest.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') && !t.is_empty() => (PathBuf::from(p), Some(t.to_string())),
            _ => (PathBuf::from(rest), None),
        }
    };
    // `oci-dir:` as syft spells it.
    if let Some(rest) = r.strip_prefix("oci:").or_else(|| r.strip_prefix("oci-dir:")) {
        let (p, t) = split_tag(rest);
        return Ok((p, tag.or(t), ImageKind::OciDir));
    }
    if let Some(rest) = r.strip_prefix("oci-archive:") {
        let (p, t) = split_tag(rest);
        return Ok((p, tag.or(t), ImageKind::Detect));
    }
    if let Some(rest) = r.strip_prefix("docker-archive:") {
        return Ok((PathBuf::from(rest), tag, ImageKind::Detect));
    }
    Ok((PathBuf::from(r), tag, ImageKind::Detect))
}

/// Progress bars on a terminal, unless `quiet`.
fn bars(quiet: bool) -> Option<Arc<dyn kestrel_image::Progress>> {
    (!quiet && std::io::stderr().is_terminal())
        .then(|| Arc::new(crate::progress::Bars::new()) as Arc<dyn kestrel_image::Progress>)
}

/// The SBOM's timestamp: `SOURCE_DATE_EPOCH` when set (reproducible builds), else now.
fn created() -> String {
    let now = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// Largest SBOM document read.
const MAX_SBOM_BYTES: u64 = 256 << 20;

use std::io::Read as _;

fn finish(
    g: &GlobalArgs,
    out: &OutputArgs,
    vuln: &VulnArgs,
    catalog: &Catalog,
    artifact: Artifact,
    secrets: Option<Vec<kestrel_core::SecretFinding>>,
) -> Result<ExitCode> {
    emit(g, out, vuln, inventory(catalog, artifact), secrets)
}

/// Reads an artifact with the catalogers' selector and, when `secrets` is asked for, the secret scanner looking
/// at every file of every layer in the same read; the secrets come back with their layers named.
fn read_with_secrets(
    secrets: bool,
    catalog: &Catalog,
    open: impl FnOnce(&dyn kestrel_image::ContentSelector) -> Result<Artifact>,
) -> Result<(Artifact, Option<Vec<kestrel_core::SecretFinding>>)> {
    if !secrets {
        return Ok((open(catalog)?, None));
    }
    let scanner = kestrel_secrets::Scanner::new();
    let layers = kestrel_secrets::image::LayerScanner::new(&scanner);
    let mut artifact = open(&kestrel_image::Observed { keep: catalog, observer: &layers })?;
    for (path, n) in layers.too_large() {
        artifact.warnings.push(kestrel_core::Warning { path, message: kestrel_secrets::image::too_large_reason(n) });
    }
    let found = kestrel_secrets::image::name_layers(&artifact, layers.into_findings());
    Ok((artifact, Some(found)))
}

/// The secrets the allowlist does not allow.
fn allowed(
    secrets: Option<Vec<kestrel_core::SecretFinding>>,
    vuln: &VulnArgs,
) -> Result<Option<Vec<kestrel_core::SecretFinding>>> {
    let Some(mut s) = secrets else { return Ok(None) };
    crate::config::allow_secrets(vuln.secrets_allow.as_deref(), &mut s)?;
    Ok(Some(s))
}

/// Runs the catalogers over an artifact.
pub(crate) fn inventory(catalog: &Catalog, artifact: Artifact) -> Sbom {
    let inv = catalog.run(&artifact);
    let mut sbom = Sbom {
        schema: SBOM_SCHEMA.into(),
        tool: Tool { name: "kestrel".into(), version: env!("CARGO_PKG_VERSION").into() },
        created: created(),
        target: artifact.target,
        distro: inv.distro,
        packages: inv.packages,
        warnings: artifact.warnings.into_iter().chain(inv.warnings).collect(),
    };
    sbom.normalize();
    sbom
}

/// Runs the scanners over the inventory (with the secrets found while reading it, when the secret scanner ran)
/// and writes the result.
fn emit(
    g: &GlobalArgs,
    out: &OutputArgs,
    vuln: &VulnArgs,
    sbom: Sbom,
    secrets: Option<Vec<kestrel_core::SecretFinding>>,
) -> Result<ExitCode> {
    emit_and_upload(g, out, vuln, (sbom, secrets), &crate::cli::UploadArgs::default())
}

/// [`emit`], and the report (kestrel's JSON) sent to a fleet server when `--server` is given.
/// A warning when `kestrel fs` was named one file that no cataloger reads: an inventory of no package, said to be
/// one, would pass for a project without dependencies (`kestrel fs requirements.in`, a lock file renamed).
fn unread_file(catalog: &Catalog, path: &Path) -> Option<kestrel_core::Warning> {
    use kestrel_image::ContentSelector as _;
    let meta = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
    let name = path.file_name()?.to_string_lossy();
    (catalog.want(&format!("/{name}"), meta.len(), std::os::unix::fs::PermissionsExt::mode(&meta.permissions()))
        == kestrel_image::Want::Skip)
        .then(|| kestrel_core::Warning {
            path: path.display().to_string(),
            message: "no package is read from a file of this name (the lock files and manifests read: \
                      `kestrel catalogers`)"
                .into(),
        })
}

fn emit_and_upload(
    g: &GlobalArgs,
    out: &OutputArgs,
    vuln: &VulnArgs,
    (sbom, secrets): (Sbom, Option<Vec<kestrel_core::SecretFinding>>),
    upload: &crate::cli::UploadArgs,
) -> Result<ExitCode> {
    // The inventory becomes the report's (no copy), or is written as it is when no scanner ran.
    let doc = if crate::db::wants_vulns(vuln) {
        let mut r = crate::db::vulnerability_report(sbom, vuln, g)?;
        r.secrets = secrets.unwrap_or_default();
        Ok(r)
    } else if let Some(secrets) = secrets {
        let mut r =
            kestrel_core::Report { sbom, findings: Vec::new(), suppressed: Vec::new(), database: None, secrets };
        r.sbom.schema = kestrel_core::REPORT_SCHEMA.into();
        Ok(r)
    } else {
        Err(sbom)
    };
    let to_terminal = out.output.is_none() && std::io::stdout().is_terminal();
    let format = out.format.unwrap_or(if to_terminal { OutputFormat::Table } else { OutputFormat::Json });
    let format = match format {
        OutputFormat::Table => Format::Table,
        OutputFormat::Json => Format::Json,
        OutputFormat::Cyclonedx => Format::CycloneDx,
        OutputFormat::Spdx => Format::Spdx,
        OutputFormat::Sarif => Format::Sarif,
    };
    let mut buf = Vec::with_capacity(1 << 16);
    let width = if to_terminal { terminal_width() } else { None };
    match (&doc, format) {
        (Ok(r), f) => kestrel_report::write_report(r, f, width, &mut buf)?,
        (Err(sbom), Format::Table) => kestrel_report::TableWriter { width }.write(sbom, &mut buf)?,
        (Err(sbom), f) => kestrel_report::write_sbom(sbom, f, &mut buf)?,
    }
    deliver(out.output.as_deref(), &buf, format == Format::Table)?;
    if let Some(server) = &upload.server {
        let (kind, subject, json) = match &doc {
            Ok(r) => ("image", crate::server::subject_of(&r.sbom), serde_json::to_value(r)?),
            Err(sbom) => ("sbom", crate::server::subject_of(sbom), serde_json::to_value(sbom)?),
        };
        let sent = crate::server::upload_report(upload, kind, &subject, json)?;
        if !g.quiet {
            note!("kestrel: report {sent} sent to {server}");
        }
    }
    let warnings = match &doc {
        Ok(r) => &r.sbom.warnings,
        Err(sbom) => &sbom.warnings,
    };
    if !g.quiet && format != Format::Table && !warnings.is_empty() {
        note!(
            "kestrel: {} while scanning (listed in the output's \"warnings\"); the first: {}: {}",
            kestrel_core::counted(warnings.len(), "warning"),
            warnings[0].path,
            warnings[0].message
        );
    }
    Ok(match &doc {
        Ok(r) => crate::db::exit_code(r, vuln),
        Err(_) => ExitCode::SUCCESS,
    })
}

fn terminal_width() -> Option<u16> {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).or(Some(120))
}

/// Writes a finished document to `-o FILE` ([`write_atomically`]) or to standard output (a reader that stops
/// early, as `| head` does, is not an error). A `table` names what an image, a manifest or a process called
/// itself: it goes out without raw control characters, on a terminal or into a file (`cat` later); the other
/// formats escape them their own way.
pub(crate) fn deliver(output: Option<&Path>, buf: &[u8], table: bool) -> Result<()> {
    let text = if table { std::str::from_utf8(buf).ok().map(crate::terminal_safe) } else { None };
    let buf = text.as_ref().map_or(buf, |t| t.as_bytes());
    match output {
        Some(path) => write_atomically(path, buf),
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(buf).and_then(|_| stdout.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to standard output"),
                _ => Ok(()),
            }
        }
    }
}

/// Writes next to the target and renames, so a reader never sees half a document.
///
/// Only a regular file (or a path that does not exist yet) is replaced that way: a device, pipe or
/// socket (`-o /dev/null`, `-o /dev/stdout`) is written in place, since renaming over it would
/// replace the device node itself with a file. A symbolic link keeps being a link: its target is
/// what gets replaced.
pub(crate) fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() && !m.is_dir() => {
            return std::fs::write(path, data).with_context(|| format!("{}: cannot write", path.display()));
        }
        Ok(_) if path.is_symlink() => {
            let target = std::fs::canonicalize(path).with_context(|| format!("{}: cannot resolve", path.display()))?;
            return write_atomically(&target, data);
        }
        _ => {}
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    // The process id keeps two kestrels writing the same file from sharing a temporary one.
    let tmp = dir.join(format!(".{name}.{}.kestrel-tmp", std::process::id()));
    let written = std::fs::write(&tmp, data)
        .with_context(|| format!("{}: cannot write", tmp.display()))
        .and_then(|_| std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot write", path.display())));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::write_atomically;
    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn a_pipe_is_written_in_place_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out.fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomically(&fifo, b"document").unwrap();
        assert_eq!(reader.join().unwrap(), b"document");
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the pipe was replaced by a file");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "a temporary file was left behind");
    }

    #[test]
    fn a_symbolic_link_stays_a_link_and_its_target_gets_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("report.json");
        std::fs::write(&target, b"old").unwrap();
        let link = dir.path().join("latest.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomically(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn a_regular_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sbom.json");
        std::fs::write(&out, b"a much longer previous document").unwrap();
        write_atomically(&out, b"short").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"short");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
