//! Matching end to end on real advisory data: OSV records and Debian tracker entries cut from the shared data
//! sets (`tests/fixtures/db`, made by `scripts/fixtures/make-vuln-fixtures.py`) are imported into a real
//! database, and packages with known vulnerable versions are matched against it.
//!
//! The expected advisory records per package were computed independently of kestrel, by
//! `scripts/fixtures/expected-matches.py` (its own range evaluation over each ecosystem's own version
//! comparison: python `packaging`, `dpkg`, `rpm`). Every one must be reported (as a finding id or an alias),
//! and every finding must stand for at least one of them: nothing missed, nothing extra.

use kestrel_core::*;
use kestrel_vulndb::import::import;
use kestrel_vulndb::matcher::{match_sbom, MatchOptions};
use kestrel_vulndb::store::{Database, Writer};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/db")
}

fn build_db(dir: &Path) -> Database {
    let mut w = Writer::begin(dir).unwrap();
    for f in [
        "osv-PyPI.zip",
        "osv-Go.zip",
        "osv-AlmaLinux.zip",
        "DSA.list",
        "DLA.list",
        "alpine-v3.18-main.json",
        "kev.json",
    ] {
        let s = import(&mut w, &fixtures().join(f), None, None).unwrap();
        assert!(s.sources[0].records > 0, "{f}: nothing imported");
    }
    w.commit("2026-11-24T00:00:00Z").unwrap();
    Database::open(dir).unwrap()
}

fn sbom(distro: Option<(&str, &str)>, packages: Vec<Package>) -> Sbom {
    Sbom {
        schema: SBOM_SCHEMA.into(),
        tool: Tool { name: "kestrel".into(), version: "0".into() },
        created: "2026-11-24T00:00:00Z".into(),
        target: ScanTarget::unlayered(TargetKind::Rootfs, "/test"),
        distro: distro.map(|(id, v)| Distro {
            id: id.into(),
            version_id: Some(v.into()),
            source_file: "/etc/os-release".into(),
            ..Default::default()
        }),
        packages,
        warnings: vec![],
    }
}

fn os_pkg(eco: Ecosystem, name: &str, version: &str, source: Option<(&str, &str)>) -> Package {
    let mut p = Package::new(name, version, eco, "test").at("/var/lib/pkgdb", None);
    p.source = source.map(|(n, v)| SourcePackage { name: n.into(), version: v.into() });
    p
}

const TODAY: &str = "2026-11-24";

/// Every finding's ids (its id and aliases), per package name.
fn ids_by_package(findings: &[Finding]) -> BTreeMap<String, Vec<BTreeSet<String>>> {
    let mut m: BTreeMap<String, Vec<BTreeSet<String>>> = BTreeMap::new();
    for f in findings {
        if let Some(v) = f.as_vulnerability() {
            let ids = std::iter::once(v.id.clone()).chain(v.aliases.iter().cloned()).collect();
            m.entry(v.package.clone()).or_default().push(ids);
        }
    }
    m
}

fn assert_exact(findings: &[Finding], package: &str, expected: &[&str]) {
    let by = ids_by_package(findings);
    let got = by.get(package).cloned().unwrap_or_default();
    let all: BTreeSet<&str> = got.iter().flatten().map(String::as_str).collect();
    for e in expected {
        assert!(all.contains(e), "{package}: {e} not reported; reported: {all:?}");
    }
    for ids in &got {
        assert!(
            ids.iter().any(|i| expected.contains(&i.as_str())),
            "{package}: finding {ids:?} stands for none of the expected records {expected:?}"
        );
    }
    if expected.is_empty() {
        assert!(got.is_empty(), "{package}: expected no finding, got {got:?}");
    }
}

