-- +goose Up
-- The call centre (services/calls): the call log the CTI webhook feeds,
-- one row per PBX call (unique per channel and PBX call id, so a retried
-- newCall finds the first row); the blocked-caller list; and the
-- signatures of webhook requests accepted in the last minutes, shared by
-- every replica so a replayed request is refused whichever receives it.
CREATE TABLE calls (
    id               TEXT PRIMARY KEY,
    channel_id       TEXT NOT NULL,
    external_id      TEXT NOT NULL,   -- the PBX's call id
    direction        TEXT NOT NULL,   -- inbound, outbound
    from_number      TEXT NOT NULL,
    to_number        TEXT NOT NULL,
    queue            TEXT NOT NULL,
    ivr_choice       TEXT NOT NULL,
    department       TEXT NOT NULL,
    contact_id       TEXT,            -- NULL: number unknown
    operator         TEXT NOT NULL,   -- who answered; '' if nobody
    state            TEXT NOT NULL,   -- ringing, answered, ended, rejected
    cause            TEXT NOT NULL,
    duration_seconds INTEGER NOT NULL,
    recording_url    TEXT NOT NULL,
    case_id          TEXT,            -- the case an operator attached it to
    callback_case_id TEXT,            -- the callback case of an unanswered call
    notes            TEXT NOT NULL,
    started_at       TIMESTAMP NOT NULL,
    answered_at      TIMESTAMP,
    ended_at         TIMESTAMP,
    UNIQUE (channel_id, external_id)
);
CREATE INDEX calls_contact ON calls (contact_id, started_at);

CREATE TABLE blocked_numbers (
    number     TEXT PRIMARY KEY,      -- "+390612345678"
    reason     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE cti_replays (
    replay_key TEXT PRIMARY KEY,      -- <channel id>:<hex HMAC of the request>
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX cti_replays_expires ON cti_replays (expires_at);

-- +goose Down
DROP TABLE cti_replays;
DROP TABLE blocked_numbers;
DROP TABLE calls;
