#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let t = String::from_utf8_lossy(data);
    let _ = kestrel_catalog::os::parse_os_release(&t, "/etc/os-release");
    let _ = kestrel_catalog::os::parse_redhat_release(&t, "/etc/redhat-release");
});
