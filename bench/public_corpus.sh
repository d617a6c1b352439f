#!/usr/bin/env bash
# Public Kubernetes manifests and Dockerfiles, from Debian's archive (the only source of them reachable here):
#   - the Kubernetes 1.20.2 source package (`kubernetes`, Debian 12): the cluster add-ons (DNS, metrics server,
#     dashboard, logging, storage…), the end-to-end testing manifests, fixtures and docs examples, and the
#     Dockerfiles of its build and test images — every *.yaml/*.yml/*.json outside vendor/ (and outside
#     k8s.io/api/testdata: API round-trip objects filled with random values), every Dockerfile*;
#   - openshift/imagebuilder's test Dockerfiles (package golang-github-openshift-imagebuilder-dev): Dockerfiles
#     written to exercise a builder (multi-stage, ARG/ENV, heredoc-free edge cases, healthchecks, escapes).
# Usage: bench/public_corpus.sh DIR   → DIR/manifests/…, DIR/dockerfiles/…  (idempotent; ~35 MB download)
set -euo pipefail
DIR=${1:?usage: bench/public_corpus.sh DIR}
CACHE=${KESTREL_CACHE:-$HOME/.cache/kestrel}/public
K8S_VERSION=1.20.5+really1.20.2-1.1+deb12u1
IB_PACKAGE=golang-github-openshift-imagebuilder-dev
mkdir -p "$CACHE"
if [ ! -s "$CACHE/kubernetes.orig.tar.gz" ]; then
  # A private deb-src list: the machine's apt configuration is left as it is.
  mkdir -p "$CACHE/apt/lists/partial"
  echo "deb-src http://deb.debian.org/debian bookworm main" > "$CACHE/apt/src.list"
  opts=(-q -o Dir::Etc::SourceList="$CACHE/apt/src.list" -o Dir::Etc::SourceParts=/dev/null
        -o Dir::State::Lists="$CACHE/apt/lists" -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" update >&2
  (cd "$CACHE" && apt-get "${opts[@]}" source --download-only "kubernetes=$K8S_VERSION" >&2)
  mv "$CACHE"/kubernetes_*.orig.tar.gz "$CACHE/kubernetes.orig.tar.gz"
fi
if [ ! -s "$CACHE/imagebuilder.deb" ]; then
  (cd "$CACHE" && apt-get -q -o APT::Sandbox::User=root download "$IB_PACKAGE" >&2)
  mv "$CACHE"/${IB_PACKAGE}_*.deb "$CACHE/imagebuilder.deb"
fi
rm -rf "$DIR"; mkdir -p "$DIR/manifests" "$DIR/dockerfiles/kubernetes" "$DIR/dockerfiles/imagebuilder" "$DIR/src"
tar xzf "$CACHE/kubernetes.orig.tar.gz" -C "$DIR/manifests" --strip-components=1 --wildcards \
  --exclude='*/vendor/*' --exclude='.*' --exclude='*/k8s.io/api/testdata/*' '*.yaml' '*.yml' '*.json'
tar xzf "$CACHE/kubernetes.orig.tar.gz" -C "$DIR/src" --wildcards --exclude='*/vendor/*' '*Dockerfile*'
src=$(find "$DIR/src" -mindepth 1 -maxdepth 1 -type d | head -1)
# Dockerfiles go one per directory, named Dockerfile (what both tools look for); SOURCES says where each is from.
i=0
while IFS= read -r -d '' f; do
  i=$((i + 1)); mkdir -p "$DIR/dockerfiles/kubernetes/$i"; cp "$f" "$DIR/dockerfiles/kubernetes/$i/Dockerfile"
  echo "$i ${f#$src/}" >> "$DIR/dockerfiles/kubernetes/SOURCES"
done < <(find "$src" -type f -name 'Dockerfile*' -print0 | sort -z)
dpkg-deb --fsys-tarfile "$CACHE/imagebuilder.deb" | tar x -C "$DIR/src" --wildcards '*testdata*Dockerfile*'
i=0
while IFS= read -r -d '' f; do
  i=$((i + 1)); mkdir -p "$DIR/dockerfiles/imagebuilder/$i"; cp "$f" "$DIR/dockerfiles/imagebuilder/$i/Dockerfile"
  echo "$i ${f#$DIR/src/}" >> "$DIR/dockerfiles/imagebuilder/SOURCES"
done < <(find "$DIR/src/usr" -type f -name 'Dockerfile*' -print0 | sort -z)
rm -rf "$DIR/src"
echo "$(find "$DIR/manifests" -type f | wc -l) manifest files, $(find "$DIR/dockerfiles" -name Dockerfile | wc -l) Dockerfiles in $DIR" >&2
