package storage

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"gorm.io/gorm"

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
