#![no_main]
use kestrel_core::Event;
use kestrel_detect::detector::{Detector, Stage, WorkloadBy};
use kestrel_detect::profile::{Mode, Policy};
use libfuzzer_sys::fuzz_target;
#[path = "shared.rs"]
mod shared;
use shared::builtin;

// Events as a recording holds them (one JSON object per line; `kestrel learn` / `kestrel detect` on a
// recording, or what a node ships): the built-in rules and the profiles learn from them, then score them
// again in monitor mode, and every alert is serialised — never a panic, whatever the fields hold.
fuzz_target!(|data: &[u8]| {
    let events: Vec<Event> = data.split(|b| *b == b'\n').filter_map(|line| serde_json::from_slice(line).ok()).collect();
    let policy = Policy { k: 1, t: 1, ..Policy::default() };
    let mut learn = Detector::new(builtin(), vec![], policy.clone(), WorkloadBy::Image, Stage::Learn);
    // What the source says it reported (a recording's header), from the first two bytes: or nothing said.
    let said: Option<Vec<String>> = match data {
        [a, b, ..] if a & 0x80 == 0 => Some(
            kestrel_core::leavable_names(u16::from_le_bytes([*a, *b])).into_iter().map(String::from).collect(),
        ),
        _ => None,
    };
    learn.set_reports(said.as_deref());
    for e in &events {
        let _ = learn.process(e);
    }
    let mut profiles = learn.into_profiles();
    for p in &mut profiles {
        p.set_mode(Mode::Monitor, 0);
        let _ = serde_json::to_vec(p);
    }
    let mut detect = Detector::new(builtin(), profiles, policy, WorkloadBy::Image, Stage::Detect);
    for e in &events {
        for a in detect.process(e) {
            let _ = serde_json::to_vec(&a);
        }
    }
});
