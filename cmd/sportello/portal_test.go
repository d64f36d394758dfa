package main

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sportello/sportello/services/storage/storetest"
)

var (
	referenceRE = regexp.MustCompile(`id="reference"[^>]*>(\d{4}-\d{6})<`)
	receiptRE   = regexp.MustCompile(`/request/receipt/([0-9a-f-]{36})`)
)

// postHTML posts a form as a browser without JavaScript does (it accepts
// HTML), and follows no redirect.
func (b *browser) postHTML(u, contentType string, body []byte) (int, http.Header, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	req.Header.Set("Origin", b.origin)
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(out)
}

// TestIntegrationPortalWithoutJS walks the citizen portal as a browser
// with JavaScript off (a plain HTTP client): the request in steps with
// errors listed at the top, back and forward, the confirmation with the
// case reference; then SPID login, the citizen's requests, one case's
// thread, a reply with a file; another citizen's case is not found.
func TestIntegrationPortalWithoutJS(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, storetest.Backends()[0]))
	b := newBrowser(t, s.base)

	code, home := b.get(s.base + "/")
	for _, want := range []string{"Entra con SPID", "Entra con CIE", "/spid/login?provider=dev", "Tempo di risposta previsto", "entro 2 giorni lavorativi",
		`action="/request/review?lang=it"`, `aria-current="step"`, "/static/bootstrap-italia/dist/css/bootstrap-italia.min.css?v="} {
		contains(t, "home", home, want)
	}
	if code != 200 {
		t.Fatalf("home: %d", code)
	}

	// Step 1 with mistakes: every error at the top, linked to its field.
	bad := url.Values{"name": {"Mario Rossi"}, "email": {"mario at example"}, "subject": {"<b>Tari</b>"}, "message": {""}}
	code, _, page := b.postHTML(s.base+"/request/review?lang=it", formType, []byte(bad.Encode()))
	if code != http.StatusBadRequest {
		t.Fatalf("review with errors: %d", code)
	}
	for _, want := range []string{`role="alert"`, `href="#f-email"`, `href="#f-message"`, `href="#f-privacy"`, `aria-invalid="true"`, "&lt;b&gt;Tari&lt;/b&gt;"} {
		contains(t, "errors", page, want)
	}

	// Step 2: the summary, with the declaration and the data to send.
	good := url.Values{"name": {"Mario Rossi"}, "email": {"mario.rossi@example.org"}, "category": {"library"},
		"subject": {"Prestito interbibliotecario"}, "message": {"Vorrei un libro\nda un'altra biblioteca."}, "privacy": {"yes"}}
	code, _, page = b.postHTML(s.base+"/request/review?lang=it", formType, []byte(good.Encode()))
	if code != 200 {
		t.Fatalf("review: %d\n%s", code, page)
	}
	for _, want := range []string{"hanno valore di dichiarazione", "Biblioteca", `name="subject" value="Prestito interbibliotecario"`,
		`action="/v1/channels/webform/submissions?lang=it"`, `formaction="/request/edit?lang=it"`} {
		contains(t, "summary", page, want)
	}
	// Back to step 1 keeps the data.
	code, _, page = b.postHTML(s.base+"/request/edit?lang=it", formType, []byte(good.Encode()))
	if code != 200 {
		t.Fatalf("edit: %d", code)
	}
	contains(t, "back to the form", page, `value="Prestito interbibliotecario"`)

	// Step 3: sent through the web-form channel; the confirmation names the
	// case as soon as intake has opened it.
	good.Del("privacy")
	code, _, page = b.postHTML(s.base+webformPath+"?lang=it", formType, []byte(good.Encode()))
	if code != http.StatusAccepted {
		t.Fatalf("submit: %d\n%s", code, page)
	}
	ref := ""
	eventually(t, "the case reference on the confirmation", func() bool {
		if m := referenceRE.FindStringSubmatch(page); m != nil {
			ref = m[1]
			return true
		}
		m := receiptRE.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("confirmation without a reference or a receipt link:\n%s", page)
		}
		_, page = b.get(s.base + "/request/receipt/" + m[1])
		return false
	})
	contains(t, "confirmation", page, "Cosa succede adesso")
	if c, _ := b.get(s.base + "/request/receipt/00000000-0000-7000-8000-000000000000"); c != 200 {
		t.Fatalf("unknown receipt: %d", c)
	}

	// Another citizen's request.
	s.submit(`{"name":"Giuseppe Verdi","email":"giuseppe.verdi@example.org","subject":"Richiesta di Giuseppe","message":"Altro."}`)
	other := s.waitCase(t, "Richiesta di Giuseppe")

	// SPID login: the citizen's requests, then one case.
	_, page = b.get(s.base + "/spid/login?provider=dev")
	code, page = b.pick(page, "citizen-mario")
	if code != 200 || !strings.Contains(page, ref) || strings.Contains(page, "Richiesta di Giuseppe") {
		t.Fatalf("my requests: %d\n%s", code, page)
	}
	caseURL := regexp.MustCompile(`href="(/account/cases/[0-9a-f-]{36})">` + ref).FindStringSubmatch(page)
	if caseURL == nil {
		t.Fatalf("no link to %s:\n%s", ref, page)
	}
	code, page = b.get(s.base + caseURL[1])
	if code != 200 {
		t.Fatalf("case page: %d", code)
	}
	contains(t, "case page", page, "da un&#39;altra biblioteca.")
	csrf := csrfOf(t, page)
	if c, _ := b.get(s.base + "/account/cases/" + other); c != http.StatusNotFound {
		t.Fatalf("another citizen's case: %d", c)
	}

	// A reply with a file, multipart as a browser sends it.
	reply := func(token, text, fileName, content string) (int, http.Header, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("csrf_token", token)
		_ = mw.WriteField("body", text)
		if fileName != "" {
			fw, _ := mw.CreateFormFile("file", fileName)
			_, _ = fw.Write([]byte(content))
		}
		_ = mw.Close()
		return b.postHTML(s.base+caseURL[1]+"/messages?lang=it", mw.FormDataContentType(), buf.Bytes())
	}
	if c, _, _ := reply("wrong", "Ciao", "", ""); c != http.StatusForbidden {
		t.Fatalf("reply without the CSRF token: %d", c)
	}
	if c, _, p := reply(csrf, "", "", ""); c != http.StatusBadRequest || !strings.Contains(p, `href="#f-body"`) {
		t.Fatalf("empty reply: %d\n%s", c, p)
	}
	code, hdr, _ := reply(csrf, "Ecco la tessera.", "tessera.txt", "Tessera n. 42\n")
	if code != http.StatusSeeOther {
		t.Fatalf("reply: %d", code)
	}
	_, page = b.get(s.base + hdr.Get("Location"))
	for _, want := range []string{"Messaggio inviato.", "Ecco la tessera.", "tessera.txt"} {
		contains(t, "case after the reply", page, want)
	}
	if c, _, _ := b.postHTML(s.base+"/account/cases/"+other+"/messages", formType, []byte(url.Values{"csrf_token": {csrf}, "body": {"x"}}.Encode())); c != http.StatusNotFound {
		t.Fatalf("reply on another citizen's case: %d", c)
	}

	// A draft: saved, offered again (to this citizen only) until the
	// request is sent.
	_, page = b.get(s.base + "/")
	contains(t, "signed-in home", page, "Salva bozza")
	contains(t, "signed-in home", page, `value="mario.rossi@example.org" readonly`)
	draft := url.Values{"csrf_token": {csrfOf(t, page)}, "name": {"Mario Rossi"}, "email": {"mario.rossi@example.org"},
		"category": {"library"}, "subject": {"Bozza di prova"}, "message": {"Da finire"}}
	code, hdr, _ = b.postHTML(s.base+"/request/draft?lang=it", formType, []byte(draft.Encode()))
	if code != http.StatusSeeOther || hdr.Get("Location") != "/?draft=saved" {
		t.Fatalf("save draft: %d %s", code, hdr.Get("Location"))
	}
	_, page = b.get(s.base + "/?draft=saved")
	for _, want := range []string{"Bozza salvata", `value="Bozza di prova"`, `<option value="library" selected>`} {
		contains(t, "home with the draft", page, want)
	}
	if _, p := newBrowser(t, s.base).get(s.base + "/"); strings.Contains(p, "Bozza di prova") {
		t.Fatal("the draft is shown to an anonymous visitor")
	}
	if c, _, _ := newBrowser(t, s.base).postHTML(s.base+"/request/draft", formType, []byte(draft.Encode())); c != http.StatusSeeOther {
		t.Fatalf("anonymous draft: %d", c)
	}
	draft.Del("csrf_token")
	if code, _, page = b.postHTML(s.base+webformPath+"?lang=it", formType, []byte(draft.Encode())); code != http.StatusAccepted {
		t.Fatalf("send the draft: %d\n%s", code, page)
	}
	if _, page = b.get(s.base + "/"); strings.Contains(page, "Bozza di prova") {
		t.Fatal("the draft outlives the request sent")
	}

	// The language chosen holds, by cookie.
	b.get(s.base + "/?lang=en")
	_, page = b.get(s.base + "/account")
	contains(t, "English by cookie", page, `<html lang="en">`)
}
