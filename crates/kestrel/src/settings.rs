//! The configuration file (`--config FILE`, or `KESTREL_CONFIG`) and `--show-config`.
//!
//! The file is YAML: one section per command, named as on the command line, whose keys are that command's
//! long options (`tls-cert` or `tls_cert`); a subcommand's section sits inside its parent's (`server: {token:
//! {role: agent}}`); `quiet` and `verbose` may also stand at the top. A flag takes `true` or `false`, a
//! repeatable option a list, any other option a scalar.
//!
//! ```yaml
//! verbose: 1
//! detect:
//!   profiles: /srv/kestrel/profiles
//!   rules: [/etc/kestrel/rules/site.yaml]
//!   syscalls: true
//! server:
//!   listen: 0.0.0.0:8470
//! ```
//!
//! Precedence: the command line, then the environment (options that read a `KESTREL_…` variable), then the
//! file, then the built-in default. The whole file is checked against the command grammar on every run, so
//! a misspelt key is an error naming the file and the key, whichever command runs. The values are handed
//! to clap as if typed after the command, so they are parsed and checked exactly as typed ones are.

use anyhow::{bail, Context, Result};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches};
use serde_yaml::Value;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;

use crate::cli::Cli;

/// A configuration file larger than this is refused.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Global options that only steer this module; never read from the file.
const SELF_OPTIONS: &[&str] = &["config", "show-config"];

/// What the command line asks for once the file is applied.
pub enum Parsed {
    /// Run this.
    Run(Box<Cli>),
    /// `--show-config` printed the effective options: exit successfully.
    Shown,
}

/// Parse the command line, apply the configuration file, and handle `--show-config`. clap's own errors
/// (and `--help`, `--version`) end the process as clap always does.
pub fn parse(argv: Vec<OsString>) -> Result<Parsed> {
    let mut cmd = Cli::command();
    cmd.build();
    // A first look, forgiving: the options the file supplies may be required ones.
    // (Set before clap builds the command, so that it reaches the subcommands.)
    let lenient = Cli::command().ignore_errors(true).try_get_matches_from(&argv).ok();
    let (matches, from_file) = match lenient.and_then(|m| config_path(&m).map(|p| (m, p))) {
        None => (cmd.clone().try_get_matches_from(&argv).unwrap_or_else(|e| e.exit()), HashSet::new()),
        Some((first, path)) => {
            let file = load(&path)?;
            check(&cmd, &file, &path)?;
            let (argv, from_file) = apply(&cmd, &first, &file, &path, argv)?;
            let m = cmd.clone().try_get_matches_from(&argv).unwrap_or_else(|e| e.exit());
            (m, from_file)
        }
    };
    if matches.get_flag("show_config") {
        say_part!("{}", show(&cmd, &matches, config_path(&matches).as_deref(), &from_file));
        return Ok(Parsed::Shown);
    }
    Ok(Parsed::Run(Box::new(Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()))))
}

/// Check one value with the option's own parser, alone (its relations to other options are the full
/// parse's business).
fn probe(arg: &Arg, value: &str) -> std::result::Result<(), String> {
    let mut alone = Arg::new("value").allow_hyphen_values(true).value_parser(arg.get_value_parser().clone());
    if let Some(names) = arg.get_value_names() {
        alone = alone.value_names(names.iter().cloned());
    }
    if let Some(d) = arg.get_value_delimiter() {
        alone = alone.value_delimiter(d);
    }
    Command::new("kestrel")
        .no_binary_name(true)
        .arg(alone)
        .try_get_matches_from([value])
        .map(|_| ())
        .map_err(|e| clap_message(&e))
}

/// clap's message without its `error:` prefix and its advice to try `--help`.
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:"))
        .collect();
    lines.join(" ").trim_start_matches("error: ").to_string()
}

fn config_path(m: &ArgMatches) -> Option<std::path::PathBuf> {
    m.get_one::<std::path::PathBuf>("config").cloned()
}

