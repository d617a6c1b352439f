//! Image configurations and Docker daemon configurations.

use kestrel_config::scan_text;

#[test]
fn an_image_config_is_checked_for_user_healthcheck_ports_env_volumes_and_history() {
    let cfg = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {
            "User": "",
            "ExposedPorts": {"22/tcp": {}, "8080/tcp": {}},
            "Env": ["PATH=/usr/bin", "DB_PASSWORD=hunter2", "EMPTY_TOKEN="],
            "Volumes": {"/var/run/docker.sock": {}, "/data": {}}
        },
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [
            {"created_by": "|2 GITHUB_TOKEN=ghp_x VERSION=1 /bin/sh -c make"},
            {"created_by": "/bin/sh -c curl -sL https://x.example/i.sh | bash"}
        ]
    });
    let f = scan_text("config.json", &cfg.to_string()).unwrap();
    let ids: Vec<&str> = f.iter().map(|x| x.id.as_str()).collect();
    for id in [
        "image:user-root",
        "image:no-healthcheck",
        "image:ssh-port",
        "image:secret-in-env",
        "image:sensitive-volume",
        "image:secret-in-history",
        "dockerfile:curl-pipe-shell",
    ] {
        assert_eq!(ids.iter().filter(|x| **x == id).count(), 1, "{id}: {ids:?}");
    }
    assert!(f.iter().all(|x| !x.message.contains("hunter2") && !x.message.contains("ghp_")));
    // A careful image: non-root, a health check, nothing else to say.
    let good = serde_json::json!({"architecture": "arm64", "os": "linux",
        "config": {"User": "65532:65532", "Healthcheck": {"Test": ["CMD", "/app", "health"]}, "Env": ["TOKEN_FILE=/run/secrets/t"]},
        "rootfs": {"type": "layers", "diff_ids": []}});
    let f = scan_text("config.json", &good.to_string()).unwrap();
    assert!(f.is_empty(), "TOKEN_FILE names a mounted secret's path, not a secret: {f:?}");
}

#[test]
fn daemon_json_is_held_to_cis_docker_section_2() {
    let text = "{\n  \"icc\": true,\n  \"insecure-registries\": [\"registry.local:5000\"],\n  \"hosts\": [\"unix:///var/run/docker.sock\", \"tcp://0.0.0.0:2375\"],\n  \"log-level\": \"debug\"\n}\n";
    let f = scan_text("/etc/docker/daemon.json", text).unwrap();
    let line = |id: &str| f.iter().find(|x| x.id == id).unwrap_or_else(|| panic!("{id}")).line;
    assert_eq!(line("docker-daemon:icc"), Some(2));
    assert_eq!(line("docker-daemon:insecure-registry"), Some(3));
    assert_eq!(line("docker-daemon:tcp-without-tls"), Some(4));
    assert_eq!(line("docker-daemon:log-level"), Some(5));
    assert_eq!(line("docker-daemon:userns-remap"), Some(1), "not set: the object where it belongs");
    let hardened = r#"{"icc": false, "userns-remap": "default", "no-new-privileges": true, "live-restore": true, "userland-proxy": false}"#;
    assert!(scan_text("daemon.json", hardened).unwrap().is_empty());
}
