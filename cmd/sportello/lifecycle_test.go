package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/services/events"
	"github.com/sportello/sportello/services/storage/storetest"
)

// TestIntegrationLifecycleAndHistory changes a case's status over REST and
// gRPC, and finds every change in its history and on CASE_EVENTS.
func TestIntegrationLifecycleAndHistory(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		cfg := testConfig(t, b)
		// Resolving invites the citizen to a survey, a message on the
		// case at a moment of its own (surveys_test.go): not this test's
		// history.
		cfg.Surveys.Disabled = true
		s := startServer(t, cfg)
		s.submit(strings.Replace(defaultSubmit, "microdata", "portal-account", 1)) // IT
		c := s.waitForCases(1)[0]
		admin := map[string]string{"Authorization": "Bearer " + adminToken}
		it := map[string]string{"Authorization": "Bearer " + itToken}
		change := func(hdr map[string]string, st, etag, reason string) response {
			body, _ := json.Marshal(map[string]string{"status": st, "etag": etag, "reason": reason})
			return s.do("POST", "/v1/cases/"+c.Id+":changeStatus", jsonType, body, hdr)
		}

		// The IT operator opens it over REST, with the etag they read.
		r := change(it, "STATUS_OPEN", c.Etag, "presa in carico")
		if r.Status != 200 || !strings.Contains(string(r.Body), `"status":"STATUS_OPEN"`) {
			t.Fatalf("open: %d %s", r.Status, r.Body)
		}
		// A stale etag is a conflict (ABORTED → 409).
		if r := change(it, "STATUS_RESOLVED", c.Etag, ""); r.Status != http.StatusConflict {
			t.Fatalf("stale etag: %d %s", r.Status, r.Body)
		}
		// Over gRPC: resolve, then close.
		for _, st := range []casesv1.Status{casesv1.Status_STATUS_RESOLVED, casesv1.Status_STATUS_CLOSED} {
			if _, err := s.grpcCases().ChangeStatus(withToken(itToken), &casesv1.ChangeStatusRequest{Id: c.Id, Status: st, Reason: "fatto"}); err != nil {
				t.Fatalf("%v: %v", st, err)
			}
		}
		// Closed is final: FAILED_PRECONDITION (400) naming what is allowed.
		r = change(admin, "STATUS_OPEN", "", "")
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "cannot change status from closed to open") {
			t.Fatalf("reopen closed: %d %s", r.Status, r.Body)
		}
		_, err := s.grpcCases().ChangeStatus(withToken(adminToken), &casesv1.ChangeStatusRequest{Id: c.Id, Status: casesv1.Status_STATUS_OPEN})
		if status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("gRPC reopen closed: %v", err)
		}
		if r := change(admin, "STATUS_UNSPECIFIED", "", ""); r.Status != http.StatusBadRequest {
			t.Fatalf("no status: %d", r.Status)
		}

		// History: created (with the routing reason) and three changes.
		var h casesv1.ListCaseEventsResponse
		r = s.get("/v1/cases/"+c.Id+"/events", itToken)
		if r.Status != 200 || jsonUnmarshalAny(r.Body, &h) != nil {
			t.Fatalf("events: %d %s", r.Status, r.Body)
		}
		var got []string
		for _, e := range h.Events {
			got = append(got, e.Type+":"+e.Changes["status"].GetAfter())
		}
		if fmt.Sprint(got) != "[created:new status_changed:open status_changed:resolved status_changed:closed]" {
			t.Fatalf("history = %v", got)
		}
		if h.Events[0].Reason != `routed to it by category "portal-account"` || h.Events[1].Actor != "token:op-it" || h.Events[1].Reason != "presa in carico" {
			t.Fatalf("history details = %v", h.Events[:2])
		}

		// The same four events reach CASE_EVENTS, each once, in order.
		js, _ := jetstream.New(s.app.nc)
		cons, err := js.OrderedConsumer(context.Background(), events.CaseEventsStream, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		var relayed []string
		eventually(t, "4 events on CASE_EVENTS", func() bool {
			batch, err := cons.Fetch(10, jetstream.FetchMaxWait(200*time.Millisecond))
			if err != nil {
				return false
			}
			for m := range batch.Messages() {
				var e casesv1.CaseEvent
				if err := proto.Unmarshal(m.Data(), &e); err != nil {
					t.Fatal(err)
				}
				if m.Subject() != "sportello.case."+e.Type || m.Headers().Get(jetstream.MsgIDHeader) != e.Id {
					t.Fatalf("subject %s, msg id %s for event %v", m.Subject(), m.Headers().Get(jetstream.MsgIDHeader), &e)
				}
				relayed = append(relayed, e.Id)
			}
			return len(relayed) >= 4
		})
		for i, e := range h.Events {
			if relayed[i] != e.Id {
				t.Fatalf("relayed %v, history %v", relayed, h.Events)
			}
		}
	})
}

