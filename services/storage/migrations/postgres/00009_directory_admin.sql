-- +goose Up
-- Tags: a sorted, space-separated copy on the case for reading it with the
-- case, and one row per tag for filtering the queue by tag.
ALTER TABLE cases ADD COLUMN tags TEXT NOT NULL DEFAULT '';
CREATE TABLE case_tags (
    case_id UUID NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    tag     TEXT NOT NULL,
    PRIMARY KEY (case_id, tag)
);
CREATE INDEX case_tags_tag ON case_tags (tag, case_id);

-- First-response target: due time, when the first reply went out, and
-- whether its breach has been announced (once, whatever the replicas).
ALTER TABLE cases ADD COLUMN first_response_due_at TIMESTAMPTZ;
ALTER TABLE cases ADD COLUMN first_responded_at TIMESTAMPTZ;
ALTER TABLE cases ADD COLUMN first_response_breached BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX cases_first_response_due ON cases (first_response_due_at)
    WHERE first_responded_at IS NULL AND first_response_breached = FALSE;
ALTER TABLE sla_policies ADD COLUMN first_response_minutes INTEGER NOT NULL DEFAULT 0 CHECK (first_response_minutes >= 0);

-- Skills and language matching, stickiness.
ALTER TABLE cases ADD COLUMN language TEXT NOT NULL DEFAULT 'it';
ALTER TABLE cases ADD COLUMN required_skill TEXT NOT NULL DEFAULT '';
ALTER TABLE departments ADD COLUMN match_skills BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE departments ADD COLUMN sticky BOOLEAN NOT NULL DEFAULT FALSE;
-- JSON array of {day, start, end}; '' for the administration's calendar.
ALTER TABLE departments ADD COLUMN working_hours TEXT NOT NULL DEFAULT '';
ALTER TABLE categories ADD COLUMN default_priority SMALLINT NOT NULL DEFAULT 2;
ALTER TABLE categories ADD COLUMN skill TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE categories DROP COLUMN skill;
ALTER TABLE categories DROP COLUMN default_priority;
ALTER TABLE departments DROP COLUMN working_hours;
ALTER TABLE departments DROP COLUMN sticky;
ALTER TABLE departments DROP COLUMN match_skills;
ALTER TABLE cases DROP COLUMN required_skill;
ALTER TABLE cases DROP COLUMN language;
ALTER TABLE sla_policies DROP COLUMN first_response_minutes;
DROP INDEX cases_first_response_due;
ALTER TABLE cases DROP COLUMN first_response_breached;
ALTER TABLE cases DROP COLUMN first_responded_at;
ALTER TABLE cases DROP COLUMN first_response_due_at;
DROP TABLE case_tags;
ALTER TABLE cases DROP COLUMN tags;
