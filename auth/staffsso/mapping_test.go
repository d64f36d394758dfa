package staffsso

import (
	"errors"
	"slices"
	"testing"

	"github.com/sportello/sportello/auth"
)

func TestMappingPrincipal(t *testing.T) {
	m := Mapping{}.WithDefaults()
	custom := Mapping{GroupsClaim: "roles", Roles: map[string]auth.Role{"CN=Helpdesk": auth.RoleOperator, "CN=Capi": auth.RoleSupervisor},
		Departments: map[string]string{"CN=Statistica": "statistics"}, OperatorClaim: "email"}.WithDefaults()
	tests := []struct {
		name    string
		m       Mapping
		claims  map[string]any
		want    auth.Principal
		wantErr error
	}{
		{"operator with departments", m, map[string]any{"sub": "u1", "preferred_username": "MRossi",
			"groups": []any{"sportello:operator", "sportello:dept:it", "sportello:dept:statistics", "sportello:dept:it", "other"}},
			auth.Principal{Subject: "sso:u1", Role: auth.RoleOperator, Operator: "mrossi", Name: "mrossi", Departments: []string{"it", "statistics"}}, nil},
		{"highest role wins", m, map[string]any{"sub": "u2", "preferred_username": "boss@comune.example", "name": "Anna Capo",
			"groups": []any{"sportello:operator", "sportello:admin", "sportello:supervisor"}},
			auth.Principal{Subject: "sso:u2", Role: auth.RoleAdmin, Operator: "boss", Name: "Anna Capo"}, nil},
		{"space-separated groups", m, map[string]any{"sub": "u3", "preferred_username": "x", "groups": "sportello:supervisor sportello:dept:it"},
			auth.Principal{Subject: "sso:u3", Role: auth.RoleSupervisor, Operator: "x", Name: "x", Departments: []string{"it"}}, nil},
		{"no role", m, map[string]any{"sub": "u4", "preferred_username": "x", "groups": []any{"sportello:dept:it"}}, auth.Principal{}, ErrNoRole},
		{"no groups", m, map[string]any{"sub": "u5", "preferred_username": "x"}, auth.Principal{}, ErrNoRole},
		{"hostile department name ignored", m, map[string]any{"sub": "u6", "preferred_username": "x",
			"groups": []any{"sportello:operator", "sportello:dept:../../etc", "sportello:dept:IT"}},
			auth.Principal{Subject: "sso:u6", Role: auth.RoleOperator, Operator: "x", Name: "x"}, nil},
		{"custom claim and map", custom, map[string]any{"sub": "u7", "email": "a.b@pa.example", "roles": []any{"CN=Helpdesk", "CN=Statistica"}},
			auth.Principal{Subject: "sso:u7", Role: auth.RoleOperator, Operator: "a.b", Name: "a.b", Departments: []string{"statistics"}}, nil},
		{"service client credentials", m, map[string]any{"sub": "cti", "groups": []any{"sportello:service"}, "scope": "openid sportello:cases:write sportello:bogus"},
			auth.Principal{Subject: "sso-client:cti", Role: auth.RoleService, Scopes: []string{"cases:write"}}, nil},
		{"service without scopes", m, map[string]any{"sub": "cti", "groups": []any{"sportello:service"}},
			auth.Principal{Subject: "sso-client:cti", Role: auth.RoleService, Scopes: []string{"none"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := tt.m.Principal(tt.claims)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Subject != tt.want.Subject || got.Role != tt.want.Role || got.Operator != tt.want.Operator || got.Name != tt.want.Name ||
				!slices.Equal(got.Departments, tt.want.Departments) || !slices.Equal(got.Scopes, tt.want.Scopes) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if _, _, err := m.Principal(map[string]any{"groups": []any{"sportello:admin"}}); err == nil {
		t.Error("a token without sub was accepted")
	}
	if _, _, err := m.Principal(map[string]any{"sub": "x", "preferred_username": "has space", "groups": []any{"sportello:admin"}}); err == nil {
		t.Error("an unusable operator id was accepted")
	}
}

func TestScopedPrincipal(t *testing.T) {
	p := auth.Principal{Role: auth.RoleService, Scopes: []string{"cases:write"}}
	for _, tt := range []struct {
		method string
		want   bool
	}{
		{"/sportello.cases.v1.CaseService/AddMessage", true},
		{"/sportello.cases.v1.CaseService/GetCase", true}, // write includes read
		{"/sportello.contacts.v1.ContactService/GetContact", false},
		{"/sportello.directory.v1.DirectoryService/ListCategories", true}, // public
		{"/sportello.admin.v1.DeadLetterService/ListDeadLetters", false},
	} {
		if got := auth.Permissions[tt.method].Allows(&p); got != tt.want {
			t.Errorf("%s: allowed = %v, want %v", tt.method, got, tt.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/cases/1?x=2": "/cases/1?x=2", "": "", "//evil.example/": "", "https://evil.example": "", "/\\evil": "",
		"cases": "", "/a\r\nSet-Cookie: x": "", "/a|b": "",
	} {
		if got := LocalPath(in); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	bad := Mapping{Roles: map[string]auth.Role{"g": "citizen"}, Departments: map[string]string{"h": "Not A Code"}}
	if err := bad.Validate(); err == nil {
		t.Fatal("a citizen role and a bad department code were accepted")
	}
	if _, err := NewLogin(Config{Issuer: "https://idp.example", ClientID: "c", RedirectURL: "http://sportello.example/cb"},
		LoginDeps{OnLogin: nil}); err == nil {
		t.Error("plain http redirect on a public host accepted")
	}
	if _, err := NewVerifier(VerifierConfig{Issuer: "https://idp.example", Audience: "a", Algs: []string{"HS256"}}); err == nil {
		t.Error("HS256 accepted for bearer tokens")
	}
}
