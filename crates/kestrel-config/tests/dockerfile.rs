//! The Dockerfile checks on a Dockerfile with every problem, and on one done right.

use kestrel_config::dockerfile::check;

const BAD: &str = r#"# syntax=docker/dockerfile:1.7
FROM debian AS build
ENV DB_PASSWORD=hunter2 LOG_LEVEL=info
ARG GITHUB_TOKEN=ghp_abc123
RUN apt-get update
RUN apt-get install -y --allow-unauthenticated build-essential \
    openssh-server
RUN curl -fsSL https://get.example.com/install.sh | sh
RUN sudo make install && chmod 4755 /usr/local/bin/tool && chmod 777 /srv
ADD app.py /app/
ADD https://example.com/tool.tgz /opt/
RUN --security=insecure ./probe
FROM build
EXPOSE 22 8080
USER root
CMD ["/usr/local/bin/tool"]
"#;

const GOOD: &str = r#"# syntax=docker/dockerfile:1.7
FROM debian:12.8@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*
RUN --mount=type=secret,id=token TOKEN=$(cat /run/secrets/token) make
COPY <<EOF /etc/app.conf
password_file=/run/secrets/db
EOF
ADD vendor.tar.gz /opt/
FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/app /app
USER 65532:65532
HEALTHCHECK CMD ["/app", "health"]
ENTRYPOINT ["/app"]
"#;

#[test]
fn a_secret_build_argument_is_flagged_and_a_plain_one_is_not() {
    let f = check(
        "Dockerfile",
        "FROM alpine:3.20\nARG VERSION\nARG NPM_TOKEN\nARG API_KEY=abc123xyz\nRUN echo $NPM_TOKEN\n",
    )
    .unwrap();
    let at = |id: &str| -> Vec<usize> { f.iter().filter(|x| x.id == id).filter_map(|x| x.line).collect() };
    assert_eq!(at("dockerfile:secret-build-arg"), [3], "NPM_TOKEN without a value, not VERSION");
    assert_eq!(at("dockerfile:secret-in-env"), [4], "a literal value is the worse case, reported once");
}

#[test]
fn every_problem_is_found_on_its_line_and_a_careful_dockerfile_is_clean() {
    let f = check("Dockerfile", BAD).unwrap();
    let at = |id: &str| -> Vec<usize> { f.iter().filter(|x| x.id == id).filter_map(|x| x.line).collect() };
    assert_eq!(at("dockerfile:base-moving-tag"), [2], "debian without a tag; `FROM build` is a stage");
    assert_eq!(at("dockerfile:secret-in-env"), [3, 4], "the password and the token, not LOG_LEVEL");
    assert_eq!(at("dockerfile:update-alone"), [5]);
    assert_eq!(at("dockerfile:unverified-packages"), [6]);
    assert_eq!(at("dockerfile:apt-recommends"), [6]);
    assert_eq!(at("dockerfile:ssh"), [6, 14], "openssh-server installed, port 22 exposed");
    assert_eq!(at("dockerfile:curl-pipe-shell"), [8]);
    assert_eq!(at("dockerfile:sudo"), [9]);
    assert_eq!(at("dockerfile:setuid"), [9]);
    assert_eq!(at("dockerfile:world-writable"), [9]);
    assert_eq!(at("dockerfile:add-instead-of-copy"), [10]);
    assert_eq!(at("dockerfile:add-url"), [11]);
    assert_eq!(at("dockerfile:insecure-build"), [12]);
    assert_eq!(at("dockerfile:user-root"), [15]);
    assert_eq!(at("dockerfile:no-healthcheck"), [13]);
    assert!(f.iter().all(|x| !x.message.contains("hunter2") && !x.message.contains("ghp_")), "secrets redacted");
    assert!(f
        .iter()
        .all(|x| x.controls.iter().any(|c| c.standard.starts_with("cis-docker") || c.standard.starts_with("nist"))));

    let ok = check("Dockerfile", GOOD).unwrap();
    assert!(ok.is_empty(), "{ok:#?}");
}
