//! Container images: `docker save` archives and OCI image layouts (a directory or a tar of one).

use crate::blobs::{blob_path, Blobs};
use crate::config::ImageConfig;
use crate::io::sha256_of;
use crate::layer::{apply, read_layer, Budget, LayerCtx, LayerDelta};
use crate::tree::{ContentSelector, FileTree};
use crate::{Artifact, ImageError, OpenOptions};
use kestrel_core::{LayerRef, ScanTarget, TargetKind, Warning};
use rayon::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One layer to read: the member holding it and the digests it must have.
pub(crate) struct LayerPlan {
    pub member: String,
    /// Digest of the blob as stored (OCI descriptors), verified when known.
    pub blob_digest: Option<String>,
    /// Diff id from the config, verified always.
    diff_id: String,
    media_type: Option<String>,
}

#[derive(Deserialize)]
struct DockerManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: Option<i64>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Debug, Clone, Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

impl Platform {
    fn label(&self) -> String {
        match &self.variant {
            Some(v) if !v.is_empty() => format!("{}/{}/{}", self.os, self.architecture, v),
            _ => format!("{}/{}", self.os, self.architecture),
        }
    }
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

const INDEX_TYPES: [&str; 2] =
    ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"];

/// Reads an image from blobs that hold either a Docker `manifest.json` or an OCI `index.json`.
pub(crate) fn read_image(
    input: &str,
    blobs: Blobs,
    opts: &OpenOptions,
    selector: &dyn ContentSelector,
) -> Result<Artifact, ImageError> {
    let (target, config, plans) = plan_image(input, &blobs, opts)?;
    squash(input, &blobs, target, config, plans, opts, selector)
}

/// The image an input names, without reading its layers: the target (image id, manifest digest, tags,
/// platform; no layers yet), its configuration and the layers to read.
pub(crate) fn plan_image(
    input: &str,
    blobs: &Blobs,
    opts: &OpenOptions,
) -> Result<(ScanTarget, ImageConfig, Vec<LayerPlan>), ImageError> {
    // Docker ≥ 25 writes both files; the OCI index carries more (manifest digests), so prefer it.
    if blobs.has("index.json") && blobs.has("oci-layout") {
        plan_oci(input, blobs, opts)
    } else if blobs.has("manifest.json") {
        plan_docker(input, blobs, opts)
    } else if blobs.has("index.json") {
        plan_oci(input, blobs, opts)
    } else {
        Err(ImageError::Unrecognized {
            path: input.to_string(),
            reason: "neither a docker archive (manifest.json) nor an OCI layout (index.json)".into(),
        })
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(input: &str, what: &str, bytes: &[u8]) -> Result<T, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| ImageError::invalid(input, what, e))
}

/// `docker.io/library/nginx:1` and `nginx:1` name the same image.
fn normalize_reference(r: &str) -> &str {
    let r = r.strip_prefix("docker.io/").unwrap_or(r);
    r.strip_prefix("library/").unwrap_or(r)
}

/// Whether a requested tag names one of an image's recorded names. A bare tag (`1.0`) matches `repo:1.0`
/// and an OCI `ref.name` annotation of `1.0`; a full reference matches with or without the Docker Hub prefix;
/// a digest matches `repo@digest`.
fn tag_matches(tag: &str, names: &[String]) -> bool {
    let wanted = normalize_reference(tag);
    names.iter().any(|n| {
        let n = normalize_reference(n);
        n == wanted
            || (!wanted.contains(':')
                && !wanted.contains('/')
                && n.rsplit_once(':').is_some_and(|(repo, t)| t == wanted && !repo.is_empty()))
            || n.split_once('@').is_some_and(|(_, d)| d == wanted)
    })
}

fn plan_docker(
    input: &str,
    blobs: &Blobs,
    opts: &OpenOptions,
) -> Result<(ScanTarget, ImageConfig, Vec<LayerPlan>), ImageError> {
    let raw = blobs.read_small(input, "manifest.json", "manifest.json", &opts.limits)?;
    let entries: Vec<DockerManifestEntry> = parse_json(input, "manifest.json", &raw)?;
    let chosen = match (&opts.tag, entries.len()) {
        (_, 0) => return Err(ImageError::invalid(input, "manifest.json", "it lists no image")),
        (None, 1) => &entries[0],
        (Some(tag), _) => entries
            .iter()
            .find(|e| tag_matches(tag, e.repo_tags.as_deref().unwrap_or_default()))
            .ok_or_else(|| no_match_docker(input, tag, &entries))?,
        (None, _) => return Err(no_match_docker(input, "one image (the archive holds several: name a tag)", &entries)),
    };
    let config_name = chosen.config.trim_start_matches("./").to_string();
    let config_raw = blobs.read_small(input, &config_name, "image config", &opts.limits)?;
    // The config's file name is its digest (`<hex>.json` or `blobs/sha256/<hex>`): check it when it is one.
    let stem = config_name.rsplit('/').next().unwrap_or("").trim_end_matches(".json");
    let actual = sha256_of(&config_raw);
    if stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit()) && actual != format!("sha256:{stem}") {
        return Err(ImageError::DigestMismatch {
            path: input.into(),
            what: format!("image config {config_name}"),
            expected: format!("sha256:{stem}"),
            actual,
        });
    }
    let config: ImageConfig = parse_json(input, "image config", &config_raw)?;
    if config.rootfs.diff_ids.len() != chosen.layers.len() {
        return Err(ImageError::invalid(
            input,
            "image config",
            format!(
                "{} layers in manifest.json but {} diff ids in the config",
                chosen.layers.len(),
                config.rootfs.diff_ids.len()
            ),
        ));
    }
    let plans = chosen
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(m, d)| {
            let member = m.trim_start_matches("./").to_string();
            // Docker ≥ 25 names layers by blob digest; those blobs are uncompressed, so digest = diff id.
            let blob_digest = member.strip_prefix("blobs/sha256/").map(|h| format!("sha256:{h}"));
            LayerPlan { member, blob_digest, diff_id: d.clone(), media_type: None }
        })
        .collect::<Vec<_>>();
    let target = ScanTarget {
        kind: TargetKind::DockerArchive,
        name: input.to_string(),
        image_id: Some(actual),
        manifest_digest: None,
        index_digest: None,
        tags: chosen.repo_tags.clone().unwrap_or_default(),
        platform: Some(config.platform()),
        layers: Vec::new(),
    };
    Ok((target, config, plans))
}

