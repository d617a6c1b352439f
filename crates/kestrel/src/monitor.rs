//! `kestrel monitor`, `kestrel record` and `kestrel replay`: the runtime sensor's events on standard output,
//! into a recording, or read back from one through the same filters and output.

use crate::cli::{EventFilter, GlobalArgs, MonitorArgs, MonitorFormat, RecordArgs, ReplayArgs, WatchArgs};
use anyhow::{bail, Context as _, Result};
use kestrel_core::Event;
use kestrel_sensor::cgroup::cgroup2_root;
use kestrel_sensor::kubelet::KubeletConfig;
use kestrel_sensor::{Config, Sensor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Parents of container cgroups in the runtimes' usual layouts (systemd and cgroupfs drivers).
const CONTAINER_PARENTS: [&str; 8] =
    ["system.slice", "kubepods.slice", "kubepods", "machine.slice", "docker", "podman", "libpod_parent", "kestrel-lab"];

/// The first line of a recording.
pub const TRACE_SCHEMA: &str = "kestrel.trace/v1";

/// A recording's header: what was recorded, when, with which labels.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TraceHeader {
    /// Always [`TRACE_SCHEMA`].
    pub schema: String,
    /// When recording started (ns since the epoch).
    pub started_ns: u64,
    /// `--label KEY=VALUE` pairs (scenario, attack, start of the attack…).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The event kinds a node may do without ([`kestrel_sensor::LEAVABLE`]) that the sensor reported while
    /// recording. `None`: a recording made before kestrel wrote this down — then only an event of a kind shows
    /// that it was reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports: Option<Vec<String>>,
}

/// Whether an event passes the filters.
fn keep(f: &EventFilter, e: &Event) -> bool {
    (f.kind.is_empty() || f.kind.iter().any(|k| k == e.kind_name()))
        && f.container.as_ref().is_none_or(|c| e.container.as_ref().is_some_and(|x| x.id.starts_with(c.as_str())))
}

/// Writes events as JSON lines or a table.
struct Printer {
    table: bool,
    out: std::io::BufWriter<std::io::StdoutLock<'static>>,
}

impl Printer {
    fn new(format: Option<MonitorFormat>) -> Printer {
        let table = match format {
            Some(MonitorFormat::Table) => true,
            Some(MonitorFormat::Json) => false,
            None => std::io::stdout().is_terminal(),
        };
        // 64 KiB between writes (flushed whenever the sensor goes quiet, so nothing waits long).
        Printer { table, out: std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock()) }
    }

    /// False when the reader went away (a closed pipe).
    fn print(&mut self, e: &Event) -> Result<bool> {
        if !self.table {
            // Straight into the buffer: no String per event (at 500 k events a second it showed).
            if let Err(err) = serde_json::to_writer(&mut self.out, e) {
                return if err.is_io() { Ok(false) } else { Err(err.into()) };
            }
            return Ok(self.out.write_all(b"\n").is_ok());
        }
        let who = e.container.as_ref().map(|c| c.short()).unwrap_or_else(|| "-".into());
        let line = format!(
            "{} {:<12} {:>7} {:<15} {}",
            crate::clock(e.time_ns),
            who,
            e.pid,
            e.comm,
            kestrel_detect::rules::describe(e)
        );
        Ok(writeln!(self.out, "{}", crate::line_safe(&line)).is_ok())
    }
}

