-- +goose Up
-- Outbound replies: queued until the channel's replier reports on them.
ALTER TABLE messages ADD COLUMN delivery_status TEXT NOT NULL DEFAULT '';
-- Replies waiting to be published to the OUTBOUND stream, written with
-- the reply and deleted by the relay once JetStream has it.
CREATE TABLE outbound_outbox (
    message_id UUID PRIMARY KEY
);

-- +goose Down
DROP TABLE outbound_outbox;
ALTER TABLE messages DROP COLUMN delivery_status;
