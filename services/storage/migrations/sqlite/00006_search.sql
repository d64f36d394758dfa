-- +goose Up
-- Search terms: the Italian stems of the subject and every message
-- (services/search), stemmed in Go so both engines find the same cases.
ALTER TABLE cases ADD COLUMN search_terms TEXT NOT NULL DEFAULT '';

-- FTS5 over cases.search_terms, kept in step by triggers.
CREATE VIRTUAL TABLE cases_fts USING fts5(search_terms, content='cases', content_rowid='rowid', tokenize='unicode61');

-- +goose StatementBegin
CREATE TRIGGER cases_fts_insert AFTER INSERT ON cases BEGIN
    INSERT INTO cases_fts (rowid, search_terms) VALUES (new.rowid, new.search_terms);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER cases_fts_delete AFTER DELETE ON cases BEGIN
    INSERT INTO cases_fts (cases_fts, rowid, search_terms) VALUES ('delete', old.rowid, old.search_terms);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER cases_fts_update AFTER UPDATE OF search_terms ON cases BEGIN
    INSERT INTO cases_fts (cases_fts, rowid, search_terms) VALUES ('delete', old.rowid, old.search_terms);
    INSERT INTO cases_fts (rowid, search_terms) VALUES (new.rowid, new.search_terms);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER cases_fts_update;
DROP TRIGGER cases_fts_delete;
DROP TRIGGER cases_fts_insert;
DROP TABLE cases_fts;
ALTER TABLE cases DROP COLUMN search_terms;
