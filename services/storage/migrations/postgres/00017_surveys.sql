-- +goose Up
-- Anonymous customer-experience surveys (services/surveys).
--
-- survey_questionnaires: every version of the questionnaire; definition is
-- the JSON of surveys.Questionnaire. The newest version is shown.
CREATE TABLE survey_questionnaires (
    version    INTEGER PRIMARY KEY,
    definition TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- survey_invitations: one per case (the primary key makes redelivered case
-- events harmless). It holds the hash of the opt-out link's token, never
-- the survey token, and says nothing about whether the survey was answered.
CREATE TABLE survey_invitations (
    case_id     UUID PRIMARY KEY REFERENCES cases (id),
    contact_id  UUID NOT NULL,
    message_id  UUID NOT NULL,
    channel     TEXT NOT NULL,   -- channel kind the invitation went on
    optout_hash TEXT NOT NULL,   -- hex SHA-256 of the opt-out token
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX survey_invitations_contact ON survey_invitations (contact_id);
CREATE UNIQUE INDEX survey_invitations_optout ON survey_invitations (optout_hash);

-- survey_tokens: pending survey links, without the case. A row is deleted
-- when its survey is answered (in the transaction that stores the
-- response) or after it expires; it holds only what the response will.
CREATE TABLE survey_tokens (
    token_hash TEXT PRIMARY KEY,  -- hex SHA-256 of the link's token
    category   TEXT NOT NULL,
    department TEXT NOT NULL,
    channel    TEXT NOT NULL,     -- the case's origin channel kind
    expires_at TIMESTAMPTZ NOT NULL       -- a day boundary
);
CREATE INDEX survey_tokens_expires ON survey_tokens (expires_at);

-- survey_responses: anonymous by construction. The key is random (no
-- order against invitations; on SQLite WITHOUT ROWID, so no hidden
-- sequential rowid either); the only time is the month.
CREATE TABLE survey_responses (
    id                    UUID PRIMARY KEY, -- random UUIDv4
    questionnaire_version INTEGER NOT NULL REFERENCES survey_questionnaires (version),
    category              TEXT NOT NULL,
    department            TEXT NOT NULL,
    channel               TEXT NOT NULL,
    month                 TEXT NOT NULL,    -- YYYY-MM
    ease                  INTEGER NOT NULL CHECK (ease BETWEEN 1 AND 5),
    aspect                TEXT NOT NULL,    -- option code or ''
    resolved              TEXT NOT NULL CHECK (resolved IN ('', 'yes', 'partly', 'no')),
    comment               TEXT NOT NULL     -- masked of personal data
);
CREATE INDEX survey_responses_month ON survey_responses (month, department);

-- survey_cells: the responses summed per questionnaire version, category,
-- department, channel and month, kept in the transaction that stores each
-- response, so that results read at most one row per cell instead of
-- scanning every response. Counts only: nothing here identifies anyone.
CREATE TABLE survey_cells (
    questionnaire_version INTEGER NOT NULL,
    category              TEXT NOT NULL,
    department            TEXT NOT NULL,
    channel               TEXT NOT NULL,
    month                 TEXT NOT NULL,
    responses             BIGINT NOT NULL,
    ease_sum              BIGINT NOT NULL,
    ease_1                BIGINT NOT NULL,
    ease_2                BIGINT NOT NULL,
    ease_3                BIGINT NOT NULL,
    ease_4                BIGINT NOT NULL,
    ease_5                BIGINT NOT NULL,
    resolved_yes          BIGINT NOT NULL,
    resolved_partly       BIGINT NOT NULL,
    resolved_no           BIGINT NOT NULL,
    PRIMARY KEY (month, department, category, channel, questionnaire_version)
);

-- The citizen asked for no more questionnaires.
ALTER TABLE contacts ADD COLUMN survey_opt_out BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE contacts DROP COLUMN survey_opt_out;
DROP TABLE survey_cells;
DROP TABLE survey_responses;
DROP TABLE survey_tokens;
DROP TABLE survey_invitations;
DROP TABLE survey_questionnaires;
