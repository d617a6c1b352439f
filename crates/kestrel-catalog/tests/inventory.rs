//! Whole-image inventories: a Debian-based image built from real package-database content (cut from a
//! Debian 12 system), with Python, Node, Go, Rust and Java packages added in later layers; an Alpine image;
//! an RPM image; a project directory with lock files. Checked against golden snapshots.

use kestrel_catalog::{Catalog, Scope};
use kestrel_core::{Ecosystem, Sbom, ScanTarget, Tool, SBOM_SCHEMA};
use kestrel_image::{open, open_dir, OpenOptions};
use kestrel_testkit::{auditable_binary, go_binary, jar, Compression, Entry, Image};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn file(p: &str, d: Vec<u8>) -> Entry {
    Entry::File(p.into(), d)
}

fn exe(p: &str, d: Vec<u8>) -> Entry {
    Entry::FileMode(p.into(), d, 0o755)
}

const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";

fn debian_image() -> Image {
    let status = String::from_utf8(fixture("dpkg-status")).unwrap();
    let mut base = vec![
        Entry::Symlink("etc/os-release".into(), "../usr/lib/os-release".into()),
        file("usr/lib/os-release", OS_RELEASE.into()),
        file("var/lib/dpkg/status", status.clone().into()),
        file("usr/share/doc/libc6/copyright", fixture("libc6-copyright")),
    ];
    for p in kestrel_catalog::dpkg::parse_status(&status) {
        let list = match p.arch.as_deref() {
            Some("all") | None => format!("var/lib/dpkg/info/{}.list", p.name),
            Some(a) if p.name.starts_with("lib") => format!("var/lib/dpkg/info/{}:{a}.list", p.name),
            Some(_) => format!("var/lib/dpkg/info/{}.list", p.name),
        };
        base.push(file(&list, b"/.\n".to_vec()));
    }
    // Layer 1: an upgrade of curl (new status, new .list), Python and Node packages, binaries, a jar.
    let upgraded = status.replace("Version: 7.88.1-10+deb12u15", "Version: 7.88.1-10+deb12u99");
    let modinfo = "path\texample.com/app/cmd/server\nmod\texample.com/app\tv1.4.2\th1:abc=\ndep\tgithub.com/gorilla/mux\tv1.8.1\th1:x=\ndep\tgolang.org/x/net\tv0.17.0\th1:y=\n=>\tgolang.org/x/net\tv0.23.0\th1:z=\nbuild\tGOOS=linux\n";
    let audit = r#"{"packages":[{"name":"kestrel-demo","version":"0.3.0","source":"local","root":true},{"name":"serde","version":"1.0.190","source":"crates.io","kind":"runtime"},{"name":"cc","version":"1.0.83","source":"crates.io","kind":"build"}]}"#;
    let inner = jar(&[("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\nImplementation-Version: 2.0.9\n")]);
    let app = jar(&[
        ("META-INF/maven/com.example/shop/pom.properties", b"groupId=com.example\nartifactId=shop\nversion=2.1.0\n"),
        (
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
            b"groupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n",
        ),
        ("BOOT-INF/lib/slf4j-api-2.0.9.jar", &inner),
    ]);
    let layer1 = vec![
        file("var/lib/dpkg/status", upgraded.into()),
        file("var/lib/dpkg/info/curl.list", b"/.\n/usr/bin/curl\n".to_vec()),
        file("usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA", fixture("PyYAML-METADATA")),
        file("usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO", fixture("PyJWT-PKG-INFO")),
        file("usr/local/lib/python3.11/site-packages/flask-3.0.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: Flask\nVersion: 3.0.0\nLicense-Expression: BSD-3-Clause\n".to_vec()),
        file("app/node_modules/@npmcli/arborist/package.json", fixture("arborist-package.json")),
        file("app/node_modules/left-pad/package.json", br#"{"name":"left-pad","version":"1.3.0","license":"WTFPL"}"#.to_vec()),
        file("app/node_modules/left-pad/esm/package.json", br#"{"type":"module"}"#.to_vec()),
        exe("usr/local/bin/server", go_binary("go1.22.1", modinfo)),
        exe("usr/local/bin/demo", auditable_binary(audit)),
        exe("usr/local/bin/plain", kestrel_testkit::elf_with_section(".data", b"nothing here")),
        file("opt/shop/shop-2.1.0.jar", app),
        file("usr/local/lib/ruby/gems/3.2.0/specifications/rake-13.0.6.gemspec", b"Gem::Specification.new do |s|\n  s.name = \"rake\".freeze\n  s.version = \"13.0.6\"\n  s.licenses = [\"MIT\".freeze]\nend\n".to_vec()),
        file("var/www/vendor/composer/installed.json", br#"{"packages":[{"name":"monolog/monolog","version":"3.5.0","license":["MIT"]}]}"#.to_vec()),
        // A lock file: declared, not installed, so an image scan does not list it.
        file("app/package-lock.json", br#"{"lockfileVersion":3,"packages":{"node_modules/ghost":{"version":"9.9.9"}}}"#.to_vec()),
    ];
    // Layer 2: pip uninstall flask (a whiteout of its metadata directory).
    let layer2 = vec![Entry::Whiteout("usr/local/lib/python3.11/site-packages/flask-3.0.0.dist-info".into())];
    Image::new(vec![base, layer1, layer2])
}

fn scan(path: &std::path::Path, scope: Scope) -> Sbom {
    let catalog = Catalog::new(scope);
    let artifact = if path.is_dir() && !path.join("oci-layout").exists() {
        open_dir(path, kestrel_core::TargetKind::Directory, &OpenOptions::default(), &catalog).unwrap()
    } else {
        open(path, &OpenOptions::default(), &catalog).unwrap()
    };
    let inv = catalog.run(&artifact);
    let mut target = artifact.target;
    target.name = "fixture".into();
    let mut s = Sbom {
        schema: SBOM_SCHEMA.into(),
        tool: Tool { name: "kestrel".into(), version: "test".into() },
        created: "2026-11-23T00:00:00Z".into(),
        target,
        distro: inv.distro,
        packages: inv.packages,
        warnings: artifact.warnings.into_iter().chain(inv.warnings).collect(),
    };
    s.normalize();
    s
}

fn ids(s: &Sbom, eco: Ecosystem) -> Vec<String> {
    s.packages.iter().filter(|p| p.ecosystem == eco).map(|p| format!("{}@{}", p.name, p.version)).collect()
}

#[test]
fn debian_image_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("debian.tar");
    debian_image().write_docker_archive(&p, &["shop:2.1.0"]);
    let s = scan(&p, Scope::Image);
    let target: &ScanTarget = &s.target;
    assert_eq!(s.distro.as_ref().unwrap().release_tag(), "debian-12");
    assert_eq!(ids(&s, Ecosystem::Deb).len(), 20);
    let curl = s.packages.iter().find(|p| p.name == "curl").unwrap();
    assert_eq!(curl.version, "7.88.1-10+deb12u99");
    assert_eq!(curl.layer.as_deref(), Some(target.layers[1].diff_id.as_str()), "the upgrade's layer");
    let libc = s.packages.iter().find(|p| p.name == "libc6").unwrap();
    assert_eq!(libc.layer.as_deref(), Some(target.layers[0].diff_id.as_str()), "installed in the base layer");
    assert_eq!(libc.source.as_ref().unwrap().name, "glibc");
    assert!(libc.purl.starts_with("pkg:deb/debian/libc6@"), "{}", libc.purl);
    assert!(libc.purl.contains("distro=debian-12") && libc.purl.contains("upstream=glibc"), "{}", libc.purl);
    assert!(!libc.licenses.is_empty());
    let bash = s.packages.iter().find(|p| p.name == "bash").unwrap();
    assert_eq!(
        bash.source.as_ref().map(|s| (s.name.as_str(), s.version.as_str())),
        Some(("bash", "5.2.15-2")),
        "binNMU: source version differs"
    );
    assert_eq!(ids(&s, Ecosystem::PyPI), vec!["PyJWT@2.6.0", "PyYAML@6.0"], "flask was removed by a whiteout");
    assert_eq!(
        ids(&s, Ecosystem::Npm),
        vec!["@npmcli/arborist@9.9.1", "left-pad@1.3.0"],
        "lock files are not read in images"
    );
    assert_eq!(
        ids(&s, Ecosystem::Go),
        vec!["example.com/app@v1.4.2", "github.com/gorilla/mux@v1.8.1", "golang.org/x/net@v0.23.0", "stdlib@go1.22.1"]
    );
    assert_eq!(ids(&s, Ecosystem::Cargo), vec!["cc@1.0.83", "kestrel-demo@0.3.0", "serde@1.0.190"]);
    assert_eq!(
        ids(&s, Ecosystem::Maven),
        vec!["com.example:shop@2.1.0", "org.apache.logging.log4j:log4j-core@2.14.1", "slf4j-api@2.0.9"]
    );
    assert_eq!(ids(&s, Ecosystem::Gem), vec!["rake@13.0.6"]);
    assert_eq!(ids(&s, Ecosystem::Composer), vec!["monolog/monolog@3.5.0"]);
    for p in &s.packages {
        assert!(!p.locations.is_empty(), "{} has no location", p.name);
        assert!(p.layer.is_some(), "{} has no layer", p.name);
    }
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    insta::assert_json_snapshot!("debian-image", s);
}

#[test]
fn same_image_as_oci_layout_gives_the_same_packages() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("debian.tar");
    let img = debian_image();
    img.write_docker_archive(&p, &["shop:2.1.0"]);
    let oci = dir.path().join("oci");
    img.write_oci_dir(&oci, "2.1.0", Compression::Zstd);
    let (a, b) = (scan(&p, Scope::Image), scan(&oci, Scope::Image));
    assert_eq!(a.packages, b.packages);
}

#[test]
fn alpine_image_inventory() {
    let db = "C:Q1o9mF6zZ5C0HTBw8OHrgYm+Yt6Mk=\nP:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\n\nC:Q1yfdL9I2HZc0zP8xyLAKhsDwBsys=\nP:libcrypto3\nV:3.3.2-r0\nA:x86_64\nL:Apache-2.0\no:openssl\nF:usr/lib\nR:libcrypto.so.3\n\nP:busybox\nV:1.36.1-r29\nA:x86_64\nL:GPL-2.0-only\no:busybox\nF:bin\nR:busybox\n\n";
    let img = Image::new(vec![
        vec![
            file(
                "etc/os-release",
                b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n".to_vec(),
            ),
            file("etc/alpine-release", b"3.20.3\n".to_vec()),
            file("lib/apk/db/installed", db.as_bytes().to_vec()),
            file("lib/ld-musl-x86_64.so.1", b"elf".to_vec()),
            file("bin/busybox", b"elf".to_vec()),
        ],
        vec![file("usr/lib/libcrypto.so.3", b"elf".to_vec())],
    ]);
    let dir = tempfile::tempdir().unwrap();
    img.write_oci_dir(dir.path(), "3.20", Compression::Gzip);
    let s = scan(dir.path(), Scope::Image);
    assert_eq!(s.distro.as_ref().unwrap().osv_ecosystem().as_deref(), Some("Alpine:v3.20"));
    assert_eq!(ids(&s, Ecosystem::Apk), vec!["busybox@1.36.1-r29", "libcrypto3@3.3.2-r0", "musl@1.2.5-r0"]);
    let crypto = s.packages.iter().find(|p| p.name == "libcrypto3").unwrap();
    assert_eq!(crypto.source.as_ref().unwrap().name, "openssl");
    assert_eq!(crypto.layer.as_deref(), Some(s.target.layers[1].diff_id.as_str()), "dated by the file it owns");
    assert_eq!(crypto.purl, "pkg:apk/alpine/libcrypto3@3.3.2-r0?arch=x86_64&distro=alpine-3.20.3&upstream=openssl");
}

#[test]
fn rpm_image_inventory() {
    use kestrel_catalog::rpm::encode_header;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rpmdb.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);").unwrap();
    for (n, v, r, e, src) in [
        ("bash", "5.1.8", "9.el9", None, "bash-5.1.8-9.el9.src.rpm"),
        ("openssl-libs", "3.0.7", "27.el9", Some(1), "openssl-3.0.7-27.el9.src.rpm"),
        ("gpg-pubkey", "b86b3716", "61e69f29", None, ""),
    ] {
        let blob =
            encode_header(&[(1000, n), (1001, v), (1002, r), (1022, "x86_64"), (1044, src), (1014, "GPLv3+")], e);
        conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [&blob]).unwrap();
    }
    drop(conn);
    let img = Image::new(vec![vec![
        file(
            "etc/os-release",
            b"NAME=\"AlmaLinux\"\nID=\"almalinux\"\nVERSION_ID=\"9.4\"\nID_LIKE=\"rhel centos fedora\"\n".to_vec(),
        ),
        file("var/lib/rpm/rpmdb.sqlite", std::fs::read(&db).unwrap()),
    ]]);
    let out = dir.path().join("alma.tar");
    img.write_docker_archive(&out, &["alma:9"]);
    let s = scan(&out, Scope::Image);
    assert_eq!(ids(&s, Ecosystem::Rpm), vec!["bash@5.1.8-9.el9", "openssl-libs@1:3.0.7-27.el9"]);
    let ssl = s.packages.iter().find(|p| p.name == "openssl-libs").unwrap();
    assert_eq!(ssl.source.as_ref().map(|s| s.name.as_str()), Some("openssl"));
    assert!(
        ssl.purl.contains("epoch=1") && ssl.purl.starts_with("pkg:rpm/almalinux/openssl-libs@3.0.7-27.el9"),
        "{}",
        ssl.purl
    );
}

