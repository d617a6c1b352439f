//! Reading SBOMs back: kestrel's own JSON, and CycloneDX or SPDX 2.x JSON from kestrel, syft, Trivy or any other
//! tool (packages come from their purls; source packages from kestrel's, Trivy's or syft's conventions).

use kestrel_core::{
    default_purl, Distro, Ecosystem, Location, Package, Purl, Sbom, ScanTarget, SourcePackage, TargetKind, Tool,
    Warning, SBOM_SCHEMA,
};
use serde_json::Value;

/// Most components read from one document.
pub const MAX_COMPONENTS: usize = 1_000_000;

fn ecosystem_of(ty: &str) -> Option<Ecosystem> {
    Some(match ty {
        "deb" => Ecosystem::Deb,
        "apk" => Ecosystem::Apk,
        "rpm" => Ecosystem::Rpm,
        "pypi" => Ecosystem::PyPI,
        "npm" => Ecosystem::Npm,
        "cargo" => Ecosystem::Cargo,
        "golang" => Ecosystem::Go,
        "maven" => Ecosystem::Maven,
        "gem" => Ecosystem::Gem,
        "composer" => Ecosystem::Composer,
        "nuget" => Ecosystem::NuGet,
        _ => return None,
    })
}

fn props(c: &Value) -> Vec<(&str, &str)> {
    c.get("properties")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|p| Some((p.get("name")?.as_str()?, p.get("value")?.as_str()?))).collect())
        .unwrap_or_default()
}

/// `debian-12` / `debian-12.5` / `alpine-3.20.3` (purl `distro` qualifiers) as a distribution.
fn distro_of_tag(tag: &str) -> Option<Distro> {
    let (id, v) = tag.split_once('-')?;
    let v = v.trim_start_matches('v');
    (!id.is_empty() && v.chars().next().is_some_and(|c| c.is_ascii_digit())).then(|| Distro {
        id: id.to_ascii_lowercase(),
        version_id: Some(v.to_string()),
        source_file: "purl distro qualifier".into(),
        ..Default::default()
    })
}

fn package_of(c: &Value, doc_name: &str) -> Result<Option<Package>, String> {
    let Some(purl_text) = c.get("purl").and_then(Value::as_str) else { return Ok(None) };
    let purl = Purl::parse(purl_text)?;
    let Some(eco) = ecosystem_of(purl.ty()) else { return Ok(None) };
    let mut version = purl
        .version()
        .map(str::to_string)
        .or_else(|| c.get("version").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    if version.is_empty() {
        return Err(format!("{purl_text}: no version"));
    }
    let ns = purl.get_namespace();
    let name = match (eco, ns) {
        (Ecosystem::Maven, Some(g)) => format!("{g}:{}", purl.name()),
        (Ecosystem::Npm | Ecosystem::Go | Ecosystem::Composer, Some(n)) => format!("{n}/{}", purl.name()),
        _ => purl.name().to_string(),
    };
    if eco == Ecosystem::Rpm {
        if let Some(e) = purl.get_qualifier("epoch").filter(|e| *e != "0" && !version.contains(':')) {
            version = format!("{e}:{version}");
        }
    }
    let mut p = Package::new(&name, &version, eco, "sbom");
    p.purl = purl_text.to_string();
    if p.purl.is_empty() {
        p.purl = default_purl(eco, &name, &version).to_string();
    }
    p.distro = purl.get_qualifier("distro").map(str::to_string);
    p.arch = purl.get_qualifier("arch").map(str::to_string);
    p.locations.push(Location { path: doc_name.to_string(), layer: None });
    let pr = props(c);
    let get = |k: &str| pr.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
    // Source package: kestrel's properties, Trivy's, or syft's `upstream` qualifier (`name` or `name@version`).
    let source = if let Some(n) = get("kestrel:source-package") {
        Some((n, get("kestrel:source-version")))
    } else if let Some(n) = get("aquasecurity:trivy:SrcName") {
        let v = get("aquasecurity:trivy:SrcVersion").map(|v| {
            let mut full = v;
            if let Some(r) = get("aquasecurity:trivy:SrcRelease") {
                full = format!("{full}-{r}");
            }
            match get("aquasecurity:trivy:SrcEpoch").filter(|e| e != "0") {
                Some(e) => format!("{e}:{full}"),
                None => full,
            }
        });
        Some((n, v))
    } else {
        purl.get_qualifier("upstream").map(|u| match u.split_once('@') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (u.to_string(), None),
        })
    };
    if let Some((n, v)) = source {
        if eco.is_os() && !n.is_empty() {
            p.source = Some(SourcePackage { name: n, version: v.unwrap_or_else(|| version.clone()) });
        }
    }
    if let Some(l) = get("kestrel:layer") {
        p.layer = Some(l);
    }
    Ok(Some(p))
}

