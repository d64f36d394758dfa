package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
	"github.com/sportello/sportello/services/storage/storetest"
)

// forEachBackend runs f on SQLite and, when configured, PostgreSQL.
func forEachBackend(t *testing.T, f func(t *testing.T, b storetest.Backend)) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) { f(t, b) })
	}
}

// TestIntegrationEndToEnd posts submissions over real HTTP and finds the
// cases over gRPC and REST.
func TestIntegrationEndToEnd(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		s := startServer(t, testConfig(t, b))
		s.submit(defaultSubmit)
		form := url.Values{"name": {"Luca Bianchi"}, "email": {"luca@example.it"}, "subject": {"Accesso"},
			"message": {"Non riesco ad accedere.\nGrazie"}, "submit": {"Invia"}}
		r := s.do("POST", webformPath, formType, []byte(form.Encode()), nil)
		if r.Status != http.StatusAccepted {
			t.Fatalf("form post: %d %s", r.Status, r.Body)
		}
		all := s.waitForCases(2)

		byDept := map[string]*casesv1.Case{}
		for _, c := range all {
			byDept[c.Department] = c
		}
		micro, triage := byDept["statistics"], byDept["triage"]
		if micro == nil || triage == nil {
			t.Fatalf("cases by department = %v", byDept)
		}
		if micro.Subject != "Microdati del censimento" || micro.Description != "Vorrei i microdati del censimento 2021." ||
			micro.Category != "microdata" || micro.Status != casesv1.Status_STATUS_NEW || micro.ChannelKind != "webform" {
			t.Fatalf("microdata case = %v", micro)
		}
		if triage.Description != "Non riesco ad accedere.\nGrazie" || triage.Category != "" {
			t.Fatalf("form case = %v", triage)
		}
		if !strings.HasPrefix(micro.Reference, "20") || micro.Reference == triage.Reference {
			t.Fatalf("references %q and %q", micro.Reference, triage.Reference)
		}

		// The same case over REST, by list and by id.
		rest := s.restCases("department=statistics")
		if len(rest.Cases) != 1 || rest.Cases[0].Id != micro.Id || rest.Cases[0].Description != micro.Description {
			t.Fatalf("REST department=statistics = %v", rest.Cases)
		}
		got := s.get("/v1/cases/"+micro.Id, adminToken)
		if got.Status != http.StatusOK || !strings.Contains(string(got.Body), `"reference":"`+micro.Reference+`"`) {
			t.Fatalf("REST GET case: %d %s", got.Status, got.Body)
		}
		g, err := s.grpcCases().GetCase(withToken(adminToken), &casesv1.GetCaseRequest{Id: micro.Id})
		if err != nil || g.Reference != micro.Reference {
			t.Fatalf("gRPC GetCase = %v, %v", g, err)
		}

		// Filters and cursor paging over REST, with the contract's names.
		if n := len(s.restCases("status=new").Cases); n != 2 {
			t.Fatalf("status=new: %d cases", n)
		}
		if n := len(s.restCases("status=STATUS_OPEN").Cases); n != 0 {
			t.Fatalf("status=STATUS_OPEN: %d cases", n)
		}
		if n := len(s.restCases("assignee=none").Cases); n != 2 {
			t.Fatalf("assignee=none: %d cases", n)
		}
		p1 := s.restCases("pageSize=1")
		if len(p1.Cases) != 1 || p1.NextPageToken == "" {
			t.Fatalf("page 1 = %v", p1)
		}
		p2 := s.restCases("pageSize=1&pageToken=" + url.QueryEscape(p1.NextPageToken))
		if len(p2.Cases) != 1 || p2.NextPageToken != "" || p2.Cases[0].Id == p1.Cases[0].Id {
			t.Fatalf("page 2 = %v", p2)
		}
		wrong := s.get("/v1/cases?pageSize=1&department=it&pageToken="+url.QueryEscape(p1.NextPageToken), adminToken)
		if wrong.Status != http.StatusBadRequest {
			t.Fatalf("token reused with other filters: %d %s", wrong.Status, wrong.Body)
		}
		// Full-text search over subject and messages, on Italian stems.
		if got := s.restCases("query=" + url.QueryEscape("microdato censimenti")); len(got.Cases) != 1 || got.Cases[0].Id != micro.Id {
			t.Fatalf("query=microdato censimenti: %v", got.Cases)
		}
		if got := s.restCases("query=accedere&department=statistics"); len(got.Cases) != 0 {
			t.Fatalf("query with department: %v", got.Cases)
		}
		if r := s.get("/v1/cases?status=lost", adminToken); r.Status != http.StatusBadRequest {
			t.Fatalf("status=lost: %d", r.Status)
		}
		if r := s.get("/v1/cases/00000000-0000-7000-8000-000000000000", adminToken); r.Status != http.StatusNotFound {
			t.Fatalf("unknown case: %d", r.Status)
		}
	})
}

