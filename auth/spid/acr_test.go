package spid

import "testing"

func TestParseACR(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ACR
		ok   bool
	}{
		{"https://www.spid.gov.it/SpidL1", SpidL1, true},
		{"https://www.spid.gov.it/SpidL2", SpidL2, true},
		{"SpidL3", SpidL3, true},
		{"L2", SpidL2, true},
		{" L1 ", SpidL1, true},
		{"L4", 0, false},
		{"https://www.spid.gov.it/SpidL0", 0, false},
		{"", 0, false},
		{"urn:example:high", 0, false},
	} {
		got, err := ParseACR(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseACR(%q) = %v, %v", tc.in, got, err)
		}
	}
	if SpidL2.String() != "https://www.spid.gov.it/SpidL2" {
		t.Errorf("String: %s", SpidL2)
	}
	// In an ID token only the full identifier counts.
	for in, ok := range map[string]bool{"https://www.spid.gov.it/SpidL2": true, "SpidL2": false, "L2": false} {
		if _, err := parseACRClaim(in); (err == nil) != ok {
			t.Errorf("parseACRClaim(%q): %v", in, err)
		}
	}
}
