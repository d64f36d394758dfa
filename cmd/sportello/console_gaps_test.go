package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/channels/cti"
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
	cfg := mailConfig(t, b0, sink)
	cfg.CTI = cti.Settings{Channels: []cti.ChannelSettings{{ID: "centralino", Secret: ctiSecret, CallerID: "+39 06 4673 1",
		Queues: map[string]string{"statistica": "statistics"}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, cfg)
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

	// The queue has the citizen's name; the page is one entry of the
	// access log, which names the contacts shown.
	contains(t, "citizen column", page, `<td class="citizen-name">Anna Verdi</td>`)
	r := s.get("/v1/access-log?contactId="+mailCase.ContactId+"&action=case.list", adminToken)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "contacts=") || !strings.Contains(string(r.Body), "operator-statistics") {
		t.Fatalf("access log of the queue page: %d %s", r.Status, r.Body)
	}
	// The SLA badge carries its deadline for the ticking script.
	contains(t, "sla badge", page, `data-sla-due="`)

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

	// Files chosen in the reply form go out with the reply, as the
	// e-mail's attachments; more than a message carries are refused
	// before any is stored.
	pdf, _ := base64.StdEncoding.DecodeString(pdfBase64)
	multipartPost := func(files ...string) (int, string) {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("csrf_token", csrf)
		_ = mw.WriteField("kind", "reply")
		_ = mw.WriteField("body", "Gentile Anna, in allegato i moduli.")
		for _, f := range files {
			fw, _ := mw.CreateFormFile("file", f)
			_, _ = fw.Write(pdf)
		}
		_ = mw.Close()
		req, _ := http.NewRequest(http.MethodPost, casePath+"/messages", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Origin", s.base)
		resp, err := op.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	contains(t, "multiple files", page, `name="file" class="form-control" multiple`)
	var many []string
	for i := range 21 {
		many = append(many, fmt.Sprintf("f%d.pdf", i))
	}
	if code, page := multipartPost(many...); code != http.StatusOK || !errorsRE.MatchString(page) || strings.Contains(page, "f0.pdf") {
		t.Fatalf("21 files: %d\n%s", code, page)
	}
	if code, page := multipartPost("modulo-a.pdf", "modulo-b.pdf"); code != http.StatusOK || errorsRE.MatchString(page) {
		t.Fatalf("reply with files: %d\n%s", code, errorsRE.FindString(page))
	}
	withFiles, raw := sentMessage(t, sink, 2)
	if !strings.Contains(withFiles.FullText, "in allegato i moduli") || !strings.Contains(string(raw.Data), "modulo-a.pdf") || !strings.Contains(string(raw.Data), "modulo-b.pdf") {
		t.Fatalf("the reply's e-mail lacks its files: %q", raw.Data)
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
	// The board has the reports' two charts, last 7 days by default, 30
	// on the switch, keeping the filter.
	contains(t, "board volume chart", page, `<figure class="chart" id="volume"><figcaption>Richieste in arrivo per canale, ultimi 7 giorni`)
	contains(t, "board SLA chart", page, `<figure class="chart" id="sla">`)
	contains(t, "board 30 days link", page, `id="days-30" href="/console/board?days=30&amp;department=statistics&amp;order=sla_due&amp;view=unassigned"`)
	if _, p30 := sup.get(s.base + "/console/board?days=30&department=statistics&view=unassigned"); !strings.Contains(p30, "ultimi 30 giorni") ||
		!strings.Contains(p30, `id="days-30" href="/console/board?days=30&amp;department=statistics&amp;order=sla_due&amp;view=unassigned" aria-current="page"`) {
		t.Fatalf("board, 30 days:\n%s", p30)
	}
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

	// The screen pop: a call to the statistics queue reaches the
	// operator's console stream as "event: call" with the caller's
	// contact and open cases; the notice's form attaches it to a case.
	_, page = op.get(s.base + "/console/")
	contains(t, "call notice box", page, `id="call-pop"`)
	contains(t, "call notice live region", page, `id="call-live" class="visually-hidden" aria-live="assertive"`)
	sseReq, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/console/events", nil)
	sse, err := op.c.Do(sseReq)
	if err != nil || sse.StatusCode != http.StatusOK {
		t.Fatalf("events: %v %+v", err, sse)
	}
	defer sse.Body.Close()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(sse.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	waitLine(t, lines, ": watching")
	caller := staffCase(t, s, "statistics", "Certificato di residenza") // Paolo Bianchi, +39 06 7654321
	nextCall := func() map[string]any {
		t.Helper()
		waitLine(t, lines, "event: call")
		var n map[string]any
		if err := json.Unmarshal([]byte(strings.TrimPrefix(waitLine(t, lines, "data: "), "data: ")), &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ctiAnswer(t, s.ctiPost(`{"event":"newCall","callId":"pbx-c1","from":"06 7654321","to":"+39064673","queue":"statistica"}`))
	n := nextCall()
	if n["type"] != "ringing" || n["contactName"] != "Paolo Bianchi" || !strings.Contains(string(mustJSON(n["openCases"])), caller.Reference) {
		t.Fatalf("call notice: %v", n)
	}
	callID := n["callId"].(string)
	// A refusal (no notes) goes back to the page the notice was on; a
	// foreign "back" is not followed.
	code, page = op.post(s.base+"/console/calls/"+callID+"/attach", url.Values{"csrf_token": {csrf}, "case_id": {caller.Id}, "back": {"https://evil.example/"}})
	if code != http.StatusOK || !errorsRE.MatchString(page) || !strings.Contains(page, `id="queue-table"`) {
		t.Fatalf("attach without notes: %d\n%s", code, page)
	}
	if code, _ := op.post(s.base+"/console/calls/"+callID+"/attach", url.Values{"case_id": {caller.Id}, "notes": {"x"}}); code != http.StatusForbidden {
		t.Fatalf("attach without CSRF token: %d", code)
	}
	code, page = op.post(s.base+"/console/calls/"+callID+"/attach", url.Values{"csrf_token": {csrf}, "case_id": {caller.Id},
		"notes": {"Chiede il certificato per e-mail."}, "back": {"/console/"}})
	if code != http.StatusOK || errorsRE.MatchString(page) || !strings.Contains(page, "Chiamata collegata alla pratica") ||
		!strings.Contains(page, "Chiede il certificato per e-mail.") || !strings.Contains(page, caller.Reference) {
		t.Fatalf("attach to the case: %d\n%s", code, page)
	}
	// An unknown number: a new case from the notes, in the call's department.
	ctiAnswer(t, s.ctiPost(`{"event":"newCall","callId":"pbx-c2","from":"+39 02 1112223","queue":"statistica"}`))
	n = nextCall()
	if n["contactName"] != nil && n["contactName"] != "" {
		t.Fatalf("unknown caller named: %v", n)
	}
	code, page = op.post(s.base+"/console/calls/"+n["callId"].(string)+"/attach", url.Values{"csrf_token": {csrf},
		"subject": {"Informazioni sul censimento"}, "notes": {"Chiede quando escono i dati."}, "back": {"/console/"}})
	if code != http.StatusOK || errorsRE.MatchString(page) || !strings.Contains(page, "Informazioni sul censimento") || !strings.Contains(page, "Chiede quando escono i dati.") {
		t.Fatalf("new case from the call: %d\n%s", code, page)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
