//! A running image becomes affected: when a new image report arrives (a CI scan, or `kestrel watch` matching
//! again after a database update) with high or critical vulnerabilities its previous report of the same
//! image did not have, every node whose agent reports running that image gets an alert from the server —
//! on the dashboard, in the API and in the metrics like any other.

use crate::admission::normalise;
use kestrel_core::{Alert, AlertSource, Severity, ALERT_SCHEMA};
use kestrel_store::{Store, StoreError};
use serde_json::Value;
use std::collections::BTreeSet;

/// A high or critical vulnerability of a report: (id, package, fixed version, severity).
pub type Serious = (String, String, Option<String>, Severity);

/// High and critical vulnerabilities of a report, worst first.
pub fn serious(report: &Value) -> Vec<Serious> {
    let mut v: Vec<_> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            let sev: Severity = serde_json::from_value(f["severity"].clone()).ok()?;
            (sev >= Severity::High && f["package"].is_string()).then(|| {
                (
                    f["id"].as_str().unwrap_or("?").to_string(),
                    f["package"].as_str().unwrap_or("").to_string(),
                    f["fixed_version"].as_str().map(str::to_string),
                    sev,
                )
            })
        })
        .collect();
    v.sort_by(|a, b| b.3.cmp(&a.3).then_with(|| a.0.cmp(&b.0)));
    v.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    v
}

/// The nodes that run the image of report `report` on `subject`, by their agents' last status (as
/// [`check`] finds them).
pub async fn running(store: &Store, subject: &str, report: &Value) -> Result<Vec<String>, StoreError> {
    let digests = kestrel_store::report_digests(report);
    Ok(store.nodes().await?.into_iter().filter(|n| runs(&n.status, subject, &digests)).map(|n| n.name).collect())
}

/// Whether a node (its agent's last `status`) runs the image of a report on `subject` whose image id, manifest digest
/// and index digest are `digests`. A digest the node recorded for a container (its runtime's image id, or the digest
/// the kubelet says it was pulled by) decides: the same image, whatever the name; another digest under the same name
/// is another build of that tag (the tag has moved since the node pulled it) and does not match. A name alone
/// (`subject` as it is or as Docker spells it in full) matches a container with no digest recorded, and every image
/// of an agent that sends names only.
fn runs(status: &Value, subject: &str, digests: &[&str]) -> bool {
    how_it_runs(status, subject, digests).is_some()
}

/// [`runs`], saying how the node was matched (for the alert's explanation).
fn how_it_runs(status: &Value, subject: &str, digests: &[&str]) -> Option<String> {
    let wanted = normalise(subject);
    let same_name = |i: &str| i == subject || normalise(i) == wanted;
    let Some(refs) = status["image_refs"].as_array() else {
        let name =
            status["images"].as_array().into_iter().flatten().filter_map(Value::as_str).find(|i| same_name(i))?;
        return Some(format!("its agent names the image {name}"));
    };
    refs.iter().find_map(|r| match (r["image"].as_str(), r["digest"].as_str()) {
        (name, Some(d)) if digests.contains(&d) => {
            Some(format!("a container of {} there is image {d}, as the report's", name.unwrap_or("an image")))
        }
        (Some(name), None) if same_name(name) => {
            Some(format!("a container there runs {name}, known by name only (no digest was recorded for it)"))
        }
        _ => None,
    })
}