fn no_match_docker(input: &str, wanted: &str, entries: &[DockerManifestEntry]) -> ImageError {
    let tags: Vec<String> = entries.iter().flat_map(|e| e.repo_tags.clone().unwrap_or_default()).collect();
    ImageError::NoMatch {
        path: input.into(),
        wanted: wanted.into(),
        available: if tags.is_empty() { "untagged images".into() } else { tags.join(", ") },
    }
}

/// Reads a descriptor's blob, checking size and digest.
fn read_verified(
    input: &str,
    blobs: &Blobs,
    d: &Descriptor,
    what: &str,
    opts: &OpenOptions,
) -> Result<Vec<u8>, ImageError> {
    let name = blob_path(input, &d.digest)?;
    let raw = blobs.read_small(input, &name, what, &opts.limits)?;
    let actual = sha256_of(&raw);
    if actual != d.digest {
        return Err(ImageError::DigestMismatch {
            path: input.into(),
            what: what.into(),
            expected: d.digest.clone(),
            actual,
        });
    }
    if let Some(size) = d.size {
        if size != raw.len() as i64 {
            return Err(ImageError::invalid(
                input,
                what,
                format!("descriptor says {size} bytes, blob has {}", raw.len()),
            ));
        }
    }
    Ok(raw)
}

