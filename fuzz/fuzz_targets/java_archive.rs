#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use kestrel_catalog::Cataloger;
    let _ = kestrel_catalog::java::JavaArchiveCataloger.summarize("/fuzz.jar", data);
});
