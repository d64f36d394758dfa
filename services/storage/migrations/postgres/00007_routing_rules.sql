-- +goose Up
-- Routing rules: for contacts without a known category, the first enabled
-- rule (by position) whose conditions all hold picks the department.
CREATE TABLE routing_rules (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    position      INTEGER NOT NULL,
    department_id TEXT NOT NULL REFERENCES departments (id),
    channel_kind  TEXT NOT NULL DEFAULT '', -- '' matches any
    channel_id    TEXT NOT NULL DEFAULT '',
    to_address    TEXT NOT NULL DEFAULT '', -- receiving address (e-mail: dati@...)
    ivr_choice    TEXT NOT NULL DEFAULT '',
    keywords      TEXT NOT NULL DEFAULT '', -- words as configured, space-separated
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX routing_rules_position ON routing_rules (position, id);

-- +goose Down
DROP TABLE routing_rules;