/// Read and parse the file (bounded).
fn load(path: &Path) -> Result<Value> {
    let text = crate::read_input_text(path, MAX_CONFIG_BYTES, "a configuration file")?;
    let value: Value =
        serde_yaml::from_str(&text).with_context(|| format!("{}: not a valid YAML configuration", path.display()))?;
    match value {
        Value::Null => Ok(Value::Mapping(Default::default())),
        Value::Mapping(_) => Ok(value),
        _ => bail!("{}: the configuration must be a mapping of commands to their options", path.display()),
    }
}

/// The long option or subcommand a file key names (`tls_cert` and `tls-cert` alike).
fn key_name(key: &Value, path: &Path, at: &str) -> Result<String> {
    match key {
        Value::String(s) => Ok(s.replace('_', "-")),
        other => bail!("{}: {at}: a key must be a string, not {}", path.display(), describe(other)),
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// The options a section may set: named, not positional, not clap's own help and version, not this module's.
fn settable(cmd: &Command) -> impl Iterator<Item = &Arg> {
    cmd.get_arguments().filter(|a| {
        !a.is_positional()
            && !matches!(
                a.get_action(),
                ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
            )
            && a.get_long().is_some_and(|l| !SELF_OPTIONS.contains(&l))
    })
}

fn find_option<'c>(cmd: &'c Command, name: &str) -> Option<&'c Arg> {
    settable(cmd).find(|a| a.get_long() == Some(name))
}

/// Check the whole file against the grammar, so a misspelt key fails whichever command runs.
fn check(root: &Command, file: &Value, path: &Path) -> Result<()> {
    fn walk(cmd: &Command, section: &Value, at: &str, top: bool, path: &Path) -> Result<()> {
        let Value::Mapping(map) = section else {
            bail!("{}: {at}: the options of a command are a mapping, not {}", path.display(), describe(section));
        };
        for (k, v) in map {
            let name = key_name(k, path, at)?;
            let here = if at.is_empty() { name.clone() } else { format!("{at}.{name}") };
            if let Some(sub) = cmd.find_subcommand(&name).filter(|_| name != "help") {
                walk(sub, v, &here, false, path)?;
            } else if let Some(arg) = find_option(cmd, &name).filter(|a| !top || a.is_global_set()) {
                let words = values(arg, v).map_err(|why| anyhow::anyhow!("{}: {here}: {why}", path.display()))?;
                for value in words.iter().filter_map(|w| w.split_once('=').map(|(_, v)| v)) {
                    probe(arg, value).map_err(|why| anyhow::anyhow!("{}: {here}: {why}", path.display()))?;
                }
            } else if SELF_OPTIONS.contains(&name.as_str()) {
                bail!("{}: {here}: `--{name}` can only be given on the command line", path.display());
            } else {
                let mut known: Vec<&str> =
                    cmd.get_subcommands().map(|c| c.get_name()).filter(|n| *n != "help").collect();
                known.extend(settable(cmd).filter(|a| !top || a.is_global_set()).filter_map(|a| a.get_long()));
                let what = if top { "command" } else { "option" };
                let hint = closest(&name, &known).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default();
                bail!(
                    "{}: {here}: no such {what}{hint}; {} takes: {}",
                    path.display(),
                    if top { "the top level".to_string() } else { format!("`{}`", at.replace('.', " ")) },
                    known.join(", ")
                );
            }
        }
        Ok(())
    }
    walk(root, file, "", true, path)
}

/// The closest known name within a small edit distance.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d <= name.len().max(k.len()) / 2)
        .min()
        .map(|(_, k)| k)
}

