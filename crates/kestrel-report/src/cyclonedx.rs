//! CycloneDX 1.5 JSON.

use crate::licenses::{combined_expression, spdx_expression};
use crate::{content_uuid, SbomWriter};
use kestrel_core::{Package, Sbom, TargetKind};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

/// Writes CycloneDX 1.5 JSON: the scanned artifact as the metadata component, the operating system as an
/// `operating-system` component, every package as a `library` with its purl, licences and kestrel's facts
/// (`kestrel:*` properties: cataloger, layer, locations, source package).
pub struct CycloneDxWriter;

fn prop(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

fn licenses(p: &Package) -> Option<Value> {
    if p.licenses.is_empty() {
        return None;
    }
    if let Some(expr) = combined_expression(&p.licenses) {
        if !expr.contains(' ') {
            return Some(json!([{"license": {"id": expr}}]));
        }
        return Some(json!([{"expression": expr}]));
    }
    Some(Value::Array(
        p.licenses
            .iter()
            .map(|l| match spdx_expression(l).filter(|e| !e.contains(' ')) {
                Some(id) => json!({"license": {"id": id}}),
                None => json!({"license": {"name": l}}),
            })
            .collect(),
    ))
}

fn component(p: &Package, bom_ref: String) -> Value {
    let mut props = vec![prop("kestrel:cataloger", &p.cataloger), prop("kestrel:ecosystem", p.ecosystem.purl_type())];
    if let Some(l) = &p.layer {
        props.push(prop("kestrel:layer", l));
    }
    if let Some(s) = &p.source {
        props.push(prop("kestrel:source-package", &s.name));
        props.push(prop("kestrel:source-version", &s.version));
    }
    if let Some(d) = &p.distro {
        props.push(prop("kestrel:distro", d));
    }
    if let Some(a) = &p.arch {
        props.push(prop("kestrel:arch", a));
    }
    for (i, loc) in p.locations.iter().enumerate() {
        props.push(prop(&format!("kestrel:location:{i}:path"), &loc.path));
        if let Some(l) = &loc.layer {
            props.push(prop(&format!("kestrel:location:{i}:layer"), l));
        }
    }
    for (k, v) in &p.properties {
        props.push(prop(&format!("kestrel:{k}"), v));
    }
    let mut c = json!({
        "type": "library",
        "bom-ref": bom_ref,
        "name": p.name,
        "version": p.version,
        "purl": p.purl,
        "properties": props,
    });
    if let Some(l) = licenses(p) {
        c["licenses"] = l;
    }
    if let Some((group, _)) = p.name.split_once(':').filter(|_| p.ecosystem == kestrel_core::Ecosystem::Maven) {
        c["group"] = json!(group);
        c["name"] = json!(p.name.split_once(':').map(|x| x.1).unwrap_or(&p.name));
    }
    c
}

impl SbomWriter for CycloneDxWriter {
    fn write(&self, sbom: &Sbom, out: &mut dyn Write) -> io::Result<()> {
        let (doc, _) = document(sbom);
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        out.write_all(b"\n")
    }
}

/// The CycloneDX document of an SBOM, and the `bom-ref` of each package purl (the first, when a purl
/// occurs twice).
pub(crate) fn document(sbom: &Sbom) -> (Value, HashMap<String, String>) {
    {
        let mut refs = HashMap::new();
        let mut seen = HashSet::new();
        let mut components = Vec::new();
        if let Some(d) = &sbom.distro {
            let mut os = json!({"type": "operating-system", "bom-ref": "os", "name": d.id});
            if let Some(v) = &d.version_id {
                os["version"] = json!(v);
            }
            if let Some(p) = &d.pretty_name {
                os["description"] = json!(p);
            }
            components.push(os);
            seen.insert("os".to_string());
        }
        for (i, p) in sbom.packages.iter().enumerate() {
            let mut r = p.purl.clone();
            if !seen.insert(r.clone()) {
                r = format!("{}#{i}", p.purl);
                seen.insert(r.clone());
            }
            refs.entry(p.purl.clone()).or_insert_with(|| r.clone());
            components.push(component(p, r));
        }
        let t = &sbom.target;
        let (ty, version) = match t.kind {
            TargetKind::DockerArchive | TargetKind::OciLayout => ("container", t.image_id.clone()),
            TargetKind::Rootfs | TargetKind::Directory => ("file", None),
        };
        let mut target = json!({"type": ty, "bom-ref": "target", "name": t.name});
        if let Some(v) = version {
            target["version"] = json!(v);
        }
        let mut tprops = Vec::new();
        for tag in &t.tags {
            tprops.push(prop("kestrel:image:tag", tag));
        }
        if let Some(p) = &t.platform {
            tprops.push(prop("kestrel:image:platform", p));
        }
        if let Some(m) = &t.manifest_digest {
            tprops.push(prop("kestrel:image:manifest-digest", m));
        }
        if let Some(i) = &t.index_digest {
            tprops.push(prop("kestrel:image:index-digest", i));
        }
        for l in &t.layers {
            tprops.push(prop(&format!("kestrel:image:layer:{}", l.index), &l.diff_id));
        }
        if !tprops.is_empty() {
            target["properties"] = Value::Array(tprops);
        }
        let doc = json!({
            "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "serialNumber": format!("urn:uuid:{}", content_uuid(sbom)),
            "version": 1,
            "metadata": {
                "timestamp": sbom.created,
                "tools": {"components": [{"type": "application", "name": sbom.tool.name, "version": sbom.tool.version}]},
                "component": target,
            },
            "components": components,
        });
        (doc, refs)
    }
}
