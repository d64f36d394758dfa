// Package storetest is the shared store test suite: every storage backend
// must pass RunTests.
package storetest

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/sportello/sportello/services/storage"
	"github.com/sportello/sportello/services/storage/testdb"
)

// Backend and its helpers are testdb's, re-exported for the suite's users.
type Backend = testdb.Backend

var (
	Backends    = testdb.Backends
	SQLiteDSN   = testdb.SQLiteDSN
	PostgresDSN = testdb.PostgresDSN
)

// Open opens and migrates the database at dsn, closed when the test ends.
func Open(t testing.TB, dsn string) *storage.DB {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}
