package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/intake"
	"github.com/sportello/sportello/services/storage"
)

// RunTests runs the store suite against a backend.
func RunTests(t *testing.T, b Backend) {
	tests := []struct {
		name string
		run  func(t *testing.T, db *storage.DB)
	}{
		{"MigrateTwice", testMigrateTwice},
		{"Directory", testDirectory},
		{"CreateCases", testCreateCases},
		{"Duplicates", testDuplicates},
		{"ContactsByEmail", testContactsByEmail},
		{"ReferencesPerYear", testReferencesPerYear},
		{"ConcurrentCreate", testConcurrentCreate},
		{"ListCasesFilters", testListCasesFilters},
		{"ListCasesPaging", testListCasesPaging},
		{"GetCaseNotFound", testGetCaseNotFound},
	}
	tests = append(tests, historyTests...)
	tests = append(tests, assignTests...)
	tests = append(tests, slaTests...)
	tests = append(tests, messageTests...)
	tests = append(tests, searchTests...)
	tests = append(tests, autoAssignTests...)
	tests = append(tests, directoryAdminTests...)
	tests = append(tests, threadTests...)
	tests = append(tests, attachmentTests...)
	tests = append(tests, emailTests...)
	tests = append(tests, socialTests...)
	tests = append(tests, citizenTests...)
	tests = append(tests, sessionTests...)
	tests = append(tests, loginAttemptTests...)
	tests = append(tests, accessLogTests...)
	tests = append(tests, surveyTests...)
	tests = append(tests, reportFactTests...)
	tests = append(tests, callTests...)
	tests = append(tests, portalTests...)
	tests = append(tests, followTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := Open(t, b.DSN(t))
			seed(t, db)
			tt.run(t, db)
		})
	}
	for _, tt := range append(rawTests, surveyRawTests...) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dsn := b.DSN(t)
			db := Open(t, dsn)
			tt.run(t, db, openRaw(t, db.Dialect(), dsn))
		})
	}
}

func seed(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	if err := db.UpsertDepartments(ctx, directory.Demo.Departments); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertCategories(ctx, directory.Demo.Categories); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertOperators(ctx, directory.Demo.Operators); err != nil {
		t.Fatal(err)
	}
}

// newCase returns a routed case for channel "test" with a fresh external id.
func newCase(dept, email string) intake.NewCase {
	id := uuid.NewString()
	return intake.NewCase{
		Contact: intake.Contact{ID: id, ChannelKind: "webform", ChannelID: "test", ExternalID: id,
			SenderName: "Maria Rossi", SenderEmail: email, Body: "Vorrei i microdati del censimento.", ReceivedAt: time.Now()},
		Department: dept, Subject: "Microdati",
	}
}

func create(t *testing.T, db *storage.DB, year int, ncs ...intake.NewCase) []intake.Outcome {
	t.Helper()
	out, err := db.CreateCases(context.Background(), year, ncs, intake.FollowUpRule{})
	if err != nil {
		t.Fatalf("CreateCases: %v", err)
	}
	if len(out) != len(ncs) {
		t.Fatalf("CreateCases returned %d outcomes for %d cases", len(out), len(ncs))
	}
	return out
}

func testMigrateTwice(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	if err := db.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	cur, latest, err := db.MigrationStatus(ctx)
	if err != nil || cur != latest || cur == 0 {
		t.Fatalf("MigrationStatus = %d, %d, %v; want equal and non-zero", cur, latest, err)
	}
}

func testDirectory(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	deps, err := db.ListDepartments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range deps {
		ids = append(ids, d.ID)
	}
	if fmt.Sprint(ids) != "[communication it statistics triage]" {
		t.Fatalf("departments = %v", ids)
	}
	// Upsert renames in place.
	if err := db.UpsertCategories(ctx, []directory.Category{{Code: "microdata", Name: "Microdati", DepartmentID: "it"}}); err != nil {
		t.Fatal(err)
	}
	cats, err := db.ListCategories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cats) != len(directory.Demo.Categories) {
		t.Fatalf("got %d categories, want %d", len(cats), len(directory.Demo.Categories))
	}
	for _, c := range cats {
		if c.Code == "microdata" && (c.Name != "Microdati" || c.DepartmentID != "it") {
			t.Fatalf("microdata after upsert = %+v", c)
		}
	}
}

