#![no_main]
use libfuzzer_sys::fuzz_target;

// A Kubernetes manifest, image config or daemon.json given to `kestrel config` (YAML or JSON, one or more
// documents): every check runs on it, never a panic, with YAML's own limits on anchors and depth.
fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = kestrel_config::scan_text("fuzz.yaml", text);
});
