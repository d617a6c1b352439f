//! What the image-reading tests share.
#![allow(dead_code)]

use kestrel_image::{ContentSelector, Want};
use kestrel_testkit::Entry;

/// Keeps everything under /etc and /var/lib.
pub struct KeepEtc;
impl ContentSelector for KeepEtc {
    fn want(&self, path: &str, _: u64, _: u32) -> Want {
        if path.starts_with("/etc/") || path.starts_with("/var/lib/") {
            Want::Whole
        } else {
            Want::Skip
        }
    }
}

/// A file with text content.
pub fn f(p: &str, d: &str) -> Entry {
    Entry::File(p.into(), d.as_bytes().to_vec())
}
