//! Secrets in an image's layers: a credential written by one layer and deleted by the next is still in the
//! image, and is reported with its layer.

use kestrel_secrets::image::{name_layers, LayerScanner};
use kestrel_secrets::Scanner;
use kestrel_testkit::{Entry, Image};

#[test]
fn a_deleted_secret_is_still_found_with_its_layer() {
    let gh = format!("ghp_{}", "Ab3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5");
    let stripe = format!("sk_live_{}", "4eC39HqLyjWDarjtT1zdp7dc9xYz");
    let img = Image::new(vec![
        vec![Entry::Dir("app".into()), Entry::File("app/.env".into(), format!("GITHUB_TOKEN={gh}\n").into_bytes())],
        vec![
            Entry::Whiteout("app/.env".into()),
            Entry::File("app/pay.py".into(), format!("KEY = \"{stripe}\"\n").into_bytes()),
        ],
        vec![
            Entry::File("app/pay.py".into(), b"KEY = os.environ['STRIPE_KEY']\n".to_vec()),
            // Over the scanner's size limit: passed over, and said so.
            Entry::File("app/dump.sql".into(), vec![b'x'; (kestrel_secrets::MAX_FILE_BYTES + 1) as usize]),
        ],
    ]);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("app.tar");
    img.write_docker_archive(&archive, &["app:1"]);
    let scanner = Scanner::new();
    let sel = LayerScanner::new(&scanner);
    let artifact = kestrel_image::open(&archive, &kestrel_image::OpenOptions::default(), &sel).unwrap();
    assert!(sel.bytes() > 0);
    assert_eq!(sel.too_large(), [("/app/dump.sql".to_string(), kestrel_secrets::MAX_FILE_BYTES + 1)]);
    let found = name_layers(&artifact, sel.into_findings());
    let by_rule = |r: &str| found.iter().find(|f| f.rule == r).unwrap_or_else(|| panic!("{r}: {found:?}"));
    let g = by_rule("github-token");
    assert_eq!(g.file, "/app/.env");
    let layer = g.layer.as_deref().unwrap();
    assert!(layer.starts_with("0 sha256:") && layer.contains("deleted by a later layer"), "{layer}");
    let s = by_rule("stripe-key");
    assert!(s.layer.as_deref().unwrap().starts_with("1 ") && s.layer.as_deref().unwrap().contains("replaced"), "{s:?}");
    assert_eq!(found.len(), 2, "{found:?}");
    // Nothing secret in what is reported.
    let json = serde_json::to_string(&found).unwrap();
    assert!(!json.contains(&gh) && !json.contains(&stripe));
}
