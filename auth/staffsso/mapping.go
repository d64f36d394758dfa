// Package staffsso signs staff in with the administration's OpenID
// Provider (any standard OP: Keycloak, Entra ID, ADFS, the development
// provider) and accepts that OP's bearer tokens on the API. A configurable
// groups claim gives the role and the departments: operators, supervisors
// and administrators are managed where the administration manages its
// people, not in Sportello.
//
// Login is the authorization code flow with PKCE S256, a single-use state
// bound to the browser, and a nonce checked in the ID token; go-oidc
// verifies ID tokens and bearer tokens (signature with an algorithm
// allow-list, issuer, audience, expiry).
package staffsso

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sportello/sportello/auth"
)

// Mapping turns an OP's claims into a principal.
type Mapping struct {
	// GroupsClaim names the claim listing the user's groups or roles
	// (default "groups"). Its value is an array of strings, or one string
	// of space-separated names.
	GroupsClaim string `yaml:"groups_claim"`
	// Roles maps a group to a role; a user in several gets the highest
	// (admin, supervisor, operator; service for integrations' client
	// credentials tokens). Default: sportello:operator, sportello:supervisor,
	// sportello:admin, sportello:service.
	Roles map[string]auth.Role `yaml:"roles"`
	// DepartmentPrefix: a group named prefix+code puts the user in
	// department code (default "sportello:dept:").
	DepartmentPrefix string `yaml:"department_prefix"`
	// Departments maps further group names to department codes, for OPs
	// whose group names cannot follow the prefix.
	Departments map[string]string `yaml:"departments"`
	// OperatorClaim names the claim whose value is the user's operator id
	// in the directory (default "preferred_username").
	OperatorClaim string `yaml:"operator_claim"`
}

// WithDefaults fills what is unset.
func (m Mapping) WithDefaults() Mapping {
	if m.GroupsClaim == "" {
		m.GroupsClaim = "groups"
	}
	if len(m.Roles) == 0 {
		m.Roles = map[string]auth.Role{
			"sportello:operator": auth.RoleOperator, "sportello:supervisor": auth.RoleSupervisor,
			"sportello:admin": auth.RoleAdmin, "sportello:service": auth.RoleService,
		}
	}
	if m.DepartmentPrefix == "" && len(m.Departments) == 0 {
		m.DepartmentPrefix = "sportello:dept:"
	}
	if m.OperatorClaim == "" {
		m.OperatorClaim = "preferred_username"
	}
	return m
}

// Validate reports configuration mistakes.
func (m Mapping) Validate() error {
	var errs []error
	for g, r := range m.Roles {
		if _, err := auth.ParseRole(string(r)); err != nil || r == auth.RoleCitizen {
			errs = append(errs, fmt.Errorf("roles[%q]: %q is not a staff role (operator, supervisor, admin, service)", g, r))
		}
	}
	for g, d := range m.Departments {
		if !codePattern.MatchString(d) {
			errs = append(errs, fmt.Errorf("departments[%q]: %q is not a department code", g, d))
		}
	}
	return errors.Join(errs...)
}

// Identity is a staff member as the OP describes them.
type Identity struct {
	Issuer, Subject string
	Operator        string // the directory id, from OperatorClaim
	Name, Email     string
	Groups          []string
}

// ErrNoRole means the user is in none of the mapped groups: they may sign
// in to the OP but not to Sportello.
var ErrNoRole = errors.New("the account is in no group that gives a Sportello role")

// codePattern is the form of department codes and operator ids.
var codePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

var rank = map[auth.Role]int{auth.RoleOperator: 1, auth.RoleSupervisor: 2, auth.RoleAdmin: 3}

// Principal maps verified claims. It fails with ErrNoRole when no group
// gives a role, and when the operator claim is not a usable id.
func (m Mapping) Principal(claims map[string]any) (auth.Principal, Identity, error) {
	id := Identity{Subject: str(claims["sub"]), Issuer: str(claims["iss"]), Name: str(claims["name"]), Email: str(claims["email"]),
		Groups: groups(claims[m.GroupsClaim])}
	if id.Subject == "" {
		return auth.Principal{}, id, errors.New("the token has no sub")
	}
	var role auth.Role
	var depts []string
	for _, g := range id.Groups {
		if r, ok := m.Roles[g]; ok {
			if role == "" || rank[r] > rank[role] {
				role = r
			}
		}
		if d, ok := m.Departments[g]; ok {
			depts = append(depts, d)
		} else if m.DepartmentPrefix != "" && strings.HasPrefix(g, m.DepartmentPrefix) {
			if d := strings.TrimPrefix(g, m.DepartmentPrefix); codePattern.MatchString(d) {
				depts = append(depts, d)
			}
		}
	}
	if role == "" {
		return auth.Principal{}, id, ErrNoRole
	}
	slices.Sort(depts)
	depts = slices.Compact(depts)
	p := auth.Principal{Subject: "sso:" + id.Subject, Role: role, Departments: depts, Name: id.Name}
	if role == auth.RoleService {
		// A client credentials token: its scopes narrow it.
		p.Scopes = scopes(claims["scope"])
		p.Subject = "sso-client:" + id.Subject
		return p, id, nil
	}
	op := strings.ToLower(str(claims[m.OperatorClaim]))
	if at := strings.IndexByte(op, '@'); at > 0 {
		op = op[:at] // "mario.rossi@comune.example" is operator "mario.rossi"
	}
	if !codePattern.MatchString(op) {
		return auth.Principal{}, id, fmt.Errorf("claim %s (%q) is not a usable operator id", m.OperatorClaim, op)
	}
	id.Operator, p.Operator = op, op
	if p.Name == "" {
		p.Name = op
	}
	return p, id, nil
}

// scopes keeps the "sportello:"-prefixed scopes of a scope claim, without
// the prefix: "openid sportello:cases:write" is cases:write. Unknown ones
// are dropped; a token whose scopes name nothing of Sportello holds the
// impossible scope "none", so it is refused everywhere but public methods.
func scopes(v any) []string {
	var out []string
	for _, s := range groups(v) {
		if rest, ok := strings.CutPrefix(s, "sportello:"); ok && auth.ValidScope(rest) {
			out = append(out, rest)
		}
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}

func groups(v any) []string {
	switch g := v.(type) {
	case string:
		return strings.Fields(g)
	case []any:
		out := make([]string, 0, len(g))
		for _, e := range g {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
