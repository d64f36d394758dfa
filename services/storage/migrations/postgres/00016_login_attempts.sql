-- +goose Up
-- Pending SPID/CIE logins (auth/spid.Attempt), shared by every replica: the
-- OP's callback may reach another replica than the one that sent the
-- citizen there. A row is taken (deleted) exactly once by the callback, or
-- removed after expires_at by the cleanup. nonce and verifier are secrets
-- for at most ten minutes.
CREATE TABLE login_attempts (
    state        TEXT PRIMARY KEY,
    nonce        TEXT NOT NULL,
    verifier     TEXT NOT NULL,  -- PKCE code_verifier
    provider     TEXT NOT NULL,
    acr          INTEGER NOT NULL, -- spid.ACR: 1, 2 or 3 (SpidL1..L3)
    browser_hash TEXT NOT NULL,  -- hex SHA-256 of the browser binding cookie
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_attempts_expires ON login_attempts (expires_at);

-- +goose Down
DROP TABLE login_attempts;
