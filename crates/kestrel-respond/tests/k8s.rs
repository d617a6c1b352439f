//! The Kubernetes actions up to the wire. No cluster runs on these machines: every object and patch the
//! code sends is checked against the k8s-openapi types (and what it does to them), and the RBAC manifest
//! against every call. `quarantine_and_release_on_a_real_cluster` runs against a real cluster (ignored by
//! default; see its comment).

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kestrel_respond::k8s::*;
use std::collections::BTreeMap;

/// A JSON merge patch (RFC 7386) applied to a value.
fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(t), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[test]
fn the_quarantine_policy_denies_everything_for_exactly_the_labelled_pod() {
    let decision = "18eb12f455cbcde5-1-isolate";
    let np = quarantine_policy("shop", "web-7d4b9-x2x", decision);
    let json = serde_json::to_value(&np).unwrap();
    assert_eq!(json["apiVersion"], "networking.k8s.io/v1");
    assert_eq!(json["kind"], "NetworkPolicy");
    assert_eq!(json["metadata"]["name"], "kestrel-quarantine-web-7d4b9-x2x");
    assert_eq!(json["spec"]["policyTypes"], serde_json::json!(["Ingress", "Egress"]));
    assert!(json["spec"].get("ingress").is_none() && json["spec"].get("egress").is_none(), "{json}");
    // It is a valid NetworkPolicy for the API's types.
    let back: NetworkPolicy = serde_json::from_value(json).unwrap();
    assert_eq!(back, np);

    // The label patch applied to a pod makes the selector match it; released, it does not.
    let mut labels = BTreeMap::new();
    labels.insert("app".to_string(), "web".to_string());
    let pod = Pod {
        metadata: ObjectMeta { name: Some("web-7d4b9-x2x".into()), labels: Some(labels), ..Default::default() },
        ..Default::default()
    };
    let mut v = serde_json::to_value(&pod).unwrap();
    merge(&mut v, &quarantine_label_patch(decision));
    let quarantined: Pod = serde_json::from_value(v.clone()).unwrap();
    let selects = |p: &Pod| {
        let want = np.spec.as_ref().unwrap().pod_selector.as_ref().unwrap().match_labels.as_ref().unwrap();
        let have = p.metadata.labels.clone().unwrap_or_default();
        want.iter().all(|(k, val)| have.get(k) == Some(val))
    };
    assert!(selects(&quarantined));
    assert!(!selects(&pod));
    assert_eq!(quarantined.metadata.labels.as_ref().unwrap()["app"], "web", "other labels kept");
    merge(&mut v, &release_label_patch());
    let released: Pod = serde_json::from_value(v).unwrap();
    assert!(!selects(&released));
    assert!(released.metadata.labels.as_ref().unwrap().contains_key("app"));
}

#[test]
fn label_values_are_valid_for_any_id() {
    let ok = |v: &str| {
        v.len() <= 63
            && !v.is_empty()
            && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !v.starts_with('-')
            && !v.ends_with('-')
    };
    for id in ["18eb12f455cbcde5-1-isolate", "--X__y--", "", &"a".repeat(200), "Ünïcode-1", "-a-"] {
        assert!(ok(&label_value(id)), "{id:?} → {:?}", label_value(id));
    }
}

#[test]
fn scale_and_cordon_patches_fit_the_types() {
    use k8s_openapi::api::autoscaling::v1::Scale;
    use k8s_openapi::api::core::v1::Node;
    let mut scale = serde_json::to_value(Scale::default()).unwrap();
    merge(&mut scale, &scale_patch(0));
    let s: Scale = serde_json::from_value(scale).unwrap();
    assert_eq!(s.spec.unwrap().replicas, Some(0));
    let mut node = serde_json::to_value(Node::default()).unwrap();
    merge(&mut node, &cordon_patch(true));
    let n: Node = serde_json::from_value(node.clone()).unwrap();
    assert_eq!(n.spec.unwrap().unschedulable, Some(true));
    merge(&mut node, &cordon_patch(false));
    let n: Node = serde_json::from_value(node).unwrap();
    assert_eq!(n.spec.unwrap().unschedulable, Some(false));
}

