package main

import (
	"encoding/json"
	"strings"
	"testing"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/services/storage/storetest"
)

// TestIntegrationSupervisor: transfer, bulk reassignment with per-case
// results, and the workload view.
func TestIntegrationSupervisor(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		s := startServer(t, testConfig(t, b))
		for i := 0; i < 3; i++ {
			s.submit(itSubmit)
		}
		all := s.waitForCases(3)
		post := func(token, path string, body any) response {
			b, _ := json.Marshal(body)
			return s.do("POST", path, jsonType, b, bearer(token))
		}
		// The operator claims one; the supervisor moves it to statistics.
		if r := post(itToken, "/v1/cases:claimNext", map[string]string{}); r.Status != 200 {
			t.Fatalf("claim: %d %s", r.Status, r.Body)
		}
		if r := post(supToken, "/v1/cases/"+all[0].Id+":transfer", map[string]string{"department": "statistics"}); r.Status != 400 || !strings.Contains(string(r.Body), "reason") {
			t.Fatalf("transfer without reason: %d %s", r.Status, r.Body)
		}
		if r := post(supToken, "/v1/cases/"+all[0].Id+":transfer", map[string]string{"department": "astrology", "reason": "x"}); r.Status != 400 || !strings.Contains(string(r.Body), "unknown department") {
			t.Fatalf("transfer to an unknown department: %d %s", r.Status, r.Body)
		}
		r := post(supToken, "/v1/cases/"+all[0].Id+":transfer", map[string]string{"department": "statistics", "reason": "richiesta di microdati"})
		if r.Status != 200 || !strings.Contains(string(r.Body), `"department":"statistics"`) || !strings.Contains(string(r.Body), `"assignee":""`) {
			t.Fatalf("transfer: %d %s", r.Status, r.Body)
		}
		// The IT operator no longer sees it; its slot is free again.
		if r := s.get("/v1/cases/"+all[0].Id, itToken); r.Status != 404 {
			t.Fatalf("IT operator reads a statistics case: %d", r.Status)
		}

		// Bulk: give the two IT cases and an unknown id to op-it.
		var res casesv1.BatchCasesResponse
		r = post(supToken, "/v1/cases:batchAssign", map[string]any{
			"ids": []string{all[1].Id, "00000000-0000-7000-8000-000000000000", all[2].Id}, "assignee": "op-it", "reason": "turno"})
		if r.Status != 200 || jsonUnmarshalAny(r.Body, &res) != nil {
			t.Fatalf("batchAssign: %d %s", r.Status, r.Body)
		}
		var codes []string
		for _, x := range res.Results {
			codes = append(codes, x.Code)
		}
		if strings.Join(codes, ",") != "OK,NOT_FOUND,OK" || res.Results[0].Case.Assignee != "op-it" {
			t.Fatalf("batch results = %v", res.Results)
		}
		if r := post(itToken, "/v1/cases:batchAssign", map[string]any{"ids": []string{all[1].Id}, "assignee": ""}); r.Status != 403 {
			t.Fatalf("operator batch: %d", r.Status)
		}
		if r := post(supToken, "/v1/cases:batchAssign", map[string]any{"ids": []string{}}); r.Status != 400 {
			t.Fatalf("empty batch: %d", r.Status)
		}

		// Workload of IT: two open, none unassigned, both op-it's.
		var w casesv1.Workload
		r = s.get("/v1/workload?department=it", supToken)
		if r.Status != 200 || jsonUnmarshalAny(r.Body, &w) != nil || len(w.Departments) != 1 {
			t.Fatalf("workload: %d %s", r.Status, r.Body)
		}
		it := w.Departments[0]
		ops := map[string]*casesv1.OperatorLoad{}
		for _, o := range it.Operators {
			ops[o.Operator] = o
		}
		if it.Open != 2 || it.Unassigned != 0 || ops["op-it"].GetOpen() != 2 || ops["op-it"].GetOpenTotal() != 2 || ops["op-it"].GetCapacity() != 20 {
			t.Fatalf("IT workload = %v", it)
		}
		// All departments for the supervisor; none for an operator.
		if r := s.get("/v1/workload", supToken); r.Status != 200 || jsonUnmarshalAny(r.Body, &w) != nil || len(w.Departments) != 4 {
			t.Fatalf("supervisor workload: %d %s", r.Status, r.Body)
		}
		if r := s.get("/v1/workload", itToken); r.Status != 403 {
			t.Fatalf("operator workload: %d", r.Status)
		}
		// Bulk transfer back to IT.
		r = post(supToken, "/v1/cases:batchTransfer", map[string]any{"ids": []string{all[0].Id}, "department": "it", "reason": "rientro"})
		if r.Status != 200 || !strings.Contains(string(r.Body), `"code":"OK"`) {
			t.Fatalf("batchTransfer: %d %s", r.Status, r.Body)
		}
	})
}