// TestIntegrationLifecycleAuthorization: only staff of the case's
// department change it or read its history.
func TestIntegrationLifecycleAuthorization(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, storetest.Backend{Name: "sqlite"}))
	s.submit(defaultSubmit) // statistics
	c := s.waitForCases(1)[0]
	body := []byte(`{"status":"STATUS_OPEN"}`)
	for token, want := range map[string]int{"": 401, citizenToken: 403, itToken: 404} {
		h := map[string]string{}
		if token != "" {
			h["Authorization"] = "Bearer " + token
		}
		if r := s.do("POST", "/v1/cases/"+c.Id+":changeStatus", jsonType, body, h); r.Status != want {
			t.Errorf("changeStatus with %q: %d, want %d", token, r.Status, want)
		}
		if r := s.get("/v1/cases/"+c.Id+"/events", token); r.Status != want {
			t.Errorf("events with %q: %d, want %d", token, r.Status, want)
		}
	}
	if got, _ := s.grpcCases().GetCase(withToken(adminToken), &casesv1.GetCaseRequest{Id: c.Id}); got.Status != casesv1.Status_STATUS_NEW {
		t.Fatalf("a refused change was applied: %v", got.Status)
	}
}

// TestIntegrationUpdateCase: PATCH with a field mask inferred from the
// body, the etag guarding it, and a new priority moving the deadline.
func TestIntegrationUpdateCase(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, storetest.Backend{Name: "sqlite"}))
	s.submit(defaultSubmit)
	c := s.waitForCases(1)[0]
	patch := func(body map[string]string) response {
		b, _ := json.Marshal(body)
		return s.do("PATCH", "/v1/cases/"+c.Id, jsonType, b, bearer(adminToken))
	}
	r := patch(map[string]string{"priority": "PRIORITY_URGENT", "etag": c.Etag})
	var got casesv1.Case
	if r.Status != 200 || jsonUnmarshalAny(r.Body, &got) != nil || got.Priority != casesv1.Priority_PRIORITY_URGENT {
		t.Fatalf("patch priority: %d %s", r.Status, r.Body)
	}
	if !got.SlaDueTime.AsTime().Before(c.SlaDueTime.AsTime()) {
		t.Fatalf("urgent deadline %v is not before the normal one %v", got.SlaDueTime.AsTime(), c.SlaDueTime.AsTime())
	}
	if r := patch(map[string]string{"subject": "Nuovo oggetto", "etag": c.Etag}); r.Status != 409 {
		t.Fatalf("stale etag: %d %s", r.Status, r.Body)
	}
	if r := patch(map[string]string{"category": "astrology"}); r.Status != 400 || !strings.Contains(string(r.Body), "unknown category") {
		t.Fatalf("unknown category: %d %s", r.Status, r.Body)
	}
	if r := patch(map[string]string{"category": "eu-data", "subject": "Dati Eurostat"}); r.Status != 200 || !strings.Contains(string(r.Body), `"category":"eu-data"`) {
		t.Fatalf("category and subject: %d %s", r.Status, r.Body)
	}
	_, err := s.grpcCases().UpdateCase(withToken(adminToken), &casesv1.UpdateCaseRequest{
		Case: &casesv1.Case{Id: c.Id, Status: casesv1.Status_STATUS_CLOSED}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "updatable: subject, priority, category") {
		t.Fatalf("status through UpdateCase = %v", err)
	}
	var h casesv1.ListCaseEventsResponse
	if r := s.get("/v1/cases/"+c.Id+"/events", adminToken); jsonUnmarshalAny(r.Body, &h) != nil || h.Events[1].Type != "updated" ||
		h.Events[1].Changes["priority"].GetAfter() != "urgent" {
		t.Fatalf("history = %v", h.Events)
	}
}