// TestIntegrationIdempotentRetry retries the same POST: one contact id,
// one case; a different submission under the same key is not dropped.
func TestIntegrationIdempotentRetry(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		s := startServer(t, testConfig(t, b))
		key := map[string]string{"Idempotency-Key": "retry-42"}
		var ids []string
		for i := 0; i < 3; i++ {
			r := s.do("POST", webformPath, jsonType, []byte(defaultSubmit), key)
			if r.Status != http.StatusAccepted {
				t.Fatalf("attempt %d: %d %s", i, r.Status, r.Body)
			}
			ids = append(ids, r.JSON(t)["contactId"].(string))
		}
		if ids[0] != ids[1] || ids[1] != ids[2] {
			t.Fatalf("retries got different contact ids: %v", ids)
		}
		s.waitForCases(1)
		other := strings.Replace(defaultSubmit, "2021", "2011", 1)
		r := s.do("POST", webformPath, jsonType, []byte(other), key)
		if r.Status != http.StatusAccepted || r.JSON(t)["contactId"] == ids[0] {
			t.Fatalf("different submission under the same key: %d %s", r.Status, r.Body)
		}
		s.waitForCases(2)
	})
}

// TestIntegrationBadInput sends what a hostile or broken client sends:
// each gets a clear 4xx, creates no case, and the server keeps serving.
func TestIntegrationBadInput(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, storetest.Backend{Name: "sqlite"}))
	valid := map[string]string{"name": "Maria", "email": "maria@example.it", "subject": "Oggetto", "message": "Testo"}
	withField := func(k, v string) string {
		m := map[string]string{}
		for a, b := range valid {
			m[a] = b
		}
		m[k] = v
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name, method, ctype, body string
		header                    map[string]string
		status                    int
		message                   string
		field                     string
	}{
		{"empty body", "POST", jsonType, "", nil, 400, "empty", ""},
		{"whitespace body", "POST", jsonType, "  \n", nil, 400, "empty", ""},
		{"10 MB body", "POST", jsonType, `{"message":"` + strings.Repeat("a", 10<<20) + `"}`, nil, 413, "larger than 65536 bytes", ""},
		{"invalid UTF-8 JSON", "POST", jsonType, "{\"name\":\"\xff\xfe\"}", nil, 400, "UTF-8", ""},
		{"invalid UTF-8 form", "POST", formType, "name=%ff%fe&email=a%40b.it", nil, 400, "UTF-8", ""},
		{"unknown category", "POST", jsonType, withField("category", "astrology"), nil, 400, "invalid fields", "category"},
		{"wrong content type", "POST", "text/plain", defaultSubmit, nil, 415, "Content-Type", ""},
		{"no content type", "POST", "", defaultSubmit, nil, 415, "Content-Type", ""},
		{"multipart", "POST", "multipart/form-data; boundary=x", "--x--", nil, 415, "Content-Type", ""},
		{"GET", "GET", "", "", nil, 405, "POST", ""},
		{"malformed JSON", "POST", jsonType, `{"name": "Maria",`, nil, 400, "not a valid JSON", ""},
		{"JSON array", "POST", jsonType, `[1,2]`, nil, 400, "not a valid JSON", ""},
		{"wrong type", "POST", jsonType, `{"name": 5}`, nil, 400, `"name" must be a string`, ""},
		{"unknown field", "POST", jsonType, `{"nome":"x"}`, nil, 400, `unknown field "nome"`, ""},
		{"trailing data", "POST", jsonType, defaultSubmit + `{}`, nil, 400, "after the JSON object", ""},
		{"missing fields", "POST", jsonType, `{}`, nil, 400, "invalid fields", "name"},
		{"bad email", "POST", jsonType, withField("email", "maria at example"), nil, 400, "invalid fields", "email"},
		{"email with display name", "POST", jsonType, withField("email", "Maria <m@example.it>"), nil, 400, "invalid fields", "email"},
		{"subject too long", "POST", jsonType, withField("subject", strings.Repeat("x", 201)), nil, 400, "invalid fields", "subject"},
		{"control characters", "POST", jsonType, withField("name", "Ma\u0000ria"), nil, 400, "invalid fields", "name"},
		{"bidi override", "POST", jsonType, withField("name", "Maria\u202Eadmin"), nil, 400, "invalid fields", "name"},
		{"bad idempotency key", "POST", jsonType, defaultSubmit, map[string]string{"Idempotency-Key": "é"}, 400, "Idempotency-Key", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(tt.method, webformPath, tt.ctype, []byte(tt.body), tt.header)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			m := r.JSON(t)
			contains(t, "message", fmt.Sprint(m["message"]), tt.message)
			if tt.field != "" {
				contains(t, "details", string(r.Body), `"field":"`+tt.field+`"`)
			}
		})
	}
	// Still serving; and the only case is the valid one sent last.
	s.submit(defaultSubmit)
	if c := s.waitForCases(1); c[0].Category != "microdata" {
		t.Fatalf("case = %v", c[0])
	}
}

