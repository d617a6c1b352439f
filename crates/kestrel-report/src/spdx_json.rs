//! SPDX 2.3 JSON.

use crate::licenses::combined_expression;
use crate::{content_uuid, SbomWriter};
use kestrel_core::{Ecosystem, Sbom};
use serde_json::{json, Value};
use std::io::{self, Write};

/// Writes SPDX 2.3 JSON: the scanned artifact as the described package, every package with its purl as a
/// `PACKAGE-MANAGER` external reference, licences as declared where they are SPDX expressions
/// (`NOASSERTION` otherwise, with the text kept in a comment), and `CONTAINS` relationships.
pub struct SpdxWriter;

/// SPDX ids allow letters, digits, `.` and `-` only.
fn spdx_id_part(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect()
}

impl SbomWriter for SpdxWriter {
    fn write(&self, sbom: &Sbom, out: &mut dyn Write) -> io::Result<()> {
        let uuid = content_uuid(sbom);
        let t = &sbom.target;
        let mut packages = Vec::new();
        let mut relationships = vec![json!({
            "spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-Target"
        })];
        let mut target = json!({
            "SPDXID": "SPDXRef-Target",
            "name": t.name,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": if matches!(t.kind, kestrel_core::TargetKind::DockerArchive | kestrel_core::TargetKind::OciLayout) { "CONTAINER" } else { "FILE" },
        });
        if let Some(id) = &t.image_id {
            target["versionInfo"] = json!(id);
            if let Some(hex) = id.strip_prefix("sha256:") {
                target["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": hex}]);
            }
        }
        packages.push(target);
        if let Some(d) = &sbom.distro {
            let mut os = json!({
                "SPDXID": "SPDXRef-OperatingSystem",
                "name": d.id,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": false,
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "primaryPackagePurpose": "OPERATING-SYSTEM",
            });
            if let Some(v) = &d.version_id {
                os["versionInfo"] = json!(v);
            }
            packages.push(os);
            relationships.push(json!({"spdxElementId": "SPDXRef-Target", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-OperatingSystem"}));
        }
        for (i, p) in sbom.packages.iter().enumerate() {
            let id = format!("SPDXRef-Package-{}-{}-{i}", p.ecosystem.purl_type(), spdx_id_part(&p.name));
            let declared = combined_expression(&p.licenses);
            let locations: Vec<&str> = p.locations.iter().map(|l| l.path.as_str()).collect();
            let mut pkg = json!({
                "SPDXID": id,
                "name": p.name,
                "versionInfo": p.version,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": false,
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": declared.clone().unwrap_or_else(|| "NOASSERTION".into()),
                "copyrightText": "NOASSERTION",
                "primaryPackagePurpose": if p.ecosystem.is_os() { "INSTALL" } else { "LIBRARY" },
                "sourceInfo": format!("found by kestrel {} at: {}", p.cataloger, locations.join(", ")),
                "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": p.purl}],
            });
            if declared.is_none() && !p.licenses.is_empty() {
                pkg["licenseComments"] = json!(format!("declared as: {}", p.licenses.join("; ")));
            }
            if let Some(s) = p.source.as_ref().filter(|_| {
                p.ecosystem == Ecosystem::Deb || p.ecosystem == Ecosystem::Apk || p.ecosystem == Ecosystem::Rpm
            }) {
                pkg["comment"] = json!(format!("source package {} {}", s.name, s.version));
            }
            packages.push(pkg);
            relationships.push(
                json!({"spdxElementId": "SPDXRef-Target", "relationshipType": "CONTAINS", "relatedSpdxElement": id}),
            );
        }
        let doc: Value = json!({
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": t.name,
            "documentNamespace": format!("https://kestrel.invalid/spdxdocs/{}-{uuid}", spdx_id_part(&t.name)),
            "creationInfo": {"created": sbom.created, "creators": [format!("Tool: {}-{}", sbom.tool.name, sbom.tool.version)]},
            "packages": packages,
            "relationships": relationships,
        });
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        out.write_all(b"\n")
    }
}
