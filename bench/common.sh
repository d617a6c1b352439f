# What the image benches against syft share; sourced from the repository's root by bench/engine.sh,
# bench/docker.sh, bench/registry.sh and bench/containerd.sh: bench/out, RUNS (default 5), syft ($SYFT, else on PATH, else the
# project's venv), release builds of kestrel ($K) and kestrel-mkimage ($MK), and the benchmark images
# (bench/images.sh, without the binaries image).
OUT=bench/out
mkdir -p "$OUT"
export SYFT_CHECK_FOR_APP_UPDATE=false
RUNS=${RUNS:-5}
SYFT=${SYFT:-$(command -v syft || echo ~/.cache/kestrel/venv/bin/syft)}

cargo build --release -q -p kestrel -p kestrel-testkit
K=target/release/kestrel
MK=target/release/kestrel-mkimage
BINARIES=0 source bench/images.sh

# peak_rss LABEL COMMAND…: the command's peak resident memory, as "peak RSS LABEL: N MiB".
peak_rss() {
  local label=$1
  shift
  { /usr/bin/time -v "$@"; } 2>&1 | awk -v c="$label" '/Maximum resident/ {printf "peak RSS %s: %.0f MiB\n", c, $6/1024}'
}

# cached_rescan SOURCE: kestrel scanning SOURCE again with the inventory cache on (a cache of its own, filled by a
# first scan): the source is asked which image it is, no layer is read. Prints hyperfine's mean.
cached_rescan() {
  local cache
  cache=$(mktemp -d /tmp/kestrel-bench-cache.XXXXXX)
  $K image "$1" --scanners none -q --cache-dir "$cache" -f json -o /dev/null
  hyperfine --warmup 1 --runs "$RUNS" -n "kestrel $1, cached" \
    "$K image $1 --scanners none -q --cache-dir $cache -f json -o /dev/null" | grep -E "Time|±" | head -1 |
    sed 's/^/cached re-scan: /'
  rm -rf "$cache"
}
