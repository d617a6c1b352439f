//! What several detection targets feed from: the seed events and the built-in rules, each made once.
//! (Included with `#[path]`; each target uses only what it needs of it.)
#![allow(dead_code)]
use kestrel_core::Event;
use kestrel_detect::rules::{CompiledRules, RuleSet};
use std::sync::OnceLock;

/// Recorded events of three lab attacks (a reverse shell, a link into PATH, a shadow read).
pub fn events() -> &'static [Event] {
    static EVENTS: OnceLock<Vec<Event>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        include_str!("../seeds/events.jsonl").lines().map(|l| serde_json::from_str(l).expect("seed event")).collect()
    })
}

/// The built-in rules, compiled once.
pub fn builtin() -> CompiledRules {
    static RULES: OnceLock<CompiledRules> = OnceLock::new();
    RULES.get_or_init(|| RuleSet::builtin().compile()).clone()
}
