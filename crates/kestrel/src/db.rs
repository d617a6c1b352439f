//! `kestrel db …` and the vulnerability step of a scan.

use crate::cli::{DbCommand, DbDirArg, GlobalArgs, OutputFormat, Scanner, VulnArgs};
use anyhow::{bail, Context as _, Result};
use kestrel_core::{DatabaseRef, FixState, Report, Sbom, REPORT_SCHEMA};
use kestrel_vulndb::import::ImportSummary;
use kestrel_vulndb::matcher::{match_sbom, MatchOptions};
use kestrel_vulndb::store::{Database, DbError};
use kestrel_vulndb::update::{update, UpdateOptions, UpdateProgress};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// The database directory: `--db-dir` / `KESTREL_DB_DIR`, else the XDG cache directory.
pub fn db_dir(arg: &DbDirArg) -> Result<PathBuf> {
    if let Some(d) = &arg.db_dir {
        return Ok(d.clone());
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("kestrel").join("db"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".cache").join("kestrel").join("db")),
        None => bail!("no database directory: set --db-dir, KESTREL_DB_DIR, XDG_CACHE_HOME or HOME"),
    }
}

fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn age_days(rfc3339: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).ok()?;
    Some((time::OffsetDateTime::now_utc() - t).whole_days())
}

struct Bar(Option<indicatif::ProgressBar>, bool);

impl UpdateProgress for Bar {
    fn start(&mut self, what: &str, total: Option<u64>) {
        if !self.1 {
            return;
        }
        let bar = indicatif::ProgressBar::with_draw_target(total, indicatif::ProgressDrawTarget::stderr()).with_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg:28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        self.0 = Some(bar);
    }
    fn advance(&mut self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.inc(bytes);
        }
    }
    fn finish(&mut self, _: &str) {
        if let Some(b) = self.0.take() {
            b.finish_and_clear();
        }
    }
}

fn print_summaries(summaries: &[ImportSummary], quiet: bool) {
    if quiet {
        return;
    }
    for s in summaries {
        for src in &s.sources {
            note!(
                "kestrel: {}: {} advisories{}{}",
                src.name,
                src.records,
                if src.withdrawn > 0 { format!(", {} withdrawn left out", src.withdrawn) } else { String::new() },
                if src.skipped > 0 { format!(", {} skipped", src.skipped) } else { String::new() },
            );
        }
        for w in s.warnings.iter().take(5) {
            note!("kestrel: warning: {w}");
        }
        if s.warning_count > 5 {
            note!("kestrel: … {} more warnings (run with -v to see them)", s.warning_count - 5);
            for w in s.warnings.iter().skip(5) {
                tracing::info!("{w}");
            }
        }
    }
}

fn run_update(dir: &Path, opts: &UpdateOptions, g: &GlobalArgs) -> Result<()> {
    let started = Instant::now();
    let mut bar = Bar(None, !g.quiet && std::io::stderr().is_terminal());
    let summaries = update(dir, opts, &mut bar).with_context(|| {
        format!("updating the vulnerability database in {} (the previous one is unchanged)", dir.display())
    })?;
    print_summaries(&summaries, g.quiet);
    if !g.quiet {
        note!("kestrel: database updated in {:.1} s: {}", started.elapsed().as_secs_f64(), dir.display());
    }
    Ok(())
}

/// What an update fetches: OSV's bucket or the mirror `base_url`, these ecosystems (all kestrel catalogs when
/// none), the known-exploited list from `kev_url` (CISA's when `None`; skipped when empty).
pub fn update_options(base_url: Option<String>, ecosystems: &[String], kev_url: Option<&str>) -> UpdateOptions {
    let mut opts = UpdateOptions::default();
    if let Some(b) = base_url {
        opts.base_url = b;
    }
    if !ecosystems.is_empty() {
        // OSV's names are case-sensitive paths (`Rocky Linux`, `crates.io`): accept any case of a known one.
        opts.ecosystems = ecosystems
            .iter()
            .map(|e| {
                kestrel_vulndb::update::DEFAULT_ECOSYSTEMS
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(e))
                    .map(|k| k.to_string())
                    .unwrap_or_else(|| e.clone())
            })
            .collect();
    }
    match kev_url {
        Some("") => opts.kev_url = None,
        Some(k) => opts.kev_url = Some(k.to_string()),
        None => {}
    }
    opts
}

