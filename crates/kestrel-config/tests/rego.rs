//! Custom Rego policies: the same finding shape as the built-in checks, clear errors, bounded time.

use kestrel_config::rego::Policies;
use kestrel_config::yaml;

fn doc(text: &str) -> yaml::Document {
    yaml::parse(text, yaml::Limits::default()).unwrap().remove(0)
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: shop\nspec:\n  containers:\n  - name: c\n    image: docker.io/evil/miner:1\n";

#[test]
fn the_example_policy_gives_findings_like_the_built_in_checks() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/policies/registries.rego")).unwrap();
    let mut p = Policies::from_sources(vec![("registries.rego".into(), text)]).unwrap();
    let f = p.evaluate_document("pod.yaml", &doc(POD)).unwrap();
    let reg = f.iter().find(|x| x.id == "custom:approved-registry").expect("the registry finding");
    assert_eq!(reg.severity, kestrel_core::Severity::High);
    assert_eq!((reg.file.as_str(), reg.resource.as_str(), reg.line), ("pod.yaml", "Pod shop/p", Some(1)));
    assert_eq!(reg.field, "spec.containers[0].image");
    assert_eq!(reg.controls[0].standard, "nist-800-190");
    assert!(reg.message.contains("docker.io/evil/miner:1"));
    // A bare string is a finding too, with the package as its id.
    assert!(f.iter().any(|x| x.id == "rego:kestrel.custom.registries" && x.message.contains("no owner label")));
    // An approved image with an owner: nothing.
    let ok = POD
        .replace("docker.io/evil/miner:1", "registry.example.com/app:1")
        .replace("  namespace: shop\n", "  namespace: shop\n  labels: {owner: team-a}\n");
    assert!(p.evaluate_document("pod.yaml", &doc(&ok)).unwrap().is_empty());
}

#[test]
fn bad_policies_are_errors_naming_the_file() {
    let e = Policies::from_sources(vec![("broken.rego".into(), "package kestrel.x\ndeny contains 1 if {".into())])
        .err()
        .unwrap();
    assert_eq!(e.file, "broken.rego");
    let e = Policies::from_sources(vec![("other.rego".into(), "package other\ndeny contains 1 if { true }".into())])
        .err()
        .unwrap();
    assert!(e.reason.contains("not under kestrel"), "{}", e.reason);
}

#[test]
fn a_runaway_policy_is_stopped() {
    let slow = "package kestrel.slow\ndeny contains [i, j] if {\n  some i in numbers.range(1, 20000)\n  some j in numbers.range(1, 20000)\n  i * j < 0\n}\n";
    let mut p = Policies::from_sources(vec![("slow.rego".into(), slow.into())]).unwrap();
    let t = std::time::Instant::now();
    let r = p.evaluate_document("pod.yaml", &doc(POD));
    assert!(r.is_err(), "{r:?}");
    assert!(t.elapsed() < kestrel_config::rego::EVAL_LIMIT * 3, "{:?}", t.elapsed());
}
