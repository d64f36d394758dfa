package directory

import (
	"errors"
	"strings"
	"testing"
)

func TestFill(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"Gentile {{nome}}, la pratica {{riferimento}} ({{oggetto}}) è in carico a {{ufficio}}. {{operatore}}",
			"Gentile Anna Verdi, la pratica 2026-000001 (Tavole) è in carico a statistics. Sara"},
		{"{{nome}}{{nome}}", "Anna VerdiAnna Verdi"},
		{"{{sconosciuto}} e {{ nome }}", "{{sconosciuto}} e {{ nome }}"},
		{"nessun segnaposto", "nessun segnaposto"},
	} {
		got := Fill(tc.body, map[string]string{"nome": "Anna Verdi", "riferimento": "2026-000001", "oggetto": "Tavole",
			"ufficio": "statistics", "operatore": "Sara"})
		if got != tc.want {
			t.Errorf("Fill(%q) = %q, want %q", tc.body, got, tc.want)
		}
	}
	if got := Fill("Gentile {{nome}},", nil); got != "Gentile ," {
		t.Errorf("without values: %q", got)
	}
}

func TestCannedValidate(t *testing.T) {
	for _, tc := range []struct {
		c  CannedResponse
		ok bool
	}{
		{CannedResponse{Title: "Saluto", Body: "Gentile {{nome}}"}, true},
		{CannedResponse{Title: " ", Body: "x"}, false},
		{CannedResponse{Title: "t", Body: "  "}, false},
		{CannedResponse{Title: strings.Repeat("t", 201), Body: "x"}, false},
		{CannedResponse{Title: "t", Body: strings.Repeat("x", MaxCannedBody+1)}, false},
		{CannedResponse{Title: "t", Body: "x", Department: "Not An Id"}, false},
		{CannedResponse{Title: "t", Body: "x", Language: "ITA"}, false},
		{CannedResponse{Title: "t", Body: "\xff"}, false},
	} {
		err := tc.c.validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("%+v: %v", tc.c, err)
		}
	}
	c := CannedResponse{Title: " Saluto ", Body: "x"}
	if err := c.validate(); err != nil || c.Language != "it" || c.Title != "Saluto" {
		t.Errorf("normalised = %+v, %v", c, err)
	}
}
