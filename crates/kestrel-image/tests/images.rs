//! Reading real image archives that the tests build: docker archives, OCI layouts (directory and tar),
//! every compression, whiteouts, multi-platform indexes, and hostile input.

use kestrel_image::*;
use kestrel_testkit::{compress, layer_tar, sha256, tar_of, Compression, Entry, Image, OciLayout};
use std::path::Path;

mod common;
use common::{f, KeepEtc};

fn three_layers() -> Image {
    Image::new(vec![
        vec![
            Entry::Dir("etc".into()),
            f("etc/os-release", "ID=debian\nVERSION_ID=12\n"),
            f("etc/passwd", "root:x:0:0"),
            Entry::Dir("opt/app".into()),
            f("opt/app/a", "a"),
            f("opt/app/b", "b"),
            Entry::Dir("usr/lib".into()),
            f("usr/lib/os-release", "ID=old"),
            f("var/lib/x", "1"),
        ],
        vec![
            Entry::Whiteout("etc/passwd".into()),
            Entry::Opaque("opt/app".into()),
            f("opt/app/c", "c"),
            f("var/lib/x", "2"),
            Entry::Symlink("etc/alias".into(), "../../../usr/lib/os-release".into()),
        ],
        vec![f("etc/passwd", "root:x:0:0:new"), Entry::Hardlink("etc/hard".into(), "var/lib/x".into())],
    ])
}

fn open_all(p: &Path) -> Result<Artifact, ImageError> {
    open(p, &OpenOptions::default(), &KeepEtc)
}

fn check_three_layers(a: &Artifact) {
    let t = &a.tree;
    assert_eq!(a.target.layers.len(), 3);
    // Whiteout then re-add: the file exists, from layer 2.
    assert_eq!(t.get("/etc/passwd").unwrap().layer, Some(2));
    assert_eq!(t.content("/etc/passwd"), Some(&b"root:x:0:0:new"[..]));
    // Opaque directory: a and b are gone, c is there.
    assert!(t.get("/opt/app/a").is_none() && t.get("/opt/app/b").is_none());
    assert_eq!(t.get("/opt/app/c").unwrap().layer, Some(1));
    // A link climbing above the root stays inside it.
    assert_eq!(t.content("/etc/alias"), None, "not kept: /usr/lib is not selected");
    assert_eq!(t.resolve("/etc/alias").as_deref(), Some("/usr/lib/os-release"));
    // A hard link takes its target's content.
    assert_eq!(t.content("/etc/hard"), Some(&b"2"[..]));
    assert_eq!(a.layer_digest(Some(1)), Some(a.target.layers[1].diff_id.as_str()));
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

#[test]
fn docker_archive_squashes_layers() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.tar");
    let img = three_layers();
    img.write_docker_archive(&p, &["app:1.0"]);
    let a = open_all(&p).unwrap();
    check_three_layers(&a);
    assert_eq!(a.target.kind, kestrel_core::TargetKind::DockerArchive);
    assert_eq!(a.target.tags, vec!["app:1.0"]);
    assert_eq!(a.target.image_id.as_deref(), Some(sha256(&img.config()).as_str()));
    assert_eq!(a.target.layers[2].created_by.as_deref(), Some("layer 2"));
}

#[test]
fn gzipped_docker_archive() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.tar");
    three_layers().write_docker_archive(&p, &["app:1.0"]);
    let gz = dir.path().join("img.tar.gz");
    std::fs::write(&gz, compress(&std::fs::read(&p).unwrap(), Compression::Gzip)).unwrap();
    check_three_layers(&open_all(&gz).unwrap());
}

#[test]
fn oci_layouts_in_every_compression() {
    for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let dir = tempfile::tempdir().unwrap();
        three_layers().write_oci_dir(dir.path(), "1.0", c);
        let a = open_all(dir.path()).unwrap();
        check_three_layers(&a);
        assert_eq!(a.target.tags, vec!["1.0"]);
        assert!(a.target.manifest_digest.is_some());
        if c != Compression::None {
            assert!(a.target.layers[0].blob_digest.is_some(), "compressed blobs have their own digest");
        }
    }
}

