//! Images in a registry, over the OCI distribution API: `docker://registry.example/team/app:1.2`,
//! `docker://nginx:1.25` (Docker Hub), `docker://ghcr.io/org/app@sha256:…`. [`resolve_unless`] fetches the manifests
//! and the configuration and leaves the layers to be read as they download (in parallel, nothing written to disk).
//!
//! - Manifests: OCI and Docker schema 2, single or multi-platform (the platform asked for, else the host's).
//! - Credentials as Docker and Podman keep them: `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
//!   `$DOCKER_CONFIG/config.json`, `~/.docker/config.json` — `auths` entries (`auth`, `username`/`password`,
//!   `identitytoken`) and credential helpers (`credHelpers`, `credsStore`: `docker-credential-NAME get`).
//! - Authentication: HTTP Basic, and the bearer-token flow (`WWW-Authenticate: Bearer realm=…,service=…,
//!   scope=…`, anonymous or with the credentials).
//! - Every blob is hashed while it is read and refused when it does not match its digest; sizes are bounded by
//!   [`crate::Limits`]; digests are checked for form before they name a URL.
//! - HTTPS, except for registries on the loopback interface and those named in `plain_http` (as Docker's
//!   `insecure-registries`).

use crate::Limits;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
#[error("{reference}: {reason}")]
pub struct RegistryError {
    /// The reference (or registry) asked for.
    pub reference: String,
    /// What went wrong.
    pub reason: String,
}

fn err(reference: &str, reason: impl Into<String>) -> RegistryError {
    RegistryError { reference: reference.to_string(), reason: reason.into() }
}

/// An image reference: registry, repository, and a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `registry.example:5000`, `docker.io`.
    pub registry: String,
    /// `team/app`, `library/nginx`.
    pub repository: String,
    /// `1.2`.
    pub tag: Option<String>,
    /// `sha256:…`.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `[docker://][REGISTRY/]REPOSITORY[:TAG][@DIGEST]` (Docker Hub when no registry is named).
    pub fn parse(s: &str) -> Result<Reference, RegistryError> {
        let raw = s.strip_prefix("docker://").unwrap_or(s);
        let (name, digest) = match raw.split_once('@') {
            Some((n, d)) => (n, Some(d.to_string())),
            None => (raw, None),
        };
        if let Some(d) = &digest {
            check_digest(d).map_err(|e| err(s, e))?;
        }
        let first = name.split('/').next().unwrap_or("");
        let (registry, rest) =
            if name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost") {
                (first.to_string(), &name[first.len() + 1..])
            } else {
                ("docker.io".to_string(), name)
            };
        let (repository, tag) = match rest.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r.to_string(), Some(t.to_string())),
            _ => (rest.to_string(), None),
        };
        if let Some((_, port)) = registry.rsplit_once(':') {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(s, format!("registry {registry}: the port is not a number")));
            }
        }
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        let valid_repo = !repository.is_empty()
            && repository.split('/').all(|c| {
                !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            });
        if !valid_repo {
            return Err(err(s, "not an image reference ([REGISTRY/]REPOSITORY[:TAG][@DIGEST], lower case)"));
        }
        if tag.as_deref().is_some_and(|t| {
            t.is_empty() || t.len() > 128 || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        }) {
            return Err(err(s, "a tag is 1 to 128 letters, digits, `.`, `_` or `-`"));
        }
        let tag = if tag.is_none() && digest.is_none() { Some("latest".to_string()) } else { tag };
        Ok(Reference { registry, repository, tag, digest })
    }

    /// The host the API is served on (Docker Hub's is `registry-1.docker.io`).
    pub fn api_host(&self) -> &str {
        if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// What to ask the registry for: the digest when there is one, else the tag.
    fn wanted(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn check_digest(d: &str) -> Result<&str, String> {
    kestrel_core::sha256_hex(d).ok_or_else(|| format!("digest {d:?}: only sha256:<64 hex digits> is supported"))
}

/// Credentials for a registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// User name and password (or token).
    pub basic: Option<(String, String)>,
    /// An OAuth refresh token (`identitytoken`).
    pub identity_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = self.basic.as_ref().map(|(u, _)| u.as_str());
        write!(f, "Credentials {{ user: {user:?}, password: ***, identity_token: {} }}", self.identity_token.is_some())
    }
}

