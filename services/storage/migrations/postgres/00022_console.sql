-- +goose Up
-- The operator console's queue (web/console) lists the active cases of a
-- department (status not resolved nor closed: storage.activeCases, written
-- literally in the query so the planner can use these partial indexes) in
-- the order the operator picks. They index only the working backlog, a
-- small part of the table, so they cost little on writes.
CREATE INDEX cases_active_department_due ON cases (department_id, sla_due_at, id) WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX cases_active_department_priority ON cases (department_id, priority DESC, id) WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX cases_active_department_id ON cases (department_id, id) WHERE status NOT IN ('resolved', 'closed');
-- Staff of several departments (and administrators): every active case,
-- nearest deadline first; the department filter is applied on the way.
CREATE INDEX cases_active_due ON cases (sla_due_at, id) WHERE status NOT IN ('resolved', 'closed');

-- +goose Down
DROP INDEX cases_active_due;
DROP INDEX cases_active_department_id;
DROP INDEX cases_active_department_priority;
DROP INDEX cases_active_department_due;
