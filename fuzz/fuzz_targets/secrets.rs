#![no_main]
use kestrel_secrets::Scanner;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

// A file's bytes searched for hardcoded credentials (every file of every layer, `kestrel secrets`): the
// keyword search, the rules' patterns, entropy and the verifiers never panic, whatever the bytes.
fuzz_target!(|data: &[u8]| {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    let _ = SCANNER.get_or_init(Scanner::new).scan_bytes("fuzz.env", data);
});
