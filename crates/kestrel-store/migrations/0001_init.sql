-- kestrel fleet storage, version 1. One dialect for SQLite and PostgreSQL: BIGINT, DOUBLE PRECISION and TEXT
-- only; JSON bodies are TEXT (the server parses them; the columns beside them are what queries filter on).

-- Node agents and CI clients that sent anything.
CREATE TABLE nodes (
    name        TEXT PRIMARY KEY,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    version     TEXT NOT NULL DEFAULT '',
    -- the agent's last status (JSON: workloads and their modes, drops, sensor state)
    status      TEXT NOT NULL DEFAULT '{}'
);

-- Runtime alerts (kestrel.alert/v1). An alert id is unique per node: (node, id) de-duplicates redelivery.
CREATE TABLE alerts (
    node        TEXT NOT NULL,
    id          TEXT NOT NULL,
    time_ns     BIGINT NOT NULL,
    received_ns BIGINT NOT NULL,
    severity    BIGINT NOT NULL,
    score       DOUBLE PRECISION NOT NULL,
    source      TEXT NOT NULL,
    title       TEXT NOT NULL,
    workload    TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (node, id)
);
CREATE INDEX alerts_by_time ON alerts (time_ns DESC, node, id);
CREATE INDEX alerts_by_severity ON alerts (severity, time_ns DESC);
CREATE INDEX alerts_by_workload ON alerts (workload, time_ns DESC);

-- Response decisions (kestrel.response/v1 audit lines): one row per state a decision went through.
CREATE TABLE decisions (
    node        TEXT NOT NULL,
    id          TEXT NOT NULL,
    written_ns  BIGINT NOT NULL,
    outcome     TEXT NOT NULL,
    alert_id    TEXT NOT NULL,
    action      TEXT NOT NULL,
    workload    TEXT NOT NULL,
    severity    BIGINT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (node, id, written_ns, outcome)
);
CREATE INDEX decisions_by_time ON decisions (written_ns DESC);
CREATE INDEX decisions_by_outcome ON decisions (outcome, written_ns DESC);

-- Scan reports (image, config, secrets, compliance), de-duplicated by the digest of their content.
CREATE TABLE reports (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    source      TEXT NOT NULL,
    received_ns BIGINT NOT NULL,
    critical    BIGINT NOT NULL,
    high        BIGINT NOT NULL,
    medium      BIGINT NOT NULL,
    low         BIGINT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX reports_by_subject ON reports (subject, received_ns DESC);
CREATE INDEX reports_by_time ON reports (received_ns DESC);

-- Learned behaviour profiles sent for federated merging: each node's latest per workload and version.
CREATE TABLE profiles (
    node        TEXT NOT NULL,
    workload    TEXT NOT NULL,
    version     BIGINT NOT NULL,
    received_ns BIGINT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (node, workload, version)
);
