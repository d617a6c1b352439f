//! Rules for known-bad behaviour, in a useful subset of Falco's rule language: YAML files of `list`,
//! `macro` and `rule` entries (with `append`, `override`, `exceptions`, `enabled`), conditions over event
//! fields ([`cond`], [`fields`]), output templates with `%field`, priorities and tags.
//!
//! Loading never fails as a whole because of one entry: a rule that uses a field or operator kestrel does not
//! support is skipped and counted in the [`LoadReport`] with the exact fields and operators, so a user sees what
//! of their rule files runs. Evaluation ([`Engine`]) keeps a bounded process table for parent and ancestor
//! fields, and checks only the rules whose condition can match the event's type.
//!
//! ```
//! use kestrel_detect::rules::{Engine, RuleSet};
//! let yaml = r#"
//! - list: shells
//!   items: [sh, bash]
//! - rule: Shell
//!   desc: a shell ran
//!   condition: evt.type = execve and proc.name in (shells)
//!   output: shell %proc.cmdline
//!   priority: WARNING
//!   tags: [T1059]
//! "#;
//! let mut set = RuleSet::default();
//! set.add_file("example.yaml", yaml).unwrap();
//! let set = set.compile();
//! assert_eq!(set.report.loaded, 1);
//! let _engine = Engine::new(set);
//! ```

pub mod cond;
pub mod fields;
pub mod names;
mod plan;

use cond::{Ast, FieldRef, Item, Op, Value};
use fields::{Field, Kind, Memo, State, Unsupported, Val, EVT_TYPES};
use kestrel_core::{Alert, AlertSource, Event, EventKind, Severity, SockAddr, ALERT_SCHEMA};
use serde::Serialize;
use serde_yaml::Value as Yaml;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Most distinct unsupported field names a rule set's load guesses a meant field for ([`fields::near`]).
const MAX_FIELD_GUESSES: usize = 256;

/// The built-in rules: kestrel's own, in the same language.
pub const BUILTIN: &str = include_str!("builtin.yaml");

/// An error that stops a whole rule file (it is not YAML, or not a list).
#[derive(Debug, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct FileError {
    /// The file.
    pub file: String,
    /// Why.
    pub reason: String,
}

/// Bounds on what a rule file may hold.
const MAX_FILE_BYTES: usize = 16 << 20;
/// What one rule may expand to, in units of work: a check, a list item, or 64 bytes of a value. A macro is put in
/// place wherever it is named, so a short file can name a long macro many times.
const MAX_EXPANSION: usize = 100_000;
/// The same for every rule of a compile together: many rules each just under [`MAX_EXPANSION`] are as costly. (Falco's
/// three public rule files and kestrel's own come to about 7,000.)
const MAX_TOTAL_EXPANSION: usize = 1_000_000;
/// How deep a condition may nest once its macros are put in place — a chain of macros each naming the next is
/// deep without being wide, and compiling (and later evaluating) it recurses once per level.
const MAX_NESTING: usize = 256;

#[derive(Debug, Clone)]
struct RawRule {
    name: String,
    desc: String,
    condition: String,
    output: String,
    priority: String,
    tags: Vec<String>,
    enabled: bool,
    exceptions: Vec<Yaml>,
    origin: String,
}

/// Rule files, gathered before compiling (later files may append to or override earlier ones).
#[derive(Debug, Default)]
pub struct RuleSet {
    lists: BTreeMap<String, Vec<String>>,
    macros: BTreeMap<String, String>,
    rules: Vec<RawRule>,
    /// Where each rule is in `rules`, by name (a later entry of the same name changes it).
    rule_at: BTreeMap<String, usize>,
    problems: Vec<String>,
}

/// What loading the rule files gave.
#[derive(Debug, Default, Clone, Serialize)]
pub struct LoadReport {
    /// Rules defined.
    pub rules: usize,
    /// Rules compiled and evaluated (enabled ones).
    pub loaded: usize,
    /// Rules compiled but disabled by their file.
    pub disabled: usize,
    /// Rules loaded whose condition can never hold on kestrel's events (they need event types kestrel does
    /// not produce), by rule, with the types they need.
    pub never_match: BTreeMap<String, Vec<String>>,
    /// Rules skipped, with the reason.
    pub skipped: BTreeMap<String, String>,
    /// Fields kestrel does not support, with the rules each one stops.
    pub missing_fields: BTreeMap<String, BTreeSet<String>>,
    /// For an unsupported field one edit from a supported one, that one (`fd.nme` → `fd.name`): a typo's likely
    /// meaning (guessed for the first few hundred names).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub did_you_mean: BTreeMap<String, String>,
    /// Operators kestrel does not support, with the rules each one stops.
    pub missing_operators: BTreeMap<String, BTreeSet<String>>,
    /// Fields in output templates kestrel cannot fill (they print `<NA>`).
    pub missing_output_fields: BTreeSet<String>,
    /// Entries that could not be read (bad YAML shape, unknown list in append…).
    pub problems: Vec<String>,
}

