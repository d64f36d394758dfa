-- +goose Up
-- The SLA timer's scans cover running, unpaused cases only. A case settled before its
-- warning time keeps sla_warned = FALSE forever, so with the old predicates
-- every tick walked all of them; now those indexes hold the working backlog.
-- Queries must repeat these predicates literally (services/storage/history.go,
-- slaScan) for the planner to use them.
DROP INDEX cases_sla_warn;
CREATE INDEX cases_sla_warn ON cases (sla_warn_at)
    WHERE sla_warned = FALSE AND status NOT IN ('resolved', 'closed') AND sla_paused_at IS NULL;
DROP INDEX cases_sla_due;
CREATE INDEX cases_sla_due ON cases (sla_due_at)
    WHERE sla_breached = FALSE AND status NOT IN ('resolved', 'closed') AND sla_paused_at IS NULL;
DROP INDEX cases_first_response_due;
CREATE INDEX cases_first_response_due ON cases (first_response_due_at)
    WHERE first_responded_at IS NULL AND first_response_breached = FALSE AND status NOT IN ('resolved', 'closed') AND sla_paused_at IS NULL;

-- +goose Down
DROP INDEX cases_first_response_due;
CREATE INDEX cases_first_response_due ON cases (first_response_due_at)
    WHERE first_responded_at IS NULL AND first_response_breached = FALSE;
DROP INDEX cases_sla_due;
CREATE INDEX cases_sla_due ON cases (sla_due_at) WHERE sla_breached = FALSE;
DROP INDEX cases_sla_warn;
CREATE INDEX cases_sla_warn ON cases (sla_warn_at) WHERE sla_warned = FALSE;
