//! Real servers for tests, started on loopback in a temporary directory and stopped on drop: PostgreSQL
//! (Debian's `postgresql` package, which `scripts/setup` installs). Nothing is mocked: the tests talk to the
//! same server a user runs.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A free TCP port on loopback (bound, then released: a tiny race with other processes, acceptable in tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// A PostgreSQL server of its own: a fresh cluster in a temporary directory, listening on 127.0.0.1.
pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    /// Its port.
    pub port: u16,
}

fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(Result::ok).map(|e| e.path().join("bin")).filter(|p| p.join("initdb").exists()).collect())
        .unwrap_or_default();
    versions.sort();
    versions.pop().expect("PostgreSQL's server is not installed (/usr/lib/postgresql/*/bin/initdb): run scripts/setup")
}

/// Runs a PostgreSQL program as the `postgres` user when we are root (the server refuses to run as root).
fn as_postgres(bin: &Path, program: &str, args: &[&str]) -> Command {
    let path = bin.join(program);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path).args(args);
        c
    } else {
        let mut c = Command::new(path);
        c.args(args);
        c
    }
}

impl Postgres {
    /// Starts a new cluster (trust authentication on loopback; user `postgres`, database `postgres`).
    pub fn start() -> Postgres {
        let bin = pg_bin();
        let dir = std::env::temp_dir().join(format!("kestrel-pg-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let ok = Command::new("chown").arg("postgres:postgres").arg(&dir).status().map(|s| s.success());
            assert!(matches!(ok, Ok(true)), "chown postgres {}", dir.display());
        }
        let data = dir.join("data");
        let out =
            as_postgres(&bin, "initdb", &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres", "-E", "UTF8"])
                .output()
                .expect("initdb runs");
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let port = free_port();
        let opts = format!("-h 127.0.0.1 -p {port} -k {} -c fsync=off -c max_connections=200", dir.display());
        let log = dir.join("log");
        let out = as_postgres(
            &bin,
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-o", &opts, "-w", "-t", "60", "start"],
        )
        .output()
        .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Postgres { dir, bin, port }
    }

    /// A URL for database `db` (created when missing).
    pub fn url(&self, db: &str) -> String {
        if db != "postgres" {
            let _ = as_postgres(
                &self.bin,
                "createdb",
                &["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", db],
            )
            .output();
        }
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Stops the server now (immediate mode: what a crash looks like to clients).
    pub fn kill(&self) {
        let data = self.dir.join("data");
        let _ =
            as_postgres(&self.bin, "pg_ctl", &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"]).output();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