#[test]
fn project_directory_lock_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = |p: &str, c: &str| {
        let path = d.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, c).unwrap();
    };
    w(
        "web/package-lock.json",
        r#"{"lockfileVersion":3,"packages":{"":{"name":"web"},"node_modules/express":{"version":"4.18.2"}}}"#,
    );
    w("web/yarn.lock", "lodash@^4.17.21:\n  version \"4.17.21\"\n");
    w("svc/go.mod", "module svc\n\nrequire github.com/gorilla/mux v1.8.1\n");
    w("tool/Cargo.lock", "version = 3\n[[package]]\nname = \"anyhow\"\nversion = \"1.0.75\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n");
    w("api/requirements.txt", "django==4.2.7\n");
    w("api/Gemfile.lock", "GEM\n  specs:\n    rack (3.0.8)\n");
    w("php/composer.lock", r#"{"packages":[{"name":"guzzlehttp/guzzle","version":"7.8.0"}]}"#);
    w("web/broken/package-lock.json", "{ not json");
    let s = scan(d, Scope::Directory);
    let all: Vec<String> = s.packages.iter().map(|p| format!("{}:{}@{}", p.ecosystem, p.name, p.version)).collect();
    assert_eq!(
        all,
        vec![
            "pypi:django@4.2.7",
            "npm:express@4.18.2",
            "npm:lodash@4.17.21",
            "cargo:anyhow@1.0.75",
            "golang:github.com/gorilla/mux@v1.8.1",
            "gem:rack@3.0.8",
            "composer:guzzlehttp/guzzle@7.8.0",
        ]
    );
    assert_eq!(s.warnings.len(), 1);
    assert!(
        s.warnings[0].path.ends_with("/web/broken/package-lock.json")
            && s.warnings[0].message.contains("invalid package-lock.json")
    );
}

