//! The table people read.

use crate::SbomWriter;
use comfy_table::{presets, Cell, ContentArrangement, Table};
use kestrel_core::Sbom;
use std::io::{self, Write};

/// A table of packages (name, version, type, where), preceded by the target, its OS and counts.
#[derive(Debug, Clone, Default)]
pub struct TableWriter {
    /// Terminal width to wrap to; `None` writes unwrapped lines.
    pub width: Option<u16>,
}

impl SbomWriter for TableWriter {
    fn write(&self, sbom: &Sbom, out: &mut dyn Write) -> io::Result<()> {
        let t = &sbom.target;
        writeln!(out, "Target:   {}", t.name)?;
        if let Some(id) = &t.image_id {
            writeln!(
                out,
                "Image:    {id}{}",
                if t.tags.is_empty() { String::new() } else { format!(" ({})", t.tags.join(", ")) }
            )?;
        }
        if !t.layers.is_empty() {
            writeln!(out, "Layers:   {}", t.layers.len())?;
        }
        match &sbom.distro {
            Some(d) => writeln!(out, "OS:       {}", d.pretty_name.clone().unwrap_or_else(|| d.release_tag()))?,
            None => writeln!(out, "OS:       none detected")?,
        }
        let counts: Vec<String> = sbom.counts().iter().map(|(e, n)| format!("{n} {e}")).collect();
        writeln!(
            out,
            "Packages: {}{}",
            sbom.packages.len(),
            if counts.is_empty() { String::new() } else { format!(" ({})", counts.join(", ")) }
        )?;
        writeln!(out)?;
        let mut table = plain_table(self.width);
        table.set_header(vec!["NAME", "VERSION", "TYPE", "FOUND AT"]);
        for p in &sbom.packages {
            let at = p.locations.first().map(|l| l.path.as_str()).unwrap_or("");
            table.add_row(vec![
                Cell::new(&p.name),
                Cell::new(&p.version),
                Cell::new(p.ecosystem.purl_type()),
                Cell::new(at),
            ]);
        }
        writeln!(out, "{table}")?;
        if !sbom.warnings.is_empty() {
            writeln!(out, "\n{}:", kestrel_core::counted(sbom.warnings.len(), "warning"))?;
            for w in &sbom.warnings {
                writeln!(out, "  {}: {}", w.path, w.message)?;
            }
        }
        Ok(())
    }
}

/// A table without borders: as wide as the terminal when there is one (columns wrap), else one line per row.
pub(crate) fn plain_table(width: Option<u16>) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    match width {
        Some(w) => {
            t.set_width(w).set_content_arrangement(ContentArrangement::Dynamic);
        }
        None => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    t
}
