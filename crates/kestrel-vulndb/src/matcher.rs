//! Matching an inventory against the database.
//!
//! Each package is looked up by the key its ecosystem's advisories use: Debian and Ubuntu packages by their
//! *source* package and source version in their release (`Debian:12`), Alpine packages by their origin
//! (`Alpine:v3.20`), RPM packages by name and `epoch:version-release` (`AlmaLinux:9`), language packages by
//! their normalised name in the OSV ecosystem (`PyPI`, `npm`, `Go`…). The installed version is parsed once with
//! the ecosystem's own ordering and checked against every affected entry found.
//!
//! Advisories about the same vulnerability are merged into one finding per package: records that share an id
//! or alias are joined, and distribution advisories that cover several CVEs (`DSA-…`, `ALSA-…`) are attached to
//! each CVE they list instead of joining them all into one.

use crate::advisory::{Advisory, Affected, Verdict};
use crate::store::{Database, DbError};
use crate::version::Scheme;
use kestrel_core::{
    CvssScore, Distro, Ecosystem, EndOfLifeFinding, Finding, FixState, Package, Risk, Sbom, Severity,
    VulnerabilityFinding, Warning,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

/// What matching needs besides the inventory.
#[derive(Debug, Clone)]
pub struct MatchOptions {
    /// Today (`YYYY-MM-DD`), for end-of-life checks.
    pub today: String,
}

/// What matching found.
#[derive(Debug, Clone, Default)]
pub struct MatchOutput {
    /// Findings, unsorted.
    pub findings: Vec<Finding>,
    /// Packages that could not be matched, and why.
    pub warnings: Vec<Warning>,
    /// Packages looked up.
    pub packages_matched: usize,
    /// Language packages left to their OS package (property `os.owner`): a distribution patches what it
    /// ships, and its advisories name the OS package.
    pub owned_by_os: usize,
}

/// The key a package is looked up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// OSV ecosystem with release (`Debian:12`, `PyPI`).
    pub ecosystem: String,
    /// Normalised name.
    pub name: String,
    /// The version compared.
    pub version: String,
    /// How versions are ordered.
    pub scheme: Scheme,
}

/// The lookup key of a package, or why it has none (`Ok(None)`: an ecosystem without advisories).
pub fn query_of(p: &Package, distro: Option<&Distro>) -> Result<Option<Query>, String> {
    let (ecosystem, name, version) = if p.ecosystem.is_os() {
        let Some(eco) = distro.and_then(Distro::osv_ecosystem) else {
            return Err(match distro {
                Some(d) => {
                    format!("no vulnerability data is keyed for {} packages of {}", p.ecosystem, d.release_tag())
                }
                None => format!("{} package of an unknown distribution release: not matched", p.ecosystem),
            });
        };
        match p.ecosystem {
            // Debian and Alpine advisories name source packages (Alpine: the origin).
            Ecosystem::Deb => match &p.source {
                Some(s) if !s.name.is_empty() => {
                    let v = if s.version.is_empty() { p.version.clone() } else { s.version.clone() };
                    (eco, s.name.clone(), v)
                }
                _ => (eco, p.name.clone(), p.version.clone()),
            },
            Ecosystem::Apk => {
                let name = p.source.as_ref().map(|s| s.name.clone()).filter(|n| !n.is_empty());
                (eco, name.unwrap_or_else(|| p.name.clone()), p.version.clone())
            }
            _ => (eco, p.name.clone(), p.version.clone()),
        }
    } else {
        let Some(eco) = p.ecosystem.osv_language_ecosystem() else { return Ok(None) };
        let version = if p.ecosystem == Ecosystem::Go && p.name == "stdlib" {
            // The toolchain version `go1.22.5` is OSV's stdlib `1.22.5`.
            p.version.trim_start_matches("go").to_string()
        } else {
            p.version.clone()
        };
        (eco.to_string(), crate::advisory::normalize_name(eco, &p.name), version)
    };
    let scheme = Scheme::of_osv_ecosystem(&ecosystem).ok_or_else(|| format!("no version ordering for {ecosystem}"))?;
    Ok(Some(Query { ecosystem, name, version, scheme }))
}

