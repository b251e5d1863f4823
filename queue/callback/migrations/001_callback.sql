-- Queued callbacks (package queue/callback). Times are UTC.
CREATE TABLE callback (
    id           bigserial PRIMARY KEY,
    call_id      text NOT NULL UNIQUE,
    -- E.164 to dial; blanked when the callback ends (docs/privacy.md).
    number       text NOT NULL DEFAULT '',
    queue        text NOT NULL,
    priority     int NOT NULL DEFAULT 0,
    lang         text NOT NULL DEFAULT '',
    -- key | max-wait | full | no-agents | ivr
    source       text NOT NULL,
    -- the caller's place in line: when they first joined the queue
    joined_at    timestamptz NOT NULL,
    requested_at timestamptz NOT NULL,
    deadline     timestamptz NOT NULL,
    -- scheduled (a job will hand it to the queue) | queued (in the queue's line)
    -- | connected | no_answer | failed | expired | refused | cancelled
    state        text NOT NULL,
    attempts     int NOT NULL DEFAULT 0,
    outcome      text NOT NULL DEFAULT '',
    next_at      timestamptz,
    ended_at     timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX callback_open_idx ON callback (state, joined_at) WHERE state IN ('scheduled', 'queued');
