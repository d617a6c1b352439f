//! Many simulated node agents at once (bench/agents.sh runs this; docs/BENCHMARKS.md has the results): each
//! agent is the real shipper ([`kestrel_server::ship::Shipper`], its own thread, batches, spool, heartbeats)
//! with its own token, all sending to one server over HTTP at the same time; the server stores in
//! PostgreSQL (or SQLite with `--sqlite`). Reported: alerts per second persisted, request latency on the
//! server, and that every alert is stored exactly once.
//!
//! `cargo run --release -p kestrel-server --example agents_bench -- [AGENTS] [ALERTS_PER_AGENT] [--sqlite]`

#[path = "common/mod.rs"]
mod common;
use common::alert;

use kestrel_server::auth::{Role, Tokens};
use kestrel_server::ship::{ShipConfig, Shipper};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let nums: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let agents = nums.first().copied().unwrap_or(500);
    let per = nums.get(1).copied().unwrap_or(400);
    let sqlite = args.iter().any(|a| a == "--sqlite");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pg = (!sqlite).then(kestrel_testkit::services::Postgres::start);
    let url = match &pg {
        Some(pg) => pg.url("agents"),
        None => format!("sqlite:{}", dir.path().join("a.db").display()),
    };
    let store = rt.block_on(kestrel_store::Store::open(&url)).unwrap();
    let mut tokens = Tokens::default();
    for a in 0..agents {
        tokens.add(&format!("token-{a}"), &format!("node-{a}"), Role::Agent);
    }
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(kestrel_server::serve(
        listener,
        kestrel_server::State::new(store.clone(), tokens),
        std::future::pending(),
    ));

    let t = Instant::now();
    let shippers: Vec<Shipper> = (0..agents)
        .map(|a| {
            let mut cfg = ShipConfig::new(
                &base,
                &format!("token-{a}"),
                &format!("node-{a}"),
                &dir.path().join(format!("spool-{a}")),
            );
            cfg.heartbeat_every = Duration::from_secs(5);
            Shipper::start(cfg).unwrap()
        })
        .collect();
    // Every agent sends its alerts at once, as fast as it can.
    std::thread::scope(|s| {
        for (a, sh) in shippers.iter().enumerate() {
            s.spawn(move || {
                for i in 0..per {
                    sh.alert(&alert(a, i));
                }
            });
        }
    });
    let total = (agents * per) as i64;
    let stored = |store: &kestrel_store::Store| -> i64 {
        rt.block_on(store.alert_counts()).unwrap().iter().map(|(_, n)| n).sum()
    };
    while stored(&store) < total {
        assert!(t.elapsed() < Duration::from_secs(900), "stuck at {}", stored(&store));
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = t.elapsed().as_secs_f64();
    let mut delivered = 0;
    let mut spooled = 0;
    let mut dropped = 0;
    for sh in shippers {
        let st = sh.close();
        delivered += st.delivered;
        spooled += st.spooled;
        dropped += st.dropped_queue_full + st.dropped_spool_full;
    }
    let nodes = rt.block_on(store.nodes()).unwrap().len();
    println!(
        "agents  {agents} simulated agents (real shippers, HTTP) × {per} alerts → 1 server → {}: {total} alerts stored in {secs:.2} s = {:.0} alerts/s; {delivered} delivered, {spooled} went through a spool, {dropped} dropped; {nodes} nodes known; stored = sent: {}",
        if sqlite { "SQLite" } else { "PostgreSQL" },
        total as f64 / secs,
        stored(&store) == total
    );
}
