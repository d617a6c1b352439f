//! Images read from a stream, front to back, once: a `docker save` archive or an OCI layout tar as a container
//! engine sends it, or as `docker save` writes it to a pipe. Nothing is written to disk.
//!
//! Such an archive names its layers and their order only at its end (`manifest.json`, `index.json` come last), so
//! each blob is read as a layer the moment it arrives — hashed, its files selected, under its position in the stream
//! — and the image is put together once the manifest is known: the layers renumbered, their digests checked against
//! the manifest and config, blobs the image does not use dropped. Small JSON members (manifests, configurations,
//! indexes) are kept whole, within the metadata limits.

use crate::blobs::Blobs;
use crate::image::{assemble, plan_image, verified};
use crate::io::{sniff, BoundedReader, Compression, LimitHit};
use crate::layer::{read_layer, Budget, LayerCtx, LayerDelta};
use crate::tree::{normalize_archive_path, ContentSelector};
use crate::{Artifact, ImageError, OpenOptions};
use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, BufReader, Read};

/// A blob read as a layer while it streamed past.
pub(crate) struct Streamed {
    /// Its position among the blobs read as layers.
    position: usize,
    /// Its size as stored.
    size: u64,
    read: Result<LayerDelta, ImageError>,
}

/// Reads an image archive from `reader` (`total` bytes long, when known: for the progress bar only); `input` names it
/// in messages and in the result.
pub(crate) fn open_stream(
    input: &str,
    reader: impl Read,
    total: Option<u64>,
    opts: &OpenOptions,
    selector: &dyn ContentSelector,
) -> Result<Artifact, ImageError> {
    let Some(p) = opts.progress.as_deref() else { return read_stream(input, reader, opts, selector) };
    p.begin("reading", total);
    let advance = |n: u64| p.advance(n);
    let read = read_stream(input, BoundedReader::new(reader, u64::MAX).with_progress(Some(&advance)), opts, selector);
    p.end();
    read
}

