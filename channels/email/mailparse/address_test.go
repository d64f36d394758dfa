package mailparse

import (
	"reflect"
	"testing"
)

func TestParseAddressList(t *testing.T) {
	for _, tt := range []struct {
		in        string
		want      []Address
		malformed bool
	}{
		{"Mario Rossi <Mario.Rossi@Example.IT>", []Address{{"Mario Rossi", "Mario.Rossi@example.it"}}, false},
		{`"Bianchi, Anna" <anna@example.it>, luca@example.it`, []Address{{"Bianchi, Anna", "anna@example.it"}, {"", "luca@example.it"}}, false},
		{"=?UTF-8?Q?Nicol=C3=B2_Ferr=C3=A0?= <n@example.it>", []Address{{"Nicolò Ferrà", "n@example.it"}}, false},
		{`"mario@example.it" <mario@example.it>`, []Address{{"", "mario@example.it"}}, false},
		{"undisclosed-recipients:;", nil, false},
		{"Ufficio: a@example.it, b@example.it;", []Address{{"", "a@example.it"}, {"", "b@example.it"}}, false},
		{`"Bianchi, Anna" anna@example.it, mario@example.it`, []Address{{"Bianchi, Anna", "anna@example.it"}, {"", "mario@example.it"}}, true},
		{"a@example.it; b@example.it", []Address{{"", "a@example.it"}, {"", "b@example.it"}}, true},
		{"rotto@, <>, ok@example.it", []Address{{"", "ok@example.it"}}, true},
		{"nessun indirizzo qui", nil, true},
		{"", nil, false},
	} {
		got := ParseAddressList(tt.in, 10)
		if !reflect.DeepEqual(got.Addresses, tt.want) || got.Malformed != tt.malformed {
			t.Errorf("ParseAddressList(%q) = %+v, malformed %v; want %+v, %v", tt.in, got.Addresses, got.Malformed, tt.want, tt.malformed)
		}
	}
	if l := ParseAddressList("a@x.it, b@x.it, c@x.it", 2); len(l.Addresses) != 2 || l.Total != 3 {
		t.Errorf("max 2 of 3: %+v", l)
	}
}

func TestMsgIDs(t *testing.T) {
	for _, tt := range []struct {
		in        string
		want      []string
		malformed bool
	}{
		{"<abc@example.it>", []string{"abc@example.it"}, false},
		{"  <abc@example.it> (commento)", []string{"abc@example.it"}, false},
		{"<a@x> <b@x>\r\n <c@x>", []string{"a@x", "b@x", "c@x"}, false},
		{"senza-parentesi@example.it", []string{"senza-parentesi@example.it"}, false},
		{"<spazi dentro@example.it>", []string{"spazidentro@example.it"}, false},
		{"<non-chiuso@example.it", []string{"non-chiuso@example.it"}, true},
		{"<>", nil, true},
		{"<a\x00b@x>", nil, true},
		{"", nil, false},
	} {
		got, bad := msgIDs(tt.in)
		if !reflect.DeepEqual(got, tt.want) || bad != tt.malformed {
			t.Errorf("msgIDs(%q) = %q, %v; want %q, %v", tt.in, got, bad, tt.want, tt.malformed)
		}
	}
}

func TestParseDate(t *testing.T) {
	for _, in := range []string{
		"Mon, 2 Mar 2026 10:00:00 +0100",
		"Mon,  2 Mar 2026 10:00:00 +0100 (CET)",
		"2 Mar 2026 10:00:00 +0100",
		"Mon, 2 Mar 2026 10:00 +0100",
		"Mon, 02 Mar 26 10:00:00 +0100",
		"Mon Mar  2 10:00:00 2026",
		"2026-03-02T10:00:00+01:00",
	} {
		got, ok := parseDate(in)
		if !ok || got.Year() != 2026 || got.Month() != 3 || got.Day() != 2 {
			t.Errorf("parseDate(%q) = %v, %v", in, got, ok)
		}
	}
	if _, ok := parseDate("Venerdì 17 aprile 2026"); ok {
		t.Error("an Italian free-text date was read")
	}
}
