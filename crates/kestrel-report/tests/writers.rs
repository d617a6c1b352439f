//! The writers against the official CycloneDX 1.5 JSON schema, the SPDX 2.3 validator of the SPDX project
//! (`pyspdxtools`, installed by `scripts/setup`), and golden snapshots.

use kestrel_core::*;
use kestrel_report::{write_sbom, Format};
use serde_json::Value;
use std::collections::BTreeMap;

fn sample() -> Sbom {
    let mut deb = Package::new("libc6", "2.36-9+deb12u4", Ecosystem::Deb, "dpkg-db");
    deb.purl = "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc".into();
    deb.source = Some(SourcePackage { name: "glibc".into(), version: "2.36-9+deb12u4".into() });
    deb.distro = Some("debian-12".into());
    deb.arch = Some("amd64".into());
    deb.licenses = vec!["GPL-2+".into(), "LGPL-2.1".into()];
    deb.layer = Some("sha256:1111111111111111111111111111111111111111111111111111111111111111".into());
    deb.locations = vec![
        Location { path: "/var/lib/dpkg/info/libc6:amd64.list".into(), layer: deb.layer.clone() },
        Location { path: "/var/lib/dpkg/status".into(), layer: deb.layer.clone() },
    ];
    let mut py = Package::new("requests", "2.31.0", Ecosystem::PyPI, "python-installed").at(
        "/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA",
        Some("sha256:2222222222222222222222222222222222222222222222222222222222222222"),
    );
    py.licenses = vec!["Apache-2.0".into()];
    let mut npm = Package::new("@babel/core", "7.23.0", Ecosystem::Npm, "javascript-package")
        .at("/app/node_modules/@babel/core/package.json", None);
    npm.licenses = vec!["MIT OR Apache-2.0".into()];
    let mut go = Package::new("stdlib", "go1.22.1", Ecosystem::Go, "go-binary").at("/usr/bin/app", None);
    go.properties = BTreeMap::from([("go.toolchain".to_string(), "go1.22.1".to_string())]);
    let jar = Package::new("com.google.guava:guava", "31.1-jre", Ecosystem::Maven, "java-archive")
        .at("/app/lib/guava.jar", None);
    Sbom {
        schema: SBOM_SCHEMA.into(),
        tool: Tool { name: "kestrel".into(), version: "0.1.0".into() },
        created: "2026-11-23T00:00:00Z".into(),
        target: ScanTarget {
            kind: TargetKind::OciLayout,
            name: "oci:/images/app:1.0".into(),
            image_id: Some("sha256:3333333333333333333333333333333333333333333333333333333333333333".into()),
            manifest_digest: Some("sha256:4444444444444444444444444444444444444444444444444444444444444444".into()),
            index_digest: None,
            tags: vec!["app:1.0".into()],
            platform: Some("linux/amd64".into()),
            layers: vec![LayerRef {
                index: 0,
                diff_id: "sha256:1111111111111111111111111111111111111111111111111111111111111111".into(),
                blob_digest: None,
                media_type: Some("application/vnd.oci.image.layer.v1.tar+gzip".into()),
                size: 1234,
                created_by: Some("ADD rootfs.tar /".into()),
            }],
        },
        distro: Some(Distro {
            id: "debian".into(),
            version_id: Some("12".into()),
            codename: Some("bookworm".into()),
            pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
            source_file: "/etc/os-release".into(),
            ..Default::default()
        }),
        packages: vec![deb, py, npm, go, jar],
        warnings: vec![Warning {
            path: "layer 0:/x".into(),
            message: "entry skipped: path climbs above the root (`..`)".into(),
        }],
    }
}