/// Starts the sensor as the watch flags ask; also says whether only container events are wanted.
fn start_sensor(w: &WatchArgs, g: &GlobalArgs) -> Result<(Sensor, bool)> {
    let root = cgroup2_root().context("no cgroup v2 hierarchy is mounted")?;
    let mut watch = w.cgroup.clone();
    for p in &w.runc_parent {
        let dir = root.join(p.trim_start_matches('/'));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create the runc parent cgroup", dir.display()))?;
        watch.push(dir);
    }
    // The usual parents of containers; those not there yet (Docker's before its first container) are watched
    // once made.
    let mut when_made = Vec::new();
    if watch.is_empty() && !w.all {
        (watch, when_made) = CONTAINER_PARENTS.iter().map(|p| root.join(p)).partition(|p| p.is_dir());
    }
    let mut runc_parents = w.runc_parent.clone();
    runc_parents.push("kestrel-lab".into());
    let only_containers = !w.all && w.cgroup.is_empty();
    let stream_cgroups = if w.syscalls { watch.clone() } else { Vec::new() };
    let kubelet = w.kubelet.clone().map(|url| {
        let mut k = KubeletConfig::in_cluster(url);
        if w.kubelet_token.is_some() {
            k.token_file = w.kubelet_token.clone();
        }
        k.ca_file = w.kubelet_ca.clone();
        k.insecure = w.kubelet_insecure;
        k
    });
    let cfg = Config {
        watch_all: w.all,
        watch_cgroups: watch.clone(),
        watch_when_made: when_made.clone(),
        stream_when_made: w.syscalls,
        runc_parents,
        stream_cgroups,
        kubelet,
        open_returns: w.open_returns,
        all_reads: w.reads,
        leave_out: w.leave_out.clone(),
        state: kestrel_sensor::runtime::StateDirs::on_node(w.host_root.as_deref())
            .with_docker(w.docker_root.as_deref(), None),
        ..Config::default()
    };
    if let Some(Err(e)) = w.host_root.as_ref().map(std::fs::read_dir) {
        // /proc/1/root needs CAP_SYS_PTRACE over the node's init (a user namespace, or an LSM, can deny it).
        note!(
            "kestrel: --host-root {}: {e}: the container runtimes' state cannot be read there (with --kubelet the \
             kubelet still names each container's pod and image)",
            w.host_root.as_deref().unwrap_or(Path::new("")).display()
        );
    }
    let sensor = Sensor::start(cfg)?;
    if !g.quiet {
        if w.all {
            note!("kestrel: watching every process");
        } else {
            let names = |dirs: &[PathBuf]| dirs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
            let now = if watch.is_empty() { "no cgroup yet".to_string() } else { names(&watch) };
            match when_made.is_empty() {
                true => note!("kestrel: watching {now}"),
                false => note!("kestrel: watching {now}; and, once made, {}", names(&when_made)),
            }
        }
    }
    Ok((sensor, only_containers))
}

fn print_stats(s: &Sensor) {
    let parts: Vec<String> = s.stats().snapshot().iter().map(|(k, v)| format!("{k} {v}")).collect();
    note!("kestrel: sensor: {}", parts.join(", "));
}

/// How often [`pump`]'s `tick` runs.
const TICK: Duration = Duration::from_millis(100);

/// Set by SIGINT or SIGTERM: stop, flush, print the counters.
static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Runs the sensor until `duration` (or SIGINT/SIGTERM) and hands every kept event to `each` (which says
/// whether to go on); `tick` runs every [`TICK`] whether events come or not — when none came for that long, and
/// between events while they do (output flushed, timers due) — and says whether to go on too.
pub(crate) fn pump(
    w: &WatchArgs,
    f: &EventFilter,
    duration: Option<u64>,
    stats: bool,
    g: &GlobalArgs,
    mut each: impl FnMut(&Event) -> Result<bool>,
    mut tick: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let (mut sensor, only_containers) = start_sensor(w, g)?;
    // Each event the filters keep goes to `each`; false: stop.
    let mut take = |e: &Event| -> Result<bool> {
        if (only_containers && e.container.is_none()) || !keep(f, e) {
            return Ok(true);
        }
        each(e)
    };
    // A second signal while stopping still ends the process (the handler is only installed once).
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::Relaxed));
    let started = Instant::now();
    let mut last_stats = Instant::now();
    let mut last_tick = Instant::now();
    // The clock is looked at every 32 events and whenever none came (not per event).
    let mut n = 0u8;
    let mut idle_before = true;
    loop {
        n = n.wrapping_add(1);
        let look = n.is_multiple_of(32) || idle_before;
        if STOP.load(Ordering::Relaxed)
            || (look && duration.is_some_and(|d| started.elapsed() >= Duration::from_secs(d)))
        {
            break;
        }
        if look && last_stats.elapsed() >= Duration::from_secs(if stats { 5 } else { 1 }) {
            if stats {
                print_stats(&sensor);
            }
            // The sensor's counters for /metrics (a no-op without a recorder).
            for (k, v) in sensor.stats().snapshot() {
                metrics::gauge!("kestrel_agent_sensor", "counter" => k.to_string()).set(v as f64);
            }
            last_stats = Instant::now();
        }
        if look && last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            if !tick()? {
                return finish(sensor, stats, g);
            }
        }
        let Some(e) = sensor.next(TICK) else {
            idle_before = true;
            continue;
        };
        idle_before = false;
        if !take(&e)? {
            return finish(sensor, stats, g);
        }
    }
    // Stopped by a signal or the duration: what the sensor already caught is handed on before it stops (a
    // recording keeps its last events) — until 50 ms pass without one, 2 s at most.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let Some(e) = sensor.next(Duration::from_millis(50)) else { break };
        if !take(&e)? {
            break;
        }
    }
    tick()?;
    finish(sensor, stats, g)
}

