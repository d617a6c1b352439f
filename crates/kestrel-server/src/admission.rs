//! `kestrel admission`: a Kubernetes validating admission webhook. The API server sends an `AdmissionReview`
//! for each pod (or workload with a pod template) being created or updated; kestrel answers allowed, denied
//! with the reasons, or allowed with warnings, by the policy:
//!
//! ```yaml
//! mode: deny                    # deny | warn: what breaking the policy does
//! pod_security: baseline        # privileged (no check) | baseline | restricted
//! exempt_namespaces: [kube-system]
//! registries:
//!   allowed: [registry.corp.example/]   # when given, images from elsewhere break the policy
//!   forbidden: [docker.io/]
//! vulnerabilities:              # the image's latest scan report on the kestrel server
//!   server: http://kestrel.kestrel.svc:8470
//!   token_file: /var/run/secrets/kestrel/token   # role viewer; or KESTREL_TOKEN
//!   max_severity: critical      # a vulnerability this severe or worse breaks the policy
//!   fixable_only: false         # count only vulnerabilities with a fixed version
//!   unscanned: warn             # allow | warn | deny an image the server has no report of
//!   on_error: allow             # allow | deny when the server cannot be asked
//!   cache_seconds: 60
//! ```
//!
//! Pod Security checks are kestrel-config's (every check of the standard, upstream's ids); image references
//! are normalised as Docker does (`nginx` is `docker.io/library/nginx:latest`). The webhook serves HTTPS only
//! ([`serve_tls`]); the deployment manifest with its `ValidatingWebhookConfiguration` is in `deploy/`.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kestrel_core::Severity;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::DynamicObject;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What breaking the policy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The request is refused.
    #[default]
    Deny,
    /// Allowed, with a warning the client shows (`kubectl` prints it).
    Warn,
}

/// A Pod Security Standards level to hold pods to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurity {
    /// No check.
    Privileged,
    /// Known privilege escalations refused.
    #[default]
    Baseline,
    /// Hardened.
    Restricted,
}

/// What to do in a case the policy cannot decide on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fallback {
    /// Let it through silently.
    Allow,
    /// Let it through with a warning.
    Warn,
    /// Refuse it (in warn mode: warn).
    Deny,
}

/// Registries images may (or may not) come from: prefixes of the normalised reference (`docker.io/library/`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registries {
    /// When not empty, every image must start with one of these.
    #[serde(default)]
    pub allowed: Vec<String>,
    /// No image may start with one of these.
    #[serde(default)]
    pub forbidden: Vec<String>,
}

/// The vulnerability gate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vulnerabilities {
    /// The kestrel server holding the scan reports.
    pub server: String,
    /// A file holding the token (role viewer); else `KESTREL_TOKEN`.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// The CA (PEM) that signed an https:// server's certificate, when the Web PKI did not.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// A vulnerability this severe or worse breaks the policy.
    #[serde(default = "default_severity")]
    pub max_severity: Severity,
    /// Count only vulnerabilities with a fixed version.
    #[serde(default)]
    pub fixable_only: bool,
    /// An image the server has no report of.
    #[serde(default = "default_unscanned")]
    pub unscanned: Fallback,
    /// When the server cannot be asked.
    #[serde(default = "default_on_error")]
    pub on_error: Fallback,
    /// How long an answer is kept.
    #[serde(default = "default_cache")]
    pub cache_seconds: u64,
}

fn default_severity() -> Severity {
    Severity::Critical
}
fn default_unscanned() -> Fallback {
    Fallback::Warn
}
fn default_on_error() -> Fallback {
    Fallback::Allow
}
fn default_cache() -> u64 {
    60
}

/// The admission policy (YAML).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Deny or warn.
    #[serde(default)]
    pub mode: Mode,
    /// The Pod Security level.
    #[serde(default)]
    pub pod_security: PodSecurity,
    /// Namespaces left alone.
    #[serde(default)]
    pub exempt_namespaces: Vec<String>,
    /// Registries.
    #[serde(default)]
    pub registries: Registries,
    /// The vulnerability gate.
    #[serde(default)]
    pub vulnerabilities: Option<Vulnerabilities>,
}

impl Policy {
    /// From YAML; `what` names it in errors.
    pub fn parse(what: &str, text: &str) -> Result<Policy, String> {
        let p: Policy = serde_yaml::from_str(text).map_err(|e| format!("{what}: {e}"))?;
        if let Some(v) = &p.vulnerabilities {
            if !(v.server.starts_with("http://") || v.server.starts_with("https://")) {
                return Err(format!("{what}: vulnerabilities.server: an http:// or https:// URL, not {:?}", v.server));
            }
        }
        Ok(p)
    }
}

