//! Actions through the Kubernetes API (kube-rs, k8s-openapi types): quarantine a pod with a deny-all
//! NetworkPolicy that selects it by a label kestrel sets (undo: delete the policy, remove the label), evict
//! or delete it, scale its workload to zero (undo: the recorded replica count), remove a subject from a RoleBinding or
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
    ("", "pods", "delete"),
    ("", "pods/eviction", "create"),
    ("", "nodes", "get"),
    ("", "nodes", "patch"),
    ("networking.k8s.io", "networkpolicies", "create"),
    ("networking.k8s.io", "networkpolicies", "delete"),
    ("apps", "replicasets", "get"),
    ("apps", "deployments/scale", "get"),
    ("apps", "deployments/scale", "patch"),
    ("apps", "statefulsets/scale", "get"),
    ("apps", "statefulsets/scale", "patch"),
    ("apps", "replicasets/scale", "get"),
    ("apps", "replicasets/scale", "patch"),
    ("rbac.authorization.k8s.io", "rolebindings", "list"),
    ("rbac.authorization.k8s.io", "rolebindings", "get"),
    ("rbac.authorization.k8s.io", "rolebindings", "update"),
    ("rbac.authorization.k8s.io", "clusterrolebindings", "list"),
    ("rbac.authorization.k8s.io", "clusterrolebindings", "get"),
    ("rbac.authorization.k8s.io", "clusterrolebindings", "update"),
];

/// What a Kubernetes action changed, recorded (with the intent, before acting) so that undo can put it back.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Change {
    /// A workload scaled: its kind, name and the replica count it had.
    Scaled {
        /// `Deployment`, `StatefulSet` or `ReplicaSet`.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Replicas before.
        replicas: i32,
    },
    /// A service account taken out of the bindings that granted it permissions.
    Revoked {
        /// The subject removed.
        subject: Subject,
        /// The bindings it was in.
        bindings: Vec<BindingRef>,
    },
    /// A node cordoned (it was schedulable before).
    Cordoned {
        /// The node.
        node: String,
    },
}

/// A RoleBinding (with a namespace) or a ClusterRoleBinding (without).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BindingRef {
    /// `RoleBinding` or `ClusterRoleBinding`.
    pub kind: String,
    /// The RoleBinding's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
}

/// A workload that can be scaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// `Deployment`, `StatefulSet` or `ReplicaSet`.
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// The controller (owner with `controller: true`) of an object: its kind and name.
pub fn controller_of(meta: &ObjectMeta) -> Option<(String, String)> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| (o.kind.clone(), o.name.clone()))
}

/// The workload to scale for a pod: its Deployment when a ReplicaSet of a Deployment runs it (`replica_set` is
/// that ReplicaSet, when the pod has one), its StatefulSet, or a bare ReplicaSet. Anything else (a DaemonSet,
/// a Job, a bare pod) cannot be scaled to zero, and the error says so.
pub fn workload_to_scale(
    pod: &Pod,
    replica_set: Option<&k8s_openapi::api::apps::v1::ReplicaSet>,
) -> Result<Workload, String> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    match controller_of(&pod.metadata) {
        Some((kind, rs)) if kind == "ReplicaSet" => match replica_set.and_then(|r| controller_of(&r.metadata)) {
            Some((kind, name)) if kind == "Deployment" => Ok(Workload { kind, name }),
            Some((kind, name)) => {
                Err(format!("pod {name}: its ReplicaSet {rs} is run by {kind} {name}, which cannot be scaled"))
            }
            None => Ok(Workload { kind: "ReplicaSet".into(), name: rs }),
        },
        Some((kind, owner)) if kind == "StatefulSet" => Ok(Workload { kind, name: owner }),
        Some((kind, owner)) => Err(format!("pod {name} is run by {kind} {owner}, which has no replica count to scale")),
        None => Err(format!("pod {name} has no controller to scale (a bare pod: evict it instead)")),
    }
}

