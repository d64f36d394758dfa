package directory

import "testing"

func TestRoute(t *testing.T) {
	rules := []Rule{
		{Name: "disabled", Department: "it", Keywords: []string{"microdati"}, Enabled: false},
		{Name: "dati@", Department: "statistics", ToAddress: "dati@istituto.it", Enabled: true},
		{Name: "microdati", Department: "statistics", Keywords: []string{"microdati", "file standard"}, Enabled: true},
		{Name: "ivr 3", Department: "it", ChannelKind: "cti", IVRChoice: "3", Enabled: true},
		{Name: "stampa", Department: "communication", Keywords: []string{"comunicato stampa"}, Enabled: true},
	}
	tests := []struct {
		name string
		f    Facts
		dept string
		why  string
	}{
		{"stem of the keyword", Facts{Text: "Vorrei il microdato del censimento"}, "statistics", `routed to statistics by rule "microdati" on keyword "microdati"`},
		{"multi-word keyword, any order", Facts{Text: "mi serve uno standard di file"}, "statistics", `routed to statistics by rule "microdati" on keyword "file standard"`},
		{"only one word of two", Facts{Text: "un file"}, "", ""},
		{"receiving address, any case", Facts{ToAddress: "DATI@istituto.it", Text: "domanda"}, "statistics", `routed to statistics by rule "dati@"`},
		{"IVR choice on the right channel", Facts{ChannelKind: "cti", IVRChoice: "3"}, "it", `routed to it by rule "ivr 3"`},
		{"IVR choice on another channel", Facts{ChannelKind: "email", IVRChoice: "3"}, "", ""},
		{"first match wins", Facts{ToAddress: "dati@istituto.it", Text: "comunicato stampa"}, "statistics", `routed to statistics by rule "dati@"`},
		{"later rule", Facts{Text: "Invio un comunicato per la stampa"}, "communication", `routed to communication by rule "stampa" on keyword "comunicato stampa"`},
		{"nothing", Facts{Text: "buongiorno"}, "", ""},
	}
	for _, tt := range tests {
		dept, why, ok := Route(rules, tt.f)
		if dept != tt.dept || why != tt.why || ok != (tt.dept != "") {
			t.Errorf("%s: Route = %q, %q, %v; want %q, %q", tt.name, dept, why, ok, tt.dept, tt.why)
		}
	}
}

func TestRuleValidate(t *testing.T) {
	for _, r := range []Rule{
		{Department: "it", Keywords: []string{"x"}},
		{Name: "n", Keywords: []string{"x"}},
		{Name: "n", Department: "it"},
		{Name: "n", Department: "it", Keywords: []string{"il la"}},
	} {
		if r.Validate() == nil {
			t.Errorf("%+v passed validation", r)
		}
	}
	if err := (Rule{Name: "n", Department: "it", Keywords: []string{"spid"}}).Validate(); err != nil {
		t.Fatal(err)
	}
}
