//! RubyGems versions, ordered as `Gem::Version#<=>`: segments of digits or letters; a segment with letters
//! makes a pre-release (`1.0.a` < `1.0`); trailing zero segments before the first letters do not count;
//! a `-` is read as `.pre.`.

use super::VersionError;
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Digits without leading zeros (any length).
    Number(String),
    Letters(String),
}

/// A RubyGems version.
#[derive(Debug, Clone)]
pub struct GemVersion {
    segments: Vec<Segment>,
}

impl GemVersion {
    /// Parses a version with `Gem::Version`'s grammar: digits first, then `.`-separated alphanumeric
    /// parts, optionally a `-` pre-release part; an empty string is `0`.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        let t = s.trim();
        let t = if t.is_empty() { "0" } else { t };
        if !valid(t) {
            return Err(VersionError::new(s, "not a RubyGems version"));
        }
        let t = t.replace('-', ".pre.");
        let mut raw = Vec::new();
        let b = t.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let st = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                raw.push(Segment::Number(t[st..i].trim_start_matches('0').to_string()));
            } else if b[i].is_ascii_alphabetic() {
                let st = i;
                while i < b.len() && b[i].is_ascii_alphabetic() {
                    i += 1;
                }
                raw.push(Segment::Letters(t[st..i].to_string()));
            } else {
                i += 1;
            }
        }
        // Canonical segments: drop trailing zeros of the numeric part and of the letter part separately.
        let first_letters = raw.iter().position(|s| matches!(s, Segment::Letters(_))).unwrap_or(raw.len());
        let zero = |s: &Segment| matches!(s, Segment::Number(n) if n.is_empty());
        let mut numeric = raw[..first_letters].to_vec();
        while numeric.last().is_some_and(zero) {
            numeric.pop();
        }
        let mut rest = raw[first_letters..].to_vec();
        while rest.last().is_some_and(zero) {
            rest.pop();
        }
        numeric.extend(rest);
        Ok(GemVersion { segments: numeric })
    }
}

/// `\A\s*([0-9]+(?>\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)?\s*\z`
fn valid(t: &str) -> bool {
    let (main, pre) = match t.split_once('-') {
        Some((m, p)) => (m, Some(p)),
        None => (t, None),
    };
    let mut parts = main.split('.');
    let first = parts.next().unwrap_or("");
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    if !parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return false;
    }
    match pre {
        None => true,
        Some(p) => p.split('.').all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')),
    }
}

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Segment::Number(String::new());
        let n = self.segments.len().max(other.segments.len());
        for k in 0..n {
            let a = self.segments.get(k).unwrap_or(&zero);
            let b = other.segments.get(k).unwrap_or(&zero);
            let o = match (a, b) {
                (Segment::Number(x), Segment::Number(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
                (Segment::Letters(_), Segment::Number(_)) => Ordering::Less,
                (Segment::Number(_), Segment::Letters(_)) => Ordering::Greater,
                (Segment::Letters(x), Segment::Letters(y)) => x.cmp(y),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for GemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for GemVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for GemVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gem_order() {
        let g = |s| GemVersion::parse(s).unwrap();
        let order = ["1.0.a", "1.0.a.1", "1.0.b1", "1.0.rc1", "1.0", "1.0.1", "1.1", "1.10", "2.0.0.pre-x"];
        for w in order.windows(2) {
            assert!(g(w[0]) < g(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(g("1.0"), g("1"));
        assert_eq!(g("1.0.0"), g("1.0"));
        assert!(g("1.0-beta") < g("1.0"));
        assert!(g("7.0.8.1") > g("7.0.8"));
        assert!(GemVersion::parse("1..0").is_err());
        assert!(GemVersion::parse("junk").is_err());
    }
}