fn yaml_str(v: Option<&Yaml>) -> Option<String> {
    match v? {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn yaml_strs(v: Option<&Yaml>) -> Vec<String> {
    match v {
        Some(Yaml::Sequence(s)) => s.iter().filter_map(|x| yaml_str(Some(x))).collect(),
        Some(x) => yaml_str(Some(x)).into_iter().collect(),
        None => vec![],
    }
}

/// `append: true`, or `override: {KEY: append}` for this key.
fn appends(m: &serde_yaml::Mapping, key: &str) -> bool {
    m.get("append").and_then(Yaml::as_bool).unwrap_or(false)
        || m.get("override").and_then(|o| o.get(key)).and_then(Yaml::as_str) == Some("append")
}

impl RuleSet {
    /// kestrel's built-in rules.
    pub fn builtin() -> RuleSet {
        let mut s = RuleSet::default();
        if let Err(e) = s.add_file("builtin", BUILTIN) {
            s.problems.push(e.to_string());
        }
        s
    }

    /// Adds one rule file's entries. Entries that cannot be read are noted in the report; only a file that is
    /// not a YAML list of entries is an error.
    pub fn add_file(&mut self, file: &str, text: &str) -> Result<(), FileError> {
        let err = |reason: String| FileError { file: file.to_string(), reason };
        if text.len() > MAX_FILE_BYTES {
            return Err(err(format!(
                "{} bytes: larger than the {} MiB a rule file may be",
                text.len(),
                MAX_FILE_BYTES >> 20
            )));
        }
        let doc: Yaml = serde_yaml::from_str(text).map_err(|e| err(format!("not YAML: {e}")))?;
        let items = match doc {
            Yaml::Sequence(s) => s,
            Yaml::Null => vec![],
            _ => return Err(err("a rule file is a YAML list of rule, macro and list entries".into())),
        };
        for (i, item) in items.iter().enumerate() {
            let Some(m) = item.as_mapping() else {
                self.problems.push(format!("{file}: entry {}: not a mapping", i + 1));
                continue;
            };
            if let Some(name) = yaml_str(m.get("list")) {
                let items = yaml_strs(m.get("items"));
                match self.lists.get_mut(&name) {
                    Some(old) if appends(m, "items") => old.extend(items),
                    None if appends(m, "items") => {
                        self.problems.push(format!("{file}: list `{name}`: append to a list not defined before"))
                    }
                    _ => {
                        self.lists.insert(name, items);
                    }
                }
            } else if let Some(name) = yaml_str(m.get("macro")) {
                let c = yaml_str(m.get("condition")).unwrap_or_default();
                match self.macros.get_mut(&name) {
                    Some(old) if appends(m, "condition") => {
                        old.push(' ');
                        old.push_str(&c);
                    }
                    None if appends(m, "condition") => {
                        self.problems.push(format!("{file}: macro `{name}`: append to a macro not defined before"))
                    }
                    _ => {
                        self.macros.insert(name, c);
                    }
                }
            } else if let Some(name) = yaml_str(m.get("rule")) {
                self.add_rule(file, &name, m);
            } else if m.contains_key("required_engine_version")
                || m.contains_key("required_plugin_versions")
                || m.contains_key("required_engine_versions")
            {
                // Version requirements name Falco's engine and plugins; kestrel reports what it supports instead.
            } else {
                self.problems.push(format!("{file}: entry {}: neither a rule, a macro nor a list", i + 1));
            }
        }
        Ok(())
    }

    fn add_rule(&mut self, file: &str, name: &str, m: &serde_yaml::Mapping) {
        let enabled = m.get("enabled").and_then(Yaml::as_bool);
        let exceptions = match m.get("exceptions") {
            Some(Yaml::Sequence(s)) => s.clone(),
            _ => vec![],
        };
        if let Some(old) = self.rule_at.get(name).map(|&i| &mut self.rules[i]) {
            if let Some(c) = yaml_str(m.get("condition")) {
                if appends(m, "condition") {
                    old.condition.push(' ');
                    old.condition.push_str(&c);
                } else {
                    old.condition = c;
                }
            }
            if appends(m, "exceptions") {
                old.exceptions.extend(exceptions);
            } else if m.contains_key("exceptions") {
                old.exceptions = exceptions;
            }
            for (key, slot) in [("desc", &mut old.desc), ("output", &mut old.output), ("priority", &mut old.priority)] {
                if let Some(v) = yaml_str(m.get(key)) {
                    *slot = v;
                }
            }
            if m.contains_key("tags") {
                let tags = yaml_strs(m.get("tags"));
                if appends(m, "tags") {
                    old.tags.extend(tags);
                } else {
                    old.tags = tags;
                }
            }
            if let Some(e) = enabled {
                old.enabled = e;
            }
            return;
        }
        if appends(m, "condition") || appends(m, "exceptions") {
            self.problems.push(format!("{file}: rule `{name}`: append to a rule not defined before"));
            return;
        }
        let Some(condition) = yaml_str(m.get("condition")) else {
            self.problems.push(format!("{file}: rule `{name}`: no condition"));
            return;
        };
        if m.get("source").and_then(Yaml::as_str).is_some_and(|s| s != "syscall") {
            self.problems.push(format!("{file}: rule `{name}`: source is not syscall (kestrel reads syscall events)"));
            return;
        }
        self.rule_at.insert(name.to_string(), self.rules.len());
        self.rules.push(RawRule {
            name: name.to_string(),
            desc: yaml_str(m.get("desc")).unwrap_or_default().trim().to_string(),
            condition,
            output: yaml_str(m.get("output")).unwrap_or_default().trim().to_string(),
            priority: yaml_str(m.get("priority")).unwrap_or_else(|| "WARNING".into()).to_uppercase(),
            tags: yaml_strs(m.get("tags")),
            enabled: enabled.unwrap_or(true),
            exceptions,
            origin: file.to_string(),
        });
    }

    /// Compiles every rule: macros and lists resolved, fields bound, values checked.
    pub fn compile(self) -> CompiledRules {
        let mut report = LoadReport { rules: self.rules.len(), problems: self.problems.clone(), ..Default::default() };
        // Guesses at mistyped fields, once a name and for the first few hundred names: each costs a few thousand
        // binds, and a hostile file could name a new field in every rule.
        let mut guesses: HashMap<String, Option<String>> = HashMap::new();
        let mut rules = Vec::new();
        let mut c = Compiler {
            set: &self,
            parsed: BTreeMap::new(),
            total: MAX_TOTAL_EXPANSION,
            missing_fields: BTreeSet::new(),
            missing_ops: BTreeSet::new(),
            errors: vec![],
            budget: 0,
            depth: 0,
        };
        for raw in &self.rules {
            let mut text = raw.condition.clone();
            match exceptions_condition(&raw.exceptions) {
                Ok(Some(exc)) => text = format!("({text}) and not ({exc})"),
                Ok(None) => {}
                Err(e) => {
                    report.skipped.insert(raw.name.clone(), format!("exceptions: {e}"));
                    continue;
                }
            }
            let ast = match cond::parse(&text) {
                Ok(a) => a,
                Err(e) => {
                    report.skipped.insert(raw.name.clone(), format!("condition: {e}"));
                    continue;
                }
            };
            c.start_rule();
            let node = c.node(&ast, &mut Vec::new());
            if !c.missing_fields.is_empty() || !c.missing_ops.is_empty() || !c.errors.is_empty() {
                let mut why = Vec::new();
                if !c.missing_fields.is_empty() {
                    let named: Vec<String> = c
                        .missing_fields
                        .iter()
                        .map(|f| {
                            let guess = match guesses.get(f) {
                                Some(g) => g.clone(),
                                None if guesses.len() < MAX_FIELD_GUESSES => {
                                    guesses.entry(f.clone()).or_insert_with(|| fields::near(f)).clone()
                                }
                                None => None,
                            };
                            match guess {
                                Some(n) => {
                                    report.did_you_mean.insert(f.clone(), n.clone());
                                    format!("{f} (did you mean {n}?)")
                                }
                                None => f.clone(),
                            }
                        })
                        .collect();
                    why.push(format!("fields not supported: {}", named.join(", ")));
                }
                if !c.missing_ops.is_empty() {
                    why.push(format!(
                        "operators not supported: {}",
                        c.missing_ops.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
                why.extend(c.errors.iter().cloned());
                for f in &c.missing_fields {
                    report.missing_fields.entry(f.clone()).or_default().insert(raw.name.clone());
                }
                for o in &c.missing_ops {
                    report.missing_operators.entry(o.clone()).or_default().insert(raw.name.clone());
                }
                report.skipped.insert(raw.name.clone(), why.join("; "));
                continue;
            }
            let types = event_types(&node);
            if types == Some(0) {
                report.never_match.insert(raw.name.clone(), needed_types(&ast, &mut c));
            }
            let output = Template::parse(&raw.output, &mut report.missing_output_fields);
            if raw.enabled {
                report.loaded += 1;
            } else {
                report.disabled += 1;
            }
            rules.push(Rule {
                name: raw.name.clone(),
                desc: raw.desc.clone(),
                priority: raw.priority.clone(),
                severity: severity_of(&raw.priority),
                mitre: raw.tags.iter().filter(|t| is_technique(t)).cloned().collect(),
                tags: raw.tags.clone(),
                origin: raw.origin.clone(),
                enabled: raw.enabled,
                output,
                cond: node,
                types: types.unwrap_or(u64::MAX),
            });
        }
        CompiledRules { rules, report }
    }
}

fn is_technique(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() >= 5
        && b[0] == b'T'
        && b[1..5].iter().all(u8::is_ascii_digit)
        && (b.len() == 5 || (b.len() == 9 && b[5] == b'.' && b[6..].iter().all(u8::is_ascii_digit)))
}

/// Falco's priorities as severities.
pub fn severity_of(priority: &str) -> Severity {
    match priority.to_ascii_uppercase().as_str() {
        "EMERGENCY" | "ALERT" | "CRITICAL" => Severity::Critical,
        "ERROR" => Severity::High,
        "WARNING" | "WARN" => Severity::Medium,
        _ => Severity::Low,
    }
}

/// The condition text of a rule's exceptions: `(f1 = v1 and f2 in (v2, v3)) or …`.
fn exceptions_condition(exceptions: &[Yaml]) -> Result<Option<String>, String> {
    let quote = |v: &Yaml| -> Result<String, String> {
        match v {
            Yaml::Sequence(items) => {
                let parts: Result<Vec<_>, _> =
                    items.iter().map(|x| yaml_str(Some(x)).ok_or("a value is not a string")).collect();
                Ok(format!(
                    "({})",
                    parts?.iter().map(|p| format!("\"{}\"", p.replace('"', "\\\""))).collect::<Vec<_>>().join(", ")
                ))
            }
            other => {
                let s = yaml_str(Some(other)).ok_or("a value is not a string")?;
                // A bare word may name a list; keep it bare when it looks like a name.
                Ok(if s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    s
                } else {
                    format!("\"{}\"", s.replace('"', "\\\""))
                })
            }
        }
    };
    let mut alternatives = Vec::new();
    for ex in exceptions {
        let Some(m) = ex.as_mapping() else { return Err("an exception is not a mapping".into()) };
        let values = match m.get("values") {
            Some(Yaml::Sequence(v)) => v.clone(),
            None | Some(Yaml::Null) => continue,
            _ => return Err("exception values are not a list".into()),
        };
        match m.get("fields") {
            Some(Yaml::Sequence(fields)) => {
                let fields: Vec<String> = fields.iter().filter_map(|f| yaml_str(Some(f))).collect();
                let comps: Vec<String> = match m.get("comps") {
                    Some(Yaml::Sequence(c)) => c.iter().filter_map(|x| yaml_str(Some(x))).collect(),
                    _ => vec!["=".into(); fields.len()],
                };
                if comps.len() != fields.len() {
                    return Err("exception fields and comps differ in length".into());
                }
                for row in &values {
                    let Some(row) = row.as_sequence() else { return Err("an exception value is not a list".into()) };
                    if row.len() != fields.len() {
                        return Err("an exception value's length differs from its fields'".into());
                    }
                    let mut parts = Vec::new();
                    for ((f, c), v) in fields.iter().zip(&comps).zip(row) {
                        parts.push(format!("{f} {c} {}", quote(v)?));
                    }
                    alternatives.push(format!("({})", parts.join(" and ")));
                }
            }
            Some(f) => {
                let f = yaml_str(Some(f)).ok_or("exception field is not a string")?;
                let c = yaml_str(m.get("comps")).unwrap_or_else(|| "in".into());
                let list: Vec<String> = values.iter().map(&quote).collect::<Result<_, _>>()?;
                if c == "in" || c == "pmatch" || c == "intersects" {
                    alternatives.push(format!("{f} {c} ({})", list.join(", ")));
                } else {
                    for v in list {
                        alternatives.push(format!("{f} {c} {v}"));
                    }
                }
            }
            None => return Err("an exception has no fields".into()),
        }
    }
    Ok((!alternatives.is_empty()).then(|| alternatives.join(" or ")))
}

/// A compiled condition.
#[derive(Debug, Clone)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Const(bool),
    Check {
        field: Field,
        transforms: Vec<String>,
        op: Op,
        rhs: Rhs,
    },
    /// A check that several rules filed under one event type make: evaluated once an event, its result kept in
    /// this slot of the event's [`Memo`] (made by `plan::share`).
    Shared(usize, Box<Node>),
}

#[derive(Debug, Clone)]
enum Rhs {
    None,
    Str(String),
    Num(i64),
    Bool(bool),
    Strs(Vec<String>),
    /// A long `in` list (at least [`SET_FROM`] strings), looked up by hash: Falco's lists run to hundreds of names,
    /// and a scan compared the value with each.
    Set(rustc_hash::FxHashSet<String>),
    Nums(Vec<i64>),
    Field(Field),
    Regex(regex::Regex),
    Nets(Vec<(std::net::IpAddr, u8)>),
}

/// How many strings an `in` list holds from which it is looked up by hash ([`Rhs::Set`]) rather than scanned.
const SET_FROM: usize = 8;

/// `10.0.0.0/8`, `::1/128`, or a bare address (a host network).
fn parse_net(s: &str) -> Option<(std::net::IpAddr, u8)> {
    let (ip, bits) = match s.split_once('/') {
        Some((ip, b)) => (ip.parse::<std::net::IpAddr>().ok()?, b.parse::<u8>().ok()?),
        None => {
            let ip = s.parse::<std::net::IpAddr>().ok()?;
            (ip, if ip.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn in_net(ip: &str, nets: &[(std::net::IpAddr, u8)]) -> bool {
    use std::net::IpAddr;
    let Ok(ip) = ip.parse::<IpAddr>() else { return false };
    nets.iter().any(|(net, bits)| match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if *bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from(*n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if *bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(a) & mask == u128::from(*n) & mask
        }
        _ => false,
    })
}

/// Compiles the rules of a set one after another, each macro parsed once.
struct Compiler<'a> {
    set: &'a RuleSet,
    /// Each macro's condition, parsed when first named.
    parsed: BTreeMap<&'a str, std::rc::Rc<Result<Ast, cond::ParseError>>>,
    /// What is left of [`MAX_TOTAL_EXPANSION`].
    total: usize,
    // The rule being compiled:
    missing_fields: BTreeSet<String>,
    missing_ops: BTreeSet<String>,
    errors: Vec<String>,
    budget: usize,
    depth: usize,
}

impl<'a> Compiler<'a> {
    fn start_rule(&mut self) {
        self.missing_fields.clear();
        self.missing_ops.clear();
        self.errors.clear();
        self.budget = MAX_EXPANSION;
        self.depth = 0;
    }

    /// A macro's parsed condition (`None`: no such macro).
    fn macro_ast(&mut self, name: &str) -> Option<std::rc::Rc<Result<Ast, cond::ParseError>>> {
        let set: &'a RuleSet = self.set;
        let (name, text) = set.macros.get_key_value(name)?;
        Some(self.parsed.entry(name.as_str()).or_insert_with(|| std::rc::Rc::new(cond::parse(text))).clone())
    }

    /// Spends `units` of the rule's and the compile's budgets; false (and the reason, once) when either is spent.
    fn spend(&mut self, units: usize) -> bool {
        if self.budget < units || self.total < units {
            if self.errors.is_empty() {
                self.errors.push(if self.total < units {
                    format!("the rule files expand to more than {MAX_TOTAL_EXPANSION} checks and list items in all")
                } else {
                    "condition expands to too many checks".into()
                });
            }
            self.budget = 0;
            return false;
        }
        self.budget -= units;
        self.total -= units;
        true
    }

    fn node(&mut self, a: &Ast, stack: &mut Vec<String>) -> Node {
        if self.depth >= MAX_NESTING {
            if self.errors.is_empty() {
                self.errors.push(format!("condition and its macros nest too deeply (more than {MAX_NESTING} levels)"));
            }
            return Node::Const(false);
        }
        self.depth += 1;
        let n = self.node_within(a, stack);
        self.depth -= 1;
        n
    }

    fn node_within(&mut self, a: &Ast, stack: &mut Vec<String>) -> Node {
        if !self.spend(1) {
            return Node::Const(false);
        }
        match a {
            Ast::And(v) => Node::And(v.iter().map(|x| self.node(x, stack)).collect()),
            Ast::Or(v) => Node::Or(v.iter().map(|x| self.node(x, stack)).collect()),
            Ast::Not(x) => Node::Not(Box::new(self.node(x, stack))),
            Ast::Macro(name) => {
                let Some(parsed) = self.macro_ast(name) else {
                    self.errors.push(format!("unknown macro `{name}`"));
                    return Node::Const(false);
                };
                if stack.contains(name) {
                    self.errors.push(format!("macro `{name}` refers to itself"));
                    return Node::Const(false);
                }
                match &*parsed {
                    Ok(ast) => {
                        stack.push(name.clone());
                        let n = self.node(ast, stack);
                        stack.pop();
                        n
                    }
                    Err(e) => {
                        self.errors.push(format!("macro `{name}`: {e}"));
                        Node::Const(false)
                    }
                }
            }
            Ast::Check(f, op, v) => self.check(f, *op, v),
        }
    }

    fn field(&mut self, f: &FieldRef) -> Option<Field> {
        for t in &f.transforms {
            if !matches!(t.as_str(), "tolower" | "toupper" | "basename") {
                self.missing_ops.insert(format!("{t}()"));
                return None;
            }
        }
        match Field::bind(&f.name, f.arg.as_deref()) {
            Ok(x) => Some(x),
            Err(Unsupported(name)) => {
                self.missing_fields.insert(name);
                None
            }
        }
    }

    fn items(&mut self, items: &[Item], out: &mut Vec<String>, depth: usize) {
        for it in items {
            if !it.quoted {
                if let Some(list) = self.set.lists.get(&it.text) {
                    // Naming a list costs even when it is empty: lists of lists of empty lists are wide, not long.
                    if !self.spend(1) {
                        return;
                    }
                    if depth > 16 {
                        self.errors.push(format!("list `{}` nests too deeply", it.text));
                        continue;
                    }
                    // Items written with quotes inside the YAML (`'"10.0.0.0/8"'`) are literal strings.
                    let sub: Vec<Item> = list
                        .iter()
                        .map(|t| match t.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                            Some(inner) => Item { text: inner.to_string(), quoted: true },
                            None => Item { text: t.clone(), quoted: false },
                        })
                        .collect();
                    self.items(&sub, out, depth + 1);
                    continue;
                }
            }
            if !self.spend(1 + it.text.len() / 64) {
                return;
            }
            out.push(it.text.clone());
        }
    }

    fn check(&mut self, f: &FieldRef, op: Op, v: &Value) -> Node {
        let Some(field) = self.field(f) else { return Node::Const(false) };
        let kind = field.kind();
        let mut strings = Vec::new();
        match v {
            Value::None => {}
            Value::One(s) => {
                // `fd.name in shell_binaries`-like shorthand is not Falco; a single bare value is literal, except
                // a list name after `in`/`pmatch`/`intersects`, which Falco accepts.
                if matches!(op, Op::In | Op::PMatch | Op::Intersects) {
                    self.items(&[Item { text: s.clone(), quoted: false }], &mut strings, 0);
                } else if self.spend(s.len() / 64) {
                    strings.push(s.clone());
                } else {
                    return Node::Const(false);
                }
            }
            Value::List(items) => self.items(items, &mut strings, 0),
            Value::Field(g) => {
                let Some(other) = self.field(g) else { return Node::Const(false) };
                return Node::Check { field, transforms: f.transforms.clone(), op, rhs: Rhs::Field(other) };
            }
        }
        let rhs = match (op, kind) {
            (Op::Exists, _) => Rhs::None,
            (Op::BContains | Op::BStartsWith, _) => {
                self.missing_ops.insert(op.as_str().into());
                return Node::Const(false);
            }
            (Op::Regex, _) => match regex::RegexBuilder::new(strings.first().map(String::as_str).unwrap_or(""))
                .size_limit(1 << 20)
                .build()
            {
                Ok(r) => Rhs::Regex(r),
                Err(e) => {
                    self.errors.push(format!("regex: {e}"));
                    return Node::Const(false);
                }
            },
            (Op::Eq | Op::Ne | Op::In, Kind::Net) => {
                match strings.iter().map(|s| parse_net(s)).collect::<Option<Vec<_>>>() {
                    Some(n) => Rhs::Nets(n),
                    None => {
                        self.errors.push(format!("{f}: a value in {strings:?} is not a network"));
                        return Node::Const(false);
                    }
                }
            }
            (Op::In | Op::Intersects, Kind::Num) => {
                match strings.iter().map(|s| s.parse::<i64>()).collect::<Result<Vec<_>, _>>() {
                    Ok(n) => Rhs::Nums(n),
                    Err(_) => {
                        self.errors.push(format!("{f}: a value in {strings:?} is not a number"));
                        return Node::Const(false);
                    }
                }
            }
            // A prefix's trailing slashes are dropped once here (`/usr/bin/` is the directory `/usr/bin`).
            (Op::PMatch, _) => Rhs::Strs(strings.iter().map(|p| p.trim_end_matches('/').to_string()).collect()),
            // Not `evt.type`'s lists: the engine files a rule under the types they name (`event_types`).
            (Op::In | Op::Intersects, _) if strings.len() >= SET_FROM && field != Field::EvtType => {
                Rhs::Set(strings.into_iter().collect())
            }
            (Op::In | Op::Intersects, _) => Rhs::Strs(strings),
            (_, Kind::Num) => match strings.first().map(|s| s.parse::<i64>()) {
                Some(Ok(n)) if strings.len() == 1 => Rhs::Num(n),
                _ => {
                    self.errors.push(format!("{f} {} {strings:?}: not a number", op.as_str()));
                    return Node::Const(false);
                }
            },
            (Op::Eq | Op::Ne, Kind::Bool) => match strings.first().map(String::as_str) {
                Some("true") => Rhs::Bool(true),
                Some("false") => Rhs::Bool(false),
                _ => {
                    self.errors.push(format!("{f}: {strings:?} is not true or false"));
                    return Node::Const(false);
                }
            },
            _ => match strings.len() {
                1 => Rhs::Str(strings.pop().unwrap_or_default()),
                _ => {
                    self.errors.push(format!("{f} {}: needs one value", op.as_str()));
                    return Node::Const(false);
                }
            },
        };
        Node::Check { field, transforms: f.transforms.clone(), op, rhs }
    }
}

/// The event types a node can match, as a bit set over [`EVT_TYPES`] (`u64::MAX` for a rule: any).
fn event_types(n: &Node) -> Option<u64> {
    match n {
        Node::Check { field: Field::EvtType, op: Op::Eq, rhs: Rhs::Str(s), transforms } if transforms.is_empty() => {
            Some(type_bit(s))
        }
        Node::Check { field: Field::EvtType, op: Op::In, rhs: Rhs::Strs(v), transforms } if transforms.is_empty() => {
            Some(v.iter().fold(0, |m, s| m | type_bit(s)))
        }
        Node::Const(false) => Some(0),
        Node::And(v) => v.iter().filter_map(event_types).reduce(|a, b| a & b),
        Node::Or(v) => v.iter().map(event_types).try_fold(0, |m, t| t.map(|t| m | t)),
        _ => None,
    }
}

// The bit set is a u64.
const _: () = assert!(EVT_TYPES.len() <= 64);

fn type_bit(s: &str) -> u64 {
    EVT_TYPES.iter().position(|t| *t == s).map_or(0, |i| 1 << i)
}

/// The event types a rule asks for by name (for the report of rules that never match).
fn needed_types(a: &Ast, c: &mut Compiler) -> Vec<String> {
    fn walk(a: &Ast, c: &mut Compiler, out: &mut BTreeSet<String>, depth: usize) {
        if depth > 64 {
            return;
        }
        match a {
            Ast::And(v) | Ast::Or(v) => v.iter().for_each(|x| walk(x, c, out, depth + 1)),
            Ast::Not(_) => {}
            Ast::Macro(m) => {
                if let Some(parsed) = c.macro_ast(m) {
                    if let Ok(ast) = &*parsed {
                        walk(ast, c, out, depth + 1);
                    }
                }
            }
            Ast::Check(f, Op::Eq | Op::In, v) if f.name == "evt.type" => match v {
                Value::One(s) => {
                    out.insert(s.clone());
                }
                Value::List(items) => {
                    for it in items {
                        match c.set.lists.get(&it.text) {
                            Some(l) if !it.quoted => out.extend(l.iter().cloned()),
                            _ => {
                                out.insert(it.text.clone());
                            }
                        }
                    }
                }
                _ => {}
            },
            Ast::Check(..) => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(a, c, &mut out, 0);
    out.into_iter().collect()
}

pub use kestrel_core::glob;

#[cold]
fn transform<'a>(v: Val<'a>, transforms: &[String]) -> Val<'a> {
    if transforms.is_empty() {
        return v;
    }
    let apply = |s: &str| -> String {
        let mut s = s.to_string();
        for t in transforms {
            s = match t.as_str() {
                "tolower" => s.to_lowercase(),
                "toupper" => s.to_uppercase(),
                "basename" => s.rsplit('/').next().unwrap_or("").to_string(),
                _ => s,
            };
        }
        s
    };
    match v {
        Val::Str(s) => Val::Str(apply(&s).into()),
        Val::Strs(v) => Val::Strs(v.iter().map(|s| apply(s).into()).collect()),
        other => other,
    }
}

/// Whether `v` is one of the directories `prefixes` (given without trailing slashes) or below one.
fn pmatch(v: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| v == p || (v.starts_with(p) && v.as_bytes().get(p.len()) == Some(&b'/')) || p.is_empty())
}

/// Whether `needle` occurs in `hay`. Candidates found by their first byte (memchr's search), then compared: a rule's
/// needles are short and a field's value too (a file's name, a command line), where setting up the standard
/// two-way searcher costs more than the search. After 16 candidates that fail, the standard searcher (linear in
/// the value) takes over, so a value made to hold the first byte everywhere costs no more than it did.
fn contains(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some(&first) = n.first() else { return true };
    for (tried, at) in memchr::memchr_iter(first, h).enumerate() {
        if h[at..].starts_with(n) {
            return true;
        }
        if tried >= 16 {
            return hay[at..].contains(needle);
        }
    }
    false
}

fn str_check(op: Op, v: &str, rhs: &Rhs) -> bool {
    match (op, rhs) {
        (Op::Eq, Rhs::Str(r)) => v == r,
        (Op::Ne, Rhs::Str(r)) => v != r,
        (Op::In, Rhs::Strs(r)) | (Op::Intersects, Rhs::Strs(r)) => r.iter().any(|x| x == v),
        (Op::In | Op::Intersects, Rhs::Set(r)) => r.contains(v),
        (Op::Contains, Rhs::Str(r)) => contains(v, r),
        (Op::IContains, Rhs::Str(r)) => v.to_lowercase().contains(&r.to_lowercase()),
        (Op::StartsWith, Rhs::Str(r)) => v.starts_with(r.as_str()),
        (Op::EndsWith, Rhs::Str(r)) => v.ends_with(r.as_str()),
        (Op::Glob, Rhs::Str(r)) => glob(r, v),
        (Op::IGlob, Rhs::Str(r)) => glob(&r.to_lowercase(), &v.to_lowercase()),
        (Op::PMatch, Rhs::Strs(r)) => pmatch(v, r),
        (Op::Regex, Rhs::Regex(r)) => r.is_match(v),
        (Op::Eq | Op::In, Rhs::Nets(n)) => in_net(v, n),
        (Op::Ne, Rhs::Nets(n)) => !in_net(v, n),
        (Op::Lt, Rhs::Str(r)) => v < r.as_str(),
        (Op::Le, Rhs::Str(r)) => v <= r.as_str(),
        (Op::Gt, Rhs::Str(r)) => v > r.as_str(),
        (Op::Ge, Rhs::Str(r)) => v >= r.as_str(),
        _ => false,
    }
}

impl Node {
    /// The strings compared with an address's name (`fd.sip.name = x`, `fd.cip.name in (…)`).
    fn names_compared(&self, out: &mut BTreeSet<String>) {
        match self {
            Node::And(v) | Node::Or(v) => v.iter().for_each(|n| n.names_compared(out)),
            Node::Not(n) => n.names_compared(out),
            Node::Check { field: Field::FdNameOf(_), rhs, .. } => match rhs {
                Rhs::Str(s) => {
                    out.insert(s.clone());
                }
                Rhs::Strs(v) => out.extend(v.iter().cloned()),
                Rhs::Set(v) => out.extend(v.iter().cloned()),
                _ => {}
            },
            _ => {}
        }
    }

    fn eval<'a>(&self, e: &'a Event, st: &'a State, memo: &Memo<'a>) -> bool {
        match self {
            Node::And(v) => v.iter().all(|n| n.eval(e, st, memo)),
            Node::Or(v) => v.iter().any(|n| n.eval(e, st, memo)),
            Node::Not(n) => !n.eval(e, st, memo),
            Node::Const(b) => *b,
            Node::Shared(slot, n) => memo.shared(*slot, || n.eval(e, st, memo)),
            Node::Check { field, transforms, op, rhs } => check(field, transforms, *op, rhs, e, st, memo),
        }
    }

    /// [`Node::eval`] of a check, the check inlined (a program's steps keep a shared check's memo slot themselves
    /// and ask this of the check inside).
    #[inline]
    fn leaf<'a>(&self, e: &'a Event, st: &'a State, memo: &Memo<'a>) -> bool {
        match self {
            Node::Check { field, transforms, op, rhs } => check(field, transforms, *op, rhs, e, st, memo),
            n => n.eval(e, st, memo),
        }
    }
}

/// A check (`field op rhs`) on an event.
#[inline]
fn check<'a>(
    field: &Field,
    transforms: &[String],
    op: Op,
    rhs: &Rhs,
    e: &'a Event,
    st: &'a State,
    memo: &Memo<'a>,
) -> bool {
    // Nearly every check compares a string the event, the process table or the memo holds: compared
    // where it is.
    if transforms.is_empty() && op != Op::Exists && !matches!(rhs, Rhs::Field(_)) {
        if let Some(v) = field.str_in(e, st, memo) {
            return v.is_some_and(|v| str_check(op, v, rhs));
        }
    }
    // Most checks have no transformer: their value is not passed through one (a call per check that
    // cost 8 % of the rules' time on an open-heavy load, the value copied in and out).
    let v = field.get_in(e, st, memo);
    let v = if transforms.is_empty() { v } else { transform(v, transforms) };
    if op == Op::Exists {
        return v != Val::Missing;
    }
    match rhs {
        Rhs::Field(g) => {
            let rhs = match g.get_in(e, st, memo) {
                Val::Str(s) => Rhs::Str(s.into_owned()),
                Val::Num(n) => Rhs::Num(n),
                Val::Bool(b) => Rhs::Bool(b),
                _ => return false,
            };
            value_check(v, op, &rhs)
        }
        rhs => value_check(v, op, rhs),
    }
}

