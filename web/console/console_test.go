package console

import (
	"bytes"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	contactsv1 "github.com/sportello/sportello/api/sportello/contacts/v1"
	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/web"
)

func TestQueueFilterRequest(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  *casesv1.ListCasesRequest
	}{
		{"", &casesv1.ListCasesRequest{Status: "active", OrderBy: "sla_due", PageSize: 50}},
		{"view=mine", &casesv1.ListCasesRequest{Status: "active", OrderBy: "sla_due", PageSize: 50, Assignee: "op-1"}},
		{"view=unassigned&department=it&order=priority+desc", &casesv1.ListCasesRequest{Department: "it", Status: "active", OrderBy: "priority desc", PageSize: 50, Assignee: "none"}},
		{"view=due&status=all", &casesv1.ListCasesRequest{OrderBy: "sla_due", PageSize: 50, SlaState: "warning"}},
		{"view=breached&channel=email&tag=x&q=tavole&priority=high&page=tok", &casesv1.ListCasesRequest{Status: "active", OrderBy: "sla_due", PageSize: 50,
			SlaState: "breached", ChannelKind: "email", Tag: "x", Query: "tavole", Priority: "high", PageToken: "tok"}},
		{"view=bogus&order=drop+table", &casesv1.ListCasesRequest{Status: "active", OrderBy: "sla_due", PageSize: 50}},
	} {
		q, _ := url.ParseQuery(tc.query)
		got := parseQueueFilter(q).request("op-1", 50)
		if got.String() != tc.want.String() {
			t.Errorf("%q: got %v, want %v", tc.query, got, tc.want)
		}
	}
	// A member of staff without an operator record has no cases of their own.
	if got := parseQueueFilter(url.Values{"view": {"mine"}}).request("", 50); got.Assignee == "" {
		t.Error("mine without an operator lists everyone's cases")
	}
	// Links keep the filters and reset the page.
	f := parseQueueFilter(url.Values{"view": {"mine"}, "tag": {"a b"}, "page": {"p2"}})
	if l := f.Link("order", "create_time"); l != "/console/?order=create_time&tag=a+b&view=mine" {
		t.Errorf("link = %q", l)
	}
}

func TestSLAText(t *testing.T) {
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	due := func(d time.Duration, state string) *casesv1.Case {
		return &casesv1.Case{SlaState: state, SlaDueTime: timestamppb.New(now.Add(d))}
	}
	tt := texts["en"]
	for _, tc := range []struct {
		c    *casesv1.Case
		want string
	}{
		{due(3*time.Hour+5*time.Minute, "ok"), "on time · left 3h 05m"},
		{due(-50*time.Hour, "breached"), "breached · overdue by 2d 2h"},
		{due(12*time.Minute, "warning"), "due soon · left 12m"},
		{due(time.Hour, "paused"), "paused"},
		{&casesv1.Case{}, "none"},
	} {
		if got := slaText(tt, slaOf(tc.c, now)); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.c, got, tc.want)
		}
	}
}

