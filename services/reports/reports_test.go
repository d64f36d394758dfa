package reports

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	reportsv1 "github.com/sportello/sportello/api/sportello/reports/v1"
	"github.com/sportello/sportello/auth"
)

// fakeStore records the filters it is asked for and answers fixed data.
type fakeStore struct {
	filters []Filter
	depts   [][]string
	buckets []Bucket
	live    Live
	reads   int
	err     error
}

func (s *fakeStore) Buckets(_ context.Context, f Filter) ([]Bucket, error) {
	s.filters = append(s.filters, f)
	return s.buckets, s.err
}
func (s *fakeStore) Summaries(_ context.Context, f Filter) ([]Summary, error) {
	s.filters = append(s.filters, f)
	return []Summary{{Created: 3, Resolved: 2, Reopened: 1}, {Department: "it", Created: 3, Resolved: 2, Reopened: 1}}, s.err
}
func (s *fakeStore) Backlog(_ context.Context, d []string, _ time.Time) ([]Backlog, error) {
	s.depts = append(s.depts, d)
	return []Backlog{{Department: "it", Ages: []int{1, 0, 2, 0, 0}}}, s.err
}
func (s *fakeStore) Operators(_ context.Context, f Filter) ([]OperatorLoad, error) {
	s.filters = append(s.filters, f)
	return []OperatorLoad{{Operator: "=cmd", Department: "it", Handled: 2, Open: 1}}, s.err
}
func (s *fakeStore) Live(context.Context, time.Time) (Live, error) {
	s.reads++
	return s.live, s.err
}

var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func newTestServer(st Store) *Server {
	rome, _ := time.LoadLocation("Europe/Rome")
	return &Server{Reporter: &Reporter{Store: st, Location: rome, Now: func() time.Time { return now }}}
}

var (
	supervisorIT = auth.Principal{Subject: "sup", Role: auth.RoleSupervisor, Departments: []string{"it", "triage"}}
	admin        = auth.Principal{Subject: "adm", Role: auth.RoleAdmin}
)

// TestScope: a supervisor reads their departments only; an administrator
// every department.
func TestScope(t *testing.T) {
	tests := []struct {
		name  string
		p     auth.Principal
		dept  string
		want  []string
		error codes.Code
	}{
		{"supervisor, own department", supervisorIT, "it", []string{"it"}, codes.OK},
		{"supervisor, all theirs", supervisorIT, "", []string{"it", "triage"}, codes.OK},
		{"supervisor, another department", supervisorIT, "statistics", nil, codes.PermissionDenied},
		{"supervisor without departments", auth.Principal{Role: auth.RoleSupervisor}, "", []string{}, codes.OK},
		{"admin, all", admin, "", nil, codes.OK},
		{"admin, one", admin, "statistics", []string{"statistics"}, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStore{}
			srv := newTestServer(st)
			ctx := auth.WithPrincipal(context.Background(), tt.p)
			calls := []func() error{
				func() error {
					_, err := srv.GetVolumeReport(ctx, &reportsv1.GetVolumeReportRequest{Department: tt.dept})
					return err
				},
				func() error {
					_, err := srv.GetPerformanceReport(ctx, &reportsv1.GetPerformanceReportRequest{Department: tt.dept})
					return err
				},
				func() error {
					_, err := srv.GetOperatorReport(ctx, &reportsv1.GetOperatorReportRequest{Department: tt.dept})
					return err
				},
				func() error {
					_, err := srv.ExportReport(ctx, &reportsv1.ExportReportRequest{Report: "performance", Department: tt.dept})
					return err
				},
			}
			for i, call := range calls {
				if err := call(); status.Code(err) != tt.error {
					t.Fatalf("call %d: %v, want %v", i, err, tt.error)
				}
			}
			_, err := srv.GetBacklogReport(ctx, &reportsv1.GetBacklogReportRequest{Department: tt.dept})
			if status.Code(err) != tt.error {
				t.Fatalf("backlog: %v, want %v", err, tt.error)
			}
			if tt.error != codes.OK {
				if len(st.filters)+len(st.depts) != 0 {
					t.Fatal("the store was read for a refused request")
				}
				return
			}
			for _, f := range st.filters {
				if !reflect.DeepEqual(f.Departments, tt.want) {
					t.Fatalf("filter departments = %#v, want %#v", f.Departments, tt.want)
				}
			}
			if !reflect.DeepEqual(st.depts[0], tt.want) {
				t.Fatalf("backlog departments = %#v, want %#v", st.depts[0], tt.want)
			}
		})
	}
}

