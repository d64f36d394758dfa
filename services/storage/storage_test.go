package storage_test

import (
	"testing"

	"github.com/sportello/sportello/services/storage/storetest"
)

// TestStore runs the shared store suite on SQLite and, when
// SPORTELLO_TEST_POSTGRES_DSN is set, on PostgreSQL.
func TestStore(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) { storetest.RunTests(t, b) })
	}
}
