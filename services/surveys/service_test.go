package surveys

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	surveysv1 "github.com/sportello/sportello/api/sportello/surveys/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/contacts"
)

// memStore is an in-memory Store and Invitations for the service's rules;
// the real stores run the storetest suite.
type memStore struct {
	Store
	queries        []Query
	optedOut       map[string]bool
	invited        map[string]Invitation
	messages       []cases.Message
	pending        map[string]Subject
	responses      []Response
	questionnaires []Questionnaire
}

func newMem() *memStore {
	return &memStore{optedOut: map[string]bool{}, invited: map[string]Invitation{}, pending: map[string]Subject{}}
}

func (m *memStore) Results(_ context.Context, q Query) ([]Cell, error) {
	m.queries = append(m.queries, q)
	return []Cell{{Version: 1, Department: "it", Responses: 10, EaseSum: 30}, {Version: 1, Department: "statistics", Responses: 3, EaseSum: 3}}, nil
}

func (m *memStore) SurveyOptedOut(_ context.Context, id string) (bool, error) {
	return m.optedOut[id], nil
}

func (m *memStore) CreateInvitation(_ context.Context, inv Invitation, msg cases.Message, fn cases.Mutation) (bool, error) {
	if _, ok := m.invited[inv.CaseID]; ok {
		return false, nil
	}
	if _, err := fn(&cases.Case{}); err != nil {
		return false, err
	}
	m.invited[inv.CaseID] = inv
	m.messages = append(m.messages, msg)
	m.pending[inv.TokenHash] = Subject{Category: inv.Category, Department: inv.Department, Channel: inv.CaseChannel}
	return true, nil
}

func (m *memStore) PendingSurvey(_ context.Context, h string, _ time.Time) (Subject, error) {
	s, ok := m.pending[h]
	if !ok {
		return Subject{}, ErrInvalidToken
	}
	return s, nil
}

func (m *memStore) Respond(_ context.Context, h string, r Response, _ time.Time) error {
	s, ok := m.pending[h]
	if !ok {
		return ErrInvalidToken
	}
	delete(m.pending, h)
	r.Category, r.Department, r.Channel = s.Category, s.Department, s.Channel
	m.responses = append(m.responses, r)
	return nil
}

func (m *memStore) ListQuestionnaires(context.Context) ([]Questionnaire, error) {
	out := slices.Clone(m.questionnaires)
	slices.Reverse(out)
	return out, nil
}

func (m *memStore) CreateQuestionnaire(_ context.Context, q Questionnaire) (Questionnaire, error) {
	q.Version = len(m.questionnaires) + 1
	m.questionnaires = append(m.questionnaires, q)
	return q, nil
}

func (m *memStore) GetQuestionnaire(_ context.Context, v int) (Questionnaire, error) {
	if v < 1 || v > len(m.questionnaires) {
		return Questionnaire{}, ErrNotFound
	}
	return m.questionnaires[v-1], nil
}

type caseMap map[string]cases.Case

func (c caseMap) GetCase(_ context.Context, id string) (cases.Case, error) {
	if k, ok := c[id]; ok {
		return k, nil
	}
	return cases.Case{}, cases.ErrNotFound
}

type contactMap map[string]contacts.Contact

func (c contactMap) GetContact(_ context.Context, id string) (contacts.Contact, error) {
	return c[id], nil
}

