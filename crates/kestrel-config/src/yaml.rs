//! YAML (and JSON, a subset of it) into `serde_json::Value`s, one per document, with the line of every node.
//!
//! Manifests come from anyone: the loader is an event receiver over yaml-rust2's parser that builds each
//! document without recursion, bounds nesting depth and — the YAML bomb — the number of nodes aliases may
//! expand to, and errors name the line.

use serde_json::{Map, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Limits of one file.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most nodes a file may hold, aliases expanded.
    pub nodes: usize,
    /// Deepest nesting.
    pub depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { nodes: 2_000_000, depth: 200 }
    }
}

/// One YAML document.
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// Its position in the file (0-based).
    pub index: usize,
    /// Its content.
    pub value: Value,
    /// The line (1-based) of each node, by JSON pointer (`/spec/containers/0/image`).
    pub lines: HashMap<String, usize>,
}

impl Document {
    /// The line of the node at `pointer`, or of its nearest ancestor that has one.
    pub fn line(&self, pointer: &str) -> Option<usize> {
        let mut p = pointer;
        loop {
            if let Some(l) = self.lines.get(p) {
                return Some(*l);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }
}

/// Why a file could not be read as YAML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    /// Not YAML.
    #[error("line {line}: {reason}")]
    Syntax {
        /// Where.
        line: usize,
        /// What the parser said.
        reason: String,
    },
    /// Aliases expand to more nodes than allowed.
    #[error("line {line}: aliases expand to more than {limit} nodes (a YAML bomb?)")]
    TooManyNodes {
        /// Where the limit was reached.
        line: usize,
        /// The limit.
        limit: usize,
    },
    /// Nested too deep.
    #[error("line {line}: nested deeper than {limit} levels")]
    TooDeep {
        /// Where.
        line: usize,
        /// The limit.
        limit: usize,
    },
}

enum Frame {
    Seq { items: Vec<Value>, anchor: usize, pointer: String },
    Map { map: Map<String, Value>, key: Option<String>, key_line: usize, anchor: usize, pointer: String },
}

struct Builder {
    limits: Limits,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, usize)>,
    docs: Vec<Document>,
    lines: HashMap<String, usize>,
    nodes: usize,
    error: Option<YamlError>,
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A plain scalar as YAML's core schema (and Kubernetes) reads it.
fn plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = s.parse::<i64>() {
        return Value::from(i);
    }
    if let Some(h) = s.strip_prefix("0x").and_then(|h| i64::from_str_radix(h, 16).ok()) {
        return Value::from(h);
    }
    if let Some(o) = s.strip_prefix("0o").and_then(|o| i64::from_str_radix(o, 8).ok()) {
        return Value::from(o);
    }
    if s.bytes().any(|b| b.is_ascii_digit()) && s.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) {
        if let Some(n) = s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(s.to_string())
}

fn count(v: &Value) -> usize {
    // Iterative: a value may be deep.
    let mut n = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        n += 1;
        match v {
            Value::Array(a) => stack.extend(a.iter()),
            Value::Object(m) => stack.extend(m.values()),
            _ => {}
        }
    }
    n
}

