-- Personal data out of the append-only log (152-FZ). Events and call records
-- carry a pseudonymous ref ("p-" + 16 random hex digits, never derived from
-- the number) instead of a caller's number, the digits an IVR collect node
-- gathered or an agent's notes; the values live here, where a retention job
-- and an erasure request can delete them. A deleted row leaves its ref
-- anonymous: every figure (FCR's repeat calls included) still matches refs.
CREATE TABLE personal_data (
    ref         text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('caller', 'collected', 'notes')),
    value       text NOT NULL,
    -- The caller's normalized number (reporting.NormalizeNumber), for
    -- erasure by number; '' when the call was anonymous.
    number_norm text NOT NULL,
    created_at  timestamptz NOT NULL,
    -- kind caller: the latest event that carried the number (retention
    -- counts from it); others: created_at.
    last_seen   timestamptz NOT NULL
);
CREATE INDEX personal_data_number_idx ON personal_data (number_norm);
-- One ref per number while the mapping lives.
CREATE UNIQUE INDEX personal_data_caller_idx ON personal_data (number_norm) WHERE kind = 'caller';
CREATE INDEX personal_data_kind_seen_idx ON personal_data (kind, last_seen);

-- Rows written by an older hotline still hold numbers: the Go step after
-- the migrations (reporting.Migrate) moves them here once and sets done.
CREATE TABLE privacy_migration (
    done boolean NOT NULL
);
INSERT INTO privacy_migration VALUES (false);
