-- One row per line: who holds the line's lease (an advisory lock on the
-- holder's own connection, package internal/lease), its fencing token
-- (one more at each acquisition) and whether the last holder released it
-- cleanly (a hand-over: the next holder need not wait out the fencing
-- delay). Written only by the lock's holder.
CREATE TABLE line_lease (
    line        text PRIMARY KEY,
    node        text NOT NULL,
    token       bigint NOT NULL,
    acquired_at timestamptz NOT NULL,
    released_at timestamptz
);
