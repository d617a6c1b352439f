//! A file's identity as `stat` gives it, for "is this still the file I read?" without reading it again.

use serde::{Deserialize, Serialize};

/// Device, inode, size, and modification and change times (seconds and nanoseconds): the same while the file is
/// not replaced (a rename over it brings another inode) nor written in place (the times move).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdent {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time: seconds, nanoseconds.
    pub mtime: (i64, i64),
    /// Change time: seconds, nanoseconds.
    pub ctime: (i64, i64),
}

impl FileIdent {
    /// The identity `m` describes.
    pub fn of(m: &std::fs::Metadata) -> FileIdent {
        use std::os::unix::fs::MetadataExt;
        FileIdent {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// `dev:ino:size:mtime.nsec:ctime.nsec`.
impl std::fmt::Display for FileIdent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let FileIdent { dev, ino, size, mtime, ctime } = self;
        write!(f, "{dev}:{ino}:{size}:{}.{}:{}.{}", mtime.0, mtime.1, ctime.0, ctime.1)
    }
}
