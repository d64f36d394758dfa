-- +goose Up
-- Files of a case: uploaded first, then attached to at most one message.
-- The bytes live in the blob store under their SHA-256; several rows may
-- share one blob.
CREATE TABLE attachments (
    id           TEXT PRIMARY KEY, -- UUIDv7
    case_id      TEXT NOT NULL REFERENCES cases (id),
    message_id   TEXT REFERENCES messages (id), -- NULL until attached
    sha256       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT NOT NULL, -- sniffed from the bytes
    file_name    TEXT NOT NULL,
    uploaded_by  TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX attachments_case ON attachments (case_id, id);
CREATE INDEX attachments_message ON attachments (message_id, id);
-- Finding the rows of a blob (garbage collection of unreferenced blobs).
CREATE INDEX attachments_sha256 ON attachments (sha256);

-- +goose Down
DROP TABLE attachments;
