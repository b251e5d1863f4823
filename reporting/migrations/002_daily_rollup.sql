-- Daily queue rollups: the 15-minute rollup_queue rows summed per calendar
-- day in a time zone (the service's, Config.Location). Day interval reports
-- read these for whole days instead of re-aggregating ~96 rows per queue
-- and day. Maintained by the projector and RebuildRollups from rollup_queue;
-- a deployment that changes its zone rebuilds them (hotline rebuild-rollups).
CREATE TABLE rollup_queue_day (
    zone               text NOT NULL,
    day                timestamptz NOT NULL, -- local midnight of the day
    queue              text NOT NULL,
    offered            integer NOT NULL,
    answered           integer NOT NULL,
    answered_within_t  integer NOT NULL,
    abandoned          integer NOT NULL,
    short_abandoned    integer NOT NULL,
    abandoned_within_t integer NOT NULL,
    overflowed         integer NOT NULL,
    timed_out          integer NOT NULL,
    callbacks          integer NOT NULL,
    escalated          integer NOT NULL,
    wait_answered_ms   bigint NOT NULL,
    wait_abandoned_ms  bigint NOT NULL,
    max_wait_ms        bigint NOT NULL,
    talk_ms            bigint NOT NULL,
    wrapup_ms          bigint NOT NULL,
    PRIMARY KEY (zone, day, queue)
);

-- Backfill for the default zone from existing 15-minute rollups.
INSERT INTO rollup_queue_day
SELECT 'Europe/Moscow', date_trunc('day', bucket AT TIME ZONE 'Europe/Moscow') AT TIME ZONE 'Europe/Moscow', queue,
    sum(offered), sum(answered), sum(answered_within_t), sum(abandoned), sum(short_abandoned),
    sum(abandoned_within_t), sum(overflowed), sum(timed_out), sum(callbacks), sum(escalated),
    sum(wait_answered_ms), sum(wait_abandoned_ms), max(max_wait_ms), sum(talk_ms), sum(wrapup_ms)
FROM rollup_queue GROUP BY 2, 3;

-- Interval reports for one queue over a range.
CREATE INDEX rollup_queue_queue_bucket_idx ON rollup_queue (queue, bucket);