fn read_stream(
    input: &str,
    reader: impl Read,
    opts: &OpenOptions,
    selector: &dyn ContentSelector,
) -> Result<Artifact, ImageError> {
    let limits = &opts.limits;
    let mut raw = BufReader::with_capacity(1 << 20, reader);
    let kind = sniff(raw.fill_buf().map_err(|e| ImageError::io(input, e))?);
    let decompressed: Box<dyn Read> = match kind {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(raw).map_err(|e| ImageError::io(input, e))?)
        }
    };
    // The layers are bounded one by one and together; this bounds what is neither (blobs no image uses).
    let over = |max| LimitHit(format!("the archive is larger than {max} bytes"), "--max-total-bytes");
    let mut archive = tar::Archive::new(BoundedReader::new(decompressed, limits.max_archive_bytes()).over(over));
    let budget = Budget::new();
    let mut small: HashMap<String, Vec<u8>> = HashMap::new();
    let mut small_bytes = 0u64;
    let mut dropped: HashSet<String> = HashSet::new();
    let mut layers: HashMap<String, Streamed> = HashMap::new();
    let mut members = 0u64;
    let mut streamed = 0usize;
    // The last member's name, for an error in what follows it.
    let mut last: Option<Vec<u8>> = None;
    for entry in archive.entries().map_err(|e| ImageError::tar(input, e, None))? {
        let entry = entry.map_err(|e| ImageError::tar(input, e, last.as_deref()))?;
        last = Some(entry.path_bytes().into_owned());
        let tar_err = |e| ImageError::tar(input, e, last.as_deref());
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        members += 1;
        if members > limits.max_entries {
            return Err(ImageError::Limit {
                path: input.to_string(),
                what: format!("more than {} archive members", limits.max_entries),
                knob: "--max-entries",
            });
        }
        let Ok(name) = normalize_archive_path(&entry.path_bytes()) else { continue };
        let name = name.trim_start_matches('/').to_string();
        let size = entry.size();
        let mut member = BufReader::with_capacity(64 << 10, entry);
        let head = member.fill_buf().map_err(tar_err)?;
        let json = head.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| matches!(b, b'{' | b'['));
        if json && size <= limits.max_metadata_bytes {
            small_bytes += size;
            if small_bytes > limits.max_metadata_kept() {
                // Not kept; an error only if the image needs it (a root file system full of JSON files needs none).
                io::copy(&mut member, &mut io::sink()).map_err(tar_err)?;
                layers.remove(&name);
                small.remove(&name);
                dropped.insert(name);
                continue;
            }
            let mut bytes = Vec::with_capacity(size as usize);
            member.read_to_end(&mut bytes).map_err(tar_err)?;
            layers.remove(&name);
            dropped.remove(&name);
            small.insert(name, bytes);
            continue;
        }
        // Anything else may be a layer: read as one now, kept only if the manifest names it. Positions are never
        // reused (a member replaced by a later one of the same name keeps its own, which nothing maps).
        let position = streamed;
        streamed += 1;
        let ctx = LayerCtx { input, index: position, name: &name, selector, limits, budget: &budget, progress: None };
        let read = read_layer(&mut member, &ctx);
        // A member that is no layer (`VERSION`) stops its reading early; the archive goes on after it.
        io::copy(&mut member, &mut io::sink()).map_err(tar_err)?;
        small.remove(&name);
        dropped.remove(&name);
        layers.insert(name, Streamed { position, size, read });
    }
    let blobs = Blobs::Streamed {
        small,
        layers: layers.iter().map(|(name, l)| (name.clone(), l.size)).collect(),
        dropped: dropped.into_iter().map(|name| (name, limits.max_metadata_kept())).collect(),
    };
    let (target, config, plans) = plan_image(input, &blobs, opts)?;
    // The last layer using each streamed blob takes it; others (identical empty layers share one) clone it.
    let last_use: HashMap<&str, usize> = plans.iter().enumerate().map(|(i, p)| (p.member.as_str(), i)).collect();
    let mut index_of: HashMap<usize, usize> = HashMap::new();
    let mut deltas: Vec<Option<Result<LayerDelta, ImageError>>> = Vec::with_capacity(plans.len());
    for (index, p) in plans.iter().enumerate() {
        let Some(l) = layers.get_mut(&p.member) else {
            deltas.push(None);
            continue;
        };
        index_of.entry(l.position).or_insert(index);
        let read = match &l.read {
            Err(e) => Err(renumbered(e, input, &p.member, l.position, index)),
            Ok(_) if last_use.get(p.member.as_str()) == Some(&index) => {
                std::mem::replace(&mut l.read, Ok(LayerDelta::default()))
            }
            Ok(d) => Ok(d.clone()),
        };
        deltas.push(Some(read));
    }
    // What the selector saw was numbered by stream position; from here on it sees final indexes.
    selector.renumber_layers(&|position| index_of.get(&position).copied());
    let deltas = plans
        .iter()
        .zip(deltas)
        .enumerate()
        .map(|(index, (p, read))| {
            let delta = match read {
                Some(read) => read?,
                // A layer whose first bytes looked like JSON (a tar whose first file is named `{…`) was kept whole.
                None => match blobs.open(&p.member).map_err(|e| ImageError::io(format!("{input}!{}", p.member), e))? {
                    Some(bytes) => {
                        let ctx = LayerCtx {
                            input,
                            index,
                            name: &p.member,
                            selector,
                            limits,
                            budget: &budget,
                            progress: None,
                        };
                        read_layer(bytes, &ctx)?
                    }
                    None => {
                        return Err(ImageError::MissingBlob {
                            path: input.into(),
                            what: "layer".into(),
                            name: p.member.clone(),
                        })
                    }
                },
            };
            verified(input, index, p, delta)
        })
        .collect();
    assemble(target, config, &plans, deltas)
}

/// An error met reading the blob `name` at stream `position`, told of as layer `index`'s.
fn renumbered(e: &ImageError, input: &str, name: &str, position: usize, index: usize) -> ImageError {
    match e {
        ImageError::Layer { path, name, reason, .. } => {
            ImageError::Layer { path: path.clone(), index, name: name.clone(), reason: reason.clone() }
        }
        ImageError::Limit { path, what, knob } => ImageError::Limit {
            path: path.replace(&format!(" layer {position} ("), &format!(" layer {index} (")),
            what: what.clone(),
            knob,
        },
        // read_layer makes no other errors; said as they were, should that change.
        other => {
            ImageError::Layer { path: input.to_string(), index, name: name.to_string(), reason: other.to_string() }
        }
    }
}
