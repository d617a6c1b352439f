# What the image benches against syft share; sourced from the repository's root by bench/engine.sh,
# bench/registry.sh and bench/containerd.sh: bench/out, RUNS (default 5), syft ($SYFT, else on PATH, else the
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