/// The command-line words a file value stands for (`--name=value`, repeated for a list; a flag alone).
fn values(arg: &Arg, v: &Value) -> std::result::Result<Vec<String>, String> {
    let long = arg.get_long().expect("settable options are long");
    let scalar = |v: &Value| -> std::result::Result<String, String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(format!("takes a single value, not {}", describe(other))),
        }
    };
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => match v {
            Value::Bool(on) => {
                let wanted = matches!(arg.get_action(), ArgAction::SetTrue);
                Ok(if *on == wanted { vec![format!("--{long}")] } else { vec![] })
            }
            other => Err(format!("a flag: give true or false, not {}", describe(other))),
        },
        ArgAction::Count => match v.as_u64() {
            Some(n) if n <= 8 => Ok(vec![format!("--{long}"); n as usize]),
            _ => Err(format!("a count: give a number from 0 to 8, not {}", describe(v))),
        },
        ArgAction::Append => match v {
            Value::Sequence(items) => {
                items.iter().map(|i| scalar(i).map(|s| format!("--{long}={s}"))).collect::<std::result::Result<_, _>>()
            }
            other => Ok(vec![format!("--{long}={}", scalar(other)?)]),
        },
        _ => match (v, arg.get_value_delimiter()) {
            (Value::Sequence(items), Some(delimiter)) => {
                let parts = items.iter().map(scalar).collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(vec![format!("--{long}={}", parts.join(&delimiter.to_string()))])
            }
            (other, _) => Ok(vec![format!("--{long}={}", scalar(other)?)]),
        },
    }
}

/// The command line with the file's options for the command being run added after it — each only where
/// neither the command line nor the environment set it.
fn apply(
    root: &Command,
    first: &ArgMatches,
    file: &Value,
    path: &Path,
    argv: Vec<OsString>,
) -> Result<(Vec<OsString>, HashSet<String>)> {
    let mut from_file = HashSet::new();
    // Down the chain of subcommands to the one that runs: its section's options.
    let (mut cmd, mut m, mut section, mut at) = (root, first, Some(file), String::new());
    let mut chain = Vec::new();
    while let Some((name, sub_m)) = m.subcommand() {
        cmd = cmd.find_subcommand(name).expect("clap matched this subcommand");
        m = sub_m;
        chain.push(name.to_string());
        at = if at.is_empty() { name.to_string() } else { format!("{at}.{name}") };
        section = section.and_then(|s| child(s, name));
    }
    let mut local = Vec::new();
    if let (Some(section), false) = (section, chain.is_empty()) {
        inject(cmd, m, section, false, path, &at, &mut local, &mut from_file)?;
    }
    // The top level: global options, unless the command's section set them.
    let mut globals = Vec::new();
    inject(root, first, file, true, path, "", &mut globals, &mut from_file)?;
    let place = after_subcommands(&argv, chain.len());
    let mut out: Vec<OsString> = Vec::with_capacity(argv.len() + globals.len() + local.len());
    out.push(argv[0].clone());
    out.extend(globals.into_iter().map(OsString::from));
    out.extend(argv[1..place].iter().cloned());
    out.extend(local.into_iter().map(OsString::from));
    out.extend(argv[place..].iter().cloned());
    Ok((out, from_file))
}

/// The entry of a section named `name` (`scan-worker` or `scan_worker`).
fn child<'v>(section: &'v Value, name: &str) -> Option<&'v Value> {
    let Value::Mapping(map) = section else { return None };
    map.iter().find(|(k, _)| k.as_str().is_some_and(|k| k.replace('_', "-") == name)).map(|(_, v)| v)
}

#[allow(clippy::too_many_arguments)]
fn inject(
    cmd: &Command,
    m: &ArgMatches,
    section: &Value,
    top: bool,
    path: &Path,
    at: &str,
    out: &mut Vec<String>,
    from_file: &mut HashSet<String>,
) -> Result<()> {
    let Value::Mapping(map) = section else { return Ok(()) };
    for (k, v) in map {
        let name = key_name(k, path, at)?;
        let Some(arg) = find_option(cmd, &name).filter(|a| !top || a.is_global_set()) else { continue };
        if from_file.contains(arg.get_id().as_str()) {
            continue;
        }
        let given =
            matches!(m.value_source(arg.get_id().as_str()), Some(ValueSource::CommandLine | ValueSource::EnvVariable));
        if !given {
            let here = if at.is_empty() { name.clone() } else { format!("{at}.{name}") };
            out.extend(values(arg, v).map_err(|why| anyhow::anyhow!("{}: {here}: {why}", path.display()))?);
            from_file.insert(arg.get_id().to_string());
        }
    }
    Ok(())
}

