//! The vocabulary every kestrel crate speaks: plain data types with serde, and no I/O.
//!
//! * [`Package`] — one software package found in an artifact: name, version, [`Ecosystem`], its
//!   [package URL](https://github.com/package-url/purl-spec) ([`Purl`]), the source package it was built
//!   from (for OS packages), and every [`Location`] (path and layer) it was found at.
//! * [`Sbom`] — the inventory of one scanned [`ScanTarget`]: the detected [`Distro`], the packages, and
//!   the [`Warning`]s met on the way. Its JSON form is stable and versioned ([`SBOM_SCHEMA`]).
//! * [`Event`] — what a process in a container did, as the runtime sensor saw it ([`EVENT_SCHEMA`]).
//! * [`Alert`] — what a detector concluded about a workload, with evidence and explanation ([`ALERT_SCHEMA`]).
//! * [`Report`] — an SBOM with [`Finding`]s: vulnerable and malicious packages, an end-of-life operating
//!   system; each with a [`Severity`] and a [`Risk`] score explained in words ([`REPORT_SCHEMA`]).
//!
//! ```
//! use kestrel_core::{Ecosystem, Package, Purl};
//! let p = Package::new("requests", "2.31.0", Ecosystem::PyPI, "python-installed");
//! assert_eq!(p.purl, "pkg:pypi/requests@2.31.0");
//! let deb = Purl::new("deb", "libc6", "2.36-9+deb12u4")
//!     .namespace("debian")
//!     .qualifier("arch", "amd64")
//!     .qualifier("distro", "debian-12");
//! assert_eq!(deb.to_string(), "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12");
//! ```
#![deny(missing_docs)]

mod alert;
mod dns;
mod event;
mod finding;
mod glob;
mod ident;
mod misconfig;
mod package;
mod path;
mod purl;
mod sbom;
mod secret;

pub use alert::{Alert, AlertSource, Contribution, Folded, ALERT_SCHEMA};
pub use dns::{dns_question, dns_zone, encoded_label, DnsQuestion, ENCODED_RUN};
pub use event::{
    leavable_bits, leavable_names, redact_env_entry, ContainerRef, Event, EventKind, ExeFile, L4Proto, ProcessRef,
    SockAddr, ENV_VALUES_KEPT, EVENT_KINDS, EVENT_SCHEMA, LEAVABLE_KINDS, MAX_LABELS, SYSCALL_BATCH,
};
pub use finding::{
    CvssScore, DatabaseRef, EndOfLifeFinding, Finding, FixState, Report, Risk, Severity, Suppressed,
    VulnerabilityFinding, REPORT_SCHEMA,
};
pub use glob::glob;
pub use ident::FileIdent;
pub use misconfig::{
    ComplianceReport, ComplianceSummary, ConfigFinding, ControlRef, ControlResult, ControlStatus, COMPLIANCE_SCHEMA,
    CONFIG_SCHEMA,
};
pub use package::{default_purl, Ecosystem, Location, Package, SourcePackage};
pub use path::{is_process_environment, is_sensitive_read, normalize_path, SENSITIVE_READS};
pub use purl::Purl;
pub use sbom::{
    is_lower_hex, is_sha256_hex, sha256_hex, Distro, LayerRef, Sbom, ScanTarget, TargetKind, Tool, Warning, SBOM_SCHEMA,
};
pub use secret::{secret_controls, SecretFinding, SECRET_FIX};

/// `1 file`, `2 files`: a count and its noun, plural when it is not one (for nouns that take an `s`).
pub fn counted(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// An RFC 3339 time as people read it in a table or a message: to the second (`2026-12-07T00:12:04Z`); the JSON
/// keeps the nanoseconds. Anything else comes back as it is.
pub fn to_the_second(rfc3339: &str) -> String {
    match (rfc3339.get(..19), rfc3339.get(19..)) {
        (Some(head), Some(rest)) if rest.starts_with('.') && rest.ends_with('Z') => format!("{head}Z"),
        _ => rfc3339.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_to_the_second() {
        assert_eq!(super::to_the_second("2026-12-07T00:14:03.466934569Z"), "2026-12-07T00:14:03Z");
        assert_eq!(super::to_the_second("2026-12-07T00:14:03.5Z"), "2026-12-07T00:14:03Z");
        assert_eq!(super::to_the_second("2026-12-07T00:14:03Z"), "2026-12-07T00:14:03Z");
        assert_eq!(super::to_the_second("2026-12-07T00:14:03.5+02:00"), "2026-12-07T00:14:03.5+02:00");
        assert_eq!(super::to_the_second("soon"), "soon");
        assert_eq!(super::to_the_second("2026-12-07T00:14:03é"), "2026-12-07T00:14:03é");
    }
}