// TestTemplates renders every page, in both languages, with every part
// filled in.
func TestTemplates(t *testing.T) {
	c := New(Config{Log: slog.Default(), LogoutPath: "/auth/logout"})
	now := time.Now()
	cs := &casesv1.Case{Id: "c1", Reference: "2026-000001", Subject: "Tavole <b>", Status: casesv1.Status_STATUS_OPEN, Priority: casesv1.Priority_PRIORITY_HIGH,
		Department: "statistics", ChannelKind: "email", Tags: []string{"a", "b"}, Etag: "3", SlaState: "warning", SlaDueTime: timestamppb.New(now.Add(time.Hour)),
		CreateTime: timestamppb.New(now), ContactId: "k1"}
	for _, l := range []string{"it", "en"} {
		base := page{Lang: l, T: texts[l], Visitor: web.Visitor{Principal: auth.Principal{Role: auth.RoleSupervisor, Name: "Sara"}, CSRF: "tok"},
			Supervisor: true, Errors: []string{"boom"}, Notice: "ok", ReportPath: ReportPath, LogoutPath: "/auth/logout", Assets: pageAssets}
		f := parseQueueFilter(url.Values{})
		pages := map[string]any{
			"queue.html": queuePage{page: base, Filter: f, Views: views, Orders: orders, Departments: []choice{{"statistics", "Statistica"}, {"it", "Informatica"}},
				Rows: []row{{C: cs, SLA: slaOf(cs, now)}}, Next: "/console/?page=x", Statuses: statusFilters, Priorities: priorityNames,
				Channels: channelKinds, CSRF: "tok", Updated: now},
			"case.html": casePage{page: base, C: cs, SLA: slaOf(cs, now), Tab: "thread", CSRF: "tok", Base: "/console/cases/c1", Limit: limitOf("email"),
				Messages: []*casesv1.Message{{Id: "m1", Direction: casesv1.Direction_DIRECTION_INBOUND, ChannelKind: "email", BodyText: "ciao",
					CreateTime: timestamppb.New(now), Attachments: []*casesv1.Attachment{{Id: "a1", FileName: "x.pdf", Size: 2048}}},
					{Id: "m2", Direction: casesv1.Direction_DIRECTION_INTERNAL_NOTE, BodyText: "nota", CreateTime: timestamppb.New(now)}},
				Contact:     &contactsv1.Contact{Id: "k1", DisplayName: "Anna", Email: "anna@example.it", FiscalCode: "RSSMRA80A01H501U"},
				Others:      []*casesv1.Case{cs},
				Departments: []choice{{"it", "Informatica"}}, Operators: []choice{{"op", "Op"}}, Statuses: []string{"open", "closed"}, Priorities: priorityNames, Viewers: []Viewer{{ID: "x", Name: "Luca"}}},
			"board.html": boardPage{page: base, Filter: f, Views: views, CSRF: "tok", Rows: []row{{C: cs, SLA: slaOf(cs, now)}},
				Load:      []*casesv1.DepartmentLoad{{Department: "statistics", Open: 3, Operators: []*casesv1.OperatorLoad{{Operator: "op", Presence: "online", OpenTotal: 3, Capacity: 4}}}},
				Operators: []*directoryv1.Operator{{Id: "op", DisplayName: "Op"}}, Departments: []choice{{"it", "Informatica"}}, Back: "/console/board?view=mine"},
		}
		for name, data := range pages {
			var b bytes.Buffer
			if err := c.tmpl[name].ExecuteTemplate(&b, name, data); err != nil {
				t.Fatalf("%s %s: %v", l, name, err)
			}
			out := b.String()
			for _, want := range []string{`id="errors"`, `name="csrf_token" value="tok"`, "2026-000001", `id="kb-help"`, "Tavole &lt;b&gt;"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s %s: no %q", l, name, want)
				}
			}
		}
		cp := pages["case.html"].(casePage)
		cp.Stream = Path + "/events"
		cp.Tab, cp.Events = "history", []*casesv1.CaseEvent{{Type: "x", Time: timestamppb.New(now)}}
		b0 := bytes.Buffer{}
		if err := c.tmpl["case.html"].ExecuteTemplate(&b0, "case.html", cp); err != nil || !strings.Contains(b0.String(), `data-events="/console/events"`) {
			t.Fatalf("the case page's history shadows the stream's URL: %v", err)
		}
		cp.Tab, cp.Events = "history", []*casesv1.CaseEvent{{Type: "transferred", Reason: "perché", Time: timestamppb.New(now),
			Changes: map[string]*casesv1.FieldChange{"department": {Before: "a", After: "b"}}}}
		var b bytes.Buffer
		if err := c.tmpl["case.html"].ExecuteTemplate(&b, "case.html", cp); err != nil || !strings.Contains(b.String(), "perché") {
			t.Fatalf("history: %v", err)
		}
		// A WhatsApp case lists its channel's templates, one parameter
		// field per placeholder.
		cp.Tab, cp.Templates = "thread", []ReplyTemplate{{Name: "aggiornamento_pratica", Language: "it", Body: "Gentile {{1}}, pratica {{2}}", Params: 2}}
		b.Reset()
		if err := c.tmpl["case.html"].ExecuteTemplate(&b, "case.html", cp); err != nil {
			t.Fatalf("templates: %v", err)
		}
		if out := b.String(); !strings.Contains(out, `id="template-aggiornamento_pratica"`) || strings.Count(out, `name="param"`) != 2 ||
			!strings.Contains(out, "Gentile {{1}}, pratica {{2}}") || !strings.Contains(out, texts[l]["tpl.send"]) {
			t.Errorf("%s: template form missing:\n%s", l, out)
		}
		b.Reset()
		if err := c.tmpl["queue.html"].ExecuteTemplate(&b, "queue-table", pages["queue.html"]); err != nil || strings.Contains(b.String(), "<html") {
			t.Fatalf("partial: %v", err)
		}
	}
}
