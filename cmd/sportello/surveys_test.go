package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite"  // database/sql driver "sqlite": reading the stored rows
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/channels/email/emailtest"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/storage/storetest"
)

var (
	surveyLinkRE = regexp.MustCompile(`(http://[^\s]+/survey/[A-Za-z0-9_-]{43})\s`)
	optOutLinkRE = regexp.MustCompile(`(http://[^\s]+/survey/opt-out/[A-Za-z0-9_-]{43})\s`)
)

// plainPost posts a form the way a browser without JavaScript does.
func plainPost(t *testing.T, c *http.Client, link string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(link, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func plainGet(t *testing.T, c *http.Client, link string) (int, string) {
	t.Helper()
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric reads one sample of the server's /metrics, 0 when absent.
func (s *testServer) metric(name string) float64 {
	r := s.get("/metrics", "")
	for _, line := range strings.Split(string(r.Body), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			var v float64
			_, _ = fmtSscan(rest, &v)
			return v
		}
	}
	return 0
}

func (s *testServer) resolve(caseID string) {
	s.t.Helper()
	if _, err := s.grpcCases().ChangeStatus(withToken(adminToken), &casesv1.ChangeStatusRequest{Id: caseID, Status: casesv1.Status_STATUS_RESOLVED}); err != nil {
		s.t.Fatalf("resolve: %v", err)
	}
}

// TestIntegrationSurveys: a resolved e-mail case invites its citizen by
// e-mail; the citizen answers with a plain HTTP client; the stored row is
// anonymous; the link works once; small groups are suppressed; the
// opt-out link stops further invitations.
func TestIntegrationSurveys(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		sink := emailtest.Start(t)
		cfg := mailConfig(t, b, sink)
		s := startServer(t, cfg)
		ctx := context.Background()
		if _, err := s.app.db.CreateRoutingRule(ctx, directory.Rule{Name: "posta dati comune", Position: 1, Department: "statistics",
			ToAddress: "dati@comune.example.it", Enabled: true}); err != nil {
			t.Fatal(err)
		}
		if err := mailTo(s.app.MailAddr(), "anna.verdi@example.it", "dati@comune.example.it", citizenRequest("survey-1@mail.example.it")); err != nil {
			t.Fatal(err)
		}
		c := s.waitForCases(1)[0]
		sentMessage(t, sink, 1) // the acknowledgement
		s.resolve(c.Id)

		// The invitation arrives by e-mail, in the case's thread.
		inv, raw := sentMessage(t, sink, 2)
		if raw.To[0] != "anna.verdi@example.it" || !strings.Contains(inv.FullText, c.Reference) {
			t.Fatalf("invitation to %v: %q", raw.To, inv.FullText)
		}
		m := surveyLinkRE.FindStringSubmatch(inv.FullText + "\n")
		o := optOutLinkRE.FindStringSubmatch(inv.FullText + "\n")
		if m == nil || o == nil {
			t.Fatalf("no survey or opt-out link in %q", inv.FullText)
		}
		link, optOut := m[1], o[1]

		// Redelivery is harmless: reopening and resolving again sends no
		// second invitation.
		if _, err := s.grpcCases().ChangeStatus(withToken(adminToken), &casesv1.ChangeStatusRequest{Id: c.Id, Status: casesv1.Status_STATUS_OPEN}); err != nil {
			t.Fatal(err)
		}
		s.resolve(c.Id)
		eventually(t, "the second resolution handled", func() bool {
			return s.metric(`sportello_survey_invitations_total{outcome="skipped_already_invited"}`) == 1
		})
		if n := len(sink.Messages()); n != 2 {
			t.Fatalf("%d messages sent, want 2", n)
		}

		// The citizen follows the link without logging in or JavaScript.
		browser := &http.Client{Timeout: 10 * time.Second}
		status, page := plainGet(t, browser, link)
		if status != http.StatusOK || !strings.Contains(page, "Quanto è stato facile usare questo servizio?") ||
			!strings.Contains(page, "<fieldset id=\"ease\"") || !strings.Contains(page, "<legend>") || !strings.Contains(page, `<label for="comment">`) {
			t.Fatalf("survey page: %d\n%s", status, page)
		}
		if status, page := plainGet(t, browser, link+"?lang=en"); status != http.StatusOK || !strings.Contains(page, "How easy was it to use this service?") {
			t.Fatalf("English page: %d", status)
		}
		// A form without the rating: the errors at the top, linked to the fields.
		status, page = plainPost(t, browser, link, url.Values{"version": {"1"}, "resolved": {"maybe"}})
		if status != http.StatusBadRequest || !strings.Contains(page, `href="#ease"`) || !strings.Contains(page, `href="#resolved"`) || !strings.Contains(page, `role="alert"`) {
			t.Fatalf("refused form: %d\n%s", status, page)
		}
		comment := "Gentili, rispondete a anna.verdi@example.it o al 333 123 4567; il mio codice fiscale è VRDNNA80A41H501X."
		form := url.Values{"version": {"1"}, "ease": {"2"}, "difficulty": {"technical_problems"}, "preferred": {"clear_instructions"},
			"comment": {comment}, "resolved": {"partly"}}
		status, page = plainPost(t, browser, link, form)
		if status != http.StatusOK || !strings.Contains(page, "Grazie") {
			t.Fatalf("answer: %d\n%s", status, page)
		}
		// The link works once; an unknown one gets the same clear page.
		for _, l := range []string{link, link[:len(link)-3] + "AAA", strings.TrimSuffix(link, link[len(link)-43:]) + "short"} {
			if status, page := plainPost(t, browser, l, form); status != http.StatusNotFound || !strings.Contains(page, "Link non valido") {
				t.Fatalf("POST %s: %d\n%s", l, status, page)
			}
			if status, page := plainGet(t, browser, l); status != http.StatusNotFound || !strings.Contains(page, "Link non valido") {
				t.Fatalf("GET %s: %d\n%s", l, status, page)
			}
		}

		// The stored row, read around the store: anonymous.
		dsn, driver := filepath.Join(cfg.DataDir, "sportello.db"), "sqlite"
		if b.Name == "postgres" {
			dsn, driver = cfg.Database.DSN, "pgx"
		}
		db, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var version, ease int
		var category, dept, channel, month, aspect, resolved, stored, id string
		err = db.QueryRow("SELECT CAST(id AS TEXT), questionnaire_version, category, department, channel, month, ease, aspect, resolved, comment FROM survey_responses").
			Scan(&id, &version, &category, &dept, &channel, &month, &ease, &aspect, &resolved, &stored)
		if err != nil {
			t.Fatal(err)
		}
		if version != 1 || dept != "statistics" || channel != "email" || month != time.Now().In(mustLoc(t, cfg.Timezone)).Format("2006-01") ||
			ease != 2 || aspect != "technical_problems" || resolved != "partly" {
			t.Fatalf("stored: v%d %q %q %q %q ease %d %q %q", version, category, dept, channel, month, ease, aspect, resolved)
		}
		if want := "Gentili, rispondete a [EMAIL] o al [PHONE]; il mio codice fiscale è [CF]."; stored != want {
			t.Fatalf("stored comment %q, want %q", stored, want)
		}
		row := strings.Join([]string{id, category, dept, channel, month, aspect, resolved, stored}, "|")
		for _, secret := range []string{c.Id, c.ContactId, c.Reference, link[len(link)-43:], "anna", "333"} {
			if strings.Contains(row, secret) {
				t.Fatalf("stored response %q holds %q", row, secret)
			}
		}
		if s.metric("sportello_survey_responses_total") != 1 {
			t.Fatal("responses metric not counted")
		}

		// Results: one response is below k = 10, so the cell is suppressed.
		r := s.get("/v1/survey-results?groupBy=department&groupBy=month", supToken)
		if r.Status != http.StatusOK {
			t.Fatalf("results: %d %s", r.Status, r.Body)
		}
		res := r.JSON(t)
		rows, _ := res["rows"].([]any)
		if len(rows) != 1 || res["minGroupSize"].(float64) != 10 {
			t.Fatalf("results = %s", r.Body)
		}
		cell := rows[0].(map[string]any)
		if cell["suppressed"] != true || cell["department"] != "statistics" || cell["responses"] != "0" || cell["administration"] != "sportello" {
			t.Fatalf("cell = %v", cell)
		}
		if r := s.get("/v1/survey-results", itToken); r.Status != http.StatusForbidden {
			t.Fatalf("operator reading results: %d", r.Status)
		}
		exp := s.get("/v1/survey-results:export?format=csv", adminToken)
		if exp.Status != http.StatusOK || !strings.HasPrefix(exp.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("export: %d %s %s", exp.Status, exp.Header.Get("Content-Type"), exp.Body)
		}
		recs, err := csv.NewReader(bytes.NewReader(exp.Body)).ReadAll()
		if err != nil || len(recs) != 2 || recs[0][0] != "administration" || recs[1][0] != "sportello" || recs[1][1] != "1" || recs[1][6] != "true" || recs[1][7] != "0" {
			t.Fatalf("export rows = %q, %v", recs, err)
		}

		// Opting out: the GET shows a button (mail scanners follow links),
		// the POST records it; the citizen's next resolved case is not surveyed.
		if status, page := plainGet(t, browser, optOut); status != http.StatusOK || !strings.Contains(page, "Non ricevere più questionari") {
			t.Fatalf("opt-out page: %d", status)
		}
		if status, _ := plainPost(t, browser, optOut, nil); status != http.StatusOK {
			t.Fatalf("opt-out: %d", status)
		}
		if out, err := s.app.db.SurveyOptedOut(ctx, c.ContactId); err != nil || !out {
			t.Fatalf("opted out = %v, %v", out, err)
		}
		if err := mailTo(s.app.MailAddr(), "anna.verdi@example.it", "dati@comune.example.it", strings.Replace(citizenRequest("survey-2@mail.example.it"),
			"Subject: Tavole sulla popolazione residente", "Subject: Altra richiesta", 1)); err != nil {
			t.Fatal(err)
		}
		var second *casesv1.Case
		eventually(t, "the second case", func() bool {
			for _, x := range s.allCases() {
				if x.Id != c.Id {
					second = x
				}
			}
			return second != nil
		})
		s.resolve(second.Id)
		eventually(t, "the opted-out resolution handled", func() bool {
			return s.metric(`sportello_survey_invitations_total{outcome="skipped_opted_out"}`) == 1
		})
		for _, msg := range sink.Messages() {
			if strings.Contains(string(msg.Data), "/survey/") && !strings.Contains(string(msg.Data), c.Reference) {
				t.Fatalf("an invitation went to a citizen who opted out")
			}
		}
	})
}

