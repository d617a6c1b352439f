//! Dockerfiles: a parser that keeps lines (parser directives, escape characters, line continuations,
//! comments, JSON and shell forms, flags, multi-stage builds, BuildKit heredocs), and the CIS Docker
//! Benchmark 1.6 §4 checks that can be made from the file alone, with NIST SP 800-190 image countermeasures.

use crate::checks::Check;
use kestrel_core::ConfigFinding;

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Instruction {
    /// The keyword, upper case (`RUN`).
    pub keyword: String,
    /// Flags before the arguments (`--chown=app`, `--mount=type=secret,id=x`).
    pub flags: Vec<String>,
    /// The arguments as written (continuations joined with a space), without the flags.
    pub args: String,
    /// The exec (JSON) form's words, when the arguments are one.
    pub exec: Option<Vec<String>>,
    /// Heredoc bodies (`RUN <<EOF … EOF`): the delimiter and the text.
    pub heredocs: Vec<(String, String)>,
    /// First line (1-based).
    pub line: usize,
}

/// A build stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stage {
    /// `FROM image [AS name]`: the image.
    pub base: String,
    /// The stage's name, if it has one.
    pub name: Option<String>,
    /// The FROM line.
    pub line: usize,
    /// Its instructions after FROM.
    pub instructions: Vec<Instruction>,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Dockerfile {
    /// ARGs before the first FROM.
    pub global_args: Vec<Instruction>,
    /// The stages, in order; the last is the image.
    pub stages: Vec<Stage>,
}

/// A Dockerfile that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    /// Where.
    pub line: usize,
    /// Why.
    pub reason: String,
}

const KEYWORDS: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