/// The auth files Docker and Podman read, in the order they are tried.
pub fn auth_files() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE") {
        v.push(PathBuf::from(p));
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        v.push(PathBuf::from(d).join("containers/auth.json"));
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        v.push(PathBuf::from(d).join("config.json"));
    }
    if let Some(h) = std::env::var_os("HOME") {
        v.push(PathBuf::from(h).join(".docker/config.json"));
    }
    v
}

/// The credentials the auth files hold for `registry`, if any.
pub fn credentials_for(registry: &str) -> Result<Option<Credentials>, RegistryError> {
    let keys: Vec<String> = if registry == "docker.io" {
        ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"]
            .map(String::from)
            .to_vec()
    } else {
        vec![registry.to_string(), format!("https://{registry}"), format!("http://{registry}")]
    };
    for file in auth_files() {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        let shown = file.display().to_string();
        let v: Value = serde_json::from_str(&text).map_err(|e| err(&shown, format!("not JSON: {e}")))?;
        // A helper for this registry, then the entry, then the default store.
        if let Some(helper) = keys.iter().find_map(|k| v["credHelpers"][k].as_str()) {
            return helper_get(helper, registry).map(Some);
        }
        for k in &keys {
            let e = &v["auths"][k];
            if e.is_object() {
                let mut c = Credentials::default();
                if let Some(a) = e["auth"].as_str().filter(|a| !a.is_empty()) {
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(a.trim())
                        .map_err(|_| err(&shown, format!("auths.{k}.auth is not base64")))?;
                    let s =
                        String::from_utf8(decoded).map_err(|_| err(&shown, format!("auths.{k}.auth is not UTF-8")))?;
                    let (u, p) =
                        s.split_once(':').ok_or_else(|| err(&shown, format!("auths.{k}.auth is not user:password")))?;
                    c.basic = Some((u.to_string(), p.to_string()));
                } else if let (Some(u), Some(p)) = (e["username"].as_str(), e["password"].as_str()) {
                    c.basic = Some((u.to_string(), p.to_string()));
                }
                c.identity_token = e["identitytoken"].as_str().map(str::to_string);
                if c != Credentials::default() {
                    return Ok(Some(c));
                }
            }
        }
        if let Some(store) = v["credsStore"].as_str() {
            return helper_get(store, registry).map(Some);
        }
    }
    Ok(None)
}

/// Asks a Docker credential helper (`docker-credential-NAME get`, the registry on standard input).
fn helper_get(name: &str, registry: &str) -> Result<Credentials, RegistryError> {
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(err(registry, format!("credential helper {name:?}: not a helper name")));
    }
    let bin = format!("docker-credential-{name}");
    let mut child = std::process::Command::new(&bin)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| err(registry, format!("{bin}: {e}")))?;
    let server = if registry == "docker.io" { "https://index.docker.io/v1/" } else { registry };
    child.stdin.take().map(|mut i| i.write_all(server.as_bytes()));
    let out = child.wait_with_output().map_err(|e| err(registry, format!("{bin}: {e}")))?;
    if !out.status.success() {
        return Err(err(registry, format!("{bin} get: {}", String::from_utf8_lossy(&out.stdout).trim())));
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| err(registry, format!("{bin} get: {e}")))?;
    let (user, secret) = (v["Username"].as_str().unwrap_or(""), v["Secret"].as_str().unwrap_or(""));
    Ok(if user == "<token>" {
        Credentials { basic: None, identity_token: Some(secret.to_string()) }
    } else {
        Credentials { basic: Some((user.to_string(), secret.to_string())), identity_token: None }
    })
}

