package storetest

import (
	"context"

	"errors"
	"github.com/google/uuid"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/intake"
	"github.com/sportello/sportello/services/sla"
	"github.com/sportello/sportello/services/storage"
)

var directoryAdminTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"DirectoryAdmin", testDirectoryAdmin},
	{"SLAPoliciesAndHours", testSLAPoliciesAndHours},
	{"TagsAndFilters", testTagsAndFilters},
	{"WorkloadSLA", testWorkloadSLA},
	{"SkillsAndStickiness", testSkillsAndStickiness},
	{"ClaimMatchesSkills", testClaimMatchesSkills},
	{"PresenceHandBack", testPresenceHandBack},
	{"FirstResponse", testFirstResponse},
}

func testDirectoryAdmin(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	press := directory.Department{ID: "press", Name: "Ufficio stampa", Policy: directory.PolicyRoundRobin, Sticky: true,
		WorkingHours: []sla.DayHours{{Day: "monday", Start: "08:00", End: "14:00"}}}
	if err := db.CreateDepartment(ctx, press); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateDepartment(ctx, press); !errors.Is(err, directory.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	got, err := db.UpdateDepartment(ctx, "press", func(d *directory.Department) error {
		d.MatchSkills, d.Name = true, "Stampa"
		return nil
	})
	if err != nil || got.Name != "Stampa" || !got.MatchSkills || !got.Sticky || len(got.WorkingHours) != 1 {
		t.Fatalf("update = %+v, %v", got, err)
	}
	if _, err := db.UpdateDepartment(ctx, "nope", func(*directory.Department) error { return nil }); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("update unknown: %v", err)
	}
	// fn's error aborts the update.
	if _, err := db.UpdateDepartment(ctx, "press", func(d *directory.Department) error {
		d.Name = "x"
		return directory.ErrInvalid
	}); !errors.Is(err, directory.ErrInvalid) {
		t.Fatal(err)
	}
	list, _ := db.ListDepartments(ctx)
	i := slices.IndexFunc(list, func(d directory.Department) bool { return d.ID == "press" })
	if i < 0 || list[i].Name != "Stampa" {
		t.Fatalf("departments = %+v", list)
	}

	cat := directory.Category{Code: "interviews", Name: "Interviste", DepartmentID: "press", DefaultPriority: 3, Skill: "media"}
	if err := db.CreateCategory(ctx, cat); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateCategory(ctx, directory.Category{Code: "x", Name: "X", DepartmentID: "nope", DefaultPriority: 2}); !errors.Is(err, directory.ErrInvalid) {
		t.Fatalf("category of an unknown department: %v", err)
	}
	if _, err := db.UpdateCategory(ctx, "interviews", func(c *directory.Category) error {
		c.DepartmentID = "nope"
		return nil
	}); !errors.Is(err, directory.ErrInvalid) {
		t.Fatalf("move to an unknown department: %v", err)
	}
	cats, _ := db.ListCategories(ctx)
	if i := slices.IndexFunc(cats, func(c directory.Category) bool { return c.Code == "interviews" }); i < 0 || !reflect.DeepEqual(cats[i], cat) {
		t.Fatalf("categories = %+v", cats)
	}

	op := directory.Operator{ID: "op-press", DisplayName: "Anna Neri", Role: "operator", Presence: directory.Offline, Capacity: 5,
		Departments: []string{"press"}, Skills: []string{"media"}, Languages: []string{"it"}}
	if err := db.CreateOperator(ctx, op); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateOperator(ctx, op); !errors.Is(err, directory.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	bad := op
	bad.ID, bad.Departments = "op-bad", []string{"nope"}
	if err := db.CreateOperator(ctx, bad); !errors.Is(err, directory.ErrInvalid) {
		t.Fatalf("operator of an unknown department: %v", err)
	}
	if _, err := db.GetOperator(ctx, "op-bad"); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("the failed create left an operator behind: %v", err)
	}
	upd, err := db.UpdateOperator(ctx, "op-press", func(o *directory.Operator) error {
		o.Departments, o.Capacity = []string{"communication", "press"}, 8
		return nil
	})
	if err != nil || upd.Capacity != 8 || !reflect.DeepEqual(upd.Departments, []string{"communication", "press"}) {
		t.Fatalf("update operator = %+v, %v", upd, err)
	}
	got2, _ := db.GetOperator(ctx, "op-press")
	if !reflect.DeepEqual(got2, upd) {
		t.Fatalf("GetOperator = %+v, want %+v", got2, upd)
	}

	r, err := db.CreateRoutingRule(ctx, directory.Rule{Name: "stampa", Position: 5, Department: "press", Keywords: []string{"intervista"}, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := db.UpdateRoutingRule(ctx, r.ID, func(r *directory.Rule) error {
		r.Keywords, r.Enabled = []string{"intervista", "giornalista"}, false
		return nil
	})
	if err != nil || r2.Enabled || len(r2.Keywords) != 2 {
		t.Fatalf("update rule = %+v, %v", r2, err)
	}
	rules, _ := db.ListRoutingRules(ctx)
	if i := slices.IndexFunc(rules, func(x directory.Rule) bool { return x.ID == r.ID }); i < 0 || !reflect.DeepEqual(rules[i], r2) {
		t.Fatalf("rules = %+v", rules)
	}
	if _, err := db.UpdateRoutingRule(ctx, r.ID, func(r *directory.Rule) error {
		r.Department = "nope"
		return nil
	}); !errors.Is(err, directory.ErrInvalidRule) {
		t.Fatalf("rule to an unknown department: %v", err)
	}
}

func testSLAPoliciesAndHours(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	p := sla.Policy{Department: "it", Priority: 4, FirstResponseMinutes: 30, ResolutionMinutes: 240}
	if err := db.UpsertSLAPolicies(ctx, []sla.Policy{p}); err != nil {
		t.Fatal(err)
	}
	p.FirstResponseMinutes = 60 // upsert changes it
	if err := db.UpsertSLAPolicies(ctx, []sla.Policy{p}); err != nil {
		t.Fatal(err)
	}
	list, _ := db.ListSLAPolicies(ctx)
	if !slices.Contains(list, p) {
		t.Fatalf("policies = %+v, want %+v among them", list, p)
	}
	if err := db.UpsertSLAPolicies(ctx, []sla.Policy{{Department: "nope", Priority: 2, ResolutionMinutes: 1}}); !errors.Is(err, directory.ErrInvalid) {
		t.Fatalf("policy of an unknown department: %v", err)
	}
	hours := []sla.DayHours{{Day: "saturday", Start: "09:00", End: "12:00"}}
	if _, err := db.UpdateDepartment(ctx, "it", func(d *directory.Department) error { d.WorkingHours = hours; return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := db.DepartmentHours(ctx)
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got["it"], hours) {
		t.Fatalf("DepartmentHours = %v, %v", got, err)
	}
	// The clock uses them: an IT case opened on a Friday afternoon is
	// due on Saturday morning, a Statistics one on Monday.
	rome, _ := time.LoadLocation("Europe/Rome")
	clock, err := sla.NewClock(sla.Config{Location: rome, Week: sla.OfficeHours(), ItalianHolidays: true}, db, 0.8)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertSLAPolicies(ctx, []sla.Policy{{Department: "statistics", Priority: 4, FirstResponseMinutes: 60, ResolutionMinutes: 240}}); err != nil {
		t.Fatal(err)
	}
	if err := clock.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	fri := time.Date(2026, 11, 27, 16, 0, 0, 0, rome)
	d, ok, err := clock.Due("it", cases.PriorityUrgent, fri)
	if want := time.Date(2026, 11, 28, 9, 0, 0, 0, rome).Add(time.Hour).UTC(); err != nil || !ok || !d.FirstResponse.Equal(want) {
		t.Fatalf("IT first response = %v (%v, %v), want %v", d.FirstResponse, ok, err, want)
	}
	d, _, _ = clock.Due("statistics", cases.PriorityUrgent, fri)
	if want := time.Date(2026, 11, 27, 17, 0, 0, 0, rome).UTC(); !d.FirstResponse.Equal(want) {
		t.Fatalf("statistics first response = %v, want %v", d.FirstResponse, want)
	}
}

func testTagsAndFilters(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	a, b, c := newCase("it", ""), newCase("it", ""), newCase("statistics", "")
	a.Tags, a.Priority = []string{"gdpr", "press"}, cases.PriorityUrgent
	b.ChannelKind, b.Category = "email", "portal-account"
	now := time.Now().UTC()
	c.SLADueAt, c.SLAWarnAt = now.Add(-time.Minute), now.Add(-2*time.Minute) // breached
	b.SLADueAt, b.SLAWarnAt = now.Add(time.Hour), now.Add(-time.Minute)      // due soon
	a.SLADueAt, a.SLAWarnAt = now.Add(2*time.Hour), now.Add(time.Hour)       // ok
	out := create(t, db, 2026, a, b, c)
	ids := func(q cases.Query) []string {
		t.Helper()
		q.Limit = 10
		list, err := db.ListCases(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range list {
			got = append(got, c.ID)
		}
		return got
	}
	A, B, C := out[0].CaseID, out[1].CaseID, out[2].CaseID
	tests := []struct {
		name string
		q    cases.Query
		want []string
	}{
		{"tag", cases.Query{Tag: "press"}, []string{A}},
		{"unknown tag", cases.Query{Tag: "nope"}, nil},
		{"priority", cases.Query{Priority: cases.PriorityUrgent}, []string{A}},
		{"channel", cases.Query{ChannelKind: "email"}, []string{B}},
		{"category", cases.Query{Category: "portal-account"}, []string{B}},
		{"ok", cases.Query{SLAState: cases.SLAOK, Now: now}, []string{A}},
		{"due soon", cases.Query{SLAState: cases.SLAWarning, Now: now}, []string{B}},
		{"breached", cases.Query{SLAState: cases.SLABreached, Now: now}, []string{C}},
		{"paused", cases.Query{SLAState: cases.SLAPaused, Now: now}, nil},
		{"tag and department", cases.Query{Tag: "gdpr", Departments: []string{"statistics"}}, nil},
	}
	for _, tt := range tests {
		if got := ids(tt.q); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	got, _ := db.GetCase(ctx, A)
	if !reflect.DeepEqual(got.Tags, []string{"gdpr", "press"}) || got.Priority != cases.PriorityUrgent {
		t.Fatalf("case A tags %v priority %v", got.Tags, got.Priority)
	}
	// Retagging replaces the tag rows the filter reads.
	if _, err := db.UpdateCase(ctx, A, 0, cases.Update("op", []string{"tags"}, cases.Case{Tags: []string{"urp"}})); err != nil {
		t.Fatal(err)
	}
	if g := ids(cases.Query{Tag: "press"}); g != nil {
		t.Fatalf("old tag still finds %v", g)
	}
	if g := ids(cases.Query{Tag: "urp"}); !reflect.DeepEqual(g, []string{A}) {
		t.Fatalf("new tag finds %v", g)
	}
	// Paused cases leave the running states.
	if _, err := db.UpdateCase(ctx, C, 0, func(k *cases.Case) ([]cases.Event, error) {
		k.SLAPausedAt = now
		return []cases.Event{{Type: cases.EventStatusChanged}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if g := ids(cases.Query{SLAState: cases.SLAPaused, Now: now}); !reflect.DeepEqual(g, []string{C}) {
		t.Fatalf("paused = %v", g)
	}
}

func testWorkloadSLA(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	now := time.Now().UTC()
	mk := func(due, warn time.Duration) intake.NewCase {
		nc := newCase("it", "")
		nc.SLADueAt, nc.SLAWarnAt = now.Add(due), now.Add(warn)
		return nc
	}
	out := create(t, db, 2026, mk(time.Hour, -time.Minute), mk(-time.Minute, -time.Hour), mk(-time.Hour, -2*time.Hour), mk(2*time.Hour, time.Hour))
	if _, err := db.UpdateCase(ctx, out[1].CaseID, 0, cases.Assign("sup", "op-it", "")); err != nil {
		t.Fatal(err)
	}
	loads, err := db.Workload(ctx, []string{"it"}, now)
	if err != nil || len(loads) != 1 {
		t.Fatal(loads, err)
	}
	l := loads[0]
	if l.Open != 4 || l.DueSoon != 1 || l.Breached != 2 {
		t.Fatalf("IT load = %+v, want 4 open, 1 due soon, 2 breached", l)
	}
	i := slices.IndexFunc(l.Operators, func(o cases.OperatorLoad) bool { return o.Operator == "op-it" })
	if i < 0 || l.Operators[i].Open != 1 || l.Operators[i].Breached != 1 || l.Operators[i].DueSoon != 0 {
		t.Fatalf("op-it load = %+v", l.Operators)
	}
}

// skilled sets up an IT department on least_loaded with skills matched:
// op-it speaks Italian and English and knows SPID, the supervisor only
// Italian.
func skilled(t *testing.T, db *storage.DB, policy string, match, sticky bool) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.UpdateDepartment(ctx, "it", func(d *directory.Department) error {
		d.Policy, d.MatchSkills, d.Sticky = policy, match, sticky
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for id, o := range map[string]func(*directory.Operator){
		"op-it":              func(o *directory.Operator) { o.Skills, o.Languages = []string{"spid"}, []string{"en", "it"} },
		"sup-contact-centre": func(o *directory.Operator) { o.Skills, o.Languages = nil, []string{"it"} },
	} {
		if _, err := db.UpdateOperator(ctx, id, func(op *directory.Operator) error { o(op); return nil }); err != nil {
			t.Fatal(err)
		}
	}
}

func testSkillsAndStickiness(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	skilled(t, db, directory.PolicyLeastLoaded, true, false)
	spid, english, plain, nobody := newCase("it", ""), newCase("it", ""), newCase("it", ""), newCase("it", "")
	spid.RequiredSkill = "spid"
	english.Language = "en"
	nobody.RequiredSkill = "cobol"
	out := create(t, db, 2026, spid, english, plain, nobody)
	if n, err := db.AutoAssign(ctx, 100); err != nil || n != 3 {
		t.Fatalf("AutoAssign = %d, %v; want 3 (nobody knows cobol)", n, err)
	}
	want := []string{"op-it", "op-it", "sup-contact-centre", ""}
	for i, o := range out {
		c, _ := db.GetCase(ctx, o.CaseID)
		if c.Assignee != want[i] {
			t.Errorf("case %d (skill %q, language %q) went to %q, want %q", i, c.RequiredSkill, c.Language, c.Assignee, want[i])
		}
	}

	// Sticky: the citizen who wrote before gets the same operator, even
	// though least_loaded would pick the other one.
	skilled(t, db, directory.PolicyLeastLoaded, false, true)
	first := newCase("it", "anna@example.it")
	o1 := create(t, db, 2026, first)
	if _, err := db.UpdateCase(ctx, o1[0].CaseID, 0, cases.Assign("sup", "op-it", "")); err != nil {
		t.Fatal(err)
	}
	again := create(t, db, 2026, newCase("it", "anna@example.it"))
	if _, err := db.AutoAssign(ctx, 100); err != nil {
		t.Fatal(err)
	}
	c, _ := db.GetCase(ctx, again[0].CaseID)
	if c.Assignee != "op-it" {
		t.Fatalf("returning citizen's case went to %q, want op-it who served them (open: %v)", c.Assignee, openCases(t, db))
	}
	evs, _ := db.ListCaseEvents(ctx, c.ID, "", 10)
	if last := evs[len(evs)-1]; last.Reason != "assigned automatically to who last served the citizen" {
		t.Fatalf("reason = %q", last.Reason)
	}
}

func testClaimMatchesSkills(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	skilled(t, db, directory.PolicyManual, true, false)
	spid := newCase("it", "")
	spid.RequiredSkill = "spid"
	spid.SLADueAt = time.Now().Add(time.Hour) // the most urgent
	out := create(t, db, 2026, spid, newCase("it", ""))
	c, err := db.ClaimNextCase(ctx, "sup-contact-centre", []string{"it"}, "sup")
	if err != nil || c.ID != out[1].CaseID {
		t.Fatalf("supervisor without the skill claimed %q, %v; want the plain case", c.ID, err)
	}
	if _, err := db.ClaimNextCase(ctx, "sup-contact-centre", []string{"it"}, "sup"); !errors.Is(err, cases.ErrNothingToClaim) {
		t.Fatalf("second claim: %v, want nothing to claim", err)
	}
	if c, err := db.ClaimNextCase(ctx, "op-it", []string{"it"}, "op"); err != nil || c.ID != out[0].CaseID {
		t.Fatalf("op-it claimed %q, %v", c.ID, err)
	}
}

func testPresenceHandBack(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	out := create(t, db, 2026, newCase("it", ""), newCase("it", ""))
	for _, o := range out {
		if _, err := db.UpdateCase(ctx, o.CaseID, 0, cases.Assign("sup", "op-it", "")); err != nil {
			t.Fatal(err)
		}
	}
	// One is started: the operator replied.
	m := cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: cases.Outbound, Body: "Gentile Maria, ...", AuthorName: "op-it"}
	if _, _, err := db.AddMessage(ctx, out[0].CaseID, m, cases.MessageAdded("op-it", m)); err != nil {
		t.Fatal(err)
	}
	op, handed, err := db.SetPresence(ctx, "op-it", directory.Away, true, "token:op-it")
	if err != nil || op.Presence != directory.Away || !reflect.DeepEqual(handed, []string{out[1].CaseID}) {
		t.Fatalf("SetPresence = %+v, %v, %v", op, handed, err)
	}
	if op.OpenCases != 1 {
		t.Fatalf("op-it has %d open cases after the hand-back, want 1", op.OpenCases)
	}
	c, _ := db.GetCase(ctx, out[1].CaseID)
	if c.Assignee != "" {
		t.Fatalf("handed-back case still assigned to %q", c.Assignee)
	}
	evs, _ := db.ListCaseEvents(ctx, c.ID, "", 10)
	if last := evs[len(evs)-1]; last.Type != cases.EventAssigned || last.Actor != "token:op-it" || last.Reason != "handed back: op-it is away" {
		t.Fatalf("hand-back event = %+v", last)
	}
	if _, _, err := db.SetPresence(ctx, "nobody", directory.Online, false, "x"); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("unknown operator: %v", err)
	}
	if op, handed, _ := db.SetPresence(ctx, "op-it", directory.Online, false, "x"); op.Presence != directory.Online || handed != nil {
		t.Fatalf("back online = %+v %v", op, handed)
	}
}

func testFirstResponse(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	now := time.Now().UTC()
	late, answered := newCase("it", "maria@example.it"), newCase("it", "maria@example.it")
	for _, nc := range []*intake.NewCase{&late, &answered} {
		nc.SLADueAt, nc.SLAWarnAt, nc.FirstResponseDueAt = now.Add(48*time.Hour), now.Add(40*time.Hour), now.Add(-time.Minute)
	}
	answered.FirstResponseDueAt = now.Add(time.Minute)
	out := create(t, db, 2026, late, answered)
	m := cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: cases.Outbound, Body: "Gentile Maria, ...", AuthorName: "op-it", CreatedAt: now}
	if _, c, err := db.AddMessage(ctx, out[1].CaseID, m, cases.MessageAdded("op-it", m)); err != nil || !c.FirstRespondedAt.Equal(now) {
		t.Fatalf("reply: responded at %v, %v", c.FirstRespondedAt, err)
	}
	ids, err := db.CasesDueForSLA(ctx, now, 100)
	if err != nil || !reflect.DeepEqual(ids, []string{out[0].CaseID}) {
		t.Fatalf("CasesDueForSLA = %v, %v; want only the unanswered case", ids, err)
	}
	c, err := db.UpdateCase(ctx, out[0].CaseID, 0, cases.SLATick(now))
	if err != nil || !c.FirstResponseBreached {
		t.Fatalf("tick: %+v, %v", c, err)
	}
	if ids, _ := db.CasesDueForSLA(ctx, now, 100); len(ids) != 0 {
		t.Fatalf("announced case still due: %v", ids)
	}
	got, _ := db.GetCase(ctx, out[1].CaseID)
	if got.FirstResponseStateAt(now) != "met" || got.FirstResponseDueAt.Sub(now.Add(time.Minute)).Abs() > time.Millisecond {
		t.Fatalf("answered case: %s, due %v", got.FirstResponseStateAt(now), got.FirstResponseDueAt)
	}
}
