//! cgroup ids to containers. On cgroup v2 (pure, or the `unified` hierarchy of a hybrid host) a cgroup's id
//! is the inode number of its directory, so the resolver walks the hierarchy once, and again when an unknown
//! id shows up. A cgroup path names its container by the runtimes' conventions.

use crate::Fast;
use kestrel_core::ContainerRef;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where cgroup v2 is mounted (from `/proc/self/mountinfo`): `/sys/fs/cgroup` or `/sys/fs/cgroup/unified`.
pub fn cgroup2_root() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        if right.split_whitespace().next() != Some("cgroup2") {
            return None;
        }
        left.split_whitespace().nth(4).map(PathBuf::from)
    })
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The container a cgroup path (relative to the cgroup2 root, `/`-separated) belongs to, by the runtimes'
/// conventions: systemd scopes `docker-<id>.scope`, `cri-containerd-<id>.scope`, `crio-<id>.scope`,
/// `libpod-<id>.scope`; cgroupfs paths `/docker/<id>`, `/kubepods/…/<id>`; and any path under one of
/// `runc_parents` (the parents given to runc), named by its last component.
pub fn container_of_path(path: &str, runc_parents: &[String]) -> Option<ContainerRef> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|p| !p.is_empty()).collect();
    let pod_uid = parts.iter().find_map(|p| {
        let p = p.strip_suffix(".slice").unwrap_or(p);
        let uid = p.rsplit_once("-pod").map(|(_, u)| u).or_else(|| p.strip_prefix("pod"))?;
        (uid.len() >= 32).then(|| uid.replace('_', "-"))
    });
    for (i, p) in parts.iter().enumerate().rev() {
        let scope = p.strip_suffix(".scope").unwrap_or(p);
        for (prefix, runtime) in
            [("docker-", "docker"), ("cri-containerd-", "containerd"), ("crio-", "cri-o"), ("libpod-", "podman")]
        {
            if let Some(id) = scope.strip_prefix(prefix).filter(|id| is_hex64(id)) {
                return Some(ContainerRef { id: id.into(), runtime: runtime.into(), pod_uid, ..Default::default() });
            }
        }
        if is_hex64(p) {
            let runtime = match parts.get(i.wrapping_sub(1)) {
                Some(&"docker") => "docker",
                _ if parts.iter().any(|x| x.starts_with("kubepods")) => "containerd",
                _ => "runc",
            };
            return Some(ContainerRef { id: p.to_string(), runtime: runtime.into(), pod_uid, ..Default::default() });
        }
    }
    let joined = format!("/{}", parts.join("/"));
    for parent in runc_parents {
        let parent = format!("/{}", parent.trim_matches('/'));
        if let Some(rest) = joined.strip_prefix(&parent).and_then(|r| r.strip_prefix('/')) {
            let id = rest.split('/').next().unwrap_or(rest);
            if !id.is_empty() {
                return Some(ContainerRef { id: id.into(), runtime: "runc".into(), pod_uid, ..Default::default() });
            }
        }
    }
    None
}

/// Maps cgroup ids to paths and containers, walking the hierarchy when an id is unknown (at most every
/// `rescan_every`, so a flood of unknown ids costs one walk per period).
pub struct Resolver {
    root: PathBuf,
    runc_parents: Vec<String>,
    paths: HashMap<u64, String, Fast>,
    /// The container of each cgroup whose path is known (every event asks: parsed once per cgroup), and
    /// when the runtime's state was last looked for in vain (looked for again at the next exec, or a second
    /// later).
    containers: HashMap<u64, Known, Fast>,
    state: crate::runtime::StateDirs,
    /// The kubelet's pods (names, namespaces, labels), when asked for.
    pods: Option<crate::kubelet::Pods>,
    last_scan: Option<Instant>,
    rescan_every: Duration,
}

/// The container worked out for a cgroup: when something was missing (the runtime's state, the pod),
/// when it was last looked for, and which pod list it was matched against.
struct Known {
    container: Option<Arc<ContainerRef>>,
    missing_since: Option<Instant>,
    pods_generation: u64,
}

/// Most cgroups remembered.
const MAX_CGROUPS: usize = 1 << 17;

impl Resolver {
    /// A resolver over the cgroup2 hierarchy at `root`; paths under `runc_parents` are runc containers.
    pub fn new(root: PathBuf, runc_parents: Vec<String>) -> Resolver {
        Resolver {
            root,
            runc_parents,
            paths: HashMap::default(),
            containers: HashMap::default(),
            state: crate::runtime::StateDirs::default(),
            pods: None,
            last_scan: None,
            rescan_every: Duration::from_millis(200),
        }
    }

    /// Reads the runtimes' state from `state` instead of their usual places.
    pub fn with_state(mut self, state: crate::runtime::StateDirs) -> Resolver {
        self.state = state;
        self
    }

    /// Also names each Kubernetes container's pod and labels from the kubelet's pod list.
    pub fn with_pods(mut self, pods: crate::kubelet::Pods) -> Resolver {
        self.pods = Some(pods);
        self
    }

    /// The id (inode) of a cgroup directory.
    pub fn id_of(path: &Path) -> Option<u64> {
        std::fs::metadata(path).ok().map(|m| m.ino())
    }

