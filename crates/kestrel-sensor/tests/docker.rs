//! What a real Docker engine (Debian's dockerd, started by the test kit with a data root and exec root of its own)
//! keeps of its containers, read as the sensor reads it: `config.v2.json` and `hostconfig.json` under the data root,
//! runc's `state.json` under the exec root. The image's name and id and the creation time must be what Docker itself
//! says (`docker inspect`); a container given `CAP_SYS_ADMIN` alone is not privileged. Needs root, like the engine.

use kestrel_core::ContainerRef;
use kestrel_sensor::runtime::StateDirs;
use kestrel_testkit::services::Docker;
use kestrel_testkit::{Entry, Image};

#[test]
fn docker_containers_are_described_as_docker_inspect_tells() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: dockerd needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static (scripts/setup)");
    let archive = dir.path().join("box.tar");
    Image::new(vec![vec![Entry::Dir("bin".into()), Entry::FileMode("bin/busybox".into(), busybox, 0o755)]])
        .write_docker_archive(&archive, &["localhost/box:1"]);
    let docker = Docker::start();
    docker.load(&archive);
    let dirs =
        StateDirs { runc_roots: vec![docker.exec_root().join("runtime-runc")], docker_containers: docker.containers() };
    // (`--privileged` cannot run on this machine: runc is refused some of the capabilities it would grant. The
    // unit tests read a privileged container's hostconfig.json.)
    for extra in [&[][..], &["--cap-add", "SYS_ADMIN"]] {
        let mut run = vec!["run", "-d", "--network", "none"];
        run.extend(extra);
        run.extend(["localhost/box:1", "/bin/busybox", "sleep", "60"]);
        let id = docker.cli(&run).trim().to_string();
        let inspect = |f: &str| docker.cli(&["inspect", "-f", f, &id]).trim().to_string();
        let mut c = ContainerRef { id: id.clone(), runtime: "docker".into(), ..Default::default() };
        assert!(dirs.describe(&mut c), "nothing found of {id}");
        assert_eq!(c.image.as_deref(), Some("localhost/box:1"));
        assert_eq!(c.image_id, Some(inspect("{{.Image}}")));
        assert!(c.image_id.as_deref().is_some_and(|i| i.starts_with("sha256:")), "{c:?}");
        assert_eq!(c.privileged, Some(false), "{extra:?}: {c:?}");
        let created =
            time::OffsetDateTime::parse(&inspect("{{.Created}}"), &time::format_description::well_known::Rfc3339)
                .unwrap()
                .unix_timestamp_nanos();
        assert_eq!(c.created_ns.map(i128::from), Some(created));
        docker.cli(&["rm", "-f", &id]);
    }
}
