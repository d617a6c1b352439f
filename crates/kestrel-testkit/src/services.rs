//! Real servers for tests, started on loopback in a temporary directory and stopped on drop: PostgreSQL
//! (Debian's `postgresql` package, which `scripts/setup` installs). Nothing is mocked: the tests talk to the
//! same server a user runs.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A free TCP port on loopback (bound, then released: a tiny race with other processes, acceptable in tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// A PostgreSQL server of its own: a fresh cluster in a temporary directory, listening on 127.0.0.1.
pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    /// Its port.
    pub port: u16,
}

fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(Result::ok).map(|e| e.path().join("bin")).filter(|p| p.join("initdb").exists()).collect())
        .unwrap_or_default();
    versions.sort();
    versions.pop().expect("PostgreSQL's server is not installed (/usr/lib/postgresql/*/bin/initdb): run scripts/setup")
}

/// Runs a PostgreSQL program as the `postgres` user when we are root (the server refuses to run as root).
fn as_postgres(bin: &Path, program: &str, args: &[&str]) -> Command {
    let path = bin.join(program);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path).args(args);
        c
    } else {
        let mut c = Command::new(path);
        c.args(args);
        c
    }
}

impl Postgres {
    /// Starts a new cluster (trust authentication on loopback; user `postgres`, database `postgres`).
    pub fn start() -> Postgres {
        let bin = pg_bin();
        let dir = std::env::temp_dir().join(format!("kestrel-pg-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let ok = Command::new("chown").arg("postgres:postgres").arg(&dir).status().map(|s| s.success());
            assert!(matches!(ok, Ok(true)), "chown postgres {}", dir.display());
        }
        let data = dir.join("data");
        let out =
            as_postgres(&bin, "initdb", &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres", "-E", "UTF8"])
                .output()
                .expect("initdb runs");
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let port = free_port();
        let opts = format!("-h 127.0.0.1 -p {port} -k {} -c fsync=off -c max_connections=200", dir.display());
        let log = dir.join("log");
        let out = as_postgres(
            &bin,
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-o", &opts, "-w", "-t", "60", "start"],
        )
        .output()
        .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Postgres { dir, bin, port }
    }

    /// A URL for database `db` (created when missing).
    pub fn url(&self, db: &str) -> String {
        if db != "postgres" {
            let _ = as_postgres(
                &self.bin,
                "createdb",
                &["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", db],
            )
            .output();
        }
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Stops the server now (immediate mode: what a crash looks like to clients).
    pub fn kill(&self) {
        let data = self.dir.join("data");
        let _ =
            as_postgres(&self.bin, "pg_ctl", &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"]).output();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// NATS servers with JetStream (Debian's `nats-server`, which `scripts/setup` installs): one, or a cluster
/// whose nodes can be killed and restarted.
pub struct Nats {
    dir: PathBuf,
    nodes: Vec<NatsNode>,
}

struct NatsNode {
    name: String,
    port: u16,
    conf: PathBuf,
    child: Option<std::process::Child>,
}

fn nats_bin() -> PathBuf {
    for p in ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("nats-server is not installed: run scripts/setup")
}

fn wait_for_port(port: u16, what: &str) {
    let t = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < std::time::Duration::from_secs(20), "{what} did not start on port {port}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

impl Nats {
    /// One server with JetStream.
    pub fn start() -> Nats {
        Nats::cluster(1)
    }

    /// `n` servers in one JetStream cluster (n = 1: a single server, no cluster block).
    pub fn cluster(n: usize) -> Nats {
        let dir = std::env::temp_dir().join(format!("kestrel-nats-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let mut nodes = Vec::new();
        for (i, (port, cport)) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let store = dir.join(&name);
            let mut conf = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{port}\njetstream {{\n  store_dir: \"{}\"\n  max_memory_store: 64MB\n  max_file_store: 1GB\n}}\n",
                store.display()
            );
            if n > 1 {
                let routes: Vec<String> =
                    ports.iter().map(|(_, c)| format!("    nats-route://127.0.0.1:{c}")).collect();
                conf.push_str(&format!(
                    "cluster {{\n  name: kestrel-test\n  listen: 127.0.0.1:{cport}\n  routes: [\n{}\n  ]\n}}\n",
                    routes.join("\n")
                ));
            }
            let path = dir.join(format!("{name}.conf"));
            std::fs::write(&path, conf).expect("the NATS configuration");
            nodes.push(NatsNode { name, port: *port, conf: path, child: None });
        }
        let mut nats = Nats { dir, nodes };
        for i in 0..n {
            nats.restart(i);
        }
        nats
    }

    /// The client URL of every node, comma-separated (what a client is given to fail over).
    pub fn url(&self) -> String {
        self.nodes.iter().map(|n| format!("nats://127.0.0.1:{}", n.port)).collect::<Vec<_>>().join(",")
    }

    /// Kills node `i` (SIGKILL: a crash).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// (Re)starts node `i` with its data.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        let node = &mut self.nodes[i];
        let log = std::fs::File::create(self.dir.join(format!("{}.log", node.name))).expect("a log file");
        let child = Command::new(nats_bin())
            .arg("-c")
            .arg(&node.conf)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nats-server starts");
        node.child = Some(child);
        wait_for_port(node.port, "nats-server");
        // A node that could not bind its cluster port (taken since free_port gave it) exits: say so.
        std::thread::sleep(std::time::Duration::from_millis(100));
        if let Some(Ok(Some(status))) = node.child.as_mut().map(|c| c.try_wait()) {
            let log = std::fs::read_to_string(self.dir.join(format!("{}.log", node.name))).unwrap_or_default();
            panic!("nats-server {} exited ({status}):\n{log}", node.name);
        }
    }

    /// The servers' logs, for a failure message.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let log = std::fs::read_to_string(self.dir.join(format!("{}.log", n.name))).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                format!("--- {} (last lines)\n{}\n", n.name, tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
            })
            .collect()
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        // KESTREL_KEEP_SERVICES=1 keeps the servers' logs and data to look at after a failure.
        if std::env::var_os("KESTREL_KEEP_SERVICES").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("NATS logs and data kept in {}", self.dir.display());
        }
    }
}

/// An OCI registry of its own (Debian's `docker-registry`, the CNCF distribution registry, which
/// `scripts/setup` installs) on 127.0.0.1 over plain HTTP, its storage in a temporary directory; with
/// `auth`, HTTP Basic authentication from an htpasswd file (bcrypt). Images are pushed with skopeo.
pub struct Registry {
    dir: PathBuf,
    child: std::process::Child,
    /// Its port.
    pub port: u16,
    auth: Option<(String, String)>,
}

impl Registry {
    /// Starts a registry; `auth`: a user and password it demands.
    pub fn start(auth: Option<(&str, &str)>) -> Registry {
        let bin = ["/usr/bin/docker-registry", "/usr/local/bin/docker-registry", "/usr/bin/registry"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .expect("docker-registry is not installed: run scripts/setup");
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("kestrel-registry-{}-{port}", std::process::id()));
        std::fs::create_dir_all(dir.join("storage")).expect("a temporary directory");
        let mut conf = format!(
            "version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("storage").display()
        );
        if let Some((user, password)) = auth {
            let hash = bcrypt::hash(password, 4).expect("bcrypt");
            std::fs::write(dir.join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
            conf.push_str(&format!(
                "auth:\n  htpasswd: {{realm: kestrel-test, path: {}}}\n",
                dir.join("htpasswd").display()
            ));
        }
        std::fs::write(dir.join("config.yml"), conf).unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg("serve").arg(dir.join("config.yml"));
        let child = spawn_logged(cmd, &dir.join("registry.log"), "docker-registry");
        wait_for_port(port, "docker-registry");
        Registry { dir, child, port, auth: auth.map(|(u, p)| (u.to_string(), p.to_string())) }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Where the registry keeps a blob (to alter one, as an attacker with access to its storage would).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir.join("storage/docker/registry/v2/blobs/sha256").join(&hex[..2.min(hex.len())]).join(hex).join("data")
    }

    /// Pushes a `docker save` archive as `REPO:TAG` with skopeo.
    pub fn push_archive(&self, archive: &Path, repo_tag: &str) {
        self.push(&format!("docker-archive:{}", archive.display()), repo_tag, &[]);
    }

    /// Pushes an OCI archive as `REPO:TAG` with skopeo, every image of a multi-platform index and the index itself.
    pub fn push_oci_archive(&self, archive: &Path, repo_tag: &str) {
        self.push(&format!("oci-archive:{}", archive.display()), repo_tag, &["--all"]);
    }

    fn push(&self, source: &str, repo_tag: &str, extra: &[&str]) {
        let mut c = std::process::Command::new("skopeo");
        c.args(["copy", "--quiet", "--dest-tls-verify=false"]).args(extra);
        if let Some((u, p)) = &self.auth {
            c.arg(format!("--dest-creds={u}:{p}"));
        }
        let out = c
            .arg(source)
            .arg(format!("docker://{}/{repo_tag}", self.host()))
            .output()
            .expect("skopeo is not installed: run scripts/setup");
        assert!(
            out.status.success(),
            "skopeo copy to {repo_tag}: {}\nregistry log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An empty directory of the service's own below the temporary directory (one per service started in this process),
/// short enough for the Unix sockets it will hold.
fn fresh_dir(service: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("kestrel-{service}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// Starts `cmd` with its standard output and error in the file `log`; `program`: its name, for the message when it is
/// not installed.
fn spawn_logged(mut cmd: Command, log: &Path, program: &str) -> std::process::Child {
    let log = std::fs::File::create(log).unwrap();
    cmd.stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("{program} is not installed ({e}): run scripts/setup"))
}

/// Runs `cmd` to its end: its standard output, or its standard error when it fails.
fn run(mut cmd: Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    match out.status.success() {
        true => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

/// Waits until `socket` accepts a connection; after 30 s fails, showing `log()`.
fn wait_for_socket(socket: &Path, what: &str, log: impl Fn() -> String) {
    let t = std::time::Instant::now();
    while std::os::unix::net::UnixStream::connect(socket).is_err() {
        assert!(t.elapsed() < std::time::Duration::from_secs(30), "{what} did not start:\n{}", log());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Podman's API service (Debian's `podman`, which `scripts/setup` installs) on a Unix socket of its own, with
/// an image store of its own in a temporary directory (vfs storage, no systemd): the Docker-compatible API that
/// `kestrel image podman:NAME` and `docker-daemon:NAME` read from. Images are put in with `podman load`.
pub struct Podman {
    dir: PathBuf,
    child: std::process::Child,
    driver: &'static str,
}

impl Podman {
    /// Starts the service (vfs storage) and waits until its socket answers.
    pub fn start() -> Podman {
        Podman::start_with_driver("vfs")
    }

    /// [`Podman::start`] with another storage driver (`overlay`: what Podman and CRI-O use by default).
    pub fn start_with_driver(driver: &'static str) -> Podman {
        let dir = fresh_dir("podman");
        let mut cmd = Podman::command(&dir, driver);
        cmd.args(["system", "service", "--time=0"]).arg(format!("unix://{}", dir.join("api.sock").display()));
        let child = spawn_logged(cmd, &dir.join("podman.log"), "podman");
        let p = Podman { dir, child, driver };
        wait_for_socket(&p.socket(), "podman's API", || p.log());
        p
    }

    fn command(dir: &Path, driver: &str) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(dir.join("root"))
            .arg("--runroot")
            .arg(dir.join("run"))
            .arg("--tmpdir")
            .arg(dir.join("tmp"))
            .args(["--storage-driver", driver, "--cgroup-manager", "cgroupfs", "--events-backend", "file"]);
        c
    }

    /// The API's socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("api.sock")
    }

    /// `unix://SOCKET`, for `CONTAINER_HOST` or `DOCKER_HOST`.
    pub fn url(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Loads a `docker save` archive into the store (its tags come with it).
    pub fn load(&self, archive: &Path) {
        self.cli(&["load", "-q", "-i", archive.to_str().expect("a UTF-8 path")]);
    }

    /// The podman CLI on this store, with these arguments; its output, or a panic with its error.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut cmd = Podman::command(&self.dir, self.driver);
        cmd.args(args);
        run(cmd).unwrap_or_else(|e| panic!("podman {args:?}: {e}"))
    }

    /// The store's graph root (where `/var/lib/containers/storage` would be).
    pub fn graph_root(&self) -> PathBuf {
        self.dir.join("root")
    }

    /// What the service logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("podman.log")).unwrap_or_default()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // overlay bind-mounts its directory onto itself; vfs keeps each layer as a plain directory tree: remove it all.
        unmount_below(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Docker's engine (Debian's `docker.io`, which `scripts/setup` installs): `dockerd` on a socket of its own, with a
/// data root, exec root and containerd of its own in a temporary directory, no bridge and no iptables rules (nothing
/// of the host's networking is touched), and an empty daemon configuration (a host's /etc/docker/daemon.json is not
/// read). Images are put in with `docker load`.
pub struct Docker {
    dir: PathBuf,
    child: std::process::Child,
}

impl Docker {
    /// Starts the engine and waits until its API answers.
    pub fn start() -> Docker {
        let dir = fresh_dir("docker");
        std::fs::write(dir.join("daemon.json"), "{}").unwrap();
        let mut cmd = Command::new("dockerd");
        cmd.arg("--config-file")
            .arg(dir.join("daemon.json"))
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("--host")
            .arg(format!("unix://{}", dir.join("docker.sock").display()))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false"])
            // Containers a failed test left running are stopped within a second when the engine is.
            .arg("--shutdown-timeout=1");
        let child = spawn_logged(cmd, &dir.join("dockerd.log"), "dockerd");
        let d = Docker { dir, child };
        wait_for_socket(&d.socket(), "dockerd", || d.log());
        // The socket is bound before the API serves; `docker version` answers once it does.
        let t = std::time::Instant::now();
        while !d.docker().arg("version").output().is_ok_and(|o| o.status.success()) {
            assert!(t.elapsed() < std::time::Duration::from_secs(30), "dockerd did not answer:\n{}", d.log());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        d
    }

    /// The engine's API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    /// Its exec root (where `/run/docker` would be: runc's state is under `runtime-runc/moby`).
    pub fn exec_root(&self) -> PathBuf {
        self.dir.join("exec")
    }

    /// Its data root (where `/var/lib/docker` would be).
    pub fn data_root(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `unix://SOCKET`, for `DOCKER_HOST`.
    pub fn url(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The Docker CLI of the same package (`/usr/bin/docker`; a docker elsewhere on PATH may be another version)
    /// talking to this engine, with a CLI configuration directory of this engine's own.
    pub fn docker(&self) -> Command {
        let cli = Path::new("/usr/bin/docker");
        let mut c = Command::new(if cli.exists() { cli } else { Path::new("docker") });
        c.arg("--config").arg(self.dir.join("cli")).env("DOCKER_HOST", self.url()).env_remove("DOCKER_CONTEXT");
        c
    }

    /// Runs the Docker CLI on this engine with these arguments; its output, or a panic with its error.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut cmd = self.docker();
        cmd.args(args);
        run(cmd).unwrap_or_else(|e| panic!("docker {args:?}: {e}"))
    }

    /// Loads a `docker save` or OCI archive into the engine (its tags come with it).
    pub fn load(&self, archive: &Path) {
        self.cli(&["load", "-q", "-i", archive.to_str().expect("a UTF-8 path")]);
    }

    /// Loads `image` into the engine as `tag`.
    pub fn load_image(&self, image: &crate::Image, tag: &str) {
        let archive = self.dir.join("load.tar");
        image.write_docker_archive(&archive, &[tag]);
        self.load(&archive);
        let _ = std::fs::remove_file(&archive);
    }

    /// What the engine logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        // SIGTERM: dockerd stops the containerd it started and unmounts what it mounted before it exits.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let t = std::time::Instant::now();
        while self.child.try_wait().ok().flatten().is_none() && t.elapsed() < std::time::Duration::from_secs(15) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // dockerd leaves its default network namespace (exec/netns/default) mounted.
        unmount_below(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Unmounts (lazily, deepest first) whatever is mounted at or below `dir`: what a service left mounted in its
/// directory would keep it, and a mount table entry, after the test.
fn unmount_below(dir: &Path) {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else { return };
    let mut points: Vec<&str> =
        table.lines().filter_map(|l| l.split(' ').nth(4)).filter(|p| Path::new(p).starts_with(dir)).collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        if let Ok(c) = std::ffi::CString::new(p) {
            // SAFETY: a NUL-terminated path; umount2 only reads it.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// containerd (Debian's, which `scripts/setup` installs) on a socket of its own, with a root, state and content
/// store of its own in a temporary directory and no CRI plugin: the API `kestrel image containerd:NAME` reads from.
/// Images are put in with `ctr images import --no-unpack` (no snapshotter is needed to read them).
pub struct Containerd {
    dir: PathBuf,
    child: std::process::Child,
}

impl Containerd {
    /// Starts containerd and waits until its socket answers.
    pub fn start() -> Containerd {
        let dir = fresh_dir("containerd");
        let config = format!(
            "version = 2\nroot = {root:?}\nstate = {state:?}\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = {sock:?}\n[ttrpc]\n  address = {ttrpc:?}\n",
            root = dir.join("root"),
            state = dir.join("state"),
            sock = dir.join("containerd.sock"),
            ttrpc = dir.join("containerd.sock.ttrpc"),
        );
        std::fs::write(dir.join("config.toml"), config).unwrap();
        let mut cmd = Command::new("containerd");
        cmd.arg("--config").arg(dir.join("config.toml"));
        let child = spawn_logged(cmd, &dir.join("containerd.log"), "containerd");
        let c = Containerd { dir, child };
        wait_for_socket(&c.socket(), "containerd", || c.log());
        c
    }

    /// Its gRPC socket, for `CONTAINERD_ADDRESS`.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }

    /// Where its content store keeps blob `sha256:HEX`.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.dir.join("root/io.containerd.content.v1.content/blobs/sha256").join(hex)
    }

    /// `ctr` on this containerd, in namespace `ns`, with these arguments; panics unless it succeeds.
    pub fn ctr(&self, ns: &str, args: &[&str]) -> String {
        self.try_ctr(ns, args).unwrap_or_else(|e| panic!("ctr {args:?}: {e}"))
    }

    /// [`Containerd::ctr`], its output or its error message.
    pub fn try_ctr(&self, ns: &str, args: &[&str]) -> Result<String, String> {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address").arg(self.socket()).args(["--namespace", ns]).args(args);
        run(cmd)
    }

    /// Imports an archive (`docker save` or OCI) into namespace `ns`, without unpacking it; `extra`: more of
    /// `ctr images import`'s options.
    pub fn import(&self, ns: &str, archive: &Path, extra: &[&str]) {
        let path = archive.to_str().expect("a UTF-8 path");
        let mut args = vec!["images", "import", "--no-unpack"];
        args.extend_from_slice(extra);
        args.push(path);
        self.ctr(ns, &args);
    }

    /// What containerd logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A webhook receiver on a loopback port: records the path and JSON body of each request it answers with
/// 200, answering each in turn with the next of `statuses` (popped from the end; then 200), each after
/// `delay` (a long one: a webhook that hangs).
pub struct Webhook {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>,
}

impl Webhook {
    /// Listens on a free loopback port, serving each connection on a thread of its own.
    pub fn start(statuses: Vec<u16>, delay: std::time::Duration) -> Webhook {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("its address").to_string();
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (seen, statuses) = (got.clone(), std::sync::Arc::new(std::sync::Mutex::new(statuses)));
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (seen, statuses) = (seen.clone(), statuses.clone());
                std::thread::spawn(move || {
                    let _ = conn.set_nodelay(true);
                    let Ok(read) = conn.try_clone() else { return };
                    let (mut r, mut w) = (BufReader::new(read), conn);
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let path = line.split_whitespace().nth(1).unwrap_or_default().to_string();
                        let mut len = 0;
                        loop {
                            let mut h = String::new();
                            if r.read_line(&mut h).unwrap_or(0) == 0 {
                                return;
                            }
                            if h.trim().is_empty() {
                                break;
                            }
                            if let Some((k, v)) = h.split_once(':') {
                                if k.eq_ignore_ascii_case("content-length") {
                                    len = v.trim().parse().unwrap_or(0);
                                }
                            }
                        }
                        let mut body = vec![0; len];
                        if r.read_exact(&mut body).is_err() {
                            return;
                        }
                        std::thread::sleep(delay);
                        let status = statuses.lock().map(|mut s| s.pop().unwrap_or(200)).unwrap_or(200);
                        if status == 200 {
                            let v = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                            if let Ok(mut seen) = seen.lock() {
                                seen.push((path, v));
                            }
                        }
                        // One write: a response in pieces would wait on Nagle and the client's delayed ACK.
                        let _ = w.write_all(format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n").as_bytes());
                    }
                });
            }
        });
        Webhook { addr, got }
    }

    /// What it has received so far: path and body of each request answered with 200.
    pub fn received(&self) -> Vec<(String, serde_json::Value)> {
        self.got.lock().map(|g| g.clone()).unwrap_or_default()
    }
}