/// How to pull.
#[derive(Clone, Default)]
pub struct PullOptions {
    /// Platform to pick from a multi-platform image (`linux/arm64`); default: the host's.
    pub platform: Option<String>,
    /// Registries (host:port) to reach over plain HTTP besides the loopback ones.
    pub plain_http: Vec<String>,
    /// Size bounds.
    pub limits: Limits,
}

impl PullOptions {
    /// Defaults, with `plain_http` from `KESTREL_INSECURE_REGISTRIES` (comma-separated `HOST[:PORT]`).
    pub fn from_env() -> PullOptions {
        let plain_http = std::env::var("KESTREL_INSECURE_REGISTRIES")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        PullOptions { plain_http, ..Default::default() }
    }
}

/// A registry session: the HTTP agent, credentials, and the bearer token once there is one.
pub struct Registry {
    host: String,
    scheme: &'static str,
    agent: ureq::Agent,
    creds: Option<Credentials>,
    token: Option<String>,
}

const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// Parses `Bearer realm="…",service="…",scope="…"` (or `Basic realm="…"`).
fn challenge(h: &str) -> (String, Vec<(String, String)>) {
    let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h.trim(), ""));
    let mut params = Vec::new();
    let mut s = rest;
    while let Some(eq) = s.find('=') {
        let key = s[..eq].trim().trim_start_matches(',').trim().to_string();
        let after = &s[eq + 1..];
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (q[..end].to_string(), q.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.push((key, value));
        s = next;
    }
    (scheme.to_ascii_lowercase(), params)
}

fn loopback(host: &str) -> bool {
    let h = host.rsplit_once(':').map_or(host, |(h, p)| if p.bytes().all(|b| b.is_ascii_digit()) { h } else { host });
    h == "localhost" || h.starts_with("127.") || h == "[::1]"
}

impl Registry {
    /// A session with `host` (the API host), credentials from the auth files for `registry`.
    pub fn connect(registry: &str, host: &str, opts: &PullOptions) -> Result<Registry, RegistryError> {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_body(Some(Duration::from_secs(600)))
            .max_redirects(5)
            .build()
            .into();
        let scheme =
            if loopback(host) || opts.plain_http.iter().any(|h| h == host || h == registry) { "http" } else { "https" };
        Ok(Registry { host: host.to_string(), scheme, agent, creds: credentials_for(registry)?, token: None })
    }

    fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.host)
    }

    /// GET with the session's authorisation; on 401 it authenticates as the challenge asks and tries again.
    fn get(
        &mut self,
        path: &str,
        accept: &str,
        scope: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, RegistryError> {
        for attempt in 0..2 {
            let url = self.url(path);
            let mut req = self.agent.get(&url).header("Accept", accept);
            if let Some(auth) = self.authorization() {
                req = req.header("Authorization", auth);
            }
            let resp = req.call().map_err(|e| err(&url, e.to_string()))?;
            if resp.status() != 401 || attempt == 1 {
                return Ok(resp);
            }
            let www = resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let (kind, params) = challenge(&www);
            match kind.as_str() {
                "bearer" => self.token = Some(self.bearer(&params, scope)?),
                // Basic: the credentials were sent (or there are none): a second try changes nothing.
                _ => return Ok(resp),
            }
        }
        unreachable!()
    }

    /// The Authorization header the session sends: its bearer token once it has one, else Basic credentials.
    fn authorization(&self) -> Option<String> {
        if let Some(t) = &self.token {
            return Some(format!("Bearer {t}"));
        }
        let (u, p) = self.creds.as_ref().and_then(|c| c.basic.as_ref())?;
        Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))))
    }

    /// Fetches a bearer token from the challenge's realm.
    fn bearer(&self, params: &[(String, String)], scope: &str) -> Result<String, RegistryError> {
        let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        let realm = get("realm").ok_or_else(|| err(&self.host, "a Bearer challenge without a realm"))?;
        if !(realm.starts_with("https://") || (realm.starts_with("http://") && self.scheme == "http")) {
            return Err(err(&self.host, format!("token realm {realm}: not HTTPS")));
        }
        let mut req = self.agent.get(realm);
        if let Some(s) = get("service") {
            req = req.query("service", s);
        }
        req = req.query("scope", get("scope").unwrap_or(scope));
        if let Some(c) = &self.creds {
            if let Some((u, p)) = &c.basic {
                let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
                req = req.header("Authorization", format!("Basic {b}"));
            }
        }
        let mut resp = req.call().map_err(|e| err(realm, e.to_string()))?;
        let status = resp.status().as_u16();
        let body =
            resp.body_mut().with_config().limit(1 << 20).read_to_string().map_err(|e| err(realm, e.to_string()))?;
        if status != 200 {
            return Err(err(realm, format!("token: {status}")));
        }
        let v: Value = serde_json::from_str(&body).map_err(|e| err(realm, format!("token: {e}")))?;
        v["token"]
            .as_str()
            .or(v["access_token"].as_str())
            .map(str::to_string)
            .ok_or_else(|| err(realm, "token: none in the answer"))
    }

    fn scope(repo: &str) -> String {
        format!("repository:{repo}:pull")
    }

    /// Tags of a repository.
    pub fn tags(&mut self, repo: &str) -> Result<Vec<String>, RegistryError> {
        let path = format!("/v2/{repo}/tags/list");
        let mut resp = self.get(&path, "application/json", &Self::scope(repo))?;
        let status = resp.status().as_u16();
        let body =
            resp.body_mut().with_config().limit(16 << 20).read_to_string().map_err(|e| err(repo, e.to_string()))?;
        if status != 200 {
            return Err(err(repo, format!("tags: {status}: {}", body.chars().take(200).collect::<String>())));
        }
        let v: Value = serde_json::from_str(&body).map_err(|e| err(repo, format!("tags: {e}")))?;
        Ok(v["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_string)).collect())
    }

    /// Repositories of the registry (`/v2/_catalog`, page after page; registries may refuse it).
    pub fn catalog(&mut self) -> Result<Vec<String>, RegistryError> {
        let mut all: Vec<String> = Vec::new();
        loop {
            let mut path = "/v2/_catalog?n=1000".to_string();
            if let Some(last) = all.last() {
                path.push_str(&format!("&last={last}"));
            }
            let mut resp = self.get(&path, "application/json", "registry:catalog:*")?;
            let status = resp.status().as_u16();
            let more =
                resp.headers().get("link").and_then(|v| v.to_str().ok()).is_some_and(|l| l.contains("rel=\"next\""));
            let body = resp
                .body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_string()
                .map_err(|e| err(&self.host, e.to_string()))?;
            if status != 200 {
                return Err(err(
                    &self.host,
                    format!("catalog: {status}: {}", body.chars().take(200).collect::<String>()),
                ));
            }
            let v: Value = serde_json::from_str(&body).map_err(|e| err(&self.host, format!("catalog: {e}")))?;
            let page: Vec<String> = v["repositories"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect();
            let done = page.is_empty() || !more || all.len() > 1_000_000;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// A manifest (or index): its bytes, media type and digest.
    pub fn manifest(
        &mut self,
        repo: &str,
        reference: &str,
        limits: &Limits,
    ) -> Result<(Vec<u8>, String, String), RegistryError> {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let mut resp = self.get(&path, MANIFEST_TYPES, &Self::scope(repo))?;
        let status = resp.status().as_u16();
        let what = format!("{}/{repo}:{reference}", self.host);
        if status != 200 {
            let why = match status {
                401 | 403 => "not allowed (credentials: docker login, or REGISTRY_AUTH_FILE)".to_string(),
                404 => "no such image".to_string(),
                s => format!("the registry answered {s}"),
            };
            return Err(err(&what, why));
        }
        let media = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(limits.max_metadata_bytes)
            .read_to_vec()
            .map_err(|e| err(&what, e.to_string()))?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if reference.starts_with("sha256:") && reference != digest {
            return Err(err(&what, format!("the manifest hashes to {digest}, not to the digest asked for")));
        }
        let media = if media.is_empty() || media == "application/json" {
            serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v["mediaType"].as_str().map(str::to_string))
                .unwrap_or(media)
        } else {
            media
        };
        Ok((bytes, media, digest))
    }

    /// A small blob (a configuration) whole, checked against its digest.
    fn blob_bytes(&mut self, repo: &str, digest: &str, max: u64) -> Result<Vec<u8>, RegistryError> {
        let what = format!("{}/{repo}@{digest}", self.host);
        let mut resp = self.get(&format!("/v2/{repo}/blobs/{digest}"), "*/*", &Self::scope(repo))?;
        if resp.status() != 200 {
            return Err(err(&what, format!("blob: the registry answered {}", resp.status())));
        }
        let bytes = resp.body_mut().with_config().limit(max).read_to_vec().map_err(|e| err(&what, e.to_string()))?;
        let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if actual != digest {
            return Err(err(&what, format!("the blob hashes to {actual}: corrupted or tampered with")));
        }
        Ok(bytes)
    }
}

/// Which image a reference names, as its registry says.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The reference, normalised.
    pub reference: Reference,
    /// The digest of the image's manifest (the platform's, for a multi-platform image).
    pub manifest_digest: String,
    /// The digest of what the tag points at (an index for a multi-platform image).
    pub top_digest: String,
    /// The digest of the image's configuration (its image id).
    pub config_digest: String,
}

impl Pulled {
    /// The index's digest, when the tag points at a multi-platform index.
    pub fn index_digest(&self) -> Option<String> {
        (self.top_digest != self.manifest_digest).then(|| self.top_digest.clone())
    }
}

fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390x",
        "powerpc64" => "ppc64le",
        a => a,
    };
    format!("linux/{arch}")
}

