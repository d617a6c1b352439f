#![no_main]
//! An image archive read as it streams in (from an engine, or `kestrel image -`) against the same bytes read from a
//! file: neither may panic, and when the file holds an image both readers must agree on it — target, layers, every
//! file with its layer and kept content, warnings — and on which layer each file an observer saw came from.
use kestrel_image::{ContentSelector, Observed, OpenOptions, Want};
use libfuzzer_sys::fuzz_target;
use std::sync::Mutex;

/// Records (layer, path) of every file shown to it, renumbering as told.
#[derive(Default)]
struct Recorder(Mutex<Vec<(Option<usize>, String)>>);
impl ContentSelector for Recorder {
    fn want(&self, _: &str, _: u64, _: u32) -> Want {
        Want::Summary
    }
    fn summarize_in_layer(&self, layer: Option<usize>, path: &str, _: &[u8]) -> Option<Vec<u8>> {
        self.0.lock().unwrap().push((layer, path.to_string()));
        None
    }
    fn renumber_layers(&self, index: &dyn Fn(usize) -> Option<usize>) {
        self.0.lock().unwrap().retain_mut(|(l, _)| match l.map(index) {
            Some(Some(i)) => {
                *l = Some(i);
                true
            }
            Some(None) => false,
            None => true,
        });
    }
}

fn summary(a: &kestrel_image::Artifact, seen: Recorder) -> String {
    let mut t = a.target.clone();
    t.name.clear();
    let mut out = format!("{t:?}\n{:?}\n", a.warnings);
    for (p, n) in a.tree.iter() {
        out.push_str(&format!("{p} {:?} {:?} {} {:?}\n", n.kind, n.layer, n.mode, a.tree.content(p)));
    }
    let mut seen = seen.0.into_inner().unwrap();
    seen.sort();
    out.push_str(&format!("{seen:?}"));
    out
}

fuzz_target!(|data: &[u8]| {
    let catalog = kestrel_catalog::Catalog::new(kestrel_catalog::Scope::Image);
    let mut opts = OpenOptions::default();
    opts.limits.max_total_bytes = 64 << 20;
    opts.limits.max_layer_bytes = 64 << 20;
    let streamed_seen = Recorder::default();
    let streamed = kestrel_image::open_stream("input", data, &opts, &Observed { keep: &catalog, observer: &streamed_seen });
    let Ok(mut f) = tempfile::NamedTempFile::new() else { return };
    if std::io::Write::write_all(&mut f, data).is_err() {
        return;
    }
    let file_seen = Recorder::default();
    let from_file = kestrel_image::open(f.path(), &opts, &Observed { keep: &catalog, observer: &file_seen });
    match (from_file, streamed) {
        (Ok(a), Ok(b)) => assert_eq!(summary(&a, file_seen), summary(&b, streamed_seen)),
        (Ok(a), Err(e)) if a.target.kind != kestrel_core::TargetKind::Rootfs => {
            panic!("read from a file, not as a stream: {e}")
        }
        (Err(e), Ok(_)) => panic!("read as a stream, not from a file: {e}"),
        _ => {}
    }
});