/// A container image reference, normalised as Docker does: `nginx` → `docker.io/library/nginx:latest`.
pub fn normalise(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let first = name.split('/').next().unwrap_or("");
    let has_registry = name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut full = if has_registry {
        name.to_string()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    let last = full.rsplit('/').next().unwrap_or("");
    if !last.contains(':') && digest.is_none() {
        full.push_str(":latest");
    }
    if let Some(d) = digest {
        full = format!("{full}@{d}");
    }
    full
}

/// What the server's latest report of an image says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageVulns {
    /// A report was found.
    Found {
        /// Its id on the server.
        report: String,
        /// The vulnerabilities over the policy's bar (`CVE-… in PACKAGE`).
        over: Vec<String>,
    },
    /// No report of this image.
    Unscanned,
}

/// An answer and when it was had.
type Cached = (Instant, Result<ImageVulns, String>);

/// Asks the kestrel server, with a cache.
struct Lookup {
    cfg: Vulnerabilities,
    token: String,
    agent: ureq::Agent,
    cache: Mutex<HashMap<String, Cached>>,
}

impl Lookup {
    fn new(cfg: Vulnerabilities) -> Result<Lookup, String> {
        let token = match &cfg.token_file {
            Some(p) => std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?.trim().to_string(),
            None => std::env::var("KESTREL_TOKEN").map_err(|_| {
                "vulnerabilities: a token is needed (token_file, or KESTREL_TOKEN in the environment)".to_string()
            })?,
        };
        let tls =
            crate::ship::tls(cfg.ca_file.as_deref(), None).map_err(|e| format!("vulnerabilities.ca_file: {e}"))?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(3)))
            .tls_config(tls)
            .build()
            .into();
        Ok(Lookup { cfg, token, agent, cache: Mutex::new(HashMap::new()) })
    }

    fn get(&self, path: &str) -> Result<Value, String> {
        let url = format!("{}{path}", self.cfg.server.trim_end_matches('/'));
        let mut r = self
            .agent
            .get(&url)
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .map_err(|e| format!("{url}: {e}"))?;
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().map_err(|e| format!("{url}: {e}"))?;
        if status != 200 {
            return Err(format!("{url}: {status}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{url}: {e}"))
    }

    /// The latest image report of the image: by its digest when the reference pins one (the image that runs, whatever
    /// tag it was scanned under), then under any of the image's names; judged against the bar.
    fn ask(&self, image: &str) -> Result<ImageVulns, String> {
        let full = normalise(image);
        let short = full.strip_prefix("docker.io/library/").or_else(|| full.strip_prefix("docker.io/"));
        let pinned = image.rsplit_once('@').map(|(_, d)| d).filter(|d| kestrel_core::sha256_hex(d).is_some());
        let mut queries: Vec<String> = pinned.map(|d| format!("digest={d}")).into_iter().collect();
        let mut names = vec![image.to_string(), full.clone()];
        names.extend(short.map(str::to_string));
        names.dedup();
        queries.extend(names.iter().map(|n| format!("subject={}", percent(n))));
        for query in queries {
            let q = format!("/api/v1/reports?kind=image&limit=1&{query}");
            let list = self.get(&q)?;
            let Some(id) = list["items"][0]["id"].as_str() else { continue };
            let report = self.get(&format!("/api/v1/reports/{id}"))?;
            let mut over = Vec::new();
            for f in report["findings"].as_array().into_iter().flatten() {
                let sev = f["severity"].as_str().and_then(|s| serde_json::from_value(Value::from(s)).ok());
                let fixable = f["fixed_version"].is_string();
                if sev.is_some_and(|s: Severity| s >= self.cfg.max_severity) && (fixable || !self.cfg.fixable_only) {
                    let pkg = f["package"].as_str().unwrap_or("");
                    over.push(format!("{} in {pkg}", f["id"].as_str().unwrap_or("?")));
                }
            }
            over.sort();
            over.dedup();
            return Ok(ImageVulns::Found { report: id.to_string(), over });
        }
        Ok(ImageVulns::Unscanned)
    }

    fn check(&self, image: &str) -> Result<ImageVulns, String> {
        let ttl = Duration::from_secs(self.cfg.cache_seconds);
        if let Some((at, v)) = self.cache.lock().unwrap().get(image) {
            if at.elapsed() < ttl {
                return v.clone();
            }
        }
        let v = self.ask(image);
        let mut cache = self.cache.lock().unwrap();
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(image.to_string(), (Instant::now(), v.clone()));
        v
    }
}

