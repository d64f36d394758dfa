package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/sportello/sportello/services/attachments"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/storage"
)

var attachmentTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"AttachmentCreateGet", testAttachmentCreateGet},
	{"AttachToMessages", testAttachToMessages},
	{"AttachRace", testAttachRace},
}

func upload(t *testing.T, db *storage.DB, caseID, sum string) attachments.Attachment {
	t.Helper()
	a, err := db.CreateAttachment(context.Background(), attachments.Attachment{ID: uuid.Must(uuid.NewV7()).String(), CaseID: caseID,
		SHA256: sum, Size: 1234, ContentType: "application/pdf", FileName: "modulo.pdf", UploadedBy: "token:op-it"})
	if err != nil {
		t.Fatalf("CreateAttachment: %v", err)
	}
	return a
}

// addWith adds a note or reply carrying the uploads ids.
func addWith(db *storage.DB, caseID string, dir cases.Direction, body string, ids ...string) (cases.Message, error) {
	m := cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: dir, Body: body, AuthorName: "op-it"}
	for _, id := range ids {
		m.Attachments = append(m.Attachments, attachments.Attachment{ID: id})
	}
	got, _, err := db.AddMessage(context.Background(), caseID, m, cases.MessageAdded("op-it", m))
	return got, err
}

func testAttachmentCreateGet(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	caseID := create(t, db, 2026, newCase("it", "a@example.it"))[0].CaseID
	sum := strings.Repeat("ab", 32)
	a := upload(t, db, caseID, sum)
	got, err := db.GetAttachment(ctx, a.ID)
	if err != nil || got != a || got.MessageID != "" || got.CreatedAt.IsZero() {
		t.Fatalf("GetAttachment = %+v, %v; want %+v", got, err, a)
	}
	// The same bytes again: another row, the same blob.
	if b := upload(t, db, caseID, sum); b.ID == a.ID || b.SHA256 != a.SHA256 {
		t.Fatalf("second upload %+v", b)
	}
	for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
		if _, err := db.GetAttachment(ctx, id); !errors.Is(err, attachments.ErrNotFound) {
			t.Errorf("GetAttachment(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func testAttachToMessages(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	out := create(t, db, 2026, newCase("it", "a@example.it"), newCase("statistics", "b@example.it"))
	mine, other := out[0].CaseID, out[1].CaseID
	a1, a2 := upload(t, db, mine, strings.Repeat("1", 64)), upload(t, db, mine, strings.Repeat("2", 64))
	b1 := upload(t, db, other, strings.Repeat("3", 64))

	for _, tt := range []struct {
		name string
		ids  []string
		want error
	}{
		{"another case's upload", []string{a1.ID, b1.ID}, cases.ErrInvalidArgument},
		{"unknown id", []string{uuid.NewString()}, cases.ErrInvalidArgument},
		{"malformed id", []string{"../x"}, cases.ErrInvalidArgument},
		{"listed twice", []string{a1.ID, a1.ID}, cases.ErrInvalidArgument},
	} {
		if _, err := addWith(db, mine, cases.Outbound, "Ecco i file.", tt.ids...); !errors.Is(err, tt.want) {
			t.Errorf("%s: AddMessage = %v, want %v", tt.name, err, tt.want)
		}
	}
	// Refused messages were rolled back whole: nothing attached, no message.
	if thread, _ := db.ListMessages(ctx, mine, "", 10); len(thread) != 1 {
		t.Fatalf("after refusals the thread has %d messages", len(thread))
	}

	reply, err := addWith(db, mine, cases.Outbound, "Ecco i file.", a2.ID, a1.ID)
	if err != nil || len(reply.Attachments) != 2 || reply.Attachments[0].ID != a2.ID || reply.Attachments[1].MessageID != reply.ID {
		t.Fatalf("reply = %+v, %v", reply, err)
	}
	if _, err := addWith(db, mine, cases.InternalNote, "Di nuovo.", a1.ID); !errors.Is(err, cases.ErrFailedPrecondition) {
		t.Fatalf("attaching twice = %v, want ErrFailedPrecondition", err)
	}
	// A note may be just a file.
	a3 := upload(t, db, mine, strings.Repeat("1", 64))
	note, err := addWith(db, mine, cases.InternalNote, "", a3.ID)
	if err != nil || len(note.Attachments) != 1 {
		t.Fatalf("note with a file only = %+v, %v", note, err)
	}
	if _, err := addWith(db, mine, cases.InternalNote, " "); !errors.Is(err, cases.ErrInvalidArgument) {
		t.Fatalf("empty note without files = %v", err)
	}

	// Pages carry their messages' attachments, in upload order.
	thread, err := db.ListMessages(ctx, mine, "", 10)
	if err != nil || len(thread) != 3 || len(thread[0].Attachments) != 0 || len(thread[1].Attachments) != 2 || len(thread[2].Attachments) != 1 {
		t.Fatalf("thread = %+v, %v", thread, err)
	}
	if got := thread[1].Attachments; got[0].ID != a1.ID || got[1].ID != a2.ID || got[0].MessageID != reply.ID || got[0].FileName != "modulo.pdf" {
		t.Fatalf("reply's attachments = %+v", got)
	}
	page, err := db.ListMessages(ctx, mine, thread[1].ID, 1)
	if err != nil || len(page) != 1 || page[0].ID != note.ID || len(page[0].Attachments) != 1 || page[0].Attachments[0].ID != a3.ID {
		t.Fatalf("second page = %+v, %v", page, err)
	}
	if got, _ := db.GetAttachment(ctx, b1.ID); got.MessageID != "" {
		t.Fatalf("another case's upload was attached: %+v", got)
	}
	evs, _ := db.ListCaseEvents(ctx, mine, "", 20)
	if last := evs[len(evs)-1]; last.Changes["attachments"].After != "1" || evs[len(evs)-2].Changes["attachments"].After != "2" {
		t.Fatalf("history does not count the attachments: %+v", evs)
	}
}

// testAttachRace: two messages racing for one upload; exactly one gets it.
func testAttachRace(t *testing.T, db *storage.DB) {
	caseID := create(t, db, 2026, newCase("it", "a@example.it"))[0].CaseID
	for round := 0; round < 5; round++ {
		a := upload(t, db, caseID, strings.Repeat("4", 64))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					_, errs[i] = addWith(db, caseID, cases.InternalNote, "Allegato.", a.ID)
					if !errors.Is(errs[i], cases.ErrConflict) { // a version clash on the case: retry
						return
					}
				}
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, cases.ErrFailedPrecondition):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d messages got the upload (%v)", round, ok, errs)
		}
	}
}
