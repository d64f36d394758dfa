package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/auth/devidp"
	"github.com/sportello/sportello/auth/session"
	"github.com/sportello/sportello/channels/email/emailtest"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/storage/storetest"
)

// staffBrowser signs in as a development OP staff identity and returns the
// browser and the page it lands on (return_to).
func staffBrowser(t *testing.T, s *testServer, identity, returnTo string) (*browser, string) {
	t.Helper()
	if !s.app.devIdP {
		return staffSession(t, s, identity, returnTo)
	}
	b := newBrowser(t, s.base)
	code, page := b.get(s.base + staffLoginPath + "?return_to=" + url.QueryEscape(returnTo))
	if code != http.StatusOK {
		t.Fatalf("staff picker: %d\n%s", code, page)
	}
	code, page = b.pick(page, identity)
	if code != http.StatusOK {
		t.Fatalf("after login as %s: %d\n%s", identity, code, page)
	}
	return b, page
}

// staffSession is staffBrowser where the development OP does not run
// (beside PostgreSQL): what the staff SSO callback does for the same
// identity — provision the operator, start a session — done directly.
func staffSession(t *testing.T, s *testServer, identity, returnTo string) (*browser, string) {
	t.Helper()
	ctx := context.Background()
	depts, err := s.app.db.ListDepartments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, d := range depts {
		codes = append(codes, d.ID)
	}
	i := slices.IndexFunc(devidp.DefaultIdentities(codes), func(id devidp.Identity) bool { return id.ID == identity })
	if i < 0 {
		t.Fatalf("no identity %s", identity)
	}
	who := devidp.DefaultIdentities(codes)[i]
	p := auth.Principal{Subject: "sso:" + who.ID, Operator: who.ID, Name: who.Name()}
	for _, g := range who.Groups {
		switch {
		case g == devidp.GroupOperator:
			p.Role = auth.RoleOperator
		case g == devidp.GroupSupervisor:
			p.Role = auth.RoleSupervisor
		case g == devidp.GroupAdmin:
			p.Role = auth.RoleAdmin
		case strings.HasPrefix(g, devidp.GroupDeptPrefix):
			p.Departments = append(p.Departments, strings.TrimPrefix(g, devidp.GroupDeptPrefix))
		}
	}
	op, err := directory.Provision(ctx, s.app.db, depts, directory.SSOUser{Operator: p.Operator, Name: who.Name(), Email: who.Email,
		Role: string(p.Role), Departments: p.Departments})
	if err != nil {
		t.Fatal(err)
	}
	p.Departments, p.Name = op.Departments, op.DisplayName
	sessions, err := session.New(session.Config{Store: s.app.db, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if _, err := sessions.Start(w, httptest.NewRequest(http.MethodGet, s.base+"/", nil), session.Login{Principal: p, DisplayName: op.DisplayName, Provider: "staff-sso"}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, s.base)
	u, _ := url.Parse(s.base)
	b.c.Jar.SetCookies(u, w.Result().Cookies())
	code, page := b.get(s.base + returnTo)
	if code != http.StatusOK {
		t.Fatalf("%s as %s: %d\n%s", returnTo, identity, code, page)
	}
	return b, page
}

// staffCase opens a case in a department over gRPC, as the supervisor.
func staffCase(t *testing.T, s *testServer, dept, subject string) *casesv1.Case {
	t.Helper()
	c, err := s.grpcCases().CreateCase(withToken(supToken), &casesv1.CreateCaseRequest{Subject: subject, Description: subject + ": testo.",
		Department: dept, ChannelKind: "phone", Contact: &casesv1.CaseContact{Name: "Paolo Bianchi", Phone: "+39 06 7654321"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func getCase(t *testing.T, s *testServer, id string) *casesv1.Case {
	t.Helper()
	c, err := s.grpcCases().GetCase(withToken(adminToken), &casesv1.GetCaseRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var errorsRE = regexp.MustCompile(`(?s)<div class="alert alert-danger"[^>]*>.*?</div>`)

// TestIntegrationConsole drives the operator console and supervisor board
// as a browser would (cookies, forms, CSRF tokens, redirects) against the
// real server, with staff signed in through the development OP and the
// e-mail channel sending to an SMTP sink.
func TestIntegrationConsole(t *testing.T) {
	t.Parallel()
	forEachBackend(t, testConsole)
}

func testConsole(t *testing.T, b0 storetest.Backend) {
	sink := emailtest.Start(t)
	s := startServer(t, mailConfig(t, b0, sink))
	ctx := context.Background()
	if _, err := s.app.db.CreateRoutingRule(ctx, directory.Rule{Name: "posta dati comune", Position: 1, Department: "statistics",
		ToAddress: "dati@comune.example.it", Enabled: true}); err != nil {
		t.Fatal(err)
	}

	// Without a session the console sends the browser to the staff login.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(s.base + "/console/?view=mine")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != staffLoginPath+"?return_to="+url.QueryEscape("/console/?view=mine") {
		t.Fatalf("anonymous console: %d %q", resp.StatusCode, loc)
	}

	// A citizen e-mails the statistics office; the press office has a case too.
	if err := mailTo(s.app.MailAddr(), "anna.verdi@example.it", "dati@comune.example.it", citizenRequest("console-1@mail.example.it")); err != nil {
		t.Fatal(err)
	}
	mailCase := s.waitForCases(1)[0]
	press := staffCase(t, s, "communication", "Richiesta intervista")
	sentMessage(t, sink, 1) // the acknowledgement

	// The statistics operator's queue lists its department's case, not
	// the press office's.
	op, page := staffBrowser(t, s, "operator-statistics", "/console/")
	contains(t, "queue", page, mailCase.Reference)
	contains(t, "queue", page, `id="next-case"`)
	if strings.Contains(page, press.Reference) {
		t.Fatalf("operator sees another department's case:\n%s", page)
	}
	csrf := csrfOf(t, page)
	if _, page := op.get(s.base + "/console/?view=unassigned&order=priority+desc"); !strings.Contains(page, mailCase.Reference) {
		t.Fatalf("unassigned view:\n%s", page)
	}

	// The live feed (SSE) delivers a case opened after it started.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/console/events", nil)
	sse, err := op.c.Do(req)
	if err != nil || sse.StatusCode != http.StatusOK || !strings.HasPrefix(sse.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %v %+v", err, sse)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(sse.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	waitLine(t, lines, ": watching")
	fresh := staffCase(t, s, "statistics", "Dati sul censimento")
	other := staffCase(t, s, "communication", "Comunicato")
	var got string
	for got == "" {
		l := waitLine(t, lines, "data: ")
		if strings.Contains(l, other.Id) {
			t.Fatalf("feed carried another department's case: %s", l)
		}
		if strings.Contains(l, fresh.Id) && strings.Contains(l, `"created"`) {
			got = l
		}
	}
	sse.Body.Close()

	// Next case claims the oldest unassigned case of the department.
	code, page := op.post(s.base+"/console/next", url.Values{"csrf_token": {csrf}})
	if code != http.StatusOK {
		t.Fatalf("next: %d\n%s", code, page)
	}
	contains(t, "claimed case page", page, mailCase.Reference)
	if c := getCase(t, s, mailCase.Id); c.Assignee != "operator-statistics" {
		t.Fatalf("claimed case assignee = %q", c.Assignee)
	}
	contains(t, "case page", page, "anna.verdi@example.it")            // citizen panel
	contains(t, "case page", page, "popolazione residente per comune") // thread
	contains(t, "case page", page, `id="channel-limits"`)

	casePath := s.base + "/console/cases/" + mailCase.Id
	// A form without the CSRF token is refused.
	if code, _ := op.post(casePath+"/messages", url.Values{"kind": {"reply"}, "body": {"forged"}}); code != http.StatusForbidden {
		t.Fatalf("reply without CSRF token: %d", code)
	}
	// A reply goes out by e-mail; an internal note does not.
	code, page = op.post(casePath+"/messages", url.Values{"csrf_token": {csrf}, "kind": {"reply"}, "body": {"Gentile Anna, ecco le tavole richieste."}})
	if code != http.StatusOK || errorsRE.MatchString(page) {
		t.Fatalf("reply: %d\n%s", code, page)
	}
	sent, raw := sentMessage(t, sink, 2)
	if raw.To[0] != "anna.verdi@example.it" || !strings.Contains(sent.FullText, "ecco le tavole richieste") {
		t.Fatalf("reply e-mail to %v: %q", raw.To, sent.FullText)
	}
	code, page = op.post(casePath+"/messages", url.Values{"csrf_token": {csrf}, "kind": {"note"}, "body": {"Nota riservata: verificare i dati 2025."}})
	if code != http.StatusOK || !strings.Contains(page, `data-direction="internal_note"`) {
		t.Fatalf("note: %d\n%s", code, page)
	}
	var note *casesv1.Message
	for _, m := range s.messages(mailCase.Id) {
		if strings.Contains(m.BodyText, "Nota riservata") {
			note = m
		}
	}
	if note == nil || note.Direction != casesv1.Direction_DIRECTION_INTERNAL_NOTE {
		t.Fatalf("note = %+v", note)
	}
	// Replies are delivered in order: had the note been sent, the sink
	// would hold it before a reply that follows it.
	code, _ = op.post(casePath+"/messages", url.Values{"csrf_token": {csrf}, "kind": {"reply"}, "body": {"Seconda risposta."}})
	if code != http.StatusOK {
		t.Fatalf("second reply: %d", code)
	}
	second, _ := sentMessage(t, sink, 3)
	if !strings.Contains(second.FullText, "Seconda risposta") {
		t.Fatalf("third e-mail: %q (the note went out?)", second.FullText)
	}
	for _, m := range sink.Messages() {
		if strings.Contains(string(m.Data), "Nota riservata") {
			t.Fatal("the internal note was e-mailed to the citizen")
		}
	}

	// A reply with a file (multipart, as the form sends it): the file is
	// on the message and downloadable through the console.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf_token", csrf)
	_ = mw.WriteField("kind", "note")
	_ = mw.WriteField("body", "Modulo firmato in allegato.")
	fw, _ := mw.CreateFormFile("file", "modulo.pdf")
	pdf, _ := base64.StdEncoding.DecodeString(pdfBase64)
	_, _ = fw.Write(pdf)
	_ = mw.Close()
	upload, _ := http.NewRequest(http.MethodPost, casePath+"/messages", &body)
	upload.Header.Set("Content-Type", mw.FormDataContentType())
	upload.Header.Set("Origin", s.base)
	resp, err = op.c.Do(upload)
	if err != nil {
		t.Fatal(err)
	}
	uploaded, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	link := regexp.MustCompile(`href="(/console/attachments/[^"]+)">modulo.pdf</a>`).FindAllStringSubmatch(string(uploaded), -1)
	if resp.StatusCode != http.StatusOK || len(link) < 2 { // the citizen's and the operator's
		t.Fatalf("upload: %d %d links\n%s", resp.StatusCode, len(link), uploaded)
	}
	code, file := op.get(s.base + link[len(link)-1][1])
	if code != http.StatusOK || file != string(pdf) {
		t.Fatalf("attachment download: %d %q", code, file)
	}

	// A canned response (administrators manage them over the API) fills
	// its placeholders from the case and goes out as the reply.
	r := s.do("POST", "/v1/canned-responses", jsonType, []byte(`{"department":"statistics","title":"Invio tavole",
		"body":"Gentile {{nome}}, per la pratica {{riferimento}} alleghiamo le tavole. {{operatore}}"}`), map[string]string{"Authorization": "Bearer " + adminToken})
	if r.Status != http.StatusOK {
		t.Fatalf("create canned response: %d %s", r.Status, r.Body)
	}
	cannedID := r.JSON(t)["id"].(string)
	if r := s.do("POST", "/v1/canned-responses", jsonType, []byte(`{"title":"x","body":"y"}`), map[string]string{"Authorization": "Bearer " + itToken}); r.Status != http.StatusForbidden {
		t.Fatalf("operator creates a canned response: %d", r.Status)
	}
	_, page = op.get(casePath + "?canned=" + cannedID)
	draft := regexp.MustCompile(`(?s)<textarea id="message-body"[^>]*>(.*?)</textarea>`).FindStringSubmatch(page)
	if draft == nil || html.UnescapeString(draft[1]) != "Gentile Anna Verdi, per la pratica "+mailCase.Reference+" alleghiamo le tavole. Operatore statistics" {
		t.Fatalf("canned draft: %q\n%s", draft, page)
	}
	code, _ = op.post(casePath+"/messages", url.Values{"csrf_token": {csrf}, "kind": {"reply"}, "body": {html.UnescapeString(draft[1])}})
	if canned, _ := sentMessage(t, sink, 4); code != http.StatusOK || !strings.Contains(canned.FullText, "per la pratica "+mailCase.Reference) {
		t.Fatalf("canned reply: %d %q", code, canned.FullText)
	}

	// Status, priority and tags.
	etagRE := regexp.MustCompile(`name="etag" value="([^"]+)"`)
	etag := func(page string) string { return html.UnescapeString(etagRE.FindStringSubmatch(page)[1]) }
	_, page = op.get(casePath)
	code, page = op.post(casePath+"/update", url.Values{"csrf_token": {csrf}, "etag": {etag(page)},
		"priority": {"high"}, "tags": {"censimento, tavole"}})
	if c := getCase(t, s, mailCase.Id); code != http.StatusOK || c.Priority != casesv1.Priority_PRIORITY_HIGH || strings.Join(c.Tags, " ") != "censimento tavole" {
		t.Fatalf("update: %d %v %v\n%s", code, c.Priority, c.Tags, page)
	}
	// A stale etag is refused, with the error at the top of the page.
	code, page = op.post(casePath+"/status", url.Values{"csrf_token": {csrf}, "etag": {`W/"999"`}, "status": {"on_hold"}})
	if code != http.StatusOK || !errorsRE.MatchString(page) {
		t.Fatalf("stale status change: %d\n%s", code, page)
	}

	// Transfer with a reason: the reason is in the history.
	_, page = op.get(casePath)
	code, page = op.post(casePath+"/transfer", url.Values{"csrf_token": {csrf}, "etag": {etag(page)},
		"department": {"communication"}, "reason": {"Richiesta della stampa"}})
	if c := getCase(t, s, mailCase.Id); code != http.StatusOK || c.Department != "communication" {
		t.Fatalf("transfer: %d %s\n%s", code, c.Department, page)
	}
	sup, page := staffBrowser(t, s, "supervisor", "/console/cases/"+mailCase.Id+"?tab=history")
	contains(t, "history", page, "Richiesta della stampa")
	contains(t, "history", page, `data-type="transferred"`)

	// The board: workload, and bulk reassignment by a supervisor.
	_, page = sup.get(s.base + "/console/board")
	contains(t, "board", page, `id="load-statistics"`)
	contains(t, "board", page, `href="/supervisor/reports"`)
	supCSRF := csrfOf(t, page)
	code, page = sup.post(s.base+"/console/board/assign", url.Values{"csrf_token": {supCSRF}, "ids": {fresh.Id},
		"assignee": {"operator-statistics"}, "reason": {"Riequilibrio del carico"}})
	if c := getCase(t, s, fresh.Id); code != http.StatusOK || c.Assignee != "operator-statistics" || errorsRE.MatchString(page) {
		t.Fatalf("bulk assign: %d %q\n%s", code, c.Assignee, page)
	}
	code, page = sup.post(s.base+"/console/board/transfer", url.Values{"csrf_token": {supCSRF}, "ids": {fresh.Id},
		"department": {"it"}, "reason": {"Competenza IT"}})
	if c := getCase(t, s, fresh.Id); code != http.StatusOK || c.Department != "it" {
		t.Fatalf("bulk transfer: %d %q\n%s", code, c.Department, page)
	}
	// An operator may not: the board is refused and the batch call too.
	if code, _ := op.get(s.base + "/console/board"); code != http.StatusForbidden {
		t.Fatalf("operator board: %d", code)
	}
	code, page = op.post(s.base+"/console/board/assign", url.Values{"csrf_token": {csrf}, "ids": {press.Id},
		"assignee": {"operator-statistics"}, "reason": {"mio"}})
	if c := getCase(t, s, press.Id); c.Assignee != "" || !strings.Contains(page, "Non consentito") {
		t.Fatalf("operator bulk assign: %d assignee %q\n%s", code, c.Assignee, page)
	}

	// Two people on one case: each sees the other.
	if code, _ := sup.get(s.base + "/console/cases/" + press.Id); code != http.StatusOK {
		t.Fatalf("supervisor opens the case: %d", code)
	}
	_, page = staffBrowser(t, s, "admin", "/console/cases/"+press.Id)
	contains(t, "collision notice", page, "Supervisore")
	// The open page's refresh (console.js) answers with the others.
	code, page = sup.post(s.base+"/console/cases/"+press.Id+"/viewing", url.Values{"csrf_token": {supCSRF}})
	if code != http.StatusOK || !strings.Contains(page, "Amministratore") || strings.Contains(page, "Supervisore") {
		t.Fatalf("viewing refresh: %d %q", code, page)
	}
}

// waitLine returns the next line from lines with this prefix, within 10 s.
func waitLine(t *testing.T, lines <-chan string, prefix string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended before %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %q line within 10 s", prefix)
		}
	}
}