func TestResultsScopedToDepartments(t *testing.T) {
	store := newMem()
	srv := &Server{Service: &Service{Store: store}, Administration: "istat"}
	sup := auth.WithPrincipal(context.Background(), auth.Principal{Subject: "sup", Role: auth.RoleSupervisor, Departments: []string{"it", "triage"}})
	admin := auth.WithPrincipal(context.Background(), auth.Principal{Subject: "admin", Role: auth.RoleAdmin})

	resp, err := srv.GetSurveyResults(sup, &surveysv1.GetSurveyResultsRequest{GroupBy: []string{"Department"}})
	if err != nil {
		t.Fatal(err)
	}
	if q := store.queries[0]; !slices.Equal(q.Departments, []string{"it", "triage"}) || !q.Groups(ByDepartment) {
		t.Fatalf("supervisor query = %+v", q)
	}
	if len(resp.Rows) != 2 || resp.Rows[0].Suppressed || resp.Rows[0].EaseMean != 3 || !resp.Rows[1].Suppressed || resp.Rows[1].Responses != 0 ||
		resp.Rows[0].Administration != "istat" || resp.MinGroupSize != DefaultMinGroupSize {
		t.Fatalf("rows = %v", resp.Rows)
	}
	_, err = srv.GetSurveyResults(sup, &surveysv1.GetSurveyResultsRequest{Departments: []string{"statistics"}})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("another department: %v", err)
	}
	if _, err := srv.GetSurveyResults(admin, &surveysv1.GetSurveyResultsRequest{}); err != nil || store.queries[1].Departments != nil {
		t.Fatalf("admin query = %+v, %v", store.queries[1], err)
	}
	for _, bad := range []*surveysv1.GetSurveyResultsRequest{{GroupBy: []string{"operator"}}, {StartMonth: "2026-1"}} {
		if _, err := srv.GetSurveyResults(admin, bad); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%v: %v", bad, err)
		}
	}
	if _, err := srv.ExportSurveyResults(admin, &surveysv1.ExportSurveyResultsRequest{Format: "xml"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("xml export: %v", err)
	}
	body, err := srv.ExportSurveyResults(admin, &surveysv1.ExportSurveyResultsRequest{Format: "json"})
	if err != nil || body.ContentType != "application/json" || !strings.Contains(string(body.Data), `"administration": "istat"`) {
		t.Fatalf("json export = %v, %v", body, err)
	}
}

func TestQuestionnaireVersions(t *testing.T) {
	store := newMem()
	srv := &Server{Service: &Service{Store: store}}
	admin := auth.WithPrincipal(context.Background(), auth.Principal{Subject: "admin-7", Role: auth.RoleAdmin})
	q := questionnaireToProto(Default)
	q.EaseQuestion.It = "Quanto è stato semplice?"
	created, err := srv.CreateQuestionnaireVersion(admin, &surveysv1.CreateQuestionnaireVersionRequest{Questionnaire: q})
	if err != nil || created.Version != 2 || created.CreatedBy != "admin-7" {
		t.Fatalf("created = %v, %v", created, err)
	}
	list, err := srv.ListQuestionnaires(admin, &surveysv1.ListQuestionnairesRequest{})
	if err != nil || len(list.Questionnaires) != 2 || list.Questionnaires[0].Version != 2 || list.Questionnaires[1].EaseQuestion.It != Default.EaseQuestion.IT {
		t.Fatalf("list = %v, %v", list, err)
	}
	q.Difficulties = nil
	if _, err := srv.CreateQuestionnaireVersion(admin, &surveysv1.CreateQuestionnaireVersionRequest{Questionnaire: q}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("no difficulties: %v", err)
	}
}

