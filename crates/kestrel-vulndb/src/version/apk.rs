//! Alpine (apk-tools) versions: `number{.number}…{letter}{_suffix{number}}…{~commit}{-r number}`, the
//! grammar of apk-tools 2.14 and later. Pre-release suffixes (`_alpha`, `_beta`, `_pre`, `_rc`) sort before
//! the plain version, post-release ones (`_cvs`, `_svn`, `_git`, `_hg`, `_p`) after it; a dotted number
//! with a leading zero compares as a string (`1.02 < 1.1`), as in Gentoo.

use super::VersionError;
use std::cmp::Ordering;

/// Token kinds in grammar order. When two versions agree up to where one ends or goes on with a token of
/// another kind, the side whose next token comes *later* in this order is the lower version (so a version
/// that ends is lower than the same version with a letter, suffix or revision after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    FirstNumber,
    Number,
    Letter,
    Suffix,
    SuffixNumber,
    CommitHash,
    Revision,
    End,
    Invalid,
}

/// Suffixes by rank; `None` (rank 5) is the pivot between pre- and post-release.
const SUFFIXES: [&str; 10] = ["alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p"];
const SUFFIX_NONE: u8 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    kind: Kind,
    /// The token's text: digits, the letter, the commit hash.
    text: String,
    /// Rank of a suffix (1-based, [`SUFFIX_NONE`] is "no suffix").
    suffix: u8,
}

/// A parsed apk version.
#[derive(Debug, Clone)]
pub struct ApkVersion {
    tokens: Vec<Token>,
}

impl ApkVersion {
    /// Parses a version; anything apk-tools' `apk_version_validate` refuses is an error.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        let t = s.trim();
        let tokens = tokenize(t.as_bytes());
        if tokens.last().map(|t| t.kind) != Some(Kind::End) {
            return Err(VersionError::new(s, "not an apk version"));
        }
        Ok(ApkVersion { tokens })
    }
}

fn take_while(s: &[u8], pos: &mut usize, f: impl Fn(u8) -> bool) -> String {
    let start = *pos;
    while *pos < s.len() && f(s[*pos]) {
        *pos += 1;
    }
    String::from_utf8_lossy(&s[start..*pos]).into_owned()
}

fn token(kind: Kind, text: String) -> Token {
    let kind = if text.is_empty() && kind != Kind::End { Kind::Invalid } else { kind };
    Token { kind, text, suffix: 0 }
}

/// Splits a version into tokens; the list ends with an `End` token, or an `Invalid` one.
fn tokenize(s: &[u8]) -> Vec<Token> {
    let mut pos = 0;
    let mut out = vec![token(Kind::FirstNumber, take_while(s, &mut pos, |c| c.is_ascii_digit()))];
    let digits = |c: u8| c.is_ascii_digit();
    loop {
        let prev = out.last().expect("never empty").kind;
        if prev >= Kind::End {
            return out;
        }
        let Some(&c) = s.get(pos) else {
            out.push(token(Kind::End, String::new()));
            return out;
        };
        let next = match c {
            b'a'..=b'z' if prev <= Kind::Number => {
                pos += 1;
                token(Kind::Letter, (c as char).to_string())
            }
            b'.' if prev <= Kind::Number => {
                pos += 1;
                token(Kind::Number, take_while(s, &mut pos, digits))
            }
            b'0'..=b'9' if prev == Kind::Suffix => token(Kind::SuffixNumber, take_while(s, &mut pos, digits)),
            b'_' if prev <= Kind::SuffixNumber => {
                pos += 1;
                let name = take_while(s, &mut pos, |c| c.is_ascii_lowercase());
                match SUFFIXES.iter().position(|x| !x.is_empty() && *x == name) {
                    Some(rank) => Token { kind: Kind::Suffix, text: name, suffix: rank as u8 + 1 },
                    None => token(Kind::Invalid, String::new()),
                }
            }
            b'~' if prev < Kind::CommitHash => {
                pos += 1;
                token(Kind::CommitHash, take_while(s, &mut pos, |c| c.is_ascii_hexdigit()))
            }
            b'-' if prev < Kind::Revision && s.get(pos + 1) == Some(&b'r') => {
                pos += 2;
                token(Kind::Revision, take_while(s, &mut pos, digits))
            }
            _ => token(Kind::Invalid, String::new()),
        };
        out.push(next);
    }
}

/// Numbers of any length, compared by value.
fn numeric(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn compare_tokens(a: &Token, b: &Token) -> Ordering {
    match a.kind {
        Kind::Number if a.text.starts_with('0') || b.text.starts_with('0') => a.text.cmp(&b.text),
        Kind::FirstNumber | Kind::Number | Kind::SuffixNumber | Kind::Revision => numeric(&a.text, &b.text),
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        _ => a.text.cmp(&b.text),
    }
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.tokens, &other.tokens);
        let mut k = 0;
        while a[k].kind == b[k].kind && a[k].kind < Kind::End {
            match compare_tokens(&a[k], &b[k]) {
                Ordering::Equal => k += 1,
                o => return o,
            }
        }
        let (ta, tb) = (&a[k], &b[k]);
        if ta.kind == tb.kind {
            return Ordering::Equal;
        }
        if ta.kind == Kind::Suffix && ta.suffix < SUFFIX_NONE {
            return Ordering::Less;
        }
        if tb.kind == Kind::Suffix && tb.suffix < SUFFIX_NONE {
            return Ordering::Greater;
        }
        tb.kind.cmp(&ta.kind)
    }
}

impl PartialOrd for ApkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ApkVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for ApkVersion {}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        ApkVersion::parse(a).unwrap().cmp(&ApkVersion::parse(b).unwrap())
    }

    #[test]
    fn orders_like_apk_tools() {
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.0-r1", Less),
            ("1.0-r1", "1.0-r2", Less),
            ("1.0-r10", "1.0-r9", Greater),
            ("1.0_rc1", "1.0", Less),
            ("1.0_alpha", "1.0_beta", Less),
            ("1.0_beta2", "1.0_rc1", Less),
            ("1.0_p1", "1.0", Greater),
            ("1.0_git20230101", "1.0", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0b", Less),
            ("1.2", "1.10", Less),
            ("1.02", "1.1", Less),
            ("1.01", "1.001", Greater),
            ("3.0.15-r0", "3.0.15-r1", Less),
            ("2.40.1-r0", "2.40.0-r3", Greater),
            ("1.36.1-r29", "1.36.1-r30", Less),
            ("1.0_rc1-r1", "1.0-r0", Less),
            ("1.0.0", "1.0", Greater),
            ("8.1_p1-r0", "8.1-r5", Greater),
            ("0.1.0_alpha_pre2", "0.1.0_alpha", Less),
            ("1.0~abc1-r0", "1.0~abc2-r0", Less),
            ("006", "1.0.0", Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(cmp(a, b), want, "{a} vs {b}");
            assert_eq!(cmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn invalid_versions() {
        for bad in ["", "1.0-foo", "1.0_bogus", "1.0-r1.2", "1.0_rc1a", "abc", "1.0a1", "1.", "1.0-r", "1.0~"] {
            assert!(ApkVersion::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
