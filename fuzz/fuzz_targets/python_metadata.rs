#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let t = String::from_utf8_lossy(data);
    let _ = kestrel_catalog::python::parse_metadata(&t);
    let _ = kestrel_catalog::python::parse_requirements(&t);
    let _ = kestrel_catalog::python::parse_poetry_lock(&t);
    let _ = kestrel_catalog::python::parse_pipfile_lock(&t);
});
