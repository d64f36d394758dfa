// Package auth says who is calling (Principal) and what they may do (the
// permission table). Token verification for SPID/CIE and staff SSO plugs in
// behind Authenticator; this package must not import storage or transport
// code beyond what it needs to read a bearer token.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Role is what kind of user a principal is.
type Role string

const (
	RoleCitizen    Role = "citizen"
	RoleOperator   Role = "operator"
	RoleSupervisor Role = "supervisor"
	RoleAdmin      Role = "admin"
	// RoleService is an integration (CTI, protocol register) with a scoped
	// token.
	RoleService Role = "service"
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	switch r {
	case RoleCitizen, RoleOperator, RoleSupervisor, RoleAdmin, RoleService:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (want citizen, operator, supervisor, admin or service)", s)
}

// Principal is an authenticated caller.
type Principal struct {
	Subject     string
	Role        Role
	Departments []string // for operators and supervisors: the departments they work
	// Operator is the staff member's operator id in the directory; empty
	// for principals that do not work cases themselves.
	Operator string
	// Contact is a citizen's contact record: the cases they may see are
	// those of this contact. Empty for staff.
	Contact string
	// Name is for display ("Mario Rossi"); never used to decide access.
	Name string
	// Scopes narrow a service account to the methods they name (see
	// Scope); empty means the role's full access.
	Scopes []string
	// Case, for a citizen without Contact, is the one case the principal
	// may see and reply on: the holder of a follow link (FollowPrincipal).
	Case string
}

// FollowPrincipal is the holder of a follow link for case id: a citizen
// with no contact record, confined to that case's citizen view and to the
// cases:read and cases:write scopes.
func FollowPrincipal(id string) Principal {
	return Principal{Subject: "follow:" + id, Role: RoleCitizen, Case: id, Scopes: []string{"cases:read", "cases:write"}}
}

// FollowsCase reports whether p is the holder of a follow link for case id.
func (p Principal) FollowsCase(id string) bool {
	return p.Role == RoleCitizen && p.Contact == "" && p.Case != "" && p.Case == id
}

// Citizen reports whether the principal is a citizen with a contact record.
func (p Principal) Citizen() bool { return p.Role == RoleCitizen && p.Contact != "" }

// OwnsContact reports whether p is the citizen whose contact record is id.
func (p Principal) OwnsContact(id string) bool { return p.Citizen() && id != "" && p.Contact == id }

// Staff reports whether the principal works cases.
func (p Principal) Staff() bool {
	return p.Role == RoleOperator || p.Role == RoleSupervisor || p.Role == RoleAdmin || p.Role == RoleService
}

// AllDepartments reports whether the principal sees every department.
func (p Principal) AllDepartments() bool { return p.Role == RoleAdmin || p.Role == RoleService }

// InDepartment reports whether the principal may work cases of dept.
func (p Principal) InDepartment(dept string) bool {
	return p.AllDepartments() || (p.Staff() && slices.Contains(p.Departments, dept))
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller, if authenticated.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Authenticator verifies a bearer token.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Principal, error)
}

// ErrUnauthenticated means the token is missing, unknown or invalid.
var ErrUnauthenticated = errors.New("invalid or unknown bearer token")

// StaticToken is an API token from configuration. Only its SHA-256 is kept,
// so neither the config file nor a memory dump reveals the token.
type StaticToken struct {
	Name        string   `yaml:"name"`
	SHA256      string   `yaml:"sha256"` // hex of sha256(token)
	Role        Role     `yaml:"role"`
	Departments []string `yaml:"departments"`
	// Operator links the token to an operator of the directory.
	Operator string `yaml:"operator"`
	// Scopes limit a service account to some methods ("cases:read",
	// "cases:write", "contacts:read", ...: the scopes of the permission
	// table); empty means everything the role allows.
	Scopes []string `yaml:"scopes"`
}

// StaticTokens authenticates API tokens listed in configuration.
type StaticTokens struct {
	tokens []staticToken
}

type staticToken struct {
	sum [32]byte
	p   Principal
}

// NewStaticTokens validates the configured tokens.
func NewStaticTokens(ts []StaticToken) (*StaticTokens, error) {
	var errs []error
	out := &StaticTokens{}
	for i, t := range ts {
		b, err := hex.DecodeString(strings.TrimSpace(t.SHA256))
		if err != nil || len(b) != 32 {
			errs = append(errs, fmt.Errorf("auth.tokens[%d] (%s): sha256 must be 64 hex digits", i, t.Name))
			continue
		}
		if _, err := ParseRole(string(t.Role)); err != nil {
			errs = append(errs, fmt.Errorf("auth.tokens[%d] (%s): %w", i, t.Name, err))
			continue
		}
		bad := false
		for _, sc := range t.Scopes {
			if !ValidScope(sc) {
				errs = append(errs, fmt.Errorf("auth.tokens[%d] (%s): unknown scope %q", i, t.Name, sc))
				bad = true
			}
		}
		if bad {
			continue
		}
		st := staticToken{p: Principal{Subject: "token:" + t.Name, Role: t.Role, Departments: t.Departments, Operator: t.Operator,
			Scopes: slices.Clone(t.Scopes)}}
		copy(st.sum[:], b)
		out.tokens = append(out.tokens, st)
	}
	return out, errors.Join(errs...)
}

// HashToken returns the hex SHA-256 of a token, as configuration stores it.
func HashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// Authenticate implements Authenticator in constant time per token.
func (s *StaticTokens) Authenticate(_ context.Context, token string) (Principal, error) {
	sum := sha256.Sum256([]byte(token))
	for _, t := range s.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			return t.p, nil
		}
	}
	return Principal{}, ErrUnauthenticated
}

// ErrUnavailable means the token could not be checked now (the identity
// provider's keys are unreachable): the client should retry, not give up.
var ErrUnavailable = errors.New("the token cannot be checked now")

// Chain tries authenticators in order: the first that knows the token
// decides. An authenticator answers ErrUnauthenticated for a token it does
// not know; any other error stops the chain.
type Chain []Authenticator

// Authenticate implements Authenticator.
func (c Chain) Authenticate(ctx context.Context, token string) (Principal, error) {
	var unavailable error
	for _, a := range c {
		if a == nil {
			continue
		}
		p, err := a.Authenticate(ctx, token)
		switch {
		case err == nil:
			return p, nil
		case errors.Is(err, ErrUnavailable):
			// Another authenticator may still know the token.
			unavailable = err
		case !errors.Is(err, ErrUnauthenticated):
			return Principal{}, err
		}
	}
	if unavailable != nil {
		return Principal{}, unavailable
	}
	return Principal{}, ErrUnauthenticated
}
