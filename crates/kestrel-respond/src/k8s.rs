//! Actions through the Kubernetes API (kube-rs, k8s-openapi types): quarantine a pod with a deny-all
//! NetworkPolicy that selects it by a label kestrel sets (undo: delete the policy, remove the label), evict
//! it, scale its workload to zero (undo: the recorded replica count), remove a subject from a RoleBinding or
//! ClusterRoleBinding, cordon a node (undo: uncordon).
//!
//! The objects and patches are built by pure functions, tested against the k8s-openapi types; [`Kube`]
//! sends them. The RBAC the agent needs is `deploy/kestrel-agent-rbac.yaml`, and every verb used here is
//! listed in [`NEEDED`] (a test checks the manifest grants each).

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use std::collections::BTreeMap;

/// The label that marks a quarantined pod; its value is the decision's id (hashed to a label value).
pub const QUARANTINE_LABEL: &str = "kestrel.dev/quarantine";

/// (API group, resource, verb) for every call made here.
pub const NEEDED: &[(&str, &str, &str)] = &[
    ("", "pods", "get"),
    ("", "pods", "patch"),
    ("", "pods/eviction", "create"),
    ("", "nodes", "patch"),
    ("networking.k8s.io", "networkpolicies", "create"),
    ("networking.k8s.io", "networkpolicies", "delete"),
    ("apps", "deployments/scale", "patch"),
    ("apps", "statefulsets/scale", "patch"),
    ("apps", "replicasets/scale", "patch"),
    ("rbac.authorization.k8s.io", "rolebindings", "get"),
    ("rbac.authorization.k8s.io", "rolebindings", "update"),
    ("rbac.authorization.k8s.io", "clusterrolebindings", "get"),
    ("rbac.authorization.k8s.io", "clusterrolebindings", "update"),
];

/// A label value (at most 63 characters of `[a-z0-9-]`, starting and ending alphanumeric) for an id.
pub fn label_value(id: &str) -> String {
    let mut v: String =
        id.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(63).collect();
    while v.ends_with('-') {
        v.pop();
    }
    while v.starts_with('-') {
        v.remove(0);
    }
    if v.is_empty() {
        v.push('x');
    }
    v
}

/// The name of the quarantine policy of a pod (a DNS-1123 subdomain, at most 253 characters).
pub fn quarantine_policy_name(pod: &str) -> String {
    format!("kestrel-quarantine-{pod}").chars().take(253).collect()
}

/// The merge patch that labels a pod for quarantine.
pub fn quarantine_label_patch(decision: &str) -> serde_json::Value {
    serde_json::json!({"metadata": {"labels": {QUARANTINE_LABEL: label_value(decision)}}})
}

/// The merge patch that removes the quarantine label (undo).
pub fn release_label_patch() -> serde_json::Value {
    serde_json::json!({"metadata": {"labels": {QUARANTINE_LABEL: null}}})
}

/// A NetworkPolicy that denies every packet to and from the pods with the quarantine label of `decision`.
pub fn quarantine_policy(namespace: &str, pod: &str, decision: &str) -> NetworkPolicy {
    let mut labels = BTreeMap::new();
    labels.insert(QUARANTINE_LABEL.to_string(), label_value(decision));
    let mut own = BTreeMap::new();
    own.insert("app.kubernetes.io/managed-by".to_string(), "kestrel".to_string());
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(quarantine_policy_name(pod)),
            namespace: Some(namespace.to_string()),
            labels: Some(own),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector { match_labels: Some(labels), ..Default::default() }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            // No rules: nothing is allowed either way.
            ingress: None,
            egress: None,
        }),
    }
}

/// The merge patch on a workload's `scale` subresource.
pub fn scale_patch(replicas: i32) -> serde_json::Value {
    serde_json::json!({"spec": {"replicas": replicas}})
}

/// The merge patch that cordons (or uncordons) a node.
pub fn cordon_patch(cordon: bool) -> serde_json::Value {
    serde_json::json!({"spec": {"unschedulable": cordon}})
}

fn same_subject(a: &Subject, b: &Subject) -> bool {
    a.kind == b.kind && a.name == b.name && a.namespace.as_deref().unwrap_or("") == b.namespace.as_deref().unwrap_or("")
}

/// The subjects without `s`; `None` when `s` is not among them.
fn drop_subject(subjects: Option<&Vec<Subject>>, s: &Subject) -> Option<Vec<Subject>> {
    let subjects = subjects?;
    subjects
        .iter()
        .any(|x| same_subject(x, s))
        .then(|| subjects.iter().filter(|x| !same_subject(x, s)).cloned().collect())
}

/// A RoleBinding without one subject; `None` when the subject is not in it.
pub fn without_subject(b: &RoleBinding, s: &Subject) -> Option<RoleBinding> {
    let subjects = drop_subject(b.subjects.as_ref(), s)?;
    Some(RoleBinding { subjects: Some(subjects), ..b.clone() })
}

