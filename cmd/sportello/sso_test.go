package main

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/auth/staffsso"
	"github.com/sportello/sportello/auth/testop"
	"github.com/sportello/sportello/services/storage/storetest"
)

// TestStaffSSOWithIndependentOP configures the server with an
// administration's OP (panva's oidc-provider, not our development one):
// staff sign in to the web through it and are provisioned from its groups
// claim; an integration's client-credentials token works on gRPC and REST
// within its scopes; when the OP is down a token that needs its keys gets
// UNAVAILABLE (503), not "unauthenticated".
func TestStaffSSOWithIndependentOP(t *testing.T) {
	t.Parallel()
	const (
		console, consoleSecret = "sportello-console", "console-secret-0123456789abcdef"
		service, serviceSecret = "cti-integration", "service-secret-0123456789abcdef"
		audience               = "https://sportello.test/api"
	)
	// The OP must know the callback before the server starts, and the
	// server the OP's issuer: reserve the port first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	op := testop.Start(t, "staff.js", map[string]any{
		"console":  map[string]any{"client_id": console, "client_secret": consoleSecret, "redirect_uris": []string{base + staffCallbackPath}},
		"service":  map[string]any{"client_id": service, "client_secret": serviceSecret, "scope": "sportello:cases:read"},
		"resource": audience,
	})

	cfg := testConfig(t, storetest.Backends()[0])
	cfg.Listen = addr
	cfg.Auth.StaffSSO = staffsso.Config{Issuer: op.Issuer, ClientID: console, ClientSecret: consoleSecret,
		RedirectURL: base + staffCallbackPath, Scopes: []string{"profile", "email", "groups"}, Audience: audience}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.devIdPOn() {
		t.Fatal("the development OP must be off beside a real staff issuer")
	}
	s := startServer(t, cfg)

	t.Run("web sign-in provisions the operator", func(t *testing.T) {
		b := newBrowser(t, s.base)
		code, page := b.get(s.base + staffLoginPath + "?return_to=/account")
		a := actionRE.FindStringSubmatch(page)
		if code != 200 || a == nil {
			t.Fatalf("OP login page: %d\n%s", code, page)
		}
		code, page = b.post(op.Issuer+a[1], url.Values{"account": {"anna.bianchi"}})
		if code != 200 || !strings.Contains(page, "Anna Bianchi") || !strings.Contains(page, "statistics") {
			t.Fatalf("after sign-in: %d\n%s", code, page)
		}
		o, err := s.app.db.GetOperator(t.Context(), "anna.bianchi")
		if err != nil || o.Role != "operator" || !slices.Equal(o.Departments, []string{"statistics"}) || o.Email != "anna.bianchi@comune.example" {
			t.Fatalf("provisioned operator = %+v, %v", o, err)
		}
	})

	t.Run("an account without Sportello groups is refused", func(t *testing.T) {
		b := newBrowser(t, s.base)
		_, page := b.get(s.base + staffLoginPath)
		a := actionRE.FindStringSubmatch(page)
		if a == nil {
			t.Fatalf("OP login page:\n%s", page)
		}
		if code, page := b.post(op.Issuer+a[1], url.Values{"account": {"ugo.neri"}}); code != http.StatusForbidden {
			t.Fatalf("ugo.neri: %d\n%s", code, page)
		}
		if _, err := s.app.db.GetOperator(t.Context(), "ugo.neri"); err == nil {
			t.Fatal("an account without groups was provisioned")
		}
	})

	token := func(t *testing.T) string {
		t.Helper()
		cc := clientcredentials.Config{ClientID: service, ClientSecret: serviceSecret, TokenURL: op.Issuer + "/token",
			Scopes: []string{"sportello:cases:read"}, EndpointParams: url.Values{"resource": {audience}}}
		tok, err := cc.Token(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}

	t.Run("service account within its scopes", func(t *testing.T) {
		tok := token(t)
		if _, err := s.grpcCases().ListCases(withToken(tok), &casesv1.ListCasesRequest{}); err != nil {
			t.Fatalf("gRPC ListCases: %v", err)
		}
		if r := s.get("/v1/cases", tok); r.Status != http.StatusOK {
			t.Fatalf("REST GET /v1/cases: %d %s", r.Status, r.Body)
		}
		_, err := s.grpcCases().CreateCase(withToken(tok), &casesv1.CreateCaseRequest{Subject: "x"})
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("CreateCase with cases:read only: %v", err)
		}
		r := s.do("POST", "/v1/cases", jsonType, []byte(`{"subject":"x"}`), map[string]string{"Authorization": "Bearer " + tok})
		if r.Status != http.StatusForbidden {
			t.Fatalf("REST POST /v1/cases with cases:read only: %d %s", r.Status, r.Body)
		}
	})

	t.Run("identity provider outage", func(t *testing.T) {
		op.Rotate(t) // the server has not seen the new key
		tok := token(t)
		op.SetDown(t, true)
		_, err := s.grpcCases().ListCases(withToken(tok), &casesv1.ListCasesRequest{})
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("gRPC during the outage: %v", err)
		}
		if r := s.get("/v1/cases", tok); r.Status != http.StatusServiceUnavailable {
			t.Fatalf("REST during the outage: %d %s", r.Status, r.Body)
		}
		op.SetDown(t, false)
		if _, err := s.grpcCases().ListCases(withToken(tok), &casesv1.ListCasesRequest{}); err != nil {
			t.Fatalf("after the outage: %v", err)
		}
	})
}
