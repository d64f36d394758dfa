package storetest

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/storage"
	"github.com/sportello/sportello/services/surveys"
)

var surveyTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"SurveyQuestionnaireVersions", testSurveyQuestionnaireVersions},
	{"SurveyOptOut", testSurveyOptOut},
	{"SurveyResults", testSurveyResults},
}

var surveyRawTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB, raw *sql.DB)
}{
	{"SurveyResponsesAreAnonymous", testSurveyResponsesAreAnonymous},
}

func testSurveyQuestionnaireVersions(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	if list, err := db.ListQuestionnaires(ctx); err != nil || len(list) != 0 {
		t.Fatalf("empty store: %v, %v", list, err)
	}
	v1, err := db.CreateQuestionnaire(ctx, surveys.Default)
	if err != nil || v1.Version != 1 || v1.EaseQuestion != surveys.Default.EaseQuestion {
		t.Fatalf("v1 = %+v, %v", v1, err)
	}
	q := surveys.Default
	q.EaseQuestion = surveys.Text{IT: "Quanto è stato semplice?", EN: "How simple was it?"}
	q.CreatedBy = "admin-1"
	v2, err := db.CreateQuestionnaire(ctx, q)
	if err != nil || v2.Version != 2 || v2.CreatedBy != "admin-1" || v2.CreatedAt.IsZero() {
		t.Fatalf("v2 = %+v, %v", v2, err)
	}
	list, err := db.ListQuestionnaires(ctx)
	if err != nil || len(list) != 2 || list[0].Version != 2 || list[1].Version != 1 || list[0].EaseQuestion.IT != "Quanto è stato semplice?" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	got, err := db.GetQuestionnaire(ctx, 1)
	if err != nil || got.EaseQuestion != surveys.Default.EaseQuestion || len(got.Difficulties) != 5 {
		t.Fatalf("get 1 = %+v, %v", got, err)
	}
	if _, err := db.GetQuestionnaire(ctx, 3); !errors.Is(err, surveys.ErrNotFound) {
		t.Fatalf("get 3 = %v", err)
	}
}

