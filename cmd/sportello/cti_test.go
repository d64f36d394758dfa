package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	adminv1 "github.com/sportello/sportello/api/sportello/admin/v1"
	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/channels/cti"
	"github.com/sportello/sportello/services/storage/storetest"
)

const ctiSecret = "cti-test-secret-0123456789abcdef-0123456789"

// ctiPost posts a signed event to the CTI webhook.
func (s *testServer) ctiPost(event string) response {
	s.t.Helper()
	return s.ctiPostAt(event, time.Now().Unix())
}

// ctiPostAt signs at ts: a PBX's retry is signed anew.
func (s *testServer) ctiPostAt(event string, ts int64) response {
	s.t.Helper()
	return s.do("POST", "/v1/channels/cti/centralino", jsonType, []byte(event), map[string]string{
		cti.TimestampHeader: strconv.FormatInt(ts, 10),
		cti.SignatureHeader: cti.Sign([]byte(ctiSecret), ts, []byte(event)),
	})
}

func ctiAnswer(t *testing.T, r response) cti.Answer {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("webhook: %d %s", r.Status, r.Body)
	}
	var a cti.Answer
	if err := json.Unmarshal(r.Body, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestIntegrationCTI drives a call centre through the webhook: the screen
// pop on newCall, the live notice to the answering operator, the call
// log, attaching a call to a case, one callback case for an unanswered
// call whatever the retries, a blocked caller and an outbound call.
func TestIntegrationCTI(t *testing.T) {
	t.Parallel()
	forEachBackend(t, testCTI)
}

func testCTI(t *testing.T, b storetest.Backend) {
	cfg := testConfig(t, b)
	cfg.CTI = cti.Settings{Channels: []cti.ChannelSettings{{ID: "centralino", Secret: ctiSecret, CallerID: "+39 06 4673 1",
		Queues: map[string]string{"informatica": "it", "statistica": "statistics"}}}}
	const statToken = "test-operator-statistics-0123456789"
	cfg.Auth.Tokens = append(cfg.Auth.Tokens, auth.StaticToken{Name: "op-statistics", SHA256: auth.HashToken(statToken),
		Role: auth.RoleOperator, Departments: []string{"statistics"}, Operator: "op-statistics"})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, cfg)

	// A citizen known by phone, with an open case in IT.
	body := `{"subject":"Accesso al portale","description":"Non riesco ad accedere.","department":"it","channelKind":"phone",` +
		`"contact":{"name":"Anna Bianchi","email":"anna.bianchi@example.it","phone":"+39 333 123 4567"},"requestId":"cti-seed"}`
	r := s.do("POST", "/v1/cases", jsonType, []byte(body), bearer(supToken))
	if r.Status != 200 {
		t.Fatalf("create case: %d %s", r.Status, r.Body)
	}
	open := r.JSON(t)
	caseID, contactID := open["id"].(string), open["contactId"].(string)
	// And one in statistics, which the IT operator's notices must not show.
	body = `{"subject":"Dati comunali","description":"Vorrei i dati del mio comune.","department":"statistics","channelKind":"phone",` +
		`"contact":{"name":"Anna Bianchi","email":"anna.bianchi@example.it","phone":"+39 333 123 4567"},"requestId":"cti-seed-2"}`
	if r := s.do("POST", "/v1/cases", jsonType, []byte(body), bearer(supToken)); r.Status != 200 || r.JSON(t)["contactId"] != contactID {
		t.Fatalf("create the statistics case: %d %s", r.Status, r.Body)
	}

	// The IT operator's console watches.
	ctx, cancel := context.WithCancel(withToken(itToken))
	defer cancel()
	stream, err := s.grpcCases().WatchQueue(ctx, &casesv1.WatchQueueRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatal(err)
	}
	nextCall := func() *casesv1.CallNotice {
		t.Helper()
		for {
			c, err := stream.Recv()
			if err != nil {
				t.Fatalf("watch: %v", err)
			}
			if c.Call != nil {
				return c.Call
			}
		}
	}

	// The same console over SSE, as a browser reads it.
	req, _ := http.NewRequest("GET", s.base+"/v1/queue/events", nil)
	req.Header.Set("Authorization", "Bearer "+itToken)
	sseCtx, stopSSE := context.WithCancel(context.Background())
	defer stopSSE()
	resp, err := s.client.Do(req.WithContext(sseCtx))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("SSE: %v %v", resp, err)
	}
	sse := bufio.NewScanner(resp.Body)

	// newCall: the screen pop names the caller and their open case (the
	// PBX gives the national number; the form had "+39 333 123 4567").
	pop := ctiAnswer(t, s.ctiPost(`{"event":"newCall","callId":"pbx-100","from":"333 1234567","to":"+39064673","queue":"informatica"}`))
	if pop.Action != "accept" || pop.Department != "it" || pop.Contact == nil || pop.Contact.ID != contactID || pop.Contact.Name != "Anna Bianchi" {
		t.Fatalf("screen pop: %+v", pop)
	}
	if len(pop.OpenCases) != 2 || pop.OpenCases[0].Reference == "" {
		t.Fatalf("screen pop cases (the PBX's, every department): %+v", pop.OpenCases)
	}
	if n := nextCall(); n.Type != "ringing" || n.Department != "it" || n.ContactId != contactID ||
		len(n.OpenCases) != 1 || n.OpenCases[0].Id != caseID {
		t.Fatalf("ringing notice (the IT operator's: IT cases only): %v", n)
	}
	// It showed the IT operator who is calling: that is in the access log.
	if r := s.get("/v1/access-log?contactId="+contactID+"&action=call.notice", adminToken); r.Status != 200 || !strings.Contains(string(r.Body), `"call.notice"`) {
		t.Fatalf("access log of the notice: %d %s", r.Status, r.Body)
	}
	sawSSE := false
	for !sawSSE && sse.Scan() {
		if sse.Text() == "event: call" && sse.Scan() {
			if !strings.Contains(sse.Text(), `"type":"ringing"`) || !strings.Contains(sse.Text(), contactID) {
				t.Fatalf("SSE call data: %s", sse.Text())
			}
			sawSSE = true
		}
	}
	if !sawSSE {
		t.Fatal("no call event over SSE")
	}
	stopSSE()
	// A retried newCall answers the same, once.
	if again := ctiAnswer(t, s.ctiPostAt(`{"event":"newCall","callId":"pbx-100","from":"+39 333 1234567","queue":"informatica"}`, time.Now().Unix()+1)); !again.Duplicate || again.Contact.ID != contactID {
		t.Fatalf("retried newCall: %+v", again)
	}

	// An operator id Sportello does not know is refused for good.
	if r := s.ctiPost(`{"event":"answer","callId":"pbx-100","operator":"agent-99"}`); r.Status != 422 || !strings.Contains(string(r.Body), "agent-99") {
		t.Fatalf("unknown operator: %d %s", r.Status, r.Body)
	}
	// answer: the operator who took it gets the screen pop live.
	ctiAnswer(t, s.ctiPost(`{"event":"answer","callId":"pbx-100","operator":"op-it","extension":"214"}`))
	n := nextCall()
	if n.Type != "answered" || n.Operator != "op-it" || len(n.OpenCases) != 1 || n.OpenCases[0].Id != caseID {
		t.Fatalf("answered notice: %v", n)
	}

	// hangup: the call log has it.
	ctiAnswer(t, s.ctiPost(`{"event":"hangup","callId":"pbx-100","cause":"normalClearing","duration":120,"recordingUrl":"https://pbx.example.it/r/100.wav"}`))
	r = s.get("/v1/contacts/"+contactID+"/calls", itToken)
	if r.Status != 200 {
		t.Fatalf("list calls: %d %s", r.Status, r.Body)
	}
	var log struct {
		Calls []map[string]any `json:"calls"`
	}
	_ = json.Unmarshal(r.Body, &log)
	if len(log.Calls) != 1 || log.Calls[0]["state"] != "ended" || log.Calls[0]["durationSeconds"] != float64(120) || log.Calls[0]["operator"] != "op-it" {
		t.Fatalf("call log: %s", r.Body)
	}
	callID := log.Calls[0]["id"].(string)
	// The staff read is in the access log.
	r = s.get("/v1/access-log?contactId="+contactID+"&action=calls.list", adminToken)
	if r.Status != 200 || !strings.Contains(string(r.Body), "calls.list") {
		t.Fatalf("access log: %d %s", r.Status, r.Body)
	}

	// AttachCall: the notes land on the case as an internal note, once.
	attach := []byte(`{"caseId":"` + caseID + `","notes":"Ha ricevuto le nuove credenziali."}`)
	for range 2 {
		r = s.do("POST", "/v1/calls/"+callID+":attach", jsonType, attach, bearer(itToken))
		if r.Status != 200 || r.JSON(t)["caseId"] != caseID {
			t.Fatalf("attach: %d %s", r.Status, r.Body)
		}
	}
	msgs := s.get("/v1/cases/"+caseID+"/messages", itToken)
	if c := strings.Count(string(msgs.Body), "Ha ricevuto le nuove credenziali."); c != 1 {
		t.Fatalf("%d notes on the case: %s", c, msgs.Body)
	}
	// Citizens are refused; another department's operator sees neither
	// the call nor the contact's call log, and cannot attach it.
	if r := s.get("/v1/calls/"+callID, citizenToken); r.Status != 403 {
		t.Fatalf("citizen GetCall: %d", r.Status)
	}
	if r := s.get("/v1/calls/"+callID, ""); r.Status != 401 {
		t.Fatalf("anonymous GetCall: %d", r.Status)
	}
	if r := s.get("/v1/calls/"+callID, statToken); r.Status != 404 {
		t.Fatalf("other department's GetCall: %d %s", r.Status, r.Body)
	}
	if r := s.get("/v1/contacts/"+contactID+"/calls", statToken); r.Status != 200 || strings.Contains(string(r.Body), callID) {
		t.Fatalf("other department's ListCalls: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/calls/"+callID+":attach", jsonType, attach, bearer(statToken)); r.Status != 404 {
		t.Fatalf("other department's AttachCall: %d %s", r.Status, r.Body)
	}
	if r := s.get("/v1/calls/"+callID, supToken); r.Status != 200 || r.JSON(t)["caseId"] != caseID {
		t.Fatalf("supervisor GetCall: %d %s", r.Status, r.Body)
	}

	// An unanswered call in a queue: one callback case, even when the
	// hangup comes twice.
	ctiAnswer(t, s.ctiPost(`{"event":"newCall","callId":"pbx-200","from":"06 9999 8888","queue":"statistica"}`))
	first := ctiAnswer(t, s.ctiPost(`{"event":"hangup","callId":"pbx-200","cause":"noAnswer","duration":0}`))
	second := ctiAnswer(t, s.ctiPostAt(`{"event":"hangup","callId":"pbx-200","cause":"noAnswer","duration":0}`, time.Now().Unix()+1))
	if first.CallbackCaseID == "" || second.CallbackCaseID != first.CallbackCaseID || !second.Duplicate {
		t.Fatalf("callbacks: %+v then %+v", first, second)
	}
	callbacks := s.restCases("department=statistics&tag=callback")
	if len(callbacks.Cases) != 1 || callbacks.Cases[0].Id != first.CallbackCaseID || !strings.Contains(callbacks.Cases[0].Subject, "0699998888") {
		t.Fatalf("callback cases in statistics: %v", callbacks.Cases)
	}
	// An AttachCall opening a new case from a call.
	ctiAnswer(t, s.ctiPost(`{"event":"newCall","callId":"pbx-300","from":"+39 06 7777 6666","queue":"informatica"}`))
	ctiAnswer(t, s.ctiPost(`{"event":"answer","callId":"pbx-300","operator":"op-it"}`))
	ctiAnswer(t, s.ctiPost(`{"event":"hangup","callId":"pbx-300","cause":"normalClearing","duration":30}`))
	newCallID := ""
	r = s.get("/v1/contacts:search?phone=%2B390677776666", adminToken)
	if cs, _ := r.JSON(t)["contacts"].([]any); r.Status != 200 || len(cs) != 0 {
		t.Fatalf("an unknown caller has a contact before any case: %s", r.Body)
	}
	// The operator finds the call through the ringing notice's id.
	for newCallID == "" {
		n := nextCall()
		if n.From == "+390677776666" && n.Type == "answered" {
			newCallID = n.CallId
		}
	}
	nb := []byte(`{"newCase":{"subject":"Password scaduta"},"notes":"Chiede il reset della password."}`)
	r = s.do("POST", "/v1/calls/"+newCallID+":attach", jsonType, nb, bearer(itToken))
	if r.Status != 200 || r.JSON(t)["caseId"] == "" {
		t.Fatalf("attach to a new case: %d %s", r.Status, r.Body)
	}
	newCase := r.JSON(t)["caseId"].(string)
	got := s.get("/v1/cases/"+newCase, itToken).JSON(t)
	if got["department"] != "it" || got["channelKind"] != "cti" || got["subject"] != "Password scaduta" {
		t.Fatalf("case from a call: %v", got)
	}

	// A reply on the phone case of a citizen without e-mail is refused,
	// and a callback task opened instead (once while the case stays as is).
	reply := []byte(`{"direction":"DIRECTION_OUTBOUND","bodyText":"La password è stata reimpostata."}`)
	for range 2 {
		r = s.do("POST", "/v1/cases/"+newCase+"/messages", jsonType, reply, bearer(itToken))
		if r.Status != 400 || !strings.Contains(string(r.Body), "no e-mail address") || !strings.Contains(string(r.Body), "callback") {
			t.Fatalf("reply on a phone case: %d %s", r.Status, r.Body)
		}
	}
	if cb := s.restCases("department=it&tag=callback"); len(cb.Cases) != 1 || !strings.Contains(cb.Cases[0].Subject, "+390677776666") {
		t.Fatalf("callback cases in it: %v", cb.Cases)
	}
	if msgs := s.get("/v1/cases/"+newCase+"/messages", itToken); strings.Contains(string(msgs.Body), "reimpostata") {
		t.Fatalf("the refused reply was stored: %s", msgs.Body)
	}

	// The blocked list: administrators only; a blocked caller is rejected.
	if r := s.do("POST", "/v1/blockedNumbers", jsonType, []byte(`{"number":"+39 06 5555 5555","reason":"molestie"}`), bearer(itToken)); r.Status != 403 {
		t.Fatalf("operator blocks: %d", r.Status)
	}
	if r := s.do("POST", "/v1/blockedNumbers", jsonType, []byte(`{"number":"+39 06 5555 5555","reason":"molestie"}`), bearer(adminToken)); r.Status != 200 {
		t.Fatalf("admin blocks: %d %s", r.Status, r.Body)
	}
	// However the PBX writes it, the number is the blocked one.
	if a := ctiAnswer(t, s.ctiPost(`{"event":"newCall","callId":"pbx-400","from":"0039 06 5555 5555"}`)); a.Action != "reject" {
		t.Fatalf("international prefix 00: %+v", a)
	}
	if a := ctiAnswer(t, s.ctiPost(`{"event":"newCall","callId":"pbx-402","from":"06 5555 5555"}`)); a.Action != "reject" {
		t.Fatalf("national number: %+v", a)
	}
	if a := ctiAnswer(t, s.ctiPost(`{"event":"newCall","callId":"pbx-401","from":"+39 06 5555-5555","queue":"statistica"}`)); a.Action != "reject" || a.Contact != nil {
		t.Fatalf("blocked caller: %+v", a)
	}
	if r := s.do("DELETE", "/v1/blockedNumbers/%2B390655555555", "", nil, bearer(adminToken)); r.Status != 200 {
		t.Fatalf("unblock: %d %s", r.Status, r.Body)
	}

	// The IVR choice routes by the routing rules when the queue is not mapped.
	rule := `{"name":"ivr ufficio stampa","position":1,"department":"communication","channelKind":"cti","ivrChoice":"3","enabled":true}`
	if r := s.do("POST", "/v1/routing-rules", jsonType, []byte(rule), bearer(adminToken)); r.Status != 200 {
		t.Fatalf("create IVR rule: %d %s", r.Status, r.Body)
	}
	if a := ctiAnswer(t, s.ctiPost(`{"event":"newCall","callId":"pbx-700","from":"+39 02 1234 5678","queue":"centralino","ivrChoice":"3"}`)); a.Department != "communication" {
		t.Fatalf("IVR routing: %+v", a)
	}
	if a := ctiAnswer(t, s.ctiPost(`{"event":"hangup","callId":"pbx-700","cause":"cancel"}`)); a.CallbackCaseID == "" {
		t.Fatalf("IVR-routed unanswered call: %+v", a)
	}
	if cb := s.restCases("department=communication&tag=callback"); len(cb.Cases) != 1 {
		t.Fatalf("callback cases in communication: %v", cb.Cases)
	}

	// Outbound: the configured caller id.
	if a := ctiAnswer(t, s.ctiPost(`{"event":"newCall","callId":"pbx-500","from":"214","to":"+39 333 1234567","direction":"outbound"}`)); a.CallerID != "+390646731" || a.Contact == nil || a.Contact.ID != contactID {
		t.Fatalf("outbound: %+v", a)
	}

	// A forged request is refused by the running server.
	ts := time.Now().Unix()
	forged := s.do("POST", "/v1/channels/cti/centralino", jsonType, []byte(`{"event":"newCall","callId":"x","from":"+3906"}`), map[string]string{
		cti.TimestampHeader: fmt.Sprint(ts), cti.SignatureHeader: cti.Sign([]byte("wrong-secret-wrong-secret-wrong-secret"), ts, []byte(`{"event":"newCall","callId":"x","from":"+3906"}`))})
	if forged.Status != 401 {
		t.Fatalf("forged: %d %s", forged.Status, forged.Body)
	}

	// The PBX is listed among the channels, with what it saw.
	r = s.get("/v1/admin/channels", adminToken)
	var list adminv1.ListChannelsResponse
	if r.Status != 200 || protojson.Unmarshal(r.Body, &list) != nil {
		t.Fatalf("ListChannels: %d %s", r.Status, r.Body)
	}
	var pbx *adminv1.Channel
	for _, c := range list.Channels {
		if c.Kind == "cti" && c.Id == "centralino" {
			pbx = c
		}
	}
	if pbx == nil || pbx.Health.ReceivedTotal < 10 || !strings.Contains(pbx.Health.LastError, "refused") || pbx.Health.Backlog != 0 ||
		pbx.WebhookPath != "/v1/channels/cti/centralino" {
		t.Fatalf("cti channel = %+v", pbx)
	}
}

