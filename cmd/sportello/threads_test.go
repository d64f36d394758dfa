package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	contactsv1 "github.com/sportello/sportello/api/sportello/contacts/v1"
	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
	"github.com/sportello/sportello/services/accesslog"
	"github.com/sportello/sportello/services/storage/storetest"
)

// submission is a web-form body about the IT department's category-less
// queue ("triage" routes by rules; "it" by the category).
func submission(email, subject, reference string) string {
	ref := ""
	if reference != "" {
		ref = fmt.Sprintf(`,"reference":%q`, reference)
	}
	return fmt.Sprintf(`{"name":"Maria Rossi","email":%q,"subject":%q,"message":"Messaggio su %s."%s}`, email, subject, subject, ref)
}

func (s *testServer) caseByID(id string) *casesv1.Case {
	s.t.Helper()
	c, err := s.grpcCases().GetCase(withToken(adminToken), &casesv1.GetCaseRequest{Id: id})
	if err != nil {
		s.t.Fatalf("GetCase %s: %v", id, err)
	}
	return c
}

func (s *testServer) messages(id string) []*casesv1.Message {
	s.t.Helper()
	r, err := s.grpcCases().ListMessages(withToken(adminToken), &casesv1.ListMessagesRequest{CaseId: id})
	if err != nil {
		s.t.Fatal(err)
	}
	return r.Messages
}

func (s *testServer) history(id string) string {
	s.t.Helper()
	r, err := s.grpcCases().ListCaseEvents(withToken(adminToken), &casesv1.ListCaseEventsRequest{CaseId: id})
	if err != nil {
		s.t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range r.Events {
		fmt.Fprintf(&b, "%s:%s|", e.Type, e.Reason)
	}
	return b.String()
}

func (s *testServer) setStatus(id string, st casesv1.Status) {
	s.t.Helper()
	if _, err := s.grpcCases().ChangeStatus(withToken(adminToken), &casesv1.ChangeStatusRequest{Id: id, Status: st}); err != nil {
		s.t.Fatalf("ChangeStatus %s: %v", st, err)
	}
}

// TestIntegrationFollowUps: a citizen's follow-ups through the web form's
// reference field, end to end through JetStream and intake.
func TestIntegrationFollowUps(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		cfg := testConfig(t, b)
		var skew atomic.Int64 // how far intake's clock runs ahead
		cfg.Intake.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		cfg.Intake.ReopenWindow = "14d"
		s := startServer(t, cfg)

		s.submit(submission("maria@example.it", "Accesso al portale", ""))
		first := s.waitForCases(1)[0]
		s.setStatus(first.Id, casesv1.Status_STATUS_PENDING_CITIZEN)

		// The reply, posted twice with the same Idempotency-Key: one message.
		reply := submission("Maria@example.it", "Re: accesso", first.Reference)
		for range 2 {
			r := s.do("POST", webformPath, jsonType, []byte(reply), map[string]string{"Idempotency-Key": "reply-1"})
			if r.Status != http.StatusAccepted {
				t.Fatalf("reply: %d %s", r.Status, r.Body)
			}
		}
		eventually(t, "the reply on the case", func() bool { return len(s.messages(first.Id)) == 2 })
		if c := s.caseByID(first.Id); c.Status != casesv1.Status_STATUS_OPEN {
			t.Fatalf("status after the reply = %s, want open", c.Status)
		}
		// A stranger who guesses the reference gets a case of their own.
		s.submit(submission("intruder@example.it", "Re: accesso", first.Reference))
		s.waitForCases(2)
		if len(s.messages(first.Id)) != 2 {
			t.Fatal("a stranger's message reached the citizen's case")
		}
		// Resolved: a reply within the window reopens it.
		s.setStatus(first.Id, casesv1.Status_STATUS_RESOLVED)
		s.submit(submission("maria@example.it", "Non funziona ancora", first.Reference))
		eventually(t, "the reopening", func() bool { return s.caseByID(first.Id).Status == casesv1.Status_STATUS_OPEN })
		contains(t, "history", s.history(first.Id), "status_changed:reopened by the citizen's reply")
		if n := len(s.allCases()); n != 2 {
			t.Fatalf("%d cases after the reopening reply, want 2", n)
		}
		// Closed, and the citizen writes 15 days later: a new, linked case.
		s.setStatus(first.Id, casesv1.Status_STATUS_RESOLVED)
		s.setStatus(first.Id, casesv1.Status_STATUS_CLOSED)
		skew.Store(int64(15 * 24 * time.Hour))
		s.submit(submission("maria@example.it", "Di nuovo", first.Reference))
		all := s.waitForCases(3)
		var followUp *casesv1.Case
		for _, c := range all {
			if c.Subject == "Di nuovo" {
				followUp = c
			}
		}
		if followUp == nil || followUp.ContactId != first.ContactId {
			t.Fatalf("follow-up case = %v", followUp)
		}
		got := s.caseByID(followUp.Id)
		if len(got.Links) != 1 || got.Links[0].CaseId != first.Id || got.Links[0].Kind != "follow_up" || got.Links[0].Direction != "outgoing" {
			t.Fatalf("follow-up links = %v", got.Links)
		}
		if old := s.caseByID(first.Id); old.Status != casesv1.Status_STATUS_CLOSED || len(old.Links) != 1 {
			t.Fatalf("old case = %s with links %v", old.Status, old.Links)
		}
		contains(t, "old history", s.history(first.Id), "more than 14 days ago")
		contains(t, "new history", s.history(followUp.Id), "more than 14 days ago")

		// "This citizen's other cases" in the queue.
		mine := s.restCases("contact_id=" + first.ContactId + "&order_by=create_time%20desc")
		if len(mine.Cases) != 2 || mine.Cases[0].Id != followUp.Id {
			t.Fatalf("contact_id filter = %v", mine.Cases)
		}
	})
}