#[test]
fn oci_archive_tar() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = OciLayout::new();
    l.add(&three_layers(), "1.0", Compression::Gzip);
    let p = dir.path().join("oci.tar");
    l.write_tar(&p);
    check_three_layers(&open_all(&p).unwrap());
}

fn platform_image(arch: &str, marker: &str) -> Image {
    let mut i = Image::new(vec![vec![f("etc/arch", marker)]]);
    i.platform = ("linux".into(), arch.into());
    i
}

#[test]
fn picks_by_tag_and_platform() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = OciLayout::new();
    l.add_multi(&[platform_image("amd64", "x86"), platform_image("arm64", "arm")], "multi", Compression::Gzip);
    l.add(&platform_image("amd64", "solo"), "solo", Compression::Gzip);
    l.write_dir(dir.path());
    let with = |tag: Option<&str>, platform: Option<&str>| {
        let o = OpenOptions { tag: tag.map(Into::into), platform: platform.map(Into::into), ..Default::default() };
        open(dir.path(), &o, &KeepEtc)
    };
    let arm = with(Some("multi"), Some("linux/arm64")).unwrap();
    assert_eq!(arm.tree.content("/etc/arch"), Some(&b"arm"[..]));
    assert_eq!(arm.target.platform.as_deref(), Some("linux/arm64"));
    let host = with(Some("multi"), None).unwrap();
    assert_eq!(host.tree.content("/etc/arch"), Some(&b"x86"[..]), "default is the host platform (tests run on amd64)");
    assert_eq!(with(Some("solo"), None).unwrap().tree.content("/etc/arch"), Some(&b"solo"[..]));
    let err = with(Some("nope"), None).unwrap_err().to_string();
    assert!(err.contains("no image matches tag nope") && err.contains("multi") && err.contains("solo"), "{err}");
    let err = with(None, Some("linux/s390x")).unwrap_err().to_string();
    assert!(err.contains("linux/s390x"), "{err}");
}

fn tamper_blob(dir: &Path, pick: impl Fn(&[u8]) -> bool, edit: impl Fn(&mut Vec<u8>)) {
    for e in std::fs::read_dir(dir.join("blobs/sha256")).unwrap() {
        let p = e.unwrap().path();
        let mut data = std::fs::read(&p).unwrap();
        if pick(&data) {
            edit(&mut data);
            std::fs::write(&p, data).unwrap();
            return;
        }
    }
    panic!("no blob picked");
}

#[test]
fn tampered_layer_is_a_digest_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    three_layers().write_oci_dir(dir.path(), "1.0", Compression::None);
    // Change one byte of file content inside an uncompressed layer: still a valid tar, wrong digest.
    tamper_blob(
        dir.path(),
        |d| d.windows(14).any(|w| w == b"root:x:0:0:new"),
        |d| {
            let i = d.windows(14).position(|w| w == b"root:x:0:0:new").unwrap();
            d[i] = b'R';
        },
    );
    let err = open_all(dir.path()).unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("layer 2 blob"), "{err}");
}

#[test]
fn tampered_docker_layer_fails_its_diff_id() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.tar");
    let mut img = three_layers();
    let good_config = img.config();
    img.layers[1] = layer_tar(&[f("etc/evil", "x")]);
    // Keep the old config (and so the old diff ids) with the new layer.
    img.write_docker_archive(&p, &["x"]);
    let mut data = std::fs::read(&p).unwrap();
    let new_config = img.config();
    let at = data.windows(new_config.len()).position(|w| w == new_config.as_slice()).unwrap();
    data.splice(at..at + new_config.len(), good_config.iter().copied());
    std::fs::write(&p, &data).unwrap();
    let err = open_all(&p).unwrap_err().to_string();
    assert!(err.contains("digest mismatch"), "{err}");
}

#[test]
fn missing_blob_and_truncated_gzip() {
    let dir = tempfile::tempdir().unwrap();
    three_layers().write_oci_dir(dir.path(), "1.0", Compression::Gzip);
    tamper_blob(dir.path(), |d| d.starts_with(&[0x1f, 0x8b]), |d| d.truncate(d.len() / 2));
    let err = open_all(dir.path()).unwrap_err();
    assert!(matches!(err, ImageError::Layer { .. }) || matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().starts_with(&dir.path().display().to_string()), "names the input: {err}");

    let dir = tempfile::tempdir().unwrap();
    three_layers().write_oci_dir(dir.path(), "1.0", Compression::Gzip);
    let victim = std::fs::read_dir(dir.path().join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::read(p).unwrap().starts_with(&[0x1f, 0x8b]))
        .unwrap();
    std::fs::remove_file(&victim).unwrap();
    let err = open_all(dir.path()).unwrap_err();
    assert!(matches!(err, ImageError::MissingBlob { .. }), "{err}");
}

