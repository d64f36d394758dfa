-- +goose Up
-- Contacts: one citizen across channels. Intake resolves a contact by fiscal
-- code, then e-mail, then phone, then (channel kind, handle), and fills in
-- the identifiers it learns.
ALTER TABLE contacts ADD COLUMN phone TEXT;
ALTER TABLE contacts ADD COLUMN fiscal_code TEXT;
CREATE UNIQUE INDEX contacts_phone ON contacts (phone) WHERE phone IS NOT NULL;
CREATE UNIQUE INDEX contacts_fiscal_code ON contacts (fiscal_code) WHERE fiscal_code IS NOT NULL;
-- Social handles or platform user ids, one per (channel kind, handle).
CREATE TABLE contact_handles (
    channel_kind TEXT NOT NULL,
    handle       TEXT NOT NULL,
    contact_id   UUID NOT NULL REFERENCES contacts (id),
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel_kind, handle)
);
CREATE INDEX contact_handles_contact ON contact_handles (contact_id);
-- A contact's cases, newest first.
CREATE INDEX cases_contact ON cases (contact_id, id);

-- Append-only log of staff reads of a contact's personal data.
CREATE TABLE contact_access_log (
    id         UUID PRIMARY KEY, -- UUIDv7
    contact_id UUID NOT NULL,
    actor      TEXT NOT NULL,    -- principal subject
    method     TEXT NOT NULL,    -- the RPC, "/sportello.contacts.v1.ContactService/GetContact"
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX contact_access_log_contact ON contact_access_log (contact_id, id);

-- Threads: a follow-up matches a case by reference or by the external id of
-- one of its messages (any channel, any direction).
CREATE INDEX messages_external ON messages (external_id);
-- When the case last became resolved or closed: the reopen window starts here.
ALTER TABLE cases ADD COLUMN settled_at TIMESTAMPTZ;
-- The case this one was merged into; NULL when not merged.
ALTER TABLE cases ADD COLUMN merged_into UUID REFERENCES cases (id);

-- Links between related cases. "related" is symmetric and stored once with
-- source_id < target_id; "follow_up" and "duplicate" read "source is a
-- follow-up (duplicate) of target".
CREATE TABLE case_links (
    source_id  UUID NOT NULL REFERENCES cases (id),
    target_id  UUID NOT NULL REFERENCES cases (id),
    kind       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source_id, target_id)
);
CREATE INDEX case_links_target ON case_links (target_id);

-- +goose Down
DROP TABLE case_links;
ALTER TABLE cases DROP COLUMN merged_into;
ALTER TABLE cases DROP COLUMN settled_at;
DROP INDEX messages_external;
DROP TABLE contact_access_log;
DROP INDEX cases_contact;
DROP TABLE contact_handles;
DROP INDEX contacts_fiscal_code;
DROP INDEX contacts_phone;
ALTER TABLE contacts DROP COLUMN fiscal_code;
ALTER TABLE contacts DROP COLUMN phone;
