//! The on-disk database: one SQLite file (`vulndb.sqlite`) in the database directory.
//!
//! Readers open it read-only. Writers never touch it in place: [`Writer`] copies it to a temporary file
//! beside it, replaces one source's records there, and renames the copy over the original, so an
//! interrupted update leaves the previous database whole and usable.

use crate::advisory::{Advisory, Affected};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Bumped when the file layout changes; an older file is refused with a message to update.
pub const SCHEMA_VERSION: u32 = 2;
/// The database file's name inside the database directory.
pub const DB_FILE: &str = "vulndb.sqlite";

/// Errors of the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No database file at the path.
    #[error("{0}: no vulnerability database here; run `kestrel db update` (or `kestrel db import PATH` offline)")]
    Missing(PathBuf),
    /// The file exists but is not a kestrel database of this version.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// SQLite failed.
    #[error("{path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Now, as the database records times (RFC 3339, UTC).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// What the database records about one imported source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Stable name (`osv:PyPI`, `debian-tracker:DSA`, `alpine-secdb:v3.20/main`, `kev`).
    pub name: String,
    /// Where it was read from (a URL or a path).
    pub location: String,
    /// When it was imported (RFC 3339).
    pub imported_at: String,
    /// Advisories kept.
    pub records: u64,
    /// Records dropped whole (unreadable, schema errors), and parts dropped; each was warned about.
    pub skipped: u64,
    /// Withdrawn records (kept out).
    #[serde(default)]
    pub withdrawn: u64,
    /// SHA-256 of the imported file, when it was one file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Newest `modified` time among the records: how fresh the data is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_record: Option<String>,
}

/// A known-exploited vulnerability (CISA KEV or a list of the same shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownExploited {
    /// CVE id.
    pub cve: String,
    /// When it was added to the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_added: Option<String>,
    /// Whether ransomware campaigns are known to use it.
    #[serde(default)]
    pub ransomware: bool,
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> DbError + '_ {
    move |source| DbError::Sqlite { path: path.to_path_buf(), source }
}

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources (name TEXT PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE advisories (rowid INTEGER PRIMARY KEY, source TEXT NOT NULL, id TEXT NOT NULL, doc BLOB NOT NULL,
    UNIQUE (source, id));
CREATE INDEX advisories_by_id ON advisories (id);
CREATE TABLE affected (ecosystem TEXT NOT NULL, name TEXT NOT NULL, advisory INTEGER NOT NULL, seq INTEGER NOT NULL,
    spec BLOB NOT NULL, PRIMARY KEY (ecosystem, name, advisory, seq)) WITHOUT ROWID;
CREATE TABLE aliases (alias TEXT NOT NULL, advisory INTEGER NOT NULL);
CREATE INDEX aliases_by_alias ON aliases (alias);
CREATE TABLE known_exploited (cve TEXT PRIMARY KEY, info TEXT NOT NULL);
";

/// An advisory's text and scores, without its affected list (what a finding shows).
pub type AdvisoryDoc = Advisory;

/// A read-only handle on the database.
pub struct Database {
    conn: Connection,
    path: PathBuf,
    /// One decompression context for every advisory document read.
    zstd: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>>,
}

/// One affected entry found for a package, with the advisory it belongs to.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Row of the advisory (to fetch its document once per scan).
    pub advisory_row: i64,
    /// The affected entry.
    pub affected: Affected,
}

impl Database {
    /// Opens `dir/vulndb.sqlite` read-only.
    pub fn open(dir: &Path) -> Result<Database, DbError> {
        Database::open_file(&dir.join(DB_FILE))
    }

