-- Crash recovery (issue 17, item 6): the callback dial in progress, written
-- by the dial itself (callback.TrackDials): dial_attempt (attempts + 1) and
-- dial_started_at before the dial, dial_answered_at once the caller
-- answered; cleared when the attempt's outcome arrives. A dial still open at
-- the next start was cut by a crash (Service.Start settles it, docs/queue.md).
-- crash_redials: answered dials cut by a crash that were given a prompt
-- re-dial (at most one per callback).
ALTER TABLE callback ADD COLUMN dial_attempt int;
ALTER TABLE callback ADD COLUMN dial_started_at timestamptz;
ALTER TABLE callback ADD COLUMN dial_answered_at timestamptz;
ALTER TABLE callback ADD COLUMN crash_redials int NOT NULL DEFAULT 0;
