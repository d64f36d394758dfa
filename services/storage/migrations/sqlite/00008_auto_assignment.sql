-- +goose Up
-- When an operator last received a case: round_robin gives the next case
-- to whoever waited longest, least_loaded uses it to break ties.
ALTER TABLE operators ADD COLUMN last_assigned_at TIMESTAMP;
-- The auto-assigner's scan: unassigned open cases of a department, by deadline.
CREATE INDEX operator_departments_operator ON operator_departments (operator_id);

-- +goose Down
DROP INDEX operator_departments_operator;
ALTER TABLE operators DROP COLUMN last_assigned_at;
