-- The digests an image report names (its image id, manifest and multi-platform index), so that an image named by
-- digest — a pod spec pinned to `NAME@sha256:…` — finds its report whatever tag it was scanned under. Filled as
-- reports are stored; reports stored before this table existed are added when the store opens.
CREATE TABLE report_digests (
    digest      TEXT NOT NULL,
    report      TEXT NOT NULL,
    received_ns BIGINT NOT NULL,
    PRIMARY KEY (digest, report)
);
CREATE INDEX report_digests_by_time ON report_digests (digest, received_ns DESC);