fn percent(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The webhook: a policy and what it needs to ask.
pub struct Admission {
    policy: Policy,
    lookup: Option<Lookup>,
}

/// The verdict on one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// What breaks the policy.
    pub violations: Vec<String>,
    /// What is worth saying but breaks nothing.
    pub warnings: Vec<String>,
}

impl Admission {
    /// A webhook for `policy` (reads the vulnerability gate's token now).
    pub fn new(policy: Policy) -> Result<Admission, String> {
        let lookup = policy.vulnerabilities.clone().map(Lookup::new).transpose()?;
        Ok(Admission { policy, lookup })
    }

    /// Judges one object (a pod, or a workload with a pod template).
    pub fn judge(&self, object: &Value) -> Verdict {
        let mut v = Verdict::default();
        let Some(t) = kestrel_config::k8s::pod_template("", object) else { return v };
        // Pod Security: the standard's checks on the object as it was sent.
        let level = match self.policy.pod_security {
            PodSecurity::Privileged => None,
            PodSecurity::Baseline => Some(&["pss:baseline:"][..]),
            PodSecurity::Restricted => Some(&["pss:baseline:", "pss:restricted:"][..]),
        };
        if let Some(prefixes) = level {
            let text = object.to_string();
            match kestrel_config::scan_text("admission", &text) {
                Ok(findings) => {
                    for f in findings.iter().filter(|f| prefixes.iter().any(|p| f.id.starts_with(p))) {
                        v.violations.push(format!("Pod Security {}: {} ({})", f.id, f.title, f.field));
                    }
                }
                Err(e) => v.violations.push(format!("the object could not be checked: {e}")),
            }
        }
        // Images.
        let mut images: Vec<String> = Vec::new();
        for key in ["initContainers", "containers", "ephemeralContainers"] {
            for c in t.spec[key].as_array().into_iter().flatten() {
                if let Some(i) = c["image"].as_str() {
                    if !images.iter().any(|x| x == i) {
                        images.push(i.to_string());
                    }
                }
            }
        }
        let r = &self.policy.registries;
        for image in &images {
            let full = normalise(image);
            if !r.allowed.is_empty() && !r.allowed.iter().any(|p| full.starts_with(p.as_str())) {
                v.violations.push(format!("image {image} ({full}) is not from an allowed registry"));
            }
            if let Some(p) = r.forbidden.iter().find(|p| full.starts_with(p.as_str())) {
                v.violations.push(format!("image {image} ({full}) is from a forbidden registry ({p})"));
            }
            let Some(lookup) = &self.lookup else { continue };
            let fallback = |v: &mut Verdict, what: Fallback, msg: String| match what {
                Fallback::Allow => {}
                Fallback::Warn => v.warnings.push(msg),
                Fallback::Deny => v.violations.push(msg),
            };
            match lookup.check(image) {
                Ok(ImageVulns::Found { over, report }) if !over.is_empty() => {
                    let more = if over.len() > 5 { format!(" and {} more", over.len() - 5) } else { String::new() };
                    v.violations.push(format!(
                        "image {image} has {} {} vulnerabilities or worse{} ({}{more}; report {})",
                        over.len(),
                        lookup.cfg.max_severity.as_str(),
                        if lookup.cfg.fixable_only { " with a fix" } else { "" },
                        over[..over.len().min(5)].join(", "),
                        &report[..report.len().min(12)]
                    ));
                }
                Ok(ImageVulns::Found { .. }) => {}
                Ok(ImageVulns::Unscanned) => fallback(
                    &mut v,
                    lookup.cfg.unscanned,
                    format!("image {image} was never scanned (no report on the kestrel server)"),
                ),
                Err(e) => {
                    tracing::warn!("vulnerability lookup of {image}: {e}");
                    fallback(
                        &mut v,
                        lookup.cfg.on_error,
                        format!("image {image}: the kestrel server could not be asked"),
                    )
                }
            }
        }
        v
    }