fn render(format: Format) -> String {
    let mut out = Vec::new();
    let mut s = sample();
    s.normalize();
    write_sbom(&s, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn schema(name: &str) -> Value {
    let p = format!("{}/tests/schemas/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Validates against `bom-1.5.schema.json` with its two referenced schemas registered under their ids.
pub fn cyclonedx_errors(doc: &Value) -> Vec<String> {
    let validator = jsonschema::options()
        .with_resource(
            "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json",
            jsonschema::Resource::from_contents(schema("spdx.SNAPSHOT.schema.json")).unwrap(),
        )
        .with_resource(
            "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json",
            jsonschema::Resource::from_contents(schema("jsf-0.82.SNAPSHOT.schema.json")).unwrap(),
        )
        .build(&schema("bom-1.5.SNAPSHOT.schema.json"))
        .unwrap();
    validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path)).collect()
}

#[test]
fn cyclonedx_is_valid_against_the_official_schema() {
    let doc: Value = serde_json::from_str(&render(Format::CycloneDx)).unwrap();
    let errors = cyclonedx_errors(&doc);
    assert!(errors.is_empty(), "{errors:#?}");
    // The validator does reject a broken document (the test can fail).
    let mut broken = doc.clone();
    broken["components"][1]["type"] = Value::String("not-a-type".into());
    broken["serialNumber"] = Value::String("nope".into());
    assert_eq!(cyclonedx_errors(&broken).len(), 2);
}

#[test]
fn spdx_is_valid_per_the_spdx_tools() {
    let dir = tempfile_dir();
    let path = dir.join("sbom.spdx.json");
    std::fs::write(&path, render(Format::Spdx)).unwrap();
    let tool = std::env::var("KESTREL_PYSPDXTOOLS").unwrap_or_else(|_| "pyspdxtools".into());
    let out = std::process::Command::new(&tool)
        .arg("-i")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{tool} not runnable ({e}): run scripts/setup, which installs spdx-tools"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && !text.contains("violat"), "pyspdxtools rejected the document:\n{text}");
    // And it rejects a broken one.
    let mut doc: Value = serde_json::from_str(&render(Format::Spdx)).unwrap();
    doc["packages"][2]["licenseDeclared"] = Value::String("NOT A LICENSE (".into());
    std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    let out = std::process::Command::new(&tool).arg("-i").arg(&path).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        !out.status.success() || text.contains("violat") || text.contains("rror"),
        "broken document accepted:\n{text}"
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    // In cargo's scratch directory for tests, not left in /tmp.
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("report-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn golden_cyclonedx() {
    insta::assert_snapshot!(render(Format::CycloneDx));
}

#[test]
fn golden_spdx() {
    insta::assert_snapshot!(render(Format::Spdx));
}

#[test]
fn golden_json() {
    insta::assert_snapshot!(render(Format::Json));
}

#[test]
fn golden_table() {
    insta::assert_snapshot!(render(Format::Table));
}

#[test]
fn output_is_deterministic() {
    assert_eq!(render(Format::CycloneDx), render(Format::CycloneDx));
    assert_eq!(render(Format::Spdx), render(Format::Spdx));
}

fn report() -> Report {
    let mut s = sample();
    s.normalize();
    s.schema = REPORT_SCHEMA.into();
    let deb = s.packages.iter().find(|p| p.name == "libc6").unwrap().clone();
    let py = s.packages.iter().find(|p| p.name == "requests").unwrap().clone();
    let vuln =
        |p: &Package, id: &str, sev: Severity, cvss: Option<(&str, f64)>, fixed: Option<&str>| VulnerabilityFinding {
            id: id.into(),
            aliases: vec!["DSA-5000-1".into()],
            package: p.name.clone(),
            version: p.version.clone(),
            ecosystem: p.ecosystem,
            purl: p.purl.clone(),
            matched: format!("x {} {}", p.name, p.version),
            state: if fixed.is_some() { FixState::Fixed } else { FixState::Affected },
            fixed_version: fixed.map(str::to_string),
            severity: sev,
            severity_source: "CVSS 3.1 of GHSA-1".into(),
            cvss: cvss.map(|(v, s)| CvssScore { version: "3.1".into(), vector: v.into(), score: s }),
            summary: "Buffer overflow in a parser".into(),
            published: Some("2024-01-01T00:00:00Z".into()),
            sources: vec!["osv:Debian".into()],
            references: vec!["https://security-tracker.debian.org/tracker/CVE-2024-0001".into()],
            known_exploited: true,
            locations: p.locations.clone(),
            layer: p.layer.clone(),
            risk: Risk {
                score: 92,
                reasons: vec!["CVSS 3.1 base score 9.8 (critical)".into(), "known exploited (CISA KEV)".into()],
            },
        };
    Report {
        sbom: s,
        findings: vec![
            Finding::EndOfLife(EndOfLifeFinding {
                release: "debian-12".into(),
                name: "Debian 12".into(),
                eol_date: "2028-06-30".into(),
                support: "end of Debian LTS".into(),
                severity: Severity::High,
                risk: Risk { score: 70, reasons: vec!["past its end".into()] },
            }),
            Finding::Vulnerability(vuln(
                &deb,
                "CVE-2024-0001",
                Severity::Critical,
                Some(("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8)),
                Some("2.36-9+deb12u5"),
            )),
            Finding::MaliciousPackage(vuln(&py, "MAL-2024-1", Severity::Critical, None, None)),
            Finding::Vulnerability(vuln(&py, "GHSA-xxxx-yyyy-zzzz", Severity::Low, None, None)),
        ],
        suppressed: vec![Suppressed { id: "CVE-2020-1".into(), purl: None, reason: "ignore: accepted".into() }],
        database: Some(DatabaseRef {
            path: "/db/vulndb.sqlite".into(),
            built_at: Some("2026-11-23T00:00:00Z".into()),
            sources: vec!["osv:Debian".into()],
        }),
        secrets: Vec::new(),
    }
}

fn render_report(format: Format) -> String {
    let mut out = Vec::new();
    kestrel_report::write_report(&report(), format, None, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn cyclonedx_with_vulnerabilities_is_valid() {
    let doc: Value = serde_json::from_str(&render_report(Format::CycloneDx)).unwrap();
    let errors = cyclonedx_errors(&doc);
    assert!(errors.is_empty(), "{errors:#?}");
    let vulns = doc["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 3);
    let cve = vulns.iter().find(|v| v["id"] == "CVE-2024-0001").unwrap();
    assert_eq!(cve["ratings"][0]["method"], "CVSSv31");
    assert_eq!(cve["ratings"][0]["score"], 9.8);
    // `affects` points at the component's bom-ref.
    let r = cve["affects"][0]["ref"].as_str().unwrap();
    assert!(doc["components"].as_array().unwrap().iter().any(|c| c["bom-ref"] == r), "{r}");
}

fn sarif_errors(doc: &Value) -> Vec<String> {
    let validator = jsonschema::options().build(&schema("sarif-2.1.0-rtm.5.json")).unwrap();
    validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path)).collect()
}

#[test]
fn sarif_is_valid_against_the_sarif_schema() {
    let doc: Value = serde_json::from_str(&render_report(Format::Sarif)).unwrap();
    let errors = sarif_errors(&doc);
    assert!(errors.is_empty(), "{errors:#?}");
    let run = &doc["runs"][0];
    assert_eq!(run["results"].as_array().unwrap().len(), 4);
    assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 4);
    let r = &run["results"][1];
    assert_eq!(r["ruleId"], "CVE-2024-0001");
    assert_eq!(r["level"], "error");
    assert_eq!(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "var/lib/dpkg/info/libc6:amd64.list");
    assert_eq!(run["tool"]["driver"]["rules"][1]["properties"]["security-severity"], "9.8");
    // The schema does reject a broken log.
    let mut broken = doc.clone();
    broken["runs"][0]["results"][0]["level"] = Value::String("fatal".into());
    assert_eq!(sarif_errors(&broken).len(), 1);
}

#[test]
fn golden_findings_table() {
    insta::assert_snapshot!(render_report(Format::Table));
}

#[test]
fn report_json_round_trips() {
    let text = render_report(Format::Json);
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report());
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema"], "kestrel.report/v1");
    assert_eq!(v["findings"][1]["kind"], "vulnerability");
    assert_eq!(v["findings"][2]["kind"], "malicious-package");
}

#[test]
fn config_sarif_is_valid_and_points_at_file_and_line() {
    use kestrel_core::{ConfigFinding, ControlRef, Severity};
    use kestrel_report::{config_sarif, ConfigReport};
    let f = |id: &str, line: Option<usize>| ConfigFinding {
        id: id.into(),
        title: "Privileged container".into(),
        severity: Severity::High,
        file: "./deploy/web.yaml".into(),
        resource: "Deployment shop/web".into(),
        line,
        field: "spec.template.spec.containers[0].securityContext.privileged".into(),
        message: "container \"web\" is privileged".into(),
        fix: "remove securityContext.privileged".into(),
        controls: vec![ControlRef { standard: "cis-k8s-1.9".into(), control: "5.2.2".into() }],
    };
    let report = ConfigReport::new(
        "0.1.0",
        2,
        3,
        vec![f("pss:baseline:privileged", Some(12)), f("pss:baseline:privileged", None)],
        vec![("bad.yaml".into(), "line 3: bad".into())],
    );
    let doc = config_sarif(&report);
    let errors = sarif_errors(&doc);
    assert!(errors.is_empty(), "{errors:#?}");
    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 1, "one rule per check");
    let loc = &run["results"][0]["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "deploy/web.yaml");
    assert_eq!(loc["region"]["startLine"], 12);
    assert_eq!(run["invocations"][0]["executionSuccessful"], false);
}

#[test]
fn compliance_table_aligns_long_ids_and_lists_findings_a_line_each() {
    use kestrel_core::{ComplianceReport, ComplianceSummary, ConfigFinding, ControlResult, ControlStatus, Severity};
    let finding = |n: usize| ConfigFinding {
        id: "k8s:resource-limits".into(),
        title: "No resource limits".into(),
        severity: Severity::Medium,
        file: "deploy/web.yaml".into(),
        resource: "Deployment shop/web".into(),
        line: Some(10 + n),
        field: String::new(),
        message: format!("container \"web-{n}\" has no memory limit"),
        fix: "set resources.limits.memory".into(),
        controls: vec![],
    };
    let control = |id: &str, title: &str, status, evidence: &str, findings: Vec<ConfigFinding>| ControlResult {
        id: id.into(),
        title: title.into(),
        status,
        checks: vec!["k8s:resource-limits".into()],
        evidence: evidence.into(),
        findings,
    };
    let report = ComplianceReport {
        schema: kestrel_core::COMPLIANCE_SCHEMA.into(),
        spec: "pss-restricted".into(),
        title: "Pod Security Standards".into(),
        generated: "2026-12-07T00:00:00Z".into(),
        scope: "1 file".into(),
        summary: ComplianceSummary { pass: 1, fail: 1, manual: 1, not_evaluated: 1 },
        controls: vec![
            control(
                "baseline:hostProbesAndHostLifecycle",
                "Host Probes",
                ControlStatus::Pass,
                "1 check ran over 1 file: no finding",
                vec![],
            ),
            control(
                "4.4.3",
                "Runtime configuration",
                ControlStatus::Fail,
                "7 findings: …",
                (1..=7).map(finding).collect(),
            ),
            control("4.5.1", "Host OS", ControlStatus::Manual, "use a container-specific host OS", vec![]),
            control(
                "4.1.1",
                "Image vulnerabilities",
                ControlStatus::NotEvaluated,
                "its checks need vuln input, and the scan had none",
                vec![],
            ),
        ],
    };
    let mut out = Vec::new();
    kestrel_report::write_compliance_table(&report, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("  ") && !l.starts_with("   ")).collect();
    assert_eq!(rows.len(), 4, "{text}");
    let title_at: Vec<usize> = rows
        .iter()
        .zip(["Host Probes", "Runtime configuration", "Host OS", "Image vulnerabilities"])
        .map(|(r, t)| r.find(t).unwrap())
        .collect();
    assert!(title_at.iter().all(|&c| c == title_at[0]), "titles start in one column:\n{text}");
    assert!(title_at[0] > "  NOT EVALUATED  baseline:hostProbesAndHostLifecycle".len(), "{text}");
    // A finding a line, the first five, then how many more and where they are.
    for n in 1..=5 {
        assert!(
            text.contains(&format!("deploy/web.yaml:{}: container \"web-{n}\" has no memory limit\n", 10 + n)),
            "{text}"
        );
    }
    assert!(!text.contains("web-6"), "{text}");
    assert!(text.contains("and 2 more (every one in -f json and -f html)"), "{text}");
    insta::assert_snapshot!(text);
}
