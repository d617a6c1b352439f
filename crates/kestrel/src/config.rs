//! `kestrel config` and `kestrel eval pss`.

use crate::cli::{ConfigArgs, ConfigFormatArg, EvalFormat, EvalPssArgs, ImageSource, PssLevelArg};
use anyhow::{Context, Result};
use kestrel_core::counted;
use kestrel_report::{write_config, ConfigFormat, ConfigReport};
use std::io::{Read, Write};
use std::process::ExitCode;

pub fn config(a: ConfigArgs) -> Result<ExitCode> {
    if a.list {
        let mut out = std::io::stdout().lock();
        for c in kestrel_config::checks::everything() {
            let controls: Vec<String> = c.controls.iter().map(|r| format!("{} {}", r.standard, r.control)).collect();
            writeln!(out, "{:<44} {:<9} {}  [{}]", c.id, c.severity.as_str(), c.title, controls.join(", "))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Collected { files, objects, mut findings, errors, named_unreadable, .. } =
        collect(&a.paths, &a.image, a.policy.as_deref())?;
    findings.retain(|f| {
        !(a.pss_level == PssLevelArg::Baseline && f.id.starts_with("pss:restricted:"))
            && (a.severity.is_empty() || a.severity.contains(&f.severity))
            && !a.skip.iter().any(|g| kestrel_core::glob(g, &f.id))
    });
    let report = ConfigReport::new(env!("CARGO_PKG_VERSION"), files, objects, findings, errors);
    let format = match a.format {
        ConfigFormatArg::Table => ConfigFormat::Table,
        ConfigFormatArg::Json => ConfigFormat::Json,
        ConfigFormatArg::Sarif => ConfigFormat::Sarif,
    };
    let mut buf = Vec::new();
    write_config(&report, format, &mut buf)?;
    crate::scan::deliver(a.output.as_deref(), &buf, a.format == ConfigFormatArg::Table)?;
    for (file, reason) in &report.errors {
        note!("kestrel: {file}: {reason}");
    }
    if !named_unreadable.is_empty() {
        return Ok(not_checked(&named_unreadable));
    }
    Ok(a.gate.exit(report.findings.iter().map(|f| f.severity)))
}

pub fn eval_pss(a: EvalPssArgs) -> Result<ExitCode> {
    let results = kestrel_config::eval_pss_fixtures(&a.dir)?;
    let ok = results.iter().filter(|r| r.ok).count();
    if a.format == EvalFormat::Json {
        let fail = results.iter().filter(|r| !r.expect_pass);
        let pass = results.iter().filter(|r| r.expect_pass);
        let v = serde_json::json!({
            "fixtures": results.len(),
            "agree": ok,
            "fail_fixtures_flagged": fail.clone().filter(|r| r.ok).count(),
            "fail_fixtures": fail.count(),
            "pass_fixtures_clean": pass.clone().filter(|r| r.ok).count(),
            "pass_fixtures": pass.count(),
            "results": results,
        });
        say!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for r in results.iter().filter(|r| !r.ok) {
            let want = if r.expect_pass { "clean".to_string() } else { format!("flagged under {}", r.check) };
            say!("MISS {}: should be {want} at {}; found {:?}", r.file, r.level, r.found);
        }
        let count = |pass: bool| {
            let all: Vec<_> = results.iter().filter(|r| r.expect_pass == pass).collect();
            (all.iter().filter(|r| r.ok).count(), all.len())
        };
        let (fo, fa) = count(false);
        let (po, pa) = count(true);
        say!("fail fixtures flagged under their check: {fo}/{fa}");
        say!("pass fixtures clean at their level:     {po}/{pa}");
    }
    Ok(if ok == results.len() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// What the configuration scan of some paths and images gave.
pub struct Collected {
    pub files: usize,
    pub objects: usize,
    pub findings: Vec<kestrel_core::ConfigFinding>,
    pub errors: Vec<(String, String)>,
    /// The input kinds seen (`kubernetes`, `dockerfile`, `image`, `docker-daemon`).
    pub kinds: Vec<String>,
    /// Inputs named on the command line (a file, not one found in a directory given; standard input) that
    /// could not be read or checked whole: the result says nothing of them, so the command exits 2.
    pub named_unreadable: Vec<String>,
}

/// Exit 2 after the report when an input the command line named could not be checked: the report cannot vouch
/// for it, so no gate may pass (files found in a directory — a chart's templates, say — are reported and skipped).
fn not_checked(named: &[String]) -> ExitCode {
    note!("kestrel: error: not checked, the reason above: {}", named.join(", "));
    ExitCode::from(2)
}

/// Scans files, directories, standard input (`-`) and images' configurations, with optional Rego policies.
pub fn collect(paths: &[std::path::PathBuf], images: &[String], policy: Option<&std::path::Path>) -> Result<Collected> {
    let (mut files, mut objects, mut findings, mut errors) = (0, 0, Vec::new(), Vec::new());
    let mut kinds: Vec<String> = Vec::new();
    let mut named_unreadable = Vec::new();
    let mut policies = match policy {
        Some(p) => Some(kestrel_config::rego::Policies::load(p)?),
        None => None,
    };
    for p in paths {
        if p.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .take(kestrel_config::MAX_FILE_BYTES + 1)
                .read_to_string(&mut text)
                .context("standard input")?;
            files += 1;
            let before = errors.len();
            match kestrel_config::scan_text_counted("(stdin)", &text) {
                Ok((f, n)) => {
                    if n > 0 {
                        kinds.push("kubernetes".into());
                    }
                    objects += n;
                    findings.extend(f);
                }
                Err(e) => errors.push((e.file, e.reason)),
            }
            if let Some(p) = policies.as_mut() {
                for doc in kestrel_config::yaml::parse(&text, Default::default()).unwrap_or_default() {
                    match p.evaluate_document("(stdin)", &doc) {
                        Ok(f) => findings.extend(f),
                        Err(e) => errors.push((e.file, e.reason)),
                    }
                }
            }
            if errors.len() > before {
                named_unreadable.push("standard input".to_string());
            }
            continue;
        }
        if !p.exists() {
            anyhow::bail!("{}: no such file or directory", p.display());
        }
        let s = kestrel_config::scan_path_with(p, policies.as_ref());
        if !p.is_dir() && !s.errors.is_empty() {
            named_unreadable.push(p.display().to_string());
        }
        if !p.is_dir() && s.errors.is_empty() && s.kinds.is_empty() && s.findings.is_empty() {
            // Read, and nothing in it to check: a passing gate should not be mistaken for a checked file.
            note!(
                "kestrel: warning: {}: nothing to check in it — no Kubernetes object, image configuration or \
                 daemon.json (a Dockerfile is known by its name: Dockerfile, Dockerfile.*, *.dockerfile, Containerfile)",
                p.display()
            );
        }
        files += s.files;
        objects += s.objects;
        findings.extend(s.findings);
        errors.extend(s.errors.into_iter().map(|e| (e.file, e.reason)));
        kinds.extend(s.kinds);
    }
    for r in images {
        // The configuration alone: the manifest and config are read and digest-checked, no layer is.
        let mut image =
            crate::scan::open_ref(r, None, None, &Default::default(), &ImageSource::DEFAULT_ORDER, true, &|_, _| {
                false
            })?;
        let opts = kestrel_image::OpenOptions { tag: image.tag.clone(), ..Default::default() };
        let name = image.name.clone();
        let config = match image.identify(&opts)? {
            Some(id) => id.config().clone(),
            // An engine's image: its manifest and configuration come after its layers.
            None => crate::scan::named(&name, image.open(None, &opts, &kestrel_image::KeepNothing))?
                .config
                .with_context(|| format!("{r}: not a container image (no manifest.json or index.json)"))?,
        };
        let cfg = serde_json::to_value(&config)?;
        files += 1;
        objects += 1;
        findings.extend(kestrel_config::image::check_image_config(r, r, &cfg));
        kinds.push("image".into());
    }
    kinds.sort();
    kinds.dedup();
    Ok(Collected { files, objects, findings, errors, kinds, named_unreadable })
}

pub fn compliance(a: crate::cli::ComplianceArgs) -> Result<ExitCode> {
    use crate::cli::ComplianceFormatArg;
    if a.list {
        for id in kestrel_config::compliance::spec_ids() {
            let s = kestrel_config::compliance::spec(id).map_err(anyhow::Error::msg)?;
            say!("{id:<16} {} controls  {}", s.controls.len(), s.title);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let spec = kestrel_config::compliance::spec(a.spec.as_deref().unwrap_or_default()).map_err(anyhow::Error::msg)?;
    if a.paths.is_empty() && a.image.is_empty() && a.results.is_empty() {
        anyhow::bail!("nothing to hold against {}: give paths, --image or --results", spec.id);
    }
    let Collected { files, objects, mut findings, mut errors, mut kinds, named_unreadable } =
        collect(&a.paths, &a.image, a.policy.as_deref())?;
    let mut searched = None;
    if !a.no_secrets && (a.paths.iter().any(|p| p.as_os_str() != "-") || !a.image.is_empty()) {
        // The files and every layer of the images, for credentials written into them.
        let s = scan_secrets(&a.paths, &a.image, a.allow.as_deref(), false)?;
        searched = Some(s.files - s.skipped);
        findings.extend(s.findings.iter().map(|f| f.to_finding()));
        errors.extend(s.errors);
        kinds.push("secret".into());
    }
    for r in &a.results {
        let text = crate::read_input_text(r, MAX_RESULT_FILE, "a scan result")?;
        let doc: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{}: not JSON", r.display()))?;
        if doc.get("schema").and_then(|s| s.as_str()) == Some(SECRETS_SCHEMA) {
            let found: Vec<kestrel_secrets::SecretFinding> =
                serde_json::from_value(doc.get("findings").cloned().unwrap_or_default()).with_context(|| {
                    format!("{}: not a kestrel secrets report (kestrel secrets -f json)", r.display())
                })?;
            findings.extend(found.iter().map(|f| f.to_finding()));
            kinds.push("secret".into());
            continue;
        }
        let report: kestrel_core::Report = serde_json::from_value(doc).with_context(|| {
            format!("{}: neither a kestrel image report (kestrel image -f json) nor a secrets report (kestrel secrets -f json)", r.display())
        })?;
        findings.extend(kestrel_config::checks::vulnerability_findings(&r.display().to_string(), &report));
        kinds.push("vuln".into());
    }
    kinds.sort();
    kinds.dedup();
    for (file, reason) in &errors {
        note!("kestrel: {file}: {reason}");
    }
    let scope = format!(
        "{}, {} ({}){}{}",
        counted(files, "file"),
        counted(objects, "object"),
        if kinds.is_empty() { "nothing recognised".to_string() } else { kinds.join(", ") },
        searched.map(|n| format!("; credentials looked for in {}", counted(n, "file"))).unwrap_or_default(),
        if errors.is_empty() {
            String::new()
        } else {
            format!("; {} could not be read", counted(errors.len(), "file"))
        }
    );
    let generated =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let report =
        kestrel_config::compliance::evaluate(&spec, &compliance_catalogue(), &findings, &kinds, &scope, &generated);
    let mut out = Vec::new();
    match a.format {
        ComplianceFormatArg::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        ComplianceFormatArg::Html => out.write_all(kestrel_report::compliance_html(&report).as_bytes())?,
        ComplianceFormatArg::Table => kestrel_report::write_compliance_table(&report, &mut out)?,
    }
    crate::scan::deliver(a.output.as_deref(), &out, a.format == ComplianceFormatArg::Table)?;
    let s = &report.summary;
    if s.pass + s.fail == 0 && s.not_evaluated > 0 {
        // A gate that could judge nothing (a wrong path, the wrong kind of input) passes: said, so CI logs show it.
        let had: Vec<&str> = kinds.iter().map(String::as_str).filter(|k| *k != "secret").collect();
        note!(
            "kestrel: warning: no control of {} could be evaluated: the scan had {} — {} not evaluated",
            spec.id,
            if had.is_empty() { "nothing it checks".to_string() } else { format!("only {} input", had.join(", ")) },
            s.not_evaluated
        );
    }
    if let Some(server) = &a.upload.server {
        // One report per spec and scope on the server: the latest is the posture.
        let subject = format!("{}: {}", spec.id, scope_subject(&a.paths, &a.image));
        let sent = crate::server::upload_report(&a.upload, "compliance", &subject, serde_json::to_value(&report)?)?;
        note!("kestrel: report {sent} sent to {server}");
    }
    if !named_unreadable.is_empty() {
        return Ok(not_checked(&named_unreadable));
    }
    if a.fail_on_fail && report.summary.fail > 0 {
        return Ok(ExitCode::from(a.exit_code.unwrap_or(1)));
    }
    Ok(ExitCode::SUCCESS)
}

/// What a compliance run looked at, for the server: its paths and images, as given.
fn scope_subject(paths: &[std::path::PathBuf], images: &[String]) -> String {
    let mut parts: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    parts.extend(images.iter().cloned());
    let s = parts.join(" ");
    if s.len() > 900 {
        format!("{}…", &s[..s.floor_char_boundary(900)])
    } else {
        s
    }
}

/// Hardcoded credentials in files, directories and images' layers (files deleted by a later layer too), and in
/// standard input for a `-` path when `stdin` says so (compliance gives standard input to the configuration
/// scan); the allowlist applied: `allow`, else `.kestrel-secrets.yaml` in the current directory when there is one.
pub fn scan_secrets(
    paths: &[std::path::PathBuf],
    images: &[String],
    allow: Option<&std::path::Path>,
    stdin: bool,
) -> Result<kestrel_secrets::Scan> {
    let scanner = kestrel_secrets::Scanner::new();
    let mut all = kestrel_secrets::Scan::default();
    if stdin && paths.iter().any(|p| p.as_os_str() == "-") {
        let mut data = Vec::new();
        std::io::stdin().take(kestrel_secrets::MAX_FILE_BYTES).read_to_end(&mut data).context("standard input")?;
        all.files += 1;
        all.bytes += data.len() as u64;
        all.findings.extend(scanner.scan_bytes("(stdin)", &data));
    }
    for p in paths.iter().filter(|p| p.as_os_str() != "-") {
        if !p.exists() {
            anyhow::bail!("{}: no such file or directory", p.display());
        }
        let s = kestrel_secrets::scan_path(&scanner, p);
        all.files += s.files;
        all.bytes += s.bytes;
        all.skipped += s.skipped;
        all.findings.extend(s.findings);
        all.errors.extend(s.errors);
    }
    for r in images {
        let mut image =
            crate::scan::open_ref(r, None, None, &Default::default(), &ImageSource::DEFAULT_ORDER, true, &|_, _| {
                false
            })?;
        let opts = kestrel_image::OpenOptions { tag: image.tag.clone(), ..Default::default() };
        let sel = kestrel_secrets::image::LayerScanner::new(&scanner);
        let name = image.name.clone();
        let artifact = crate::scan::named(&name, image.open(None, &opts, &sel))?;
        all.files += sel.files();
        all.bytes += sel.bytes();
        for (path, n) in sel.too_large() {
            all.skipped += 1;
            all.errors.push((format!("{r}!{path}"), kestrel_secrets::image::too_large_reason(n)));
        }
        let found = kestrel_secrets::image::name_layers(&artifact, sel.into_findings());
        all.findings.extend(found.into_iter().map(|mut f| {
            f.file = format!("{r}!{}", f.file);
            f
        }));
    }
    allow_secrets(allow, &mut all.findings)?;
    Ok(all)
}

/// Drops the findings the secrets allowlist allows: `allow`, else `.kestrel-secrets.yaml` in the current
/// directory when there is one.
pub fn allow_secrets(
    allow: Option<&std::path::Path>,
    findings: &mut Vec<kestrel_secrets::SecretFinding>,
) -> Result<()> {
    let allow_path = allow.map(|p| p.to_path_buf()).or_else(|| {
        let p = std::path::PathBuf::from(".kestrel-secrets.yaml");
        p.is_file().then_some(p)
    });
    let Some(p) = allow_path else { return Ok(()) };
    let text = crate::read_input_text(&p, kestrel_config::MAX_FILE_BYTES, "an allow file")?;
    let doc = kestrel_config::yaml::parse(&text, Default::default())
        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        .into_iter()
        .next()
        .map(|d| d.value)
        .unwrap_or(serde_json::Value::Null);
    let allow: kestrel_secrets::Allowlist = if doc.is_null() {
        Default::default()
    } else {
        serde_json::from_value(doc).with_context(|| format!("{}: not an allowlist", p.display()))?
    };
    let before = findings.len();
    findings.retain(|f| !allow.allows(f));
    tracing::info!("{}: {} findings allowed", p.display(), before - findings.len());
    Ok(())
}

/// The schema of `kestrel secrets -f json`.
const SECRETS_SCHEMA: &str = "kestrel.secrets/v1";

/// A scan's result handed to `compliance --results` larger than this is refused (an image's report with every file's
/// packages stays far below).
const MAX_RESULT_FILE: u64 = 512 << 20;

/// Every check compliance can hold findings against: the configuration catalogue and one check per secret rule.
fn compliance_catalogue() -> Vec<kestrel_config::checks::Check> {
    let mut v = kestrel_config::checks::everything();
    v.extend(kestrel_secrets::rules::RULES.iter().map(|r| kestrel_config::checks::Check {
        id: format!("secret:{}", r.id),
        title: r.title,
        severity: r.severity,
        fix: kestrel_secrets::FIX,
        controls: kestrel_secrets::controls(),
    }));
    v
}

pub fn secrets(a: crate::cli::SecretsArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let all = scan_secrets(&a.paths, &a.image, a.allow.as_deref(), true)?;
    let secs = started.elapsed().as_secs_f64();
    tracing::info!("{} files, {} bytes in {secs:.2} s", all.files, all.bytes);
    for (file, reason) in &all.errors {
        note!("kestrel: {file}: {reason}");
    }
    let as_config = || {
        ConfigReport::new(
            env!("CARGO_PKG_VERSION"),
            all.files,
            all.files - all.skipped,
            all.findings.iter().map(|f| f.to_finding()).collect(),
            all.errors.clone(),
        )
    };
    let mut out = Vec::new();
    match a.format {
        ConfigFormatArg::Json => {
            let v = serde_json::json!({
                "schema": SECRETS_SCHEMA,
                "files": all.files,
                "bytes": all.bytes,
                "skipped": all.skipped,
                "findings": all.findings,
                "errors": all.errors,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?
        }
        ConfigFormatArg::Sarif => write_config(&as_config(), ConfigFormat::Sarif, &mut out)?,
        ConfigFormatArg::Table => {
            let report = as_config();
            kestrel_report::write_config_findings(&report, &mut out)?;
            let skipped = match all.skipped {
                0 => String::new(),
                n => format!(" ({} binary or too large, skipped)", n),
            };
            writeln!(
                out,
                "{} in {}{skipped}, {}",
                kestrel_report::findings_summary(&report),
                counted(all.files, "file"),
                indicatif::HumanBytes(all.bytes)
            )?;
        }
    }
    crate::scan::deliver(a.output.as_deref(), &out, a.format == ConfigFormatArg::Table)?;
    Ok(a.gate.exit(all.findings.iter().map(|f| f.severity)))
}