/// One advisory entry that matched a package.
struct Hit {
    advisory: std::rc::Rc<Advisory>,
    affected: Affected,
    fixed: Option<String>,
}

/// Whether `w` is a warning [`match_sbom`] writes (a package it could not match, an ecosystem the database has no
/// advisories for), as opposed to one of the inventory's. A report read back as an SBOM (`kestrel sbom
/// scan.json` with a newer database) drops these before matching again: they spoke of the database of then.
pub fn is_matching_warning(w: &Warning) -> bool {
    let m = w.message.as_str();
    (m.starts_with("no advisories for ") && m.contains(" in the vulnerability database: "))
        || m.contains(": not matched")
        || m.contains(": no vulnerability data is keyed for ")
}

/// Checks every package of `sbom` and the distribution release itself.
pub fn match_sbom(db: &Database, sbom: &Sbom, opts: &MatchOptions) -> Result<MatchOutput, DbError> {
    let mut out = MatchOutput::default();
    let mut docs: HashMap<i64, Option<std::rc::Rc<Advisory>>> = HashMap::new();
    let mut kev_cache: HashMap<String, Option<crate::store::KnownExploited>> = HashMap::new();
    let mut unmatched_os = SaidOnce::default();
    let mut devel = SaidOnce::default();
    let ecosystems = db.ecosystems();
    let covered: std::collections::HashSet<&str> = ecosystems.iter().map(String::as_str).collect();
    let mut uncovered: BTreeMap<String, usize> = BTreeMap::new();
    for p in &sbom.packages {
        if !p.ecosystem.is_os() && p.properties.contains_key("os.owner") {
            out.owned_by_os += 1;
            continue;
        }
        let q = match query_of(p, sbom.distro.as_ref()) {
            Ok(Some(q)) => q,
            Ok(None) => continue,
            Err(why) => {
                let w = || Warning { path: location_of(p), message: format!("{} {}: {why}", p.name, p.version) };
                if p.ecosystem.is_os() {
                    unmatched_os.say(&mut out.warnings, w);
                } else {
                    out.warnings.push(w());
                }
                continue;
            }
        };
        let installed = match q.scheme.parse(&q.version) {
            Ok(v) => v,
            // A Go program built from a source tree (`go build` in a checkout) names its own module `(devel)`:
            // nothing to compare, said once for all of them (an image of Go tools holds dozens).
            Err(_) if p.ecosystem == Ecosystem::Go && p.version == "(devel)" => {
                devel.say(&mut out.warnings, || Warning {
                    path: location_of(p),
                    message: format!(
                        "{} (devel): not matched: a Go program built from a source tree has no version to compare \
                         (the modules it depends on are matched)",
                        p.name
                    ),
                });
                continue;
            }
            Err(e) => {
                out.warnings.push(Warning {
                    path: location_of(p),
                    message: format!("{} {}: not matched: {e} ({} ordering)", p.name, p.version, q.scheme),
                });
                continue;
            }
        };
        if !covered.contains(q.ecosystem.as_str()) {
            *uncovered.entry(q.ecosystem.clone()).or_insert(0) += 1;
            continue;
        }
        out.packages_matched += 1;
        let mut hits = Vec::new();
        for h in db.lookup(&q.ecosystem, &q.name)? {
            let verdict = h.affected.check(q.scheme, &installed, &q.version);
            let Verdict::Affected { fixed } = verdict else { continue };
            let doc = match docs.get(&h.advisory_row) {
                Some(d) => d.clone(),
                None => {
                    let d = db.advisory(h.advisory_row)?.map(std::rc::Rc::new);
                    docs.insert(h.advisory_row, d.clone());
                    d
                }
            };
            if let Some(advisory) = doc {
                hits.push(Hit { advisory, affected: h.affected, fixed });
            }
        }
        if hits.is_empty() {
            continue;
        }
        for group in group_hits(&hits, p.ecosystem.is_os()) {
            let mut f = finding(p, &q, &group, &hits);
            let kev = match kev_cache.get(&f.id) {
                Some(k) => k.clone(),
                None => {
                    let mut k = None;
                    for id in std::iter::once(&f.id).chain(f.aliases.iter()).filter(|i| i.starts_with("CVE-")) {
                        if let Some(found) = db.known_exploited(id)? {
                            k = Some(found);
                            break;
                        }
                    }
                    kev_cache.insert(f.id.clone(), k.clone());
                    k
                }
            };
            f.known_exploited = kev.is_some();
            f.risk = risk(&f, kev.as_ref(), p);
            if f.id.starts_with("MAL-") || f.aliases.iter().any(|a| a.starts_with("MAL-")) {
                out.findings.push(Finding::MaliciousPackage(f));
            } else {
                out.findings.push(Finding::Vulnerability(f));
            }
        }
    }
    // The first OS package's warning speaks for the others of the same cause.
    unmatched_os.finish(&mut out.warnings, "OS packages");
    devel.finish(&mut out.warnings, "Go programs built so");
    for (eco, n) in uncovered {
        let base = eco.split(':').next().unwrap_or(&eco).to_string();
        out.warnings.push(Warning {
            path: db.path().display().to_string(),
            message: format!(
                "no advisories for {eco} in the vulnerability database: {} not checked \
                 (kestrel db update --ecosystem {base:?}, or kestrel db import its data)",
                kestrel_core::counted(n, "package")
            ),
        });
    }
    if let Some(d) = &sbom.distro {
        if let Some(f) = end_of_life_finding(d, &opts.today) {
            out.findings.push(Finding::EndOfLife(f));
        }
    }
    Ok(out)
}

