//! Composer (Packagist) versions: normalised as Composer's `VersionParser::normalize` does
//! (`v1.2` → `1.2.0.0`, `1.0-b2` → `1.0.0.0-beta2`), then ordered by PHP's `version_compare`, which is what
//! `Composer\Semver\Comparator` uses.

use super::VersionError;
use std::cmp::Ordering;

/// A Composer version, normalised.
#[derive(Debug, Clone)]
pub struct ComposerVersion {
    normalized: String,
}

impl ComposerVersion {
    /// Parses and normalises a version. Branch names (`dev-main`) are errors: they have no order.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        normalize(s)
            .map(|normalized| ComposerVersion { normalized })
            .ok_or_else(|| VersionError::new(s, "not a Composer version"))
    }
}

fn normalize(s: &str) -> Option<String> {
    let t = s.trim();
    let t = t.split_once('+').map_or(t, |(v, _)| v); // build metadata
    let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
    let b = t.as_bytes();
    // Up to four numeric parts.
    let mut nums = Vec::new();
    let mut i = 0;
    loop {
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == st || (nums.is_empty() && i - st > 5) {
            return None;
        }
        nums.push(t[st..i].to_string());
        if nums.len() < 4 && i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
            i += 1;
            continue;
        }
        break;
    }
    while nums.len() < 4 {
        nums.push("0".into());
    }
    let mut out = nums.join(".");
    // The stability modifier: [._-]?(stable|beta|b|RC|alpha|a|patch|pl|p)(([.-]?\d+)*)?([.-]?dev)?
    let mut rest = &t[i..];
    if rest.is_empty() {
        return Some(out);
    }
    rest = rest.strip_prefix(['.', '_', '-']).unwrap_or(rest);
    let lower = rest.to_ascii_lowercase();
    const MODS: [(&str, &str); 9] = [
        ("stable", "stable"),
        ("beta", "beta"),
        ("alpha", "alpha"),
        ("patch", "patch"),
        ("rc", "RC"),
        ("pl", "patch"),
        ("b", "beta"),
        ("a", "alpha"),
        ("p", "patch"),
    ];
    let mut tail = lower.as_str();
    if let Some((m, canon)) = MODS.iter().find(|(m, _)| lower.starts_with(m)) {
        tail = &lower[m.len()..];
        let digits_end = tail.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')).unwrap_or(tail.len());
        let (num, after) = tail.split_at(digits_end);
        let (num, dev) = match num.strip_suffix(['.', '-']) {
            Some(n) if after == "dev" => (n, true),
            _ => (num, false),
        };
        if !num.bytes().all(|c| c.is_ascii_digit() || c == b'.' || c == b'-')
            || !(after.is_empty() || dev || after == "dev")
        {
            return None;
        }
        if *canon != "stable" {
            out.push('-');
            out.push_str(canon);
            out.push_str(num.trim_start_matches(['.', '-']));
        }
        if dev || after == "dev" {
            out.push_str("-dev");
        }
        return Some(out);
    }
    if tail == "dev" {
        return Some(out + "-dev");
    }
    None
}

/// PHP's canonical form for `version_compare`: `-`, `_`, `+` become `.`, and a `.` goes between a digit
/// and a non-digit.
fn php_tokens(v: &str) -> Vec<String> {
    let mut canon = String::new();
    let mut prev: Option<char> = None;
    for c in v.chars() {
        let c = if matches!(c, '-' | '_' | '+') { '.' } else { c };
        if let Some(p) = prev {
            let special = |x: char| !x.is_ascii_digit() && x != '.';
            if c != '.' && p != '.' && ((p.is_ascii_digit() && special(c)) || (special(p) && c.is_ascii_digit())) {
                canon.push('.');
            }
        }
        canon.push(c);
        prev = Some(c);
    }
    canon.split('.').filter(|t| !t.is_empty()).map(str::to_string).collect()
}

fn special_form(t: &str) -> i32 {
    const FORMS: [(&str, i32); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS.iter().find(|(f, _)| t.starts_with(f)).map_or(-6, |(_, v)| *v)
}

fn compare_token(a: &str, b: &str) -> Ordering {
    let num = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    match (num(a), num(b)) {
        (true, true) => {
            let (x, y) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
            x.len().cmp(&y.len()).then_with(|| x.cmp(y))
        }
        (false, false) => special_form(a).cmp(&special_form(b)),
        (true, false) => special_form("#").cmp(&special_form(b)),
        (false, true) => special_form(a).cmp(&special_form("#")),
    }
}

/// PHP's `version_compare` on two version strings.
pub fn php_version_compare(a: &str, b: &str) -> Ordering {
    let (ta, tb) = (php_tokens(a), php_tokens(b));
    for (x, y) in ta.iter().zip(&tb) {
        let o = compare_token(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    let num = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    match ta.len().cmp(&tb.len()) {
        Ordering::Greater => {
            let x = &ta[tb.len()];
            if num(x) {
                Ordering::Greater
            } else {
                compare_token(x, "#")
            }
        }
        Ordering::Less => {
            let y = &tb[ta.len()];
            if num(y) {
                Ordering::Less
            } else {
                compare_token("#", y)
            }
        }
        Ordering::Equal => Ordering::Equal,
    }
}

impl Ord for ComposerVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        php_version_compare(&self.normalized, &other.normalized)
    }
}

impl PartialOrd for ComposerVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ComposerVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for ComposerVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_composer() {
        let n = |s| normalize(s).unwrap();
        assert_eq!(n("v1.2"), "1.2.0.0");
        assert_eq!(n("1.0.0-beta.2"), "1.0.0.0-beta2");
        assert_eq!(n("1.0-b2"), "1.0.0.0-beta2");
        assert_eq!(n("2.1.3-RC1"), "2.1.3.0-RC1");
        assert_eq!(n("1.0.0-p1"), "1.0.0.0-patch1");
        assert_eq!(n("1.0.0+build5"), "1.0.0.0");
        assert!(normalize("dev-main").is_none());
    }

    #[test]
    fn composer_order() {
        let c = |s| ComposerVersion::parse(s).unwrap();
        let order = ["1.0.0-dev", "1.0.0-alpha1", "1.0.0-beta", "1.0.0-RC1", "1.0.0", "1.0.0-p1", "1.0.1", "1.10"];
        for w in order.windows(2) {
            assert!(c(w[0]) < c(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(c("v2.0"), c("2.0.0.0"));
    }
}
