-- The dialling policy's ledger (package dialpolicy): one row per dial the
-- policy permitted, survey and callbacks together, for the daily cap and
-- the per-number limit. The number is kept as a salted SHA-256 only, and
-- rows older than the longer of a day and the per-number window are
-- deleted as new dials are recorded.
CREATE TABLE dial_salt (
    salt text NOT NULL
);
INSERT INTO dial_salt VALUES (replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));

CREATE TABLE dial_ledger (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    number_hash text NOT NULL,
    purpose     text NOT NULL,
    call_id     text NOT NULL DEFAULT ''
);
CREATE INDEX dial_ledger_at ON dial_ledger (at);
CREATE INDEX dial_ledger_number ON dial_ledger (number_hash, at);