/// Warnings of one cause said once: the first is kept, and at the end it says how many more there were.
#[derive(Default)]
struct SaidOnce {
    count: usize,
    at: Option<usize>,
}

impl SaidOnce {
    /// Adds the warning `w` makes when it is the first of its cause.
    fn say(&mut self, warnings: &mut Vec<Warning>, w: impl FnOnce() -> Warning) {
        self.count += 1;
        if self.count == 1 {
            self.at = Some(warnings.len());
            warnings.push(w());
        }
    }

    /// Ends the first with ` (and N more WHAT)` when there were more.
    fn finish(&self, warnings: &mut [Warning], what: &str) {
        if let Some(w) = self.at.filter(|_| self.count > 1).and_then(|i| warnings.get_mut(i)) {
            w.message.push_str(&format!(" (and {} more {what})", self.count - 1));
        }
    }
}

fn location_of(p: &Package) -> String {
    p.locations.first().map(|l| l.path.clone()).unwrap_or_else(|| p.purl.clone())
}

/// The end-of-life finding of a release, when it is past its end.
pub fn end_of_life_finding(d: &Distro, today: &str) -> Option<EndOfLifeFinding> {
    let major = d.major_release()?;
    let e = crate::eol::end_of_life(&d.id, &major, today)?;
    Some(EndOfLifeFinding {
        release: d.release_tag(),
        name: d.pretty_name.clone().unwrap_or_else(|| e.name.to_string()),
        eol_date: e.date.to_string(),
        support: e.support.to_string(),
        severity: Severity::High,
        risk: Risk {
            score: 70,
            reasons: vec![format!("{} since {}: vulnerabilities found from now on stay unfixed", e.support, e.date)],
        },
    })
}

fn is_cve(id: &str) -> bool {
    id.starts_with("CVE-")
}

/// The CVEs an advisory stands for. Distribution advisories (of an OS package: `os`) list theirs in `aliases`
/// (Debian tracker) or `related` (AlmaLinux, Rocky); a language advisory's `related` ids are other
/// vulnerabilities (GO-2024-3106 is CVE-2024-34156, "a follow-up to" its related CVE-2022-30635) and do not
/// count. Decided by the package, not the record: a stored record keeps no `affected` list to tell by.
fn cves_of(a: &Advisory, os: bool) -> Vec<String> {
    let mut v: Vec<String> = std::iter::once(&a.id)
        .chain(a.aliases.iter())
        .chain(a.related.iter().filter(|_| os))
        .filter(|i| is_cve(i))
        .cloned()
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Union-find over ids.
struct Groups {
    parent: Vec<usize>,
    index: HashMap<String, usize>,
}

impl Groups {
    fn id(&mut self, s: &str) -> usize {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.parent.len();
        self.parent.push(i);
        self.index.insert(s.to_string(), i);
        i
    }
    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb);
        }
    }
}

