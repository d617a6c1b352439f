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

impl Purl {
    /// Parses a purl string (`pkg:type/namespace/name@version?qualifiers#subpath`), decoding its parts.
    pub fn parse(s: &str) -> Result<Purl, String> {
        let bad = |why: &str| format!("{s:?} is not a package URL: {why}");
        let dec = |x: &str| -> Result<String, String> {
            percent_encoding::percent_decode_str(x)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad("bad %-escape"))
        };
        let rest = s.trim().strip_prefix("pkg:").ok_or_else(|| bad("no pkg: scheme"))?;
        let rest = rest.trim_start_matches('/');
        let (rest, subpath) = match rest.split_once('#') {
            Some((r, sp)) => (r, Some(dec(sp)?)),
            None => (rest, None),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (ty, path) = rest.split_once('/').ok_or_else(|| bad("no type"))?;
        if ty.is_empty() || !ty.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-')) {
            return Err(bad("bad type"));
        }
        // The version starts at the last `@` after the last `/` (names cannot hold an unescaped `@`).
        let path = path.trim_end_matches('/');
        let (path, version) = match path.rfind('@') {
            Some(i) if !path[i..].contains('/') => (&path[..i], Some(dec(&path[i + 1..])?)),
            _ => (path, None),
        };
        let (namespace, name) = match path.rsplit_once('/') {
            Some((ns, n)) => {
                let segs: Result<Vec<String>, String> = ns.split('/').filter(|x| !x.is_empty()).map(dec).collect();
                (Some(segs?.join("/")), dec(n)?)
            }
            None => (None, dec(path)?),
        };
        if name.is_empty() {
            return Err(bad("no name"));
        }
        let mut qualifiers = Vec::new();
        for kv in query.unwrap_or("").split('&').filter(|x| !x.is_empty()) {
            let (k, v) = kv.split_once('=').ok_or_else(|| bad("qualifier without ="))?;
            qualifiers.push((k.to_ascii_lowercase(), dec(v)?));
        }
        Ok(Purl {
            ty: ty.to_ascii_lowercase(),
            namespace: namespace.filter(|n| !n.is_empty()),
            name,
            version: version.filter(|v| !v.is_empty()),
            qualifiers,
            subpath,
        })
    }

    /// The type (`deb`, `npm`…).
    pub fn ty(&self) -> &str {
        &self.ty
    }

    /// The namespace, decoded, segments joined by `/`.
    pub fn get_namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The name, decoded.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version, decoded.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// A qualifier's value, decoded.
    pub fn get_qualifier(&self, key: &str) -> Option<&str> {
        self.qualifiers.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
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
    fn parse_round_trips() {
        for s in [
            "pkg:npm/%40angular/core@7.0.0",
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc",
            "pkg:golang/github.com/gorilla/mux@v1.8.0",
            "pkg:maven/com.google.guava/guava@31.1-jre",
            "pkg:generic/x",
        ] {
            assert_eq!(Purl::parse(s).unwrap().to_string(), s);
        }
        let p = Purl::parse("pkg:rpm/almalinux/bash@5.1.8-6.el9?epoch=1&arch=x86_64").unwrap();
        assert_eq!(
            (p.ty(), p.get_namespace(), p.name(), p.version()),
            ("rpm", Some("almalinux"), "bash", Some("5.1.8-6.el9"))
        );
        assert_eq!(p.get_qualifier("epoch"), Some("1"));
        assert!(Purl::parse("npm/x@1").is_err());
        assert!(Purl::parse("pkg:npm/").is_err());
        assert!(Purl::parse("pkg:npm/%ff@1").is_err());
    }

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
