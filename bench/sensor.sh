#!/usr/bin/env bash
# The runtime sensor's cost and capacity (issue 4), every figure measured in the same run:
#  (a) a null-system-call loop (getppid) and `dd bs=1` (a read and a write per byte), in a watched runc
#      container and in an unwatched host process;
#  (b) nginx (the lab's Debian web image) in runc under wrk: requests/s and p99 latency;
# each without a sensor, with `kestrel monitor` (the container's processes, files, network, privilege
# changes), with `kestrel monitor --syscalls` (also every system call of the container), and, as reference
# points, the same capture by bpftrace and by `strace -f`;
#  (c) events/s sustained without drops (a flood of listen() calls in the container at set rates);
#  (d) the agent's CPU and peak RSS under the nginx load.
# Medians of RUNS runs. Root required. Writes bench/out/sensor.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
RUNS=${RUNS:-3}
SECONDS_EACH=${SECONDS_EACH:-10}
PARTS=${PARTS:-"table flood pairs"}   # which parts to run
OUT=$REPO/bench/out; mkdir -p "$OUT"
for t in wrk bpftrace strace; do
  command -v $t >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk bpftrace strace >/dev/null
done
cargo build --release -q -p kestrel
K=$REPO/target/release/kestrel
export LAB_PARENT=kestrel-bench LAB_DIR=/tmp/kestrel-bench
source "$REPO/lab/lib.sh"
gcc -O2 -static -o "$OUT/nullsys" bench/nullsys.c
gcc -O2 -static -o "$OUT/openflood" bench/openflood.c

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Containers: a busybox one for the loops and the flood, nginx for the service.
BOX=bench-box WEB=bench-web PORT=$(free_port)
make_bundle $BOX busybox
cp "$OUT/nullsys" "$OUT/openflood" "$LAB_DIR/$BOX/rootfs/bin/"
make_bundle $WEB web "$PORT"
cleanup() { ! declare -F stop_capture >/dev/null || stop_capture; stop $BOX; stop $WEB; }
trap cleanup EXIT
start $BOX; start $WEB
wait_http "http://127.0.0.1:$PORT/"
CGROOT=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
WEB_CG="$CGROOT/$LAB_PARENT/$WEB"
NGINX_MASTER=$(runc state $WEB | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
NGINX_PIDS="$NGINX_MASTER $(pgrep -P "$NGINX_MASTER" | paste -sd' ')"
# PIN=1: nginx on the last CPU, wrk on the others (the agent floats): less scheduling noise between them.
WRK_PIN=""
if [ "${PIN:-0}" = 1 ] && [ "$(nproc)" -ge 2 ]; then
  last=$(( $(nproc) - 1 )); NGINX_CPU=$last
  for p in $NGINX_PIDS; do taskset -pc "$last" "$p" > /dev/null; done
  WRK_PIN="taskset -c 0-$(( last - 1 ))"
fi

# The capture under test: none | kestrel | kestrel-syscalls | bpftrace | strace.
CAP_PID=""
start_capture() {
  case $1 in
    none) CAP_PID="" ;;
    kestrel) "$K" monitor -q --runc-parent $LAB_PARENT -f json > /dev/null 2> "$OUT/agent.err" & CAP_PID=$! ;;
    floor)
      # The least any syscall-tracepoint sensor costs: one program on openat that keeps nothing (the
      # tracepoint slow path every system call of the node then takes, and one program run per open).
      bpftrace -q -e 'tracepoint:syscalls:sys_enter_openat /cgroup == 1/ { @n = count(); }' > /dev/null 2> "$OUT/floor.err" &
      CAP_PID=$! ;;
    returns)
      # --open-returns: the open calls' return side too (their sys_exit tracepoints).
      "$K" monitor -q --runc-parent $LAB_PARENT --open-returns -f json > /dev/null 2> "$OUT/agent.err" & CAP_PID=$! ;;
    reads)
      # --reads: every file opened for reading reported (nginx opens the page it serves: an event per request).
      "$K" monitor -q --runc-parent $LAB_PARENT --reads -f json > /dev/null 2> "$OUT/agent.err" & CAP_PID=$! ;;
    kestrel-syscalls)
      "$K" monitor -q --runc-parent $LAB_PARENT --syscalls -f json > /dev/null 2> "$OUT/agent.err" & CAP_PID=$! ;;
    bpftrace)
      # What one would write by hand: the same kinds of event for the same cgroups, and every system call.
      local ids; ids=$(for c in $BOX $WEB; do stat -c %i "$CGROOT/$LAB_PARENT/$c"; done | paste -sd' ')
      local f; f=$(for i in $ids; do printf 'cgroup == %s || ' "$i"; done); f="${f% || }"
      bpftrace -q -e "
        tracepoint:sched:sched_process_exec /$f/ { printf(\"exec %d %s %s\n\", pid, comm, str(args->filename)); }
        tracepoint:sched:sched_process_exit /$f/ { printf(\"exit %d\n\", pid); }
        tracepoint:syscalls:sys_enter_openat /$f/ { printf(\"open %d %s %d\n\", pid, str(args->filename), args->flags); }
        tracepoint:syscalls:sys_enter_connect /$f/ { printf(\"connect %d\n\", pid); }
        tracepoint:syscalls:sys_exit_accept4 /$f/ { printf(\"accept %d %d\n\", pid, args->ret); }
        tracepoint:syscalls:sys_enter_listen /$f/ { printf(\"listen %d\n\", pid); }
        tracepoint:raw_syscalls:sys_enter /$f/ { printf(\"sys %d %d\n\", tid, args->id); }
      " > /dev/null 2> "$OUT/bpftrace.err" & CAP_PID=$! ;;
    strace)
      # strace follows one process tree: nginx's, and the busybox container's init (its runc exec'd
      # processes are not children of it, so the loops below are unwatched for strace).
      strace -f -qq -o /dev/null -p "$NGINX_MASTER" $(pgrep -P "$NGINX_MASTER" | sed 's/^/-p /') & CAP_PID=$! ;;
  esac
  sleep 3
}
stop_capture() {
  [ -n "$CAP_PID" ] || return 0
  kill -INT "$CAP_PID" 2>/dev/null || true; wait "$CAP_PID" 2>/dev/null || true; CAP_PID=""
}

nullsys_host() { for _ in $(seq "$RUNS"); do "$OUT/nullsys" 5000000; done | median; }
nullsys_box() { for _ in $(seq "$RUNS"); do inside $BOX /bin/nullsys 5000000; done | median; }
dd_rate() { # kB/s of dd bs=1 over 2 MB; busybox dd prints no rate: busybox's `time` times it, both places
  for _ in $(seq "$RUNS"); do "$@" busybox time -p busybox dd if=/dev/zero of=/dev/null bs=1 count=2000000 2>&1 \
    | awk '/^real/ {printf "%.0f\n", 2000000 / $2 / 1000}'; done | median; }
nginx_ticks() { # CPU clock ticks (user + system) of nginx's processes so far
  local p; for p in $NGINX_PIDS; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{t += $1} END {print t}'
}
steal_ticks() { # ticks the hypervisor took from the CPUs nginx runs on (all CPUs unless pinned)
  awk -v cpu="cpu${NGINX_CPU:-}" '$1 == cpu {print $9}' /proc/stat
}
wrk_run() { # "requests/s p99-ms nginx-CPU-µs-per-request steal-%", medians
  local rps=() p99=() cpu=() steal=() i line t0 s0
  for i in $(seq "$RUNS"); do
    t0=$(nginx_ticks); s0=$(steal_ticks)
    line=$($WRK_PIN wrk -t1 -c32 -d"${SECONDS_EACH}s" --latency "http://127.0.0.1:$PORT/" | awk '
      /Requests\/sec/ {r=$2} / 99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; p=v}
      END {print r, p}')
    rps+=("${line% *}"); p99+=("${line#* }")
    # nginx's own CPU time per request served (its system time includes every BPF program run on its
    # system calls): the overhead without the load generator's and the machine's noise in it.
    cpu+=("$(awk -v a="$t0" -v b="$(nginx_ticks)" -v hz="$(getconf CLK_TCK)" -v r="${line% *}" -v s="$SECONDS_EACH" \
      'BEGIN {printf "%.2f\n", (b - a) / hz * 1e6 / (r * s)}')")
    # Time stolen by the hypervisor during the run, in % of one CPU (a noisy neighbour, not the sensor).
    steal+=("$(awk -v a="$s0" -v b="$(steal_ticks)" -v hz="$(getconf CLK_TCK)" -v s="$SECONDS_EACH" -v n="${NGINX_CPU:+1}" \
      'BEGIN {printf "%.1f\n", (b - a) / hz / s * 100 / (n ? 1 : '"$(nproc)"')}')")
  done
  echo "$(printf '%s\n' "${rps[@]}" | median) $(printf '%s\n' "${p99[@]}" | median) $(printf '%s\n' "${cpu[@]}" | median) $(printf '%s\n' "${steal[@]}" | median)"
}
agent_cpu_rss() { # CPU seconds used since $1 (clock ticks) and peak RSS (MiB) of the capture process
  awk -v t0="$1" -v hz="$(getconf CLK_TCK)" '{printf "%.1f ", ($14 + $15 - t0) / hz}' "/proc/$CAP_PID/stat"
  awk '/VmHWM/ {printf "%.1f\n", $2 / 1024}' "/proc/$CAP_PID/status"
}

{
echo "# bench/sensor.sh — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, kernel $(uname -r), RUNS=$RUNS, wrk ${SECONDS_EACH}s -t1 -c32"
has() { [[ " $PARTS " == *" $1 "* ]]; }
if has table; then
printf '%-18s %12s %12s %12s %12s %12s %10s %12s %8s %12s %10s\n' capture "nullsys-host" "nullsys-box" "dd-host" "dd-box" \
  "nginx-req/s" "p99-ms" "nginx-µs/req" "steal-%" "agent-CPU-s" "agent-MiB"
for cap in none kestrel kestrel-syscalls bpftrace strace; do
  start_capture $cap
  nh=$(nullsys_host); nb=$(nullsys_box)
  dh=$(dd_rate); db=$(dd_rate runc exec $BOX)
  t0=0; [ -z "$CAP_PID" ] || t0=$(awk '{print $14 + $15}' "/proc/$CAP_PID/stat")
  w=$(wrk_run)
  cr="- -"; [ -z "$CAP_PID" ] || cr=$(agent_cpu_rss "$t0")
  stop_capture
  printf '%-18s %12s %12s %12s %12s %12s %10s %12s %8s %12s %10s\n' $cap "$nh" "$nb" "$dh" "$db" ${w} ${cr}
done
echo "(nullsys: ns per getppid; dd: kB/s with bs=1; agent CPU: seconds over the $RUNS nginx runs; strace follows nginx only)"
fi

if has flood; then
echo
echo "# events/s sustained: listen(-1) in the container at a set rate for 5 s, kestrel monitor -f json to /dev/null"
for rate in 250000 500000 750000 1000000; do
  "$K" monitor -q --runc-parent $LAB_PARENT --stats -f json > /dev/null 2> "$OUT/flood.err" & CAP_PID=$!
  sleep 3
  got=$(inside $BOX /bin/openflood - $rate 5)
  sleep 1
  stop_capture
  echo "asked $rate/s, made $got/s: $(grep 'sensor:' "$OUT/flood.err" | tail -1 | sed 's/.*sensor: //')"
done
fi

if has pairs; then
echo
ARMS=(none kestrel ${RETURNS:+returns} ${READS:+reads} ${FLOOR:+floor})
echo "# nginx, rounds of ${SECONDS_EACH}s runs, one per capture (${ARMS[*]}), the order rotating: req/s p99-ms nginx-µs/req steal-% (PIN=${PIN:-0})"
for i in $(seq "${PAIRS:-4}"); do
  declare -A got=()
  n=${#ARMS[@]}
  for j in $(seq 0 $(( n - 1 ))); do
    arm=${ARMS[$(( (i + j) % n ))]}
    start_capture "$arm"; got[$arm]=$(RUNS=1 wrk_run); stop_capture
  done
  line="round $i:"
  for arm in "${ARMS[@]}"; do line="$line $arm ${got[$arm]},"; done
  echo "${line%,}"
  unset got
done | tee "$OUT/pairs.txt"
python3 - "$OUT/pairs.txt" <<'PY'
import statistics as st, sys
rounds = []
for l in open(sys.argv[1]):
    parts = l.split(":", 1)[1].split(",")
    rounds.append({p.split()[0]: [float(x) for x in p.split()[1:]] for p in parts})
def summary(name, rs):
    if len(rs) < 2:
        print(f"{name}: {len(rs)} rounds, too few"); return
    print(f"{name} ({len(rs)} rounds):")
    for arm in [a for a in rs[0] if a != "none"]:
        loss = [100 * (1 - r[arm][0] / r["none"][0]) for r in rs]
        cost = [100 * (r[arm][2] / r["none"][2] - 1) for r in rs]
        se = lambda v: st.stdev(v) / len(v) ** 0.5
        print(f"  {arm}: req/s loss mean {st.mean(loss):.1f} ± {se(loss):.1f} % (s.e.), median {st.median(loss):.1f} %; "
              f"nginx CPU per request +{st.mean(cost):.1f} ± {se(cost):.1f} %, median +{st.median(cost):.1f} % "
              f"({st.mean(r['none'][2] for r in rs):.2f} → {st.mean(r[arm][2] for r in rs):.2f} µs)")
summary("all rounds", rounds)
summary("rounds with under 1 % steal in every run", [r for r in rounds if max(v[3] for v in r.values()) < 1.0])
PY
fi
} | tee "$OUT/sensor.txt"