fn walk<'a>(list: &'a [Value], out: &mut Vec<&'a Value>) -> Result<(), String> {
    for c in list {
        if out.len() >= MAX_COMPONENTS {
            return Err(format!("more than {MAX_COMPONENTS} components"));
        }
        out.push(c);
        if let Some(inner) = c.get("components").and_then(Value::as_array) {
            walk(inner, out)?;
        }
    }
    Ok(())
}

/// Reads an SBOM document (kestrel JSON, CycloneDX JSON or SPDX 2.x JSON); `name` is how the input is called in
/// messages and locations.
pub fn read_sbom(bytes: &[u8], name: &str) -> Result<Sbom, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("{name}: not JSON: {e}"))?;
    if v.get("schema").and_then(Value::as_str).is_some_and(|s| s.starts_with("kestrel.")) {
        let mut s: Sbom = serde_json::from_value(v).map_err(|e| format!("{name}: not a kestrel SBOM: {e}"))?;
        s.schema = SBOM_SCHEMA.into();
        return Ok(s);
    }
    if let Some(version) = v.get("spdxVersion").and_then(Value::as_str) {
        if !version.starts_with("SPDX-2.") {
            return Err(format!("{name}: {version}: only SPDX 2.x JSON is read"));
        }
        return read_spdx(&v, name);
    }
    if v.get("bomFormat").and_then(Value::as_str) != Some("CycloneDX") {
        return Err(format!(
            "{name}: neither CycloneDX JSON (no \"bomFormat\": \"CycloneDX\"), SPDX JSON (no \"spdxVersion\") nor kestrel JSON"
        ));
    }
    let mut all = Vec::new();
    let empty = Vec::new();
    walk(v.get("components").and_then(Value::as_array).unwrap_or(&empty), &mut all)
        .map_err(|e| format!("{name}: {e}"))?;
    let mut found = Found::default();
    for c in &all {
        let text = |k: &str| c.get(k).and_then(Value::as_str);
        if text("type") == Some("operating-system") {
            let source = format!("{name}: operating-system component");
            found.os(text("name"), text("version"), text("description"), source);
        } else {
            found.package(c, name, "component");
        }
    }
    let target_name = v.pointer("/metadata/component/name").and_then(Value::as_str).unwrap_or(name);
    let created = v.pointer("/metadata/timestamp").and_then(Value::as_str).unwrap_or("");
    Ok(found.into_sbom(target_name, created))
}

/// SPDX 2.x JSON (kestrel's, syft's, Trivy's…): each package's `purl` external reference, its version from the
/// purl or `versionInfo`; the distribution from an `OPERATING-SYSTEM` package, else the purls' `distro`.
fn read_spdx(v: &Value, name: &str) -> Result<Sbom, String> {
    let empty = Vec::new();
    let list = v.get("packages").and_then(Value::as_array).unwrap_or(&empty);
    if list.len() > MAX_COMPONENTS {
        return Err(format!("{name}: more than {MAX_COMPONENTS} packages"));
    }
    let mut found = Found::default();
    for p in list {
        let text = |k: &str| p.get(k).and_then(Value::as_str);
        if text("primaryPackagePurpose") == Some("OPERATING-SYSTEM") {
            found.os(text("name"), text("versionInfo"), None, format!("{name}: operating-system package"));
            continue;
        }
        let purl = p.get("externalRefs").and_then(Value::as_array).into_iter().flatten().find_map(|r| {
            (r.get("referenceType").and_then(Value::as_str) == Some("purl"))
                .then(|| r.get("referenceLocator").and_then(Value::as_str))
                .flatten()
        });
        let Some(purl) = purl else { continue };
        found.package(&serde_json::json!({"purl": purl, "version": text("versionInfo")}), name, "package");
    }
    let target_name = v.get("name").and_then(Value::as_str).unwrap_or(name);
    let created = v.pointer("/creationInfo/created").and_then(Value::as_str).unwrap_or("");
    Ok(found.into_sbom(target_name, created))
}

