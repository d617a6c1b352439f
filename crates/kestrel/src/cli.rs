//! Command-line grammar.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  findings at or above the --fail-on severity (or the code given with --exit-code)
  2  usage error, or an input that cannot be read (the message names the file and the reason)";

/// kestrel — container security from build to run time.
#[derive(Parser, Debug)]
#[command(name = "kestrel", version, about, long_about = None, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Print nothing but the result (no progress, no warnings summary).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More log output on stderr (-v info, -vv debug; or set KESTREL_LOG).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Read options from this YAML file: a section per command, keyed by its long options (`detect:
    /// {profiles: /srv/profiles, rules: [a.yaml]}`). The command line wins, then the environment, then the
    /// file, then the defaults.
    #[arg(long, global = true, value_name = "FILE", env = "KESTREL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the command's effective options — each with where it came from (command line, environment,
    /// file, default) — as a configuration file, and exit.
    #[arg(long, global = true)]
    pub show_config: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scan a container image (from Docker's, Podman's or containerd's store, a registry, a docker save archive or
    /// an OCI image layout): every package and its known vulnerabilities.
    #[command(after_help = "Examples:
  kestrel image nginx:1.25                         Docker's, Podman's or containerd's store, else its registry
  kestrel image containerd:registry.k8s.io/pause:3.9  a Kubernetes node's image (namespace k8s.io)
  kestrel image --input app.tar                    a `docker save` archive
  kestrel image oci:./layout:1.2                   tag 1.2 of an OCI image layout
  kestrel image oci:./layout --platform linux/arm64
  kestrel image app.tar -f cyclonedx -o sbom.cdx.json
  kestrel image oci-archive.tar -f spdx            an OCI layout packed in a tar
  kestrel image app.tar --fail-on high             exit 1 on high or critical vulnerabilities
  kestrel image app.tar -f sarif -o kestrel.sarif  findings for a code-scanning dashboard
  kestrel image app.tar --scanners none -f json    the inventory alone

Image references:
  NAME                  an image name that is no file (nginx:1.25, reg:5000/app@sha256:…),
                        looked for in the places --image-src names, in order
  docker-daemon:NAME    the Docker engine's store (also docker:NAME; DOCKER_HOST, else the
                        current `docker context`, else /var/run/docker.sock)
  podman:NAME           Podman's store, through its API socket (CONTAINER_HOST, default
                        /run/podman/podman.sock; `systemctl enable --now podman.socket` opens it)
  containerd:NAME       containerd's store, through its API (CONTAINERD_ADDRESS, default
                        /run/containerd/containerd.sock; CONTAINERD_NAMESPACE, default: every
                        namespace, k8s.io first)
  containers-storage:NAME  the store Podman and CRI-O share, read directly, no engine (also
                        cri-o:NAME; [DRIVER@ROOT]NAME names a store, default: storage.conf's
                        graphroot, else /var/lib/containers/storage)
  docker://REF          read from its registry as it downloads (docker login's credentials)
  docker-archive:PATH   a `docker save` archive (also: --input PATH)
  oci:DIR[:TAG]         an OCI image layout directory (also oci-dir:); TAG picks from its index
  oci-archive:PATH[:TAG] an OCI layout in a tar
  -                     an archive on standard input (docker save app | kestrel image -)
  PATH                  detected: a directory with oci-layout, or a tar")]
    Image(ImageArgs),
    /// Scan an unpacked root file system (a directory, or a tar of one): packages and vulnerabilities.
    #[command(after_help = "Examples:
  kestrel rootfs /var/lib/machines/web
  kestrel rootfs rootfs.tar.gz -f json")]
    Rootfs(PathArgs),
    /// Check the packages of an SBOM (CycloneDX JSON, SPDX 2.x JSON, or kestrel's JSON) for vulnerabilities.
    #[command(after_help = "Examples:
  kestrel sbom app.cdx.json
  syft app.tar -o cyclonedx-json | kestrel sbom - --fail-on critical
  kestrel sbom app.spdx.json -f sarif")]
    Sbom(SbomArgs),
    /// Scan a project directory: the packages it declares and holds (lock files, manifests, vendored
    /// packages) and their vulnerabilities; or one file of it (a lock file) alone.
    #[command(after_help = "Examples:
  kestrel fs .
  kestrel fs ~/src/app -f cyclonedx -o app.cdx.json
  kestrel fs package-lock.json")]
    Fs(PathArgs),
    /// Watch what processes in containers do, in real time (eBPF; root, kernel ≥ 5.8 with BTF).
    #[command(after_help = "Examples:
  kestrel monitor                                   containers under the usual runtime cgroups
  kestrel monitor --kind exec,connect -f table
  kestrel monitor --cgroup /sys/fs/cgroup/kubepods.slice --duration 60 > events.jsonl
  kestrel monitor --all --stats                     every process of the host

