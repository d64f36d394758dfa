package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sportello/sportello/channels/threadkey"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/contacts"
	"github.com/sportello/sportello/services/follow"
	"github.com/sportello/sportello/services/intake"
	"github.com/sportello/sportello/services/storage"
)

var emailTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"ContactFilesAndNotes", testContactFilesAndNotes},
	{"Acknowledgements", testAcknowledgements},
	{"RelayedAcknowledgements", testRelayedAcknowledgements},
	{"RecordDelivery", testRecordDelivery},
	{"BounceOfOurMessage", testBounceOfOurMessage},
	{"FollowUpBySubject", testFollowUpBySubject},
}

const (
	shaA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	shaB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// mail is a contact of the e-mail channel "contatti".
func mail(email string, keys ...string) intake.NewCase {
	nc := newCase("statistics", email)
	nc.ChannelKind, nc.ChannelID = "email", "contatti"
	nc.ExternalID = uuid.NewString() + "@mail.example.it"
	for _, k := range keys {
		key, err := threadkey.Parse(k)
		if err != nil {
			panic(err)
		}
		nc.Keys = append(nc.Keys, key)
	}
	return nc
}

// testContactFilesAndNotes: a contact's blob references become attachments
// of its message, its notes one system message after it, on a new case and
// on a follow-up alike.
func testContactFilesAndNotes(t *testing.T, db *storage.DB) {
	nc := mail("anna@example.it")
	nc.Attachments = []intake.Attachment{
		{SHA256: shaA, Size: 1200, ContentType: "message/rfc822", FileName: "original.eml", Original: true},
		{SHA256: shaB, Size: 34, ContentType: "application/pdf", FileName: "modulo.pdf"},
	}
	nc.Notes = []string{"The message has more than 1000 parts: only the first were read.", "The full original is attached."}
	o := create(t, db, 2026, nc)[0]
	ms := thread(t, db, o.CaseID)
	if len(ms) != 2 || ms[0].Direction != cases.Inbound || ms[1].Direction != cases.System {
		t.Fatalf("thread = %+v, want the inbound message then a system note", ms)
	}
	if ms[0].ExternalID != nc.ExternalID {
		t.Errorf("external id = %q, want %q", ms[0].ExternalID, nc.ExternalID)
	}
	if !strings.Contains(ms[1].Body, "more than 1000 parts") || !strings.Contains(ms[1].Body, "\nThe full original") {
		t.Errorf("note = %q", ms[1].Body)
	}
	if len(ms[0].Attachments) != 2 || ms[0].Attachments[0].FileName != "original.eml" || ms[0].Attachments[1].SHA256 != shaB ||
		ms[0].Attachments[1].MessageID != ms[0].ID || ms[0].Attachments[0].ContentType != "message/rfc822" {
		t.Fatalf("attachments = %+v", ms[0].Attachments)
	}
	a, err := db.GetAttachment(context.Background(), ms[0].Attachments[1].ID)
	if err != nil || a.CaseID != o.CaseID || a.Size != 34 {
		t.Fatalf("GetAttachment = %+v, %v", a, err)
	}

	// A follow-up by reference gets its files too.
	ref, err := db.GetCase(context.Background(), o.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	next := mail("anna@example.it", threadkey.Ref(ref.Reference))
	next.Attachments = []intake.Attachment{{SHA256: shaA, Size: 1200, ContentType: "message/rfc822", FileName: "original.eml", Original: true}}
	next.Notes = []string{"Part 3 was not kept: its type is not allowed."}
	o2 := ingest(t, db, intake.FollowUpRule{ReopenWindow: time.Hour}, next)[0]
	if o2.CaseID != o.CaseID || o2.Action != intake.ActionAppended {
		t.Fatalf("follow-up = %+v", o2)
	}
	ms = thread(t, db, o.CaseID)
	if len(ms) != 4 || len(ms[2].Attachments) != 1 || ms[3].Direction != cases.System || !strings.Contains(ms[3].Body, "Part 3") {
		t.Fatalf("thread after the follow-up = %+v", ms)
	}
}

// testAcknowledgements: a contact asking for it gets an acknowledgement
// queued for the OUTBOUND stream with its new case, rendered with the
// case's reference and department, at most Limit per citizen per Window;
// follow-ups and contacts not asking get none.
func testAcknowledgements(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	var asked []intake.AckRequest
	rule := intake.FollowUpRule{ReopenWindow: time.Hour, Acks: intake.Acknowledgements{Limit: 2, Window: time.Hour,
		Render: func(r intake.AckRequest) (string, bool) {
			asked = append(asked, r)
			return "Abbiamo ricevuto la sua richiesta " + r.Reference + " (" + r.Department + ").", true
		}}}
	ask := func(email string) intake.NewCase {
		nc := mail(email)
		nc.Acknowledge = true
		return nc
	}
	out := ingest(t, db, rule, ask("luca@example.it"), mail("luca@example.it"), ask("luca@example.it"), ask("luca@example.it"), ask("eva@example.it"))
	acked := map[int]bool{}
	for i, o := range out {
		for _, m := range thread(t, db, o.CaseID) {
			if m.Kind == intake.AckKind {
				acked[i] = true
				c, _ := db.GetCase(ctx, o.CaseID)
				if m.Direction != cases.Outbound || m.DeliveryStatus != "queued" || !strings.Contains(m.Body, c.Reference+" (statistics)") {
					t.Errorf("acknowledgement of case %d = %+v", i, m)
				}
			}
		}
	}
	// Luca asked three times and the limit is two; the second contact did
	// not ask.
	if !acked[0] || acked[1] || !acked[2] || acked[3] || !acked[4] {
		t.Fatalf("acknowledged = %v, want cases 0, 2 and 4", acked)
	}
	if len(asked) != 3 || asked[0].Language != "it" || asked[0].ChannelID != "contatti" {
		t.Fatalf("render requests = %+v", asked)
	}
	// Queued with the case: the relay hands them to the channel with the
	// citizen's address and the Message-ID they reply to.
	var replies []cases.OutboundReply
	if _, err := db.RelayOutbound(ctx, 100, func(rs []cases.OutboundReply) error { replies = append(replies, rs...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(replies) != 3 || replies[0].Kind != intake.AckKind || replies[0].ToEmail != "luca@example.it" ||
		len(replies[0].InReplyTo) != 1 || replies[0].InReplyTo[0] != thread(t, db, out[0].CaseID)[0].ExternalID {
		t.Fatalf("relayed = %+v", replies)
	}
	// An acknowledgement is not a first response.
	c, _ := db.GetCase(ctx, out[0].CaseID)
	if !c.FirstRespondedAt.IsZero() {
		t.Errorf("first response at %v after an acknowledgement", c.FirstRespondedAt)
	}
	// A follow-up does not get one.
	asked = nil
	next := ask("eva@example.it")
	next.Keys = []threadkey.Key{{Kind: threadkey.KindRef, Value: replies[2].CaseReference}}
	if o := ingest(t, db, rule, next)[0]; o.Action != intake.ActionAppended || len(asked) != 0 {
		t.Fatalf("follow-up = %+v, rendered %d acknowledgements", o, len(asked))
	}
}

// reply queues an operator's reply on case id and returns it.
func reply(t *testing.T, db *storage.DB, id string) cases.Message {
	t.Helper()
	m := cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: cases.Outbound, AuthorName: "op-stat", Body: "Ecco i dati."}
	m, _, err := db.AddMessage(context.Background(), id, m, cases.MessageAdded("op-stat", m))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func message(t *testing.T, db *storage.DB, caseID, id string) cases.Message {
	t.Helper()
	for _, m := range thread(t, db, caseID) {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("message %s not on case %s", id, caseID)
	return cases.Message{}
}

// testRecordDelivery: statuses move forward, a late report of an earlier
// attempt does not undo "sent" or "failed", the Message-ID is stored once,
// and a failure lands in the case history.
func testRecordDelivery(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	o := create(t, db, 2026, mail("gio@example.it"))[0]
	m := reply(t, db, o.CaseID)
	step := func(d cases.Delivery, status, errText, ext string) {
		t.Helper()
		d.MessageID = m.ID
		if err := db.RecordDelivery(ctx, d); err != nil {
			t.Fatalf("RecordDelivery(%+v): %v", d, err)
		}
		got := message(t, db, o.CaseID, m.ID)
		if got.DeliveryStatus != status || got.DeliveryError != errText || got.ExternalID != ext {
			t.Fatalf("after %+v: status %q error %q external id %q; want %q %q %q", d, got.DeliveryStatus, got.DeliveryError, got.ExternalID, status, errText, ext)
		}
	}
	ext := m.ID + "@sportello.example.it"
	step(cases.Delivery{Status: cases.DeliverySending, ExternalID: ext, Attempts: 1}, "sending", "", ext)
	step(cases.Delivery{Status: cases.DeliveryDeferred, Error: "451 4.3.0 try later", ExternalID: "other@x", Attempts: 1}, "deferred", "451 4.3.0 try later", ext)
	step(cases.Delivery{Status: cases.DeliverySent, Attempts: 2}, "sent", "", ext)
	step(cases.Delivery{Status: cases.DeliverySending, Attempts: 2}, "sent", "", ext) // late
	before, err := db.GetCase(ctx, o.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	step(cases.Delivery{Status: cases.DeliveryFailed, Error: "550 5.1.1 no such user"}, "failed", "550 5.1.1 no such user", ext)
	// A delivery status is not what staff edit: the failure is in the
	// history, the case's version (its etag) stays, so a change made on
	// a page drawn before the report still applies.
	if after, err := db.GetCase(ctx, o.CaseID); err != nil || after.Version != before.Version {
		t.Errorf("case version %d before the failure, %d after (%v)", before.Version, after.Version, err)
	}
	step(cases.Delivery{Status: cases.DeliveryDeferred, Error: "late"}, "failed", "550 5.1.1 no such user", ext)
	if h := strings.Join(eventTypes(t, db, o.CaseID), "|"); !strings.Contains(h, "delivery_failed:550 5.1.1 no such user") {
		t.Errorf("history = %s", h)
	}
	if err := db.RecordDelivery(ctx, cases.Delivery{MessageID: uuid.NewString(), Status: cases.DeliverySent}); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("unknown message: %v", err)
	}
	if err := db.RecordDelivery(ctx, cases.Delivery{MessageID: m.ID, Status: "lost"}); !errors.Is(err, cases.ErrInvalidArgument) {
		t.Errorf("unknown status: %v", err)
	}
}

// testBounceOfOurMessage: a bounce naming the Message-ID of our reply goes
// on that reply's case as a system message (with its files), marks the
// reply failed, and is deduplicated like any contact; a bounce of a
// message we never sent opens a case like any contact.
func testBounceOfOurMessage(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	o := create(t, db, 2026, mail("gio@example.it"))[0]
	m := reply(t, db, o.CaseID)
	ext := m.ID + "@sportello.example.it"
	if err := db.RecordDelivery(ctx, cases.Delivery{MessageID: m.ID, Status: cases.DeliverySent, ExternalID: ext}); err != nil {
		t.Fatal(err)
	}
	bounce := mail("mailer-daemon@mx.example.org")
	bounce.SenderName = "Mail Delivery System"
	bounce.Body = "This is the mail system at host mx.example.org."
	bounce.Attachments = []intake.Attachment{{SHA256: shaA, Size: 900, ContentType: "message/rfc822", FileName: "original.eml", Original: true}}
	bounce.DeliveryReport = &intake.DeliveryReport{MessageExternalID: ext, Action: "failed", Status: "5.1.1",
		Diagnostic: "smtp; 550 5.1.1 <gio@example.it>: Recipient address rejected", Recipients: []string{"gio@example.it"}}
	got := ingest(t, db, intake.FollowUpRule{}, bounce, bounce)
	if got[0].CaseID != o.CaseID || got[0].Action != intake.ActionAppended || !got[1].Duplicate {
		t.Fatalf("outcomes = %+v", got)
	}
	r := message(t, db, o.CaseID, m.ID)
	if r.DeliveryStatus != "failed" || !strings.Contains(r.DeliveryError, "Recipient address rejected") {
		t.Fatalf("reply after the bounce = %+v", r)
	}
	ms := thread(t, db, o.CaseID)
	last := ms[len(ms)-1]
	if last.Direction != cases.System || !strings.Contains(last.Body, "Delivery failed") || !strings.Contains(last.Body, "5.1.1") ||
		len(last.Attachments) != 1 || last.ExternalID != bounce.ExternalID {
		t.Fatalf("bounce message = %+v", last)
	}
	if h := strings.Join(eventTypes(t, db, o.CaseID), "|"); !strings.Contains(h, "delivery_failed:") {
		t.Errorf("history = %s", h)
	}
	// No citizen record for the mailer daemon.
	if found, err := db.SearchContacts(ctx, contacts.Search{Email: "mailer-daemon@mx.example.org"}, 10); err != nil || len(found) != 0 {
		t.Errorf("contacts of the bounce's sender = %+v, %v; want none", found, err)
	}

	stray := mail("mailer-daemon@mx.example.org")
	stray.DeliveryReport = &intake.DeliveryReport{MessageExternalID: "not-ours@elsewhere.example", Action: "failed"}
	if o := ingest(t, db, intake.FollowUpRule{}, stray)[0]; o.Action != intake.ActionCreated || o.CaseID == "" {
		t.Fatalf("stray bounce = %+v", o)
	}
}

// testFollowUpBySubject: same citizen and normalised subject within the
// window joins the case; another citizen, an expired window or a matching
// reference elsewhere wins over it.
func testFollowUpBySubject(t *testing.T, db *storage.DB) {
	subj := threadkey.Subject("richiesta tavole istat", 7)
	first := create(t, db, 2026, mail("sara@example.it", subj))[0]
	other := create(t, db, 2026, mail("ugo@example.it"))[0]
	otherCase, _ := db.GetCase(context.Background(), other.CaseID)
	rule := intake.FollowUpRule{ReopenWindow: time.Hour, Now: time.Now()}

	o := ingest(t, db, rule, mail("sara@example.it", subj))[0]
	if o.CaseID != first.CaseID || o.Action != intake.ActionAppended {
		t.Fatalf("same subject: %+v, want case %s", o, first.CaseID)
	}
	if o := ingest(t, db, rule, mail("pia@example.it", subj))[0]; o.Action != intake.ActionCreated {
		t.Fatalf("another citizen's same subject: %+v", o)
	}
	late := rule
	late.Now = time.Now().Add(8 * 24 * time.Hour)
	if o := ingest(t, db, late, mail("sara@example.it", subj))[0]; o.Action != intake.ActionCreated {
		t.Fatalf("after the window: %+v", o)
	}
	// Ugo's own reference beats his subject.
	ugoSubj := threadkey.Subject("richiesta tavole istat", 7)
	create(t, db, 2026, mail("ugo@example.it", ugoSubj))
	o = ingest(t, db, rule, mail("ugo@example.it", ugoSubj, threadkey.Ref(otherCase.Reference)))[0]
	if o.CaseID != other.CaseID {
		t.Fatalf("reference and subject: went to %s, want %s", o.CaseID, other.CaseID)
	}
}

// testRelayedAcknowledgements: a web-form case is acknowledged on the
// relay's channel (e-mail, the reply mailbox), once, with a follow link
// stored in the same transaction that opens the case to its new case only,
// valid for LinkTTL; a contact without an address gets none.
func testRelayedAcknowledgements(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	var asked []intake.AckRequest
	rule := intake.FollowUpRule{ReopenWindow: time.Hour, Acks: intake.Acknowledgements{LinkTTL: 48 * time.Hour,
		Relay: func(kind string) (string, string, bool) { return "email", "dati", kind == "webform" },
		Render: func(r intake.AckRequest) (string, bool) {
			asked = append(asked, r)
			return "Pratica " + r.Reference + ": /follow/" + r.FollowToken, true
		}}}
	web := func(email string) intake.NewCase {
		nc := newCase("statistics", email)
		nc.Acknowledge = email != "" // as intake.Service sets it for relayed channels
		return nc
	}
	out := ingest(t, db, rule, web("anna@example.it"), web(""))
	if len(asked) != 1 || asked[0].FollowToken == "" || asked[0].ChannelKind != "webform" {
		t.Fatalf("render requests = %+v", asked)
	}
	var ack cases.Message
	for _, m := range thread(t, db, out[0].CaseID) {
		if m.Kind == intake.AckKind {
			ack = m
		}
	}
	if ack.ChannelKind != "email" || ack.ChannelID != "dati" || ack.Direction != cases.Outbound || !strings.Contains(ack.Body, asked[0].FollowToken) {
		t.Fatalf("acknowledgement = %+v", ack)
	}
	for _, m := range thread(t, db, out[1].CaseID) {
		if m.Kind == intake.AckKind {
			t.Fatalf("acknowledgement without an address: %+v", m)
		}
	}
	now := time.Now()
	l, err := db.FollowLink(ctx, follow.HashToken(asked[0].FollowToken), now)
	if err != nil || l.CaseID != out[0].CaseID || l.MessageID != ack.ID || l.ExpiresAt.Sub(now) < 47*time.Hour || !l.ExpiresAt.Equal(asked[0].FollowExpires) {
		t.Fatalf("follow link = %+v, %v", l, err)
	}
	if _, err := db.FollowLink(ctx, follow.HashToken(asked[0].FollowToken), now.Add(49*time.Hour)); !errors.Is(err, follow.ErrInvalidToken) {
		t.Fatalf("link after its TTL: %v", err)
	}
	var replies []cases.OutboundReply
	if _, err := db.RelayOutbound(ctx, 100, func(rs []cases.OutboundReply) error { replies = append(replies, rs...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(replies) != 1 || replies[0].Kind != intake.AckKind || replies[0].ToEmail != "anna@example.it" {
		t.Fatalf("relayed = %+v", replies)
	}
}
