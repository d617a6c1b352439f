//! The deployment: the Helm chart lints and renders (real helm, installed by scripts/setup), every object it
//! renders is a valid object of its Kubernetes type (k8s-openapi), every flag it passes exists in the real
//! binary, the configuration files it renders are ones the binary accepts and applies, the plain manifests
//! are what the chart renders, the agent's RBAC is the one tested against the
//! response code, and kestrel's own checks find nothing in the server and webhook and, in the agent, only
//! the privileges eBPF needs. No cluster runs here (see README).

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn helm() -> PathBuf {
    let venv = std::env::var_os("KESTREL_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/kestrel/venv"));
    let h = venv.join("bin/helm");
    assert!(h.is_file(), "helm is not installed: run scripts/setup ({})", h.display());
    h
}

fn render(set: &[&str]) -> String {
    let mut c = Command::new(helm());
    c.args(["template", "kestrel"]).arg(root().join("deploy/helm/kestrel")).args(["--namespace", "kestrel"]);
    for s in set {
        c.args(["--set", s]);
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn docs(text: &str) -> Vec<Value> {
    text.split("\n---").filter_map(|d| serde_yaml::from_str::<Value>(d).ok()).filter(|v| v.is_object()).collect()
}

/// Every object read as its Kubernetes type: a misspelt field or a wrong shape fails here.
fn typed(v: &Value) {
    use k8s_openapi::api::{
        admissionregistration::v1 as adm, apps::v1 as apps, core::v1 as core, networking::v1 as net, rbac::v1 as rbac,
    };
    let kind = v["kind"].as_str().unwrap();
    let r = match kind {
        "StatefulSet" => serde_json::from_value::<apps::StatefulSet>(v.clone()).map(|_| ()),
        "DaemonSet" => serde_json::from_value::<apps::DaemonSet>(v.clone()).map(|_| ()),
        "Deployment" => serde_json::from_value::<apps::Deployment>(v.clone()).map(|_| ()),
        "Service" => serde_json::from_value::<core::Service>(v.clone()).map(|_| ()),
        "ServiceAccount" => serde_json::from_value::<core::ServiceAccount>(v.clone()).map(|_| ()),
        "ConfigMap" => serde_json::from_value::<core::ConfigMap>(v.clone()).map(|_| ()),
        "ClusterRole" => serde_json::from_value::<rbac::ClusterRole>(v.clone()).map(|_| ()),
        "ClusterRoleBinding" => serde_json::from_value::<rbac::ClusterRoleBinding>(v.clone()).map(|_| ()),
        "NetworkPolicy" => serde_json::from_value::<net::NetworkPolicy>(v.clone()).map(|_| ()),
        "ValidatingWebhookConfiguration" => {
            serde_json::from_value::<adm::ValidatingWebhookConfiguration>(v.clone()).map(|_| ())
        }
        other => panic!("the chart renders a {other} this test does not know"),
    };
    r.unwrap_or_else(|e| panic!("{kind} {}: {e}", v["metadata"]["name"]));
}

/// Every `--flag` a container passes is one the binary's subcommand knows.
fn flags_exist(v: &Value) {
    let spec = &v["spec"]["template"]["spec"];
    for c in spec["containers"].as_array().into_iter().flatten() {
        let args: Vec<&str> = c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        let help = Command::cargo_bin("kestrel").unwrap().args([args[0], "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&help.stdout);
        for a in &args[1..] {
            let flag = a.split('=').next().unwrap();
            if flag.starts_with("--") {
                assert!(
                    help.contains(flag),
                    "{} {}: `kestrel {}` has no {flag}",
                    v["kind"],
                    v["metadata"]["name"],
                    args[0]
                );
            }
        }
        for e in c["env"].as_array().into_iter().flatten() {
            let name = e["name"].as_str().unwrap();
            // Read by the binary, or expanded by the kubelet into an argument (`$(NAME)`).
            let in_args = args.iter().any(|a| a.contains(&format!("$({name})")));
            assert!(help.contains(name) || in_args, "`kestrel {}` reads no {name}", args[0]);
        }
    }
}

fn config_findings(text: &str) -> Vec<Value> {
    let mut child = Command::cargo_bin("kestrel")
        .unwrap()
        .args(["config", "-f", "json", "--pss-level", "restricted", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["findings"].as_array().unwrap().clone()
}

#[test]
fn the_chart_renders_valid_objects_with_real_flags() {
    let out = Command::new(helm()).arg("lint").arg(root().join("deploy/helm/kestrel")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    // Defaults, and everything on (PostgreSQL, NATS, a response policy, the webhook).
    let all = render(&[
        "server.storeSecret=kestrel-store",
        "server.nats=nats://nats:4222",
        "server.notifySecret=kestrel-webhooks",
        "server.replicas=3",
        "agent.respondPolicy=kestrel-respond",
        "agent.rules=kestrel-rules",
        "agent.imageWatch.enabled=true",
        "admission.enabled=true",
        "admission.caBundle=LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
    ]);
    // A CRI-O node's images watched in containers-storage.
    let crio = render(&["agent.imageWatch.enabled=true", "agent.imageWatch.store=containers-storage"]);
    for text in [render(&[]), all.clone(), crio.clone()] {
        for d in docs(&text) {
            typed(&d);
            if ["StatefulSet", "DaemonSet", "Deployment"].contains(&d["kind"].as_str().unwrap()) {
                flags_exist(&d);
            }
        }
    }
    let kinds: Vec<String> = docs(&all).iter().map(|d| d["kind"].as_str().unwrap().to_string()).collect();
    for k in
        ["StatefulSet", "DaemonSet", "Deployment", "ValidatingWebhookConfiguration", "NetworkPolicy", "ClusterRole"]
    {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    // The image watcher: a second container of the agent's pods, reading the runtime's store it mounts.
    let watcher = |text: &str| -> Value {
        let agent = docs(text).into_iter().find(|d| d["kind"] == "DaemonSet").unwrap();
        let containers = agent["spec"]["template"]["spec"]["containers"].as_array().unwrap().clone();
        containers.into_iter().find(|c| c["name"] == "image-watch").unwrap_or(Value::Null)
    };
    assert!(watcher(&render(&[])).is_null(), "off by default");
    assert_eq!(watcher(&all)["args"][1], "--containerd");
    assert_eq!(watcher(&all)["volumeMounts"][1]["mountPath"], "/run/containerd/containerd.sock");
    assert_eq!(watcher(&crio)["args"][1], "--containers-storage=[/var/lib/containers/storage]");
    assert_eq!(watcher(&crio)["volumeMounts"][1]["readOnly"], true);
    // Its database comes from the server, which updates it from OSV daily (HTTPS opened in its network policy),
    // or is pushed there (air-gapped: no update, no HTTPS).
    let args = |text: &str| -> Vec<String> {
        watcher(text)["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect()
    };
    assert!(args(&all).contains(&"--db-from-server".to_string()) && args(&all).contains(&"--offline".to_string()));
    let osv = render(&["agent.imageWatch.enabled=true", "agent.imageWatch.database=osv"]);
    assert!(!args(&osv).iter().any(|a| a.starts_with("--db-from-server") || a == "--offline"), "{:?}", args(&osv));
    let server_config = |text: &str| -> Value {
        let cm = docs(text).into_iter().find(|d| d["metadata"]["name"] == "kestrel-server-config").unwrap();
        serde_yaml::from_str(cm["data"]["config.yaml"].as_str().unwrap()).unwrap()
    };
    let egress = |text: &str| -> String {
        let np = docs(text).into_iter().find(|d| d["kind"] == "NetworkPolicy").unwrap();
        np["spec"]["egress"].to_string()
    };
    assert_eq!(server_config(&render(&[]))["server"]["db-update-every"], 24);
    assert!(egress(&render(&[])).contains("443"));
    let gapped = render(&["server.vulndb.updateEveryHours=0"]);
    assert!(server_config(&gapped)["server"].get("db-update-every").is_none());
    assert!(!egress(&gapped).contains("443"), "{}", egress(&gapped));
    assert!(egress(&render(&["server.vulndb.updateEveryHours=0", "server.notifySecret=hooks"])).contains("443"));
    let out = Command::new(helm())
        .args(["template", "k"])
        .arg(root().join("deploy/helm/kestrel"))
        .args(["--set", "agent.imageWatch.enabled=true", "--set", "agent.imageWatch.store=docker"])
        .output()
        .unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("agent.imageWatch.store"));

    // The webhook without its CA bundle is an error that says what to set.
    let out = Command::new(helm())
        .args(["template", "k"])
        .arg(root().join("deploy/helm/kestrel"))
        .args(["--set", "admission.enabled=true"])
        .output()
        .unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("admission.caBundle"));

    // kestrel's own checks at Pod Security restricted: the server and the webhook pass; the agent breaks
    // only what eBPF and the responses need (host PID namespace, added capabilities, seccomp unconfined,
    // root, host paths) — and never `privileged`.
    let findings = config_findings(&all);
    let pss: Vec<&Value> = findings.iter().filter(|f| f["id"].as_str().unwrap().starts_with("pss:")).collect();
    let flagged: std::collections::BTreeSet<&str> = pss.iter().map(|f| f["resource"].as_str().unwrap()).collect();
    assert!(flagged.iter().all(|r| r.contains("kestrel-agent")), "{flagged:?}");
    let agent: std::collections::BTreeSet<&str> = pss.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert!(!agent.iter().any(|id| id.ends_with(":privileged")), "{agent:?}");
    for expected in ["hostNamespaces", "capabilities_baseline", "hostPathVolumes", "runAsNonRoot"] {
        assert!(agent.iter().any(|id| id.ends_with(expected)), "{expected} not among {agent:?}");
    }
}

#[test]
fn the_plain_manifests_are_the_chart_rendered_and_the_rbac_is_the_tested_one() {
    let rendered = render(&[]);
    let committed = std::fs::read_to_string(root().join("deploy/kestrel.yaml")).unwrap();
    let body: String = committed.lines().skip_while(|l| l.starts_with("# ")).map(|l| format!("{l}\n")).collect();
    assert_eq!(body.trim(), rendered.trim(), "deploy/kestrel.yaml is stale: run scripts/manifests");
    let rules =
        |text: &str| -> Value { docs(text).into_iter().find(|d| d["kind"] == "ClusterRole").unwrap()["rules"].clone() };
    let tested = std::fs::read_to_string(root().join("deploy/kestrel-agent-rbac.yaml")).unwrap();
    assert_eq!(rules(&rendered), rules(&tested), "the chart's agent RBAC differs from deploy/kestrel-agent-rbac.yaml");
}

/// The options are in ConfigMaps: each config.yaml the chart renders is one the binary accepts, holds what the
/// chart sets, and lets `agent.config` / `server.config` add options and override the chart's.
#[test]
fn the_chart_configures_the_agent_and_the_server_through_files_the_binary_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let show = |text: &str, command: &str, file: &str| -> String {
        let config = docs(text)
            .into_iter()
            .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == format!("kestrel-{file}-config"))
            .unwrap_or_else(|| panic!("no ConfigMap kestrel-{file}-config"));
        let path = dir.path().join(format!("{file}.yaml"));
        std::fs::write(&path, config["data"]["config.yaml"].as_str().unwrap()).unwrap();
        let out = Command::cargo_bin("kestrel")
            .unwrap()
            .env_remove("KESTREL_METRICS")
            .env_remove("KESTREL_SERVER")
            .env_remove("KESTREL_NATS")
            .arg("--config")
            .arg(&path)
            .args([command, "--show-config"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let has = |shown: &str, lines: &[&str]| {
        for line in lines {
            assert!(shown.lines().any(|l| l == *line), "no {line:?} in:\n{shown}");
        }
    };

    let defaults = render(&[]);
    has(
        &show(&defaults, "detect", "agent"),
        &[
            "  live: true  # file",
            "  profiles: /var/lib/kestrel/profiles  # file",
            "  metrics: 0.0.0.0:9470  # file",
            "  server: http://kestrel-server.kestrel.svc:8470  # file",
            "  syscalls: false  # default",
        ],
    );
    has(
        &show(&defaults, "server", "server"),
        &["  retention-days: 90  # file", "  tokens: /etc/kestrel/tokens/tokens.yaml  # file"],
    );

    let custom = render(&[
        "agent.config.syscalls=true",
        "agent.config.workload-by=container",
        "agent.config.metrics=127.0.0.1:9470",
        "agent.rules=kestrel-rules",
        "server.nats=nats://nats:4222",
        "server.config.retention-days=30",
    ]);
    has(
        &show(&custom, "detect", "agent"),
        &[
            "  syscalls: true  # file",
            "  workload-by: container  # file",
            "  metrics: 127.0.0.1:9470  # file",
            "  nats: nats://nats:4222  # file",
            "  # server: <URL>  (not set)",
            "  rules: [/etc/kestrel/rules]  # file",
        ],
    );
    has(&show(&custom, "server", "server"), &["  retention-days: 30  # file", "  nats: nats://nats:4222  # file"]);
    // The rule files' ConfigMap is mounted where the configuration says.
    let ds = docs(&custom).into_iter().find(|d| d["kind"] == "DaemonSet").unwrap();
    let spec = &ds["spec"]["template"]["spec"];
    let mounted = spec["containers"][0]["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == "rules");
    assert_eq!(mounted.map(|m| m["mountPath"].clone()), Some("/etc/kestrel/rules".into()));
    let volume = spec["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "rules").unwrap();
    assert_eq!(volume["configMap"]["name"], "kestrel-rules");
    // A changed configuration rolls the pods: the template carries its checksum.
    let checksum = |text: &str, kind: &str| {
        docs(text).into_iter().find(|d| d["kind"] == kind).unwrap()["spec"]["template"]["metadata"]["annotations"]
            ["checksum/config"]
            .clone()
    };
    for kind in ["DaemonSet", "StatefulSet"] {
        assert!(checksum(&defaults, kind).is_string());
        assert_ne!(checksum(&defaults, kind), checksum(&custom, kind), "{kind}");
    }
}
