#![no_main]
use kestrel_detect::detector::{Detector, Stage, WorkloadBy};
use kestrel_detect::profile::{merge, Policy, Profile};
use libfuzzer_sys::fuzz_target;
#[path = "shared.rs"]
mod shared;
use shared::{builtin, events};

// A profile file (`kestrel detect` loads them at start; `kestrel profile merge` takes other nodes' — the
// federation's input): merged with itself as two nodes, then used to score recorded events (a reverse
// shell, a link into PATH, a shadow read). Never a panic, whatever the counts, hashes and modes say.
fuzz_target!(|data: &[u8]| {
    let Ok(mut p) = serde_json::from_slice::<Profile>(data) else { return };
    p.reindex();
    let merged = merge("fuzz", &[("a", &p), ("b", &p)], 2);
    let _ = serde_json::to_vec(&merged);
    let by = WorkloadBy::Fixed(p.workload.clone());
    let mut d = Detector::new(builtin(), vec![p, merged], Policy::default(), by, Stage::Detect);
    for e in events() {
        for a in d.process(e) {
            let _ = serde_json::to_vec(&a);
        }
    }
    for p in d.into_profiles() {
        let _ = serde_json::to_vec(&p);
    }
});