// TestIntegrationAuthorization: who may read which cases, over gRPC and REST.
func TestIntegrationAuthorization(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, storetest.Backend{Name: "sqlite"}))
	s.submit(defaultSubmit) // statistics
	s.submit(strings.Replace(defaultSubmit, "microdata", "portal-account", 1))
	all := s.waitForCases(2)
	var statID string
	for _, c := range all {
		if c.Department == "statistics" {
			statID = c.Id
		}
	}
	type call struct {
		name string
		rest string
		grpc func(ctx context.Context) (int, error) // returns number of cases
	}
	calls := []call{
		{"ListCases", "/v1/cases", func(ctx context.Context) (int, error) {
			r, err := s.grpcCases().ListCases(ctx, &casesv1.ListCasesRequest{})
			return len(r.GetCases()), err
		}},
		{"ListCases department=statistics", "/v1/cases?department=statistics", func(ctx context.Context) (int, error) {
			r, err := s.grpcCases().ListCases(ctx, &casesv1.ListCasesRequest{Department: "statistics"})
			return len(r.GetCases()), err
		}},
		{"GetCase statistics", "/v1/cases/" + statID, func(ctx context.Context) (int, error) {
			_, err := s.grpcCases().GetCase(ctx, &casesv1.GetCaseRequest{Id: statID})
			return 1, err
		}},
	}
	type want struct {
		code  codes.Code
		cases int
	}
	matrix := []struct {
		who, token string
		want       []want // per call
	}{
		{"anonymous", "", []want{{codes.Unauthenticated, 0}, {codes.Unauthenticated, 0}, {codes.Unauthenticated, 0}}},
		{"unknown token", unknownToken, []want{{codes.Unauthenticated, 0}, {codes.Unauthenticated, 0}, {codes.Unauthenticated, 0}}},
		{"citizen", citizenToken, []want{{codes.PermissionDenied, 0}, {codes.PermissionDenied, 0}, {codes.PermissionDenied, 0}}},
		{"operator of IT", itToken, []want{{codes.OK, 1}, {codes.PermissionDenied, 0}, {codes.NotFound, 0}}},
		{"admin", adminToken, []want{{codes.OK, 2}, {codes.OK, 1}, {codes.OK, 1}}},
	}
	httpCode := map[codes.Code]int{codes.OK: 200, codes.Unauthenticated: 401, codes.PermissionDenied: 403, codes.NotFound: 404}
	for _, m := range matrix {
		for i, c := range calls {
			w := m.want[i]
			t.Run(m.who+"/"+c.name, func(t *testing.T) {
				ctx := context.Background()
				if m.token != "" {
					ctx = withToken(m.token)
				}
				n, err := c.grpc(ctx)
				if status.Code(err) != w.code || (err == nil && n != w.cases) {
					t.Errorf("gRPC: %d cases, %v; want %d, %v", n, err, w.cases, w.code)
				}
				r := s.get(c.rest, m.token)
				if r.Status != httpCode[w.code] {
					t.Errorf("REST: %d %s; want %d", r.Status, r.Body, httpCode[w.code])
				}
				if w.code == codes.OK && c.name != "GetCase statistics" {
					var resp casesv1.ListCasesResponse
					if err := jsonUnmarshal(r.Body, &resp); err != nil || len(resp.Cases) != w.cases {
						t.Errorf("REST: %d cases (%v), want %d", len(resp.Cases), err, w.cases)
					}
				}
			})
		}
	}
	// Public methods stay public, but a bad token is refused even there.
	if r := s.get("/v1/categories", ""); r.Status != 200 {
		t.Fatalf("anonymous categories: %d", r.Status)
	}
	if r := s.get("/v1/categories", unknownToken); r.Status != 401 {
		t.Fatalf("categories with an unknown token: %d", r.Status)
	}
	// A header that is not a bearer token is a bad credential, not anonymity.
	if r := s.do("GET", "/v1/categories", "", nil, map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}); r.Status != 401 {
		t.Fatalf("categories with a Basic header: %d", r.Status)
	}
	cats, err := directoryv1.NewDirectoryServiceClient(s.conn).ListCategories(context.Background(), &directoryv1.ListCategoriesRequest{})
	if err != nil || len(cats.Categories) == 0 {
		t.Fatalf("gRPC ListCategories = %v, %v", cats, err)
	}
}

