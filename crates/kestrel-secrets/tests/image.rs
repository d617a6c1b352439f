//! Secrets in an image's layers: a credential written by one layer and deleted by the next is still in the
//! image, and is reported with its layer.

use kestrel_secrets::image::{name_layers, LayerScanner};
use kestrel_secrets::Scanner;
use kestrel_testkit::{Entry, Image};

fn gh() -> String {
    format!("ghp_{}", "Ab3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5")
}

#[test]
fn a_deleted_secret_is_still_found_with_its_layer() {
    let gh = gh();
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
    // A program or a library over the limit is passed over without a word, as a directory scan skips a binary.
    use kestrel_image::ContentSelector as _;
    let big = kestrel_secrets::MAX_FILE_BYTES + 1;
    for (path, mode) in [("/usr/bin/node", 0o755), ("/usr/lib/libLLVM-15.so.1", 0o644), ("/usr/lib/libv8.a", 0o644)] {
        assert_eq!(sel.want(path, big, mode), kestrel_image::Want::Skip);
    }
    assert_eq!(sel.want("/srv/backup.sql", big, 0o644), kestrel_image::Want::Skip);
    let named: Vec<String> = sel.too_large().into_iter().map(|(p, _)| p).collect();
    assert_eq!(named, ["/app/dump.sql", "/srv/backup.sql"]);
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

/// An archive streamed in as an engine might send it — the layers last to first, a blob no layer uses among
/// them — gives the findings reading it from disk gives, each with its layer's place in the image.
#[test]
fn streamed_layers_are_named_by_their_place_in_the_image() {
    let img = Image::new(vec![
        vec![Entry::File("app/a.txt".into(), b"nothing here\n".to_vec())],
        vec![Entry::File("app/.env".into(), format!("GITHUB_TOKEN={}\n", gh()).into_bytes())],
        vec![Entry::File("app/b.txt".into(), b"nor here\n".to_vec())],
    ]);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("app.tar");
    img.write_docker_archive(&archive, &["app:1"]);
    let scanner = Scanner::new();
    let from_disk = LayerScanner::new(&scanner);
    let artifact = kestrel_image::open(&archive, &kestrel_image::OpenOptions::default(), &from_disk).unwrap();
    let expected = name_layers(&artifact, from_disk.into_findings());
    assert!(expected.len() == 1 && expected[0].layer.as_deref().unwrap().starts_with("1 sha256:"), "{expected:?}");

    let mut members = kestrel_testkit::tar_members(&std::fs::read(&archive).unwrap());
    members.reverse();
    let unused = kestrel_testkit::layer_tar(&[Entry::File("leak.env".into(), format!("T={}\n", gh()).into_bytes())]);
    members.insert(1, ("unused/layer.tar".into(), unused));
    let shuffled = kestrel_testkit::tar_of(&members);
    let streamed = LayerScanner::new(&scanner);
    let artifact =
        kestrel_image::open_stream("app", shuffled.as_slice(), &kestrel_image::OpenOptions::default(), &streamed)
            .unwrap();
    let found = name_layers(&artifact, streamed.into_findings());
    assert_eq!(serde_json::to_value(&found).unwrap(), serde_json::to_value(&expected).unwrap());
}
