//! Kubernetes manifests: every workload kind's pod template, RBAC objects, and the checks over them — every
//! Pod Security Standards control ([`crate::pss`]) plus the CIS Kubernetes 5.x workload and RBAC items and the
//! NSA/CISA hardening guide's (resource limits, read-only root file system, service-account tokens, default
//! namespace, image pinning, secrets in environment variables, container runtime sockets).

use crate::checks::{self, Check};
use crate::pss;
use crate::yaml::Document;
use kestrel_core::ConfigFinding;
use serde_json::Value;

/// A pod template found in a manifest.
#[derive(Debug)]
pub struct PodTemplate<'a> {
    /// `Deployment shop/web`.
    pub resource: String,
    /// The object's namespace, if it names one.
    pub namespace: Option<&'a str>,
    /// The object (for its own metadata).
    pub object: &'a Value,
    /// JSON pointer of the object in its document.
    pub object_ptr: String,
    /// The pod's metadata and its pointer.
    pub meta: &'a Value,
    /// Pointer of `meta`.
    pub meta_ptr: String,
    /// The pod spec and its pointer.
    pub spec: &'a Value,
    /// Pointer of `spec`.
    pub spec_ptr: String,
}

/// Where a kind keeps its pod template (metadata, spec), relative to the object.
fn template_of(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "Pod" => ("/metadata", "/spec"),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController" | "Job" => {
            ("/spec/template/metadata", "/spec/template/spec")
        }
        "CronJob" => ("/spec/jobTemplate/spec/template/metadata", "/spec/jobTemplate/spec/template/spec"),
        "PodTemplate" => ("/template/metadata", "/template/spec"),
        _ => return None,
    })
}

/// Every Kubernetes object of a document (a `List`'s items included), with its pointer.
pub fn objects(v: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), v, 0)];
    while let Some((ptr, o, depth)) = stack.pop() {
        let kind = o["kind"].as_str().unwrap_or_default();
        if kind.ends_with("List") && depth < 4 {
            for (i, item) in o["items"].as_array().map(|a| a.as_slice()).unwrap_or_default().iter().enumerate().rev() {
                stack.push((format!("{ptr}/items/{i}"), item, depth + 1));
            }
        } else if !kind.is_empty() && o["apiVersion"].is_string() {
            out.push((ptr, o));
        }
    }
    out
}

/// The name of an object as a report shows it: `Kind namespace/name`.
pub fn resource_name(o: &Value) -> String {
    let kind = o["kind"].as_str().unwrap_or("?");
    let name = o["metadata"]["name"].as_str().or(o["metadata"]["generateName"].as_str()).unwrap_or("(unnamed)");
    match o["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// The pod template of an object, if its kind has one.
pub fn pod_template<'a>(ptr: &str, o: &'a Value) -> Option<PodTemplate<'a>> {
    let (m, s) = template_of(o["kind"].as_str()?)?;
    let spec = o.pointer(s).filter(|s| s.is_object())?;
    static NULL: Value = Value::Null;
    Some(PodTemplate {
        resource: resource_name(o),
        namespace: o["metadata"]["namespace"].as_str(),
        object: o,
        object_ptr: ptr.to_string(),
        meta: o.pointer(m).unwrap_or(&NULL),
        meta_ptr: format!("{ptr}{m}"),
        spec,
        spec_ptr: format!("{ptr}{s}"),
    })
}

/// Whether a document looks like Kubernetes (an object with `apiVersion` and `kind`, or a list of them).
pub fn is_kubernetes(v: &Value) -> bool {
    v["apiVersion"].is_string() && v["kind"].is_string()
}

/// Findings being collected for one document.
pub struct Sink<'a> {
    /// The file.
    pub file: &'a str,
    /// The document (for lines).
    pub doc: &'a Document,
    /// Collected findings.
    pub out: Vec<ConfigFinding>,
    /// The namespaces (as the objects name them) that have a NetworkPolicy.
    pub network_policies: Vec<Option<String>>,
    /// Workloads that need a NetworkPolicy in their namespace: a finding to keep when none is found.
    pub needs_policy: Vec<(Option<String>, ConfigFinding)>,
}

impl Sink<'_> {
    /// Records one finding of `check` at `pointer` (in the document).
    pub fn add(&mut self, check: &Check, resource: &str, pointer: &str, message: String) {
        let f = self.finding(check, resource, pointer, message);
        self.out.push(f);
    }

    fn finding(&self, check: &Check, resource: &str, pointer: &str, message: String) -> ConfigFinding {
        let field = field_path(pointer);
        check.finding(checks::At { file: self.file, resource, line: self.doc.line(pointer), field: &field }, message)
    }
}

/// `/spec/containers/0/securityContext` → `spec.containers[0].securityContext`.
pub fn field_path(pointer: &str) -> String {
    let mut s = String::new();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() {
            s.push_str(&format!("[{part}]"));
        } else {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(&part);
        }
    }
    s
}

