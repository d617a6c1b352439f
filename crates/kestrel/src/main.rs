//! The `kestrel` command line: argument parsing, progress, output. The work is done by the library crates.

/// `println!` that never panics when the reader went away (`kestrel config --list | head`): what is left to say
/// is dropped, and the command ends as it would have.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// `eprintln!` for what kestrel says on standard error: the line goes through [`terminal_safe`] (it names files and
/// quotes parsers, both chosen by whoever made an input), and a standard error that is gone (`2>&1 | head`) is no
/// reason to panic.
macro_rules! note {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{}", crate::terminal_safe(&format!($($t)*)));
    }};
}

/// `print!` as [`say!`] is `println!`.
macro_rules! say_part {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

mod cache;
mod cli;
mod config;
mod db;
mod detect;
mod eval;
mod monitor;
mod progress;
mod scan;
mod server;
mod settings;
mod watch;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match settings::parse(std::env::args_os().collect()) {
        Ok(settings::Parsed::Run(cli)) => *cli,
        Ok(settings::Parsed::Shown) => return ExitCode::SUCCESS,
        Err(e) => {
            note!("kestrel: error: {}", error_text(&e));
            return ExitCode::from(2);
        }
    };
    init_logging(cli.global.verbose, cli.global.quiet);
    match scan::run(cli) {
        Ok(code) => code,
        // The reader of standard output went away (`| head`): nothing to say, as for any tool in a pipe.
        Err(e) if stdout_gone(&e) => ExitCode::SUCCESS,
        Err(e) => {
            note!("kestrel: error: {}", error_text(&e));
            ExitCode::from(2)
        }
    }
}

/// Whether an error is a write to standard output whose reader has gone: a broken pipe, and standard output is
/// that pipe with no reader left (so a broken connection to a server is never mistaken for it).
fn stdout_gone(e: &anyhow::Error) -> bool {
    let broken = e
        .chain()
        .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe));
    let mut fd = libc::pollfd { fd: libc::STDOUT_FILENO, events: 0, revents: 0 };
    // SAFETY: one valid pollfd, no wait.
    broken && unsafe { libc::poll(&mut fd, 1, 0) } == 1 && fd.revents & libc::POLLERR != 0
}

/// A file named on the command line (a rule file, a policy, a configuration, a scan's result), read whole but at
/// most `max` bytes whatever it says of its size — a pipe or a device says nothing: a larger one is refused with its
/// name and `what` it is.
pub(crate) fn read_input(path: &std::path::Path, max: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context as _;
    use std::io::Read as _;
    let shown = path.display();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .with_context(|| format!("{shown}: cannot read"))?;
    if bytes.len() as u64 > max {
        let limit = if max >= 1 << 20 { format!("{} MiB", max >> 20) } else { format!("{} KiB", max >> 10) };
        anyhow::bail!("{shown}: {what} larger than {limit}");
    }
    Ok(bytes)
}

/// [`read_input`] of a text file.
pub(crate) fn read_input_text(path: &std::path::Path, max: u64, what: &str) -> anyhow::Result<String> {
    String::from_utf8(read_input(path, max, what)?)
        .map_err(|e| anyhow::anyhow!("{}: not UTF-8 text (byte {})", path.display(), e.utf8_error().valid_up_to()))
}

/// Text that came from outside (a process's name, a file name in an image, an advisory's summary) as it may be
/// written to a terminal: every control character but the line break and the tab — an escape sequence that would
/// retitle the window, move the cursor or wipe the screen — is written out escaped (`\u{1b}`), C1 controls
/// included.
pub(crate) fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    escaped(text, |c| c.is_control() && c != '\n' && c != '\t', usize::MAX)
}

/// An event's time of day as a table line starts with it, UTC to the millisecond (`21:35:02.123`).
pub(crate) fn clock(time_ns: u64) -> String {
    let ms = time_ns / 1_000_000;
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}.{:03}", s / 3600 % 24, s / 60 % 60, s % 60, ms % 1000)
}

/// [`terminal_safe`] for text that must stay one line (a table row of events): line breaks escaped too.
pub(crate) fn line_safe(text: &str) -> std::borrow::Cow<'_, str> {
    escaped(text, char::is_control, usize::MAX)
}

/// `text` with every character `escape` picks written out escaped (`\u{1b}`), cut after `max` characters (`…`);
/// borrowed when there is nothing to change.
fn escaped(text: &str, escape: impl Fn(char) -> bool, max: usize) -> std::borrow::Cow<'_, str> {
    if text.chars().nth(max).is_none() && !text.chars().any(&escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Most characters of one cause shown: a parser's message may quote what it read, and a hostile input's bytes
/// are not worth a screenful.
const MAX_CAUSE_CHARS: usize = 1000;

/// A cause as it may be shown on a terminal: control characters but the line break (an escape sequence in a file
/// name or a quoted header) escaped, and cut at [`MAX_CAUSE_CHARS`].
fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    escaped(text, |c| c.is_control() && c != '\n', MAX_CAUSE_CHARS)
}

