//! What the container runtimes' own state says of a container: its image and, on Kubernetes, its pod.
//!
//! runc keeps `state.json` per container under its root (`/run/runc` by default; containerd's shim uses
//! `/run/containerd/runc/<namespace>`, Docker `/run/docker/runtime-runc/moby`); it names the bundle, whose
//! `config.json` carries the annotations the CRI runtimes write: containerd's `io.kubernetes.cri.*` and
//! CRI-O's `io.kubernetes.cri-o.*` / `io.kubernetes.pod.*`. crun keeps `status` instead (under `/run/crun`),
//! which names the bundle too. Docker keeps the image in
//! `/var/lib/docker/containers/<id>/config.v2.json` (below its data root: `data-root` in /etc/docker/daemon.json,
//! or [`StateDirs::with_docker`]), Podman in its container's record in containers-storage
//! (`/var/lib/containers/storage/<driver>-containers/containers.json`). An agent in a container reads all of these
//! below the node's root as it sees it ([`StateDirs::host`]). No socket is spoken to: reading these files needs no
//! CRI endpoint and works the same for a container started a moment ago.

use kestrel_core::ContainerRef;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Largest state or config file read (a runc config.json is a few KiB).
const MAX_FILE: u64 = 4 << 20;

/// Where runtimes keep their state (runc roots) and Docker its container configs.
#[derive(Debug, Clone)]
pub struct StateDirs {
    /// runc (and crun) roots: directories holding `<id>/state.json` (crun: `<id>/status`), or the same one
    /// namespace level down.
    pub runc_roots: Vec<PathBuf>,
    /// Docker's `containers` directory.
    pub docker_containers: PathBuf,
    /// containers-storage graph roots (Podman's, CRI-O's): `<root>/<driver>-containers/containers.json` names each
    /// container's image.
    pub containers_storage: Vec<PathBuf>,
    /// Where the node's root file system is seen from here, when not at `/`: an agent in a container that shares
    /// the node's PID namespace sees it at `/proc/1/root`. Every path above, and the bundles runc's state names,
    /// are the node's, read below this.
    pub host: Option<PathBuf>,
}

/// Docker's daemon configuration, where a data root or exec root moved elsewhere is set.
pub const DOCKER_DAEMON_JSON: &str = "/etc/docker/daemon.json";

impl Default for StateDirs {
    /// The runtimes' usual places on this machine: [`StateDirs::on_node`] at `/`.
    fn default() -> Self {
        StateDirs::on_node(None)
    }
}

impl StateDirs {
    /// The runtimes' usual places on the node whose root file system is at `host` (`None`: `/`), with Docker's
    /// data root and exec root as the node's [`DOCKER_DAEMON_JSON`] sets them.
    pub fn on_node(host: Option<&Path>) -> StateDirs {
        let mut dirs = StateDirs {
            runc_roots: ["/run/runc", "/run/containerd/runc", "/run/docker/runtime-runc", "/run/crun"]
                .iter()
                .map(PathBuf::from)
                .collect(),
            docker_containers: "/var/lib/docker/containers".into(),
            containers_storage: vec!["/var/lib/containers/storage".into()],
            host: host.map(Path::to_path_buf),
        };
        if let Some(cfg) = dirs.read(Path::new(DOCKER_DAEMON_JSON)) {
            // `graph`: what Docker before 17.05 called the data root.
            let data_root = cfg["data-root"].as_str().or(cfg["graph"].as_str()).map(Path::new);
            let exec_root = cfg["exec-root"].as_str().map(Path::new);
            dirs = dirs.with_docker(data_root.filter(|p| p.is_absolute()), exec_root.filter(|p| p.is_absolute()));
        }
        dirs
    }

    /// A path of the node, as seen from here: below [`StateDirs::host`] when there is one (`..` is not followed
    /// there: nothing is read above the node's root).
    fn on_host(&self, p: &Path) -> Option<PathBuf> {
        let Some(host) = &self.host else { return Some(p.to_path_buf()) };
        let mut out = host.clone();
        for c in p.components() {
            match c {
                std::path::Component::Normal(n) => out.push(n),
                std::path::Component::RootDir | std::path::Component::CurDir => {}
                _ => return None,
            }
        }
        Some(out)
    }

