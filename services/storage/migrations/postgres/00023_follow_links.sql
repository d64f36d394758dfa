-- +goose Up
-- Links that let a citizen without a login follow one case (services/follow).
-- Only the SHA-256 of a link's token is kept; a new link for a case revokes
-- the older ones. Rows are removed some time after they expire.
CREATE TABLE follow_links (
    token_hash  TEXT PRIMARY KEY,   -- hex SHA-256 of the token in the link
    case_id     UUID NOT NULL REFERENCES cases (id),
    message_id  UUID NOT NULL,      -- the outbound message that carried it
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX follow_links_case ON follow_links (case_id);
CREATE INDEX follow_links_expires ON follow_links (expires_at);

-- Requests for a link counted per key ("ip:<address>", "email:<hex sha256>")
-- and fixed window, in the database so that every replica sees the same
-- counts.
CREATE TABLE follow_request_counts (
    bucket       TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX follow_request_counts_window ON follow_request_counts (window_start);

-- +goose Down
DROP TABLE follow_request_counts;
DROP TABLE follow_links;
