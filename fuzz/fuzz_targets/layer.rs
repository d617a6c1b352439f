#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A layer / root file system tar, any compression, read with every cataloger selecting content — twice: with
    // every probed file above 256 bytes sent through a mapped temporary file, and with none. Neither may panic, and
    // both must find the same packages and say the same warnings.
    let catalog = kestrel_catalog::Catalog::new(kestrel_catalog::Scope::Directory);
    let read = |spill_above: u64| {
        let opts = kestrel_image::OpenOptions { limits: small_limits(spill_above), ..Default::default() };
        kestrel_image::read_rootfs_tar(data, "fuzz", &opts, &catalog).map(|a| {
            let inv = catalog.run(&a);
            let mut packages: Vec<String> =
                inv.packages.iter().map(|p| serde_json::to_string(p).unwrap()).collect();
            packages.sort();
            let warnings: Vec<String> =
                a.warnings.iter().chain(&inv.warnings).map(|w| format!("{}: {}", w.path, w.message)).collect();
            (packages, warnings)
        })
    };
    let (spilled, in_memory) = (read(256), read(u64::MAX));
    match (spilled, in_memory) {
        (Ok(s), Ok(m)) => assert_eq!(s, m, "spilling changed what was found"),
        (Err(s), Err(m)) => assert_eq!(s.to_string(), m.to_string()),
        (s, m) => panic!("spilling changed whether the layer reads: {:?} against {:?}", s.err(), m.err()),
    }
});

fn small_limits(spill_above: u64) -> kestrel_image::Limits {
    kestrel_image::Limits {
        max_layer_bytes: 64 << 20,
        max_total_bytes: 64 << 20,
        max_entries: 100_000,
        spill_above,
        ..Default::default()
    }
}
