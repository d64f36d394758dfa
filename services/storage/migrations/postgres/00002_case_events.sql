-- +goose Up
-- Append-only case history. It is also the transactional outbox: a row is
-- written in the same transaction as the change it records, and the relay
-- publishes rows whose published_at is NULL to the CASE_EVENTS stream.
CREATE TABLE case_events (
    id            UUID PRIMARY KEY, -- UUIDv7, the Nats-Msg-Id when relayed
    case_id       UUID NOT NULL REFERENCES cases (id),
    type          TEXT NOT NULL,    -- created, status_changed, ...
    actor         TEXT NOT NULL,    -- principal subject, or "system"
    reason        TEXT NOT NULL DEFAULT '',
    changes       JSONB NOT NULL DEFAULT '{}', -- JSON {"field": {"before": "...", "after": "..."}}
    department_id TEXT NOT NULL,    -- the case's department after the change
    case_version  BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    published_at  TIMESTAMPTZ
);
CREATE INDEX case_events_case ON case_events (case_id, id);
-- The relay's queue: only unpublished rows, in order.
CREATE INDEX case_events_unpublished ON case_events (id) WHERE published_at IS NULL;

-- +goose Down
DROP TABLE case_events;
