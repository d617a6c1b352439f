//! The Kubernetes checks over real manifest shapes: every workload kind, multi-document (Helm-rendered)
//! YAML, JSON, `List`s; one violation of each Pod Security Standards check on an otherwise restricted pod;
//! RBAC; and hostile files, each a clear error while the rest of the scan goes on.

use kestrel_config::{scan_path, scan_text};
use serde_json::{json, Value};

/// A pod spec that meets the restricted level.
fn restricted_spec() -> Value {
    json!({
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "app", "image": "registry.example/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": true},
            "resources": {"limits": {"cpu": "1", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}}
        }],
        "automountServiceAccountToken": false
    })
}

/// A pod in namespace shop, and the namespace's NetworkPolicy.
fn pod(spec: Value) -> String {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"}, "spec": spec});
    let policy = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": "shop"}, "spec": {"podSelector": {}}});
    format!("{pod}\n---\n{policy}\n")
}

fn ids(text: &str) -> Vec<String> {
    let mut v: Vec<String> = scan_text("t.yaml", text).unwrap().into_iter().map(|f| f.id).collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn a_restricted_pod_is_clean_and_each_violation_is_flagged_under_its_check() {
    assert_eq!(ids(&pod(restricted_spec())), Vec::<String>::new());
    // (pointer, value, the check it breaks)
    let cases: &[(&str, Value, &str)] = &[
        ("/containers/0/securityContext/privileged", json!(true), "pss:baseline:privileged"),
        ("/hostNetwork", json!(true), "pss:baseline:hostNamespaces"),
        ("/hostPID", json!(true), "pss:baseline:hostNamespaces"),
        ("/containers/0/securityContext/capabilities/add", json!(["NET_ADMIN"]), "pss:baseline:capabilities_baseline"),
        ("/volumes", json!([{"name": "h", "hostPath": {"path": "/etc"}}]), "pss:baseline:hostPathVolumes"),
        ("/containers/0/ports", json!([{"containerPort": 80, "hostPort": 8080}]), "pss:baseline:hostPorts"),
        (
            "/containers/0/livenessProbe",
            json!({"httpGet": {"host": "10.0.0.1", "port": 80}}),
            "pss:baseline:hostProbesAndHostLifecycle",
        ),
        (
            "/containers/0/lifecycle",
            json!({"preStop": {"tcpSocket": {"host": "metadata", "port": 80}}}),
            "pss:baseline:hostProbesAndHostLifecycle",
        ),
        ("/securityContext/appArmorProfile", json!({"type": "Unconfined"}), "pss:baseline:appArmorProfile"),
        ("/containers/0/securityContext/seLinuxOptions", json!({"type": "spc_t"}), "pss:baseline:seLinuxOptions"),
        ("/securityContext/seLinuxOptions", json!({"user": "system_u"}), "pss:baseline:seLinuxOptions"),
        ("/containers/0/securityContext/procMount", json!("Unmasked"), "pss:baseline:procMount"),
        (
            "/containers/0/securityContext/seccompProfile",
            json!({"type": "Unconfined"}),
            "pss:baseline:seccompProfile_baseline",
        ),
        ("/securityContext/sysctls", json!([{"name": "kernel.msgmax", "value": "1"}]), "pss:baseline:sysctls"),
        ("/securityContext/windowsOptions", json!({"hostProcess": true}), "pss:baseline:windowsHostProcess"),
        ("/volumes", json!([{"name": "n", "nfs": {"server": "x", "path": "/"}}]), "pss:restricted:restrictedVolumes"),
        (
            "/containers/0/securityContext/allowPrivilegeEscalation",
            json!(true),
            "pss:restricted:allowPrivilegeEscalation",
        ),
        ("/securityContext/runAsNonRoot", json!(false), "pss:restricted:runAsNonRoot"),
        ("/containers/0/securityContext/runAsUser", json!(0), "pss:restricted:runAsUser"),
        ("/securityContext/seccompProfile", json!(null), "pss:restricted:seccompProfile_restricted"),
        (
            "/containers/0/securityContext/capabilities/drop",
            json!(["NET_RAW"]),
            "pss:restricted:capabilities_restricted",
        ),
        ("/containers/0/securityContext/procMount", json!("Unmasked"), "pss:restricted:procMount_restricted"),
    ];
    for (pointer, value, check) in cases {
        let mut spec = restricted_spec();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        spec.pointer_mut(parent)
            .unwrap_or_else(|| panic!("{parent}"))
            .as_object_mut()
            .unwrap()
            .insert(key.into(), value.clone());
        let found = ids(&pod(spec));
        assert!(found.contains(&check.to_string()), "{pointer}={value}: expected {check}, found {found:?}");
    }
    // Allowed values stay clean: safe sysctls, the default capabilities, Localhost profiles, an emptyDir by
    // default, a user-namespaced pod's procMount at baseline.
    let mut spec = restricted_spec();
    spec["securityContext"]["sysctls"] = json!([{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]);
    spec["securityContext"]["seccompProfile"] = json!({"type": "Localhost", "localhostProfile": "p.json"});
    spec["containers"][0]["securityContext"]["capabilities"]["add"] = json!(["NET_BIND_SERVICE"]);
    spec["volumes"] = json!([{"name": "scratch"}]);
    assert_eq!(ids(&pod(spec.clone())), Vec::<String>::new());
    spec["hostUsers"] = json!(false);
    spec["containers"][0]["securityContext"]["procMount"] = json!("Unmasked");
    assert_eq!(ids(&pod(spec)), vec!["pss:restricted:procMount_restricted".to_string()]);
}

#[test]
fn a_request_defaults_to_its_limit_so_only_both_missing_is_flagged() {
    let with = |resources: Value| {
        let mut spec = restricted_spec();
        spec["containers"][0]["resources"] = resources;
        ids(&pod(spec))
    };
    // Limits alone: the API server sets the requests to them.
    assert_eq!(with(json!({"limits": {"cpu": "1", "memory": "256Mi"}})), Vec::<String>::new());
    // Requests alone: no limit.
    assert_eq!(with(json!({"requests": {"cpu": "1", "memory": "256Mi"}})), vec!["k8s:resource-limits"]);
    // A CPU limit only: memory has neither.
    assert_eq!(with(json!({"limits": {"cpu": "1"}})), vec!["k8s:resource-limits", "k8s:resource-requests"]);
    assert_eq!(with(json!({})), vec!["k8s:resource-limits", "k8s:resource-requests"]);
}

#[test]
fn every_workload_kind_is_checked_with_its_resource_and_line() {
    let containers = "        containers:\n        - name: c\n          image: nginx:1.27\n          securityContext:\n            privileged: true\n";
    let template = format!("    template:\n      spec:\n{containers}");
    let mut text = String::new();
    for kind in ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"] {
        let api = if kind == "Job" {
            "batch/v1"
        } else if kind == "ReplicationController" {
            "v1"
        } else {
            "apps/v1"
        };
        text.push_str(&format!("---\n# Source: chart/templates/{kind}.yaml\napiVersion: {api}\nkind: {kind}\nmetadata:\n  name: w\n  namespace: shop\nspec:\n{template}"));
    }
    text.push_str(&format!(
        "---\napiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: w\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n{}",
        containers.lines().map(|l| format!("    {l}\n")).collect::<String>()
    ));
    let findings = scan_text("rendered.yaml", &text).unwrap();
    let privileged: Vec<_> = findings.iter().filter(|f| f.id == "pss:baseline:privileged").collect();
    let resources: Vec<&str> = privileged.iter().map(|f| f.resource.as_str()).collect();
    assert_eq!(
        resources,
        [
            "Deployment shop/w",
            "StatefulSet shop/w",
            "DaemonSet shop/w",
            "ReplicaSet shop/w",
            "ReplicationController shop/w",
            "Job shop/w",
            "CronJob w"
        ]
    );
    for f in &privileged {
        let line = f.line.unwrap();
        assert_eq!(text.lines().nth(line - 1).unwrap().trim(), "privileged: true", "{f:?}");
        assert!(f.field.ends_with("containers[0].securityContext.privileged"), "{}", f.field);
    }
    // A List of pods, in JSON.
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "spec": {"hostPID": true, "containers": [{"name": "c", "image": "x:1"}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
    ]});
    let f = scan_text("list.json", &list.to_string()).unwrap();
    let host: Vec<_> =
        f.iter().filter(|f| f.id == "pss:baseline:hostNamespaces").map(|f| f.resource.as_str()).collect();
    assert_eq!(host, ["Pod a"]);
    assert_eq!(f.iter().find(|f| f.id == "pss:baseline:hostNamespaces").unwrap().field, "items[0].spec.hostPID");
}

