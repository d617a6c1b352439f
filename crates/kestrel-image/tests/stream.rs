//! Images read from a stream ([`kestrel_image::open_stream`]), as a container engine sends them: every archive form
//! gives what reading the same archive from disk gives, whatever order the archive's members come in, and hostile
//! streams get clear errors.

use kestrel_image::*;
use kestrel_testkit::{compress, layer_tar, tar_members, tar_of, Compression, Entry, Image, OciLayout};
use std::path::Path;
use std::sync::Mutex;

mod common;
use common::{f, KeepEtc};

fn image() -> Image {
    Image::new(vec![
        vec![
            Entry::Dir("etc".into()),
            f("etc/os-release", "ID=debian\nVERSION_ID=12\n"),
            f("etc/passwd", "root:x:0:0"),
            Entry::Dir("opt/app".into()),
            f("opt/app/a", "a"),
            f("var/lib/x", "1"),
            Entry::Raw(b"../../escape".to_vec(), b"x".to_vec()),
        ],
        vec![Entry::Whiteout("etc/passwd".into()), Entry::Opaque("opt/app".into()), f("var/lib/x", "2")],
        vec![f("etc/passwd", "root:x:0:0:new"), Entry::Hardlink("etc/hard".into(), "var/lib/x".into())],
    ])
}

/// Records the (layer, path) of every file shown to it, renumbering as told.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(Option<usize>, String)>>,
    renumbered: Mutex<usize>,
}
impl ContentSelector for Recorder {
    fn want(&self, _: &str, _: u64, _: u32) -> Want {
        Want::Summary
    }
    fn summarize_in_layer(&self, layer: Option<usize>, path: &str, _: &[u8]) -> Option<Vec<u8>> {
        self.seen.lock().unwrap().push((layer, path.to_string()));
        None
    }
    fn renumber_layers(&self, index: &dyn Fn(usize) -> Option<usize>) {
        *self.renumbered.lock().unwrap() += 1;
        let mut v = self.seen.lock().unwrap();
        v.retain_mut(|(l, _)| match l.map(index) {
            Some(Some(i)) => {
                *l = Some(i);
                true
            }
            Some(None) => false,
            None => true,
        });
    }
}

fn stream(p: &Path, sel: &dyn ContentSelector) -> Result<Artifact, ImageError> {
    open_stream("engine:app", std::fs::File::open(p).unwrap(), &OpenOptions::default(), sel)
}

/// What a reader made of an image, comparable between two reads.
fn summary(a: &Artifact) -> String {
    let mut t = a.target.clone();
    t.name.clear();
    let mut out = format!("{t:?}\n{:?}\n", a.warnings);
    for (p, n) in a.tree.iter() {
        out.push_str(&format!("{p} {:?} {:?} {:?}\n", n.kind, n.layer, a.tree.content(p)));
    }
    out
}

/// The members of the tar at `p`, in order.
fn members(p: &Path) -> Vec<(String, Vec<u8>)> {
    tar_members(&std::fs::read(p).unwrap())
}

fn write_tar(p: &Path, members: &[(String, Vec<u8>)]) {
    std::fs::write(p, tar_of(members)).unwrap();
}

#[test]
fn every_archive_form_streams_to_what_reading_it_from_disk_gives() {
    let dir = tempfile::tempdir().unwrap();
    let docker = dir.path().join("docker.tar");
    image().write_docker_archive(&docker, &["app:1.0"]);
    let gz = dir.path().join("docker.tar.gz");
    std::fs::write(&gz, compress(&std::fs::read(&docker).unwrap(), Compression::Gzip)).unwrap();
    let zst = dir.path().join("docker.tar.zst");
    std::fs::write(&zst, compress(&std::fs::read(&docker).unwrap(), Compression::Zstd)).unwrap();
    let d25 = dir.path().join("d25.tar");
    image().write_docker25_archive(&d25, "app:1.0");
    let mut inputs = vec![docker.clone(), gz, zst, d25];
    for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let p = dir.path().join(format!("oci-{c:?}.tar"));
        let mut l = OciLayout::new();
        l.add(&image(), "1.0", c);
        l.write_tar(&p);
        inputs.push(p);
    }
    for p in &inputs {
        let from_disk = open(p, &OpenOptions::default(), &KeepEtc).unwrap();
        let streamed = stream(p, &KeepEtc).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(summary(&streamed), summary(&from_disk), "{}", p.display());
        assert_eq!(streamed.target.name, "engine:app");
        assert_eq!(streamed.target.layers.len(), 3);
        assert_eq!(streamed.tree.content("/etc/passwd"), Some(&b"root:x:0:0:new"[..]));
        assert_eq!(streamed.tree.content("/etc/hard"), Some(&b"2"[..]));
        assert_eq!(streamed.warnings.len(), 1, "the entry climbing out of the root: {:?}", streamed.warnings);
        assert!(streamed.warnings[0].path.starts_with("layer 0:"), "{:?}", streamed.warnings);
    }
}

