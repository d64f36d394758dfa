package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/storage"
)

// TestSeedDemoKeepsChanges: demo data is seeded at every start, but only
// what is missing: an administrator's change to a demo department
// survives a restart, and nothing is added twice.
func TestSeedDemoKeepsChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "seed.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if err := seedDemo(ctx, db, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateDepartment(ctx, "statistics", func(d *directory.Department) error {
		d.Policy, d.Name = directory.PolicyLeastLoaded, "Statistica e censimenti"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := seedDemo(ctx, db, ""); err != nil { // the next start
		t.Fatal(err)
	}
	depts, err := db.ListDepartments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range depts {
		if d.ID == "statistics" {
			n++
			if d.Policy != directory.PolicyLeastLoaded || d.Name != "Statistica e censimenti" {
				t.Errorf("after a restart: %+v, want the administrator's policy and name", d)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d statistics departments", n)
	}
	ops, err := db.ListOperators(ctx, "")
	if err != nil || len(ops) != len(directory.Demo.Operators) {
		t.Fatalf("operators after two seeds: %d (%v), want %d", len(ops), err, len(directory.Demo.Operators))
	}
}
