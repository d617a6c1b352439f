//! `kestrel admission` as a cluster would use it, up to the wire: the real binary serving HTTPS with a
//! certificate from `kestrel admission cert`, real `AdmissionReview` requests (the kube and k8s-openapi
//! types, as the API server sends them), and a real `kestrel server` holding the scan reports of two images
//! (made by `kestrel image --server` against the fixture vulnerability database: one with Log4Shell, one
//! fixed). No Kubernetes API server runs here; the deployment manifest with its
//! ValidatingWebhookConfiguration is checked against the Kubernetes schema types instead.

use assert_cmd::cargo::CommandCargoExt;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kestrel_testkit::services::free_port;
use kestrel_testkit::{Compression, Entry, Image, OciLayout};
use kube::core::admission::AdmissionReview;
use kube::core::DynamicObject;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kestrel() -> Command {
    let mut c = Command::cargo_bin("kestrel").unwrap();
    c.env_remove("KESTREL_SERVER_TOKEN").env_remove("KESTREL_TOKEN").env_remove("KESTREL_SERVER");
    c
}

fn run(c: &mut Command) -> std::process::Output {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{:?}: {}", c, String::from_utf8_lossy(&out.stderr));
    out
}

fn token(role: &str, name: &str) -> (String, String) {
    let out = run(kestrel().args(["server", "token", "--role", role, "--name", name]));
    let entry = String::from_utf8(out.stderr)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("- ") || l.starts_with("  "))
        .map(|l| format!("{l}\n"))
        .collect();
    (String::from_utf8(out.stdout).unwrap().trim().to_string(), entry)
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < Duration::from_secs(20), "{what} did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An image holding log4j-core at `version`.
fn log4j(version: &str) -> Image {
    let pom = format!("groupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion={version}\n");
    let jar =
        kestrel_testkit::jar(&[("META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties", pom.as_bytes())]);
    Image::new(vec![vec![
        Entry::File("etc/os-release".into(), b"ID=debian\nVERSION_ID=\"12\"\n".to_vec()),
        Entry::File(format!("app/lib/log4j-core-{version}.jar"), jar),
    ]])
}

/// A `docker save` archive of [`log4j`] at `version`, tagged `tag`.
fn log4j_image(dir: &Path, tag: &str, version: &str) -> PathBuf {
    let p = dir.join(format!("{version}.tar"));
    log4j(version).write_docker_archive(&p, &[tag]);
    p
}

fn pod(image: &str, privileged: bool) -> Pod {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"containers": [{"name": "web", "image": image, "securityContext": {"privileged": privileged}}]}}))
    .unwrap()
}

/// An AdmissionReview as the API server sends it.
fn review(uid: &str, kind: &str, resource: &str, group: &str, ns: &str, op: &str, object: Value) -> Value {
    let version = "v1";
    let r = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": object["metadata"]["name"], "namespace": ns, "operation": op,
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": object, "oldObject": null, "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}});
    // The kube types read it: the request is well formed.
    let _: AdmissionReview<DynamicObject> = serde_json::from_value(r.clone()).unwrap();
    r
}

