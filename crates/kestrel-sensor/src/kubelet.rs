//! Pods from the node's kubelet: their names, namespaces and labels, and each container's image (its name and the
//! digest it was pulled by), for containers the cgroup path and the runtime's state tie to a pod uid.
//!
//! The kubelet answers `GET /pods` (port 10250, a bearer token of a service account allowed `nodes/proxy`
//! or `nodes/pods`; its serving certificate is often self-signed) with the `PodList` of the pods it runs. A
//! thread of its own asks every `every` (and soon after the resolver meets a pod uid it does not know yet),
//! so that no event ever waits on the network: a container seen before its pod is known gets the labels on
//! its next events. Optional: without `--kubelet` nothing is asked, and when the kubelet cannot be reached
//! the sensor goes on with what the cgroup path and the runtime's annotations tell.

use k8s_openapi::api::core::v1::Pod;
use kestrel_core::ContainerRef;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The largest `/pods` answer read (a node's few hundred pods are a few MiB).
const MAX_BODY: u64 = 64 << 20;

/// Most pods remembered.
const MAX_PODS: usize = 4096;

/// Where the kubelet is and how to speak to it.
#[derive(Debug, Clone)]
pub struct KubeletConfig {
    /// Base URL, e.g. `https://127.0.0.1:10250` (`/pods` is appended).
    pub url: String,
    /// A file holding the bearer token (re-read at every request: projected tokens rotate).
    pub token_file: Option<PathBuf>,
    /// PEM file of the CA that signed the kubelet's serving certificate.
    pub ca_file: Option<PathBuf>,
    /// Accept any kubelet certificate (kubelets often serve a self-signed one).
    pub insecure: bool,
    /// How often the pod list is asked for.
    pub every: Duration,
}

impl KubeletConfig {
    /// The usual in-cluster settings: the service account's token and the node's kubelet on `url`.
    pub fn in_cluster(url: String) -> KubeletConfig {
        let sa = PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount/token");
        KubeletConfig {
            url,
            token_file: sa.is_file().then_some(sa),
            ca_file: None,
            insecure: false,
            every: Duration::from_secs(10),
        }
    }
}

/// What the kubelet says of one pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodMeta {
    /// Pod name.
    pub name: String,
    /// Pod namespace.
    pub namespace: String,
    /// The pod's labels.
    pub labels: BTreeMap<String, String>,
    /// Each of its containers' image, by container id: its name (`status.containerStatuses[].image`) and the
    /// digest it was pulled by (`imageID`).
    pub images: HashMap<String, (String, Option<String>)>,
}

#[derive(Default)]
struct Shared {
    pods: RwLock<HashMap<String, PodMeta>>,
    /// Bumped whenever the pod list changed: the resolver re-describes containers it filled before.
    generation: AtomicU64,
    /// Set when a pod uid was met that is not known yet: the poller asks at once (at most once a second).
    wanted: Mutex<bool>,
    wake: Condvar,
}

/// The pods the kubelet reported last, kept up to date by a thread; cheap to clone.
#[derive(Clone)]
pub struct Pods {
    shared: Arc<Shared>,
}

impl Pods {
    /// Starts asking the kubelet; fails only on settings that can never work (an unreadable CA file).
    pub fn start(cfg: KubeletConfig) -> Result<Pods, String> {
        let agent = agent(&cfg)?;
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        std::thread::Builder::new()
            .name("kestrel-kubelet".into())
            .spawn(move || poll(cfg, agent, s))
            .map_err(|e| format!("cannot start the kubelet thread: {e}"))?;
        Ok(Pods { shared })
    }

