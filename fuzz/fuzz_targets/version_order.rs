#![no_main]
use kestrel_vulndb::version::Scheme;
use libfuzzer_sys::fuzz_target;
use std::cmp::Ordering;

// Three versions of one scheme (the first byte picks it): parsing never panics, and the order laws hold
// (for Maven, reflexivity and antisymmetry only: Maven's own order is not transitive in corner cases).
fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let scheme = Scheme::ALL[pick as usize % Scheme::ALL.len()];
    let text = String::from_utf8_lossy(rest);
    let parts: Vec<&str> = text.splitn(3, '\n').collect();
    let parsed: Vec<_> = parts.iter().filter_map(|p| scheme.parse(p).ok()).collect();
    let cmp = |a: &kestrel_vulndb::version::Version, b: &kestrel_vulndb::version::Version| a.partial_cmp(b).unwrap();
    for a in &parsed {
        assert_eq!(cmp(a, a), Ordering::Equal, "{scheme}: not reflexive: {parts:?}");
        for b in &parsed {
            assert_eq!(cmp(a, b), cmp(b, a).reverse(), "{scheme}: not antisymmetric: {parts:?}");
            // Maven's own ComparableVersion is not transitive in corner cases (see the properties test).
            for c in parsed.iter().filter(|_| scheme != Scheme::Maven) {
                if cmp(a, b) != Ordering::Greater && cmp(b, c) != Ordering::Greater {
                    assert_ne!(cmp(a, c), Ordering::Greater, "{scheme}: not transitive: {parts:?}");
                }
            }
        }
    }
});