impl Builder {
    fn fail(&mut self, e: YamlError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// The pointer of the next child of the innermost collection.
    fn child_pointer(&self) -> Option<String> {
        match self.stack.last()? {
            Frame::Seq { items, pointer, .. } => Some(format!("{pointer}/{}", items.len())),
            Frame::Map { key: Some(k), pointer, .. } => Some(format!("{pointer}/{}", escape(k))),
            Frame::Map { key: None, .. } => None,
        }
    }

    /// Puts a finished value where it belongs: the innermost collection, or the document.
    fn place(&mut self, v: Value, anchor: usize, line: usize) {
        if anchor > 0 {
            let n = count(&v);
            self.anchors.insert(anchor, (v.clone(), n));
        }
        match self.stack.last_mut() {
            None => {
                let index = self.docs.len();
                let lines = std::mem::take(&mut self.lines);
                self.docs.push(Document { index, value: v, lines });
            }
            Some(Frame::Seq { items, .. }) => items.push(v),
            Some(Frame::Map { map, key, key_line, .. }) => match key.take() {
                Some(k) => {
                    map.insert(k, v);
                }
                None => {
                    // A key: scalars are used as they are; a complex key is written as JSON.
                    let k = match v {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    *key = Some(k);
                    *key_line = line;
                }
            },
        }
    }

    fn is_key_position(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let mut line = mark.line();
        // A value is on the line of its key (a block mapping under `b:` starts a line lower).
        let value_line = match self.stack.last() {
            Some(Frame::Map { key: Some(_), key_line, .. }) => *key_line,
            _ => line,
        };
        let node_pointer = if self.is_key_position() { None } else { self.child_pointer() };
        let is_value = !self.is_key_position();
        if is_value {
            line = value_line;
        }
        let add_nodes = |b: &mut Builder, n: usize| {
            b.nodes += n;
            if b.nodes > b.limits.nodes {
                let limit = b.limits.nodes;
                b.fail(YamlError::TooManyNodes { line, limit });
                false
            } else {
                true
            }
        };
        match ev {
            Event::Scalar(s, style, anchor, _tag) => {
                if !add_nodes(self, 1) {
                    return;
                }
                let v = if style == TScalarStyle::Plain { plain(&s) } else { Value::String(s) };
                if is_value {
                    let p = node_pointer.unwrap_or_default();
                    self.lines.entry(p).or_insert(line);
                }
                self.place(v, anchor, line);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if !add_nodes(self, 1) {
                    return;
                }
                if self.stack.len() >= self.limits.depth {
                    let limit = self.limits.depth;
                    self.fail(YamlError::TooDeep { line, limit });
                    return;
                }
                // A collection used as a key gets no pointer of its own.
                let pointer = node_pointer.unwrap_or_default();
                if is_value {
                    self.lines.entry(pointer.clone()).or_insert(line);
                }
                self.stack.push(if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq { items: Vec::new(), anchor, pointer }
                } else {
                    Frame::Map { map: Map::new(), key: None, key_line: line, anchor, pointer }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (v, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { items, anchor, .. }) => (Value::Array(items), anchor),
                    Some(Frame::Map { map, anchor, .. }) => (Value::Object(map), anchor),
                    None => return,
                };
                self.place(v, anchor, line);
            }
            Event::Alias(id) => {
                let Some(n) = self.anchors.get(&id).map(|(_, n)| *n) else {
                    self.fail(YamlError::Syntax { line, reason: format!("alias to an unknown anchor ({id})") });
                    return;
                };
                // Counted before it is copied: a bomb stops here.
                if !add_nodes(self, n) {
                    return;
                }
                let v = self.anchors.get(&id).map(|(v, _)| v.clone()).unwrap_or_default();
                if is_value {
                    self.lines.entry(node_pointer.unwrap_or_default()).or_insert(line);
                }
                self.place(v, 0, line);
            }
            Event::DocumentStart => {
                self.stack.clear();
                self.lines.clear();
            }
            Event::DocumentEnd | Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
    }
}

/// Every document of a YAML (or JSON) text. Empty documents are kept as `null`. A stream of JSON values one
/// after another (`{…}{…}`, what `kubectl get -o json` of several objects gives and kubectl accepts) is read as
/// one document each.
pub fn parse(text: &str, limits: Limits) -> Result<Vec<Document>, YamlError> {
    match parse_yaml(text, limits) {
        Err(e @ YamlError::Syntax { .. }) if text.trim_start().starts_with(['{', '[']) => {
            parse_json_stream(text, limits).ok_or(e)
        }
        r => r,
    }
}

/// Several JSON values in a row, each parsed as YAML (for the lines) from where it starts; `None` unless there
/// are at least two and all of them are well-formed JSON.
fn parse_json_stream(text: &str, limits: Limits) -> Option<Vec<Document>> {
    let mut docs: Vec<Document> = Vec::new();
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<serde::de::IgnoredAny>();
    let (mut start, mut lead) = (0, 0);
    while let Some(v) = values.next() {
        v.ok()?;
        let end = values.byte_offset();
        for mut d in parse_yaml(&text[start..end], limits).ok()? {
            d.lines.values_mut().for_each(|l| *l += lead);
            d.index = docs.len();
            docs.push(d);
        }
        lead += newlines(&text.as_bytes()[start..end]);
        start = end;
    }
    (docs.len() > 1).then_some(docs)
}

fn newlines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

fn parse_yaml(text: &str, limits: Limits) -> Result<Vec<Document>, YamlError> {
    let mut b = Builder {
        limits,
        stack: Vec::new(),
        anchors: HashMap::new(),
        docs: Vec::new(),
        lines: HashMap::new(),
        nodes: 0,
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    let r = parser.load(&mut b, true);
    if let Some(e) = b.error {
        return Err(e);
    }
    r.map_err(|e| YamlError::Syntax { line: e.marker().line(), reason: e.info().to_string() })?;
    Ok(b.docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_values_and_lines() {
        let text = "a: 1\nb:\n  c: [x, 'true', true]\n  d: ~\n---\n- k: v\n  n: 0x10\n";
        let docs = parse(text, Limits::default()).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].value, serde_json::json!({"a": 1, "b": {"c": ["x", "true", true], "d": null}}));
        assert_eq!(docs[0].line("/a"), Some(1));
        assert_eq!(docs[0].line("/b/c/2"), Some(3));
        assert_eq!(docs[0].line("/b/d"), Some(4));
        assert_eq!(docs[0].line("/b/missing"), Some(2), "the nearest ancestor");
        assert_eq!(docs[1].value, serde_json::json!([{"k": "v", "n": 16}]));
        assert_eq!(docs[1].line("/0/n"), Some(7));
    }

    #[test]
    fn a_stream_of_json_objects_is_one_document_each_with_its_lines() {
        let text = "{\n  \"kind\": \"Service\",\n  \"a\": 1\n}\n{\n  \"kind\": \"Pod\",\n  \"b\": [2]\n}\n";
        let docs = parse(text, Limits::default()).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].value, serde_json::json!({"kind": "Pod", "b": [2]}));
        assert_eq!((docs[0].line("/a"), docs[1].line("/b/0"), docs[1].index), (Some(3), Some(7), 1));
        // A broken object in the stream is an error, with the YAML reader's line.
        assert!(parse("{\"a\": 1}\n{\"b\": \n", Limits::default()).is_err());
    }

    #[test]
    fn json_is_yaml_and_anchors_are_expanded() {
        let docs = parse("{\"x\": [1, 2.5, \"s\"], \"y\": null}", Limits::default()).unwrap();
        assert_eq!(docs[0].value, serde_json::json!({"x": [1, 2.5, "s"], "y": null}));
        let docs = parse("base: &b {image: nginx}\nother: *b\n", Limits::default()).unwrap();
        assert_eq!(docs[0].value["other"]["image"], "nginx");
    }

    #[test]
    fn bombs_deep_nesting_and_garbage_are_errors_with_a_line() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = (b'a' + i - 1) as char;
            let cur = (b'a' + i) as char;
            bomb.push_str(&format!("{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let t = std::time::Instant::now();
        let e = parse(&bomb, Limits::default()).unwrap_err();
        assert!(matches!(e, YamlError::TooManyNodes { .. }), "{e}");
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
        let deep = "[".repeat(100_000);
        assert!(parse(&deep, Limits::default()).is_err());
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let e = parse(&deep, Limits { depth: 50, ..Limits::default() }).unwrap_err();
        assert!(matches!(e, YamlError::TooDeep { .. }), "{e}");
        let e = parse("a: [1, 2\nb: {", Limits::default()).unwrap_err();
        assert!(matches!(e, YamlError::Syntax { .. }), "{e}");
    }
}
