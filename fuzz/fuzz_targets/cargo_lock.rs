#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kestrel_catalog::rust::parse_cargo_lock(&String::from_utf8_lossy(data));
    let _ = kestrel_catalog::rust::parse_audit_section(data);
});