// invite stores an invitation for a new case of dept and returns the case,
// the survey token and the opt-out token.
func invite(t *testing.T, db *storage.DB, dept, email string) (cases.Case, string, string) {
	t.Helper()
	ctx := context.Background()
	id := create(t, db, 2026, newCase(dept, email))[0].CaseID
	c, err := db.GetCase(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	token, optOut := surveys.NewToken(), surveys.NewToken()
	m := cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: cases.Outbound, Body: "Link: /survey/" + token, Kind: surveys.InvitationKind}
	inv := surveys.Invitation{CaseID: id, ContactID: c.ContactID, MessageID: m.ID, Channel: c.ChannelKind, TokenHash: surveys.HashToken(token),
		OptOutHash: surveys.HashToken(optOut), Category: "cat-" + dept, Department: dept, CaseChannel: c.ChannelKind,
		ExpiresAt: time.Now().Add(24 * time.Hour).UTC(), CreatedAt: time.Now().UTC()}
	event := func(*cases.Case) ([]cases.Event, error) {
		return []cases.Event{{Type: cases.EventMessageAdded, Actor: cases.SystemActor}}, nil
	}
	created, err := db.CreateInvitation(ctx, inv, m, event)
	if err != nil || !created {
		t.Fatalf("CreateInvitation = %v, %v", created, err)
	}
	// Once per case: a second invitation (a redelivered event) stores nothing.
	again := inv
	again.TokenHash, again.OptOutHash = surveys.HashToken(surveys.NewToken()), surveys.HashToken(surveys.NewToken())
	m2 := m
	m2.ID = uuid.Must(uuid.NewV7()).String()
	again.MessageID = m2.ID
	if created, err := db.CreateInvitation(ctx, again, m2, event); err != nil || created {
		t.Fatalf("second CreateInvitation = %v, %v", created, err)
	}
	thread, err := db.ListMessages(ctx, id, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, msg := range thread {
		if msg.Kind == surveys.InvitationKind {
			n++
			if msg.Direction != cases.Outbound || msg.DeliveryStatus != "queued" {
				t.Fatalf("invitation message = %+v", msg)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d invitation messages, want 1", n)
	}
	return c, token, optOut
}

func testSurveyResponsesAreAnonymous(t *testing.T, db *storage.DB, raw *sql.DB) {
	ctx := context.Background()
	seed(t, db)
	if _, err := db.CreateQuestionnaire(ctx, surveys.Default); err != nil {
		t.Fatal(err)
	}
	c, token, optOut := invite(t, db, "it", "anna.verdi@example.it")
	now := time.Now()
	subj, err := db.PendingSurvey(ctx, surveys.HashToken(token), now)
	if err != nil || subj.Department != "it" || subj.Category != "cat-it" || subj.Channel != "webform" {
		t.Fatalf("pending = %+v, %v", subj, err)
	}
	if _, err := db.PendingSurvey(ctx, surveys.HashToken(token), now.Add(48*time.Hour)); !errors.Is(err, surveys.ErrInvalidToken) {
		t.Fatalf("expired link = %v", err)
	}
	r := surveys.Response{Answer: surveys.Answer{Version: 1, Ease: 2, Aspect: "technical_problems", Resolved: surveys.ResolvedPartly,
		Comment: surveys.Mask("scrivetemi a anna.verdi@example.it")}, Month: now.UTC().Format("2006-01")}
	if err := db.Respond(ctx, surveys.HashToken(token), r, now); err != nil {
		t.Fatal(err)
	}
	if err := db.Respond(ctx, surveys.HashToken(token), r, now); !errors.Is(err, surveys.ErrInvalidToken) {
		t.Fatalf("second response = %v", err)
	}

	// The stored row: exactly the anonymous columns, nothing that points back.
	rows, err := raw.QueryContext(ctx, "SELECT * FROM survey_responses")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	want := []string{"id", "questionnaire_version", "category", "department", "channel", "month", "ease", "aspect", "resolved", "comment"}
	if !slices.Equal(cols, want) {
		t.Fatalf("survey_responses columns = %v, want %v", cols, want)
	}
	var got [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = v.String
		}
		got = append(got, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	_ = rows.Close()
	if len(got) != 1 {
		t.Fatalf("%d responses stored, want 1", len(got))
	}
	row := got[0]
	if row[2] != "cat-it" || row[3] != "it" || row[4] != "webform" || row[5] != r.Month || row[6] != "2" || row[7] != "technical_problems" ||
		row[8] != "partly" || row[9] != "scrivetemi a [EMAIL]" {
		t.Fatalf("stored row = %q", row)
	}
	if id, err := uuid.Parse(row[0]); err != nil || id.Version() != 4 {
		t.Fatalf("response id %q is not a random UUIDv4", row[0])
	}
	for _, secret := range []string{c.ID, c.ContactID, c.Reference, token, surveys.HashToken(token), optOut, surveys.HashToken(optOut), "anna", "example.it"} {
		for _, v := range row {
			if strings.Contains(strings.ToLower(v), strings.ToLower(secret)) {
				t.Fatalf("response row %q contains %q", row, secret)
			}
		}
	}
	// The used token is gone.
	var tokens int
	if err := raw.QueryRowContext(ctx, "SELECT COUNT(*) FROM survey_tokens").Scan(&tokens); err != nil || tokens != 0 {
		t.Fatalf("survey_tokens after the answer: %d, %v", tokens, err)
	}
	// No hidden order: SQLite tables without ROWID have no rowid column.
	if db.Dialect() == storage.SQLite {
		if _, err := raw.ExecContext(ctx, "SELECT rowid FROM survey_responses"); err == nil {
			t.Fatal("survey_responses has a rowid")
		}
	}
	// The schema refuses an out-of-range rating.
	if _, err := raw.ExecContext(ctx, "INSERT INTO survey_responses VALUES ('0190a5a0-0000-4000-8000-000000000000', 1, '', '', '', '2026-01', 9, '', '', '')"); err == nil {
		t.Fatal("ease 9 was stored")
	}
}

func testSurveyOptOut(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	c, _, optOut := invite(t, db, "it", "optout@example.it")
	if out, err := db.SurveyOptedOut(ctx, c.ContactID); err != nil || out {
		t.Fatalf("opted out before asking: %v, %v", out, err)
	}
	if err := db.OptOut(ctx, surveys.HashToken(surveys.NewToken())); !errors.Is(err, surveys.ErrInvalidToken) {
		t.Fatalf("unknown opt-out token = %v", err)
	}
	for i := 0; i < 2; i++ { // following the link twice is harmless
		if err := db.OptOut(ctx, surveys.HashToken(optOut)); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := db.SurveyOptedOut(ctx, c.ContactID); err != nil || !out {
		t.Fatalf("opted out = %v, %v", out, err)
	}
	if out, err := db.SurveyOptedOut(ctx, uuid.NewString()); err != nil || out {
		t.Fatalf("unknown contact opted out = %v, %v", out, err)
	}
}

func testSurveyResults(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	if _, err := db.CreateQuestionnaire(ctx, surveys.Default); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	answer := func(dept, month string, ease int, resolved string) {
		t.Helper()
		_, token, _ := invite(t, db, dept, uuid.NewString()[:8]+"@example.it")
		if err := db.Respond(ctx, surveys.HashToken(token), surveys.Response{Answer: surveys.Answer{Version: 1, Ease: ease, Resolved: resolved}, Month: month}, now); err != nil {
			t.Fatal(err)
		}
	}
	answer("it", "2026-01", 5, "yes")
	answer("it", "2026-01", 3, "no")
	answer("it", "2026-02", 4, "partly")
	answer("statistics", "2026-01", 1, "")
	cells, err := db.Results(ctx, surveys.Query{GroupBy: []surveys.Dimension{surveys.ByDepartment, surveys.ByMonth}})
	if err != nil {
		t.Fatal(err)
	}
	want := []surveys.Cell{
		{Version: 1, Department: "it", Month: "2026-01", Responses: 2, EaseSum: 8, EaseCounts: [5]int64{0, 0, 1, 0, 1}, ResolvedYes: 1, ResolvedNo: 1},
		{Version: 1, Department: "statistics", Month: "2026-01", Responses: 1, EaseSum: 1, EaseCounts: [5]int64{1, 0, 0, 0, 0}},
		{Version: 1, Department: "it", Month: "2026-02", Responses: 1, EaseSum: 4, EaseCounts: [5]int64{0, 0, 0, 1, 0}, ResolvedPartly: 1},
	}
	if !slices.Equal(cells, want) {
		t.Fatalf("cells = %+v\nwant %+v", cells, want)
	}
	cells, err = db.Results(ctx, surveys.Query{StartMonth: "2026-02", Departments: []string{"it", "communication"}})
	if err != nil || len(cells) != 1 || cells[0].Responses != 1 || cells[0].Department != "" || cells[0].Month != "" {
		t.Fatalf("filtered = %+v, %v", cells, err)
	}
	cells, err = db.Results(ctx, surveys.Query{GroupBy: []surveys.Dimension{surveys.ByChannel}, EndMonth: "2026-01", Departments: []string{"statistics"}})
	if err != nil || len(cells) != 1 || cells[0].Responses != 1 || cells[0].Channel != "webform" {
		t.Fatalf("by channel = %+v, %v", cells, err)
	}
	if cells, err := db.Results(ctx, surveys.Query{Departments: []string{}}); err != nil || len(cells) != 0 {
		t.Fatalf("no departments = %+v, %v", cells, err)
	}
}
