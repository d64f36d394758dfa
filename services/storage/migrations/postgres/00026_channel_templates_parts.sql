-- +goose Up
-- Social channels, continued. The message template an outbound message
-- was sent as (WhatsApp), as JSON: its name, language and parameters of
-- the body, header and buttons. It used to be kept in messages.kind as
-- 'template:<json>'; those rows move here and their kind becomes ''.
ALTER TABLE messages ADD COLUMN template TEXT NOT NULL DEFAULT '';
UPDATE messages SET template = substr(kind, 10), kind = '' WHERE kind LIKE 'template:%';

-- The provider messages one outbound message went out as: a long text
-- split at the platform's limit, then each file. A part is recorded
-- ('sending') before it is handed to the provider and gets the provider's
-- id once accepted, so a retry resumes with the next part and never sends
-- one twice. Status callbacks name a part's external id; the message's
-- delivery status is the least advanced of its parts.
CREATE TABLE message_parts (
    message_id  UUID NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    part        INTEGER NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (message_id, part)
);
CREATE INDEX message_parts_external ON message_parts (external_id);

-- +goose Down
DROP TABLE message_parts;
UPDATE messages SET kind = 'template:' || template WHERE template <> '';
ALTER TABLE messages DROP COLUMN template;