    /// Answers one review.
    pub fn review(&self, req: &AdmissionRequest<DynamicObject>) -> AdmissionResponse {
        let resp = AdmissionResponse::from(req);
        let ns = req.namespace.as_deref().unwrap_or("");
        if matches!(req.operation, Operation::Delete | Operation::Connect)
            || self.policy.exempt_namespaces.iter().any(|e| e == ns)
        {
            metrics::counter!("kestrel_admission_reviews_total", "result" => "skipped").increment(1);
            return resp;
        }
        let Some(obj) = req.object.as_ref().and_then(|o| serde_json::to_value(o).ok()) else {
            return resp;
        };
        let verdict = self.judge(&obj);
        let what = format!("{}/{}", req.kind.kind, if req.name.is_empty() { "(generated name)" } else { &req.name });
        let result = match (verdict.violations.is_empty(), self.policy.mode) {
            (true, _) if verdict.warnings.is_empty() => "allowed",
            (true, _) => "warned",
            (false, Mode::Warn) => "warned",
            (false, Mode::Deny) => "denied",
        };
        metrics::counter!("kestrel_admission_reviews_total", "result" => result).increment(1);
        if result != "allowed" {
            tracing::info!(namespace = ns, object = %what, result, violations = ?verdict.violations, warnings = ?verdict.warnings, "admission");
        }
        let mut warnings: Vec<String> = verdict.warnings.iter().map(|w| format!("kestrel: {w}")).collect();
        if self.policy.mode == Mode::Warn {
            warnings.extend(verdict.violations.iter().map(|w| format!("kestrel: {w}")));
        }
        let mut resp = if result == "denied" {
            resp.deny(format!("kestrel: {what} breaks the policy: {}", verdict.violations.join("; ")))
        } else {
            resp
        };
        if !warnings.is_empty() {
            resp.warnings = Some(warnings);
        }
        resp
    }
}

async fn validate(State(a): State<Arc<Admission>>, body: axum::body::Bytes) -> Response {
    let review: AdmissionReview<DynamicObject> = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({ "error": format!("not an AdmissionReview: {e}") })),
            )
                .into_response()
        }
    };
    let req: AdmissionRequest<DynamicObject> = match review.try_into() {
        Ok(r) => r,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": e.to_string() }))).into_response()
        }
    };
    // The lookup blocks (HTTP to the kestrel server, cached): off the async workers.
    let answer = tokio::task::spawn_blocking(move || a.review(&req).into_review()).await;
    match answer {
        Ok(r) => Json(r).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The webhook's routes: `POST /validate`, `/healthz`, `/metrics`.
pub fn app(a: Arc<Admission>) -> Router {
    let handle = crate::metrics_text::handle();
    Router::new()
        .route("/validate", post(validate))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(move || async move { handle.render() }))
        .layer(DefaultBodyLimit::max(8 << 20))
        .with_state(a)
}

/// Serves the webhook over HTTPS (PEM certificate chain and key) until `shutdown` completes.
pub async fn serve_tls(
    addr: std::net::SocketAddr,
    cert: &std::path::Path,
    key: &std::path::Path,
    a: Arc<Admission>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    crate::serve_router_tls(addr, app(a), cert, key, None, shutdown).await
}

/// Certificates for mutual TLS: a CA, a server certificate for `server_names`, and one client certificate per
/// name in `clients` (the node's name is its common name), all PEM.
pub struct Certificates {
    /// The CA's certificate.
    pub ca: String,
    /// The server's certificate and key.
    pub server: (String, String),
    /// Each client's name, certificate and key.
    pub clients: Vec<(String, String, String)>,
}

