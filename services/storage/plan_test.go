package storage

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sportello/sportello/services/cases"

	"github.com/sportello/sportello/services/storage/testdb"
)

// TestInboundLookupUsesIndex guards intake's dedupe lookup: it runs in
// every intake transaction, so a plan that scans messages makes intake
// slower as the table grows. Checked with more than 100 ids, past the size
// up to which PostgreSQL reasons about IN lists.
func TestInboundLookupUsesIndex(t *testing.T) {
	for _, b := range testdb.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			db, err := Open(context.Background(), b.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Migrate(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
				t.Fatal(err)
			}
			ids := make([]string, 150)
			for i := range ids {
				ids[i] = fmt.Sprintf("ext-%d", i)
			}
			var plan []string
			err = db.gorm.Connection(func(tx *gorm.DB) error {
				if db.dialect == Postgres {
					// Small tables make a scan cheapest; ask whether the
					// index can serve the query at all.
					if err := tx.Exec("SET enable_seqscan = off").Error; err != nil {
						return err
					}
					return tx.Raw("EXPLAIN SELECT external_id, case_id FROM messages WHERE "+inboundLookup, "webform", "webform", ids).Scan(&plan).Error
				}
				var rows []struct {
					ID, Parent, Notused int
					Detail              string
				}
				err := tx.Raw("EXPLAIN QUERY PLAN SELECT external_id, case_id FROM messages WHERE "+inboundLookup, "webform", "webform", ids).Scan(&rows).Error
				for _, r := range rows {
					plan = append(plan, r.Detail)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			p := strings.Join(plan, "\n")
			if !strings.Contains(p, "messages_channel_external") {
				t.Fatalf("lookup does not use messages_channel_external:\n%s", p)
			}
		})
	}
}

// TestSLAScansUsePartialIndexes guards the SLA timer: its scans run on
// every tick, and the partial indexes of migration 00012 keep them to the
// running cases only if the planner can match the predicates.
func TestSLAScansUsePartialIndexes(t *testing.T) {
	want := map[string]string{"warning": "cases_sla_warn", "resolution": "cases_sla_due", "first response": "cases_first_response_due"}
	for _, b := range testdb.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			db, err := Open(ctx, b.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
				t.Fatal(err)
			}
			for _, scan := range SLAScans {
				settings := []string(nil)
				if db.dialect == Postgres {
					settings = []string{"SET LOCAL enable_seqscan = off"} // small tables make a scan cheapest
				}
				q := db.slaScan(db.gorm.WithContext(ctx), scan, time.Now(), 200).Select("id")
				e, err := db.explain(ctx, q.Session(&gorm.Session{DryRun: true}).Find(&[]caseRow{}).Statement, false, settings...)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(e.Plan, want[scan]) {
					t.Errorf("%s scan does not use %s:\n%s\n%s", scan, want[scan], e.SQL, e.Plan)
				}
			}
		})
	}
}

func TestRunningCasesMatchesClosedStatuses(t *testing.T) {
	want := "status NOT IN ('" + strings.Join(closedStatuses, "', '") + "') AND sla_paused_at IS NULL"
	if runningCases != want {
		t.Fatalf("runningCases = %q, want %q (the partial indexes of migration 00012 must change too)", runningCases, want)
	}
}

// TestConsoleQueueUsesPartialIndexes guards the operator console's queue
// on PostgreSQL: the active cases of a department in each order the
// console offers are read from migration 00022's partial indexes, not
// sorted after reading every active case.
func TestConsoleQueueUsesPartialIndexes(t *testing.T) {
	for _, b := range testdb.Backends() {
		if b.Name != "postgres" {
			continue
		}
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			db, err := Open(ctx, b.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				q    cases.Query
				want string
			}{
				{cases.Query{Departments: []string{"it"}, Status: cases.StatusActive, Order: cases.OrderSLADue, Limit: 51}, "cases_active_department_due"},
				{cases.Query{Departments: []string{"it"}, Status: cases.StatusActive, Order: cases.OrderPriority, Limit: 51}, "cases_active_department_priority"},
				{cases.Query{Departments: []string{"it"}, Status: cases.StatusActive, Order: cases.OrderCreated, Limit: 51}, "cases_active_department_id"},
				{cases.Query{Status: cases.StatusActive, Order: cases.OrderSLADue, Limit: 51}, "cases_active_due"},
				{cases.Query{Departments: []string{"it"}, Assignee: "op-1", Status: cases.StatusActive, Order: cases.OrderSLADue, Limit: 51}, "cases_active_assignee_due"},
			} {
				tx, err := db.casesQuery(db.gorm.WithContext(ctx), tc.q)
				if err != nil {
					t.Fatal(err)
				}
				e, err := db.explain(ctx, tx.Session(&gorm.Session{DryRun: true}).Find(&[]caseRow{}).Statement, false, "SET LOCAL enable_seqscan = off")
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(e.Plan, tc.want) || strings.Contains(e.Plan, "Sort") {
					t.Errorf("%+v does not read %s in order:\n%s\n%s", tc.q, tc.want, e.SQL, e.Plan)
				}
			}
		})
	}
}

func TestActiveCasesMatchesClosedStatuses(t *testing.T) {
	want := "status NOT IN ('" + strings.Join(closedStatuses, "', '") + "')"
	if activeCases != want {
		t.Fatalf("activeCases = %q, want %q (the partial indexes of migration 00022 must change too)", activeCases, want)
	}
}

func TestLexemeFrequencies(t *testing.T) {
	got := lexemeFrequencies(`{dat,"glossar",microd}`, `{0.97,0.06,0.02,0.02,0.97,0}`)
	want := map[string]float64{"dat": 0.97, "glossar": 0.06, "microd": 0.02}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	if len(lexemeFrequencies("", "")) != 0 {
		t.Error("no statistics should give an empty list")
	}
}
