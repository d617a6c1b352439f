use super::*;
use kestrel_core::{AlertSource, ContainerRef, Event, EventKind, Severity, ALERT_SCHEMA, EVENT_SCHEMA};

fn alert(id: &str, workload: &str, rule: &str, protect: bool) -> Alert {
    let e = Event {
        schema: EVENT_SCHEMA.into(),
        time_ns: 1_000_000_000,
        pid: 4242,
        tid: 4242,
        comm: "nc".into(),
        // A cgroup id no directory has: acting fails with a clear reason (no root needed here).
        cgroup_id: u64::MAX - 7,
        container: Some(
            ContainerRef { id: format!("{workload}-1"), runtime: "runc".into(), ..Default::default() }.into(),
        ),
        process: None,
        kind: EventKind::Exit { status: 0 },
    };
    Alert {
        schema: ALERT_SCHEMA.into(),
        id: id.into(),
        time_ns: e.time_ns,
        severity: Severity::Critical,
        score: 1.0,
        source: AlertSource::Rule { name: rule.into(), priority: "CRITICAL".into(), origin: "builtin".into() },
        title: "t".into(),
        explanation: vec![],
        contributions: vec![],
        mitre: vec![],
        tags: if protect { vec!["mode:protect".into()] } else { vec![] },
        container: e.container.as_deref().cloned(),
        workload: Some(workload.into()),
        evidence: vec![e],
        folded: None,
    }
}

fn responder(yaml: &str, dir: &Path) -> Responder {
    let p = Policy::parse("policy.yaml", yaml).unwrap();
    Responder::new(p, AuditLog::new(dir.join("audit.jsonl")), dir.join("no-cgroups"), dir.join("bpf"))
}

const POLICY: &str = r#"
dry_run: false
rate_limit: {actions: 3, seconds: 60}
budget: {actions: 2, seconds: 3600}
allowlist: ["critical-*"]
rules:
  - name: shells
    when: {rules: ["Reverse shell", "Network tool*"]}
    actions: [isolate]
  - name: escapes
    when: {severity: critical, rules: ["Namespace entered*"]}
    actions: [kill-process]
    approval: true
"#;

fn outcomes(ds: &[Decision]) -> Vec<Outcome> {
    ds.iter().map(|d| d.outcome).collect()
}

#[test]
fn every_gate_holds_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = responder(POLICY, dir.path());
    // Not in protect mode: nothing.
    assert_eq!(outcomes(&r.handle(&alert("a1", "web", "Reverse shell", false))), [Outcome::NotProtected]);
    // No rule matches: no decision at all.
    assert!(r.handle(&alert("a2", "web", "Something else", true)).is_empty());
    // Allowlisted workload.
    assert_eq!(outcomes(&r.handle(&alert("a3", "critical-db", "Reverse shell", true))), [Outcome::Allowlisted]);
    // Approval: pending, then approved by a person (acting fails here: no such cgroup, and says so).
    let d = r.handle(&alert("a4", "api", "Namespace entered from a container", true));
    assert_eq!(outcomes(&d), [Outcome::PendingApproval]);
    let approved = r.approve(&d[0].id).unwrap();
    assert_eq!(approved.outcome, Outcome::Failed);
    assert!(approved.detail.contains("cgroup is gone"), "{}", approved.detail);
    assert!(r.approve(&d[0].id).is_err(), "approved twice");
    // Or denied: nothing done, who and why recorded; a decision is decided once.
    let d = r.handle(&alert("a5", "api", "Namespace entered from a container", true));
    assert_eq!(outcomes(&d), [Outcome::PendingApproval]);
    let denied = r.deny(&d[0].id, "alice", "a debug session").unwrap();
    assert_eq!((denied.outcome, denied.detail.as_str()), (Outcome::Denied, "denied by alice: a debug session"));
    assert!(r.deny(&d[0].id, "alice", "").is_err() && r.approve(&d[0].id).is_err(), "decided once");
    assert_eq!(r.audit().find(&d[0].id).unwrap().outcome, Outcome::Denied);
    // Budget: two actions per workload, the third is refused.
    assert_eq!(outcomes(&r.handle(&alert("b1", "web", "Reverse shell", true))), [Outcome::Failed]);
    assert_eq!(outcomes(&r.handle(&alert("b2", "web", "Reverse shell", true))), [Outcome::Failed]);
    assert_eq!(outcomes(&r.handle(&alert("b3", "web", "Reverse shell", true))), [Outcome::OverBudget]);
    // Rate limit: three actions a minute on the node (b1, b2, and one more).
    assert_eq!(outcomes(&r.handle(&alert("c1", "cache", "Reverse shell", true))), [Outcome::Failed]);
    assert_eq!(outcomes(&r.handle(&alert("c2", "cache", "Reverse shell", true))), [Outcome::RateLimited]);
    // The audit log has every decision with its last state; acting wrote an intent first.
    let (lines, bad) = r.audit().lines();
    assert_eq!(bad, 0);
    assert!(lines.iter().any(|d| d.id == "b1-isolate" && d.outcome == Outcome::Intent));
    let all = r.audit().decisions();
    let ids: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "a1-isolate",
            "a3-isolate",
            "a4-kill-process",
            "a5-kill-process",
            "b1-isolate",
            "b2-isolate",
            "b3-isolate",
            "c1-isolate",
            "c2-isolate"
        ]
    );
    assert_eq!(all[2].outcome, Outcome::Failed);
}

