package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/services/storage/storetest"
)

// TestIntegrationSLA: a new case gets its deadline from the department's
// policy, pauses while waiting for the citizen, and two replicas' timers
// announce its warning and breach once each.
func TestIntegrationSLA(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		var ahead atomic.Int64 // how far the timers' clock runs ahead
		cfg := testConfig(t, b)
		if cfg.Database.DSN == "" {
			cfg.Database.DSN = filepath.Join(t.TempDir(), "shared.db")
		}
		cfg.SLA.interval = 20 * time.Millisecond
		cfg.SLA.now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
		one := startServer(t, cfg)
		cfg2 := cfg
		cfg2.DataDir = t.TempDir()
		two := startServer(t, cfg2)

		one.submit(defaultSubmit) // statistics: 5 working days for a normal case
		c := one.waitForCases(1)[0]
		due := c.SlaDueTime.AsTime()
		// Five working days end at the earliest on the fifth day's close:
		// more than four calendar days ahead (from Monday morning), less
		// than five from Sunday evening.
		if c.SlaState != "ok" || due.Before(time.Now().Add(4*24*time.Hour)) || due.After(time.Now().Add(14*24*time.Hour)) {
			t.Fatalf("new case: state %q, due %v", c.SlaState, due)
		}
		change := func(st string) *casesv1.Case {
			body, _ := json.Marshal(map[string]string{"status": st})
			r := one.do("POST", "/v1/cases/"+c.Id+":changeStatus", jsonType, body, bearer(adminToken))
			var out casesv1.Case
			if r.Status != 200 || jsonUnmarshalAny(r.Body, &out) != nil {
				t.Fatalf("%s: %d %s", st, r.Status, r.Body)
			}
			return &out
		}
		if got := change("STATUS_PENDING_CITIZEN"); got.SlaState != "paused" {
			t.Fatalf("waiting for the citizen: state %q", got.SlaState)
		}
		if got := change("STATUS_OPEN"); got.SlaState != "ok" || got.SlaDueTime.AsTime().Before(due) {
			t.Fatalf("resumed: state %q, due %v (was %v)", got.SlaState, got.SlaDueTime.AsTime(), due)
		}

		// Sixty days later, for both replicas' timers.
		ahead.Store(int64(60 * 24 * time.Hour))
		var evs casesv1.ListCaseEventsResponse
		eventually(t, "the breach in the history", func() bool {
			r := two.get("/v1/cases/"+c.Id+"/events", adminToken)
			return jsonUnmarshalAny(r.Body, &evs) == nil && strings.Contains(string(r.Body), `"type":"sla_breached"`)
		})
		time.Sleep(200 * time.Millisecond) // ten more ticks on each replica
		r := two.get("/v1/cases/"+c.Id+"/events", adminToken)
		if err := jsonUnmarshalAny(r.Body, &evs); err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, e := range evs.Events {
			if _, ok := e.Changes["first_response_due"]; ok {
				count[e.Type+" (first response)"]++
				continue
			}
			count[e.Type]++
		}
		if count["sla_warning"] != 1 || count["sla_breached"] != 1 || count["sla_breached (first response)"] != 1 {
			t.Fatalf("announcements = %v, want one warning, one breach and one missed first response", count)
		}
		var total float64
		for _, s := range []*testServer{one, two} {
			m := s.get("/metrics", "")
			for _, line := range strings.Split(string(m.Body), "\n") {
				if strings.HasPrefix(line, `sportello_sla_events_total{type="sla_breached"}`) {
					var v float64
					_, _ = fmtSscan(strings.Fields(line)[1], &v)
					total += v
				}
			}
		}
		if total != 2 {
			t.Fatalf("breaches counted by the two replicas = %v, want 2 (resolution, first response)", total)
		}
	})
}