#[test]
fn language_packages_match_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let db = build_db(dir.path());
    let pkgs = vec![
        Package::new("requests", "2.19.0", Ecosystem::PyPI, "t").at("/app/requests.dist-info/METADATA", None),
        Package::new("urllib3", "1.26.4", Ecosystem::PyPI, "t"),
        Package::new("Jinja2", "3.1.3", Ecosystem::PyPI, "t"),
        Package::new("golang.org/x/net", "v0.7.0", Ecosystem::Go, "t"),
        Package::new("github.com/gin-gonic/gin", "v1.9.0", Ecosystem::Go, "t"),
        Package::new("stdlib", "go1.22.1", Ecosystem::Go, "t"),
    ];
    let out = match_sbom(&db, &sbom(None, pkgs), &MatchOptions { today: TODAY.into() }).unwrap();
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let f = &out.findings;
    assert_exact(f, "requests", &["PYSEC-2018-28", "PYSEC-2023-74"]);
    assert_exact(f, "urllib3", &["PYSEC-2021-108", "PYSEC-2023-192", "PYSEC-2023-212"]);
    assert_exact(f, "Jinja2", &[]);
    assert_exact(
        f,
        "golang.org/x/net",
        &[
            "GO-2023-1988",
            "GO-2023-2102",
            "GO-2024-2687",
            "GO-2024-3333",
            "GO-2025-3503",
            "GO-2025-3595",
            "GO-2026-4440",
            "GO-2026-4441",
            "GO-2026-4918",
            "GO-2026-5025",
            "GO-2026-5026",
            "GO-2026-5027",
            "GO-2026-5028",
            "GO-2026-5029",
            "GO-2026-5030",
            "GO-2026-5942",
        ],
    );
    assert_exact(f, "github.com/gin-gonic/gin", &["GO-2023-1737"]);
    let stdlib: Vec<&str> = "GO-2024-2687 GO-2024-2824 GO-2024-2887 GO-2024-2888 GO-2024-2963 GO-2024-3105 \
        GO-2024-3106 GO-2024-3107 GO-2025-3373 GO-2025-3420 GO-2025-3447 GO-2025-3503 GO-2025-3563 GO-2025-3750 \
        GO-2025-3751 GO-2025-3849 GO-2025-3956 GO-2025-4006 GO-2025-4007 GO-2025-4008 GO-2025-4009 GO-2025-4010 \
        GO-2025-4011 GO-2025-4012 GO-2025-4013 GO-2025-4014 GO-2025-4015 GO-2025-4155 GO-2025-4175 GO-2026-4337 \
        GO-2026-4340 GO-2026-4341 GO-2026-4342 GO-2026-4403 GO-2026-4601 GO-2026-4602 GO-2026-4603 GO-2026-4864 \
        GO-2026-4865 GO-2026-4869 GO-2026-4870 GO-2026-4918 GO-2026-4946 GO-2026-4947 GO-2026-4970 GO-2026-4971 \
        GO-2026-4976 GO-2026-4977 GO-2026-4980 GO-2026-4981 GO-2026-4982 GO-2026-4986 GO-2026-5026 GO-2026-5037 \
        GO-2026-5038 GO-2026-5039 GO-2026-5856 GO-2026-5972 GO-2026-6088 GO-2026-6089 GO-2026-6090 GO-2026-6091 \
        GO-2026-6218"
        .split_whitespace()
        .collect();
    assert_exact(f, "stdlib", &stdlib);

    // Aliases merge: PYSEC-2018-28 is CVE-2018-18074 is GHSA-x84v-xcm2-53pg, one finding.
    let req: Vec<&VulnerabilityFinding> =
        f.iter().filter_map(Finding::as_vulnerability).filter(|v| v.package == "requests").collect();
    let cve = req.iter().find(|v| v.id == "CVE-2018-18074").expect("finding named by its CVE");
    assert!(
        cve.aliases.contains(&"PYSEC-2018-28".to_string()) && cve.aliases.contains(&"GHSA-x84v-xcm2-53pg".to_string())
    );
    assert_eq!(cve.fixed_version.as_deref(), Some("2.20.0"));
    assert_eq!(cve.state, FixState::Fixed);
    assert_eq!(cve.locations[0].path, "/app/requests.dist-info/METADATA");
}