fn plan_oci(
    input: &str,
    blobs: &Blobs,
    opts: &OpenOptions,
) -> Result<(ScanTarget, ImageConfig, Vec<LayerPlan>), ImageError> {
    let raw = blobs.read_small(input, "index.json", "index.json", &opts.limits)?;
    let index: Index = parse_json(input, "index.json", &raw)?;
    // Flatten nested indexes (depth-bounded); a nested manifest inherits its parent's tag annotations, and is
    // known by the digest of the index it was listed in (a multi-platform image's).
    let mut candidates: Vec<(Descriptor, Vec<String>)> = Vec::new();
    let mut listed_in: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut stack: Vec<(Descriptor, Vec<String>, usize)> =
        index.manifests.into_iter().map(|d| (d, vec![], 0)).collect();
    stack.reverse();
    while let Some((d, mut names, depth)) = stack.pop() {
        if let Some(a) = &d.annotations {
            for key in ["org.opencontainers.image.ref.name", "io.containerd.image.name"] {
                if let Some(v) = a.get(key) {
                    names.push(v.clone());
                }
            }
        }
        if INDEX_TYPES.contains(&d.media_type.as_str()) {
            if depth >= 4 {
                return Err(ImageError::invalid(input, "index.json", "image indexes nested more than 4 deep"));
            }
            let nested: Index =
                parse_json(input, "nested image index", &read_verified(input, blobs, &d, "image index", opts)?)?;
            for n in nested.manifests.into_iter().rev() {
                listed_in.entry(n.digest.clone()).or_insert_with(|| d.digest.clone());
                stack.push((n, names.clone(), depth + 1));
            }
        } else {
            candidates.push((d, names));
        }
    }
    // Attestation manifests (`unknown/unknown`) are not images.
    candidates.retain(|(d, _)| d.platform.as_ref().is_none_or(|p| p.os != "unknown"));
    let describe = |c: &[(Descriptor, Vec<String>)]| {
        c.iter()
            .map(|(d, n)| {
                let plat = d.platform.as_ref().map(Platform::label).unwrap_or_else(|| "?".into());
                format!("{} [{plat}]", if n.is_empty() { d.digest.clone() } else { n.join(",") })
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let all = describe(&candidates);
    if let Some(tag) = &opts.tag {
        candidates.retain(|(d, names)| tag_matches(tag, names) || &d.digest == tag);
    }
    let wanted_platform = opts.platform.clone();
    if candidates.len() > 1 || wanted_platform.is_some() {
        let want = wanted_platform.clone().unwrap_or_else(host_platform);
        let (w_os_arch, w_variant) = split_platform(&want);
        candidates.retain(|(d, _)| match &d.platform {
            Some(p) => {
                format!("{}/{}", p.os, p.architecture) == w_os_arch
                    && (w_variant.is_none() || p.variant.as_deref() == w_variant.as_deref())
            }
            None => wanted_platform.is_none(),
        });
    }
    let wanted = format!(
        "{}{}",
        opts.tag.as_deref().map(|t| format!("tag {t}")).unwrap_or_else(|| "any tag".into()),
        opts.platform.as_deref().map(|p| format!(", platform {p}")).unwrap_or_default()
    );
    let (desc, names) = match candidates.len() {
        1 => candidates.remove(0),
        0 => return Err(ImageError::NoMatch { path: input.into(), wanted, available: all }),
        _ => {
            return Err(ImageError::NoMatch {
                path: input.into(),
                wanted: format!("{wanted} (several match: name a tag or --platform)"),
                available: describe(&candidates),
            })
        }
    };
    let manifest: Manifest =
        parse_json(input, "image manifest", &read_verified(input, blobs, &desc, "image manifest", opts)?)?;
    let config_raw = read_verified(input, blobs, &manifest.config, "image config", opts)?;
    let config: ImageConfig = parse_json(input, "image config", &config_raw)?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(ImageError::invalid(
            input,
            "image manifest",
            format!(
                "{} layers in the manifest but {} diff ids in the config",
                manifest.layers.len(),
                config.rootfs.diff_ids.len()
            ),
        ));
    }
    let mut plans = Vec::new();
    for (d, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        plans.push(LayerPlan {
            member: blob_path(input, &d.digest)?,
            blob_digest: Some(d.digest.clone()),
            diff_id: diff_id.clone(),
            media_type: Some(d.media_type.clone()),
        });
    }
    let target = ScanTarget {
        kind: TargetKind::OciLayout,
        name: input.to_string(),
        image_id: Some(manifest.config.digest.clone()),
        manifest_digest: Some(desc.digest.clone()),
        index_digest: listed_in.get(&desc.digest).cloned(),
        tags: names,
        platform: Some(config.platform()),
        layers: Vec::new(),
    };
    Ok((target, config, plans))
}

fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    format!("linux/{arch}")
}

fn split_platform(p: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = p.split('/').collect();
    match parts.as_slice() {
        [os, arch, variant, ..] => (format!("{os}/{arch}"), Some(variant.to_string())),
        [os, arch] => (format!("{os}/{arch}"), None),
        [arch] => (format!("linux/{arch}"), None),
        [] => (host_platform(), None),
    }
}

/// Reads every layer (in parallel), verifies its digests and squashes them in order.
pub(crate) fn squash(
    input: &str,
    blobs: &Blobs,
    target: ScanTarget,
    config: ImageConfig,
    plans: Vec<LayerPlan>,
    opts: &OpenOptions,
    selector: &dyn ContentSelector,
) -> Result<Artifact, ImageError> {
    for p in &plans {
        if !blobs.has(&p.member) {
            return Err(ImageError::MissingBlob { path: input.into(), what: "layer".into(), name: p.member.clone() });
        }
    }
    let total: u64 = plans.iter().filter_map(|p| blobs.size(&p.member)).sum();
    if let Some(pr) = &opts.progress {
        pr.begin("reading layers", Some(total));
    }
    let budget = Budget::new();
    let advance = |n: u64| {
        if let Some(pr) = &opts.progress {
            pr.advance(n)
        }
    };
    // A blob several layers use (identical empty layers) is read once, under the first of them, as when streamed.
    let mut first: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (index, p) in plans.iter().enumerate() {
        first.entry(p.member.as_str()).or_insert(index);
    }
    let read: Vec<Option<Result<LayerDelta, ImageError>>> = plans
        .par_iter()
        .enumerate()
        .map(|(index, p)| {
            if first.get(p.member.as_str()) != Some(&index) {
                return None;
            }
            let shown = format!("{input}!{}", p.member);
            Some((|| {
                let blob = blobs.open(&p.member).map_err(|e| ImageError::io(&shown, e))?.ok_or_else(|| {
                    ImageError::MissingBlob { path: input.into(), what: "layer".into(), name: p.member.clone() }
                })?;
                let ctx = LayerCtx {
                    input,
                    index,
                    name: &p.member,
                    selector,
                    limits: &opts.limits,
                    budget: &budget,
                    progress: Some(&advance),
                };
                read_layer(blob, &ctx)
            })())
        })
        .collect();
    let last: std::collections::HashMap<&str, usize> =
        plans.iter().enumerate().map(|(index, p)| (p.member.as_str(), index)).collect();
    let mut read = read;
    let deltas = plans
        .iter()
        .enumerate()
        .map(|(index, p)| {
            let at = first.get(p.member.as_str()).copied().unwrap_or(index);
            let repeated = || ImageError::Layer {
                path: input.into(),
                index,
                name: p.member.clone(),
                reason: format!("the same blob as layer {at}, which could not be read"),
            };
            let delta = match read.get_mut(at).and_then(Option::as_mut) {
                Some(Ok(d)) if last.get(p.member.as_str()) == Some(&index) => std::mem::take(d),
                Some(Ok(d)) => d.clone(),
                Some(Err(_)) if at == index => match read.get_mut(at).and_then(Option::take) {
                    Some(Err(e)) => return Err(e),
                    _ => return Err(repeated()),
                },
                _ => return Err(repeated()),
            };
            verified(input, index, p, delta)
        })
        .collect();
    if let Some(pr) = &opts.progress {
        pr.end();
    }
    assemble(target, config, &plans, deltas)
}

/// `delta`, read for layer `index` of the plan, when it has the digests the plan says it must.
pub(crate) fn verified(input: &str, index: usize, p: &LayerPlan, delta: LayerDelta) -> Result<LayerDelta, ImageError> {
    if let Some(expected) = &p.blob_digest {
        if &delta.blob_digest != expected {
            return Err(ImageError::DigestMismatch {
                path: input.into(),
                what: format!("layer {index} blob"),
                expected: expected.clone(),
                actual: delta.blob_digest.clone(),
            });
        }
    }
    if delta.diff_id != p.diff_id {
        return Err(ImageError::DigestMismatch {
            path: input.into(),
            what: format!("layer {index} diff id"),
            expected: p.diff_id.clone(),
            actual: delta.diff_id.clone(),
        });
    }
    Ok(delta)
}

/// Squashes the layers read for `plans`, in order: the first error stops it.
pub(crate) fn assemble(
    mut target: ScanTarget,
    config: ImageConfig,
    plans: &[LayerPlan],
    deltas: Vec<Result<LayerDelta, ImageError>>,
) -> Result<Artifact, ImageError> {
    let history = config.layer_history();
    let mut tree = FileTree::new();
    let mut warnings: Vec<Warning> = Vec::new();
    for (index, (delta, plan)) in deltas.into_iter().zip(plans).enumerate() {
        let delta = delta?;
        target.layers.push(LayerRef {
            index,
            diff_id: delta.diff_id.clone(),
            blob_digest: (delta.blob_digest != delta.diff_id).then(|| delta.blob_digest.clone()),
            media_type: plan.media_type.clone(),
            size: delta.blob_size,
            created_by: history.get(index).cloned().flatten(),
        });
        apply(&mut tree, delta, index, &mut warnings);
    }
    Ok(Artifact { target, config: Some(config), tree, warnings })
}

#[cfg(test)]
mod tests {
    use super::tag_matches;

    #[test]
    fn tags_match_like_docker() {
        let names = vec!["docker.io/library/app:1.0".to_string(), "1.0".to_string()];
        for t in ["1.0", "app:1.0", "docker.io/library/app:1.0", "library/app:1.0"] {
            assert!(tag_matches(t, &names), "{t}");
        }
        for t in ["1", "app:2.0", "other:1.0", "app"] {
            assert!(!tag_matches(t, &names), "{t}");
        }
        assert!(tag_matches("sha256:abc", &["app@sha256:abc".to_string()]));
    }
}