func TestRange(t *testing.T) {
	ts := timestamppb.New
	tests := []struct {
		name       string
		start, end *timestamppb.Timestamp
		from, to   time.Time
		code       codes.Code
	}{
		{"default: the last 7 days", nil, nil, now.Add(-7 * 24 * time.Hour), now, codes.OK},
		{"start only", ts(now.Add(-time.Hour)), nil, now.Add(-time.Hour), now, codes.OK},
		{"both", ts(now.Add(-48 * time.Hour)), ts(now.Add(-24 * time.Hour)), now.Add(-48 * time.Hour), now.Add(-24 * time.Hour), codes.OK},
		{"end before start", ts(now), ts(now.Add(-time.Hour)), time.Time{}, time.Time{}, codes.InvalidArgument},
		{"empty", ts(now), ts(now), time.Time{}, time.Time{}, codes.InvalidArgument},
		{"over a year", ts(now.AddDate(-1, 0, -2)), ts(now), time.Time{}, time.Time{}, codes.InvalidArgument},
		{"invalid timestamp", &timestamppb.Timestamp{Seconds: 1, Nanos: -5}, nil, time.Time{}, time.Time{}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStore{}
			_, err := newTestServer(st).GetPerformanceReport(auth.WithPrincipal(context.Background(), admin),
				&reportsv1.GetPerformanceReportRequest{StartTime: tt.start, EndTime: tt.end})
			if status.Code(err) != tt.code {
				t.Fatalf("err = %v, want %v", err, tt.code)
			}
			if tt.code == codes.OK && (!st.filters[0].From.Equal(tt.from) || !st.filters[0].To.Equal(tt.to)) {
				t.Fatalf("range = %v – %v, want %v – %v", st.filters[0].From, st.filters[0].To, tt.from, tt.to)
			}
		})
	}
}

