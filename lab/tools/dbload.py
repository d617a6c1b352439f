#!/usr/bin/env python3
"""Ordinary load for the lab's db image (PostgreSQL 15), from the host, and the attacker's client:

    dbload.py PORT QUERIES         QUERIES units of an application's mix, then exit
    dbload.py PORT --sql SQL...    each SQL statement once (one connection), the rows printed tab-separated

The first run in a container creates the application's tables and fills them with its history (400,000 events).
The mix is what an ordinary application does with its database: a few long-lived pooled connections and, now and
then, a new one (PostgreSQL starts a server process per connection); inserts of events with a JSON payload, lookups
by key and by index, transfers between accounts in a transaction (some rolled back), reports that group and sort
(a few large enough to sort in temporary files), searches by pattern, deletes of old rows, an export through `COPY
… TO STDOUT`, a temporary table now and then, and rarely an `ANALYZE` or a `VACUUM` — with random pauses (mostly
short, sometimes a second), then a closing report (the larger sort, which PostgreSQL compiles with its JIT on
tables this size). Errors are counted, not fatal: the database is the workload, this is its traffic.

The client speaks the protocol itself (version 3, simple queries; the lab's server trusts 127.0.0.1): the host needs
no PostgreSQL client.
"""
import random
import socket
import struct
import sys
import time

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS accounts (id serial PRIMARY KEY, name text NOT NULL, balance bigint NOT NULL)",
    "CREATE TABLE IF NOT EXISTS events (id bigserial PRIMARY KEY, account int NOT NULL, kind text NOT NULL,"
    " payload jsonb, at timestamptz NOT NULL DEFAULT now())",
    "CREATE INDEX IF NOT EXISTS events_account_at ON events (account, at)",
    "INSERT INTO accounts (name, balance) SELECT 'user' || g, 1000 FROM generate_series(1, 500) g"
    " WHERE NOT EXISTS (SELECT 1 FROM accounts)",
    # The application's history: a database in service holds more than a test's rows (its larger reports cost
    # enough for the planner to compile them, its sorts spill, its scans run in parallel workers).
    "INSERT INTO events (account, kind, payload, at) SELECT g % 500 + 1, (ARRAY['login', 'logout', 'view',"
    " 'purchase', 'refund', 'search', 'upload', 'comment'])[g % 8 + 1], jsonb_build_object('ip', '10.0.' || g % 250"
    " || '.' || g % 199, 'ms', g % 900), now() - make_interval(secs => g * 7) FROM generate_series(1, 400000) g"
    " WHERE NOT EXISTS (SELECT 1 FROM events)",
]
KINDS = ["login", "logout", "view", "purchase", "refund", "search", "upload", "comment"]


class Error(Exception):
    pass


