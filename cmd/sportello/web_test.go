package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sportello/sportello/services/storage/storetest"
)

// TestIntegrationBrowserForm posts the home page's form as a browser does:
// HTML in, HTML out, in Italian unless English is asked for.
func TestIntegrationBrowserForm(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, storetest.Backend{Name: "sqlite"}))
	browser := map[string]string{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}

	home := s.do("GET", "/", "", nil, nil)
	if home.Status != 200 || !strings.Contains(home.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("home: %d %s", home.Status, home.Header.Get("Content-Type"))
	}
	for _, want := range []string{`<html lang="it">`, `action="/request/review?lang=it"`, `<option value="microdata"`, "File di microdati", `for="f-email"`} {
		contains(t, "home page", string(home.Body), want)
	}
	if en := s.do("GET", "/?lang=en", "", nil, nil); !strings.Contains(string(en.Body), "Send a request") {
		t.Fatal("English home page not served")
	}

	bad := url.Values{"name": {"Maria"}, "email": {"maria at example"}, "subject": {"<script>alert(1)</script>"}, "message": {""}}
	r := s.do("POST", webformPath, formType, []byte(bad.Encode()), browser)
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("invalid form: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	body := string(r.Body)
	for _, want := range []string{`role="alert"`, `href="#f-email"`, "non è un indirizzo e-mail valido", `href="#f-message"`, "è obbligatorio",
		`value="Maria"`, "&lt;script&gt;"} {
		contains(t, "error page", body, want)
	}
	if strings.Contains(body, "<script>alert") {
		t.Fatal("submitted text rendered unescaped")
	}

	good := url.Values{"name": {"Maria Rossi"}, "email": {"maria@example.it"}, "category": {"library"}, "subject": {"Prestito"}, "message": {"Vorrei un libro."}}
	r = s.do("POST", webformPath, formType, []byte(good.Encode()), browser)
	if r.Status != http.StatusAccepted {
		t.Fatalf("valid form: %d %s", r.Status, r.Body)
	}
	contains(t, "confirmation", string(r.Body), "Richiesta ricevuta")
	// A language chosen on the page holds on the page that answers the post.
	r = s.do("POST", webformPath+"?lang=en", formType, []byte(bad.Encode()), browser)
	contains(t, "English error page", string(r.Body), "is not a valid e-mail address")
	if c := s.waitForCases(1); c[0].Department != "communication" {
		t.Fatalf("case = %v", c[0])
	}
}
