//! The configuration file (`--config`, `KESTREL_CONFIG`) and `--show-config`, through the binary: options
//! from the file, the order command line > environment > file > default, and mistakes in the file named.

use assert_cmd::Command;
use kestrel_testkit::{Entry, Image};
use predicates::prelude::*;

fn kestrel() -> Command {
    let mut c = Command::cargo_bin("kestrel").unwrap();
    c.env("KESTREL_SCANNERS", "none");
    // A cache of this test process's own, in cargo's scratch directory for tests (not left in /tmp).
    c.env(
        "KESTREL_CACHE_DIR",
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("settings-cache-{}", std::process::id())),
    );
    for var in ["KESTREL_CONFIG", "KESTREL_METRICS", "KESTREL_TOKEN", "KESTREL_SERVER", "KESTREL_NATS", "KESTREL_STORE"]
    {
        c.env_remove(var);
    }
    c
}

/// kestrel with `--config FILE` and then `args`.
fn with_config(config: &std::path::Path, args: &[&str]) -> Command {
    let mut c = kestrel();
    c.arg("--config").arg(config).args(args);
    c
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `key: value` lines of a `--show-config` output, without their source comments.
fn settings(shown: &str) -> Vec<String> {
    shown
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.split("  # ").next().unwrap().to_string())
        .collect()
}

#[test]
fn options_come_from_the_file_and_the_command_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("app.tar");
    Image::new(vec![vec![
        Entry::File("etc/os-release".into(), b"ID=alpine\nVERSION_ID=3.19.1\n".to_vec()),
        Entry::File("lib/apk/db/installed".into(), b"P:musl\nV:1.2.4-r2\nA:x86_64\n\n".to_vec()),
    ]])
    .write_docker_archive(&archive, &["app:1"]);
    let config = write(&dir, "kestrel.yaml", "image:\n  format: json\n");

    // The file's format: JSON.
    let out = with_config(&config, &["image", "--input"]).arg(&archive).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the file asked for JSON");
    assert!(report.to_string().contains("musl"));

    // The command line's format wins: a table, not JSON.
    let out = kestrel()
        .env("KESTREL_CONFIG", &config)
        .args(["image", "--input"])
        .arg(&archive)
        .args(["-f", "table"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(serde_json::from_slice::<serde_json::Value>(&out.stdout).is_err());
    assert!(stdout(&out).contains("musl"));
}

#[test]
fn show_config_names_where_each_option_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        &dir,
        "kestrel.yaml",
        "verbose: 1\ndetect:\n  profiles: /from/file\n  metrics: 127.0.0.1:1\n  rules: [a.yaml, b.yaml]\n  syscalls: true\n  save: false\n",
    );
    let out = with_config(&config, &["detect", "--profiles", "/from/cli", "--show-config"])
        .env("KESTREL_METRICS", "127.0.0.1:2")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown = stdout(&out);
    for line in [
        "verbose: 1  # file",
        "detect:",
        "  profiles: /from/cli  # command line",
        "  metrics: 127.0.0.1:2  # environment KESTREL_METRICS",
        "  rules: [a.yaml, b.yaml]  # file",
        "  syscalls: true  # file",
        "  save: false  # file",
        "  spool: /var/lib/kestrel/spool  # default",
        "  # server: <URL>  (not set)",
    ] {
        assert!(shown.lines().any(|l| l == line), "no line {line:?} in:\n{shown}");
    }
    // Every option is documented: a comment line before each.
    assert!(shown.contains("  # The profile directory\n  profiles:"), "{shown}");
}

#[test]
fn show_config_prints_a_file_that_reproduces_the_same_options() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(&dir, "a.yaml", "server:\n  listen: 127.0.0.1:9999\n  retention-days: 7\n");
    let first = with_config(&config, &["server", "--data-dir", "/tmp/x y", "--show-config"]).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let again = write(&dir, "b.yaml", &stdout(&first));
    let second = with_config(&again, &["server", "--show-config"]).output().unwrap();
    assert!(second.status.success(), "{}\n{}", String::from_utf8_lossy(&second.stderr), stdout(&first));
    assert_eq!(settings(&stdout(&first)), settings(&stdout(&second)));
    assert!(stdout(&second).contains("data-dir: \"/tmp/x y\"  # file"), "{}", stdout(&second));
}

