//! End-of-life dates of operating system releases.
//!
//! The dates are each project's published end of *free* security support: Debian's LTS end, Ubuntu's end of
//! standard support (ESM is a paid extension), Alpine's end of security fixes for the branch, RHEL's end of
//! maintenance support (AlmaLinux, Rocky Linux and CentOS follow it). Sources: debian.org/lts, ubuntu.com/about/
//! release-cycle, alpinelinux.org/releases, access.redhat.com/support/policy/updates/errata, collected through
//! endoflife.date in November 2026. A release older than every listed one of its distribution is past its end
//! of life too; a release newer than every listed one is assumed supported.

/// One release's end of life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eol {
    /// os-release `ID`s it applies to.
    pub ids: &'static [&'static str],
    /// The release (`12`, `22.04`, `3.18`, `8`), compared with the release's major part.
    pub release: &'static str,
    /// Readable name.
    pub name: &'static str,
    /// The last day of support (`YYYY-MM-DD`).
    pub date: &'static str,
    /// What ends on that day.
    pub support: &'static str,
}

const DEBIAN: &[&str] = &["debian"];
const UBUNTU: &[&str] = &["ubuntu"];
const ALPINE: &[&str] = &["alpine"];
const RHEL: &[&str] = &["rhel", "almalinux", "rocky", "centos", "ol"];

const fn debian(release: &'static str, name: &'static str, date: &'static str) -> Eol {
    Eol { ids: DEBIAN, release, name, date, support: "end of Debian LTS" }
}
const fn ubuntu(release: &'static str, name: &'static str, date: &'static str) -> Eol {
    Eol { ids: UBUNTU, release, name, date, support: "end of standard support" }
}
const fn alpine(release: &'static str, name: &'static str, date: &'static str) -> Eol {
    Eol { ids: ALPINE, release, name, date, support: "end of security fixes" }
}
const fn rhel(release: &'static str, name: &'static str, date: &'static str) -> Eol {
    Eol { ids: RHEL, release, name, date, support: "end of maintenance support" }
}

/// The table, oldest release of each distribution first.
pub const TABLE: &[Eol] = &[
    debian("7", "Debian 7 (wheezy)", "2018-05-31"),
    debian("8", "Debian 8 (jessie)", "2020-06-30"),
    debian("9", "Debian 9 (stretch)", "2022-06-30"),
    debian("10", "Debian 10 (buster)", "2024-06-30"),
    debian("11", "Debian 11 (bullseye)", "2026-08-31"),
    debian("12", "Debian 12 (bookworm)", "2028-06-30"),
    debian("13", "Debian 13 (trixie)", "2030-06-30"),
    ubuntu("14.04", "Ubuntu 14.04 LTS", "2019-04-30"),
    ubuntu("16.04", "Ubuntu 16.04 LTS", "2021-04-30"),
    ubuntu("18.04", "Ubuntu 18.04 LTS", "2023-05-31"),
    ubuntu("20.04", "Ubuntu 20.04 LTS", "2025-05-31"),
    ubuntu("22.04", "Ubuntu 22.04 LTS", "2027-06-01"),
    ubuntu("23.04", "Ubuntu 23.04", "2024-01-25"),
    ubuntu("23.10", "Ubuntu 23.10", "2024-07-11"),
    ubuntu("24.04", "Ubuntu 24.04 LTS", "2029-05-31"),
    ubuntu("24.10", "Ubuntu 24.10", "2025-07-10"),
    ubuntu("25.04", "Ubuntu 25.04", "2026-01-15"),
    ubuntu("25.10", "Ubuntu 25.10", "2026-07-09"),
    alpine("3.12", "Alpine 3.12", "2022-05-01"),
    alpine("3.13", "Alpine 3.13", "2022-11-01"),
    alpine("3.14", "Alpine 3.14", "2023-05-01"),
    alpine("3.15", "Alpine 3.15", "2023-11-01"),
    alpine("3.16", "Alpine 3.16", "2024-05-23"),
    alpine("3.17", "Alpine 3.17", "2024-11-22"),
    alpine("3.18", "Alpine 3.18", "2025-05-09"),
    alpine("3.19", "Alpine 3.19", "2025-11-01"),
    alpine("3.20", "Alpine 3.20", "2026-04-01"),
    alpine("3.21", "Alpine 3.21", "2026-11-01"),
    alpine("3.22", "Alpine 3.22", "2027-05-01"),
    alpine("3.23", "Alpine 3.23", "2027-11-01"),
    rhel("6", "RHEL 6 family", "2020-11-30"),
    rhel("7", "RHEL 7 family", "2024-06-30"),
    rhel("8", "RHEL 8 family", "2029-05-31"),
    rhel("9", "RHEL 9 family", "2032-05-31"),
    rhel("10", "RHEL 10 family", "2035-05-31"),
];

fn release_key(r: &str) -> Vec<u64> {
    r.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// What the table says about a release (`id` from os-release, `release` its major part as
/// [`kestrel_core::Distro::major_release`] gives it) on `today` (`YYYY-MM-DD`): `Some` when it is past its end.
/// CentOS 8 ended early (2021-12-31, CentOS Linux 8), which the table states apart.
pub fn end_of_life(id: &str, release: &str, today: &str) -> Option<Eol> {
    if id == "centos" && release == "8" {
        let e = Eol {
            ids: RHEL,
            release: "8",
            name: "CentOS Linux 8",
            date: "2021-12-31",
            support: "end of life (CentOS Linux)",
        };
        return (today > e.date).then_some(e);
    }
    let rows: Vec<&Eol> = TABLE.iter().filter(|e| e.ids.contains(&id)).collect();
    if rows.is_empty() {
        return None;
    }
    let key = release_key(release);
    if let Some(row) = rows.iter().find(|e| release_key(e.release) == key) {
        return (today > row.date).then_some(**row);
    }
    let oldest = rows.iter().min_by_key(|e| release_key(e.release))?;
    (key < release_key(oldest.release)).then_some(Eol {
        ids: oldest.ids,
        release: oldest.release,
        name: oldest.name,
        date: oldest.date,
        support: "older than the oldest release kestrel knows, which ended then",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_past_and_present() {
        assert_eq!(end_of_life("debian", "10", "2026-11-24").map(|e| e.date), Some("2024-06-30"));
        assert!(end_of_life("debian", "12", "2026-11-24").is_none());
        assert!(end_of_life("debian", "12", "2028-07-01").is_some());
        assert!(end_of_life("debian", "5", "2026-11-24").is_some(), "older than the table");
        assert!(end_of_life("debian", "14", "2026-11-24").is_none(), "newer than the table");
        assert!(end_of_life("alpine", "3.9", "2026-11-24").is_some(), "3.9 < 3.12 numerically");
        assert!(end_of_life("alpine", "3.22", "2026-11-24").is_none());
        assert!(end_of_life("rocky", "8", "2026-11-24").is_none());
        assert!(end_of_life("centos", "8", "2026-11-24").is_some());
        assert!(end_of_life("centos", "7", "2026-11-24").is_some());
        assert!(end_of_life("fedora", "30", "2026-11-24").is_none(), "not in the table");
        // The last day of support is still supported.
        assert!(end_of_life("debian", "11", "2026-08-31").is_none());
        assert!(end_of_life("debian", "11", "2026-09-01").is_some());
    }
}