/// Whether a field's value passes a check (`exists` aside) against a value that is not another field.
fn value_check(v: Val, op: Op, rhs: &Rhs) -> bool {
    match v {
        Val::Missing => false,
        Val::Str(s) => str_check(op, &s, rhs),
        Val::Strs(items) => match op {
            Op::Ne => !items.iter().any(|s| str_check(Op::Eq, s, rhs)),
            _ => items.iter().any(|s| str_check(op, s, rhs)),
        },
        Val::Bool(b) => match (op, rhs) {
            (Op::Eq, Rhs::Bool(r)) => b == *r,
            (Op::Ne, Rhs::Bool(r)) => b != *r,
            _ => false,
        },
        Val::Num(n) => match (op, rhs) {
            (Op::Eq, Rhs::Num(r)) => n == *r,
            (Op::Ne, Rhs::Num(r)) => n != *r,
            (Op::Lt, Rhs::Num(r)) => n < *r,
            (Op::Le, Rhs::Num(r)) => n <= *r,
            (Op::Gt, Rhs::Num(r)) => n > *r,
            (Op::Ge, Rhs::Num(r)) => n >= *r,
            (Op::In | Op::Intersects, Rhs::Nums(r)) => r.contains(&n),
            (_, Rhs::Str(_) | Rhs::Strs(_) | Rhs::Set(_) | Rhs::Regex(_)) => str_check(op, &n.to_string(), rhs),
            _ => false,
        },
    }
}

