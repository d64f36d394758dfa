-- +goose Up
CREATE TABLE departments (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
-- Whatever no category or rule routes elsewhere lands here; it must exist.
INSERT INTO departments (id, name, created_at) VALUES ('triage', 'Smistamento', CURRENT_TIMESTAMP);

CREATE TABLE categories (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    department_id TEXT NOT NULL REFERENCES departments (id),
    created_at    TIMESTAMP NOT NULL
);

-- The citizen, one record across channels.
CREATE TABLE contacts (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL DEFAULT '',
    email        TEXT,
    created_at   TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX contacts_email ON contacts (email) WHERE email IS NOT NULL;

-- Per-year sequence behind case references ("2026-000123").
CREATE TABLE reference_counters (
    year INTEGER PRIMARY KEY,
    last INTEGER NOT NULL
);

CREATE TABLE cases (
    id            TEXT PRIMARY KEY, -- UUIDv7: ordering by id orders by creation
    reference     TEXT NOT NULL UNIQUE,
    subject       TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL,
    priority      INTEGER NOT NULL,
    category_code TEXT NOT NULL DEFAULT '',
    department_id TEXT NOT NULL REFERENCES departments (id),
    assignee_id   TEXT NOT NULL DEFAULT '',
    channel_kind  TEXT NOT NULL,
    channel_id    TEXT NOT NULL,
    contact_id    TEXT NOT NULL REFERENCES contacts (id),
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX cases_department_status ON cases (department_id, status, id);
CREATE INDEX cases_status ON cases (status, id);
CREATE INDEX cases_assignee ON cases (assignee_id, status, id);
CREATE INDEX cases_priority ON cases (priority DESC, id);

CREATE TABLE messages (
    id           TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases (id),
    direction    TEXT NOT NULL,
    channel_kind TEXT NOT NULL,
    channel_id   TEXT NOT NULL,
    external_id  TEXT, -- NULL until the channel gives one (outbound)
    inbound_id   TEXT NOT NULL DEFAULT '',
    author_name  TEXT NOT NULL DEFAULT '',
    author_email TEXT NOT NULL DEFAULT '',
    body_text    TEXT NOT NULL,
    received_at  TIMESTAMP NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
-- What makes a redelivered or retried inbound contact harmless. Not a
-- partial index: neither planner can match "external_id IN (...)" to one.
CREATE UNIQUE INDEX messages_channel_external ON messages (channel_kind, channel_id, external_id);
CREATE INDEX messages_case ON messages (case_id, id);

-- +goose Down
DROP TABLE messages;
DROP TABLE cases;
DROP TABLE reference_counters;
DROP TABLE contacts;
DROP TABLE categories;
DROP TABLE departments;