    /// Walks the hierarchy (directories only, bounded depth and count).
    pub fn rescan(&mut self) {
        self.last_scan = Some(Instant::now());
        let mut stack = vec![(self.root.clone(), 0usize)];
        while let Some((dir, depth)) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            for e in rd.flatten() {
                let Ok(ft) = e.file_type() else { continue };
                if !ft.is_dir() || self.paths.len() >= MAX_CGROUPS {
                    continue;
                }
                let p = e.path();
                if let (Some(id), Ok(rel)) = (Self::id_of(&p), p.strip_prefix(&self.root)) {
                    self.learn(id, format!("/{}", rel.to_string_lossy()));
                }
                if depth < 16 {
                    stack.push((p, depth + 1));
                }
            }
        }
    }

    /// Records a cgroup's path (reported created by the kernel, or found by a walk); a new path forgets
    /// the container worked out from the old one.
    pub fn learn(&mut self, id: u64, path: String) {
        if self.paths.get(&id) == Some(&path) {
            return;
        }
        if self.paths.len() < MAX_CGROUPS || self.paths.contains_key(&id) {
            self.containers.remove(&id);
            self.paths.insert(id, path);
        }
    }

    /// Walks the hierarchy again when `id` is unknown and the last walk is old enough.
    fn ensure(&mut self, id: u64) {
        if !self.paths.contains_key(&id) && self.last_scan.is_none_or(|t| t.elapsed() >= self.rescan_every) {
            self.rescan();
        }
    }

    /// The path of a cgroup id.
    pub fn path(&mut self, id: u64) -> Option<&str> {
        self.ensure(id);
        self.paths.get(&id).map(String::as_str)
    }

    /// Some processes of a cgroup whose path is known (at most `max`, from its `cgroup.procs`).
    pub fn pids(&self, id: u64, max: usize) -> Vec<u32> {
        let Some(path) = self.paths.get(&id) else { return Vec::new() };
        let file = self.root.join(path.trim_start_matches('/')).join("cgroup.procs");
        std::fs::read_to_string(file)
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).take(max).collect())
            .unwrap_or_default()
    }

    /// The container of a cgroup id.
    ///
    /// A container whose runtime state was not there yet (runc writes it after its init has started, and
    /// init's own events come first) is looked up again on its next exec, or a second later; one whose pod
    /// the kubelet had not reported yet, when a new pod list arrives.
    pub fn container(&mut self, id: u64, at_exec: bool) -> Option<Arc<ContainerRef>> {
        let generation = self.pods.as_ref().map_or(0, |p| p.generation());
        match self.containers.get(&id) {
            // Complete, and either no pod list came since or it has no pod to take from one.
            Some(k)
                if k.missing_since.is_none()
                    && (k.pods_generation == generation
                        || k.container.as_ref().is_none_or(|c| c.pod_uid.is_none())) =>
            {
                return k.container.clone()
            }
            Some(Known { container, missing_since: Some(tried), .. })
                if !at_exec && tried.elapsed() < Duration::from_secs(1) =>
            {
                return container.clone()
            }
            _ => {}
        }
        self.ensure(id);
        let mut c = container_of_path(self.paths.get(&id)?, &self.runc_parents);
        // The runtime's state (image, pod): a container being created may not have written it yet.
        let mut missing = false;
        if let Some(c) = c.as_mut() {
            missing = !self.state.describe(c);
            // A pod the kubelet has not reported yet is filled in when the next pod list comes.
            if let Some(pods) = &self.pods {
                pods.describe(c);
            }
        }
        if self.containers.len() >= MAX_CGROUPS {
            self.containers.clear();
        }
        let c = c.map(Arc::new);
        let known =
            Known { container: c.clone(), missing_since: missing.then(Instant::now), pods_generation: generation };
        self.containers.insert(id, known);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_conventions() {
        let id = "a".repeat(64);
        let c = container_of_path(&format!("/system.slice/docker-{id}.scope"), &[]).unwrap();
        assert_eq!((c.id.as_str(), c.runtime.as_str()), (id.as_str(), "docker"));
        let c = container_of_path(&format!("/docker/{id}"), &[]).unwrap();
        assert_eq!(c.runtime, "docker");
        let k = format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b.slice/cri-containerd-{id}.scope"
        );
        let c = container_of_path(&k, &[]).unwrap();
        assert_eq!(c.runtime, "containerd");
        assert_eq!(c.pod_uid.as_deref(), Some("0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"));
        assert_eq!(
            container_of_path(&format!("/machine.slice/libpod-{id}.scope/container"), &[]).unwrap().runtime,
            "podman"
        );
        assert_eq!(container_of_path(&format!("/crio-{id}.scope"), &[]).unwrap().runtime, "cri-o");
        let c = container_of_path("/kestrel-lab/web-1", &["kestrel-lab".into()]).unwrap();
        assert_eq!((c.id.as_str(), c.runtime.as_str()), ("web-1", "runc"));
        assert!(container_of_path("/user.slice/user-0.slice/session-1.scope", &[]).is_none());
        assert!(container_of_path("/", &[]).is_none());
    }
}