const RUNTIME_SOCKETS: &[&str] = &[
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/containerd/containerd.sock",
    "/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/var/run",
    "/run",
];

/// Checks one document: every object in it.
pub fn check_document(sink: &mut Sink) {
    let doc = sink.doc;
    for (ptr, o) in objects(&doc.value) {
        if let Some(t) = pod_template(&ptr, o) {
            check_pod(sink, &t);
        }
        check_object(sink, &ptr, o);
    }
}

fn check_pod(sink: &mut Sink, t: &PodTemplate) {
    for v in pss::evaluate(t.meta, t.spec) {
        let Some(check) = checks::pss(v.check) else { continue };
        let base = if v.in_metadata { &t.meta_ptr } else { &t.spec_ptr };
        sink.add(check, &t.resource, &format!("{base}{}", v.pointer), v.message);
        if v.check == "hostNamespaces" {
            // One Pod Security check, three CIS items each: keep the ones of this namespace.
            let (cis_k8s, cis_docker) = match v.pointer.as_str() {
                "/hostPID" => ("5.2.3", "5.16"),
                "/hostIPC" => ("5.2.4", "5.17"),
                _ => ("5.2.5", "5.10"),
            };
            if let Some(f) = sink.out.last_mut() {
                f.controls.retain(|r| match r.standard.as_str() {
                    checks::CIS_K8S => r.control == cis_k8s,
                    checks::CIS_DOCKER => r.control == cis_docker,
                    _ => true,
                });
            }
        }
    }
    let spec = t.spec;
    let sp = &t.spec_ptr;
    for (p, c) in pss::containers(spec) {
        let cname = c["name"].as_str().unwrap_or("(unnamed)");
        for (i, e) in c["env"].as_array().into_iter().flatten().enumerate() {
            if !e["valueFrom"]["secretKeyRef"].is_null() {
                let n = e["name"].as_str().unwrap_or_default();
                sink.add(
                    &checks::SECRET_ENV_REF,
                    &t.resource,
                    &format!("{sp}{p}/env/{i}/valueFrom/secretKeyRef"),
                    format!(
                        "container {cname:?} gets secret {:?} as environment variable {n}",
                        e["valueFrom"]["secretKeyRef"]["name"].as_str().unwrap_or("?")
                    ),
                );
            }
        }
        // Ephemeral (debug) containers have no resources, probes or image policy of their own.
        if p.starts_with("/ephemeralContainers") {
            continue;
        }
        let sc = &c["securityContext"];
        if sc["readOnlyRootFilesystem"].as_bool() != Some(true) {
            sink.add(
                &checks::READ_ONLY_ROOT,
                &t.resource,
                &format!("{sp}{p}/securityContext/readOnlyRootFilesystem"),
                format!("container {cname:?} has a writable root file system"),
            );
        }
        for (check, kind, what) in [(&*checks::LIMITS, "limits", "limit"), (&*checks::REQUESTS, "requests", "request")]
        {
            for r in ["memory", "cpu"] {
                // A request left out defaults to the limit (the API server fills it in): only both missing is
                // no request.
                let missing =
                    c["resources"][kind][r].is_null() && (kind == "limits" || c["resources"]["limits"][r].is_null());
                if missing {
                    sink.add(
                        check,
                        &t.resource,
                        &format!("{sp}{p}/resources/{kind}"),
                        format!("container {cname:?} has no {r} {what}"),
                    );
                }
            }
        }
        if let Some(image) = c["image"].as_str() {
            let last = image.rsplit('/').next().unwrap_or(image);
            let tagless = !last.contains(':') && !image.contains('@');
            if tagless || last.ends_with(":latest") {
                sink.add(
                    &checks::IMAGE_LATEST,
                    &t.resource,
                    &format!("{sp}{p}/image"),
                    format!("container {cname:?} runs {image:?}, a moving tag"),
                );
            } else if !image.contains("@sha256:") {
                sink.add(
                    &checks::IMAGE_DIGEST,
                    &t.resource,
                    &format!("{sp}{p}/image"),
                    format!("container {cname:?} runs {image:?}, not pinned by digest"),
                );
            }
        }
        for (i, e) in c["env"].as_array().into_iter().flatten().enumerate() {
            let n = e["name"].as_str().unwrap_or_default().to_ascii_uppercase();
            let literal = e["value"].as_str().is_some_and(|v| !v.is_empty());
            if literal && checks::secret_name(&n) {
                sink.add(
                    &checks::SECRET_ENV,
                    &t.resource,
                    &format!("{sp}{p}/env/{i}/value"),
                    format!("container {cname:?} sets {n} to a literal value (redacted)"),
                );
            }
        }
        let caps_sys_admin =
            sc["capabilities"]["add"].as_array().into_iter().flatten().any(|a| a.as_str() == Some("SYS_ADMIN"));
        if caps_sys_admin {
            sink.add(
                &checks::SYS_ADMIN,
                &t.resource,
                &format!("{sp}{p}/securityContext/capabilities/add"),
                format!("container {cname:?} adds CAP_SYS_ADMIN"),
            );
        }
    }
    if spec["automountServiceAccountToken"].as_bool() != Some(false) {
        sink.add(
            &checks::SA_TOKEN,
            &t.resource,
            &format!("{sp}/automountServiceAccountToken"),
            "the service account token is mounted (automountServiceAccountToken is not false)".into(),
        );
    }
    let ns = t.namespace.map(String::from);
    let shown = ns.clone().unwrap_or_else(|| "its".into());
    let f = sink.finding(
        &checks::NO_NETWORK_POLICY,
        &t.resource,
        &format!("{}/metadata", t.object_ptr),
        format!(
            "no NetworkPolicy in {shown} namespace among the files checked: all traffic to and from the pod is allowed"
        ),
    );
    sink.needs_policy.push((ns, f));
    if t.namespace == Some("default") {
        sink.add(
            &checks::DEFAULT_NAMESPACE,
            &t.resource,
            &format!("{}/metadata/namespace", t.object_ptr),
            "the workload is in the default namespace".into(),
        );
    }
    for (i, vol) in spec["volumes"].as_array().into_iter().flatten().enumerate() {
        if let Some(path) = vol["hostPath"]["path"].as_str() {
            let p = path.trim_end_matches('/');
            if RUNTIME_SOCKETS.contains(&p) || p.is_empty() {
                sink.add(
                    &checks::RUNTIME_SOCKET,
                    &t.resource,
                    &format!("{sp}/volumes/{i}/hostPath/path"),
                    format!(
                        "volume mounts {path:?}: the container runtime (or the whole host) is reachable from the pod"
                    ),
                );
            }
        }
    }
}

