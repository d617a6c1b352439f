//! What the fleet benchmarks share: the alert they send (539 bytes of JSON, a rule alert from a container of
//! one of seven workloads, severities in turn).

use kestrel_core::{Alert, AlertSource, ContainerRef, Severity, ALERT_SCHEMA};

/// Alert `i` of `node`.
pub fn alert(node: usize, i: usize) -> Alert {
    Alert {
        schema: ALERT_SCHEMA.into(),
        id: format!("n{node}-{i}"),
        time_ns: 1_700_000_000_000_000_000 + (i as u64) * 1_000_000 + node as u64,
        severity: [Severity::Low, Severity::Medium, Severity::High, Severity::Critical][i % 4],
        score: 0.8,
        source: AlertSource::Rule {
            name: "Terminal shell in container".into(),
            priority: "NOTICE".into(),
            origin: "builtin".into(),
        },
        title: "shell in web".into(),
        explanation: vec!["`/bin/sh` with parent `nginx` never seen while learning".into()],
        contributions: vec![],
        mitre: vec!["T1059.004".into()],
        tags: vec!["container".into(), "shell".into()],
        container: Some(ContainerRef {
            id: format!("{:064x}", i % 50),
            runtime: "containerd".into(),
            namespace: Some("shop".into()),
            pod: Some(format!("web-{}", i % 50)),
            name: Some(format!("web-{}", i % 7)),
            ..Default::default()
        }),
        workload: Some(format!("web-{}", i % 7)),
        evidence: vec![],
        folded: None,
    }
}
