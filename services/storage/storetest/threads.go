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
	"github.com/sportello/sportello/services/intake"
	"github.com/sportello/sportello/services/storage"
)

var threadTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"FollowUpByReference", testFollowUpByReference},
	{"FollowUpReopenWindow", testFollowUpReopenWindow},
	{"FollowUpStranger", testFollowUpStranger},
	{"ContactsAcrossChannels", testContactsAcrossChannels},
	{"MergeCases", testMergeCases},
	{"LinkCases", testLinkCases},
}

// followUp is a contact from email answering with keys.
func followUp(email string, keys ...string) intake.NewCase {
	nc := newCase("triage", email)
	nc.Body = "Ecco il documento richiesto, grazie."
	for _, k := range keys {
		key, err := threadkey.Parse(k)
		if err != nil {
			panic(err)
		}
		nc.Keys = append(nc.Keys, key)
	}
	return nc
}

func ingest(t *testing.T, db *storage.DB, rule intake.FollowUpRule, ncs ...intake.NewCase) []intake.Outcome {
	t.Helper()
	out, err := db.CreateCases(context.Background(), 2026, ncs, rule)
	if err != nil {
		t.Fatalf("CreateCases: %v", err)
	}
	return out
}

func eventTypes(t *testing.T, db *storage.DB, id string) []string {
	t.Helper()
	evs, err := db.ListCaseEvents(context.Background(), id, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, string(e.Type)+":"+e.Reason)
	}
	return out
}

