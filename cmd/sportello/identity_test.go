package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sportello/sportello/auth/devidp"
	"github.com/sportello/sportello/services/storage/storetest"
)

// browser is an HTTP client with cookies, as a user's browser: it follows
// redirects and sends Origin on POSTs like one.
type browser struct {
	t      *testing.T
	c      *http.Client
	origin string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar}, origin: base}
}

func (b *browser) get(u string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *browser) post(u string, form url.Values) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", formType)
	req.Header.Set("Origin", b.origin)
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var (
	hiddenRE = regexp.MustCompile(`name="(request_id|form_token|csrf_token)" value="([^"]*)"`)
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// pick chooses identity on the development OP's picker page.
func (b *browser) pick(page, identity string) (int, string) {
	b.t.Helper()
	form := url.Values{"identity": {identity}}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], m[2])
	}
	a := actionRE.FindStringSubmatch(page)
	if a == nil || form.Get("request_id") == "" {
		b.t.Fatalf("no identity picker in:\n%s", page)
	}
	action := strings.ReplaceAll(a[1], "&amp;", "&")
	if strings.HasPrefix(action, "/") {
		action = b.origin + action
	}
	return b.post(action, form)
}

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		if m[1] == "csrf_token" {
			return m[2]
		}
	}
	t.Fatalf("no csrf_token in:\n%s", page)
	return ""
}

// TestIntegrationCitizenLogin: a citizen who wrote by web form signs in
// with SPID (the development OP, through the real relying party), sees
// that request among their own, and signs out; the signed-out cookie is
// worthless.
func TestIntegrationCitizenLogin(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, storetest.Backends()[0]))
	s.submit(`{"name":"Mario Rossi","email":"mario.rossi@example.org","category":"microdata","subject":"Microdati del censimento","message":"Vorrei i microdati."}`)
	s.submit(`{"name":"Giuseppe Verdi","email":"giuseppe.verdi@example.org","category":"microdata","subject":"Richiesta di Giuseppe","message":"Altro."}`)
	s.waitCase(t, "Microdati del censimento")
	s.waitCase(t, "Richiesta di Giuseppe")

	b := newBrowser(t, s.base)
	code, page := b.get(s.base + "/account")
	if code != 200 || !strings.Contains(page, "/spid/login?provider=dev") {
		t.Fatalf("account page without a session: %d\n%s", code, page)
	}
	code, page = b.get(s.base + "/spid/login?provider=dev")
	if code != 200 || !strings.Contains(page, "RSSMRA80A01H501U") || strings.Contains(page, "operator-statistics") {
		t.Fatalf("picker: %d\n%s", code, page)
	}
	code, page = b.pick(page, "citizen-mario")
	if code != 200 || !strings.Contains(page, "Le mie richieste") || !strings.Contains(page, "Microdati del censimento") {
		t.Fatalf("after login: %d\n%s", code, page)
	}
	if strings.Contains(page, "Richiesta di Giuseppe") {
		t.Fatal("a citizen sees another citizen's request")
	}
	var cookie *http.Cookie
	u, _ := url.Parse(s.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "sportello_session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}

	// Logout needs the form's CSRF token.
	if code, _ := b.post(s.base+logoutPath, url.Values{}); code != http.StatusForbidden {
		t.Fatalf("logout without CSRF token: %d", code)
	}
	if code, page = b.post(s.base+logoutPath, url.Values{"csrf_token": {csrfOf(t, page)}}); code != 200 {
		t.Fatalf("logout: %d\n%s", code, page)
	}
	code, page = b.get(s.base + "/account")
	if code != 200 || strings.Contains(page, "Le mie richieste") {
		t.Fatalf("after logout: %d\n%s", code, page)
	}
	// The old cookie replayed: anonymous, on the page and on the API.
	req, _ := http.NewRequest(http.MethodGet, s.base+"/account", nil)
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "Le mie richieste") {
		t.Fatal("a revoked session cookie still works")
	}
	if r := s.get("/v1/cases", cookie.Value); r.Status != http.StatusUnauthorized {
		t.Fatalf("revoked session as bearer: %d %s", r.Status, r.Body)
	}

	// CIE: the other button, the same relying party; Giuseppe sees his.
	if !strings.Contains(page, "Entra con CIE") || !strings.Contains(page, "/spid/login?provider=dev-cie") {
		t.Fatalf("no CIE button:\n%s", page)
	}
	code, page = b.get(s.base + "/spid/login?provider=dev-cie")
	if code != 200 {
		t.Fatalf("CIE picker: %d\n%s", code, page)
	}
	code, page = b.pick(page, "citizen-giuseppe")
	if code != 200 || !strings.Contains(page, "Richiesta di Giuseppe") || strings.Contains(page, "Microdati del censimento") {
		t.Fatalf("after CIE login: %d\n%s", code, page)
	}
}