#[test]
fn debian_packages_match_by_source_package_and_release() {
    let dir = tempfile::tempdir().unwrap();
    let db = build_db(dir.path());
    let bullseye = sbom(
        Some(("debian", "11")),
        vec![
            os_pkg(Ecosystem::Deb, "apache2-bin", "2.4.54-1~deb11u1", Some(("apache2", "2.4.54-1~deb11u1"))),
            // A binNMU: the binary version differs, the source version is what advisories name.
            os_pkg(Ecosystem::Deb, "libssl1.1", "1.1.1n-0+deb11u3+b1", Some(("openssl", "1.1.1n-0+deb11u3"))),
            os_pkg(Ecosystem::Deb, "zlib1g", "1:1.2.11.dfsg-2+deb11u2", Some(("zlib", "1:1.2.11.dfsg-2+deb11u2"))),
        ],
    );
    let out = match_sbom(&db, &bullseye, &MatchOptions { today: TODAY.into() }).unwrap();
    let f = &out.findings;
    assert_exact(f, "apache2-bin", &["DSA-5376-1"]);
    assert_exact(f, "libssl1.1", &["DSA-5343-1"]);
    assert_exact(f, "zlib1g", &[]);
    // A DSA covering five CVEs gives five findings, each naming the DSA.
    let apache: Vec<&VulnerabilityFinding> =
        f.iter().filter_map(Finding::as_vulnerability).filter(|v| v.package == "apache2-bin").collect();
    let ids: BTreeSet<&str> = apache.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["CVE-2006-20001", "CVE-2022-36760", "CVE-2022-37436", "CVE-2023-25690", "CVE-2023-27522"].into());
    assert!(apache
        .iter()
        .all(|v| v.fixed_version.as_deref() == Some("2.4.56-1~deb11u1")
            && v.matched == "Debian:11 apache2 2.4.54-1~deb11u1"));
    // Debian 11 is past its end of life on the day of the test.
    assert!(f
        .iter()
        .any(|x| matches!(x, Finding::EndOfLife(e) if e.release == "debian-11" && e.eol_date == "2026-08-31")));

    // The same versions on buster are matched against buster's entries (DLA), not bullseye's.
    let buster = sbom(
        Some(("debian", "10")),
        vec![os_pkg(Ecosystem::Deb, "curl", "7.64.0-4+deb10u2", Some(("curl", "7.64.0-4+deb10u2")))],
    );
    let out = match_sbom(&db, &buster, &MatchOptions { today: TODAY.into() }).unwrap();
    assert_exact(&out.findings, "curl", &["DLA-3085-1", "DLA-3288-1", "DLA-3341-1"]);
}

#[test]
fn almalinux_packages_match_with_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let db = build_db(dir.path());
    let alma = sbom(
        Some(("almalinux", "9.3")),
        vec![
            os_pkg(Ecosystem::Rpm, "openssl-libs", "1:3.0.7-24.el9", Some(("openssl", "3.0.7-24.el9"))),
            os_pkg(Ecosystem::Rpm, "curl", "7.76.1-26.el9", Some(("curl", "7.76.1-26.el9"))),
        ],
    );
    let out = match_sbom(&db, &alma, &MatchOptions { today: TODAY.into() }).unwrap();
    let f = &out.findings;
    assert_exact(
        f,
        "openssl-libs",
        &[
            "ALSA-2024:0310",
            "ALSA-2024:2447",
            "ALSA-2024:6783",
            "ALSA-2024:9333",
            "ALSA-2025:1330",
            "ALSA-2025:21255",
            "ALSA-2026:1473",
            "ALSA-2026:19218",
            "ALSA-2026:22312",
            "ALSA-2026:25239",
        ],
    );
    assert_exact(
        f,
        "curl",
        &["ALSA-2023:6745", "ALSA-2024:1129", "ALSA-2024:5529", "ALSA-2026:1350", "ALSA-2026:55439"],
    );
    // AlmaLinux severity words set the severity when no CVSS vector is given.
    assert!(f.iter().filter_map(Finding::as_vulnerability).all(|v| v.severity != Severity::Unknown));
    assert!(!f.iter().any(|x| matches!(x, Finding::EndOfLife(_))), "AlmaLinux 9 is supported");
}

#[test]
fn alpine_secdb_and_known_exploited() {
    let dir = tempfile::tempdir().unwrap();
    let db = build_db(dir.path());
    let alpine = sbom(
        Some(("alpine", "3.18.4")),
        vec![
            os_pkg(Ecosystem::Apk, "libssl3", "3.1.4-r0", Some(("openssl", "3.1.4-r0"))),
            os_pkg(Ecosystem::Apk, "libcrypto3", "3.1.4-r5", Some(("openssl", "3.1.4-r5"))),
        ],
    );
    let out = match_sbom(&db, &alpine, &MatchOptions { today: TODAY.into() }).unwrap();
    let f = &out.findings;
    // Fixed in 3.1.4-r1, -r3, -r4, -r5 (alpine-v3.18-main.json): the -r0 package has all four, -r5 none.
    assert_exact(f, "libssl3", &["CVE-2023-5678", "CVE-2023-6129", "CVE-2023-6237", "CVE-2024-0727"]);
    assert_exact(f, "libcrypto3", &[]);
    assert!(f.iter().any(|x| matches!(x, Finding::EndOfLife(e) if e.release == "alpine-3.18.4")));

    // Log4Shell through Maven coordinates is known exploited (kev.json): it rises to the top with a reason.
    let java = sbom(None, vec![Package::new("org.apache.logging.log4j:log4j-core", "2.14.1", Ecosystem::Maven, "t")]);
    let mut w = Writer::begin(dir.path()).unwrap();
    import(&mut w, &fixtures().join("osv-log4j.json"), Some("osv:Maven"), None).unwrap();
    w.commit("2026-11-24T00:00:00Z").unwrap();
    let db = Database::open(dir.path()).unwrap();
    let out = match_sbom(&db, &java, &MatchOptions { today: TODAY.into() }).unwrap();
    let v = out.findings[0].as_vulnerability().unwrap();
    assert_eq!(v.id, "CVE-2021-44228");
    assert!(v.known_exploited);
    assert_eq!(v.severity, Severity::Critical);
    assert!(
        v.risk.reasons.iter().any(|r| r.starts_with("known exploited (CISA KEV, added 2021-12-10)")),
        "{:?}",
        v.risk
    );
    assert!(v.risk.score >= 95, "{:?}", v.risk);
}

