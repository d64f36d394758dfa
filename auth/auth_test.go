package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestStaticTokens(t *testing.T) {
	ts, err := NewStaticTokens([]StaticToken{
		{Name: "crm", SHA256: HashToken("s3cret-token"), Role: RoleService},
		{Name: "op", SHA256: strings.ToUpper(HashToken("op-token")), Role: RoleOperator, Departments: []string{"it"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := ts.Authenticate(context.Background(), "s3cret-token")
	if err != nil || p.Subject != "token:crm" || p.Role != RoleService || !p.AllDepartments() {
		t.Fatalf("crm = %+v, %v", p, err)
	}
	p, err = ts.Authenticate(context.Background(), "op-token")
	if err != nil || !p.InDepartment("it") || p.InDepartment("statistics") {
		t.Fatalf("op = %+v, %v", p, err)
	}
	for _, bad := range []string{"", "s3cret-token ", "S3CRET-TOKEN", HashToken("s3cret-token")} {
		if _, err := ts.Authenticate(context.Background(), bad); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("token %q accepted", bad)
		}
	}
}

func TestStaticTokensValidation(t *testing.T) {
	_, err := NewStaticTokens([]StaticToken{
		{Name: "short", SHA256: "abcd", Role: RoleAdmin},
		{Name: "role", SHA256: HashToken("x"), Role: "root"},
	})
	if err == nil || !strings.Contains(err.Error(), "short") || !strings.Contains(err.Error(), `unknown role "root"`) {
		t.Fatalf("err = %v, want both problems", err)
	}
}

func TestAccessAllows(t *testing.T) {
	citizen, op, admin := &Principal{Role: RoleCitizen}, &Principal{Role: RoleOperator}, &Principal{Role: RoleAdmin}
	tests := []struct {
		a    Access
		p    *Principal
		want bool
	}{
		{Public, nil, true}, {Staff, nil, false}, {Staff, citizen, false}, {Staff, op, true},
		{Admin, op, false}, {Admin, admin, true}, {Access(0), admin, false},
		{Supervisor, op, false}, {Supervisor, &Principal{Role: RoleSupervisor}, true}, {Supervisor, admin, true}, {Supervisor, nil, false},
	}
	for _, tt := range tests {
		if got := tt.a.Allows(tt.p); got != tt.want {
			t.Errorf("%v.Allows(%+v) = %v", tt.a, tt.p, got)
		}
	}
	if (Principal{Role: RoleCitizen, Departments: []string{"it"}}).InDepartment("it") {
		t.Error("a citizen with departments works cases")
	}
}

// TestFollowPrincipal: the holder of a follow link may call the
// CaseService's owner methods (the service then confines it to its case)
// and nothing else of the permission table.
func TestFollowPrincipal(t *testing.T) {
	p := FollowPrincipal("case-1")
	if p.Citizen() || p.OwnsContact("") || p.Staff() || !p.FollowsCase("case-1") || p.FollowsCase("case-2") || p.FollowsCase("") {
		t.Fatalf("principal %+v: wrong predicates", p)
	}
	allowed := 0
	for method, rule := range Permissions {
		got := rule.Allows(&p)
		want := rule.Access == Public || (rule.Access == Owner && strings.HasPrefix(method, "/sportello.cases.v1.CaseService/"))
		if got != want {
			t.Errorf("%s: allowed = %v, want %v", method, got, want)
		}
		if got && rule.Access == Owner {
			allowed++
		}
	}
	if allowed == 0 {
		t.Fatal("a follow link reaches no CaseService method")
	}
	// Without its scopes, or with a contact (a real citizen), it is not
	// a follow principal.
	unscoped := p
	unscoped.Scopes = nil
	if Owner.Allows(&unscoped) {
		t.Error("an unscoped case principal is an owner")
	}
	withContact := p
	withContact.Contact = "contact-1"
	if withContact.FollowsCase("case-1") {
		t.Error("a citizen with a contact follows a case by link")
	}
}
