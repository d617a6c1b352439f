//! The virtual file tree of an artifact: every path that survives layer squashing, with its kind, size,
//! mode, the layer that wrote it and, for the files a [`ContentSelector`] asked for, their content.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Kind of a tree entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link and its target as written (resolved only inside the tree, never on the host).
    Symlink(String),
    /// A device, FIFO or socket: recorded, never read.
    Special,
}

/// What was kept of a file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Content {
    /// Nothing: no cataloger asked for it.
    #[default]
    None,
    /// The whole file.
    Whole(Arc<[u8]>),
    /// A summary produced by [`ContentSelector::summarize`] (for example the build information of a Go
    /// binary), instead of the file itself.
    Summary(Arc<[u8]>),
}

/// One entry of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Kind.
    pub kind: NodeKind,
    /// Permission bits (`0o755`…).
    pub mode: u32,
    /// Size in bytes (files).
    pub size: u64,
    /// Index of the layer that last wrote the entry (`None` for root file systems).
    pub layer: Option<usize>,
    /// Kept content.
    pub content: Content,
}

/// What a cataloger needs of a file, decided from its path, size and mode alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Nothing.
    Skip,
    /// The whole content (up to [`crate::Limits::max_kept_file`]).
    Whole,
    /// Read it (up to [`crate::Limits::max_probe_file`]) and keep only what
    /// [`ContentSelector::summarize`] returns.
    Summary,
}

/// Decides which file contents are kept while an artifact is read. Readers call it once per regular file,
/// from several threads; [`ContentSelector::want`] must be cheap.
pub trait ContentSelector: Sync {
    /// What to keep of the file at `path` (absolute, normalised) with this size and mode.
    fn want(&self, path: &str, size: u64, mode: u32) -> Want;
    /// Turns the bytes of a file marked [`Want::Summary`] into the bytes to keep; `None` keeps nothing.
    fn summarize(&self, path: &str, data: &[u8]) -> Option<Vec<u8>> {
        let _ = (path, data);
        None
    }
    /// [`ContentSelector::summarize`], told which layer the file comes from (`None` for a root file system).
    /// Every layer's version of a file is seen, also those a later layer deletes or replaces.
    fn summarize_in_layer(&self, layer: Option<usize>, path: &str, data: &[u8]) -> Option<Vec<u8>> {
        let _ = layer;
        self.summarize(path, data)
    }
    /// Whether [`ContentSelector::observe`] should see this file's bytes, whatever
    /// [`ContentSelector::want`] keeps of it (a scan that looks at every file and keeps nothing, beside the
    /// one that keeps what the catalogers need). Files up to [`crate::Limits::max_probe_file`] are observed.
    fn observes(&self, path: &str, size: u64, mode: u32) -> bool {
        let _ = (path, size, mode);
        false
    }
    /// Sees the bytes of a file [`ContentSelector::observes`] chose, in every layer that has a version of it,
    /// before they are kept or summarized.
    fn observe(&self, layer: Option<usize>, path: &str, data: &[u8]) {
        let _ = (layer, path, data);
    }
    /// Says that the layers were read before their order was known — an image streamed from a container engine
    /// sends its manifest after its layers — so the `layer` given to [`ContentSelector::summarize_in_layer`] and
    /// [`ContentSelector::observe`] was the blob's position among those streamed. `index` turns that position into
    /// the layer's index in the image (`None`: a blob the image does not use). Called once, after the last layer;
    /// a selector that keeps anything by layer must renumber it here.
    fn renumber_layers(&self, index: &dyn Fn(usize) -> Option<usize>) {
        let _ = index;
    }
}

/// One selector that keeps what `keep` keeps and lets `observer` see every file it wants, summarized into
/// nothing: the catalogers' selection and a secrets scan over one read of the layers.
pub struct Observed<'a> {
    /// Decides what is kept.
    pub keep: &'a dyn ContentSelector,
    /// Sees the files it does not [`Want::Skip`], through its [`ContentSelector::summarize_in_layer`]
    /// (whose answer is dropped).
    pub observer: &'a dyn ContentSelector,
}

