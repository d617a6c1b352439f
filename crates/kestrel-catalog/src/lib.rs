//! Package catalogers: they read an [`Artifact`]'s file tree and list the packages in it.
//!
//! Each cataloger is a small unit with the contract of [`Cataloger`]: [`Cataloger::want`] decides cheaply,
//! from a path, whether a file's content is needed while the artifact is read (so one pass over the layers
//! keeps only what matters); [`Cataloger::catalog`] turns the kept files into [`Package`]s. The explicit
//! list of catalogers is [`Catalog::new`]; OS detection ([`os::detect`]) runs first so that OS packages get
//! their distribution release.
//!
//! ```no_run
//! use kestrel_catalog::{Catalog, Scope};
//! use kestrel_image::{open, OpenOptions};
//! let catalog = Catalog::new(Scope::Image);
//! let artifact = open("debian.tar".as_ref(), &OpenOptions::default(), &catalog).unwrap();
//! let inventory = catalog.run(&artifact);
//! println!("{} packages", inventory.packages.len());
//! ```
#![deny(missing_docs)]

pub mod apk;
pub mod binary;
pub mod dotnet;
pub mod dpkg;
pub mod golang;
pub mod java;
pub mod npm;
pub mod os;
pub mod php;
pub mod python;
pub mod rpm;
pub mod ruby;
pub mod rust;
mod text;

use kestrel_core::{Distro, Package, Warning};
use kestrel_image::{Artifact, ContentSelector, FileTree, Node, Want};

/// Which catalogers run: what is installed (images and root file systems), or also what is declared in
/// lock files and manifests (project directories).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Installed packages only: package databases, installed language packages, binaries.
    Image,
    /// Installed and declared: also lock files (`package-lock.json`, `Cargo.lock`, `go.mod`…).
    Directory,
}

/// What a cataloger is handed: the artifact and the detected OS.
pub struct Context<'a> {
    /// The artifact.
    pub artifact: &'a Artifact,
    /// The distribution, when one was detected.
    pub distro: Option<&'a Distro>,
}

impl Context<'_> {
    /// The file tree.
    pub fn tree(&self) -> &FileTree {
        &self.artifact.tree
    }

    /// The diff id of the layer that wrote `node`.
    pub fn layer_of(&self, node: &Node) -> Option<String> {
        self.artifact.layer_digest(node.layer).map(str::to_string)
    }

    /// A location for the file at `path` (the layer is looked up in the tree).
    pub fn location(&self, path: &str) -> kestrel_core::Location {
        let layer = self.tree().get(path).and_then(|n| self.layer_of(n));
        kestrel_core::Location { path: path.to_string(), layer }
    }

    /// Sets `pkg.layer` and adds a location for `path`.
    pub fn locate(&self, pkg: &mut Package, path: &str) {
        let loc = self.location(path);
        if pkg.layer.is_none() {
            pkg.layer = loc.layer.clone();
        }
        pkg.locations.push(loc);
    }
}

/// Where catalogers put what they find.
#[derive(Debug, Default)]
pub struct Found {
    /// Packages.
    pub packages: Vec<Package>,
    /// Files that could not be understood, with the reason.
    pub warnings: Vec<Warning>,
    /// Language-package evidence files that an OS package owns: `(path, owner)`, the owner as `deb:NAME`,
    /// `apk:NAME` or `rpm:NAME` (see [`is_evidence`]).
    pub owned: Vec<(String, String)>,
}

/// The longest warning a cataloger records, in characters: a parser's message may quote the input, and a line of an
/// attacker's file can be megabytes long.
const MAX_WARNING_CHARS: usize = 1_000;

impl Found {
    /// Records an unparsable file; a message longer than [`MAX_WARNING_CHARS`] is cut (`…`).
    pub fn warn(&mut self, path: &str, message: impl std::fmt::Display) {
        let mut message = message.to_string();
        if let Some((cut, _)) = message.char_indices().nth(MAX_WARNING_CHARS) {
            message.truncate(cut);
            message.push('…');
        }
        self.warnings.push(Warning { path: path.to_string(), message });
    }
}

