//! Package URLs (purl), built per the purl specification's encoding rules.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::fmt;

/// Characters left as they are in purl components: ASCII letters and digits and `.-_~`
/// (the unreserved set), everything else is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'.').remove(b'-').remove(b'_').remove(b'~');
/// Qualifier values may also carry `:` and `/` unencoded, as the spec's examples do.
const QUALIFIER: &AsciiSet = &COMPONENT.remove(b':').remove(b'/');

/// A package URL under construction. `to_string()` renders the canonical form: namespace segments and
/// name percent-encoded, qualifiers sorted by key, empty qualifiers dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    ty: String,
    namespace: Option<String>,
    name: String,
    version: Option<String>,
    qualifiers: Vec<(String, String)>,
    subpath: Option<String>,
}

impl Purl {
    /// A purl of type `ty` (`deb`, `npm`, …) for `name` at `version` (an empty version is left out).
    pub fn new(ty: &str, name: &str, version: &str) -> Self {
        Purl {
            ty: ty.to_ascii_lowercase(),
            namespace: None,
            name: name.to_string(),
            version: (!version.is_empty()).then(|| version.to_string()),
            qualifiers: Vec::new(),
            subpath: None,
        }
    }

    /// Sets the namespace (`debian`, `@scope`, `github.com/org`, a Maven group id…); `/` separates segments.
    pub fn namespace(mut self, ns: &str) -> Self {
        let ns = ns.trim_matches('/');
        self.namespace = (!ns.is_empty()).then(|| ns.to_string());
        self
    }

    /// Adds a qualifier; an empty value is ignored.
    pub fn qualifier(mut self, key: &str, value: &str) -> Self {
        if !value.is_empty() {
            self.qualifiers.retain(|(k, _)| k != key);
            self.qualifiers.push((key.to_ascii_lowercase(), value.to_string()));
        }
        self
    }

    /// Sets the subpath (a path inside the package).
    pub fn subpath(mut self, sub: &str) -> Self {
        let sub = sub.trim_matches('/');
        self.subpath = (!sub.is_empty()).then(|| sub.to_string());
        self
    }
}

fn enc(s: &str) -> impl fmt::Display + '_ {
    utf8_percent_encode(s, COMPONENT)
}

impl fmt::Display for Purl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        if let Some(ns) = &self.namespace {
            for seg in ns.split('/').filter(|s| !s.is_empty()) {
                write!(f, "{}/", enc(seg))?;
            }
        }
        write!(f, "{}", enc(&self.name))?;
        if let Some(v) = &self.version {
            write!(f, "@{}", enc(v))?;
        }
        let mut q = self.qualifiers.clone();
        q.sort();
        for (i, (k, v)) in q.iter().enumerate() {
            let sep = if i == 0 { '?' } else { '&' };
            write!(f, "{sep}{k}={}", utf8_percent_encode(v, QUALIFIER))?;
        }
        if let Some(s) = &self.subpath {
            f.write_str("#")?;
            for (i, seg) in s.split('/').enumerate() {
                if i > 0 {
                    f.write_str("/")?;
                }
                write!(f, "{}", enc(seg))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(
            Purl::new("npm", "core", "7.0.0").namespace("@angular").to_string(),
            "pkg:npm/%40angular/core@7.0.0"
        );
        assert_eq!(
            Purl::new("golang", "mux", "v1.8.0").namespace("github.com/gorilla").to_string(),
            "pkg:golang/github.com/gorilla/mux@v1.8.0"
        );
        assert_eq!(
            Purl::new("rpm", "bash", "5.1.8-6.el9")
                .namespace("almalinux")
                .qualifier("epoch", "1")
                .qualifier("arch", "x86_64")
                .to_string(),
            "pkg:rpm/almalinux/bash@5.1.8-6.el9?arch=x86_64&epoch=1"
        );
        assert_eq!(Purl::new("generic", "x", "").to_string(), "pkg:generic/x");
        assert_eq!(
            Purl::new("maven", "guava", "31.1-jre").namespace("com.google.guava").to_string(),
            "pkg:maven/com.google.guava/guava@31.1-jre"
        );
    }

    #[test]
    fn encodes_hostile_characters() {
        let p = Purl::new("pypi", "a b/c?#", "1.0+local").to_string();
        assert_eq!(p, "pkg:pypi/a%20b%2Fc%3F%23@1.0%2Blocal");
    }
}
