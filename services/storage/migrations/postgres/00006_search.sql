-- +goose Up
-- Search terms: the Italian stems of the subject and every message
-- (services/search), stemmed in Go so both engines find the same cases;
-- hence the 'simple' configuration, which does not stem again.
ALTER TABLE cases ADD COLUMN search_terms TEXT NOT NULL DEFAULT '';
CREATE INDEX cases_search ON cases USING GIN (to_tsvector('simple', search_terms));

-- +goose Down
DROP INDEX cases_search;
ALTER TABLE cases DROP COLUMN search_terms;
