package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite"  // database/sql driver "sqlite", for rawTests
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for rawTests

	"github.com/google/uuid"

	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/accesslog"
	"github.com/sportello/sportello/services/storage"
)

var accessLogTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB)
}{
	{"AccessLogAppendList", testAccessLogAppendList},
	{"AccessLogPaging", testAccessLogPaging},
	{"AccessLogVerify", testAccessLogVerify},
	{"AccessLogConcurrentAppends", testAccessLogConcurrentAppends},
	{"AccessLogListPages", testAccessLogListPages},
}

// testAccessLogListPages: a list page's one entry (RecordList) names the
// contacts shown; the contact filter finds it for each of them, and only
// for them.
func testAccessLogListPages(t *testing.T, db *storage.DB) {
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Subject: "sso:anna", Role: auth.RoleOperator, Operator: "op-1"})
	a, b, c := uuid.NewString(), uuid.NewString(), uuid.NewString()
	rec := accesslog.NewRecorder(db)
	if err := rec.Record(ctx, accesslog.ActionContactRead, "", a, ""); err != nil {
		t.Fatal(err)
	}
	if err := rec.RecordList(ctx, accesslog.ActionCaseList, []string{a, b}); err != nil {
		t.Fatal(err)
	}
	// Not a list entry: an id in its detail does not make it one.
	if err := rec.Record(ctx, accesslog.ActionCaseSearch, "", "", c); err != nil {
		t.Fatal(err)
	}
	// A citizen's list is not recorded.
	if err := rec.RecordList(auth.WithPrincipal(context.Background(), auth.Principal{Subject: "spid:x", Role: auth.RoleCitizen}), accesslog.ActionCaseList, []string{c}); err != nil {
		t.Fatal(err)
	}
	all, _, err := db.ListAccess(ctx, accesslog.Filter{})
	if err != nil || len(all) != 3 || all[1].Detail != "contacts="+a+","+b || all[1].Action != accesslog.ActionCaseList || all[1].ContactID != "" {
		t.Fatalf("log = %+v, %v", all, err)
	}
	for _, tt := range []struct {
		contact, want string
	}{{a, "2,1"}, {b, "2"}, {c, ""}, {"p-1", ""}} {
		got, _, err := db.ListAccess(ctx, accesslog.Filter{ContactID: tt.contact})
		if err != nil || seqs(got) != tt.want {
			t.Errorf("contact %s: [%s], %v; want [%s]", tt.contact, seqs(got), err, tt.want)
		}
	}
}

// rawTests get, besides the store, a plain connection to the same database
// that goes around the store: to try what the schema must refuse, and to
// tamper with the log the way someone with database access could.
var rawTests = []struct {
	name string
	run  func(t *testing.T, db *storage.DB, raw *sql.DB)
}{
	{"AccessLogAppendOnly", testAccessLogAppendOnly},
	{"AccessLogTamperDetected", testAccessLogTamperDetected},
}

// openRaw opens dsn (as the Backend made it) with database/sql.
func openRaw(t *testing.T, d storage.Dialect, dsn string) *sql.DB {
	t.Helper()
	driver := "pgx"
	if d == storage.SQLite {
		driver, dsn = "sqlite", "file:"+dsn+"?_pragma=busy_timeout(10000)"
	}
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return raw
}

func access(actor, action, caseID, contactID string) accesslog.Entry {
	return accesslog.Entry{Actor: actor, ActorRole: "operator", Action: action, CaseID: caseID, ContactID: contactID}
}

func appendAccess(t *testing.T, db *storage.DB, es ...accesslog.Entry) {
	t.Helper()
	if err := db.AppendAccess(context.Background(), es...); err != nil {
		t.Fatalf("AppendAccess: %v", err)
	}
}

func verifyAccess(t *testing.T, db *storage.DB, from int64, limit int) accesslog.Verification {
	t.Helper()
	v, err := db.VerifyAccessChain(context.Background(), from, limit)
	if err != nil {
		t.Fatalf("VerifyAccessChain(%d, %d): %v", from, limit, err)
	}
	return v
}

func seqs(es []accesslog.Entry) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = fmt.Sprint(e.Seq)
	}
	return strings.Join(s, ",")
}