/// An output template: text with `%field` references.
#[derive(Debug, Clone)]
struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Field(Option<Field>, Vec<String>),
}

impl Template {
    fn parse(text: &str, missing: &mut BTreeSet<String>) -> Template {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find('%') {
            parts.push(Part::Text(rest[..i].to_string()));
            rest = &rest[i + 1..];
            // Parentheses belong to the field only after a transformer (`%tolower(proc.name)`); otherwise
            // `%evt.type(0)` is the field then text.
            let transformer = ["tolower(", "toupper(", "basename(", "b64("].iter().any(|t| rest.starts_with(t));
            let end = rest
                .find(|c: char| {
                    !(c.is_ascii_alphanumeric()
                        || matches!(c, '.' | '_' | '[' | ']')
                        || (transformer && matches!(c, '(' | ')')))
                })
                .unwrap_or(rest.len());
            let mut token = &rest[..end];
            // A closing parenthesis belongs to the field only when a transformer opened it.
            while token.ends_with(')') && token.matches('(').count() < token.matches(')').count() {
                token = &token[..token.len() - 1];
            }
            rest = &rest[token.len()..];
            match cond::parse(&format!("{token} exists")) {
                Ok(Ast::Check(f, Op::Exists, _)) => match Field::bind(&f.name, f.arg.as_deref()) {
                    Ok(b) => parts.push(Part::Field(Some(b), f.transforms)),
                    Err(Unsupported(n)) => {
                        missing.insert(n);
                        parts.push(Part::Field(None, vec![]));
                    }
                },
                _ => parts.push(Part::Text(format!("%{token}"))),
            }
        }
        parts.push(Part::Text(rest.to_string()));
        Template { parts }
    }

