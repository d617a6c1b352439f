#![no_main]
use libfuzzer_sys::fuzz_target;

// A Dockerfile given to `kestrel config`: parsed (continuations, heredocs, escape directive, JSON forms) and
// checked, never a panic.
fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = kestrel_config::dockerfile::check("Dockerfile", text);
});