// TestDailyBuckets: hours are summed into days of Europe/Rome, so 23:30
// UTC in November is the next day.
func TestDailyBuckets(t *testing.T) {
	h := func(d, hh int) time.Time { return time.Date(2026, 11, d, hh, 0, 0, 0, time.UTC) }
	st := &fakeStore{buckets: []Bucket{
		{Start: h(2, 8), Department: "it", Channel: "email", Created: 2, FirstResponse: Compliance{1, 2}},
		{Start: h(2, 9), Department: "it", Channel: "email", Created: 1, FirstResponse: Compliance{1, 1}, Resolution: Compliance{0, 1}},
		{Start: h(2, 9), Department: "it", Channel: "webform", Created: 1},
		{Start: h(2, 23), Department: "it", Channel: "email", Created: 4},
	}}
	srv := newTestServer(st)
	ctx := auth.WithPrincipal(context.Background(), admin)
	rep, err := srv.GetVolumeReport(ctx, &reportsv1.GetVolumeReportRequest{})
	if err != nil {
		t.Fatal(err)
	}
	day := func(d int) time.Time { return time.Date(2026, 11, d-1, 23, 0, 0, 0, time.UTC) } // Rome midnight
	type row struct {
		start            time.Time
		dept, ch         string
		n, frMet, frTot  int32
		resMet, resTotal int32
	}
	var got []row
	for _, b := range rep.GetBuckets() {
		got = append(got, row{b.GetStartTime().AsTime(), b.GetDepartment(), b.GetChannel(), b.GetCreated(),
			b.GetFirstResponseSla().GetMet(), b.GetFirstResponseSla().GetTotal(), b.GetResolutionSla().GetMet(), b.GetResolutionSla().GetTotal()})
	}
	want := []row{{day(2), "it", "email", 3, 2, 3, 0, 1}, {day(2), "it", "webform", 1, 0, 0, 0, 0}, {day(3), "it", "email", 4, 0, 0, 0, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("daily buckets:\n got %v\nwant %v", got, want)
	}
	if rep.GetGranularity() != reportsv1.Granularity_GRANULARITY_DAY {
		t.Fatalf("granularity = %v", rep.GetGranularity())
	}
	hourly, err := srv.GetVolumeReport(ctx, &reportsv1.GetVolumeReportRequest{Granularity: reportsv1.Granularity_GRANULARITY_HOUR})
	if err != nil || len(hourly.GetBuckets()) != 4 {
		t.Fatalf("hourly: %d buckets, %v", len(hourly.GetBuckets()), err)
	}
	if _, err := srv.GetVolumeReport(ctx, &reportsv1.GetVolumeReportRequest{Granularity: 9}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("unknown granularity: %v", err)
	}
}

func TestExportCSV(t *testing.T) {
	st := &fakeStore{buckets: []Bucket{{Start: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC), Department: "it", Channel: "email", Created: 2,
		FirstResponse: Compliance{1, 2}, Resolution: Compliance{1, 1}}}}
	srv := newTestServer(st)
	ctx := auth.WithPrincipal(context.Background(), supervisorIT)
	tests := map[string]string{
		"volume": "start_time,department,channel,created,first_response_sla_met,first_response_sla_total,resolution_sla_met,resolution_sla_total\n" +
			"2026-11-01T23:00:00Z,it,email,2,1,2,1,1\n",
		"performance": strings.Join(PerformanceColumns, ",") + "\n,3,0,0,0,0,0,0,0,0,0,0,2,1\nit,3,0,0,0,0,0,0,0,0,0,0,2,1\n",
		"backlog":     "department,lt_1d,1d_3d,3d_7d,7d_30d,ge_30d,total\nit,1,0,2,0,0,3\n",
		// A name that a spreadsheet would run is defused.
		"operators": "operator,department,handled,open\n'=cmd,it,2,1\n",
	}
	for report, want := range tests {
		body, err := srv.ExportReport(ctx, &reportsv1.ExportReportRequest{Report: report})
		if err != nil {
			t.Fatalf("%s: %v", report, err)
		}
		want = strings.ReplaceAll(want, "\n", "\r\n")
		if body.GetContentType() != "text/csv; charset=utf-8" || string(body.GetData()) != want {
			t.Errorf("%s: %s\n%s\nwant\n%s", report, body.GetContentType(), body.GetData(), want)
		}
	}
	if _, err := srv.ExportReport(ctx, &reportsv1.ExportReportRequest{Report: "salaries"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("unknown report: %v", err)
	}
	st.err = errors.New("db down")
	if _, err := srv.ExportReport(ctx, &reportsv1.ExportReportRequest{Report: "volume"}); status.Code(err) != codes.Internal {
		t.Fatalf("store failure: %v", err)
	}
}

// TestMetrics: the gauges follow the store's live numbers, and scrapes
// within MaxAge reuse one read.
func TestMetrics(t *testing.T) {
	clock := now
	st := &fakeStore{live: Live{
		Queue:            map[[2]string]int{{"it", "new"}: 3, {"it", "open"}: 2, {"statistics", "on_hold"}: 1},
		OldestUnassigned: map[string]time.Time{"it": now.Add(-90 * time.Second)},
		Breached:         map[string]int{"it": 2},
	}}
	m := &Metrics{Store: st, MaxAge: time.Minute, Now: func() time.Time { return clock }}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	want := `
# HELP sportello_queue_cases Open cases by department and status.
# TYPE sportello_queue_cases gauge
sportello_queue_cases{department="it",status="new"} 3
sportello_queue_cases{department="it",status="open"} 2
sportello_queue_cases{department="statistics",status="on_hold"} 1
# HELP sportello_queue_oldest_unassigned_seconds Age of the oldest unassigned open case, by department (absent when none waits).
# TYPE sportello_queue_oldest_unassigned_seconds gauge
sportello_queue_oldest_unassigned_seconds{department="it"} 90
# HELP sportello_sla_breached_open_cases Open, running cases past their resolution deadline, by department.
# TYPE sportello_sla_breached_open_cases gauge
sportello_sla_breached_open_cases{department="it"} 2
sportello_sla_breached_open_cases{department="statistics"} 0
# HELP sportello_queue_metrics_up 1 if the last read of the queue numbers succeeded.
# TYPE sportello_queue_metrics_up gauge
sportello_queue_metrics_up 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(30 * time.Second)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(strings.Replace(want, "} 90", "} 120", 1))); err != nil {
		t.Fatal(err)
	}
	if st.reads != 1 {
		t.Fatalf("%d reads for two scrapes within MaxAge", st.reads)
	}
	clock = clock.Add(time.Minute)
	st.err = errors.New("db down")
	if n := testutil.CollectAndCount(m, "sportello_queue_metrics_up", "sportello_queue_cases"); n != 1 || st.reads != 2 {
		t.Fatalf("after a failed read: %d series, %d reads", n, st.reads)
	}
	if v := testutil.ToFloat64(prometheus.CollectorFunc(m.Collect)); v != 0 {
		t.Fatalf("up = %v after a failed read", v)
	}
}
