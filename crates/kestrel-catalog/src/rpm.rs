//! RPM packages from the SQLite rpmdb (`/var/lib/rpm/rpmdb.sqlite`, or `/usr/lib/sysimage/rpm/` on newer
//! distributions). Each row holds an RPM header blob, parsed here with bounds checks on every offset.
//! The BerkeleyDB (`Packages`) and NDB (`Packages.db`) formats of older and SUSE systems are recognised
//! and reported as not supported yet, so a scan never silently misses them.

use crate::{os_purl, Cataloger, Context, Found};
use kestrel_core::{Ecosystem, Package, SourcePackage};
use kestrel_image::Want;
use std::io::Write;

/// The rpmdb cataloger.
pub struct RpmCataloger;

const SQLITE_DBS: [&str; 2] = ["/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite"];
const BDB: &str = "/var/lib/rpm/Packages";
/// Most file names read from one header.
const MAX_FILES: usize = 1 << 17;
const NDB_DBS: [&str; 2] = ["/var/lib/rpm/Packages.db", "/usr/lib/sysimage/rpm/Packages.db"];

impl Cataloger for RpmCataloger {
    fn name(&self) -> &'static str {
        "rpm-db"
    }

    fn want(&self, path: &str, _: u64, _: u32) -> Want {
        if SQLITE_DBS.contains(&path) || path == BDB {
            Want::Whole
        } else {
            Want::Skip
        }
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Found) {
        let mut found = false;
        for db in SQLITE_DBS.iter().copied().chain([BDB]) {
            let Some(bytes) = cx.tree().content(db) else { continue };
            found = true;
            let headers = if db == BDB { read_bdb(bytes) } else { read_sqlite(bytes) };
            match headers {
                Ok(headers) => {
                    for (i, blob) in headers.iter().enumerate() {
                        match parse_header(blob) {
                            Ok(h) if h.name != "gpg-pubkey" => {
                                let owner = format!("rpm:{}", h.name);
                                out.owned.extend(h.evidence.iter().map(|f| (f.clone(), owner.clone())));
                                out.packages.push(self.package(cx, h, db))
                            }
                            Ok(_) => {}
                            Err(e) => out.warn(db, format!("package header {i}: {e}")),
                        }
                    }
                }
                Err(e) => out.warn(db, format!("not a readable rpm database: {e}")),
            }
        }
        if !found {
            for db in NDB_DBS {
                if cx.tree().get(db).is_some() {
                    out.warn(db, "NDB rpm databases are not read yet: this image's RPM packages are not listed");
                }
            }
        }
    }
}

impl RpmCataloger {
    fn package(&self, cx: &Context<'_>, h: RpmHeader, db: &str) -> Package {
        let version = match h.epoch {
            Some(e) if e != 0 => format!("{e}:{}-{}", h.version, h.release),
            _ => format!("{}-{}", h.version, h.release),
        };
        let ns = cx.distro.map(|d| d.id.clone()).unwrap_or_else(|| "redhat".into());
        let purl_version = format!("{}-{}", h.version, h.release);
        let epoch = h.epoch.filter(|e| *e != 0).map(|e| e.to_string()).unwrap_or_default();
        let purl = os_purl(cx, "rpm", &ns, (&h.name, &purl_version), h.arch.as_deref(), h.source_rpm.as_deref())
            .qualifier("epoch", &epoch);
        let mut p = Package::new(&h.name, &version, Ecosystem::Rpm, self.name());
        p.purl = purl.to_string();
        p.arch = h.arch.clone();
        p.distro = cx.distro.map(|d| d.release_tag());
        if let Some((n, v)) = h.source_rpm.as_deref().and_then(split_source_rpm) {
            p.source = Some(SourcePackage { name: n, version: v });
        }
        if let Some(l) = &h.license {
            p.licenses = vec![l.clone()];
        }
        if let Some(v) = &h.vendor {
            p.properties.insert("vendor".into(), v.clone());
        }
        if let Some(f) = h.first_files.iter().find(|f| cx.tree().get(f).is_some()) {
            p.layer = cx.tree().get(f).and_then(|n| cx.layer_of(n));
        }
        p.locations.push(cx.location(db));
        p
    }
}

