package calls

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/contacts"
	"github.com/sportello/sportello/services/intake"
)

type fakeContacts map[string]contacts.Contact

func (f fakeContacts) SearchContacts(context.Context, contacts.Search, int) ([]contacts.Contact, error) {
	return nil, nil
}
func (f fakeContacts) GetContact(_ context.Context, id string) (contacts.Contact, error) {
	c, ok := f[id]
	if !ok {
		return c, contacts.ErrNotFound
	}
	return c, nil
}

// fakeIntake opens one case per external id, as intake's unique
// (channel, external id) does.
type fakeIntake struct{ byExt map[string]intake.Contact }

func (f *fakeIntake) Ingest(_ context.Context, cs []intake.Contact) ([]intake.Outcome, error) {
	out := make([]intake.Outcome, len(cs))
	for i, c := range cs {
		if _, ok := f.byExt[c.ExternalID]; !ok {
			f.byExt[c.ExternalID] = c
		}
		out[i] = intake.Outcome{CaseID: "case-" + c.ExternalID}
	}
	return out, nil
}

func TestRouteReply(t *testing.T) {
	people := fakeContacts{
		"anna":   {ID: "anna", Email: "anna@example.it", Phone: "+393331234567"},
		"luigi":  {ID: "luigi", Phone: "+390677776666"},
		"nobody": {ID: "nobody"},
	}
	in := &fakeIntake{byExt: map[string]intake.Contact{}}
	s := New(Deps{Contacts: people, Intake: in, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Channels: map[string]ChannelConfig{"centralino": {ReplyMailbox: "contatti"}, "sede-2": {}},
		Now:      func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) }})
	phoneCase := func(contact, channel string, version int64) cases.Case {
		return cases.Case{ID: "c-" + contact, Reference: "2026-000042", ChannelKind: "cti", ChannelID: channel, ContactID: contact,
			Department: "it", Version: version}
	}
	tests := []struct {
		name     string
		c        cases.Case
		kind, id string
		ok       bool
		refused  string // part of the error; "" for none
		callback bool
	}{
		{"not a phone case", cases.Case{ChannelKind: "email", ChannelID: "contatti", ContactID: "anna"}, "", "", false, "", false},
		{"citizen with e-mail", phoneCase("anna", "centralino", 1), "email", "contatti", true, "", false},
		{"citizen without e-mail", phoneCase("luigi", "centralino", 1), "", "", false, "no e-mail address", true},
		{"channel without mailbox", phoneCase("anna", "sede-2", 1), "", "", false, "no reply_mailbox", true},
		{"no e-mail, no phone", phoneCase("nobody", "centralino", 1), "", "", false, "no phone number", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(in.byExt)
			kind, id, ok, err := s.RouteReply(context.Background(), tt.c)
			if kind != tt.kind || id != tt.id || ok != tt.ok {
				t.Fatalf("got %q %q %v, want %q %q %v", kind, id, ok, tt.kind, tt.id, tt.ok)
			}
			switch {
			case tt.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.refused != "" && (!errors.Is(err, cases.ErrFailedPrecondition) || !strings.Contains(err.Error(), tt.refused)):
				t.Fatalf("error %v, want FailedPrecondition with %q", err, tt.refused)
			}
			if got := len(in.byExt) - before; (got == 1) != tt.callback {
				t.Fatalf("%d callback cases opened", got)
			}
		})
	}
	// A second refusal on the unchanged case opens no second callback;
	// once the case changed, a new refusal does.
	n := len(in.byExt)
	_, _, _, _ = s.RouteReply(context.Background(), phoneCase("luigi", "centralino", 1))
	if len(in.byExt) != n {
		t.Fatal("second refusal opened another callback")
	}
	_, _, _, _ = s.RouteReply(context.Background(), phoneCase("luigi", "centralino", 2))
	if len(in.byExt) != n+1 {
		t.Fatal("refusal after a change opened no callback")
	}
	cb := in.byExt["case/c-luigi/callback/1"]
	if cb.Department != "it" || cb.SenderPhone != "+390677776666" || len(cb.Tags) != 1 || cb.Tags[0] != CallbackTag {
		t.Fatalf("callback contact: %+v", cb)
	}
}
