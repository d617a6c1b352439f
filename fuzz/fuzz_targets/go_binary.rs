#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((v, info)) = kestrel_catalog::golang::read_buildinfo(data) {
        let _ = kestrel_catalog::golang::parse_modinfo(&v, &info);
    }
    let _ = kestrel_catalog::golang::parse_go_mod(&String::from_utf8_lossy(data));
    let _ = kestrel_catalog::rust::read_auditable(data);
});
