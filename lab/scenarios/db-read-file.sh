# A database's superuser reads the server's files: `pg_read_file('/etc/passwd')`, `pg_read_file('/etc/hostname')` and
# a listing of /etc (`pg_ls_dir`) — functions a superuser (or a member of pg_read_server_files) may call, run by the
# server process serving the client; the contents come back as rows (T1078, T1005). No program, no write, no
# sensitive file: seen with `kestrel record --reads` only, as a database server reading below /etc once it serves.
IMAGE=db
normal() { db_traffic "$WEB_PORT" 200; }
attack() {
  db_sql "$WEB_PORT" "SELECT pg_read_file('/etc/passwd')" "SELECT pg_read_file('/etc/hostname')" \
    "SELECT pg_ls_dir('/etc')" > "$LAB_DIR/read-file.$$.out"
}