/// The heredoc delimiters of an instruction's first line: `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`.
fn heredoc_names(line: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i + 2 < b.len() {
        if b[i] == b'<' && b[i + 1] == b'<' && (i == 0 || b[i - 1] != b'<') {
            let mut j = i + 2;
            let strip = b.get(j) == Some(&b'-');
            if strip {
                j += 1;
            }
            let quote = b.get(j).copied().filter(|c| *c == b'"' || *c == b'\'');
            if quote.is_some() {
                j += 1;
            }
            let start = j;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            if j > start && !b[start].is_ascii_digit() {
                out.push((line[start..j].to_string(), strip));
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Parses a Dockerfile.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut escape = '\\';
    let mut i = 0;
    // Parser directives: `# key=value` lines at the very top.
    while i < lines.len() {
        let l = lines[i].trim();
        let Some(d) = l.strip_prefix('#') else { break };
        let Some((k, v)) = d.split_once('=') else { break };
        match k.trim().to_ascii_lowercase().as_str() {
            "escape" => {
                escape = match v.trim() {
                    "`" => '`',
                    "\\" => '\\',
                    other => {
                        return Err(ParseError {
                            line: i + 1,
                            reason: format!("escape must be \\ or `, not {other:?}"),
                        })
                    }
                }
            }
            "syntax" | "check" => {}
            _ => break,
        }
        i += 1;
    }
    let mut df = Dockerfile::default();
    while i < lines.len() {
        let raw = lines[i];
        let t = raw.trim_start();
        if t.is_empty() || t.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i + 1;
        // Join continuations; comment lines inside are dropped, as Docker does.
        let mut logical = String::new();
        let mut cur = t.trim_end();
        loop {
            match cur.strip_suffix(escape) {
                Some(rest) => {
                    logical.push_str(rest);
                    logical.push(' ');
                    i += 1;
                    while i < lines.len() && lines[i].trim_start().starts_with('#') {
                        i += 1;
                    }
                    if i >= lines.len() {
                        break;
                    }
                    cur = lines[i].trim_end();
                }
                None => {
                    logical.push_str(cur);
                    i += 1;
                    break;
                }
            }
        }
        let (kw, rest) = logical.split_once(char::is_whitespace).unwrap_or((&logical, ""));
        let keyword = kw.to_ascii_uppercase();
        if !KEYWORDS.contains(&keyword.as_str()) {
            return Err(ParseError { line: start, reason: format!("unknown instruction {kw:?}") });
        }
        let mut rest = rest.trim();
        let mut flags = Vec::new();
        while let Some(f) = rest.strip_prefix("--") {
            let end = f.find(char::is_whitespace).unwrap_or(f.len());
            flags.push(format!("--{}", &f[..end]));
            rest = f[end..].trim_start();
        }
        // Heredocs: the bodies follow the instruction's line, each up to its delimiter.
        let mut heredocs = Vec::new();
        if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") {
            for (name, strip) in heredoc_names(rest) {
                let mut body = String::new();
                let mut closed = false;
                while i < lines.len() {
                    let l = lines[i];
                    i += 1;
                    let cmp = if strip { l.trim_start_matches('\t') } else { l };
                    if cmp == name {
                        closed = true;
                        break;
                    }
                    body.push_str(cmp);
                    body.push('\n');
                }
                if !closed {
                    return Err(ParseError { line: start, reason: format!("heredoc <<{name} is never closed") });
                }
                heredocs.push((name, body));
            }
        }
        let exec = if rest.starts_with('[') { serde_json::from_str::<Vec<String>>(rest).ok() } else { None };
        let ins = Instruction { keyword: keyword.clone(), flags, args: rest.to_string(), exec, heredocs, line: start };
        if keyword == "FROM" {
            let words: Vec<&str> = ins.args.split_whitespace().collect();
            let Some(base) = words.first() else {
                return Err(ParseError { line: start, reason: "FROM names no image".into() });
            };
            let name = (words.len() >= 3 && words[1].eq_ignore_ascii_case("as")).then(|| words[2].to_string());
            df.stages.push(Stage { base: base.to_string(), name, line: start, instructions: Vec::new() });
        } else if let Some(stage) = df.stages.last_mut() {
            stage.instructions.push(ins);
        } else if keyword == "ARG" {
            df.global_args.push(ins);
        } else {
            return Err(ParseError { line: start, reason: format!("{keyword} before the first FROM") });
        }
    }
    if df.stages.is_empty() {
        return Err(ParseError { line: 1, reason: "no FROM instruction".into() });
    }
    Ok(df)
}

/// Whether a (lower-cased) shell command pipes a download (`curl`, `wget`) into an interpreter
/// (`… | sh`, `| sudo bash`, `| python3`): the downloaded code runs unverified.
pub fn pipes_download_into_interpreter(lower: &str) -> bool {
    (lower.contains("curl ") || lower.contains("wget "))
        && lower.split('|').skip(1).any(|p| {
            matches!(
                p.split_whitespace().next().unwrap_or(""),
                "sh" | "bash" | "zsh" | "ash" | "dash" | "sudo" | "python" | "python3" | "perl" | "ruby"
            )
        })
}

/// Whether a path looks like a Dockerfile (`Dockerfile`, `Dockerfile.prod`, `app.dockerfile`, `Containerfile`).
pub fn is_dockerfile(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "dockerfile"
        || lower.starts_with("dockerfile.")
        || lower.ends_with(".dockerfile")
        || lower == "containerfile"
        || lower.starts_with("containerfile.")
}

/// The shell text an instruction runs: its arguments (or exec words) and heredoc bodies.
fn script(ins: &Instruction) -> String {
    let mut s = match &ins.exec {
        Some(words) => words.join(" "),
        None => ins.args.clone(),
    };
    for (_, body) in &ins.heredocs {
        s.push('\n');
        s.push_str(body);
    }
    s
}

/// `KEY=value KEY2="v"` or the legacy `KEY value` of ENV, LABEL and ARG.
fn assignments(args: &str) -> Vec<(String, String)> {
    let args = args.trim();
    if !args.contains('=') {
        return match args.split_once(char::is_whitespace) {
            Some((k, v)) => vec![(k.to_string(), v.trim().to_string())],
            None if !args.is_empty() => vec![(args.to_string(), String::new())],
            None => vec![],
        };
    }
    let mut out = Vec::new();
    let mut chars = args.chars().peekable();
    while chars.peek().is_some() {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && !c.is_whitespace())).collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'=').is_some() {
            let quote = chars.next_if(|c| *c == '"' || *c == '\'');
            for c in chars.by_ref() {
                match quote {
                    Some(q) if c == q => break,
                    Some(_) => value.push(c),
                    None if c.is_whitespace() => break,
                    None => value.push(c),
                }
            }
        }
        out.push((key, value));
    }
    out
}

fn has_word(script: &str, word: &str) -> bool {
    script.split(|c: char| c.is_whitespace() || c == ';' || c == '&' || c == '|').any(|w| w == word)
}

/// Checks a Dockerfile's text; findings carry the line of the instruction.
pub fn check(file: &str, text: &str) -> Result<Vec<ConfigFinding>, ParseError> {
    Ok(check_parsed(file, &parse(text)?))
}

