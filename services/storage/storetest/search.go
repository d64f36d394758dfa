package storetest

import (
	"context"
	"sort"
	"testing"

	"github.com/google/uuid"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/storage"
)

var searchTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"FullTextSearch", testFullTextSearch},
}

// testFullTextSearch: the same queries find the same cases on every engine.
func testFullTextSearch(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	texts := []struct{ subject, body string }{
		{"Microdati censimento", "Vorrei i microdati del censimento 2021."},
		{"Accesso al portale", "Non riesco ad accedere con SPID."},
		{"Tavole personalizzate", "Chiedo una tabella sulla popolazione per comune."},
	}
	var ids []string
	for _, tx := range texts {
		nc := newCase("it", "")
		nc.Subject, nc.Body = tx.subject, tx.body
		ids = append(ids, create(t, db, 2026, nc)[0].CaseID)
	}
	// A reply adds its words; a new subject adds its words.
	m := cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: cases.Outbound, Body: "Le inviamo il link alle pubblicazioni."}
	if _, _, err := db.AddMessage(ctx, ids[1], m, cases.MessageAdded("op", m)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateCase(ctx, ids[2], 0, cases.Update("op", []string{"subject"}, cases.Case{Subject: "Elaborazione demografica"})); err != nil {
		t.Fatal(err)
	}
	find := func(text string) []string {
		got, err := db.ListCases(ctx, cases.Query{Text: text, Limit: 100})
		if err != nil {
			t.Fatalf("search %q: %v", text, err)
		}
		var out []string
		for _, c := range got {
			out = append(out, c.ID)
		}
		sort.Strings(out)
		return out
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"microdato", []string{ids[0]}},            // stem of the plural in the body
		{"MICRODATI censimenti", []string{ids[0]}}, // all words, any case or number
		{"microdati portale", nil},                 // AND, not OR
		{"pubblicazione", []string{ids[1]}},        // from the reply
		{"demografiche", []string{ids[2]}},         // from the new subject
		{"tabelle comuni", []string{ids[2]}},       // the original body still counts
		{"del il la", nil},                         // stop words only
		{"zzzz", nil},
	}
	for _, tt := range tests {
		got := find(tt.query)
		want := append([]string(nil), tt.want...)
		sort.Strings(want)
		if len(got) != len(want) || (len(got) > 0 && got[0] != want[0]) {
			t.Errorf("search %q = %v, want %v", tt.query, got, want)
		}
	}
	// Search combines with the other filters and with paging.
	first, err := db.ListCases(ctx, cases.Query{Text: "vorrei non chiedo", Limit: 1})
	if err != nil || len(first) != 0 {
		t.Fatalf("AND of words in different cases = %v, %v", first, err)
	}
	for _, q := range []cases.Query{{Text: "censimento", Status: cases.StatusOpen}, {Text: "censimento", Departments: []string{"statistics"}}} {
		q.Limit = 10
		if got, err := db.ListCases(ctx, q); err != nil || len(got) != 0 {
			t.Errorf("search with %+v = %d cases, %v; want 0", q, len(got), err)
		}
	}
}
