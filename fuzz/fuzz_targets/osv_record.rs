#![no_main]
use libfuzzer_sys::fuzz_target;

// An OSV record (JSON, or YAML when it does not start with `{`): never a panic, whatever the content.
fuzz_target!(|data: &[u8]| {
    let yaml = !data.first().is_some_and(|b| *b == b'{');
    let _ = kestrel_vulndb::osv::parse_record(data, yaml, "fuzz");
});
