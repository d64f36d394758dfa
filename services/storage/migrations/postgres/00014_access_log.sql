-- +goose Up
-- The staff access log: who read which case or contact, when. Append-only
-- and hash-chained: hash = SHA-256 over prev_hash and every other column
-- (services/accesslog.Hash defines the encoding); the first entry's
-- prev_hash is 64 zeros. Appenders hold a transaction-scoped advisory lock
-- while they read the head and insert, so seq has no gaps and the chain
-- never forks. No personal data beyond ids.
CREATE TABLE access_log (
    seq         BIGINT PRIMARY KEY,    -- 1, 2, 3 ... in append order
    at          TIMESTAMPTZ NOT NULL,  -- UTC, microseconds
    actor       TEXT NOT NULL,         -- principal subject
    actor_role  TEXT NOT NULL,
    operator_id TEXT,
    action      TEXT NOT NULL,         -- "case.read", "contact.read" ...
    case_id     TEXT,                  -- TEXT, not UUID: hashed as written
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

-- +goose StatementBegin
CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'access_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER access_log_no_update_delete BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();

-- +goose Down
DROP TABLE access_log;
DROP FUNCTION access_log_append_only();
