package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sportello/sportello/services/events"
	"github.com/sportello/sportello/services/storage/storetest"
)

// TestIntegrationExternalNATS runs the production path: a NATS server in
// another process (SPORTELLO_TEST_NATS_URL, which .ci/run points at the
// machine's nats-server), streams declared by the app at start.
func TestIntegrationExternalNATS(t *testing.T) {
	t.Parallel()
	url := os.Getenv("SPORTELLO_TEST_NATS_URL")
	if url == "" {
		t.Skip("SPORTELLO_TEST_NATS_URL is not set")
	}
	// Start from clean streams: they live on a server shared across runs.
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	for _, s := range []string{events.InboundStream, events.DeadLetterStream} {
		if err := js.DeleteStream(context.Background(), s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatal(err)
		}
	}
	cfg := testConfig(t, storetest.Backend{Name: "sqlite"})
	cfg.NATS.URL = url
	cfg.Database.DSN = filepath.Join(cfg.DataDir, "explicit.db")
	s := startServer(t, cfg)
	if s.app.ns != nil {
		t.Fatal("embedded NATS started although nats.url is set")
	}
	s.submit(defaultSubmit)
	if c := s.waitForCases(1); c[0].Department != "statistics" {
		t.Fatalf("case = %v", c[0])
	}
	if r := s.get("/readyz", ""); r.Status != 200 {
		t.Fatalf("readyz: %d %s", r.Status, r.Body)
	}
}
