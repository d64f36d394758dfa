-- +goose Up
-- Facts for the supervisors' reports (services/reports), written by the
-- same conditional update that changes the case, so they never drift:
--   first_response_seconds  working seconds (SLA calendar, pauses for the
--                           citizen excluded) from creation to the first reply
--   resolved_at             when the case was last resolved; cleared when it
--                           is reopened, so it is the final resolution
--   resolution_seconds      working seconds from creation to resolved_at
--   reopen_count            times the case left resolved/closed
-- Business-hours durations are costly to compute over many cases at query
-- time, so they are stored when they happen.
ALTER TABLE cases ADD COLUMN first_response_seconds BIGINT;
ALTER TABLE cases ADD COLUMN resolved_at TIMESTAMPTZ;
ALTER TABLE cases ADD COLUMN resolution_seconds BIGINT;
ALTER TABLE cases ADD COLUMN reopen_count INTEGER NOT NULL DEFAULT 0;
-- Reports read the cases opened in a date range, optionally of some
-- departments; the columns they aggregate are included so PostgreSQL
-- answers from the index alone.
CREATE INDEX cases_report_created ON cases (created_at, department_id)
    INCLUDE (channel_kind, status, first_response_due_at, first_responded_at, first_response_seconds,
             sla_due_at, resolved_at, resolution_seconds, reopen_count);
CREATE INDEX cases_report_resolved ON cases (resolved_at, department_id) INCLUDE (assignee_id)
    WHERE resolved_at IS NOT NULL;
-- The live metrics, the backlog and the operators' open cases read the
-- open cases only: a partial index that answers them alone, whose size
-- follows the backlog, not the history.
CREATE INDEX cases_report_open ON cases (department_id, status) INCLUDE (assignee_id, created_at, sla_due_at, sla_paused_at)
    WHERE status IN ('new', 'open', 'pending_citizen', 'on_hold');

-- +goose Down
DROP INDEX cases_report_open;
DROP INDEX cases_report_resolved;
DROP INDEX cases_report_created;
ALTER TABLE cases DROP COLUMN reopen_count;
ALTER TABLE cases DROP COLUMN resolution_seconds;
ALTER TABLE cases DROP COLUMN resolved_at;
ALTER TABLE cases DROP COLUMN first_response_seconds;