/// A TOML error as one line — where and what, without the quoted line of the input that its `Display` adds.
pub(crate) fn toml_error(e: &toml::de::Error, text: &str) -> String {
    let Some(before) = e.span().and_then(|s| text.get(..s.start)) else { return e.message().trim_end().to_string() };
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}: {}", e.message().trim_end())
}

/// Whether a path is one language catalogers report packages from (Python metadata, `package.json`, gem
/// specifications, Java archives, .NET `deps.json`, Composer's `installed.json`) or an executable in a
/// `bin`/`sbin`/`libexec` directory (Go and Rust binaries). OS package file lists keep only these, to tell
/// which language packages an OS package installed.
pub fn is_evidence(path: &str) -> bool {
    path.contains(".dist-info/")
        || path.contains(".egg-info")
        || path.ends_with("/package.json")
        || path.ends_with(".gemspec")
        || path.ends_with(".jar")
        || path.ends_with(".war")
        || path.ends_with(".ear")
        || path.ends_with(".deps.json")
        || path.ends_with("/composer/installed.json")
        || path.contains("/bin/")
        || path.contains("/sbin/")
        || path.contains("/libexec/")
}

/// One package cataloger.
pub trait Cataloger: Send + Sync {
    /// Stable name, recorded on every package it finds (`dpkg-db`, `python-installed`…).
    fn name(&self) -> &'static str;
    /// What the cataloger needs of the file at `path`. Called for every regular file: keep it cheap.
    fn want(&self, path: &str, size: u64, mode: u32) -> Want;
    /// For files it marked [`Want::Summary`]: the bytes to keep instead of the file (tagged, so that the
    /// cataloger recognises its own summaries).
    fn summarize(&self, _path: &str, _data: &[u8]) -> Option<Vec<u8>> {
        None
    }
    /// Lists the packages found in the tree.
    fn catalog(&self, cx: &Context<'_>, out: &mut Found);
}

/// The registry of catalogers for a scope. It is also the [`ContentSelector`] handed to the reader.
pub struct Catalog {
    catalogers: Vec<Box<dyn Cataloger>>,
}

/// What a catalog run found.
#[derive(Debug, Default)]
pub struct Inventory {
    /// The distribution.
    pub distro: Option<Distro>,
    /// Packages (not yet merged or sorted: see [`kestrel_core::Sbom::normalize`]).
    pub packages: Vec<Package>,
    /// Warnings from catalogers.
    pub warnings: Vec<Warning>,
}

impl Catalog {
    /// The catalogers for `scope`, in the order they run.
    pub fn new(scope: Scope) -> Self {
        let mut catalogers: Vec<Box<dyn Cataloger>> = vec![
            Box::new(dpkg::DpkgCataloger),
            Box::new(apk::ApkCataloger),
            Box::new(rpm::RpmCataloger),
            Box::new(python::PythonInstalledCataloger),
            Box::new(npm::NodeModulesCataloger),
            Box::new(binary::BinaryCataloger),
            Box::new(java::JavaArchiveCataloger),
            Box::new(ruby::GemspecCataloger),
            Box::new(php::ComposerInstalledCataloger),
            Box::new(dotnet::DepsJsonCataloger),
        ];
        if scope == Scope::Directory {
            catalogers.extend::<Vec<Box<dyn Cataloger>>>(vec![
                Box::new(npm::NpmLockCataloger),
                Box::new(npm::YarnLockCataloger),
                Box::new(npm::PnpmLockCataloger),
                Box::new(rust::CargoLockCataloger),
                Box::new(golang::GoModCataloger),
                Box::new(ruby::GemfileLockCataloger),
                Box::new(php::ComposerLockCataloger),
                Box::new(python::PythonRequirementsCataloger),
                Box::new(dotnet::NuGetLockCataloger),
            ]);
        }
        Catalog { catalogers }
    }

    /// Names of the catalogers, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.catalogers.iter().map(|c| c.name()).collect()
    }