/// An image's manifests, fetched and checked: what the tag names, the platform's manifest, its configuration's
/// digest and its layers. No blob yet.
struct Manifests {
    reference: Reference,
    registry: Registry,
    /// What the tag points at, and its digest (an index for a multi-platform image).
    top: (Vec<u8>, String),
    /// The platform's manifest, its media type and digest (the same as `top` for a single-platform image).
    manifest: (Vec<u8>, String, String),
    /// The index entry's platform, for a multi-platform image.
    platform: Option<Value>,
    config: String,
    /// Each layer's digest and the size the manifest gives.
    layers: Vec<(String, Option<u64>)>,
}

impl Manifests {
    fn fetch(reference: &str, opts: &PullOptions) -> Result<Manifests, RegistryError> {
        let r = Reference::parse(reference)?;
        let mut reg = Registry::connect(&r.registry, r.api_host(), opts)?;
        let repo = r.repository.clone();
        let (top, top_media, top_digest) = reg.manifest(&repo, r.wanted(), &opts.limits)?;
        let index_types =
            ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"];
        let (manifest, platform) = if index_types.contains(&top_media.as_str()) {
            let idx: Value = serde_json::from_slice(&top).map_err(|e| err(reference, format!("index: {e}")))?;
            let want = opts.platform.clone().unwrap_or_else(host_platform);
            let chosen = idx["manifests"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| {
                    let p = &m["platform"];
                    let mut s =
                        format!("{}/{}", p["os"].as_str().unwrap_or(""), p["architecture"].as_str().unwrap_or(""));
                    if let Some(v) = p["variant"].as_str() {
                        if want.matches('/').count() == 2 {
                            s = format!("{s}/{v}");
                        }
                    }
                    s == want
                })
                .ok_or_else(|| err(reference, format!("no {want} image in the index (--platform picks another)")))?;
            let d = chosen["digest"].as_str().ok_or_else(|| err(reference, "index entry without a digest"))?;
            check_digest(d).map_err(|e| err(reference, e))?;
            let (m, media, digest) = reg.manifest(&repo, d, &opts.limits)?;
            if digest != d {
                return Err(err(reference, format!("manifest {d} hashes to {digest}")));
            }
            ((m, media, digest), Some(chosen["platform"].clone()))
        } else {
            ((top.clone(), top_media, top_digest.clone()), None)
        };
        let m: Value = serde_json::from_slice(&manifest.0).map_err(|e| err(reference, format!("manifest: {e}")))?;
        if m["schemaVersion"].as_i64() != Some(2) {
            return Err(err(reference, "only schema 2 manifests (OCI, Docker v2) are supported"));
        }
        let config = m["config"]["digest"].as_str().ok_or_else(|| err(reference, "manifest without a config"))?;
        check_digest(config).map_err(|e| err(reference, e))?;
        let mut layers = Vec::new();
        for l in m["layers"].as_array().into_iter().flatten() {
            let d = l["digest"].as_str().ok_or_else(|| err(reference, "a layer without a digest"))?;
            check_digest(d).map_err(|e| err(reference, e))?;
            layers.push((d.to_string(), l["size"].as_u64()));
        }
        Ok(Manifests {
            reference: r,
            registry: reg,
            top: (top, top_digest),
            manifest,
            platform,
            config: config.to_string(),
            layers,
        })
    }

