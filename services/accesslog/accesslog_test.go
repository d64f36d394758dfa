package accesslog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/sportello/sportello/api/sportello/admin/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/accesslog"
	"github.com/sportello/sportello/services/server"
	"github.com/sportello/sportello/services/storage"
	"github.com/sportello/sportello/services/storage/testdb"
)

// openDB returns a migrated SQLite database of the test's own.
func openDB(t *testing.T) *storage.DB {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, testdb.SQLiteDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	return db
}

func list(t *testing.T, db *storage.DB) []accesslog.Entry {
	t.Helper()
	es, _, err := db.ListAccess(context.Background(), accesslog.Filter{Limit: accesslog.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestRecorder(t *testing.T) {
	db := openDB(t)
	rec := accesslog.NewRecorder(db)
	ctx := context.Background()

	// Not staff: nothing recorded, and no error, so the read goes on.
	for name, ctx := range map[string]context.Context{
		"anonymous": ctx,
		"citizen":   auth.WithPrincipal(ctx, auth.Principal{Subject: "spid:RSSMRA80A01H501U", Role: auth.RoleCitizen}),
	} {
		if err := rec.Record(ctx, accesslog.ActionCaseRead, "c-1", "", ""); err != nil {
			t.Fatalf("%s: Record = %v", name, err)
		}
	}
	if es := list(t, db); len(es) != 0 {
		t.Fatalf("non-staff reads were recorded: %+v", es)
	}

	op := auth.WithPrincipal(ctx, auth.Principal{Subject: "sso:anna", Role: auth.RoleOperator, Operator: "op-7", Departments: []string{"it"}})
	op = metadata.NewIncomingContext(op, metadata.Pairs("x-request-id", "req-42"))
	if err := rec.Record(op, accesslog.ActionCaseRead, "c-1", "p-1", "from the queue"); err != nil {
		t.Fatal(err)
	}
	svc := auth.WithPrincipal(ctx, auth.Principal{Subject: "token:cti", Role: auth.RoleService})
	svc = accesslog.WithRequestID(svc, "http-9")
	long := strings.Repeat("è", accesslog.MaxDetail) // 2 bytes each
	if err := rec.Record(svc, accesslog.ActionContactRead, "", "p-1", long); err != nil {
		t.Fatal(err)
	}
	es := list(t, db)
	if len(es) != 2 {
		t.Fatalf("%d entries, want 2: %+v", len(es), es)
	}
	got := es[1]
	if got.Seq != 1 || got.Actor != "sso:anna" || got.ActorRole != "operator" || got.Operator != "op-7" ||
		got.Action != accesslog.ActionCaseRead || got.CaseID != "c-1" || got.ContactID != "p-1" ||
		got.Detail != "from the queue" || got.RequestID != "req-42" || time.Since(got.Time) > time.Minute {
		t.Fatalf("operator's entry = %+v", got)
	}
	got = es[0]
	if got.Actor != "token:cti" || got.ActorRole != "service" || got.Operator != "" || got.CaseID != "" ||
		got.RequestID != "http-9" || got.Detail != long[:accesslog.MaxDetail] {
		t.Fatalf("service's entry = %+v", got)
	}
	if v, err := db.VerifyAccessChain(ctx, 0, 0); err != nil || !v.Intact() || v.Checked != 2 {
		t.Fatalf("VerifyAccessChain = %+v, %v", v, err)
	}

	if err := rec.Record(op, "", "c-1", "", ""); err == nil {
		t.Fatal("Record without an action succeeded")
	}
	var nilRec *accesslog.Recorder
	if err := nilRec.Record(op, accesslog.ActionCaseRead, "c-1", "", ""); !errors.Is(err, accesslog.ErrNotConfigured) {
		t.Fatalf("nil Recorder: %v", err)
	}
	// A failed append is the caller's error: it must refuse the read.
	_ = db.Close()
	if err := rec.Record(op, accesslog.ActionCaseRead, "c-1", "", ""); err == nil {
		t.Fatal("Record on a closed database succeeded")
	}
}

func TestRequestID(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		ctx  context.Context
		want string
	}{
		{ctx, ""},
		{metadata.NewIncomingContext(ctx, metadata.Pairs("x-request-id", "abc")), "abc"},
		{accesslog.WithRequestID(metadata.NewIncomingContext(ctx, metadata.Pairs("x-request-id", "abc")), "def"), "def"},
		{metadata.NewIncomingContext(ctx, metadata.Pairs("x-request-id", "with space")), ""},
		{metadata.NewIncomingContext(ctx, metadata.Pairs("x-request-id", strings.Repeat("a", 65))), ""},
	} {
		if got := accesslog.RequestID(tt.ctx); got != tt.want {
			t.Errorf("RequestID = %q, want %q", got, tt.want)
		}
	}
}

// TestHashEncoding pins the chain's encoding: a change breaks every
// existing log, so it must be deliberate.
func TestHashEncoding(t *testing.T) {
	e := accesslog.Entry{Seq: 7, Time: time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.FixedZone("CET", 3600)),
		Actor: "sso:anna", ActorRole: "operator", Operator: "op-7", Action: "case.read", CaseID: "c-1", Detail: "d"}
	// Computed independently (Python hashlib) from the encoding Hash documents.
	const want = "d050cd58089ea63f096470c4b153d799a07d1b90e5ac3856acdc79b274a5b4e8"
	if got := accesslog.Hash(accesslog.ZeroHash, e); got != want {
		t.Errorf("Hash = %s, want %s", got, want)
	}
	// The same instant in another zone hashes alike.
	u := e
	u.Time = e.Time.UTC()
	if accesslog.Hash(accesslog.ZeroHash, u) != accesslog.Hash(accesslog.ZeroHash, e) {
		t.Error("the time zone changes the hash")
	}
	// Moving a boundary between fields, or a value between a nullable field
	// and its neighbour, changes the hash.
	base := accesslog.Hash(accesslog.ZeroHash, e)
	for name, f := range map[string]func(*accesslog.Entry){
		"actor/role boundary": func(e *accesslog.Entry) { e.Actor, e.ActorRole = "sso:ann", "aoperator" },
		"case to contact":     func(e *accesslog.Entry) { e.CaseID, e.ContactID = "", "c-1" },
		"prev hash":           func(e *accesslog.Entry) { e.PrevHash = "ignored" },
		"seq":                 func(e *accesslog.Entry) { e.Seq = 8 },
		"microsecond":         func(e *accesslog.Entry) { e.Time = e.Time.Add(time.Microsecond) },
	} {
		c := e
		f(&c)
		changed := accesslog.Hash(accesslog.ZeroHash, c) != base
		if want := name != "prev hash"; changed != want {
			t.Errorf("%s: hash changed = %v, want %v", name, changed, want)
		}
	}
	if accesslog.Hash(strings.Repeat("1", 64), e) == base {
		t.Error("prev does not change the hash")
	}
}

func TestServer(t *testing.T) {
	db := openDB(t)
	s := accesslog.NewServer(db)
	ctx := context.Background()
	var batch []accesslog.Entry
	for i := 0; i < 7; i++ {
		actor := "sso:anna"
		if i%2 == 1 {
			actor = "sso:bruno"
		}
		batch = append(batch, accesslog.Entry{Actor: actor, ActorRole: "operator", Action: accesslog.ActionCaseRead, CaseID: "c-1"})
	}
	if err := db.AppendAccess(ctx, batch...); err != nil {
		t.Fatal(err)
	}

	var seen []int64
	req := &adminv1.ListAccessLogRequest{PageSize: 3, Actor: "sso:anna", StartTime: timestamppb.New(time.Now().Add(-time.Hour))}
	for {
		resp, err := s.ListAccessLog(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.GetEntries() {
			if e.GetActor() != "sso:anna" || e.GetCaseId() != "c-1" || len(e.GetHash()) != 64 || e.GetAccessTime() == nil {
				t.Fatalf("entry = %v", e)
			}
			seen = append(seen, e.GetSequence())
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if len(seen) != 4 || seen[0] != 7 || seen[3] != 1 {
		t.Fatalf("anna's entries = %v, want 7, 5, 3, 1", seen)
	}

	v, err := s.VerifyAccessLog(ctx, &adminv1.VerifyAccessLogRequest{})
	if err != nil || !v.GetIntact() || v.GetCheckedCount() != 7 || v.GetLastSequence() != 7 {
		t.Fatalf("VerifyAccessLog = %v, %v", v, err)
	}
	if v, _ := s.VerifyAccessLog(ctx, &adminv1.VerifyAccessLogRequest{StartSequence: 3, MaxEntries: 2}); v.GetCheckedCount() != 2 || v.GetLastSequence() != 4 {
		t.Fatalf("VerifyAccessLog(3, 2) = %v", v)
	}

	now := time.Now()
	for name, req := range map[string]*adminv1.ListAccessLogRequest{
		"negative page size": {PageSize: -1},
		"bad token":          {PageToken: "x"},
		"zero token":         {PageToken: "0"},
		"empty range":        {StartTime: timestamppb.New(now), EndTime: timestamppb.New(now)},
		"invalid time":       {StartTime: &timestamppb.Timestamp{Seconds: -1 << 62}},
	} {
		if _, err := s.ListAccessLog(ctx, req); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if _, err := s.VerifyAccessLog(ctx, &adminv1.VerifyAccessLogRequest{MaxEntries: -1}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("negative max_entries: %v", err)
	}
	_ = db.Close()
	if _, err := s.ListAccessLog(ctx, &adminv1.ListAccessLogRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("closed database: %v, want Unavailable", err)
	}
}

// TestREST goes through the gateway: routes, query parameters and the
// permission table (administrators only).
func TestREST(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if err := db.AppendAccess(ctx,
		accesslog.Entry{Actor: "sso:anna", ActorRole: "operator", Action: accesslog.ActionCaseRead, CaseID: "c-1"},
		accesslog.Entry{Actor: "sso:bruno", ActorRole: "operator", Action: accesslog.ActionContactRead, ContactID: "p-1"},
		accesslog.Entry{Actor: "sso:anna", ActorRole: "operator", Action: accesslog.ActionCaseMessages, CaseID: "c-1"},
	); err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewStaticTokens([]auth.StaticToken{
		{Name: "admin", SHA256: auth.HashToken("admin-token"), Role: auth.RoleAdmin},
		{Name: "op", SHA256: auth.HashToken("op-token"), Role: auth.RoleOperator, Departments: []string{"it"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, server.Deps{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
		Authenticator: tokens, Ready: func(context.Context) error { return nil },
		AccessLog: accesslog.NewServer(db),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	base := "http://" + ln.Addr().String()
	call := func(method, path, token string, out any) int {
		t.Helper()
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader("{}")
		}
		req, _ := http.NewRequestWithContext(ctx, method, base+path, body)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK && out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
		return resp.StatusCode
	}

	var list struct {
		Entries []struct {
			Sequence   string `json:"sequence"` // int64 is a JSON string
			Actor      string `json:"actor"`
			Action     string `json:"action"`
			CaseID     string `json:"caseId"`
			AccessTime string `json:"accessTime"`
			Hash       string `json:"hash"`
		} `json:"entries"`
		NextPageToken string `json:"nextPageToken"`
	}
	q := url.Values{"actor": {"sso:anna"}, "case_id": {"c-1"}, "page_size": {"1"},
		"start_time": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}}
	if code := call(http.MethodGet, "/v1/access-log?"+q.Encode(), "admin-token", &list); code != http.StatusOK {
		t.Fatalf("GET /v1/access-log = %d", code)
	}
	if len(list.Entries) != 1 || list.Entries[0].Sequence != "3" || list.Entries[0].Action != accesslog.ActionCaseMessages ||
		list.Entries[0].AccessTime == "" || len(list.Entries[0].Hash) != 64 || list.NextPageToken != "3" {
		t.Fatalf("first page = %+v", list)
	}
	q.Set("page_token", list.NextPageToken)
	if code := call(http.MethodGet, "/v1/access-log?"+q.Encode(), "admin-token", &list); code != http.StatusOK ||
		len(list.Entries) != 1 || list.Entries[0].Sequence != "1" || list.NextPageToken != "" {
		t.Fatalf("second page = %d %+v", code, list)
	}

	var v struct {
		Intact       bool   `json:"intact"`
		CheckedCount string `json:"checkedCount"`
	}
	if code := call(http.MethodPost, "/v1/access-log:verify", "admin-token", &v); code != http.StatusOK || !v.Intact || v.CheckedCount != "3" {
		t.Fatalf("POST /v1/access-log:verify = %d %+v", code, v)
	}

	for _, c := range []struct{ method, path, token string }{
		{http.MethodGet, "/v1/access-log", "op-token"},
		{http.MethodPost, "/v1/access-log:verify", "op-token"},
	} {
		if code := call(c.method, c.path, c.token, nil); code != http.StatusForbidden {
			t.Errorf("%s %s as an operator = %d, want 403", c.method, c.path, code)
		}
	}
	if code := call(http.MethodGet, "/v1/access-log", "nope", nil); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/access-log with a bad token = %d, want 401", code)
	}
}

// TestRecordListWholePage: the entry of a page of 500 contacts keeps every
// id whole, so a search by the last contact finds it too.
func TestRecordListWholePage(t *testing.T) {
	db := openDB(t)
	rec := accesslog.NewRecorder(db)
	op := auth.WithPrincipal(context.Background(), auth.Principal{Subject: "sso:anna", Role: auth.RoleOperator, Operator: "op-7", Departments: []string{"it"}})
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = fmt.Sprintf("01a2058b-6678-7513-b328-%012d", i)
	}
	if err := rec.RecordList(op, accesslog.ActionCaseList, ids); err != nil {
		t.Fatal(err)
	}
	es, _, err := db.ListAccess(context.Background(), accesslog.Filter{ContactID: ids[len(ids)-1], Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Detail != "contacts="+strings.Join(ids, ",") {
		t.Fatalf("entries for the page's last contact: %d, detail whole: %v", len(es), len(es) == 1 && strings.HasSuffix(es[0].Detail, ids[len(ids)-1]))
	}
}