/// How long one transfer of the database to or from a server may take.
pub const REMOTE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// Fetches the database of `server` into `dir` when it differs from the one there; says what it did.
pub fn pull_from_server(
    dir: &Path,
    server: &str,
    token: &str,
    ca: Option<&Path>,
    even_older: bool,
    g: &GlobalArgs,
) -> Result<()> {
    use kestrel_vulndb::remote::Pulled;
    let started = Instant::now();
    let mut bar = Bar(None, !g.quiet && std::io::stderr().is_terminal());
    let tls = crate::server::tls(ca)?;
    let remote = kestrel_vulndb::remote::Server { url: server, token, timeout: REMOTE_TIMEOUT, tls, even_older };
    let pulled = kestrel_vulndb::remote::pull(dir, &remote, &mut bar).with_context(|| {
        format!("fetching the vulnerability database from {server} (the one in {} is unchanged)", dir.display())
    })?;
    if !g.quiet {
        match pulled {
            Pulled::Unchanged { sha256 } => {
                note!("kestrel: the database in {} is the server's already (SHA-256 {sha256})", dir.display())
            }
            Pulled::NewerHere { server_built, .. } => note!(
                "kestrel: the database in {} was built after the server's ({}): kept (--even-older takes the server's)",
                dir.display(),
                server_built.as_deref().unwrap_or("?")
            ),
            Pulled::Replaced { sha256, built, bytes, compressed } => note!(
                "kestrel: database from {server} in {:.1} s ({}, {} sent, built {}, SHA-256 {sha256}): {}",
                started.elapsed().as_secs_f64(),
                indicatif::HumanBytes(bytes),
                indicatif::HumanBytes(compressed),
                built.as_deref().unwrap_or("?"),
                dir.display()
            ),
        }
    }
    Ok(())
}

