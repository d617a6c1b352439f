#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kestrel_catalog::dotnet::parse_deps_json(data);
    let _ = kestrel_catalog::dotnet::parse_packages_lock(data);
});