#[test]
fn decompression_bomb_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 64 << 20];
    let img = Image::new(vec![vec![Entry::File("bomb".into(), zeros)]]);
    img.write_oci_dir(dir.path(), "1.0", Compression::Gzip);
    let opts =
        OpenOptions { limits: Limits { ratio_grace_bytes: 1 << 20, ..Default::default() }, ..Default::default() };
    let err = open(dir.path(), &opts, &KeepEtc).unwrap_err();
    assert!(matches!(err, ImageError::Limit { .. }) && err.to_string().contains("decompression bomb"), "{err}");
    let opts = OpenOptions { limits: Limits { max_layer_bytes: 1 << 20, ..Default::default() }, ..Default::default() };
    let err = open(dir.path(), &opts, &KeepEtc).unwrap_err().to_string();
    assert!(err.contains("--max-layer-bytes"), "{err}");
}

#[test]
fn hostile_entries_are_skipped_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let img = Image::new(vec![vec![
        Entry::Raw(b"../../etc/shadow".to_vec(), b"x".to_vec()),
        Entry::Raw(b"/etc/abs".to_vec(), b"abs".to_vec()),
        Entry::Raw(b"etc/../../../../root".to_vec(), b"x".to_vec()),
        Entry::Hardlink("etc/h".into(), "../../../etc/passwd".into()),
        Entry::Hardlink("etc/h2".into(), "etc/does-not-exist".into()),
        Entry::CharDevice("dev/null".into()),
        Entry::Symlink("etc/out".into(), "/../../../../etc/shadow".into()),
    ]]);
    img.write_oci_dir(dir.path(), "1.0", Compression::Gzip);
    let a = open_all(dir.path()).unwrap();
    assert_eq!(a.tree.content("/etc/abs"), Some(&b"abs"[..]), "absolute paths are read relative to the root");
    assert!(a.tree.get("/etc/shadow").is_none() && a.tree.get("/root").is_none());
    assert_eq!(a.tree.get("/dev/null").unwrap().kind, NodeKind::Special);
    assert_eq!(a.tree.resolve("/etc/out").as_deref(), Some("/etc/shadow"), "resolved inside the root");
    assert!(a.tree.lookup("/etc/out").is_none(), "and that file is not in the image");
    let msgs: Vec<String> = a.warnings.iter().map(|w| format!("{}: {}", w.path, w.message)).collect();
    assert_eq!(msgs.len(), 4, "{msgs:#?}");
    assert!(msgs.iter().any(|m| m.contains("../../etc/shadow") && m.contains("climbs above the root")));
    assert!(msgs.iter().any(|m| m.contains("/etc/h:") && m.contains("hard link")));
    assert!(msgs.iter().any(|m| m.contains("/etc/h2") && m.contains("not a file")));
}

#[test]
fn too_many_entries() {
    let dir = tempfile::tempdir().unwrap();
    let entries: Vec<Entry> = (0..20_000).map(|i| Entry::File(format!("f/{i}"), vec![])).collect();
    Image::new(vec![entries]).write_oci_dir(dir.path(), "1.0", Compression::Gzip);
    let opts = OpenOptions { limits: Limits { max_entries: 10_000, ..Default::default() }, ..Default::default() };
    let err = open(dir.path(), &opts, &KeepEtc).unwrap_err().to_string();
    assert!(err.contains("more than 10000 entries"), "{err}");
    // With the default limit, all of them are there.
    assert_eq!(open_all(dir.path()).unwrap().tree.len(), 20_000);
}

