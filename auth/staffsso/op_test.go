package staffsso_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/auth/staffsso"
	"github.com/sportello/sportello/auth/testop"
)

// These tests run the staff login and the bearer-token verifier against
// an independent OP (panva's oidc-provider, auth/testop/node/staff.js)
// configured as an administration's SSO would be: a confidential client
// with a secret, groups only in userinfo, client credentials with JWT
// access tokens for service accounts.

const (
	consoleClient = "sportello-console"
	consoleSecret = "console-secret-0123456789abcdef"
	serviceClient = "cti-integration"
	serviceSecret = "service-secret-0123456789abcdef"
	apiAudience   = "https://sportello.test/api"
)

type rp struct {
	srv   *httptest.Server
	op    *testop.OP
	login *staffsso.Login

	mu        sync.Mutex
	principal auth.Principal
	identity  staffsso.Identity
	callbacks []string
}

func startRP(t *testing.T) *rp {
	t.Helper()
	r := &rp{}
	mux := http.NewServeMux()
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	r.op = testop.Start(t, "staff.js", map[string]any{
		"console":  map[string]any{"client_id": consoleClient, "client_secret": consoleSecret, "redirect_uris": []string{r.srv.URL + "/auth/staff/callback"}},
		"service":  map[string]any{"client_id": serviceClient, "client_secret": serviceSecret, "scope": "sportello:cases:read sportello:contacts:read"},
		"resource": apiAudience,
	})
	var err error
	r.login, err = staffsso.NewLogin(staffsso.Config{Issuer: r.op.Issuer, ClientID: consoleClient, ClientSecret: consoleSecret,
		RedirectURL: r.srv.URL + "/auth/staff/callback", Scopes: []string{"profile", "email", "groups"}},
		staffsso.LoginDeps{OnLogin: func(_ context.Context, w http.ResponseWriter, _ *http.Request, p auth.Principal, id staffsso.Identity) error {
			r.mu.Lock()
			r.principal, r.identity = p, id
			r.mu.Unlock()
			_, err := io.WriteString(w, "signed in as "+p.Operator)
			return err
		}})
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("GET /auth/staff/login", r.login.HandleLogin)
	mux.HandleFunc("GET /auth/staff/callback", func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.callbacks = append(r.callbacks, req.URL.String())
		r.mu.Unlock()
		r.login.HandleCallback(w, req)
	})
	return r
}

var formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