func testAccessLogAppendList(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	if got, next, err := db.ListAccess(ctx, accesslog.Filter{}); err != nil || len(got) != 0 || next != 0 {
		t.Fatalf("empty log: %v, %d, %v", got, next, err)
	}
	start := time.Now().UTC()
	full := accesslog.Entry{Actor: "sso:anna", ActorRole: "supervisor", Operator: "op-1", Action: accesslog.ActionCaseRead,
		CaseID: "c-1", ContactID: "p-1", Detail: "via queue", RequestID: "req-1"}
	appendAccess(t, db, full)
	// A batch: one transaction, consecutive seqs.
	appendAccess(t, db, access("sso:bruno", accesslog.ActionCaseMessages, "c-1", ""),
		access("sso:bruno", accesslog.ActionContactRead, "", "p-1"),
		access("sso:anna", accesslog.ActionCaseRead, "c-2", ""))
	time.Sleep(2 * time.Millisecond)
	mid := time.Now().UTC()
	time.Sleep(2 * time.Millisecond)
	appendAccess(t, db, access("sso:carla", accesslog.ActionCaseSearch, "", ""))

	all, next, err := db.ListAccess(ctx, accesslog.Filter{})
	if err != nil || next != 0 || seqs(all) != "5,4,3,2,1" {
		t.Fatalf("ListAccess = [%s], next %d, %v; want 5..1 and no next page", seqs(all), next, err)
	}
	// Entry 1 round-trips every field; the chain links each entry to the one before.
	got := all[4]
	want := full
	want.Seq, want.Time, want.PrevHash, want.Hash = 1, got.Time, accesslog.ZeroHash, accesslog.Hash(accesslog.ZeroHash, got)
	if got != want {
		t.Fatalf("entry 1 =\n %+v\nwant\n %+v", got, want)
	}
	if got.Time.Location() != time.UTC || got.Time.Before(start.Truncate(time.Microsecond)) || got.Time.Nanosecond()%1000 != 0 {
		t.Fatalf("entry 1 time %v (started %v): want UTC, microseconds, not before the append", got.Time, start)
	}
	for i := 0; i < len(all)-1; i++ {
		if all[i].PrevHash != all[i+1].Hash || all[i].Hash != accesslog.Hash(all[i].PrevHash, all[i]) || all[i].Time.Before(all[i+1].Time) {
			t.Fatalf("entry %d does not follow entry %d: %+v after %+v", all[i].Seq, all[i+1].Seq, all[i], all[i+1])
		}
	}
	if all[3].Operator != "" || all[3].ContactID != "" || all[3].RequestID != "" {
		t.Fatalf("entry 2 = %+v, want empty operator, contact and request id", all[3])
	}

	for _, tt := range []struct {
		f    accesslog.Filter
		want string
	}{
		{accesslog.Filter{Actor: "sso:anna"}, "4,1"},
		{accesslog.Filter{CaseID: "c-1"}, "2,1"},
		{accesslog.Filter{ContactID: "p-1"}, "3,1"},
		{accesslog.Filter{Action: accesslog.ActionCaseRead}, "4,1"},
		{accesslog.Filter{Actor: "sso:anna", CaseID: "c-2"}, "4"},
		{accesslog.Filter{Actor: "nobody"}, ""},
		{accesslog.Filter{Since: mid}, "5"},
		{accesslog.Filter{Until: mid}, "4,3,2,1"},
		{accesslog.Filter{Since: start.Add(-time.Minute), Until: mid, CaseID: "c-1"}, "2,1"},
		{accesslog.Filter{Until: start.Add(-time.Minute)}, ""},
		{accesslog.Filter{Before: 3}, "2,1"},
	} {
		got, _, err := db.ListAccess(ctx, tt.f)
		if err != nil || seqs(got) != tt.want {
			t.Errorf("ListAccess(%+v) = [%s], %v; want [%s]", tt.f, seqs(got), err, tt.want)
		}
	}
}

