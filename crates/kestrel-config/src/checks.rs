//! The catalogue of checks beyond the Pod Security Standards, and the controls every check maps to.

use crate::pss::{Level, PssCheck};
use kestrel_core::{ControlRef, Severity};

/// A check: its id, title, severity, how to fix it, and the controls it maps to (`standard`, `control`).
#[derive(Debug, Clone)]
pub struct Check {
    /// `k8s:read-only-root-fs`, `pss:restricted:runAsNonRoot`.
    pub id: String,
    /// What is wrong.
    pub title: &'static str,
    /// How bad.
    pub severity: Severity,
    /// How to fix it.
    pub fix: &'static str,
    /// The controls it maps to.
    pub controls: Vec<ControlRef>,
}

/// CIS Kubernetes Benchmark v1.9.
pub const CIS_K8S: &str = "cis-k8s-1.9";
/// NIST SP 800-190.
pub const NIST: &str = "nist-800-190";
/// NSA/CISA Kubernetes Hardening Guidance.
pub const NSA: &str = "nsa-cisa";
/// Pod Security Standards (policy version v1.37).
pub const PSS: &str = "pss";

macro_rules! check {
    ($name:ident, $id:expr, $sev:ident, $title:expr, $fix:expr, [$(($s:expr, $c:expr)),* $(,)?]) => {
        #[doc = $title]
        pub static $name: std::sync::LazyLock<Check> = std::sync::LazyLock::new(|| Check {
            id: $id.to_string(),
            title: $title,
            severity: Severity::$sev,
            fix: $fix,
            controls: vec![$(ControlRef { standard: $s.into(), control: $c.into() }),*],
        });
    };
}

check!(
    READ_ONLY_ROOT,
    "k8s:read-only-root-fs",
    Low,
    "Writable root file system",
    "set securityContext.readOnlyRootFilesystem: true (mount an emptyDir where the program must write)",
    [(NSA, "pod-security:immutable-fs"), (NIST, "4.4.4"), (CIS_K8S, "5.7.3")]
);
check!(
    LIMITS,
    "k8s:resource-limits",
    Low,
    "No resource limit",
    "set resources.limits.cpu and resources.limits.memory",
    [(NSA, "network:resource-policies"), (NIST, "4.4.3")]
);
check!(
    IMAGE_LATEST,
    "k8s:image-moving-tag",
    Medium,
    "Image by a moving tag",
    "name the image by a version tag, better by digest (image@sha256:…)",
    [(NIST, "4.2.3"), (NIST, "4.1.5")]
);
check!(
    IMAGE_DIGEST,
    "k8s:image-not-pinned",
    Low,
    "Image not pinned by digest",
    "name the image by digest (image@sha256:…) so the same bytes run everywhere",
    [(NIST, "4.1.5")]
);
check!(
    SECRET_ENV,
    "k8s:secret-in-env",
    High,
    "Secret as a literal environment variable",
    "put the value in a Secret and mount it as a file (or use valueFrom.secretKeyRef)",
    [(CIS_K8S, "5.4.1"), (NIST, "4.1.4")]
);
check!(
    SYS_ADMIN,
    "k8s:cap-sys-admin",
    High,
    "CAP_SYS_ADMIN added",
    "do not add SYS_ADMIN; it is nearly root on the host",
    [(CIS_K8S, "5.2.9"), (NIST, "4.4.3")]
);
check!(
    SA_TOKEN,
    "k8s:sa-token-automount",
    Low,
    "Service account token mounted",
    "set automountServiceAccountToken: false unless the pod talks to the API server",
    [(CIS_K8S, "5.1.6"), (NSA, "pod-security:sa-tokens"), (NIST, "4.3.2")]
);
check!(
    DEFAULT_NAMESPACE,
    "k8s:default-namespace",
    Low,
    "Workload in the default namespace",
    "deploy into a namespace of its own",
    [(CIS_K8S, "5.7.4"), (NSA, "network:namespaces")]
);
check!(
    RUNTIME_SOCKET,
    "k8s:runtime-socket",
    Critical,
    "Container runtime socket or host root mounted",
    "do not mount the runtime's socket, /run or / into a pod",
    [(CIS_K8S, "5.2.12"), (NIST, "4.4.3")]
);
check!(
    CLUSTER_ADMIN,
    "k8s:rbac-cluster-admin",
    High,
    "cluster-admin bound",
    "bind a role with only the permissions needed",
    [(CIS_K8S, "5.1.1"), (NSA, "authz:rbac"), (NIST, "4.3.1")]
);
check!(
    DEFAULT_SA_BOUND,
    "k8s:rbac-default-sa",
    Medium,
    "Permissions granted to a default service account",
    "give the workload a service account of its own",
    [(CIS_K8S, "5.1.5"), (NSA, "authz:rbac")]
);
check!(
    ANONYMOUS_BOUND,
    "k8s:rbac-anonymous",
    Critical,
    "Permissions granted to anonymous users",
    "remove system:anonymous and system:unauthenticated from the binding",
    [(NSA, "authz:rbac"), (NIST, "4.3.2")]
);
check!(
    RBAC_WILDCARD,
    "k8s:rbac-wildcard",
    Medium,
    "Wildcard in a role",
    "list the API groups, resources and verbs the role needs",
    [(CIS_K8S, "5.1.3"), (NSA, "authz:rbac"), (NIST, "4.3.1")]
);
check!(
    RBAC_SECRETS,
    "k8s:rbac-secrets",
    Medium,
    "Role can read secrets",
    "grant get/list/watch on secrets only where needed",
    [(CIS_K8S, "5.1.2"), (NSA, "authz:rbac")]
);
check!(
    RBAC_CREATE_PODS,
    "k8s:rbac-create-pods",
    Medium,
    "Role can create pods",
    "grant create on pods only where needed",
    [(CIS_K8S, "5.1.4"), (NSA, "authz:rbac")]
);
check!(
    RBAC_ESCALATE,
    "k8s:rbac-escalate",
    High,
    "Role can escalate, bind or impersonate",
    "remove the escalate, bind and impersonate verbs",
    [(CIS_K8S, "5.1.8"), (NSA, "authz:rbac"), (NIST, "4.3.1")]
);
check!(
    SECRET_MANIFEST,
    "k8s:secret-manifest",
    Medium,
    "Secret values in a manifest",
    "keep secret values out of manifests (sealed or external secrets)",
    [(NIST, "4.1.4"), (CIS_K8S, "5.4.1")]
);

