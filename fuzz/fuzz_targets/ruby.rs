#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let t = String::from_utf8_lossy(data);
    let _ = kestrel_catalog::ruby::parse_gemspec(&t);
    let _ = kestrel_catalog::ruby::parse_gemfile_lock(&t);
});
