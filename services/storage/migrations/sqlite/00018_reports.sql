-- +goose Up
-- Facts for the supervisors' reports (services/reports); see the
-- PostgreSQL migration for what each column means.
ALTER TABLE cases ADD COLUMN first_response_seconds INTEGER;
ALTER TABLE cases ADD COLUMN resolved_at TIMESTAMP;
ALTER TABLE cases ADD COLUMN resolution_seconds INTEGER;
ALTER TABLE cases ADD COLUMN reopen_count INTEGER NOT NULL DEFAULT 0;
CREATE INDEX cases_report_created ON cases (created_at, department_id);
CREATE INDEX cases_report_resolved ON cases (resolved_at, department_id) WHERE resolved_at IS NOT NULL;
CREATE INDEX cases_report_open ON cases (department_id, status, assignee_id, created_at)
    WHERE status IN ('new', 'open', 'pending_citizen', 'on_hold');

-- +goose Down
DROP INDEX cases_report_open;
DROP INDEX cases_report_resolved;
DROP INDEX cases_report_created;
ALTER TABLE cases DROP COLUMN reopen_count;
ALTER TABLE cases DROP COLUMN resolution_seconds;
ALTER TABLE cases DROP COLUMN resolved_at;
ALTER TABLE cases DROP COLUMN first_response_seconds;