#[test]
fn unreadable_versions_and_unknown_releases_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = build_db(dir.path());
    let s = sbom(
        Some(("plan9", "4")),
        vec![
            Package::new("requests", "not-a-version!", Ecosystem::PyPI, "t").at("/app/x/METADATA", None),
            os_pkg(Ecosystem::Deb, "bash", "5.2-1", None),
        ],
    );
    let out = match_sbom(&db, &s, &MatchOptions { today: TODAY.into() }).unwrap();
    assert!(out.findings.is_empty());
    assert_eq!(out.warnings.len(), 2, "{:?}", out.warnings);
    assert!(out.warnings.iter().any(|w| w.path == "/app/x/METADATA" && w.message.contains("not matched")));
    assert!(out.warnings.iter().any(|w| w.message.contains("plan9-4")));
}

#[test]
fn nuget_names_match_case_insensitively() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::begin(dir.path()).unwrap();
    import(&mut w, &fixtures().join("osv-nuget.json"), Some("osv:NuGet"), None).unwrap();
    w.commit("2026-11-24T00:00:00Z").unwrap();
    let db = Database::open(dir.path()).unwrap();
    let s = sbom(
        None,
        vec![
            Package::new("newtonsoft.json", "12.0.3", Ecosystem::NuGet, "t"),
            Package::new("Newtonsoft.Json", "13.0.1", Ecosystem::NuGet, "t"),
        ],
    );
    let out = match_sbom(&db, &s, &MatchOptions { today: TODAY.into() }).unwrap();
    assert_eq!(out.findings.len(), 1);
    let v = out.findings[0].as_vulnerability().unwrap();
    assert_eq!((v.id.as_str(), v.version.as_str(), v.severity), ("CVE-2024-21907", "12.0.3", Severity::High));
    assert_eq!(v.cvss.as_ref().unwrap().score, 7.5);
}

#[test]
fn language_packages_owned_by_os_packages_are_left_to_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = build_db(dir.path());
    let mut owned = Package::new("requests", "2.19.0", Ecosystem::PyPI, "t");
    owned.properties.insert("os.owner".into(), "deb:python3-requests".into());
    let out =
        match_sbom(&db, &sbom(Some(("debian", "12")), vec![owned]), &MatchOptions { today: TODAY.into() }).unwrap();
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    assert_eq!(out.owned_by_os, 1);
}

#[test]
fn packages_no_data_covers_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = build_db(dir.path());
    // The fixtures hold Alpine v3.18 and no npm data.
    let s = sbom(
        Some(("alpine", "3.20.3")),
        vec![
            os_pkg(Ecosystem::Apk, "libssl3", "3.3.2-r0", Some(("openssl", "3.3.2-r0"))),
            os_pkg(Ecosystem::Apk, "busybox", "1.36.1-r29", Some(("busybox", "1.36.1-r29"))),
            Package::new("left-pad", "1.3.0", Ecosystem::Npm, "t"),
        ],
    );
    let out = match_sbom(&db, &s, &MatchOptions { today: TODAY.into() }).unwrap();
    let w: Vec<&str> = out.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].starts_with("no advisories for Alpine:v3.20 in the vulnerability database: 2 packages not checked"),
        "{w:?}"
    );
    assert!(w[1].starts_with("no advisories for npm"), "{w:?}");
    assert!(out.warnings.iter().all(kestrel_vulndb::matcher::is_matching_warning), "{w:?}");
    assert_eq!(out.packages_matched, 0);
}