/// A set of hits about one vulnerability: the records about it (`own`) and the bundles that list it.
struct Group {
    ids: BTreeSet<String>,
    own: Vec<usize>,
    bundles: Vec<usize>,
}

/// Joins the hits of one package into vulnerabilities; `os`: the package is a distribution's.
fn group_hits(hits: &[Hit], os: bool) -> Vec<Group> {
    let mut g = Groups { parent: Vec::new(), index: HashMap::new() };
    let mut bundle_cves: Vec<(usize, Vec<String>)> = Vec::new();
    let mut node_of_hit = Vec::new();
    for (i, h) in hits.iter().enumerate() {
        let a = &h.advisory;
        let cves = cves_of(a, os);
        let first = g.id(&a.id);
        node_of_hit.push(first);
        if cves.len() >= 2 {
            bundle_cves.push((i, cves.clone()));
            for c in &cves {
                g.id(c);
            }
            continue;
        }
        for alias in a.aliases.iter().chain(cves.iter()) {
            let n = g.id(alias);
            g.union(first, n);
        }
    }
    // Components among the non-bundle records, plus one per bundle CVE not otherwise reported.
    let mut groups: BTreeMap<usize, Group> = BTreeMap::new();
    let bundle_idx: BTreeSet<usize> = bundle_cves.iter().map(|(i, _)| *i).collect();
    for (i, &node) in node_of_hit.iter().enumerate() {
        if bundle_idx.contains(&i) {
            continue;
        }
        let root = g.find(node);
        groups
            .entry(root)
            .or_insert_with(|| Group { ids: BTreeSet::new(), own: Vec::new(), bundles: Vec::new() })
            .own
            .push(i);
    }
    for (i, cves) in &bundle_cves {
        for c in cves {
            let n = g.id(c);
            let root = g.find(n);
            let grp = groups.entry(root).or_insert_with(|| Group {
                ids: BTreeSet::new(),
                own: Vec::new(),
                bundles: Vec::new(),
            });
            grp.ids.insert(c.clone());
            if !grp.bundles.contains(i) {
                grp.bundles.push(*i);
            }
        }
    }
    let all: Vec<String> = g.index.keys().cloned().collect();
    for id in all {
        let n = g.id(&id);
        let root = g.find(n);
        if let Some(grp) = groups.get_mut(&root) {
            grp.ids.insert(id);
        }
    }
    // Bundle ids themselves are named as aliases of every CVE they cover.
    for grp in groups.values_mut() {
        for &b in &grp.bundles {
            grp.ids.insert(hits[b].advisory.id.clone());
        }
    }
    groups.into_values().collect()
}

/// The finding's id: its CVE when it has one (the smallest, in the rare group of several), else a malicious-
/// package or GitHub id, else the first record's own id.
fn pick_id(ids: &BTreeSet<String>, own: &[&Advisory], bundles: &[&Advisory]) -> String {
    if let Some(c) = ids.iter().find(|i| is_cve(i)) {
        return c.clone();
    }
    for prefix in ["MAL-", "GHSA-"] {
        if let Some(i) = ids.iter().find(|i| i.starts_with(prefix)) {
            return i.clone();
        }
    }
    own.first()
        .or(bundles.first())
        .map(|a| a.id.clone())
        .unwrap_or_else(|| ids.iter().next().cloned().unwrap_or_default())
}