/// Where a command's options may be inserted: just after the `depth`-th subcommand word. Before it stand
/// only global options (`-q`, `-v`, `--config FILE`, `--show-config`) — every command that has both options
/// and subcommands refuses its options beside a subcommand — so the words that do not begin with `-` and
/// are not `--config`'s value are the subcommands.
fn after_subcommands(argv: &[OsString], depth: usize) -> usize {
    let (mut i, mut seen) = (1, 0);
    while i < argv.len() && seen < depth {
        let w = argv[i].to_string_lossy();
        if w == "--config" {
            i += 2;
            continue;
        }
        if !w.starts_with('-') {
            seen += 1;
        }
        i += 1;
    }
    i.min(argv.len())
}

/// The effective options of the command that would run, as a configuration file with their sources.
fn show(root: &Command, m: &ArgMatches, file: Option<&Path>, from_file: &HashSet<String>) -> String {
    let (mut cmd, mut m, mut chain) = (root, m, Vec::new());
    while let Some((name, sub_m)) = m.subcommand() {
        cmd = cmd.find_subcommand(name).expect("clap matched this subcommand");
        m = sub_m;
        chain.push(name.to_string());
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# kestrel {}: effective options (command line, then environment, then {}, then default)",
        chain.join(" "),
        file.map(|p| p.display().to_string()).unwrap_or_else(|| "no --config file".into())
    );
    let (mut globals, mut locals) = (String::new(), String::new());
    for arg in settable(cmd) {
        let (target, indent) = if arg.is_global_set() { (&mut globals, 0) } else { (&mut locals, 2 * chain.len()) };
        entry(target, arg, m, indent, from_file);
    }
    out.push_str(&globals);
    for (depth, name) in chain.iter().enumerate() {
        let _ = writeln!(out, "{}{name}:", " ".repeat(2 * depth));
    }
    out.push_str(&locals);
    out
}

fn entry(out: &mut String, arg: &Arg, m: &ArgMatches, indent: usize, from_file: &HashSet<String>) {
    let pad = " ".repeat(indent);
    let long = arg.get_long().expect("settable options are long");
    let id = arg.get_id().as_str();
    if let Some(help) = arg.get_help() {
        let mut text = help.to_string();
        let choices: Vec<String> = arg.get_possible_values().iter().map(|p| p.get_name().to_string()).collect();
        if !choices.is_empty() && !matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
            // clap drops a help text's closing full stop: the sentence ends before the choices.
            let stop = if text.ends_with(['.', ':']) { "" } else { "." };
            let _ = write!(text, "{stop} One of: {}.", choices.join(", "));
        }
        comment(out, &pad, &text);
    }
    let source = match m.value_source(id) {
        Some(_) if from_file.contains(id) => "file".to_string(),
        Some(ValueSource::CommandLine) => "command line".to_string(),
        Some(ValueSource::EnvVariable) => {
            format!("environment {}", arg.get_env().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default())
        }
        Some(_) => "default".to_string(),
        None => {
            let shape: Vec<String> =
                arg.get_value_names().unwrap_or_default().iter().map(|n| format!("<{n}>")).collect();
            let _ = writeln!(out, "{pad}# {long}: {}  (not set)", shape.join(" "));
            return;
        }
    };
    let value = match arg.get_action() {
        ArgAction::Count => m.get_count(id).to_string(),
        _ => {
            let raw: Vec<String> =
                m.get_raw(id).map(|vals| vals.map(|v| v.to_string_lossy().into_owned()).collect()).unwrap_or_default();
            let raw: Vec<String> =
                if secret(arg) { raw.iter().map(|_| "<redacted>".to_string()).collect() } else { raw };
            let raw: Vec<String> = raw.iter().map(|v| without_password(v)).collect();
            if matches!(arg.get_action(), ArgAction::Append) {
                format!("[{}]", raw.iter().map(|v| scalar_yaml(v)).collect::<Vec<_>>().join(", "))
            } else {
                raw.first().map(|v| scalar_yaml(v)).unwrap_or_default()
            }
        }
    };
    let _ = writeln!(out, "{pad}{long}: {value}  # {source}");
}

