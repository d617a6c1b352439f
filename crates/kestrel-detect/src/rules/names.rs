//! Domain names of addresses, for `fd.sip.name` and `fd.cip.name`: as Falco does, the names the rules
//! compare against are resolved (at start, then every minute, on a thread of their own) and an event's
//! address reads as every listed name that resolved to it. No reverse lookups, nothing resolved on the
//! event path.

use rustc_hash::FxHashMap;
use std::net::ToSocketAddrs;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// The most names resolved (a rule file listing more is cut, and says so in the log).
const MAX_NAMES: usize = 1024;
/// How often names are resolved again (addresses behind a name change).
const REFRESH: Duration = Duration::from_secs(60);
/// How long the engine waits at start for the first round.
const FIRST_ROUND: Duration = Duration::from_secs(2);

/// Address → the rule names that resolved to it.
#[derive(Debug, Default, Clone)]
pub struct Names(Arc<Table>);

impl Names {
    /// Resolves `names` now and every minute while this (or a clone) lives; waits up to two seconds for
    /// the first round.
    pub fn start(mut names: Vec<String>) -> Names {
        let table = Names::default();
        if names.is_empty() {
            return table;
        }
        if names.len() > MAX_NAMES {
            tracing::warn!("{} names in the rules' fd.*.name checks: the first {MAX_NAMES} are resolved", names.len());
            names.truncate(MAX_NAMES);
        }
        let weak = Arc::downgrade(&table.0);
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new().name("kestrel-rule-names".into()).spawn(move || {
            let mut first = Some(tx);
            while resolve_into(&weak, &names) {
                if let Some(tx) = first.take() {
                    let _ = tx.send(());
                }
                std::thread::sleep(REFRESH);
            }
        });
        match spawned {
            Ok(_) => {
                let _ = rx.recv_timeout(FIRST_ROUND);
            }
            Err(e) => tracing::warn!("cannot start the thread resolving the rules' names: {e}"),
        }
        table
    }

    /// The names that resolved to `addr`.
    pub fn of(&self, addr: &str) -> Vec<String> {
        self.0.read().map(|t| t.get(addr).cloned().unwrap_or_default()).unwrap_or_default()
    }
}

/// How many names are looked up at once (one slow name must not hold the others back).
const AT_ONCE: usize = 16;

type Table = RwLock<FxHashMap<String, Vec<String>>>;

/// One round: every name looked up, `AT_ONCE` at a time; each answer is added to the table as it comes,
/// and at the end of the round the table is replaced by the round's answers (addresses a name no longer
/// has are forgotten). False once the table is gone.
fn resolve_into(table: &Weak<Table>, names: &[String]) -> bool {
    let fresh: Table = RwLock::default();
    let add = |t: &Table, name: &str, ips: &[String]| {
        if let Ok(mut t) = t.write() {
            for ip in ips {
                let list = t.entry(ip.clone()).or_default();
                if !list.iter().any(|n| n == name) {
                    list.push(name.to_string());
                }
            }
        }
    };
    for chunk in names.chunks(AT_ONCE) {
        std::thread::scope(|scope| {
            for name in chunk {
                let (fresh, add) = (&fresh, &add);
                scope.spawn(move || {
                    let ips: Vec<String> = match (name.as_str(), 0).to_socket_addrs() {
                        Ok(addrs) => addrs.map(|a| a.ip().to_string()).collect(),
                        Err(e) => {
                            tracing::debug!("{name}: not resolved ({e})");
                            return;
                        }
                    };
                    add(fresh, name, &ips);
                    if let Some(live) = table.upgrade() {
                        add(&live, name, &ips);
                    }
                });
            }
        });
    }
    let Some(live) = table.upgrade() else { return false };
    let fresh = fresh.into_inner().unwrap_or_default();
    if let Ok(mut t) = live.write() {
        *t = fresh;
    }
    true
}
