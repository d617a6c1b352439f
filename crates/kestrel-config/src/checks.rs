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

/// Whether a variable's name says it holds a secret (`DB_PASSWORD`, `API_TOKEN`) — and not a path to one
/// (`TOKEN_FILE`, `PASSWORD_PATH`, the convention for secrets mounted as files).
pub fn secret_name(name: &str) -> bool {
    const WORDS: &[&str] =
        &["PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "ACCESS_KEY", "CREDENTIAL"];
    let up = name.to_ascii_uppercase();
    WORDS.iter().any(|w| up.contains(w)) && !["_FILE", "_PATH", "_DIR"].iter().any(|s| up.ends_with(s))
}

/// Where a finding is: the file, the resource in it, the line and the field.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    /// The file.
    pub file: &'a str,
    /// The resource (`Deployment shop/web`, `stage build`).
    pub resource: &'a str,
    /// The line, when known.
    pub line: Option<usize>,
    /// The field (`spec.containers[0].image`, `USER`).
    pub field: &'a str,
}

impl Check {
    /// A finding of this check at a place, saying what was found.
    pub fn finding(&self, at: At<'_>, message: String) -> kestrel_core::ConfigFinding {
        kestrel_core::ConfigFinding {
            id: self.id.clone(),
            title: self.title.into(),
            severity: self.severity,
            file: at.file.into(),
            resource: at.resource.into(),
            line: at.line,
            field: at.field.into(),
            message,
            fix: self.fix.into(),
            controls: self.controls.clone(),
        }
    }
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
    [(NSA, "pod-security:immutable-fs"), (NIST, "4.4.4"), (CIS_K8S, "5.7.3"), (CIS_DOCKER, "5.13")]
);
check!(
    LIMITS,
    "k8s:resource-limits",
    Low,
    "No resource limit",
    "set resources.limits.cpu and resources.limits.memory",
    [(NSA, "network:resource-policies"), (NIST, "4.4.3"), (CIS_DOCKER, "5.11"), (CIS_DOCKER, "5.12")]
);
check!(
    IMAGE_LATEST,
    "k8s:image-moving-tag",
    Medium,
    "Image by a moving tag",
    "name the image by a version tag, better by digest (image@sha256:…)",
    [(NIST, "4.2.2"), (NIST, "4.1.5")]
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
    [(CIS_K8S, "5.2.9"), (NIST, "4.4.3"), (CIS_DOCKER, "5.4")]
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
    [(CIS_K8S, "5.2.12"), (NIST, "4.4.3"), (CIS_DOCKER, "5.32")]
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

check!(
    SECRET_ENV_REF,
    "k8s:secret-env-ref",
    Low,
    "Secret passed as an environment variable",
    "mount the Secret as a file (environment variables leak into logs, crash dumps and child processes)",
    [(CIS_K8S, "5.4.1")]
);
check!(
    NO_NETWORK_POLICY,
    "k8s:no-network-policy",
    Low,
    "No NetworkPolicy for the workload's namespace",
    "add a NetworkPolicy (a default deny, then what the workload needs) to its namespace",
    [(CIS_K8S, "5.3.2"), (NSA, "network:policies"), (NIST, "4.4.2"), (NIST, "4.3.3")]
);
check!(
    REQUESTS,
    "k8s:resource-requests",
    Low,
    "No resource request",
    "set resources.requests.cpu and resources.requests.memory (a container with a limit but no request gets the limit as its request)",
    [(NSA, "network:resource-policies")]
);

/// CIS Docker Benchmark v1.6.0.
pub const CIS_DOCKER: &str = "cis-docker-1.6";
/// PCI DSS v4.0.
pub const PCI: &str = "pci-dss-4.0";
/// HIPAA Security Rule.
pub const HIPAA: &str = "hipaa";

check!(
    VULN_FIXABLE,
    "vuln:fixable",
    High,
    "Known vulnerability with a fix",
    "update the package to the fixed version and rebuild the image",
    [(NIST, "4.1.1"), (CIS_DOCKER, "4.4"), (NSA, "upgrades:patching"), (PCI, "6.3.3")]
);
check!(
    VULN_MALICIOUS,
    "vuln:malicious",
    Critical,
    "Malicious package",
    "remove the package and find how it got in",
    [(NIST, "4.1.3"), (HIPAA, "164.308(a)(5)(ii)(B)")]
);
check!(
    VULN_EOL,
    "vuln:end-of-life",
    High,
    "Operating system past its end of life",
    "rebuild on a supported release",
    [(NIST, "4.1.1"), (PCI, "6.3.3")]
);

check!(
    DF_USER,
    "dockerfile:user-root",
    High,
    "Image runs as root",
    "add a USER instruction with a non-root user to the final stage",
    [(CIS_DOCKER, "4.1"), (NIST, "4.1.2")]
);
check!(
    DF_FROM_LATEST,
    "dockerfile:base-moving-tag",
    Medium,
    "Base image by a moving tag",
    "name the base image by a version tag, better by digest",
    [(CIS_DOCKER, "4.2"), (NIST, "4.1.5")]
);
check!(
    DF_RECOMMENDS,
    "dockerfile:apt-recommends",
    Low,
    "Unneeded packages installed",
    "use apt-get install --no-install-recommends",
    [(CIS_DOCKER, "4.3")]
);
check!(
    DF_HEALTHCHECK,
    "dockerfile:no-healthcheck",
    Low,
    "No HEALTHCHECK",
    "add a HEALTHCHECK instruction to the final stage",
    [(CIS_DOCKER, "4.6")]
);
check!(
    DF_UPDATE_ALONE,
    "dockerfile:update-alone",
    Low,
    "Package index updated alone",
    "update and install in the same RUN (apt-get update && apt-get install …)",
    [(CIS_DOCKER, "4.7")]
);
check!(
    DF_SETUID,
    "dockerfile:setuid",
    Medium,
    "setuid or setgid bit set",
    "do not set setuid/setgid bits; remove them (chmod a-s) from files that do not need them",
    [(CIS_DOCKER, "4.8"), (NIST, "4.1.2")]
);
check!(
    DF_ADD,
    "dockerfile:add-instead-of-copy",
    Low,
    "ADD used to copy local files",
    "use COPY (ADD also fetches URLs and unpacks archives)",
    [(CIS_DOCKER, "4.9")]
);
check!(
    DF_ADD_URL,
    "dockerfile:add-url",
    Medium,
    "ADD of a remote URL",
    "download with a checksum check in RUN, or use ADD --checksum=sha256:…",
    [(CIS_DOCKER, "4.9"), (CIS_DOCKER, "4.11"), (NIST, "4.1.5")]
);
check!(
    DF_SECRET,
    "dockerfile:secret-in-env",
    Critical,
    "Secret in ENV or ARG",
    "pass secrets with RUN --mount=type=secret; never bake them into ENV or ARG",
    [(CIS_DOCKER, "4.10"), (NIST, "4.1.4")]
);
check!(
    DF_SECRET_ARG,
    "dockerfile:secret-build-arg",
    High,
    "Secret passed as a build argument",
    "mount the secret for the step that needs it (RUN --mount=type=secret,id=…) instead of ARG",
    [(CIS_DOCKER, "4.10"), (NIST, "4.1.4")]
);
check!(
    DF_CURL_PIPE,
    "dockerfile:curl-pipe-shell",
    High,
    "Download piped into a shell",
    "download to a file, verify its checksum or signature, then run it",
    [(CIS_DOCKER, "4.11"), (NIST, "4.1.3")]
);
check!(
    DF_UNVERIFIED,
    "dockerfile:unverified-packages",
    High,
    "Packages installed without verification",
    "remove --allow-unauthenticated, --force-yes, --nogpgcheck, --trusted-host, curl -k and the like",
    [(CIS_DOCKER, "4.11"), (NIST, "4.1.5")]
);
check!(
    DF_SUDO,
    "dockerfile:sudo",
    Low,
    "sudo in a build step",
    "build steps run as root already; switch users with USER",
    [(CIS_DOCKER, "4.1")]
);
check!(
    DF_WORLD_WRITABLE,
    "dockerfile:world-writable",
    Medium,
    "World-writable files",
    "give files to the user that needs them (chown) instead of chmod 777",
    [(NIST, "4.1.2")]
);
check!(
    DF_SSH,
    "dockerfile:ssh",
    Medium,
    "ssh server in the image",
    "do not run sshd in a container; use kubectl exec or docker exec",
    [(CIS_DOCKER, "5.7"), (NIST, "4.1.2")]
);
check!(
    DF_INSECURE_BUILD,
    "dockerfile:insecure-build",
    High,
    "Build step without the sandbox",
    "remove RUN --security=insecure",
    [(NIST, "4.1.2")]
);

check!(
    IMG_USER,
    "image:user-root",
    High,
    "Image runs as root",
    "set a non-root USER in the image",
    [(CIS_DOCKER, "4.1"), (NIST, "4.1.2")]
);
check!(
    IMG_HEALTHCHECK,
    "image:no-healthcheck",
    Low,
    "No health check",
    "add a HEALTHCHECK to the image",
    [(CIS_DOCKER, "4.6")]
);
check!(
    IMG_SSH,
    "image:ssh-port",
    Medium,
    "ssh port exposed",
    "do not run sshd in a container",
    [(CIS_DOCKER, "5.7"), (NIST, "4.1.2")]
);
check!(
    IMG_SECRET_ENV,
    "image:secret-in-env",
    Critical,
    "Secret in the image's environment",
    "pass secrets at run time (mounted files), never in the image's Env",
    [(CIS_DOCKER, "4.10"), (NIST, "4.1.4")]
);
check!(
    IMG_SECRET_HISTORY,
    "image:secret-in-history",
    Critical,
    "Secret build argument kept in the image history",
    "use RUN --mount=type=secret; ARG values are recorded in the image",
    [(CIS_DOCKER, "4.10"), (NIST, "4.1.4")]
);
check!(
    IMG_VOLUME,
    "image:sensitive-volume",
    Medium,
    "Sensitive path declared a volume",
    "do not declare system directories or the runtime socket as volumes",
    [(NIST, "4.4.3")]
);

check!(
    DD_ICC,
    "docker-daemon:icc",
    Medium,
    "Inter-container traffic on the default bridge",
    "set \"icc\": false",
    [(CIS_DOCKER, "2.2")]
);
check!(
    DD_INSECURE_REGISTRY,
    "docker-daemon:insecure-registry",
    High,
    "Insecure registry",
    "remove insecure-registries; give the registry a TLS certificate",
    [(CIS_DOCKER, "2.5"), (NIST, "4.2.1")]
);
check!(
    DD_TCP_TLS,
    "docker-daemon:tcp-without-tls",
    Critical,
    "Daemon API on TCP without TLS",
    "set tlsverify with tlscacert, tlscert and tlskey, or listen on the unix socket only",
    [(CIS_DOCKER, "2.7"), (NIST, "4.3.1")]
);
check!(
    DD_USERNS,
    "docker-daemon:userns-remap",
    Medium,
    "No user-namespace remapping",
    "set \"userns-remap\": \"default\"",
    [(CIS_DOCKER, "2.9"), (NIST, "4.4.3")]
);
check!(
    DD_NNP,
    "docker-daemon:no-new-privileges",
    Medium,
    "Containers may gain new privileges",
    "set \"no-new-privileges\": true",
    [(CIS_DOCKER, "2.14"), (NIST, "4.4.3")]
);
check!(
    DD_LIVE_RESTORE,
    "docker-daemon:live-restore",
    Low,
    "Live restore off",
    "set \"live-restore\": true",
    [(CIS_DOCKER, "2.15")]
);
check!(
    DD_USERLAND_PROXY,
    "docker-daemon:userland-proxy",
    Low,
    "Userland proxy on",
    "set \"userland-proxy\": false",
    [(CIS_DOCKER, "2.16")]
);
check!(
    DD_SECCOMP,
    "docker-daemon:seccomp-unconfined",
    High,
    "Seccomp off daemon-wide",
    "remove \"seccomp-profile\": \"unconfined\"",
    [(CIS_DOCKER, "2.17"), (NIST, "4.4.3")]
);
check!(
    DD_EXPERIMENTAL,
    "docker-daemon:experimental",
    Low,
    "Experimental features on",
    "set \"experimental\": false in production",
    [(CIS_DOCKER, "2.18")]
);
check!(
    DD_LOG_LEVEL,
    "docker-daemon:log-level",
    Low,
    "Debug logging",
    "set \"log-level\": \"info\"",
    [(CIS_DOCKER, "2.3")]
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

/// The CIS Docker 1.6 §5 items (container runtime) a Pod Security Standards check covers: a pod spec is the
/// runtime configuration of its containers.
fn pss_cis_docker(id: &str) -> &'static [&'static str] {
    match id {
        "privileged" => &["5.5"],
        "hostNamespaces" => &["5.10", "5.16", "5.17"],
        "capabilities_baseline" | "capabilities_restricted" => &["5.4"],
        "hostPathVolumes" => &["5.6"],
        "hostPorts" => &["5.9"],
        "appArmorProfile" => &["5.2"],
        "seLinuxOptions" => &["5.3"],
        "seccompProfile_baseline" | "seccompProfile_restricted" => &["5.22"],
        "allowPrivilegeEscalation" => &["5.26"],
        "runAsNonRoot" | "runAsUser" => &["4.1"],
        _ => &[],
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
    controls.extend(pss_cis_docker(c.id).iter().map(|x| r(CIS_DOCKER, x)));
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
        &REQUESTS,
        &SECRET_ENV_REF,
        &NO_NETWORK_POLICY,
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

/// Every Dockerfile check.
pub fn all_dockerfile() -> Vec<Check> {
    [
        &DF_USER,
        &DF_FROM_LATEST,
        &DF_RECOMMENDS,
        &DF_HEALTHCHECK,
        &DF_UPDATE_ALONE,
        &DF_SETUID,
        &DF_ADD,
        &DF_ADD_URL,
        &DF_SECRET,
        &DF_SECRET_ARG,
        &DF_CURL_PIPE,
        &DF_UNVERIFIED,
        &DF_SUDO,
        &DF_WORLD_WRITABLE,
        &DF_SSH,
        &DF_INSECURE_BUILD,
    ]
    .into_iter()
    .map(|c| Check::clone(c))
    .collect()
}

/// Every image-configuration and Docker daemon check.
pub fn all_image_and_daemon() -> Vec<Check> {
    [
        &IMG_USER,
        &IMG_HEALTHCHECK,
        &IMG_SSH,
        &IMG_SECRET_ENV,
        &IMG_SECRET_HISTORY,
        &IMG_VOLUME,
        &DD_ICC,
        &DD_INSECURE_REGISTRY,
        &DD_TCP_TLS,
        &DD_USERNS,
        &DD_NNP,
        &DD_LIVE_RESTORE,
        &DD_USERLAND_PROXY,
        &DD_SECCOMP,
        &DD_EXPERIMENTAL,
        &DD_LOG_LEVEL,
    ]
    .into_iter()
    .map(|c| Check::clone(c))
    .collect()
}

/// The vulnerability "checks": what a `kestrel image` report says, as findings compliance can hold against
/// controls.
pub fn all_vulnerability() -> Vec<Check> {
    [&VULN_FIXABLE, &VULN_MALICIOUS, &VULN_EOL].into_iter().map(|c| Check::clone(c)).collect()
}

/// Every check of the catalogue.
pub fn everything() -> Vec<Check> {
    let mut v = all_kubernetes();
    v.extend(all_dockerfile());
    v.extend(all_image_and_daemon());
    v.extend(all_vulnerability());
    v
}

/// The findings of an image scan report (`kestrel image -f json`) as compliance sees them: fixable high and
/// critical vulnerabilities, malicious packages, an end-of-life OS.
pub fn vulnerability_findings(file: &str, report: &kestrel_core::Report) -> Vec<kestrel_core::ConfigFinding> {
    use kestrel_core::{Finding, FixState};
    let target = report.sbom.target.name.clone();
    let at = At { file, resource: &target, line: None, field: "" };
    let f = |check: &Check, message: String| check.finding(at, message);
    let mut out = Vec::new();
    for x in &report.findings {
        match x {
            Finding::Vulnerability(v) if v.state == FixState::Fixed && v.severity >= Severity::High => out.push(f(
                &VULN_FIXABLE,
                format!(
                    "{} {} has {} ({}), fixed in {}",
                    v.package,
                    v.version,
                    v.id,
                    v.severity,
                    v.fixed_version.as_deref().unwrap_or("?")
                ),
            )),
            Finding::MaliciousPackage(v) => {
                out.push(f(&VULN_MALICIOUS, format!("{} {} is {}", v.package, v.version, v.id)))
            }
            Finding::EndOfLife(e) => {
                out.push(f(&VULN_EOL, format!("{} reached its end of life on {}", e.name, e.eol_date)))
            }
            _ => {}
        }
    }
    out
}
