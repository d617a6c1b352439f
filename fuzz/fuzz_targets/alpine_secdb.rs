#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kestrel_vulndb::import::parse_alpine_secdb(data, "fuzz", &mut |_| {});
});
