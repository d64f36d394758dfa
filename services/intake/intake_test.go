package intake

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sportello/sportello/services/directory"
)

type fakeStore struct {
	year int
	got  []NewCase
	err  error
}

func (f *fakeStore) CreateCases(_ context.Context, year int, cs []NewCase, _ FollowUpRule) ([]Outcome, error) {
	if f.err != nil {
		return nil, f.err
	}
	f.year, f.got = year, cs
	out := make([]Outcome, len(cs))
	for i := range cs {
		out[i] = Outcome{CaseID: cs[i].ExternalID}
	}
	return out, nil
}

type fakeDir struct{ calls int }

func (d *fakeDir) ListCategories(context.Context) ([]directory.Category, error) {
	d.calls++
	return directory.Demo.Categories, nil
}
func (d *fakeDir) ListRoutingRules(context.Context) ([]directory.Rule, error) {
	return directory.DemoRules, nil
}

func c(ext, hint, subject, body string) Contact {
	return Contact{ChannelKind: "webform", ChannelID: "webform", ExternalID: ext, CategoryHint: hint, Subject: subject, Body: body}
}

func TestIngestRoutesAndValidates(t *testing.T) {
	store, dir := &fakeStore{}, &fakeDir{}
	rome, _ := time.LoadLocation("Europe/Rome")
	s := New(store, dir, rome, nil)
	// 23:30 UTC on New Year's Eve is already next year in Rome.
	s.now = func() time.Time { return time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC) }
	in := []Contact{
		c("1", "microdata", "Microdati", "x"),
		c("2", "press-desk", "", "Prima riga\nseconda riga"),
		c("3", "no-such-category", "  molti   spazi ", "x"),
		c("", "microdata", "senza id", "x"),
		c("5", "", "", ""),
		c("6", "", strings.Repeat("è", 400), "x"),
		c("7", "", "bad \xff utf8", "x"),
	}
	out, err := s.Ingest(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if store.year != 2027 {
		t.Errorf("reference year = %d, want 2027 (Europe/Rome)", store.year)
	}
	for i, want := range []bool{false, false, false, true, false, false, true} {
		if (out[i].Err != nil) != want {
			t.Errorf("contact %d: err = %v, want error %v", i, out[i].Err, want)
		}
		if out[i].Err != nil && !errors.Is(out[i].Err, ErrInvalidContact) {
			t.Errorf("contact %d: %v is not ErrInvalidContact", i, out[i].Err)
		}
	}
	want := []struct{ dept, cat, subject string }{
		{"statistics", "microdata", "Microdati"},
		{"communication", "press-desk", "Prima riga"},
		{directory.TriageDepartment, "", "molti spazi"},
		{directory.TriageDepartment, "", "(senza oggetto)"},
		{directory.TriageDepartment, "", strings.Repeat("è", 299) + "…"},
	}
	if len(store.got) != len(want) {
		t.Fatalf("stored %d cases, want %d", len(store.got), len(want))
	}
	for i, w := range want {
		g := store.got[i]
		if g.Department != w.dept || g.Category != w.cat || g.Subject != w.subject {
			t.Errorf("case %d = %s/%s/%q, want %s/%s/%q", i, g.Department, g.Category, g.Subject, w.dept, w.cat, w.subject)
		}
	}
	// The catalogue is cached between calls.
	if _, err := s.Ingest(context.Background(), in[:1]); err != nil || dir.calls != 1 {
		t.Fatalf("second ingest: %v, catalogue loaded %d times", err, dir.calls)
	}
}

func TestIngestStoreFailureIsReturned(t *testing.T) {
	s := New(&fakeStore{err: errors.New("db down")}, &fakeDir{}, time.UTC, nil)
	if _, err := s.Ingest(context.Background(), []Contact{c("1", "", "a", "b")}); err == nil {
		t.Fatal("store failure swallowed")
	}
}
