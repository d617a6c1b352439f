//! What Podman keeps of its containers, read as the sensor reads it: the container's record in containers-storage
//! (`<graph root>/<driver>-containers/containers.json`) names its image and the image's id. A real Podman store (the
//! test kit's, vfs); the container is created, not run (this sandbox refuses the rlimits Podman sets to run one).

use kestrel_core::ContainerRef;
use kestrel_sensor::runtime::StateDirs;
use kestrel_testkit::services::Podman;

#[test]
fn podman_containers_are_described_as_podman_inspect_tells() {
    let podman = Podman::start();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("box.tar");
    kestrel_testkit::busybox().write_docker_archive(&archive, &["localhost/box:1"]);
    podman.load(&archive);
    let id = podman.cli(&["create", "--network", "none", "localhost/box:1", "/bin/busybox", "sleep", "60"]);
    let id = id.trim();
    let dirs = StateDirs { containers_storage: vec![podman.graph_root()], ..StateDirs::on_node(None) };
    let mut c = ContainerRef { id: id.to_string(), runtime: "podman".into(), ..Default::default() };
    assert!(dirs.describe(&mut c), "nothing found of {id}");
    assert_eq!(c.image.as_deref(), Some("localhost/box:1"), "{c:?}");
    let image = podman.cli(&["inspect", "-f", "{{.Image}}", id]);
    assert_eq!(c.image_id, Some(format!("sha256:{}", image.trim())), "{c:?}");
    // Another runtime's container of the same id is not looked for there.
    let mut other = ContainerRef { id: id.to_string(), runtime: "docker".into(), ..Default::default() };
    dirs.describe(&mut other);
    assert_eq!(other.image, None);
}