// TestIntegrationMergeAndContacts: merge over REST keeps capacity right;
// contacts are read with an access-log entry, within departments.
func TestIntegrationMergeAndContacts(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		s := startServer(t, testConfig(t, b))
		cat := `{"name":"Gino","email":"gino@example.it","category":"%s","subject":"%s","message":"Il portale non funziona."}`
		s.submit(fmt.Sprintf(cat, "portal-account", "Portale"))
		s.submit(fmt.Sprintf(cat, "portal-account", "Portale bis"))
		s.submit(`{"name":"Other","email":"other@example.it","category":"portal-account","subject":"Altro","message":"x"}`)
		all := s.waitForCases(3)
		bySubject := map[string]*casesv1.Case{}
		for _, c := range all {
			bySubject[c.Subject] = c
		}
		target, source, other := bySubject["Portale"], bySubject["Portale bis"], bySubject["Altro"]
		if target == nil || source == nil || other == nil || target.Department != "it" {
			t.Fatalf("cases = %v", all)
		}
		if _, err := s.grpcCases().AssignCase(withToken(itToken), &casesv1.AssignCaseRequest{Id: source.Id, Assignee: "op-it"}); err != nil {
			t.Fatal(err)
		}
		openOf := func() int32 {
			ops, err := directoryv1.NewDirectoryServiceClient(s.conn).ListOperators(withToken(supToken), &directoryv1.ListOperatorsRequest{Department: "it"})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range ops.Operators {
				if o.Id == "op-it" {
					return o.OpenCases
				}
			}
			t.Fatal("no op-it")
			return 0
		}
		if n := openOf(); n != 1 {
			t.Fatalf("op-it open = %d", n)
		}
		client := s.grpcCases()
		for _, tt := range []struct {
			name string
			req  *casesv1.MergeCasesRequest
			want codes.Code
		}{
			{"no reason", &casesv1.MergeCasesRequest{SourceId: source.Id, TargetId: target.Id}, codes.InvalidArgument},
			{"other citizen", &casesv1.MergeCasesRequest{SourceId: other.Id, TargetId: target.Id, Reason: "x"}, codes.FailedPrecondition},
			{"stale etag", &casesv1.MergeCasesRequest{SourceId: source.Id, TargetId: target.Id, Reason: "x", SourceEtag: `W/"1"`}, codes.Aborted},
		} {
			if _, err := client.MergeCases(withToken(itToken), tt.req); status.Code(err) != tt.want {
				t.Fatalf("%s: %v, want %s", tt.name, err, tt.want)
			}
		}
		r := s.do("POST", "/v1/cases/"+target.Id+":merge", jsonType,
			[]byte(fmt.Sprintf(`{"sourceId":%q,"reason":"stessa richiesta"}`, source.Id)), map[string]string{"Authorization": "Bearer " + itToken})
		if r.Status != http.StatusOK {
			t.Fatalf("REST merge: %d %s", r.Status, r.Body)
		}
		contains(t, "merge response", string(r.Body), `"mergedInto":"`+target.Id+`"`)
		if n := openOf(); n != 0 {
			t.Fatalf("op-it open = %d after the merge, want 0", n)
		}
		if ms := s.messages(target.Id); len(ms) != 2 {
			t.Fatalf("target thread = %d messages, want 2", len(ms))
		}
		contains(t, "target history", s.history(target.Id), "merged:stessa richiesta")

		// Link and see it on the case.
		if _, err := client.LinkCases(withToken(itToken), &casesv1.LinkCasesRequest{Id: other.Id, LinkedCaseId: target.Id, Kind: "related"}); err != nil {
			t.Fatal(err)
		}
		if got := s.caseByID(target.Id); len(got.Links) != 1 || got.Links[0].CaseId != other.Id {
			t.Fatalf("target links = %v", got.Links)
		}

		// Contacts: the IT operator reads Gino's record; a log entry follows.
		contacts := contactsv1.NewContactServiceClient(s.conn)
		c, err := contacts.GetContact(withToken(itToken), &contactsv1.GetContactRequest{Id: target.ContactId})
		if err != nil || c.Email != "gino@example.it" {
			t.Fatalf("GetContact = %v, %v", c, err)
		}
		list, err := contacts.ListContactCases(withToken(itToken), &contactsv1.ListContactCasesRequest{ContactId: target.ContactId, PageSize: 1})
		if err != nil || len(list.Cases) != 1 || list.Cases[0].Id != source.Id || list.NextPageToken == "" {
			t.Fatalf("ListContactCases = %v, %v", list, err)
		}
		found := s.get("/v1/contacts:search?email=GINO@example.it", itToken)
		if found.Status != http.StatusOK || !strings.Contains(string(found.Body), target.ContactId) {
			t.Fatalf("REST search: %d %s", found.Status, found.Body)
		}
		// The staff access log, newest first.
		log, _, err := s.app.db.ListAccess(t.Context(), accesslog.Filter{ContactID: target.ContactId, Actor: "token:op-it"})
		if err != nil || len(log) != 3 || log[2].Actor != "token:op-it" || log[2].Action != "contact.read" ||
			log[1].Action != "contact.cases" || log[0].Action != "contact.search" {
			t.Fatalf("access log = %+v, %v", log, err)
		}
		// Out of the operator's departments: not found, and nothing logged.
		s.submit(`{"name":"Stat","email":"stat@example.it","category":"microdata","subject":"Microdati","message":"x"}`)
		var stat *casesv1.Case
		for _, c := range s.waitForCases(4) {
			if c.Department == "statistics" {
				stat = c
			}
		}
		if _, err := contacts.GetContact(withToken(itToken), &contactsv1.GetContactRequest{Id: stat.ContactId}); status.Code(err) != codes.NotFound {
			t.Fatalf("GetContact outside departments = %v", err)
		}
		if log, _, _ := s.app.db.ListAccess(t.Context(), accesslog.Filter{ContactID: stat.ContactId}); len(log) != 0 {
			t.Fatalf("a refused read was logged: %+v", log)
		}
		if r := s.get("/v1/contacts/"+stat.ContactId, citizenToken); r.Status != http.StatusForbidden {
			t.Fatalf("citizen reads a contact: %d", r.Status)
		}
	})
}
