package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/storage"
)

var messageTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"AddMessageAndRelay", testAddMessageAndRelay},
}

func testAddMessageAndRelay(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	nc := newCase("it", "Maria.Rossi@Example.it")
	id := create(t, db, 2026, nc)[0].CaseID
	add := func(dir cases.Direction, body string) (cases.Message, error) {
		m := cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: dir, Body: body, AuthorName: "op-it"}
		got, _, err := db.AddMessage(ctx, id, m, cases.MessageAdded("op-it", m))
		return got, err
	}
	note, err := add(cases.InternalNote, "Verificare con il CED.")
	if err != nil || note.DeliveryStatus != "" {
		t.Fatalf("note = %+v, %v", note, err)
	}
	reply, err := add(cases.Outbound, "Buongiorno, abbiamo risolto.")
	if err != nil || reply.DeliveryStatus != "queued" || reply.ChannelKind != "webform" {
		t.Fatalf("reply = %+v, %v", reply, err)
	}
	if _, err := add(cases.Outbound, "  "); !errors.Is(err, cases.ErrInvalidArgument) {
		t.Fatalf("empty reply = %v", err)
	}
	thread, err := db.ListMessages(ctx, id, "", 10)
	if err != nil || len(thread) != 3 || thread[0].Direction != cases.Inbound || thread[1].ID != note.ID || thread[2].ID != reply.ID {
		t.Fatalf("thread = %+v, %v", thread, err)
	}
	// Only the reply is relayed, with what a channel needs to send it.
	var got []cases.OutboundReply
	n, err := db.RelayOutbound(ctx, 10, func(o []cases.OutboundReply) error { got = append(got, o...); return nil })
	if err != nil || n != 1 || len(got) != 1 {
		t.Fatalf("relayed %d (%v)", n, err)
	}
	o := got[0]
	if o.ID != reply.ID || o.ToEmail != "maria.rossi@example.it" || o.CaseReference == "" || len(o.InReplyTo) != 1 || o.InReplyTo[0] != nc.ExternalID {
		t.Fatalf("outbound = %+v", o)
	}
	if n, _ := db.RelayOutbound(ctx, 10, func([]cases.OutboundReply) error { return nil }); n != 0 {
		t.Fatalf("relayed again: %d", n)
	}
	// A closed case takes notes but no replies.
	for _, s := range []cases.Status{cases.StatusResolved, cases.StatusClosed} {
		if _, err := db.UpdateCase(ctx, id, 0, cases.ChangeStatus("op-it", s, "")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := add(cases.Outbound, "Ancora?"); !errors.Is(err, cases.ErrFailedPrecondition) {
		t.Fatalf("reply on a closed case = %v", err)
	}
	if _, err := add(cases.InternalNote, "Chiuso su richiesta."); err != nil {
		t.Fatalf("note on a closed case = %v", err)
	}
	evs, _ := db.ListCaseEvents(ctx, id, "", 20)
	added := 0
	for _, e := range evs {
		if e.Type == cases.EventMessageAdded {
			added++
		}
	}
	if added != 3 {
		t.Fatalf("%d message_added events, want 3", added)
	}
}