#[test]
fn hostile_manifests() {
    let dir = tempfile::tempdir().unwrap();
    three_layers().write_oci_dir(dir.path(), "1.0", Compression::Gzip);
    // A digest that tries to name a path outside the layout.
    let index = std::fs::read_to_string(dir.path().join("index.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&index).unwrap();
    let digest = v["manifests"][0]["digest"].as_str().unwrap().to_string();
    std::fs::write(dir.path().join("index.json"), index.replace(&digest, "sha256:../../../../etc/passwd")).unwrap();
    let err = open_all(dir.path()).unwrap_err().to_string();
    assert!(err.contains("malformed digest"), "{err}");
    std::fs::write(dir.path().join("index.json"), "{not json").unwrap();
    let err = open_all(dir.path()).unwrap_err().to_string();
    assert!(err.contains("invalid index.json"), "{err}");
    let err = open_all(Path::new("/nonexistent/image.tar")).unwrap_err().to_string();
    assert!(err.starts_with("/nonexistent/image.tar:"), "{err}");
}

#[test]
fn plain_rootfs_tar_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rootfs.tar.zst");
    std::fs::write(
        &p,
        compress(
            &layer_tar(&[f("etc/os-release", "ID=alpine"), Entry::Symlink("etc/l".into(), "os-release".into())]),
            Compression::Zstd,
        ),
    )
    .unwrap();
    let a = open_all(&p).unwrap();
    assert_eq!(a.target.kind, kestrel_core::TargetKind::Rootfs);
    assert_eq!(a.tree.content("/etc/l"), Some(&b"ID=alpine"[..]));
    assert_eq!(a.tree.get("/etc/os-release").unwrap().layer, None);

    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/os-release"), "ID=debian").unwrap();
    std::os::unix::fs::symlink("/etc/os-release", root.join("etc/link")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", root.join("etc/host-shadow")).unwrap();
    let a = open_dir(&root, kestrel_core::TargetKind::Rootfs, &OpenOptions::default(), &KeepEtc).unwrap();
    assert_eq!(a.tree.content("/etc/link"), Some(&b"ID=debian"[..]), "absolute links resolve inside the root");
    assert_eq!(a.tree.content("/etc/host-shadow"), None, "never the host's file");
}

#[test]
fn docker_25_archive_with_oci_layout_inside() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d25.tar");
    three_layers().write_docker25_archive(&p, "app:1.0");
    for tag in [None, Some("app:1.0"), Some("1.0"), Some("docker.io/library/app:1.0")] {
        let o = OpenOptions { tag: tag.map(Into::into), ..Default::default() };
        let a = open(&p, &o, &KeepEtc).unwrap_or_else(|e| panic!("{tag:?}: {e}"));
        check_three_layers(&a);
        assert_eq!(a.target.kind, kestrel_core::TargetKind::OciLayout);
        assert!(a.target.tags.contains(&"docker.io/library/app:1.0".to_string()));
    }
    let o = OpenOptions { tag: Some("app:2.0".into()), ..Default::default() };
    assert!(open(&p, &o, &KeepEtc).unwrap_err().to_string().contains("no image matches"));
}

/// Records every (layer, path, bytes) it is shown; wants every file.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<Seen>>);
/// A file shown to the observer: its layer, path and bytes.
type Seen = (Option<usize>, String, Vec<u8>);
impl ContentSelector for Recorder {
    fn want(&self, _: &str, _: u64, _: u32) -> Want {
        Want::Summary
    }
    fn summarize_in_layer(&self, layer: Option<usize>, path: &str, data: &[u8]) -> Option<Vec<u8>> {
        self.0.lock().unwrap().push((layer, path.to_string(), data.to_vec()));
        Some(b"not kept".to_vec())
    }
}

#[test]
fn an_observer_sees_every_layers_files_and_the_kept_content_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.tar");
    three_layers().write_docker_archive(&p, &["app:1"]);
    let rec = Recorder::default();
    let a = open(&p, &OpenOptions::default(), &Observed { keep: &KeepEtc, observer: &rec }).unwrap();
    // What KeepEtc keeps is kept as without the observer, and nothing of the observer's summary is.
    check_three_layers(&a);
    assert_eq!(a.tree.content("/opt/app/c"), None);
    let mut seen: Vec<Seen> = rec.0.into_inner().unwrap();
    seen.sort();
    let has = |l: usize, p: &str, d: &str| seen.iter().any(|(x, y, z)| *x == Some(l) && y == p && z == d.as_bytes());
    // Files kept whole, files nobody keeps, and versions a later layer deletes or replaces: all observed.
    assert!(has(0, "/etc/passwd", "root:x:0:0"), "{seen:?}");
    assert!(has(2, "/etc/passwd", "root:x:0:0:new"));
    assert!(has(0, "/opt/app/a", "a") && has(1, "/opt/app/c", "c"));
    assert!(has(0, "/var/lib/x", "1") && has(1, "/var/lib/x", "2"));
    assert_eq!(seen.len(), 9, "every regular file of every layer once (a hard link is not one): {seen:?}");

    // A directory read from disk: the same.
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("srv")).unwrap();
    std::fs::write(root.join("etc/os-release"), "ID=debian\n").unwrap();
    std::fs::write(root.join("srv/run.sh"), "echo hi\n").unwrap();
    let rec = Recorder::default();
    let a = open_dir(
        &root,
        kestrel_core::TargetKind::Rootfs,
        &OpenOptions::default(),
        &Observed { keep: &KeepEtc, observer: &rec },
    )
    .unwrap();
    assert_eq!(a.tree.content("/etc/os-release"), Some(&b"ID=debian\n"[..]));
    let mut seen: Vec<Seen> = rec.0.into_inner().unwrap();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            (None, "/etc/os-release".into(), b"ID=debian\n".to_vec()),
            (None, "/srv/run.sh".into(), b"echo hi\n".to_vec())
        ]
    );
}

