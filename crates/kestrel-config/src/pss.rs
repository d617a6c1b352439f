//! The Pod Security Standards (policy version v1.37, the latest): every check of the baseline and restricted
//! levels, as the upstream pod-security-admission library defines it, over a pod spec in JSON form.
//!
//! Each check reports the fields that break it. Check ids are upstream's (`runAsNonRoot`,
//! `capabilities_baseline`, …); a finding's id is `pss:LEVEL:ID`. A restricted check that upstream lets
//! override a baseline one (restrictedVolumes over hostPathVolumes, …) does not hide it here: a hostPath
//! volume breaks both levels and both are reported, so that a report at either level is complete.

use serde_json::Value;

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Prevents known privilege escalations.
    Baseline,
    /// Current pod hardening best practice.
    Restricted,
}

impl Level {
    /// `baseline` or `restricted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// One check of the standard.
#[derive(Debug, Clone, Copy)]
pub struct PssCheck {
    /// Upstream's id.
    pub id: &'static str,
    /// Its level.
    pub level: Level,
    /// What it forbids.
    pub title: &'static str,
    /// How to comply.
    pub fix: &'static str,
}

/// Every check, baseline first.
pub const CHECKS: &[PssCheck] = &[
    PssCheck { id: "windowsHostProcess", level: Level::Baseline, title: "Windows HostProcess container", fix: "remove securityContext.windowsOptions.hostProcess (pod and containers)" },
    PssCheck { id: "hostNamespaces", level: Level::Baseline, title: "Host namespaces shared", fix: "remove hostNetwork, hostPID and hostIPC (or set them to false)" },
    PssCheck { id: "privileged", level: Level::Baseline, title: "Privileged container", fix: "remove securityContext.privileged or set it to false" },
    PssCheck { id: "capabilities_baseline", level: Level::Baseline, title: "Capabilities added beyond the default set", fix: "add only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT" },
    PssCheck { id: "hostPathVolumes", level: Level::Baseline, title: "hostPath volume", fix: "use a persistentVolumeClaim, configMap, secret or emptyDir volume instead of hostPath" },
    PssCheck { id: "hostPorts", level: Level::Baseline, title: "Host port", fix: "remove ports[].hostPort (expose the pod through a Service)" },
    PssCheck { id: "hostProbesAndHostLifecycle", level: Level::Baseline, title: "Probe or lifecycle handler aimed at another host", fix: "remove the host field of httpGet and tcpSocket probes and lifecycle handlers" },
    PssCheck { id: "appArmorProfile", level: Level::Baseline, title: "AppArmor disabled", fix: "use appArmorProfile type RuntimeDefault or Localhost (annotation runtime/default or localhost/NAME)" },
    PssCheck { id: "seLinuxOptions", level: Level::Baseline, title: "Custom SELinux user, role or type", fix: "leave seLinuxOptions.user and role unset and type unset or one of container_t, container_init_t, container_kvm_t, container_engine_t" },
    PssCheck { id: "procMount", level: Level::Baseline, title: "Unmasked /proc", fix: "remove securityContext.procMount or set it to Default (or run the pod in a user namespace: hostUsers: false)" },
    PssCheck { id: "seccompProfile_baseline", level: Level::Baseline, title: "Seccomp disabled", fix: "set seccompProfile.type to RuntimeDefault or Localhost, never Unconfined" },
    PssCheck { id: "sysctls", level: Level::Baseline, title: "Unsafe sysctl", fix: "set only the safe sysctls (kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, …)" },
    PssCheck { id: "restrictedVolumes", level: Level::Restricted, title: "Volume type not allowed", fix: "use only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected and secret volumes" },
    PssCheck { id: "allowPrivilegeEscalation", level: Level::Restricted, title: "Privilege escalation allowed", fix: "set securityContext.allowPrivilegeEscalation: false in every container" },
    PssCheck { id: "runAsNonRoot", level: Level::Restricted, title: "May run as root", fix: "set securityContext.runAsNonRoot: true on the pod (or every container)" },
    PssCheck { id: "runAsUser", level: Level::Restricted, title: "Runs as user 0", fix: "set runAsUser to a non-zero user id, or leave it unset" },
    PssCheck { id: "seccompProfile_restricted", level: Level::Restricted, title: "No seccomp profile", fix: "set securityContext.seccompProfile.type: RuntimeDefault on the pod (or every container)" },
    PssCheck { id: "capabilities_restricted", level: Level::Restricted, title: "Capabilities not dropped", fix: "set capabilities.drop: [ALL] in every container and add at most NET_BIND_SERVICE" },
    PssCheck { id: "procMount_restricted", level: Level::Restricted, title: "Unmasked /proc", fix: "remove securityContext.procMount or set it to Default" },
];

/// The check with this id.
pub fn check(id: &str) -> Option<&'static PssCheck> {
    CHECKS.iter().find(|c| c.id == id)
}

