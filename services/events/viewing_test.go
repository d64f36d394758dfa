package events_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sportello/sportello/services/events"
)

// TestViewing: who has a case open, per case, one entry per viewer however
// often their page refreshes; ids that cannot be key tokens are refused.
func TestViewing(t *testing.T) {
	ns, err := events.StartEmbedded(events.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := events.ConnectEmbedded(ns, "viewing-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	v, err := events.NewViewing(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	const c1, c2 = "0194a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "0194a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"
	if got, err := v.List(ctx, c1); err != nil || len(got) != 0 {
		t.Fatalf("nobody yet: %v %v", got, err)
	}
	for _, put := range []struct {
		id   string
		name string
	}{{"sso:anna", "Anna"}, {"sso:anna", "Anna"}, {"sso:luca.bianchi@x", "Luca"}} {
		if err := v.Put(ctx, c1, events.ViewingEntry{ID: put.id, Name: put.name}); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Put(ctx, c2, events.ViewingEntry{ID: "sso:sara", Name: "Sara"}); err != nil {
		t.Fatal(err)
	}
	got, err := v.List(ctx, c1)
	if err != nil || len(got) != 2 {
		t.Fatalf("viewers of c1 = %+v, %v", got, err)
	}
	names := map[string]bool{got[0].Name: true, got[1].Name: true}
	if !names["Anna"] || !names["Luca"] || got[0].Since.IsZero() {
		t.Fatalf("viewers of c1 = %+v", got)
	}
	for _, bad := range []string{"", "a.b", "a*", "a b", "a>"} {
		if err := v.Put(ctx, bad, events.ViewingEntry{ID: "x"}); !errors.Is(err, events.ErrBadCaseID) {
			t.Errorf("Put(%q) = %v", bad, err)
		}
		if _, err := v.List(ctx, bad); !errors.Is(err, events.ErrBadCaseID) {
			t.Errorf("List(%q) = %v", bad, err)
		}
	}
}
