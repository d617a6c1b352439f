#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kestrel_catalog::npm::parse_pnpm_lock(&String::from_utf8_lossy(data));
});