/// The service account a pod runs as, as an RBAC subject.
pub fn pod_subject(pod: &Pod) -> Subject {
    Subject {
        kind: "ServiceAccount".into(),
        name: pod.spec.as_ref().and_then(|s| s.service_account_name.clone()).unwrap_or_else(|| "default".into()),
        namespace: pod.metadata.namespace.clone(),
        api_group: None,
    }
}

/// The bindings among these that name the subject.
pub fn bindings_naming(s: &Subject, roles: &[RoleBinding], cluster: &[ClusterRoleBinding]) -> Vec<BindingRef> {
    let names = |subjects: Option<&Vec<Subject>>| subjects.is_some_and(|v| v.iter().any(|x| same_subject(x, s)));
    let rb = roles.iter().filter(|b| names(b.subjects.as_ref())).map(|b| BindingRef {
        kind: "RoleBinding".into(),
        namespace: b.metadata.namespace.clone(),
        name: b.metadata.name.clone().unwrap_or_default(),
    });
    let crb = cluster.iter().filter(|b| names(b.subjects.as_ref())).map(|b| BindingRef {
        kind: "ClusterRoleBinding".into(),
        namespace: None,
        name: b.metadata.name.clone().unwrap_or_default(),
    });
    rb.chain(crb).collect()
}

