//! Telling SPDX license expressions from free-text licence names.

/// The licence as a valid SPDX expression, when it is one (ids from the SPDX licence list, `AND`, `OR`,
/// `WITH`, parentheses); free text (`GPL-2+`, `BSD-style`) gives `None`.
pub(crate) fn spdx_expression(license: &str) -> Option<String> {
    let l = license.trim();
    if l.is_empty() || l.len() > 512 {
        return None;
    }
    spdx::Expression::parse_mode(l, spdx::ParseMode::STRICT).ok().map(|e| e.to_string())
}

/// All licences of a package joined into one SPDX expression, or `None` if any of them is free text.
pub(crate) fn combined_expression(licenses: &[String]) -> Option<String> {
    let parts: Option<Vec<String>> = licenses.iter().map(|l| spdx_expression(l)).collect();
    let parts = parts?;
    match parts.len() {
        0 => None,
        1 => parts.into_iter().next(),
        _ => Some(
            parts
                .iter()
                .map(|p| if p.contains(' ') { format!("({p})") } else { p.clone() })
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spdx_or_free_text() {
        assert_eq!(spdx_expression("MIT").as_deref(), Some("MIT"));
        assert_eq!(spdx_expression("MIT OR Apache-2.0").as_deref(), Some("MIT OR Apache-2.0"));
        assert_eq!(spdx_expression("GPL-2+"), None);
        assert_eq!(spdx_expression("BSD-style"), None);
        assert_eq!(
            combined_expression(&["MIT".into(), "Apache-2.0 OR MIT".into()]).as_deref(),
            Some("MIT AND (Apache-2.0 OR MIT)")
        );
        assert_eq!(combined_expression(&["MIT".into(), "weird".into()]), None);
    }
}
