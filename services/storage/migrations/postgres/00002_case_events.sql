-- +goose Up
-- Append-only case history, written in the same transaction as the change
-- it records.
CREATE TABLE case_events (
    id            UUID PRIMARY KEY, -- UUIDv7, the Nats-Msg-Id when relayed
    case_id       UUID NOT NULL REFERENCES cases (id),
    type          TEXT NOT NULL,    -- created, status_changed, ...
    actor         TEXT NOT NULL,    -- principal subject, or "system"
    reason        TEXT NOT NULL DEFAULT '',
    changes       JSONB NOT NULL DEFAULT '{}', -- JSON {"field": {"before": "...", "after": "..."}}
    department_id TEXT NOT NULL,    -- the case's department after the change
    case_version  BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX case_events_case ON case_events (case_id, id);
-- The transactional outbox: one narrow row per event not yet relayed to
-- the CASE_EVENTS stream, written with the event and deleted by the relay
-- once JetStream has it (a delete of a narrow row, not a rewrite of the
-- history row).
CREATE TABLE case_event_outbox (
    event_id UUID PRIMARY KEY
);

-- +goose Down
DROP TABLE case_event_outbox;
DROP TABLE case_events;