// TestIntegrationStaffLogin: an operator signs in through the staff SSO
// (the development OP as the administration's IdP); the directory learns
// them with the departments their groups give.
func TestIntegrationStaffLogin(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, storetest.Backends()[0]))
	b := newBrowser(t, s.base)
	code, page := b.get(s.base + staffLoginPath + "?return_to=/account")
	if code != 200 || !strings.Contains(page, "operator-statistics") || strings.Contains(page, "RSSMRA80A01H501U") {
		t.Fatalf("staff picker: %d\n%s", code, page)
	}
	code, page = b.pick(page, "operator-statistics")
	if code != 200 || !strings.Contains(page, "operatore") || !strings.Contains(page, "statistics") {
		t.Fatalf("after staff login: %d\n%s", code, page)
	}
	op, err := s.app.db.GetOperator(t.Context(), "operator-statistics")
	if err != nil || op.Role != "operator" || !slices.Equal(op.Departments, []string{"statistics"}) {
		t.Fatalf("provisioned operator = %+v, %v", op, err)
	}
	// A replayed callback (same state) is refused.
	if code, _ := b.get(s.base + staffCallbackPath + "?state=forged&code=x"); code != http.StatusBadRequest {
		t.Fatalf("forged callback: %d", code)
	}
}

// TestDevToken: `sportello dev-token --as` prints a token the running
// server accepts, with the identity's role.
func TestDevToken(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, storetest.Backends()[0])
	s := startServer(t, cfg)
	token := func(as string) (string, int, string) {
		var out, errb bytes.Buffer
		code := run([]string{"dev-token", "--data-dir", cfg.DataDir, "--as", as}, &out, &errb, func(string) string { return "" })
		return strings.TrimSpace(out.String()), code, errb.String()
	}
	tok, code, msg := token("operator-it")
	if code != 0 {
		t.Fatalf("dev-token: %d %s", code, msg)
	}
	if r := s.get("/v1/cases", tok); r.Status != 200 {
		t.Fatalf("operator token: %d %s", r.Status, r.Body)
	}
	if r := s.get("/v1/access-log", tok); r.Status != http.StatusForbidden {
		t.Fatalf("operator reads the access log: %d", r.Status)
	}
	adm, _, _ := token("admin")
	if r := s.get("/v1/access-log", adm); r.Status != 200 {
		t.Fatalf("admin token: %d %s", r.Status, r.Body)
	}
	if _, code, msg := token("nobody"); code == 0 || !strings.Contains(msg, "citizen-mario") {
		t.Fatalf("unknown identity: %d %s", code, msg)
	}
}

// TestDevIdPRefusedInProduction: the development OP does not run beside
// PostgreSQL or a real identity provider.
func TestDevIdPRefusedInProduction(t *testing.T) {
	t.Parallel()
	on := true
	for name, mod := range map[string]func(*Config){
		"postgres": func(c *Config) { c.Database.DSN = "postgres://sportello@db.example/sportello" },
		"real issuer": func(c *Config) {
			c.Auth.StaffSSO.Issuer = "https://login.comune.example/realms/staff"
		},
	} {
		cfg := defaults()
		cfg.Auth.DevIdP = &on
		mod(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "dev_idp") {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
	if err := devidp.CheckEmbedded(""); err != nil {
		t.Fatal(err)
	}
	cfg := defaults()
	cfg.Database.DSN = "postgres://sportello@db.example/sportello"
	if cfg.devIdPOn() {
		t.Error("the development OP is on by default with PostgreSQL")
	}
}

// TestStaffReadsAreLogged: each staff read of a case lands in the access
// log, which admins query and verify; citizens' reads of their own cases
// do not.
func TestStaffReadsAreLogged(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, storetest.Backends()[0]))
	s.submit(defaultSubmit)
	id := s.waitCase(t, "Microdati del censimento")
	if r := s.get("/v1/cases/"+id, supToken); r.Status != 200 {
		t.Fatalf("get: %d", r.Status)
	}
	if r := s.get("/v1/cases/"+id+"/messages", supToken); r.Status != 200 {
		t.Fatalf("messages: %d", r.Status)
	}
	log := s.get("/v1/access-log?caseId="+id, adminToken).JSON(t)
	var actions []string
	for _, e := range log["entries"].([]any) {
		m := e.(map[string]any)
		if m["actor"] != "token:supervisor" {
			t.Errorf("entry actor = %v", m["actor"])
		}
		actions = append(actions, m["action"].(string))
	}
	if !slices.Equal(actions, []string{"case.messages", "case.read"}) {
		t.Fatalf("access log actions = %v (%s)", actions, log)
	}
	v := s.do(http.MethodPost, "/v1/access-log:verify", jsonType, []byte(`{}`), map[string]string{"Authorization": "Bearer " + adminToken})
	var got map[string]any
	_ = json.Unmarshal(v.Body, &got)
	if v.Status != 200 || got["intact"] != true {
		t.Fatalf("verify: %d %s", v.Status, v.Body)
	}
}

// waitCase waits for the case with this subject and returns its id.
func (s *testServer) waitCase(t *testing.T, subject string) string {
	t.Helper()
	var id string
	eventually(t, "the case "+subject, func() bool {
		for _, c := range s.allCases() {
			if c.GetSubject() == subject {
				id = c.GetId()
				return true
			}
		}
		return false
	})
	return id
}
