#!/usr/bin/env bash
# The fleet server's answers while it merges big profiles (issue 8's federation under load):
#   bench/profile_merge.sh KESTREL_BINARY...
# Learns one profile of up to 200,000 behaviours from a made-up recording (four containers, 50,000 files each),
# uploads it as three nodes' profile of one workload to a fresh server of each binary, then asks for the merged
# profile four times at once while probing /healthz twenty times: prints each merge's time and the slowest probe;
# then asks three times for the nodes' profiles as stored. The three uploads go at once, /healthz probed meanwhile.
set -euo pipefail
source "$(dirname "$0")/fleet_server.sh"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 - "$W/flood.jsonl" <<'PY'
import json, sys
out = open(sys.argv[1], "w")
out.write(json.dumps({"schema": "kestrel.trace/v1", "started_ns": 1}) + "\n")
t = 1
for c in range(4):
    base = {"schema": "kestrel.event/v1", "pid": 7, "tid": 7, "comm": "app", "cgroup_id": 1 + c,
            "container": {"id": f"c{c}", "runtime": "runc", "image": "app:1"}}
    out.write(json.dumps(dict(base, time_ns=t, kind="exec", ppid=1, parent_comm="runc", uid=0, gid=0, euid=0,
                              exe="/bin/app", argv=["/bin/app"], cap_effective=0)) + "\n")
    for i in range(50_000):
        t += 10_000_000
        name = "".join(chr(97 + (i * 7 + c * 13 + k * 31) % 26) for k in range(3)) + str(i)
        out.write(json.dumps(dict(base, time_ns=t, kind="open", path=f"/data/{name}/{c}{name}.txt", flags=0)) + "\n")
PY
# One profile for every binary (learned by the first).
"$1" learn -q --profiles "$W/prof" "$W/flood.jsonl"
profile=$(ls "$W"/prof/*.json | grep -v '\.v[0-9]*\.json$' | head -1)
# The slowest of N /healthz answers of the server on $port, S seconds apart.
slowest_probe() {
  local worst=0 t
  for _ in $(seq "$1"); do
    t=$(curl -s -o /dev/null -w "%{time_total}" "http://127.0.0.1:$port/healthz")
    worst=$(python3 -c "print(max($worst, $t))")
    sleep "$2"
  done
  echo "$worst"
}
for bin in "$@"; do
  D=$W/run
  start_server "$bin" "$D" node-1:agent node-2:agent node-3:agent viewer:viewer
  echo "$bin: profile of $(python3 -c "import json; print(len(json.load(open('$profile'))['behaviours']))") behaviours, $(stat -c %s "$profile") bytes"
  # The three nodes send it at once while /healthz is probed.
  pids=()
  for n in node-1 node-2 node-3; do
    python3 -c "import json,sys; json.dump({'node':'$n','workload':'app:1','version':1,'profile':json.load(open('$profile'))}, open('$D/up-$n.json','w'))"
  done
  for n in node-1 node-2 node-3; do
    curl -sf -o /dev/null -w "  upload %{http_code} in %{time_total} s\n" -H "Authorization: Bearer $(cat "$D/tok-$n")" \
      -H 'content-type: application/json' --data-binary @"$D/up-$n.json" http://127.0.0.1:$port/api/v1/profiles &
    pids+=($!)
  done
  worst=$(slowest_probe 10 0.05)
  wait "${pids[@]}"
  echo "  slowest of 10 /healthz probes during the uploads: $worst s"
  pids=()
  for i in 1 2 3 4; do
    curl -s -o /dev/null -w "  merge %{http_code} in %{time_total} s\n" -H "Authorization: Bearer $(cat "$D/tok-viewer")" \
      "http://127.0.0.1:$port/api/v1/profiles/app:1/merged" & pids+=($!)
  done
  sleep 0.3
  worst=$(slowest_probe 20 0.1)
  wait "${pids[@]}"
  echo "  slowest of 20 /healthz probes during the merges: $worst s"
  # The nodes' profiles as stored, one request at a time.
  for i in 1 2 3; do
    curl -s -o /dev/null -w "  stored profiles %{http_code}: %{size_download} bytes in %{time_total} s\n" \
      -H "Authorization: Bearer $(cat "$D/tok-viewer")" "http://127.0.0.1:$port/api/v1/profiles/app:1"
  done
  kill $server; wait $server 2>/dev/null || true
done
