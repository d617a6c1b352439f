//! Vulnerability data and matching.
#![deny(missing_docs)]

pub mod version;
pub mod advisory;
pub mod osv;
