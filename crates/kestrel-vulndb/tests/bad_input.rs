//! Hostile and broken vulnerability data: the bad record is skipped with a counted warning that names it, the
//! rest goes in, and a failed import leaves the database as it was.

use kestrel_vulndb::import::import;
use kestrel_vulndb::store::{Database, Writer};
use std::io::Write;
use std::path::Path;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/db").join(name)
}

fn zip(path: &Path, entries: &[(&str, Vec<u8>)]) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        z.start_file(*name, opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

fn record(id: &str, events: &str) -> Vec<u8> {
    format!(
        r#"{{"id":"{id}","modified":"2024-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"PyPI","name":"demo"}},
        "ranges":[{{"type":"ECOSYSTEM","events":{events}}}]}}]}}"#
    )
    .into_bytes()
}

#[test]
fn bad_records_are_skipped_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("all.zip");
    let many: String = (0..5000).map(|i| format!(r#"{{"introduced":"{i}.0"}}"#)).collect::<Vec<_>>().join(",");
    zip(
        &z,
        &[
            ("GOOD-1.json", record("GOOD-1", r#"[{"introduced":"0"},{"fixed":"1.2"}]"#)),
            ("NOTJSON.json", b"{ this is not json".to_vec()),
            ("SCHEMA.json", br#"{"id": 42, "affected": "none"}"#.to_vec()),
            ("BADVER.json", record("BADVER-1", r#"[{"introduced":"0"},{"fixed":"not a version!!"}]"#)),
            ("ABSURD.json", record("ABSURD-1", &format!("[{many}]"))),
            ("HUGE.json", vec![b' '; 17 << 20]),
            ("NOINTRO.json", record("NOINTRO-1", r#"[{"fixed":"1.0"}]"#)),
            ("README.md", b"not a record".to_vec()),
        ],
    );
    let mut w = Writer::begin(dir.path()).unwrap();
    let s = import(&mut w, &z, Some("osv:PyPI"), None).unwrap();
    w.commit("2026-11-24T00:00:00Z").unwrap();
    let info = &s.sources[0];
    // GOOD-1 imports; BADVER-1, ABSURD-1 and NOINTRO-1 lose their only range: skipped, with the reason.
    assert_eq!(info.records, 1, "{s:#?}");
    assert_eq!(info.skipped, 6, "not JSON, schema, too large, three without a usable range: {:#?}", s.warnings);
    let all = s.warnings.join("\n");
    for needle in [
        "all.zip:NOTJSON.json: not an OSV record",
        "all.zip:SCHEMA.json: not an OSV record",
        "all.zip:HUGE.json: larger than 16 MiB",
        "BADVER-1: demo: range skipped",
        "ABSURD-1: demo: range with 5000 events skipped",
        "NOINTRO-1: demo: range without an introduced event skipped",
    ] {
        assert!(all.contains(needle), "no warning {needle:?} in:\n{all}");
    }
    assert_eq!(s.warning_count, s.warnings.len());
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(db.lookup("PyPI", "demo").unwrap().len(), 1);
}

#[test]
fn a_failed_import_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::begin(dir.path()).unwrap();
    import(&mut w, &fixture("osv-PyPI.zip"), None, None).unwrap();
    w.commit("2026-11-24T00:00:00Z").unwrap();
    let before = Database::open(dir.path()).unwrap().counts().unwrap();

    // A corrupt zip (a zip header, then garbage) is refused whole; the writer is dropped uncommitted.
    let bad = dir.path().join("broken.zip");
    let mut bytes = std::fs::read(fixture("osv-PyPI.zip")).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&bad, &bytes).unwrap();
    {
        let mut w = Writer::begin(dir.path()).unwrap();
        // The same source is cleared first in the copy…
        let err = import(&mut w, &bad, Some("osv:PyPI"), None).unwrap_err().to_string();
        assert!(err.contains("broken.zip") && err.contains("not a readable zip"), "{err}");
    }
    // …but the database itself is untouched, and no temporary file is left.
    assert_eq!(Database::open(dir.path()).unwrap().counts().unwrap(), before);
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.iter().filter(|n| n.ends_with(".tmp")).count(), 0, "{names:?}");

    // A damaged database file is not silently replaced by a reader: it is refused with its path.
    std::fs::write(dir.path().join("other").with_extension("x"), b"").unwrap();
    let junk = tempfile::tempdir().unwrap();
    std::fs::write(junk.path().join("vulndb.sqlite"), b"this is not sqlite").unwrap();
    let err = Database::open(junk.path()).err().unwrap().to_string();
    assert!(err.contains("vulndb.sqlite"), "{err}");
}

#[test]
fn tracker_and_secdb_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("DSA.list");
    std::fs::write(
        &list,
        "[01 Jan 2023] DSA-1-1 pkg - security update\n\t{CVE-2023-0001}\n\t[bullseye] - pkg 1.0-1+deb11u1\n\
         [garbage line without a closing bracket\n\t[bullseye] - pkg\n\t[atlantis] - pkg 1.0\n\t[bullseye] - pkg %%%\n\
         [02 Jan 2023] DSA-2-1 other - security update\n\t[bullseye] - other 2.0-1\n",
    )
    .unwrap();
    let secdb = dir.path().join("secdb.json");
    std::fs::write(
        &secdb,
        r#"{"distroversion":"v3.20","reponame":"main","packages":[{"pkg":{"name":"x","secfixes":{"1.0-r0":["CVE-1 not-an-id-but-has-dash","plainword"],"???":["CVE-2"]}}}]}"#,
    )
    .unwrap();
    let mut w = Writer::begin(dir.path()).unwrap();
    let t = import(&mut w, &list, None, None).unwrap();
    let a = import(&mut w, &secdb, None, None).unwrap();
    w.commit("2026-11-24T00:00:00Z").unwrap();
    assert_eq!(t.sources[0].records, 2, "{:#?}", t.warnings);
    assert_eq!(t.warning_count, 4, "{:#?}", t.warnings);
    assert!(t.warnings.iter().any(|w| w.contains("DSA.list: line 4") && w.contains("without a closing ]")));
    assert_eq!(t.warnings.iter().filter(|w| w.contains("outside any readable advisory")).count(), 3);
    assert_eq!(a.sources[0].name, "alpine-secdb:v3.20/main");
    assert!(a.warnings.iter().any(|w| w.contains("plainword")), "{:#?}", a.warnings);
    assert!(a.warnings.iter().any(|w| w.contains("???")), "{:#?}", a.warnings);
    // A secdb of the wrong shape is refused whole, naming the file.
    std::fs::write(&secdb, r#"{"distroversion":"v3.20","packages":"nope"}"#).unwrap();
    let mut w = Writer::begin(dir.path()).unwrap();
    let err = import(&mut w, &secdb, None, None).unwrap_err().to_string();
    assert!(err.contains("secdb.json") && err.contains("not an Alpine secdb document"), "{err}");
}

/// A pipe (`kestrel db import <(curl …)`) is refused with the reason: import looks at an input, then reads it (a
/// zip by seeking), and a pipe would be gone by then — it was "not a kind of vulnerability data kestrel imports".
#[test]
fn a_pipe_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let pipe = dir.path().join("DSA.list");
    assert!(std::process::Command::new("mkfifo").arg(&pipe).status().unwrap().success());
    let (tx, rx) = std::sync::mpsc::channel();
    let (db, input) = (dir.path().to_path_buf(), pipe.clone());
    // On a thread: opening a pipe nobody writes to would wait for ever, and the test should fail, not hang.
    std::thread::spawn(move || {
        let mut w = Writer::begin(&db).unwrap();
        tx.send(import(&mut w, &input, None, None).map(|_| ()).map_err(|e| e.to_string()))
    });
    let got = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("import waited on the pipe");
    let err = got.unwrap_err();
    assert!(err.contains("DSA.list") && err.contains("not a regular file (a pipe or a device)"), "{err}");
}

/// A database that comes from elsewhere (a server, a push) is accepted only as kestrel writes it: a trigger or a
/// view slipped in, a table missing, a damaged page or another file are each refused with the reason.
#[test]
fn a_database_from_elsewhere_is_accepted_only_as_kestrel_writes_it() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("all.zip");
    zip(&z, &[("GOOD-1.json", record("GOOD-1", r#"[{"introduced":"0"},{"fixed":"1.2"}]"#))]);
    let mut w = Writer::begin(dir.path()).unwrap();
    import(&mut w, &z, Some("osv:PyPI"), None).unwrap();
    let good = w.commit("2026-11-24T00:00:00Z").unwrap();
    assert_eq!(Database::verify_file(&good).unwrap().built_at().as_deref(), Some("2026-11-24T00:00:00Z"));

    let altered = |name: &str, sql: &str| {
        let p = dir.path().join(name);
        std::fs::copy(&good, &p).unwrap();
        rusqlite::Connection::open(&p).unwrap().execute_batch(sql).unwrap();
        Database::verify_file(&p).map(|_| ()).unwrap_err().to_string()
    };
    let e = altered("trigger.sqlite", "CREATE TRIGGER t AFTER INSERT ON meta BEGIN DELETE FROM advisories; END;");
    assert!(e.contains("trigger.sqlite") && e.contains("trigger `t` kestrel does not make"), "{e}");
    let e = altered("view.sqlite", "CREATE VIEW v AS SELECT 1;");
    assert!(e.contains("view `v` kestrel does not make"), "{e}");
    let e = altered("dropped.sqlite", "DROP INDEX aliases_by_alias;");
    assert!(e.contains("index `aliases_by_alias` is missing"), "{e}");
    // A table of the same name made differently is not kestrel's either.
    let e = altered(
        "changed.sqlite",
        "DROP TABLE known_exploited; CREATE TABLE known_exploited (cve TEXT PRIMARY KEY, info TEXT);",
    );
    assert!(e.contains("table `known_exploited` kestrel does not make"), "{e}");

    // Damage in the middle of the file (a page of the advisories overwritten).
    let damaged = dir.path().join("damaged.sqlite");
    let mut bytes = std::fs::read(&good).unwrap();
    let len = bytes.len();
    assert!(len >= 4 * 4096, "{len}");
    bytes[len - 2 * 4096..len - 4096].fill(0x5a);
    std::fs::write(&damaged, &bytes).unwrap();
    let e = Database::verify_file(&damaged).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("damaged.sqlite"), "{e}");
    assert!(e.contains("damaged") || e.contains("malformed"), "{e}");

    let other = dir.path().join("other.sqlite");
    std::fs::write(&other, b"SQLite format 3\0 but not really").unwrap();
    let e = Database::verify_file(&other).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("other.sqlite"), "{e}");
}

#[test]
fn a_directory_imports_its_zips_each_as_its_ecosystem_and_its_records_as_one_source() {
    let dir = tempfile::tempdir().unwrap();
    let mirror = dir.path().join("osv");
    // The layout of OSV's bucket mirrored: `<Ecosystem>/all.zip`, beside a loose record of one's own.
    for eco in ["PyPI", "Go"] {
        std::fs::create_dir_all(mirror.join(eco)).unwrap();
        std::fs::copy(fixture(&format!("osv-{eco}.zip")), mirror.join(eco).join("all.zip")).unwrap();
        std::fs::write(mirror.join(eco).join("LICENSE"), "licence text").unwrap();
    }
    std::fs::create_dir_all(mirror.join("local")).unwrap();
    std::fs::write(mirror.join("local/LOCAL-1.json"), record("LOCAL-1", r#"[{"introduced":"0"},{"fixed":"2.0"}]"#))
        .unwrap();
    let db_dir = dir.path().join("db");
    let mut w = Writer::begin(&db_dir).unwrap();
    let s = import(&mut w, &mirror, None, None).unwrap();
    w.commit("2026-12-07T00:00:00Z").unwrap();
    let names: Vec<&str> = s.sources.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&"osv:PyPI") && names.contains(&"osv:Go"), "{names:?}");
    assert!(names[2].starts_with("osv-files:") && names[2].ends_with("osv"), "{names:?}");
    // As many records as each archive imported alone gives.
    for eco in ["PyPI", "Go"] {
        let alone = tempfile::tempdir().unwrap();
        let mut w = Writer::begin(alone.path()).unwrap();
        let one = import(&mut w, &fixture(&format!("osv-{eco}.zip")), None, None).unwrap();
        let got = s.sources.iter().find(|i| i.name == format!("osv:{eco}")).unwrap();
        assert!(
            got.records > 0 && got.records == one.sources[0].records,
            "{eco}: {got:?} against {:?}",
            one.sources[0]
        );
        assert!(got.location.ends_with("all.zip"), "{got:?}");
    }
    assert_eq!(s.sources[2].records, 1);
    let db = Database::open(&db_dir).unwrap();
    assert_eq!(db.lookup("PyPI", "demo").unwrap().len(), 1, "the loose record");

    // A directory with nothing to import is refused (importing it would empty its source), naming what it looked for.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(empty.join("sub")).unwrap();
    std::fs::write(empty.join("sub/README.md"), "no data").unwrap();
    let mut w = Writer::begin(&db_dir).unwrap();
    let err = import(&mut w, &empty, None, None).unwrap_err().to_string();
    assert!(err.contains("empty") && err.contains("no OSV record") && err.contains(".zip"), "{err}");
    // One --source cannot name several archives' sources.
    let err = import(&mut w, &mirror, Some("mine"), None).unwrap_err().to_string();
    assert!(err.contains("--source") && err.contains("2 zip archives"), "{err}");
    // Two archives of one ecosystem would replace each other: refused, both named.
    std::fs::create_dir_all(mirror.join("PyPI-old")).unwrap();
    std::fs::copy(fixture("osv-PyPI.zip"), mirror.join("PyPI-old/all.zip")).unwrap();
    let err = import(&mut w, &mirror, None, None).unwrap_err().to_string();
    assert!(err.contains("PyPI/all.zip") && err.contains("PyPI-old/all.zip") && err.contains("osv:PyPI"), "{err}");
}