/// The subjects with `s` added back; `None` when it is already there.
pub fn add_subject(subjects: Option<&Vec<Subject>>, s: &Subject) -> Option<Vec<Subject>> {
    let mut v = subjects.cloned().unwrap_or_default();
    if v.iter().any(|x| same_subject(x, s)) {
        return None;
    }
    v.push(s.clone());
    Some(v)
}

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

    /// Whether a node is cordoned.
    pub fn cordoned(&self, node: &str) -> Result<bool, KubeError> {
        use kube::api::Api;
        let nodes: Api<Node> = Api::all(self.client.clone());
        let n = self.rt.block_on(nodes.get(node)).map_err(Self::err(format!("reading node {node}")))?;
        Ok(n.spec.and_then(|s| s.unschedulable).unwrap_or(false))
    }

    /// Deletes a pod at once (grace period 0); a pod already gone is not an error.
    pub fn delete_pod(&self, namespace: &str, pod: &str) -> Result<(), KubeError> {
        use kube::api::{Api, DeleteParams};
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        match self.rt.block_on(pods.delete(pod, &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }))
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(Self::err(format!("deleting pod {namespace}/{pod}"))(e)),
        }
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

    /// A pod.
    pub fn pod(&self, namespace: &str, pod: &str) -> Result<Pod, KubeError> {
        use kube::api::Api;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        self.rt.block_on(pods.get(pod)).map_err(Self::err(format!("reading pod {namespace}/{pod}")))
    }

    /// The workload that runs a pod and can be scaled (see [`workload_to_scale`]).
    pub fn workload_of(&self, namespace: &str, pod: &Pod) -> Result<Workload, String> {
        use k8s_openapi::api::apps::v1::ReplicaSet;
        use kube::api::Api;
        let rs = match controller_of(&pod.metadata) {
            Some((kind, name)) if kind == "ReplicaSet" => {
                let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), namespace);
                Some(
                    self.rt
                        .block_on(api.get(&name))
                        .map_err(Self::err(format!("reading ReplicaSet {namespace}/{name}")))
                        .map_err(|e| e.to_string())?,
                )
            }
            _ => None,
        };
        workload_to_scale(pod, rs.as_ref())
    }

    /// The replica count of a workload.
    pub fn replicas(&self, namespace: &str, w: &Workload) -> Result<i32, KubeError> {
        use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
        use kube::api::Api;
        let what = format!("reading the scale of {} {namespace}/{}", w.kind, w.name);
        let c = self.client.clone();
        let scale = self.rt.block_on(async {
            match w.kind.as_str() {
                "Deployment" => Api::<Deployment>::namespaced(c, namespace).get_scale(&w.name).await,
                "StatefulSet" => Api::<StatefulSet>::namespaced(c, namespace).get_scale(&w.name).await,
                _ => Api::<ReplicaSet>::namespaced(c, namespace).get_scale(&w.name).await,
            }
        });
        scale.map(|s| s.spec.and_then(|s| s.replicas).unwrap_or(0)).map_err(Self::err(what))
    }

    /// Scales a workload to `replicas`.
    pub fn scale(&self, namespace: &str, w: &Workload, replicas: i32) -> Result<(), KubeError> {
        use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
        use kube::api::{Api, Patch, PatchParams};
        let what = format!("scaling {} {namespace}/{} to {replicas}", w.kind, w.name);
        let (c, pp, patch) = (self.client.clone(), PatchParams::default(), scale_patch(replicas));
        let r = self.rt.block_on(async {
            let p = Patch::Merge(&patch);
            match w.kind.as_str() {
                "Deployment" => Api::<Deployment>::namespaced(c, namespace).patch_scale(&w.name, &pp, &p).await,
                "StatefulSet" => Api::<StatefulSet>::namespaced(c, namespace).patch_scale(&w.name, &pp, &p).await,
                _ => Api::<ReplicaSet>::namespaced(c, namespace).patch_scale(&w.name, &pp, &p).await,
            }
        });
        r.map(|_| ()).map_err(Self::err(what))
    }

    /// The bindings that grant permissions to a subject: RoleBindings of its namespace and ClusterRoleBindings.
    pub fn bindings_of(&self, s: &Subject) -> Result<Vec<BindingRef>, KubeError> {
        use kube::api::{Api, ListParams};
        let ns = s.namespace.clone().unwrap_or_else(|| "default".into());
        let rb: Api<RoleBinding> = Api::namespaced(self.client.clone(), &ns);
        let crb: Api<ClusterRoleBinding> = Api::all(self.client.clone());
        self.rt.block_on(async {
            let roles =
                rb.list(&ListParams::default()).await.map_err(Self::err(format!("listing RoleBindings of {ns}")))?;
            let cluster = crb.list(&ListParams::default()).await.map_err(Self::err("listing ClusterRoleBindings"))?;
            Ok(bindings_naming(s, &roles.items, &cluster.items))
        })
    }

    /// Takes a subject out of a binding (`add: false`) or puts it back (`add: true`); false when there was
    /// nothing to change.
    pub fn edit_binding(&self, b: &BindingRef, s: &Subject, add: bool) -> Result<bool, KubeError> {
        use kube::api::{Api, PostParams};
        let edit =
            |subjects: Option<&Vec<Subject>>| if add { add_subject(subjects, s) } else { drop_subject(subjects, s) };
        let what = format!(
            "updating {} {}{}",
            b.kind,
            b.namespace.as_deref().map(|n| format!("{n}/")).unwrap_or_default(),
            b.name
        );
        self.rt.block_on(async {
            if let Some(ns) = &b.namespace {
                let api: Api<RoleBinding> = Api::namespaced(self.client.clone(), ns);
                let cur = api.get(&b.name).await.map_err(Self::err(what.clone()))?;
                let Some(subjects) = edit(cur.subjects.as_ref()) else { return Ok(false) };
                let new = RoleBinding { subjects: Some(subjects), ..cur };
                api.replace(&b.name, &PostParams::default(), &new).await.map_err(Self::err(what))?;
            } else {
                let api: Api<ClusterRoleBinding> = Api::all(self.client.clone());
                let cur = api.get(&b.name).await.map_err(Self::err(what.clone()))?;
                let Some(subjects) = edit(cur.subjects.as_ref()) else { return Ok(false) };
                let new = ClusterRoleBinding { subjects: Some(subjects), ..cur };
                api.replace(&b.name, &PostParams::default(), &new).await.map_err(Self::err(what))?;
            }
            Ok(true)
        })
    }
}