/// After report `id` of `subject` was stored: alerts for the nodes running it, one per node. `now` is the report's
/// [`serious`] vulnerabilities, `digests` the image's ([`kestrel_store::report_digests`]), both taken where the report
/// was read. Returns how many alerts were raised.
pub async fn check(
    store: &Store,
    notifier: Option<&crate::notify::Notifier>,
    id: &str,
    subject: &str,
    now: Vec<Serious>,
    digests: &[&str],
    now_ns: i64,
) -> Result<usize, StoreError> {
    if now.is_empty() {
        return Ok(0);
    }
    // The report before this one, if any (one that no longer reads counts as none): read and gone through on a core
    // (megabytes), as this one was.
    let earlier = store.reports(Some(subject), Some("image"), 2).await?;
    let before = match earlier.iter().find(|r| r.id != id) {
        Some(r) => match store.report_then(&r.id, |b| serious(&b)).await {
            Ok(s) => s.unwrap_or_default(),
            Err(StoreError::Corrupt { .. }) => Vec::new(),
            Err(e) => return Err(e),
        },
        None => Vec::new(),
    };
    let known: BTreeSet<(&str, &str)> = before.iter().map(|(i, p, _, _)| (i.as_str(), p.as_str())).collect();
    let new: Vec<_> = now.iter().filter(|(i, p, _, _)| !known.contains(&(i.as_str(), p.as_str()))).collect();
    if new.is_empty() {
        return Ok(0);
    }
    let mut raised = 0;
    for node in store.nodes().await? {
        let Some(how) = how_it_runs(&node.status, subject, digests) else { continue };
        let worst = new.iter().map(|x| x.3).max().unwrap_or(Severity::High);
        let mut explanation = vec![
            format!(
                "{subject} runs on {}; its latest scan (report {}) has {} high or critical vulnerabilities its previous scan did not",
                node.name,
                &id[..id.len().min(12)],
                new.len()
            ),
            format!("how it is known to run there: {how}"),
        ];
        for (vid, pkg, fix, sev) in new.iter().take(10) {
            let fix = fix.as_deref().map_or("no fix yet".to_string(), |f| format!("fixed in {f}"));
            explanation.push(format!("{vid} ({}) in {pkg}: {fix}", sev.as_str()));
        }
        if new.len() > 10 {
            explanation.push(format!("and {} more", new.len() - 10));
        }
        let alert = Alert {
            schema: ALERT_SCHEMA.into(),
            id: format!("image-affected:{}", &id[..id.len().min(16)]),
            time_ns: now_ns.max(0) as u64,
            severity: worst,
            score: 1.0,
            source: AlertSource::Rule {
                name: "Running image became vulnerable".into(),
                priority: if worst == Severity::Critical { "CRITICAL" } else { "ERROR" }.into(),
                origin: "kestrel-server".into(),
            },
            title: format!("{subject} running on {} is affected by {}", node.name, new[0].0),
            explanation,
            contributions: vec![],
            mitre: vec![],
            tags: vec!["vulnerability".into(), "image".into()],
            container: None,
            workload: Some(subject.to_string()),
            evidence: vec![],
            folded: None,
        };
        let fresh = store.put_alerts_new(now_ns, &[(&node.name, &alert)]).await?;
        if let (Some(n), false) = (notifier, fresh.is_empty()) {
            n.alerts([(node.name.as_str(), &alert)]);
        }
        raised += fresh.len();
    }
    if raised > 0 {
        metrics::counter!("kestrel_server_affected_alerts_total").increment(raised as u64);
    }
    Ok(raised)
}

#[cfg(test)]
mod tests {
    use super::runs;
    use serde_json::json;

    #[test]
    fn a_recorded_digest_decides_and_a_name_alone_matches_only_without_one() {
        let id = format!("sha256:{}", "a".repeat(64));
        let older = format!("sha256:{}", "b".repeat(64));
        let digests = [id.as_str()];
        let subject = "registry.example/shop/app:1.0";
        let node = |refs: serde_json::Value| json!({ "images": ["registry.example/shop/app:1.0"], "image_refs": refs });
        // The same image under any name.
        assert!(runs(&node(json!([{ "image": "dev/app:local", "digest": id }])), subject, &digests));
        // The same name, another build: the tag moved since this node pulled it.
        assert!(!runs(&node(json!([{ "image": subject, "digest": older }])), subject, &digests));
        // A name without a digest: the name decides, as Docker spells it too.
        assert!(runs(&node(json!([{ "image": subject, "digest": null }])), subject, &digests));
        assert!(runs(
            &json!({ "image_refs": [{ "image": "nginx", "digest": null }] }),
            "docker.io/library/nginx:latest",
            &digests
        ));
        assert!(!runs(&node(json!([{ "image": "other:1", "digest": null }])), subject, &digests));
        // Two containers of the name, one of each kind: the one without a digest may be the image.
        let both = json!([{ "image": subject, "digest": older }, { "image": subject, "digest": null }]);
        assert!(runs(&node(both), subject, &digests));
        // The digest a node pulled a multi-platform image by is its index's, one of the report's digests.
        let index = format!("sha256:{}", "c".repeat(64));
        let all = [id.as_str(), older.as_str(), index.as_str()];
        assert!(runs(&node(json!([{ "image": "nginx:1", "digest": index }])), subject, &all));
        // An agent that sends names only.
        assert!(runs(&json!({ "images": [subject] }), subject, &digests));
        assert!(!runs(&json!({ "images": ["other:1"] }), subject, &digests));
        assert!(!runs(&json!({}), subject, &digests));
    }
}