/// `bash-5.1.8-6.el9.src.rpm` → (`bash`, `5.1.8-6.el9`).
pub fn split_source_rpm(s: &str) -> Option<(String, String)> {
    let base = s.strip_suffix(".rpm")?;
    let base = base.rsplit_once('.').map(|(b, _arch)| b).unwrap_or(base);
    let (rest, release) = base.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    Some((name.to_string(), format!("{version}-{release}")))
}

/// Reads every header blob from an rpmdb SQLite file. SQLite reads from a file, so the bytes are written to
/// a private temporary file (removed on return) and opened read-only.
pub fn read_sqlite(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut tmp = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    tmp.write_all(bytes).map_err(|e| e.to_string())?;
    let conn = rusqlite::Connection::open_with_flags(
        tmp.path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| e.to_string())?;
    let mut stmt = conn.prepare("SELECT blob FROM Packages").map_err(|e| e.to_string())?;
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).map_err(|e| e.to_string())?;
    rows.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())
}

/// Reads every value of a BerkeleyDB hash database (the rpm `Packages` file): walks the hash pages, takes
/// the data item of each key/data pair, inline or on a chain of overflow pages. Every offset and page number
/// is checked; chains are bounded by the page count, so hostile files end in an error, not a loop.
pub fn read_bdb(db: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    const HASH_MAGIC: u32 = 0x0006_1561;
    const P_HASH_UNSORTED: u8 = 2;
    const P_OVERFLOW: u8 = 7;
    const P_HASH: u8 = 13;
    const H_KEYDATA: u8 = 1;
    const H_OFFPAGE: u8 = 3;
    const PAGE_HEADER: usize = 26;
    if db.len() < 72 {
        return Err("shorter than a BerkeleyDB metadata page".into());
    }
    let le = match (
        u32::from_le_bytes(db[12..16].try_into().unwrap_or_default()),
        u32::from_be_bytes(db[12..16].try_into().unwrap_or_default()),
    ) {
        (HASH_MAGIC, _) => true,
        (_, HASH_MAGIC) => false,
        _ => return Err("not a BerkeleyDB hash database (bad magic)".into()),
    };
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        let x: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if le { u32::from_le_bytes(x) } else { u32::from_be_bytes(x) })
    };
    let u16_at = |b: &[u8], at: usize| -> Option<u16> {
        let x: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(if le { u16::from_le_bytes(x) } else { u16::from_be_bytes(x) })
    };
    let page_size = u32_at(db, 20).ok_or("truncated metadata")? as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("implausible page size {page_size}"));
    }
    let pages = db.len() / page_size;
    let page = |n: usize| db.get(n * page_size..(n + 1) * page_size);
    let mut out = Vec::new();
    for n in 1..pages {
        let Some(p) = page(n) else { break };
        if p[25] != P_HASH && p[25] != P_HASH_UNSORTED {
            continue;
        }
        let entries = u16_at(p, 20).unwrap_or(0) as usize;
        let offsets: Vec<usize> =
            (0..entries).filter_map(|i| u16_at(p, PAGE_HEADER + 2 * i).map(usize::from)).collect();
        // Items are stored from the end of the page downwards: an item ends where the previous one starts.
        for i in (1..offsets.len()).step_by(2) {
            let off = offsets[i];
            let end = offsets[i - 1];
            let Some(&kind) = p.get(off) else { continue };
            match kind {
                H_KEYDATA if off < end && end <= page_size => out.push(p[off + 1..end].to_vec()),
                H_OFFPAGE => {
                    let (Some(mut next), Some(total)) = (u32_at(p, off + 4), u32_at(p, off + 8)) else { continue };
                    let total = total as usize;
                    if total > db.len() {
                        return Err(format!("overflow item of {total} bytes in a {}-byte file", db.len()));
                    }
                    let mut value = Vec::with_capacity(total);
                    let mut hops = 0;
                    while next != 0 && value.len() < total {
                        hops += 1;
                        let op =
                            page(next as usize).ok_or(format!("overflow page {next} beyond the end of the file"))?;
                        if hops > pages || op[25] != P_OVERFLOW {
                            return Err(format!("broken overflow chain at page {next}"));
                        }
                        let used = u16_at(op, 22).unwrap_or(0) as usize;
                        let chunk =
                            op.get(PAGE_HEADER..PAGE_HEADER + used).ok_or("overflow page length beyond the page")?;
                        value.extend_from_slice(chunk);
                        next = u32_at(op, 16).unwrap_or(0);
                    }
                    value.truncate(total);
                    out.push(value);
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

/// The fields kestrel reads from an RPM header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpmHeader {
    /// NAME (1000).
    pub name: String,
    /// VERSION (1001).
    pub version: String,
    /// RELEASE (1002).
    pub release: String,
    /// EPOCH (1003).
    pub epoch: Option<u32>,
    /// ARCH (1022).
    pub arch: Option<String>,
    /// SOURCERPM (1044).
    pub source_rpm: Option<String>,
    /// LICENSE (1014).
    pub license: Option<String>,
    /// VENDOR (1011).
    pub vendor: Option<String>,
    /// The first few files the package owns (DIRNAMES/BASENAMES/DIRINDEXES).
    pub first_files: Vec<String>,
    /// The owned files that are language-package evidence ([`crate::is_evidence`]).
    pub evidence: Vec<String>,
}

const TAG_NAME: i32 = 1000;
const TAG_VERSION: i32 = 1001;
const TAG_RELEASE: i32 = 1002;
const TAG_EPOCH: i32 = 1003;
const TAG_VENDOR: i32 = 1011;
const TAG_LICENSE: i32 = 1014;
const TAG_ARCH: i32 = 1022;
const TAG_SOURCERPM: i32 = 1044;
const TAG_DIRINDEXES: i32 = 1116;
const TAG_BASENAMES: i32 = 1117;
const TAG_DIRNAMES: i32 = 1118;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// Parses a header blob as stored in the rpmdb (index count, data length, index entries, data store).
pub fn parse_header(blob: &[u8]) -> Result<RpmHeader, String> {
    let be32 = |b: &[u8], at: usize| -> Result<u32, String> {
        b.get(at..at + 4)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            .ok_or_else(|| "truncated header".to_string())
    };
    let il = be32(blob, 0)? as usize;
    let dl = be32(blob, 4)? as usize;
    if il == 0 || il > 0xffff || dl > 256 << 20 {
        return Err(format!("implausible header sizes ({il} entries, {dl} data bytes)"));
    }
    let data_start = 8 + il * 16;
    let data = blob.get(data_start..data_start + dl).ok_or("header shorter than its declared sizes")?;
    let mut h = RpmHeader::default();
    let mut dirnames = Vec::new();
    let mut basenames = Vec::new();
    let mut dirindexes = Vec::new();
    for i in 0..il {
        let e = 8 + i * 16;
        let tag = be32(blob, e)? as i32;
        let ty = be32(blob, e + 4)?;
        let off = be32(blob, e + 8)? as i32;
        let count = be32(blob, e + 12)? as usize;
        if off < 0 || off as usize >= data.len() {
            continue;
        }
        let at = off as usize;
        let string = || -> Option<String> {
            if ty != TYPE_STRING && ty != TYPE_I18NSTRING {
                return None;
            }
            let rest = &data[at..];
            let end = rest.iter().position(|&b| b == 0)?;
            Some(String::from_utf8_lossy(&rest[..end]).into_owned())
        };
        let strings = |max: usize| -> Vec<String> {
            if ty != TYPE_STRING_ARRAY {
                return vec![];
            }
            data[at..]
                .split(|&b| b == 0)
                .take(count.min(max))
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        };
        match tag {
            TAG_NAME => h.name = string().unwrap_or_default(),
            TAG_VERSION => h.version = string().unwrap_or_default(),
            TAG_RELEASE => h.release = string().unwrap_or_default(),
            TAG_EPOCH if ty == TYPE_INT32 && count >= 1 => h.epoch = be32(data, at).ok(),
            TAG_ARCH => h.arch = string(),
            TAG_SOURCERPM => h.source_rpm = string(),
            TAG_LICENSE => h.license = string(),
            TAG_VENDOR => h.vendor = string(),
            TAG_DIRNAMES => dirnames = strings(4096),
            TAG_BASENAMES => basenames = strings(MAX_FILES),
            TAG_DIRINDEXES if ty == TYPE_INT32 => {
                dirindexes = (0..count.min(MAX_FILES)).filter_map(|k| be32(data, at + 4 * k).ok()).collect();
            }
            _ => {}
        }
    }
    if h.name.is_empty() || h.version.is_empty() {
        return Err("header has no NAME or VERSION".into());
    }
    for (b, d) in basenames.iter().zip(dirindexes.iter()) {
        if let Some(dir) = dirnames.get(*d as usize) {
            let f = format!("{dir}{b}");
            if crate::is_evidence(&f) {
                h.evidence.push(f.clone());
            }
            if h.first_files.len() < 4 {
                h.first_files.push(f);
            }
        }
    }
    Ok(h)
}

/// Builds header blobs (tests and fixtures): string tags and an optional INT32 epoch.
#[doc(hidden)]
pub fn encode_header(strings: &[(i32, &str)], epoch: Option<u32>) -> Vec<u8> {
    let mut index = Vec::new();
    let mut data = Vec::new();
    if let Some(e) = epoch {
        index.push((TAG_EPOCH, TYPE_INT32, data.len() as u32, 1u32));
        data.extend_from_slice(&e.to_be_bytes());
    }
    for (tag, s) in strings {
        index.push((*tag, TYPE_STRING, data.len() as u32, 1));
        data.extend_from_slice(s.as_bytes());
        data.push(0);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&(index.len() as u32).to_be_bytes());
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    for (t, ty, off, c) in index {
        out.extend_from_slice(&t.to_be_bytes());
        out.extend_from_slice(&ty.to_be_bytes());
        out.extend_from_slice(&off.to_be_bytes());
        out.extend_from_slice(&c.to_be_bytes());
    }
    out.extend_from_slice(&data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip() {
        let blob = encode_header(
            &[
                (TAG_NAME, "bash"),
                (TAG_VERSION, "5.1.8"),
                (TAG_RELEASE, "9.el9"),
                (TAG_ARCH, "x86_64"),
                (TAG_SOURCERPM, "bash-5.1.8-9.el9.src.rpm"),
            ],
            Some(0),
        );
        let h = parse_header(&blob).unwrap();
        assert_eq!((h.name.as_str(), h.version.as_str(), h.release.as_str()), ("bash", "5.1.8", "9.el9"));
        assert_eq!(split_source_rpm(h.source_rpm.as_deref().unwrap()), Some(("bash".into(), "5.1.8-9.el9".into())));
    }

    #[test]
    fn hostile_headers_are_errors() {
        assert!(parse_header(&[]).is_err());
        assert!(parse_header(&[0xff; 64]).is_err());
        let mut blob = encode_header(&[(TAG_NAME, "x"), (TAG_VERSION, "1")], None);
        blob.truncate(blob.len() - 3);
        assert!(parse_header(&blob).is_err());
        // An offset beyond the data store is ignored, not followed.
        let mut blob = encode_header(&[(TAG_NAME, "x"), (TAG_VERSION, "1"), (TAG_LICENSE, "MIT")], None);
        blob[8 + 2 * 16 + 8..8 + 2 * 16 + 12].copy_from_slice(&0x7fff_0000u32.to_be_bytes());
        assert_eq!(parse_header(&blob).unwrap().license, None);
    }

    #[test]
    fn berkeley_db_with_overflow_pages() {
        // Written by db5.3_load (scripts/fixtures/make-rpm-bdb.py); glibc-common's header spans overflow pages.
        let db = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rpm-Packages.bdb")).unwrap();
        let mut names: Vec<(String, String, Option<u32>)> = read_bdb(&db)
            .unwrap()
            .iter()
            .map(|b| parse_header(b).unwrap())
            .map(|h| (h.name, format!("{}-{}", h.version, h.release), h.epoch))
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                ("bash".into(), "4.2.46-35.el7_9".into(), None),
                ("glibc-common".into(), "2.17-326.el7_9".into(), None),
                ("openssl-libs".into(), "1.0.2k-26.el7_9".into(), Some(1)),
            ]
        );
        assert!(read_bdb(b"not a database at all, certainly not 72 bytes of metadata..................").is_err());
        let mut broken = db.clone();
        for b in broken.iter_mut().skip(4096) {
            *b ^= 0x5a;
        }
        let _ = read_bdb(&broken); // garbage pages: an error or fewer values, never a panic
    }

    #[test]
    fn sqlite_db_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rpmdb.sqlite");
        let conn = rusqlite::Connection::open(&p).unwrap();
        conn.execute_batch("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);")
            .unwrap();
        let blob = encode_header(&[(TAG_NAME, "zlib"), (TAG_VERSION, "1.2.11"), (TAG_RELEASE, "40.el9")], None);
        conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [&blob]).unwrap();
        drop(conn);
        let blobs = read_sqlite(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(parse_header(&blobs[0]).unwrap().name, "zlib");
        assert!(read_sqlite(b"not sqlite at all").is_err());
    }
}