// TestCTIConfig: a reply mailbox must be an e-mail mailbox, and a queue
// must map to an existing department (checked at start).
func TestCTIConfig(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, storetest.Backend{Name: "sqlite"})
	cfg.CTI = cti.Settings{Channels: []cti.ChannelSettings{{ID: "centralino", Secret: ctiSecret, ReplyMailbox: "nope"}}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `reply_mailbox "nope"`) {
		t.Fatalf("unknown reply mailbox: %v", err)
	}
	cfg.CTI.Channels[0].ReplyMailbox = ""
	cfg.CTI.Channels[0].Queues = map[string]string{"q": "no-such-department"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		a.stop(context.Background())
		t.Fatal("started with a queue of an unknown department")
	}
	if !strings.Contains(err.Error(), "no-such-department") {
		t.Fatalf("start: %v", err)
	}
}

// TestIntegrationCTIScreenPops checks every screen pop of a run of calls
// from several callers: each names its own caller and exactly that
// caller's open cases (at most 10, newest first), never another
// citizen's; an unknown number gets none. How fast the webhook answers is
// measured by `make bench BENCHFLAGS='-runs cti'` (docs/benchmarks.md).
func TestIntegrationCTIScreenPops(t *testing.T) {
	t.Parallel()
	forEachBackend(t, testCTIScreenPops)
}