// TestIntegrationOperationalEndpoints: health, readiness, metrics, OpenAPI.
func TestIntegrationOperationalEndpoints(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, storetest.Backend{Name: "sqlite"}))
	s.submit(defaultSubmit)
	s.waitForCases(1)
	doc := s.get("/openapi.json", "")
	var api struct {
		Paths       map[string]map[string]any
		Definitions map[string]any
	}
	if err := json.Unmarshal(doc.Body, &api); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/v1/cases", "/v1/cases/{id}", "/v1/categories", webformPath} {
		if api.Paths[p] == nil {
			t.Errorf("/openapi.json lacks %s", p)
		}
	}
	for _, d := range []string{"webformSubmission", "googleRpcStatus", "v1Case"} {
		if api.Definitions[d] == nil {
			t.Errorf("/openapi.json lacks definition %s", d)
		}
	}
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/openapi.json": `"/v1/cases/{id}"`,
		"/metrics": `sportello_intake_contacts_total{outcome="created"} 1`} {
		r := s.get(path, "")
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
		contains(t, path, string(r.Body), want)
	}
	eventually(t, "gRPC health SERVING", func() bool {
		resp, err := healthpb.NewHealthClient(s.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
		return err == nil && resp.Status == healthpb.HealthCheckResponse_SERVING
	})
}

// TestIntegrationConcurrentSubmissions: many clients at once, every 202 a case.
func TestIntegrationConcurrentSubmissions(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		s := startServer(t, testConfig(t, b))
		const n = 200
		start := time.Now()
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				s.submit(strings.Replace(defaultSubmit, "Microdati del censimento", fmt.Sprintf("Richiesta %d", i), 1))
			}(i)
		}
		wg.Wait()
		accepted := time.Since(start)
		got := s.waitForCases(n)
		t.Logf("%d submissions accepted in %v, visible in %v", n, accepted, time.Since(start))
		seen := map[string]bool{}
		for _, c := range got {
			if seen[c.Reference] {
				t.Fatalf("reference %s twice", c.Reference)
			}
			seen[c.Reference] = true
		}
	})
}

// TestIntegrationDeadLetters: administrators list and replay dead letters
// over REST; nobody else may.
func TestIntegrationDeadLetters(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, storetest.Backend{Name: "sqlite"}))
	if err := s.app.nc.Publish("sportello.inbound.webform.webform", []byte("\xffnot protobuf")); err != nil {
		t.Fatal(err)
	}
	var list struct {
		DeadLetters []struct {
			Sequence        string `json:"sequence"`
			OriginalSubject string `json:"originalSubject"`
			Reason          string `json:"reason"`
		} `json:"deadLetters"`
	}
	eventually(t, "a dead letter listed", func() bool {
		r := s.get("/v1/admin/dead-letters", adminToken)
		return r.Status == 200 && json.Unmarshal(r.Body, &list) == nil && len(list.DeadLetters) == 1
	})
	e := list.DeadLetters[0]
	if e.OriginalSubject != "sportello.inbound.webform.webform" || !strings.Contains(e.Reason, "undecodable") {
		t.Fatalf("entry = %+v", e)
	}
	for token, want := range map[string]int{"": 401, itToken: 403, citizenToken: 403} {
		if r := s.get("/v1/admin/dead-letters", token); r.Status != want {
			t.Errorf("list with token %q: %d, want %d", token, r.Status, want)
		}
	}
	admin := map[string]string{"Authorization": "Bearer " + adminToken}
	if r := s.do("POST", "/v1/admin/dead-letters/999:replay", jsonType, []byte("{}"), admin); r.Status != 404 {
		t.Fatalf("replay unknown: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/admin/dead-letters/"+e.Sequence+":replay", jsonType, []byte("{}"), map[string]string{"Authorization": "Bearer " + itToken}); r.Status != 403 {
		t.Fatalf("operator replay: %d", r.Status)
	}
	if r := s.do("POST", "/v1/admin/dead-letters/"+e.Sequence+":replay", jsonType, []byte("{}"), admin); r.Status != 200 {
		t.Fatalf("replay: %d %s", r.Status, r.Body)
	}
	// Still undecodable: it comes back as a new entry, the old one is gone.
	eventually(t, "the replayed entry back under a new sequence", func() bool {
		r := s.get("/v1/admin/dead-letters", adminToken)
		return json.Unmarshal(r.Body, &list) == nil && len(list.DeadLetters) == 1 && list.DeadLetters[0].Sequence != e.Sequence
	})
}