    /// A Podman container's image, from its record in containers-storage (`metadata`'s `image-name`, and `image`:
    /// the image's id); whether the record was found.
    fn podman_image(&self, c: &mut ContainerRef) -> bool {
        for root in self.containers_storage.iter().filter_map(|r| self.on_host(r)) {
            let Ok(rd) = std::fs::read_dir(&root) else { continue };
            // One directory per storage driver that has been used: overlay-containers, vfs-containers…
            for dir in rd.flatten().take(16).filter(|d| d.file_name().to_string_lossy().ends_with("-containers")) {
                let Some(Value::Array(list)) = read_json(&dir.path().join("containers.json")) else { continue };
                let Some(record) = list.iter().find(|r| r["id"].as_str() == Some(c.id.as_str())) else { continue };
                let meta: Value =
                    record["metadata"].as_str().and_then(|m| serde_json::from_str(m).ok()).unwrap_or_default();
                c.image = meta["image-name"].as_str().filter(|n| !n.is_empty()).map(String::from);
                c.image_id = c.image_id.take().or_else(|| record["image"].as_str().and_then(image_id));
                return true;
            }
        }
        false
    }

    /// A JSON file of the node ([`read_json`] below the node's root).
    fn read(&self, path: &Path) -> Option<Value> {
        read_json(&self.on_host(path)?)
    }

    /// Where a Docker engine run with `--data-root DATA_ROOT` (its containers' configurations below it) and
    /// `--exec-root EXEC_ROOT` (runc's state below it) keeps its containers; `None` leaves that one as it is.
    pub fn with_docker(mut self, data_root: Option<&Path>, exec_root: Option<&Path>) -> StateDirs {
        if let Some(d) = data_root {
            self.docker_containers = d.join("containers");
        }
        if let Some(e) = exec_root {
            let runc = e.join("runtime-runc");
            if !self.runc_roots.contains(&runc) {
                self.runc_roots.insert(0, runc);
            }
        }
        self
    }
}

fn read_json(path: &Path) -> Option<Value> {
    let f = std::fs::File::open(path).ok()?;
    if f.metadata().ok()?.len() > MAX_FILE {
        tracing::debug!("{}: larger than {MAX_FILE} bytes, not read", path.display());
        return None;
    }
    serde_json::from_reader(std::io::BufReader::new(f)).ok()
}

/// A container id is one path component: nothing that could climb out of the state directories.
fn safe_id(id: &str) -> bool {
    !id.is_empty() && id != "." && id != ".." && !id.contains('/') && !id.contains('\0')
}

impl StateDirs {
    /// The runtime's state of container `id` — runc's `state.json` or crun's `status` — under any root
    /// (directly or one namespace level down), and which runtime's it is.
    fn runc_state(&self, id: &str) -> Option<(Value, &'static str)> {
        let in_dir = |dir: &Path| {
            [("state.json", "runc"), ("status", "crun")]
                .into_iter()
                .find_map(|(f, runtime)| Some((read_json(&dir.join(id).join(f))?, runtime)))
        };
        for root in self.runc_roots.iter().filter_map(|r| self.on_host(r)) {
            if let Some(v) = in_dir(&root) {
                return Some(v);
            }
            let Ok(rd) = std::fs::read_dir(&root) else { continue };
            for ns in rd.flatten().take(64) {
                if let Some(v) = in_dir(&ns.path()) {
                    return Some(v);
                }
            }
        }
        None
    }

