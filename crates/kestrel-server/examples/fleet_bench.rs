//! Fleet figures (bench/fleet.sh runs this; docs/BENCHMARKS.md has the results):
//! 1. storage: alerts persisted per second, batches of 1,000, SQLite and PostgreSQL;
//! 2. JetStream: alerts published per second (acknowledged, one NATS server, file storage), several agents;
//! 3. end to end: agents → JetStream → one server consumer → SQLite, alerts per second and the lag;
//! 4. API: p50/p99 of `GET /api/v1/alerts` pages with a million alerts stored.
//!
//! `cargo run --release -p kestrel-server --example fleet_bench -- [ALERTS]` (default 200,000).

#[path = "common/mod.rs"]
mod common;
use common::alert;
use kestrel_core::Alert;
use kestrel_server::auth::{Role, Tokens};
use kestrel_testkit::services::{Nats, Postgres};
use std::time::{Duration, Instant};

fn now() -> Instant {
    Instant::now()
}

/// `agents` agents (named `TAG-N`) each publish `per` alerts to JetStream in publications of 1,000, at once.
fn publish_all(rt: &tokio::runtime::Runtime, url: &str, tag: &str, agents: usize, per: usize) {
    rt.block_on(async {
        let mut tasks = Vec::new();
        for a in 0..agents {
            let (url, node) = (url.to_string(), format!("{tag}-{a}"));
            tasks.push(tokio::spawn(async move {
                let p = kestrel_server::bus::Publisher::new(kestrel_server::bus::connect(&url).await.unwrap(), &node);
                let items: Vec<serde_json::Value> =
                    (0..per).map(|i| serde_json::to_value(alert(a, i)).unwrap()).collect();
                for chunk in items.chunks(1000) {
                    p.publish(chunk, &[]).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

fn stored(rt: &tokio::runtime::Runtime, store: &kestrel_store::Store) -> i64 {
    rt.block_on(store.alert_counts()).unwrap().iter().map(|(_, c)| c).sum()
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let alerts: Vec<Alert> = (0..n).map(|i| alert(0, i)).collect();
    let bytes = serde_json::to_string(&alerts[0]).unwrap().len();
    println!("alerts of {bytes} bytes of JSON each; {n} per run\n");

    // 1. Storage.
    let pg = Postgres::start();
    for (name, url) in [
        ("SQLite (WAL, synchronous=NORMAL)", format!("sqlite:{}", dir.path().join("w.db").display())),
        ("PostgreSQL 15 (fsync off in the test cluster)", pg.url("bench")),
    ] {
        let store = rt.block_on(kestrel_store::Store::open(&url)).unwrap();
        let t = now();
        for chunk in alerts.chunks(1000) {
            rt.block_on(store.put_alerts("node-0", 1, chunk)).unwrap();
        }
        let s = t.elapsed().as_secs_f64();
        println!("storage  {name}: {n} alerts in {s:.2} s = {:.0} alerts/s", n as f64 / s);
    }

    // 2. JetStream publish, 4 agents.
    let nats = Nats::start();
    let url = nats.url();
    let js = async_nats::jetstream::new(rt.block_on(kestrel_server::bus::connect(&url)).unwrap());
    rt.block_on(kestrel_server::bus::ensure_stream(&js, 1, 900 << 20)).unwrap();
    let agents = 4;
    let per = n / agents;
    let t = now();
    publish_all(&rt, &url, "node", agents, per);
    let s = t.elapsed().as_secs_f64();
    println!(
        "\njetstream  {agents} agents published {} alerts (acknowledged, file storage) in {s:.2} s = {:.0} alerts/s",
        per * agents,
        (per * agents) as f64 / s
    );

    // 3. End to end, sustained: 4 agents publish while one server consumer stores (SQLite, then PostgreSQL);
    // the backlog is what JetStream holds, not yet stored, when the agents are done.
    for (name, url_s) in
        [("SQLite", format!("sqlite:{}", dir.path().join("e2e.db").display())), ("PostgreSQL", pg.url("e2e"))]
    {
        let store = rt.block_on(kestrel_store::Store::open(&url_s)).unwrap();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let client = rt.block_on(kestrel_server::bus::connect(&url)).unwrap();
        // The backlog of step 2 first (not timed).
        let consumer = rt.spawn(kestrel_server::bus::consume(client, store.clone(), 1, 900 << 20, stop_rx, None));
        let backlog = if name == "SQLite" { (per * agents) as i64 } else { 0 };
        while backlog > 0 && stored(&rt, &store) < backlog {
            std::thread::sleep(Duration::from_millis(100));
        }
        let t = now();
        publish_all(&rt, &url, name, agents, per);
        let published_in = t.elapsed().as_secs_f64();
        let total = backlog + (per * agents) as i64;
        let at_end = total - stored(&rt, &store);
        loop {
            let stored = stored(&rt, &store);
            if stored >= total {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(600), "stuck at {stored}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let s = t.elapsed().as_secs_f64();
        let _ = stop_tx.send(true);
        let _ = rt.block_on(consumer);
        println!(
            "end to end  4 agents → JetStream → 1 server → {name}: {} alerts published in {published_in:.2} s and stored in {s:.2} s = {:.0} alerts/s; backlog when the agents finished: {at_end}",
            per * agents,
            (per * agents) as f64 / s
        );
    }

    // 4. The API with a million alerts.
    let big =
        rt.block_on(kestrel_store::Store::open(&format!("sqlite:{}", dir.path().join("big.db").display()))).unwrap();
    let t = now();
    for node in 0..5 {
        let batch: Vec<Alert> = (0..200_000).map(|i| alert(node, i)).collect();
        for chunk in batch.chunks(1000) {
            rt.block_on(big.put_alerts(&format!("node-{node}"), 1, chunk)).unwrap();
        }
    }
    println!("\napi  1,000,000 alerts stored in {:.1} s", t.elapsed().as_secs_f64());
    let mut tokens = Tokens::default();
    tokens.add("v", "viewer", Role::Viewer);
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(kestrel_server::serve(listener, kestrel_server::State::new(big, tokens), std::future::pending()));
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let queries = [
        "/api/v1/alerts?limit=100",
        "/api/v1/alerts?limit=100&min_severity=critical",
        "/api/v1/alerts?limit=100&workload=web-3",
        "/api/v1/alerts?limit=100&node=node-2&min_severity=high",
        "/api/v1/summary",
    ];
    for q in queries {
        let mut lat = Vec::new();
        let mut next: Option<String> = None;
        for i in 0..300 {
            let path = match (&next, i % 10) {
                (Some(c), k) if k != 0 && q.contains("alerts?") => format!("{q}&cursor={c}"),
                _ => q.to_string(),
            };
            let t = now();
            let mut r = agent.get(format!("{base}{path}")).header("Authorization", "Bearer v").call().unwrap();
            let v: serde_json::Value = r.body_mut().read_json().unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            next = v["next"].as_str().map(str::to_string);
        }
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "api  GET {q} (pages followed): p50 {:.2} ms, p99 {:.2} ms",
            lat[lat.len() / 2],
            lat[lat.len() * 99 / 100]
        );
    }
}
