//! The same checks on both backends: SQLite in a temporary file, and a real PostgreSQL server started for the
//! test (`kestrel_testkit::services::Postgres`).

use super::*;
use kestrel_core::{AlertSource, ContainerRef, ALERT_SCHEMA};

/// `sha256:` and 64 of `c`.
fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// Reopened: the store's data is there; digests of reports stored before they were indexed (an upgrade) are added;
/// retention takes a report's digests with it.
async fn reopened(url: &str) {
    let again = Store::open(url).await.unwrap();
    assert_eq!(again.reports(None, None, 10).await.unwrap().len(), 3);
    sqlx::query("DELETE FROM report_digests").execute(&again.pool).await.unwrap();
    assert!(again.reports_by_digest(&digest('a'), 10).await.unwrap().is_empty());
    drop(again);
    let upgraded = Store::open(url).await.unwrap();
    assert_eq!(upgraded.reports_by_digest(&digest('b'), 10).await.unwrap().len(), 1);
    assert_eq!(upgraded.prune(52).await.unwrap().reports, 2);
    assert!(upgraded.reports_by_digest(&digest('b'), 10).await.unwrap().is_empty());
    let left: i64 = sqlx::query("SELECT COUNT(*) FROM report_digests").fetch_one(&upgraded.pool).await.unwrap().get(0);
    assert_eq!(left, 0);
}

pub(crate) fn alert(id: &str, time_ns: u64, severity: Severity, workload: &str) -> Alert {
    Alert {
        schema: ALERT_SCHEMA.into(),
        id: id.into(),
        time_ns,
        severity,
        score: 0.9,
        source: AlertSource::Rule {
            name: "shell in container".into(),
            priority: "WARNING".into(),
            origin: "builtin".into(),
        },
        title: format!("shell in {workload}"),
        explanation: vec!["`/bin/sh` with parent `nginx` never seen".into()],
        contributions: vec![],
        mitre: vec!["T1059.004".into()],
        tags: vec![],
        container: Some(ContainerRef {
            id: format!("c-{workload}"),
            runtime: "runc".into(),
            namespace: Some("shop".into()),
            name: Some(workload.into()),
            ..Default::default()
        }),
        workload: Some(workload.into()),
        evidence: vec![],
        folded: None,
    }
}

