package email

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	inboundv1 "github.com/sportello/sportello/api/sportello/inbound/v1"
	"github.com/sportello/sportello/services/attachments"
)

// sink records the contacts it stores; fail makes the next n deliveries
// fail.
type sink struct {
	mu       sync.Mutex
	contacts []*inboundv1.InboundContact
	fail     int
	n        int
}

func (s *sink) Deliver(_ context.Context, c *inboundv1.InboundContact) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.fail > 0 {
		s.fail--
		return errors.New("jetstream unavailable")
	}
	s.contacts = append(s.contacts, c)
	return nil
}

func (s *sink) all() []*inboundv1.InboundContact {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*inboundv1.InboundContact(nil), s.contacts...)
}

func (s *sink) failNext(n int) {
	s.mu.Lock()
	s.fail = n
	s.mu.Unlock()
}

func testLog() *slog.Logger {
	if os.Getenv("SPORTELLO_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testConfig has three mailboxes of example.gov.it; the listener is on a
// free port of the loopback.
func testConfig() Config {
	return Config{
		Domain:   "example.gov.it",
		Listener: ListenerConfig{Listen: "127.0.0.1:0", MaxSize: 64 << 10},
		Mailboxes: []Mailbox{
			{Name: "contatti", Address: "contatti@example.gov.it", DisplayName: "Contact centre", Aliases: []string{"info@example.gov.it"}},
			{Name: "dati", Address: "dati@example.gov.it"},
			{Name: "stampa", Address: "ufficiostampa@example.gov.it", Acknowledgement: new(bool)},
		},
	}
}

func testStore(t *testing.T) (Store, *attachments.Blobs) {
	t.Helper()
	b, err := attachments.NewBlobs(t.TempDir(), attachments.Policy{Allowed: AllowedTypes(nil)})
	if err != nil {
		t.Fatal(err)
	}
	return NewStore(b), b
}

func readBlob(t *testing.T, s Store, sum string) string {
	t.Helper()
	f, err := s.Open(sum)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustContain(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%s = %q, want it to contain %q", what, s, sub)
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