func testAccessLogPaging(t *testing.T, db *storage.DB) {
	ctx := context.Background()
	var batch []accesslog.Entry
	for i := 0; i < 23; i++ {
		batch = append(batch, access(fmt.Sprintf("sso:op%d", i%2), accesslog.ActionCaseRead, fmt.Sprintf("c-%d", i), ""))
	}
	appendAccess(t, db, batch...)
	for _, tt := range []struct {
		f     accesslog.Filter
		total int
	}{{accesslog.Filter{Limit: 5}, 23}, {accesslog.Filter{Limit: 4, Actor: "sso:op0"}, 12}, {accesslog.Filter{Limit: 23}, 23}} {
		var seen []int64
		f := tt.f
		for pages := 0; ; pages++ {
			if pages > 30 {
				t.Fatal("paging does not end")
			}
			page, next, err := db.ListAccess(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > f.Limit {
				t.Fatalf("page of %d entries for limit %d", len(page), f.Limit)
			}
			for _, e := range page {
				seen = append(seen, e.Seq)
			}
			if next == 0 {
				break
			}
			f.Before = next
		}
		if len(seen) != tt.total {
			t.Fatalf("%+v: paged through %d entries, want %d", tt.f, len(seen), tt.total)
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] >= seen[i-1] {
				t.Fatalf("%+v: not newest first: %v", tt.f, seen)
			}
		}
	}
	// The page size is capped.
	var many []accesslog.Entry
	for i := 0; i < accesslog.MaxPageSize; i++ {
		many = append(many, access("sso:bulk", accesslog.ActionCaseEvents, "c-bulk", ""))
	}
	appendAccess(t, db, many...)
	page, next, err := db.ListAccess(ctx, accesslog.Filter{Limit: 10 * accesslog.MaxPageSize})
	if err != nil || len(page) != accesslog.MaxPageSize || next != page[len(page)-1].Seq {
		t.Fatalf("capped page: %d entries, next %d, %v", len(page), next, err)
	}
	if page, _, _ := db.ListAccess(ctx, accesslog.Filter{}); len(page) != accesslog.DefaultPageSize {
		t.Fatalf("default page: %d entries, want %d", len(page), accesslog.DefaultPageSize)
	}
}

func testAccessLogVerify(t *testing.T, db *storage.DB) {
	if v := verifyAccess(t, db, 0, 0); !v.Intact() || v.Checked != 0 || v.LastSeq != 0 {
		t.Fatalf("empty log: %+v", v)
	}
	// More than one chunk of VerifyAccessChain's reads.
	const n = 1500
	batch := make([]accesslog.Entry, n)
	for i := range batch {
		batch[i] = access("sso:op", accesslog.ActionCaseRead, fmt.Sprintf("c-%d", i), "")
	}
	appendAccess(t, db, batch[:1]...)
	appendAccess(t, db, batch[1:]...)
	for _, tt := range []struct {
		from    int64
		limit   int
		checked int
		last    int64
	}{
		{0, 0, n, n}, {1, 0, n, n}, {1, 10, 10, 10}, {501, 1000, 1000, 1500}, {1001, 1000, 500, n},
		{1400, 0, 101, n}, {n, 0, 1, n}, {n + 1, 0, 0, 0},
	} {
		if v := verifyAccess(t, db, tt.from, tt.limit); !v.Intact() || v.Checked != tt.checked || v.LastSeq != tt.last {
			t.Errorf("VerifyAccessChain(%d, %d) = %+v; want intact, %d checked up to %d", tt.from, tt.limit, v, tt.checked, tt.last)
		}
	}
}

// testAccessLogConcurrentAppends races appenders: the chain stays one
// line, seq 1..N without gaps.
func testAccessLogConcurrentAppends(t *testing.T, db *storage.DB) {
	const writers, perWriter = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				es := []accesslog.Entry{access(fmt.Sprintf("sso:w%d", w), accesslog.ActionCaseRead, fmt.Sprintf("c-%d-%d", w, i), "")}
				if i%3 == 0 { // some batches of two
					es = append(es, access(fmt.Sprintf("sso:w%d", w), accesslog.ActionCaseMessages, fmt.Sprintf("c-%d-%d", w, i), ""))
				}
				if err := db.AppendAccess(context.Background(), es...); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := writers * (perWriter + perWriter/3)
	if v := verifyAccess(t, db, 0, 0); !v.Intact() || v.Checked != want || v.LastSeq != int64(want) {
		t.Fatalf("after concurrent appends: %+v; want intact with %d entries", v, want)
	}
	// A batch is contiguous: its two entries are neighbours.
	all, _, err := db.ListAccess(context.Background(), accesslog.Filter{Action: accesslog.ActionCaseMessages, Limit: want})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		prev, _, err := db.ListAccess(context.Background(), accesslog.Filter{Before: m.Seq, Limit: 1})
		if err != nil || len(prev) != 1 || prev[0].CaseID != m.CaseID {
			t.Fatalf("entry %d (%s) does not follow its batch's first entry: %+v, %v", m.Seq, m.CaseID, prev, err)
		}
	}
}

