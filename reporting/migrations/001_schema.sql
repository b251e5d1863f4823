-- hotline reporting schema. Timestamps are UTC (timestamptz); durations are
-- integer milliseconds. Derived tables (calls, queue_visits, agent_states,
-- rollup_*) are rebuilt from events by the projector and RebuildRollups.

-- The event log: append-only, idempotent by id.
CREATE TABLE events (
    id        text PRIMARY KEY,
    seq       bigint GENERATED ALWAYS AS IDENTITY,
    at        timestamptz NOT NULL,
    type      text NOT NULL,
    call_id   text NOT NULL DEFAULT '',
    queue     text NOT NULL DEFAULT '',
    agent     text NOT NULL DEFAULT '',
    caller    text NOT NULL DEFAULT '',
    priority  integer NOT NULL DEFAULT 0,
    reason    text NOT NULL DEFAULT '',
    data      jsonb
);
CREATE INDEX events_seq_idx ON events (seq);
CREATE INDEX events_at_idx ON events (at);
CREATE INDEX events_call_idx ON events (call_id) WHERE call_id <> '';

CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events is append-only';
END $$;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

-- One row per call.
CREATE TABLE calls (
    call_id          text PRIMARY KEY,
    arrived_at       timestamptz,
    caller           text NOT NULL DEFAULT '',
    caller_norm      text NOT NULL DEFAULT '',
    dialed           text NOT NULL DEFAULT '',
    trunk            text NOT NULL DEFAULT '',
    ivr_path         text[] NOT NULL DEFAULT '{}',
    language         text NOT NULL DEFAULT '',
    first_queue      text NOT NULL DEFAULT '',
    queue            text NOT NULL DEFAULT '',
    joined_at        timestamptz,
    wait_ms          bigint,
    outcome          text NOT NULL DEFAULT '',
    answered_at      timestamptz,
    agent            text NOT NULL DEFAULT '',
    talk_ms          bigint NOT NULL DEFAULT 0,
    wrapup_ms        bigint NOT NULL DEFAULT 0,
    ended_at         timestamptz,
    end_reason       text NOT NULL DEFAULT '',
    disposition      text NOT NULL DEFAULT '',
    disposition_code text NOT NULL DEFAULT '',
    no_survey        boolean NOT NULL DEFAULT false,
    line             text NOT NULL DEFAULT '',
    first_line       text NOT NULL DEFAULT '',
    escalated_to     text NOT NULL DEFAULT '',
    escalated_at     timestamptz,
    second_line_answered_at timestamptz,
    survey_status    text NOT NULL DEFAULT '',
    survey_rating    smallint,
    survey_solved    text NOT NULL DEFAULT ''
);
CREATE INDEX calls_arrived_idx ON calls (arrived_at);
CREATE INDEX calls_caller_idx ON calls (caller_norm, arrived_at) WHERE caller_norm <> '';

-- One row per stay of a call in a queue (a call that overflows or is
-- escalated has several). Queue formulas are computed over these.
CREATE TABLE queue_visits (
    call_id          text NOT NULL,
    n                integer NOT NULL,
    queue            text NOT NULL,
    line             text NOT NULL DEFAULT '',
    joined_at        timestamptz NOT NULL,
    priority         integer NOT NULL DEFAULT 0,
    outcome          text NOT NULL,
    left_at          timestamptz,
    wait_ms          bigint,
    agent            text NOT NULL DEFAULT '',
    answered_at      timestamptz,
    ring_ms          bigint,
    talk_ms          bigint NOT NULL DEFAULT 0,
    wrapup_ms        bigint NOT NULL DEFAULT 0,
    ring_noanswer    integer NOT NULL DEFAULT 0,
    escalated_from   text NOT NULL DEFAULT '',
    escalated_to     text NOT NULL DEFAULT '',
    escalated_at     timestamptz,
    overflow_to      text NOT NULL DEFAULT '',
    within_t         boolean NOT NULL DEFAULT false,
    short_abandon    boolean NOT NULL DEFAULT false,
    abandon_within_t boolean NOT NULL DEFAULT false,
    PRIMARY KEY (call_id, n)
);
CREATE INDEX queue_visits_joined_idx ON queue_visits (joined_at);
CREATE INDEX queue_visits_answered_idx ON queue_visits (answered_at) WHERE answered_at IS NOT NULL;

-- Agent state log (from agent.state events).
CREATE TABLE agent_states (
    event_id   text PRIMARY KEY,
    agent      text NOT NULL,
    at         timestamptz NOT NULL,
    from_state text NOT NULL DEFAULT '',
    to_state   text NOT NULL,
    reason     text NOT NULL DEFAULT ''
);
CREATE INDEX agent_states_agent_at_idx ON agent_states (agent, at);
CREATE INDEX agent_states_at_idx ON agent_states (at);

-- 15-minute rollups. A queue visit counts in the interval it joined the queue.
CREATE TABLE rollup_queue (
    bucket             timestamptz NOT NULL,
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
    PRIMARY KEY (bucket, queue)
);

-- A call counts in the interval the agent answered it; logged-in and paused
-- time are split exactly across intervals.
CREATE TABLE rollup_agent (
    bucket       timestamptz NOT NULL,
    agent        text NOT NULL,
    answered     integer NOT NULL DEFAULT 0,
    missed       integer NOT NULL DEFAULT 0,
    escalations  integer NOT NULL DEFAULT 0,
    ring_ms      bigint NOT NULL DEFAULT 0,
    talk_ms      bigint NOT NULL DEFAULT 0,
    wrapup_ms    bigint NOT NULL DEFAULT 0,
    logged_in_ms bigint NOT NULL DEFAULT 0,
    paused_ms    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, agent)
);

-- Projector watermark: events with seq <= seq are reflected in derived tables.
CREATE TABLE projector_state (
    name text PRIMARY KEY,
    seq  bigint NOT NULL
);
INSERT INTO projector_state VALUES ('main', 0);
