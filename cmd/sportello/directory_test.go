package main

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
	"github.com/sportello/sportello/services/storage/storetest"
)

// TestIntegrationDirectoryAdmin: an administrator sets up a department
// with its own hours, a category, an SLA policy with a first-response
// target and an operator over REST; staff open a case by hand (REST and
// gRPC, idempotent); operators set their presence and hand work back;
// nobody else may change the directory.
func TestIntegrationDirectoryAdmin(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		s := startServer(t, testConfig(t, b))
		send := func(method, token, path string, body any) response {
			t.Helper()
			raw, _ := json.Marshal(body)
			return s.do(method, path, jsonType, raw, bearer(token))
		}
		expect := func(r response, code int, sub string) {
			t.Helper()
			if r.Status != code || !strings.Contains(string(r.Body), sub) {
				t.Fatalf("got %d %s; want %d containing %q", r.Status, r.Body, code, sub)
			}
		}

		dept := map[string]any{"id": "urp", "name": "Ufficio relazioni con il pubblico", "assignmentPolicy": "least_loaded",
			"workingHours": []map[string]string{{"day": "monday", "start": "09:00", "end": "13:00"}}}
		expect(send("POST", itToken, "/v1/departments", dept), 403, "")
		expect(send("POST", adminToken, "/v1/departments", dept), 200, `"assignmentPolicy":"least_loaded"`)
		expect(send("POST", adminToken, "/v1/departments", dept), 409, "exists")
		expect(send("POST", adminToken, "/v1/departments", map[string]any{"id": "Bad Id", "name": "x"}), 400, "lower-case")
		expect(send("PATCH", adminToken, "/v1/departments/urp", map[string]any{"workingHours": []map[string]string{{"day": "funday", "start": "09:00", "end": "10:00"}}}), 400, "unknown day")
		expect(send("PATCH", adminToken, "/v1/departments/urp", map[string]any{"sticky": true}), 200, `"sticky":true`)
		r := s.get("/v1/departments", "")
		expect(r, 200, `"id":"urp"`)

		expect(send("POST", adminToken, "/v1/categories", map[string]any{"code": "reclami", "name": "Reclami", "department": "nowhere"}), 400, "unknown department")
		expect(send("POST", adminToken, "/v1/categories", map[string]any{"code": "reclami", "name": "Reclami", "department": "urp", "defaultPriority": "high"}), 200, `"defaultPriority":"high"`)
		expect(send("PUT", adminToken, "/v1/sla-policies/urp/high", map[string]any{"resolutionMinutes": 60, "firstResponseMinutes": 90}), 400, "first_response_minutes")
		expect(send("PUT", adminToken, "/v1/sla-policies/urp/high", map[string]any{"resolutionMinutes": 600, "firstResponseMinutes": 30}), 200, `"firstResponseMinutes":30`)
		expect(s.get("/v1/sla-policies?department=urp", itToken), 200, `"resolutionMinutes":600`)
		// The public catalogue shows the expected resolution time.
		expect(s.get("/v1/categories", ""), 200, `"expectedResolutionMinutes":600`)

		op := map[string]any{"id": "op-urp", "displayName": "Luca Bianchi", "departments": []string{"urp", "it"}, "languages": []string{"it", "de"}, "presence": "online"}
		expect(send("POST", adminToken, "/v1/operators", op), 200, `"capacity":20`)
		expect(send("PATCH", adminToken, "/v1/operators/op-urp", map[string]any{"role": "root"}), 400, "role")
		expect(send("PATCH", adminToken, "/v1/operators/op-urp", map[string]any{"capacity": 3}), 200, `"capacity":3`)

		// A walk-in: the case is routed by category, gets the category's
		// priority, both deadlines, and the least_loaded operator.
		walkIn := map[string]any{"requestId": "sportello-1", "subject": "Reclamo", "description": "Il certificato non arriva.",
			"category": "reclami", "contact": map[string]string{"name": "Maria Rossi", "email": "maria@example.it"}, "tags": []string{"Reclamo"}}
		expect(send("POST", itToken, "/v1/cases", map[string]any{"description": "x", "category": "reclami", "contact": map[string]string{"name": "M"}}), 400, "email or a phone")
		expect(send("POST", itToken, "/v1/cases", map[string]any{"description": "x", "department": "urp", "contact": map[string]string{"name": "M", "email": "m@example.it"}}), 403, "urp")
		var created casesv1.Case
		r = send("POST", itToken, "/v1/cases", walkIn)
		if r.Status != 200 || jsonUnmarshalAny(r.Body, &created) != nil {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		if created.Department != "urp" || created.Priority != casesv1.Priority_PRIORITY_HIGH || created.ChannelKind != "walk_in" ||
			created.FirstResponseDueTime == nil || created.SlaDueTime == nil || strings.Join(created.Tags, ",") != "reclamo" {
			t.Fatalf("created = %v", &created)
		}
		var again casesv1.Case
		r = send("POST", itToken, "/v1/cases", walkIn)
		if r.Status != 200 || jsonUnmarshalAny(r.Body, &again) != nil || again.Id != created.Id {
			t.Fatalf("retry created another case: %s vs %s", again.Id, created.Id)
		}
		expect(s.get("/v1/cases?tag=reclamo&priority=high&channelKind=walk_in&category=reclami&slaState=ok", adminToken), 200, created.Id)
		expect(s.get("/v1/cases?tag=reclamo&priority=low", adminToken), 200, `"cases":[]`)
		expect(s.get("/v1/cases?slaState=late", adminToken), 400, "sla_state")
		expect(s.get("/v1/cases?priority=asap", adminToken), 400, "priority")
		// Over gRPC, for IT, by a supervisor; an unknown category is refused.
		g := s.grpcCases()
		c2, err := g.CreateCase(withToken(supToken), &casesv1.CreateCaseRequest{Description: "Non riesco ad accedere con SPID.",
			Department: "it", ChannelKind: "phone", Contact: &casesv1.CaseContact{Name: "Paolo Verdi", Phone: "+39 06 1234567"}})
		if err != nil || c2.Department != "it" || c2.ChannelKind != "phone" || c2.Subject != "Non riesco ad accedere con SPID." {
			t.Fatalf("gRPC create = %v, %v", c2, err)
		}
		if _, err := g.CreateCase(withToken(supToken), &casesv1.CreateCaseRequest{Description: "x", Category: "astrology",
			Contact: &casesv1.CaseContact{Name: "A", Email: "a@example.it"}}); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("unknown category: %v", err)
		}
		evs, err := g.ListCaseEvents(withToken(adminToken), &casesv1.ListCaseEventsRequest{CaseId: created.Id})
		if err != nil || evs.Events[0].Actor != "token:op-it" || !strings.Contains(evs.Events[0].Reason, "category") {
			t.Fatalf("history = %v, %v", evs, err)
		}

		// The auto-assigner gives the walk-in to op-urp, who then goes
		// away and hands it back (nobody has replied yet).
		eventually(t, "walk-in assigned", func() bool {
			c, err := g.GetCase(withToken(adminToken), &casesv1.GetCaseRequest{Id: created.Id})
			return err == nil && c.Assignee == "op-urp"
		})
		expect(send("POST", itToken, "/v1/operators/op-urp:setPresence", map[string]any{"presence": "away"}), 403, "own presence")
		expect(send("POST", itToken, "/v1/operators/op-statistics:setPresence", map[string]any{"presence": "away"}), 404, "")
		expect(send("POST", supToken, "/v1/operators/op-urp:setPresence", map[string]any{"presence": "sleeping"}), 400, "presence")
		r = send("POST", adminToken, "/v1/operators/op-urp:setPresence", map[string]any{"presence": "away", "handBack": true})
		expect(r, 200, created.Id)
		c, _ := g.GetCase(withToken(adminToken), &casesv1.GetCaseRequest{Id: created.Id})
		if c.Assignee != "" {
			t.Fatalf("handed-back case still with %q", c.Assignee)
		}
		// An operator sets their own presence.
		expect(send("POST", itToken, "/v1/operators/op-it:setPresence", map[string]any{"presence": "away"}), 200, `"presence":"away"`)

		// Routing rules can be edited; the field mask comes from the body.
		dc := directoryv1.NewDirectoryServiceClient(s.conn)
		rules, err := dc.ListRoutingRules(withToken(adminToken), &directoryv1.ListRoutingRulesRequest{})
		if err != nil || len(rules.Rules) == 0 {
			t.Fatal(rules, err)
		}
		id := rules.Rules[0].Id
		expect(send("PATCH", adminToken, "/v1/routing-rules/"+id, map[string]any{"enabled": false}), 200, `"name":"`+rules.Rules[0].Name)
		upd, err := dc.UpdateRoutingRule(withToken(adminToken), &directoryv1.UpdateRoutingRuleRequest{
			Rule: &directoryv1.RoutingRule{Id: id, Keywords: []string{"   "}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"keywords"}}})
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("rule without a searchable keyword: %v %v", upd, err)
		}
		if _, err := dc.UpdateRoutingRule(withToken(supToken), &directoryv1.UpdateRoutingRuleRequest{Rule: &directoryv1.RoutingRule{Id: id}}); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("supervisor edits a rule: %v", err)
		}
	})
}