    /// Opens a database file read-only (see [`Database::open`]).
    pub fn open_file(path: &Path) -> Result<Database, DbError> {
        let path = path.to_path_buf();
        if !path.is_file() {
            return Err(DbError::Missing(path));
        }
        let conn =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(sqlite(&path))?;
        // Writers never change this file (they rename a new one over it), so the shared lock can be taken once
        // and kept, and the file mapped: lookups then cost no locking or read system calls.
        conn.execute_batch(
            "PRAGMA trusted_schema = OFF; PRAGMA locking_mode = EXCLUSIVE; PRAGMA mmap_size = 1073741824;
             PRAGMA cache_size = -32768;",
        )
        .map_err(sqlite(&path))?;
        let db = Database { conn, path, zstd: std::cell::RefCell::new(None) };
        let version: Option<String> =
            db.conn.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0)).optional().map_err(
                |e| DbError::Invalid { path: db.path.clone(), reason: format!("not a kestrel database ({e})") },
            )?;
        match version.as_deref().and_then(|v| v.parse::<u32>().ok()) {
            Some(SCHEMA_VERSION) => Ok(db),
            Some(v) => Err(DbError::Invalid {
                path: db.path.clone(),
                reason: format!("database schema {v}, this kestrel reads {SCHEMA_VERSION}: run `kestrel db update`"),
            }),
            None => {
                Err(DbError::Invalid { path: db.path.clone(), reason: "not a kestrel database (no schema)".into() })
            }
        }
    }

    fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Opens a database file that came from elsewhere (a server, a push) and checks it is one kestrel wrote:
    /// this schema version, exactly the tables and indexes kestrel makes — no view, trigger or other object a
    /// crafted file could bring along — and whole by SQLite's `quick_check`.
    pub fn verify_file(path: &Path) -> Result<Database, DbError> {
        let db = Database::open_file(path)?;
        let invalid = |reason: String| DbError::Invalid { path: path.to_path_buf(), reason };
        let objects = |conn: &Connection| -> rusqlite::Result<Vec<[Option<String>; 4]>> {
            let mut st = conn.prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name")?;
            let rows = st.query_map([], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]))?;
            rows.collect()
        };
        let expected = Connection::open_in_memory()
            .and_then(|c| c.execute_batch(SCHEMA).map(|()| c))
            .and_then(|c| objects(&c))
            .map_err(sqlite(path))?;
        let found = objects(db.conn()).map_err(|e| invalid(format!("not a kestrel database ({e})")))?;
        if let Some(odd) = found.iter().find(|o| !expected.contains(o)) {
            let [kind, name, ..] = odd;
            return Err(invalid(format!(
                "not a database kestrel wrote: it has a {} `{}` kestrel does not make",
                kind.as_deref().unwrap_or("?"),
                name.as_deref().unwrap_or("?")
            )));
        }
        if let Some(missing) = expected.iter().find(|o| !found.contains(o)) {
            return Err(invalid(format!(
                "not a database kestrel wrote: its {} `{}` is missing",
                missing[0].as_deref().unwrap_or("?"),
                missing[1].as_deref().unwrap_or("?")
            )));
        }
        // The check reads every page once: through read calls, not the map (whose pages would count as this
        // process's memory however large the file).
        db.conn().execute_batch("PRAGMA mmap_size = 0; PRAGMA cache_size = -8192;").map_err(sqlite(path))?;
        let check: String = db
            .conn()
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| invalid(format!("damaged ({e})")))?;
        if check != "ok" {
            return Err(invalid(format!("damaged: {check}")));
        }
        Ok(db)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// When the database was last written (RFC 3339).
    pub fn built_at(&self) -> Option<String> {
        self.conn().query_row("SELECT value FROM meta WHERE key = 'built'", [], |r| r.get(0)).optional().ok().flatten()
    }

    /// The ecosystems, with their releases (`Debian:12`, `PyPI`), that some advisory names.
    pub fn ecosystems(&self) -> Vec<String> {
        self.conn()
            .query_row("SELECT value FROM meta WHERE key = 'ecosystems'", [], |r| r.get::<_, String>(0))
            .ok()
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default()
    }

    /// Every imported source.
    pub fn sources(&self) -> Result<Vec<SourceInfo>, DbError> {
        let mut st = self.conn().prepare("SELECT info FROM sources ORDER BY name").map_err(sqlite(&self.path))?;
        let rows = st.query_map([], |r| r.get::<_, String>(0)).map_err(sqlite(&self.path))?;
        let mut out = Vec::new();
        for r in rows {
            let text = r.map_err(sqlite(&self.path))?;
            if let Ok(info) = serde_json::from_str(&text) {
                out.push(info);
            }
        }
        Ok(out)
    }

    /// Affected entries per ecosystem and the number of advisories, for `kestrel db status`.
    pub fn counts(&self) -> Result<(u64, Vec<(String, u64)>), DbError> {
        let advisories: u64 =
            self.conn().query_row("SELECT COUNT(*) FROM advisories", [], |r| r.get(0)).map_err(sqlite(&self.path))?;
        let mut st = self
            .conn
            .prepare("SELECT ecosystem, COUNT(*) FROM affected GROUP BY ecosystem ORDER BY ecosystem")
            .map_err(sqlite(&self.path))?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sqlite(&self.path))?;
        let per = rows.collect::<Result<Vec<_>, _>>().map_err(sqlite(&self.path))?;
        Ok((advisories, per))
    }

    /// Every `(ecosystem, name)` that some advisory names, sorted (for benchmarks and listings).
    pub fn affected_packages(&self) -> Result<Vec<(String, String)>, DbError> {
        let mut st = self
            .conn()
            .prepare("SELECT DISTINCT ecosystem, name FROM affected ORDER BY ecosystem, name")
            .map_err(sqlite(&self.path))?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sqlite(&self.path))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sqlite(&self.path))
    }

    /// Every affected entry for a package (name already normalised for the ecosystem).
    pub fn lookup(&self, ecosystem: &str, name: &str) -> Result<Vec<Hit>, DbError> {
        let mut st = self
            .conn()
            .prepare_cached("SELECT advisory, spec FROM affected WHERE ecosystem = ?1 AND name = ?2")
            .map_err(sqlite(&self.path))?;
        let rows = st
            .query_map(params![ecosystem, name], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
            .map_err(sqlite(&self.path))?;
        let mut out = Vec::new();
        for r in rows {
            let (row, spec) = r.map_err(sqlite(&self.path))?;
            // A row this version cannot read is skipped: it was written by a validated import.
            if let Some(affected) = decode_spec(ecosystem, name, &spec) {
                out.push(Hit { advisory_row: row, affected });
            }
        }
        Ok(out)
    }

    /// The advisory document of a row (its `affected` list is left empty).
    pub fn advisory(&self, row: i64) -> Result<Option<AdvisoryDoc>, DbError> {
        let doc: Option<Vec<u8>> = self
            .conn()
            .prepare_cached("SELECT doc FROM advisories WHERE rowid = ?1")
            .and_then(|mut st| st.query_row([row], |r| r.get(0)).optional())
            .map_err(sqlite(&self.path))?;
        let Some(d) = doc else { return Ok(None) };
        let mut z = self.zstd.borrow_mut();
        if z.is_none() {
            *z = zstd::bulk::Decompressor::new().ok();
        }
        let json = match z.as_mut() {
            Some(dec) => dec.decompress(&d, MAX_DOC_BYTES).ok(),
            None => zstd::bulk::decompress(&d, MAX_DOC_BYTES).ok(),
        };
        Ok(json.and_then(|j| serde_json::from_slice(&j).ok()))
    }

    /// Advisories with this id or alias (for `kestrel db show`).
    pub fn find(&self, id: &str) -> Result<Vec<AdvisoryDoc>, DbError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT doc FROM advisories WHERE id = ?1
                 UNION SELECT a.doc FROM advisories a JOIN aliases x ON x.advisory = a.rowid WHERE x.alias = ?1",
            )
            .map_err(sqlite(&self.path))?;
        let rows = st.query_map([id], |r| r.get::<_, Vec<u8>>(0)).map_err(sqlite(&self.path))?;
        let mut out = Vec::new();
        for r in rows {
            if let Some(d) = decode_doc(&r.map_err(sqlite(&self.path))?) {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// The known-exploited entry of a CVE, when a list was imported.
    pub fn known_exploited(&self, cve: &str) -> Result<Option<KnownExploited>, DbError> {
        let info: Option<String> = self
            .conn()
            .prepare_cached("SELECT info FROM known_exploited WHERE cve = ?1")
            .and_then(|mut st| st.query_row([cve], |r| r.get(0)).optional())
            .map_err(sqlite(&self.path))?;
        Ok(info.and_then(|i| serde_json::from_str(&i).ok()))
    }
}

/// The stored form of an affected entry: its ecosystem and name are columns of the row, and the events are
/// `[kind, version]` pairs (`i`ntroduced, `f`ixed, `l`ast_affected, `x` limit) — half the size of the JSON.
#[derive(Serialize, Deserialize)]
struct StoredSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    r: Vec<Vec<(char, String)>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    v: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    c: Vec<crate::advisory::CvssVector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<String>,
}