/// What a document's entries give, whatever its format: the first operating system it names, the packages, and
/// why entries were skipped.
#[derive(Default)]
struct Found {
    distro: Option<Distro>,
    packages: Vec<Package>,
    warnings: Vec<Warning>,
}

impl Found {
    /// An operating-system entry: the distribution, unless one was named already.
    fn os(&mut self, name: Option<&str>, version: Option<&str>, pretty: Option<&str>, source_file: String) {
        let id = name.unwrap_or("").to_ascii_lowercase();
        if !id.is_empty() && self.distro.is_none() {
            self.distro = Some(Distro {
                id,
                version_id: version.map(str::to_string),
                pretty_name: pretty.map(str::to_string),
                source_file,
                ..Default::default()
            });
        }
    }

    /// A component with a purl (CycloneDX's shape), read by [`package_of`]; a bad one is a warning (`what`
    /// skipped).
    fn package(&mut self, c: &Value, doc_name: &str, what: &str) {
        match package_of(c, doc_name) {
            Ok(Some(p)) => self.packages.push(p),
            Ok(None) => {}
            Err(e) => {
                self.warnings.push(Warning { path: doc_name.to_string(), message: format!("{what} skipped: {e}") })
            }
        }
    }

    /// The SBOM read: the distribution, when the document named none, from the OS packages' purls.
    fn into_sbom(self, target_name: &str, created: &str) -> Sbom {
        let Found { mut distro, packages, warnings } = self;
        if distro.is_none() {
            distro = packages
                .iter()
                .filter(|p| p.ecosystem.is_os())
                .find_map(|p| p.distro.as_deref().and_then(distro_of_tag));
        }
        let tool = Tool { name: "kestrel".into(), version: env!("CARGO_PKG_VERSION").into() };
        let mut sbom = Sbom {
            schema: SBOM_SCHEMA.into(),
            tool,
            created: created.to_string(),
            target: ScanTarget::unlayered(TargetKind::Directory, target_name.to_string()),
            distro,
            packages,
            warnings,
        };
        sbom.normalize();
        sbom
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_spdx_of_syft_and_kestrel() {
        // syft 1.18.1's `-o spdx-json` of a Debian 11 image with apache2-bin and requests (its CPE references
        // trimmed): no operating-system package, so the distribution comes from the purls.
        let syft = br#"{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"sx/img.tar",
          "creationInfo":{"creators":["Organization: Anchore, Inc","Tool: syft-1.18.1"],"created":"2026-12-04T04:52:24Z"},
          "packages":[
            {"name":"apache2-bin","SPDXID":"SPDXRef-Package-deb-apache2-bin-16b32096b86dee85","versionInfo":"2.4.54-1~deb11u1",
             "externalRefs":[{"referenceCategory":"SECURITY","referenceType":"cpe23Type","referenceLocator":"cpe:2.3:a:apache2:apache2-bin:2.4.54-1\\~deb11u1:*:*:*:*:*:*:*"},
               {"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:deb/debian/apache2-bin@2.4.54-1~deb11u1?arch=amd64&distro=debian-11&upstream=apache2"}]},
            {"name":"requests","SPDXID":"SPDXRef-Package-python-requests-2f2068ecfc407927","versionInfo":"2.19.0",
             "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:pypi/requests@2.19.0"}]},
            {"name":"sx/img.tar","SPDXID":"SPDXRef-DocumentRoot-Image-sx-img.tar","versionInfo":"sha256:51d008a9b87d0550efb7e94a0cc1156c8989a8402415df120dbda00b31ae6f94",
             "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:oci/sx/img.tar@sha256:51d008a9b87d0550efb7e94a0cc1156c8989a8402415df120dbda00b31ae6f94?arch="}],
             "primaryPackagePurpose":"CONTAINER"},
            {"name":"no-purl","SPDXID":"SPDXRef-x","versionInfo":"1"},
            {"name":"bad","SPDXID":"SPDXRef-y","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:npm/left-pad"}]}
          ]}"#;
        let s = read_sbom(syft, "app.spdx.json").unwrap();
        assert_eq!(s.target.name, "sx/img.tar");
        assert_eq!(s.created, "2026-12-04T04:52:24Z");
        assert_eq!(s.distro.as_ref().unwrap().osv_ecosystem().as_deref(), Some("Debian:11"));
        let by = |n: &str| s.packages.iter().find(|p| p.name == n).unwrap();
        assert_eq!(by("apache2-bin").source.as_ref().unwrap().name, "apache2");
        assert_eq!(by("apache2-bin").version, "2.4.54-1~deb11u1");
        assert_eq!(by("requests").ecosystem, Ecosystem::PyPI);
        assert_eq!(s.packages.len(), 2, "{:?}", s.packages);
        assert_eq!(s.warnings.len(), 1, "the purl without a version: {:?}", s.warnings);
        // kestrel's own SPDX names the distribution in an OPERATING-SYSTEM package.
        let kestrel = br#"{"spdxVersion":"SPDX-2.3","name":"app:1","packages":[
            {"name":"debian","versionInfo":"12","primaryPackagePurpose":"OPERATING-SYSTEM"},
            {"name":"zlib1g","versionInfo":"1:1.2.13.dfsg-1","primaryPackagePurpose":"INSTALL",
             "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&upstream=zlib"}]}]}"#;
        let s = read_sbom(kestrel, "k.spdx.json").unwrap();
        assert_eq!(s.distro.as_ref().unwrap().osv_ecosystem().as_deref(), Some("Debian:12"));
        assert_eq!(s.packages[0].source.as_ref().unwrap().name, "zlib");
        assert!(read_sbom(br#"{"spdxVersion":"SPDX-3.0"}"#, "x.json").unwrap_err().contains("only SPDX 2.x"));
    }

    #[test]
    fn reads_cyclonedx_of_other_tools() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","metadata":{"component":{"name":"app:1"}},
          "components":[
            {"type":"operating-system","name":"debian","version":"12.5"},
            {"type":"library","name":"libc6","purl":"pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&upstream=glibc&distro=debian-12"},
            {"type":"library","name":"libssl3","purl":"pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12.5",
             "properties":[{"name":"aquasecurity:trivy:SrcName","value":"openssl"},{"name":"aquasecurity:trivy:SrcVersion","value":"3.0.11"},{"name":"aquasecurity:trivy:SrcRelease","value":"1~deb12u2"}]},
            {"type":"library","name":"guava","purl":"pkg:maven/com.google.guava/guava@31.1-jre",
             "components":[{"type":"library","purl":"pkg:npm/%40babel/core@7.23.0"}]},
            {"type":"library","purl":"pkg:rpm/almalinux/openssl-libs@3.0.7-27.el9?epoch=1"},
            {"type":"library","purl":"pkg:pypi/requests"},
            {"type":"library","purl":"not a purl"},
            {"type":"file","name":"x"}
          ]}"#;
        let s = read_sbom(doc, "app.cdx.json").unwrap();
        assert_eq!(s.distro.as_ref().unwrap().osv_ecosystem().as_deref(), Some("Debian:12"));
        let by = |n: &str| s.packages.iter().find(|p| p.name == n).unwrap();
        assert_eq!(by("libc6").source.as_ref().unwrap().name, "glibc");
        assert_eq!(by("libssl3").source.as_ref().unwrap().version, "3.0.11-1~deb12u2");
        assert_eq!(by("com.google.guava:guava").ecosystem, Ecosystem::Maven);
        assert_eq!(by("@babel/core").version, "7.23.0");
        assert_eq!(by("openssl-libs").version, "1:3.0.7-27.el9");
        assert_eq!(s.packages.len(), 5);
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
        assert!(read_sbom(b"{}", "x.json").unwrap_err().contains("neither CycloneDX"));
        assert!(read_sbom(b"nope", "x.json").unwrap_err().starts_with("x.json: not JSON"));
    }
}