impl ContentSelector for Observed<'_> {
    fn want(&self, path: &str, size: u64, mode: u32) -> Want {
        self.keep.want(path, size, mode)
    }
    fn summarize(&self, path: &str, data: &[u8]) -> Option<Vec<u8>> {
        self.keep.summarize(path, data)
    }
    fn summarize_in_layer(&self, layer: Option<usize>, path: &str, data: &[u8]) -> Option<Vec<u8>> {
        self.keep.summarize_in_layer(layer, path, data)
    }
    fn observes(&self, path: &str, size: u64, mode: u32) -> bool {
        self.observer.want(path, size, mode) != Want::Skip
    }
    fn observe(&self, layer: Option<usize>, path: &str, data: &[u8]) {
        let _ = self.observer.summarize_in_layer(layer, path, data);
    }
    fn renumber_layers(&self, index: &dyn Fn(usize) -> Option<usize>) {
        self.keep.renumber_layers(index);
        self.observer.renumber_layers(index);
    }
}

/// A selector that keeps nothing (for listing a tree).
pub struct KeepNothing;

impl ContentSelector for KeepNothing {
    fn want(&self, _: &str, _: u64, _: u32) -> Want {
        Want::Skip
    }
}

/// Most symbolic links followed while resolving one path, as in Linux (`ELOOP`).
pub const MAX_SYMLINK_HOPS: usize = 40;

/// The squashed file tree. Paths are absolute and normalised (`/usr/lib/os-release`); `/` is implicit.
#[derive(Debug, Clone, Default)]
pub struct FileTree {
    nodes: BTreeMap<String, Node>,
}

impl FileTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the tree has no entries.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The entry at exactly `path` (symbolic links are not followed).
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// The entry at exactly `path`, mutable.
    pub fn get_mut(&mut self, path: &str) -> Option<&mut Node> {
        self.nodes.get_mut(path)
    }

    /// Every entry, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Entries strictly below directory `dir` (all depths), in path order.
    pub fn below<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a str, &'a Node)> + 'a {
        let prefix = if dir == "/" { "/".to_string() } else { format!("{}/", dir.trim_end_matches('/')) };
        self.nodes
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Every file whose content (whole or summary) was kept.
    pub fn kept(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.iter().filter(|(_, n)| n.content != Content::None)
    }

    /// Inserts or replaces an entry. Replacing a directory by anything else removes what was below it.
    pub fn insert(&mut self, path: String, node: Node) {
        if node.kind != NodeKind::Dir {
            if let Some(old) = self.nodes.get(&path) {
                if old.kind == NodeKind::Dir {
                    self.remove_below(&path);
                }
            }
        }
        self.nodes.insert(path, node);
    }

    /// Removes `path` and everything below it (a whiteout).
    pub fn remove(&mut self, path: &str) {
        self.nodes.remove(path);
        self.remove_below(path);
    }

    /// Removes everything below directory `dir`, keeping `dir` (an opaque whiteout).
    pub fn remove_below(&mut self, dir: &str) {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let doomed: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    /// Resolves symbolic links in every component of `path` inside the tree, the way a container's root
    /// sees them: `..` never climbs above `/`, absolute targets start again at the tree's root. Returns the
    /// final path (which may not exist), or `None` when links loop.
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut hops = 0;
        let mut pending: Vec<String> = components(path).into_iter().rev().collect();
        let mut resolved: Vec<String> = Vec::new();
        while let Some(c) = pending.pop() {
            if c == ".." {
                resolved.pop();
                continue;
            }
            resolved.push(c);
            let here = join(&resolved);
            // Anything but a link is passed through: missing components are implicit directories (layers
            // need not list every parent); whether the final path exists is the caller's question.
            if let Some(Node { kind: NodeKind::Symlink(target), .. }) = self.nodes.get(&here) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return None;
                }
                resolved.pop();
                if target.starts_with('/') {
                    resolved.clear();
                }
                for t in components(target).into_iter().rev() {
                    pending.push(t);
                }
            }
        }
        Some(join(&resolved))
    }

    /// The node `path` leads to after resolving symbolic links, with the resolved path.
    pub fn lookup(&self, path: &str) -> Option<(String, &Node)> {
        let p = self.resolve(path)?;
        let n = self.nodes.get(&p)?;
        Some((p, n))
    }

    /// The kept bytes of the file `path` leads to (whole content or summary).
    pub fn content(&self, path: &str) -> Option<&[u8]> {
        match &self.lookup(path)?.1.content {
            Content::Whole(b) | Content::Summary(b) => Some(b),
            Content::None => None,
        }
    }
}

fn join(parts: &[String]) -> String {
    if parts.is_empty() {
        "/".to_string()
    } else {
        let mut s = String::new();
        for p in parts {
            s.push('/');
            s.push_str(p);
        }
        s
    }
}

/// Components of a path with `.` and empty parts dropped and `..` kept (applied by the resolver).
fn components(p: &str) -> Vec<String> {
    p.split('/').filter(|c| !c.is_empty() && *c != ".").map(str::to_string).collect()
}

