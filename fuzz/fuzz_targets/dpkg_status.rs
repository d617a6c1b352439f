#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kestrel_catalog::dpkg::parse_status(&String::from_utf8_lossy(data));
    let _ = kestrel_catalog::dpkg::copyright_licenses(&String::from_utf8_lossy(data));
});