async fn exercise(store: &Store) {
    store.ping().await.unwrap();
    // Alerts: a batch larger than one INSERT, then the same batch again (redelivery): nothing new.
    let batch: Vec<Alert> = (0..1_203)
        .map(|i| {
            let sev = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical][i % 4];
            alert(&format!("a{i}"), 1_000 + i as u64 / 2, sev, if i % 3 == 0 { "web" } else { "db" })
        })
        .collect();
    assert_eq!(store.put_alerts("node-1", 5, &batch).await.unwrap(), 1_203);
    assert_eq!(store.put_alerts("node-1", 6, &batch).await.unwrap(), 0, "a redelivered batch adds nothing");
    // The same ids from another node are other alerts.
    assert_eq!(store.put_alerts("node-2", 7, &batch[..10]).await.unwrap(), 10);
    // Which ones were new, by their place in the call, across INSERT chunks: node-1's whole batch again
    // (nothing new) with two node-3 alerts, one in the first chunk and one in the third.
    let mut mixed: Vec<(&str, &Alert)> = batch.iter().map(|a| ("node-1", a)).collect();
    mixed.insert(7, ("node-3", &batch[0]));
    mixed.insert(1_100, ("node-3", &batch[1]));
    assert_eq!(store.put_alerts_new(8, &mixed).await.unwrap(), vec![7, 1_100]);
    let counts = store.alert_counts().await.unwrap();
    assert_eq!(counts.iter().map(|(_, n)| n).sum::<i64>(), 1_215);
    assert_eq!(counts[0], (Severity::Critical, 300 + 2));

    // Pages: newest first, every alert exactly once across pages, filters applied.
    let mut seen = std::collections::HashSet::new();
    let mut q = AlertQuery { node: Some("node-1".into()), limit: 100, ..Default::default() };
    let mut last = u64::MAX;
    loop {
        let page = store.alerts(&q).await.unwrap();
        for a in &page.items {
            assert!(a.alert.time_ns <= last, "newest first");
            last = a.alert.time_ns;
            assert!(seen.insert(a.alert.id.clone()), "{} twice", a.alert.id);
        }
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1_203);
    let high = store
        .alerts(&AlertQuery {
            min_severity: Some(Severity::High),
            workload: Some("web".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let expected = batch.iter().enumerate().filter(|(i, a)| i % 3 == 0 && a.severity >= Severity::High).count()
        + batch[..10].iter().enumerate().filter(|(i, a)| i % 3 == 0 && a.severity >= Severity::High).count();
    assert_eq!(high.items.len(), expected);
    assert!(high
        .items
        .iter()
        .all(|a| a.alert.severity >= Severity::High && a.alert.workload.as_deref() == Some("web")));
    let one = store.alert("node-1", "a7").await.unwrap().expect("stored");
    assert_eq!(one.alert, batch[7], "the alert comes back as it was sent");
    assert!(store.alert("node-1", "nope").await.unwrap().is_none());
    assert!(matches!(
        store.alerts(&AlertQuery { cursor: Some("garbage".into()), limit: 5, ..Default::default() }).await,
        Err(StoreError::Invalid(_))
    ));

    // Decisions: states of one decision, the latest shown; redelivery adds nothing.
    let line = |outcome: &str, t: i64| {
        serde_json::json!({"schema": "kestrel.response/v1", "id": "a7/kill-process", "alert_id": "a7", "written_ns": t,
            "outcome": outcome, "workload": "web", "severity": "high", "action": "kill-process", "rule": "r"})
    };
    let lines = vec![line("pending-approval", 10), line("intent", 20), line("acted", 30)];
    assert_eq!(store.put_decisions("node-1", &lines).await.unwrap(), 3);
    assert_eq!(store.put_decisions("node-1", &lines).await.unwrap(), 0);
    let latest = store.decisions(None, 10).await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].line["outcome"], "acted");
    assert!(store.decisions(Some("pending-approval"), 10).await.unwrap().is_empty());
    assert!(store.put_decisions("node-1", &[serde_json::json!({"id": "x"})]).await.is_err(), "not an audit line");

    // Approvals: a decision waits, takes one verdict, the node fetches it until it sends the new state.
    let wait = |id: &str, node_t: i64| {
        serde_json::json!({"schema": "kestrel.response/v1", "id": id, "alert_id": "a9", "written_ns": node_t,
            "outcome": "pending-approval", "workload": "db", "severity": "critical", "action": "pause", "rule": "r"})
    };
    store.put_decisions("node-2", &[wait("a9/pause", 40), wait("a8/pause", 41)]).await.unwrap();
    assert_eq!(store.pending_count().await.unwrap(), 2);
    let pending = store.pending(10).await.unwrap();
    assert_eq!(
        pending.iter().map(|p| p.decision["id"].as_str().unwrap()).collect::<Vec<_>>(),
        ["a8/pause", "a9/pause"]
    );
    assert!(pending.iter().all(|p| p.node == "node-2" && p.verdict.is_none()));
    let v = |id: &str, verdict: &str, by: &str| Verdict {
        node: "node-2".into(),
        id: id.into(),
        verdict: verdict.into(),
        by: by.into(),
        reason: String::new(),
        at_ns: 45,
    };
    let (first, new) = store.put_verdict(&v("a9/pause", "approve", "alice")).await.unwrap();
    assert!(new && first.by == "alice");
    let (again, new) = store.put_verdict(&v("a9/pause", "deny", "bob")).await.unwrap();
    assert!(!new && again == first, "the first verdict stands");
    assert!(matches!(store.put_verdict(&v("a7/kill-process", "approve", "alice")).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.put_verdict(&v("a8/pause", "maybe", "alice")).await, Err(StoreError::Invalid(_))));
    assert_eq!(store.verdicts_for("node-2").await.unwrap(), vec![first.clone()]);
    assert!(store.verdicts_for("node-1").await.unwrap().is_empty());
    assert_eq!(store.pending(10).await.unwrap()[1].verdict, Some(first));
    // The node acts and says so: nothing waits any more for a9.
    let mut acted = wait("a9/pause", 46);
    acted["outcome"] = "acted".into();
    store.put_decisions("node-2", &[acted]).await.unwrap();
    assert!(store.verdicts_for("node-2").await.unwrap().is_empty());
    assert_eq!(store.pending_count().await.unwrap(), 1);
    assert_eq!(store.decision("node-2", "a9/pause").await.unwrap().unwrap().line["outcome"], "acted");

    // Sessions: live until they expire or end.
    store.put_session("d1", "alice", "admin", 10, now_ns() + 1_000_000_000).await.unwrap();
    assert_eq!(store.session("d1", now_ns()).await.unwrap(), Some(("alice".into(), "admin".into())));
    assert_eq!(store.session("d1", now_ns() + 2_000_000_000).await.unwrap(), None, "expired");
    store.end_session("d1").await.unwrap();
    assert_eq!(store.session("d1", now_ns()).await.unwrap(), None);

    // Reports: content-addressed.
    let report = NewReport {
        kind: "image".into(),
        subject: "registry.example/shop/web:1.2".into(),
        source: "ci".into(),
        received_ns: 50,
        counts: [1, 2, 3, 4],
        body: ReportBody::new(&serde_json::json!({"schema": "kestrel.report/v1", "findings": [1, 2]})).unwrap(),
    };
    let (id, new) = store.put_report(&report).await.unwrap();
    assert!(new);
    assert_eq!(store.put_report(&report).await.unwrap(), (id.clone(), false));
    // The same report for another subject (a second tag of the image, scanned reproducibly) is that one's too.
    let body = serde_json::json!({"schema": "kestrel.report/v1", "findings": [1, 2]});
    let again = NewReport {
        subject: "registry.example/shop/web:latest".into(),
        body: ReportBody::new(&body).unwrap(),
        ..report.clone()
    };
    let (again_id, new) = store.put_report(&again).await.unwrap();
    assert!(new && again_id != id);
    assert_eq!(store.report_subject(&again_id).await.unwrap().as_deref(), Some("registry.example/shop/web:latest"));
    assert_eq!(store.reports(Some("registry.example/shop/web:latest"), None, 10).await.unwrap().len(), 1);
    // Taken out again: what follows counts the reports.
    sqlx::query("DELETE FROM reports WHERE id = $1").bind(&again_id).execute(&store.pool).await.unwrap();
    assert_eq!(
        store.report(&id).await.unwrap(),
        Some(serde_json::json!({"schema": "kestrel.report/v1", "findings": [1, 2]}))
    );
    assert_eq!(
        store.report_text(&id).await.unwrap().as_deref(),
        Some(r#"{"findings":[1,2],"schema":"kestrel.report/v1"}"#)
    );
    assert_eq!(store.report_text("nope").await.unwrap(), None);
    assert_eq!(store.report_subject(&id).await.unwrap().as_deref(), Some("registry.example/shop/web:1.2"));
    assert_eq!(store.report_subject("nope").await.unwrap(), None);
    let list = store.reports(Some("registry.example/shop/web:1.2"), None, 10).await.unwrap();
    assert_eq!((list.len(), list[0].counts), (1, [1, 2, 3, 4]));
    assert_eq!(store.reports(None, Some("image"), 10).await.unwrap().len(), 1);
    assert!(store.reports(None, Some("compliance"), 10).await.unwrap().is_empty());
    assert_eq!(store.report_count().await.unwrap(), 1);
    // An image report is found by each digest it names, another kind's is not.
    let target =
        serde_json::json!({"image_id": digest('a'), "manifest_digest": digest('b'), "index_digest": digest('c')});
    let body = serde_json::json!({"schema": "kestrel.report/v1", "target": target, "findings": []});
    let pinned = NewReport {
        subject: "registry.example/shop/web:1.3".into(),
        received_ns: 51,
        body: ReportBody::new(&body).unwrap(),
        ..report.clone()
    };
    let (pinned_id, _) = store.put_report(&pinned).await.unwrap();
    let config =
        NewReport { kind: "config".into(), received_ns: 52, body: ReportBody::new(&body).unwrap(), ..pinned.clone() };
    store.put_report(&config).await.unwrap();
    for d in [digest('a'), digest('b'), digest('c')] {
        let found = store.reports_by_digest(&d, 10).await.unwrap();
        assert_eq!(found.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [pinned_id.as_str()], "{d}");
        assert_eq!(found[0].subject, "registry.example/shop/web:1.3");
    }
    assert!(store.reports_by_digest(&digest('d'), 10).await.unwrap().is_empty());

    // Profiles: the latest version per node.
    for (node, v) in [("node-1", 1), ("node-1", 2), ("node-2", 1)] {
        assert!(store.put_profile(node, "web", v, 60, &raw(serde_json::json!({"v": v, "node": node}))).await.unwrap());
    }
    let profiles = store.profiles("web").await.unwrap();
    assert_eq!(
        profiles.iter().map(|p| (p.node.as_str(), p.version)).collect::<Vec<_>>(),
        [("node-1", 2), ("node-2", 1)]
    );
    let body: serde_json::Value = serde_json::from_str(profiles[0].body.get()).unwrap();
    assert_eq!(body, serde_json::json!({"v": 2, "node": "node-1"}));
    let body =
        serde_json::json!({"mode": "monitor", "events": 12, "behaviours": [{"view": "process"}, {}], "grams": [1]});
    store.put_profile("node-1", "db", 3, 61, &raw(body)).await.unwrap();
    let w = store.workloads().await.unwrap();
    assert_eq!(
        w.iter().map(|w| (w.workload.as_str(), w.node.as_str(), w.version)).collect::<Vec<_>>(),
        [("db", "node-1", 3), ("web", "node-1", 2), ("web", "node-2", 1)]
    );
    assert_eq!((w[0].mode.as_str(), w[0].events, w[0].behaviours, w[0].grams), ("monitor", 12, 2, 1));

    // Nodes.
    store.touch_node("ci", 50, None, None).await.unwrap();
    store.touch_node("node-1", 100, Some("0.1.0"), Some(&serde_json::json!({"workloads": 3}))).await.unwrap();
    store.touch_node("node-1", 200, None, None).await.unwrap();
    let nodes = store.nodes().await.unwrap();
    assert_eq!((nodes[0].name.as_str(), nodes[0].first_seen_ns, nodes[0].last_seen_ns), ("node-1", 100, 200));
    assert_eq!(
        (nodes[0].version.as_str(), nodes[0].status["workloads"].as_i64()),
        ("0.1.0", Some(3)),
        "kept when not resent"
    );

    // Retention: what was received before the cut goes.
    let pruned = store.prune(6).await.unwrap();
    assert_eq!(pruned, Pruned { alerts: 1_203, decisions: 0, reports: 0 });
    assert_eq!(store.alert_counts().await.unwrap().iter().map(|(_, n)| n).sum::<i64>(), 12);
    // Decisions go by the time they were written on the node: the two older states go, the last stays.
    assert_eq!(store.prune(25).await.unwrap(), Pruned { alerts: 12, decisions: 2, reports: 0 });
    assert_eq!(store.decisions(None, 10).await.unwrap()[0].line["outcome"], "acted");
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_stores_deduplicates_pages_and_prunes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("k.db").display());
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    exercise(&store).await;
    drop(store);
    // Reopening runs no migration twice and keeps the data.
    reopened(&url).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_stores_deduplicates_pages_and_prunes() {
    let pg = kestrel_testkit::services::Postgres::start();
    let url = pg.url("kestrel");
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    exercise(&store).await;
    reopened(&url).await;
}

#[tokio::test]
async fn bad_urls_are_clear_errors_and_passwords_stay_hidden() {
    let e = Store::open("mysql://u:secret@h/db").await.err().unwrap().to_string();
    assert!(e.contains("not a store URL") && !e.contains("secret"), "{e}");
    let e = Store::open("postgres://u:secret@127.0.0.1:1/db").await.err().unwrap().to_string();
    assert!(e.contains("u:***@127.0.0.1:1") && !e.contains("secret"), "{e}");
    let e = Store::open("sqlite:/nonexistent-dir/x/k.db").await.err().unwrap().to_string();
    assert!(e.contains("/nonexistent-dir/x/k.db"), "{e}");
}

/// Verdicts (a read, then a write) racing with decision writes on other connections of a file store: every
/// call succeeds. With deferred transactions SQLite refused some with "database is locked" (code 517,
/// SQLITE_BUSY_SNAPSHOT), which its busy timeout does not wait out — seen once in CI.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_verdicts_and_decisions_written_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        std::sync::Arc::new(Store::open(&format!("sqlite:{}", dir.path().join("k.db").display())).await.unwrap());
    let wait = |id: String, t: i64| {
        serde_json::json!({"schema": "kestrel.response/v1", "id": id, "alert_id": "a", "written_ns": t,
            "outcome": "pending-approval", "workload": "db", "severity": "high", "action": "pause", "rule": "r"})
    };
    const N: usize = 200;
    let ids: Vec<String> = (0..N).map(|i| format!("a{i}/pause")).collect();
    store.put_decisions("node-1", &ids.iter().map(|id| wait(id.clone(), 1)).collect::<Vec<_>>()).await.unwrap();
    let mut tasks = Vec::new();
    for (i, id) in ids.into_iter().enumerate() {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let v = Verdict {
                node: "node-1".into(),
                id,
                verdict: "approve".into(),
                by: "alice".into(),
                reason: String::new(),
                at_ns: 2,
            };
            s.put_verdict(&v).await.map(|_| ())
        }));
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.put_decisions("node-2", &[wait(format!("b{i}/pause"), 3)]).await.map(|_| ())
        }));
    }
    let mut failed = Vec::new();
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            failed.push(e.to_string());
        }
    }
    assert!(failed.is_empty(), "{} of {} calls failed, first: {:?}", failed.len(), 2 * N, failed.first());
    assert_eq!(store.verdicts_for("node-1").await.unwrap().len(), N);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_digests_of_many_older_reports_are_added_a_few_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("k.db").display());
    let store = Store::open(&url).await.unwrap();
    let id = |i: usize| format!("sha256:{i:064x}");
    for i in 0..40 {
        let body = serde_json::json!({"schema": "kestrel.report/v1", "target": {"image_id": id(i)}, "findings": []});
        let r = NewReport {
            kind: "image".into(),
            subject: format!("app:{i}"),
            source: "ci".into(),
            received_ns: i as i64,
            counts: [0; 4],
            body: ReportBody::new(&body).unwrap(),
        };
        store.put_report(&r).await.unwrap();
    }
    // As a store from before the index has them.
    sqlx::query("DELETE FROM report_digests").execute(&store.pool).await.unwrap();
    drop(store);
    let upgraded = Store::open(&url).await.unwrap();
    for i in [0, 15, 16, 17, 39] {
        let found = upgraded.reports_by_digest(&id(i), 10).await.unwrap();
        assert_eq!(found.iter().map(|r| r.subject.as_str()).collect::<Vec<_>>(), [format!("app:{i}")], "{i}");
    }
}

/// A profile's JSON as a node sends it.
fn raw(v: serde_json::Value) -> Box<serde_json::value::RawValue> {
    serde_json::value::to_raw_value(&v).unwrap()
}
