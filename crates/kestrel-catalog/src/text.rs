//! Small text formats shared by catalogers.

/// One deb822 / RFC 822 style paragraph: `Key: value` fields, continuation lines folded in with `\n`.
pub(crate) type Fields<'a> = Vec<(&'a str, String)>;

/// Splits `text` into paragraphs separated by blank lines and parses each into fields. Lines that are
/// neither fields nor continuations are ignored (the formats are written by tools, but images are hostile).
pub(crate) fn paragraphs(text: &str) -> Vec<Fields<'_>> {
    let mut out = Vec::new();
    let mut cur: Fields<'_> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, v)) = cur.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim(), v.trim().to_string()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The headers of an e-mail style document (Python `METADATA`, `PKG-INFO`): fields up to the first blank line.
pub(crate) fn headers(text: &str) -> Fields<'_> {
    let end = text.find("\n\n").map(|i| i + 1).unwrap_or(text.len());
    paragraphs(&text[..end]).into_iter().next().unwrap_or_default()
}

/// First value of a field (case-insensitive key).
pub(crate) fn field<'a>(fields: &'a Fields<'_>, key: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
}

/// Every value of a repeated field.
pub(crate) fn fields_all<'a>(fields: &'a Fields<'_>, key: &str) -> impl Iterator<Item = &'a str> + 'a {
    let key = key.to_string();
    fields.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(&key)).map(|(_, v)| v.as_str())
}

/// Decodes bytes as UTF-8, replacing invalid sequences.
pub(crate) fn utf8(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// `KEY=value` lines with optional quotes (os-release, pom.properties with `=`).
pub(crate) fn key_values(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') || l.starts_with('!') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
            let v = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).unwrap_or(v);
            Some((k.trim().to_string(), v.replace("\\\"", "\"")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paragraphs_with_continuations() {
        let t = "Package: a\nDescription: x\n more\n .\n\n\nPackage: b\nStatus: install ok installed\n";
        let p = paragraphs(t);
        assert_eq!(p.len(), 2);
        assert_eq!(field(&p[0], "description"), Some("x\nmore\n."));
        assert_eq!(field(&p[1], "Status"), Some("install ok installed"));
    }

    #[test]
    fn headers_stop_at_body() {
        let h = headers("Name: x\nVersion: 1\n\nName: body\n");
        assert_eq!(field(&h, "name"), Some("x"));
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn key_values_strip_quotes() {
        let kv = key_values("ID=debian\nPRETTY_NAME=\"Debian GNU/Linux 12\"\n# c\nX='y'");
        assert_eq!(kv[1].1, "Debian GNU/Linux 12");
        assert_eq!(kv[2].1, "y");
    }
}