/// A broken check: which, the JSON pointer of the offending field (relative to the pod spec, or to the pod
/// metadata when `in_metadata`), and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The check's id.
    pub check: &'static str,
    /// Where.
    pub pointer: String,
    /// Whether `pointer` is under the pod's metadata rather than its spec.
    pub in_metadata: bool,
    /// What.
    pub message: String,
}

const BASELINE_CAPS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    // 1.27
    "net.ipv4.ip_local_reserved_ports",
    // 1.29
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    // 1.32
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
];
const SELINUX_TYPES: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];
const RESTRICTED_VOLUMES: &[&str] =
    &["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

/// Every container of a pod spec (init, regular and ephemeral) with its pointer and name.
pub fn containers(spec: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in spec[list].as_array().into_iter().flatten().enumerate() {
            out.push((format!("/{list}/{i}"), c));
        }
    }
    out
}

fn name(c: &Value) -> &str {
    c["name"].as_str().unwrap_or("(unnamed)")
}

fn is_true(v: &Value) -> bool {
    v.as_bool() == Some(true)
}

/// Checks a pod (its metadata and spec) against every check of both levels.
pub fn evaluate(meta: &Value, spec: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut v = |check: &'static str, pointer: String, message: String| {
        out.push(Violation { check, pointer, in_metadata: false, message });
    };
    let psc = &spec["securityContext"];
    let windows = spec["os"]["name"].as_str() == Some("windows");
    let user_ns = spec["hostUsers"].as_bool() == Some(false);
    let cs = containers(spec);

    // windowsHostProcess
    if is_true(&psc["windowsOptions"]["hostProcess"]) {
        v(
            "windowsHostProcess",
            "/securityContext/windowsOptions/hostProcess".into(),
            "the pod sets windowsOptions.hostProcess=true".into(),
        );
    }
    for (p, c) in &cs {
        if is_true(&c["securityContext"]["windowsOptions"]["hostProcess"]) {
            v(
                "windowsHostProcess",
                format!("{p}/securityContext/windowsOptions/hostProcess"),
                format!("container {:?} sets windowsOptions.hostProcess=true", name(c)),
            );
        }
    }
    // hostNamespaces
    for f in ["hostNetwork", "hostPID", "hostIPC"] {
        if is_true(&spec[f]) {
            v("hostNamespaces", format!("/{f}"), format!("{f}=true"));
        }
    }
    for (p, c) in &cs {
        let sc = &c["securityContext"];
        // privileged
        if is_true(&sc["privileged"]) {
            v(
                "privileged",
                format!("{p}/securityContext/privileged"),
                format!("container {:?} is privileged", name(c)),
            );
        }
        // capabilities_baseline / capabilities_restricted
        let added: Vec<&str> =
            sc["capabilities"]["add"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let beyond: Vec<&str> = added.iter().copied().filter(|a| !BASELINE_CAPS.contains(a)).collect();
        if !beyond.is_empty() {
            v(
                "capabilities_baseline",
                format!("{p}/securityContext/capabilities/add"),
                format!("container {:?} adds {}", name(c), beyond.join(", ")),
            );
        }
        if !windows {
            let drops_all =
                sc["capabilities"]["drop"].as_array().into_iter().flatten().any(|d| d.as_str() == Some("ALL"));
            if !drops_all {
                v(
                    "capabilities_restricted",
                    format!("{p}/securityContext/capabilities/drop"),
                    format!("container {:?} does not drop ALL capabilities", name(c)),
                );
            }
            let extra: Vec<&str> = added.iter().copied().filter(|a| *a != "NET_BIND_SERVICE").collect();
            if !extra.is_empty() {
                v(
                    "capabilities_restricted",
                    format!("{p}/securityContext/capabilities/add"),
                    format!("container {:?} adds {}", name(c), extra.join(", ")),
                );
            }
            // allowPrivilegeEscalation
            if sc["allowPrivilegeEscalation"].as_bool() != Some(false) {
                v(
                    "allowPrivilegeEscalation",
                    format!("{p}/securityContext/allowPrivilegeEscalation"),
                    format!("container {:?} must set allowPrivilegeEscalation=false", name(c)),
                );
            }
        }
        // hostPorts
        for (i, port) in c["ports"].as_array().into_iter().flatten().enumerate() {
            if port["hostPort"].as_i64().is_some_and(|h| h != 0) {
                v(
                    "hostPorts",
                    format!("{p}/ports/{i}/hostPort"),
                    format!("container {:?} uses hostPort {}", name(c), port["hostPort"]),
                );
            }
        }
        // hostProbesAndHostLifecycle
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            for handler in ["httpGet", "tcpSocket"] {
                if let Some(h) = c[probe][handler]["host"].as_str().filter(|h| !h.is_empty()) {
                    v(
                        "hostProbesAndHostLifecycle",
                        format!("{p}/{probe}/{handler}/host"),
                        format!("container {:?} {probe} targets host {h:?}", name(c)),
                    );
                }
            }
        }
        for hook in ["postStart", "preStop"] {
            for handler in ["httpGet", "tcpSocket"] {
                if let Some(h) = c["lifecycle"][hook][handler]["host"].as_str().filter(|h| !h.is_empty()) {
                    v(
                        "hostProbesAndHostLifecycle",
                        format!("{p}/lifecycle/{hook}/{handler}/host"),
                        format!("container {:?} {hook} hook targets host {h:?}", name(c)),
                    );
                }
            }
        }
        // appArmorProfile (field)
        if let Some(t) =
            sc["appArmorProfile"]["type"].as_str().filter(|t| !matches!(*t, "RuntimeDefault" | "Localhost"))
        {
            v(
                "appArmorProfile",
                format!("{p}/securityContext/appArmorProfile/type"),
                format!("container {:?} sets appArmorProfile type {t:?}", name(c)),
            );
        }
        // seLinuxOptions
        selinux(
            &sc["seLinuxOptions"],
            &format!("{p}/securityContext/seLinuxOptions"),
            &format!("container {:?}", name(c)),
            &mut v,
        );
        // procMount (baseline: relaxed in a user namespace) and procMount_restricted
        if let Some(pm) = sc["procMount"].as_str().filter(|pm| *pm != "Default") {
            if !user_ns {
                v(
                    "procMount",
                    format!("{p}/securityContext/procMount"),
                    format!("container {:?} sets procMount {pm:?}", name(c)),
                );
            }
            v(
                "procMount_restricted",
                format!("{p}/securityContext/procMount"),
                format!("container {:?} sets procMount {pm:?}", name(c)),
            );
        }
        // seccompProfile_baseline
        if sc["seccompProfile"]["type"].as_str() == Some("Unconfined") {
            v(
                "seccompProfile_baseline",
                format!("{p}/securityContext/seccompProfile/type"),
                format!("container {:?} sets seccompProfile Unconfined", name(c)),
            );
        }
    }
    // appArmorProfile (pod field)
    if let Some(t) = psc["appArmorProfile"]["type"].as_str().filter(|t| !matches!(*t, "RuntimeDefault" | "Localhost")) {
        v(
            "appArmorProfile",
            "/securityContext/appArmorProfile/type".into(),
            format!("the pod sets appArmorProfile type {t:?}"),
        );
    }
    selinux(&psc["seLinuxOptions"], "/securityContext/seLinuxOptions", "the pod", &mut v);
    if psc["seccompProfile"]["type"].as_str() == Some("Unconfined") {
        v(
            "seccompProfile_baseline",
            "/securityContext/seccompProfile/type".into(),
            "the pod sets seccompProfile Unconfined".into(),
        );
    }
    // hostPathVolumes and restrictedVolumes
    for (i, vol) in spec["volumes"].as_array().into_iter().flatten().enumerate() {
        let vname = vol["name"].as_str().unwrap_or("(unnamed)");
        if vol.get("hostPath").is_some_and(|h| !h.is_null()) {
            v(
                "hostPathVolumes",
                format!("/volumes/{i}/hostPath"),
                format!("volume {vname:?} mounts host path {}", vol["hostPath"]["path"]),
            );
        }
        let source = vol
            .as_object()
            .into_iter()
            .flatten()
            .find(|(k, val)| *k != "name" && !val.is_null())
            .map(|(k, _)| k.as_str());
        // A volume with no source is an emptyDir: the API server fills that in.
        if let Some(what) = source.filter(|s| !RESTRICTED_VOLUMES.contains(s)) {
            v("restrictedVolumes", format!("/volumes/{i}/{what}"), format!("volume {vname:?} is of type {what}"));
        }
    }
    // sysctls
    for (i, s) in psc["sysctls"].as_array().into_iter().flatten().enumerate() {
        let n = s["name"].as_str().unwrap_or_default();
        if !SAFE_SYSCTLS.contains(&n) {
            v("sysctls", format!("/securityContext/sysctls/{i}/name"), format!("sysctl {n:?} is not a safe one"));
        }
    }
    // runAsNonRoot and runAsUser (relaxed for pods in a user namespace)
    if !user_ns {
        let pod_nonroot = psc["runAsNonRoot"].as_bool();
        if pod_nonroot == Some(false) {
            v("runAsNonRoot", "/securityContext/runAsNonRoot".into(), "the pod sets runAsNonRoot=false".into());
        }
        for (p, c) in &cs {
            match c["securityContext"]["runAsNonRoot"].as_bool() {
                Some(false) => v(
                    "runAsNonRoot",
                    format!("{p}/securityContext/runAsNonRoot"),
                    format!("container {:?} sets runAsNonRoot=false", name(c)),
                ),
                Some(true) => {}
                None if pod_nonroot != Some(true) => v(
                    "runAsNonRoot",
                    format!("{p}/securityContext/runAsNonRoot"),
                    format!("neither the pod nor container {:?} sets runAsNonRoot=true", name(c)),
                ),
                None => {}
            }
        }
        if psc["runAsUser"].as_i64() == Some(0) {
            v("runAsUser", "/securityContext/runAsUser".into(), "the pod sets runAsUser=0".into());
        }
        for (p, c) in &cs {
            if c["securityContext"]["runAsUser"].as_i64() == Some(0) {
                v(
                    "runAsUser",
                    format!("{p}/securityContext/runAsUser"),
                    format!("container {:?} sets runAsUser=0", name(c)),
                );
            }
        }
    }
    // seccompProfile_restricted
    if !windows {
        let valid = |t: &Value| matches!(t.as_str(), Some("RuntimeDefault" | "Localhost"));
        let pod_type = &psc["seccompProfile"]["type"];
        let pod_ok = valid(pod_type);
        if !pod_type.is_null() && !pod_ok {
            v(
                "seccompProfile_restricted",
                "/securityContext/seccompProfile/type".into(),
                format!("the pod sets seccompProfile type {pod_type}"),
            );
        }
        for (p, c) in &cs {
            let t = &c["securityContext"]["seccompProfile"]["type"];
            if !t.is_null() && !valid(t) {
                v(
                    "seccompProfile_restricted",
                    format!("{p}/securityContext/seccompProfile/type"),
                    format!("container {:?} sets seccompProfile type {t}", name(c)),
                );
            } else if t.is_null() && !pod_ok {
                v(
                    "seccompProfile_restricted",
                    format!("{p}/securityContext/seccompProfile"),
                    format!(
                        "neither the pod nor container {:?} sets seccompProfile RuntimeDefault or Localhost",
                        name(c)
                    ),
                );
            }
        }
    }
    // appArmorProfile (annotations)
    for (k, val) in meta["annotations"].as_object().into_iter().flatten() {
        if let Some(cname) = k.strip_prefix("container.apparmor.security.beta.kubernetes.io/") {
            let val = val.as_str().unwrap_or_default();
            if !(val.is_empty() || val == "runtime/default" || val.starts_with("localhost/")) {
                out.push(Violation {
                    check: "appArmorProfile",
                    pointer: format!("/annotations/{}", k.replace('~', "~0").replace('/', "~1")),
                    in_metadata: true,
                    message: format!("container {cname:?} has AppArmor profile {val:?}"),
                });
            }
        }
    }
    out
}

fn selinux(o: &Value, pointer: &str, who: &str, v: &mut impl FnMut(&'static str, String, String)) {
    if !o.is_object() {
        return;
    }
    if let Some(t) = o["type"].as_str().filter(|t| !SELINUX_TYPES.contains(t)) {
        v("seLinuxOptions", format!("{pointer}/type"), format!("{who} sets SELinux type {t:?}"));
    }
    for f in ["user", "role"] {
        if let Some(x) = o[f].as_str().filter(|x| !x.is_empty()) {
            v("seLinuxOptions", format!("{pointer}/{f}"), format!("{who} sets SELinux {f} {x:?}"));
        }
    }
}
