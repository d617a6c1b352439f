//! An image's configuration (the OCI image config: `User`, `ExposedPorts`, `Healthcheck`, `Env`, `Volumes`, and
//! the build history) and a Docker daemon's `daemon.json`, checked against CIS Docker Benchmark 1.6 (§2 and §4)
//! and NIST SP 800-190.

use crate::checks::{self as c, Check};
use crate::yaml::Document;
use kestrel_core::ConfigFinding;
use serde_json::Value;

fn finding(
    check: &Check,
    file: &str,
    resource: &str,
    line: Option<usize>,
    field: &str,
    message: String,
) -> ConfigFinding {
    check.finding(c::At { file, resource, line, field }, message)
}

const SENSITIVE_VOLUMES: &[&str] = &[
    "/",
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/boot",
    "/proc",
    "/sys",
    "/var/run/docker.sock",
    "/run/docker.sock",
];

/// Whether a JSON value is an OCI image config (or Docker's): it has `rootfs` with `diff_ids`, or a `config`
/// object beside `architecture`.
pub fn is_image_config(v: &Value) -> bool {
    v["rootfs"]["diff_ids"].is_array() || (v["config"].is_object() && v["architecture"].is_string())
}

/// Checks an image config. `resource` names the image (`app.tar`, `registry/app:1.2`).
pub fn check_image_config(file: &str, resource: &str, v: &Value) -> Vec<ConfigFinding> {
    let mut out = Vec::new();
    let cfg = &v["config"];
    let user = cfg["User"].as_str().unwrap_or_default();
    let name = user.split(':').next().unwrap_or_default();
    if name.is_empty() || name == "root" || name == "0" {
        let shown = if user.is_empty() { "no user is set: root".to_string() } else { format!("the user is {user:?}") };
        out.push(finding(&c::IMG_USER, file, resource, None, "config.User", shown));
    }
    let hc = &cfg["Healthcheck"]["Test"];
    if hc.is_null() || hc.as_array().and_then(|a| a.first()).and_then(Value::as_str) == Some("NONE") {
        out.push(finding(&c::IMG_HEALTHCHECK, file, resource, None, "config.Healthcheck", "no health check".into()));
    }
    for port in cfg["ExposedPorts"].as_object().into_iter().flatten().map(|(k, _)| k) {
        if port.split('/').next() == Some("22") {
            out.push(finding(
                &c::IMG_SSH,
                file,
                resource,
                None,
                "config.ExposedPorts",
                format!("port {port} (ssh) is exposed"),
            ));
        }
    }
    for (i, e) in cfg["Env"].as_array().into_iter().flatten().filter_map(Value::as_str).enumerate() {
        if let Some((k, val)) = e.split_once('=') {
            if c::secret_name(k) && !val.is_empty() {
                out.push(finding(
                    &c::IMG_SECRET_ENV,
                    file,
                    resource,
                    None,
                    &format!("config.Env[{i}]"),
                    format!("{k} holds a literal value (redacted)"),
                ));
            }
        }
    }
    for vol in cfg["Volumes"].as_object().into_iter().flatten().map(|(k, _)| k) {
        let p = if vol == "/" { "/" } else { vol.trim_end_matches('/') };
        if SENSITIVE_VOLUMES.contains(&p) {
            out.push(finding(
                &c::IMG_VOLUME,
                file,
                resource,
                None,
                "config.Volumes",
                format!("{vol} is declared a volume"),
            ));
        }
    }
    // Build arguments are recorded in the history (`|1 TOKEN=… /bin/sh -c …`): a secret passed as ARG stays in
    // the image for anyone who pulls it.
    for (i, h) in v["history"].as_array().into_iter().flatten().enumerate() {
        let by = h["created_by"].as_str().unwrap_or_default();
        let args = by.strip_prefix('|').map(|r| r.split_once(' ').map(|x| x.1).unwrap_or_default()).unwrap_or_default();
        for word in args.split_whitespace().take_while(|w| w.contains('=')) {
            let (k, val) = word.split_once('=').unwrap_or_default();
            if c::secret_name(k) && !val.is_empty() {
                out.push(finding(
                    &c::IMG_SECRET_HISTORY,
                    file,
                    resource,
                    None,
                    &format!("history[{i}].created_by"),
                    format!("build argument {k} is recorded with its value (redacted)"),
                ));
            }
        }
        let lower = by.to_ascii_lowercase();
        if crate::dockerfile::pipes_download_into_interpreter(&lower) {
            out.push(finding(
                &c::DF_CURL_PIPE,
                file,
                resource,
                None,
                &format!("history[{i}].created_by"),
                "a build step piped a download into a shell".into(),
            ));
        }
    }
    out
}

/// Whether a file name is a Docker daemon configuration.
pub fn is_daemon_json(name: &str) -> bool {
    name == "daemon.json"
}

/// Checks a Docker daemon's `daemon.json` (CIS Docker Benchmark 1.6 §2).
pub fn check_daemon(file: &str, doc: &Document) -> Vec<ConfigFinding> {
    let v = &doc.value;
    let mut out = Vec::new();
    let res = "Docker daemon";
    let mut add = |check: &Check, key: &str, message: String| {
        out.push(finding(check, file, res, doc.line(&format!("/{key}")), key, message));
    };
    if v["icc"].as_bool() != Some(false) {
        add(&c::DD_ICC, "icc", "containers on the default bridge can talk to each other (icc is not false)".into());
    }
    if v["userns-remap"].as_str().is_none_or(str::is_empty) {
        add(
            &c::DD_USERNS,
            "userns-remap",
            "no user-namespace remapping: root in a container is root on the host".into(),
        );
    }
    if v["no-new-privileges"].as_bool() != Some(true) {
        add(&c::DD_NNP, "no-new-privileges", "containers may gain privileges (setuid binaries work)".into());
    }
    if v["live-restore"].as_bool() != Some(true) {
        add(&c::DD_LIVE_RESTORE, "live-restore", "containers stop when the daemon does".into());
    }
    if v["userland-proxy"].as_bool() != Some(false) {
        add(
            &c::DD_USERLAND_PROXY,
            "userland-proxy",
            "the userland proxy is on (hairpin NAT is the alternative)".into(),
        );
    }
    if let Some(r) = v["insecure-registries"].as_array().filter(|a| !a.is_empty()) {
        let list: Vec<&str> = r.iter().filter_map(Value::as_str).collect();
        add(
            &c::DD_INSECURE_REGISTRY,
            "insecure-registries",
            format!("images are pulled without TLS from {}", list.join(", ")),
        );
    }
    let tcp = v["hosts"].as_array().into_iter().flatten().filter_map(Value::as_str).any(|h| h.starts_with("tcp://"));
    if tcp && v["tlsverify"].as_bool() != Some(true) {
        add(&c::DD_TCP_TLS, "hosts", "the API listens on TCP without tlsverify: anyone who reaches it is root".into());
    }
    if v["seccomp-profile"].as_str() == Some("unconfined") {
        add(&c::DD_SECCOMP, "seccomp-profile", "seccomp is off for every container".into());
    }
    if v["experimental"].as_bool() == Some(true) {
        add(&c::DD_EXPERIMENTAL, "experimental", "experimental features are on".into());
    }
    if v["log-level"].as_str() == Some("debug") {
        add(&c::DD_LOG_LEVEL, "log-level", "the log level is debug".into());
    }
    out
}
