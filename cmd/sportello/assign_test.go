package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
	"github.com/sportello/sportello/services/storage/storetest"
)

const itSubmit = `{"name":"Sara","email":"s@example.it","category":"portal-account","subject":"Accesso","message":"Non entro."}`

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// TestIntegrationAssignment: who may assign what, over REST.
func TestIntegrationAssignment(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, storetest.Backend{Name: "sqlite"}))
	s.submit(itSubmit)
	s.submit(itSubmit)
	all := s.waitForCases(2)
	a, b := all[0], all[1]
	assign := func(token, id, to, reason string) response {
		body, _ := json.Marshal(map[string]string{"assignee": to, "reason": reason})
		return s.do("POST", "/v1/cases/"+id+":assign", jsonType, body, bearer(token))
	}
	// The operator claims the oldest IT case.
	r := s.do("POST", "/v1/cases:claimNext", jsonType, []byte(`{}`), bearer(itToken))
	if r.Status != 200 || !strings.Contains(string(r.Body), `"id":"`+a.Id+`"`) || !strings.Contains(string(r.Body), `"assignee":"op-it"`) {
		t.Fatalf("claimNext: %d %s", r.Status, r.Body)
	}
	// The supervisor gives the other case to someone: a reason is needed,
	// and the operator must work the department.
	if r := assign(supToken, b.Id, "op-it", ""); r.Status != 400 || !strings.Contains(string(r.Body), "reason") {
		t.Fatalf("assign without reason: %d %s", r.Status, r.Body)
	}
	if r := assign(supToken, b.Id, "op-statistics", "aiuto"); r.Status != 400 || !strings.Contains(string(r.Body), "does not work it") {
		t.Fatalf("assign outside the department: %d %s", r.Status, r.Body)
	}
	if r := assign(supToken, b.Id, "sup-contact-centre", ""); r.Status != 200 {
		t.Fatalf("supervisor takes it: %d %s", r.Status, r.Body)
	}
	// The operator may not take the supervisor's case, nor give it away.
	if r := assign(itToken, b.Id, "op-it", ""); r.Status != 403 {
		t.Fatalf("operator takes another's case: %d %s", r.Status, r.Body)
	}
	if r := assign(itToken, a.Id, "sup-contact-centre", "x"); r.Status != 403 {
		t.Fatalf("operator gives their case to someone: %d %s", r.Status, r.Body)
	}
	// ... but may give back their own.
	if r := assign(itToken, a.Id, "", ""); r.Status != 200 || !strings.Contains(string(r.Body), `"assignee":""`) {
		t.Fatalf("operator gives back: %d %s", r.Status, r.Body)
	}
	// Load is visible to staff only.
	var ops directoryv1.ListOperatorsResponse
	r = s.get("/v1/operators?department=it", supToken)
	if r.Status != 200 || jsonUnmarshalAny(r.Body, &ops) != nil {
		t.Fatalf("operators: %d %s", r.Status, r.Body)
	}
	load := map[string]int32{}
	for _, o := range ops.Operators {
		load[o.Id] = o.OpenCases
	}
	if load["op-it"] != 0 || load["sup-contact-centre"] != 1 {
		t.Fatalf("load = %v", load)
	}
	if r := s.get("/v1/operators", ""); r.Status != 401 {
		t.Fatalf("anonymous operators: %d", r.Status)
	}
	// Nothing left to claim for the operator: NOT_FOUND; a token without an
	// operator cannot claim.
	if r := s.do("POST", "/v1/cases:claimNext", jsonType, []byte(`{}`), bearer(itToken)); r.Status != 200 {
		t.Fatalf("claim the given-back case: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases:claimNext", jsonType, []byte(`{}`), bearer(itToken)); r.Status != 404 {
		t.Fatalf("claim from an empty queue: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases:claimNext", jsonType, []byte(`{}`), bearer(adminToken)); r.Status != 400 {
		t.Fatalf("claim without an operator: %d %s", r.Status, r.Body)
	}
}

// TestIntegrationClaimAcrossInstances: two server instances on one
// database, many concurrent claimers on both: no case is claimed twice and
// no operator goes past capacity (op-it 20, supervisor 10).
func TestIntegrationClaimAcrossInstances(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		cfg := testConfig(t, b)
		if cfg.Database.DSN == "" {
			cfg.Database.DSN = filepath.Join(t.TempDir(), "shared.db")
		}
		one := startServer(t, cfg)
		cfg2 := cfg
		cfg2.DataDir = t.TempDir() // its own NATS, the same database
		two := startServer(t, cfg2)
		const n = 45
		for i := 0; i < n; i++ {
			one.submit(itSubmit)
		}
		one.waitForCases(n)

		var mu sync.Mutex
		claimed := map[string]string{}
		count := map[string]int{}
		var wg sync.WaitGroup
		for w := 0; w < 12; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				srv, token, op := one, itToken, "op-it"
				if w%2 == 1 {
					srv = two
				}
				if w%3 == 0 {
					token, op = supToken, "sup-contact-centre"
				}
				for {
					c, err := srv.grpcCases().ClaimNextCase(withToken(token), &casesv1.ClaimNextCaseRequest{Department: "it"})
					switch status.Code(err) {
					case codes.OK:
					case codes.Aborted:
						continue // lost a race: try again
					case codes.NotFound, codes.FailedPrecondition:
						return // nothing left, or at capacity
					default:
						t.Error(err)
						return
					}
					mu.Lock()
					if prev, dup := claimed[c.Id]; dup {
						t.Errorf("case %s claimed by %s and %s", c.Reference, prev, op)
					}
					claimed[c.Id] = op
					count[op]++
					mu.Unlock()
				}
			}(w)
		}
		wg.Wait()
		if count["op-it"] > 20 || count["sup-contact-centre"] > 10 {
			t.Fatalf("past capacity: %v", count)
		}
		if len(claimed) != 30 {
			t.Fatalf("%d cases claimed, want 30 (the two capacities)", len(claimed))
		}
		// The stored state agrees with what the claimers saw.
		stored := map[string]int{}
		for _, c := range one.allCases() {
			if c.Assignee != "" {
				stored[c.Assignee]++
				if claimed[c.Id] != c.Assignee {
					t.Fatalf("case %s is %q's, claimed by %q", c.Reference, c.Assignee, claimed[c.Id])
				}
			}
		}
		if fmt.Sprint(stored) != fmt.Sprint(count) {
			t.Fatalf("stored %v, claimed %v", stored, count)
		}
		ops, err := directoryv1.NewDirectoryServiceClient(two.conn).ListOperators(withToken(supToken), &directoryv1.ListOperatorsRequest{Department: "it"})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range ops.Operators {
			if int(o.OpenCases) != count[o.Id] {
				t.Fatalf("%s counter %d, claimed %d", o.Id, o.OpenCases, count[o.Id])
			}
		}
	})
}

// TestIntegrationAutoAssignment: with the demo's policies, an IT case
// (least_loaded) gets an operator by itself, with the reason recorded.
func TestIntegrationAutoAssignment(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, storetest.Backend{Name: "sqlite"})
	cfg.demoPolicy = ""
	cfg.SLA.interval = 20 * time.Millisecond
	s := startServer(t, cfg)
	s.submit(itSubmit)
	var c *casesv1.Case
	eventually(t, "the IT case assigned", func() bool {
		all := s.allCases()
		if len(all) == 1 && all[0].Assignee != "" {
			c = all[0]
			return true
		}
		return false
	})
	if c.Assignee != "op-it" || c.Status != casesv1.Status_STATUS_OPEN {
		t.Fatalf("assigned to %q, status %v", c.Assignee, c.Status)
	}
	var h casesv1.ListCaseEventsResponse
	if r := s.get("/v1/cases/"+c.Id+"/events", adminToken); jsonUnmarshalAny(r.Body, &h) != nil ||
		h.Events[1].Reason != "assigned automatically (least_loaded)" || h.Events[1].Actor != "system" {
		t.Fatalf("history = %v", h.Events)
	}
}
