//! Writers over kestrel documents. One [`Sbom`] value, several renderings: [`TableWriter`] for people,
//! [`JsonWriter`] for kestrel's own stable JSON, [`CycloneDxWriter`] (CycloneDX 1.5 JSON) and
//! [`SpdxWriter`] (SPDX 2.3 JSON) for other tools; [`write_report`] renders a [`kestrel_core::Report`] (an SBOM
//! with findings) as a findings table, JSON, CycloneDX with `vulnerabilities`, or SARIF 2.1.0. Every writer is deterministic: the same SBOM gives the
//! same bytes (serial numbers and namespaces are derived from the content, not drawn at random).
//!
//! ```
//! use kestrel_core::{Sbom, ScanTarget, TargetKind, Tool, SBOM_SCHEMA};
//! use kestrel_report::{Format, write_sbom};
//! let sbom = Sbom {
//!     schema: SBOM_SCHEMA.into(),
//!     tool: Tool { name: "kestrel".into(), version: "0.1.0".into() },
//!     created: "2026-01-01T00:00:00Z".into(),
//!     target: ScanTarget { kind: TargetKind::Directory, name: ".".into(), image_id: None,
//!         manifest_digest: None, index_digest: None, tags: vec![], platform: None, layers: vec![] },
//!     distro: None, packages: vec![], warnings: vec![],
//! };
//! let mut out = Vec::new();
//! write_sbom(&sbom, Format::CycloneDx, &mut out).unwrap();
//! assert!(String::from_utf8(out).unwrap().contains("\"specVersion\": \"1.5\""));
//! ```
#![deny(missing_docs)]

mod compliance;
mod config;
mod cyclonedx;
mod findings;
mod licenses;
mod read;
mod spdx_json;
mod table;

pub use compliance::{compliance_html, write_compliance_table};
pub use config::{config_sarif, findings_summary, write_config, write_config_findings, ConfigFormat, ConfigReport};
pub use cyclonedx::CycloneDxWriter;
pub use findings::{cyclonedx as cyclonedx_report, sarif, write_report};
pub use read::read_sbom;
pub use spdx_json::SpdxWriter;
pub use table::TableWriter;

use kestrel_core::Sbom;
use sha2::{Digest, Sha256};
use std::io::{self, Write};

/// Output formats of an SBOM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A table for people.
    Table,
    /// kestrel's JSON (`kestrel.sbom/v1`).
    Json,
    /// CycloneDX 1.5 JSON.
    CycloneDx,
    /// SPDX 2.3 JSON.
    Spdx,
    /// SARIF 2.1.0 (findings for code-scanning dashboards; an SBOM alone gives an empty run).
    Sarif,
}

/// Renders an SBOM.
pub trait SbomWriter {
    /// Writes `sbom` to `out`.
    fn write(&self, sbom: &Sbom, out: &mut dyn Write) -> io::Result<()>;
}

/// kestrel's own JSON, pretty-printed.
pub struct JsonWriter;

impl SbomWriter for JsonWriter {
    fn write(&self, sbom: &Sbom, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, sbom)?;
        out.write_all(b"\n")
    }
}

/// Writes `sbom` in `format` with the default writer options (no colour).
pub fn write_sbom(sbom: &Sbom, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => TableWriter::default().write(sbom, out),
        Format::Json => JsonWriter.write(sbom, out),
        Format::CycloneDx => CycloneDxWriter.write(sbom, out),
        Format::Spdx => SpdxWriter.write(sbom, out),
        Format::Sarif => {
            let report = kestrel_core::Report {
                sbom: sbom.clone(),
                findings: Vec::new(),
                suppressed: Vec::new(),
                database: None,
                secrets: Vec::new(),
            };
            write_report(&report, Format::Sarif, None, out)
        }
    }
}

/// A name-based UUID (RFC 4122 layout, version 5 bits) from the SHA-256 of the SBOM's JSON: the same
/// inventory always gets the same serial number.
pub(crate) fn content_uuid(sbom: &Sbom) -> String {
    let json = serde_json::to_vec(sbom).unwrap_or_default();
    let h = Sha256::digest(&json);
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &x[..8], &x[8..12], &x[12..16], &x[16..20], &x[20..])
}