    /// Changes each time a new pod list arrives.
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    /// Fills in the pod name, namespace and labels (labels the container already has win) of a container
    /// whose pod uid is known; a pod not in the list yet makes the poller look soon.
    pub fn describe(&self, c: &mut ContainerRef) {
        let Some(uid) = c.pod_uid.as_deref() else { return };
        let pods = self.shared.pods.read().unwrap_or_else(|e| e.into_inner());
        let Some(p) = pods.get(uid) else {
            drop(pods);
            if let Ok(mut w) = self.shared.wanted.lock() {
                *w = true;
                self.shared.wake.notify_one();
            }
            return;
        };
        c.pod.get_or_insert_with(|| p.name.clone());
        c.namespace.get_or_insert_with(|| p.namespace.clone());
        if let Some((name, digest)) = p.images.get(&c.id) {
            // The runtime's own word wins; an agent in a pod that cannot read the runtime's state has this one.
            if c.image.is_none() && !name.is_empty() {
                c.image = Some(name.clone());
            }
            if c.image_id.is_none() && digest.is_some() {
                c.image_digest = digest.clone();
            }
        }
        for (k, v) in &p.labels {
            if c.labels.len() >= kestrel_core::MAX_LABELS {
                break;
            }
            c.labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// The HTTP client for the kubelet: its TLS settings (CA, or no check at all when asked).
pub fn agent(cfg: &KubeletConfig) -> Result<ureq::Agent, String> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig};
    let mut tls = TlsConfig::builder().disable_verification(cfg.insecure);
    if let Some(ca) = &cfg.ca_file {
        let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|i| match i {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(format!("{}: no certificate in it", ca.display()));
        }
        tls = tls.root_certs(RootCerts::new_with_certs(&certs));
    }
    Ok(ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .tls_config(tls.build())
        .build()
        .into())
}

/// Containers of one pod whose images are kept, at most.
const MAX_CONTAINERS_PER_POD: usize = 64;

/// The digest in a container status's `imageID`: `REPOSITORY@sha256:…` (the digest it was pulled by; once written
/// `docker-pullable://REPOSITORY@sha256:…`) or `sha256:…` (an image with no repository digest: its id).
fn pulled_by(image_id: &str) -> Option<String> {
    let digest = image_id.rsplit_once('@').map_or(image_id, |(_, d)| d);
    kestrel_core::sha256_hex(digest).map(|_| digest.to_string())
}

/// One `GET /pods`: the pods by uid.
pub fn fetch(cfg: &KubeletConfig, agent: &ureq::Agent) -> Result<HashMap<String, PodMeta>, String> {
    let url = format!("{}/pods", cfg.url.trim_end_matches('/'));
    let mut req = agent.get(&url).header("Accept", "application/json");
    if let Some(f) = &cfg.token_file {
        let token = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        req = req.header("Authorization", format!("Bearer {}", token.trim()));
    }
    let mut resp = req.call().map_err(|e| format!("{url}: {e}"))?;
    let body = resp.body_mut().with_config().limit(MAX_BODY).read_to_vec().map_err(|e| format!("{url}: {e}"))?;
    let list: k8s_openapi::List<Pod> =
        serde_json::from_slice(&body).map_err(|e| format!("{url}: not a PodList: {e}"))?;
    let mut pods = HashMap::new();
    for pod in list.items {
        let m = pod.metadata;
        let Some(uid) = m.uid.filter(|u| !u.is_empty()) else { continue };
        if pods.len() >= MAX_PODS {
            break;
        }
        let statuses = pod.status.into_iter().flat_map(|s| {
            [s.container_statuses, s.init_container_statuses, s.ephemeral_container_statuses]
                .into_iter()
                .flatten()
                .flatten()
        });
        let images = statuses
            .filter_map(|s| {
                // `containerd://ID`, `cri-o://ID`, `docker://ID`.
                let id = s.container_id?.split_once("://")?.1.to_string();
                let digest = pulled_by(&s.image_id);
                Some((id, (s.image, digest)))
            })
            .take(MAX_CONTAINERS_PER_POD)
            .collect();
        pods.insert(
            uid,
            PodMeta {
                name: m.name.unwrap_or_default(),
                namespace: m.namespace.unwrap_or_default(),
                labels: m.labels.unwrap_or_default(),
                images,
            },
        );
    }
    Ok(pods)
}

fn poll(cfg: KubeletConfig, agent: ureq::Agent, s: Arc<Shared>) {
    let mut last: Option<Instant> = None;
    let mut reported = false;
    loop {
        // Wait for the period, or for a request for an unknown pod (no more than once a second).
        {
            let mut wanted = s.wanted.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                let since = last.map_or(Duration::MAX, |t| t.elapsed());
                if since >= cfg.every || (*wanted && since >= Duration::from_secs(1)) {
                    break;
                }
                let left = if *wanted { Duration::from_secs(1) } else { cfg.every }.saturating_sub(since);
                wanted = s.wake.wait_timeout(wanted, left).unwrap_or_else(|e| e.into_inner()).0;
            }
            *wanted = false;
        }
        if Arc::strong_count(&s) == 1 {
            return; // every `Pods` is gone: the sensor stopped
        }
        last = Some(Instant::now());
        match fetch(&cfg, &agent) {
            Ok(pods) => {
                let mut cur = s.pods.write().unwrap_or_else(|e| e.into_inner());
                if *cur != pods {
                    *cur = pods;
                    s.generation.fetch_add(1, Ordering::AcqRel);
                }
                drop(cur);
                reported = false;
            }
            Err(e) => {
                if !reported {
                    tracing::warn!("kubelet: {e} (pod labels stay unknown until it answers)");
                    reported = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pulled_by;

    #[test]
    fn the_digest_an_image_was_pulled_by_is_read_from_each_form_of_image_id() {
        let d = format!("sha256:{}", "0123456789abcdef".repeat(4));
        assert_eq!(pulled_by(&format!("docker.io/library/nginx@{d}")), Some(d.clone()));
        assert_eq!(pulled_by(&format!("docker-pullable://nginx@{d}")), Some(d.clone()));
        assert_eq!(pulled_by(&d), Some(d.clone()), "an image without a repository digest: its id");
        for not in ["", "nginx:1.27", "docker.io/library/nginx@sha256:abc", &format!("nginx@{}", d.to_uppercase())] {
            assert_eq!(pulled_by(not), None, "{not}");
        }
    }
}