func testCreateCases(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	nc := newCase("statistics", "maria@example.it")
	nc.Category = "microdata"
	out := create(t, db, 2026, nc, newCase("it", ""))
	if out[0].Reference != "2026-000001" || out[1].Reference != "2026-000002" {
		t.Fatalf("references = %q, %q", out[0].Reference, out[1].Reference)
	}
	c, err := db.GetCase(ctx, out[0].CaseID)
	if err != nil {
		t.Fatal(err)
	}
	want := cases.Case{ID: out[0].CaseID, Reference: "2026-000001", Subject: "Microdati", Description: nc.Body,
		Status: cases.StatusNew, Priority: cases.PriorityNormal, Category: "microdata", Department: "statistics",
		ChannelKind: "webform", ChannelID: "test", Version: 1, SLADueAt: cases.NoDeadline, Language: "it"}
	got := c
	got.ContactID, got.CreatedAt, got.UpdatedAt = "", time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GetCase =\n %+v\nwant\n %+v", got, want)
	}
	if c.ContactID == "" || time.Since(c.CreatedAt) > time.Minute || c.CreatedAt.Location() != time.UTC {
		t.Fatalf("contact %q, created %v", c.ContactID, c.CreatedAt)
	}
}

func testDuplicates(t *testing.T, db *storage.DB) {
	a, b := newCase("statistics", "a@example.it"), newCase("it", "b@example.it")
	first := create(t, db, 2026, a)
	// Redelivery of a, plus a new b twice in the same batch.
	out := create(t, db, 2026, a, b, b)
	if !out[0].Duplicate || out[0].CaseID != first[0].CaseID {
		t.Fatalf("redelivered contact: %+v, want duplicate of %s", out[0], first[0].CaseID)
	}
	if out[1].Duplicate || out[1].CaseID == "" {
		t.Fatalf("new contact: %+v", out[1])
	}
	if !out[2].Duplicate || out[2].CaseID != out[1].CaseID {
		t.Fatalf("twin in batch: %+v, want duplicate of %s", out[2], out[1].CaseID)
	}
	// The same external id on another channel is another contact.
	c := a
	c.ChannelID = "other"
	if out := create(t, db, 2026, c); out[0].Duplicate {
		t.Fatal("same external id on another channel was taken for a duplicate")
	}
	all, err := db.ListCases(context.Background(), cases.Query{Limit: 100})
	if err != nil || len(all) != 3 {
		t.Fatalf("ListCases = %d cases, %v; want 3", len(all), err)
	}
}