pub fn run(cmd: DbCommand, g: &GlobalArgs) -> Result<ExitCode> {
    match cmd {
        DbCommand::Update(a) if a.server.is_some() => {
            let dir = db_dir(&a.dir)?;
            let server = a.server.as_deref().unwrap_or_default();
            let Some(token) = a.server_token.as_deref() else {
                bail!("--server needs a token: --server-token or KESTREL_TOKEN")
            };
            pull_from_server(&dir, server, token, a.server_ca.as_deref(), a.even_older, g)?;
        }
        DbCommand::Push(a) => {
            let dir = db_dir(&a.dir)?;
            let started = Instant::now();
            let server = kestrel_vulndb::remote::Server {
                url: &a.server,
                token: &a.server_token,
                timeout: REMOTE_TIMEOUT,
                tls: crate::server::tls(a.server_ca.as_deref())?,
                even_older: false,
            };
            let pushed = kestrel_vulndb::remote::push(&dir, &server)
                .with_context(|| format!("sending {} to {}", dir.display(), a.server))?;
            if !g.quiet {
                note!(
                    "kestrel: {} now serves this database ({}, built {}, SHA-256 {}) — sent in {:.1} s",
                    a.server,
                    indicatif::HumanBytes(pushed.bytes),
                    pushed.built.as_deref().unwrap_or("?"),
                    pushed.sha256,
                    started.elapsed().as_secs_f64()
                );
            }
        }
        DbCommand::Update(a) => {
            let dir = db_dir(&a.dir)?;
            let kev = if a.no_kev { Some("") } else { a.kev_url.as_deref() };
            run_update(&dir, &update_options(a.base_url, &a.ecosystem, kev), g)?;
        }
        DbCommand::Import(a) if a.paths.iter().any(|p| kestrel_vulndb::remote::is_database_file(p)) => {
            let dir = db_dir(&a.dir)?;
            let [path] = &a.paths[..] else {
                bail!("a whole database replaces the database: import it alone, not with other files")
            };
            if a.source.is_some() {
                bail!("{}: a whole database keeps its own sources (no --source)", path.display());
            }
            let (sha256, built) = kestrel_vulndb::remote::install_file(&dir, path).with_context(|| {
                format!("importing {} (the database in {} is unchanged)", path.display(), dir.display())
            })?;
            if !g.quiet {
                note!(
                    "kestrel: {} is the database now (built {}, SHA-256 {sha256}): {}",
                    path.display(),
                    built.as_deref().map_or("?".into(), kestrel_core::to_the_second),
                    dir.display()
                );
            }
        }
        DbCommand::Export(a) => {
            let dir = db_dir(&a.dir)?;
            let (bytes, sha256, compressed) = kestrel_vulndb::remote::export(&dir, &a.file)
                .with_context(|| format!("exporting the database in {}", dir.display()))?;
            if !g.quiet {
                note!(
                    "kestrel: {} written ({} of {}, SHA-256 {sha256}): `kestrel db import {}` takes it",
                    a.file.display(),
                    indicatif::HumanBytes(compressed),
                    indicatif::HumanBytes(bytes),
                    a.file.display()
                );
            }
        }
        DbCommand::Import(a) => {
            let dir = db_dir(&a.dir)?;
            let started = Instant::now();
            let mut writer = kestrel_vulndb::store::Writer::begin(&dir)?;
            let mut summaries = Vec::new();
            for p in &a.paths {
                let s = kestrel_vulndb::import::import(&mut writer, p, a.source.as_deref(), None)?;
                summaries.push(s);
            }
            writer.commit(&kestrel_vulndb::store::now_rfc3339())?;
            print_summaries(&summaries, g.quiet);
            if !g.quiet {
                note!("kestrel: imported in {:.2} s into {}", started.elapsed().as_secs_f64(), dir.display());
            }
        }
        DbCommand::Status(a) => {
            let dir = db_dir(&a.dir)?;
            let db = Database::open(&dir)?;
            let sources = db.sources()?;
            let (advisories, per) = db.counts()?;
            let built = db.built_at();
            if a.format == OutputFormat::Json {
                let v = serde_json::json!({
                    "path": db.path(),
                    "built_at": built,
                    "age_days": built.as_deref().and_then(age_days),
                    "advisories": advisories,
                    "affected_by_ecosystem": per.iter().map(|(e, n)| (e.clone(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
                    "sources": sources,
                });
                say!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                say!("Database: {}", db.path().display());
                match built.as_deref() {
                    Some(b) => say!(
                        "Built:    {} ({})",
                        kestrel_core::to_the_second(b),
                        match age_days(b) {
                            Some(d) if d < 0 => "after now: is this machine's clock right?".to_string(),
                            Some(0) => "today".to_string(),
                            Some(d) => format!("{} ago", kestrel_core::counted(d as usize, "day")),
                            None => "age unknown".to_string(),
                        }
                    ),
                    None => say!("Built:    unknown"),
                }
                say!("Advisories: {advisories}\n");
                // A directory's source is named by its path: the column is as wide as the longest name.
                let w = sources.iter().map(|s| s.name.chars().count()).max().unwrap_or(0).clamp(24, 72);
                say!(
                    "{:<w$} {:>9} {:>9} {:>9}  {:<20} {:<20} LOCATION",
                    "SOURCE",
                    "RECORDS",
                    "WITHDRAWN",
                    "SKIPPED",
                    "IMPORTED",
                    "NEWEST RECORD"
                );
                for s in &sources {
                    say!(
                        "{:<w$} {:>9} {:>9} {:>9}  {:<20} {:<20} {}",
                        s.name,
                        s.records,
                        s.withdrawn,
                        s.skipped,
                        kestrel_core::to_the_second(&s.imported_at),
                        match s.newest_record.as_deref() {
                            // Go's export dates every record 0001-01-01: a placeholder, not a date.
                            Some(t) if t < "1970" => "unknown".to_string(),
                            Some(t) => kestrel_core::to_the_second(t),
                            None => "-".to_string(),
                        },
                        s.location
                    );
                }
                say!("\nAffected entries per ecosystem:");
                for (e, n) in per {
                    say!("  {e:<24} {n}");
                }
            }
        }
        DbCommand::Show(a) => {
            let dir = db_dir(&a.dir)?;
            let db = Database::open(&dir)?;
            let found = db.find(&a.id)?;
            if found.is_empty() {
                bail!("{}: no advisory with this id or alias in {}", a.id, db.path().display());
            }
            if a.format == OutputFormat::Json {
                say!("{}", serde_json::to_string_pretty(&found)?);
            } else {
                // An advisory is data from elsewhere: what a terminal would take for a command is escaped.
                use std::fmt::Write as _;
                let mut text = String::new();
                for adv in found {
                    let _ = writeln!(text, "{} ({})", adv.id, adv.source);
                    if !adv.aliases.is_empty() {
                        let _ = writeln!(text, "  aliases:   {}", adv.aliases.join(", "));
                    }
                    if !adv.summary.is_empty() {
                        let _ = writeln!(text, "  summary:   {}", adv.summary);
                    }
                    if let Some(p) = &adv.published {
                        let _ = writeln!(text, "  published: {p}");
                    }
                    for c in &adv.cvss {
                        let _ = writeln!(text, "  {}: {}", c.kind, c.vector);
                    }
                    if let Some(s) = &adv.source_severity {
                        let _ = writeln!(text, "  severity:  {s}");
                    }
                    for r in adv.references.iter().take(5) {
                        let _ = writeln!(text, "  ref:       {r}");
                    }
                    text.push('\n');
                }
                say_part!("{}", crate::terminal_safe(&text));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// True when the vulnerability scanner is on.
pub fn wants_vulns(v: &VulnArgs) -> bool {
    v.scanners.contains(&Scanner::Vuln) && !v.scanners.contains(&Scanner::None)
}

/// Matches the SBOM and applies the filters and policies; warnings go to stderr.
pub fn vulnerability_report(mut sbom: Sbom, v: &VulnArgs, g: &GlobalArgs) -> Result<Report> {
    let dir = db_dir(&v.dir)?;
    let db = match Database::open(&dir) {
        Ok(db) => db,
        Err(DbError::Missing(_)) if v.offline => bail!(
            "{}: no vulnerability database, and --offline forbids downloading one; run `kestrel db update`, \
             or `kestrel db import FILE` with OSV all.zip files, or scan with --scanners none",
            dir.display()
        ),
        Err(DbError::Missing(_)) => {
            if !g.quiet {
                note!(
                    "kestrel: no vulnerability database in {} yet: downloading it (kestrel db update)",
                    dir.display()
                );
            }
            let mut opts = UpdateOptions::default();
            if let Some(b) = std::env::var("KESTREL_DB_BASE_URL").ok().filter(|b| !b.is_empty()) {
                opts.base_url = b;
            }
            if let Ok(k) = std::env::var("KESTREL_KEV_URL") {
                opts.kev_url = (!k.is_empty()).then_some(k);
            }
            run_update(&dir, &opts, g).context(
                "no vulnerability database and the download failed; import one with `kestrel db import`, \
                 or scan with --scanners none for the inventory alone",
            )?;
            Database::open(&dir)?
        }
        Err(e) => return Err(e.into()),
    };
    let built = db.built_at();
    if let Some(days) = built.as_deref().and_then(age_days) {
        if days > i64::from(v.max_db_age) && !g.quiet {
            note!(
                "kestrel: warning: the vulnerability database is {days} days old (built {}); run `kestrel db update`",
                built.as_deref().map_or("?".into(), kestrel_core::to_the_second)
            );
        }
    }
    let today = today();
    // A report read back as an SBOM brings the warnings of the matching it had then; this matching says its own.
    sbom.warnings.retain(|w| !kestrel_vulndb::matcher::is_matching_warning(w));
    let m = match_sbom(&db, &sbom, &MatchOptions { today: today.clone() })?;
    if m.owned_by_os > 0 {
        tracing::info!(
            "{} language packages were installed by OS packages (property os.owner): their OS packages' advisories cover them",
            m.owned_by_os
        );
    }
    let sources = db.sources()?.into_iter().map(|s| s.name).collect();
    let mut report = Report {
        sbom,
        findings: m.findings,
        suppressed: Vec::new(),
        database: Some(DatabaseRef { path: db.path().display().to_string(), built_at: built, sources }),
        secrets: Vec::new(),
    };
    report.sbom.schema = REPORT_SCHEMA.into();
    report.sbom.warnings.extend(m.warnings);
    if !v.severity.is_empty() {
        report.findings.retain(|f| v.severity.contains(&f.severity()));
    }
    if v.ignore_unfixed {
        report.findings.retain(|f| f.as_vulnerability().is_none_or(|x| x.state == FixState::Fixed));
    }
    let ignore_file = match &v.ignore_file {
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from(".kestrelignore.yaml")).filter(|p| p.is_file()),
    };
    if let Some(p) = ignore_file {
        let f = kestrel_vulndb::policy::IgnoreFile::load(&p).map_err(anyhow::Error::msg)?;
        for w in kestrel_vulndb::policy::apply_ignores(&mut report, &f, &p.display().to_string(), &today) {
            if !g.quiet {
                note!("kestrel: warning: {w}");
            }
        }
    }
    for p in &v.vex {
        let rules = kestrel_vulndb::policy::load_vex(p).map_err(anyhow::Error::msg)?;
        kestrel_vulndb::policy::apply_vex(&mut report, &rules, &p.display().to_string());
    }
    report.sbom.warnings.sort();
    report.sbom.warnings.dedup();
    report.sort();
    Ok(report)
}

/// The exit code for `--fail-on` and `--exit-code`: with a threshold, findings at or above it fail the scan;
/// with only an exit code, any finding left after the filters does.
pub fn exit_code(report: &Report, v: &VulnArgs) -> ExitCode {
    v.gate.exit(report.findings.iter().map(|f| f.severity()).chain(report.secrets.iter().map(|s| s.severity)))
}

/// Whether the secret scanner runs.
pub fn wants_secrets(v: &VulnArgs) -> bool {
    v.scanners.contains(&Scanner::Secret) && !v.scanners.contains(&Scanner::None)
}