#[test]
fn rbac_secrets_and_environment_checks() {
    let text = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: too-much}
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: shop}
rules:
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ci-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {kind: ServiceAccount, name: default, namespace: ci}
- {kind: Group, name: system:unauthenticated, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
stringData: {password: hunter2}
---
apiVersion: v1
kind: Pod
metadata: {name: env, namespace: default}
spec:
  containers:
  - name: c
    image: app:latest
    env:
    - {name: DB_PASSWORD, value: hunter2}
    - {name: DB_HOST, value: db}
    - name: API_TOKEN
      valueFrom: {secretKeyRef: {name: t, key: t}}
  volumes:
  - name: sock
    hostPath: {path: /var/run/docker.sock}
"#;
    let f = scan_text("rbac.yaml", text).unwrap();
    let have = |id: &str| f.iter().filter(|x| x.id == id).count();
    assert!(have("k8s:rbac-wildcard") >= 1);
    assert_eq!(have("k8s:rbac-secrets"), 2, "the wildcard role and the reader");
    assert_eq!(have("k8s:rbac-cluster-admin"), 1);
    assert_eq!(have("k8s:rbac-default-sa"), 1);
    assert_eq!(have("k8s:rbac-anonymous"), 1);
    assert_eq!(have("k8s:secret-manifest"), 1);
    assert_eq!(have("k8s:secret-in-env"), 1, "a literal password, not a secretKeyRef or a host name");
    assert_eq!(have("k8s:image-moving-tag"), 1);
    assert_eq!(have("k8s:default-namespace"), 1);
    assert_eq!(have("k8s:runtime-socket"), 1);
    // Secret values never reach a finding.
    assert!(f.iter().all(|x| !x.message.contains("hunter2")));
    // Every finding maps to controls.
    assert!(f.iter().all(|x| !x.controls.is_empty() && !x.fix.is_empty()));
}