func testContactsByEmail(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	out := create(t, db, 2026, newCase("it", "Maria@Example.it"), newCase("it", "maria@example.it"), newCase("it", ""), newCase("it", ""))
	out2 := create(t, db, 2026, newCase("statistics", "MARIA@example.IT"))
	contact := func(o intake.Outcome) string {
		c, err := db.GetCase(ctx, o.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		return c.ContactID
	}
	if contact(out[0]) != contact(out[1]) || contact(out[0]) != contact(out2[0]) {
		t.Fatal("the same e-mail in any case got different contacts")
	}
	if contact(out[2]) == contact(out[3]) {
		t.Fatal("two contacts without e-mail share a record")
	}
}

func testReferencesPerYear(t *testing.T, db *storage.DB) {
	create(t, db, 2026, newCase("it", ""), newCase("it", ""))
	if out := create(t, db, 2027, newCase("it", "")); out[0].Reference != "2027-000001" {
		t.Fatalf("first 2027 reference = %s", out[0].Reference)
	}
	if out := create(t, db, 2026, newCase("it", "")); out[0].Reference != "2026-000003" {
		t.Fatalf("third 2026 reference = %s", out[0].Reference)
	}
}

// testConcurrentCreate races writers, some storing the same contacts: every
// contact ends up in exactly one case and references have no gaps.
func testConcurrentCreate(t *testing.T, db *storage.DB) {
	const writers, perWriter = 8, 20
	shared := make([]intake.NewCase, perWriter)
	for i := range shared {
		shared[i] = newCase("statistics", fmt.Sprintf("c%d@example.it", i%5))
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			batch := []intake.NewCase{}
			for i := 0; i < perWriter; i++ {
				if i%2 == 0 {
					batch = append(batch, shared[i])
				} else {
					batch = append(batch, newCase("it", ""))
				}
			}
			for attempt := 0; ; attempt++ {
				_, err := db.CreateCases(context.Background(), 2026, batch, intake.FollowUpRule{})
				if errors.Is(err, storage.ErrConflict) && attempt < 20 {
					continue // what the intake consumer does: retry
				}
				errs <- err
				return
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	all, err := db.ListCases(context.Background(), cases.Query{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	want := perWriter/2 + writers*perWriter/2
	if len(all) != want {
		t.Fatalf("%d cases, want %d", len(all), want)
	}
	refs := make([]string, len(all))
	for i, c := range all {
		refs[i] = c.Reference
	}
	sort.Strings(refs)
	for i, r := range refs {
		if w := fmt.Sprintf("2026-%06d", i+1); r != w {
			t.Fatalf("reference %d = %s, want %s (gap or duplicate)", i, r, w)
		}
	}
}

func testListCasesFilters(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	create(t, db, 2026, newCase("statistics", ""), newCase("statistics", ""), newCase("it", ""), newCase("communication", ""))
	tests := []struct {
		q    cases.Query
		want int
	}{
		{cases.Query{}, 4},
		{cases.Query{Departments: []string{"statistics"}}, 2},
		{cases.Query{Departments: []string{"statistics", "it"}}, 3},
		{cases.Query{Departments: []string{}}, 0},
		{cases.Query{Status: cases.StatusNew}, 4},
		{cases.Query{Status: cases.StatusOpen}, 0},
		{cases.Query{Assignee: cases.Unassigned}, 4},
		{cases.Query{Assignee: "op-1"}, 0},
	}
	for _, tt := range tests {
		tt.q.Limit = 100
		got, err := db.ListCases(ctx, tt.q)
		if err != nil {
			t.Fatalf("%+v: %v", tt.q, err)
		}
		if len(got) != tt.want {
			t.Errorf("ListCases(%+v) = %d cases, want %d", tt.q, len(got), tt.want)
		}
	}
}

func testListCasesPaging(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	var batch []intake.NewCase
	for i := 0; i < 23; i++ {
		batch = append(batch, newCase("statistics", ""))
	}
	create(t, db, 2026, batch...)
	for _, order := range []cases.Order{cases.OrderCreated, cases.OrderCreatedDesc, cases.OrderPriority} {
		var seen []string
		q := cases.Query{Order: order, Limit: 5}
		for {
			page, err := db.ListCases(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				seen = append(seen, c.Reference)
			}
			if len(page) < q.Limit {
				break
			}
			last := page[len(page)-1]
			q.After = &cases.Cursor{ID: last.ID, Priority: last.Priority}
		}
		if len(seen) != 23 {
			t.Fatalf("%s: paged through %d cases, want 23", order, len(seen))
		}
		sorted := sort.StringsAreSorted(seen)
		if order == cases.OrderCreatedDesc {
			sorted = sort.SliceIsSorted(seen, func(i, j int) bool { return seen[i] > seen[j] })
		}
		if !sorted {
			t.Fatalf("%s: pages out of order: %v", order, seen)
		}
	}
}

func testGetCaseNotFound(t *testing.T, db *storage.DB) {
	for _, id := range []string{uuid.NewString(), "not-a-uuid", "", "'; DROP TABLE cases; --"} {
		if _, err := db.GetCase(context.Background(), id); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("GetCase(%q) = %v, want ErrNotFound", id, err)
		}
	}
}
