#![no_main]
use libfuzzer_sys::fuzz_target;

// An SBOM given to `kestrel sbom`: CycloneDX from any tool, or kestrel JSON.
fuzz_target!(|data: &[u8]| {
    let _ = kestrel_report::read_sbom(data, "fuzz.json");
});
