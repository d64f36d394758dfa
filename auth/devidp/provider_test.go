package devidp

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// TestMintAccessToken: a token minted by another process from the same
// key file verifies against the running provider's JWKS, and its
// userinfo works.
func TestMintAccessToken(t *testing.T) {
	dir := t.TempDir()
	var cfg Config
	s := startOP(t, func(c *Config) {
		c.KeyFile = filepath.Join(dir, "devidp", "key.pem")
		cfg = *c
	})
	cfg.Now = nil // as a separate process would have it
	ctx := oidc.ClientContext(context.Background(), s.srv.Client())
	provider, err := oidc.NewProvider(ctx, s.issuer)
	if err != nil {
		t.Fatal(err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: DefaultAudience})
	for _, tc := range []struct {
		id    string
		check func(t *testing.T, c map[string]any)
	}{
		{"admin", func(t *testing.T, c map[string]any) {
			if g, _ := c["groups"].([]any); len(g) != 1 || g[0] != GroupAdmin || c["preferred_username"] != "admin" {
				t.Errorf("claims %v", c)
			}
		}},
		{"citizen-mario", func(t *testing.T, c map[string]any) {
			if c["https://attributes.eid.gov.it/fiscal_number"] != "TINIT-RSSMRA80A01H501U" || c["groups"] != nil {
				t.Errorf("claims %v", c)
			}
		}},
	} {
		t.Run(tc.id, func(t *testing.T) {
			raw, err := MintAccessToken(cfg, tc.id, 5*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := verifier.Verify(ctx, raw)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if h := jwtHeader(t, raw); h["typ"] != "at+jwt" {
				t.Errorf("header %v", h)
			}
			var c map[string]any
			_ = tok.Claims(&c)
			if c["client_id"] != DevTokenClientID || tok.Subject != tc.id || time.Until(tok.Expiry) > 5*time.Minute {
				t.Errorf("claims %v expiry %s", c, tok.Expiry)
			}
			tc.check(t, c)
			req, _ := http.NewRequest(http.MethodGet, s.issuer+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+raw)
			if resp, body := do(t, s.srv.Client(), req); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"sub":"`+tc.id+`"`) {
				t.Errorf("userinfo %d %s", resp.StatusCode, body)
			}
		})
	}

	t.Run("unknown identity", func(t *testing.T) {
		_, err := MintAccessToken(cfg, "root", 0)
		if err == nil || !strings.Contains(err.Error(), "citizen-mario, citizen-giuseppe") {
			t.Errorf("error %v: want the list of identities", err)
		}
	})
	t.Run("no key file yet", func(t *testing.T) {
		c := cfg
		c.KeyFile = filepath.Join(t.TempDir(), "none.pem")
		if _, err := MintAccessToken(c, "admin", 0); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v", err)
		}
		if _, err := os.Stat(c.KeyFile); err == nil {
			t.Error("MintAccessToken created a key the server would not know")
		}
	})
	t.Run("another key is refused", func(t *testing.T) {
		c := cfg
		c.KeyFile = keyFile(t)
		raw, err := MintAccessToken(c, "admin", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verifier.Verify(ctx, raw); err == nil {
			t.Error("a token signed with another key verified")
		}
	})
}

// TestKeyFile: created 0600 once, the same key after a restart and for
// processes starting at the same time.
func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "key.pem")
	var wg sync.WaitGroup
	kids := make([]string, 4)
	errs := make([]error, 4)
	for i := range kids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := loadOrCreateKey(path)
			kids[i], errs[i] = k.kid, err
		}()
	}
	wg.Wait()
	for i := range kids {
		if errs[i] != nil || kids[i] != kids[0] {
			t.Fatalf("start %d: kid %q err %v; first %q", i, kids[i], errs[i], kids[0])
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	k, err := loadOrCreateKey(path)
	if err != nil || k.kid != kids[0] {
		t.Errorf("after restart kid %q err %v", k.kid, err)
	}
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := loadOrCreateKey(path); err == nil {
		t.Error("a garbage key file was accepted")
	} else if time.Since(start) > 10*time.Second {
		t.Errorf("gave up after %s", time.Since(start))
	}
}

func TestCheckEmbedded(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dsn     string
		issuers []string
		bad     string // fragment of the error; "" means allowed
	}{
		{name: "embedded SQLite", dsn: "file:data/sportello.db?_pragma=foreign_keys(1)"},
		{name: "empty DSN", dsn: ""},
		{name: "dev OP issuer", dsn: "data/sportello.db", issuers: []string{"http://127.0.0.1:8080/dev-idp", "http://localhost:8080/dev-idp", "http://[::1]:8080/dev-idp", ""}},
		{name: "postgres URL", dsn: "postgres://app:app@db:5432/sportello", bad: "PostgreSQL"},
		{name: "postgresql URL", dsn: "PostgreSQL://app@127.0.0.1/sportello", bad: "PostgreSQL"},
		{name: "key/value DSN", dsn: "host=127.0.0.1 port=5432 user=app dbname=sportello", bad: "PostgreSQL"},
		{name: "production issuer", dsn: "data/sportello.db", issuers: []string{"http://127.0.0.1:8080/dev-idp", "https://login.comune.example.it/realms/staff"}, bad: "login.comune.example.it"},
		{name: "SPID OP", issuers: []string{"https://identity.infocert.it"}, bad: "not on loopback"},
		{name: "loopback lookalike", issuers: []string{"http://127.0.0.1.evil.example.org/dev-idp"}, bad: "not on loopback"},
		{name: "not a URL", issuers: []string{"127.0.0.1:8080"}, bad: "not on loopback"},
		{name: "both", dsn: "postgres://x", issuers: []string{"https://sso.example.org"}, bad: "sso.example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckEmbedded(tc.dsn, tc.issuers...)
			if tc.bad == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("error %v, want one mentioning %q", err, tc.bad)
			}
		})
	}
}

func TestDefaultIdentities(t *testing.T) {
	ids := DefaultIdentities([]string{"statistics", "it"})
	if second := DefaultIdentities([]string{"communication", "it"}); second[4].ID != "operator-communication-2" {
		t.Errorf("without statistics the second operator is %s, want operator-communication-2", second[4].ID)
	}
	var names []string
	for _, id := range ids {
		names = append(names, id.ID)
		if id.Kind == Citizen {
			if err := CheckFiscalCode(id.FiscalNumber); err != nil {
				t.Error(err)
			}
		}
	}
	if want := []string{"citizen-mario", "citizen-giuseppe", "operator-statistics", "operator-it", "operator-statistics-2", "supervisor", "admin"}; !slices.Equal(names, want) {
		t.Errorf("identities %v, want %v", names, want)
	}
	if g := ids[2].Groups; !slices.Equal(g, []string{GroupOperator, "sportello:dept:statistics"}) {
		t.Errorf("operator groups %v", g)
	}
	if g := ids[4].Groups; !slices.Equal(g, []string{GroupOperator, "sportello:dept:statistics"}) {
		t.Errorf("second operator groups %v", g)
	}
	if g := ids[5].Groups; !slices.Equal(g, []string{GroupSupervisor, "sportello:dept:statistics", "sportello:dept:it"}) {
		t.Errorf("supervisor groups %v", g)
	}
	cfg := Config{Issuer: "http://127.0.0.1:1/dev-idp", KeyFile: "x", Identities: ids}
	if err := cfg.withDefaults().validate(); err != nil {
		t.Error(err)
	}
}

func TestCheckFiscalCode(t *testing.T) {
	for cf, ok := range map[string]bool{
		"RSSMRA80A01H501U": true,
		"VRDGPP75E15F205W": true,
		"BNCLRA85M41L219R": true,
		"RSSMRA80A01H50MM": true,  // omocodia: 1 → M in the last digit, check recomputed
		"RSSMRA80A01H501A": false, // wrong check character
		"VRDGPP75E15F205X": false,
		"rssmra80a01h501u": false,
		"RSSMRA80A01H501":  false,
		"12345678901":      false, // provisional codes are not for test citizens
		"":                 false,
	} {
		if err := CheckFiscalCode(cf); (err == nil) != ok {
			t.Errorf("CheckFiscalCode(%q) = %v, want ok=%v", cf, err, ok)
		}
	}
}

// TestNewRefuses: a configuration that would make the OP unsafe or
// broken is refused, with every problem reported.
func TestNewRefuses(t *testing.T) {
	rc := newSPIDClient(t)
	noEnc := rc.client()
	noEnc.JWKS = &jose.JSONWebKeySet{Keys: noEnc.JWKS.Keys[:1]}
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"public issuer", func(c *Config) { c.Issuer = "https://login.example.org/dev-idp" }, "loopback only"},
		{"issuer with query", func(c *Config) { c.Issuer = "http://127.0.0.1:1/dev-idp?x=1" }, "without query"},
		{"issuer path with pattern characters", func(c *Config) { c.Issuer = "http://127.0.0.1:1/{x}" }, "path may hold"},
		{"no key file", func(c *Config) { c.KeyFile = "" }, "key file"},
		{"bad fiscal code", func(c *Config) { c.Identities[0].FiscalNumber = "RSSMRA80A01H501A" }, "check character"},
		{"duplicate identity", func(c *Config) { c.Identities[1].ID = c.Identities[0].ID }, "used twice"},
		{"no kind", func(c *Config) { c.Identities[2].Kind = 0 }, "kind must be"},
		{"groups claim overwrites sub", func(c *Config) { c.GroupsClaim = "sub" }, "standard claim"},
		{"SPID client without encryption key", func(c *Config) { c.Clients = []Client{noEnc} }, "encryption key"},
		{"SPID client with a secret", func(c *Config) { cl := rc.client(); cl.Secret = "x"; c.Clients = []Client{cl} }, "private_key_jwt"},
		{"client without redirect URI", func(c *Config) { c.Clients = []Client{{ID: "s", Profile: ProfileStaff}} }, "redirect URI"},
		{"redirect URI with fragment", func(c *Config) {
			c.Clients = []Client{{ID: "s", Profile: ProfileStaff, RedirectURIs: []string{"http://127.0.0.1/cb#x"}}}
		}, "without fragment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Issuer: "http://127.0.0.1:1/dev-idp", KeyFile: keyFile(t), Identities: DefaultIdentities([]string{"it"})}
			tc.edit(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

// TestDiscovery: the document go-oidc reads, and the endpoints it names
// answer.
func TestDiscovery(t *testing.T) {
	s := startOP(t, staffClients)
	ctx := oidc.ClientContext(context.Background(), s.srv.Client())
	provider, err := oidc.NewProvider(ctx, s.issuer)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := provider.Claims(&d); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"authorization_endpoint": s.issuer + "/authorize", "token_endpoint": s.issuer + "/token",
		"userinfo_endpoint": s.issuer + "/userinfo", "revocation_endpoint": s.issuer + "/revoke", "jwks_uri": s.issuer + "/jwks",
	} {
		if d[k] != want {
			t.Errorf("%s = %v, want %s", k, d[k], want)
		}
	}
	sp := s.op.SPIDProvider("dev")
	if sp.Issuer != s.issuer || sp.TokenEndpoint != d["token_endpoint"] || sp.JWKSURI != d["jwks_uri"] || sp.ACR != "https://www.spid.gov.it/SpidL2" {
		t.Errorf("SPIDProvider %+v", sp)
	}
	resp, body := get(t, s.srv.Client(), s.issuer+"/jwks")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(body), &set); err != nil || resp.StatusCode != 200 || len(set.Keys) != 1 || !set.Keys[0].IsPublic() || set.Keys[0].KeyID == "" {
		t.Errorf("jwks %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, s.srv.Client(), s.srv.URL+"/jwks"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("outside the issuer path: %d", resp.StatusCode)
	}
}

// FuzzAuthorize feeds arbitrary queries to the authorization endpoint:
// it never panics, and it never redirects anywhere but a registered
// redirect_uri.
func FuzzAuthorize(f *testing.F) {
	rc := &spidClient{id: "https://rp.example.it", redirect: "https://rp.example.it/spid/callback"}
	keys, err := rpKeys()
	if err != nil {
		f.Fatal(err)
	}
	rc.sig, rc.enc, rc.other = keys[0], keys[1], keys[2]
	path, err := sharedKeyFile()
	if err != nil {
		f.Fatal(err)
	}
	op, err := New(Config{
		Issuer: "http://127.0.0.1:1/dev-idp", KeyFile: path, Identities: DefaultIdentities([]string{"it"}),
		Clients: []Client{rc.client(), {ID: "staff-web", Profile: ProfileStaff, RedirectURIs: []string{staffRedirect}, Secret: "s"}},
	})
	if err != nil {
		f.Fatal(err)
	}
	h := op.Handler()
	for _, seed := range []string{
		"client_id=staff-web&redirect_uri=" + url.QueryEscape(staffRedirect) + "&response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=x",
		"client_id=staff-web&redirect_uri=https%3A%2F%2Fevil.example.org&response_type=code",
		"client_id=https%3A%2F%2Frp.example.it&request=eyJhbGciOiJub25lIn0.e30.",
		"client_id=https%3A%2F%2Frp.example.it&request=a.b.c&request_uri=x",
		"%zz&client_id=",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, "/dev-idp/authorize", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest:
			if loc := rec.Header().Get("Location"); loc != "" {
				t.Fatalf("status %d with Location %q", rec.Code, loc)
			}
		case http.StatusSeeOther:
			loc := rec.Header().Get("Location")
			if !strings.HasPrefix(loc, staffRedirect+"?") && !strings.HasPrefix(loc, rc.redirect+"?") {
				t.Fatalf("redirect to %q", loc)
			}
		default:
			t.Fatalf("status %d", rec.Code)
		}
	})
}

// FuzzToken feeds arbitrary bodies to the token endpoint: an OAuth error
// (or, never here, tokens), never a panic or a 5xx.
func FuzzToken(f *testing.F) {
	path, err := sharedKeyFile()
	if err != nil {
		f.Fatal(err)
	}
	op, err := New(Config{
		Issuer: "http://127.0.0.1:1/dev-idp", KeyFile: path, Identities: DefaultIdentities([]string{"it"}),
		Clients: []Client{{ID: "staff-web", Profile: ProfileStaff, RedirectURIs: []string{staffRedirect}, Secret: "s"}, {ID: "cli", Profile: ProfileStaff, RedirectURIs: []string{staffRedirect}}},
	})
	if err != nil {
		f.Fatal(err)
	}
	h := op.Handler()
	f.Add("grant_type=authorization_code&code=x&client_id=cli&code_verifier=y", "")
	f.Add("grant_type=authorization_code&client_id=staff-web&client_secret=s", "Basic c3RhZmYtd2ViOnM=")
	f.Add("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJSUzI1NiJ9.e30.x", "")
	f.Fuzz(func(t *testing.T, body, authorization string) {
		req := httptest.NewRequest(http.MethodPost, "/dev-idp/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest && rec.Code != http.StatusUnauthorized {
			t.Fatalf("status %d %s", rec.Code, rec.Body)
		}
		if !strings.Contains(rec.Body.String(), `"error":"`) {
			t.Fatalf("not an OAuth error: %s", rec.Body)
		}
	})
}