/// A ClusterRoleBinding without one subject; `None` when the subject is not in it.
pub fn cluster_without_subject(b: &ClusterRoleBinding, s: &Subject) -> Option<ClusterRoleBinding> {
    let subjects = drop_subject(b.subjects.as_ref(), s)?;
    Some(ClusterRoleBinding { subjects: Some(subjects), ..b.clone() })
}

/// An error of a Kubernetes call, with what was asked.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct KubeError {
    /// The call.
    pub what: String,
    /// Why.
    pub source: kube::Error,
}

/// The Kubernetes client of the agent (a KUBECONFIG, or the in-cluster service account).
pub struct Kube {
    client: kube::Client,
    rt: tokio::runtime::Runtime,
}

impl Kube {
    /// Connects as `kube::Client::try_default` does (KUBECONFIG, ~/.kube/config, or in-cluster).
    pub fn connect() -> Result<Kube, String> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        let client = rt.block_on(kube::Client::try_default()).map_err(|e| format!("no Kubernetes API: {e}"))?;
        Ok(Kube { client, rt })
    }

    fn err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> KubeError {
        let what = what.into();
        move |source| KubeError { what, source }
    }

    /// Quarantines a pod: the deny-all policy first, then the label that makes it select the pod.
    pub fn quarantine(&self, namespace: &str, pod: &str, decision: &str) -> Result<(), KubeError> {
        use kube::api::{Api, Patch, PatchParams, PostParams};
        let policies: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), namespace);
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let policy = quarantine_policy(namespace, pod, decision);
        self.rt.block_on(async {
            match policies.create(&PostParams::default(), &policy).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => {
                    return Err(Self::err(format!(
                        "creating NetworkPolicy {namespace}/{}",
                        quarantine_policy_name(pod)
                    ))(e))
                }
            }
            pods.patch(pod, &PatchParams::default(), &Patch::Merge(&quarantine_label_patch(decision)))
                .await
                .map_err(Self::err(format!("labelling pod {namespace}/{pod}")))?;
            Ok(())
        })
    }

    /// Lifts a quarantine (undo): the label, then the policy.
    pub fn release(&self, namespace: &str, pod: &str) -> Result<(), KubeError> {
        use kube::api::{Api, DeleteParams, Patch, PatchParams};
        let policies: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), namespace);
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        self.rt.block_on(async {
            match pods.patch(pod, &PatchParams::default(), &Patch::Merge(&release_label_patch())).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(Self::err(format!("unlabelling pod {namespace}/{pod}"))(e)),
            }
            match policies.delete(&quarantine_policy_name(pod), &DeleteParams::default()).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
                Err(e) => {
                    Err(Self::err(format!("deleting NetworkPolicy {namespace}/{}", quarantine_policy_name(pod)))(e))
                }
            }
        })
    }

    /// Evicts a pod (respecting PodDisruptionBudgets).
    pub fn evict(&self, namespace: &str, pod: &str) -> Result<(), KubeError> {
        use kube::api::{Api, EvictParams};
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        self.rt
            .block_on(pods.evict(pod, &EvictParams::default()))
            .map(|_| ())
            .map_err(Self::err(format!("evicting pod {namespace}/{pod}")))
    }

    /// Cordons (or uncordons) a node.
    pub fn cordon(&self, node: &str, cordon: bool) -> Result<(), KubeError> {
        use kube::api::{Api, Patch, PatchParams};
        let nodes: Api<Node> = Api::all(self.client.clone());
        self.rt
            .block_on(nodes.patch(node, &PatchParams::default(), &Patch::Merge(&cordon_patch(cordon))))
            .map(|_| ())
            .map_err(Self::err(format!("cordoning node {node}")))
    }

    /// Scales a Deployment to `replicas`; returns the count it had (for undo).
    pub fn scale_deployment(&self, namespace: &str, name: &str, replicas: i32) -> Result<i32, KubeError> {
        use k8s_openapi::api::apps::v1::Deployment;
        use kube::api::{Api, Patch, PatchParams};
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        self.rt.block_on(async {
            let before = api
                .get_scale(name)
                .await
                .map_err(Self::err(format!("reading the scale of {namespace}/{name}")))?
                .spec
                .and_then(|s| s.replicas)
                .unwrap_or(0);
            api.patch_scale(name, &PatchParams::default(), &Patch::Merge(&scale_patch(replicas)))
                .await
                .map_err(Self::err(format!("scaling {namespace}/{name}")))?;
            Ok(before)
        })
    }

    /// Removes a subject from a RoleBinding; false when it was not there.
    pub fn remove_role_binding_subject(&self, namespace: &str, binding: &str, s: &Subject) -> Result<bool, KubeError> {
        use kube::api::{Api, PostParams};
        let api: Api<RoleBinding> = Api::namespaced(self.client.clone(), namespace);
        self.rt.block_on(async {
            let b = api.get(binding).await.map_err(Self::err(format!("reading RoleBinding {namespace}/{binding}")))?;
            match without_subject(&b, s) {
                None => Ok(false),
                Some(new) => api
                    .replace(binding, &PostParams::default(), &new)
                    .await
                    .map(|_| true)
                    .map_err(Self::err(format!("updating RoleBinding {namespace}/{binding}"))),
            }
        })
    }
}
