//! Maven versions, ordered as Maven's `ComparableVersion` orders them: items split at `.`, `-` and
//! digit/letter transitions; `-` opens a sub-list; known qualifiers order
//! `alpha < beta < milestone < rc < snapshot < "" (release) < sp`, unknown qualifiers after them
//! lexically; trailing zeros and empty qualifiers do not count (`1.0 == 1`, `1-ga == 1`).

use super::VersionError;
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A number, as its decimal digits without leading zeros (any length).
    Number(String),
    /// A qualifier, lowercased and with its aliases resolved.
    Qualifier(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
/// Index of the release qualifier (the empty string) in [`QUALIFIERS`].
const RELEASE: &str = "5";

/// The sort key of a qualifier: its index among the known ones, else after all of them, lexically.
fn qualifier_key(q: &str) -> String {
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

fn number(digits: &str) -> Item {
    let t = digits.trim_start_matches('0');
    Item::Number(t.to_string())
}

fn qualifier(s: &str, followed_by_digit: bool) -> Item {
    let s = match (followed_by_digit, s) {
        (true, "a") => "alpha",
        (true, "b") => "beta",
        (true, "m") => "milestone",
        (_, "ga" | "final" | "release") => "",
        (_, "cr") => "rc",
        (_, other) => other,
    };
    Item::Qualifier(s.to_string())
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Number(n) => n.is_empty(),
            Item::Qualifier(q) => qualifier_key(q) == RELEASE,
            Item::List(l) => l.is_empty(),
        }
    }

    /// Compares with `other`; `None` stands for "nothing here" (the other version is longer).
    fn compare(&self, other: Option<&Item>) -> Ordering {
        use Item::*;
        match (self, other) {
            (Number(n), None) => {
                if n.is_empty() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Number(a), Some(Number(b))) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Number(_), Some(_)) => Ordering::Greater,
            (Qualifier(q), None) => qualifier_key(q).as_str().cmp(RELEASE),
            (Qualifier(_), Some(Number(_) | List(_))) => Ordering::Less,
            (Qualifier(a), Some(Qualifier(b))) => qualifier_key(a).cmp(&qualifier_key(b)),
            (List(l), None) => l.first().map_or(Ordering::Equal, |f| f.compare(None)),
            (List(_), Some(Number(_))) => Ordering::Less,
            (List(_), Some(Qualifier(_))) => Ordering::Greater,
            (List(a), Some(List(b))) => compare_lists(a, b),
        }
    }
}

fn compare_lists(a: &[Item], b: &[Item]) -> Ordering {
    for k in 0..a.len().max(b.len()) {
        let r = match (a.get(k), b.get(k)) {
            (Some(l), r) => l.compare(r),
            (None, Some(r)) => r.compare(None).reverse(),
            (None, None) => Ordering::Equal,
        };
        if r != Ordering::Equal {
            return r;
        }
    }
    Ordering::Equal
}

/// Drops trailing null items (`0`, the release qualifier, empty lists), stopping at the first item that
/// is neither null nor a list.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

/// A Maven version.
#[derive(Debug, Clone)]
pub struct MavenVersion {
    items: Vec<Item>,
}

impl MavenVersion {
    /// Parses a version. Maven accepts any string; an empty one, or one with whitespace or control
    /// characters, is refused here because no Maven artifact carries one.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        let t = s.trim();
        if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(VersionError::new(s, "not a Maven version"));
        }
        Ok(MavenVersion { items: parse_items(&t.to_lowercase()) })
    }
}

/// Builds the nested item lists. A sub-list opens at every `-` and at every digit/letter transition;
/// lists are kept on a stack by their path of indices so that each can be normalised at the end.
fn parse_items(v: &str) -> Vec<Item> {
    // Flat parse into a tree: each list is a Vec<Item>; `path` holds the open lists.
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let push_item = |stack: &mut Vec<Vec<Item>>, item: Item| stack.last_mut().expect("root list").push(item);
    let chars: Vec<char> = v.chars().collect();
    let mut is_digit = false;
    let mut start = 0;
    let piece = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
    let item_of = |digit: bool, s: &str| if digit { number(s) } else { qualifier(s, false) };
    for (i, &c) in chars.iter().enumerate() {
        if c == '.' || c == '-' {
            if i == start {
                push_item(&mut stack, Item::Number(String::new()));
            } else {
                push_item(&mut stack, item_of(is_digit, &piece(start, i)));
            }
            start = i + 1;
            if c == '-' {
                stack.push(Vec::new());
            }
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                // Maven 3.8: a qualifier followed by a number opens a list of its own unless it is first.
                if !stack.last().expect("root list").is_empty() {
                    stack.push(Vec::new());
                }
                push_item(&mut stack, qualifier(&piece(start, i), true));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                push_item(&mut stack, number(&piece(start, i)));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = false;
        }
    }
    if chars.len() > start {
        // So does a trailing qualifier.
        if !is_digit && !stack.last().expect("root list").is_empty() {
            stack.push(Vec::new());
        }
        push_item(&mut stack, item_of(is_digit, &piece(start, chars.len())));
    }
    // Close the open lists innermost first: each is normalised, then becomes the last item of its parent.
    while stack.len() > 1 {
        let mut inner = stack.pop().expect("len > 1");
        normalize(&mut inner);
        push_item(&mut stack, Item::List(inner));
    }
    let mut root = stack.pop().expect("root list");
    normalize(&mut root);
    root
}

impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for MavenVersion {}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_lists(&self.items, &other.items)
    }
}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maven_order() {
        let m = |s| MavenVersion::parse(s).unwrap();
        let order = [
            "1-alpha-1",
            "1-alpha-2",
            "1-beta",
            "1-milestone",
            "1-rc",
            "1-snapshot",
            "1",
            "1-sp",
            "1-abc",
            "1-1",
            "1.0.1",
            "1.1",
            "1.1.1-SNAPSHOT",
            "1.1.1",
            "2.0.0.RELEASE",
        ];
        for w in order.windows(2) {
            assert_eq!(m(w[0]).cmp(&m(w[1])), Ordering::Less, "{} < {}", w[0], w[1]);
        }
        for (a, b) in [("1", "1.0.0"), ("1-ga", "1"), ("1.0-final", "1"), ("1a1", "1-alpha-1"), ("1.0-CR1", "1.0-rc1")]
        {
            assert_eq!(m(a), m(b), "{a} == {b}");
        }
        assert!(m("2.17.1") > m("2.17.0"));
        assert!(m("2.15.0-rc1") < m("2.15.0"));
        assert!(m("12345678901234567890") > m("1234567890"));
    }
}
