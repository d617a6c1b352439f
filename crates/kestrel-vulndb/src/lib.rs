//! Vulnerability data and matching.
#![deny(missing_docs)]

pub mod advisory;
pub mod eol;
pub mod import;
pub mod matcher;
pub mod osv;
pub mod policy;
pub mod store;
pub mod update;
pub mod version;
