package storage

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/directory"
)

// Explained is a statement the store runs and the engine's plan for it.
type Explained struct {
	SQL  string
	Plan string
}

// ExplainListCases runs ListCases' statement for q under EXPLAIN: with
// analyze, PostgreSQL executes it and reports actual times and buffers.
// The benchmark (cmd/sportello-bench) shows which index serves which query.
func (db *DB) ExplainListCases(ctx context.Context, q cases.Query, analyze bool) (Explained, error) {
	tx, err := db.casesQuery(db.gorm.WithContext(ctx), q)
	if err != nil {
		return Explained{}, err
	}
	if tx == nil {
		return Explained{}, errors.New("the query cannot match any case; nothing to explain")
	}
	return db.explain(ctx, tx.Session(&gorm.Session{DryRun: true}).Find(&[]caseRow{}).Statement, analyze, db.searchPlan(ctx, q)...)
}

// ExplainClaim does the same for ClaimNextCase's selection in departments
// (without skill matching). The statement locks a row, so it runs in a
// transaction that is rolled back.
func (db *DB) ExplainClaim(ctx context.Context, departments []string, analyze bool) (Explained, error) {
	q := db.claimQuery(db.gorm.WithContext(ctx), departments, nil, directory.Operator{})
	return db.explain(ctx, q.Session(&gorm.Session{DryRun: true}).Find(&[]caseRow{}).Statement, analyze)
}

// ExplainSLAScan does the same for one of CasesDueForSLA's scans.
func (db *DB) ExplainSLAScan(ctx context.Context, scan string, now time.Time, limit int, analyze bool) (Explained, error) {
	q := db.slaScan(db.gorm.WithContext(ctx), scan, now, limit).Select("id")
	return db.explain(ctx, q.Session(&gorm.Session{DryRun: true}).Find(&[]caseRow{}).Statement, analyze)
}

// explain runs stmt under EXPLAIN after settings, in a transaction that
// is rolled back; the settings are reported with the statement.
func (db *DB) explain(ctx context.Context, stmt *gorm.Statement, analyze bool, settings ...string) (Explained, error) {
	e := Explained{SQL: stmt.SQL.String()}
	prefix := "EXPLAIN QUERY PLAN "
	if db.dialect == Postgres {
		prefix = "EXPLAIN (COSTS OFF) "
		if analyze {
			prefix = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
		}
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return e, err
	}
	defer func() { _ = tx.Rollback() }()
	for _, set := range settings {
		if _, err := tx.ExecContext(ctx, set); err != nil {
			return e, err
		}
	}
	rows, err := tx.QueryContext(ctx, prefix+e.SQL, stmt.Vars...)
	if len(settings) > 0 {
		e.SQL = strings.Join(settings, ";\n") + ";\n" + e.SQL
	}
	if err != nil {
		return e, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return e, err
	}
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(any)
		}
		if err := rows.Scan(vals...); err != nil {
			return e, err
		}
		// PostgreSQL: one column per line; SQLite: id, parent, notused, detail.
		if s, ok := (*vals[len(vals)-1].(*any)).(string); ok {
			lines = append(lines, s)
		}
	}
	e.Plan = strings.Join(lines, "\n")
	return e, rows.Err()
}
