-- When a node was last known alive. A running hotline writes alive_at every
-- few seconds; after a crash (kill -9, power loss) the next start closes the
-- calls the dead process left open at the later of their last event and
-- this time (docs/metrics.md, "Calls cut by a crash").
CREATE TABLE node_heartbeat (
    node       text PRIMARY KEY,
    started_at timestamptz NOT NULL,
    alive_at   timestamptz NOT NULL
);