fn cvss_score(kind: &str, vector: &str) -> Option<CvssScore> {
    let v = vector.trim();
    let (version, score) = if v.starts_with("CVSS:3.") {
        let parsed = cvss::v3::Vector::from_str(v).ok()?;
        (v.get(5..8).unwrap_or("3").to_string(), parsed.base_score().value())
    } else if v.starts_with("CVSS:4.") {
        let parsed = cvss::v4::Vector::from_str(v).ok()?;
        ("4.0".to_string(), parsed.score().value())
    } else if kind == "CVSS_V2" {
        let parsed = cvss::v2::Vector::from_str(v).ok()?;
        ("2.0".to_string(), parsed.score().value())
    } else {
        return None;
    };
    Some(CvssScore { version, vector: v.to_string(), score })
}

/// Severity from the records about the vulnerability: the highest CVSS v3 base score (else v4, else v2),
/// else the most severe word a source uses.
fn severity_of(own: &[(&Advisory, &Affected)], bundles: &[&Advisory]) -> (Severity, String, Option<CvssScore>) {
    let mut best: [Option<(CvssScore, String)>; 3] = [None, None, None];
    for (a, aff) in own {
        for c in a.cvss.iter().chain(aff.cvss.iter()) {
            let Some(s) = cvss_score(&c.kind, &c.vector) else { continue };
            let slot = match s.version.as_bytes()[0] {
                b'3' => 0,
                b'4' => 1,
                _ => 2,
            };
            if best[slot].as_ref().is_none_or(|(b, _)| s.score > b.score) {
                best[slot] = Some((s, a.id.clone()));
            }
        }
    }
    if let Some((s, from)) = best.into_iter().flatten().next() {
        return (Severity::of_score(s.score), format!("CVSS {} of {from}", s.version), Some(s));
    }
    let mut word: Option<(Severity, String)> = None;
    for a in own.iter().map(|(a, _)| *a).chain(bundles.iter().copied()) {
        if let Some(w) = &a.source_severity {
            if let Some(s) = Severity::of_word(w) {
                if word.as_ref().is_none_or(|(b, _)| s > *b) {
                    word = Some((s, format!("{} of {} ({})", w, a.id, a.source)));
                }
            }
        }
    }
    match word {
        Some((s, from)) => (s, from, None),
        None => (Severity::Unknown, "no score published".into(), None),
    }
}

fn finding(p: &Package, q: &Query, grp: &Group, hits: &[Hit]) -> VulnerabilityFinding {
    let own: Vec<(&Advisory, &Affected)> = grp.own.iter().map(|&i| (&*hits[i].advisory, &hits[i].affected)).collect();
    let bundles: Vec<&Advisory> = grp.bundles.iter().map(|&i| &*hits[i].advisory).collect();
    let own_adv: Vec<&Advisory> = own.iter().map(|(a, _)| *a).collect();
    let id = pick_id(&grp.ids, &own_adv, &bundles);
    let mut aliases: Vec<String> = grp.ids.iter().filter(|i| **i != id).cloned().collect();
    aliases.truncate(64);
    let members: Vec<&Hit> = grp.own.iter().chain(grp.bundles.iter()).map(|&i| &hits[i]).collect();
    // The highest fixed version among the records is the one that fixes them all.
    let mut fixed: Option<String> = None;
    let mut reason: Option<&str> = None;
    for h in &members {
        match &h.fixed {
            Some(f) => {
                let higher = match &fixed {
                    None => true,
                    Some(cur) => q.scheme.compare(f, cur).is_ok_and(|o| o.is_gt()),
                };
                if higher {
                    fixed = Some(f.clone());
                }
            }
            None => {
                reason = reason.or(h.affected.no_fix_reason.as_deref());
            }
        }
    }
    // One record naming a fix is enough: the fix exists (a distribution's per-CVE record can lag its DSA).
    let state = if fixed.is_some() {
        FixState::Fixed
    } else {
        match reason {
            Some("end-of-life") => FixState::EndOfLife,
            Some("no-dsa") | Some("ignored") | Some("postponed") | Some("will-not-fix") => FixState::WillNotFix,
            _ => FixState::Affected,
        }
    };
    let malicious = id.starts_with("MAL-");
    let (mut severity, mut severity_source, cvss) = severity_of(&own, &bundles);
    if malicious {
        severity = Severity::Critical;
        severity_source = "malicious package".into();
    }
    let summary = own
        .iter()
        .map(|(a, _)| a.summary.as_str())
        .chain(bundles.iter().map(|a| a.summary.as_str()))
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .to_string();
    let mut sources: Vec<String> = members.iter().map(|h| h.advisory.source.clone()).collect();
    sources.sort();
    sources.dedup();
    let mut references = Vec::new();
    for r in members.iter().flat_map(|h| h.advisory.references.iter()) {
        if references.len() < 5 && !references.contains(r) {
            references.push(r.clone());
        }
    }
    let published = members.iter().filter_map(|h| h.advisory.published.clone()).min();
    VulnerabilityFinding {
        id,
        aliases,
        package: p.name.clone(),
        version: p.version.clone(),
        ecosystem: p.ecosystem,
        purl: p.purl.clone(),
        matched: format!("{} {} {}", q.ecosystem, q.name, q.version),
        state,
        fixed_version: fixed,
        severity,
        severity_source,
        cvss,
        summary,
        published,
        sources,
        references,
        known_exploited: false,
        locations: p.locations.clone(),
        layer: p.layer.clone(),
        risk: Risk::default(),
    }
}