func TestInviter(t *testing.T) {
	resolved := func(id, kind string, mut func(*cases.Case)) cases.Case {
		c := cases.Case{ID: id, Reference: "2026-0000" + id[len(id)-2:], Status: cases.StatusResolved, ChannelKind: kind, ChannelID: "x",
			ContactID: "contact-" + id, Department: "it", Category: "cat"}
		if mut != nil {
			mut(&c)
		}
		return c
	}
	cs := caseMap{}
	add := func(c cases.Case) string { cs[c.ID] = c; return c.ID }
	store := newMem()
	ppl := contactMap{}
	ok := add(resolved("0190a5a0-0000-7000-8000-000000000001", "email", nil))
	ppl["contact-"+ok] = contacts.Contact{Email: "a@example.it", DisplayName: "Anna"}
	merged := add(resolved("0190a5a0-0000-7000-8000-000000000002", "email", func(c *cases.Case) { c.Status, c.MergedInto = cases.StatusClosed, "x" }))
	spam := add(resolved("0190a5a0-0000-7000-8000-000000000003", "email", func(c *cases.Case) { c.Tags = []string{"spam"} }))
	reopened := add(resolved("0190a5a0-0000-7000-8000-000000000004", "email", func(c *cases.Case) { c.Status = cases.StatusOpen }))
	out := add(resolved("0190a5a0-0000-7000-8000-000000000005", "portal", nil))
	store.optedOut["contact-"+out] = true
	phoneNoMail := add(resolved("0190a5a0-0000-7000-8000-000000000006", "phone", nil))
	phone := add(resolved("0190a5a0-0000-7000-8000-000000000007", "phone", func(c *cases.Case) { c.Language = "en" }))
	ppl["contact-"+phone] = contacts.Contact{Email: "p@example.it"}
	web := add(resolved("0190a5a0-0000-7000-8000-000000000008", "webform", nil))
	ppl["contact-"+web] = contacts.Contact{Email: "w@example.it"}
	webNoMail := add(resolved("0190a5a0-0000-7000-8000-000000000009", "portal", nil)) // a SPID citizen without e-mail
	var counted []string
	iv := &Inviter{Cases: cs, Contacts: ppl, Store: store, BaseURL: "https://sportello.example.it/", EmailChannel: "contatti",
		Counted: func(o string) { counted = append(counted, o) }}
	tests := []struct{ id, want string }{
		{ok, "sent"}, {ok, "skipped_already_invited"}, {merged, "skipped_spam_or_duplicate"}, {spam, "skipped_spam_or_duplicate"},
		{reopened, "skipped_reopened"}, {out, "skipped_opted_out"}, {phoneNoMail, "skipped_no_address"}, {phone, "sent"},
		{web, "sent"}, {webNoMail, "sent"},
		{"0190a5a0-0000-7000-8000-000000000099", "skipped_no_case"},
	}
	for _, tt := range tests {
		if got, err := iv.Invite(context.Background(), tt.id); err != nil || got != tt.want {
			t.Errorf("Invite(%s) = %q, %v; want %q", tt.id, got, err, tt.want)
		}
	}
	if len(counted) != len(tests) || len(store.messages) != 4 {
		t.Fatalf("counted %v, %d messages", counted, len(store.messages))
	}
	m := store.messages[0]
	if m.Direction != cases.Outbound || m.Kind != InvitationKind || m.ChannelKind != "" || !strings.Contains(m.Body, "Gentile Anna") ||
		!strings.Contains(m.Body, "https://sportello.example.it/survey/") || !strings.Contains(m.Body, "/survey/opt-out/") {
		t.Fatalf("invitation = %+v", m)
	}
	if inv := store.invited[phone]; store.messages[1].ChannelKind != "email" || store.messages[1].ChannelID != "contatti" || inv.Channel != "email" ||
		inv.CaseChannel != "phone" || !strings.Contains(store.messages[1].Body, "?lang=en") {
		t.Fatalf("call-centre invitation = %+v, %+v", store.messages[1], inv)
	}

	// A web-form request is invited by e-mail; a portal one without an
	// address stays on the case, for the portal's banner.
	if m := store.messages[2]; m.ChannelKind != "email" || m.ChannelID != "contatti" || store.invited[web].CaseChannel != "webform" {
		t.Fatalf("web-form invitation = %+v", m)
	}
	if m := store.messages[3]; m.ChannelKind != "" || store.invited[webNoMail].Channel != "portal" {
		t.Fatalf("portal invitation without e-mail = %+v, %+v", m, store.invited[webNoMail])
	}

	// The citizen answers with the link's token; the response carries
	// what the token knew, masked, and the token works once.
	token := linkRE.FindStringSubmatch(m.Body)[1]
	svc := &Service{Store: store, Now: func() time.Time { return time.Date(2026, 3, 31, 23, 30, 0, 0, time.UTC) }, Location: time.FixedZone("CEST", 2*3600)}
	if _, err := svc.Open(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	_, _, ferrs, err := svc.Submit(context.Background(), token, map[string][]string{"ease": {"5"}, "comment": {"mail a@b.it"}})
	if err != nil || ferrs != nil {
		t.Fatal(err, ferrs)
	}
	r := store.responses[0]
	if r.Month != "2026-04" || r.Department != "it" || r.Channel != "email" || r.Comment != "mail [EMAIL]" || r.Version != 1 {
		t.Fatalf("response = %+v", r)
	}
	if _, _, _, err := svc.Submit(context.Background(), token, map[string][]string{"ease": {"5"}}); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("second submit: %v", err)
	}
	if _, err := svc.Open(context.Background(), "not-a-token"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("junk token: %v", err)
	}
}
