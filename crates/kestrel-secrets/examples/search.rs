//! The keyword searches side by side on one tree (bench/secrets.sh runs it on its corpus):
//!
//!   cargo run --release -p kestrel-secrets --features vectorscan --example search -- DIR
//!
//! For each search (Teddy, the automaton and, when built with the `vectorscan` feature, Vectorscan): the
//! keyword search alone on one core over the first 256 MiB of the tree held in memory, then the whole scan of the
//! tree (`scan_path`, every core, files read from the page cache) best of three after a warm-up, and whether
//! its findings are the same as the first search's.

use kestrel_secrets::prefilter::Kind;
use kestrel_secrets::{scan_path, Scanner};
use std::time::Instant;

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: search DIR");
        std::process::exit(2);
    };
    let dir = std::path::Path::new(&dir);
    let kinds = [
        Kind::Packed,
        Kind::Automaton,
        #[cfg(feature = "vectorscan")]
        Kind::Vectorscan,
    ];

    // The first 256 MiB of text, in memory, as the files they came from.
    let mut held: Vec<Vec<u8>> = Vec::new();
    let mut total = 0usize;
    for e in walkdir::WalkDir::new(dir).sort_by_file_name().into_iter().filter_map(Result::ok) {
        if total >= 256 << 20 || !e.file_type().is_file() {
            continue;
        }
        if let Ok(b) = std::fs::read(e.path()) {
            total += b.len();
            held.push(b);
        }
    }
    println!(
        "| search | keyword search, 1 core (MiB/s) | whole scan, {} threads (s) | MiB/s | findings | same findings |",
        rayon::current_num_threads()
    );
    println!("| --- | ---: | ---: | ---: | ---: | --- |");
    let mut first: Option<Vec<(String, usize, String)>> = None;
    for kind in kinds {
        let scanner = Scanner::with_search(kind);
        let pf = scanner.prefilter();
        let mut hits = 0;
        let started = Instant::now();
        for b in &held {
            hits += pf.hits(b).len();
        }
        let search = total as f64 / (1 << 20) as f64 / started.elapsed().as_secs_f64();
        let _ = scan_path(&scanner, dir);
        let mut best = f64::MAX;
        let mut scan = None;
        for _ in 0..3 {
            let t = Instant::now();
            let s = scan_path(&scanner, dir);
            best = best.min(t.elapsed().as_secs_f64());
            scan = Some(s);
        }
        let scan = scan.unwrap_or_default();
        let mut found: Vec<(String, usize, String)> =
            scan.findings.iter().map(|f| (f.file.clone(), f.line, format!("{} {}", f.rule, f.fingerprint))).collect();
        found.sort();
        let same = match &first {
            None => "(reference)".to_string(),
            Some(r) if *r == found => "yes".to_string(),
            Some(r) => format!(
                "NO: {} only here, {} only in the reference",
                found.iter().filter(|f| !r.contains(f)).count(),
                r.iter().filter(|f| !found.contains(f)).count()
            ),
        };
        println!(
            "| {:?} ({hits} keyword hits) | {search:.0} | {best:.3} | {:.0} | {} | {same} |",
            scanner.search(),
            scan.bytes as f64 / (1 << 20) as f64 / best,
            found.len()
        );
        if first.is_none() {
            first = Some(found);
        }
    }
}
