//! The runtime sensor: an eBPF program (CO-RE, `src/bpf/sensor.bpf.c`) reports what processes of watched
//! cgroups do — exec, exit, file opens that write or touch sensitive paths, outgoing connections — into a ring
//! buffer; a reader thread decodes the records into a bounded queue; [`Sensor::next`] enriches them with their
//! container and hands them out as [`kestrel_core::Event`]s. Nothing blocks the workload: when the ring buffer
//! or the queue is full, events are dropped and counted by cause ([`Stats`]).
//!
//! Root and a kernel with BTF (≥ 5.8) are needed, so the example does not run as a doc test (the crate's
//! `tests/` do, with real runc containers):
//!
//! ```no_run
//! use std::time::Duration;
//!
//! kestrel_sensor::preflight()?; // a clear reason when this kernel or user cannot
//! let mut sensor = kestrel_sensor::Sensor::start(kestrel_sensor::Config::default())?;
//! while let Some(event) = sensor.next(Duration::from_secs(1)) {
//!     println!("{}", serde_json::to_string(&event)?); // kestrel.event/v1
//! }
//! sensor.stop()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod cgroup;
pub mod decode;
pub mod kubelet;
pub mod opens;
mod preflight;
pub mod procs;
pub mod runtime;
mod sensor;
pub mod users;

pub use preflight::{preflight, SensorError};

/// The hasher of the maps keyed by pids and cgroup ids that every event looks up (SipHash showed in the
/// consumer's profile at 500 k events a second).
type Fast = foldhash::fast::RandomState;
pub use sensor::{reported_kinds, Config, Sensor, Stats, LEAVABLE};
