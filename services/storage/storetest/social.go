package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/contacts"
	"github.com/sportello/sportello/services/intake"
	"github.com/sportello/sportello/services/storage"
)

var socialTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"StatusCallbacksByExternalID", testStatusCallbacks},
	{"OutboundReachability", testOutboundReachability},
	{"MergeContacts", testMergeContacts},
}

// whatsApp is a contact of the WhatsApp channel "wa" from wa_id.
func whatsApp(waID string) intake.NewCase {
	nc := newCase("statistics", "")
	nc.ChannelKind, nc.ChannelID = "whatsapp", "wa"
	nc.ExternalID = "wamid." + uuid.NewString()
	nc.SenderEmail, nc.SenderPhone, nc.SenderHandle = "", "+"+waID, "whatsapp:"+waID
	return nc
}

// testStatusCallbacks: a provider's report names our message by the id the
// provider gave it; statuses only move forward.
func testStatusCallbacks(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	o := create(t, db, 2026, whatsApp("393331112222"))[0]
	m := reply(t, db, o.CaseID)
	if err := db.RecordDelivery(ctx, cases.Delivery{MessageID: m.ID, Status: cases.DeliverySent, ExternalID: "wamid.OURS"}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct{ status, want string }{
		{cases.DeliveryDelivered, "delivered"}, {cases.DeliverySent, "delivered"}, {cases.DeliveryRead, "read"},
		{cases.DeliveryDelivered, "read"}, {cases.DeliveryFailed, "failed"},
	} {
		if err := db.RecordDeliveryByExternalID(ctx, "whatsapp", "wa", "wamid.OURS", cases.Delivery{Status: step.status, Error: "x"}); err != nil {
			t.Fatalf("%s: %v", step.status, err)
		}
		if got := message(t, db, o.CaseID, m.ID).DeliveryStatus; got != step.want {
			t.Fatalf("after %s: %s, want %s", step.status, got, step.want)
		}
	}
	for _, tc := range []struct{ kind, channel, ext string }{{"whatsapp", "wa", "wamid.OTHER"}, {"whatsapp", "other", "wamid.OURS"},
		{"telegram", "wa", "wamid.OURS"}, {"whatsapp", "wa", ""}} {
		err := db.RecordDeliveryByExternalID(ctx, tc.kind, tc.channel, tc.ext, cases.Delivery{Status: cases.DeliveryRead})
		if !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("%+v: %v, want ErrNotFound", tc, err)
		}
	}
}

// testOutboundReachability: a queued reply carries the citizen's handle on
// its channel kind, their phone, and when they last wrote on the channel.
func testOutboundReachability(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	nc := whatsApp("393334445555")
	at := time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Second)
	nc.ReceivedAt = at
	o := create(t, db, 2026, nc)[0]
	m := reply(t, db, o.CaseID)
	var got *cases.OutboundReply
	for i := 0; i < 10 && got == nil; i++ {
		_, err := db.RelayOutbound(ctx, 100, func(rs []cases.OutboundReply) error {
			for i := range rs {
				if rs[i].ID == m.ID {
					got = &rs[i]
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if got == nil {
		t.Fatal("the reply was not relayed")
	}
	if got.ToHandle != "whatsapp:393334445555" || got.ToPhone != "+393334445555" || !got.LastInboundAt.Equal(at) {
		t.Fatalf("relayed reply: handle %q phone %q last inbound %v (want %v)", got.ToHandle, got.ToPhone, got.LastInboundAt, at)
	}
}

// testMergeContacts: cases, handles and missing identifiers move to the
// target, each moved case records it, the source is gone; two fiscal
// codes are two people.
func testMergeContacts(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	byMail := create(t, db, 2026, mail("lucia@example.it"))[0]
	byChat := create(t, db, 2026, whatsApp("393336667777"))[0]
	target, err := db.GetCase(ctx, byMail.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	source, err := db.GetCase(ctx, byChat.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	if target.ContactID == source.ContactID {
		t.Fatal("the two contacts are one already")
	}
	merged, err := db.MergeContacts(ctx, contacts.Merge{TargetID: target.ContactID, SourceID: source.ContactID, Actor: "sup", Reason: "stessa persona"})
	if err != nil {
		t.Fatal(err)
	}
	if merged.Email != "lucia@example.it" || merged.Phone != "+393336667777" || len(merged.Handles) != 1 || merged.Handles[0].Handle != "whatsapp:393336667777" {
		t.Fatalf("merged %+v", merged)
	}
	moved, err := db.GetCase(ctx, byChat.CaseID)
	if err != nil || moved.ContactID != target.ContactID {
		t.Fatalf("moved case %+v %v", moved, err)
	}
	if h := strings.Join(eventTypes(t, db, byChat.CaseID), "|"); !strings.Contains(h, "contact_merged") {
		t.Errorf("history %s", h)
	}
	if _, err := db.GetContact(ctx, source.ContactID); !errors.Is(err, contacts.ErrNotFound) {
		t.Errorf("source after the merge: %v", err)
	}
	// The merged identifiers now find the target: a new WhatsApp message
	// from that number is the same citizen.
	again := create(t, db, 2026, whatsApp("393336667777"))[0]
	if c, _ := db.GetCase(ctx, again.CaseID); c.ContactID != target.ContactID {
		t.Errorf("new message after the merge went to contact %s", c.ContactID)
	}

	one, err := db.ResolveCitizen(ctx, storage.CitizenLogin{FiscalCode: "RSSMRA80A01H501U", Name: "Mario Rossi"})
	if err != nil {
		t.Fatal(err)
	}
	two, err := db.ResolveCitizen(ctx, storage.CitizenLogin{FiscalCode: "VRDLCU85B41F205X", Name: "Lucia Verdi"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.MergeContacts(ctx, contacts.Merge{TargetID: one, SourceID: two, Actor: "sup", Reason: "x"}); !errors.Is(err, contacts.ErrDifferentPeople) {
		t.Errorf("different fiscal codes: %v", err)
	}
	if _, err := db.MergeContacts(ctx, contacts.Merge{TargetID: one, SourceID: uuid.NewString(), Actor: "sup", Reason: "x"}); !errors.Is(err, contacts.ErrNotFound) {
		t.Errorf("unknown source: %v", err)
	}
	// A contact with a fiscal code absorbs one without.
	if _, err := db.MergeContacts(ctx, contacts.Merge{TargetID: one, SourceID: target.ContactID, Actor: "sup", Reason: "x"}); err != nil {
		t.Errorf("merge into a SPID contact: %v", err)
	}
}
