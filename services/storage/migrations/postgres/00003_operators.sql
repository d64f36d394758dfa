-- +goose Up
-- Operators and what assignment needs to know about them. open_cases is
-- kept in step with cases (assigned and not resolved or closed) in the
-- same transaction as every change, so "below capacity" is one
-- conditional UPDATE that two replicas cannot both pass.
CREATE TABLE operators (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    email        TEXT NOT NULL DEFAULT '',
    role         TEXT NOT NULL,                    -- operator, supervisor, admin
    presence     TEXT NOT NULL DEFAULT 'offline',  -- online, away, offline
    capacity     INTEGER NOT NULL DEFAULT 20,      -- max open assigned cases
    open_cases   INTEGER NOT NULL DEFAULT 0,
    skills       TEXT NOT NULL DEFAULT '[]',       -- JSON array
    languages    TEXT NOT NULL DEFAULT '["it"]',   -- JSON array
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    CHECK (open_cases >= 0)
);

CREATE TABLE operator_departments (
    operator_id   TEXT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    department_id TEXT NOT NULL REFERENCES departments (id),
    PRIMARY KEY (operator_id, department_id)
);
CREATE INDEX operator_departments_department ON operator_departments (department_id);

-- manual (operators claim with ClaimNextCase), round_robin, least_loaded.
ALTER TABLE departments ADD COLUMN assignment_policy TEXT NOT NULL DEFAULT 'manual';

-- ClaimNextCase: the most urgent unassigned case of a department.
CREATE INDEX cases_claim ON cases (department_id, assignee_id, priority DESC, id);

-- +goose Down
DROP INDEX cases_claim;
ALTER TABLE departments DROP COLUMN assignment_policy;
DROP TABLE operator_departments;
DROP TABLE operators;