#[test]
fn layers_arriving_out_of_order_are_put_in_the_manifests_order() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("docker.tar");
    image().write_docker_archive(&p, &["app:1.0"]);
    let in_order = open(&p, &OpenOptions::default(), &KeepEtc).unwrap();
    // The manifest first, the layers last to first, and a blob no image uses among them.
    let mut m = members(&p);
    m.reverse();
    m.insert(2, ("junk/layer.tar".into(), layer_tar(&[f("etc/junk", "secret")])));
    let shuffled = dir.path().join("shuffled.tar");
    write_tar(&shuffled, &m);
    let rec = Recorder::default();
    let a = stream(&shuffled, &Observed { keep: &KeepEtc, observer: &rec }).unwrap();
    assert_eq!(summary(&a), summary(&in_order));
    assert_eq!(a.tree.get("/etc/passwd").unwrap().layer, Some(2), "the top layer, streamed first");
    assert!(a.tree.get("/etc/junk").is_none());
    assert!(a.warnings[0].path.starts_with("layer 0:"), "{:?}", a.warnings);
    // The observer saw every layer's files under the layer's index in the image (not the entry climbing out of the
    // root), and nothing of the junk blob.
    assert_eq!(*rec.renumbered.lock().unwrap(), 1);
    let mut seen = rec.seen.into_inner().unwrap();
    seen.sort();
    let expected: Vec<(Option<usize>, String)> = [
        (0, "/etc/os-release"),
        (0, "/etc/passwd"),
        (0, "/opt/app/a"),
        (0, "/var/lib/x"),
        (1, "/var/lib/x"),
        (2, "/etc/passwd"),
    ]
    .iter()
    .map(|(l, p)| (Some(*l), p.to_string()))
    .collect();
    assert_eq!(seen, expected);
}

#[test]
fn one_blob_used_by_two_layers_and_a_layer_that_looks_like_json() {
    let dir = tempfile::tempdir().unwrap();
    // Layer 1's only file is named `{"a":1}`: its first bytes are those of a JSON document.
    let img = Image::new(vec![vec![f("etc/one", "1")], vec![f("{\"a\":1}", "j")], vec![f("etc/one", "1")]]);
    let p = dir.path().join("docker.tar");
    img.write_docker_archive(&p, &["app:1.0"]);
    // Layers 0 and 2 are the same bytes: make the manifest name one member for both, and drop the other.
    let mut m = members(&p);
    let manifest_at = m.iter().position(|(n, _)| n == "manifest.json").unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&m[manifest_at].1).unwrap();
    let first = manifest[0]["Layers"][0].clone();
    let dropped = manifest[0]["Layers"][2].as_str().unwrap().to_string();
    manifest[0]["Layers"][2] = first;
    m[manifest_at].1 = serde_json::to_vec(&manifest).unwrap();
    m.retain(|(n, _)| *n != dropped);
    let shared = dir.path().join("shared.tar");
    write_tar(&shared, &m);
    let rec = Recorder::default();
    let a = stream(&shared, &Observed { keep: &KeepEtc, observer: &rec }).unwrap();
    assert_eq!(a.target.layers.len(), 3);
    assert_eq!(a.target.layers[0].diff_id, a.target.layers[2].diff_id);
    assert_eq!(a.tree.get("/etc/one").unwrap().layer, Some(2));
    assert_eq!(a.tree.get("/{\"a\":1}").unwrap().layer, Some(1));
    let mut seen = rec.seen.into_inner().unwrap();
    seen.sort();
    assert_eq!(seen, vec![(Some(0), "/etc/one".to_string()), (Some(1), "/{\"a\":1}".to_string())]);
    // Read from disk, the shared blob is read once too, under the first layer using it: the same files observed.
    let rec = Recorder::default();
    let from_disk = open(&shared, &OpenOptions::default(), &Observed { keep: &KeepEtc, observer: &rec }).unwrap();
    assert_eq!(summary(&from_disk), summary(&a));
    let mut on_disk = rec.seen.into_inner().unwrap();
    on_disk.sort();
    assert_eq!(on_disk, seen);
}