    fn render(&self, e: &Event, st: &State) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field(None, _) => out.push_str("<NA>"),
                Part::Field(Some(f), t) => match transform(f.get(e, st), t) {
                    Val::Missing => out.push_str("<NA>"),
                    Val::Str(s) => out.push_str(&s),
                    Val::Num(n) => out.push_str(&n.to_string()),
                    Val::Bool(b) => out.push_str(if b { "true" } else { "false" }),
                    Val::Strs(v) => out.push_str(&v.join(",")),
                },
            }
        }
        out
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Name.
    pub name: String,
    /// Description.
    pub desc: String,
    /// Priority as written.
    pub priority: String,
    /// Severity of its alerts.
    pub severity: Severity,
    /// MITRE ATT&CK techniques among its tags.
    pub mitre: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// The file it came from.
    pub origin: String,
    /// Whether it is evaluated.
    pub enabled: bool,
    output: Template,
    cond: Node,
    types: u64,
}

/// Compiled rules and what loading them gave.
#[derive(Debug, Clone)]
pub struct CompiledRules {
    /// The rules (enabled and disabled).
    pub rules: Vec<Rule>,
    /// The load report.
    pub report: LoadReport,
}

/// `openat`'s index in [`EVT_TYPES`].
const OPEN: usize = 2;

