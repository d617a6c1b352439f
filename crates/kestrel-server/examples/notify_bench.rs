//! How fast the notifier empties its queue into webhooks on this machine (bench/notify.sh runs this;
//! docs/BENCHMARKS.md has the results): N alerts of high severity or worse are handed to the real
//! [`kestrel_server::notify::Notifier`] no faster than its bounded queue takes them, and posted to a webhook
//! receiver on a loopback port (kestrel-testkit's, answering 200 after DELAY_MS) — once as kestrel's JSON
//! (one post per alert), once to a chat target (the alerts waiting gathered into one message). Reported:
//! alerts delivered per second, posts made, and that every alert arrived.
//!
//! `cargo run --release -p kestrel-server --example notify_bench -- [ALERTS] [DELAY_MS]`

#[path = "common/mod.rs"]
mod common;
use common::alert;

use kestrel_core::Severity;
use kestrel_server::notify::{Notifier, Target, QUEUE};
use kestrel_testkit::services::Webhook;
use std::time::{Duration, Instant};

/// Alerts the webhook has received: a post each for JSON, the alerts a chat message names.
fn delivered(hook: &Webhook, chat: bool) -> usize {
    hook.received()
        .iter()
        .map(|(_, b)| match chat {
            false => 1,
            true => {
                let text = b["text"].as_str().unwrap_or("");
                text.matches("*HIGH*").count() + text.matches("*CRITICAL*").count()
            }
        })
        .sum()
}

fn main() {
    let nums: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = nums.first().copied().unwrap_or(5_000) as usize;
    let delay = Duration::from_millis(nums.get(1).copied().unwrap_or(0));
    // Every other alert of common::alert is high or critical: hand over only those.
    let alerts: Vec<_> = (0..n * 2).map(|i| alert(1, i)).filter(|a| a.severity >= Severity::High).collect();
    for (name, chat) in [("json", false), ("chat", true)] {
        let hook = Webhook::start(vec![], delay);
        let spec = format!("{}http://{}/hook", if chat { "chat:" } else { "" }, hook.addr);
        let notifier = Notifier::start(vec![Target::parse(&spec).unwrap()], Severity::High, Duration::from_secs(5))
            .expect("the notifier's thread");
        let started = Instant::now();
        let mut handed = 0;
        for chunk in alerts.chunks(256) {
            // No more than half the queue waiting: the bench measures posting, not dropping.
            while handed - delivered(&hook, chat) > QUEUE / 2 {
                std::thread::sleep(Duration::from_micros(500));
            }
            notifier.alerts(chunk.iter().map(|a| ("node-1", a)));
            handed += chunk.len();
        }
        while delivered(&hook, chat) < alerts.len() && started.elapsed() < Duration::from_secs(600) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let secs = started.elapsed().as_secs_f64();
        let got = delivered(&hook, chat);
        println!(
            "{name}: {got} of {} alerts delivered in {secs:.2} s = {:.0} alerts/s in {} posts (webhook answers after {} ms){}",
            alerts.len(),
            got as f64 / secs,
            hook.received().len(),
            delay.as_millis(),
            if got == alerts.len() { "" } else { " — INCOMPLETE" }
        );
    }
}
