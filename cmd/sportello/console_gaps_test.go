package main

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/channels/email/emailtest"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/storage/storetest"
)

// TestIntegrationConsoleWork drives what an operator's shift needs beyond
// the basics (TestIntegrationConsole): a status change straight after a
// reply whose delivery failed, names instead of ids in the pickers, the
// board keeping its filter after a bulk action.
func TestIntegrationConsoleWork(t *testing.T) {
	forEachBackend(t, testConsoleWork)
}

var etagRE = regexp.MustCompile(`name="etag" value="([^"]+)"`)

func etagOf(t *testing.T, page string) string {
	t.Helper()
	m := etagRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no etag in:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

func testConsoleWork(t *testing.T, b0 storetest.Backend) {
	sink := emailtest.Start(t)
	s := startServer(t, mailConfig(t, b0, sink))
	ctx := context.Background()
	if _, err := s.app.db.CreateRoutingRule(ctx, directory.Rule{Name: "posta dati", Position: 1, Department: "statistics",
		ToAddress: "dati@comune.example.it", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := mailTo(s.app.MailAddr(), "anna.verdi@example.it", "dati@comune.example.it", citizenRequest("work-1@mail.example.it")); err != nil {
		t.Fatal(err)
	}
	mailCase := s.waitForCases(1)[0]
	sentMessage(t, sink, 1) // the acknowledgement

	op, page := staffBrowser(t, s, "operator-statistics", "/console/")
	csrf := csrfOf(t, page)

	// Pickers and columns name departments and operators.
	for _, want := range []string{`>Statistica</option>`, `<td>Statistica</td>`} {
		contains(t, "queue names", page, want)
	}
	casePath := s.base + "/console/cases/" + mailCase.Id
	_, page = op.get(casePath)
	contains(t, "case department name", page, `<strong id="case-department">Statistica</strong>`)
	contains(t, "transfer picker", page, `<option value="communication">Comunicazione</option>`)
	contains(t, "assign picker", page, `id="assign-to"`)
	if strings.Contains(page, `<option value="communication">communication</option>`) {
		t.Fatalf("transfer picker shows ids:\n%s", page)
	}

	// A reply whose delivery fails (the SMTP server refuses it for good),
	// then a status change from the page the reply redirected to: the
	// failure is in the thread, and the change is not refused as stale.
	sink.FailNext(emailtest.Permanent)
	code, page := op.post(casePath+"/messages", url.Values{"csrf_token": {csrf}, "kind": {"reply"}, "body": {"Risposta che non arriverà."}})
	if code != http.StatusOK || errorsRE.MatchString(page) {
		t.Fatalf("reply: %d\n%s", code, page)
	}
	before := etagOf(t, page)
	deadline := time.Now().Add(30 * time.Second)
	for failed := false; !failed; {
		for _, m := range s.messages(mailCase.Id) {
			if strings.Contains(m.BodyText, "non arriverà") && m.DeliveryStatus == "failed" {
				failed = true
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the reply's delivery did not fail within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	eventuallyWithin(t, 30*time.Second, "delivery_failed in the history", func() bool {
		evs, err := s.grpcCases().ListCaseEvents(withToken(adminToken), &casesv1.ListCaseEventsRequest{CaseId: mailCase.Id})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Events {
			if e.Type == "delivery_failed" {
				return true
			}
		}
		return false
	})
	code, page = op.post(casePath+"/status", url.Values{"csrf_token": {csrf}, "etag": {before}, "status": {"pending_citizen"}, "reason": {"Indirizzo da verificare"}})
	if c := getCase(t, s, mailCase.Id); code != http.StatusOK || errorsRE.MatchString(page) || c.Status != casesv1.Status_STATUS_PENDING_CITIZEN {
		t.Fatalf("status change after a failed delivery: %d %v\n%s", code, c.Status, errorsRE.FindString(page))
	}

	// The board keeps its filter after a bulk action (plain form and htmx).
	a := staffCase(t, s, "statistics", "Tavole regionali")
	bcase := staffCase(t, s, "statistics", "Tavole provinciali")
	sup, page := staffBrowser(t, s, "supervisor", "/console/board?view=unassigned&department=statistics")
	contains(t, "board department filter", page, `id="board-department"`)
	contains(t, "board transfer picker", page, `>Comunicazione</option>`)
	contains(t, "board assign action keeps the filter", page, `action="/console/board/assign?department=statistics&amp;order=sla_due&amp;view=unassigned"`)
	supCSRF := csrfOf(t, page)
	noFollow := &http.Client{Jar: sup.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values, hx bool) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", formType)
		req.Header.Set("Origin", s.base)
		if hx {
			req.Header.Set("HX-Request", "true")
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := post("/console/board/assign?department=statistics&order=sla_due&view=unassigned",
		url.Values{"csrf_token": {supCSRF}, "ids": {a.Id}, "assignee": {"operator-statistics"}, "reason": {"Carico"}}, false)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/console/board?department=statistics&done=batch&order=sla_due&view=unassigned" {
		t.Fatalf("bulk assign back to %d %q", resp.StatusCode, loc)
	}
	resp = post("/console/board/transfer?department=statistics&view=unassigned",
		url.Values{"csrf_token": {supCSRF}, "ids": {bcase.Id}, "department": {"it"}, "reason": {"Competenza"}}, true)
	if loc := resp.Header.Get("HX-Location"); resp.StatusCode != http.StatusNoContent || loc != "/console/board?department=statistics&done=batch&order=sla_due&view=unassigned" {
		t.Fatalf("htmx bulk transfer back to %d %q", resp.StatusCode, loc)
	}
	if c := getCase(t, s, bcase.Id); c.Department != "it" {
		t.Fatalf("bulk transfer: %s", c.Department)
	}
	// A failed batch goes back to the same filter with the error.
	resp = post("/console/board/assign?view=mine", url.Values{"csrf_token": {supCSRF}, "ids": {a.Id}, "assignee": {"nobody-such"}, "reason": {"x"}}, false)
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/console/board?error=") || !strings.Contains(loc, "view=mine") {
		t.Fatalf("failed batch back to %q", loc)
	}
	_ = sup
}
