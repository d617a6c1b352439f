/// Bounds on what reading one artifact may cost. The defaults accept any real image we know of and stop
/// decompression bombs and resource exhaustion long before they hurt the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest uncompressed size of one layer, in bytes.
    pub max_layer_bytes: u64,
    /// Largest uncompressed size of all layers together.
    pub max_total_bytes: u64,
    /// Largest ratio of uncompressed to compressed bytes for a layer (checked once a layer has produced
    /// more than [`Limits::ratio_grace_bytes`]).
    pub max_ratio: u64,
    /// Uncompressed bytes a layer may produce before the ratio is checked.
    pub ratio_grace_bytes: u64,
    /// Most entries (files, directories, links) in one artifact.
    pub max_entries: u64,
    /// Largest file whose whole content is kept for catalogers.
    pub max_kept_file: u64,
    /// Largest file of a layer read into memory to extract a summary from (binaries, archives). Files of a
    /// directory on disk are memory-mapped instead and may be up to 16 GiB.
    pub max_probe_file: u64,
    /// Most content bytes kept in memory for one artifact.
    pub max_kept_total: u64,
    /// Files of a layer above this size that are only probed (an executable's build records, the secret
    /// scanner's look) are written to an unnamed temporary file and mapped instead of read into a buffer of their
    /// size: parsers touch only the pages they need, so a 100 MB executable costs a few pages of memory. The file
    /// goes to `$TMPDIR`, else `/var/tmp` (on disk where `/tmp` is a tmpfs), else `/tmp`; where none has room the
    /// file is read into memory as before. `u64::MAX`: never.
    pub spill_above: u64,
    /// Largest manifest, index or configuration document.
    pub max_metadata_bytes: u64,
}

impl Limits {
    /// Most bytes of manifests, indexes and configurations kept while an archive streams in (its layers and their
    /// order are known only at its end).
    pub fn max_metadata_kept(&self) -> u64 {
        self.max_metadata_bytes.saturating_mul(4)
    }

    /// Largest image archive read as a stream or sent by an engine: the layers, what is kept of the metadata
    /// besides them, and 1 MiB for tar headers and the legacy per-layer files.
    pub fn max_archive_bytes(&self) -> u64 {
        self.max_total_bytes.saturating_add(self.max_metadata_kept()).saturating_add(1 << 20)
    }
}

impl Default for Limits {
    fn default() -> Self {
        const GIB: u64 = 1 << 30;
        const MIB: u64 = 1 << 20;
        Limits {
            max_layer_bytes: 32 * GIB,
            max_total_bytes: 64 * GIB,
            max_ratio: 250,
            ratio_grace_bytes: 64 * MIB,
            max_entries: 4_000_000,
            max_kept_file: 64 * MIB,
            max_probe_file: 512 * MIB,
            max_kept_total: 2 * GIB,
            spill_above: 16 * MIB,
            max_metadata_bytes: 16 * MIB,
        }
    }
}
