-- The desk's sessions and password resets (package desk/deskpg, issue 18).
-- A session is kept by the SHA-256 of its token (base64url), never the
-- token; its CSRF token is derived from the token. Expired rows are deleted
-- as new sessions are made and when found expired.
CREATE TABLE desk_session (
    hash       text PRIMARY KEY,
    user_id    text NOT NULL,
    -- the user's password hash (bcrypt) when the session began: the
    -- session is good only while the password is still that one
    user_hash  text NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX desk_session_user_idx ON desk_session (user_id);
CREATE INDEX desk_session_expires_idx ON desk_session (expires_at);
-- A password a supervisor or admin set (bcrypt). It applies while the
-- config file still has config_hash for the user ('' for an agent without
-- a web password); a new password in the file wins and the row is deleted.
CREATE TABLE desk_password (
    user_id     text PRIMARY KEY,
    hash        text NOT NULL,
    config_hash text NOT NULL DEFAULT '',
    reset_at    timestamptz NOT NULL,
    reset_by    text NOT NULL
);