/// The first of the three slots of [`Engine::by_type`] that hold the rules for opens specialised to an access mode.
const OPEN_SLOTS: usize = EVT_TYPES.len() + 1;

/// Evaluates rules on events, one at a time, keeping the process table.
#[derive(Debug)]
pub struct Engine {
    rules: Vec<Rule>,
    /// Per event type (index in [`EVT_TYPES`]), the enabled rules that can match it, each with the entry of its
    /// condition, specialised to the type, in the type's program (see [`plan`]): the rules filed under the type
    /// first, then those for any type. After them, the rules for any type, for events of a type not in the
    /// table; then the opens' again, specialised to each access mode ([`OPEN_SLOTS`]).
    by_type: Vec<(plan::Program, Vec<(usize, u32)>)>,
    /// The results of the shared checks for the event being evaluated (see [`Node::Shared`]).
    shared: Vec<std::cell::Cell<u64>>,
    /// Events taken (numbers the shared checks' results).
    taken: u64,
    state: State,
    seq: u64,
}

impl Engine {
    /// An engine over compiled rules.
    pub fn new(c: CompiledRules) -> Engine {
        debug_assert_eq!(EVT_TYPES[OPEN], "openat");
        let enabled = || c.rules.iter().enumerate().filter(|(_, r)| r.enabled);
        // The rules filed under type `bit` and those for any type, each condition specialised by `how`.
        let for_type = |bit: usize, how: &dyn Fn(&Node) -> Node| -> Vec<(usize, Node)> {
            let filed = enabled().filter(|(_, r)| r.types != u64::MAX && r.types >> bit & 1 == 1);
            let any = enabled().filter(|(_, r)| r.types == u64::MAX);
            filed.chain(any).map(|(i, r)| (i, how(&r.cond))).filter(|(_, n)| !matches!(n, Node::Const(false))).collect()
        };
        let mut by_type: Vec<Vec<(usize, Node)>> =
            EVT_TYPES.iter().enumerate().map(|(bit, ty)| for_type(bit, &|c| c.specialize(Some(ty)))).collect();
        by_type
            .push(enabled().filter(|(_, r)| r.types == u64::MAX).map(|(i, r)| (i, r.cond.specialize(None))).collect());
        for mode in 0..3 {
            by_type.push(for_type(OPEN, &|c| c.specialize_open(mode)));
        }
        let shared = by_type.iter_mut().map(|rules| Node::share(rules)).max().unwrap_or(0);
        let by_type = by_type
            .into_iter()
            .map(|rules| {
                let mut program = plan::Program::default();
                let entries = rules.iter().map(|(i, cond)| (*i, program.add(cond))).collect();
                (program.built(), entries)
            })
            .collect();
        // The names fd.sip.name / fd.cip.name are compared against, resolved on a thread of their own.
        let mut names = BTreeSet::new();
        for r in c.rules.iter().filter(|r| r.enabled) {
            r.cond.names_compared(&mut names);
        }
        let state = State::with_names(names::Names::start(names.into_iter().collect()));
        Engine { rules: c.rules, by_type, shared: vec![std::cell::Cell::new(0); shared], taken: 0, state, seq: 0 }
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Starts another stream of events (see [`State::new_stream`]).
    pub fn new_stream(&mut self) {
        self.state.new_stream();
    }

    /// The process table (shared with the behaviour profiles).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Takes an event: updates the process table and returns the alerts of the rules it matches.
    pub fn process(&mut self, e: &Event) -> Vec<Alert> {
        self.state.update(e);
        // Rules with no event-type restriction run on every event (Falco warns about them too).
        let slot = match (fields::evt_type_index(e), &e.kind) {
            (Some(OPEN), EventKind::Open { flags, .. }) => OPEN_SLOTS + fields::access_mode(*flags),
            (slot, _) => slot.unwrap_or(EVT_TYPES.len()),
        };
        let mut out = Vec::new();
        self.taken += 1;
        let memo = Memo::for_event(&self.shared, self.taken);
        let (program, rules) = &self.by_type[slot];
        for &(i, entry) in rules {
            let r = &self.rules[i];
            if !program.run(entry, e, &self.state, &memo) {
                continue;
            }
            self.seq += 1;
            let output = r.output.render(e, &self.state);
            let mut explanation = vec![format!("rule `{}` ({}) matched", r.name, r.origin)];
            if !r.desc.is_empty() {
                explanation.push(r.desc.split_whitespace().collect::<Vec<_>>().join(" "));
            }
            explanation.push(format!("event: {}", describe(e)));
            out.push(Alert {
                schema: ALERT_SCHEMA.into(),
                id: format!("{:x}-{}", e.time_ns, self.seq),
                time_ns: e.time_ns,
                severity: r.severity,
                score: 1.0,
                source: AlertSource::Rule {
                    name: r.name.clone(),
                    priority: r.priority.clone(),
                    origin: r.origin.clone(),
                },
                title: if output.is_empty() { r.name.clone() } else { output },
                explanation,
                contributions: vec![],
                mitre: r.mitre.clone(),
                tags: r.tags.clone(),
                container: e.container.as_deref().cloned(),
                workload: None,
                evidence: vec![e.clone()],
                folded: None,
            });
        }
        out
    }
}

/// One line about an event: alerts' explanations, Falco's `evt.args` and `kestrel monitor -f table`.
pub fn describe(e: &Event) -> String {
    match &e.kind {
        EventKind::Exec { argv, uid, euid, parent_comm, user, .. } => {
            // The name is the effective uid's (Falco's user.name).
            let name = user.as_ref().map(|u| format!(" {u}")).unwrap_or_default();
            format!(
                "exec `{}` ({}, parent {})",
                argv.join(" "),
                if euid != uid { format!("uid {uid}, euid {euid}{name}") } else { format!("uid {uid}{name}") },
                if parent_comm.is_empty() { "?" } else { parent_comm }
            )
        }
        EventKind::Exit { status } => format!("exit {}", status >> 8),
        EventKind::Open { path, flags } => format!("open {path} ({})", fields::open_flag_names(*flags)),
        EventKind::Connect { to } => format!("connect to {}", sock_text(to)),
        EventKind::Send { call, to } => format!("{call} to {}", sock_text(to)),
        EventKind::Dns { to, name, .. } if name.is_empty() => {
            format!("datagram to {}, no DNS question in it", sock_text(to))
        }
        EventKind::Dns { to, name, qtype } => format!("DNS question {name} {qtype} to {}", sock_text(to)),
        EventKind::Dup { call, fd, peer, .. } => {
            let stream = ["standard input", "standard output", "standard error"].get(*fd as usize).unwrap_or(&"?");
            format!("{call}: {stream} is now the connection with {}", sock_text(peer))
        }
        EventKind::Socket { family, sock_type, protocol } => {
            format!("socket {family} {sock_type} (protocol {protocol:#x})")
        }
        EventKind::Bind { addr } => format!("bind {}", sock_text(addr)),
        EventKind::Listen { fd, backlog } => format!("listen on fd {fd} (backlog {backlog})"),
        EventKind::Accept { from, port } => match port {
            Some(port) => format!("accept from {} on port {port}", sock_text(from)),
            None => format!("accept from {}", sock_text(from)),
        },
        EventKind::Syscalls { ids } => {
            // A run of one call (a program setting up its signal handlers) said once, with its count.
            let mut names: Vec<String> = Vec::new();
            for run in ids.chunk_by(|a, b| a == b) {
                let name = crate::profile::syscall_name(run[0]);
                match run.len() {
                    1 | 2 => names.extend(std::iter::repeat_n(name, run.len())),
                    n => names.push(format!("{name} ×{n}")),
                }
            }
            format!("{} system calls: {}", ids.len(), names.join(" "))
        }
        EventKind::SetIds { call, ids, names } => {
            let args: Vec<String> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| match names.get(i) {
                    Some(Some(name)) => format!("{id} {name}"),
                    _ => id.to_string(),
                })
                .collect();
            format!("{call}({})", args.join(", "))
        }
        EventKind::Capset { effective, .. } => format!("capset effective {effective:#x}"),
        EventKind::Namespaces { call, namespaces, .. } => format!("{call} new namespaces {}", namespaces.join(",")),
        EventKind::Setns { nstype: 0 } => "setns (any namespace)".to_string(),
        EventKind::Setns { nstype } => format!("setns {}", fields::clone_flag_names(*nstype)),
        EventKind::Mount { source, target, fstype, flags } => {
            // runc's remounts and propagation changes name no source and no type.
            let mut text = String::from("mount");
            if !source.is_empty() {
                text.push_str(&format!(" {source}"));
            }
            text.push_str(&format!(" on {target}"));
            if !fstype.is_empty() {
                text.push_str(&format!(" ({fstype})"));
            }
            if *flags != 0 {
                text.push_str(&format!(" {}", fields::mount_flag_names(*flags)));
            }
            text
        }
        EventKind::Ptrace { request, target_pid } => {
            format!("ptrace {} on pid {target_pid}", fields::ptrace_name(*request))
        }
        EventKind::Bpf { cmd } => format!("bpf {}", fields::bpf_cmd(*cmd)),
        EventKind::ModuleLoad { call } => call.clone(),
        EventKind::SetuidChmod { path, mode } => format!("chmod {mode:o} {}", path.as_deref().unwrap_or("(by fd)")),
        EventKind::Link { call, target, path, .. } => format!("{call} {path} → {target}"),
        EventKind::Mkdir { path, mode, .. } => format!("mkdir {path} ({mode:o})"),
        EventKind::Unlink { call, path, dir, .. } => {
            format!("{call} {path}{}", if *dir && call == "unlinkat" { " (AT_REMOVEDIR)" } else { "" })
        }
        EventKind::Truncate { call, path, size_before: Some(size), length } => {
            format!("{call} {path} from {size} to {length} bytes")
        }
        EventKind::Truncate { call, path, size_before: None, length } => format!("{call} {path} to {length} bytes"),
        EventKind::Userfaultfd { flags } => format!("userfaultfd (flags {flags:#x})"),
        EventKind::Rename { call, from, to, .. } => format!("{call} {from} → {to}"),
        EventKind::Mmap { path, prot, memfd, deleted, .. } => format!(
            "mmap {path} ({}){}{}",
            fields::prot_names(*prot),
            if *memfd { ", a memfd" } else { "" },
            if *deleted && !*memfd { ", deleted" } else { "" }
        ),
        EventKind::ExecMemory { call, prot, region, length, path, .. } => match path {
            Some(path) => format!("{call} {length} bytes of {path} ({})", fields::prot_names(*prot)),
            None => format!("{call} {length} bytes of {region} memory ({})", fields::prot_names(*prot)),
        },
    }
}

/// A socket address with its family and, when known, its protocol: `10.0.0.1:53 (udp)`, `[::1]:443`,
/// `unix /run/docker.sock`.
fn sock_text(a: &SockAddr) -> String {
    let at = match a.family.as_str() {
        "unix" => return format!("unix {}", a.addr),
        "inet6" => format!("[{}]:{}", a.addr, a.port),
        _ => format!("{}:{}", a.addr, a.port),
    };
    match a.proto {
        Some(p) => format!("{at} ({})", p.as_str()),
        None => at,
    }
}

#[cfg(test)]
mod tests;
