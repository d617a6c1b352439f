-- Dashboard logins: a person exchanges a token for a session cookie; only the digest of the session's secret
-- is kept, with who it stands for and until when.
CREATE TABLE sessions (
    digest      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    created_ns  BIGINT NOT NULL,
    expires_ns  BIGINT NOT NULL
);

-- Verdicts on response decisions that wait for a person: given once (on the dashboard or through the API),
-- fetched by the node that asked, which acts (or not) and sends the decision's new state.
CREATE TABLE verdicts (
    node        TEXT NOT NULL,
    id          TEXT NOT NULL,
    verdict     TEXT NOT NULL,
    by_name     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    at_ns       BIGINT NOT NULL,
    PRIMARY KEY (node, id)
);

-- Reports of one kind (images, compliance), newest first.
CREATE INDEX reports_by_kind ON reports (kind, received_ns DESC);
