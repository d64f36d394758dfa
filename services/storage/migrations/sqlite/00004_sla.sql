-- +goose Up
-- Resolution targets in business minutes, per department and priority.
CREATE TABLE sla_policies (
    department_id      TEXT NOT NULL REFERENCES departments (id),
    priority           INTEGER NOT NULL,
    resolution_minutes INTEGER NOT NULL CHECK (resolution_minutes > 0),
    PRIMARY KEY (department_id, priority)
);

-- The case's resolution deadline, stored so the queue can sort by it.
-- While the case waits for the citizen or is on hold, sla_paused_at is set
-- and the deadline moves on resume. sla_warned and sla_breached make the
-- warning and breach events happen once each, whatever the replicas.
-- 9999-12-31 means no SLA: a NOT NULL sort key keeps keyset paging on it simple.
ALTER TABLE cases ADD COLUMN sla_due_at TIMESTAMP NOT NULL DEFAULT '9999-12-31 00:00:00+00:00';
ALTER TABLE cases ADD COLUMN sla_warn_at TIMESTAMP;
ALTER TABLE cases ADD COLUMN sla_paused_at TIMESTAMP;
-- Working seconds spent paused so far: a changed target is recomputed as
-- created + target + paused time.
ALTER TABLE cases ADD COLUMN sla_paused_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN sla_warned BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE cases ADD COLUMN sla_breached BOOLEAN NOT NULL DEFAULT FALSE;
-- The SLA timer's two scans.
CREATE INDEX cases_sla_warn ON cases (sla_warn_at) WHERE sla_warned = FALSE;
CREATE INDEX cases_sla_due ON cases (sla_due_at) WHERE sla_breached = FALSE;
-- The queue sorted by SLA, and ClaimNextCase (most urgent deadline first).
CREATE INDEX cases_department_due ON cases (department_id, status, sla_due_at, id);
CREATE INDEX cases_claim_due ON cases (department_id, assignee_id, sla_due_at, priority DESC, id);
-- Superseded by cases_claim_due: ClaimNextCase orders by deadline first now.
DROP INDEX cases_claim;

-- +goose Down
CREATE INDEX cases_claim ON cases (department_id, assignee_id, priority DESC, id);
DROP INDEX cases_claim_due;
DROP INDEX cases_department_due;
DROP INDEX cases_sla_due;
DROP INDEX cases_sla_warn;
ALTER TABLE cases DROP COLUMN sla_breached;
ALTER TABLE cases DROP COLUMN sla_warned;
ALTER TABLE cases DROP COLUMN sla_paused_seconds;
ALTER TABLE cases DROP COLUMN sla_paused_at;
ALTER TABLE cases DROP COLUMN sla_warn_at;
ALTER TABLE cases DROP COLUMN sla_due_at;
DROP TABLE sla_policies;
