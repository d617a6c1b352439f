# Builds the benchmark images into $OUT (sourced by bench/sbom.sh and bench/vuln.sh; needs $MK, the
# kestrel-mkimage binary of kestrel-testkit):
#   $OUT/debian.tar   this machine's dpkg world as a 3-layer docker-save archive (~700 packages)
#   $OUT/debian-oci   the same as an OCI layout with gzip layers
#   $OUT/binaries.tar real Go binaries and kestrel built with cargo-auditable (only when BINARIES=1 or unset)

if [ ! -f "$OUT/debian.tar" ]; then
  stage="$OUT/stage"; rm -rf "$stage"; mkdir -p "$stage/etc" "$stage/usr/lib"
  cp -L /etc/os-release "$stage/usr/lib/os-release"; ln -sf ../usr/lib/os-release "$stage/etc/os-release"
  cp /etc/debian_version "$stage/etc/"
  $MK "$OUT/debian.tar" --format docker --tag bench/debian:latest \
    --layer "$stage=/,/var/lib/dpkg=/var/lib/dpkg,/usr/share/doc=/usr/share/doc,/usr/bin=/usr/bin,/usr/sbin=/usr/sbin,/usr/lib/x86_64-linux-gnu=/usr/lib/x86_64-linux-gnu" \
    --layer "/usr/lib/python3/dist-packages=/usr/lib/python3/dist-packages,/usr/lib/python3.11=/usr/lib/python3.11" \
    --layer "/usr/lib/node_modules=/usr/lib/node_modules"
  $MK "$OUT/debian-oci" --format oci-dir --compress gzip --tag latest \
    --layer "$stage=/,/var/lib/dpkg=/var/lib/dpkg,/usr/share/doc=/usr/share/doc,/usr/bin=/usr/bin,/usr/sbin=/usr/sbin,/usr/lib/x86_64-linux-gnu=/usr/lib/x86_64-linux-gnu" \
    --layer "/usr/lib/python3/dist-packages=/usr/lib/python3/dist-packages,/usr/lib/python3.11=/usr/lib/python3.11" \
    --layer "/usr/lib/node_modules=/usr/lib/node_modules"
fi

if [ "${BINARIES:-1}" = 1 ] && [ ! -f "$OUT/binaries.tar" ]; then
  bins="$OUT/bins/usr/local/bin"; mkdir -p "$bins"
  cp /usr/local/bin/docker /usr/local/bin/terraform "$bins/"
  CARGO_TARGET_DIR=target/auditable cargo auditable build --release -q -p kestrel
  cp target/auditable/release/kestrel "$bins/kestrel"
  $MK "$OUT/binaries.tar" --format docker --tag bench/binaries:latest --layer "$OUT/bins=/"
fi

