#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(blobs) = kestrel_catalog::rpm::read_bdb(data) {
        for b in blobs {
            let _ = kestrel_catalog::rpm::parse_header(&b);
        }
    }
});