func thread(t *testing.T, db *storage.DB, id string) []cases.Message {
	t.Helper()
	ms, err := db.ListMessages(context.Background(), id, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func testFollowUpByReference(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	first := newCase("it", "maria@example.it")
	o := create(t, db, 2026, first)[0]
	if _, err := db.UpdateCase(ctx, o.CaseID, 0, cases.ChangeStatus("op", cases.StatusPendingCitizen, "")); err != nil {
		t.Fatal(err)
	}
	rule := intake.FollowUpRule{Now: time.Now(), ReopenWindow: 14 * 24 * time.Hour}
	reply := followUp("Maria@Example.it", threadkey.Ref(o.Reference))
	got := ingest(t, db, rule, reply)[0]
	if got.CaseID != o.CaseID || got.Action != intake.ActionAppended || got.Duplicate {
		t.Fatalf("follow-up outcome = %+v, want appended to %s", got, o.CaseID)
	}
	c, _ := db.GetCase(ctx, o.CaseID)
	if c.Status != cases.StatusOpen {
		t.Fatalf("status after the citizen's reply = %s, want open", c.Status)
	}
	// Redelivered, alone and twice in a batch: stored once.
	again := ingest(t, db, rule, reply, reply)
	if !again[0].Duplicate || again[0].CaseID != o.CaseID || !again[1].Duplicate {
		t.Fatalf("redelivered follow-up = %+v", again)
	}
	// A message key finds the case by its first message's external id, and
	// the reply is searchable on the case.
	byMsg := followUp("maria@example.it", "msg:nope", threadkey.Message(first.ExternalID))
	byMsg.Body = "Allego il modulo protocollato."
	if got := ingest(t, db, rule, byMsg)[0]; got.CaseID != o.CaseID || got.Action != intake.ActionAppended {
		t.Fatalf("follow-up by message id = %+v", got)
	}
	if ms := thread(t, db, o.CaseID); len(ms) != 3 || ms[1].Body != reply.Body || ms[2].Direction != cases.Inbound {
		t.Fatalf("thread = %+v", ms)
	}
	found, err := db.ListCases(ctx, cases.Query{Text: "protocollato", Limit: 10})
	if err != nil || len(found) != 1 || found[0].ID != o.CaseID {
		t.Fatalf("search for the follow-up's words = %v, %v", found, err)
	}
	evs := eventTypes(t, db, o.CaseID)
	want := []string{"created:", "status_changed:", "message_added:", "status_changed:the citizen replied", "message_added:"}
	if strings.Join(evs, "|") != strings.Join(want, "|") {
		t.Fatalf("history = %q\nwant %q", evs, want)
	}
}

func testFollowUpReopenWindow(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	withCapacity(t, db, "op-it", 5)
	o := create(t, db, 2026, newCase("it", "luca@example.it"))[0]
	for _, m := range []cases.Mutation{cases.Assign("sup", "op-it", ""), cases.ChangeStatus("op-it", cases.StatusResolved, "")} {
		if _, err := db.UpdateCase(ctx, o.CaseID, 0, m); err != nil {
			t.Fatal(err)
		}
	}
	if n := openCases(t, db)["op-it"]; n != 0 {
		t.Fatalf("op-it has %d open cases after resolving, want 0", n)
	}
	window := 14 * 24 * time.Hour
	for _, tt := range []struct {
		name       string
		after      time.Duration
		wantAction intake.Action
		wantNew    bool
	}{
		{"within the window", time.Hour, intake.ActionReopened, false},
		{"after the window", window + time.Hour, intake.ActionCreated, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if c, _ := db.GetCase(ctx, o.CaseID); c.Status != cases.StatusResolved {
				if _, err := db.UpdateCase(ctx, o.CaseID, 0, cases.ChangeStatus("op-it", cases.StatusResolved, "")); err != nil {
					t.Fatal(err)
				}
			}
			rule := intake.FollowUpRule{Now: time.Now().Add(tt.after), ReopenWindow: window}
			got := ingest(t, db, rule, followUp("luca@example.it", threadkey.Ref(o.Reference)))[0]
			if got.Action != tt.wantAction || (got.CaseID != o.CaseID) == !tt.wantNew {
				t.Fatalf("outcome = %+v", got)
			}
			c, _ := db.GetCase(ctx, o.CaseID)
			if !tt.wantNew {
				if c.Status != cases.StatusOpen || openCases(t, db)["op-it"] != 1 {
					t.Fatalf("reopened case = %s, op-it open %d", c.Status, openCases(t, db)["op-it"])
				}
				if evs := eventTypes(t, db, o.CaseID); !strings.Contains(strings.Join(evs, "|"), "status_changed:reopened by the citizen's reply") {
					t.Fatalf("history = %q", evs)
				}
				return
			}
			if c.Status != cases.StatusResolved || got.LinkedTo != o.CaseID {
				t.Fatalf("old case %s, outcome %+v", c.Status, got)
			}
			n, _ := db.GetCase(ctx, got.CaseID)
			if n.ContactID != c.ContactID || n.Status != cases.StatusNew {
				t.Fatalf("follow-up case = %+v", n)
			}
			links, err := db.ListLinks(ctx, []string{o.CaseID, got.CaseID})
			if err != nil || len(links[got.CaseID]) != 1 || len(links[o.CaseID]) != 1 {
				t.Fatalf("links = %+v, %v", links, err)
			}
			if l := links[got.CaseID][0]; l.CaseID != o.CaseID || l.Kind != cases.LinkFollowUp || l.Direction != cases.LinkOutgoing {
				t.Fatalf("new case's link = %+v", l)
			}
			if l := links[o.CaseID][0]; l.CaseID != got.CaseID || l.Direction != cases.LinkIncoming {
				t.Fatalf("old case's link = %+v", l)
			}
			for _, id := range []string{o.CaseID, got.CaseID} {
				if evs := strings.Join(eventTypes(t, db, id), "|"); !strings.Contains(evs, "more than 14 days ago") {
					t.Fatalf("history of %s = %q, want the reason", id, evs)
				}
			}
		})
	}
}

func testFollowUpStranger(t *testing.T, db *storage.DB) {
	o := create(t, db, 2026, newCase("it", "maria@example.it"))[0]
	rule := intake.FollowUpRule{Now: time.Now(), ReopenWindow: time.Hour}
	for _, nc := range []intake.NewCase{
		followUp("intruder@example.it", threadkey.Ref(o.Reference)),
		followUp("", threadkey.Ref(o.Reference)),
	} {
		got := ingest(t, db, rule, nc)[0]
		if got.CaseID == o.CaseID || got.Action != intake.ActionCreated || got.LinkedTo != "" {
			t.Fatalf("a stranger's guessed reference: %+v", got)
		}
	}
	if ms := thread(t, db, o.CaseID); len(ms) != 1 {
		t.Fatalf("the citizen's case has %d messages, want 1", len(ms))
	}
}

func testContactsAcrossChannels(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	web := newCase("it", "anna@example.it")
	web.SenderName = ""
	tg := newCase("it", "")
	tg.ChannelKind, tg.SenderHandle, tg.SenderPhone, tg.SenderName = "telegram", "telegram:4242", "+39 333 123 4567", "Anna Verdi"
	phone := newCase("it", "")
	phone.ChannelKind, phone.SenderPhone = "cti", "+393331234567"
	spid := newCase("it", "ANNA@example.it")
	spid.SenderFiscalCode = "vrdnna80a41h501x"
	var ids []string
	for _, nc := range []intake.NewCase{web, tg, phone, spid} {
		o := create(t, db, 2026, nc)[0]
		c, _ := db.GetCase(ctx, o.CaseID)
		ids = append(ids, c.ContactID)
	}
	// The web form and the SPID portal share the e-mail; Telegram and the
	// call centre share the phone: two records until one contact carries
	// both identifiers.
	if ids[0] != ids[3] || ids[1] != ids[2] || ids[0] == ids[1] {
		t.Fatalf("contacts = %v", ids)
	}
	both := newCase("it", "anna@example.it")
	both.ChannelKind, both.SenderHandle = "telegram", "telegram:4242"
	o := create(t, db, 2026, both)[0]
	if c, _ := db.GetCase(ctx, o.CaseID); c.ContactID != ids[0] {
		t.Fatalf("e-mail comes before handle: got contact %s, want %s", c.ContactID, ids[0])
	}
	c, err := db.GetContact(ctx, ids[0])
	if err != nil || c.Email != "anna@example.it" || c.FiscalCode != "VRDNNA80A41H501X" || c.Phone != "" {
		t.Fatalf("contact = %+v, %v", c, err)
	}
	tgc, _ := db.GetContact(ctx, ids[1])
	if tgc.Phone != "+393331234567" || len(tgc.Handles) != 1 || tgc.Handles[0] != (contacts.Handle{ChannelKind: "telegram", Handle: "telegram:4242"}) ||
		tgc.DisplayName != "Anna Verdi" {
		t.Fatalf("telegram contact = %+v", tgc)
	}
	// By fiscal code first: a later SPID login with a new e-mail finds
	// the record and teaches it nothing it cannot hold.
	moved := newCase("it", "anna.verdi@example.org")
	moved.SenderFiscalCode = "VRDNNA80A41H501X"
	o = create(t, db, 2026, moved)[0]
	if k, _ := db.GetCase(ctx, o.CaseID); k.ContactID != ids[0] {
		t.Fatalf("fiscal code did not find the contact")
	}
	found, err := db.SearchContacts(ctx, contacts.Search{Phone: "+39 333 1234567"}, 10)
	if err != nil || len(found) != 1 || found[0].ID != ids[1] {
		t.Fatalf("search by phone = %+v, %v", found, err)
	}
	mine, err := db.ListCases(ctx, cases.Query{ContactID: ids[0], Order: cases.OrderCreatedDesc, Limit: 10})
	if err != nil || len(mine) != 4 || mine[0].ID != o.CaseID {
		t.Fatalf("the contact's cases = %d, %v", len(mine), err)
	}
	with, err := db.ContactsWithCasesIn(ctx, ids, []string{"statistics"})
	if err != nil || len(with) != 0 {
		t.Fatalf("contacts with cases in statistics = %v, %v", with, err)
	}
}

func testMergeCases(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	withCapacity(t, db, "op-it", 5)
	src := newCase("it", "gino@example.it")
	src.Body = "Richiesta di certificato anagrafico."
	out := create(t, db, 2026, newCase("it", "gino@example.it"), src, newCase("it", "other@example.it"))
	target, source, other := out[0].CaseID, out[1].CaseID, out[2].CaseID
	if _, err := db.UpdateCase(ctx, source, 0, cases.Assign("sup", "op-it", "")); err != nil {
		t.Fatal(err)
	}
	note := cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: cases.InternalNote, Body: "nota"}
	if _, _, err := db.AddMessage(ctx, source, note, cases.MessageAdded("op-it", note)); err != nil {
		t.Fatal(err)
	}
	if n := openCases(t, db)["op-it"]; n != 1 {
		t.Fatalf("op-it open = %d", n)
	}
	for _, tt := range []struct {
		name           string
		source, target string
		sv, tv         int64
		want           error
	}{
		{"different citizens", source, other, 0, 0, cases.ErrFailedPrecondition},
		{"itself", source, source, 0, 0, cases.ErrInvalidArgument},
		{"stale etag", source, target, 1, 0, cases.ErrConflict},
		{"no such case", source, uuid.NewString(), 0, 0, cases.ErrNotFound},
	} {
		_, _, err := db.MergeCases(ctx, tt.source, tt.target, tt.sv, tt.tv, cases.Merge("sup", "same request"))
		if !errors.Is(err, tt.want) {
			t.Fatalf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	file := upload(t, db, source, strings.Repeat("ab", 32)) // the source's files follow its messages
	s, tg, err := db.MergeCases(ctx, source, target, 3, 1, cases.Merge("sup", "same request"))
	if err != nil {
		t.Fatal(err)
	}
	if a, err := db.GetAttachment(ctx, file.ID); err != nil || a.CaseID != target {
		t.Fatalf("the source's attachment is on case %q (%v), want the target", a.CaseID, err)
	}
	if s.Status != cases.StatusClosed || s.MergedInto != target || tg.Version != 2 {
		t.Fatalf("after merge: source %+v, target %+v", s, tg)
	}
	if n := openCases(t, db)["op-it"]; n != 0 {
		t.Fatalf("op-it open = %d after its case was merged and closed, want 0", n)
	}
	ms := thread(t, db, target)
	if len(ms) != 3 || len(thread(t, db, source)) != 0 {
		t.Fatalf("target thread %d messages, source %d", len(ms), len(thread(t, db, source)))
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].ID < ms[i-1].ID {
			t.Fatal("merged thread out of order")
		}
	}
	found, err := db.ListCases(ctx, cases.Query{Text: "certificato anagrafico", Limit: 10})
	hasTarget := false
	for _, c := range found {
		hasTarget = hasTarget || c.ID == target
	}
	if err != nil || !hasTarget {
		t.Fatalf("search after merge = %v, %v", found, err)
	}
	for _, id := range []string{source, target} {
		if evs := strings.Join(eventTypes(t, db, id), "|"); !strings.Contains(evs, "merged:same request") {
			t.Fatalf("history of %s = %q", id, evs)
		}
	}
	if _, _, err := db.MergeCases(ctx, source, target, 0, 0, cases.Merge("sup", "again")); !errors.Is(err, cases.ErrFailedPrecondition) {
		t.Fatalf("merging again = %v", err)
	}
	// A follow-up naming the merged case lands in the surviving one.
	srcRef := out[1].Reference
	got := ingest(t, db, intake.FollowUpRule{Now: time.Now(), ReopenWindow: time.Hour}, followUp("gino@example.it", threadkey.Ref(srcRef)))[0]
	if got.CaseID != target || got.Action != intake.ActionAppended {
		t.Fatalf("follow-up of a merged case = %+v, want appended to the target", got)
	}
}

func testLinkCases(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	out := create(t, db, 2026, newCase("it", "x@example.it"), newCase("statistics", "y@example.it"), newCase("it", ""))
	a, b, c := out[0].CaseID, out[1].CaseID, out[2].CaseID
	link := func(src, tgt string, kind cases.LinkKind) error {
		_, _, err := db.LinkCases(ctx, src, tgt, kind, "sup", "see also", cases.LinkChange(cases.EventLinked, "sup", kind, "see also"))
		return err
	}
	if err := link(b, a, cases.LinkRelated); err != nil {
		t.Fatal(err)
	}
	if err := link(a, b, cases.LinkDuplicate); !errors.Is(err, cases.ErrFailedPrecondition) {
		t.Fatalf("second link between the same cases = %v", err)
	}
	if err := link(c, a, cases.LinkDuplicate); err != nil {
		t.Fatal(err)
	}
	links, err := db.ListLinks(ctx, []string{a, b, c})
	if err != nil || len(links[a]) != 2 || len(links[b]) != 1 || len(links[c]) != 1 {
		t.Fatalf("links = %+v, %v", links, err)
	}
	if l := links[b][0]; l.CaseID != a || l.Kind != cases.LinkRelated || l.Direction != "" {
		t.Fatalf("related seen from b = %+v", l)
	}
	if l := links[c][0]; l.CaseID != a || l.Direction != cases.LinkOutgoing || l.Reason != "see also" {
		t.Fatalf("duplicate seen from c = %+v", l)
	}
	unlink := func(x, y string) error {
		_, _, err := db.UnlinkCases(ctx, x, y, func(k cases.LinkKind) cases.PairMutation {
			return cases.LinkChange(cases.EventUnlinked, "sup", k, "")
		})
		return err
	}
	if err := unlink(a, b); err != nil {
		t.Fatal(err)
	}
	if err := unlink(a, b); !errors.Is(err, cases.ErrNotFound) {
		t.Fatalf("unlinking again = %v", err)
	}
	if links, _ := db.ListLinks(ctx, []string{b}); len(links[b]) != 0 {
		t.Fatalf("links of b after unlink = %+v", links[b])
	}
	if evs := strings.Join(eventTypes(t, db, b), "|"); !strings.Contains(evs, "linked:see also") || !strings.Contains(evs, "unlinked:") {
		t.Fatalf("history of b = %q", evs)
	}
}
