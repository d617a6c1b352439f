# A miner-like process connecting to a stratum port (3333) on the loopback interface.
normal() { inside "$1" /bin/echo idle >/dev/null; }
attack() { inside "$1" /bin/sh -c 'echo "{\"method\":\"mining.subscribe\"}" | nc -w 1 127.0.0.1 3333' >/dev/null 2>&1 || true; }
