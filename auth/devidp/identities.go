package devidp

import (
	"fmt"
	"regexp"
	"slices"
)

// Group names DefaultIdentities hands out; the server maps them to roles
// and departments.
const (
	GroupOperator   = "sportello:operator"
	GroupSupervisor = "sportello:supervisor"
	GroupAdmin      = "sportello:admin"
	// GroupDeptPrefix + department code: a department the member works.
	GroupDeptPrefix = "sportello:dept:"
)

// DefaultIdentities are the test users of the embedded default: two
// citizens with valid fiscal codes, one operator per department code
// given ("operator-<code>"), a second operator of the statistics
// department, or of the first one given when there is no statistics
// ("operator-<code>-2", so that two colleagues share a queue), a
// supervisor over all of them and an admin.
func DefaultIdentities(departments []string) []Identity {
	ids := []Identity{
		{
			ID: "citizen-mario", Label: "Mario Rossi (cittadino)", Kind: Citizen,
			FiscalNumber: "RSSMRA80A01H501U", GivenName: "Mario", FamilyName: "Rossi",
			Email: "mario.rossi@example.org", Phone: "+393331234567",
		},
		{
			ID: "citizen-giuseppe", Label: "Giuseppe Verdi (cittadino)", Kind: Citizen,
			FiscalNumber: "VRDGPP75E15F205W", GivenName: "Giuseppe", FamilyName: "Verdi",
			Email: "giuseppe.verdi@example.org", Phone: "+393479876543",
		},
	}
	all := make([]string, 0, len(departments))
	for _, d := range departments {
		all = append(all, GroupDeptPrefix+d)
		ids = append(ids, Identity{
			ID: "operator-" + d, Label: "Operatore " + d, Kind: Staff,
			GivenName: "Operatore", FamilyName: d, Email: "operator-" + d + "@example.org",
			Groups: []string{GroupOperator, GroupDeptPrefix + d},
		})
	}
	if len(departments) > 0 {
		d := departments[0]
		if slices.Contains(departments, "statistics") {
			d = "statistics"
		}
		ids = append(ids, Identity{
			ID: "operator-" + d + "-2", Label: "Operatore " + d + " (secondo)", Kind: Staff,
			GivenName: "Secondo operatore", FamilyName: d, Email: "operator-" + d + "-2@example.org",
			Groups: []string{GroupOperator, GroupDeptPrefix + d},
		})
	}
	ids = append(ids,
		Identity{
			ID: "supervisor", Label: "Supervisore (tutti gli uffici)", Kind: Staff,
			GivenName: "Sara", FamilyName: "Supervisore", Email: "supervisor@example.org",
			Groups: append([]string{GroupSupervisor}, all...),
		},
		Identity{
			ID: "admin", Label: "Amministratore", Kind: Staff,
			GivenName: "Andrea", FamilyName: "Amministratore", Email: "admin@example.org",
			Groups: []string{GroupAdmin},
		},
	)
	return ids
}

// personCode is a codice fiscale of a person, omocodia letters allowed in
// the digit positions (the same pattern auth/spid accepts).
var personCode = regexp.MustCompile(`^[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPR-T][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$`)

// oddValues are the values of the characters in odd positions (1st,
// 3rd ...) for the check character, by the Ministry's table.
var oddValues = [36]int{
	// 0-9
	1, 0, 5, 7, 9, 13, 15, 17, 19, 21,
	// A-Z
	1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
}

// CheckFiscalCode reports whether cf is a person's codice fiscale (upper
// case, no TINIT- prefix) with a correct check character.
func CheckFiscalCode(cf string) error {
	if !personCode.MatchString(cf) {
		return fmt.Errorf("fiscal code %q: want 16 upper-case characters in the codice fiscale pattern", cf)
	}
	if got, want := cf[15], checkChar(cf[:15]); got != want {
		return fmt.Errorf("fiscal code %q: check character %c, want %c", cf, got, want)
	}
	return nil
}

// checkChar computes the 16th character from the first 15 (already
// matched against personCode: digits and upper-case letters only).
func checkChar(s string) byte {
	sum := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		v := int(c - '0')
		if c >= 'A' {
			v = int(c-'A') + 10
		}
		if i%2 == 0 {
			sum += oddValues[v]
		} else if c >= 'A' {
			sum += int(c - 'A')
		} else {
			sum += int(c - '0')
		}
	}
	return byte('A' + sum%26)
}