#[test]
fn the_webhook_over_https_with_real_reviews() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // The kestrel server, with the two images' reports sent by CI.
    let (ci, ci_entry) = token("ci", "gitlab");
    let (viewer, viewer_entry) = token("viewer", "admission");
    std::fs::write(d.join("tokens.yaml"), format!("tokens:\n{ci_entry}{viewer_entry}")).unwrap();
    // On HTTPS, its certificate signed by a private CA that every client is given.
    run(kestrel().args(["server", "cert", "--name", "127.0.0.1", "--out"]).arg(d.join("server-certs")));
    let ca = d.join("server-certs/ca.crt").display().to_string();
    let port = free_port();
    let server_url = format!("https://127.0.0.1:{port}");
    let server = Running(
        kestrel()
            .args(["server", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(d.join("data"))
            .arg("--tokens")
            .arg(d.join("tokens.yaml"))
            .arg("--tls-cert")
            .arg(d.join("server-certs/server.crt"))
            .arg("--tls-key")
            .arg(d.join("server-certs/server.key"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the server", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let db = d.join("db");
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kestrel-vulndb/tests/fixtures/db");
    run(kestrel()
        .env("KESTREL_DB_DIR", &db)
        .args(["db", "import", "--source", "osv:Maven"])
        .arg(fixtures.join("osv-log4j.json")));
    for (tag, version) in
        [("registry.corp.example/shop/app:1.0", "2.14.1"), ("registry.corp.example/shop/app:1.1", "2.17.1")]
    {
        run(kestrel()
            .env("KESTREL_DB_DIR", &db)
            .env("KESTREL_CACHE_DIR", d.join("cache"))
            .args(["image", "--input"])
            .arg(log4j_image(d, tag, version))
            .args([
                "-f",
                "json",
                "-o",
                "/dev/null",
                "--server",
                &server_url,
                "--server-token",
                &ci,
                "--server-ca",
                &ca,
            ]));
    }

    // A build CI scanned as an OCI layout, sent under the build's own name: a pod naming the image by its manifest
    // digest finds this report by the digest alone.
    let mut layout = OciLayout::new();
    layout.add(&log4j("2.14.1"), "build-77", Compression::Gzip);
    layout.write_dir(&d.join("layout"));
    run(kestrel()
        .env("KESTREL_DB_DIR", &db)
        .args(["image", &format!("oci:{}", d.join("layout").display()), "-f", "json", "-o"])
        .arg(d.join("build-77.json"))
        .args(["--server", &server_url, "--server-token", &ci, "--server-ca", &ca]));
    let build: Value = serde_json::from_slice(&std::fs::read(d.join("build-77.json")).unwrap()).unwrap();
    let manifest = build["target"]["manifest_digest"].as_str().expect("a manifest digest").to_string();

    // The webhook: a certificate from `kestrel admission cert`, the policy, HTTPS.
    run(kestrel().args(["admission", "cert", "--out"]).arg(d.join("certs")).args([
        "--name",
        "localhost",
        "--name",
        "127.0.0.1",
    ]));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(d.join("certs/tls.key")).unwrap().permissions().mode() & 0o777, 0o600);
    std::fs::write(d.join("token"), &viewer).unwrap();
    let policy = format!(
        "mode: deny\npod_security: baseline\nexempt_namespaces: [kube-system]\nregistries:\n  forbidden: [docker.io/]\n\
         vulnerabilities:\n  server: {server_url}\n  token_file: {}\n  ca_file: {ca}\n  max_severity: critical\n  unscanned: deny\n  on_error: allow\n  cache_seconds: 1\n",
        d.join("token").display()
    );
    std::fs::write(d.join("admission.yaml"), policy).unwrap();
    let hport = free_port();
    let _webhook = Running(
        kestrel()
            .args(["admission", "--listen", &format!("127.0.0.1:{hport}"), "--policy"])
            .arg(d.join("admission.yaml"))
            .arg("--tls-cert")
            .arg(d.join("certs/tls.crt"))
            .arg("--tls-key")
            .arg(d.join("certs/tls.key"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ca = std::fs::read(d.join("certs/ca.crt")).unwrap();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[ureq::tls::Certificate::from_pem(&ca).unwrap().to_owned()]))
        .build();
    let https: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build().into();
    let base = format!("https://127.0.0.1:{hport}");
    wait_for("the webhook", || https.get(format!("{base}/healthz")).call().is_ok());
    let ask = |r: Value| -> Value {
        let mut resp = https.post(format!("{base}/validate")).send_json(&r).unwrap();
        assert_eq!(resp.status(), 200);
        let v: Value = resp.body_mut().read_json().unwrap();
        let typed: AdmissionReview<DynamicObject> = serde_json::from_value(v.clone()).unwrap();
        let answer = typed.response.expect("a response");
        assert_eq!(answer.uid, r["request"]["uid"].as_str().unwrap(), "the answer names the request");
        v["response"].clone()
    };
    let pod_review = |uid: &str, image: &str, privileged: bool, ns: &str| {
        review(uid, "Pod", "pods", "", ns, "CREATE", serde_json::to_value(pod(image, privileged)).unwrap())
    };

    // A pod from the fixed image: admitted, nothing to say.
    let r = ask(pod_review("u1", "registry.corp.example/shop/app:1.1", false, "shop"));
    assert_eq!((r["allowed"].as_bool(), r.get("warnings")), (Some(true), None), "{r}");
    // Log4Shell in the image: refused, the CVE named.
    let r = ask(pod_review("u2", "registry.corp.example/shop/app:1.0", false, "shop"));
    assert_eq!(r["allowed"], false);
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(msg.contains("CVE-2021-44228") && msg.contains("log4j-core"), "{msg}");
    // Pinned by digest: the build's report decides, whatever name the pod gives; an unknown digest is unscanned,
    // even beside a tag whose report is clean.
    let r = ask(pod_review("u2d", &format!("registry.corp.example/shop/app@{manifest}"), false, "shop"));
    assert_eq!(r["allowed"], false, "{r}");
    assert!(r["status"]["message"].as_str().unwrap().contains("CVE-2021-44228"), "{r}");
    let unknown = format!("sha256:{}", "e".repeat(64));
    let r = ask(pod_review("u2e", &format!("registry.corp.example/shop/app:1.1@{unknown}"), false, "shop"));
    assert_eq!(r["allowed"], false, "{r}");
    assert!(r["status"]["message"].as_str().unwrap().contains("never scanned"), "{r}");
    // Privileged: Pod Security baseline.
    let r = ask(pod_review("u3", "registry.corp.example/shop/app:1.1", true, "shop"));
    assert!(r["status"]["message"].as_str().unwrap().contains("pss:baseline:privileged"), "{r}");
    // Docker Hub is forbidden, and that image was never scanned: both said.
    let r = ask(pod_review("u4", "nginx:1.25", false, "shop"));
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("docker.io/library/nginx:1.25") && msg.contains("forbidden") && msg.contains("never scanned"),
        "{msg}"
    );
    // A Deployment's template is held to the same policy.
    let deploy: Deployment = serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": serde_json::to_value(pod("registry.corp.example/shop/app:1.0", false)).unwrap()["spec"]}}}))
    .unwrap();
    let r =
        ask(review("u5", "Deployment", "deployments", "apps", "shop", "CREATE", serde_json::to_value(deploy).unwrap()));
    assert!(r["status"]["message"].as_str().unwrap().contains("CVE-2021-44228"), "{r}");
    // Exempt namespaces and deletions go through.
    assert_eq!(ask(pod_review("u6", "nginx:1.25", true, "kube-system"))["allowed"], true);
    let mut del = pod_review("u7", "nginx:1.25", true, "shop");
    del["request"]["operation"] = json!("DELETE");
    assert_eq!(ask(del)["allowed"], true);
    // Not an AdmissionReview: 400, said why.
    let resp = https.post(format!("{base}/validate")).send_json(json!({"kind": "Pod"})).unwrap();
    assert_eq!(resp.status(), 400);
    // HTTPS only.
    assert!(ureq::get(format!("http://127.0.0.1:{hport}/healthz")).call().is_err());
    // The server gone: the policy says allow (fail open) for what it cannot ask about; the rest still holds.
    drop(server);
    std::thread::sleep(Duration::from_millis(1100)); // past cache_seconds
    let r = ask(pod_review("u8", "registry.corp.example/shop/app:1.1", false, "shop"));
    assert_eq!(r["allowed"], true, "{r}");
    let r = ask(pod_review("u9", "registry.corp.example/shop/app:1.1", true, "shop"));
    assert_eq!(r["allowed"], false, "{r}");
    let metrics = https.get(format!("{base}/metrics")).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(metrics.contains("kestrel_admission_reviews_total{result=\"denied\"}"), "{metrics}");
}

#[test]
fn the_deployment_manifest_fits_the_kubernetes_types_and_kestrels_own_checks() {
    let text = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/admission.yaml"))
        .unwrap()
        .replace("CA_BUNDLE", "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"); // what the documented sed puts there
    let docs: Vec<Value> = text.split("\n---\n").map(|d| serde_yaml::from_str(d).unwrap()).collect();
    let of = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap().clone();
    let hook: ValidatingWebhookConfiguration = serde_json::from_value(of("ValidatingWebhookConfiguration")).unwrap();
    let w = &hook.webhooks.as_ref().unwrap()[0];
    let svc = w.client_config.service.as_ref().unwrap();
    assert_eq!((svc.path.as_deref(), svc.port), (Some("/validate"), Some(443)));
    assert_eq!(w.admission_review_versions, ["v1"]);
    let deploy: Deployment = serde_json::from_value(of("Deployment")).unwrap();
    let args = deploy.spec.template.spec.unwrap().containers[0].args.clone().unwrap();
    assert_eq!(args[0], "admission");
    // The service it names exists, on the port the container serves.
    let service = of("Service");
    assert_eq!(service["metadata"]["name"], svc.name.as_str());
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "https");
    // The policy in the ConfigMap parses, and the webhook's own Deployment passes Pod Security restricted.
    let policy = of("ConfigMap")["data"]["admission.yaml"].as_str().unwrap().to_string();
    kestrel_server_policy_parses(&policy);
    let out = kestrel()
        .args(["config", "-f", "json", "--pss-level", "restricted", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(text.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pss: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"].as_str().unwrap_or("").starts_with("pss:"))
        .collect();
    assert!(pss.is_empty(), "{pss:?}");
}

fn kestrel_server_policy_parses(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "kst_x").unwrap();
    // The token is a mounted Secret in the cluster; here a file of the test's.
    assert!(text.contains("/var/run/secrets/kestrel/token"));
    let text = text.replace("/var/run/secrets/kestrel/token", token.to_str().unwrap());
    let p = dir.path().join("admission.yaml");
    std::fs::write(&p, text).unwrap();
    // `kestrel admission` reads it at start; a bad policy is an error before any listening.
    let out = kestrel()
        .args([
            "admission",
            "--listen",
            "127.0.0.1:1",
            "--tls-cert",
            "/nonexistent.crt",
            "--tls-key",
            "/nonexistent.key",
            "--policy",
        ])
        .arg(&p)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("/nonexistent.crt"),
        "the policy parsed; the certificate is what is missing: {stderr}"
    );
}