    /// Detects the OS and runs every cataloger (in parallel).
    pub fn run(&self, artifact: &Artifact) -> Inventory {
        use rayon::prelude::*;
        let distro = os::detect(&artifact.tree);
        let cx = Context { artifact, distro: distro.as_ref() };
        let results: Vec<Found> = self
            .catalogers
            .par_iter()
            .map(|c| {
                let mut f = Found::default();
                c.catalog(&cx, &mut f);
                f
            })
            .collect();
        let mut inv = Inventory { distro: distro.clone(), ..Default::default() };
        let mut owned: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        for f in results {
            inv.packages.extend(f.packages);
            inv.warnings.extend(f.warnings);
            owned.extend(f.owned);
        }
        // A language package whose evidence an OS package installed (Debian's python3-*, node-*, ruby-*…)
        // is that OS package's business: its advisories name the OS package, which is patched by the
        // distribution. The package stays in the inventory, marked with its owner.
        if !owned.is_empty() {
            for p in inv.packages.iter_mut().filter(|p| !p.ecosystem.is_os()) {
                if let Some(owner) = p.locations.iter().find_map(|l| owned.get(&l.path)) {
                    p.properties.insert("os.owner".into(), owner.clone());
                }
            }
        }
        inv
    }
}

impl ContentSelector for Catalog {
    fn want(&self, path: &str, size: u64, mode: u32) -> Want {
        if os::wants(path) {
            return Want::Whole;
        }
        let mut best = Want::Skip;
        for c in &self.catalogers {
            match c.want(path, size, mode) {
                Want::Whole => return Want::Whole,
                Want::Summary => best = Want::Summary,
                Want::Skip => {}
            }
        }
        best
    }

    fn summarize(&self, path: &str, data: &[u8]) -> Option<Vec<u8>> {
        self.catalogers
            .iter()
            .filter(|c| c.want(path, data.len() as u64, 0o755) == Want::Summary)
            .find_map(|c| c.summarize(path, data))
    }
}

/// The purl of an OS package: `pkg:TYPE/NAMESPACE/NAME@VERSION` with the `arch`, `upstream` (source package)
/// and `distro` (`ID-VERSION_ID`) qualifiers where they are known.
pub(crate) fn os_purl(
    cx: &Context<'_>,
    ty: &str,
    namespace: &str,
    (name, version): (&str, &str),
    arch: Option<&str>,
    upstream: Option<&str>,
) -> kestrel_core::Purl {
    let distro = cx.distro.filter(|d| d.version_id.is_some()).map(|d| d.release_tag()).unwrap_or_default();
    kestrel_core::Purl::new(ty, name, version)
        .namespace(namespace)
        .qualifier("arch", arch.unwrap_or_default())
        .qualifier("upstream", upstream.unwrap_or_default())
        .qualifier("distro", &distro)
}

/// [`Want::Whole`] when `matches` and the file is under `max` bytes (lock files and metadata documents).
pub(crate) fn whole_if(matches: bool, size: u64, max: u64) -> Want {
    if matches && size < max {
        Want::Whole
    } else {
        Want::Skip
    }
}

/// The common body of catalogers that read `(name, version)` pins from whole files (lock files): for every
/// kept file the cataloger wants, `parse(path, bytes)` gives the pins or the reason the file is unreadable.
pub(crate) fn catalog_pins(
    c: &dyn Cataloger,
    cx: &Context<'_>,
    out: &mut Found,
    ecosystem: kestrel_core::Ecosystem,
    parse: impl Fn(&str, &[u8]) -> Result<Vec<(String, String)>, String>,
) {
    for (path, node) in cx.tree().kept() {
        if c.want(path, node.size, node.mode) != Want::Whole {
            continue;
        }
        let Some(bytes) = cx.tree().content(path) else { continue };
        match parse(path, bytes) {
            Ok(pins) => {
                for (n, v) in pins {
                    let mut p = Package::new(&n, &v, ecosystem, c.name());
                    cx.locate(&mut p, path);
                    out.packages.push(p);
                }
            }
            Err(e) => out.warn(path, e),
        }
    }
}

/// The file name part of a path.
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