/// A help text as YAML comment lines of at most 100 columns.
fn comment(out: &mut String, pad: &str, text: &str) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && pad.len() + 2 + line.len() + 1 + word.len() > 100 {
            let _ = writeln!(out, "{pad}# {line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    let _ = writeln!(out, "{pad}# {line}");
}

/// Options whose value is a credential itself (not the path of a file holding one): never printed. Webhook
/// URLs count (a chat's incoming-webhook path is its secret).
fn secret(arg: &Arg) -> bool {
    let long = arg.get_long().unwrap_or_default();
    let names: Vec<String> = arg.get_value_names().unwrap_or_default().iter().map(|n| n.to_string()).collect();
    long == "notify"
        || (["token", "password", "secret"].iter().any(|w| long.contains(w))
            && !names.iter().any(|n| matches!(n.as_str(), "FILE" | "PATH" | "DIR")))
}

/// A value with the password of a URL's user information hidden (`postgres://kestrel:***@db/kestrel`).
fn without_password(v: &str) -> String {
    let Some((scheme, rest)) = v.split_once("://") else { return v.to_string() };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    match authority.rsplit_once('@').and_then(|(user, _)| user.split_once(':')) {
        Some((name, _)) => {
            let host_and_more = &rest[authority.rfind('@').map_or(0, |i| i + 1)..];
            format!("{scheme}://{name}:***@{host_and_more}")
        }
        None => v.to_string(),
    }
}

/// A value as YAML: bare when it reads back as the same scalar, JSON-quoted (valid YAML) otherwise.
fn scalar_yaml(v: &str) -> String {
    let bare_ok = !v.is_empty()
        && v.chars().all(|c| c.is_ascii_alphanumeric() || "_./@+-:".contains(c))
        && !v.starts_with(['-', ':', '@'])
        && !v.ends_with(':')
        && match serde_yaml::from_str::<Value>(v) {
            Ok(Value::String(s)) => s == v,
            Ok(Value::Number(n)) => n.to_string() == v,
            Ok(Value::Bool(b)) => b.to_string() == v,
            _ => false,
        };
    if bare_ok {
        v.to_string()
    } else {
        serde_json::to_string(v).expect("a string serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn options_go_after_the_subcommand_words_past_global_options() {
        assert_eq!(after_subcommands(&os(&["k", "detect", "a.jsonl"]), 1), 2);
        assert_eq!(after_subcommands(&os(&["k", "-q", "--config", "c.yaml", "detect", "--live"]), 1), 5);
        assert_eq!(after_subcommands(&os(&["k", "--config=c.yaml", "-vv", "server", "token", "--role", "x"]), 2), 5);
        assert_eq!(after_subcommands(&os(&["k", "catalogers"]), 1), 2);
    }

    #[test]
    fn values_become_the_words_clap_would_have_read() {
        let mut cmd = Cli::command();
        cmd.build();
        let detect = cmd.find_subcommand("detect").unwrap();
        let y = |s: &str| serde_yaml::from_str::<Value>(s).unwrap();
        assert_eq!(values(find_option(detect, "live").unwrap(), &y("true")).unwrap(), ["--live"]);
        assert!(values(find_option(detect, "live").unwrap(), &y("false")).unwrap().is_empty());
        assert!(values(find_option(detect, "live").unwrap(), &y("yes please")).is_err());
        assert_eq!(
            values(find_option(detect, "rules").unwrap(), &y("[a.yaml, b.yaml]")).unwrap(),
            ["--rules=a.yaml", "--rules=b.yaml"]
        );
        assert_eq!(values(find_option(detect, "spool-max-mib").unwrap(), &y("64")).unwrap(), ["--spool-max-mib=64"]);
        assert!(values(find_option(detect, "profiles").unwrap(), &y("[a, b]")).is_err());
        assert!(values(find_option(detect, "profiles").unwrap(), &y("{a: 1}")).is_err());
        assert_eq!(values(find_option(&cmd, "verbose").unwrap(), &y("2")).unwrap(), ["--verbose", "--verbose"]);
    }

    #[test]
    fn suggestions_are_near_and_not_for_anything_short() {
        let known = ["profiles", "detect", "db", "rules"];
        assert_eq!(closest("profles", &known), Some("profiles"));
        assert_eq!(closest("detcet", &known), Some("detect"));
        assert_eq!(closest("x", &known), None);
        assert_eq!(closest("somethingelse", &known), None);
    }

    #[test]
    fn scalars_are_printed_so_that_yaml_reads_them_back() {
        for v in
            ["0.0.0.0:8470", "/var/lib/kestrel", "300", "true", "a b", "", "-x", "x: y", "[1]", "1.50", "#c", "0x1F"]
        {
            let text = format!("k: {}", scalar_yaml(v));
            let back: Value = serde_yaml::from_str(&text).unwrap();
            let got = match &back["k"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => panic!("{v:?} read back as {other:?}"),
            };
            assert_eq!(got, v, "{text}");
        }
    }

    #[test]
    fn credentials_are_secret_and_paths_to_them_are_not() {
        let mut cmd = Cli::command();
        cmd.build();
        let detect = cmd.find_subcommand("detect").unwrap();
        assert!(secret(find_option(detect, "server-token").unwrap()));
        assert!(!secret(find_option(detect, "kubelet-token").unwrap()));
        assert!(!secret(find_option(detect, "profiles").unwrap()));
        let server = cmd.find_subcommand("server").unwrap();
        assert!(secret(find_option(server, "notify").unwrap()));
        assert!(!secret(find_option(server, "notify-severity").unwrap()));
    }

    #[test]
    fn passwords_in_urls_are_hidden() {
        assert_eq!(without_password("postgres://kestrel:s3cr3t@db:5432/k?x=1"), "postgres://kestrel:***@db:5432/k?x=1");
        assert_eq!(without_password("postgres://a:b@c@db/k"), "postgres://a:***@db/k");
        for same in ["postgres://kestrel@db/k", "http://h/p@q:r", "/var/lib/kestrel", "0.0.0.0:8470", "nats://n:4222"] {
            assert_eq!(without_password(same), same);
        }
    }

    #[test]
    fn a_command_with_options_and_subcommands_refuses_its_options_beside_a_subcommand() {
        // What after_subcommands relies on: before a subcommand's word stand only global options.
        fn walk(cmd: &Command) {
            let own = settable(cmd).any(|a| !a.is_global_set());
            if own && cmd.has_subcommands() {
                assert!(cmd.is_args_conflicts_with_subcommands_set(), "`{}`", cmd.get_name());
            }
            cmd.get_subcommands().for_each(walk);
        }
        let mut cmd = Cli::command();
        cmd.build();
        walk(&cmd);
    }

    #[test]
    fn no_option_is_named_like_a_sibling_subcommand() {
        // A section's key is looked up as a subcommand first: an option of the same name could not be set.
        fn walk(cmd: &Command) {
            for sub in cmd.get_subcommands() {
                assert!(find_option(cmd, sub.get_name()).is_none(), "`{}` is both", sub.get_name());
                walk(sub);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        walk(&cmd);
    }
}