/// What a selector was shown of each file: its SHA-256, and whether the bytes lay in a mapping of a deleted file
/// (an unnamed temporary file, as /proc/self/maps shows it) rather than in memory of the process's own.
#[derive(Default)]
struct MapSpy(std::sync::Mutex<Vec<(String, String, bool)>>);
impl ContentSelector for MapSpy {
    fn want(&self, path: &str, _: u64, _: u32) -> Want {
        if path.starts_with("/etc/") {
            Want::Whole
        } else {
            Want::Summary
        }
    }
    fn summarize(&self, path: &str, data: &[u8]) -> Option<Vec<u8>> {
        let at = data.as_ptr() as usize;
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let in_deleted_file = maps.lines().any(|l| {
            let range = l.split(' ').next().unwrap();
            let (lo, hi) = range.split_once('-').unwrap();
            let (lo, hi) = (usize::from_str_radix(lo, 16).unwrap(), usize::from_str_radix(hi, 16).unwrap());
            (lo..hi).contains(&at) && l.ends_with("(deleted)")
        });
        self.0.lock().unwrap().push((path.to_string(), sha256(data), in_deleted_file));
        Some(sha256(data).into_bytes())
    }
}

#[test]
fn large_probed_files_go_through_a_mapped_temporary_file_and_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.tar");
    // Bytes no compressor shrinks much, so the layer's gzip does not hide a short read.
    let mut big = vec![0u8; (3 << 20) + 123];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for b in big.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let img = Image::new(vec![vec![
        f("etc/os-release", "ID=debian\n"),
        Entry::FileMode("usr/bin/big".into(), big.clone(), 0o755),
        f("usr/bin/small", "small"),
    ]]);
    img.write_docker_archive(&p, &["app:1"]);
    let read = |spill_above: u64| {
        let spy = MapSpy::default();
        let o = OpenOptions { limits: Limits { spill_above, ..Default::default() }, ..Default::default() };
        let a = open(&p, &o, &spy).unwrap();
        assert!(a.warnings.is_empty(), "{:?}", a.warnings);
        assert_eq!(a.tree.content("/etc/os-release"), Some(&b"ID=debian\n"[..]), "kept whole, never spilled");
        assert_eq!(a.tree.content("/usr/bin/big"), Some(sha256(&big).as_bytes()), "the summary is kept");
        let mut seen = spy.0.into_inner().unwrap();
        seen.sort();
        seen
    };
    assert_eq!(
        read(1 << 20),
        vec![("/usr/bin/big".into(), sha256(&big), true), ("/usr/bin/small".into(), sha256(b"small"), false)],
        "above the bound: every byte, from a mapped temporary file; below it: from memory"
    );
    assert_eq!(
        read(u64::MAX),
        vec![("/usr/bin/big".into(), sha256(&big), false), ("/usr/bin/small".into(), sha256(b"small"), false)]
    );
}