/// Prints the sensor's counters when asked or when it dropped events, and stops it.
fn finish(sensor: Sensor, stats: bool, g: &GlobalArgs) -> Result<()> {
    let st = sensor.stats();
    let dropped = st.dropped_ring_full.load(Ordering::Relaxed) + st.dropped_queue_full.load(Ordering::Relaxed);
    if stats || (dropped > 0 && !g.quiet) {
        print_stats(&sensor);
    }
    sensor.stop()?;
    Ok(())
}

pub fn monitor(a: MonitorArgs, g: &GlobalArgs) -> Result<ExitCode> {
    let p = std::cell::RefCell::new(Printer::new(a.format));
    pump(
        &a.watch,
        &a.filter,
        a.duration,
        a.stats,
        g,
        |e| p.borrow_mut().print(e),
        || {
            p.borrow_mut().out.flush().ok();
            Ok(true)
        },
    )?;
    p.borrow_mut().out.flush().ok();
    Ok(ExitCode::SUCCESS)
}

pub fn record(a: RecordArgs, g: &GlobalArgs) -> Result<ExitCode> {
    let mut labels = BTreeMap::new();
    for l in &a.label {
        let Some((k, v)) = l.split_once('=') else { bail!("--label {l:?}: expected KEY=VALUE") };
        labels.insert(k.to_string(), v.to_string());
    }
    let file = std::fs::File::create(&a.out).with_context(|| format!("{}: cannot create", a.out.display()))?;
    let mut z = zstd::Encoder::new(file, 3)?.auto_finish();
    let started_ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos() as u64;
    let reports = kestrel_sensor::reported_kinds(&a.watch.leave_out).into_iter().map(String::from).collect();
    let header = TraceHeader { schema: TRACE_SCHEMA.into(), started_ns, labels, reports: Some(reports) };
    writeln!(z, "{}", serde_json::to_string(&header)?)?;
    let mut n = 0u64;
    let z = std::cell::RefCell::new(z);
    pump(
        &a.watch,
        &a.filter,
        a.duration,
        a.stats,
        g,
        |e| {
            writeln!(z.borrow_mut(), "{}", serde_json::to_string(e)?)?;
            n += 1;
            Ok(true)
        },
        || Ok(true),
    )?;
    let mut z = z.into_inner();
    z.flush()?;
    drop(z);
    if !g.quiet {
        note!("kestrel: {} recorded in {}", kestrel_core::counted(n as usize, "event"), a.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Most bytes of one line of a recording.
const MAX_LINE: usize = 1 << 20;

/// Most containers whose copy a recording's reader shares between their events.
const MAX_CONTAINERS_SHARED: usize = 4096;

/// A recording's events are read a batch at a time — at most this many lines, or bytes past the line that reaches
/// it — each batch's lines parsed on every core (reading JSON is most of a replay's time) while the caller takes the
/// batch before.
const BATCH_LINES: usize = 1024;
const BATCH_BYTES: usize = 1 << 20;

/// An open recording (zstd-compressed or plain JSON lines) whose header has been read: the header first, then its
/// events, from one pass over the file — so a pipe (`<(…)`) or standard input (`-`) reads as a file does.
pub struct Recording {
    /// The recording's first line.
    pub header: TraceHeader,
    lines: Lines,
}

/// A recording's lines, read one at a time into one buffer, each bounded and named by its number.
struct Lines {
    name: String,
    zstd: bool,
    input: Box<dyn BufRead + Send>,
    line_no: usize,
}

impl Lines {
    /// Appends the next line that is not blank to `buf`: its start there, or `None` at the end (`buf` as it was).
    fn next_line(&mut self, buf: &mut Vec<u8>) -> Result<Option<usize>> {
        loop {
            let start = buf.len();
            // The events before a damaged part are taken first; the error says where it was met.
            let read =
                std::io::Read::take(&mut self.input, MAX_LINE as u64 + 1).read_until(b'\n', buf).with_context(|| {
                    let what = if self.zstd { "cannot decompress (cut short or damaged?)" } else { "cannot read" };
                    format!("{}: after line {}: {what}", self.name, self.line_no)
                });
            let read = read.inspect_err(|_| buf.truncate(start))?;
            if read == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            if buf.len() - start > MAX_LINE {
                buf.truncate(start);
                bail!("{}: line {} is longer than {} bytes", self.name, self.line_no, MAX_LINE);
            }
            if !buf[start..].trim_ascii().is_empty() {
                return Ok(Some(start));
            }
            buf.truncate(start);
        }
    }

    /// The next line that is not blank, as JSON: `None` at the end; a line that is no `T` is left to the caller
    /// to word.
    fn next_json<T: serde::de::DeserializeOwned>(&mut self) -> Result<Option<serde_json::Result<T>>> {
        let mut buf = Vec::new();
        match self.next_line(&mut buf)? {
            Some(_) => parse_line(&self.name, self.line_no, &buf).map(Some),
            None => Ok(None),
        }
    }
}

/// One line of a recording as JSON (a line that is no `T` is left to the caller to word).
fn parse_line<T: serde::de::DeserializeOwned>(
    name: &str,
    line_no: usize,
    line: &[u8],
) -> Result<serde_json::Result<T>> {
    let text = std::str::from_utf8(line).with_context(|| format!("{name}: line {line_no} is not UTF-8"))?;
    Ok(serde_json::from_str(text.trim()))
}

/// The first bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Whether the file at `path` looks like a recording — zstd-compressed, or a JSON line first — rather than text of
/// another kind (a list of names); [`Recording::open`] then checks its header.
pub fn is_recording(path: &Path) -> Result<bool> {
    use std::io::Read as _;
    let mut head = [0u8; 4];
    let mut f = std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let n = f.read(&mut head).with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(head[..n].starts_with(&ZSTD_MAGIC) || head[..n].first() == Some(&b'{'))
}

impl Recording {
    /// Opens `path` (`-`: standard input) and reads up to its header.
    pub fn open(path: &Path) -> Result<Recording> {
        let name = if path == Path::new("-") { "standard input".to_string() } else { path.display().to_string() };
        let input: Box<dyn std::io::Read + Send> = if path == Path::new("-") {
            Box::new(std::io::stdin())
        } else {
            Box::new(std::fs::File::open(path).with_context(|| format!("{name}: cannot open"))?)
        };
        // The zstd magic is sniffed from the buffered input itself, without consuming it.
        let mut input = std::io::BufReader::new(input);
        let zstd = input.fill_buf().with_context(|| format!("{name}: cannot read"))?.starts_with(&ZSTD_MAGIC);
        let input: Box<dyn BufRead + Send> = if zstd {
            Box::new(std::io::BufReader::new(
                zstd::Decoder::with_buffer(input).with_context(|| format!("{name}: cannot decompress"))?,
            ))
        } else {
            Box::new(input)
        };
        let mut lines = Lines { name, zstd, input, line_no: 0 };
        let Some(first) = lines.next_json::<TraceHeader>()? else {
            bail!("{}: empty recording", lines.name);
        };
        let header = first.ok().filter(|h| h.schema == TRACE_SCHEMA).with_context(|| {
            format!("{}: not a kestrel recording (its first line is no {TRACE_SCHEMA} header)", lines.name)
        })?;
        Ok(Recording { header, lines })
    }

    /// Feeds every event, in order, to `each` until it returns false; returns the header. A thread reads the events
    /// a batch at a time and parses each batch's lines in parallel while `each` takes the batch before (at most two
    /// batches wait); a bad line or a damaged part stops the reading after every event before it was fed.
    pub fn events(self, mut each: impl FnMut(Event) -> Result<bool>) -> Result<TraceHeader> {
        let Recording { header, mut lines } = self;
        let (batches, parsed) = std::sync::mpsc::sync_channel::<Vec<Result<Event>>>(2);
        // Not joined when `each` stops early: the reader may be waiting for a pipe's next line, and it stops at its
        // next batch, finding `parsed` gone.
        let reader = std::thread::Builder::new()
            .name("recording-reader".into())
            .spawn(move || lines.read_batches(batches))
            .context("starting the recording's reader")?;
        // The events of one container share one copy of it, as the sensor's do (bounded).
        let mut containers: std::collections::HashMap<String, std::sync::Arc<kestrel_core::ContainerRef>> =
            std::collections::HashMap::new();
        for batch in parsed {
            for e in batch {
                let mut e = e?;
                if let Some(c) = e.container.as_mut() {
                    match containers.get(&c.id) {
                        Some(known) if known == c => *c = known.clone(),
                        _ => {
                            if containers.len() >= MAX_CONTAINERS_SHARED {
                                containers.clear();
                            }
                            containers.insert(c.id.clone(), c.clone());
                        }
                    }
                }
                if !each(e)? {
                    return Ok(header);
                }
            }
        }
        // Every batch taken: the reader is done, unless it died on the way (which must not pass for the end).
        if reader.join().is_err() {
            bail!("the recording's reader failed");
        }
        Ok(header)
    }
}

impl Lines {
    /// Reads the rest of the recording into `out` a batch of events at a time, each batch's lines parsed in parallel;
    /// after a bad line, an error reading or the end, or once `out` is closed, reads no more. An error comes last in
    /// its batch.
    fn read_batches(&mut self, out: std::sync::mpsc::SyncSender<Vec<Result<Event>>>) {
        use rayon::prelude::*;
        let mut text = Vec::new();
        let mut lines: Vec<(usize, usize, usize)> = Vec::new(); // (start and end in `text`, line number)
        loop {
            text.clear();
            lines.clear();
            // What ends the reading once this batch is sent: the end, or an error.
            let mut stop = None;
            while stop.is_none() && lines.len() < BATCH_LINES && text.len() < BATCH_BYTES {
                match self.next_line(&mut text) {
                    Ok(Some(start)) => lines.push((start, text.len(), self.line_no)),
                    Ok(None) => stop = Some(Ok(())),
                    Err(e) => stop = Some(Err(e)),
                }
            }
            let name = self.name.as_str();
            let mut batch: Vec<Result<Event>> = lines
                .par_iter()
                .map(|&(start, end, no)| {
                    parse_line::<Event>(name, no, &text[start..end])?.with_context(|| format!("{name}: line {no}"))
                })
                .collect();
            if let Some(bad) = batch.iter().position(Result::is_err) {
                batch.truncate(bad + 1);
                stop = Some(Ok(()));
            }
            if let Some(Err(e)) = stop {
                batch.push(Err(e));
                stop = Some(Ok(()));
            }
            if out.send(batch).is_err() || stop.is_some() {
                return;
            }
        }
    }
}

/// Reads a recording (`-`: standard input): its header and every event, in order.
pub fn read_trace(path: &Path, each: impl FnMut(Event) -> Result<bool>) -> Result<TraceHeader> {
    Recording::open(path)?.events(each)
}

pub fn replay(a: ReplayArgs, _g: &GlobalArgs) -> Result<ExitCode> {
    let mut p = Printer::new(a.format);
    let header = read_trace(&a.trace, |e| if keep(&a.filter, &e) { p.print(&e) } else { Ok(true) })?;
    p.out.flush().ok();
    tracing::info!("replayed {} (labels {:?})", a.trace.display(), header.labels);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recordings_events_share_their_containers_description_while_it_stays_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let ev = |t: u64, id: &str, image: &str| {
            format!(
                r#"{{"schema":"kestrel.event/v1","time_ns":{t},"pid":1,"tid":1,"comm":"sh","cgroup_id":7,"container":{{"id":"{id}","runtime":"runc","image":"{image}"}},"kind":"exit","status":0}}"#
            )
        };
        let lines = [
            format!(r#"{{"schema":"{TRACE_SCHEMA}","started_ns":1}}"#),
            ev(1, "a", "web:1"),
            ev(2, "b", "db:1"),
            ev(3, "a", "web:1"),
            ev(4, "a", "web:2"),
            ev(5, "a", "web:2"),
        ];
        std::fs::write(&path, lines.join("\n")).unwrap();
        let mut got = Vec::new();
        read_trace(&path, |e| {
            got.push(e.container.unwrap());
            Ok(true)
        })
        .unwrap();
        let same = |i: usize, j: usize| std::sync::Arc::ptr_eq(&got[i], &got[j]);
        assert!(same(0, 2) && same(3, 4), "one copy per container while it stays the same");
        assert!(!same(0, 1) && !same(2, 3), "another container, or the same one described anew");
        assert_eq!(got[3].image.as_deref(), Some("web:2"));
    }

    /// Events are read in batches parsed in parallel, and come out as the file holds them: in order across batches,
    /// blank lines counted, every event before a bad line fed and then an error naming the file and that line.
    #[test]
    fn a_recordings_events_come_in_order_across_batches_up_to_a_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.jsonl");
        let ev = |t: usize| {
            format!(
                r#"{{"schema":"kestrel.event/v1","time_ns":{t},"pid":{t},"tid":1,"comm":"sh","cgroup_id":7,"kind":"exit","status":0}}"#
            )
        };
        let events = 2 * BATCH_LINES + 500;
        let mut lines = vec![format!(r#"{{"schema":"{TRACE_SCHEMA}","started_ns":1}}"#)];
        lines.extend((0..events).map(ev));
        lines.insert(BATCH_LINES, String::new()); // a blank line, in the first batch's last place
        std::fs::write(&path, lines.join("\n")).unwrap();
        let mut got = Vec::new();
        read_trace(&path, |e| {
            got.push(e.time_ns as usize);
            Ok(true)
        })
        .unwrap();
        assert_eq!(got, (0..events).collect::<Vec<_>>());

        // A bad line in the second batch: what came before it is fed, then the error says which line.
        let bad = BATCH_LINES + 700;
        lines[bad] = lines[bad].replace("\"pid\"", "\"pid\":\"x\",\"y\"");
        std::fs::write(&path, lines.join("\n")).unwrap();
        got.clear();
        let err = read_trace(&path, |e| {
            got.push(e.time_ns as usize);
            Ok(true)
        })
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.starts_with(&format!("{}: line {}: ", path.display(), bad + 1)), "{msg}");
        assert_eq!(got, (0..bad - 2).collect::<Vec<_>>(), "every event before the bad line: {msg}");

        // Stopped by the reader: nothing after.
        got.clear();
        read_trace(&path, |e| {
            got.push(e.time_ns as usize);
            Ok(got.len() < 10)
        })
        .unwrap();
        assert_eq!(got.len(), 10);
    }

    /// A compressed recording cut short: the events before the cut are taken, then an error names the file,
    /// the line and the reason (the compressor's own words alone — "incomplete frame" — named neither).
    #[test]
    fn a_recording_cut_short_is_an_error_naming_the_file_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.jsonl.zst");
        let mut text = format!("{{\"schema\":\"{TRACE_SCHEMA}\",\"started_ns\":1}}\n");
        for t in 0..2000 {
            text.push_str(&format!(
                r#"{{"schema":"kestrel.event/v1","time_ns":{t},"pid":{t},"tid":1,"comm":"sh","cgroup_id":7,"kind":"exit","status":0}}"#
            ));
            text.push('\n');
        }
        let whole = zstd::encode_all(text.as_bytes(), 3).unwrap();
        std::fs::write(&path, &whole[..whole.len() - 40]).unwrap();
        let mut taken = 0;
        let err = read_trace(&path, |_| {
            taken += 1;
            Ok(true)
        })
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.starts_with(&format!("{}: after line ", path.display())), "{msg}");
        assert!(msg.contains("cut short or damaged"), "{msg}");
        let line: usize = msg.split("after line ").nth(1).unwrap().split(':').next().unwrap().parse().unwrap();
        assert_eq!(line, taken + 1, "the header and every event taken before the cut: {msg}");
    }
}