#[test]
fn a_binding_loses_exactly_one_subject() {
    let sa = |name: &str, ns: &str| Subject {
        kind: "ServiceAccount".into(),
        name: name.into(),
        namespace: Some(ns.into()),
        api_group: None,
    };
    let b = RoleBinding {
        metadata: ObjectMeta { name: Some("admins".into()), namespace: Some("shop".into()), ..Default::default() },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: "admin".into(),
        },
        subjects: Some(vec![sa("web", "shop"), sa("web", "other"), sa("ci", "shop")]),
    };
    let after = without_subject(&b, &sa("web", "shop")).unwrap();
    assert_eq!(after.subjects.as_ref().unwrap(), &vec![sa("web", "other"), sa("ci", "shop")]);
    assert_eq!(after.role_ref, b.role_ref);
    assert!(without_subject(&after, &sa("web", "shop")).is_none());
    let json = serde_json::to_value(&after).unwrap();
    assert_eq!(json["kind"], "RoleBinding");
    let _: RoleBinding = serde_json::from_value(json).unwrap();
}

#[test]
fn the_rbac_manifest_grants_every_call_and_no_more_than_it_lists() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/kestrel-agent-rbac.yaml")).unwrap();
    let mut role: Option<ClusterRole> = None;
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v = serde_yaml::Value::deserialize(doc).unwrap();
        if v["kind"] == "ClusterRole" {
            role = Some(serde_yaml::from_value(v).unwrap());
        }
    }
    let role = role.expect("a ClusterRole in the manifest");
    let rules = role.rules.unwrap();
    for (group, resource, verb) in NEEDED {
        let granted = rules.iter().any(|r| {
            r.api_groups.as_ref().is_some_and(|g| g.iter().any(|x| x == group))
                && r.resources.as_ref().is_some_and(|rs| rs.iter().any(|x| x == resource))
                && r.verbs.iter().any(|v| v == verb)
        });
        assert!(granted, "the manifest does not grant {verb} on {group}/{resource}");
    }
    // No wildcard anywhere.
    assert!(rules.iter().all(|r| !r.verbs.iter().any(|v| v == "*")));
}

fn owned_by(kind: &str, name: &str) -> Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>> {
    Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        api_version: "apps/v1".into(),
        kind: kind.into(),
        name: name.into(),
        uid: "u-1".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }])
}