#[test]
fn one_warning_speaks_for_the_os_packages_of_an_unknown_release() {
    let dir = tempfile::tempdir().unwrap();
    let db = build_db(dir.path());
    // A language package's warning comes first: the count of OS packages must not land on it.
    let s = sbom(
        Some(("plan9", "4")),
        vec![
            Package::new("requests", "not-a-version!", Ecosystem::PyPI, "t").at("/app/x/METADATA", None),
            os_pkg(Ecosystem::Deb, "bash", "5.2-1", None),
            os_pkg(Ecosystem::Deb, "zsh", "5.9-1", None),
            os_pkg(Ecosystem::Deb, "dash", "0.5-1", None),
        ],
    );
    let out = match_sbom(&db, &s, &MatchOptions { today: TODAY.into() }).unwrap();
    assert_eq!(out.warnings.len(), 2, "{:?}", out.warnings);
    let os = out.warnings.iter().find(|w| w.message.contains("plan9-4")).unwrap();
    assert!(os.message.ends_with("(and 2 more OS packages)"), "{os:?}");
    let py = out.warnings.iter().find(|w| w.path == "/app/x/METADATA").unwrap();
    assert!(!py.message.contains("more OS packages"), "{py:?}");
    // Each is known for the matching's own, to be dropped when a report is read back and matched again.
    assert!(out.warnings.iter().all(kestrel_vulndb::matcher::is_matching_warning), "{:?}", out.warnings);
    let inventory = Warning { path: "/app/x/METADATA".into(), message: "not UTF-8 text (byte 3)".into() };
    assert!(!kestrel_vulndb::matcher::is_matching_warning(&inventory));
}

#[test]
fn go_programs_built_from_a_source_tree_are_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = build_db(dir.path());
    // Three tools built with `go build` in a checkout (`(devel)`), their dependencies tagged, and one module
    // whose version is broken in another way: that one keeps its own warning.
    let go = |name: &str, version: &str, at: &str| Package::new(name, version, Ecosystem::Go, "t").at(at, None);
    let s = sbom(
        None,
        vec![
            go("github.com/acme/tool-a", "(devel)", "/usr/bin/tool-a"),
            go("golang.org/x/net", "v0.0.1", "/usr/bin/tool-a"),
            go("github.com/acme/tool-b", "(devel)", "/usr/bin/tool-b"),
            go("github.com/acme/tool-c", "(devel)", "/usr/bin/tool-c"),
            go("github.com/acme/odd", "not-a-version", "/usr/bin/odd"),
        ],
    );
    let out = match_sbom(&db, &s, &MatchOptions { today: TODAY.into() }).unwrap();
    assert_eq!(out.warnings.len(), 2, "{:#?}", out.warnings);
    let devel = &out.warnings[0];
    assert_eq!(devel.path, "/usr/bin/tool-a");
    assert!(devel.message.starts_with("github.com/acme/tool-a (devel): not matched"), "{devel:?}");
    assert!(devel.message.ends_with("(and 2 more Go programs built so)"), "{devel:?}");
    assert!(
        out.warnings[1].message.starts_with("github.com/acme/odd not-a-version: not matched"),
        "{:?}",
        out.warnings
    );
    assert_eq!(out.packages_matched, 1, "the tagged dependency is matched");
    assert!(out.warnings.iter().all(kestrel_vulndb::matcher::is_matching_warning), "{:?}", out.warnings);
    assert!(!out.findings.is_empty(), "golang.org/x/net v0.0.1 has advisories in the fixture: {:?}", out.findings);
}

#[test]
fn a_go_advisorys_related_cve_is_not_reported_as_its_own() {
    // GO-2024-3106 is CVE-2024-34156 and names CVE-2022-30635 (fixed long before go1.21) as related; GO-2023-2102
    // is CVE-2023-39325 and names HTTP/2 Rapid Reset's CVE-2023-44487 as related. Real records of the fixture.
    let dir = tempfile::tempdir().unwrap();
    let db = build_db(dir.path());
    let go = |name: &str, version: &str| Package::new(name, version, Ecosystem::Go, "t").at("/usr/bin/tool", None);
    let s = sbom(None, vec![go("stdlib", "go1.21.1"), go("golang.org/x/net", "v0.15.0")]);
    let out = match_sbom(&db, &s, &MatchOptions { today: TODAY.into() }).unwrap();
    let ids: Vec<(String, String)> =
        out.findings.iter().filter_map(|f| f.as_vulnerability()).map(|v| (v.package.clone(), v.id.clone())).collect();
    for (package, id) in
        [("stdlib", "CVE-2024-34156"), ("stdlib", "CVE-2023-39325"), ("golang.org/x/net", "CVE-2023-39325")]
    {
        assert!(ids.contains(&(package.to_string(), id.to_string())), "{package} {id} missing: {ids:?}");
    }
    for id in ["CVE-2022-30635", "CVE-2023-44487"] {
        assert!(ids.iter().all(|(_, i)| i != id), "{id} is only related: {ids:?}");
    }
}