func testAccessLogAppendOnly(t *testing.T, db *storage.DB, raw *sql.DB) {
	ctx := context.Background()
	appendAccess(t, db, access("sso:a", accesslog.ActionCaseRead, "c-1", ""), access("sso:b", accesslog.ActionCaseRead, "c-2", ""))
	stmts := []string{
		"UPDATE access_log SET actor = 'sso:mallory' WHERE seq = 1",
		"UPDATE access_log SET detail = 'x'",
		"DELETE FROM access_log WHERE seq = 2",
		"DELETE FROM access_log",
	}
	if db.Dialect() == storage.Postgres {
		stmts = append(stmts, "TRUNCATE access_log")
	}
	for _, s := range stmts {
		_, err := raw.ExecContext(ctx, s)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only trigger's refusal", s, err)
		}
	}
	all, _, err := db.ListAccess(ctx, accesslog.Filter{})
	if err != nil || seqs(all) != "2,1" || all[1].Actor != "sso:a" {
		t.Fatalf("after refused changes: [%s] %+v, %v", seqs(all), all, err)
	}
	if v := verifyAccess(t, db, 0, 0); !v.Intact() || v.Checked != 2 {
		t.Fatalf("after refused changes: %+v", v)
	}
}

// testAccessLogTamperDetected switches the triggers off, as only someone
// with the database owner's rights can, and changes the log.
func testAccessLogTamperDetected(t *testing.T, db *storage.DB, raw *sql.DB) {
	ctx := context.Background()
	var batch []accesslog.Entry
	for i := 1; i <= 12; i++ {
		batch = append(batch, access("sso:op", accesslog.ActionCaseRead, fmt.Sprintf("c-%d", i), ""))
	}
	appendAccess(t, db, batch...)
	exec := func(q string) {
		t.Helper()
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if db.Dialect() == storage.Postgres {
		exec("ALTER TABLE access_log DISABLE TRIGGER USER")
	} else {
		exec("DROP TRIGGER access_log_no_update")
		exec("DROP TRIGGER access_log_no_delete")
	}
	expect := func(from, bad int64, reason string, checked int) {
		t.Helper()
		v := verifyAccess(t, db, from, 0)
		if v.FirstBad != bad || !strings.Contains(v.Reason, reason) || v.Checked != checked || (checked > 0) != (v.LastSeq > 0) {
			t.Fatalf("VerifyAccessChain(%d) = %+v; want first bad %d (%q) after %d good entries", from, v, bad, reason, checked)
		}
	}
	// $1 on PostgreSQL, ? on SQLite.
	arg := func(q string) string {
		if db.Dialect() == storage.SQLite {
			return strings.ReplaceAll(q, "$1", "?")
		}
		return q
	}

	// Someone rewrites who read case c-3.
	exec("UPDATE access_log SET actor = 'sso:someone-else' WHERE seq = 3")
	expect(0, 3, "hash does not match", 2)
	// Fixing the entry's hash too moves the break to the next entry.
	all, _, err := db.ListAccess(ctx, accesslog.Filter{Before: 4, Limit: 1})
	if err != nil || len(all) != 1 || all[0].Actor != "sso:someone-else" {
		t.Fatalf("entry 3 = %+v, %v", all, err)
	}
	if _, err := raw.ExecContext(ctx, arg("UPDATE access_log SET hash = $1 WHERE seq = 3"), accesslog.Hash(all[0].PrevHash, all[0])); err != nil {
		t.Fatal(err)
	}
	expect(0, 4, "prev_hash does not match the hash of entry 3", 3)
	// A check from entry 4 trusts entry 3 as stored, and still sees the break.
	expect(4, 4, "prev_hash does not match", 0)
	// Past the break the chain holds.
	if v := verifyAccess(t, db, 5, 0); !v.Intact() || v.Checked != 8 || v.LastSeq != 12 {
		t.Fatalf("VerifyAccessChain(5) = %+v; want intact, 8 checked", v)
	}
	// An entry removed.
	exec("DELETE FROM access_log WHERE seq = 6")
	expect(5, 7, "sequence gap: entries 6 to 6 are missing", 1)
	// NULL turned into ''.
	exec("UPDATE access_log SET contact_id = '' WHERE seq = 9")
	expect(8, 9, "contact_id holds an empty string", 1)
	// The time of an access moved.
	if _, err := raw.ExecContext(ctx, arg("UPDATE access_log SET at = $1 WHERE seq = 11"), time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	expect(10, 11, "hash does not match", 1)
}