/// Makes [`Certificates`].
pub fn certificates(server_names: &[String], clients: &[String]) -> Result<Certificates, String> {
    let e = |e: rcgen::Error| e.to_string();
    let ca_key = rcgen::KeyPair::generate().map_err(e)?;
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "kestrel CA");
    let ca_cert = ca.self_signed(&ca_key).map_err(e)?;
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let leaf =
        |names: Vec<String>, cn: &str, usage: rcgen::ExtendedKeyUsagePurpose| -> Result<(String, String), String> {
            let key = rcgen::KeyPair::generate().map_err(e)?;
            let mut params = rcgen::CertificateParams::new(names).map_err(e)?;
            params.distinguished_name.push(rcgen::DnType::CommonName, cn);
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &issuer).map_err(e)?;
            Ok((cert.pem(), key.serialize_pem()))
        };
    let server = leaf(
        server_names.to_vec(),
        server_names.first().map(String::as_str).unwrap_or("kestrel"),
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    let mut out = Vec::new();
    for c in clients {
        let (cert, key) = leaf(vec![c.clone()], c, rcgen::ExtendedKeyUsagePurpose::ClientAuth)?;
        out.push((c.clone(), cert, key));
    }
    Ok(Certificates { ca: ca_cert.pem(), server, clients: out })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_are_normalised_as_docker_does() {
        assert_eq!(normalise("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(normalise("nginx:1.25"), "docker.io/library/nginx:1.25");
        assert_eq!(normalise("bitnami/redis"), "docker.io/bitnami/redis:latest");
        assert_eq!(normalise("ghcr.io/org/app:2"), "ghcr.io/org/app:2");
        assert_eq!(normalise("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(normalise("localhost/app:1"), "localhost/app:1");
        assert_eq!(normalise("quay.io/a/b@sha256:ab"), "quay.io/a/b@sha256:ab");
        assert_eq!(normalise("redis:7@sha256:ab"), "docker.io/library/redis:7@sha256:ab");
    }

    fn pod(image: &str, privileged: bool) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
            "spec": {"containers": [{"name": "c", "image": image, "securityContext": {"privileged": privileged}}]}})
    }

    #[test]
    fn pod_security_and_registries_are_judged() {
        let policy = Policy::parse(
            "p.yaml",
            "pod_security: baseline\nregistries:\n  allowed: [registry.corp/]\n  forbidden: [registry.corp/untrusted/]\n",
        )
        .unwrap();
        let a = Admission::new(policy).unwrap();
        assert_eq!(a.judge(&pod("registry.corp/app:1", false)), Verdict::default());
        let v = a.judge(&pod("nginx", true));
        assert_eq!(v.violations.len(), 2, "{v:?}");
        assert!(v.violations[0].contains("pss:baseline:privileged"), "{v:?}");
        assert!(v.violations[1].contains("docker.io/library/nginx:latest") && v.violations[1].contains("allowed"));
        assert!(a.judge(&pod("registry.corp/untrusted/x", false)).violations[0].contains("forbidden"));
        // A Deployment's template is judged the same; an object without a pod is not judged.
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": pod("registry.corp/app:1", true)["spec"]}}});
        assert_eq!(a.judge(&deploy).violations.len(), 1);
        assert_eq!(a.judge(&json!({"apiVersion": "v1", "kind": "ConfigMap"})), Verdict::default());
        // Restricted holds more.
        let strict = Admission::new(Policy::parse("p", "pod_security: restricted").unwrap()).unwrap();
        assert!(strict.judge(&pod("registry.corp/app:1", false)).violations.iter().any(|v| v.contains("runAsNonRoot")));
        let open = Admission::new(Policy::parse("p", "pod_security: privileged").unwrap()).unwrap();
        assert_eq!(open.judge(&pod("nginx", true)), Verdict::default());
    }

    fn request(obj: Value, ns: &str, op: &str) -> AdmissionRequest<DynamicObject> {
        let review: AdmissionReview<DynamicObject> = serde_json::from_value(json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"}, "name": "p", "namespace": ns,
                "operation": op, "userInfo": {"username": "alice"}, "object": obj, "dryRun": false}}))
        .unwrap();
        review.try_into().unwrap()
    }

    #[test]
    fn deny_mode_refuses_warn_mode_warns_and_exemptions_hold() {
        let deny = Admission::new(Policy::parse("p", "exempt_namespaces: [kube-system]").unwrap()).unwrap();
        let r = deny.review(&request(pod("nginx", true), "shop", "CREATE"));
        assert!(!r.allowed && r.result.message.contains("pss:baseline:privileged"), "{r:?}");
        assert!(deny.review(&request(pod("nginx", false), "shop", "CREATE")).allowed);
        assert!(deny.review(&request(pod("nginx", true), "kube-system", "CREATE")).allowed, "exempt");
        assert!(deny.review(&request(pod("nginx", true), "shop", "DELETE")).allowed, "deletes are not judged");
        let warn = Admission::new(Policy::parse("p", "mode: warn").unwrap()).unwrap();
        let r = warn.review(&request(pod("nginx", true), "shop", "UPDATE"));
        assert!(r.allowed, "{r:?}");
        assert!(r.warnings.unwrap().iter().any(|w| w.contains("pss:baseline:privileged")));
    }

    #[test]
    fn bad_policies_are_named() {
        let e = Policy::parse("admission.yaml", "mode: maybe").unwrap_err();
        assert!(e.contains("admission.yaml") && e.contains("maybe"), "{e}");
        let e = Policy::parse("admission.yaml", "vulnerabilities: {server: kestrel:8470}").unwrap_err();
        assert!(e.contains("http://"), "{e}");
        let e = Policy::parse("admission.yaml", "pod_secrity: baseline").unwrap_err();
        assert!(e.contains("pod_secrity"), "{e}");
    }
}
