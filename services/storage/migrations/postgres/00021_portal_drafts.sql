-- +goose Up
-- A signed-in citizen's request not sent yet (the portal's "Salva bozza"):
-- one per contact, replaced on each save, deleted when the request is sent.
CREATE TABLE portal_drafts (
    contact_id UUID PRIMARY KEY REFERENCES contacts (id),
    category   TEXT NOT NULL DEFAULT '',
    subject    TEXT NOT NULL DEFAULT '',
    message    TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE portal_drafts;
