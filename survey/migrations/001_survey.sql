-- Survey bot tables. Times are UTC.
CREATE TABLE survey (
    id            bigserial PRIMARY KEY,
    call_id       text NOT NULL UNIQUE,
    -- E.164 from the call.arrived event of the inbound call; '' when anonymous.
    number        text NOT NULL DEFAULT '',
    -- skipped | scheduled | in_progress | retry | completed | failed | cancelled | optout
    state         text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    call_at       timestamptz NOT NULL,
    ended_at      timestamptz NOT NULL,
    zone          text NOT NULL DEFAULT '',
    next_at       timestamptz,
    deadline      timestamptz,
    attempts      int NOT NULL DEFAULT 0,
    queue         text NOT NULL DEFAULT '',
    agent         text NOT NULL DEFAULT '',
    team          text NOT NULL DEFAULT '',
    line          int NOT NULL DEFAULT 1,
    visits        jsonb NOT NULL DEFAULT '[]',
    escalated     boolean NOT NULL DEFAULT false,
    escalated_to  text NOT NULL DEFAULT '',
    escalation_reason text NOT NULL DEFAULT '',
    disposition   text NOT NULL DEFAULT '',
    disposition_code text NOT NULL DEFAULT '',
    notes         text NOT NULL DEFAULT '',
    rating        smallint,
    solved        text,
    job_id        bigint,
    reviewed_at   timestamptz,
    reviewed_by   text NOT NULL DEFAULT '',
    review_comment text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX survey_number_idx ON survey (number, ended_at) WHERE state NOT IN ('skipped', 'cancelled');
CREATE INDEX survey_state_idx ON survey (state, id);
CREATE INDEX survey_review_idx ON survey (id) WHERE rating <= 2 OR solved = 'no';

CREATE TABLE survey_attempt (
    survey_id  bigint NOT NULL REFERENCES survey (id) ON DELETE CASCADE,
    n          int NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at   timestamptz,
    outcome    text NOT NULL DEFAULT '',
    PRIMARY KEY (survey_id, n)
);
CREATE INDEX survey_attempt_started_idx ON survey_attempt (started_at);

-- Opt-outs are forever.
CREATE TABLE survey_optout (
    number  text PRIMARY KEY,
    at      timestamptz NOT NULL,
    call_id text NOT NULL DEFAULT ''
);