/// The CIS Kubernetes 1.9 items a Pod Security Standards check covers.
fn pss_cis(id: &str) -> &'static [&'static str] {
    match id {
        "privileged" => &["5.2.2"],
        "hostNamespaces" => &["5.2.3", "5.2.4", "5.2.5"],
        "allowPrivilegeEscalation" => &["5.2.6"],
        "runAsNonRoot" | "runAsUser" => &["5.2.7"],
        "capabilities_restricted" => &["5.2.8", "5.2.10"],
        "capabilities_baseline" => &["5.2.9"],
        "windowsHostProcess" => &["5.2.11"],
        "hostPathVolumes" => &["5.2.12"],
        "hostPorts" => &["5.2.13"],
        "seccompProfile_baseline" | "seccompProfile_restricted" => &["5.7.2"],
        _ => &["5.7.3"],
    }
}

/// The check (with its controls) for a Pod Security Standards check.
pub fn pss_check(c: &PssCheck) -> Check {
    let level = c.level.as_str();
    // Baseline closes known privilege escalations; restricted is hardening beyond it.
    let severity = if c.level == Level::Baseline { Severity::High } else { Severity::Medium };
    let r = |s: &str, c: &str| ControlRef { standard: s.into(), control: c.into() };
    let mut controls = vec![r(PSS, &format!("{level}:{}", c.id))];
    controls.extend(pss_cis(c.id).iter().map(|x| r(CIS_K8S, x)));
    controls.push(r(NIST, "4.4.3"));
    controls
        .push(r(NSA, if c.level == Level::Baseline { "pod-security:enforcement" } else { "pod-security:non-root" }));
    Check { id: format!("pss:{level}:{}", c.id), title: c.title, severity, fix: c.fix, controls }
}

/// The Pod Security Standards checks, built once.
pub static PSS_CHECKS: std::sync::LazyLock<Vec<Check>> =
    std::sync::LazyLock::new(|| crate::pss::CHECKS.iter().map(pss_check).collect());

/// The built check for a Pod Security Standards check id.
pub fn pss(id: &str) -> Option<&'static Check> {
    let i = crate::pss::CHECKS.iter().position(|c| c.id == id)?;
    PSS_CHECKS.get(i)
}

/// Every check kestrel knows for Kubernetes, for documentation and `kestrel config --list`.
pub fn all_kubernetes() -> Vec<Check> {
    let mut v: Vec<Check> = PSS_CHECKS.clone();
    for c in [
        &READ_ONLY_ROOT,
        &LIMITS,
        &IMAGE_LATEST,
        &IMAGE_DIGEST,
        &SECRET_ENV,
        &SYS_ADMIN,
        &SA_TOKEN,
        &DEFAULT_NAMESPACE,
        &RUNTIME_SOCKET,
        &CLUSTER_ADMIN,
        &DEFAULT_SA_BOUND,
        &ANONYMOUS_BOUND,
        &RBAC_WILDCARD,
        &RBAC_SECRETS,
        &RBAC_CREATE_PODS,
        &RBAC_ESCALATE,
        &SECRET_MANIFEST,
    ] {
        v.push(Check::clone(c));
    }
    v
}