    fn pulled(&self) -> Pulled {
        Pulled {
            reference: self.reference.clone(),
            manifest_digest: self.manifest.2.clone(),
            top_digest: self.top.1.clone(),
            config_digest: self.config.clone(),
        }
    }

    /// The layout's `index.json`: one entry, the image's manifest, named by the reference (and with its
    /// platform, so that picking a platform finds it).
    fn index(&self) -> Vec<u8> {
        let (manifest, media, digest) = &self.manifest;
        let mut entry = serde_json::json!({
            "mediaType": if media.is_empty() { "application/vnd.oci.image.manifest.v1+json" } else { media },
            "digest": digest,
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": self.reference.to_string()},
        });
        if let Some(p) = &self.platform {
            entry["platform"] = p.clone();
        }
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [entry],
        });
        index.to_string().into_bytes()
    }

    /// The layout's small members: `oci-layout`, `index.json` and the manifests, by path.
    fn small(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = vec![
            ("oci-layout".to_string(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
            ("index.json".to_string(), self.index()),
        ];
        for (bytes, digest) in [(&self.top.0, &self.top.1), (&self.manifest.0, &self.manifest.2)] {
            if let Ok(hexd) = check_digest(digest) {
                out.push((format!("blobs/sha256/{hexd}"), bytes.clone()));
            }
        }
        out
    }
}

/// What [`resolve_unless`] found.
pub enum Resolved {
    /// The caller knew the image: only its manifests were fetched.
    Known(Pulled),
    /// The image, its manifests and configuration fetched and checked, its layers to be read as they download
    /// ([`crate::Identified::open`]: in parallel, each hashed and checked against its digest, nothing written to
    /// disk).
    Remote(Pulled, Box<crate::Identified>),
}

/// The image `reference` names: its manifests and configuration fetched and checked, its layers left to be read
/// straight from the registry — unless `known(config digest, manifest digest)` says the caller already has what it
/// needs of that image (an inventory cached under those digests): then only the manifests are fetched.
pub fn resolve_unless(
    reference: &str,
    opts: &PullOptions,
    known: &dyn Fn(&str, &str) -> bool,
) -> Result<Resolved, RegistryError> {
    let mut m = Manifests::fetch(reference, opts)?;
    if known(&m.config, &m.manifest.2) {
        return Ok(Resolved::Known(m.pulled()));
    }
    let repo = m.reference.repository.clone();
    let config = m.registry.blob_bytes(&repo, &m.config, opts.limits.max_metadata_bytes)?;
    let mut small: std::collections::HashMap<String, Vec<u8>> = m.small().into_iter().collect();
    small.insert(format!("blobs/sha256/{}", check_digest(&m.config).map_err(|e| err(reference, e))?), config);
    let layers = m
        .layers
        .iter()
        .map(|(d, size)| {
            Ok((format!("blobs/sha256/{}", check_digest(d).map_err(|e| err(reference, e))?), size.unwrap_or(0)))
        })
        .collect::<Result<_, RegistryError>>()?;
    let source = RemoteBlobs {
        agent: m.registry.agent.clone(),
        base: m.registry.url(&format!("/v2/{repo}/blobs/")),
        authorization: m.registry.authorization(),
        shown: format!("{}/{repo}", m.registry.host),
        max: opts.limits.max_layer_bytes,
    };
    let blobs = crate::blobs::Blobs::Remote { small, layers, source };
    let shown = m.reference.to_string();
    // The registry picked the platform already; the layout holds that image alone.
    let open = crate::OpenOptions { limits: opts.limits.clone(), ..Default::default() };
    let (mut target, config, plans) =
        crate::image::plan_image(&shown, &blobs, &open).map_err(|e| err(reference, e.to_string()))?;
    // The layout lists the platform's manifest alone: the index, if the tag named one, is said here.
    let pulled = m.pulled();
    target.index_digest = pulled.index_digest();
    let identified = crate::Identified { shown, blobs, target, config, plans };
    Ok(Resolved::Remote(pulled, Box::new(identified)))
}

/// A registry's blobs, each fetched when it is read (from several threads at once: the session's authorisation,
/// taken when the manifests were fetched, goes with every request).
pub(crate) struct RemoteBlobs {
    agent: ureq::Agent,
    /// `https://HOST/v2/REPO/blobs/`.
    base: String,
    authorization: Option<String>,
    /// `HOST/REPO`, for messages.
    shown: String,
    /// Most bytes of one blob.
    max: u64,
}

impl RemoteBlobs {
    /// The blob `sha256:HEX` as it downloads (its digest is the reader's to check).
    pub(crate) fn open(&self, hex: &str) -> std::io::Result<Box<dyn Read + Send>> {
        let url = format!("{}sha256:{hex}", self.base);
        let mut req = self.agent.get(&url).header("Accept", "*/*");
        if let Some(a) = &self.authorization {
            req = req.header("Authorization", a);
        }
        let what = format!("{}@sha256:{hex}", self.shown);
        let resp = req.call().map_err(|e| std::io::Error::other(format!("{what}: {e}")))?;
        if resp.status() != 200 {
            return Err(std::io::Error::other(format!("{what}: the registry answered {}", resp.status())));
        }
        Ok(Box::new(resp.into_body().into_with_config().limit(self.max).reader()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_as_docker_names_them() {
        let r = Reference::parse("docker://nginx").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("docker.io", "library/nginx", Some("latest"))
        );
        assert_eq!(r.api_host(), "registry-1.docker.io");
        let r = Reference::parse("127.0.0.1:5000/shop/app:1.2").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "shop/app", Some("1.2"))
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("ghcr.io/org/app@{d}")).unwrap();
        assert_eq!((r.tag, r.digest.as_deref()), (None, Some(d.as_str())));
        assert_eq!(Reference::parse("localhost/app").unwrap().to_string(), "localhost/app:latest");
        for bad in ["", "UPPER/case", "app@sha256:xyz", "a//b", "app:", "app:bad/tag"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn challenges_are_read() {
        let (k, p) = challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
        );
        assert_eq!(k, "bearer");
        assert_eq!(p[0], ("realm".into(), "https://auth.docker.io/token".into()));
        assert_eq!(p[2], ("scope".into(), "repository:library/nginx:pull".into()));
        assert_eq!(challenge(r#"Basic realm="basic-realm""#).0, "basic");
        assert!(loopback("127.0.0.1:5000") && loopback("localhost") && !loopback("registry.example:5000"));
    }
}