class Conn:
    """One connection: the startup handshake, then simple queries; a query's rows as lists of str (or None)."""

    def __init__(self, port, user="postgres", database="postgres"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        params = f"user\0{user}\0database\0{database}\0application_name\0dbload\0\0".encode()
        self.sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
        self._until_ready()

    def _recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise Error("connection closed")
            buf += chunk
        return buf

    def _message(self):
        kind, length = struct.unpack("!ci", self._recv(5))
        return kind, self._recv(length - 4)

    def _until_ready(self):
        rows, error = [], None
        while True:
            kind, body = self._message()
            if kind == b"Z":
                if error:
                    raise Error(error)
                return rows
            if kind == b"E":
                fields = dict((f[:1], f[1:].decode(errors="replace")) for f in body.split(b"\0") if f)
                error = fields.get("M", "error")
            elif kind == b"R" and struct.unpack("!i", body[:4])[0] != 0:
                raise Error("the server asks for a password (the lab's trusts 127.0.0.1)")
            elif kind == b"D":
                n, pos, row = struct.unpack("!h", body[:2])[0], 2, []
                for _ in range(n):
                    size = struct.unpack("!i", body[pos:pos + 4])[0]
                    pos += 4
                    row.append(None if size < 0 else body[pos:pos + size].decode(errors="replace"))
                    pos += max(size, 0)
                rows.append(row)
            elif kind == b"d":
                rows.append([body.decode(errors="replace").rstrip("\n")])
            elif kind == b"G":  # COPY FROM STDIN: nothing to send
                self.sock.sendall(b"c" + struct.pack("!i", 4))

    def query(self, sql):
        data = sql.encode() + b"\0"
        self.sock.sendall(b"Q" + struct.pack("!i", 4 + len(data)) + data)
        return self._until_ready()

    def close(self):
        try:
            self.sock.sendall(b"X" + struct.pack("!i", 4))
            self.sock.close()
        except OSError:
            pass


def load(port, count):
    rng = random.Random()
    pool, errors = [], 0

    def conn():
        # Mostly a pooled connection; sometimes a fresh one (a new server process), sometimes one closed.
        if not pool or (len(pool) < 4 and rng.random() < 0.2):
            pool.append(Conn(port))
        elif rng.random() < 0.05:
            pool.pop(rng.randrange(len(pool))).close()
            pool.append(Conn(port))
        return rng.choice(pool)

    def account():
        return rng.randint(1, 500)

    def insert(c):
        payload = '{"ip": "10.0.%d.%d", "ms": %d}' % (rng.randint(0, 255), rng.randint(1, 254), rng.randint(1, 900))
        c.query(f"INSERT INTO events (account, kind, payload) VALUES ({account()}, '{rng.choice(KINDS)}', "
                f"'{payload}')")

    def insert_many(c):
        c.query("INSERT INTO events (account, kind, payload) SELECT (random() * 499)::int + 1, "
                f"'{rng.choice(KINDS)}', jsonb_build_object('batch', g) FROM generate_series(1, "
                f"{rng.randint(10, 2000)}) g")

    def lookup(c):
        c.query(f"SELECT id, kind, payload->>'ip', at FROM events WHERE account = {account()} ORDER BY at DESC LIMIT 20")

    def balance(c):
        c.query(f"SELECT name, balance FROM accounts WHERE id = {account()}")

    def transfer(c):
        a, b, amount = account(), account(), rng.randint(1, 50)
        c.query("BEGIN")
        c.query(f"UPDATE accounts SET balance = balance - {amount} WHERE id = {a}")
        c.query(f"UPDATE accounts SET balance = balance + {amount} WHERE id = {b}")
        c.query(f"INSERT INTO events (account, kind, payload) VALUES ({a}, 'transfer', '{{\"to\": {b}}}')")
        c.query("ROLLBACK" if rng.random() < 0.1 else "COMMIT")

    def report(c):
        c.query("SELECT kind, count(*), avg((payload->>'ms')::int) FROM events "
                "WHERE at > now() - interval '1 hour' GROUP BY kind ORDER BY 2 DESC")

    def big_sort(c):
        # Larger than work_mem (4 MB): the sort goes to temporary files.
        c.query("SET work_mem = '1MB'")
        c.query("SELECT account, count(DISTINCT kind), max(at) FROM (SELECT * FROM events ORDER BY payload::text) s "
                "GROUP BY account ORDER BY 2 DESC LIMIT 10")
        c.query("RESET work_mem")

    def search(c):
        c.query(f"SELECT count(*) FROM accounts WHERE name LIKE 'user{rng.randint(1, 49)}%'")

    def prune(c):
        c.query(f"DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT {rng.randint(50, 1500)})")

    def export(c):
        c.query(f"COPY (SELECT * FROM events WHERE account = {account()}) TO STDOUT WITH (FORMAT csv)")

    def temp_table(c):
        c.query("CREATE TEMP TABLE IF NOT EXISTS recent AS SELECT * FROM events ORDER BY id DESC LIMIT 200")
        c.query("SELECT kind, count(*) FROM recent GROUP BY kind")
        c.query("DROP TABLE recent")

    def maintain(c):
        c.query(rng.choice(["ANALYZE events", "VACUUM events", "ANALYZE accounts"]))

    def stats(c):
        c.query("SELECT datname, numbackends, xact_commit FROM pg_stat_database WHERE datname = current_database()")

    mix = [(30, insert), (4, insert_many), (25, lookup), (15, balance), (10, transfer), (4, report), (1, big_sort),
           (5, search), (2, prune), (2, export), (1, temp_table), (1, maintain), (1, stats)]
    weights = [w for w, _ in mix]
    setup = Conn(port)
    for sql in SCHEMA:
        try:
            setup.query(sql)
        except Error:
            errors += 1  # another replica's client made it at the same moment
    setup.close()
    for _ in range(count):
        _, unit = rng.choices(mix, weights)[0]
        try:
            unit(conn())
        except (Error, OSError):
            errors += 1
            pool.clear()
        r = rng.random()
        time.sleep(0.0 if r < 0.5 else rng.uniform(0.0, 0.05) if r < 0.97 else rng.uniform(0.3, 1.0))
    # The closing report of every run (as a day's): the larger sort, which PostgreSQL's JIT compiles on these tables.
    try:
        big_sort(conn())
    except (Error, OSError):
        errors += 1
    for c in pool:
        c.close()
    print(f"dbload: {count} units and a closing report, {errors} errors", file=sys.stderr)


def main():
    port = int(sys.argv[1])
    if len(sys.argv) > 3 and sys.argv[2] == "--sql":
        c = Conn(port)
        for sql in sys.argv[3:]:
            for row in c.query(sql):
                print("\t".join("" if v is None else v for v in row))
        c.close()
    else:
        load(port, int(sys.argv[2]))


if __name__ == "__main__":
    main()
