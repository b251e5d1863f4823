-- Agents' SIP registrations (native mode), saved after every change so that
-- a restarted or crashed node rings agents at once instead of after their
-- phones next re-register (sip/native.BindingStore).
CREATE TABLE sip_bindings (
    sip_user   text NOT NULL,
    contact    text NOT NULL,
    source     text NOT NULL,
    transport  text NOT NULL,
    call_id    text NOT NULL,
    cseq       bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (sip_user, contact)
);
