#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = kestrel_vulndb::import::parse_debian_tracker(&text, "fuzz", &mut |_| {});
});
