//! Operating system detection: `/etc/os-release` (or `/usr/lib/os-release`), then the older release files
//! (`/etc/alpine-release`, `/etc/redhat-release`, `/etc/debian_version`), then distroless evidence
//! (a dpkg `status.d` directory and no release file).

use crate::text::{key_values, utf8};
use kestrel_core::Distro;
use kestrel_image::FileTree;

const RELEASE_FILES: [&str; 6] = [
    "/etc/os-release",
    "/usr/lib/os-release",
    "/etc/alpine-release",
    "/etc/redhat-release",
    "/etc/centos-release",
    "/etc/debian_version",
];

/// True for the files OS detection reads.
pub fn wants(path: &str) -> bool {
    RELEASE_FILES.contains(&path) || path == "/etc/system-release"
}

/// Detects the distribution of a tree, or `None` when it holds no trace of one.
pub fn detect(tree: &FileTree) -> Option<Distro> {
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Some(text) = tree.content(path) {
            if let Some(d) = parse_os_release(&utf8(text), path) {
                return Some(d);
            }
        }
    }
    if let Some(text) = tree.content("/etc/alpine-release") {
        let v = utf8(text).trim().to_string();
        return Some(Distro {
            id: "alpine".into(),
            version_id: (!v.is_empty()).then_some(v),
            source_file: "/etc/alpine-release".into(),
            ..Default::default()
        });
    }
    for path in ["/etc/redhat-release", "/etc/centos-release", "/etc/system-release"] {
        if let Some(text) = tree.content(path) {
            if let Some(d) = parse_redhat_release(&utf8(text), path) {
                return Some(d);
            }
        }
    }
    if let Some(text) = tree.content("/etc/debian_version") {
        let v = utf8(text).trim().to_string();
        let major = v.split('.').next().unwrap_or("").to_string();
        return Some(Distro {
            id: "debian".into(),
            version_id: major.chars().all(|c| c.is_ascii_digit()).then_some(major).filter(|m| !m.is_empty()),
            codename: (!v.chars().next().is_some_and(|c| c.is_ascii_digit()))
                .then(|| v.split('/').next().unwrap_or("").to_string()),
            source_file: "/etc/debian_version".into(),
            ..Default::default()
        });
    }
    if tree.get("/var/lib/dpkg/status.d").is_some() {
        return Some(Distro {
            id: "debian".into(),
            source_file: "/var/lib/dpkg/status.d".into(),
            distroless: true,
            ..Default::default()
        });
    }
    None
}

/// Parses an os-release file.
pub fn parse_os_release(text: &str, path: &str) -> Option<Distro> {
    let kv = key_values(text);
    let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let id = get("ID")?.to_ascii_lowercase();
    let pretty = get("PRETTY_NAME");
    Some(Distro {
        distroless: pretty.as_deref().is_some_and(|p| p.to_ascii_lowercase().contains("distroless")),
        id,
        version_id: get("VERSION_ID"),
        codename: get("VERSION_CODENAME"),
        id_like: get("ID_LIKE").map(|s| s.split_whitespace().map(str::to_string).collect()).unwrap_or_default(),
        pretty_name: pretty,
        source_file: path.to_string(),
    })
}

/// Parses `NAME release VERSION (Codename)` as in `/etc/redhat-release`.
pub fn parse_redhat_release(text: &str, path: &str) -> Option<Distro> {
    let line = text.lines().next()?.trim();
    let lower = line.to_ascii_lowercase();
    let id = if lower.starts_with("almalinux") {
        "almalinux"
    } else if lower.starts_with("rocky") {
        "rocky"
    } else if lower.starts_with("centos") {
        "centos"
    } else if lower.starts_with("fedora") {
        "fedora"
    } else if lower.starts_with("oracle") {
        "ol"
    } else if lower.starts_with("amazon") {
        "amzn"
    } else if lower.starts_with("red hat") {
        "rhel"
    } else {
        return None;
    };
    let version = lower.split(" release ").nth(1).and_then(|r| r.split_whitespace().next()).map(str::to_string);
    Some(Distro {
        id: id.into(),
        version_id: version,
        pretty_name: Some(line.to_string()),
        source_file: path.into(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_os_release() {
        let d = parse_os_release(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n",
            "/etc/os-release",
        )
        .unwrap();
        assert_eq!(d.release_tag(), "debian-12");
        assert_eq!(d.codename.as_deref(), Some("bookworm"));
        assert!(!d.distroless);
    }

    #[test]
    fn distroless_and_alma() {
        let d =
            parse_os_release("PRETTY_NAME=\"Distroless\"\nID=debian\nVERSION_ID=\"12\"\n", "/etc/os-release").unwrap();
        assert!(d.distroless);
        let a = parse_redhat_release("AlmaLinux release 9.4 (Seafoam Ocelot)\n", "/etc/redhat-release").unwrap();
        assert_eq!(a.release_tag(), "almalinux-9.4");
        assert_eq!(a.osv_ecosystem().as_deref(), Some("AlmaLinux:9"));
    }

    #[test]
    fn rhel_family_os_release() {
        let d = parse_os_release(
            "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n",
            "/usr/lib/os-release",
        )
        .unwrap();
        assert_eq!(d.id_like, vec!["rhel", "centos", "fedora"]);
        assert_eq!(d.osv_ecosystem().as_deref(), Some("Rocky Linux:9"));
    }
}
