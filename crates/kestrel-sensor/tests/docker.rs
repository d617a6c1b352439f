//! What a real Docker engine (Debian's dockerd, started by the test kit with a data root and exec root of its own)
//! keeps of its containers, read as the sensor reads it: `config.v2.json` and `hostconfig.json` under the data root,
//! runc's `state.json` under the exec root. The image's name and id and the creation time must be what Docker itself
//! says (`docker inspect`); a container given `CAP_SYS_ADMIN` alone is not privileged. And the live sensor attributes
//! what a Docker container runs to it and its image. Needs root, like the engine and the sensor.

use kestrel_core::{ContainerRef, EventKind};
use kestrel_sensor::cgroup::cgroup2_root;
use kestrel_sensor::runtime::StateDirs;
use kestrel_sensor::{Config, Sensor};
use kestrel_testkit::services::Docker;
use std::time::{Duration, Instant};

/// A Docker engine holding `localhost/box:1`: a static busybox at /bin/busybox, nothing else.
fn docker_with_box() -> Docker {
    let docker = Docker::start();
    docker.load_image(&kestrel_testkit::busybox(), "localhost/box:1");
    docker
}

#[test]
fn docker_containers_are_described_as_docker_inspect_tells() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: dockerd needs root");
        return;
    }
    let docker = docker_with_box();
    let dirs = StateDirs::default().with_docker(Some(&docker.data_root()), Some(&docker.exec_root()));
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

/// The live sensor watching Docker's cgroup parent: what a container of the engine runs is attributed to the
/// container's id, with the image's name and id as Docker recorded them.
#[test]
fn the_sensor_attributes_a_docker_containers_events_to_it_and_its_image() {
    let docker = docker_with_box();
    let root = cgroup2_root().expect("a cgroup v2 hierarchy");
    // dockerd (cgroupfs driver) puts each container in /docker/<id>; the parent exists once the sensor watches it.
    let parent = root.join("docker");
    std::fs::create_dir_all(&parent).unwrap();
    let cfg = Config {
        watch_cgroups: vec![parent],
        state: StateDirs::default().with_docker(Some(&docker.data_root()), Some(&docker.exec_root())),
        ..Config::default()
    };
    let mut s = Sensor::start(cfg).unwrap_or_else(|e| panic!("{e}"));
    let marker = format!("inside-docker-{}", std::process::id());
    let script = format!("/bin/busybox sleep 1; : {marker}");
    let id = docker
        .cli(&["run", "-d", "--network", "none", "localhost/box:1", "/bin/busybox", "sh", "-c", &script])
        .trim()
        .to_string();
    let t = Instant::now();
    let mut seen = None;
    while seen.is_none() && t.elapsed() < Duration::from_secs(10) {
        let Some(e) = s.next(Duration::from_millis(50)) else { continue };
        if matches!(&e.kind, EventKind::Exec { argv, .. } if argv.iter().any(|a| a.contains(&marker))) {
            seen = Some(e);
        }
    }
    let image_id = docker.cli(&["inspect", "-f", "{{.Image}}", &id]).trim().to_string();
    docker.cli(&["rm", "-f", &id]);
    let e = seen.expect("the container's exec was not seen");
    let c = e.container.as_ref().expect("no container");
    assert_eq!((c.id.as_str(), c.runtime.as_str()), (id.as_str(), "docker"), "{c:?}");
    assert_eq!(c.image.as_deref(), Some("localhost/box:1"), "{c:?}");
    assert_eq!(c.image_id.as_deref(), Some(image_id.as_str()), "{c:?}");
    assert!(c.created_ns.is_some(), "{c:?}");
}
