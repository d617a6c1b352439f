//! Custom policies in Rego (evaluated by regorus, Rego v1), producing the same findings as the built-in checks.
//!
//! A policy is a `.rego` file in any package under `kestrel`; its `deny` rule is a set of findings about the
//! object in `input` (each Kubernetes object of each document, or a Dockerfile's instructions as
//! `{"kind": "Dockerfile", "stages": [...]}`). A finding is a string (the message) or an object:
//!
//! ```rego
//! package kestrel.custom.registries
//!
//! deny contains {
//!     "id": "custom:allowed-registry",
//!     "title": "Image from an unapproved registry",
//!     "severity": "high",
//!     "message": sprintf("container %s runs %s", [c.name, c.image]),
//!     "fix": "pull images from registry.example.com only",
//!     "field": sprintf("spec.containers[%d].image", [i]),
//!     "controls": ["nist-800-190:4.2.1"],
//! } if {
//!     input.kind == "Pod"
//!     some i, c in input.spec.containers
//!     not startswith(c.image, "registry.example.com/")
//! }
//! ```
//!
//! Evaluation of one object is bounded in time (a policy that loops forever is an error naming it).

use crate::yaml::Document;
use kestrel_core::{ConfigFinding, ControlRef, Severity};
use std::path::Path;

/// Custom policies, loaded and ready.
pub struct Policies {
    engine: regorus::Engine,
    rules: Vec<String>,
    sources: Vec<(String, String)>,
}

impl Clone for Policies {
    /// A fresh engine over the same sources (an engine is not shared between threads).
    fn clone(&self) -> Policies {
        Policies::from_sources(self.sources.clone()).unwrap_or_else(|_| Policies {
            engine: regorus::Engine::new(),
            rules: Vec::new(),
            sources: Vec::new(),
        })
    }
}

/// A policy that cannot be loaded or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct PolicyError {
    /// The policy file (or the object evaluated).
    pub file: String,
    /// Why.
    pub reason: String,
}

/// The longest one object's evaluation may take.
pub const EVAL_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The largest policy file read.
const MAX_POLICY_BYTES: u64 = 4 << 20;

impl Policies {
    /// Loads every `.rego` file of a file or directory (sorted).
    pub fn load(path: &Path) -> Result<Policies, PolicyError> {
        let files: Vec<std::path::PathBuf> = if path.is_dir() {
            let mut v: Vec<_> = walkdir::WalkDir::new(path)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "rego"))
                .map(|e| e.into_path())
                .collect();
            v.sort();
            v
        } else {
            vec![path.to_path_buf()]
        };
        let mut sources = Vec::new();
        for f in files {
            let err = |reason: String| PolicyError { file: f.display().to_string(), reason };
            let bytes = crate::read_at_most(&f, MAX_POLICY_BYTES)
                .map_err(|e| err(e.to_string()))?
                .ok_or_else(|| err(format!("a policy larger than {} MiB", MAX_POLICY_BYTES >> 20)))?;
            let text = String::from_utf8(bytes)
                .map_err(|e| err(format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to())))?;
            sources.push((f.display().to_string(), text));
        }
        Policies::from_sources(sources)
    }

    /// Loads policies from (file name, text) pairs.
    pub fn from_sources(sources: Vec<(String, String)>) -> Result<Policies, PolicyError> {
        let mut engine = regorus::Engine::new();
        engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
            limit: EVAL_LIMIT,
            check_interval: std::num::NonZeroU32::new(64).unwrap_or(std::num::NonZeroU32::MIN),
        });
        let mut rules = Vec::new();
        for (file, text) in sources.clone() {
            let package = engine
                .add_policy(file.clone(), text)
                .map_err(|e| PolicyError { file: file.clone(), reason: e.to_string() })?;
            let pkg = package.trim_start_matches("data.");
            if pkg != "kestrel" && !pkg.starts_with("kestrel.") {
                return Err(PolicyError { file, reason: format!("package {pkg} is not under kestrel") });
            }
            let rule = format!("data.{pkg}.deny");
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        if rules.is_empty() {
            return Err(PolicyError { file: "(policies)".into(), reason: "no .rego file".into() });
        }
        Ok(Policies { engine, rules, sources })
    }

    /// The findings of every policy about one input object.
    pub fn evaluate(
        &mut self,
        file: &str,
        resource: &str,
        line: Option<usize>,
        input: &serde_json::Value,
    ) -> Result<Vec<ConfigFinding>, PolicyError> {
        let err = |reason: String| PolicyError { file: format!("{file} ({resource})"), reason };
        let value = regorus::Value::from_json_str(&input.to_string()).map_err(|e| err(e.to_string()))?;
        self.engine.set_input(value);
        let mut out = Vec::new();
        for rule in &self.rules {
            let v = match self.engine.eval_rule(rule.clone()) {
                Ok(v) => v,
                // A package whose deny rule does not apply to this input is undefined: no finding.
                Err(e) if e.to_string().contains("not found") => continue,
                Err(e) => return Err(err(format!("{rule}: {e}"))),
            };
            let json: serde_json::Value = match v.to_json_str() {
                Ok(s) => serde_json::from_str(&s).unwrap_or(serde_json::Value::Null),
                Err(e) => return Err(err(e.to_string())),
            };
            for item in json.as_array().into_iter().flatten() {
                out.push(finding(rule, file, resource, line, item));
            }
        }
        Ok(out)
    }

    /// The sources, for a copy of the engine in another thread.
    pub fn sources(&self) -> &[(String, String)] {
        &self.sources
    }

    /// The findings of every policy about every Kubernetes object of a document.
    pub fn evaluate_document(&mut self, file: &str, doc: &Document) -> Result<Vec<ConfigFinding>, PolicyError> {
        let mut out = Vec::new();
        for (ptr, o) in crate::k8s::objects(&doc.value) {
            let resource = crate::k8s::resource_name(o);
            out.extend(self.evaluate(file, &resource, doc.line(&ptr), o)?);
        }
        Ok(out)
    }
}

fn finding(rule: &str, file: &str, resource: &str, line: Option<usize>, item: &serde_json::Value) -> ConfigFinding {
    let pkg = rule.trim_start_matches("data.").trim_end_matches(".deny");
    let s = |k: &str| item[k].as_str().map(String::from);
    let message = item.as_str().map(String::from).or_else(|| s("message")).or_else(|| s("msg")).unwrap_or_default();
    ConfigFinding {
        id: s("id").unwrap_or_else(|| format!("rego:{pkg}")),
        title: s("title").unwrap_or_else(|| message.clone()),
        severity: s("severity").and_then(|x| x.parse().ok()).unwrap_or(Severity::Medium),
        file: file.into(),
        resource: resource.into(),
        line,
        field: s("field").unwrap_or_default(),
        message,
        fix: s("fix").unwrap_or_default(),
        controls: item["controls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
            .map(|c| match c.split_once(':') {
                Some((standard, control)) => ControlRef { standard: standard.into(), control: control.into() },
                None => ControlRef { standard: c.into(), control: String::new() },
            })
            .collect(),
    }
}
