-- Pages of alerts walk one index in the order they are shown (newest first, then node, then id), with or
-- without a node or workload filter; a running count per severity spares counting a million rows for a
-- summary. The severity index went: a severity filter walks the time index (a page needs ~100 matches).
DROP INDEX alerts_by_time;
DROP INDEX alerts_by_severity;
DROP INDEX alerts_by_workload;
CREATE INDEX alerts_by_time ON alerts (time_ns DESC, node DESC, id DESC);
CREATE INDEX alerts_by_node ON alerts (node, time_ns DESC, id DESC);
CREATE INDEX alerts_by_workload ON alerts (workload, time_ns DESC, node DESC, id DESC);
CREATE TABLE alert_counts (
    severity BIGINT PRIMARY KEY,
    n        BIGINT NOT NULL
);
INSERT INTO alert_counts (severity, n) SELECT severity, COUNT(*) FROM alerts GROUP BY severity;
