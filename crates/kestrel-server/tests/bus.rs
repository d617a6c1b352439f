//! Agents → NATS JetStream → servers → storage, with real nats-server processes: one server, then a
//! three-node JetStream cluster where a NATS node and a server replica are killed mid-run — and every alert
//! is stored exactly once.

use kestrel_core::{Alert, AlertSource, Severity, ALERT_SCHEMA};
use kestrel_server::ship::{ShipConfig, Shipper};
use kestrel_testkit::services::Nats;
use std::time::{Duration, Instant};

fn alert(node: usize, i: usize) -> Alert {
    Alert {
        schema: ALERT_SCHEMA.into(),
        id: format!("n{node}-a{i}"),
        time_ns: 1_000_000 + i as u64,
        // One in fifty is high: those are notified.
        severity: if i.is_multiple_of(50) { Severity::High } else { Severity::Medium },
        score: 0.5,
        source: AlertSource::Rule { name: "r".into(), priority: "NOTICE".into(), origin: "builtin".into() },
        title: "t".into(),
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

/// A server replica: a runtime of its own running the consumer (dropping it is a crash: no ack is sent).
struct Replica {
    rt: tokio::runtime::Runtime,
    stop: tokio::sync::watch::Sender<bool>,
}

fn replica(nats: &str, store: &kestrel_store::Store, replicas: usize) -> Replica {
    replica_notifying(nats, store, replicas, None)
}

fn replica_notifying(
    nats: &str,
    store: &kestrel_store::Store,
    replicas: usize,
    notifier: Option<kestrel_server::notify::Notifier>,
) -> Replica {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let client = rt.block_on(kestrel_server::bus::connect(nats)).unwrap();
    let store = store.clone();
    let notifier = notifier.map(std::sync::Arc::new);
    rt.spawn(async move { kestrel_server::bus::consume(client, store, replicas, 256 << 20, rx, notifier).await });
    Replica { rt, stop }
}

fn shipper(nats: &str, node: usize, spool: &std::path::Path) -> Shipper {
    shipper_with(nats, node, spool, Duration::from_millis(20))
}

fn shipper_with(nats: &str, node: usize, spool: &std::path::Path, flush_every: Duration) -> Shipper {
    let mut cfg =
        ShipConfig::new("http://unused", "unused", &format!("node-{node}"), &spool.join(format!("spool-{node}")));
    cfg.nats = Some(nats.to_string());
    cfg.flush_every = flush_every;
    cfg.heartbeat_every = Duration::from_millis(200);
    cfg.batch = 500;
    Shipper::start(cfg).unwrap()
}

fn stored(rt: &tokio::runtime::Runtime, store: &kestrel_store::Store) -> i64 {
    rt.block_on(store.alert_counts()).unwrap().iter().map(|(_, n)| n).sum()
}

fn wait_for(what: &str, secs: u64, done: impl FnMut() -> bool) {
    wait_or(what, secs, done, String::new)
}

fn wait_or(what: &str, secs: u64, mut done: impl FnMut() -> bool, context: impl Fn() -> String) {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}\n{}", context());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn alerts_through_jetstream_are_stored_once_even_when_published_twice() {
    let nats = Nats::start();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store =
        rt.block_on(kestrel_store::Store::open(&format!("sqlite:{}", dir.path().join("s.db").display()))).unwrap();
    // The high alerts (one in fifty) are posted to a webhook, once each.
    let hook = kestrel_testkit::services::Webhook::start(vec![], Duration::ZERO);
    let target = kestrel_server::notify::Target::parse(&format!("http://{}/hook", hook.addr)).unwrap();
    let notifier = kestrel_server::notify::Notifier::start(vec![target], Severity::High, Duration::from_secs(5));
    let server = replica_notifying(&nats.url(), &store, 1, Some(notifier.unwrap()));
    // A message's identity is its batch's items, so JetStream knows a replay only when it is cut into the same
    // batches: full ones of 500 here, never a batch cut short by the flush timer (20 ms, which a loaded machine
    // can take to queue a few hundred alerts; then the store still keeps each alert once, by its id).
    let agent = shipper_with(&nats.url(), 1, dir.path(), Duration::from_secs(5));
    for i in 0..5_000 {
        agent.alert(&alert(1, i));
    }
    wait_for("5,000 alerts stored", 30, || stored(&rt, &store) == 5_000);
    // The same alerts again (an agent replaying after a crash): JetStream drops them as duplicates.
    for i in 0..5_000 {
        agent.alert(&alert(1, i));
    }
    wait_for("the duplicates", 30, || agent.stats().delivered == 10_000);
    let stats = agent.close();
    assert_eq!(stats.duplicates, 5_000, "{stats:?}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(stored(&rt, &store), 5_000);
    wait_for("the notifications", 30, || hook.received().len() >= 100);
    std::thread::sleep(Duration::from_millis(300));
    let _ = server.stop.send(true);
    let mut ids: Vec<String> =
        hook.received().iter().map(|(_, b)| b["alert"]["id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    let mut high: Vec<String> = (0..5_000).step_by(50).map(|i| format!("n1-a{i}")).collect();
    high.sort();
    assert_eq!(ids, high, "each high alert notified once, the others not at all");
}

#[test]
fn a_nats_node_and_a_server_replica_die_mid_run_and_every_alert_is_stored_exactly_once() {
    let mut nats = Nats::cluster(3);
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store =
        rt.block_on(kestrel_store::Store::open(&format!("sqlite:{}", dir.path().join("s.db").display()))).unwrap();
    // Two server replicas share the work; three agents publish.
    let mut a = Some(replica(&url, &store, 3));
    let b = replica(&url, &store, 3);
    // The replicas create the stream (replicated on the three nodes) and their consumer; agents start once
    // it is there, so that the failures below hit live traffic.
    let js = async_nats::jetstream::new(rt.block_on(kestrel_server::bus::connect(&url)).unwrap());
    wait_or(
        "the stream and its consumer",
        90,
        || {
            rt.block_on(async {
                match js.get_stream(kestrel_server::bus::STREAM).await {
                    Ok(s) => s.consumer_info(kestrel_server::bus::CONSUMER).await.is_ok(),
                    Err(_) => false,
                }
            })
        },
        || nats.logs(),
    );
    let agents: Vec<Shipper> = (0..3).map(|n| shipper(&url, n, dir.path())).collect();
    // Warm-up: each agent gets an alert straight through (not by its spool) before the run, so that the
    // failures below hit live traffic; a loaded machine can make the first publications fail.
    let mut warm = [0usize; 3];
    wait_for("a direct delivery from every agent", 60, || {
        let direct = |s: &Shipper| s.stats().delivered > s.stats().replayed;
        for (n, s) in agents.iter().enumerate() {
            if !direct(s) {
                let mut a = alert(n, 0);
                a.id = format!("n{n}-warm{}", warm[n]);
                s.alert(&a);
                warm[n] += 1;
            }
        }
        agents.iter().all(direct)
    });
    let per_agent = 4_000;
    let mut sent = 0;
    for i in 0..per_agent {
        for (n, s) in agents.iter().enumerate() {
            s.alert(&alert(n, i));
            sent += 1;
        }
        if i % 500 == 499 {
            std::thread::sleep(Duration::from_millis(100));
        }
        if i == per_agent / 2 {
            // Mid-run: NATS node 1 crashes, and so does server replica A (its runtime dropped: no ack sent
            // for what it was storing).
            // (After every agent got something through, so that the failures hit live traffic.)
            wait_for("a first delivery from every agent", 30, || agents.iter().all(|s| s.stats().delivered > 0));
            nats.kill(0);
            if let Some(r) = a.take() {
                r.rt.shutdown_background();
            }
        }
    }
    let total = (3 * per_agent + warm.iter().sum::<usize>()) as i64;
    wait_for("every alert stored", 120, || stored(&rt, &store) >= total);
    let stats: Vec<_> = agents.into_iter().map(|s| s.close()).collect();
    eprintln!("agents after the failures: {stats:#?}");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(stored(&rt, &store), total, "exactly once: {stats:?}");
    assert_eq!(sent + warm.iter().sum::<usize>() as i64, total);
    let direct: u64 = stats.iter().map(|s| s.delivered - s.replayed).sum();
    assert!(direct > 0, "some alerts went straight through before the failures: {stats:?}");
    for s in &stats {
        assert_eq!((s.dropped_queue_full, s.dropped_spool_full, s.rejected), (0, 0, 0), "{s:?}");
    }
    // Every id is there.
    for n in 0..3 {
        for i in [0, per_agent / 2, per_agent - 1] {
            assert!(
                rt.block_on(store.alert(&format!("node-{n}"), &format!("n{n}-a{i}"))).unwrap().is_some(),
                "node-{n} a{i}"
            );
        }
    }
    let _ = b.stop.send(true);
    drop(b.rt);
}
