-- Call recordings (package recording): one row per recorded call, the
-- file under recording.dir, and when it was deleted (retention, erasure).
CREATE TABLE recordings (
    id          bigserial PRIMARY KEY,
    call_id     text NOT NULL UNIQUE,
    queue       text NOT NULL DEFAULT '',
    agent       text NOT NULL DEFAULT '',     -- first line
    agents      text[] NOT NULL DEFAULT '{}', -- every agent, in segment order
    path        text NOT NULL,                -- relative to recording.dir
    started_at  timestamptz NOT NULL,
    duration_ms bigint NOT NULL DEFAULT 0,
    size_bytes  bigint NOT NULL DEFAULT 0,
    sha256      text NOT NULL DEFAULT '',
    segments    jsonb NOT NULL DEFAULT '[]',
    dropped     bigint NOT NULL DEFAULT 0,   -- packets lost to a full buffer
    state       text NOT NULL DEFAULT 'recording', -- recording|done|failed|deleted
    error       text NOT NULL DEFAULT '',
    deleted_at  timestamptz,
    deleted_why text NOT NULL DEFAULT ''     -- retention|erased
);
CREATE INDEX recordings_started ON recordings (started_at) WHERE deleted_at IS NULL;
