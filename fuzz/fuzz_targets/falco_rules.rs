#![no_main]
use kestrel_detect::rules::{Engine, RuleSet};
use libfuzzer_sys::fuzz_target;
#[path = "shared.rs"]
mod shared;
use shared::events;

// A Falco-style rule file a user brings (`--rules`): loading, compiling and evaluating it on recorded events
// (a reverse shell, a link into PATH, a shadow read) never panics, whatever the lists, macros, conditions,
// exceptions and output templates say.
fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut set = RuleSet::default();
    if set.add_file("fuzz.yaml", text).is_err() {
        return;
    }
    let mut engine = Engine::new(set.compile());
    for e in events() {
        let _ = engine.process(e);
    }
});
