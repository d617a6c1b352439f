#![no_main]
//! A tar-split record (containers-storage's description of a layer's tar) over a small layer directory: whatever its
//! records say, putting the tar together never panics and never reads outside the directory (a file outside holds
//! bytes no record can spell).
use libfuzzer_sys::fuzz_target;
use std::io::{Read, Write};

fuzz_target!(|data: &[u8]| {
    let d = tempfile::tempdir().unwrap();
    let layer = d.path().join("layer");
    std::fs::create_dir_all(layer.join("etc")).unwrap();
    std::fs::write(layer.join("etc/a"), b"inside").unwrap();
    // What no record can spell: the temporary directory's random name.
    let secret = format!("outside {}", d.path().display()).into_bytes();
    std::fs::write(d.path().join("outside"), &secret).unwrap();
    let _ = std::os::unix::fs::symlink("/", layer.join("up"));
    let _ = std::os::unix::fs::symlink(d.path().join("outside"), layer.join("link"));
    // The fuzzer's bytes are the record's JSON lines, gzip-compressed as the store keeps them.
    let split = d.path().join("layer.tar-split.gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&split).unwrap(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap();
    let Ok(r) = kestrel_image::storage::Reassembled::open(&split, &layer) else { return };
    let mut out = Vec::new();
    let _ = r.take(64 << 20).read_to_end(&mut out);
    assert!(!out.windows(secret.len()).any(|w| w == secret), "read outside the layer's directory");
});