/// Why an archive path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathProblem {
    /// `..` climbs above the root.
    EscapesRoot,
    /// The path contains a NUL byte.
    Nul,
    /// Longer than 4096 bytes.
    TooLong,
}

impl std::fmt::Display for PathProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathProblem::EscapesRoot => "path climbs above the root (`..`)",
            PathProblem::Nul => "path contains a NUL byte",
            PathProblem::TooLong => "path is longer than 4096 bytes",
        })
    }
}

/// Normalises a path from an archive into an absolute tree path: leading `/` and `./` dropped, `.` and
/// empty components dropped, `..` applied. A `..` that would climb above the root is refused, not clamped:
/// such an entry is hostile and is reported.
pub fn normalize_archive_path(raw: &[u8]) -> Result<String, PathProblem> {
    if raw.contains(&0) {
        return Err(PathProblem::Nul);
    }
    if raw.len() > 4096 {
        return Err(PathProblem::TooLong);
    }
    let s = String::from_utf8_lossy(raw);
    let mut parts: Vec<&str> = Vec::new();
    for c in s.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(PathProblem::EscapesRoot);
                }
            }
            c => parts.push(c),
        }
    }
    let mut out = String::with_capacity(s.len() + 1);
    for p in parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Node {
        Node { kind: NodeKind::File, mode: 0o644, size: 1, layer: None, content: Content::Whole(Arc::from(&b"x"[..])) }
    }
    fn dir() -> Node {
        Node { kind: NodeKind::Dir, mode: 0o755, size: 0, layer: None, content: Content::None }
    }
    fn link(t: &str) -> Node {
        Node { kind: NodeKind::Symlink(t.into()), mode: 0o777, size: 0, layer: None, content: Content::None }
    }

    #[test]
    fn normalizes_paths() {
        assert_eq!(normalize_archive_path(b"./usr/bin/../lib/x").unwrap(), "/usr/lib/x");
        assert_eq!(normalize_archive_path(b"/etc//passwd").unwrap(), "/etc/passwd");
        assert_eq!(normalize_archive_path(b"./").unwrap(), "/");
        assert_eq!(normalize_archive_path(b"../../etc/shadow"), Err(PathProblem::EscapesRoot));
        assert_eq!(normalize_archive_path(b"a/../../b"), Err(PathProblem::EscapesRoot));
        assert_eq!(normalize_archive_path(b"a\0b"), Err(PathProblem::Nul));
    }

    #[test]
    fn resolves_links_inside_the_root() {
        let mut t = FileTree::new();
        t.insert("/etc".into(), dir());
        t.insert("/usr".into(), dir());
        t.insert("/usr/lib".into(), dir());
        t.insert("/usr/lib/os-release".into(), file());
        t.insert("/etc/os-release".into(), link("../usr/lib/os-release"));
        t.insert("/lib".into(), link("usr/lib"));
        t.insert("/evil".into(), link("../../../../usr/lib/os-release"));
        t.insert("/loop".into(), link("/loop"));
        assert_eq!(t.resolve("/etc/os-release").as_deref(), Some("/usr/lib/os-release"));
        assert_eq!(t.resolve("/lib/os-release").as_deref(), Some("/usr/lib/os-release"));
        assert_eq!(t.resolve("/evil").as_deref(), Some("/usr/lib/os-release"));
        assert_eq!(t.resolve("/loop"), None);
        assert_eq!(t.content("/etc/os-release"), Some(&b"x"[..]));
        assert!(t.lookup("/missing").is_none());
        assert!(t.lookup("/etc/missing/x").is_none());
    }

    #[test]
    fn whiteouts_remove_subtrees() {
        let mut t = FileTree::new();
        t.insert("/a".into(), dir());
        t.insert("/a/b".into(), file());
        t.insert("/a/c".into(), dir());
        t.insert("/a/c/d".into(), file());
        t.insert("/ab".into(), file());
        t.remove("/a/c");
        assert!(t.get("/a/c/d").is_none() && t.get("/a/c").is_none());
        t.remove_below("/a");
        assert!(t.get("/a").is_some() && t.get("/a/b").is_none());
        assert!(t.get("/ab").is_some(), "a sibling sharing the prefix survives");
        t.insert("/d".into(), dir());
        t.insert("/d/x".into(), file());
        t.insert("/d".into(), file());
        assert!(t.get("/d/x").is_none(), "replacing a dir by a file drops its children");
    }
}
