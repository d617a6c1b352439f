//! Vulnerability data and matching.
//!
//! * [`version`] — how each ecosystem orders versions ([`version::Scheme`]): dpkg, rpm, apk, PEP 440, npm,
//!   crates.io and Go SemVer, Maven, RubyGems, NuGet, Composer.
//! * [`osv`], [`import`] — OSV records and the other sources (Debian tracker lists, Alpine secdb, CISA KEV)
//!   checked once and turned into [`advisory::Advisory`] values; [`update`] downloads them.
//! * [`store`] — the on-disk database (`vulndb.sqlite`), replaced atomically by a [`store::Writer`];
//!   [`remote`] fetches it from a kestrel server or sends it there.
//! * [`matcher`] — an inventory against the database: findings merged by alias, with severity, fix and risk;
//!   [`eol`] adds end-of-life releases; [`policy`] applies ignore files and OpenVEX.
//!
//! ```
//! use kestrel_vulndb::version::Scheme;
//! use kestrel_vulndb::advisory::{Event, Range, Verdict};
//! // 1.0~rc1 sorts before 1.0 in dpkg; a range fixed in 1.2-3 affects 1.2-2.
//! assert!(Scheme::Deb.compare("1.0~rc1", "1.0").unwrap().is_lt());
//! let r = Range::validated(Scheme::Deb, vec![Event::Introduced("0".into()), Event::Fixed("1.2-3".into())]).unwrap();
//! let v = Scheme::Deb.parse("1.2-2").unwrap();
//! assert_eq!(r.evaluate(Scheme::Deb, &v), Verdict::Affected { fixed: Some("1.2-3".into()) });
//! ```
#![deny(missing_docs)]

pub mod advisory;
pub mod eol;
pub mod import;
pub mod matcher;
pub mod osv;
pub mod policy;
pub mod remote;
pub mod store;
pub mod update;
pub mod version;