fn check_object(sink: &mut Sink, ptr: &str, o: &Value) {
    let kind = o["kind"].as_str().unwrap_or_default();
    let res = resource_name(o);
    match kind {
        "ClusterRoleBinding" | "RoleBinding" => {
            if o["roleRef"]["name"].as_str() == Some("cluster-admin") {
                sink.add(&checks::CLUSTER_ADMIN, &res, &format!("{ptr}/roleRef/name"), "binds cluster-admin".into());
            }
            for (i, s) in o["subjects"].as_array().into_iter().flatten().enumerate() {
                let n = s["name"].as_str().unwrap_or_default();
                if s["kind"].as_str() == Some("ServiceAccount") && n == "default" {
                    sink.add(
                        &checks::DEFAULT_SA_BOUND,
                        &res,
                        &format!("{ptr}/subjects/{i}"),
                        "grants permissions to a namespace's default service account".into(),
                    );
                }
                if matches!(n, "system:anonymous" | "system:unauthenticated") {
                    sink.add(
                        &checks::ANONYMOUS_BOUND,
                        &res,
                        &format!("{ptr}/subjects/{i}"),
                        format!("grants permissions to {n}"),
                    );
                }
            }
        }
        "ClusterRole" | "Role" => {
            for (i, r) in o["rules"].as_array().into_iter().flatten().enumerate() {
                let list =
                    |k: &str| r[k].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>();
                let (verbs, resources) = (list("verbs"), list("resources"));
                if verbs.contains(&"*") || resources.contains(&"*") || list("apiGroups").contains(&"*") {
                    sink.add(
                        &checks::RBAC_WILDCARD,
                        &res,
                        &format!("{ptr}/rules/{i}"),
                        "a rule uses a wildcard".into(),
                    );
                }
                let reads = verbs.iter().any(|v| matches!(*v, "get" | "list" | "watch" | "*"));
                if reads && resources.iter().any(|r| matches!(*r, "secrets" | "*")) {
                    sink.add(&checks::RBAC_SECRETS, &res, &format!("{ptr}/rules/{i}"), "can read secrets".into());
                }
                if verbs.iter().any(|v| matches!(*v, "create" | "*"))
                    && resources.iter().any(|r| matches!(*r, "pods" | "*"))
                {
                    sink.add(&checks::RBAC_CREATE_PODS, &res, &format!("{ptr}/rules/{i}"), "can create pods".into());
                }
                if verbs.iter().any(|v| matches!(*v, "escalate" | "bind" | "impersonate")) {
                    sink.add(
                        &checks::RBAC_ESCALATE,
                        &res,
                        &format!("{ptr}/rules/{i}"),
                        format!("grants {}", verbs.join(", ")),
                    );
                }
            }
        }
        "NetworkPolicy" => sink.network_policies.push(o["metadata"]["namespace"].as_str().map(String::from)),
        "Secret" => {
            let has_data = ["data", "stringData"].iter().any(|k| o[*k].as_object().is_some_and(|m| !m.is_empty()));
            if has_data {
                sink.add(
                    &checks::SECRET_MANIFEST,
                    &res,
                    &format!("{ptr}/data"),
                    "a Secret with its values is kept in the manifest (values redacted)".into(),
                );
            }
        }
        _ => {}
    }
}