/// Checks a parsed Dockerfile.
pub fn check_parsed(file: &str, df: &Dockerfile) -> Vec<ConfigFinding> {
    use crate::checks as c;
    let mut out = Vec::new();
    let mut add = |check: &Check, resource: &str, line: usize, field: &str, message: String| {
        out.push(check.finding(c::At { file, resource, line: Some(line), field }, message));
    };
    let stage_names: Vec<String> = df.stages.iter().filter_map(|s| s.name.clone()).collect();
    let last = df.stages.len() - 1;
    for (si, stage) in df.stages.iter().enumerate() {
        let res = match &stage.name {
            Some(n) => format!("stage {n}"),
            None => format!("stage {si}"),
        };
        let final_stage = si == last;
        // The base image: a moving tag (a stage name or scratch is fine).
        let base = stage.base.as_str();
        let is_stage = stage_names.iter().any(|n| n.eq_ignore_ascii_case(base));
        if !is_stage && base != "scratch" && !base.contains('$') {
            let last_part = base.rsplit('/').next().unwrap_or(base);
            if !base.contains('@') && (!last_part.contains(':') || last_part.ends_with(":latest")) {
                add(&c::DF_FROM_LATEST, &res, stage.line, "FROM", format!("the base image {base:?} is a moving tag"));
            }
        }
        let mut user: Option<(String, usize)> = None;
        for ins in &stage.instructions {
            let s = script(ins);
            match ins.keyword.as_str() {
                "USER" => user = Some((ins.args.trim().to_string(), ins.line)),
                "ADD" => {
                    let srcs: Vec<&str> = match &ins.exec {
                        Some(w) => w.iter().map(String::as_str).collect(),
                        None => ins.args.split_whitespace().collect(),
                    };
                    let srcs = &srcs[..srcs.len().saturating_sub(1)];
                    if srcs
                        .iter()
                        .any(|s| s.starts_with("http://") || s.starts_with("https://") || s.starts_with("git@"))
                    {
                        add(
                            &c::DF_ADD_URL,
                            &res,
                            ins.line,
                            "ADD",
                            "ADD fetches a remote file into the image unverified".into(),
                        );
                    } else if !srcs.iter().any(|s| {
                        [".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".txz", ".tbz2"]
                            .iter()
                            .any(|e| s.ends_with(e))
                    }) && ins.heredocs.is_empty()
                    {
                        add(
                            &c::DF_ADD,
                            &res,
                            ins.line,
                            "ADD",
                            "ADD copies local files (and would unpack archives, fetch URLs)".into(),
                        );
                    }
                }
                "ENV" | "ARG" => {
                    for (k, v) in assignments(&ins.args) {
                        if ins.keyword == "ARG" && v.is_empty() && crate::checks::secret_name(&k) {
                            add(
                                &c::DF_SECRET_ARG,
                                &res,
                                ins.line,
                                "ARG",
                                format!(
                                    "build argument {k} looks like a secret: the value given with --build-arg is \
                                     recorded in the image history of the RUN steps after it"
                                ),
                            );
                        } else if crate::checks::secret_name(&k) && !v.is_empty() && !v.starts_with('$') {
                            add(
                                &c::DF_SECRET,
                                &res,
                                ins.line,
                                &ins.keyword,
                                format!("{} {k} holds a literal value (redacted)", ins.keyword),
                            );
                        }
                    }
                }
                "EXPOSE" if ins.args.split_whitespace().any(|p| p.split('/').next() == Some("22")) => {
                    add(&c::DF_SSH, &res, ins.line, "EXPOSE", "port 22 (ssh) is exposed".into());
                }
                "RUN" => {
                    if ins.flags.iter().any(|f| f == "--security=insecure") {
                        add(
                            &c::DF_INSECURE_BUILD,
                            &res,
                            ins.line,
                            "RUN",
                            "RUN --security=insecure runs the step without the build sandbox".into(),
                        );
                    }
                    let lower = s.to_ascii_lowercase();
                    if pipes_download_into_interpreter(&lower) {
                        add(
                            &c::DF_CURL_PIPE,
                            &res,
                            ins.line,
                            "RUN",
                            "a download is piped into an interpreter, unverified".into(),
                        );
                    }
                    let curl_k = lower.contains("curl") && (lower.contains(" -k ") || lower.contains(" --insecure"));
                    if curl_k
                        || [
                            "--allow-unauthenticated",
                            "--force-yes",
                            "--nogpgcheck",
                            "--no-gpg-check",
                            "--trusted-host",
                            "--allow-untrusted",
                            "gpgcheck=0",
                            "strict-ssl false",
                            "--no-check-certificate",
                        ]
                        .iter()
                        .any(|f| lower.contains(f))
                    {
                        add(
                            &c::DF_UNVERIFIED,
                            &res,
                            ins.line,
                            "RUN",
                            "packages or downloads are installed without verification".into(),
                        );
                    }
                    let updates = has_word(&lower, "update")
                        && (lower.contains("apt-get")
                            || lower.contains("apt ")
                            || lower.contains("apk")
                            || lower.contains("yum")
                            || lower.contains("dnf"));
                    let installs =
                        has_word(&lower, "install") || has_word(&lower, "add") || has_word(&lower, "upgrade");
                    if updates && !installs {
                        add(
                            &c::DF_UPDATE_ALONE,
                            &res,
                            ins.line,
                            "RUN",
                            "the package index is updated in a step of its own (a cached layer goes stale)".into(),
                        );
                    }
                    if lower.contains("apt-get")
                        && has_word(&lower, "install")
                        && !lower.contains("--no-install-recommends")
                    {
                        add(
                            &c::DF_RECOMMENDS,
                            &res,
                            ins.line,
                            "RUN",
                            "apt-get install brings recommended packages too".into(),
                        );
                    }
                    if has_word(&lower, "sudo") {
                        add(&c::DF_SUDO, &res, ins.line, "RUN", "sudo in a build step".into());
                    }
                    if lower.contains("chmod")
                        && (lower.contains("u+s")
                            || lower.contains("g+s")
                            || lower.split_whitespace().any(|w| {
                                w.len() == 4 && w.starts_with(['2', '4', '6']) && w.chars().all(|c| c.is_ascii_digit())
                            }))
                    {
                        add(&c::DF_SETUID, &res, ins.line, "RUN", "a setuid or setgid bit is set".into());
                    }
                    if lower.contains("chmod")
                        && lower.split_whitespace().any(|w| w == "777" || w == "0777" || w == "a+rwx" || w == "o+w")
                    {
                        add(&c::DF_WORLD_WRITABLE, &res, ins.line, "RUN", "a file is made writable by everyone".into());
                    }
                    if has_word(&lower, "openssh-server") || has_word(&lower, "sshd") {
                        add(&c::DF_SSH, &res, ins.line, "RUN", "an ssh server is installed or run".into());
                    }
                }
                _ => {}
            }
        }
        if final_stage {
            let root = |u: &str| {
                let name = u.split(':').next().unwrap_or(u);
                name.is_empty() || name == "root" || name == "0"
            };
            match &user {
                // Without USER the image runs as its base's user: root, unless the base says otherwise
                // (distroless `:nonroot`, …).
                None if !stage.base.contains("nonroot") => add(
                    &c::DF_USER,
                    &res,
                    stage.line,
                    "USER",
                    format!("no USER instruction: the image runs as {}'s user, root unless it sets one", stage.base),
                ),
                None => {}
                Some((u, l)) if root(u) => add(&c::DF_USER, &res, *l, "USER", format!("the image runs as {u:?}")),
                _ => {}
            }
            if !stage.instructions.iter().any(|i| i.keyword == "HEALTHCHECK") {
                add(&c::DF_HEALTHCHECK, &res, stage.line, "HEALTHCHECK", "no HEALTHCHECK instruction".into());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_continuations_heredocs_and_directives() {
        let text = "# syntax=docker/dockerfile:1\n# escape=`\nARG BASE=debian:12\nFROM $BASE AS build\nRUN apt-get update && `\n    # a comment inside\n    apt-get install -y gcc\nCOPY --chown=app:app <<EOF /etc/app.conf\nkey=value\nEOF\nRUN <<-SCRIPT\n\techo hi\n\tSCRIPT\nFROM gcr.io/distroless/static@sha256:abc\nCOPY --from=build /out /app\nUSER 65532\nENTRYPOINT [\"/app\"]\n";
        let df = parse(text).unwrap();
        assert_eq!(df.global_args.len(), 1);
        assert_eq!(df.stages.len(), 2);
        assert_eq!(df.stages[0].name.as_deref(), Some("build"));
        let run = &df.stages[0].instructions[0];
        assert_eq!((run.keyword.as_str(), run.line), ("RUN", 5));
        assert_eq!(run.args, "apt-get update &&      apt-get install -y gcc");
        let copy = &df.stages[0].instructions[1];
        assert_eq!(copy.flags, ["--chown=app:app"]);
        assert_eq!(copy.heredocs, [("EOF".to_string(), "key=value\n".to_string())]);
        assert_eq!(df.stages[0].instructions[2].heredocs[0].1, "echo hi\n");
        assert_eq!(df.stages[1].instructions[2].exec.as_deref(), Some(&["/app".to_string()][..]));
        assert_eq!(df.stages[1].line, 14);
    }

    #[test]
    fn bad_dockerfiles_say_where() {
        assert_eq!(parse("RUN x\n").unwrap_err().reason, "RUN before the first FROM");
        assert_eq!(parse("FROM a\nRUN <<EOF\nnever closed\n").unwrap_err().line, 2);
        assert!(parse("FROM a\nFOO bar\n").unwrap_err().reason.contains("unknown instruction"));
        assert!(parse("# nothing\n").is_err());
    }

    #[test]
    fn assignments_forms() {
        assert_eq!(
            assignments("A=1 B=\"two words\" C"),
            [("A".into(), "1".into()), ("B".into(), "two words".into()), ("C".into(), String::new())]
        );
        assert_eq!(assignments("KEY some value"), [("KEY".into(), "some value".into())]);
    }
}
