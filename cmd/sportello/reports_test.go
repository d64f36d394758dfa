package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	reportsv1 "github.com/sportello/sportello/api/sportello/reports/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/storage/storetest"
)

// A supervisor of statistics only.
const supStatisticsToken = "test-supervisor-statistics-0123456"

// TestIntegrationReports: cases come in over the web form, an operator
// replies to one over REST and resolves it; the supervisor reads the
// reports over REST and gRPC and as CSV, another department's supervisor
// and an operator are refused, /metrics shows the queue, and the page
// renders the charts for a supervisor signed in through the staff SSO.
func TestIntegrationReports(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		cfg := testConfig(t, b)
		cfg.Auth.Tokens = append(cfg.Auth.Tokens, auth.StaticToken{Name: "sup-statistics", SHA256: auth.HashToken(supStatisticsToken),
			Role: auth.RoleSupervisor, Departments: []string{"statistics"}})
		s := startServer(t, cfg)
		s.submit(itSubmit)
		s.submit(itSubmit)
		s.submit(defaultSubmit)
		all := s.waitForCases(3)
		var itCase string
		for _, c := range all {
			if c.Department == "it" {
				itCase = c.Id
			}
		}
		post := func(token, path string, body any) {
			t.Helper()
			b, _ := json.Marshal(body)
			if r := s.do("POST", path, jsonType, b, bearer(token)); r.Status != 200 {
				t.Fatalf("POST %s: %d %s", path, r.Status, r.Body)
			}
		}
		post(itToken, "/v1/cases/"+itCase+":assign", map[string]string{"assignee": "op-it"})
		post(itToken, "/v1/cases/"+itCase+"/messages", map[string]string{"direction": "DIRECTION_OUTBOUND", "body_text": "Ecco le istruzioni."})
		post(itToken, "/v1/cases/"+itCase+":changeStatus", map[string]string{"status": "STATUS_RESOLVED"})

		// REST: IT's performance.
		var perf reportsv1.PerformanceReport
		r := s.get("/v1/reports/performance?department=it", supToken)
		if r.Status != 200 || jsonUnmarshalAny(r.Body, &perf) != nil || len(perf.Departments) != 1 {
			t.Fatalf("performance: %d %s", r.Status, r.Body)
		}
		it := perf.Departments[0]
		if it.Department != "it" || it.Created != 2 || it.FirstResponse.GetCount() != 1 || it.Resolution.GetCount() != 1 ||
			it.Resolved != 1 || it.Reopened != 0 || it.GetReopenRate() != 0 || perf.Total.GetCreated() != 2 {
			t.Fatalf("IT performance = %v", it)
		}
		// The demo policies give IT a first-response target: met at once.
		if it.FirstResponseSla.GetMet() != 1 || it.FirstResponseSla.GetTotal() != 1 || it.ResolutionSla.GetMet() != 1 || it.ResolutionSla.GetTotal() != 1 {
			t.Fatalf("IT compliance = %v / %v", it.FirstResponseSla, it.ResolutionSla)
		}

		// gRPC: the volume of every department, by hour.
		vol, err := reportsv1.NewReportServiceClient(s.conn).GetVolumeReport(withToken(supToken),
			&reportsv1.GetVolumeReportRequest{Granularity: reportsv1.Granularity_GRANULARITY_HOUR})
		if err != nil {
			t.Fatal(err)
		}
		created := map[string]int32{}
		for _, bk := range vol.Buckets {
			created[bk.Department+"/"+bk.Channel] += bk.Created
		}
		if created["it/webform"] != 2 || created["statistics/webform"] != 1 || len(created) != 2 {
			t.Fatalf("volume = %v", created)
		}

		// CSV, each report.
		for report, want := range map[string]string{
			"performance": "department,created,first_response_count,", "volume": "start_time,department,channel,created,",
			"backlog": "department,lt_1d,1d_3d,3d_7d,7d_30d,ge_30d,total\r\n", "operators": "operator,department,handled,open\r\n",
		} {
			r := s.get("/v1/reports/"+report+":csv?department=it", supToken)
			if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") || !strings.HasPrefix(string(r.Body), want) {
				t.Fatalf("%s CSV: %d %s\n%s", report, r.Status, r.Header.Get("Content-Type"), r.Body)
			}
		}
		csv := string(s.get("/v1/reports/operators:csv?department=it", supToken).Body)
		if !strings.Contains(csv, "op-it,it,1,0") {
			t.Fatalf("operators CSV:\n%s", csv)
		}
		if csv := string(s.get("/v1/reports/backlog:csv", supToken).Body); !strings.Contains(csv, "it,1,0,0,0,0,1") || !strings.Contains(csv, "statistics,1,0,0,0,0,1") {
			t.Fatalf("backlog CSV:\n%s", csv)
		}

		// Refused: another department's supervisor, an operator, a citizen.
		for _, tc := range []struct{ token, path string }{
			{supStatisticsToken, "/v1/reports/performance?department=it"},
			{supStatisticsToken, "/v1/reports/volume:csv?department=it"},
			{supStatisticsToken, "/v1/reports/backlog?department=it"},
			{itToken, "/v1/reports/performance?department=it"},
			{citizenToken, "/v1/reports/volume"},
		} {
			if r := s.get(tc.path, tc.token); r.Status != http.StatusForbidden {
				t.Errorf("%s with %s: %d %s", tc.path, tc.token[:12], r.Status, r.Body)
			}
		}
		// The statistics supervisor sees statistics only.
		if r := s.get("/v1/reports/performance", supStatisticsToken); r.Status != 200 || jsonUnmarshalAny(r.Body, &perf) != nil ||
			len(perf.Departments) != 1 || perf.Departments[0].Department != "statistics" {
			t.Fatalf("statistics supervisor: %d %s", r.Status, r.Body)
		}
		if r := s.get("/v1/reports/performance?start_time=2026-01-02T00:00:00Z&end_time=2026-01-01T00:00:00Z", supToken); r.Status != 400 {
			t.Fatalf("reversed range: %d", r.Status)
		}

		// The live numbers.
		metrics := string(s.get("/metrics", "").Body)
		for _, want := range []string{`sportello_queue_cases{department="it",status="new"} 1`, `sportello_queue_cases{department="statistics",status="new"} 1`,
			`sportello_queue_oldest_unassigned_seconds{department="it"}`, `sportello_queue_metrics_up 1`, `sportello_sla_breached_open_cases{department="it"} 0`} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}

		// The page: a supervisor signed in through the staff SSO (the
		// development OP, which runs only beside SQLite).
		if b.Name != "sqlite" {
			return
		}
		br := newBrowser(t, s.base)
		code, page := br.get(s.base + staffLoginPath + "?return_to=" + "/supervisor/reports")
		if code != 200 {
			t.Fatalf("staff picker: %d", code)
		}
		code, page = br.pick(page, "supervisor")
		if code != 200 || !strings.Contains(page, "<h1>Report operativi</h1>") || !strings.Contains(page, `role="img"`) ||
			!strings.Contains(page, "Richieste in arrivo per canale, ultimi 7 giorni") || !strings.Contains(page, "Modulo web") ||
			!strings.Contains(page, `/v1/reports/volume:csv?`) {
			t.Fatalf("reports page: %d\n%s", code, page)
		}
		if code, page = br.get(s.base + "/supervisor/reports?days=30&lang=en&department=it"); code != 200 ||
			!strings.Contains(page, "Incoming requests by channel, last 30 days") || !strings.Contains(page, `<option value="it" selected>`) {
			t.Fatalf("English, 30 days, IT: %d\n%s", code, page)
		}
		// An operator is refused the page; a visitor without a session is
		// sent to sign in.
		op := newBrowser(t, s.base)
		_, page = op.get(s.base + staffLoginPath + "?return_to=/supervisor/reports")
		if code, page = op.pick(page, "operator-it"); code != http.StatusForbidden || !strings.Contains(page, "riservata ai responsabili") {
			t.Fatalf("operator on the reports page: %d\n%s", code, page)
		}
		anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := anon.Get(s.base + "/supervisor/reports")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != accountPath {
			t.Fatalf("anonymous: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}
