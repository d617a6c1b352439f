//! The agent's shipper against a real server: the server is down when the agent starts, comes up later, and
//! every alert arrives exactly once; a full spool turns items away and counts each; a segment sent twice (the
//! agent stopped before deleting it) is stored once.

use kestrel_core::{Alert, AlertSource, Severity, ALERT_SCHEMA};
use kestrel_server::auth::{Role, Tokens};
use kestrel_server::ship::{ShipConfig, Shipper};
use std::time::{Duration, Instant};

fn alert(i: usize) -> Alert {
    Alert {
        schema: ALERT_SCHEMA.into(),
        id: format!("a{i}"),
        time_ns: 1_000 + i as u64,
        severity: Severity::High,
        score: 1.0,
        source: AlertSource::Rule { name: "r".into(), priority: "WARNING".into(), origin: "builtin".into() },
        title: format!("alert {i}"),
        explanation: vec![],
        contributions: vec![],
        mitre: vec![],
        tags: vec![],
        container: None,
        workload: Some("web".into()),
        evidence: vec![],
        folded: None,
    }
}

struct Server {
    rt: tokio::runtime::Runtime,
    store: kestrel_store::Store,
}

/// A server on `port` (which may have been refused until now).
fn serve_on(port: u16, db: &std::path::Path) -> Server {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut tokens = Tokens::default();
    tokens.add("agent", "node-1", Role::Agent);
    let store = rt.block_on(kestrel_store::Store::open(&format!("sqlite:{}", db.display()))).unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", port))).unwrap();
    rt.spawn(kestrel_server::serve(
        listener,
        kestrel_server::State::new(store.clone(), tokens),
        std::future::pending(),
    ));
    Server { rt, store }
}

fn stored(s: &Server) -> i64 {
    s.rt.block_on(s.store.alert_counts()).unwrap().iter().map(|(_, n)| n).sum()
}

fn config(port: u16, spool: &std::path::Path) -> ShipConfig {
    let mut c = ShipConfig::new(&format!("http://127.0.0.1:{port}"), "agent", "node-1", spool);
    c.flush_every = Duration::from_millis(20);
    c.heartbeat_every = Duration::from_millis(100);
    c.batch = 100;
    c
}

