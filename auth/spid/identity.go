package spid

import (
	"fmt"
	"regexp"
	"strings"
)

// Identity is a citizen as an OP vouched for them at login.
type Identity struct {
	// FiscalCode is the codice fiscale, upper case, without the TINIT-
	// prefix: the key of the citizen's contact.
	FiscalCode  string
	GivenName   string
	FamilyName  string
	Email       string // as the OP has it; not verified by Sportello
	PhoneNumber string
	// Issuer and Subject identify the citizen at this OP (the subject may
	// be pairwise: different for each RP).
	Issuer  string
	Subject string
	ACR     string // the level obtained, e.g. https://www.spid.gov.it/SpidL2
	// Provider is the Provider.Name the citizen chose.
	Provider string
}

// fiscalCode matches an Italian codice fiscale: 16 characters for persons
// (with omocodia letters in the digit positions), or 11 digits for the
// provisional codes some people hold.
var fiscalCode = regexp.MustCompile(`^(?:[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPR-T][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]|[0-9]{11})$`)

// identityFrom maps verified userinfo claims. The fiscal number is
// required: Sportello keys citizens' contacts by it.
func identityFrom(claims map[string]any, idt idToken, provider string) (Identity, error) {
	str := func(k string) string { s, _ := claims[k].(string); return strings.TrimSpace(s) }
	fn := strings.ToUpper(str(FiscalNumberClaim))
	if fn == "" {
		return Identity{}, fmt.Errorf("%w: no %s", ErrAttributes, FiscalNumberClaim)
	}
	cf, ok := strings.CutPrefix(fn, "TINIT-")
	if !ok || !fiscalCode.MatchString(cf) {
		// Another country's TIN, or garbage: not a key for an Italian
		// contact, and better refused than stored under a wrong key.
		return Identity{}, fmt.Errorf("%w: %s is not TINIT-<codice fiscale>", ErrAttributes, FiscalNumberClaim)
	}
	iss, _ := claims["iss"].(string)
	return Identity{
		FiscalCode:  cf,
		GivenName:   str("given_name"),
		FamilyName:  str("family_name"),
		Email:       str("email"),
		PhoneNumber: str("phone_number"),
		Issuer:      iss,
		Subject:     idt.Subject,
		ACR:         idt.ACR,
		Provider:    provider,
	}, nil
}