/// An error of several lines (what each image source said) with every line after the first indented: a line break
/// in quoted input cannot make a line of its own that reads as kestrel's (`kestrel: …` at the start of a line).
fn indented(text: String) -> String {
    if !text.contains('\n') {
        return text;
    }
    let lines: Vec<String> = text
        .split('\n')
        .enumerate()
        .map(|(i, line)| if i == 0 || line.starts_with("  ") { line.to_string() } else { format!("  {line}") })
        .collect();
    lines.join("\n")
}

/// An error as kestrel prints it: its causes, each safe for a terminal, lines after the first indented.
fn error_text(e: &anyhow::Error) -> String {
    indented(causes(e))
}

/// An error and its causes, `a: b: c`, each cause said once: a library error that already names its cause in its
/// own message (`path: No such file…`, thiserror's `{path}: {source}`) also hands that cause on as its source, and
/// printing both would say it twice.
fn causes(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = shown(&cause.to_string()).into_owned();
        if text.is_empty() {
            text = part;
        } else if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
    }
    text
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KESTREL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

#[cfg(test)]
mod tests {
    use super::{error_text, terminal_safe, MAX_CAUSE_CHARS};
    use anyhow::Context as _;

    /// As thiserror's `#[error("{path}: {source}")]` makes it.
    #[derive(Debug)]
    struct Named {
        path: String,
        source: std::io::Error,
    }

    impl std::fmt::Display for Named {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}: {}", self.path, self.source)
        }
    }

    impl std::error::Error for Named {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn each_cause_of_an_error_is_said_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        // A library error that names its cause and hands it on as its source.
        let e = anyhow::Error::new(Named { path: "/x.tar".into(), source: io() });
        assert_eq!(error_text(&e), "/x.tar: no such file");
        // Context over a cause the message does not name: both, in order.
        let e = Err::<(), _>(io()).context("/x.tar: cannot open").unwrap_err();
        assert_eq!(error_text(&e), "/x.tar: cannot open: no such file");
        let e = Err::<(), _>(Named { path: "/x.tar".into(), source: io() }).context("scanning").unwrap_err();
        assert_eq!(error_text(&e), "scanning: /x.tar: no such file");
    }

    #[test]
    fn text_for_a_terminal_keeps_its_lines_and_loses_its_escapes() {
        assert!(matches!(terminal_safe("nginx\t-g daemon off;\n"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(terminal_safe("sh\u{1b}[2J\r\u{9b}31m\u{7f}\nnext"), "sh\\u{1b}[2J\\r\\u{9b}31m\\u{7f}\nnext");
    }

    #[test]
    fn what_an_error_quotes_of_hostile_input_is_escaped_and_cut() {
        let e = anyhow::anyhow!("bad name \u{1b}]0;owned\u{7}\n{}", "\u{fffd}x".repeat(1000));
        let text = error_text(&e);
        assert!(text.starts_with("bad name \\u{1b}]0;owned\\u{7}\n  \u{fffd}x"), "{text}");
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
        // 1000 characters read, the two escaped ones written out longer (`\u{1b}` +5, `\u{7}` +4), the line after
        // the break indented (+2), and the mark of the cut.
        assert_eq!(text.chars().count(), MAX_CAUSE_CHARS + 11 + 1, "{text}");
        assert!(text.ends_with('…'));
    }

    #[test]
    fn a_clock_says_the_time_of_day_in_utc() {
        // 2026-12-06T21:35:02.123456789Z
        assert_eq!(super::clock(1_796_592_902_123_456_789), "21:35:02.123");
        assert_eq!(super::clock(0), "00:00:00.000");
    }

    #[test]
    fn an_error_of_several_lines_keeps_them_and_indents_every_one_after_the_first() {
        let e =
            anyhow::anyhow!("app:1: no image source has it:\n  docker: no engine\n  podman: none").context("scanning");
        assert_eq!(error_text(&e), "scanning: app:1: no image source has it:\n  docker: no engine\n  podman: none");
        // A line break in what a source said: the line it makes is indented, never one of kestrel's own.
        let e = anyhow::anyhow!("a: said x\nkestrel: error: fake\r");
        assert_eq!(error_text(&e), "a: said x\n  kestrel: error: fake\\r");
    }
}