fn encode_spec(a: &Affected) -> Vec<u8> {
    use crate::advisory::Event;
    let r = a
        .ranges
        .iter()
        .map(|r| {
            r.events
                .iter()
                .map(|e| match e {
                    Event::Introduced(v) => ('i', v.clone()),
                    Event::Fixed(v) => ('f', v.clone()),
                    Event::LastAffected(v) => ('l', v.clone()),
                    Event::Limit(v) => ('x', v.clone()),
                })
                .collect()
        })
        .collect();
    let s = StoredSpec { r, v: a.versions.clone(), c: a.cvss.clone(), n: a.no_fix_reason.clone() };
    serde_json::to_vec(&s).unwrap_or_default()
}

fn decode_spec(ecosystem: &str, name: &str, spec: &[u8]) -> Option<Affected> {
    use crate::advisory::{Event, Range};
    let s: StoredSpec = serde_json::from_slice(spec).ok()?;
    let mut ranges = Vec::with_capacity(s.r.len());
    for r in s.r {
        let mut events = Vec::with_capacity(r.len());
        for (k, v) in r {
            events.push(match k {
                'i' => Event::Introduced(v),
                'f' => Event::Fixed(v),
                'l' => Event::LastAffected(v),
                'x' => Event::Limit(v),
                _ => return None,
            });
        }
        // Stored ranges were validated and sorted at import.
        ranges.push(Range { events });
    }
    Some(Affected {
        ecosystem: ecosystem.to_string(),
        name: name.to_string(),
        ranges,
        versions: s.v,
        cvss: s.c,
        no_fix_reason: s.n,
    })
}

