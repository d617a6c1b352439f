#![no_main]
use libfuzzer_sys::fuzz_target;

// A whole `db import` of a zip: corrupt archives, hostile entries, and the database write around them.
fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("all.zip");
    std::fs::write(&zip, data).unwrap();
    let db = dir.path().join("db");
    let mut w = kestrel_vulndb::store::Writer::begin(&db).unwrap();
    if kestrel_vulndb::import::import(&mut w, &zip, Some("osv:Fuzz"), None).is_ok() {
        w.commit("2026-01-01T00:00:00Z").unwrap();
        let d = kestrel_vulndb::store::Database::open(&db).unwrap();
        let _ = d.counts().unwrap();
    }
});
