-- +goose Up
-- The staff access log: who read which case or contact, when. Append-only
-- and hash-chained: hash = SHA-256 over prev_hash and every other column
-- (services/accesslog.Hash defines the encoding); the first entry's
-- prev_hash is 64 zeros. Appenders read the head and insert in one
-- immediate (write-locked) transaction, so seq has no gaps and the chain
-- never forks. No personal data beyond ids.
CREATE TABLE access_log (
    seq         INTEGER PRIMARY KEY,   -- 1, 2, 3 ... in append order
    at          TIMESTAMP NOT NULL,    -- UTC, microseconds
    actor       TEXT NOT NULL,         -- principal subject
    actor_role  TEXT NOT NULL,
    operator_id TEXT,
    action      TEXT NOT NULL,         -- "case.read", "contact.read" ...
    case_id     TEXT,
    contact_id  TEXT,
    detail      TEXT NOT NULL DEFAULT '',
    request_id  TEXT,
    prev_hash   TEXT NOT NULL,         -- hex SHA-256
    hash        TEXT NOT NULL          -- hex SHA-256
);
-- Administrators' queries, newest first.
CREATE INDEX access_log_actor ON access_log (actor, seq);
CREATE INDEX access_log_case ON access_log (case_id, seq) WHERE case_id IS NOT NULL;
CREATE INDEX access_log_contact ON access_log (contact_id, seq) WHERE contact_id IS NOT NULL;
CREATE INDEX access_log_action ON access_log (action, seq);
CREATE INDEX access_log_at ON access_log (at);

-- SQLite has no TRUNCATE; DELETE without WHERE fires the DELETE trigger
-- (a trigger turns the truncate optimisation off).
-- +goose StatementBegin
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log BEGIN
    SELECT RAISE(ABORT, 'access_log is append-only: UPDATE refused');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log BEGIN
    SELECT RAISE(ABORT, 'access_log is append-only: DELETE refused');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER access_log_no_delete;
DROP TRIGGER access_log_no_update;
DROP TABLE access_log;
