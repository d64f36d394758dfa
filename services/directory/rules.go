package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sportello/sportello/services/search"
)

// Rule routes contacts without a known category to a department. Every
// non-empty condition must hold; keywords match when any of them appears
// in the subject or text, compared on Italian stems.
type Rule struct {
	ID          string
	Name        string
	Position    int // lower first
	Department  string
	ChannelKind string
	ChannelID   string
	ToAddress   string
	IVRChoice   string
	Keywords    []string
	Enabled     bool
}

// Facts are what a rule looks at.
type Facts struct {
	ChannelKind, ChannelID, ToAddress, IVRChoice string
	Text                                         string // subject and body
}

// RuleStore manages routing rules. services/storage implements it.
type RuleStore interface {
	ListRoutingRules(ctx context.Context) ([]Rule, error)
	CreateRoutingRule(ctx context.Context, r Rule) (Rule, error)
	DeleteRoutingRule(ctx context.Context, id string) error
}

var (
	// ErrInvalidRule: the rule cannot be stored as given.
	ErrInvalidRule = errors.New("invalid routing rule")
	// ErrNotFound: no such rule.
	ErrNotFound = errors.New("not found")
)

// Validate reports what is wrong with r.
func (r Rule) Validate() error {
	switch {
	case strings.TrimSpace(r.Name) == "" || len(r.Name) > 100:
		return fmt.Errorf("name must be 1 to 100 characters")
	case r.Department == "":
		return fmt.Errorf("department is required")
	case r.ChannelKind == "" && r.ChannelID == "" && r.ToAddress == "" && r.IVRChoice == "" && len(r.Keywords) == 0:
		return fmt.Errorf("a rule needs at least one condition (channel, address, IVR choice or keywords)")
	case len(r.Keywords) > 50:
		return fmt.Errorf("at most 50 keywords")
	}
	for _, k := range r.Keywords {
		if len(search.Terms(k)) == 0 {
			return fmt.Errorf("keyword %q has no searchable word", k)
		}
	}
	return nil
}

// Match reports whether r applies to f, and the keyword that made it.
func (r Rule) Match(f Facts, textTerms []string) (bool, string) {
	if !r.Enabled ||
		(r.ChannelKind != "" && r.ChannelKind != f.ChannelKind) ||
		(r.ChannelID != "" && r.ChannelID != f.ChannelID) ||
		(r.ToAddress != "" && !strings.EqualFold(r.ToAddress, f.ToAddress)) ||
		(r.IVRChoice != "" && r.IVRChoice != f.IVRChoice) {
		return false, ""
	}
	if len(r.Keywords) == 0 {
		return true, ""
	}
	for _, k := range r.Keywords {
		// A keyword of several words matches when all its stems appear.
		kt := search.Terms(k)
		if len(kt) > 0 && !slices.ContainsFunc(kt, func(t string) bool { return !slices.Contains(textTerms, t) }) {
			return true, k
		}
	}
	return false, ""
}

// Route returns the department of the first matching rule of rules (in
// position order) and an explanation for the case history.
func Route(rules []Rule, f Facts) (dept, why string, ok bool) {
	terms := search.Terms(f.Text)
	for _, r := range rules {
		if hit, kw := r.Match(f, terms); hit {
			why = fmt.Sprintf("routed to %s by rule %q", r.Department, r.Name)
			if kw != "" {
				why += fmt.Sprintf(" on keyword %q", kw)
			}
			return r.Department, why, true
		}
	}
	return "", "", false
}

// DemoRules route the demo organisation's usual requests.
var DemoRules = []Rule{
	{Name: "microdati", Position: 10, Department: "statistics", Keywords: []string{"microdati", "file standard", "censimento"}, Enabled: true},
	{Name: "ufficio stampa", Position: 20, Department: "communication", Keywords: []string{"giornalista", "intervista", "comunicato stampa"}, Enabled: true},
	{Name: "accesso e credenziali", Position: 30, Department: "it", Keywords: []string{"spid", "cie", "password", "credenziali"}, Enabled: true},
}
