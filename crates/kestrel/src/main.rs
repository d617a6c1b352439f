//! The `kestrel` command line: argument parsing, progress, output. The work is done by the library crates.

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
            eprintln!("kestrel: error: {e:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(cli.global.verbose, cli.global.quiet);
    match scan::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kestrel: error: {e:#}");
            ExitCode::from(2)
        }
    }
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
