#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A layer / root file system tar, any compression, read with every cataloger selecting content.
    let catalog = kestrel_catalog::Catalog::new(kestrel_catalog::Scope::Directory);
    let opts = kestrel_image::OpenOptions { limits: small_limits(), ..Default::default() };
    if let Ok(a) = kestrel_image::read_rootfs_tar(data, "fuzz", &opts, &catalog) {
        let _ = catalog.run(&a);
    }
});

fn small_limits() -> kestrel_image::Limits {
    kestrel_image::Limits {
        max_layer_bytes: 64 << 20,
        max_total_bytes: 64 << 20,
        max_entries: 100_000,
        ..Default::default()
    }
}
