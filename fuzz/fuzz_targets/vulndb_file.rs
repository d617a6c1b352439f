#![no_main]
//! A vulnerability database file as a server or a push delivers it: checked by `Database::verify_file`, then, when
//! accepted, read as a scan reads it (sources, counts, every lookup, advisories, ranges checked against versions).
use kestrel_vulndb::store::Database;
use kestrel_vulndb::version::Scheme;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vulndb.sqlite");
    std::fs::write(&path, data).unwrap();
    let Ok(db) = Database::verify_file(&path) else { return };
    let _ = (db.built_at(), db.ecosystems(), db.sources(), db.counts(), db.known_exploited("CVE-2021-44228"));
    let _ = db.find("CVE-2021-44228");
    let Ok(packages) = db.affected_packages() else { return };
    for (eco, name) in packages.iter().take(64) {
        let Ok(hits) = db.lookup(eco, name) else { continue };
        for h in hits.iter().take(16) {
            let _ = db.advisory(h.advisory_row);
            let Some(scheme) = Scheme::of_osv_ecosystem(eco) else { continue };
            for text in ["0", "1.0", "1:2.3-4", "2.0.0-rc.1", "99"] {
                if let Ok(v) = scheme.parse(text) {
                    let _ = h.affected.check(scheme, &v, text);
                }
            }
        }
    }
});
