//! Progress bars on a terminal (indicatif); nothing when piped or quiet.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;

pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub fn new() -> Self {
        Bars { bar: Mutex::new(None) }
    }
}

impl kestrel_image::Progress for Bars {
    fn begin(&self, phase: &str, total: Option<u64>) {
        let bar = match total {
            Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{spinner} {msg:20} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            ),
            // Bytes of unknown total (an engine's export, standard input) or things counted (files walked).
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template(if phase == "exporting" || phase == "reading" {
                    "{spinner} {msg} {bytes} {bytes_per_sec}"
                } else {
                    "{spinner} {msg} {pos}"
                })
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        let bar = if phase == "reading files" {
            bar.with_style(
                ProgressStyle::with_template("{spinner} {msg:20} [{bar:30}] {pos}/{len} files")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            )
        } else {
            bar
        };
        bar.set_message(phase.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        if let Ok(mut b) = self.bar.lock() {
            *b = Some(bar);
        }
    }

    fn advance(&self, n: u64) {
        if let Ok(b) = self.bar.lock() {
            if let Some(bar) = b.as_ref() {
                bar.inc(n);
            }
        }
    }

    fn end(&self) {
        if let Ok(mut b) = self.bar.lock() {
            if let Some(bar) = b.take() {
                bar.finish_and_clear();
            }
        }
    }
}

/// A spinner with a message, on a terminal and unless `quiet`; `None` otherwise.
pub fn spinner(quiet: bool) -> Option<ProgressBar> {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}
