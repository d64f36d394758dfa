package spid

import (
	"fmt"
	"strings"
)

// ACR is a SPID/CIE authentication level. CIE uses the same identifiers.
type ACR int

const (
	SpidL1 ACR = 1 // single factor
	SpidL2 ACR = 2 // two factors; the default
	SpidL3 ACR = 3 // two factors, one of them a hardware device
)

const acrPrefix = "https://www.spid.gov.it/SpidL"

// String is the acr value as the OPs use it.
func (a ACR) String() string { return fmt.Sprintf("%s%d", acrPrefix, int(a)) }

// ParseACR reads "https://www.spid.gov.it/SpidL2", "SpidL2" or "L2".
func ParseACR(s string) (ACR, error) {
	v := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "https://www.spid.gov.it/"), "Spid")
	switch v {
	case "L1":
		return SpidL1, nil
	case "L2":
		return SpidL2, nil
	case "L3":
		return SpidL3, nil
	}
	return 0, fmt.Errorf("acr %q: want https://www.spid.gov.it/SpidL1, SpidL2 or SpidL3", s)
}

// parseACRClaim reads the acr claim of an ID token: only the full
// identifier counts there, a shorthand is not what an OP sends.
func parseACRClaim(s string) (ACR, error) {
	if !strings.HasPrefix(s, acrPrefix) {
		return 0, fmt.Errorf("acr %q is not a SPID level", s)
	}
	return ParseACR(s)
}
