# What the fleet-server benches share; sourced by bench/profile_merge.sh and bench/report_upload.sh.

# start_server BIN DIR NAME:ROLE…: a fresh server of BIN with its data in DIR and a token for each NAME (in DIR/tok-NAME),
# listening on a free loopback port; sets $port and $server (its pid). Stop it with `kill $server`.
start_server() {
  local bin=$1 dir=$2 toks="tokens:" n
  shift 2
  rm -rf "$dir"; mkdir -p "$dir"
  for n in "$@"; do
    "$bin" server token --name "${n%%:*}" --role "${n#*:}" > "$dir/tok-${n%%:*}" 2> "$dir/err"
    toks="$toks
$(sed -n '/^- name/,$p' "$dir/err")"
  done
  echo "$toks" > "$dir/tokens.yaml"
  port=$((20000 + RANDOM % 20000))
  "$bin" server --tokens "$dir/tokens.yaml" --data-dir "$dir/data" --listen 127.0.0.1:$port > "$dir/server.log" 2>&1 &
  server=$!
  sleep 2
}
