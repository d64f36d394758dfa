-- +goose Up
-- The operator console's queue (web/console) lists the active cases of a
-- department (status not resolved nor closed: storage.activeCases, written
-- literally in the query so the planner can use these partial indexes) in
-- the order the operator picks. They index only the working backlog, a
-- small part of the table, so they cost little on writes.
CREATE INDEX cases_active_department_due ON cases (department_id, sla_due_at, id) WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX cases_active_department_priority ON cases (department_id, priority DESC, id) WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX cases_active_department_id ON cases (department_id, id) WHERE status NOT IN ('resolved', 'closed');
-- "Assigned to me", nearest deadline first.
CREATE INDEX cases_active_assignee_due ON cases (assignee_id, sla_due_at, id) WHERE status NOT IN ('resolved', 'closed');
-- Staff of several departments (and administrators): every active case,
-- nearest deadline first; the department filter is applied on the way.
CREATE INDEX cases_active_due ON cases (sla_due_at, id) WHERE status NOT IN ('resolved', 'closed');

-- Canned responses (directory.CannedResponse): reply templates that
-- administrators keep per department ('' for every department); the
-- console fills their placeholders ({{nome}}, {{riferimento}}, ...).
CREATE TABLE canned_responses (
    id            TEXT PRIMARY KEY,
    department_id TEXT NOT NULL DEFAULT '',
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    language      TEXT NOT NULL DEFAULT 'it',
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX canned_responses_department ON canned_responses (department_id, title);

-- +goose Down
DROP TABLE canned_responses;
DROP INDEX cases_active_due;
DROP INDEX cases_active_assignee_due;
DROP INDEX cases_active_department_id;
DROP INDEX cases_active_department_priority;
DROP INDEX cases_active_department_due;
