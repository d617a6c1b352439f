# A database's superuser makes a library of their choice load into every server process from the next start:
# `ALTER SYSTEM SET shared_preload_libraries` has the server write it into its own configuration
# (postgresql.auto.conf, through a temporary file renamed into place), and `pg_reload_conf()` makes the postmaster
# read its configuration again — persistence through the server's own settings (T1546, T1574), no program, no file
# outside the database's directory. (The library is named only; a restart would fail to load it.)
IMAGE=db
normal() { db_traffic "$WEB_PORT" 200; }
attack() {
  db_sql "$WEB_PORT" "ALTER SYSTEM SET shared_preload_libraries = '/tmp/pg_stat_ext.so'" "SELECT pg_reload_conf()" \
    > "$LAB_DIR/alter-system.$$.out"
}
