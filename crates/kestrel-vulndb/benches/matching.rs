//! Matching speed, in process (no process start, no JSON): `match_sbom` over 1,000 packages.
//!
//!   KESTREL_BENCH_DB=DIR [KESTREL_BENCH_SBOM=sbom.json] cargo bench -p kestrel-vulndb --bench matching
//!
//! Two sets: (1) the first 1,000 packages of a real inventory (`KESTREL_BENCH_SBOM`, kestrel JSON), as
//! scanned, and the same relabelled as Debian 11 so that the tracker's bullseye entries are evaluated;
//! (2) the worst case: 1,000 packages the database has advisories for, each at version 0.0.1 (inside nearly
//! every range), so every lookup decodes and evaluates advisories. Prints the median and the spread of 30
//! runs after 3 warm-ups (`bench/vuln.sh` runs it and records the figures).

use kestrel_core::{Distro, Ecosystem, Package, Sbom, ScanTarget, TargetKind, Tool, SBOM_SCHEMA};
use kestrel_vulndb::matcher::{match_sbom, MatchOptions};
use kestrel_vulndb::store::Database;
use std::time::{Duration, Instant};

fn time(label: &str, db: &Database, sbom: &Sbom) {
    let opts = MatchOptions { today: "2026-11-24".into() };
    for _ in 0..3 {
        match_sbom(db, sbom, &opts).unwrap();
    }
    let mut runs: Vec<Duration> = Vec::new();
    let mut findings = 0;
    for _ in 0..30 {
        let t = Instant::now();
        let out = match_sbom(db, sbom, &opts).unwrap();
        runs.push(t.elapsed());
        findings = out.findings.len();
    }
    runs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: {} packages, {findings} findings: median {:.2} ms (min {:.2}, max {:.2})",
        sbom.packages.len(),
        ms(runs[runs.len() / 2]),
        ms(runs[0]),
        ms(runs[runs.len() - 1])
    );
}

fn empty_sbom(distro: Option<Distro>, packages: Vec<Package>) -> Sbom {
    Sbom {
        schema: SBOM_SCHEMA.into(),
        tool: Tool { name: "kestrel".into(), version: "bench".into() },
        created: String::new(),
        target: ScanTarget::unlayered(TargetKind::Rootfs, "bench"),
        distro,
        packages,
        warnings: vec![],
    }
}

fn main() {
    let Some(dir) = std::env::var_os("KESTREL_BENCH_DB") else {
        eprintln!("set KESTREL_BENCH_DB to a database directory (bench/vuln.sh builds one)");
        return;
    };
    let db = Database::open(std::path::Path::new(&dir)).unwrap();
    if let Some(p) = std::env::var_os("KESTREL_BENCH_SBOM") {
        let mut sbom: Sbom = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        sbom.packages.truncate(1000);
        time("(1) real inventory", &db, &sbom);
        if let Some(d) = sbom.distro.as_mut() {
            d.version_id = Some("11".into());
        }
        time("(1) same, as Debian 11", &db, &sbom);
    }
    let mut packages = Vec::new();
    for (eco, name) in db.affected_packages().unwrap() {
        let (ecosystem, version) = match eco.split(':').next().unwrap_or("") {
            "PyPI" => (Ecosystem::PyPI, "0.0.1"),
            "Go" => (Ecosystem::Go, "v0.0.1"),
            "AlmaLinux" if eco == "AlmaLinux:9" => (Ecosystem::Rpm, "0.0.1-1.el9"),
            "Debian" if eco == "Debian:11" => (Ecosystem::Deb, "0.0.1-1"),
            _ => continue,
        };
        packages.push(Package::new(&name, version, ecosystem, "bench"));
    }
    // OS packages need their release: the set is matched as AlmaLinux 9 and as Debian 11, each time 1,000
    // packages spread over that release's OS packages and every language package.
    let mk = |id: &str, v: &str, eco: Ecosystem| {
        let pool: Vec<&Package> = packages.iter().filter(|p| !p.ecosystem.is_os() || p.ecosystem == eco).collect();
        let step = (pool.len() / 1000).max(1);
        let ps: Vec<Package> = pool.into_iter().step_by(step).take(1000).cloned().collect();
        let d = Distro { id: id.into(), version_id: Some(v.into()), source_file: "bench".into(), ..Default::default() };
        empty_sbom(Some(d), ps)
    };
    time("(2) worst case, AlmaLinux 9 + languages", &db, &mk("almalinux", "9.4", Ecosystem::Rpm));
    time("(2) worst case, Debian 11 + languages", &db, &mk("debian", "11", Ecosystem::Deb));
}
