package storetest

import (
	"context"
	"testing"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/storage"
)

var autoAssignTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"AutoAssign", testAutoAssign},
}

func assignees(t *testing.T, db *storage.DB, dept string) map[string]int {
	t.Helper()
	list, err := db.ListCases(context.Background(), cases.Query{Departments: []string{dept}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, c := range list {
		m[c.Assignee]++
	}
	return m
}

func testAutoAssign(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	depts := []directory.Department{
		{ID: "statistics", Name: "Statistica", Policy: directory.PolicyManual},
		{ID: "communication", Name: "Comunicazione", Policy: directory.PolicyRoundRobin},
		{ID: "it", Name: "Servizi informatici", Policy: directory.PolicyLeastLoaded},
	}
	if err := db.UpsertDepartments(ctx, depts); err != nil {
		t.Fatal(err)
	}
	create(t, db, 2026, newCase("it", ""), newCase("it", ""), newCase("it", ""), newCase("it", ""),
		newCase("communication", ""), newCase("communication", ""), newCase("statistics", ""))
	n, err := db.AutoAssign(ctx, 100)
	if err != nil || n != 6 {
		t.Fatalf("AutoAssign = %d, %v; want 6 (statistics is manual)", n, err)
	}
	if got := assignees(t, db, "it"); got["op-it"] != 2 || got["sup-contact-centre"] != 2 {
		t.Fatalf("least_loaded IT = %v, want 2 each", got)
	}
	if got := assignees(t, db, "communication"); got["op-communication"] != 1 || got["sup-contact-centre"] != 1 {
		t.Fatalf("round_robin communication = %v, want one each", got)
	}
	if got := assignees(t, db, "statistics"); got[""] != 1 {
		t.Fatalf("manual statistics = %v, want unassigned", got)
	}
	// Offline operators get nothing; a full one neither.
	for _, o := range directory.Demo.Operators {
		switch o.ID {
		case "op-it":
			o.Presence = directory.Offline
		case "sup-contact-centre":
			o.Capacity = 5 // has 3: room for 2
		default:
			continue
		}
		if err := db.UpsertOperators(ctx, []directory.Operator{o}); err != nil {
			t.Fatal(err)
		}
	}
	create(t, db, 2026, newCase("it", ""), newCase("it", ""), newCase("it", ""))
	if n, err := db.AutoAssign(ctx, 100); err != nil || n != 2 {
		t.Fatalf("second round = %d, %v; want 2 (supervisor's room)", n, err)
	}
	if got := assignees(t, db, "it"); got["op-it"] != 2 || got["sup-contact-centre"] != 4 || got[""] != 1 {
		t.Fatalf("after the second round IT = %v", got)
	}
	if got := openCases(t, db); got["sup-contact-centre"] != 5 {
		t.Fatalf("supervisor's counter = %d, want 5", got["sup-contact-centre"])
	}
}
