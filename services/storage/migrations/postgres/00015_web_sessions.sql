-- +goose Up
-- Web sessions (auth/session). The key is the hex SHA-256 of the random
-- token in the browser's cookie; the token itself is never stored. A row
-- lives until expires_at (the absolute timeout) whether or not it was
-- revoked, then DeleteExpiredSessions removes it; the idle timeout is
-- checked against last_seen_at, which is refreshed at most once a minute.
CREATE TABLE web_sessions (
    id_hash       TEXT PRIMARY KEY,
    subject       TEXT NOT NULL,
    role          TEXT NOT NULL,
    departments   TEXT NOT NULL DEFAULT '[]', -- JSON array of department ids
    operator_id   TEXT NOT NULL DEFAULT '',
    contact_id    TEXT NOT NULL DEFAULT '',
    display_name  TEXT NOT NULL DEFAULT '',
    fiscal_number TEXT,
    provider      TEXT NOT NULL,              -- "spid:<op>", "staff-sso", "dev"
    created_at    TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ,
    -- Secrets kept with the session (the OP's access token and ID token
    -- for logout), sealed with AES-256-GCM under a key derived from the
    -- cookie token: unreadable from a dump of this table.
    data          BYTEA
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
CREATE INDEX web_sessions_subject ON web_sessions (subject) WHERE revoked_at IS NULL;

-- +goose Down
DROP TABLE web_sessions;