    /// Fills in image, pod and namespace of `c` from what the runtimes keep; says whether it found the
    /// container's state at all (a container being created has none yet: ask again later).
    pub fn describe(&self, c: &mut ContainerRef) -> bool {
        if !safe_id(&c.id) {
            return true;
        }
        let mut found = false;
        if c.runtime == "docker" {
            if let Some(cfg) = self.read(&self.docker_containers.join(&c.id).join("config.v2.json")) {
                found = true;
                c.image = cfg["Config"]["Image"].as_str().or(cfg["Image"].as_str()).map(String::from);
                c.image_id = cfg["Image"].as_str().and_then(image_id);
                add_labels(c, &cfg["Config"]["Labels"]);
                let host = self.read(&self.docker_containers.join(&c.id).join("hostconfig.json"));
                c.privileged = host.as_ref().and_then(|h| h["Privileged"].as_bool()).or(c.privileged);
                c.created_ns = timestamp_ns(&cfg["Created"]).or(c.created_ns);
            }
        }
        if c.runtime == "podman" && c.image.is_none() {
            found |= self.podman_image(c);
        }
        if let Some((state, runtime)) = self.runc_state(&c.id) {
            found = true;
            // A container found by runc's conventions (a cgroup below a runc parent) run by crun says so.
            if c.runtime == "runc" {
                c.runtime = runtime.into();
            }
            if c.privileged.is_none() {
                c.privileged = privileged(&state["config"]);
            }
            c.created_ns = c.created_ns.or(timestamp_ns(&state["created"]));
            // The bundle is a label `bundle=/path` (runc ≥ 1.0) or a field of its own (older runc, crun).
            let bundle = state["config"]["labels"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .find_map(|l| l.strip_prefix("bundle="))
                .or(state["bundle"].as_str())
                .map(PathBuf::from);
            if let Some(config) = bundle.filter(|b| b.is_absolute()).and_then(|b| self.read(&b.join("config.json"))) {
                apply_annotations(c, &config["annotations"]);
                add_labels(c, &config["annotations"]);
                // crun's status says nothing of the container's capabilities: the bundle's OCI config does.
                if c.privileged.is_none() {
                    c.privileged = privileged_oci(&config);
                }
            }
        }
        found
    }
}

/// An RFC 3339 time (`2026-12-03T15:04:05.123456789Z`, as runc, crun and Docker write them) in nanoseconds
/// since the Unix epoch; nothing for another value or a time before the epoch.
fn timestamp_ns(v: &Value) -> Option<u64> {
    let t = time::OffsetDateTime::parse(v.as_str()?, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos()).ok()
}

/// Whether runc's view of a container (`state.json`'s `config`) is a privileged one: Docker, containerd and
/// CRI-O all grant every capability and unmask `/proc` and `/sys` for `--privileged` / `privileged: true`; a
/// container that only adds `CAP_SYS_ADMIN` keeps its masked paths. `None` when the config says neither.
fn privileged(config: &Value) -> Option<bool> {
    privileged_by(&config["capabilities"]["Bounding"], &config["mask_paths"], &config["readonly_paths"])
}

/// The same judgement from an OCI `config.json` (what runc's `state.json` holds in its own spelling).
fn privileged_oci(config: &Value) -> Option<bool> {
    let linux = &config["linux"];
    privileged_by(&config["process"]["capabilities"]["bounding"], &linux["maskedPaths"], &linux["readonlyPaths"])
}

/// `CAP_SYS_ADMIN` in the bounding set and nothing masked or read-only; `None` without a bounding set.
fn privileged_by(bounding: &Value, masked: &Value, readonly: &Value) -> Option<bool> {
    let sys_admin = bounding.as_array()?.iter().any(|c| c.as_str() == Some("CAP_SYS_ADMIN"));
    let none = |v: &Value| v.as_array().is_none_or(|a| a.is_empty());
    Some(sys_admin && none(masked) && none(readonly))
}

/// Copies string entries of a JSON object into the container's labels (bounded in number and size).
fn add_labels(c: &mut ContainerRef, map: &Value) {
    let cut = |s: &str| s.char_indices().take_while(|(i, _)| *i < 253).map(|(_, ch)| ch).collect::<String>();
    for (k, v) in map.as_object().into_iter().flatten() {
        if c.labels.len() >= kestrel_core::MAX_LABELS {
            break;
        }
        if let Some(v) = v.as_str() {
            c.labels.insert(cut(k), cut(v));
        }
    }
}

/// An image id as the runtimes record one: `sha256:` and 64 hex digits (Docker), or the 64 digits alone (CRI-O), as
/// `sha256:…`. A repository digest (`NAME@sha256:…`: a manifest's, or a multi-platform index's, not the image's own)
/// or anything else is not one.
fn image_id(s: &str) -> Option<String> {
    let digest = if s.starts_with("sha256:") { s.to_string() } else { format!("sha256:{s}") };
    kestrel_core::sha256_hex(&digest).is_some().then_some(digest)
}

/// The CRI runtimes' annotations: containerd's and CRI-O's names for image, pod and namespace.
fn apply_annotations(c: &mut ContainerRef, a: &Value) {
    let get = |keys: &[&str]| keys.iter().find_map(|k| a[*k].as_str()).filter(|s| !s.is_empty()).map(String::from);
    if c.image.is_none() {
        c.image = get(&[
            "io.kubernetes.cri.image-name",
            "io.kubernetes.cri-o.ImageName",
            "org.opencontainers.image.ref.name",
        ]);
    }
    if c.image_id.is_none() {
        c.image_id = get(&["io.kubernetes.cri-o.ImageRef"]).as_deref().and_then(image_id);
    }
    c.pod = get(&["io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"]).or(c.pod.take());
    c.namespace = get(&["io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"]).or(c.namespace.take());
    if c.pod_uid.is_none() {
        c.pod_uid = get(&["io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"]);
    }
    if let Some(name) = get(&["io.kubernetes.cri.container-name", "io.kubernetes.container.name"]) {
        c.name = Some(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(id: &str, runtime: &str) -> ContainerRef {
        ContainerRef { id: id.into(), runtime: runtime.into(), ..Default::default() }
    }

    #[test]
    fn containerd_annotations_name_image_pod_and_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle");
        std::fs::create_dir_all(&bundle).unwrap();
        std::fs::write(
            bundle.join("config.json"),
            r#"{"annotations":{"io.kubernetes.cri.image-name":"docker.io/library/nginx:1.27",
               "io.kubernetes.cri.sandbox-name":"web-7d9f","io.kubernetes.cri.sandbox-namespace":"shop",
               "io.kubernetes.cri.container-name":"nginx"}}"#,
        )
        .unwrap();
        let state = dir.path().join("root/k8s.io/abc");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(
            state.join("state.json"),
            format!(r#"{{"config":{{"labels":["bundle={}"]}}}}"#, bundle.display()),
        )
        .unwrap();
        let dirs = StateDirs {
            runc_roots: vec![dir.path().join("root")],
            docker_containers: dir.path().join("none"),
            containers_storage: vec![],
            host: None,
        };
        let mut c = container("abc", "containerd");
        assert!(dirs.describe(&mut c));
        assert_eq!(c.image.as_deref(), Some("docker.io/library/nginx:1.27"));
        assert_eq!(c.pod.as_deref(), Some("web-7d9f"));
        assert_eq!(c.namespace.as_deref(), Some("shop"));
        assert_eq!(c.name.as_deref(), Some("nginx"));
        assert_eq!(c.labels["io.kubernetes.cri.sandbox-namespace"], "shop", "annotations are labels");
        assert_eq!(c.image_id, None, "containerd's annotations name the image only");
    }

    #[test]
    fn a_nodes_state_is_read_below_the_root_it_is_seen_at() {
        // The node's root as an agent in a pod sees it (/proc/1/root): runc's state, the bundle it names, Docker's
        // configuration moving its data root, and a container's config there — each read below it.
        let node = tempfile::tempdir().unwrap();
        let at = |p: &str| node.path().join(p.trim_start_matches('/'));
        std::fs::create_dir_all(at("/run/containerd/runc/k8s.io/abc")).unwrap();
        std::fs::create_dir_all(at("/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc")).unwrap();
        std::fs::write(
            at("/run/containerd/runc/k8s.io/abc/state.json"),
            r#"{"config":{"labels":["bundle=/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc"]}}"#,
        )
        .unwrap();
        std::fs::write(
            at("/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/config.json"),
            r#"{"annotations":{"io.kubernetes.cri.image-name":"docker.io/library/nginx:1.27"}}"#,
        )
        .unwrap();
        std::fs::create_dir_all(at("/etc/docker")).unwrap();
        std::fs::write(at("/etc/docker/daemon.json"), r#"{"data-root": "/data/docker"}"#).unwrap();
        let id = "d".repeat(64);
        std::fs::create_dir_all(at(&format!("/data/docker/containers/{id}"))).unwrap();
        std::fs::write(
            at(&format!("/data/docker/containers/{id}/config.v2.json")),
            r#"{"Config":{"Image":"redis:7"}}"#,
        )
        .unwrap();
        let dirs = StateDirs::on_node(Some(node.path()));
        assert_eq!(dirs.docker_containers, Path::new("/data/docker/containers"), "a path of the node");
        let mut c = container("abc", "containerd");
        assert!(dirs.describe(&mut c));
        assert_eq!(c.image.as_deref(), Some("docker.io/library/nginx:1.27"));
        let mut d = container(&id, "docker");
        assert!(dirs.describe(&mut d));
        assert_eq!(d.image.as_deref(), Some("redis:7"));
        // Nothing is read above the node's root.
        assert_eq!(dirs.on_host(Path::new("/run/../../etc/shadow")), None);
        assert_eq!(StateDirs::default().on_host(Path::new("/run/runc")), Some(PathBuf::from("/run/runc")));
    }

    #[test]
    fn a_docker_engine_with_its_own_roots_is_looked_for_there() {
        let dirs = StateDirs::default().with_docker(Some(Path::new("/data/docker")), Some(Path::new("/run/d2")));
        assert_eq!(dirs.docker_containers, Path::new("/data/docker/containers"));
        assert_eq!(dirs.runc_roots[0], Path::new("/run/d2/runtime-runc"));
        assert!(dirs.runc_roots.contains(&PathBuf::from("/run/runc")), "the other runtimes' roots stay");
        let same = dirs.clone().with_docker(None, Some(Path::new("/run/d2")));
        assert_eq!(same.runc_roots, dirs.runc_roots, "a root is listed once");
    }

    #[test]
    fn image_ids_are_taken_as_the_runtimes_record_them_and_nothing_else() {
        let hex = "0123456789abcdef".repeat(4);
        assert_eq!(image_id(&format!("sha256:{hex}")), Some(format!("sha256:{hex}")));
        assert_eq!(image_id(&hex), Some(format!("sha256:{hex}")), "CRI-O's bare id");
        for not in [
            format!("docker.io/library/nginx@sha256:{hex}"),
            format!("sha512:{hex}"),
            format!("sha256:{}", &hex[1..]),
            format!("sha256:{}", hex.to_uppercase()),
            "nginx:1.27".into(),
        ] {
            assert_eq!(image_id(&not), None, "{not}");
        }
        let mut c = container("abc", "cri-o");
        apply_annotations(
            &mut c,
            &serde_json::json!({"io.kubernetes.cri-o.ImageName": "quay.io/app:1", "io.kubernetes.cri-o.ImageRef": hex}),
        );
        assert_eq!((c.image.as_deref(), c.image_id), (Some("quay.io/app:1"), Some(format!("sha256:{hex}"))));
    }

    #[test]
    fn privileged_is_every_capability_with_nothing_masked() {
        let cfg = |caps: &[&str], masked: &[&str]| serde_json::json!({"capabilities": {"Bounding": caps}, "mask_paths": masked, "readonly_paths": masked});
        assert_eq!(privileged(&cfg(&["CAP_KILL", "CAP_SYS_ADMIN"], &[])), Some(true));
        assert_eq!(privileged(&cfg(&["CAP_KILL", "CAP_SYS_ADMIN"], &["/proc/kcore"])), Some(false));
        assert_eq!(privileged(&cfg(&["CAP_KILL"], &[])), Some(false));
        assert_eq!(privileged(&serde_json::json!({"mask_paths": null})), None);
    }

    #[test]
    fn docker_config_names_the_image_and_ids_cannot_climb_out() {
        let dir = tempfile::tempdir().unwrap();
        let id = "a".repeat(64);
        std::fs::create_dir_all(dir.path().join(&id)).unwrap();
        let cfg = format!(
            r#"{{"Config":{{"Image":"redis:7"}},"Image":"sha256:{}","Created":"2026-12-03T15:04:05.123456789Z"}}"#,
            "c".repeat(64)
        );
        std::fs::write(dir.path().join(&id).join("config.v2.json"), cfg).unwrap();
        let dirs = StateDirs {
            runc_roots: vec![],
            docker_containers: dir.path().into(),
            containers_storage: vec![],
            host: None,
        };
        let mut c = container(&id, "docker");
        assert!(dirs.describe(&mut c));
        assert_eq!(c.image.as_deref(), Some("redis:7"));
        assert_eq!(c.image_id, Some(format!("sha256:{}", "c".repeat(64))));
        assert_eq!(c.created_ns, Some(1_796_310_245_123_456_789));
        let mut bad = container("../etc", "docker");
        assert!(dirs.describe(&mut bad));
        assert_eq!(bad.image, None);
        assert_eq!(c.privileged, None, "no hostconfig.json");
        std::fs::write(dir.path().join(&id).join("hostconfig.json"), r#"{"Privileged":true}"#).unwrap();
        let mut c = container(&id, "docker");
        dirs.describe(&mut c);
        assert_eq!(c.privileged, Some(true));
        let mut missing = container("nothere", "runc");
        assert!(!dirs.describe(&mut missing));
    }

    #[test]
    fn crun_status_names_the_bundle_whose_config_says_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle");
        std::fs::create_dir_all(&bundle).unwrap();
        let config = |masked: &str| {
            format!(
                r#"{{"process":{{"capabilities":{{"bounding":["CAP_KILL","CAP_SYS_ADMIN"]}}}},
                   "linux":{{"maskedPaths":[{masked}]}},
                   "annotations":{{"io.kubernetes.cri-o.ImageName":"quay.io/app/api:2.1",
                   "io.kubernetes.pod.name":"api-5c8d","io.kubernetes.pod.namespace":"prod"}}}}"#
            )
        };
        std::fs::write(bundle.join("config.json"), config("")).unwrap();
        let state = dir.path().join("crun/c1");
        std::fs::create_dir_all(&state).unwrap();
        // crun writes its time with an offset; a time that is not one is no time.
        let status = |created: &str| format!(r#"{{"pid":7,"bundle":"{}","created":"{created}"}}"#, bundle.display());
        std::fs::write(state.join("status"), status("2026-12-03T16:04:05.5+01:00")).unwrap();
        let dirs = StateDirs {
            runc_roots: vec![dir.path().join("crun")],
            docker_containers: dir.path().join("none"),
            containers_storage: vec![],
            host: None,
        };
        let mut c = container("c1", "runc");
        assert!(dirs.describe(&mut c));
        assert_eq!(c.runtime, "crun");
        assert_eq!(c.image.as_deref(), Some("quay.io/app/api:2.1"));
        assert_eq!((c.pod.as_deref(), c.namespace.as_deref()), (Some("api-5c8d"), Some("prod")));
        assert_eq!(c.privileged, Some(true));
        assert_eq!(c.created_ns, Some(1_796_310_245_500_000_000));
        std::fs::write(bundle.join("config.json"), config(r#""/proc/kcore""#)).unwrap();
        std::fs::write(state.join("status"), status("yesterday")).unwrap();
        let mut c = container("c1", "runc");
        dirs.describe(&mut c);
        assert_eq!((c.privileged, c.created_ns), (Some(false), None));
    }
}