fn encode_doc(a: &Advisory) -> Vec<u8> {
    let mut doc = a.clone();
    doc.affected.clear();
    let json = serde_json::to_vec(&doc).unwrap_or_default();
    zstd::bulk::compress(&json, 3).unwrap_or(json)
}

/// Largest advisory document decoded.
const MAX_DOC_BYTES: usize = 1 << 20;

fn decode_doc(d: &[u8]) -> Option<Advisory> {
    let json = zstd::bulk::decompress(d, MAX_DOC_BYTES).ok()?;
    serde_json::from_slice(&json).ok()
}

/// A file removed when dropped (an error or a panic on the way), unless kept.
pub struct TempFile(Option<PathBuf>);

impl TempFile {
    /// The file at `path` (made by the caller) is removed when this is dropped.
    pub fn new(path: PathBuf) -> TempFile {
        TempFile(Some(path))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    /// The file stays (it was renamed into place).
    pub fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Replaces sources in a copy of the database and swaps it in.
pub struct Writer {
    conn: Option<Connection>,
    tmp: PathBuf,
    target: PathBuf,
    replaced: bool,
    /// Next `seq` of an affected row (keeps the clustered key unique).
    seq: i64,
}

impl Writer {
    /// Starts a change of the database in `dir` (created if missing): the current file, if any, is copied
    /// to a temporary file beside it, which is what the writer changes.
    pub fn begin(dir: &Path) -> Result<Writer, DbError> {
        std::fs::create_dir_all(dir).map_err(|source| DbError::Io { path: dir.to_path_buf(), source })?;
        let target = dir.join(DB_FILE);
        let tmp = dir.join(format!(".{DB_FILE}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let fresh = match Database::open(dir) {
            Ok(_) => {
                std::fs::copy(&target, &tmp).map_err(|source| DbError::Io { path: tmp.clone(), source })?;
                false
            }
            // A missing or unreadable (older, damaged) database is rebuilt from nothing.
            Err(_) => true,
        };
        let conn = Connection::open(&tmp).map_err(sqlite(&tmp))?;
        conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -65536;")
            .map_err(sqlite(&tmp))?;
        if fresh {
            conn.execute_batch(SCHEMA).map_err(sqlite(&tmp))?;
            conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?1)", [SCHEMA_VERSION.to_string()])
                .map_err(sqlite(&tmp))?;
        }
        conn.execute_batch("BEGIN").map_err(sqlite(&tmp))?;
        let seq: i64 =
            conn.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM affected", [], |r| r.get(0)).map_err(sqlite(&tmp))?;
        Ok(Writer { conn: Some(conn), tmp, target, replaced: false, seq })
    }

    fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("open until commit")
    }

    /// Removes every record of `source`.
    pub fn clear_source(&mut self, source: &str) -> Result<(), DbError> {
        let p = &self.tmp;
        let n = self
            .conn()
            .execute(
                "DELETE FROM affected WHERE advisory IN (SELECT rowid FROM advisories WHERE source = ?1)",
                [source],
            )
            .map_err(sqlite(p))?;
        self.conn()
            .execute("DELETE FROM aliases WHERE advisory IN (SELECT rowid FROM advisories WHERE source = ?1)", [source])
            .map_err(sqlite(p))?;
        self.conn().execute("DELETE FROM advisories WHERE source = ?1", [source]).map_err(sqlite(p))?;
        self.conn().execute("DELETE FROM sources WHERE name = ?1", [source]).map_err(sqlite(p))?;
        if source == "kev" {
            self.conn().execute("DELETE FROM known_exploited", []).map_err(sqlite(p))?;
        }
        self.replaced |= n > 0;
        Ok(())
    }

    /// Adds an advisory. A second record with the same id from the same source (AlmaLinux publishes some
    /// ids once per release) adds its affected entries to the first.
    pub fn add(&mut self, a: &Advisory) -> Result<(), DbError> {
        let p = &self.tmp;
        let existing: Option<i64> = self
            .conn()
            .prepare_cached("SELECT rowid FROM advisories WHERE source = ?1 AND id = ?2")
            .and_then(|mut st| st.query_row(params![a.source, a.id], |r| r.get(0)).optional())
            .map_err(sqlite(p))?;
        let row = match existing {
            Some(r) => r,
            None => {
                self.conn()
                    .prepare_cached("INSERT INTO advisories (source, id, doc) VALUES (?1, ?2, ?3)")
                    .and_then(|mut st| st.execute(params![a.source, a.id, encode_doc(a)]))
                    .map_err(sqlite(p))?;
                let row = self.conn().last_insert_rowid();
                let mut st = self
                    .conn()
                    .prepare_cached("INSERT INTO aliases (alias, advisory) VALUES (?1, ?2)")
                    .map_err(sqlite(p))?;
                for alias in &a.aliases {
                    st.execute(params![alias, row]).map_err(sqlite(p))?;
                }
                row
            }
        };
        let mut seq = self.seq;
        {
            let mut st = self
                .conn()
                .prepare_cached(
                    "INSERT INTO affected (ecosystem, name, advisory, seq, spec) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(sqlite(p))?;
            for aff in &a.affected {
                st.execute(params![aff.ecosystem, aff.name, row, seq, encode_spec(aff)]).map_err(sqlite(p))?;
                seq += 1;
            }
        }
        self.seq = seq;
        Ok(())
    }

    /// Adds a known-exploited entry.
    pub fn add_known_exploited(&mut self, k: &KnownExploited) -> Result<(), DbError> {
        let info = serde_json::to_string(k).unwrap_or_default();
        self.conn()
            .execute("INSERT OR REPLACE INTO known_exploited (cve, info) VALUES (?1, ?2)", params![k.cve, info])
            .map_err(sqlite(&self.tmp))?;
        Ok(())
    }

    /// Records a source.
    pub fn set_source(&mut self, info: &SourceInfo) -> Result<(), DbError> {
        let text = serde_json::to_string(info).unwrap_or_default();
        self.conn()
            .execute("INSERT OR REPLACE INTO sources (name, info) VALUES (?1, ?2)", params![info.name, text])
            .map_err(sqlite(&self.tmp))?;
        Ok(())
    }

    /// Commits, compacts when records were replaced, and renames the new file over the old one.
    pub fn commit(self, built_at: &str) -> Result<PathBuf, DbError> {
        let mut this = self;
        let p = this.tmp.clone();
        this.conn()
            .execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('built', ?1)", [built_at])
            .map_err(sqlite(&p))?;
        // The ecosystems (with releases) some advisory names: a scan says which of its packages no data covers.
        let ecosystems: Vec<String> = {
            let mut st =
                this.conn().prepare("SELECT DISTINCT ecosystem FROM affected ORDER BY 1").map_err(sqlite(&p))?;
            let rows = st.query_map([], |r| r.get(0)).map_err(sqlite(&p))?;
            rows.collect::<Result<_, _>>().map_err(sqlite(&p))?
        };
        this.conn()
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('ecosystems', ?1)",
                [serde_json::to_string(&ecosystems).unwrap_or_default()],
            )
            .map_err(sqlite(&p))?;
        this.conn().execute_batch("COMMIT").map_err(sqlite(&p))?;
        if this.replaced {
            this.conn().execute_batch("VACUUM").map_err(sqlite(&p))?;
        }
        drop(this.conn.take());
        let f = std::fs::File::open(&p).map_err(|source| DbError::Io { path: p.clone(), source })?;
        f.sync_all().map_err(|source| DbError::Io { path: p.clone(), source })?;
        std::fs::rename(&p, &this.target).map_err(|source| DbError::Io { path: this.target.clone(), source })?;
        Ok(this.target.clone())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Not committed (an error or a panic on the way): the temporary copy goes, the database stays.
        drop(self.conn.take());
        let _ = std::fs::remove_file(&self.tmp);
    }
}