#[test]
fn the_server_comes_up_late_and_every_alert_arrives_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = kestrel_testkit::services::free_port();
    let shipper = Shipper::start(config(port, &dir.path().join("spool"))).unwrap();
    for i in 0..1_000 {
        shipper.alert(&alert(i));
    }
    // Nothing listens: the batches go to the spool.
    let t = Instant::now();
    while shipper.stats().spooled < 1_000 {
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", shipper.stats());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(shipper.stats().spool_bytes > 0);
    let server = serve_on(port, &dir.path().join("server.db"));
    for i in 1_000..1_500 {
        shipper.alert(&alert(i));
    }
    let t = Instant::now();
    while stored(&server) < 1_500 || shipper.stats().spool_bytes > 0 {
        assert!(t.elapsed() < Duration::from_secs(20), "{} stored, {:?}", stored(&server), shipper.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = shipper.close();
    assert_eq!(stored(&server), 1_500, "every alert once");
    assert_eq!((stats.delivered, stats.dropped_spool_full, stats.dropped_queue_full), (1_500, 0, 0), "{stats:?}");
    // What went to the spool (the first 1,000, and any later batch sent before the shipper saw the server
    // back) came back from it.
    assert!(stats.spooled >= 1_000 && stats.replayed == stats.spooled, "{stats:?}");
    assert_eq!(std::fs::read_dir(dir.path().join("spool")).unwrap().count(), 0, "the spool is empty");
}

#[test]
fn a_full_spool_turns_items_away_and_counts_every_one() {
    let dir = tempfile::tempdir().unwrap();
    let port = kestrel_testkit::services::free_port();
    let mut cfg = config(port, &dir.path().join("spool"));
    cfg.spool_max_bytes = 60_000; // room for about two batches of 100
    let shipper = Shipper::start(cfg).unwrap();
    for i in 0..1_000 {
        shipper.alert(&alert(i));
    }
    let t = Instant::now();
    while shipper.stats().spooled + shipper.stats().dropped_spool_full < 1_000 {
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", shipper.stats());
        std::thread::sleep(Duration::from_millis(10));
    }
    let before = shipper.stats();
    assert!(before.dropped_spool_full > 0 && before.spooled > 0, "{before:?}");
    assert!(before.spool_bytes <= 60_000);
    let server = serve_on(port, &dir.path().join("server.db"));
    let t = Instant::now();
    while shipper.stats().spool_bytes > 0 {
        assert!(t.elapsed() < Duration::from_secs(20), "{:?}", shipper.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = shipper.close();
    assert_eq!(stored(&server) as u64, before.spooled, "what the spool held arrived");
    assert_eq!(stats.spooled + stats.dropped_spool_full, 1_000, "and the rest is counted: {stats:?}");
}

#[test]
fn a_segment_sent_twice_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let port = kestrel_testkit::services::free_port();
    // An earlier run spooled 300 alerts, and (it crashed after sending them but before deleting the segment)
    // the server has them already.
    let server = serve_on(port, &dir.path().join("server.db"));
    let first = Shipper::start(config(port, &spool)).unwrap();
    for i in 0..300 {
        first.alert(&alert(i));
    }
    first.close();
    assert_eq!(stored(&server), 300);
    std::fs::create_dir_all(&spool).unwrap();
    let lines: String =
        (0..300).map(|i| format!("{}\n", serde_json::json!({"kind": "alert", "item": alert(i)}))).collect();
    std::fs::write(spool.join("00000000000000000001-000000.jsonl"), lines).unwrap();
    let second = Shipper::start(config(port, &spool)).unwrap();
    let t = Instant::now();
    while second.stats().replayed < 300 {
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", second.stats());
        std::thread::sleep(Duration::from_millis(10));
    }
    let stats = second.close();
    assert_eq!((stats.replayed, stats.duplicates), (300, 300));
    assert_eq!(stored(&server), 300, "no alert twice");
}

/// A verdict given on the dashboard reaches the node's shipper once; once the node sends the decision's new
/// state, the server stops offering it.
#[test]
fn verdicts_reach_the_node_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = kestrel_testkit::services::free_port();
    let server = serve_on(port, &dir.path().join("server.db"));
    let mut cfg = config(port, &dir.path().join("spool"));
    cfg.verdicts_every = Some(Duration::from_millis(50));
    let shipper = Shipper::start(cfg).unwrap();
    let line = |outcome: &str, t: i64| {
        serde_json::json!({"schema": "kestrel.response/v1", "id": "a1/pause", "alert_id": "a1", "written_ns": t,
            "outcome": outcome, "workload": "web", "severity": "high", "action": "pause", "rule": "r"})
    };
    shipper.decision(line("pending-approval", 10));
    let t = Instant::now();
    while server.rt.block_on(server.store.pending_count()).unwrap() == 0 {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    }
    let v = kestrel_store::Verdict {
        node: "node-1".into(),
        id: "a1/pause".into(),
        verdict: "approve".into(),
        by: "alice".into(),
        reason: String::new(),
        at_ns: 11,
    };
    server.rt.block_on(server.store.put_verdict(&v)).unwrap();
    let mut got = Vec::new();
    let t = Instant::now();
    while got.is_empty() {
        assert!(t.elapsed() < Duration::from_secs(10), "no verdict fetched");
        got.extend(shipper.verdicts());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(got, [v]);
    // Fetched again and again until acted on, but handed over once.
    std::thread::sleep(Duration::from_millis(300));
    assert!(shipper.verdicts().is_empty());
    shipper.decision(line("acted", 12));
    let t = Instant::now();
    while !server.rt.block_on(server.store.verdicts_for("node-1")).unwrap().is_empty() {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    }
    shipper.close();
}

/// Many agents at once: 100 real shippers, each with its own token and node, sending 100 alerts each to one
/// server; every alert is stored once, every node is known with its status.
#[test]
fn many_agents_at_once_every_alert_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = kestrel_testkit::services::free_port();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let agents = 100;
    let mut tokens = Tokens::default();
    for a in 0..agents {
        tokens.add(&format!("t{a}"), &format!("node-{a}"), Role::Agent);
    }
    let store =
        rt.block_on(kestrel_store::Store::open(&format!("sqlite:{}", dir.path().join("s.db").display()))).unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", port))).unwrap();
    rt.spawn(kestrel_server::serve(
        listener,
        kestrel_server::State::new(store.clone(), tokens),
        std::future::pending(),
    ));
    let shippers: Vec<Shipper> = (0..agents)
        .map(|a| {
            let mut c = config(port, &dir.path().join(format!("spool-{a}")));
            c.token = format!("t{a}");
            c.node = format!("node-{a}");
            Shipper::start(c).unwrap()
        })
        .collect();
    std::thread::scope(|s| {
        for sh in &shippers {
            s.spawn(move || {
                for i in 0..100 {
                    sh.alert(&alert(i));
                }
            });
        }
    });
    let total = |store: &kestrel_store::Store| -> i64 {
        rt.block_on(store.alert_counts()).unwrap().iter().map(|(_, n)| n).sum()
    };
    let t = Instant::now();
    while total(&store) < (agents * 100) as i64 {
        assert!(t.elapsed() < Duration::from_secs(60), "{} stored", total(&store));
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats: Vec<_> = shippers.into_iter().map(Shipper::close).collect();
    assert_eq!(total(&store), (agents * 100) as i64, "each alert once (the same ids on other nodes are other alerts)");
    assert!(stats.iter().all(|s| s.delivered == 100 && s.dropped_queue_full + s.dropped_spool_full == 0), "{stats:?}");
    let nodes = rt.block_on(store.nodes()).unwrap();
    assert_eq!(nodes.len(), agents);
    assert!(nodes.iter().all(|n| n.status["delivered"].is_u64()), "every node sent its status");
}
