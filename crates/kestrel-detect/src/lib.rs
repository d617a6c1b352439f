//! kestrel's detection: what a workload normally does, learned, and how far what it does now is from it.
//!
//! - [`seq`]: models of system-call sequences (STIDE-style n-gram sets, a smoothed n-gram language model),
//!   each scoring a trace or a live stream of calls by how unusual it is.
//! - [`suffix`]: matching statistics against a suffix automaton of everything learned.
//! - [`neural`]: a small neural language model of system calls (candle, on the CPU).
//! - [`metrics`]: ROC AUC and detection rates at a false-alarm rate whose threshold is taken from normal
//!   data only.
//! - [`adfa`], [`eval`]: the ADFA-LD benchmark, read and evaluated (`kestrel eval adfa`).

pub mod adfa;
pub mod detector;
pub mod eval;
pub mod metrics;
pub mod neural;
pub mod profile;
pub mod rules;
pub mod seq;
pub mod store;
pub mod suffix;