fn pod_owned_by(owner: Option<(&str, &str)>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("web-7d4b9-x2x".into()),
            namespace: Some("shop".into()),
            owner_references: owner.and_then(|(k, n)| owned_by(k, n)),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn the_workload_to_scale_is_found_through_the_owners() {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    let rs = |owner: Option<(&str, &str)>| ReplicaSet {
        metadata: ObjectMeta {
            name: Some("web-7d4b9".into()),
            owner_references: owner.and_then(|(k, n)| owned_by(k, n)),
            ..Default::default()
        },
        ..Default::default()
    };
    let pod = pod_owned_by(Some(("ReplicaSet", "web-7d4b9")));
    assert_eq!(
        workload_to_scale(&pod, Some(&rs(Some(("Deployment", "web"))))).unwrap(),
        Workload { kind: "Deployment".into(), name: "web".into() }
    );
    assert_eq!(
        workload_to_scale(&pod, Some(&rs(None))).unwrap(),
        Workload { kind: "ReplicaSet".into(), name: "web-7d4b9".into() },
        "a bare ReplicaSet is scaled itself"
    );
    assert_eq!(
        workload_to_scale(&pod_owned_by(Some(("StatefulSet", "db"))), None).unwrap(),
        Workload { kind: "StatefulSet".into(), name: "db".into() }
    );
    let e = workload_to_scale(&pod_owned_by(Some(("DaemonSet", "agent"))), None).unwrap_err();
    assert!(e.contains("DaemonSet agent"), "{e}");
    let e = workload_to_scale(&pod_owned_by(None), None).unwrap_err();
    assert!(e.contains("bare pod"), "{e}");
    // An owner that is not the controller does not count.
    let mut p = pod_owned_by(Some(("StatefulSet", "db")));
    p.metadata.owner_references.as_mut().unwrap()[0].controller = Some(false);
    assert!(workload_to_scale(&p, None).is_err());
}

#[test]
fn revoking_finds_every_binding_of_the_pods_service_account_and_undo_puts_it_back() {
    use k8s_openapi::api::core::v1::PodSpec;
    use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
    let mut pod = pod_owned_by(None);
    assert_eq!(pod_subject(&pod).name, "default", "no service account named: the namespace's default");
    pod.spec = Some(PodSpec { service_account_name: Some("web".into()), ..Default::default() });
    let s = pod_subject(&pod);
    assert_eq!((s.kind.as_str(), s.name.as_str(), s.namespace.as_deref()), ("ServiceAccount", "web", Some("shop")));
    let sa = |name: &str, ns: &str| Subject {
        kind: "ServiceAccount".into(),
        name: name.into(),
        namespace: Some(ns.into()),
        api_group: None,
    };
    let role_ref = RoleRef {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: "ClusterRole".into(),
        name: "edit".into(),
    };
    let rb = |name: &str, subjects: Vec<Subject>| RoleBinding {
        metadata: ObjectMeta { name: Some(name.into()), namespace: Some("shop".into()), ..Default::default() },
        role_ref: role_ref.clone(),
        subjects: Some(subjects),
    };
    let crb = |name: &str, subjects: Vec<Subject>| ClusterRoleBinding {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        role_ref: role_ref.clone(),
        subjects: Some(subjects),
    };
    let roles = [rb("editors", vec![sa("ci", "shop"), sa("web", "shop")]), rb("viewers", vec![sa("ci", "shop")])];
    let cluster = [crb("too-much", vec![sa("web", "shop")]), crb("other-ns", vec![sa("web", "other")])];
    let found = bindings_naming(&s, &roles, &cluster);
    assert_eq!(
        found,
        vec![
            BindingRef { kind: "RoleBinding".into(), namespace: Some("shop".into()), name: "editors".into() },
            BindingRef { kind: "ClusterRoleBinding".into(), namespace: None, name: "too-much".into() },
        ]
    );
    // The change recorded for undo survives the audit log's JSON, and undo's edit puts the subject back once.
    let change = Change::Revoked { subject: s.clone(), bindings: found };
    let back: Change = serde_json::from_str(&serde_json::to_string(&change).unwrap()).unwrap();
    assert_eq!(back, change);
    let removed = without_subject(&roles[0], &s).unwrap();
    let restored = add_subject(removed.subjects.as_ref(), &s).unwrap();
    assert_eq!(restored.len(), 2);
    assert!(add_subject(Some(&restored), &s).is_none(), "already there: no second copy");
}

use serde::Deserialize as _;

/// Run it with a cluster: `KUBECONFIG=… KESTREL_TEST_POD=namespace/pod cargo nextest run -p kestrel-respond
/// --test k8s --run-ignored only`. Ignored by default: no cluster runs on CI machines.
#[test]
#[ignore = "needs a real cluster: KUBECONFIG and KESTREL_TEST_POD=namespace/pod"]
fn quarantine_and_release_on_a_real_cluster() {
    std::env::var("KUBECONFIG").expect("KUBECONFIG");
    let target = std::env::var("KESTREL_TEST_POD").expect("KESTREL_TEST_POD=namespace/pod");
    let (ns, pod) = target.split_once('/').expect("KESTREL_TEST_POD=namespace/pod");
    let k = Kube::connect().unwrap();
    k.quarantine(ns, pod, "kestrel-test").unwrap();
    k.release(ns, pod).unwrap();
}

/// The other reversible Kubernetes actions and their undo, on a real cluster (same set-up as above; the pod must
/// belong to a Deployment or StatefulSet). It cordons the pod's node for a moment.
#[test]
#[ignore = "needs a real cluster: KUBECONFIG and KESTREL_TEST_POD=namespace/pod"]
fn scale_cordon_revoke_and_undo_on_a_real_cluster() {
    std::env::var("KUBECONFIG").expect("KUBECONFIG");
    let target = std::env::var("KESTREL_TEST_POD").expect("KESTREL_TEST_POD=namespace/pod");
    let (ns, pod) = target.split_once('/').expect("KESTREL_TEST_POD=namespace/pod");
    let k = Kube::connect().unwrap();
    let p = k.pod(ns, pod).unwrap();
    let w = k.workload_of(ns, &p).unwrap();
    let before = k.replicas(ns, &w).unwrap();
    k.scale(ns, &w, 0).unwrap();
    assert_eq!(k.replicas(ns, &w).unwrap(), 0);
    k.scale(ns, &w, before).unwrap();
    assert_eq!(k.replicas(ns, &w).unwrap(), before);
    let node = p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap();
    if !k.cordoned(&node).unwrap() {
        k.cordon(&node, true).unwrap();
        assert!(k.cordoned(&node).unwrap());
        k.cordon(&node, false).unwrap();
        assert!(!k.cordoned(&node).unwrap());
    }
    let s = pod_subject(&p);
    let bindings = k.bindings_of(&s).unwrap();
    for b in &bindings {
        assert!(k.edit_binding(b, &s, false).unwrap());
    }
    assert!(k.bindings_of(&s).unwrap().is_empty());
    for b in &bindings {
        assert!(k.edit_binding(b, &s, true).unwrap());
    }
    assert_eq!(k.bindings_of(&s).unwrap(), bindings);
}
