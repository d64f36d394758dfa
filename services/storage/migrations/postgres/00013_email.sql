-- +goose Up
-- E-mail channel. What a channel reports on an outbound message: the error
-- of the last attempt and how many were made (delivery_status says how it
-- ended). kind marks automatic acknowledgements ('acknowledgement'), which
-- are rate-limited per citizen and never count as a first response.
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN delivery_error TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN delivery_attempts INTEGER NOT NULL DEFAULT 0;
-- The normalised subject a case was opened with, when its channel threads
-- by subject (same sender, same subject within N days); '' otherwise.
ALTER TABLE cases ADD COLUMN thread_subject TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE cases DROP COLUMN thread_subject;
ALTER TABLE messages DROP COLUMN delivery_attempts;
ALTER TABLE messages DROP COLUMN delivery_error;
ALTER TABLE messages DROP COLUMN kind;
