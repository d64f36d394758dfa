package spid

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNewRefuses(t *testing.T) {
	keys := rpKeys(t)
	cfg := Config{ClientID: "https://rp.example.it", Keys: keys, Providers: []Provider{{Name: "x", Issuer: "https://op.example.it"}}}
	ok := (&recorder{}).deps()
	for _, tc := range []struct {
		name string
		cfg  func(Config) Config
		deps func(Deps) Deps
		want string
	}{
		{"invalid config", func(c Config) Config { c.Providers = nil; return c }, nil, "at least one OP"},
		{"no OnLogin", nil, func(d Deps) Deps { d.OnLogin = nil; return d }, "OnLogin is required"},
		{"one key for two uses", func(c Config) Config { c.Keys.Encryption = c.Keys.Signing; return c }, nil, "three different keys"},
		{"missing key file", func(c Config) Config { c.Keys.Federation = "/nonexistent.pem"; return c }, nil, "spid.keys.federation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, d := cfg, ok
			if tc.cfg != nil {
				c = tc.cfg(c)
			}
			if tc.deps != nil {
				d = tc.deps(d)
			}
			if _, err := New(c, d); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestLoginStart covers the redirect's side effects and its failures
// before any OP is involved.
func TestLoginStart(t *testing.T) {
	// An OP whose discovery document names another issuer.
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "https://evil.example.org", "authorization_endpoint": "https://evil.example.org/auth"})
	}))
	defer liar.Close()
	cfg := Config{
		ClientID: "https://sportello.example.it", Keys: rpKeys(t),
		Providers: []Provider{
			{Name: "liar", Issuer: liar.URL},
			{Name: "fixed", Issuer: "https://op.example.it", AuthorizationEndpoint: "https://op.example.it/auth?tenant=1",
				TokenEndpoint: "https://op.example.it/token", UserinfoEndpoint: "https://op.example.it/userinfo",
				RevocationEndpoint: "https://op.example.it/revoke", JWKSURI: "https://op.example.it/jwks"},
		},
	}
	rec := &recorder{}
	deps := rec.deps()
	deps.Store = NewMemoryStore(1)
	rp, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	rp.Mount(mux)
	do := func(target string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		return w
	}

	w := do(rp.LoginURL("fixed"))
	if w.Code != http.StatusFound || !strings.HasPrefix(w.Header().Get("Location"), "https://op.example.it/auth?") ||
		!strings.Contains(w.Header().Get("Location"), "tenant=1") || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %s", w.Code, w.Header().Get("Location"))
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || !cookies[0].Secure || cookies[0].SameSite != http.SameSiteLaxMode ||
		cookies[0].Path != "/spid/callback" || cookies[0].MaxAge != 600 || !strings.HasPrefix(cookies[0].Name, "spid_") {
		t.Errorf("binding cookie %+v", cookies)
	}

	for _, tc := range []struct {
		target   string
		status   int
		sentinel error
	}{
		{rp.LoginURL("nobody"), http.StatusBadRequest, ErrUnknownProvider},
		{rp.LoginURL("liar"), http.StatusBadGateway, ErrOP},
		{rp.LoginURL("fixed"), http.StatusServiceUnavailable, ErrTooManyAttempts}, // the store holds one
		{"/spid/callback", http.StatusBadRequest, ErrInvalidResponse},
	} {
		if w := do(tc.target); w.Code != tc.status || !errors.Is(rec.lastErr(), tc.sentinel) {
			t.Errorf("%s: %d %v, want %d %v", tc.target, w.Code, rec.lastErr(), tc.status, tc.sentinel)
		}
	}
	if !strings.Contains(rec.lastErr().Error(), "no state") {
		t.Errorf("callback without state: %v", rec.lastErr())
	}
	if err := rec.errs[1]; !strings.Contains(err.Error(), `issuer "https://evil.example.org"`) {
		t.Errorf("discovery with another issuer: %v", err)
	}
	if got := rp.Providers(); len(got) != 2 || got[0] != "liar" {
		t.Errorf("Providers %v", got)
	}
	if n := len(rp.Handlers()); n != 4 {
		t.Errorf("%d handlers", n)
	}
}
