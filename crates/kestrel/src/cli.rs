//! Command-line grammar.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  findings at or above the --exit-code threshold (scans that report findings)
  2  usage error, or an input that cannot be read (the message names the file and the reason)";

/// kestrel — container security from build to run time.
#[derive(Parser, Debug)]
#[command(name = "kestrel", version, about, long_about = None, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Print nothing but the result (no progress, no warnings summary).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More log output on stderr (-v info, -vv debug; or set KESTREL_LOG).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List every package in a container image (docker save archive or OCI image layout).
    #[command(after_help = "Examples:
  kestrel image --input app.tar                    a `docker save` archive
  kestrel image oci:./layout:1.2                   tag 1.2 of an OCI image layout
  kestrel image oci:./layout --platform linux/arm64
  kestrel image app.tar -f cyclonedx -o sbom.cdx.json
  kestrel image oci-archive.tar -f spdx            an OCI layout packed in a tar

Image references:
  docker-archive:PATH   a `docker save` archive (also: --input PATH)
  oci:DIR[:TAG]         an OCI image layout directory; TAG picks from its index
  oci-archive:PATH[:TAG] an OCI layout in a tar
  PATH                  detected: a directory with oci-layout, or a tar")]
    Image(ImageArgs),
    /// List every package in an unpacked root file system (a directory, or a tar of one).
    #[command(after_help = "Examples:
  kestrel rootfs /var/lib/machines/web
  kestrel rootfs rootfs.tar.gz -f json")]
    Rootfs(PathArgs),
    /// List the packages a project directory declares and holds (lock files, manifests, vendored packages).
    #[command(after_help = "Examples:
  kestrel fs .
  kestrel fs ~/src/app -f cyclonedx -o app.cdx.json")]
    Fs(PathArgs),
    /// List the catalogers and what they read.
    Catalogers,
}

#[derive(Args, Debug)]
pub struct ImageArgs {
    /// The image: `oci:DIR[:TAG]`, `docker-archive:PATH`, `oci-archive:PATH[:TAG]`, or a path.
    #[arg(value_name = "IMAGE", required_unless_present = "input")]
    pub image: Option<String>,
    /// A `docker save` archive (same as `docker-archive:PATH`).
    #[arg(long, value_name = "FILE", conflicts_with = "image")]
    pub input: Option<PathBuf>,
    /// Pick this tag (or manifest digest) when the archive or layout holds several images.
    #[arg(long)]
    pub tag: Option<String>,
    /// Pick this platform from a multi-platform index (default: the host's), e.g. `linux/arm64`.
    #[arg(long)]
    pub platform: Option<String>,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Args, Debug)]
pub struct PathArgs {
    /// The directory (or, for rootfs, a tar of it).
    pub path: PathBuf,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Args, Debug)]
pub struct OutputArgs {
    /// Output format (default: table on a terminal, json otherwise).
    #[arg(short, long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Write the result to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// A table for people.
    Table,
    /// kestrel's JSON (schema kestrel.sbom/v1).
    Json,
    /// CycloneDX 1.5 JSON.
    #[value(alias = "cdx")]
    Cyclonedx,
    /// SPDX 2.3 JSON.
    #[value(alias = "spdx-json")]
    Spdx,
}

/// Bounds against hostile images; the defaults fit any real image.
#[derive(Args, Debug)]
pub struct LimitArgs {
    /// Largest uncompressed layer, in bytes.
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub max_layer_bytes: Option<u64>,
    /// Largest uncompressed image (all layers), in bytes.
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub max_total_bytes: Option<u64>,
    /// Largest compression ratio of a layer (decompression-bomb guard).
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_ratio: Option<u64>,
    /// Most files, directories and links in one artifact.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_entries: Option<u64>,
    /// Most file content kept in memory for analysis, in bytes.
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub max_kept_bytes: Option<u64>,
}

impl LimitArgs {
    pub fn limits(&self) -> kestrel_image::Limits {
        let mut l = kestrel_image::Limits::default();
        if let Some(v) = self.max_layer_bytes {
            l.max_layer_bytes = v;
        }
        if let Some(v) = self.max_total_bytes {
            l.max_total_bytes = v;
        }
        if let Some(v) = self.max_ratio {
            l.max_ratio = v;
        }
        if let Some(v) = self.max_entries {
            l.max_entries = v;
        }
        if let Some(v) = self.max_kept_bytes {
            l.max_kept_total = v;
        }
        l
    }
}