#[test]
fn hostile_streams_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("docker.tar");
    image().write_docker_archive(&p, &["app:1.0"]);
    let bytes = std::fs::read(&p).unwrap();
    let from = |b: &[u8], limits: Limits| {
        open_stream("podman:app", b, &OpenOptions { limits, ..Default::default() }, &KeepEtc)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    // Cut short: in a layer, or before the manifest came.
    let err = from(&bytes[..bytes.len() / 3], Limits::default());
    assert!(err.starts_with("podman:app: ") && err.contains("ends early"), "{err}");
    let manifest_header = bytes.windows(13).rposition(|w| w == b"manifest.json").unwrap() / 512 * 512;
    let err = from(&bytes[..manifest_header], Limits::default());
    assert!(err.starts_with("podman:app: ") && err.contains("manifest.json"), "{err}");
    // Not an archive at all.
    let err = from(b"<html>502 Bad Gateway</html>", Limits::default());
    assert!(err.starts_with("podman:app: "), "{err}");
    // A layer the manifest names that is not there, and one that is corrupt: named by its place in the image.
    let mut m = members(&p);
    let layer2 = m.iter().position(|(n, d)| n.ends_with("layer.tar") && d.windows(14).any(|w| w == b"root:x:0:0:new"));
    let layer2 = layer2.unwrap();
    m[layer2].1.truncate(700);
    m.reverse();
    let broken = dir.path().join("broken.tar");
    write_tar(&broken, &m);
    let err = stream(&broken, &KeepEtc).unwrap_err();
    assert!(matches!(err, ImageError::Layer { index: 2, .. }), "{err}");
    m.remove(m.len() - 1 - layer2);
    write_tar(&broken, &m);
    let err = stream(&broken, &KeepEtc).unwrap_err();
    assert!(matches!(err, ImageError::MissingBlob { .. }), "{err}");
    // The limits: the whole archive, and its JSON members.
    let err = from(&bytes, Limits { max_total_bytes: 1000, max_metadata_bytes: 100, ..Default::default() });
    assert!(err.contains("--max-total-bytes") || err.contains("--max-metadata-bytes"), "{err}");
    let err = from(&bytes, Limits { max_metadata_bytes: 100, ..Default::default() });
    assert!(err.contains("--max-metadata-bytes") && err.contains("manifest.json"), "{err}");
    // Fifty JSON documents before the manifest: not all are kept, and the manifest is not.
    let mut many = Vec::new();
    for i in 0..50 {
        many.push((format!("{i}.json"), format!("{{\"pad\": \"{}\"}}", "x".repeat(900)).into_bytes()));
    }
    many.extend(members(&p));
    let tar = dir.path().join("many.tar");
    write_tar(&tar, &many);
    let err = from(&std::fs::read(&tar).unwrap(), Limits { max_metadata_bytes: 1000, ..Default::default() });
    assert!(err.contains("manifest.json not kept") && err.contains("--max-metadata-bytes"), "{err}");
}

#[test]
fn a_compressed_archive_on_disk_is_read_as_a_stream_and_a_compressed_root_file_system_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    // A root file system full of JSON files (more than the metadata kept while streaming), gzip-compressed.
    let mut files: Vec<Entry> = (0..50).map(|i| f(&format!("app/{i}.json"), &format!("{{\"n\": {i}}}"))).collect();
    files.push(f("etc/os-release", "ID=alpine\n"));
    let rootfs = dir.path().join("rootfs.tar.gz");
    std::fs::write(&rootfs, compress(&layer_tar(&files), Compression::Gzip)).unwrap();
    let opts = OpenOptions { limits: Limits { max_metadata_bytes: 64, ..Default::default() }, ..Default::default() };
    let a = open(&rootfs, &opts, &KeepEtc).unwrap();
    assert_eq!(a.target.kind, kestrel_core::TargetKind::Rootfs);
    assert_eq!(a.tree.len(), 51, "every file");
    assert_eq!(a.tree.content("/etc/os-release"), Some(&b"ID=alpine\n"[..]));
    // A compressed image archive has no identity before it is read (its manifest comes last), and opens.
    let p = dir.path().join("docker.tar");
    image().write_docker_archive(&p, &["app:1.0"]);
    let zst = dir.path().join("docker.tar.zst");
    std::fs::write(&zst, compress(&std::fs::read(&p).unwrap(), Compression::Zstd)).unwrap();
    assert!(identify(&zst, &OpenOptions::default()).unwrap().is_none());
    assert!(identify(&p, &OpenOptions::default()).unwrap().is_some());
    let a = open(&zst, &OpenOptions::default(), &KeepEtc).unwrap();
    assert_eq!(summary(&a), summary(&open(&p, &OpenOptions::default(), &KeepEtc).unwrap()));
}

#[test]
fn a_member_given_twice_is_read_as_its_last_copy_and_only_that_one_is_observed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("docker.tar");
    image().write_docker_archive(&p, &["app:1.0"]);
    let from_disk = Recorder::default();
    let expected = open(&p, &OpenOptions::default(), &Observed { keep: &KeepEtc, observer: &from_disk }).unwrap();
    // Layer 0's member first holds other files (a decoy, then replaced, as a tar reader keeps the last copy), then a
    // blob no image uses, then the archive as it was.
    let mut m = members(&p);
    let layer0 = m.iter().find(|(n, d)| n.ends_with("layer.tar") && d.windows(9).any(|w| w == b"os-releas")).unwrap();
    let decoy = (layer0.0.clone(), layer_tar(&[f("etc/decoy", "x")]));
    m.insert(0, ("unused/layer.tar".into(), layer_tar(&[f("etc/unused", "y")])));
    m.insert(0, decoy);
    let twice = dir.path().join("twice.tar");
    write_tar(&twice, &m);
    let streamed = Recorder::default();
    let a = stream(&twice, &Observed { keep: &KeepEtc, observer: &streamed }).unwrap();
    assert_eq!(summary(&a), summary(&expected));
    let (mut seen, mut want) = (streamed.seen.into_inner().unwrap(), from_disk.seen.into_inner().unwrap());
    seen.sort();
    want.sort();
    assert_eq!(seen, want, "neither the decoy's nor the unused blob's files, each layer's under its index");
}
