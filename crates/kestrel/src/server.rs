//! `kestrel server` (the fleet server, from kestrel-server), `kestrel server token`, and sending a scan report
//! to a server (`--server` on the scans).

use crate::cli::{ServerCommand, ServerRunArgs, ServerSub};
use anyhow::{bail, Context, Result};
use kestrel_server::auth::{new_token, Role, TokenFile, Tokens};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn run(a: ServerCommand) -> Result<ExitCode> {
    match a.command {
        Some(ServerSub::Token(t)) => {
            let role: Role = serde_yaml::from_str(&t.role).context("role")?;
            let (token, entry) = new_token(&t.name, role).map_err(anyhow::Error::msg)?;
            note!("kestrel: the token (give it to {}; it is not stored anywhere):", t.name);
            say!("{token}");
            note!("kestrel: its entry for the token file (under `tokens:`):");
            let yaml = serde_yaml::to_string(&TokenFile { tokens: vec![entry] })?;
            eprint!("{}", yaml.trim_start_matches("tokens:\n"));
            Ok(ExitCode::SUCCESS)
        }
        Some(ServerSub::Cert(c)) => {
            let certs = kestrel_server::admission::certificates(&c.name, &c.client).map_err(anyhow::Error::msg)?;
            std::fs::create_dir_all(&c.out).with_context(|| format!("creating {}", c.out.display()))?;
            let mut files = vec![
                ("ca.crt".to_string(), certs.ca.clone(), 0o644),
                ("server.crt".to_string(), certs.server.0.clone(), 0o644),
                ("server.key".to_string(), certs.server.1.clone(), 0o600),
            ];
            for (node, cert, key) in &certs.clients {
                if !node.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
                    bail!("--client {node:?}: a node name (letters, digits, `-`, `_`, `.`)");
                }
                files.push((format!("{node}.crt"), cert.clone(), 0o644));
                files.push((format!("{node}.key"), key.clone(), 0o600));
            }
            for (name, text, mode) in files {
                write_with_mode(&c.out.join(&name), &text, mode)?;
            }
            note!(
                "kestrel: ca.crt, server.crt/key and {} client certificates in {}",
                certs.clients.len(),
                c.out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        None => serve(a.run),
    }
}

fn data_dir(a: &ServerRunArgs) -> PathBuf {
    if let Some(d) = &a.data_dir {
        return d.clone();
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/lib/kestrel");
    }
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("kestrel")
}

/// The admin token kept in the data directory: read, or made (mode 0600) on first start.
fn admin_token(dir: &Path) -> Result<(String, PathBuf, bool)> {
    let path = dir.join("admin.token");
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok((t.trim().to_string(), path, false)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let (token, _) = new_token("admin", Role::Admin).map_err(anyhow::Error::msg)?;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(f, "{token}").with_context(|| format!("writing {}", path.display()))?;
    Ok((token, path, true))
}

fn serve(a: ServerRunArgs) -> Result<ExitCode> {
    let dir = data_dir(&a);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating the data directory {}", dir.display()))?;
    let url = a.store.clone().unwrap_or_else(|| format!("sqlite:{}", dir.join("server.db").display()));
    let mut tokens = match &a.tokens {
        Some(p) => {
            let text = crate::read_input_text(p, 16 << 20, "a token file")?;
            Tokens::parse(&p.display().to_string(), &text).map_err(anyhow::Error::msg)?
        }
        None => Tokens::default(),
    };
    if let Ok(t) = std::env::var("KESTREL_SERVER_TOKEN") {
        if !t.trim().is_empty() {
            tokens.add(t.trim(), "admin", Role::Admin);
        }
    }
    if tokens.is_empty() {
        let (token, path, made) = admin_token(&dir)?;
        tokens.add(&token, "admin", Role::Admin);
        note!(
            "kestrel: no tokens configured: the admin token is in {} ({})",
            path.display(),
            if made { "made now" } else { "from an earlier start" }
        );
    }
    let listen: std::net::SocketAddr =
        a.listen.parse().with_context(|| format!("--listen {}: not an ADDR:PORT", a.listen))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    rt.block_on(async move {
        let store = kestrel_store::Store::open(&url).await?;
        let listener = match &a.tls_cert {
            Some(_) => None,
            None => {
                Some(tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?)
            }
        };
        note!(
            "kestrel: server listening on {}://{} (storage: {} {}, {}{})",
            if listener.is_some() { "http" } else { "https" },
            listener.as_ref().and_then(|l| l.local_addr().ok()).unwrap_or(listen),
            serde_json::to_value(store.backend())?.as_str().unwrap_or("?"),
            store.url(),
            kestrel_core::counted(tokens.len(), "token"),
            if a.client_ca.is_some() { ", client certificates required" } else { "" }
        );
        if a.retention_days > 0 {
            let store = store.clone();
            let keep_ns = a.retention_days as i64 * 86_400 * 1_000_000_000;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
                loop {
                    tick.tick().await;
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos() as i64);
                    match store.prune(now - keep_ns).await {
                        Ok(p) if p.alerts + p.decisions + p.reports > 0 => tracing::info!("retention: pruned {p:?}"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!("retention: {e}"),
                    }
                }
            });
        }
        // What waits for a webhook that is down is kept in the data directory across restarts.
        let waiting = Some(dir.join("notify-waiting.json"));
        let notifier = a.notify.start(a.public_url.clone(), true, waiting)?.map(std::sync::Arc::new);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let consumer = match &a.nats {
            Some(urls) => {
                let client = kestrel_server::bus::connect(urls).await.map_err(anyhow::Error::msg)?;
                note!("kestrel: consuming from NATS JetStream at {urls}");
                let store = store.clone();
                let (replicas, max, notifier) = (a.nats_replicas, a.nats_max_mib << 20, notifier.clone());
                Some(tokio::spawn(async move {
                    kestrel_server::bus::consume(client, store, replicas, max, stop_rx, notifier).await
                }))
            }
            None => None,
        };
        let db_dir = a.db_dir.clone().unwrap_or_else(|| dir.join("db"));
        let shelf = kestrel_server::vulndb::Shelf::new(db_dir.clone(), dir.join("vulndb-served"));
        let state = kestrel_server::State::with_notifier(store, tokens, notifier.clone()).with_vulndb(shelf);
        note!(
            "kestrel: serving the vulnerability database in {}{}",
            db_dir.display(),
            if db_dir.join(kestrel_vulndb::store::DB_FILE).is_file() { "" } else { " (none there yet)" }
        );
        if a.db_update_every > 0 {
            let opts = crate::db::update_options(a.db_base_url.clone(), &a.db_ecosystem, a.db_kev_url.as_deref());
            db_updates(db_dir, a.db_update_every, opts);
        }
        match (listener, &a.tls_cert, &a.tls_key) {
            (Some(l), _, _) => kestrel_server::serve(l, state, shutdown()).await.context("serving")?,
            (None, Some(cert), Some(key)) => {
                kestrel_server::serve_tls(listen, cert, key, a.client_ca.as_deref(), state, shutdown())
                    .await
                    .map_err(anyhow::Error::msg)?
            }
            _ => bail!("--tls-cert needs --tls-key"),
        }
        let _ = stop_tx.send(true);
        if let Some(c) = consumer {
            match c.await {
                Ok(Ok(done)) => note!("kestrel: {} messages consumed from NATS", done.messages),
                Ok(Err(e)) => note!("kestrel: NATS: {e}"),
                Err(e) => note!("kestrel: NATS consumer: {e}"),
            }
        }
        // What is queued still goes out (the state and the consumer, its other holders, are gone now).
        if let Some(n) = notifier.and_then(|n| std::sync::Arc::try_unwrap(n).ok()) {
            n.finish(std::time::Duration::from_secs(10));
        }
        note!("kestrel: server stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Updates the served database from OSV every `hours`, on a thread of its own (an update is minutes of
/// blocking downloads and imports); the first time at once when the database is missing or older than that.
fn db_updates(dir: PathBuf, hours: u64, opts: kestrel_vulndb::update::UpdateOptions) {
    let every = std::time::Duration::from_secs(hours.saturating_mul(3600));
    let spawned = std::thread::Builder::new().name("kestrel-db-update".into()).spawn(move || {
        let age = std::fs::metadata(dir.join(kestrel_vulndb::store::DB_FILE))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        if let Some(age) = age.filter(|a| *a < every) {
            std::thread::sleep(every - age);
        }
        loop {
            let started = std::time::Instant::now();
            match kestrel_vulndb::update::update(&dir, &opts, &mut kestrel_vulndb::update::Silent) {
                Ok(s) => note!(
                    "kestrel: vulnerability database updated in {:.0} s ({} sources) in {}",
                    started.elapsed().as_secs_f64(),
                    s.iter().map(|s| s.sources.len()).sum::<usize>(),
                    dir.display()
                ),
                Err(e) => note!("kestrel: updating the vulnerability database in {}: {e}", dir.display()),
            }
            std::thread::sleep(every);
        }
    });
    if let Err(e) = spawned {
        note!("kestrel: the database updates could not start: {e}");
    }
}

/// Writes `text` to `path`, created (or emptied) with `mode`: keys and tokens readable by their owner only.
fn write_with_mode(path: &Path, text: &str, mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// `kestrel admission`: the webhook, or `cert`.
pub fn admission(a: crate::cli::AdmissionCommand) -> Result<ExitCode> {
    use kestrel_server::admission::{certificates, serve_tls, Admission, Policy};
    if let Some(crate::cli::AdmissionSub::Cert(c)) = a.command {
        let certs = certificates(&c.name, &[]).map_err(anyhow::Error::msg)?;
        let (ca, (cert, key)) = (certs.ca, certs.server);
        std::fs::create_dir_all(&c.out).with_context(|| format!("creating {}", c.out.display()))?;
        for (name, text, mode) in [("ca.crt", &ca, 0o644), ("tls.crt", &cert, 0o644), ("tls.key", &key, 0o600)] {
            write_with_mode(&c.out.join(name), text, mode)?;
        }
        note!(
            "kestrel: {}/ca.crt, tls.crt, tls.key for {}; the caBundle of the webhook configuration is ca.crt in base64",
            c.out.display(),
            c.name.join(", ")
        );
        return Ok(ExitCode::SUCCESS);
    }
    let r = a.run;
    let policy = match &r.policy {
        Some(p) => {
            let text = crate::read_input_text(p, crate::detect::MAX_POLICY_FILE, "an admission policy")?;
            Policy::parse(&p.display().to_string(), &text).map_err(anyhow::Error::msg)?
        }
        None => Policy::default(),
    };
    let admission = std::sync::Arc::new(Admission::new(policy).map_err(anyhow::Error::msg)?);
    let listen: std::net::SocketAddr =
        r.listen.parse().with_context(|| format!("--listen {}: not an ADDR:PORT", r.listen))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    note!("kestrel: admission webhook on https://{listen}/validate");
    rt.block_on(serve_tls(listen, &r.tls_cert, &r.tls_key, admission, shutdown())).map_err(anyhow::Error::msg)?;
    note!("kestrel: admission webhook stopped");
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// What a report is about: the image's tag, else its name.
pub fn subject_of(sbom: &kestrel_core::Sbom) -> String {
    sbom.target.tags.first().cloned().unwrap_or_else(|| sbom.target.name.clone())
}

/// Sends a report to the server `upload` names; returns its id there.
pub fn upload_report(
    upload: &crate::cli::UploadArgs,
    kind: &str,
    subject: &str,
    report: serde_json::Value,
) -> Result<String> {
    let Some(server) = &upload.server else { bail!("no --server to send the report to") };
    let Some(token) = &upload.server_token else { bail!("--server needs a token: --server-token or KESTREL_TOKEN") };
    let url = format!("{}/api/v1/reports", server.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(120)))
        .tls_config(tls(upload.server_ca.as_deref())?)
        .build()
        .into();
    let body = serde_json::json!({ "kind": kind, "subject": subject, "report": report });
    let mut resp = agent
        .post(&url)
        .header("Authorization", format!("Bearer {token}"))
        .send_json(&body)
        .with_context(|| format!("sending the report to {url}"))?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    if !(200..300).contains(&status) {
        let why = answer["error"].as_str().map(str::to_string).unwrap_or(text);
        bail!("{url}: {status}: {why}");
    }
    Ok(answer["id"].as_str().unwrap_or("?").to_string())
}

/// TLS for a client of the server: trusting `ca` (PEM) when given, else the Web PKI roots.
pub fn tls(ca: Option<&Path>) -> Result<ureq::tls::TlsConfig> {
    kestrel_server::ship::tls(ca, None).context("--server-ca")
}

/// `GET server/path` with the bearer `token`: the JSON answer (at most `limit` bytes), or an error with the
/// server's reason.
pub fn get_json(server: &str, token: &str, ca: Option<&Path>, path: &str, limit: u64) -> Result<serde_json::Value> {
    let url = format!("{}{path}", server.trim_end_matches('/'));
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).tls_config(tls(ca)?).build().into();
    let mut resp = agent
        .get(&url)
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .with_context(|| format!("asking {url}"))?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().with_config().limit(limit).read_to_string().with_context(|| format!("reading {url}"))?;
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    if status != 200 {
        bail!("{url}: {status}: {}", v["error"].as_str().unwrap_or(&text));
    }
    Ok(v)
}

/// The shipper of `kestrel detect --server`, if asked for.
/// `verdicts`: fetch the dashboard's verdicts on this node's pending decisions (when it can act on them).
pub fn shipper(a: &crate::cli::ShipArgs, verdicts: bool) -> Result<Option<kestrel_server::ship::Shipper>> {
    if a.server.is_none() && a.nats.is_none() {
        return Ok(None);
    }
    let server = a.server.clone().unwrap_or_default();
    let token = match (&a.server_token, &a.nats) {
        (Some(t), _) => t.clone(),
        (None, Some(_)) => String::new(),
        (None, None) => bail!("--server needs a token: --server-token or KESTREL_TOKEN"),
    };
    let node = node_name(a)?;
    let mut cfg = kestrel_server::ship::ShipConfig::new(&server, &token, &node, &a.spool);
    cfg.spool_max_bytes = a.spool_max_mib << 20;
    cfg.nats = a.nats.clone();
    cfg.server_ca = a.server_ca.clone();
    cfg.client_cert = a.client_cert.clone().zip(a.client_key.clone());
    if verdicts && a.server.is_some() {
        cfg.verdicts_every = Some(std::time::Duration::from_secs(2));
    }
    let s = kestrel_server::ship::Shipper::start(cfg)
        .with_context(|| format!("starting the spool in {}", a.spool.display()))?;
    Ok(Some(s))
}

/// This node's name: --node, else the host name.
pub fn node_name(a: &crate::cli::ShipArgs) -> Result<String> {
    match &a.node {
        Some(n) => Ok(n.clone()),
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .context("no --node, and the host name cannot be read"),
    }
}

impl crate::cli::NotifyArgs {
    /// The notifier these options ask for (none without a webhook), its targets named on stderr when
    /// `announce`; each notification links to the alert's page on the `dashboard`, when given; what waits for a
    /// webhook that is down is kept in `keep` across restarts, when given.
    pub fn start(
        &self,
        dashboard: Option<String>,
        announce: bool,
        keep: Option<std::path::PathBuf>,
    ) -> Result<Option<kestrel_server::notify::Notifier>> {
        if self.notify.is_empty() {
            return Ok(None);
        }
        let targets: Vec<String> = self
            .notify
            .iter()
            .map(|t| {
                let kind = match t.format {
                    kestrel_server::notify::Format::Json => "json",
                    kestrel_server::notify::Format::Chat => "chat",
                };
                let min = t.min.unwrap_or(self.notify_severity);
                format!("{} ({kind}, {} and above)", t.host(), min.as_str())
            })
            .collect();
        if announce {
            note!("kestrel: notifying {} of new alerts", targets.join(", "));
        }
        let options = kestrel_server::notify::Options {
            min: self.notify_severity,
            timeout: std::time::Duration::from_secs(5),
            dashboard,
            chat_quiet: std::time::Duration::from_secs(self.notify_quiet),
            retry_for: std::time::Duration::from_secs(self.notify_retry_for),
            keep,
        };
        let n = kestrel_server::notify::Notifier::start_with(self.notify.clone(), options)
            .context("starting the notification thread")?;
        Ok(Some(n))
    }
}
