#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A whole image archive (docker save or OCI layout in a tar): manifests, indexes, configs, blobs.
    let Ok(mut f) = tempfile::NamedTempFile::new() else { return };
    if std::io::Write::write_all(&mut f, data).is_err() {
        return;
    }
    let catalog = kestrel_catalog::Catalog::new(kestrel_catalog::Scope::Image);
    let mut opts = kestrel_image::OpenOptions::default();
    opts.limits.max_total_bytes = 64 << 20;
    opts.limits.max_layer_bytes = 64 << 20;
    if let Ok(a) = kestrel_image::open(f.path(), &opts, &catalog) {
        let _ = catalog.run(&a);
    }
});
