package spid

import (
	"errors"
	"testing"
)

func TestIdentityFrom(t *testing.T) {
	idt := idToken{Subject: "sub-1", ACR: SpidL2.String(), Level: SpidL2}
	base := func(fn any) map[string]any {
		c := map[string]any{"iss": "https://op.example.it", "given_name": " Mario ", "family_name": "Rossi", "email": "m@example.org", "phone_number": "+39333"}
		if fn != nil {
			c[FiscalNumberClaim] = fn
		}
		return c
	}
	for _, tc := range []struct {
		name string
		fn   any
		want string // fiscal code; "" means refused
	}{
		{"person", "TINIT-RSSMRA80A01H501U", "RSSMRA80A01H501U"},
		{"lower case", "tinit-rssmra80a01h501u", "RSSMRA80A01H501U"},
		{"omocodia", "TINIT-RSSMRA80A01H50MU", "RSSMRA80A01H50MU"},
		{"provisional numeric code", "TINIT-12345678901", "12345678901"},
		{"no prefix", "RSSMRA80A01H501U", ""},
		{"other country", "TINDE-RSSMRA80A01H501U", ""},
		{"malformed", "TINIT-RSSMRA80A01", ""},
		{"missing", nil, ""},
		{"not a string", 42, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := identityFrom(base(tc.fn), idt, "poste")
			if tc.want == "" {
				if !errors.Is(err, ErrAttributes) {
					t.Fatalf("got %+v, %v; want ErrAttributes", id, err)
				}
				return
			}
			want := Identity{FiscalCode: tc.want, GivenName: "Mario", FamilyName: "Rossi", Email: "m@example.org", PhoneNumber: "+39333",
				Issuer: "https://op.example.it", Subject: "sub-1", ACR: SpidL2.String(), Provider: "poste"}
			if err != nil || id != want {
				t.Errorf("got %+v, %v\nwant %+v", id, err, want)
			}
		})
	}
}
