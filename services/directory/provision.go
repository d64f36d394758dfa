package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DefaultCapacity is the capacity of an operator created at their first
// single sign-on; an administrator changes it like any other.
const DefaultCapacity = 20

// SSOUser is a staff member as the administration's identity provider
// describes them at sign-in.
type SSOUser struct {
	Operator    string // directory id
	Name, Email string
	Role        string // operator, supervisor or admin
	Departments []string
}

// Provision makes the directory agree with the identity provider, which
// is where the administration manages its staff: an operator signing in
// for the first time is created (online, DefaultCapacity); at later
// sign-ins role, departments, name and e-mail follow the provider, while
// capacity, skills, languages and presence stay as set in Sportello.
// Departments the directory does not know are left out.
func Provision(ctx context.Context, s AdminStore, known []Department, u SSOUser) (Operator, error) {
	var depts []string
	for _, d := range u.Departments {
		if slices.ContainsFunc(known, func(k Department) bool { return k.ID == d }) {
			depts = append(depts, d)
		}
	}
	name := strings.TrimSpace(u.Name)
	if name == "" {
		name = u.Operator
	}
	if len([]rune(name)) > 100 {
		name = string([]rune(name)[:100])
	}
	email := strings.TrimSpace(u.Email)
	o, err := s.GetOperator(ctx, u.Operator)
	switch {
	case errors.Is(err, ErrNotFound):
		o = Operator{ID: u.Operator, DisplayName: name, Email: email, Role: u.Role, Presence: Online,
			Capacity: DefaultCapacity, Departments: depts}
		if o.Validate() != nil {
			o.Email = "" // an address the directory cannot hold is not needed to work
		}
		if err := o.Validate(); err != nil {
			return Operator{}, err
		}
		err = s.CreateOperator(ctx, o)
		if !errors.Is(err, ErrExists) {
			return o, err
		}
		// A concurrent first sign-in created it: update it below.
	case err != nil:
		return Operator{}, fmt.Errorf("read operator %s: %w", u.Operator, err)
	}
	same := o.Role == u.Role && slices.Equal(o.Departments, depts) && o.DisplayName == name
	if same {
		return o, nil
	}
	return s.UpdateOperator(ctx, u.Operator, func(o *Operator) error {
		o.Role, o.Departments, o.DisplayName = u.Role, depts, name
		if email != "" {
			o.Email = email
			if o.Validate() != nil {
				o.Email = ""
			}
		}
		return o.Validate()
	})
}