#[test]
fn centos7_berkeley_db_inventory() {
    let img = Image::new(vec![vec![
        file(
            "etc/os-release",
            b"NAME=\"CentOS Linux\"\nID=\"centos\"\nVERSION_ID=\"7\"\nID_LIKE=\"rhel fedora\"\n".to_vec(),
        ),
        file("etc/redhat-release", b"CentOS Linux release 7.9.2009 (Core)\n".to_vec()),
        file("var/lib/rpm/Packages", fixture("rpm-Packages.bdb")),
    ]]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("centos.tar");
    img.write_docker_archive(&out, &["centos:7"]);
    let s = scan(&out, Scope::Image);
    assert_eq!(
        ids(&s, Ecosystem::Rpm),
        vec!["bash@4.2.46-35.el7_9", "glibc-common@2.17-326.el7_9", "openssl-libs@1:1.0.2k-26.el7_9"]
    );
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert_eq!(s.packages[0].distro.as_deref(), Some("centos-7"));
}

/// Language packages that an OS package installed are marked with their owner (dpkg's `info/*.list`, apk's
/// and rpm's file lists), so that vulnerability matching leaves them to the distribution's advisories.
#[test]
fn os_owned_language_packages_are_marked() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.tar");
    let meta = |n: &str, v: &str| format!("Metadata-Version: 2.1\nName: {n}\nVersion: {v}\n").into_bytes();
    Image::new(vec![vec![
        file("etc/os-release", b"ID=debian\nVERSION_ID=12\n".to_vec()),
        file(
            "var/lib/dpkg/status",
            b"Package: python3-six\nStatus: install ok installed\nArchitecture: all\nSource: six\nVersion: 1.16.0-4\n\n".to_vec(),
        ),
        file(
            "var/lib/dpkg/info/python3-six.list",
            b"/.\n/usr\n/usr/lib/python3/dist-packages/six-1.16.0.dist-info\n/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA\n/usr/lib/python3/dist-packages/six.py\n".to_vec(),
        ),
        file("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", meta("six", "1.16.0")),
        // pip's own install: nobody owns it.
        file("usr/local/lib/python3.11/dist-packages/requests-2.31.0.dist-info/METADATA", meta("requests", "2.31.0")),
    ]])
    .write_docker_archive(&p, &["x:1"]);
    let s = scan(&p, Scope::Image);
    let owner = |n: &str| s.packages.iter().find(|p| p.name == n).unwrap().properties.get("os.owner").cloned();
    assert_eq!(owner("six").as_deref(), Some("deb:python3-six"));
    assert_eq!(owner("requests"), None);
}