/// What is no tar archive, or a damaged one, is said plainly: the tar reader's own message quotes the header's
/// bytes as it read them (for a text file, a run of its lines), which says nothing and fills a screen. A damaged
/// header later on is named by the member before it — in an archive, read whole or as a stream, and in a layer.
#[test]
fn no_tar_or_a_damaged_one_is_said_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..60).map(|i| format!("user{i}:x:{i}:{i}:\x1b[31mUser {i}:/home/u{i}:/bin/sh\n")).collect();
    let no_tar = dir.path().join("passwd");
    std::fs::write(&no_tar, &text).unwrap();
    let err = open_all(&no_tar).unwrap_err();
    assert!(matches!(err, ImageError::Tar { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("{}: not a tar archive (its first 512 bytes are no tar header)", no_tar.display())
    );
    // A root file system's tar is one tar, no layer of an image.
    let err = open_rootfs_tar(&no_tar, &OpenOptions::default(), &KeepEtc).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: not a tar archive (its first 512 bytes are no tar header)", no_tar.display())
    );
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    for err in [open_all(&empty).unwrap_err(), open_rootfs_tar(&empty, &OpenOptions::default(), &KeepEtc).unwrap_err()]
    {
        assert_eq!(err.to_string(), format!("{}: an empty file, not a tar archive", empty.display()));
    }
    let short = dir.path().join("short");
    std::fs::write(&short, b"hello").unwrap();
    let err = open_all(&short).unwrap_err().to_string();
    assert!(err.ends_with(": it ends within its first 512 bytes (not a tar archive, or cut short)"), "{err}");

    // Two members, the second one's header damaged: its name changed under its checksum, or its size no number.
    let tar = tar_of(&[("first.txt".into(), b"one".to_vec()), ("second.txt".into(), b"two".to_vec())]);
    for (at, bytes, why) in
        [(0, &b"X"[..], "its checksum does not hold"), (124, b"zz", "its size field does not parse")]
    {
        let mut damaged = tar.clone();
        damaged[1024 + at..1024 + at + bytes.len()].copy_from_slice(bytes);
        if at != 0 {
            // Signed anew, so only the field is wrong.
            let header = &mut damaged[1024..1536];
            header[148..156].fill(b' ');
            let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
            header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        }
        let plain = dir.path().join("damaged.tar");
        std::fs::write(&plain, &damaged).unwrap();
        let want = format!("a damaged tar header after `first.txt` ({why})");
        let err = open_all(&plain).unwrap_err();
        assert!(matches!(err, ImageError::Tar { .. }) && err.to_string().ends_with(&want), "{err}");
        let gz = dir.path().join("damaged.tar.gz");
        std::fs::write(&gz, compress(&damaged, Compression::Gzip)).unwrap();
        let err = open_all(&gz).unwrap_err();
        assert!(matches!(err, ImageError::Tar { .. }) && err.to_string().ends_with(&want), "{err}");
    }
    // Cut inside the first member's data.
    let cut = dir.path().join("cut.tar");
    std::fs::write(&cut, &tar[..700]).unwrap();
    let err = open_all(&cut).unwrap_err().to_string();
    assert!(err.ends_with("it ends early (cut short?) in or after `first.txt`"), "{err}");

    // A layer of an image, its second header's checksum broken: the layer and the member before are named.
    let layout = tempfile::tempdir().unwrap();
    three_layers().write_oci_dir(layout.path(), "1.0", Compression::None);
    let first = std::sync::Mutex::new(String::new());
    tamper_blob(
        layout.path(),
        |d| d.len() > 1536 && &d[257..262] == b"ustar",
        |d| {
            let name = d[..100].split(|b| *b == 0).next().unwrap();
            *first.lock().unwrap() = String::from_utf8(name.to_vec()).unwrap();
            let size = std::str::from_utf8(&d[124..135]).unwrap();
            let second = 512 + (u64::from_str_radix(size, 8).unwrap() as usize).div_ceil(512) * 512;
            d[second] ^= 1;
        },
    );
    let err = open_all(layout.path()).unwrap_err();
    let want = format!("a damaged tar header after `{}` (its checksum does not hold)", first.lock().unwrap());
    assert!(matches!(err, ImageError::Layer { .. }) && err.to_string().ends_with(&want), "{err}");
}