// signIn goes through the OP's login page as a browser would, choosing
// account; it returns the last status and body.
func (r *rp) signIn(t *testing.T, account string) (int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(r.srv.URL + "/auth/staff/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := formAction.FindStringSubmatch(string(page))
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("OP login page: %s\n%s", resp.Status, page)
	}
	resp, err = c.PostForm(r.op.Issuer+m[1], url.Values{"account": {account}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestLoginAgainstIndependentOP(t *testing.T) {
	r := startRP(t)
	tests := []struct {
		account  string
		status   int
		role     auth.Role
		operator string
		depts    []string
	}{
		{"anna.bianchi", 200, auth.RoleOperator, "anna.bianchi", []string{"statistics"}},
		{"carlo.verdi", 200, auth.RoleSupervisor, "carlo.verdi", []string{"communication", "it"}},
		{"ugo.neri", http.StatusForbidden, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.account, func(t *testing.T) {
			r.mu.Lock()
			r.principal = auth.Principal{}
			r.mu.Unlock()
			status, body := r.signIn(t, tt.account)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			r.mu.Lock()
			p, id := r.principal, r.identity
			r.mu.Unlock()
			if tt.status != 200 {
				if p.Role != "" || !strings.Contains(body, staffsso.ErrNoRole.Error()) {
					t.Fatalf("refused login: principal %+v, body %q", p, body)
				}
				return
			}
			if p.Role != tt.role || p.Operator != tt.operator || !slices.Equal(p.Departments, tt.depts) {
				t.Fatalf("principal = %+v", p)
			}
			if id.Email != tt.operator+"@comune.example" || id.Issuer != r.op.Issuer || id.Subject != tt.account {
				t.Fatalf("identity = %+v", id)
			}
		})
	}

	t.Run("replayed callback", func(t *testing.T) {
		r.mu.Lock()
		last := r.callbacks[len(r.callbacks)-1]
		r.mu.Unlock()
		resp, err := http.Get(r.srv.URL + last)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("replayed callback: %s", resp.Status)
		}
	})
}

func serviceToken(t *testing.T, op *testop.OP, secret string) (string, error) {
	t.Helper()
	cc := clientcredentials.Config{ClientID: serviceClient, ClientSecret: secret, TokenURL: op.Issuer + "/token",
		Scopes: []string{"sportello:cases:read"}, EndpointParams: url.Values{"resource": {apiAudience}}}
	tok, err := cc.Token(t.Context())
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

func TestBearerTokensFromIndependentOP(t *testing.T) {
	r := startRP(t)
	v, err := staffsso.NewVerifier(staffsso.VerifierConfig{Issuer: r.op.Issuer, Audience: apiAudience})
	if err != nil {
		t.Fatal(err)
	}
	token, err := serviceToken(t, r.op, serviceSecret)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("client credentials token", func(t *testing.T) {
		p, err := v.Authenticate(t.Context(), token)
		if err != nil {
			t.Fatal(err)
		}
		if p.Role != auth.RoleService || !slices.Equal(p.Scopes, []string{"cases:read"}) || p.Subject != "sso-client:"+serviceClient {
			t.Fatalf("principal = %+v", p)
		}
		if !p.HasScope("cases:read") || p.HasScope("cases:write") || p.HasScope("contacts:read") {
			t.Fatalf("scopes: %+v", p.Scopes)
		}
	})

	t.Run("wrong client secret gets no token", func(t *testing.T) {
		if _, err := serviceToken(t, r.op, "wrong"); err == nil {
			t.Fatal("token issued for a wrong secret")
		}
	})

	t.Run("token for another audience", func(t *testing.T) {
		other, err := staffsso.NewVerifier(staffsso.VerifierConfig{Issuer: r.op.Issuer, Audience: "https://other.test/api"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Authenticate(t.Context(), token); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("tampered token", func(t *testing.T) {
		parts := strings.Split(token, ".")
		forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
		if _, err := v.Authenticate(t.Context(), forged); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("key rotation at the OP", func(t *testing.T) {
		r.op.Rotate(t)
		rotated, err := serviceToken(t, r.op, serviceSecret)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Authenticate(t.Context(), rotated); err != nil {
			t.Fatalf("token signed with the new key: %v", err)
		}
	})

	t.Run("identity provider outage", func(t *testing.T) {
		fresh, err := staffsso.NewVerifier(staffsso.VerifierConfig{Issuer: r.op.Issuer, Audience: apiAudience})
		if err != nil {
			t.Fatal(err)
		}
		current, err := serviceToken(t, r.op, serviceSecret) // after the rotation above
		if err != nil {
			t.Fatal(err)
		}
		r.op.SetDown(t, true)
		_, err = fresh.Authenticate(t.Context(), current)
		if !errors.Is(err, auth.ErrUnavailable) {
			t.Fatalf("during the outage: err = %v, want ErrUnavailable", err)
		}
		r.op.SetDown(t, false)
		if _, err := fresh.Authenticate(t.Context(), current); err != nil {
			t.Fatalf("after the outage: %v", err)
		}

		// A verifier that knows the OP meets a token signed with a key
		// it has not fetched while the OP is down.
		r.op.Rotate(t)
		newKey, err := serviceToken(t, r.op, serviceSecret)
		if err != nil {
			t.Fatal(err)
		}
		r.op.SetDown(t, true)
		if _, err := fresh.Authenticate(t.Context(), newKey); !errors.Is(err, auth.ErrUnavailable) {
			t.Fatalf("unknown key during the outage: err = %v, want ErrUnavailable", err)
		}
		r.op.SetDown(t, false)
		if _, err := fresh.Authenticate(t.Context(), newKey); err != nil {
			t.Fatalf("unknown key after the outage: %v", err)
		}
	})
}