#[test]
fn hostile_files_are_errors_naming_the_file_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("good.yaml"), pod(json!({"hostIPC": true, "containers": [{"name": "c", "image": "x:1"}]})))
        .unwrap();
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9u8 {
        let (p, c) = ((b'a' + i - 1) as char, (b'a' + i) as char);
        bomb.push_str(&format!("{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"));
    }
    std::fs::write(d.join("bomb.yaml"), bomb).unwrap();
    std::fs::write(d.join("binary.yaml"), b"\x7fELF\x02\x01\x01\0\0\0\0").unwrap();
    std::fs::write(d.join("latin1.json"), b"{\"a\": \"caf\xe9\"}").unwrap();
    std::fs::write(d.join("broken.yml"), "apiVersion: v1\nkind: Pod\nspec: [unclosed\n").unwrap();
    let huge = std::fs::File::create(d.join("huge.yaml")).unwrap();
    huge.set_len(kestrel_config::MAX_FILE_BYTES + 1).unwrap();
    std::fs::write(d.join("notes.txt"), "not a manifest").unwrap();
    let t = std::time::Instant::now();
    let scan = scan_path(d);
    assert!(t.elapsed() < std::time::Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(scan.files, 6, "yaml, yml and json files only");
    let reason = |name: &str| {
        scan.errors
            .iter()
            .find(|e| e.file.ends_with(name))
            .map(|e| e.reason.clone())
            .unwrap_or_else(|| panic!("no error for {name}: {:?}", scan.errors))
    };
    assert!(reason("bomb.yaml").contains("YAML bomb"));
    assert!(reason("binary.yaml").contains("binary"));
    assert!(reason("latin1.json").contains("UTF-8"));
    assert!(reason("broken.yml").starts_with("line "));
    assert!(reason("huge.yaml").contains("limit"));
    assert_eq!(scan.errors.len(), 5);
    assert!(scan.findings.iter().any(|f| f.file.ends_with("good.yaml") && f.id == "pss:baseline:hostNamespaces"));
}

#[test]
fn a_tree_mixes_manifests_and_dockerfiles_and_network_policies_count_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("shop")).unwrap();
    std::fs::create_dir_all(d.join("search")).unwrap();
    let workload = |ns: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: {ns}}}\nspec:\n  containers:\n  - {{name: c, image: 'x:1'}}\n")
    };
    std::fs::write(d.join("shop/pod.yaml"), workload("shop")).unwrap();
    std::fs::write(d.join("search/pod.yaml"), workload("search")).unwrap();
    // The shop namespace's policy lives in another file.
    std::fs::write(
        d.join("shop/netpol.yml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n",
    )
    .unwrap();
    std::fs::write(d.join("Dockerfile"), "FROM debian:12\nRUN apt-get update\n").unwrap();
    let scan = scan_path(d);
    assert_eq!(scan.files, 4);
    let no_policy: Vec<&str> =
        scan.findings.iter().filter(|f| f.id == "k8s:no-network-policy").map(|f| f.file.as_str()).collect();
    assert_eq!(no_policy.len(), 1, "{no_policy:?}");
    assert!(no_policy[0].ends_with("search/pod.yaml"));
    assert!(scan
        .findings
        .iter()
        .any(|f| f.id == "dockerfile:update-alone" && f.file.ends_with("Dockerfile") && f.line == Some(2)));
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
}