#[test]
fn a_new_policy_is_a_dry_run_and_bad_policies_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = responder("rules: [{name: all, actions: [pause]}]", dir.path());
    assert_eq!(outcomes(&r.handle(&alert("x", "web", "Anything", true))), [Outcome::DryRun]);
    for (bad, why) in [
        ("rules: [{name: x, actions: []}]", "no actions"),
        ("rules: [{name: x, actions: [explode]}]", "explode"),
        ("dry_run: false\nbudget: {actions: 0, seconds: 1}", "0 actions"),
        ("colour: blue", "colour"),
    ] {
        let e = Policy::parse("p.yaml", bad).unwrap_err().to_string();
        assert!(e.starts_with("p.yaml: ") && e.contains(why), "{bad}: {e}");
    }
}

#[test]
fn an_interrupted_action_is_on_record_and_can_be_undone() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::new(dir.path().join("audit.jsonl"));
    let mut d = Decision::new(&alert("z", "web", "Reverse shell", true), "shells", Action::Isolate);
    d.outcome = Outcome::Intent;
    log.record(&d);
    // The agent died here. The record says what was being done…
    let found = log.find("z-isolate").unwrap();
    assert_eq!(found.outcome, Outcome::Intent);
    // … and undo is allowed for it (here the container is gone too, which it says).
    let mut finder = CgroupFinder::new(dir.path());
    let e = undo(&log, &mut finder, dir.path(), "z-isolate").unwrap_err();
    assert!(e.contains("cgroup is gone"), "{e}");
    // Kill cannot be undone.
    let mut k = Decision::new(&alert("k", "web", "x", true), "r", Action::KillProcess);
    k.outcome = Outcome::Acted;
    log.record(&k);
    let mut finder = CgroupFinder::new("/sys/fs/cgroup");
    let e = undo(&log, &mut finder, dir.path(), "k-kill-process").unwrap_err();
    assert_eq!(e, "kill-process cannot be undone");
}

#[test]
fn kubernetes_actions_say_why_they_cannot_act() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = responder(
        "dry_run: false\nbudget: {actions: 20, seconds: 60}\nrules: [{name: pods, when: {rules: [\"Reverse shell\"]}, actions: [quarantine-pod, evict-pod, delete-pod, scale-to-zero, cordon-node, revoke-permissions]}]",
        dir.path(),
    );
    // A runc container is no pod.
    let d = r.handle(&alert("p1", "web", "Reverse shell", true));
    assert_eq!(outcomes(&d), [Outcome::Failed; 6]);
    assert!(d.iter().all(|d| d.detail.contains("not a Kubernetes pod")));
    assert!(d[0].detail.contains("not a Kubernetes pod"), "{}", d[0].detail);
    // A pod, but no cluster to talk to (no KUBECONFIG here, no service account): the error says so.
    if std::env::var_os("KUBECONFIG").is_none() && std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() {
        let mut a = alert("p2", "shop/web", "Reverse shell", true);
        if let Some(c) = a.container.as_mut() {
            c.namespace = Some("shop".into());
            c.pod = Some("web-7d4b9-x2x".into());
        }
        let d = r.handle(&a);
        assert_eq!(d[0].outcome, Outcome::Failed);
        assert_eq!((d[0].namespace.as_deref(), d[0].pod.as_deref()), (Some("shop"), Some("web-7d4b9-x2x")));
        assert!(!d[0].detail.is_empty());
    }
}