/// The risk score: severity (CVSS × 6, at most 60), known exploitation (+25, +5 with ransomware), an
/// available fix (+10: it is actionable now), use at run time (+10, when runtime data marked the package).
/// A malicious package is 100.
pub fn risk(f: &VulnerabilityFinding, kev: Option<&crate::store::KnownExploited>, p: &Package) -> Risk {
    let mut reasons = Vec::new();
    if f.id.starts_with("MAL-") {
        return Risk {
            score: 100,
            reasons: vec!["malicious package: remove it and rotate what it could reach".into()],
        };
    }
    let mut score = match &f.cvss {
        Some(c) => {
            reasons.push(format!("CVSS {} base score {:.1} ({})", c.version, c.score, f.severity));
            c.score * 6.0
        }
        None => {
            let s = match f.severity {
                Severity::Critical => 57.0,
                Severity::High => 48.0,
                Severity::Medium => 33.0,
                Severity::Low => 15.0,
                Severity::Unknown => 30.0,
            };
            reasons.push(format!("severity {} ({})", f.severity, f.severity_source));
            s
        }
    };
    if let Some(k) = kev {
        score += 25.0;
        match &k.date_added {
            Some(d) => reasons.push(format!("known exploited (CISA KEV, added {d})")),
            None => reasons.push("known exploited (CISA KEV)".into()),
        }
        if k.ransomware {
            score += 5.0;
            reasons.push("used in ransomware campaigns".into());
        }
    }
    match (&f.state, &f.fixed_version) {
        (FixState::Fixed, Some(v)) => {
            score += 10.0;
            reasons.push(format!("fix available: upgrade to {v}"));
        }
        (s, _) => reasons.push(format!("no fix ({})", s.as_str())),
    }
    if p.properties.get("runtime.in-use").map(String::as_str) == Some("true") {
        score += 10.0;
        reasons.push("in use at run time".into());
    }
    Risk { score: score.round().clamp(0.0, 100.0) as u8, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::{CvssVector, Event, Range};

    fn adv(id: &str, aliases: &[&str], related: &[&str], fixed: Option<&str>) -> Hit {
        let affected = Affected {
            ecosystem: "Debian:12".into(),
            name: "x".into(),
            ranges: vec![Range { events: vec![Event::Introduced("0".into())] }],
            versions: vec![],
            cvss: vec![],
            no_fix_reason: None,
        };
        Hit {
            advisory: std::rc::Rc::new(Advisory {
                id: id.into(),
                aliases: aliases.iter().map(|s| s.to_string()).collect(),
                related: related.iter().map(|s| s.to_string()).collect(),
                summary: String::new(),
                details: String::new(),
                published: None,
                modified: None,
                cvss: vec![],
                source_severity: None,
                references: vec![],
                source: "t".into(),
                affected: vec![affected.clone()],
            }),
            affected,
            fixed: fixed.map(str::to_string),
        }
    }

    fn ids(hits: Vec<Hit>) -> Vec<(String, Vec<String>)> {
        let p = Package::new("x", "1", Ecosystem::Deb, "t");
        let q = Query { ecosystem: "Debian:12".into(), name: "x".into(), version: "1".into(), scheme: Scheme::Deb };
        let mut v: Vec<_> = group_hits(&hits, p.ecosystem.is_os())
            .iter()
            .map(|g| {
                let f = finding(&p, &q, g, &hits);
                (f.id, f.aliases)
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn aliases_merge_and_bundles_split() {
        let got = ids(vec![
            adv("GHSA-1", &["CVE-1", "PYSEC-1"], &[], Some("2")),
            adv("PYSEC-1", &["CVE-1"], &[], Some("2")),
            adv("DSA-9-1", &["CVE-1", "CVE-2"], &[], Some("2")),
            adv("GO-1", &[], &[], None),
        ]);
        assert_eq!(
            got,
            vec![
                ("CVE-1".to_string(), vec!["DSA-9-1".to_string(), "GHSA-1".into(), "PYSEC-1".into()]),
                ("CVE-2".to_string(), vec!["DSA-9-1".to_string()]),
                ("GO-1".to_string(), vec![]),
            ]
        );
        // AlmaLinux lists its CVEs as related.
        let got = ids(vec![adv("ALSA-2025:1", &[], &["CVE-5", "CVE-6"], Some("2"))]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], ("CVE-5".to_string(), vec!["ALSA-2025:1".to_string()]));
    }

    #[test]
    fn a_language_advisorys_related_cves_are_other_vulnerabilities() {
        // As stored: a record keeps no `affected` list (the index holds it), so the package decides.
        let mut h = adv("GO-2024-3106", &["CVE-2024-34156"], &["CVE-2022-30635"], Some("1.22.7"));
        std::rc::Rc::get_mut(&mut h.advisory).unwrap().affected.clear();
        let p = Package::new("stdlib", "go1.21.11", Ecosystem::Go, "t");
        let q = Query { ecosystem: "Go".into(), name: "stdlib".into(), version: "1.21.11".into(), scheme: Scheme::Go };
        let hits = vec![h];
        let got: Vec<(String, Vec<String>)> = group_hits(&hits, p.ecosystem.is_os())
            .iter()
            .map(|g| {
                let f = finding(&p, &q, g, &hits);
                (f.id, f.aliases)
            })
            .collect();
        assert_eq!(got, [("CVE-2024-34156".to_string(), vec!["GO-2024-3106".to_string()])]);
    }

    #[test]
    fn fixed_version_is_the_highest_fix() {
        let p = Package::new("x", "1", Ecosystem::Deb, "t");
        let q = Query { ecosystem: "Debian:12".into(), name: "x".into(), version: "1".into(), scheme: Scheme::Deb };
        let hits = vec![adv("CVE-1", &[], &[], Some("1.10")), adv("DEBIAN-CVE-1", &["CVE-1"], &[], Some("1.9"))];
        let g = group_hits(&hits, true);
        let f = finding(&p, &q, &g[0], &hits);
        assert_eq!(f.fixed_version.as_deref(), Some("1.10"));
        assert_eq!(f.state, FixState::Fixed);
    }

    #[test]
    fn cvss_scores() {
        let s = cvss_score("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        assert_eq!((s.version.as_str(), s.score), ("3.1", 9.8));
        let s = cvss_score("CVSS_V4", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").unwrap();
        assert_eq!(s.score, 9.3);
        assert!(cvss_score("CVSS_V3", "CVSS:3.1/garbage").is_none());
        let own_adv = Advisory {
            cvss: vec![CvssVector {
                kind: "CVSS_V3".into(),
                vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N".into(),
            }],
            ..(*adv("GHSA-2", &[], &[], None).advisory).clone()
        };
        let aff = own_adv.affected[0].clone();
        let (sev, from, c) = severity_of(&[(&own_adv, &aff)], &[]);
        assert_eq!(sev, Severity::Low);
        assert!(from.contains("CVSS 3.1 of GHSA-2"));
        assert_eq!(c.unwrap().score, 3.7);
    }
}
