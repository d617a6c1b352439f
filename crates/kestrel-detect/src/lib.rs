//! kestrel's detection: what a workload normally does, learned, and how far what it does now is from it.
//!
//! - [`seq`]: models of system-call sequences (STIDE-style n-gram sets, a smoothed n-gram language model),
//!   each scoring a trace or a live stream of calls by how unusual it is.
//! - [`suffix`]: matching statistics against a suffix automaton of everything learned.
//! - [`neural`]: a small neural language model of system calls (candle, on the CPU).
//! - [`metrics`]: ROC AUC and detection rates at a false-alarm rate whose threshold is taken from normal
//!   data only.
//! - [`adfa`], [`eval`]: the ADFA-LD benchmark, read and evaluated (`kestrel eval adfa`).
//! - [`profile`]: a workload's behaviour profile — processes, files, network, privilege operations and
//!   per-thread system-call sequences learned together — with its modes (learn, monitor, protect), poisoning
//!   guards, drift tracking and the federated merge; [`store`] keeps its versions on disk for rollback.
//! - [`rules`]: known-bad behaviour in a subset of Falco's rule language, and kestrel's built-in rules.
//! - [`detector`]: rules and profiles over one stream of events (the live sensor's or a recording's), giving
//!   explained alerts; [`fold`] sends a storm of alike alerts as one summary.
//!
//! Learning system-call sequences from normal traces and scoring new ones:
//!
//! ```
//! use kestrel_detect::seq::{NgramLm, NgramSet};
//!
//! // A server's normal loop: accept, read, write, close.
//! let normal: Vec<Vec<u16>> = (0..20).map(|_| [43, 0, 1, 3].repeat(10)).collect();
//! let stide = NgramSet::learn(3, normal.iter().map(|t| t.as_slice()));
//! let lm = NgramLm::learn(3, normal.iter().map(|t| t.as_slice()));
//!
//! // The same loop, then a shell: dup2, dup2, execve.
//! let mut hijacked = [43, 0, 1, 3].repeat(5);
//! hijacked.extend([33, 33, 59]);
//! assert_eq!(stide.score(&normal[0]), 0.0);
//! assert!(stide.score(&hijacked) > 0.0);
//!
//! let mean = |xs: Vec<f64>| xs.iter().sum::<f64>() / xs.len() as f64;
//! assert!(mean(lm.surprises(&hijacked)) > mean(lm.surprises(&normal[0])));
//! ```

#![deny(missing_docs)]

pub mod adfa;
pub mod detector;
pub mod eval;
pub mod fold;
pub mod metrics;
pub mod neural;
pub mod profile;
mod rng;
pub mod rules;
pub mod seq;
pub mod store;
pub mod suffix;