#[test]
fn a_block_needs_a_destination() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = responder("dry_run: false\nrules: [{name: b, actions: [block-destination]}]", dir.path());
    // The alert's event is an exit: no destination (and no cgroup here either; the cgroup is looked up first).
    let d = r.handle(&alert("q", "web", "Connection to a mining pool port", true));
    assert_eq!(outcomes(&d), [Outcome::Failed]);
    assert_eq!(d[0].destination, None);
    // A reverse shell's connection made its standard streams: the peer is where to block (its listener).
    let mut shell = alert("r", "web", "Network connection as a standard stream", true);
    shell.evidence[0].kind = EventKind::Dup {
        call: "dup2".into(),
        fd: 0,
        peer: kestrel_core::SockAddr { family: "inet".into(), addr: "10.9.9.9".into(), port: 4444, proto: None },
        local_port: Some(40_000),
    };
    assert_eq!(r.handle(&shell)[0].destination.as_deref(), Some("10.9.9.9:4444"));
    assert_eq!(parse_destination(Some("10.1.2.3:3333")), Ok(("10.1.2.3".parse().unwrap(), 3333)));
    assert!(parse_destination(Some("::1:80")).is_err() && parse_destination(None).is_err());
}

#[test]
fn rules_select_by_image_namespace_and_labels() {
    let p = Policy::parse(
        "p.yaml",
        r#"
rules:
  - name: shop frontends
    when: {images: ["registry.example/shop/*"], namespaces: ["shop", "shop-*"], labels: {tier: "front*"}}
    actions: [quarantine-pod]
"#,
    )
    .unwrap();
    let mut a = alert("a1", "web", "Reverse shell", true);
    let set = |a: &mut Alert, image: Option<&str>, ns: Option<&str>, tier: Option<&str>| {
        let c = a.container.as_mut().unwrap();
        c.image = image.map(String::from);
        c.namespace = ns.map(String::from);
        c.labels.clear();
        if let Some(t) = tier {
            c.labels.insert("tier".into(), t.into());
        }
    };
    set(&mut a, Some("registry.example/shop/web:1.4"), Some("shop-eu"), Some("frontend"));
    assert_eq!(p.matching(&a).len(), 1);
    set(&mut a, Some("docker.io/library/nginx"), Some("shop"), Some("frontend"));
    assert!(p.matching(&a).is_empty(), "another image");
    set(&mut a, Some("registry.example/shop/web:1.4"), None, Some("frontend"));
    assert!(p.matching(&a).is_empty(), "no namespace: not a pod of shop");
    set(&mut a, Some("registry.example/shop/web:1.4"), Some("shop"), Some("backend"));
    assert!(p.matching(&a).is_empty(), "another tier");
    set(&mut a, Some("registry.example/shop/web:1.4"), Some("shop"), None);
    assert!(p.matching(&a).is_empty(), "no label at all");
}

#[test]
fn the_files_of_interest_are_those_written_made_setuid_or_run() {
    let mut a = alert("f1", "web", "Drop and execute", true);
    let base = a.evidence[0].clone();
    let ev = |kind: EventKind| Event { kind, ..base.clone() };
    a.evidence = vec![
        ev(EventKind::Open { path: "/etc/shadow".into(), flags: libc::O_RDONLY as u32 }),
        ev(EventKind::Open { path: "/tmp/x".into(), flags: (libc::O_WRONLY | libc::O_CREAT) as u32 }),
        ev(EventKind::SetuidChmod { path: Some("/tmp/x".into()), mode: 0o4755 }),
        ev(EventKind::exec_of(1, "sh", &["/tmp/x"])),
        ev(EventKind::Open { path: "rel/log".into(), flags: libc::O_RDWR as u32 }),
    ];
    let d = Decision::new(&a, "r", Action::Pause);
    assert_eq!(d.events.len(), 5);
    assert_eq!(d.files_of_interest(), ["/tmp/x", "rel/log"], "a read is no change; each file once");
}

#[test]
fn actions_and_outcomes_are_named_as_their_json_names_them() {
    let actions = [
        Action::KillProcess,
        Action::Pause,
        Action::Stop,
        Action::Isolate,
        Action::BlockDestination,
        Action::QuarantinePod,
        Action::EvictPod,
        Action::DeletePod,
        Action::ScaleToZero,
        Action::CordonNode,
        Action::RevokePermissions,
    ];
    for a in actions {
        assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
    }
    let outcomes = [
        Outcome::Intent,
        Outcome::Acted,
        Outcome::Failed,
        Outcome::DryRun,
        Outcome::PendingApproval,
        Outcome::Denied,
        Outcome::RateLimited,
        Outcome::OverBudget,
        Outcome::Allowlisted,
        Outcome::NotProtected,
        Outcome::Undone,
        Outcome::Interrupted,
    ];
    for o in outcomes {
        assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
    }
}
