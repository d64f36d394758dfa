// Package testdb hands tests throwaway databases: a new SQLite file always,
// a new PostgreSQL schema when SPORTELLO_TEST_POSTGRES_DSN is set. It does
// not import services/storage, so storage's own tests can use it.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// PostgresEnv names the variable holding the PostgreSQL DSN for tests.
const PostgresEnv = "SPORTELLO_TEST_POSTGRES_DSN"

// Backend opens a fresh, migrated database for one test.
type Backend struct {
	Name string
	// DSN returns a DSN for a fresh, empty database (a new SQLite file or a
	// new PostgreSQL schema), dropped when the test ends.
	DSN func(t testing.TB) string
}

// Backends returns SQLite, and PostgreSQL when configured.
func Backends() []Backend {
	bs := []Backend{{Name: "sqlite", DSN: SQLiteDSN}}
	if os.Getenv(PostgresEnv) != "" {
		bs = append(bs, Backend{Name: "postgres", DSN: PostgresDSN})
	}
	return bs
}

// SQLiteDSN returns the path of a new SQLite file.
func SQLiteDSN(t testing.TB) string {
	return filepath.Join(t.TempDir(), "sportello.db")
}

// PostgresDSN creates a schema of its own for the test and returns a DSN
// whose search_path points at it; the schema is dropped afterwards.
func PostgresDSN(t testing.TB) string {
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skip(PostgresEnv + " is not set")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		t.Fatalf("%s must be a postgres:// URL", PostgresEnv)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