#[test]
fn a_required_option_may_come_from_a_subcommand_section() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(&dir, "kestrel.yaml", "server:\n  listen: 0.0.0.0:1\n  token:\n    role: viewer\n");
    with_config(&config, &["server", "token", "--name", "ci-1"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("kst_"))
        .stderr(predicate::str::contains("role: viewer").and(predicate::str::contains("name: ci-1")));
}

#[test]
fn credentials_are_never_printed() {
    let out = kestrel().env("KESTREL_TOKEN", "kst_do_not_print_me").args(["detect", "--show-config"]).output().unwrap();
    assert!(out.status.success());
    let shown = stdout(&out);
    assert!(!shown.contains("kst_do_not_print_me"), "{shown}");
    assert!(shown.contains("  server-token: \"<redacted>\"  # environment KESTREL_TOKEN"), "{shown}");
    // A database password in a URL, a webhook's secret path.
    let out = kestrel()
        .env("KESTREL_STORE", "postgres://kestrel:pw-do-not-print@db/kestrel")
        .args(["server", "--notify", "chat:https://hooks.example/services/do-not-print", "--show-config"])
        .output()
        .unwrap();
    let shown = stdout(&out);
    assert!(out.status.success() && !shown.contains("do-not-print"), "{shown}");
    assert!(shown.contains("  store: \"postgres://kestrel:***@db/kestrel\"  # environment KESTREL_STORE"), "{shown}");
    assert!(shown.contains("  notify: [\"<redacted>\"]  # command line"), "{shown}");
}

#[test]
fn mistakes_in_the_file_are_errors_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        ("detect:\n  profles: /x\n", "detect", &["detect.profles: no such option (did you mean `profiles`?)"]),
        ("detcet:\n  profiles: /x\n", "detect", &["detcet: no such command (did you mean `detect`?)"]),
        // Checked whatever command runs.
        ("server:\n  retention-days: many\n", "catalogers", &["server.retention-days: invalid value 'many'"]),
        (
            "detect:\n  workload-by: nodes\n",
            "detect",
            &["detect.workload-by: invalid value 'nodes'", "image, container, label"],
        ),
        ("detect:\n  live: yes please\n", "detect", &["detect.live: a flag: give true or false, not a string"]),
        ("detect:\n  profiles: [a, b]\n", "detect", &["detect.profiles: takes a single value, not a list"]),
        ("detect: [1, 2]\n", "detect", &["detect: the options of a command are a mapping, not a list"]),
        (
            "detect:\n  config: other.yaml\n",
            "detect",
            &["detect.config: `--config` can only be given on the command line"],
        ),
        ("profile: 3\n", "detect", &["profile: the options of a command are a mapping, not a number"]),
        ("- detect\n", "detect", &["must be a mapping of commands"]),
        ("detect: {\n", "detect", &["not a valid YAML configuration"]),
    ];
    for (i, (text, command, wanted)) in cases.iter().enumerate() {
        let config = write(&dir, &format!("bad-{i}.yaml"), text);
        let out = with_config(&config, &[command]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
        assert!(err.contains(&config.display().to_string()), "{text:?}: the file is not named: {err}");
        for w in *wanted {
            assert!(err.contains(w), "{text:?}: no {w:?} in {err}");
        }
    }
    let missing = dir.path().join("missing.yaml");
    with_config(&missing, &["catalogers"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.yaml: cannot read: No such file"));
    // A billion laughs: refused while parsing, not expanded.
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        bomb += &format!("a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 10].join(", "));
    }
    bomb += "detect:\n  rules: *a9\n";
    let bomb = write(&dir, "bomb.yaml", &bomb);
    with_config(&bomb, &["catalogers"])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bomb.yaml: not a valid YAML configuration"));
    let huge = write(&dir, "huge.yaml", &format!("# {}\n", "x".repeat(2 << 20)));
    with_config(&huge, &["catalogers"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("huge.yaml: a configuration file larger than 1 MiB"));
}