func mustLoc(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestIntegrationSurveyBanner: a signed-in citizen whose case was resolved
// sees the invitation on /account, answers it, and the banner goes.
func TestIntegrationSurveyBanner(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, storetest.Backends()[0]))
	s.submit(`{"name":"Mario Rossi","email":"mario.rossi@example.org","category":"microdata","subject":"Microdati del censimento","message":"Vorrei i microdati."}`)
	id := s.waitCase(t, "Microdati del censimento")
	s.resolve(id)
	c, err := s.grpcCases().GetCase(withToken(adminToken), &casesv1.GetCaseRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the invitation", func() bool {
		return s.metric(`sportello_survey_invitations_total{outcome="sent"}`) == 1
	})

	b := newBrowser(t, s.base)
	_, page := b.get(s.base + "/spid/login?provider=dev")
	code, page := b.pick(page, "citizen-mario")
	if code != 200 || !strings.Contains(page, "valuta il servizio ("+c.Reference+")") {
		t.Fatalf("account page without the banner: %d\n%s", code, page)
	}
	link := regexp.MustCompile(`href="(/survey/[A-Za-z0-9_-]{43})\?lang=it"`).FindStringSubmatch(page)
	if link == nil {
		t.Fatalf("no survey link in\n%s", page)
	}
	// The survey itself needs no session: a plain client answers it.
	if code, page := plainPost(t, http.DefaultClient, s.base+link[1], url.Values{"ease": {"5"}, "preferred": {"clear_instructions"}}); code != 200 || !strings.Contains(page, "Grazie") {
		t.Fatalf("answer: %d\n%s", code, page)
	}
	if code, page = b.get(s.base + "/account"); code != 200 || strings.Contains(page, "valuta il servizio") {
		t.Fatalf("banner still shown: %d\n%s", code, page)
	}
}