Output: one JSON object per line (kestrel.event/v1) when piped, a table on a terminal.")]
    Monitor(MonitorArgs),
    /// Record what containers do into a labelled file, for replay and evaluation.
    #[command(after_help = "Examples:
  kestrel record --runc-parent kestrel-lab --out web.jsonl.zst --duration 60 --label scenario=normal")]
    Record(RecordArgs),
    /// Replay a recording through the same filters and output as `monitor` (no privileges needed).
    #[command(after_help = "Examples:
  kestrel replay web.jsonl.zst --kind exec -f table")]
    Replay(ReplayArgs),
    /// Learn what each workload normally does, from the live sensor or from recordings, into profiles.
    #[command(after_help = "Examples:
  kestrel learn --profiles /var/lib/kestrel/profiles web-1.jsonl.zst web-2.jsonl.zst web-3.jsonl.zst
  kestrel learn --profiles ./profiles --live --duration 3600 --syscalls
  kestrel learn --profiles ./profiles --workload-by label lab/*.jsonl.zst

A behaviour counts as normal only when seen in at least K containers (-k), or in T time windows (-t) for
a workload that never had K containers while learning: one compromised replica cannot teach the profile.")]
    Learn(LearnArgs),
    /// Detect: built-in and your Falco-style rules, and every workload's profile, over the live sensor or
    /// recordings; prints alerts with their explanation.
    #[command(after_help = "Examples:
  kestrel detect --profiles ./profiles attack.jsonl.zst
  kestrel detect --live --profiles ./profiles --rules my_rules.yaml -f json
  kestrel detect --rules falco_rules.yaml --no-builtin-rules trace.jsonl.zst

Output: one alert per line (kestrel.alert/v1) when piped or with -f json, readable text on a terminal.")]
    Detect(DetectArgs),
    /// Load rule files and report what kestrel supports of them (rules loaded, fields and operators missing).
    #[command(after_help = "Examples:
  kestrel rules falco_rules.yaml falco-incubating_rules.yaml
  kestrel rules --format json my_rules.yaml")]
    Rules(RulesArgs),
    /// Manage learned profiles: list, show, set the mode, roll back, merge (federated).
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Automated response: the audit log of decisions, approval of pending actions, undo.
    #[command(subcommand)]
    Respond(RespondCommand),
    /// Check Kubernetes manifests (any workload kind, Helm or kustomize output, YAML or JSON) against every
    /// Pod Security Standards control, CIS Kubernetes 5.x and NSA/CISA hardening; Dockerfiles, image
    /// configurations and daemon.json against CIS Docker 1.6.
    #[command(after_help = "Examples:
  kestrel config deploy/                        every .yaml, .yml and .json file under deploy/
  helm template ./chart | kestrel config -       rendered Helm output (or kustomize build)
  kestrel config k8s/ -f sarif -o config.sarif   for a code-scanning dashboard
  kestrel config k8s/ --fail-on high             exit 1 on a high or critical finding (a CI gate)
  kestrel config k8s/ --pss-level baseline --skip 'k8s:image-*'
  kestrel config Dockerfile /etc/docker/daemon.json --image app.tar
  kestrel config k8s/ --policy docs/policies     custom Rego policies, same findings

Each finding names the file, resource, line and field, says how to fix it and which controls it breaks
(Pod Security Standards findings are `pss:LEVEL:CHECK`, with upstream's check ids).")]
    Config(ConfigArgs),
    /// Find hardcoded credentials in files and directories: provider tokens (AWS, GCP, Azure, GitHub, GitLab,
    /// Slack, Stripe, Twilio, SendGrid, npm, PyPI), private keys, JWTs, passwords in URLs and assignments,
    /// Docker registry auths, Kubernetes Secrets. Every secret is reported redacted.
    #[command(after_help = "Examples:
  kestrel secrets .
  kestrel secrets rootfs/ -f sarif -o secrets.sarif
  kestrel secrets src/ --fail-on high                 a CI gate
  kestrel secrets --image app.tar                    every layer, deleted files too")]
    Secrets(SecretsArgs),
    /// Hold a scan against a standard: every control pass, fail (with the findings as evidence), manual or not
    /// evaluated; a readable, printable HTML report, JSON, and a CI gate.
    #[command(after_help = "Examples:
  kestrel compliance --spec cis-k8s-1.9 deploy/
  kestrel compliance --spec pss-restricted k8s/ -f html -o pss.html
  kestrel compliance --spec nist-800-190 k8s/ Dockerfile --image app.tar --results app-scan.json
  kestrel compliance --spec pci-dss-4.0 deploy/ --fail-on-fail       exit 1 when a control fails
  kestrel compliance --list

Specs: cis-docker-1.6, cis-k8s-1.9, pss-restricted, nsa-cisa-1.0, nist-800-190, pci-dss-4.0, hipaa, or a spec
file (YAML: id, title, standard, controls). --results adds a `kestrel image -f json` report (vulnerabilities,
malicious packages, end-of-life OS).")]
    Compliance(ComplianceArgs),
    /// Manage the vulnerability database (download, fetch from or send to a server, import, export, status,
    /// look up).
    #[command(subcommand)]
    Db(DbCommand),
    /// Measure the detection models on a benchmark.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// The fleet server: one HTTP API for scan reports from CI and alerts, decisions and profiles from node
    /// agents, stored in SQLite (default) or PostgreSQL, with Prometheus metrics.
    #[command(after_help = "Examples:
  kestrel server                                            127.0.0.1:8470, SQLite in the data directory
  kestrel server --listen 0.0.0.0:8470 --tokens tokens.yaml --store postgres://kestrel@db/kestrel
  kestrel server token --role agent --name node-1 >> tokens.yaml.new
  kestrel image app.tar --server http://127.0.0.1:8470 --server-token $KESTREL_TOKEN

With neither --tokens nor KESTREL_SERVER_TOKEN, an admin token is made on first start and kept (mode 0600) in
the data directory; its path is printed.")]
    Server(ServerCommand),
    /// A Kubernetes validating admission webhook (HTTPS): refuses, or warns on, pods and workloads that
    /// break the policy — Pod Security level, images from forbidden registries, images whose latest scan on
    /// the kestrel server has vulnerabilities over the bar.
    #[command(after_help = "Examples:
  kestrel admission --policy admission.yaml --tls-cert tls.crt --tls-key tls.key
  kestrel admission cert --out certs/ --name kestrel-admission.kestrel.svc   a CA and a server certificate

The deployment (Deployment, Service, ValidatingWebhookConfiguration) is in deploy/admission.yaml.")]
    Admission(AdmissionCommand),
    /// Continuous image scanning of a registry or of a node's containerd store: every image is scanned when it
    /// appears or changes, every known image is matched again when the vulnerability database changes, and
    /// each report goes to the kestrel server (which raises an alert when an image running on a node becomes
    /// affected).
    #[command(after_help = "Examples:
  kestrel watch --registry registry.corp.example --server http://kestrel:8470 --server-token $TOKEN
  kestrel watch --registry 127.0.0.1:5000 --repo shop/web --repo shop/api --every 600
  kestrel watch --registry ghcr.io --repo org/app --once        one pass (a CI job or a cron entry)
  kestrel watch --containerd --server http://kestrel:8470 --server-token $TOKEN
                              a Kubernetes node's images, read from containerd's store (no registry
                              credentials needed; CONTAINERD_ADDRESS, CONTAINERD_NAMESPACE)

Credentials come from the Docker and Podman auth files (docker login). Plain HTTP only for registries on the
loopback interface and those in KESTREL_INSECURE_REGISTRIES.")]
    Watch(RegistryWatchArgs),
    /// Scan images queued by `kestrel watch --nats` (a JetStream work queue shared by any number of workers),
    /// sending each report to the kestrel server.
    #[command(after_help = "Examples:
  kestrel scan-worker --nats nats://n1:4222,nats://n2:4222 --server http://kestrel:8470 --server-token $TOKEN
  kestrel scan-worker --nats nats://127.0.0.1:4222 --once      until the queue is empty")]
    ScanWorker(ScanWorkerArgs),
    /// List the catalogers and what they read.
    Catalogers,
}

/// `kestrel watch`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["registry", "containerd", "containers_storage"])))]
pub struct RegistryWatchArgs {
    /// The registry (HOST[:PORT]).
    #[arg(long, value_name = "HOST")]
    pub registry: Option<String>,
    /// Watch containerd's image store instead of a registry (`CONTAINERD_ADDRESS`, default
    /// /run/containerd/containerd.sock; `CONTAINERD_NAMESPACE`, default every namespace): each image is reported
    /// under its name (one report per tag; the CRI plugin's digest and id records of a tagged image are not
    /// reported again).
    #[arg(long, conflicts_with_all = ["repos", "nats"])]
    pub containerd: bool,
    /// Watch containers-storage instead (a CRI-O node's images, Podman's), read directly: the default store
    /// (storage.conf's graphroot, else /var/lib/containers/storage), or the one `[DRIVER@ROOT]` names. Each image
    /// is reported under each of its names.
    #[arg(
        long,
        value_name = "[DRIVER@ROOT]",
        num_args = 0..=1,
        default_missing_value = "",
        conflicts_with_all = ["repos", "nats", "containerd", "registry"]
    )]
    pub containers_storage: Option<String>,
    /// Repositories to watch (repeatable; default: every one the registry's catalog lists).
    #[arg(long = "repo", value_name = "REPO")]
    pub repos: Vec<String>,
    /// Seconds between passes.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub every: u64,
    /// One pass, then exit.
    #[arg(long)]
    pub once: bool,
    /// Where the digests seen and the inventories are kept between passes (default: DATA_DIR/watch).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Platform to scan of multi-platform images (default: the host's).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Queue the scans on NATS JetStream at these URLs for `kestrel scan-worker` processes instead of scanning
    /// here (images already known are still matched again here when the database changes, from the server's
    /// reports).
    #[arg(long, value_name = "URLS", env = "KESTREL_NATS")]
    pub nats: Option<String>,
    /// Before each pass, fetch the vulnerability database from --server when it changed there (no way out to
    /// OSV needed; images are matched again when it did). A pass whose fetch fails goes on with the database
    /// it has.
    #[arg(long, requires = "server")]
    pub db_from_server: bool,
    #[command(flatten)]
    pub vuln: VulnArgs,
    #[command(flatten)]
    pub upload: UploadArgs,
}

/// `kestrel scan-worker`.
#[derive(Args, Debug)]
pub struct ScanWorkerArgs {
    /// NATS JetStream URLs (comma-separated).
    #[arg(long, value_name = "URLS", env = "KESTREL_NATS")]
    pub nats: String,
    /// Stop when the queue is empty.
    #[arg(long)]
    pub once: bool,
    /// Platform to scan of multi-platform images (default: the host's).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Fetch the vulnerability database from --server when it changed there, before a job and at most once a
    /// minute. A failed fetch goes on with the database it has.
    #[arg(long, requires = "server")]
    pub db_from_server: bool,
    /// Seconds before a failed scan is tried again (by any worker); after 5 tries it is taken off the queue.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub retry_after: u64,
    #[command(flatten)]
    pub vuln: VulnArgs,
    #[command(flatten)]
    pub upload: UploadArgs,
}

/// `kestrel admission` and its helper.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AdmissionCommand {
    #[command(subcommand)]
    pub command: Option<AdmissionSub>,
    #[command(flatten)]
    pub run: AdmissionRunArgs,
}

#[derive(Subcommand, Debug)]
pub enum AdmissionSub {
    /// Make a certificate authority and a server certificate for the webhook (PEM: ca.crt, tls.crt, tls.key).
    Cert(AdmissionCertArgs),
}

#[derive(Args, Debug)]
pub struct AdmissionCertArgs {
    /// Where to write ca.crt, tls.crt and tls.key.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// DNS names of the webhook's Service (repeatable; the first is the certificate's common name).
    #[arg(long, value_name = "DNS", default_values_t = ["kestrel-admission.kestrel.svc".to_string()])]
    pub name: Vec<String>,
}

#[derive(Args, Debug)]
pub struct AdmissionRunArgs {
    /// Address and port to serve HTTPS on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:8443")]
    pub listen: String,
    /// The policy (YAML); without one, pods are held to Pod Security baseline. Its vulnerability gate reads
    /// the kestrel server's token from its `token_file`, else from KESTREL_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The server certificate chain (PEM).
    #[arg(long, value_name = "FILE", default_value = "/etc/kestrel/tls/tls.crt")]
    pub tls_cert: PathBuf,
    /// Its private key (PEM).
    #[arg(long, value_name = "FILE", default_value = "/etc/kestrel/tls/tls.key")]
    pub tls_key: PathBuf,
}

/// Which processes the sensor watches.
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Watch every process of the host (default: processes in containers).
    #[arg(long)]
    pub all: bool,
    /// Watch the processes of this cgroup (v2 directory) and its descendants (repeatable). Default: the
    /// usual parents of container cgroups (system.slice, kubepods, machine.slice, docker, …), those not made yet
    /// (Docker's before its first container) from the moment they are made.
    #[arg(long, value_name = "DIR")]
    pub cgroup: Vec<PathBuf>,
    /// A cgroup path (relative to the cgroup2 root) under which runc containers live, named by their
    /// directory (repeatable); it is watched too.
    #[arg(long, value_name = "PATH")]
    pub runc_parent: Vec<String>,
    /// Also stream the system-call ids of the watched cgroups' threads (`syscalls` events, for the sequence
    /// models). Costs every system call of the host a check while on.
    #[arg(long)]
    pub syscalls: bool,
    /// Also look at each open when it returns, and judge a read by the opened file's own name: a sensitive
    /// file read through a symbolic link is then seen too. Costs every system call of the host ≈ 18 ns (a
    /// `sys_exit` tracepoint); without it, opens are judged when made, relative paths resolved against their
    /// directory.
    #[arg(long)]
    pub open_returns: bool,
    /// Report every file opened for reading, not only sensitive ones: the profiles then learn which files each
    /// program reads, and a service reading what it never read (its own source, /etc/passwd, another
    /// tenant's data) is flagged. Costs an event per read-only open (docs/BENCHMARKS.md: the lab's services
    /// open few files once started).
    #[arg(long)]
    pub reads: bool,
    /// Do without these event kinds (comma-separated): their system-call probes are not loaded, so a workload
    /// that makes those calls by the million pays nothing for them — and nothing of them is seen (rules and
    /// profiles that need them go blind there; a recording's header names the kinds reported, and a profile
    /// learned without a kind does not judge it). What each costs: docs/BENCHMARKS.md.
    #[arg(long, value_delimiter = ',', value_name = "LIST",
          value_parser = clap::builder::PossibleValuesParser::new(kestrel_sensor::LEAVABLE.iter().map(|(k, _)| *k)))]
    pub leave_out: Vec<String>,
    /// Docker's data root, where its containers' configurations are (default: `data-root` in
    /// /etc/docker/daemon.json, else /var/lib/docker): for a dockerd run with `--data-root DIR`.
    #[arg(long, value_name = "DIR")]
    pub docker_root: Option<PathBuf>,
    /// Where the node's root file system is seen from here, for an agent in a container: the container
    /// runtimes' state (runc's, the bundles, Docker's) is read below it. With the node's PID namespace
    /// (`hostPID`, as the Helm chart runs the agent) and CAP_SYS_PTRACE that is /proc/1/root.
    #[arg(long, value_name = "DIR")]
    pub host_root: Option<PathBuf>,
    /// The node's kubelet (e.g. https://$NODE_IP:10250), asked for the names, namespaces and labels of the
    /// pods whose containers are seen; the service account's token is sent when there is one.
    #[arg(long, value_name = "URL")]
    pub kubelet: Option<String>,
    /// A file holding the bearer token for the kubelet (default: the pod's service-account token).
    #[arg(long, value_name = "FILE", requires = "kubelet")]
    pub kubelet_token: Option<PathBuf>,
    /// The CA (PEM) that signed the kubelet's serving certificate.
    #[arg(long, value_name = "FILE", requires = "kubelet")]
    pub kubelet_ca: Option<PathBuf>,
    /// Accept the kubelet's certificate without checking it (kubelets often serve a self-signed one).
    #[arg(long, requires = "kubelet")]
    pub kubelet_insecure: bool,
}

/// Which events are kept.
#[derive(Args, Debug)]
pub struct EventFilter {
    /// Only these kinds (comma-separated; docs/EVENT-JSON.md says what each carries).
    #[arg(long, value_delimiter = ',', value_name = "LIST",
          value_parser = clap::builder::PossibleValuesParser::new(kestrel_core::EVENT_KINDS))]
    pub kind: Vec<String>,
    /// Only this container (id or id prefix).
    #[arg(long, value_name = "ID")]
    pub container: Option<String>,
}

#[derive(Args, Debug)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub watch: WatchArgs,
    #[command(flatten)]
    pub filter: EventFilter,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Print the sensor's counters (received, dropped by cause) on stderr every few seconds and at the end.
    #[arg(long)]
    pub stats: bool,
    /// Output format (default: table on a terminal, json otherwise).
    #[arg(short, long, value_enum)]
    pub format: Option<MonitorFormat>,
}

#[derive(Args, Debug)]
pub struct RecordArgs {
    #[command(flatten)]
    pub watch: WatchArgs,
    #[command(flatten)]
    pub filter: EventFilter,
    /// The recording to write (zstd-compressed JSON lines: a kestrel.trace/v1 header, then events).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// A label kept in the recording's header (repeatable): scenario=reverse-shell, attack_start_ns=…
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Print the sensor's counters on stderr.
    #[arg(long)]
    pub stats: bool,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A recording made by `kestrel record` (`-`: standard input; zstd-compressed or plain).
    pub trace: PathBuf,
    #[command(flatten)]
    pub filter: EventFilter,
    /// Output format (default: table on a terminal, json otherwise).
    #[arg(short, long, value_enum)]
    pub format: Option<MonitorFormat>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorFormat {
    /// One readable line per event.
    Table,
    /// One JSON object per line (kestrel.event/v1).
    Json,
}

/// Where events come from, for learn and detect.
#[derive(Args, Debug)]
pub struct SourceArgs {
    /// Recordings made by `kestrel record` (replayed in order; `-`: standard input; zstd-compressed or plain).
    pub traces: Vec<PathBuf>,
    /// Read the live sensor instead (root).
    #[arg(long)]
    pub live: bool,
    #[command(flatten)]
    pub watch: WatchArgs,
    /// Stop the live sensor after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// The profile directory.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/kestrel/profiles")]
    pub profiles: PathBuf,
    /// How containers are grouped into workloads: by image (or Kubernetes workload), each container on its
    /// own, or by the recording's `workload`/`image` label.
    #[arg(long, value_enum, default_value = "image")]
    pub workload_by: WorkloadByArg,
    /// Every container watched belongs to this one workload (runc containers without an image name, a lab).
    #[arg(long, value_name = "NAME", conflicts_with = "workload_by")]
    pub workload: Option<String>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadByArg {
    Image,
    Container,
    Label,
}

#[derive(Args, Debug)]
pub struct LearnArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Containers a behaviour must be seen in to count.
    #[arg(short, default_value_t = 2, value_parser = at_least_one::<usize>)]
    pub k: usize,
    /// Time windows a behaviour must be seen in to count (workloads with fewer than K containers).
    #[arg(short, default_value_t = 3, value_parser = at_least_one::<usize>)]
    pub t: usize,
    /// Length of a time window, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECONDS", value_parser = at_least_one::<u64>)]
    pub window: u64,
    /// Put the learned profiles in this mode at once (default: they stay in learn mode and are promoted by
    /// `kestrel detect` after a stable learning period).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Drift policy of new profiles.
    #[arg(long, value_enum, default_value = "approve")]
    pub drift: DriftArg,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeArg {
    Learn,
    Monitor,
    Protect,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftArg {
    Relearn,
    Approve,
}

#[derive(Args, Debug)]
pub struct DetectArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (events, alerts by severity, alerts folded into
    /// summaries, detection and action latency, the sensor's counters and drops, shipping).
    #[arg(long, value_name = "ADDR:PORT", env = "KESTREL_METRICS")]
    pub metrics: Option<String>,
    /// A Falco-style rule file, or a directory of them (its *.yaml and *.yml in name order) (repeatable;
    /// later files may append to earlier ones).
    #[arg(long, value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Leave out kestrel's built-in rules.
    #[arg(long)]
    pub no_builtin_rules: bool,
    /// No profiles: rules only.
    #[arg(long)]
    pub no_profiles: bool,
    /// Save the profiles at the end (learning, promotions, drift); the default for --live.
    #[arg(long)]
    pub save: bool,
    /// Output format (default: text on a terminal, json otherwise).
    #[arg(short, long, value_enum)]
    pub format: Option<MonitorFormat>,
    /// Print counters (events, alerts, latency) on stderr at the end.
    #[arg(long)]
    pub stats: bool,
    /// Alike alerts — one container's one rule, or one container's one view of its profile — sent one by one
    /// in a window, at most; the rest are counted and sent as one summary when the window closes, its most unusual
    /// titles named first. The response engine still judges each; a more severe one, and one it acts on (or would,
    /// in a dry run, or waits for approval on), still goes out. 0 sends every alert.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub fold_after: u32,
    /// The window of --fold-after, from the first alert of a kind.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub fold_window: u64,
    /// Act on alerts as this response policy says (YAML; dry run unless it says `dry_run: false`). Only
    /// workloads in protect mode are acted on.
    #[arg(long, value_name = "POLICY")]
    pub respond: Option<PathBuf>,
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// The response audit log.
    #[arg(long, value_name = "FILE", default_value = "/var/lib/kestrel/response.jsonl")]
    pub audit: PathBuf,
    #[command(flatten)]
    pub ship: ShipArgs,
}

/// Posting new alerts to webhooks (`kestrel server`, and `kestrel detect` on a node without a server).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Notifications")]
pub struct NotifyArgs {
    /// Post every new alert (at or above --notify-severity) to this webhook (repeatable): `URL` or `json:URL`
    /// for kestrel's JSON (kestrel.notification/v1), `chat:URL` (or `slack:URL`) for a chat message
    /// (`{"text": …}`: Slack, Mattermost, Rocket.Chat); `chat@critical:URL`, `json@low:URL` give a webhook its
    /// own least severity. Ingest and detection never wait for it; what cannot be posted is
    /// counted (kestrel_server_notifications_total). A webhook's URL is a secret: KESTREL_NOTIFY
    /// (comma-separated) keeps it out of the command line.
    #[arg(
        long = "notify",
        value_name = "WEBHOOK",
        value_parser = kestrel_server::notify::Target::parse,
        value_delimiter = ',',
        env = "KESTREL_NOTIFY",
        hide_env_values = true
    )]
    pub notify: Vec<kestrel_server::notify::Target>,
    /// The least severity notified.
    #[arg(long, value_name = "SEVERITY", default_value = "high")]
    pub notify_severity: kestrel_core::Severity,
    /// A chat hears of alerts alike (the same rule or model, workload and node) at most once in this many
    /// seconds; its next message about them says how many it was spared (0: every one). JSON webhooks get all.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub notify_quiet: u64,
    /// A webhook whose post failed every attempt is tried again — after 5 s, then after pauses doubling up to
    /// 5 minutes — for this many seconds, what came for it meanwhile waiting behind in order; then the post is
    /// given up and counted as failed (0: at once).
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub notify_retry_for: u64,
}

/// Sending alerts and response decisions to a fleet server.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Fleet server")]
pub struct ShipArgs {
    /// Also send alerts and response decisions to this kestrel server (batched; spooled to disk while it
    /// cannot be reached).
    #[arg(long, value_name = "URL", env = "KESTREL_SERVER")]
    pub server: Option<String>,
    /// The agent's bearer token (role agent, named for this node).
    #[arg(long, value_name = "TOKEN", env = "KESTREL_TOKEN", hide_env_values = true)]
    pub server_token: Option<String>,
    /// This node's name (default: the host name).
    #[arg(long, value_name = "NAME", env = "KESTREL_NODE")]
    pub node: Option<String>,
    /// The spool directory.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/kestrel/spool")]
    pub spool: PathBuf,
    /// The spool's size bound, MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub spool_max_mib: u64,
    /// Publish to NATS JetStream at these URLs (comma-separated) instead of sending to --server over HTTP.
    #[arg(long, value_name = "URLS", env = "KESTREL_NATS")]
    pub nats: Option<String>,
    /// Trust this CA (PEM) for an https:// --server (instead of the Web PKI roots).
    #[arg(long, value_name = "FILE", env = "KESTREL_SERVER_CA")]
    pub server_ca: Option<PathBuf>,
    /// Mutual TLS: this node's certificate (PEM, `kestrel server cert --client NODE`) ...
    #[arg(long, value_name = "FILE", env = "KESTREL_CLIENT_CERT", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// ... and its key.
    #[arg(long, value_name = "FILE", env = "KESTREL_CLIENT_KEY", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum RespondCommand {
    /// Every decision with its latest state (acted, dry-run, pending-approval, rate-limited, failed, undone…).
    List(RespondListArgs),
    /// Approve a pending action and carry it out.
    Approve(RespondIdArgs),
    /// Reverse an action (pause → resume, isolate → restore the network, unblock, release a pod, scale
    /// back, uncordon, give permissions back).
    Undo(RespondIdArgs),
    /// Settle the actions a crash of the agent left between intent and outcome (checked against the
    /// workload: in effect → acted; not → interrupted, a half-done isolation removed). `detect --respond`
    /// does this at start.
    Recover(RespondAuditArgs),
}

#[derive(Args, Debug)]
pub struct RespondAuditArgs {
    /// The audit log.
    #[arg(long, value_name = "FILE", default_value = "/var/lib/kestrel/response.jsonl")]
    pub audit: PathBuf,
}

#[derive(Args, Debug)]
pub struct RespondListArgs {
    /// The audit log.
    #[arg(long, value_name = "FILE", default_value = "/var/lib/kestrel/response.jsonl")]
    pub audit: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: EvalFormat,
}

#[derive(Args, Debug)]
pub struct RespondIdArgs {
    /// The decision's id (from `kestrel respond list`).
    pub id: String,
    /// The audit log.
    #[arg(long, value_name = "FILE", default_value = "/var/lib/kestrel/response.jsonl")]
    pub audit: PathBuf,
    /// The response policy (for approve: its limits are not applied to an approved action).
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RulesArgs {
    /// Rule files (Falco's YAML format), or directories of them (their *.yaml and *.yml in name order).
    pub files: Vec<PathBuf>,
    /// Leave out kestrel's built-in rules.
    #[arg(long)]
    pub no_builtin: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: EvalFormat,
}

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// The profiles in a directory: workload, version, mode, what they learned.
    List(ProfileDirArgs),
    /// One workload's profile: its behaviours, trusted or not.
    Show(ProfileWorkloadArgs),
    /// Set a workload's mode (learn, monitor, protect).
    Mode(ProfileModeArgs),
    /// Start a new version in learn mode (after drift, approved by a person).
    Relearn(ProfileWorkloadArgs),
    /// Make an earlier version current.
    Rollback(ProfileRollbackArgs),
    /// Merge one workload's profiles learned on several nodes (no raw events): a behaviour counts when at
    /// least K nodes trust it.
    Merge(ProfileMergeArgs),
    /// Fetch a workload's profile merged on the fleet server from every node's (federated learning:
    /// `detect --live --server` sends each node's), and make it this node's current profile.
    Pull(ProfilePullArgs),
}

#[derive(Args, Debug)]
pub struct ProfilePullArgs {
    /// The workload.
    pub workload: String,
    /// Nodes that must trust a behaviour.
    #[arg(short, default_value_t = 2, value_parser = at_least_one::<usize>)]
    pub k: usize,
    /// Write the merged profile into this profile directory.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/kestrel/profiles")]
    pub profiles: PathBuf,
    /// The kestrel server.
    #[arg(long, value_name = "URL", env = "KESTREL_SERVER")]
    pub server: String,
    /// Its token (agent or viewer).
    #[arg(long, value_name = "TOKEN", env = "KESTREL_TOKEN", hide_env_values = true)]
    pub server_token: String,
    /// Trust this CA (PEM) for an https:// --server (instead of the Web PKI roots).
    #[arg(long, value_name = "FILE", env = "KESTREL_SERVER_CA")]
    pub server_ca: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ProfileDirArgs {
    /// The profile directory.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/kestrel/profiles")]
    pub profiles: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: EvalFormat,
}

#[derive(Args, Debug)]
pub struct ProfileWorkloadArgs {
    /// The workload.
    pub workload: String,
    #[command(flatten)]
    pub dir: ProfileDirArgs,
}

#[derive(Args, Debug)]
pub struct ProfileModeArgs {
    /// The workload.
    pub workload: String,
    /// The mode.
    #[arg(value_enum)]
    pub mode: ModeArg,
    #[command(flatten)]
    pub dir: ProfileDirArgs,
}

#[derive(Args, Debug)]
pub struct ProfileRollbackArgs {
    /// The workload.
    pub workload: String,
    /// The version to make current.
    #[arg(value_name = "VERSION")]
    pub to_version: u32,
    #[command(flatten)]
    pub dir: ProfileDirArgs,
}

#[derive(Args, Debug)]
pub struct ProfileMergeArgs {
    /// Profile files of the same workload, one per node (`NODE=FILE` names the node; the file name otherwise).
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Nodes that must trust a behaviour.
    #[arg(short, default_value_t = 2, value_parser = at_least_one::<usize>)]
    pub k: usize,
    /// Write the merged profile into this profile directory.
    #[arg(long, value_name = "DIR")]
    pub profiles: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// The system-call sequence models on a directory laid out like ADFA-LD: learn on
    /// Training_Data_Master, set thresholds on Validation_Data_Master, detect Attack_Data_Master.
    #[command(after_help = "Examples:
  kestrel eval adfa ../shared/data/adfa-ld
  kestrel eval adfa ADFA-LD --format json -o adfa.json

Prints ROC AUC and the detection rate at 1 % and 5 % false alarms (measured on the validation normals)
for kestrel's detector and for each model it combines, with the detection rate per attack family.")]
    Adfa(EvalAdfaArgs),
    /// The Pod Security Standards checks on upstream's labelled admission fixtures: every `fail` fixture
    /// must be flagged under its check, every `pass` fixture must be clean at its level.
    #[command(after_help = "Examples:
  kestrel eval pss ../shared/data/pod-security-admission")]
    Pss(EvalPssArgs),
    /// Rules and profiles on the runtime lab's labelled recordings: learn profiles from normal-load
    /// recordings, count false alarms on held-out normal load, and check that every attack scenario is
    /// detected after its start.
    #[command(after_help = "Examples:
  kestrel eval lab --learn learn-busybox.jsonl.zst --learn learn-web.jsonl.zst \\
      --normal heldout-busybox.jsonl.zst --normal heldout-web.jsonl.zst lab-recordings/*.jsonl.zst

An alarm after the attack's start marker counts as a detection; before it, or in the held-out normal load, as
a false alarm (alarms of one container less than 10 s apart count once). Workloads are the recordings'
`image` labels. Reported for rules alone, profiles alone, and both.")]
    Lab(EvalLabArgs),
    /// DNS names through the rules: which of them the rules alert on (the built-in rule for names carrying
    /// encoded data, with its list of zones that hold such names by design, and any rule of yours on `dns`
    /// events), to try the rules on your own resolver's names before you deploy them.
    #[command(after_help = "Examples:
  kestrel eval dns names.txt
  kestrel eval dns --format json recording.jsonl.zst
  kestrel eval dns --rules my-zones.yaml names.txt

A file is a recording made by `kestrel record` (its DNS questions, with the process that asked each) or a list of
names, one per line (empty lines and lines starting with `#` skipped), written as kestrel writes them: bytes other
than letters, digits, `-` and `_` as `\\DDD`, a dot inside a label as `\\.`. Names of a list are asked for A
records by a process of a container. Shares are of distinct names.")]
    Dns(EvalDnsArgs),
    /// Scoring speed on one core: recordings loaded into memory, profiles learned from --learn, then
    /// the events replayed through rules, profiles, and both, timed.
    #[command(after_help = "Examples:
  kestrel eval speed --learn learn-web.jsonl.zst heldout-web.jsonl.zst --min-events 2000000
  kestrel eval speed --learn learn-web.jsonl.zst --no-builtin-rules --rules falco_rules.yaml heldout-web.jsonl.zst")]
    Speed(EvalSpeedArgs),
}

#[derive(Args, Debug)]
pub struct EvalSpeedArgs {
    /// Recordings to replay (in memory).
    #[arg(required = true)]
    pub traces: Vec<PathBuf>,
    /// Normal-load recordings to learn the profiles from.
    #[arg(long, value_name = "FILE", required = true)]
    pub learn: Vec<PathBuf>,
    /// Replay the recordings again until at least this many events went through.
    #[arg(long, default_value_t = 1_000_000)]
    pub min_events: u64,
    /// A Falco-style rule file, or a directory of them, for the rules (repeatable; after the built-in rules
    /// unless left out).
    #[arg(long, value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Leave out kestrel's built-in rules (time only the files given with --rules).
    #[arg(long)]
    pub no_builtin_rules: bool,
}

#[derive(Args, Debug)]
pub struct EvalLabArgs {
    /// Scenario recordings (lab/run.sh), each with its attack marker.
    pub scenarios: Vec<PathBuf>,
    /// Normal-load recordings to learn the profiles from (lab/normal.sh).
    #[arg(long, value_name = "FILE", required = true)]
    pub learn: Vec<PathBuf>,
    /// Held-out normal-load recordings, for false alarms per container-hour.
    #[arg(long, value_name = "FILE")]
    pub normal: Vec<PathBuf>,
    /// Containers a behaviour must be seen in while learning.
    #[arg(short, default_value_t = 2, value_parser = at_least_one::<usize>)]
    pub k: usize,
    /// A Falco-style rule file, or a directory of them, for the rules (repeatable; after the built-in rules
    /// unless left out).
    #[arg(long, value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Leave out kestrel's built-in rules (evaluate only the files given with --rules).
    #[arg(long)]
    pub no_builtin_rules: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: EvalFormat,
}

#[derive(Args, Debug)]
pub struct EvalDnsArgs {
    /// Lists of names (one per line) or recordings (`-`: a list of names on standard input).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// A Falco-style rule file, or a directory of them (repeatable; after the built-in rules unless left out):
    /// a list of your zones appended to kestrel_encoded_dns_zones, a rule of yours.
    #[arg(long, value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Leave out kestrel's built-in rules.
    #[arg(long)]
    pub no_builtin_rules: bool,
    /// How many of the names alerted on to show.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub show: usize,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: EvalFormat,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Files or directories (`-` reads standard input): Kubernetes manifests, Dockerfiles, image configs
    /// (`config.json`), Docker's `daemon.json`.
    #[arg(required_unless_present_any = ["image", "list"])]
    pub paths: Vec<PathBuf>,
    /// Also check this image's configuration (user, health check, ports, environment, volumes, build
    /// history): any image `kestrel image` reads — a name, `podman:NAME`, `docker://REF`, `oci:DIR[:TAG]`, an
    /// archive (repeatable).
    #[arg(long, value_name = "IMAGE")]
    pub image: Vec<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: ConfigFormatArg,
    /// Write the report here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The Pod Security Standards level to hold workloads to (baseline leaves out restricted-level findings).
    #[arg(long, value_enum, default_value = "restricted")]
    pub pss_level: PssLevelArg,
    /// Report only these severities (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub severity: Vec<kestrel_core::Severity>,
    /// Leave out these checks (ids or globs, repeatable: `k8s:image-*`).
    #[arg(long, value_name = "ID")]
    pub skip: Vec<String>,
    #[command(flatten)]
    pub gate: GateArgs,
    /// Custom policies in Rego: a `.rego` file or a directory of them (packages under `kestrel`, a `deny`
    /// rule of findings; see docs/policies/registries.rego).
    #[arg(long, value_name = "PATH")]
    pub policy: Option<PathBuf>,
    /// List every check with its controls and exit.
    #[arg(long)]
    pub list: bool,
}

/// `--fail-on` and `--exit-code`: the CI gate of the scanning commands.
#[derive(Args, Debug)]
pub struct GateArgs {
    /// Fail (exit 1, or the --exit-code value) when a finding of this severity or worse remains.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<kestrel_core::Severity>,
    /// Exit with CODE when findings remain after the filters (with --fail-on: findings at or above it).
    #[arg(long, value_name = "CODE", value_parser = clap::value_parser!(u8).range(1..))]
    pub exit_code: Option<u8>,
}

impl GateArgs {
    /// The exit code for findings of these severities: with a threshold, findings at or above it fail; with
    /// only an exit code, any finding does.
    pub fn exit(&self, severities: impl IntoIterator<Item = kestrel_core::Severity>) -> std::process::ExitCode {
        let mut severities = severities.into_iter();
        let failing = match self.fail_on {
            Some(t) => severities.any(|s| s >= t),
            None => self.exit_code.is_some() && severities.next().is_some(),
        };
        if failing {
            std::process::ExitCode::from(self.exit_code.unwrap_or(1))
        } else {
            std::process::ExitCode::SUCCESS
        }
    }
}

#[derive(Args, Debug)]
pub struct SecretsArgs {
    /// Files or directories.
    #[arg(required_unless_present = "image")]
    pub paths: Vec<PathBuf>,
    /// Allowlist (YAML: fingerprints, paths, rules). Default: .kestrel-secrets.yaml in the current directory,
    /// when present. A line with `kestrel:allow` is always skipped.
    #[arg(long, value_name = "FILE")]
    pub allow: Option<PathBuf>,
    /// Images to scan, every layer (files deleted by a later layer too): any image `kestrel image` reads — a
    /// name, `podman:NAME`, `docker://REF`, `oci:DIR[:TAG]`, an archive (repeatable).
    #[arg(long, value_name = "IMAGE")]
    pub image: Vec<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: ConfigFormatArg,
    /// Write the report here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub gate: GateArgs,
}

#[derive(Args, Debug)]
pub struct ComplianceArgs {
    /// The spec: a built-in id (cis-docker-1.6, cis-k8s-1.9, pss-restricted, nsa-cisa-1.0, nist-800-190,
    /// pci-dss-4.0, hipaa; `--list` says what each holds) or a spec file.
    #[arg(long, value_name = "SPEC", required_unless_present = "list")]
    pub spec: Option<String>,
    /// Files or directories to scan (`-` reads standard input).
    pub paths: Vec<PathBuf>,
    /// Images whose configuration (and, unless --no-secrets, every layer) to check (repeatable).
    #[arg(long, value_name = "IMAGE")]
    pub image: Vec<String>,
    /// `kestrel image -f json` reports (their vulnerabilities) and `kestrel secrets -f json` reports count
    /// too (repeatable).
    #[arg(long, value_name = "FILE")]
    pub results: Vec<PathBuf>,
    /// Do not look for hardcoded credentials in the paths and the images' layers (looked for by default:
    /// NIST SP 800-190 4.1.4, CIS Docker 4.10, PCI DSS 8.6.2).
    #[arg(long)]
    pub no_secrets: bool,
    /// The secrets allowlist (as `kestrel secrets --allow`). Default: .kestrel-secrets.yaml in the current
    /// directory, when present.
    #[arg(long, value_name = "FILE")]
    pub allow: Option<PathBuf>,
    /// Custom Rego policies (as `kestrel config --policy`).
    #[arg(long, value_name = "PATH")]
    pub policy: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: ComplianceFormatArg,
    /// Write the report here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 (or --exit-code) when a control fails.
    #[arg(long)]
    pub fail_on_fail: bool,
    /// The exit code of --fail-on-fail.
    #[arg(long, value_name = "CODE", value_parser = clap::value_parser!(u8).range(1..))]
    pub exit_code: Option<u8>,
    /// List the built-in specs and exit.
    #[arg(long)]
    pub list: bool,
    #[command(flatten)]
    pub upload: UploadArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComplianceFormatArg {
    Table,
    Json,
    Html,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigFormatArg {
    Table,
    Json,
    Sarif,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PssLevelArg {
    Baseline,
    Restricted,
}

#[derive(Args, Debug)]
pub struct EvalPssArgs {
    /// A directory laid out like pod-security-admission's fixtures: LEVEL/pass|fail/CHECKn.yaml.
    pub dir: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: EvalFormat,
}

#[derive(Args, Debug)]
pub struct EvalAdfaArgs {
    /// The data set's directory.
    pub dir: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: EvalFormat,
    /// Write the result here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Leave out the neural language model (it takes most of the time).
    #[arg(long)]
    pub no_neural: bool,
    /// Passes of the neural model over the training calls.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub epochs: usize,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalFormat {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Download OSV data for every ecosystem (and CISA's known-exploited list) and swap it in atomically;
    /// or, with --server, fetch the database a kestrel server holds.
    #[command(after_help = "Examples:
  kestrel db update
  kestrel db update --base-url https://mirror.example.com/osv --ecosystem Debian --ecosystem PyPI
  HTTPS_PROXY=http://proxy:3128 kestrel db update
  kestrel db update --server https://kestrel.example --server-token \"$TOKEN\"

The default base URL is OSV's public bucket; each ecosystem is fetched from BASE/ECOSYSTEM/all.zip. From a
server only a database that differs from the one here is transferred (compressed), checked, then swapped in.")]
    Update(DbUpdateArgs),
    /// Send this database to a kestrel server (admin token), which serves it to agents and watchers from then
    /// on: for an air-gapped cluster, build it where OSV is reachable (or `kestrel db import` files carried
    /// in) and push it.
    #[command(after_help = "Examples:
  kestrel db update && kestrel db push --server https://kestrel.example --server-token \"$ADMIN_TOKEN\"")]
    Push(DbPushArgs),
    /// Import files for air-gapped use: an OSV all.zip, a directory of OSV JSON/YAML records (and of
    /// all.zip files: a mirror of OSV's `<Ecosystem>/all.zip`, each its ecosystem's source), Debian
    /// DSA.list/DLA.list, Alpine secdb JSON, CISA KEV JSON. Each replaces the source it holds. A whole
    /// database (`kestrel db export`'s file) replaces the database.
    #[command(after_help = "Examples:
  kestrel db import PyPI-all.zip Debian-all.zip
  kestrel db import DSA.list DLA.list alpine-v3.20-main.json
  kestrel db import ./advisories/ --source internal
  kestrel db import ./osv-mirror/      # PyPI/all.zip, Go/all.zip, …: osv:PyPI, osv:Go, …
  kestrel db import kestrel-db.sqlite.zst          # from `kestrel db export` on a connected machine")]
    Import(DbImportArgs),
    /// Write this database, checked and zstd-compressed, to a file that `kestrel db import` takes on a machine
    /// with no way out (and no server to fetch from).
    #[command(after_help = "Examples:
  kestrel db update && kestrel db export kestrel-db.sqlite.zst")]
    Export(DbExportArgs),
    /// Show the database: sources, record counts, age.
    Status(DbStatusArgs),
    /// Show the advisories with an id or alias (CVE-…, GHSA-…, DSA-…).
    Show(DbShowArgs),
}

#[derive(Args, Debug)]
pub struct DbDirArg {
    /// The database directory (default: $XDG_CACHE_HOME/kestrel/db, else ~/.cache/kestrel/db).
    #[arg(long, value_name = "DIR", env = "KESTREL_DB_DIR")]
    pub db_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DbUpdateArgs {
    /// Base URL of OSV data (a mirror with OSV's bucket layout).
    #[arg(long, value_name = "URL", env = "KESTREL_DB_BASE_URL")]
    pub base_url: Option<String>,
    /// Fetch only these OSV ecosystems (repeatable; default: all kestrel catalogs).
    #[arg(long, value_name = "NAME")]
    pub ecosystem: Vec<String>,
    /// URL of the known-exploited vulnerabilities list (CISA KEV JSON; an empty value skips it).
    #[arg(long, value_name = "URL", conflicts_with = "no_kev", env = "KESTREL_KEV_URL")]
    pub kev_url: Option<String>,
    /// Do not fetch the known-exploited list.
    #[arg(long)]
    pub no_kev: bool,
    /// Fetch the database this kestrel server serves instead (only when it differs from the one here).
    #[arg(long, value_name = "URL", conflicts_with_all = ["base_url", "ecosystem", "kev_url", "no_kev"])]
    pub server: Option<String>,
    /// The bearer token for --server (any role).
    #[arg(long, value_name = "TOKEN", env = "KESTREL_TOKEN", hide_env_values = true)]
    pub server_token: Option<String>,
    /// Trust this CA (PEM) for an https:// --server (instead of the Web PKI roots).
    #[arg(long, value_name = "FILE", env = "KESTREL_SERVER_CA", requires = "server")]
    pub server_ca: Option<PathBuf>,
    /// Take the server's database even when the one here was built after it (a rollback); by default only a
    /// newer one replaces it, so nodes asking several server replicas move only forward.
    #[arg(long, requires = "server")]
    pub even_older: bool,
    #[command(flatten)]
    pub dir: DbDirArg,
}

#[derive(Args, Debug)]
pub struct DbPushArgs {
    /// The kestrel server to send the database to.
    #[arg(long, value_name = "URL", env = "KESTREL_SERVER")]
    pub server: String,
    /// An admin's bearer token for --server.
    #[arg(long, value_name = "TOKEN", env = "KESTREL_TOKEN", hide_env_values = true)]
    pub server_token: String,
    /// Trust this CA (PEM) for an https:// --server (instead of the Web PKI roots).
    #[arg(long, value_name = "FILE", env = "KESTREL_SERVER_CA")]
    pub server_ca: Option<PathBuf>,
    #[command(flatten)]
    pub dir: DbDirArg,
}

#[derive(Args, Debug)]
pub struct DbImportArgs {
    /// Files or directories to import.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Name the source (default: derived from the content, e.g. osv:PyPI, debian-tracker:DSA).
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    #[command(flatten)]
    pub dir: DbDirArg,
}

#[derive(Args, Debug)]
pub struct DbExportArgs {
    /// The file to write (zstd-compressed).
    pub file: PathBuf,
    #[command(flatten)]
    pub dir: DbDirArg,
}

#[derive(Args, Debug)]
pub struct DbStatusArgs {
    /// Output format (table or json).
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub dir: DbDirArg,
}

#[derive(Args, Debug)]
pub struct DbShowArgs {
    /// The id or alias.
    pub id: String,
    /// Output format (table or json).
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub dir: DbDirArg,
}

#[derive(Args, Debug)]
pub struct SbomArgs {
    /// The SBOM file (`-` reads standard input).
    pub path: PathBuf,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub vuln: VulnArgs,
}

/// A place an image named without a scheme can come from.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSource {
    /// The Docker engine's image store (`DOCKER_HOST`, default /var/run/docker.sock).
    Docker,
    /// Podman's image store, through its API socket (`CONTAINER_HOST`, default /run/podman/podman.sock).
    Podman,
    /// containers-storage, the store Podman, Buildah and CRI-O share, read directly (no engine):
    /// /etc/containers/storage.conf's graphroot or /var/lib/containers/storage for root,
    /// ~/.local/share/containers/storage for a user.
    #[value(name = "containers-storage")]
    ContainersStorage,
    /// containerd's image store, through its API socket (`CONTAINERD_ADDRESS`, default
    /// /run/containerd/containerd.sock), in `CONTAINERD_NAMESPACE` or else every namespace.
    Containerd,
    /// The image's registry (read with docker login's credentials).
    Registry,
}

impl ImageSource {
    /// `--image-src`'s default.
    pub const DEFAULT_ORDER: [ImageSource; 5] = [
        ImageSource::Docker,
        ImageSource::Podman,
        ImageSource::ContainersStorage,
        ImageSource::Containerd,
        ImageSource::Registry,
    ];
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scanner {
    /// Vulnerable, malicious and end-of-life components (needs the database).
    Vuln,
    /// Hardcoded credentials in every file of every layer (files a later layer deletes too), redacted.
    Secret,
    /// No scanner: the inventory alone.
    None,
}

/// What to look for, and which findings count.
#[derive(Args, Debug)]
#[command(next_help_heading = "Vulnerabilities")]
pub struct VulnArgs {
    /// Scanners to run (comma-separated): vuln, secret, or none for the inventory alone.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "vuln,secret", env = "KESTREL_SCANNERS")]
    pub scanners: Vec<Scanner>,
    /// Secrets allowlist (as `kestrel secrets --allow`). Default: .kestrel-secrets.yaml in the current
    /// directory, when present.
    #[arg(long, value_name = "FILE")]
    pub secrets_allow: Option<PathBuf>,
    /// Report only these severities (comma-separated: critical,high,medium,low,unknown).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub severity: Vec<kestrel_core::Severity>,
    /// Leave out vulnerabilities that have no fix yet.
    #[arg(long)]
    pub ignore_unfixed: bool,
    #[command(flatten)]
    pub gate: GateArgs,
    /// Ignore file (YAML: entries with id, reason, optional package and expires).
    /// Default: .kestrelignore.yaml in the current directory, when present.
    #[arg(long, value_name = "FILE")]
    pub ignore_file: Option<PathBuf>,
    /// OpenVEX documents: not_affected and fixed statements suppress findings (repeatable).
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    /// Never download: fail when there is no database.
    #[arg(long)]
    pub offline: bool,
    /// Warn when the database is older than this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub max_db_age: u32,
    #[command(flatten)]
    pub dir: DbDirArg,
}

#[derive(Args, Debug)]
pub struct ImageArgs {
    /// The image: a name (`nginx:1.25`), `docker-daemon:NAME`, `podman:NAME`, `docker://REF`, `oci:DIR[:TAG]`,
    /// `docker-archive:PATH`, `oci-archive:PATH[:TAG]`, a path, or `-`: an archive on standard input (`docker save
    /// app | kestrel image -`), read as it streams in.
    #[arg(value_name = "IMAGE", required_unless_present = "input")]
    pub image: Option<String>,
    /// A `docker save` archive (same as `docker-archive:PATH`).
    #[arg(long, value_name = "FILE", conflicts_with = "image")]
    pub input: Option<PathBuf>,
    /// Pick this tag (or manifest digest) when the archive or layout holds several images.
    #[arg(long)]
    pub tag: Option<String>,
    /// Pick this platform from a multi-platform index (default: the host's), e.g. `linux/arm64`.
    #[arg(long)]
    pub platform: Option<String>,
    /// Where an image named without a scheme is looked for, in order (comma-separated): docker (the Docker
    /// engine's store), podman (Podman's, through its API socket), containers-storage (the store Podman and
    /// CRI-O share, read directly), containerd (containerd's, through its API socket), registry (read as it
    /// downloads). A path that exists is always read as a file.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "docker,podman,containers-storage,containerd,registry",
        env = "KESTREL_IMAGE_SRC",
        value_name = "SOURCES"
    )]
    pub image_src: Vec<ImageSource>,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub vuln: VulnArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub upload: UploadArgs,
}

/// Sending the report to a fleet server as well.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Fleet server")]
pub struct UploadArgs {
    /// Also send the report (kestrel's JSON, whatever -f says) to this kestrel server.
    #[arg(long, value_name = "URL", env = "KESTREL_SERVER")]
    pub server: Option<String>,
    /// The bearer token for --server (role ci or agent).
    #[arg(long, value_name = "TOKEN", env = "KESTREL_TOKEN", hide_env_values = true)]
    pub server_token: Option<String>,
    /// Trust this CA (PEM) for an https:// --server (instead of the Web PKI roots).
    #[arg(long, value_name = "FILE", env = "KESTREL_SERVER_CA")]
    pub server_ca: Option<PathBuf>,
}

/// `kestrel server` and its helpers.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServerCommand {
    #[command(subcommand)]
    pub command: Option<ServerSub>,
    #[command(flatten)]
    pub run: ServerRunArgs,
}

#[derive(Subcommand, Debug)]
pub enum ServerSub {
    /// Make a new token: prints the token (give it to its holder) and its line for the token file.
    Token(ServerTokenArgs),
    /// Make certificates for HTTPS and mutual TLS: a CA, the server's, and one per agent (PEM files).
    Cert(ServerCertArgs),
}

#[derive(Args, Debug)]
pub struct ServerCertArgs {
    /// Where to write ca.crt, server.crt, server.key and NODE.crt, NODE.key for each --client.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The server's DNS names or IP addresses (repeatable).
    #[arg(long, value_name = "NAME", required = true)]
    pub name: Vec<String>,
    /// An agent's node name: a client certificate for it (repeatable).
    #[arg(long, value_name = "NODE")]
    pub client: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ServerTokenArgs {
    /// What it may do: viewer, ci, agent (writes as the node named --name), admin.
    #[arg(long, value_parser = ["viewer", "ci", "agent", "admin"])]
    pub role: String,
    /// Who holds it (for an agent: its node name).
    #[arg(long)]
    pub name: String,
}

#[derive(Args, Debug)]
pub struct ServerRunArgs {
    /// Serve HTTPS with this certificate chain (PEM) ...
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// ... and its key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: every client must present a certificate this CA signed (`kestrel server cert --client`);
    /// for a replica agents talk to (people and CI use another one without it; replicas share the store).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8470", env = "KESTREL_LISTEN")]
    pub listen: String,
    /// Storage: `sqlite:PATH` (default: server.db in the data directory) or `postgres://USER:PASS@HOST/DB`.
    #[arg(long, value_name = "URL", env = "KESTREL_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// The token file (YAML: name, role, sha256 of each token; see `kestrel server token`).
    #[arg(long, value_name = "FILE", env = "KESTREL_TOKENS")]
    pub tokens: Option<PathBuf>,
    /// The data directory (default: /var/lib/kestrel as root, else $XDG_DATA_HOME/kestrel or
    /// ~/.local/share/kestrel).
    #[arg(long, value_name = "DIR", env = "KESTREL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Delete alerts, decisions and reports older than this many days (0: keep everything).
    #[arg(long, value_name = "DAYS", default_value_t = 90)]
    pub retention_days: u64,
    /// Also consume what agents publish to NATS JetStream at these URLs (comma-separated: every node of
    /// the cluster). Several servers with the same --nats share the work.
    #[arg(long, value_name = "URLS", env = "KESTREL_NATS")]
    pub nats: Option<String>,
    /// Replicas of the JetStream stream when this server creates it (3 on a three-node cluster).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub nats_replicas: usize,
    /// The stream's size bound, MiB (agents spool to disk when it is full).
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    pub nats_max_mib: i64,
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// The dashboard's address as people reach it (`https://kestrel.example`): notifications link to the
    /// alert's page there.
    #[arg(long, value_name = "URL", env = "KESTREL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The vulnerability database served to agents, watchers and CI at /api/v1/vulndb (`kestrel db update
    /// --server URL` fetches it). Default: DATA_DIR/db. Fill it with `kestrel db update --db-dir DIR` where the
    /// server runs, `kestrel db push --server URL` from another machine, or --db-update-every.
    #[arg(long, value_name = "DIR", env = "KESTREL_DB_DIR")]
    pub db_dir: Option<PathBuf>,
    /// Update that database from OSV (or --db-base-url) every this many hours, the first time at start
    /// when it is missing or older (0: never; the server then serves what is put there).
    #[arg(long, value_name = "HOURS", default_value_t = 0)]
    pub db_update_every: u64,
    /// Base URL of OSV data for --db-update-every (a mirror with OSV's bucket layout).
    #[arg(long, value_name = "URL", env = "KESTREL_DB_BASE_URL")]
    pub db_base_url: Option<String>,
    /// The OSV ecosystems --db-update-every fetches (repeatable; default: all kestrel catalogs).
    #[arg(long, value_name = "NAME")]
    pub db_ecosystem: Vec<String>,
    /// The known-exploited list --db-update-every fetches (CISA KEV JSON; default CISA's; an empty value
    /// skips it).
    #[arg(long, value_name = "URL", env = "KESTREL_KEV_URL")]
    pub db_kev_url: Option<String>,
}

/// The inventory cache: an image's inventory is stored under its content address (the config digest, which
/// names every layer), so a second scan of the same image reads no layer.
#[derive(Args, Debug)]
#[command(next_help_heading = "Cache")]
pub struct CacheArgs {
    /// Do not read or write the inventory cache (every layer is read and verified).
    #[arg(long)]
    pub no_cache: bool,
    /// The inventory cache directory (default: $XDG_CACHE_HOME/kestrel/sboms, else ~/.cache/kestrel/sboms).
    #[arg(long, value_name = "DIR", env = "KESTREL_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct PathArgs {
    /// The directory (or, for rootfs, a tar of it, plain or compressed; `-` reads the tar from standard input:
    /// `docker export CONTAINER | kestrel rootfs -`).
    pub path: PathBuf,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub vuln: VulnArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Args, Debug)]
pub struct OutputArgs {
    /// Output format (default: table on a terminal, json otherwise).
    #[arg(short, long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Write the result to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// A table for people.
    Table,
    /// kestrel's JSON (kestrel.report/v1 with findings; kestrel.sbom/v1 with --scanners none).
    Json,
    /// CycloneDX 1.5 JSON (with vulnerabilities).
    #[value(alias = "cdx")]
    Cyclonedx,
    /// SPDX 2.3 JSON (the inventory).
    #[value(alias = "spdx-json")]
    Spdx,
    /// SARIF 2.1.0 (findings, for code-scanning dashboards).
    Sarif,
}

/// Bounds against hostile images; the defaults fit any real image.
#[derive(Args, Debug)]
pub struct LimitArgs {
    /// Largest uncompressed layer, in bytes.
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub max_layer_bytes: Option<u64>,
    /// Largest uncompressed image (all layers), in bytes.
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub max_total_bytes: Option<u64>,
    /// Largest compression ratio of a layer (decompression-bomb guard).
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_ratio: Option<u64>,
    /// Most files, directories and links in one artifact.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_entries: Option<u64>,
    /// Most file content kept in memory for analysis, in bytes.
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub max_kept_bytes: Option<u64>,
    /// Largest manifest, index or image configuration, in bytes.
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub max_metadata_bytes: Option<u64>,
}

impl LimitArgs {
    pub fn limits(&self) -> kestrel_image::Limits {
        let mut l = kestrel_image::Limits::default();
        if let Some(v) = self.max_layer_bytes {
            l.max_layer_bytes = v;
        }
        if let Some(v) = self.max_total_bytes {
            l.max_total_bytes = v;
        }
        if let Some(v) = self.max_ratio {
            l.max_ratio = v;
        }
        if let Some(v) = self.max_entries {
            l.max_entries = v;
        }
        if let Some(v) = self.max_kept_bytes {
            l.max_kept_total = v;
        }
        if let Some(v) = self.max_metadata_bytes {
            l.max_metadata_bytes = v;
        }
        l
    }
}

/// A count that must be at least one (`-k`, `-t`: a behaviour seen nowhere is never trusted; `--window`).
fn at_least_one<T: std::str::FromStr + PartialOrd + From<u8>>(s: &str) -> Result<T, String> {
    match s.parse::<T>() {
        Ok(v) if v >= T::from(1) => Ok(v),
        Ok(_) => Err("must be 1 or more".into()),
        Err(_) => Err("not a whole number".into()),
    }
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over every subcommand (duplicate names, bad defaults…).
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    /// `compliance --spec`'s help names every built-in spec (it is written out by hand).
    #[test]
    fn the_spec_help_names_every_built_in_spec() {
        use clap::CommandFactory;
        let cmd = super::Cli::command();
        let compliance = cmd.find_subcommand("compliance").unwrap();
        let spec = compliance.get_arguments().find(|a| a.get_id() == "spec").unwrap();
        let help = spec.get_help().unwrap().to_string();
        for id in kestrel_config::compliance::spec_ids() {
            assert!(help.contains(id), "{id} missing from: {help}");
        }
    }
}