func testCTIScreenPops(t *testing.T, b storetest.Backend) {
	cfg := testConfig(t, b)
	cfg.CTI = cti.Settings{Channels: []cti.ChannelSettings{{ID: "centralino", Secret: ctiSecret, Queues: map[string]string{"informatica": "it"}}}}
	s := startServer(t, cfg)

	type caller struct {
		name, written, from string // the number as a form had it, as the PBX sends it
		cases               int
		contactID           string
		caseIDs             []string // in creation order
	}
	callers := []*caller{
		{name: "Anna Bianchi", written: "+39 333 123 4567", from: "+393331234567", cases: 1},
		{name: "Luca Verdi", written: "+39 347 765 4321", from: "+393477654321", cases: 3},
		{name: "Carla Neri", written: "+39 06 1234 5678", from: "+390612345678", cases: 12},
		{name: "", from: "+393990000000"}, // no contact with this number
	}
	for j, c := range callers {
		for k := range c.cases {
			body := fmt.Sprintf(`{"subject":"Richiesta %d","description":"Vorrei i dati.","department":"it","channelKind":"phone",`+
				`"contact":{"name":%q,"phone":%q},"requestId":"pop-%d-%d"}`, k, c.name, c.written, j, k)
			r := s.do("POST", "/v1/cases", jsonType, []byte(body), bearer(supToken))
			if r.Status != 200 {
				t.Fatalf("create case: %d %s", r.Status, r.Body)
			}
			m := r.JSON(t)
			if k > 0 && m["contactId"] != c.contactID {
				t.Fatalf("%s's cases on two contacts: %s, %v", c.name, c.contactID, m["contactId"])
			}
			c.contactID = m["contactId"].(string)
			c.caseIDs = append(c.caseIDs, m["id"].(string))
		}
	}

	// Three rounds of calls, the callers interleaved.
	for i := range 3 * len(callers) {
		c := callers[i%len(callers)]
		a := ctiAnswer(t, s.ctiPost(fmt.Sprintf(`{"event":"newCall","callId":"pop-%d","from":%q,"queue":"informatica"}`, i, c.from)))
		if a.Action != "accept" || a.Department != "it" || a.Duplicate {
			t.Fatalf("call %d from %s: %+v", i, c.from, a)
		}
		if c.contactID == "" {
			if a.Contact != nil || len(a.OpenCases) != 0 {
				t.Fatalf("call %d from an unknown number has a screen pop: %+v", i, a)
			}
			continue
		}
		if a.Contact == nil || a.Contact.ID != c.contactID || a.Contact.Name != c.name || a.Contact.Phone != c.from {
			t.Fatalf("call %d from %s: contact %+v, want %s (%s)", i, c.from, a.Contact, c.contactID, c.name)
		}
		var want []string // newest first, at most 10
		for k := len(c.caseIDs) - 1; k >= 0 && len(want) < 10; k-- {
			want = append(want, c.caseIDs[k])
		}
		var got []string
		for _, oc := range a.OpenCases {
			got = append(got, oc.ID)
			if oc.Reference == "" || oc.Status != "new" || oc.Department != "it" {
				t.Fatalf("call %d: open case %+v", i, oc)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("call %d from %s: open cases %v, want %v", i, c.from, got, want)
		}
	}
}
