package main

import (
	"strings"
	"testing"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
	"github.com/sportello/sportello/services/storage/storetest"
)

// TestIntegrationRoutingRules: a request without a category reaches the
// department a rule names, with the reason in its history; administrators
// manage the rules.
func TestIntegrationRoutingRules(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, storetest.Backend{Name: "sqlite"}))
	s.submit(`{"name":"Anna","email":"anna@example.it","subject":"Richiesta","message":"Mi servono i microdati sulle famiglie."}`)
	c := s.waitForCases(1)[0]
	if c.Department != "statistics" || c.Category != "" {
		t.Fatalf("case routed to %q (category %q)", c.Department, c.Category)
	}
	var h casesv1.ListCaseEventsResponse
	if r := s.get("/v1/cases/"+c.Id+"/events", adminToken); jsonUnmarshalAny(r.Body, &h) != nil ||
		h.Events[0].Reason != `routed to statistics by rule "microdati" on keyword "microdati"` {
		t.Fatalf("routing reason = %q", h.Events[0].GetReason())
	}

	rule := `{"name":"biblioteca","position":5,"department":"communication","keywords":["prestito librario"],"enabled":true}`
	if r := s.do("POST", "/v1/routing-rules", jsonType, []byte(rule), bearer(supToken)); r.Status != 403 {
		t.Fatalf("supervisor creates a rule: %d", r.Status)
	}
	r := s.do("POST", "/v1/routing-rules", jsonType, []byte(rule), bearer(adminToken))
	var created directoryv1.RoutingRule
	if r.Status != 200 || jsonUnmarshalAny(r.Body, &created) != nil || created.Id == "" {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	for _, bad := range []string{
		rule, // the name is taken
		`{"name":"x","department":"astrology","keywords":["a b"],"enabled":true}`,
		`{"name":"y","department":"it","enabled":true}`,
		`{"name":"z","department":"it","keywords":["il la"]}`,
	} {
		if r := s.do("POST", "/v1/routing-rules", jsonType, []byte(bad), bearer(adminToken)); r.Status != 400 {
			t.Errorf("bad rule %s: %d %s", bad, r.Status, r.Body)
		}
	}
	var list directoryv1.ListRoutingRulesResponse
	if r := s.get("/v1/routing-rules", itToken); r.Status != 200 || jsonUnmarshalAny(r.Body, &list) != nil || list.Rules[0].Name != "biblioteca" || len(list.Rules) != 4 {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1/routing-rules/"+created.Id, "", nil, bearer(adminToken)); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1/routing-rules/"+created.Id, "", nil, bearer(adminToken)); r.Status != 404 || !strings.Contains(string(r.Body), "not found") {
		t.Fatalf("delete again: %d %s", r.Status, r.Body)
	}
}
